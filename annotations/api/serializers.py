from typing import Any

from django.urls import reverse
from rest_framework import serializers

from annotations.models import CorrectionExample, GuidelineRevision
from annotations.selectors import revision_headings
from catalog.api.serializers import PersonRefSerializer


class RevisionSummarySerializer(serializers.ModelSerializer):
    created_by = PersonRefSerializer(allow_null=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = GuidelineRevision
        fields = ["number", "change_note", "created_by", "created_at", "url"]

    def get_url(self, revision: GuidelineRevision) -> str:
        return reverse(
            "api-guideline-revision", kwargs={"slug": self.context["slug"], "number": revision.number}
        )


class HeadingSerializer(serializers.Serializer):
    level = serializers.IntegerField()
    title = serializers.CharField()
    anchor = serializers.CharField()


class ExampleSideSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["image", "snippet"])
    content_type = serializers.CharField(allow_blank=True)
    snippet = serializers.CharField(allow_blank=True)
    image_url = serializers.CharField(allow_null=True, help_text="Served to signed-in browser sessions.")


class CorrectionExampleSerializer(serializers.ModelSerializer):
    added_by = PersonRefSerializer(allow_null=True)
    revision = serializers.IntegerField(source="revision.number")
    before = serializers.SerializerMethodField()
    after = serializers.SerializerMethodField()

    class Meta:
        model = CorrectionExample
        fields = ["id", "rule_anchor", "rule_title", "revision", "before", "after", "explanation", "added_by",
                  "created_at"]

    def _side(self, example: CorrectionExample, side: str) -> dict[str, Any]:
        image = getattr(example, f"{side}_image")
        url = reverse(
            "frontend:guideline-example-file", kwargs={"slug": self.context["slug"], "pk": example.pk, "side": side}
        )
        return {
            "kind": "image" if image else "snippet",
            "content_type": getattr(example, f"{side}_image_type"),
            "snippet": getattr(example, f"{side}_snippet"),
            "image_url": url if image else None,
        }

    def get_before(self, example: CorrectionExample) -> dict[str, Any]:
        return self._side(example, "before")

    def get_after(self, example: CorrectionExample) -> dict[str, Any]:
        return self._side(example, "after")


class RevisionDetailSerializer(RevisionSummarySerializer):
    headings = serializers.SerializerMethodField()
    examples = serializers.SerializerMethodField()

    class Meta(RevisionSummarySerializer.Meta):
        fields = [*RevisionSummarySerializer.Meta.fields, "body", "label_schema", "headings", "examples"]

    def get_headings(self, revision: GuidelineRevision) -> list[dict[str, Any]]:
        return [HeadingSerializer(heading).data for heading in revision_headings(revision)]

    def get_examples(self, revision: GuidelineRevision) -> list[dict[str, Any]]:
        examples = [example for group in self.context["groups"] for example in group.examples]
        return list(CorrectionExampleSerializer(examples, many=True, context=self.context).data)


class GuidelineSerializer(serializers.Serializer):
    dataset = serializers.CharField()
    current = RevisionDetailSerializer(allow_null=True)
    revisions = RevisionSummarySerializer(many=True)
