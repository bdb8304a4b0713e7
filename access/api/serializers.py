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
