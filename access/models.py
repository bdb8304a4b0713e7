import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


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
