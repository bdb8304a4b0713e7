"""Forms of the access pages. They only shape input: the services validate and decide."""

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone

from access.models import Level, OrgUnit, Person
from access.org import OrgPlan, plan_merge, plan_move, plan_rename, plan_retire, plan_split
from catalog.access_selectors import split_inventory
from frontend.forms import PersonChoiceField

LEVEL_HELP = {
    Level.VIEW: "See that the dataset exists and read its documentation.",
    Level.READ: "Also see its storage locations and file manifests, to use the data.",
    Level.MANAGE: "Also edit it and decide who else gets access.",
}


def active_people() -> "QuerySet[Person]":
    return Person.objects.filter(status=Person.Status.ACTIVE).select_related("user").order_by("display_name")


def active_units() -> "QuerySet[OrgUnit]":
    return OrgUnit.objects.filter(status=OrgUnit.Status.ACTIVE).order_by("name")



class AccessRequestForm(forms.Form):
    level = forms.TypedChoiceField(
        choices=Level.choices, coerce=int, initial=Level.READ, widget=forms.RadioSelect, label="Access level"
    )
    purpose = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What you need the data for. The approver reads this before deciding.",
    )
    duration_days = forms.IntegerField(
        initial=30, label="For how many days", widget=forms.NumberInput(attrs={"min": 1, "class": "short"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read at run time: the limit comes from the environment (the service enforces it).
        most = settings.KURA_GRANT_MAX_DAYS
        self.fields["duration_days"].widget.attrs["max"] = most
        self.fields["duration_days"].help_text = f"1 to {most} days; access ends by itself afterwards."


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("deny", "Deny")])
    comment = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required to deny: the requester sees it.",
    )

    @property
    def approve(self) -> bool:
        return self.cleaned_data["decision"] == "approve"


class RevokeForm(forms.Form):
    reason = forms.CharField(required=False, max_length=300)  # the service says when it is missing


class GrantForm(forms.Form):
    person = PersonChoiceField(queryset=Person.objects.none(), required=False, empty_label="— choose a person —")
    unit = forms.ModelChoiceField(queryset=OrgUnit.objects.none(), required=False, empty_label="— or a unit —",
                                  label="Org unit")
    level = forms.TypedChoiceField(choices=Level.choices, coerce=int, initial=Level.READ, label="Access level")
    justification = forms.CharField(max_length=1000, help_text="Why this access is needed; kept in the ledger.")
    ends_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Ends on",
                              help_text="Leave empty for no end date.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        person_field = self.fields["person"]
        unit_field = self.fields["unit"]
        assert isinstance(person_field, forms.ModelChoiceField) and isinstance(unit_field, forms.ModelChoiceField)
        person_field.queryset = active_people()
        unit_field.queryset = active_units()

    def clean_ends_on(self) -> date | None:
        ends_on: date | None = self.cleaned_data.get("ends_on")
        if ends_on is not None and ends_on >= date.max:  # access ends when the next day starts: there is none
            raise ValidationError("Choose an earlier end date, or leave it empty for no end date.")
        return ends_on

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("person")) == bool(data.get("unit")):
            raise ValidationError("Choose either a person or an org unit to grant access to.")
        return data

    @property
    def expires_at(self) -> datetime | None:
        """Access lasts through the chosen day: it ends at the start of the next one."""
        ends_on = self.cleaned_data.get("ends_on")
        if ends_on is None:
            return None
        return timezone.make_aware(datetime.combine(ends_on + timedelta(days=1), time.min))


PROPOSED = "proposed"


class ReassignForm(forms.Form):
    datasets = forms.MultipleChoiceField(choices=[], error_messages={"required": "Select at least one dataset."})
    new_owner = forms.ChoiceField(choices=[], label="New owner")
    reason = forms.CharField(required=False, max_length=300)

    def __init__(self, *args: Any, dataset_choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        datasets = self.fields["datasets"]
        new_owner = self.fields["new_owner"]
        assert isinstance(datasets, forms.ChoiceField) and isinstance(new_owner, forms.ChoiceField)
        datasets.choices = dataset_choices
        datasets.error_messages["invalid_choice"] = "You cannot reassign one of the selected datasets."
        people = [(str(person.pk), f"{person.display_name} ({person.user.username})") for person in active_people()]
        new_owner.choices = [(PROPOSED, "Each to its proposed successor"), *people]

    def new_owner_person(self) -> Person | None:
        value = self.cleaned_data["new_owner"]
        return None if value == PROPOSED else Person.objects.get(pk=value)


class AuditFilterForm(forms.Form):
    action = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"list": "audit-actions", "placeholder": "e.g. grant. or request.approved"}),
    )
    actor = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": "username or external id"}))
    target = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": "target id"}))
    since = forms.DateTimeField(
        required=False, widget=forms.TextInput(attrs={"placeholder": "2026-01-31 or 2026-01-31 14:00"}),
        error_messages={"invalid": "Use a date such as 2026-01-31, optionally with a time (UTC)."},
    )

    def api_params(self) -> dict[str, str]:
        """The filters in the form the API's ``filter_audit`` takes, so both filter alike."""
        data = self.cleaned_data
        params = {key: data[key].strip() for key in ("action", "actor", "target") if data.get(key, "").strip()}
        if data.get("since"):
            params["since"] = data["since"].isoformat()
        return params


# --- org events ---------------------------------------------------------------------------------------------


class UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


class UnitMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


ASSIGNMENT_PREFIXES = ("grant_", "member_", "object_")


class OrgEventForm(forms.Form):
    kind = ""
    title = ""
    intro = ""
    reason = forms.CharField(required=False, max_length=500, label="Reason (kept with the event)",
                             widget=forms.TextInput(attrs={"placeholder": "e.g. reorganisation announced 2026-03-01"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.ModelChoiceField):
                field.queryset = active_units()
        self.order_fields([name for name in self.fields if name != "reason"] + ["reason"])

    def main_fields(self) -> list[forms.BoundField]:
        """The fields that describe the event (a split adds per-object assignment fields after them)."""
        return [self[name] for name in self.fields if not name.startswith(ASSIGNMENT_PREFIXES)]

    def plan(self, actor: Person | None) -> OrgPlan:
        raise NotImplementedError


class RenameForm(OrgEventForm):
    kind = "rename"
    title = "Rename a unit"
    intro = "Only the name changes: grants, members, datasets and approvals stay as they are."
    unit = UnitChoiceField(queryset=OrgUnit.objects.none())
    new_name = forms.CharField(max_length=200, label="New name")

    def plan(self, actor: Person | None) -> OrgPlan:
        return plan_rename(unit=self.cleaned_data["unit"], new_name=self.cleaned_data["new_name"])


class MoveForm(OrgEventForm):
    kind = "move"
    title = "Move a unit"
    intro = "Put a unit under another parent. Its grants, members and datasets stay with it."
    unit = UnitChoiceField(queryset=OrgUnit.objects.none())
    new_parent = UnitChoiceField(queryset=OrgUnit.objects.none(), required=False, empty_label="— the top level —",
                                 label="New parent")

    def plan(self, actor: Person | None) -> OrgPlan:
        return plan_move(unit=self.cleaned_data["unit"], new_parent=self.cleaned_data["new_parent"])


class MergeForm(OrgEventForm):
    kind = "merge"
    title = "Merge units"
    intro = ("The successor takes over the merged units' grants, members, stewards and datasets; pending requests "
             "are re-routed to it.")
    sources = UnitMultipleChoiceField(queryset=OrgUnit.objects.none(), widget=forms.CheckboxSelectMultiple,
                                      label="Units to merge")
    successor = UnitChoiceField(queryset=OrgUnit.objects.none(), label="Into")

    def plan(self, actor: Person | None) -> OrgPlan:
        return plan_merge(sources=list(self.cleaned_data["sources"]), successor=self.cleaned_data["successor"],
                          actor=actor)


class RetireForm(OrgEventForm):
    kind = "retire"
    title = "Retire a unit"
    intro = ("For a unit with no members left. Its grants stop and its datasets go to the governance queue until "
             "someone decides where they belong.")
    unit = UnitChoiceField(queryset=OrgUnit.objects.none())

    def plan(self, actor: Person | None) -> OrgPlan:
        return plan_retire(unit=self.cleaned_data["unit"], actor=actor)


UNASSIGNED_GRANT = "Unassigned → governance queue (access stops)"
UNASSIGNED_OBJECT = "Unassigned → governance queue"
UNASSIGNED_MEMBER = "Unassigned → leaves the unit"


class SplitForm(OrgEventForm):
    kind = "split"
    title = "Split a unit"
    intro = ("A split never widens access by itself: each unit grant, member and owned dataset goes only where you "
             "assign it. What stays unassigned goes to the governance queue (members simply leave).")
    source = UnitChoiceField(queryset=OrgUnit.objects.none(), label="Unit to split")
    successors = UnitMultipleChoiceField(queryset=OrgUnit.objects.none(), widget=forms.CheckboxSelectMultiple,
                                         label="Into")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.assignment_groups: list[tuple[str, list[str]]] = []
        source, successors = self._chosen_units()
        if source is None or len(successors) < 2:
            return
        choices = [(str(unit.pk), unit.name) for unit in successors if unit.pk != source.pk]
        inventory = split_inventory(unit=source)
        grants = [(f"grant_{grant.pk}", f"{grant.get_level_display()} on {grant.target}", UNASSIGNED_GRANT)
                  for grant in inventory.grants]
        roles: dict[Any, tuple[str, list[str]]] = {}  # one person in several roles moves as one
        for membership in inventory.memberships:
            person_roles = roles.setdefault(membership.person_id, (membership.person.display_name, []))[1]
            person_roles.append(membership.get_role_display().lower())
        members = [(f"member_{person_id}", f"{name} ({', '.join(titles)})", UNASSIGNED_MEMBER)
                   for person_id, (name, titles) in roles.items()]
        objects = [(f"object_{dataset.pk}", f"{dataset.name} ({dataset.slug})", UNASSIGNED_OBJECT)
                   for dataset in inventory.datasets]
        for title, rows in (("Unit grants", grants), ("Members", members), ("Owned datasets", objects)):
            for name, label, unassigned in rows:
                self.fields[name] = forms.ChoiceField(choices=[("", unassigned), *choices], required=False,
                                                      label=label)
            self.assignment_groups.append((title, [name for name, _, _ in rows]))
        self.order_fields([name for name in self.fields if name != "reason"] + ["reason"])

    def _chosen_units(self) -> tuple[OrgUnit | None, list[OrgUnit]]:
        if not self.is_bound:
            return None, []
        raw = self.data
        chosen = raw.getlist("successors") if isinstance(raw, QueryDict) else raw.get("successors", [])
        try:
            source = self.fields["source"].clean(raw.get("source"))
            successors = list(self.fields["successors"].clean(chosen))
        except ValidationError:
            return None, []
        return source, successors

    def assignment_fields(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(title, [self[name] for name in names]) for title, names in self.assignment_groups]

    def assignments(self) -> dict[str, dict[str, str]]:
        result: dict[str, dict[str, str]] = {"grants": {}, "members": {}, "objects": {}}
        keys = {"grant": "grants", "member": "members", "object": "objects"}
        for name, value in self.cleaned_data.items():
            prefix, _, key = name.partition("_")
            if prefix in keys and key and value:
                result[keys[prefix]][key] = value
        return result

    def plan(self, actor: Person | None) -> OrgPlan:
        return plan_split(source=self.cleaned_data["source"], successors=list(self.cleaned_data["successors"]),
                          assignments=self.assignments(), actor=actor)


ORG_FORMS: dict[str, type[OrgEventForm]] = {
    form.kind: form for form in (RenameForm, MoveForm, MergeForm, SplitForm, RetireForm)
}
