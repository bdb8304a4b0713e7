from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.http import HttpRequest

from access.grants import grant_revoke
from access.leavers import person_depart, person_move
from access.models import (
    AccessRequest,
    ApiToken,
    AuditEvent,
    GovernanceItem,
    Grant,
    Membership,
    OrgEvent,
    OrgUnit,
    OrgUnitAlias,
    Person,
)
from access.selectors import person_for_user
from access.services import token_create, token_revoke


@admin.register(OrgUnit)
class OrgUnitAdmin(admin.ModelAdmin):
    """Units are added here; renames, moves, merges, splits and retirements are org events (Organisation page),
    which add aliases, move what must follow and write the audit log. Edited here they did none of that."""

    list_display = ["name", "parent", "status", "id"]
    list_filter = ["status"]
    search_fields = ["name"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["name", "parent"] if obj is None else ["name", "parent", "status", "successor", "group", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else self.get_fields(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a unit's history (events, memberships, grants) refers to it


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["display_name", "external_id", "status", "primary_unit", "manager"]
    list_filter = ["status", "primary_unit"]
    search_fields = ["display_name", "external_id", "email", "user__username"]
    autocomplete_fields = ["manager", "primary_unit"]
    raw_id_fields = ["user"]
    readonly_fields = ["status", "departed_at"]
    actions = ["record_departure"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return self.readonly_fields
        # The directory id is stable and never reused; re-pointing the account would hand this person's
        # grants, datasets and tokens to whoever signs in with it.
        return [*self.readonly_fields, "user", "external_id"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if "primary_unit" in form.base_fields:
            active = OrgUnit.objects.filter(status=OrgUnit.Status.ACTIVE)
            form.base_fields["primary_unit"].queryset = active  # type: ignore[attr-defined]
        return form

    def save_model(self, request: HttpRequest, obj: Person, form: Any, change: bool) -> None:
        new_unit = obj.primary_unit
        moved = change and "primary_unit" in form.changed_data and new_unit is not None and obj.is_active
        if moved:
            obj.primary_unit = Person.objects.get(pk=obj.pk).primary_unit  # person_move sets it
        super().save_model(request, obj, form, change)
        if moved and new_unit is not None:
            # A mover: membership in the new unit, the old unit's access ends after the grace period, audited.
            person_move(person=obj, new_unit=new_unit, actor=person_for_user(request.user))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # people are never deleted: leaving is the departure action

    @admin.action(description="Record departure (leaver workflow)")
    def record_departure(self, request: HttpRequest, queryset: Any) -> None:
        actor = person_for_user(request.user)
        for person in queryset:
            person_depart(person=person, actor=actor, reason="recorded in the admin")
        self.message_user(request, f"Recorded {queryset.count()} departure(s); their datasets are in Left behind.")


class ApiTokenCreationForm(forms.ModelForm):
    expires_in_days = forms.IntegerField(min_value=1, help_text="The token stops working after this.")

    class Meta:
        model = ApiToken
        fields = ["name", "scope", "owner_person", "owner_unit"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The service refuses the rest; offered here, they came back as a server error instead of a form error.
        days = self.fields["expires_in_days"]
        days.initial = settings.KURA_TOKEN_DEFAULT_DAYS
        days.validators.append(MaxValueValidator(settings.KURA_TOKEN_MAX_DAYS))
        days.widget.attrs["max"] = settings.KURA_TOKEN_MAX_DAYS
        owners = self.fields["owner_person"], self.fields["owner_unit"]
        owners[0].queryset = Person.objects.filter(status=Person.Status.ACTIVE)  # type: ignore[attr-defined]
        owners[1].queryset = OrgUnit.objects.filter(status=OrgUnit.Status.ACTIVE)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if bool(cleaned.get("owner_person")) == bool(cleaned.get("owner_unit")):
            raise ValidationError("Choose exactly one owner: a person or an org unit.")
        return cleaned


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "scope", "owner_label", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["scope"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created_at", "created_by", "expires_at", "last_used_at", "revoked_at"]
    actions = ["revoke_selected"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = ApiTokenCreationForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return []
        return [*self.readonly_fields, "scope", "owner_person", "owner_unit"]

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        issued = token_create(
            name=form.cleaned_data["name"],
            scope=form.cleaned_data["scope"],
            owner_person=form.cleaned_data.get("owner_person"),
            owner_unit=form.cleaned_data.get("owner_unit"),
            created_by=person_for_user(request.user),
            expires_in_days=form.cleaned_data["expires_in_days"],
        )
        # The admin keeps working with ``obj`` after this hook; make it the token the service issued.
        vars(obj).update(vars(issued.token))
        messages.warning(
            request,
            f"Copy this token now; Kura stores only its hash and cannot show it again: {issued.plaintext}",
        )

    @admin.action(description="Revoke selected tokens")
    def revoke_selected(self, request: HttpRequest, queryset: Any) -> None:
        actor = person_for_user(request.user)
        for token in queryset:
            token_revoke(token=token, actor=actor)
        self.message_user(request, f"Revoked {queryset.count()} token(s).")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Ledger-like records are written by services only; the admin shows them."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OrgUnitAlias)
class OrgUnitAliasAdmin(admin.ModelAdmin):
    list_display = ["name", "unit"]
    search_fields = ["name", "unit__name"]
    autocomplete_fields = ["unit"]


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ["person", "unit", "role", "valid_from", "valid_to", "end_reason"]
    list_filter = ["role", "unit"]
    search_fields = ["person__display_name", "unit__name"]


@admin.register(Grant)
class GrantAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "target_type", "target_id", "basis", "expires_at", "revoked_at", "suspended_at"]
    list_filter = ["level", "basis"]
    search_fields = ["grantee_person__display_name", "grantee_unit__name", "target_id"]
    actions = ["revoke_selected"]

    @admin.action(description="Revoke selected grants")
    def revoke_selected(self, request: HttpRequest, queryset: Any) -> None:
        actor = person_for_user(request.user)
        for grant in queryset:
            grant_revoke(grant=grant, actor=actor, reason="revoked in the admin")
        self.message_user(request, f"Revoked {queryset.count()} grant(s).")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None  # lets the list run actions; rows stay read-only


@admin.register(AccessRequest)
class AccessRequestAdmin(ReadOnlyAdmin):
    list_display = ["requester", "target_id", "level", "status", "approver", "created_at", "deadline_at"]
    list_filter = ["status", "level"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "action", "target_repr", "reason"]
    list_filter = ["action"]
    search_fields = ["action", "target_repr", "target_id", "reason"]


@admin.register(OrgEvent)
class OrgEventAdmin(ReadOnlyAdmin):
    list_display = ["applied_at", "kind", "actor", "reason"]
    list_filter = ["kind"]


@admin.register(GovernanceItem)
class GovernanceItemAdmin(ReadOnlyAdmin):
    list_display = ["kind", "object_repr", "former_unit", "created_at", "resolved_at"]
    list_filter = ["kind", "resolved_at"]
