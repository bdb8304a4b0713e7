from rest_framework import serializers


class WhoAmISerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["person", "unit", "staff"])
    username = serializers.CharField()
    display_name = serializers.CharField()
    external_id = serializers.CharField(allow_null=True)
    unit = serializers.CharField(allow_null=True)
    token_name = serializers.CharField(allow_null=True)
    token_scope = serializers.CharField(allow_null=True)
    token_expires_at = serializers.DateTimeField(allow_null=True)


class DirectoryRecordSerializer(serializers.Serializer):
    """One person in a directory export (documentation only: rows are validated by ``access.directory``)."""

    external_id = serializers.CharField(help_text="The HR/IdP id: stable, never reused.")
    name = serializers.CharField(required=False)
    email = serializers.EmailField(required=False)
    department = serializers.CharField(required=False, help_text="Mapped to a unit through org unit aliases only.")
    manager_external_id = serializers.CharField(
        required=False, allow_blank=True, help_text="The manager's external_id; empty means no manager."
    )
    active = serializers.BooleanField(required=False, default=True, help_text="false records a departure.")


class DirectoryRowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="1-based position of the record (CSV header not counted).")
    external_id = serializers.CharField(allow_blank=True)
    field = serializers.CharField(allow_blank=True)
    message = serializers.CharField()


class DirectoryChangeSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    external_id = serializers.CharField()
    kind = serializers.ChoiceField(choices=["joiner", "mover", "leaver", "rejoiner", "updated"])
    changes = serializers.DictField(child=serializers.DictField(), help_text="field → {before, after}")


class DirectorySyncResultSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    counts = serializers.DictField(child=serializers.IntegerField())
    joiners = serializers.ListField(child=serializers.CharField())
    movers = serializers.ListField(child=serializers.CharField())
    leavers = serializers.ListField(child=serializers.CharField())
    rejoiners = serializers.ListField(child=serializers.CharField())
    updated = serializers.ListField(child=serializers.CharField())
    unchanged = serializers.ListField(child=serializers.CharField())
    skipped = serializers.ListField(
        child=serializers.CharField(), help_text="Inactive people the catalog never knew; not created."
    )
    unmapped_departments = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Department strings with no alias → the external ids that named them; their unit is unchanged.",
    )
    changes = DirectoryChangeSerializer(many=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        # Declared here because a class attribute called ``errors`` would shadow Serializer.errors.
        return {**super().get_fields(), "errors": DirectoryRowErrorSerializer(many=True)}
