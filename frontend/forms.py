import json
from datetime import datetime
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from access.models import OrgUnit, Person
from annotations.label_schema import validate_label_schema
from catalog.datasheet import FIELDS as DATASHEET_FIELDS
from catalog.datasheet import SECTIONS, DatasheetField
from catalog.documentation.croissant_import import (
    MAX_DOCUMENT_BYTES,
    CroissantRejected,
    check_document_size,
    croissant_json,
)
from catalog.models import Dataset, StorageLocation
from catalog.selectors import DatasetNotFound, dataset_resolve, successor_is_hidden
from catalog.services import MIN_PURPOSE_LENGTH
from catalog.uris import parse_storage_uri
from catalog.validators import validate_dataset_slug, validate_safe_markdown

SCHEMA_PLACEHOLDER = """{"classes": [
  {"name": "car", "definition": "A passenger vehicle, including vans.",
   "attributes": [{"name": "occluded", "type": "boolean"}]}
]}"""



def apply_service_errors(
    form: forms.Form, error: ValidationError, *, field_map: dict[str, str] | None = None, elsewhere: str = ""
) -> None:
    """Show a service's ValidationError on the form: per field where the form has that field, else on top.

    ``field_map`` names the form field for a service field that is called differently in the form. On top, a
    message about a field the form lacks is prefixed with that field's name followed by ``elsewhere`` when it
    is given (e.g. " in the document": the value came from an uploaded file, not the form).
    """
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, messages in error.message_dict.items():
        target = (field_map or {}).get(field, field)
        if target in form.fields:
            form.add_error(target, messages)
        else:
            form.add_error(None, [f"{field}{elsewhere}: {message}" for message in messages] if elsewhere else messages)

class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        departed = " · departed" if obj.status == Person.Status.DEPARTED else ""
        return f"{obj.display_name} ({obj.user.username}){departed}"


class TextareaField(forms.CharField):
    """A textarea's text with "\n" line ends. Browsers submit "\r\n", so text saved back unchanged would differ
    from what the API or an import stored: an unchanged rules text appended a revision, markdown got rewritten."""

    widget = forms.Textarea

    def to_python(self, value: Any) -> str:
        text = super().to_python(value) or ""
        return text.replace("\r\n", "\n").replace("\r", "\n")


def _datasheet_form_field(field: DatasheetField) -> forms.CharField:
    if not field.is_markdown:
        return forms.CharField(
            required=False, max_length=field.max_length, label=field.label, help_text=field.help_text
        )
    return TextareaField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[validate_safe_markdown],
        label=field.label,
        help_text=f"{field.help_text} Markdown.",
    )


class DatasetForm(forms.Form):
    # What the editor's copy was read at, to refuse a save that would undo someone else's (EditConflict).
    unchanged_since = forms.CharField(required=False, widget=forms.HiddenInput)
    rules_revision = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    name = forms.CharField(max_length=200, help_text="A human name, e.g. 'Street signs (EU, 2026)'.")
    slug = forms.CharField(
        max_length=100,
        validators=[validate_dataset_slug],
        help_text="Stable identifier CI uses: lowercase letters, digits and hyphens. "
        "Renaming keeps the old one working.",
    )
    purpose = TextareaField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What problem does this dataset serve, and what may it be used for?",
    )
    description = TextareaField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        validators=[validate_safe_markdown],
        help_text="Markdown: composition, collection, known issues.",
    )
    owner = PersonChoiceField(queryset=Person.objects.none())
    owning_unit = forms.ModelChoiceField(queryset=OrgUnit.objects.none(), label="Owning unit")
    status = forms.ChoiceField(choices=Dataset.Status.choices, initial=Dataset.Status.ACTIVE)
    visibility = forms.ChoiceField(
        # Short labels: the long model labels do not fit a third of the form's width.
        choices=[(Dataset.Visibility.INTERNAL, "Internal"), (Dataset.Visibility.RESTRICTED, "Restricted")],
        initial=Dataset.Visibility.INTERNAL,
        help_text="Internal: everyone signed in sees the metadata. Restricted: only people with access see it exists.",
    )
    classification = forms.ChoiceField(choices=Dataset.Classification.choices, initial=Dataset.Classification.INTERNAL)
    tags = forms.CharField(required=False, help_text="Comma-separated, e.g. vision, detection.")
    training_repo_url = forms.CharField(
        required=False,
        max_length=500,
        label="Training repository",
        help_text="git URL, e.g. git@git.example.com:ml/signs.git",
    )
    training_repo_path = forms.CharField(required=False, max_length=500, label="Path in repository")
    deprecation_note = TextareaField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[validate_safe_markdown],
        help_text="Shown to everyone using a deprecated dataset: why, and what to use instead.",
    )
    # A slug, not a list of choices: a <select> of every dataset the editor may see is unusable at scale.
    superseded_by = forms.CharField(
        required=False,
        max_length=100,
        label="Superseded by",
        help_text="The slug of the dataset to use instead; a former slug works too.",
    )
    remove_successor = forms.BooleanField(required=False, label="Remove the successor you cannot see")
    sunset_at = forms.DateTimeField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),  # a date: clean_sunset_at keeps a stored time of that day
        label="Sunset date",
        help_text="When a deprecated dataset stops being served.",
    )
    guideline_body = TextareaField(
        required=False,
        strip=False,  # stored as written: a trailing newline stripped on every save would be a new revision
        widget=forms.Textarea(attrs={"rows": 8}),
        validators=[validate_safe_markdown],
        label="Annotation rules",
        help_text="Markdown: how to label, including edge cases.",
    )
    label_schema = TextareaField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "placeholder": SCHEMA_PLACEHOLDER, "class": "mono"}),
        label="Label schema (JSON)",
        help_text="Classes with definitions and attributes. Leave empty if none.",
    )

    def __init__(self, *args: Any, user: Any = None, dataset: Dataset | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dataset = dataset
        for datasheet_field in DATASHEET_FIELDS:
            self.fields[datasheet_field.name] = _datasheet_form_field(datasheet_field)
        # A departed owner or a unit no longer active stays on record until someone chooses another (the Left
        # behind queue proposes one): offered as the current choice, so an edit need not change it.
        field = self.fields["owner"]
        assert isinstance(field, forms.ModelChoiceField)
        current_owner = Q(pk=dataset.owner_id) if dataset else Q(pk__in=[])
        field.queryset = Person.objects.filter(Q(status=Person.Status.ACTIVE) | current_owner).select_related("user")
        unit_field = self.fields["owning_unit"]
        assert isinstance(unit_field, forms.ModelChoiceField)
        current_unit = Q(pk=dataset.owning_unit_id) if dataset else Q(pk__in=[])
        unit_field.queryset = OrgUnit.objects.filter(Q(status=OrgUnit.Status.ACTIVE) | current_unit)
        self.user = user
        hidden = dataset is not None and successor_is_hidden(user=user, dataset=dataset)
        self.hidden_successor_id = dataset.superseded_by_id if dataset is not None and hidden else None
        if not self.has_hidden_successor:
            del self.fields["remove_successor"]
        self.fields["superseded_by"].widget.attrs.update(
            {
                "autocomplete": "off",
                "list": "successor-suggestions",
                "hx-get": reverse("frontend:successor-suggestions"),
                "hx-trigger": "input changed delay:300ms",
                "hx-target": "#successor-suggestions",
            }
        )

    @property
    def has_hidden_successor(self) -> bool:
        return self.hidden_successor_id is not None

    def datasheet_sections(self) -> list[tuple[str, list[forms.BoundField]]]:
        """The datasheet's fields as the form shows them, section by section."""
        return [(section.title, [self[field.name] for field in section.fields]) for section in SECTIONS]

    def clean_purpose(self) -> str:
        # The service enforces this too; checking here reports it together with the other field errors.
        purpose = str(self.cleaned_data.get("purpose", "")).strip()
        if len(purpose) < MIN_PURPOSE_LENGTH:
            raise ValidationError(
                "Say what problem this dataset serves and what it may be used for (at least a sentence)."
            )
        return purpose

    def clean_superseded_by(self) -> Dataset | None:
        slug = self.cleaned_data.get("superseded_by", "").strip().lower()
        if not slug:
            return None
        try:
            successor = dataset_resolve(user=self.user, slug=slug, related=()).dataset
        except DatasetNotFound:
            # A dataset the editor may not see answers like one that does not exist: it must not leak.
            raise ValidationError(f"No dataset '{slug}' that you can see.") from None
        if self.dataset is not None and successor.pk == self.dataset.pk:
            raise ValidationError("A dataset cannot supersede itself.")
        return successor

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        remove = cleaned.pop("remove_successor", False)
        # The successor the editor cannot see is not in the form; an empty field keeps it unless they remove it.
        if self.hidden_successor_id is not None and not remove and cleaned.get("superseded_by", False) is None:
            cleaned["superseded_by"] = Dataset.objects.get(pk=self.hidden_successor_id)
        return cleaned

    def clean_unchanged_since(self) -> datetime | None:
        stamp = self.cleaned_data.get("unchanged_since", "")
        if not stamp:
            return None
        try:
            return datetime.fromisoformat(stamp)
        except ValueError:
            raise ValidationError("This form was damaged; reload the page.") from None

    def accept_current(self, *, unchanged_since: datetime, rules_revision: int) -> None:
        """After a conflict: stamp the form with what is saved now, so submitting it again means "mine wins"."""
        data = cast(QueryDict, self.data).copy()
        data["unchanged_since"] = unchanged_since.isoformat()
        data["rules_revision"] = str(rules_revision)
        self.data = data

    def clean_sunset_at(self) -> datetime | None:
        chosen: datetime | None = self.cleaned_data.get("sunset_at")
        stored = self.dataset.sunset_at if self.dataset else None
        if chosen is not None and stored is not None and chosen.date() == timezone.localtime(stored).date():
            return stored  # the date input shows only the day: the same day keeps its stored time
        return chosen

    def clean_label_schema(self) -> Any:
        raw = self.cleaned_data.get("label_schema", "").strip()
        if not raw:
            return {}
        try:
            schema = json.loads(raw)
        except json.JSONDecodeError as error:
            raise ValidationError(
                f"Not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
            ) from error
        validate_label_schema(schema)
        return schema

    def clean_tags(self) -> list[str]:
        return [tag.strip() for tag in self.cleaned_data.get("tags", "").split(",") if tag.strip()]


class LocationForm(forms.Form):
    uri = forms.CharField(
        max_length=1024,
        required=False,
        label="URI",
        widget=forms.TextInput(
            attrs={"placeholder": "s3://bucket/prefix/  ·  file:///mnt/nas/data  ·  dvc://repo#data"}
        ),
    )
    role = forms.ChoiceField(choices=StorageLocation.Role.choices, initial=StorageLocation.Role.PRIMARY)
    note = forms.CharField(max_length=300, required=False)

    def clean_uri(self) -> str:
        uri = self.cleaned_data.get("uri", "").strip()
        return str(parse_storage_uri(uri)) if uri else ""


LocationFormSet = forms.formset_factory(LocationForm, extra=1, can_delete=True, max_num=50, validate_max=True)


class CroissantImportForm(forms.Form):
    document = forms.FileField(
        label="Croissant file",
        help_text="A Croissant 1.1 JSON-LD file (.json), with or without the RAI properties; up to 5 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".json,application/json,application/ld+json"}),
    )
    owning_unit = forms.ModelChoiceField(queryset=OrgUnit.objects.none(), label="Owning unit")
    slug = forms.CharField(
        required=False,
        max_length=100,
        validators=[validate_dataset_slug],
        help_text="Leave empty to take it from the document (its alternateName when that is a slug, else its name).",
    )
    purpose = TextareaField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Needed when the document has no rai:dataUseCases; replaces it otherwise.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        unit_field = self.fields["owning_unit"]
        assert isinstance(unit_field, forms.ModelChoiceField)
        unit_field.queryset = OrgUnit.objects.filter(status=OrgUnit.Status.ACTIVE)

    def clean_document(self) -> Any:
        """The parsed JSON; whether it is a Croissant dataset is the import's to say."""
        upload = self.cleaned_data["document"]
        try:
            check_document_size(upload.size)
            return croissant_json(upload.read(MAX_DOCUMENT_BYTES + 1))
        except CroissantRejected as error:
            raise ValidationError(error.message, code=error.code) from error
