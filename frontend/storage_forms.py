"""Forms of the storage pages: what a person decides about a finding."""

from typing import Any

from django import forms

from access.models import OrgUnit, Person
from frontend.access_forms import UnitChoiceField, active_people
from frontend.forms import PersonChoiceField
from storage.models import StorageConnection, TrainingRepo


class ClaimForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, help_text="Defaults to the folder's name.")
    purpose = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What problem this data serves. You can fill it in later on the draft dataset.",
    )
    owning_unit = UnitChoiceField(queryset=OrgUnit.objects.none(), required=False, empty_label="— my unit —",
                                  label="Owning unit")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["owning_unit"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = OrgUnit.objects.filter(status=OrgUnit.Status.ACTIVE).order_by("name")


class AssignForm(forms.Form):
    assignee = PersonChoiceField(queryset=Person.objects.none(), empty_label="— choose a person —",
                                 label="Assign to")
    note = forms.CharField(max_length=500, required=False, help_text="Kept in the audit log.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = active_people()


class DismissForm(forms.Form):
    reason = forms.CharField(
        max_length=1000, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why no action is needed, e.g. “scratch space, wiped weekly”. Kept with the finding.",
    )


class ConnectionForm(forms.Form):
    """What a staff member types to let the scanners into a store; secrets are named, never typed in."""

    name = forms.SlugField(max_length=100, help_text="A short id, e.g. 'ml-raw-eu' (letters, digits, dashes).")
    kind = forms.ChoiceField(choices=StorageConnection.Kind.choices, initial=StorageConnection.Kind.S3)
    roots = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "class": "mono"}),
        help_text="One per line: 'bucket' or 'bucket/prefix/' for S3; an absolute directory inside the allowed "
                  "mount roots for local/NFS.",
    )
    endpoint_url = forms.CharField(max_length=500, required=False, label="Endpoint URL",
                                   help_text="S3-compatible stores only (MinIO, Ceph…); empty for AWS.")
    region = forms.CharField(max_length=64, required=False)
    addressing_style = forms.ChoiceField(choices=StorageConnection.Addressing.choices, required=False,
                                         initial=StorageConnection.Addressing.AUTO, label="Addressing style")
    access_key_env = forms.CharField(max_length=128, required=False, label="Access key variable",
                                     help_text="Name of the environment variable the workers read, e.g. "
                                               "KURA_S3_RAW_KEY — not the key itself.")
    secret_key_env = forms.CharField(max_length=128, required=False, label="Secret key variable")
    secrets_file = forms.CharField(max_length=500, required=False, label="Or a secrets file",
                                   help_text="Path of a JSON or AWS credentials file readable by the workers.")
    secrets_file_key = forms.CharField(max_length=128, required=False, label="Entry in that file")
    inventory_manifest = forms.CharField(max_length=1024, required=False, label="S3 Inventory manifest",
                                         help_text="s3://bucket/path/manifest.json, to read instead of listing.")
    schedule_minutes = forms.IntegerField(min_value=5, required=False, label="Scan every (minutes)",
                                          help_text="Empty: only when someone starts a scan.")
    is_dvc_remote = forms.BooleanField(required=False, label="These roots hold a DVC remote")
    dvc_repos = forms.ModelMultipleChoiceField(
        queryset=TrainingRepo.objects.none(), required=False, label="Repositories that push to it",
        help_text="For a DVC remote: every repository whose outputs live here, so the scan can tell live data "
                  "from unreferenced data.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["dvc_repos"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = TrainingRepo.objects.order_by("name")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("dvc_repos") and not data.get("is_dvc_remote"):
            self.add_error("dvc_repos", "Only a DVC remote links training repositories: tick the box above.")
        return data

    def cleaned_data_for_service(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["roots"] = [line for line in data["roots"].splitlines() if line.strip()]
        data["addressing_style"] = data["addressing_style"] or StorageConnection.Addressing.AUTO
        return data
