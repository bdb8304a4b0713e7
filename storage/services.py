"""Writes for connections and findings. Each public function is one audited transaction."""

import os
import re
from collections.abc import Iterable, Sequence

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from access.audit import audit_record
from access.models import OrgUnit, Person
from access.selectors import default_owning_unit
from catalog.models import Dataset
from catalog.selectors import free_dataset_slug
from catalog.services import LocationSpec, dataset_create
from catalog.uris import parse_storage_uri
from catalog.validators import slug_from_text
from storage.models import Finding, StorageConnection, TrainingRepo
from storage.selectors import can_triage_findings
from storage.validation import resolve_local_root, validate_endpoint_url

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# Workers start in whatever directory their service manager gives them: a relative path would name another file.
SECRETS_FILE_NOT_ABSOLUTE = "Give the absolute path of the secrets file (e.g. /etc/kura/s3-credentials)."
CLAIM_PURPOSE = "Claimed from a storage scan; the owner still has to say what problem this data serves."


def _clean_roots(kind: str, roots: Sequence[str]) -> list[str]:
    cleaned: list[str] = []
    errors: list[str] = []
    for raw in roots:
        root = raw.strip()
        try:
            if kind == StorageConnection.Kind.LOCAL:
                clean = str(resolve_local_root(root))
            else:
                parsed = parse_storage_uri(f"s3://{root.removeprefix('s3://')}")
                clean = parsed.container + ("/" + parsed.path.strip("/") + "/" if parsed.path.strip("/") else "")
        except ValidationError as error:
            errors.extend(error.messages)
            continue
        # Every root is listed in full, so data under two overlapping roots would be counted (and found) twice.
        overlapped = next((other for other in cleaned if _overlap(clean, other)), None)
        if overlapped is not None:
            errors.append(f"'{root}' overlaps '{overlapped}', another root of this connection: the data under both "
                          "would be counted twice.")
            continue
        cleaned.append(clean)
    if not cleaned and not errors:
        errors.append("Give at least one root to scan.")
    if errors:
        raise ValidationError({"roots": errors})
    return cleaned


def _overlap(root: str, other: str) -> bool:
    """One root is the other or lies inside it (compared as directories, so 'raw' and 'raw-2026' do not overlap)."""
    first, second = root.rstrip("/") + "/", other.rstrip("/") + "/"
    return first.startswith(second) or second.startswith(first)


def _validate_references(connection: StorageConnection) -> None:
    for field in ("access_key_env", "secret_key_env", "session_token_env"):
        value = getattr(connection, field)
        if value and not _ENV_NAME.fullmatch(value):
            raise ValidationError({field: "Give the name of an environment variable, not its value."})
    if bool(connection.access_key_env) != bool(connection.secret_key_env):
        raise ValidationError({"secret_key_env": "Name both the access key and the secret key variables."})
    if connection.access_key_env and connection.secrets_file:
        raise ValidationError({"secrets_file": "Use either environment variables or a secrets file, not both."})
    if connection.secrets_file and not os.path.isabs(connection.secrets_file):
        raise ValidationError({"secrets_file": SECRETS_FILE_NOT_ABSOLUTE})


@transaction.atomic
def connection_create(*, actor: Person | None, name: str, kind: str, roots: Sequence[str], endpoint_url: str = "",
                      region: str = "", addressing_style: str = StorageConnection.Addressing.AUTO,
                      access_key_env: str = "", secret_key_env: str = "", session_token_env: str = "",
                      secrets_file: str = "", secrets_file_key: str = "", inventory_manifest: str = "",
                      schedule_minutes: int | None = None, is_dvc_remote: bool = False,
                      dvc_repos: Iterable[TrainingRepo] = ()) -> StorageConnection:
    if kind not in StorageConnection.Kind.values:
        raise ValidationError({"kind": f"'{kind}' is not a connection kind."})
    connection = StorageConnection(
        name=name.strip(), kind=kind, region=region.strip(), addressing_style=addressing_style,
        access_key_env=access_key_env.strip(), secret_key_env=secret_key_env.strip(),
        session_token_env=session_token_env.strip(), secrets_file=secrets_file.strip(),
        secrets_file_key=secrets_file_key.strip(), inventory_manifest=inventory_manifest.strip(),
        schedule_minutes=schedule_minutes, is_dvc_remote=is_dvc_remote, created_by=actor,
    )
    if kind == StorageConnection.Kind.S3:
        try:
            connection.endpoint_url = validate_endpoint_url(endpoint_url)
        except ValidationError as error:
            raise ValidationError({"endpoint_url": error.messages}) from error
        if connection.inventory_manifest:
            parse_storage_uri(connection.inventory_manifest)
    elif endpoint_url or connection.inventory_manifest:
        raise ValidationError({"endpoint_url": "Local connections have no endpoint or inventory."})
    connection.roots = _clean_roots(kind, roots)
    _validate_references(connection)
    connection.full_clean()
    connection.save()
    audit_record(actor=actor, action="storage.connection_created", target=connection,
                 after={"name": connection.name, "kind": kind, "roots": connection.roots,
                        "credentials": connection.credentials_source})
    repos = list(dvc_repos)
    if repos:
        connection_set_dvc_repos(connection=connection, repos=repos, actor=actor)
    return connection


def _require_triage(actor: Person, action: str) -> None:
    """Assigning and dismissing are for those who see every finding; whoever a finding was handed to may claim it,
    not hand it on or wave it away."""
    if not can_triage_findings(actor.user):
        raise PermissionDenied(f"Only stewards, governance and staff {action} findings.")


def _lock(finding: Finding) -> Finding:
    return Finding.objects.select_for_update().select_related("connection").get(pk=finding.pk)


@transaction.atomic
def finding_claim(*, finding: Finding, actor: Person, owning_unit: OrgUnit | None = None, name: str = "",
                  purpose: str = "") -> Dataset:
    """Turn unregistered data into a draft dataset owned by the claimer, its location filled in."""
    finding = _lock(finding)
    if finding.kind != Finding.Kind.UNREGISTERED:
        raise ValidationError("Only unregistered data can be claimed.", code="not_claimable")
    if finding.status in (Finding.Status.CLAIMED, Finding.Status.RESOLVED) or finding.dataset_id:
        raise ValidationError("This finding has already been claimed or resolved.", code="already_claimed")
    if finding.status == Finding.Status.DISMISSED:
        # Dismissal is a decision with a reason; a claim on top of it left a claimed finding still saying why it
        # needed no action.
        raise ValidationError(f"This finding was dismissed: {finding.dismissal_reason}", code="finding_closed")
    unit = owning_unit or default_owning_unit(actor)
    if unit is None:
        raise ValidationError({"owning_unit": "Say which unit will own the data."})
    folder = finding.uri.rstrip("/").rsplit("/", 1)[-1] or finding.uri
    dataset = dataset_create(
        actor=actor, slug=free_dataset_slug(slug_from_text(folder, fallback="claimed-data")),
        name=name.strip() or folder,
        purpose=purpose.strip() or CLAIM_PURPOSE, owner=actor, owning_unit=unit, status=Dataset.Status.DRAFT,
        description=f"Found by a storage scan of `{finding.connection.name}`: {finding.object_count} objects, "
                    f"{finding.total_bytes} bytes.",
        locations=[LocationSpec(uri=finding.uri)],
    )
    before = finding.status
    finding.status, finding.claimed_by, finding.dataset = Finding.Status.CLAIMED, actor, dataset
    finding.save(update_fields=["status", "claimed_by", "dataset"])
    audit_record(actor=actor, action="storage.finding_claimed", target=finding, before={"status": before},
                 after={"status": finding.status, "dataset": dataset.slug})
    return dataset


@transaction.atomic
def finding_assign(*, finding: Finding, actor: Person, assignee: Person, note: str = "") -> Finding:
    _require_triage(actor, "assign")
    finding = _lock(finding)
    if not finding.is_open:
        raise ValidationError("Only an open finding can be assigned.", code="finding_closed")
    if not Person.objects.filter(pk=assignee.pk, status=Person.Status.ACTIVE).exists():
        raise ValidationError({"assignee": "Assign to an active person."})
    before = {"status": finding.status, "assignee": str(finding.assignee or "")}
    if finding.status != Finding.Status.CLAIMED:
        finding.status = Finding.Status.ASSIGNED
    finding.assignee = assignee
    finding.save(update_fields=["status", "assignee"])
    audit_record(actor=actor, action="storage.finding_assigned", target=finding, before=before,
                 after={"status": finding.status, "assignee": str(assignee)}, reason=note)
    return finding


@transaction.atomic
def finding_dismiss(*, finding: Finding, actor: Person, reason: str) -> Finding:
    _require_triage(actor, "dismiss")
    finding = _lock(finding)
    reason = reason.strip()
    if len(reason) < 5:
        raise ValidationError({"reason": "Say why this finding needs no action (e.g. 'scratch space, wiped weekly')."})
    if finding.status in (Finding.Status.DISMISSED, Finding.Status.RESOLVED):
        raise ValidationError("This finding is already closed.", code="finding_closed")
    before = finding.status
    finding.status, finding.dismissal_reason, finding.closed_at = Finding.Status.DISMISSED, reason, timezone.now()
    finding.save(update_fields=["status", "dismissal_reason", "closed_at"])
    audit_record(actor=actor, action="storage.finding_dismissed", target=finding, before={"status": before},
                 after={"status": finding.status}, reason=reason)
    return finding


@transaction.atomic
def connection_set_dvc_repos(
    *, connection: StorageConnection, repos: Iterable[TrainingRepo], actor: Person | None
) -> StorageConnection:
    """Link the training repositories that push to a DVC remote (several may share one remote)."""
    if not connection.is_dvc_remote:
        raise ValidationError({"dvc_repos": "Only a connection marked as a DVC remote links training repositories."})
    chosen = sorted(set(repos), key=lambda repo: repo.name)
    before = sorted(connection.dvc_repos.values_list("name", flat=True))
    connection.dvc_repos.set(chosen)
    after = [repo.name for repo in chosen]
    if before != after:
        audit_record(actor=actor, action="storage.dvc_repos_linked", target=connection,
                     before={"dvc_repos": before}, after={"dvc_repos": after})
    return connection
