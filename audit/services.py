from collections.abc import Iterable
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from audit import context
from audit.models import AuditEvent


def _label(target: models.Model | None) -> str:
    # Models whose str() carries personal data (a buyer's name) give an ``audit_label`` instead,
    # so the append-only log never holds what an erasure request must remove.
    if target is None:
        return ""
    return str(getattr(target, "audit_label", target))[:200]


def audit_event(
    *,
    actor: Any,
    action: str,
    target: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Build (not save) one audit event, bound to the current request's context."""
    bound = context.current()
    is_person = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEvent(
        actor=actor if is_person else None,
        action=action,
        object_type=ContentType.objects.get_for_model(target) if target is not None else None,
        object_id=str(target.pk) if target is not None else "",
        object_repr=_label(target),
        before=before,
        after=after,
        ip_address=bound.ip_address if bound else None,
        request_id=bound.request_id if bound else "",
    )


def audit_record(
    *,
    actor: Any,
    action: str,
    target: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event; call it inside the transaction of the change it describes."""
    event = audit_event(actor=actor, action=action, target=target, before=before, after=after)
    event.save(force_insert=True)
    return event


def audit_record_many(events: Iterable[AuditEvent]) -> list[AuditEvent]:
    """Append events built by ``audit_event`` in one statement (a batch of decisions)."""
    return AuditEvent.objects.bulk_create(list(events))
