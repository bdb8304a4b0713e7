from typing import Any

from rest_framework import serializers

from access.models import AccessRequest, AuditEvent, Grant, Level


class GrantSerializer(serializers.ModelSerializer):
    grantee = serializers.CharField(source="grantee_label")
    grantee_kind = serializers.SerializerMethodField()
    level = serializers.CharField(source="get_level_display")
    granted_by = serializers.StringRelatedField[Any]()

    class Meta:
        model = Grant
        fields = ["id", "grantee", "grantee_kind", "level", "basis", "granted_by", "justification", "starts_at",
                  "expires_at", "revoked_at", "revoke_reason", "suspended_at"]

    def get_grantee_kind(self, grant: Grant) -> str:
        return "person" if grant.grantee_person_id else "unit"


class GrantCreateSerializer(serializers.Serializer):
    person = serializers.CharField(required=False, help_text="External id or username of the grantee.")
    unit = serializers.UUIDField(required=False, help_text="Org unit UUID of the grantee.")
    level = serializers.ChoiceField(choices=["view", "read", "manage"])
    justification = serializers.CharField()
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class RevokeSerializer(serializers.Serializer):
    reason = serializers.CharField()


class AccessRequestSerializer(serializers.ModelSerializer):
    dataset = serializers.SerializerMethodField()
    requester = serializers.StringRelatedField[Any]()
    approver = serializers.StringRelatedField[Any]()
    decided_by = serializers.StringRelatedField[Any]()
    level = serializers.CharField(source="get_level_display")

    class Meta:
        model = AccessRequest
        fields = ["id", "dataset", "requester", "level", "purpose", "duration_days", "status", "approver",
                  "approver_route", "escalation_count", "deadline_at", "decided_by", "decided_at",
                  "decision_comment", "created_at"]

    def get_dataset(self, request: AccessRequest) -> str:
        slugs: dict[str, str] = self.context.get("slugs", {})
        return slugs.get(str(request.target_id), str(request.target_id))


class AccessRequestCreateSerializer(serializers.Serializer):
    dataset = serializers.CharField(help_text="Dataset slug.")
    level = serializers.ChoiceField(choices=["view", "read", "manage"])
    purpose = serializers.CharField()
    duration_days = serializers.IntegerField(min_value=1)


class DecisionSerializer(serializers.Serializer):
    approve = serializers.BooleanField()
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.StringRelatedField[Any]()
    target_type = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = ["id", "created_at", "actor", "action", "target_type", "target_id", "target_repr", "before",
                  "after", "reason"]

    def get_target_type(self, event: AuditEvent) -> str | None:
        return event.target_type.model if event.target_type else None


class DepartSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, default="left the company")


LEVELS = {"view": Level.VIEW, "read": Level.READ, "manage": Level.MANAGE}
