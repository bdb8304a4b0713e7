"""Forms of the storage pages: what a person decides about a finding."""

from typing import Any

from django import forms

from access.models import OrgUnit, Person
from frontend.access_forms import UnitChoiceField, active_people
from frontend.forms import PersonChoiceField


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
