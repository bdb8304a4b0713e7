from typing import Any

from rest_framework import serializers

from lineage.models import Consumer, Model, ModelVersion, TrainingRun
from lineage.services import MODEL_NAME, MODEL_NAME_RULE, MODEL_VERSION


class RunSerializer(serializers.ModelSerializer[TrainingRun]):
    run_id = serializers.CharField(source="external_run_id")

    class Meta:
        model = TrainingRun
        fields = [
            "run_id", "job_namespace", "job_name", "status", "started_at", "ended_at",
            "code_repository", "code_path", "code_commit", "ci_job_url", "parameters",
        ]


class ModelVersionSummarySerializer(serializers.ModelSerializer[ModelVersion]):
    model = serializers.CharField(source="model.name")
    run_id = serializers.CharField(source="produced_by.external_run_id", default=None)

    class Meta:
        model = ModelVersion
        fields = ["model", "version", "stage", "run_id", "created_at"]


class ConsumerSerializer(serializers.ModelSerializer[Consumer]):
    depends_on = serializers.SerializerMethodField()

    class Meta:
        model = Consumer
        fields = ["name", "kind", "description", "depends_on"]

    def get_depends_on(self, consumer: Consumer) -> list[str]:
        return sorted(str(version) for version in consumer.model_versions.all())


class ModelListSerializer(serializers.ModelSerializer[Model]):
    owner = serializers.CharField(source="owner.external_id", default=None)
    versions = serializers.SerializerMethodField()

    class Meta:
        model = Model
        fields = ["name", "owner", "description", "versions"]

    def get_versions(self, model: Model) -> list[dict[str, Any]]:
        return [{"version": version.version, "stage": version.stage} for version in model.versions.all()]


class ModelVersionDetailSerializer(ModelVersionSummarySerializer):
    trained_on = serializers.SerializerMethodField()
    consumers = serializers.SerializerMethodField()

    class Meta(ModelVersionSummarySerializer.Meta):
        fields = [*ModelVersionSummarySerializer.Meta.fields, "trained_on", "consumers"]

    def get_trained_on(self, version: ModelVersion) -> list[str]:
        return self.context["lineage"][version.pk].trained_on

    def get_consumers(self, version: ModelVersion) -> list[str]:
        return self.context["lineage"][version.pk].consumers


class TrainingReportSerializer(serializers.Serializer[Any]):
    model = serializers.RegexField(MODEL_NAME, error_messages={"invalid": f"Give {MODEL_NAME_RULE}."})
    version = serializers.RegexField(MODEL_VERSION)
    trained_on = serializers.ListField(
        child=serializers.CharField(max_length=300), min_length=1, max_length=500,
        help_text="Dataset versions as 'slug@label' or 'kura://slug@label'.",
    )
    run_id = serializers.CharField(max_length=255)
    namespace = serializers.CharField(max_length=255, default="ci")
    job_name = serializers.CharField(max_length=500, required=False, default="")
    code_repository = serializers.CharField(max_length=500, required=False, default="")
    code_commit = serializers.RegexField(r"^[0-9a-fA-F]{7,64}\Z", required=False, default="")
    ci_job_url = serializers.URLField(max_length=500, required=False, default="")
    parameters = serializers.DictField(required=False, default=dict)
    stage = serializers.ChoiceField(choices=ModelVersion.Stage.choices, required=False, default="")
    status = serializers.ChoiceField(choices=TrainingRun.Status.choices, default=TrainingRun.Status.COMPLETE)
    started_at = serializers.DateTimeField(required=False, default=None)
    ended_at = serializers.DateTimeField(required=False, default=None)


class ConsumerDependencySerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Consumer.Kind.choices, default=Consumer.Kind.OTHER)
    description = serializers.CharField(required=False, default="", allow_blank=True)
    depends_on = serializers.ListField(
        child=serializers.CharField(max_length=300), min_length=1, max_length=100,
        help_text="Model versions as 'model@version'.",
    )
