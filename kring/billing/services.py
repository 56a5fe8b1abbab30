"""Invoices, credit notes and payments: the commands of the finance domain.

Amounts that people enter and that plans carry are what the member pays, VAT included (the
consumer price); the VAT in it is worked out per line and rounded to the cent. Every document
gets its number from a gapless counter per year (`reserve_invoice_numbers`) inside the
transaction that creates it, so a rollback leaves no gap and two runs at once never share one.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from kring.billing.models import ZERO, BillingSettings, Invoice, InvoiceLine, Payment
from kring.billing.references import BELGIAN, DUTCH
from kring.core.audit import log_action
from kring.core.models import NumberSequence
from kring.members.models import Country, Member, MembershipPayer

CENT = Decimal("0.01")
HUNDRED = Decimal("100")


# --- numbers and amounts ----------------------------------------------------------------------


def invoice_sequence_name(year: int) -> str:
    return f"invoice-{year}"


def reserve_invoice_numbers(year: int, count: int) -> range:
    """`count` consecutive sequence numbers for `year`; call inside the transaction that uses them."""
    return NumberSequence.reserve(invoice_sequence_name(year), count)


def format_invoice_number(year: int, sequence: int, prefix: str = "") -> str:
    return f"{prefix}{year}-{sequence:06d}"


def money(value) -> Decimal:
    return Decimal(value).quantize(CENT, ROUND_HALF_UP)


def vat_included(amount: Decimal, vat_rate: Decimal) -> Decimal:
    """The VAT inside a VAT-inclusive amount, rounded to the cent."""
    if not vat_rate:
        return ZERO
    return money(amount * vat_rate / (HUNDRED + vat_rate))


@dataclass(frozen=True)
class LineInput:
    """One line to invoice: `unit_price` is what the payer pays per unit, VAT included."""

    description: str
    unit_price: Decimal
    quantity: Decimal = Decimal("1")
    vat_rate: Decimal = ZERO

    def build(self, position: int) -> InvoiceLine:
        amount = money(self.unit_price * self.quantity)
        vat = vat_included(amount, self.vat_rate)
        return InvoiceLine(
            position=position,
            description=self.description[:200],
            quantity=self.quantity,
            unit_price=money(self.unit_price),
            vat_rate=self.vat_rate,
            amount_excl_vat=amount - vat,
            vat_amount=vat,
            amount=amount,
        )


# --- who the invoice goes to ------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    name: str
    address: str
    country: str
    email: str
    reference: str
    send_by_post: bool

    @property
    def reference_kind(self) -> str:
        return BELGIAN if self.country == Country.BE else DUTCH


def member_address(member: Member) -> str:
    street = " ".join(
        part for part in (member.street, str(member.house_number or ""), member.house_number_addition) if part
    )
    place = "  ".join(part for part in (member.postcode, member.city.upper() if member.city else "") if part)
    lines = [street, place]
    if member.country not in (Country.NL, ""):
        lines.append(str(Country(member.country).label).upper() if member.country in Country.values else "")
    return "\n".join(line for line in lines if line)


def member_recipient(member: Member) -> Recipient:
    return Recipient(
        name=member.display_name,
        address=member_address(member),
        country=member.country or Country.NL,
        email=member.email,
        reference="",
        send_by_post=member.correspondence == Member.Correspondence.PAPER or not member.email,
    )


def payer_recipient(payer: MembershipPayer, member: Member) -> Recipient:
    """The invoice's addressee for one payer of a membership: a paying member or an outside party."""
    if payer.payer_member_id:
        recipient = member_recipient(payer.payer_member)
        return Recipient(**{**recipient.__dict__, "reference": payer.external_reference})
    return Recipient(
        name=payer.external_name,
        address=payer.external_address,
        country=member.country or Country.NL,
        email=payer.external_email,
        reference=payer.external_reference,
        send_by_post=not payer.external_email,
    )


# --- creating invoices and credit notes -------------------------------------------------------


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def _totals(lines: list[InvoiceLine]) -> tuple[Decimal, Decimal, Decimal]:
    excl = sum((line.amount_excl_vat for line in lines), ZERO)
    vat = sum((line.vat_amount for line in lines), ZERO)
    return excl, vat, excl + vat


def create_invoice(
    *,
    member: Member,
    lines: Iterable[LineInput],
    actor,
    invoice_date: date | None = None,
    due_date: date | None = None,
    description: str = "",
    recipient: Recipient | None = None,
    payer_member: Member | None = None,
    payment_method: str | None = None,
    vat_exemption_text: str = "",
    period_start: date | None = None,
    period_end: date | None = None,
    **dues_fields,
) -> Invoice:
    """Create one invoice for `member` (a training, an event, a one-off fee, or dues).

    By default the member pays; pass `recipient`/`payer_member` for someone else. `dues_fields`
    (membership, dues_period_start, payer_position, membership_payer, share_percent) are for
    dues invoices made outside an invoice run, such as after a plan switch.
    """
    line_inputs = list(lines)
    if not line_inputs:
        raise ValidationError(_("An invoice needs at least one line."))
    for line in line_inputs:
        if not line.description.strip():
            raise ValidationError(_("Every invoice line needs a description."))
        if line.quantity <= 0:
            raise ValidationError(_("The quantity must be more than 0."))
        # Dues invoices show a discount (youth, household, …) as its own, negative line.
        if line.unit_price < 0 and not dues_fields.get("membership"):
            raise ValidationError(
                _("An invoice line cannot be negative; make a credit note to give money back.")
            )
        if not ZERO <= line.vat_rate <= HUNDRED:
            raise ValidationError(_("A VAT rate lies between 0 and 100%."))
    settings = BillingSettings.current()
    invoice_date = invoice_date or timezone.localdate()
    due_date = due_date or invoice_date + timedelta(days=settings.payment_term_days)
    if due_date < invoice_date:
        raise ValidationError({"due_date": _("The due date cannot be before the invoice date.")})
    payer_member = payer_member if recipient else member
    recipient = recipient or member_recipient(member)
    built = [line.build(position) for position, line in enumerate(line_inputs, start=1)]
    excl, vat, total = _totals(built)
    if total < 0:
        raise ValidationError(_("An invoice cannot be negative; make a credit note to give money back."))
    with transaction.atomic():
        invoice = _new_document(
            kind=Invoice.Kind.INVOICE,
            settings=settings,
            invoice_date=invoice_date,
            due_date=due_date,
            description=description,
            member=member,
            payer_member=payer_member,
            recipient=recipient,
            payment_method=payment_method or (payer_member.payment_method if payer_member else "transfer"),
            totals=(excl, vat, total),
            vat_exemption_text=vat_exemption_text if not vat else "",
            period_start=period_start,
            period_end=period_end,
            actor=actor,
            **dues_fields,
        )
        for line in built:
            line.invoice = invoice
        InvoiceLine.objects.bulk_create(built)
        log_action(
            "billing.invoice_created",
            actor=actor,
            obj=invoice,
            member_id=member.pk,
            changes=[{"field": _("total"), "before": "", "after": str(total)}],
            note=invoice.number,
        )
    return invoice


def _new_document(*, kind, settings, invoice_date, recipient: Recipient, totals, actor, **fields) -> Invoice:
    year = invoice_date.year
    sequence = reserve_invoice_numbers(year, 1)[0]
    excl, vat, total = totals
    return Invoice.objects.create(
        kind=kind,
        number=format_invoice_number(year, sequence, settings.invoice_number_prefix),
        year=year,
        sequence=sequence,
        invoice_date=invoice_date,
        recipient_name=recipient.name[:200],
        recipient_address=recipient.address,
        recipient_country=recipient.country,
        recipient_email=recipient.email,
        recipient_reference=recipient.reference[:100],
        send_by_post=recipient.send_by_post,
        reference_kind=recipient.reference_kind,
        total_excl_vat=excl,
        vat_amount=vat,
        total=total,
        created_by=_user(actor),
        **fields,
    )


def create_credit_note(
    invoice: Invoice,
    *,
    actor,
    reason: str,
    lines: Iterable[LineInput] | None = None,
    credit_date: date | None = None,
) -> Invoice:
    """Credit (part of) an invoice. Without `lines` the whole invoice is credited.

    `lines` carry positive amounts to take back; the credit note holds them negative. What the
    credit note takes back is first set against what is still open on the invoice; the rest
    (the invoice was paid already) stays on the credit note as money to refund.
    """
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the invoice is credited.")})
    credit_date = credit_date or timezone.localdate()
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().select_related("member").get(pk=invoice.pk)
        if invoice.kind != Invoice.Kind.INVOICE:
            raise ValidationError(_("Only an invoice can be credited, not a credit note."))
        if invoice.status in (Invoice.Status.CREDITED, Invoice.Status.WRITTEN_OFF):
            raise ValidationError(
                _("Invoice %(number)s is %(status)s and cannot be credited.")
                % {"number": invoice.number, "status": invoice.get_status_display()}
            )
        if invoice.status == Invoice.Status.IN_COLLECTION:
            raise ValidationError(
                _("Invoice %(number)s is in a direct-debit collection; credit it after the collection.")
                % {"number": invoice.number}
            )
        if lines is None:
            original = list(invoice.lines.all())
            credit_lines = [
                InvoiceLine(
                    position=line.position,
                    description=line.description,
                    quantity=line.quantity,
                    unit_price=-line.unit_price,
                    vat_rate=line.vat_rate,
                    amount_excl_vat=-line.amount_excl_vat,
                    vat_amount=-line.vat_amount,
                    amount=-line.amount,
                )
                for line in original
            ]
        else:
            credit_lines = []
            for position, line in enumerate(lines, start=1):
                built = line.build(position)
                built.unit_price, built.amount_excl_vat = -built.unit_price, -built.amount_excl_vat
                built.vat_amount, built.amount = -built.vat_amount, -built.amount
                credit_lines.append(built)
        excl, vat, total = _totals(credit_lines)
        already_credited = sum((-note.total for note in invoice.credit_notes.all()), ZERO)
        if -total + already_credited > invoice.total:
            raise ValidationError(
                _("Invoice %(number)s was € %(total)s; € %(credited)s of it was credited already.")
                % {"number": invoice.number, "total": invoice.total, "credited": already_credited}
            )
        if total == 0:
            raise ValidationError(_("There is nothing to credit."))
        settings = BillingSettings.current()
        recipient = Recipient(
            name=invoice.recipient_name,
            address=invoice.recipient_address,
            country=invoice.recipient_country,
            email=invoice.recipient_email,
            reference=invoice.recipient_reference,
            send_by_post=invoice.send_by_post,
        )
        note = _new_document(
            kind=Invoice.Kind.CREDIT_NOTE,
            settings=settings,
            invoice_date=credit_date,
            due_date=credit_date,
            description=reason[:200],
            member=invoice.member,
            payer_member=invoice.payer_member,
            membership_payer=invoice.membership_payer,
            share_percent=invoice.share_percent,
            membership=invoice.membership,
            period_start=invoice.period_start,
            period_end=invoice.period_end,
            recipient=recipient,
            payment_method=invoice.payment_method,
            totals=(excl, vat, total),
            vat_exemption_text=invoice.vat_exemption_text,
            credited_invoice=invoice,
            actor=actor,
        )
        for line in credit_lines:
            line.invoice = note
        InvoiceLine.objects.bulk_create(credit_lines)
        # Set the credit against what is open; the rest is owed back to the payer.
        settle = min(-total, max(invoice.open_amount, ZERO))
        if settle:
            Invoice.objects.filter(pk=invoice.pk).update(amount_credited=F("amount_credited") + settle)
            Invoice.objects.filter(pk=note.pk).update(amount_credited=-settle)
        refresh_status(invoice.pk)
        refresh_status(note.pk)
        log_action(
            "billing.credit_note_created",
            actor=actor,
            obj=note,
            member_id=invoice.member_id,
            changes=[{"field": _("total"), "before": "", "after": str(total)}],
            note=_("%(note)s credits %(invoice)s: %(reason)s")
            % {"note": note.number, "invoice": invoice.number, "reason": reason},
        )
    note.refresh_from_db()
    return note


# --- payments and payment states --------------------------------------------------------------


def status_for(invoice: Invoice) -> str:
    """The payment status that follows from the money: what was paid and credited against the total.

    Written off, and in collection while no money came back, are decisions that stay.
    """
    status = Invoice.Status
    if invoice.status == status.WRITTEN_OFF:
        return status.WRITTEN_OFF
    open_amount = invoice.total - invoice.amount_paid - invoice.amount_credited
    if invoice.kind == Invoice.Kind.CREDIT_NOTE:
        return status.PAID if open_amount == 0 else status.OPEN
    if open_amount <= 0:
        # Credited in full and nothing paid; money paid after all stays visible (open < 0: to refund).
        if invoice.amount_credited and invoice.amount_credited >= invoice.total and invoice.amount_paid <= 0:
            return status.CREDITED
        return status.PAID
    if invoice.status == status.IN_COLLECTION:
        return status.IN_COLLECTION
    if invoice.status == status.REVERSED and invoice.amount_paid <= 0:
        return status.REVERSED
    if invoice.amount_paid > 0 or invoice.amount_credited > 0:
        return status.PARTIALLY_PAID
    return status.OPEN


def refresh_status(invoice_id: int) -> Invoice:
    invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
    new_status = status_for(invoice)
    if new_status != invoice.status:
        invoice.status = new_status
        invoice.save(update_fields=["status"])
    return invoice


def record_payment(
    invoice: Invoice,
    *,
    amount: Decimal,
    paid_on: date,
    method: str,
    actor,
    source: str = Payment.Source.TREASURER,
    reference: str = "",
    external_id: str | None = None,
    note: str = "",
) -> Payment | None:
    """Record money received for an invoice (negative: refunded or reversed).

    With an `external_id` (a provider's payment id, a bank entry) the same payment arriving twice
    is recorded once: the second call returns None and changes nothing.
    """
    amount = money(amount)
    if amount == 0:
        raise ValidationError({"amount": _("Enter an amount other than 0.")})
    if paid_on > timezone.localdate() + timedelta(days=1):
        raise ValidationError({"paid_on": _("A payment cannot be dated in the future.")})
    with transaction.atomic():
        # Lock the invoice first: a second delivery of the same payment waits here, then finds it.
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if external_id and Payment.objects.filter(external_id=external_id).exists():
            return None
        if invoice.status == Invoice.Status.WRITTEN_OFF and amount > 0:
            raise ValidationError(
                _("Invoice %(number)s was written off; undo that before recording a payment.")
                % {"number": invoice.number}
            )
        if amount < 0 and -amount > invoice.amount_paid and invoice.kind == Invoice.Kind.INVOICE:
            raise ValidationError(
                {"amount": _("Only € %(paid)s was paid on this invoice.") % {"paid": invoice.amount_paid}}
            )
        if amount < 0 and amount < invoice.open_amount and invoice.kind == Invoice.Kind.CREDIT_NOTE:
            raise ValidationError(
                {
                    "amount": _("Only € %(open)s is to be refunded on this credit note.")
                    % {"open": -invoice.open_amount}
                }
            )
        payment = Payment.objects.create(
            invoice=invoice,
            amount=amount,
            paid_on=paid_on,
            method=method,
            source=source,
            reference=reference[:200],
            external_id=external_id,
            note=note,
            recorded_by=_user(actor),
        )
        Invoice.objects.filter(pk=invoice.pk).update(amount_paid=F("amount_paid") + amount)
        if method == Payment.Method.REVERSAL:
            Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.REVERSED)
        elif invoice.status == Invoice.Status.IN_COLLECTION and amount > 0:
            Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.OPEN)
        refresh_status(invoice.pk)
        log_action(
            "billing.payment_recorded",
            actor=actor,
            obj=invoice,
            member_id=invoice.member_id,
            changes=[
                {
                    "field": _("paid"),
                    "before": str(invoice.amount_paid),
                    "after": str(invoice.amount_paid + amount),
                }
            ],
            note=f"{payment.get_method_display()} {amount} ({payment.get_source_display()})",
        )
    return payment


def write_off(invoice: Invoice, *, actor, reason: str) -> Invoice:
    """Stop expecting the open amount (uncollectable); the reason is kept in the audit log."""
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the invoice is written off.")})
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.kind != Invoice.Kind.INVOICE or invoice.open_amount <= 0:
            raise ValidationError(_("Only an invoice with an open amount can be written off."))
        if invoice.status == Invoice.Status.IN_COLLECTION:
            raise ValidationError(_("An invoice in a direct-debit collection cannot be written off."))
        before = invoice.get_status_display()
        invoice.status = Invoice.Status.WRITTEN_OFF
        invoice.save(update_fields=["status"])
        log_action(
            "billing.written_off",
            actor=actor,
            obj=invoice,
            member_id=invoice.member_id,
            changes=[
                {"field": _("status"), "before": str(before), "after": str(invoice.get_status_display())}
            ],
            note=reason,
        )
    return invoice


# --- billing settings and the export for the accounts ----------------------------------------

BILLING_SETTINGS_FIELDS = (
    "iban",
    "bic",
    "account_holder",
    "payment_term_days",
    "invoice_number_prefix",
    "billing_year_start_month",
    "online_provider",
    "invoice_email_subject",
)


def update_billing_settings(*, actor, **fields) -> BillingSettings:
    """Change how the association invoices; the IBAN and BIC are checked, every change is audited."""
    import re

    from kring.core.audit import diff, snapshot
    from kring.members.validation import check_iban

    unknown = set(fields) - set(BILLING_SETTINGS_FIELDS)
    if unknown:
        raise ValueError(f"Not a billing setting: {', '.join(sorted(unknown))}")
    cleaned = {name: value.strip() if isinstance(value, str) else value for name, value in fields.items()}
    errors = {}
    if cleaned.get("iban"):
        try:
            checked = check_iban(cleaned["iban"], cleaned.get("bic", ""))
        except ValidationError as error:
            errors["bic" if error.code == "bic" else "iban"] = error.messages
        else:
            cleaned["iban"], cleaned["bic"] = checked.iban, checked.bic
    elif cleaned.get("bic") and "iban" in cleaned:
        errors["bic"] = [_("Fill in the IBAN that goes with this BIC, or leave the BIC empty.")]
    term = cleaned.get("payment_term_days")
    if term is not None and not 1 <= term <= 365:
        errors["payment_term_days"] = [_("The payment term lies between 1 and 365 days.")]
    month = cleaned.get("billing_year_start_month")
    if month is not None and not 1 <= month <= 12:
        errors["billing_year_start_month"] = [_("Choose a month from 1 to 12.")]
    provider = cleaned.get("online_provider")
    if provider is not None and provider not in BillingSettings.OnlineProvider.values:
        errors["online_provider"] = [_("Choose one of the online payment options.")]
    prefix = cleaned.get("invoice_number_prefix")
    if prefix and not re.fullmatch(r"[A-Za-z0-9/-]{1,10}", prefix):
        errors["invoice_number_prefix"] = [_("Use at most 10 letters, digits, '-' or '/', without spaces.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = BillingSettings.current()
        current = BillingSettings.objects.select_for_update().get(pk=current.pk)
        before = snapshot(current, cleaned)
        for name, value in cleaned.items():
            setattr(current, name, value)
        changes = diff(before, snapshot(current, cleaned))
        if changes:
            current.save(update_fields=[change["field"] for change in changes])
            log_action("billing.settings_changed", actor=actor, obj=current, changes=changes)
    return current


def record_finance_export(*, actor, what: str, start: date, end: date, row_count: int):
    """Exporting invoices or payments for the accounts is logged: who, which period, how many rows."""
    return log_action(
        "billing.export",
        actor=actor,
        obj=actor,
        note=f"{what} {start.isoformat()} – {end.isoformat()}; rows: {row_count}",
    )
