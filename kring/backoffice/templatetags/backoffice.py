"""Template helpers of the back office: status badges, money, and the audit history in plain words."""

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.template.defaultfilters import date as format_date
from django.utils import translation
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from kring.billing.models import Invoice
from kring.members.models import Membership
from kring.members.validation import format_phone

register = template.Library()

CENT = Decimal("0.01")

# What each audit action means, in words the secretariat uses. Unknown codes are shown as they are.
ACTION_LABELS = {
    "kring.member.created": _("Member added"),
    "kring.member.changed": _("Member details changed"),
    "kring.member.exported": _("Member list exported"),
    "kring.member.imported": _("Member imported"),
    "kring.bank_account.changed": _("Bank account changed"),
    "kring.membership.started": _("Membership started"),
    "kring.membership.status_changed": _("Membership status changed"),
    "kring.membership.cancelled": _("Membership cancelled"),
    "kring.membership.frequency_changed": _("Payment frequency changed"),
    "kring.membership.renewal_confirmed": _("Renewal confirmed"),
    "kring.membership.payers_changed": _("Payers changed"),
    "kring.membership.changed": _("Membership changed"),
    "kring.contact_person.added": _("Contact person added"),
    "kring.contact_person.created": _("Contact person added"),
    "kring.contact_person.changed": _("Contact person changed"),
    "kring.contact_person.removed": _("Contact person removed"),
    "billing.invoice_created": _("Invoice made"),
    "billing.credit_note_created": _("Credit note made"),
    "billing.payment_recorded": _("Payment recorded"),
    "billing.written_off": _("Invoice written off"),
    "billing.settings_changed": _("Invoice settings changed"),
    "billing.export": _("Invoices or payments exported"),
}

# Audited names that are not model fields.
EXTRA_FIELD_LABELS = {
    "payers": _("payers"),
}


# Invoice payment states that are not stored statuses (see Invoice.payment_state).
DERIVED_STATUS_LABELS = {
    "overdue": _("overdue"),
}


def status_label(status: str) -> str:
    """The name of a membership status, an invoice status or a derived payment state."""
    for choices in (Membership.Status, Invoice.Status):
        try:
            return choices(status).label
        except ValueError:
            continue
    return DERIVED_STATUS_LABELS.get(status, status)


@register.filter
def status_badge(status: str):
    """A membership status or an invoice's payment state as a coloured badge with its name in words
    (colour is never the only cue)."""
    if not status:
        return format_html('<span class="badge badge--none">{}</span>', capfirst(_("no membership")))
    return format_html('<span class="badge badge--{}">{}</span>', status, capfirst(status_label(status)))


def format_money(value, language: str | None = None) -> str:
    """'€ 1.234,56' in Dutch, '€ 1,234.56' in English; Decimal arithmetic only."""
    if value is None or value == "":
        return ""
    if isinstance(value, float):
        value = str(value)
    try:
        amount = Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, TypeError, ValueError):
        return ""
    language = language or translation.get_language() or "nl"
    whole, _sep, cents = f"{abs(amount):f}".partition(".")
    grouped = f"{int(whole):,}"
    if language.startswith("en"):
        number = f"{grouped}.{cents}"
    else:
        number = f"{grouped.replace(',', '.')},{cents}"
    sign = "-" if amount < 0 else ""
    return f"€\u00a0{sign}{number}"


@register.filter
def money(value) -> str:
    return format_money(value)


@register.filter
def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


@dataclass(frozen=True)
class FieldChange:
    label: str
    before: str
    after: str


def _model_for(object_type: str) -> type[models.Model] | None:
    for label in ("members", "core", "billing"):
        try:
            return apps.get_model(label, object_type)
        except LookupError:
            continue
    return None


def _readable(field: models.Field | None, value: str) -> str:
    """Audit values are stored as text; show choices by their label, dates and yes/no in words."""
    if value in (None, ""):
        return ""
    if field is None:
        return value
    if field.name == "phone":
        return format_phone(value)
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(field, models.BooleanField):
        return str(_("yes")) if value in ("ja", "True", "true", "1") else str(_("no"))
    if isinstance(field, models.DateField) and not isinstance(field, models.DateTimeField):
        try:
            return format_date(datetime.date.fromisoformat(value))
        except ValueError:
            return value
    return value


def field_changes(entry) -> list[FieldChange]:
    model = _model_for(entry.object_type)
    result = []
    for change in entry.changes or []:
        name = change.get("field", "")
        field = None
        if model is not None:
            try:
                field = model._meta.get_field(name)
            except FieldDoesNotExist:
                field = None
        if not isinstance(field, models.Field):  # e.g. "payers", a reverse relation
            field = None
        if field is not None:
            label = str(field.verbose_name)
        else:
            label = str(EXTRA_FIELD_LABELS.get(name, name))
        result.append(
            FieldChange(
                label=label[:1].upper() + label[1:],
                before=_readable(field, change.get("before", "")),
                after=_readable(field, change.get("after", "")),
            )
        )
    return result


def _value_html(value: str, tag: str, hidden_prefix: str):
    if not value:
        return format_html('<span class="muted">({})</span>', _("empty"))
    return format_html(
        '<{tag}><span class="visually-hidden">{prefix} </span>{value}</{tag}>',
        tag=tag,
        prefix=hidden_prefix,
        value=value,
    )


def _change_html(change: FieldChange):
    after = _value_html(change.after, "ins", _("now"))
    if not change.before:
        # A value set for the first time: just the new value, no "(empty) →".
        return format_html('<li><span class="history-change__field">{}</span>: {}</li>', change.label, after)
    return format_html(
        '<li><span class="history-change__field">{}</span>: {} <span aria-hidden="true">→</span> {}</li>',
        change.label,
        _value_html(change.before, "del", _("was")),
        after,
    )


@register.filter
def history_change(entry):
    """The field changes of one audit entry as a list: 'City: Utrecht → Amersfoort'."""
    changes = field_changes(entry)
    if not changes:
        return ""
    items = format_html_join("", "{}", ((_change_html(change),) for change in changes))
    return format_html('<ul class="history-change">{}</ul>', items)
