"""The audit log's only writer."""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from access.models import AuditEvent, Person
from kura.db import insert_rows


def _jsonable(value: Any) -> Any:
    return None if value is None else json.loads(json.dumps(value, cls=DjangoJSONEncoder))


@dataclass(frozen=True)
class AuditEntry:
    """One event of a batch written by ``audit_record_many``."""

    action: str
    target: models.Model | None = None
    before: Any = None
    after: Any = None
    reason: str = ""


def _event(actor: Person | None, entry: AuditEntry) -> AuditEvent:
    target = entry.target
    return AuditEvent(
        actor=actor,
        action=entry.action,
        target_type=ContentType.objects.get_for_model(target) if target is not None else None,
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:300] if target is not None else "",
        before=_jsonable(entry.before),
        after=_jsonable(entry.after),
        reason=entry.reason,
    )


def audit_record(
    *,
    actor: Person | None,
    action: str,
    target: models.Model | None = None,
    before: Any = None,
    after: Any = None,
    reason: str = "",
) -> AuditEvent:
    event = _event(actor, AuditEntry(action=action, target=target, before=before, after=after, reason=reason))
    event.save()
    return event


def audit_record_many(*, actor: Person | None, entries: Iterable[AuditEntry]) -> None:
    """The same events ``audit_record`` would write one by one, written together (bulk services use it)."""
    insert_rows(AuditEvent, [_event(actor, entry) for entry in entries])
