"""The audit log's only writer."""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from access.models import AuditEvent, Person
from kura.db import copy_rows, copy_supported, insert_rows

_COPIED_FIELDS = (
    "actor_id", "action", "target_type_id", "target_id", "target_repr", "before", "after", "reason", "created_at",
)  # fmt: skip


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
    """The same events ``audit_record`` would write one by one, written together (bulk services use it).

    On PostgreSQL they stream into COPY straight from their values (a merge writes two per moved grant).
    """
    if not copy_supported(AuditEvent):
        insert_rows(AuditEvent, [_event(actor, entry) for entry in entries])
        return
    actor_id = actor.pk if actor is not None else None
    encoder = DjangoJSONEncoder()
    type_ids: dict[type[models.Model], int] = {}

    def json_text(value: Any) -> str | None:
        # The JSON ``_jsonable`` would store, as text: PostgreSQL parses it into the jsonb column.
        return None if value is None else encoder.encode(value)

    def row(entry: AuditEntry) -> tuple[Any, ...]:
        target = entry.target
        if target is None:
            type_id, target_id, target_repr = None, "", ""
        else:
            if type(target) not in type_ids:
                type_ids[type(target)] = ContentType.objects.get_for_model(target).pk
            type_id, target_id, target_repr = type_ids[type(target)], str(target.pk), str(target)[:300]
        return (actor_id, entry.action, type_id, target_id, target_repr, json_text(entry.before),
                json_text(entry.after), entry.reason, timezone.now())

    copy_rows(AuditEvent, _COPIED_FIELDS, (row(entry) for entry in entries))
