from django.db.models import QuerySet

from audit.models import AuditEvent


def audit_events_for_object(target: object) -> QuerySet[AuditEvent]:
    """Return the audit events about one object, newest first."""
    from django.contrib.contenttypes.models import ContentType

    return AuditEvent.objects.filter(
        object_type=ContentType.objects.get_for_model(target),  # type: ignore[arg-type]
        object_id=str(target.pk),  # type: ignore[attr-defined]
    ).select_related("actor")
