import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from access.querysets import GrantQuerySet, MembershipQuerySet


class OrgUnit(models.Model):
    """A department or team. Identity is the UUID: names change, the unit stays the same."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        MERGED = "merged", "Merged"
        SPLIT = "split", "Split"
        RETIRED = "retired", "Retired"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    successor = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="predecessors",
        help_text="Where a merged unit went: approvals and stewardship follow this link.",
    )
    group = models.OneToOneField(
        "auth.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="org_unit",
        help_text="The Django group that carries this unit's object permissions (a projection of grants).",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = "org unit"

    def __str__(self) -> str:
        return self.name


class Person(models.Model):
    """A human or service account. Never deleted: leaving is a status change that keeps history."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DEPARTED = "departed", "Departed"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="person")
    external_id = models.CharField(
        max_length=128, unique=True, help_text="The directory/HR identifier: stable and never reused."
    )
    display_name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    departed_at = models.DateTimeField(null=True, blank=True)
    manager = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports")
    primary_unit = models.ForeignKey(
        OrgUnit, null=True, blank=True, on_delete=models.SET_NULL, related_name="primary_people"
    )

    class Meta:
        ordering = ["display_name"]
        verbose_name_plural = "people"

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class ApiToken(models.Model):
    """A bearer token. Only a SHA-256 of the secret is stored; the plaintext is shown once at creation.

    A token belongs to a person or to an org unit, so a CI pipeline keeps working after its creator leaves.
    """

    class Scope(models.TextChoices):
        READ = "read", "Read-only"
        READ_WRITE = "read_write", "Read-write"

    name = models.CharField(max_length=100, help_text="What uses this token, e.g. 'training CI'.")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.READ)
    owner_person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="tokens")
    owner_unit = models.ForeignKey(OrgUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="tokens")
    created_by = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="created_tokens"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(owner_person__isnull=False, owner_unit__isnull=True)
                    | models.Q(owner_person__isnull=True, owner_unit__isnull=False)
                ),
                name="apitoken_exactly_one_owner",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def owner_label(self) -> str:
        return str(self.owner_person or self.owner_unit)


class OrgUnitAlias(models.Model):
    """A department string as the directory spells it, mapped to a unit (matched case-insensitively)."""

    name = models.CharField(max_length=200, unique=True, help_text="Stored case-folded.")
    unit = models.ForeignKey(OrgUnit, on_delete=models.CASCADE, related_name="aliases")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "org unit aliases"

    def __str__(self) -> str:
        return f"{self.name} → {self.unit.name}"


class Membership(models.Model):
    """A person's role in a unit over time. Ended by setting ``valid_to``, never deleted."""

    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        STEWARD = "steward", "Steward"
        HEAD = "head", "Head"

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="memberships")
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    valid_from = models.DateTimeField(default=timezone.now)
    valid_to = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=200, blank=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["-valid_from"]
        indexes = [
            models.Index(fields=["person", "valid_to"], name="membership_person_idx"),
            models.Index(fields=["unit", "role", "valid_to"], name="membership_unit_role_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.person} {self.role} of {self.unit}"


class TargetedModel(models.Model):
    """Points at a catalog object through content types, so ``access`` imports no domain app."""

    target_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    target_id = models.UUIDField()
    target = GenericForeignKey("target_type", "target_id")

    class Meta:
        abstract = True

    @property
    def target_object(self) -> models.Model:
        """The target, which PROTECT-style cleanup guarantees still exists."""
        obj = self.target
        if obj is None:
            raise LookupError(f"{type(self).__name__} {self.pk} points at a deleted object")
        return obj


class Level(models.IntegerChoices):
    VIEW = 1, "View metadata"
    READ = 2, "Read data"
    MANAGE = 3, "Manage"


class Grant(TargetedModel):
    """The access ledger: the source of truth. Guardian's object permissions are derived from it."""

    class Basis(models.TextChoices):
        REQUEST = "request", "Approved request"
        OWNERSHIP = "ownership", "Ownership"
        UNIT_ROLE = "unit_role", "Unit role"
        MANUAL = "manual", "Granted by a steward"
        REORG = "reorg", "Reorganisation"

    grantee_person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="grants")
    grantee_unit = models.ForeignKey(OrgUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="grants")
    level = models.PositiveSmallIntegerField(choices=Level.choices)
    basis = models.CharField(max_length=16, choices=Basis.choices)
    granted_by = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    justification = models.TextField(blank=True)
    request = models.ForeignKey(
        "AccessRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="grants"
    )
    replaces = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    starts_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revoke_reason = models.CharField(max_length=300, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True, help_text="Set while the grantee has departed.")
    expiry_recorded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = GrantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="grant_target_idx"),
            models.Index(fields=["grantee_person", "target_type"], name="grant_person_idx"),
            models.Index(fields=["grantee_unit", "target_type"], name="grant_unit_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(grantee_person__isnull=False, grantee_unit__isnull=True)
                    | models.Q(grantee_person__isnull=True, grantee_unit__isnull=False)
                ),
                name="grant_exactly_one_grantee",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} for {self.grantee_person or self.grantee_unit}"

    @property
    def grantee_label(self) -> str:
        return str(self.grantee_person or self.grantee_unit)


class AccessRequest(TargetedModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        DENIED = "denied", "Denied"
        EXPIRED = "expired", "Expired"
        WITHDRAWN = "withdrawn", "Withdrawn"

    requester = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="access_requests")
    level = models.PositiveSmallIntegerField(choices=Level.choices)
    purpose = models.TextField()
    duration_days = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    approver = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="approvals_waiting",
        help_text="Who is asked now; re-resolved on escalation, departure and at decision time.",
    )
    approver_route = models.CharField(max_length=32, blank=True)
    escalation_count = models.PositiveSmallIntegerField(default=0)
    escalated_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField()
    decided_by = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "approver"], name="request_inbox_idx"),
            models.Index(fields=["requester", "status"], name="request_mine_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.requester} asks {self.get_level_display()} ({self.status})"


class AuditEvent(models.Model):
    """Append-only: written by services, never updated or deleted (PostgreSQL enforces it with a trigger)."""

    actor = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    target_id = models.CharField(max_length=64, blank=True, db_index=True)
    target_repr = models.CharField(max_length=300, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.target_repr}"


class OrgEvent(models.Model):
    class Kind(models.TextChoices):
        RENAME = "rename", "Rename"
        MOVE = "move", "Move"
        MERGE = "merge", "Merge"
        SPLIT = "split", "Split"
        RETIRE = "retire", "Retire"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    sources = models.ManyToManyField(OrgUnit, related_name="events_as_source")
    targets = models.ManyToManyField(OrgUnit, related_name="events_as_target", blank=True)
    details = models.JSONField(default=dict, help_text="Names, parents, and the split's assignments.")
    summary = models.JSONField(default=list, help_text="What applying the event changed.")
    actor = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.TextField(blank=True)
    applied_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-applied_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.applied_at:%Y-%m-%d}"


class GovernanceItem(models.Model):
    """Something a reorganisation could not assign by itself; a governance steward decides."""

    class Kind(models.TextChoices):
        GRANT = "grant", "Grant"
        OWNERSHIP = "ownership", "Dataset ownership"
        STEWARDSHIP = "stewardship", "Stewardship"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    event = models.ForeignKey(OrgEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="queue")
    object_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=300)
    former_unit = models.ForeignKey(OrgUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    resolution = models.TextField(blank=True)

    class Meta:
        ordering = ["resolved_at", "-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.object_repr}"
