"""Online payment of an open invoice: starting a payment, and taking in what the provider says.

Commands of the finance domain, like services.py:

- ``start_online_payment`` creates a payment at the provider (or reuses one the member started
  less than 15 minutes ago for the same amount) and answers the OnlinePayment to send them to.
- ``sync_online_payment`` is what the webhook, the return page and the demo checkout all call. It
  never trusts what it was told, only what it fetches from the provider, so it is safe against
  replays and calls in any order:

  * a paid payment is recorded once (``record_payment`` with the external id ``mollie:tr_…``);
  * once paid, a later failed/expired/cancelled answer changes nothing;
  * a paid answer after a failed one is recorded;
  * refunds and chargebacks (Mollie's ``amountRefunded``/``amountChargedBack``) are recorded as
    negative payments, each new total once (``mollie-refund:tr_…:<total>``).
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from kring.billing.links import return_link, webhook_link
from kring.billing.models import ZERO, BillingSettings, Invoice, OnlinePayment, Payment
from kring.billing.providers import MOLLIE, NONE, ProviderStatus, get_provider
from kring.billing.services import record_payment
from kring.core.models import Association
from kring.members.models import PaymentMethod

logger = logging.getLogger(__name__)

REUSE_WINDOW = timedelta(minutes=15)
# While one request is creating a payment for an invoice, a second click waits for that one.
START_LOCK_SECONDS = 30


class PaymentBusy(Exception):
    """Another request is starting a payment for this invoice right now."""


def payable_online_amount(invoice: Invoice) -> Decimal | None:
    """What the member can pay online now, or None: nothing open, a credit note, or a direct debit to come."""
    if invoice.kind != Invoice.Kind.INVOICE or invoice.status not in Invoice.UNSETTLED_STATUSES:
        return None
    # A direct debit will be collected; only a reversed (bounced) one is paid by the member.
    if invoice.payment_method == PaymentMethod.DIRECT_DEBIT and invoice.status != Invoice.Status.REVERSED:
        return None
    amount = invoice.open_amount
    return amount if amount > 0 else None


def provider_name(billing_settings: BillingSettings | None = None) -> str:
    return (billing_settings or BillingSettings.current()).online_provider


def _description(invoice: Invoice) -> str:
    name = Association.current().name
    return f"{_('Invoice %(number)s') % {'number': invoice.number}} {name}".strip()


def _reusable(invoice: Invoice, provider: str, amount: Decimal) -> OnlinePayment | None:
    return (
        OnlinePayment.objects.filter(
            invoice=invoice,
            provider=provider,
            amount=amount,
            status=OnlinePayment.Status.OPEN,
            created_at__gte=timezone.now() - REUSE_WINDOW,
        )
        .exclude(checkout_url="")
        .order_by("-created_at")
        .first()
    )


def start_online_payment(invoice: Invoice, *, provider: str | None = None) -> OnlinePayment:
    """Start paying `invoice` online; send the member to the answer's `checkout_url`.

    Raises ValidationError when there is nothing to pay online, ProviderError when the provider
    cannot be reached (nothing is stored then), PaymentBusy on a double click.
    """
    provider = provider or provider_name()
    if provider == NONE:
        raise ValidationError(_("Online payment is not switched on."))
    amount = payable_online_amount(invoice)
    if amount is None:
        raise ValidationError(
            _("There is nothing to pay online for invoice %(number)s.") % {"number": invoice.number}
        )
    lock = f"kring:billing:start-payment:{invoice.pk}"
    if not cache.add(lock, 1, START_LOCK_SECONDS):
        raise PaymentBusy
    try:
        existing = _reusable(invoice, provider, amount)
        if existing:
            return existing
        payment_id, checkout_url = get_provider(provider).create_payment(
            invoice,
            amount,
            _description(invoice),
            return_link(invoice),
            webhook_link(provider) if provider == MOLLIE else "",
        )
        return OnlinePayment.objects.create(
            invoice=invoice,
            provider=provider,
            provider_payment_id=payment_id,
            amount=amount,
            checkout_url=checkout_url,
        )
    finally:
        cache.delete(lock)


@dataclass(frozen=True)
class _Reversal:
    kind: str  # "refund" or "chargeback"
    total: Decimal
    method: str


def external_id(provider: str, payment_id: str, kind: str = "", total: Decimal | None = None) -> str:
    if not kind:
        return f"{provider}:{payment_id}"
    return f"{provider}-{kind}:{payment_id}:{total:.2f}"


def sync_online_payment(provider: str, provider_payment_id: str) -> OnlinePayment | None:
    """Fetch the payment from the provider and bring our books in line; None for a payment we never started.

    ProviderError (the provider cannot be reached) is left to the caller: the webhook answers so
    that Mollie tries again later; the pages tell the member to wait.
    """
    online = OnlinePayment.objects.filter(provider=provider, provider_payment_id=provider_payment_id).first()
    if online is None:
        logger.warning("Online payment update for an unknown payment: %s %r", provider, provider_payment_id)
        return None
    status = get_provider(provider).fetch_status(provider_payment_id)
    return apply_status(online, status)


def apply_status(online: OnlinePayment, status: ProviderStatus) -> OnlinePayment:
    key = f"{online.provider} {online.provider_payment_id}"
    if status.invoice_id is not None and status.invoice_id != online.invoice_id:
        logger.warning(
            "%s belongs to invoice id %s, not %s; ignored", key, status.invoice_id, online.invoice_id
        )
        return online
    if status.currency != "EUR":
        logger.warning("%s is in %s, not in euros; ignored", key, status.currency)
        return online
    with transaction.atomic():
        online = OnlinePayment.objects.select_for_update().select_related("invoice").get(pk=online.pk)
        changed = []
        # Paid stays paid: a late or replayed "failed"/"expired"/"canceled" never undoes it.
        new_status = (
            OnlinePayment.Status.PAID if online.status == OnlinePayment.Status.PAID else status.status
        )
        if new_status != online.status:
            online.status = new_status
            changed.append("status")
        if status.method and status.method != online.method:
            online.method = status.method[:40]
            changed.append("method")
        if status.is_paid:
            payment = _record_paid(online, status)
            if payment is not None and online.payment_id != payment.pk:
                online.payment = payment
                changed.append("payment")
        if changed:
            online.save(update_fields=[*changed, "updated_at"])
        if online.payment_id:
            for reversal in (
                _Reversal("refund", status.amount_refunded, Payment.Method.REFUND),
                _Reversal("chargeback", status.amount_charged_back, Payment.Method.REVERSAL),
            ):
                _record_reversal(online, reversal)
    return online


def _paid_on(status: ProviderStatus):
    if status.paid_at is None:
        return timezone.localdate()
    return timezone.localtime(status.paid_at).date()


def _record_paid(online: OnlinePayment, status: ProviderStatus) -> Payment | None:
    external = external_id(online.provider, online.provider_payment_id)
    try:
        payment = record_payment(
            online.invoice,
            amount=status.amount,
            paid_on=_paid_on(status),
            method=Payment.Method.ONLINE,
            source=Payment.Source.ONLINE,
            reference=f"{online.provider} {online.provider_payment_id} {status.method}".strip(),
            external_id=external,
            actor=None,
        )
    except ValidationError as exc:
        # Money came in for an invoice that can no longer take it (written off meanwhile): the
        # treasurer has to look at it; the provider must not be told to try again forever.
        logger.warning(
            "Paid online payment %s for invoice %s not recorded: %s",
            external,
            online.invoice.number,
            "; ".join(exc.messages),
        )
        return None
    return payment or Payment.objects.filter(external_id=external).first()


def _record_reversal(online: OnlinePayment, reversal: _Reversal) -> None:
    if reversal.total <= 0:
        return
    prefix = f"{online.provider}-{reversal.kind}:{online.provider_payment_id}:"
    recorded = -(
        Payment.objects.filter(external_id__startswith=prefix).aggregate(total=Sum("amount"))["total"] or ZERO
    )
    new = reversal.total - recorded
    if new <= 0:
        return
    try:
        record_payment(
            online.invoice,
            amount=-new,
            paid_on=timezone.localdate(),
            method=reversal.method,
            source=Payment.Source.ONLINE,
            reference=f"{online.provider} {online.provider_payment_id} {reversal.kind}",
            external_id=external_id(
                online.provider, online.provider_payment_id, reversal.kind, reversal.total
            ),
            actor=None,
        )
    except ValidationError as exc:
        logger.warning(
            "%s of %s on %s %s not recorded: %s",
            reversal.kind,
            new,
            online.provider,
            online.provider_payment_id,
            "; ".join(exc.messages),
        )
