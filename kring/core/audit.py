"""The one audit log: who changed what, when, before → after (secrets masked by the caller).

Action codes are namespaced, e.g. ``kring.member.changed`` or ``kring.bank_account.changed``.
"""

import datetime
from collections.abc import Iterable, Mapping
from decimal import Decimal

from django.db import models

from kring.core.models import AuditEntry


def display_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, models.Model):
        return str(value)
    return str(value)


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict[str, str]:
    """The displayable values of `fields`; a foreign key is shown by its str()."""
    values = {}
    for name in fields:
        field = instance._meta.get_field(name)
        if field.is_relation:
            related_id = getattr(instance, field.attname)
            values[name] = display_value(getattr(instance, name)) if related_id else ""
        else:
            values[name] = display_value(getattr(instance, name))
    return values


def diff(before: Mapping[str, str], after: Mapping[str, str]) -> list[dict[str, str]]:
    return [
        {"field": name, "before": before.get(name, ""), "after": after.get(name, "")}
        for name in after
        if before.get(name, "") != after.get(name, "")
    ]


def actor_label(actor) -> str:
    if actor is None:
        return "systeem"
    return actor.get_full_name() if hasattr(actor, "get_full_name") else str(actor)


def log_action(
    action: str,
    *,
    actor,
    obj: models.Model,
    member_id: int | None = None,
    changes: list[dict[str, str]] | None = None,
    note: str = "",
) -> AuditEntry:
    return AuditEntry.objects.create(
        **audit_row(action, actor=actor, obj=obj, member_id=member_id, changes=changes, note=note)
    )


def audit_row(action, *, actor, obj, member_id=None, changes=None, note="") -> dict:
    """The fields of one audit entry; used directly by set-based writers (bulk_create)."""
    return {
        "action": action,
        "actor": actor if getattr(actor, "pk", None) else None,
        "actor_label": actor_label(actor),
        "object_type": obj._meta.model_name,
        "object_id": str(obj.pk),
        "member_id": member_id,
        "changes": changes or [],
        "note": note,
    }
