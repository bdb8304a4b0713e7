from collections.abc import Mapping
from typing import Any

from django.urls import reverse
from rest_framework import serializers

from access.models import OrgUnit, Person
from catalog.api.payloads import (
    api_datetime,
    dataset_list_payload,
    location_payload,
    person_ref_payload,
    unit_ref_payload,
    version_payload,
)
from catalog.datasheet import FIELD_NAMES as DATASHEET_FIELD_NAMES
from catalog.datasheet import FIELDS as DATASHEET_FIELDS
from catalog.models import Dataset, DatasetVersion, StorageLocation, Tag

# The serializers below declare fields for the OpenAPI schema; the hot ones render through the plain functions
# of ``catalog.api.payloads``, so each shape is built in one place (tests hold the two to each other).


class PersonRefSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")

    class Meta:
        model = Person
        fields = ["username", "display_name", "external_id", "status"]

    def to_representation(self, person: Person) -> dict[str, Any]:
        return person_ref_payload(person)


class OrgUnitRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrgUnit
        fields = ["id", "name"]

    def to_representation(self, unit: OrgUnit) -> dict[str, Any]:
        return unit_ref_payload(unit)


class LocationSerializer(serializers.Serializer):
    # The schema of ``catalog.api.payloads.location_payload``, which renders every location answer.
    uri = serializers.CharField()
    role = serializers.ChoiceField(choices=StorageLocation.Role.choices)
    note = serializers.CharField()
    last_verified_at = serializers.DateTimeField(allow_null=True)
    last_verification_ok = serializers.BooleanField(allow_null=True)


class DatasheetSerializer(serializers.Serializer):
    """The datasheet's answers by field (``catalog.datasheet``); all optional, markdown unless one-line."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            field.name: serializers.CharField(
                required=False,
                allow_blank=True,
                help_text=f"{field.label}: {field.help_text}",
                max_length=field.max_length,
            )
            for field in DATASHEET_FIELDS
        }

    def to_internal_value(self, data: Any) -> Any:
        # A misspelt question from a CI job would otherwise vanish without a word while the request succeeds.
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(DATASHEET_FIELD_NAMES))
            if unknown:
                known = ", ".join(DATASHEET_FIELD_NAMES)
                raise serializers.ValidationError(
                    {name: [f"Not a datasheet question; the questions are: {known}."] for name in unknown}
                )
        return super().to_internal_value(data)


class DatasetListSerializer(serializers.ModelSerializer):
    owner = PersonRefSerializer()
    owning_unit = OrgUnitRefSerializer()
    tags = serializers.SlugRelatedField[Tag](many=True, read_only=True, slug_field="name")
    url = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = [
            "id",
            "slug",
            "name",
            "purpose",
            "status",
            "visibility",
            "classification",
            "owner",
            "owning_unit",
            "tags",
            "training_repo_url",
            "training_repo_path",
            "updated_at",
            "url",
        ]

    def get_url(self, dataset: Dataset) -> str:  # the schema's type; the value comes from dataset_list_payload
        return reverse("api-dataset-detail", kwargs={"slug": dataset.slug})

    def to_representation(self, dataset: Dataset) -> dict[str, Any]:
        return dataset_list_payload(dataset)


class DatasetDetailSerializer(DatasetListSerializer):
    description = serializers.CharField()
    stewards = PersonRefSerializer(many=True)
    aliases = serializers.SerializerMethodField()
    locations = serializers.SerializerMethodField()
    latest_version = serializers.SerializerMethodField()
    deprecation = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()
    datasheet = DatasheetSerializer(source="*")  # the datasheet's fields are the dataset's own

    class Meta(DatasetListSerializer.Meta):
        fields = [
            *DatasetListSerializer.Meta.fields,
            "description",
            "datasheet",
            "stewards",
            "aliases",
            "locations",
            "latest_version",
            "deprecation",
            "warnings",
            "created_at",
        ]

    def to_representation(self, dataset: Dataset) -> dict[str, Any]:
        return {
            **dataset_list_payload(dataset),
            "description": dataset.description,
            "datasheet": {name: getattr(dataset, name) for name in DATASHEET_FIELD_NAMES},
            "stewards": [person_ref_payload(steward) for steward in dataset.stewards.all()],
            "aliases": self.get_aliases(dataset),
            "locations": self.get_locations(dataset),
            "latest_version": self.get_latest_version(dataset),
            "deprecation": self.get_deprecation(dataset),
            "warnings": self.get_warnings(dataset),
            "created_at": api_datetime(dataset.created_at),
        }

    def get_aliases(self, dataset: Dataset) -> list[str]:
        return [alias.slug for alias in dataset.aliases.all()]

    def get_locations(self, dataset: Dataset) -> list[dict[str, Any]] | None:
        if not self.context.get("can_read_data", False):
            return None
        return [location_payload(location) for location in dataset.locations.all()]

    def get_latest_version(self, dataset: Dataset) -> str | None:
        label: str | None = self.context.get("latest_label")
        return label

    def get_deprecation(self, dataset: Dataset) -> dict[str, Any] | None:
        if dataset.status not in {Dataset.Status.DEPRECATED, Dataset.Status.ARCHIVED}:
            return None
        return {
            "note": dataset.deprecation_note,
            "deprecated_at": api_datetime(dataset.deprecated_at),
            "sunset_at": api_datetime(dataset.sunset_at),
            "superseded_by": dataset.superseded_by.slug if dataset.superseded_by else None,
        }

    def get_warnings(self, dataset: Dataset) -> list[str]:
        warnings: list[str] = self.context.get("warnings", [])
        return warnings


class VersionSerializer(serializers.Serializer):
    dataset = serializers.CharField(source="dataset.slug")
    # ``label`` and ``source`` shadow Field attributes in the stubs only; DRF's metaclass takes them as fields.
    label = serializers.CharField()  # type: ignore[assignment]
    status = serializers.ChoiceField(choices=DatasetVersion.Status.choices)
    digest = serializers.CharField(help_text="sha256:<hex> of the canonical manifest")
    total_bytes = serializers.IntegerField()
    file_count = serializers.IntegerField()
    source = serializers.ChoiceField(choices=DatasetVersion.Source.choices)  # type: ignore[assignment]
    git_commit = serializers.CharField()
    guideline_revision = serializers.IntegerField(allow_null=True)
    notes = serializers.CharField()
    created_at = serializers.DateTimeField()
    published_at = serializers.DateTimeField(allow_null=True)
    locations = LocationSerializer(many=True, allow_null=True)
    manifest_url = serializers.CharField()
    warnings = serializers.ListField(child=serializers.CharField())

    def to_representation(self, version: DatasetVersion) -> dict[str, Any]:
        return version_payload(
            version,
            dataset_slug=version.dataset.slug,
            locations=self.context.get("locations"),
            warnings=self.context.get("warnings", []),
        )


class LocationInputSerializer(serializers.Serializer):
    uri = serializers.CharField(max_length=1024)
    role = serializers.ChoiceField(choices=StorageLocation.Role.choices, default=StorageLocation.Role.PRIMARY)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class DatasetWriteSerializer(serializers.Serializer):
    """Input for registering or updating a dataset; the service does the domain validation."""

    slug = serializers.CharField(max_length=100)
    name = serializers.CharField(max_length=200)
    purpose = serializers.CharField()
    description = serializers.CharField(required=False, allow_blank=True, default="")
    owner = serializers.SlugRelatedField(
        slug_field="external_id", queryset=Person.objects.filter(status=Person.Status.ACTIVE), required=False
    )
    owning_unit = serializers.PrimaryKeyRelatedField(queryset=OrgUnit.objects.all())
    status = serializers.ChoiceField(choices=Dataset.Status.choices, default=Dataset.Status.ACTIVE)
    visibility = serializers.ChoiceField(choices=Dataset.Visibility.choices, default=Dataset.Visibility.INTERNAL)
    classification = serializers.ChoiceField(
        choices=Dataset.Classification.choices, default=Dataset.Classification.INTERNAL
    )
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, default=list)
    training_repo_url = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    training_repo_path = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    locations = LocationInputSerializer(many=True, required=False, default=list)
    deprecation_note = serializers.CharField(required=False, allow_blank=True, default="")
    sunset_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    datasheet = DatasheetSerializer(required=False)

    def validate_locations(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not self.partial:
            return value
        # A partial update (PATCH) is partial down into nested fields too, so a location could pass without its
        # uri or its role's default: sent locations replace the old ones whole, so check each in full.
        full = LocationInputSerializer(data=self.initial_data.get("locations"), many=True)
        full.is_valid(raise_exception=True)
        return list(full.validated_data)


class VersionCreateSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=64)  # type: ignore[assignment]  # DRF's Field.label is the UI label
    files = serializers.ListField(child=serializers.DictField(), allow_empty=True)
    git_commit = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    guideline_revision = serializers.IntegerField(required=False, allow_null=True, min_value=1, default=None)
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    publish = serializers.BooleanField(default=True)


class CroissantImportParamsSerializer(serializers.Serializer):
    """The query parameters of a Croissant import; the body is the document itself."""

    unit = serializers.PrimaryKeyRelatedField(
        queryset=OrgUnit.objects.filter(status=OrgUnit.Status.ACTIVE),
        required=False,
        help_text="The owning unit's id; your primary unit by default.",
    )
    slug = serializers.CharField(
        max_length=100,
        required=False,
        help_text="The new dataset's slug; by default the document's alternateName when it is a valid slug, else "
        "made from its name (with a number added when taken).",
    )
    purpose = serializers.CharField(
        required=False,
        help_text="Required when the document has no rai:dataUseCases; replaces it otherwise.",
    )


class CroissantImportResultSerializer(DatasetDetailSerializer):
    notes = serializers.ListField(
        child=serializers.CharField(), help_text="What the import left out or changed, one sentence each."
    )

    class Meta(DatasetDetailSerializer.Meta):
        fields = [*DatasetDetailSerializer.Meta.fields, "notes"]
