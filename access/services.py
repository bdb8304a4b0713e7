"""Writes for people, units and API tokens."""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from access.audit import audit_record
from access.models import ApiToken, OrgUnit, Person
from access.token_lookup import token_by_prefix

TOKEN_PATTERN = re.compile(r"^kura_(?P<prefix>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{20,100})$")
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenError(Exception):
    """Why a presented token was refused; ``code`` is the stable API error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    plaintext: str


def _hash_secret(plaintext: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough; there is nothing to brute-force.
    return hashlib.sha256(plaintext.encode()).hexdigest()


def org_unit_create(*, name: str, parent: OrgUnit | None = None) -> OrgUnit:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "An org unit needs a name."})
    unit = OrgUnit(name=name, parent=parent)
    unit.full_clean()
    unit.save()
    return unit


@transaction.atomic
def person_create(
    *,
    username: str,
    external_id: str,
    display_name: str,
    email: str = "",
    manager: Person | None = None,
    primary_unit: OrgUnit | None = None,
    password: str | None = None,
    is_staff: bool = False,
) -> Person:
    user_model = get_user_model()
    user = user_model(username=username, email=email, is_staff=is_staff)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    person = Person(
        user=user,
        external_id=external_id,
        display_name=display_name,
        email=email,
        manager=manager,
        primary_unit=primary_unit,
    )
    person.full_clean()
    person.save()
    return person


def token_create(
    *,
    name: str,
    scope: str = ApiToken.Scope.READ,
    owner_person: Person | None = None,
    owner_unit: OrgUnit | None = None,
    created_by: Person | None = None,
    expires_in_days: int | None = None,
) -> IssuedToken:
    if (owner_person is None) == (owner_unit is None):
        raise ValidationError("A token belongs to exactly one owner: a person or an org unit.")
    if owner_person is not None and owner_person.status != Person.Status.ACTIVE:
        raise ValidationError("Tokens cannot be issued to a person who has departed.")
    if owner_unit is not None and owner_unit.status != OrgUnit.Status.ACTIVE:
        raise ValidationError(f"Tokens cannot be issued to {owner_unit.name}, which {_unit_gone(owner_unit)}: "
                              "issue it for the unit that does its work now.")
    if scope not in ApiToken.Scope.values:
        raise ValidationError({"scope": f"Scope must be one of {', '.join(ApiToken.Scope.values)}."})
    days = settings.KURA_TOKEN_DEFAULT_DAYS if expires_in_days is None else expires_in_days
    if not 1 <= days <= settings.KURA_TOKEN_MAX_DAYS:
        raise ValidationError(
            {"expires_in_days": f"A token must expire within 1 to {settings.KURA_TOKEN_MAX_DAYS} days."}
        )
    prefix = secrets.token_hex(6)
    plaintext = f"kura_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken(
        name=name.strip() or "unnamed",
        prefix=prefix,
        secret_hash=_hash_secret(plaintext),
        scope=scope,
        owner_person=owner_person,
        owner_unit=owner_unit,
        created_by=created_by,
        expires_at=timezone.now() + timedelta(days=days),
    )
    token.save()
    # Who minted a credential that acts as someone, and for whom: the hash is never shown, the prefix identifies it.
    audit_record(actor=created_by, action="token.issued", target=token,
                 after={"prefix": prefix, "scope": scope, "owner": str(owner_person or owner_unit),
                        "expires_at": token.expires_at})
    return IssuedToken(token=token, plaintext=plaintext)


def _unit_gone(unit: OrgUnit) -> str:
    if unit.status == OrgUnit.Status.MERGED and unit.successor is not None:
        return f"was merged into {unit.successor.name}"
    return f"is {unit.get_status_display().lower()}"


def token_revoke(*, token: ApiToken, actor: Person | None = None) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(actor=actor, action="token.revoked", target=token, after={"prefix": token.prefix})
    return token


def token_authenticate(*, plaintext: str) -> ApiToken:
    """Return the live token for ``plaintext`` or raise TokenError saying why not."""
    match = TOKEN_PATTERN.fullmatch(plaintext)
    if match is None:
        raise TokenError("token_malformed", "The bearer token is not a Kura token (expected kura_<id>_<secret>).")
    token = token_by_prefix(match.group("prefix"))
    if token is None or not hmac.compare_digest(token.secret_hash, _hash_secret(plaintext)):
        raise TokenError("token_invalid", "The bearer token is not recognised.")
    now = timezone.now()
    person = token.owner_person
    # Before "revoked": a departure revokes its leaver's tokens, and CI is better told why.
    if person is not None and (person.status != Person.Status.ACTIVE or not person.user.is_active):
        raise TokenError("token_owner_inactive", "The bearer token's owner is no longer active.")
    if token.revoked_at is not None:
        raise TokenError("token_revoked", "The bearer token has been revoked.")
    if token.expires_at <= now:
        raise TokenError("token_expired", f"The bearer token expired at {token.expires_at.isoformat()}.")
    unit = token.owner_unit
    if unit is not None and unit.status != OrgUnit.Status.ACTIVE:
        # Its grants went to a successor or to governance: acting as it would silently see less, not fail.
        raise TokenError("token_owner_inactive", f"The bearer token belongs to {unit.name}, which {_unit_gone(unit)}: "
                                                 "issue a token for the unit that does its work now.")
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        # Coarse on purpose: one write a minute per token, not one per CI request.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
