"""Reads of the finance domain, with explicit arguments and a known number of queries."""

import re
from calendar import monthrange
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, ExtractMonth
from django.utils import timezone

from kring.billing.models import ZERO, Invoice, InvoiceLine, Payment
from kring.billing.references import format_reference, parse_payment_reference, payment_reference_for
from kring.members.models import BankAccount, Member
from kring.members.names import normalise

# --- invoices as documents (PDF, email) -----------------------------------------------------------


def invoices_for_pdf() -> QuerySet[Invoice]:
    """Invoices with everything their PDF and email show: two queries for any number of invoices.

    `debit_account_masked` is the masked IBAN a direct debit is collected from: the account in
    use of the paying member (or of the member, when no other member pays).
    """
    debit_account = BankAccount.objects.filter(
        member_id=Coalesce(OuterRef("payer_member_id"), OuterRef("member_id")), is_primary=True
    ).values("iban_masked")[:1]
    return (
        Invoice.objects.select_related("member", "credited_invoice")
        .prefetch_related("lines")
        .annotate(debit_account_masked=Subquery(debit_account))
    )


def invoice_for_pdf(pk: int) -> Invoice:
    """One invoice for its PDF; raises Invoice.DoesNotExist."""
    return invoices_for_pdf().get(pk=pk)


def invoices_for_pdf_by_ids(invoice_ids: Iterable[int]) -> list[Invoice]:
    """The invoices with these ids, in the order given (for print batches and mailings)."""
    ids = list(invoice_ids)
    found = {invoice.pk: invoice for invoice in invoices_for_pdf().filter(pk__in=ids)}
    return [found[pk] for pk in ids if pk in found]


def unsent_invoice_ids(*, run_id: int | None = None, limit: int | None = None) -> list[int]:
    """Invoices still to be emailed: not sent, not being sent, not on paper, with an email address."""
    invoices = Invoice.objects.filter(
        email_sent_at__isnull=True, email_claimed_at__isnull=True, send_by_post=False
    ).exclude(recipient_email="")
    if run_id is not None:
        invoices = invoices.filter(run_id=run_id)
    ids = invoices.order_by("pk").values_list("pk", flat=True)
    return list(ids[:limit] if limit is not None else ids)


# --- the treasurer's figures, lists and export ----------------------------------------------------

CENT = Decimal("0.01")
# The derived state of an unsettled invoice past its due date (not stored, see Invoice.payment_state).
OVERDUE = "overdue"
# Money still to come in: the unsettled statuses and a direct debit that is being collected.
OPEN_STATUSES = (*Invoice.UNSETTLED_STATUSES, Invoice.Status.IN_COLLECTION)
_OPEN_AMOUNT = ExpressionWrapper(
    F("total") - F("amount_paid") - F("amount_credited"),
    output_field=DecimalField(max_digits=12, decimal_places=2),
)


def _cents(value) -> Decimal:
    return Decimal(value or 0).quantize(CENT)


def overdue_condition(today: date) -> Q:
    """Unsettled invoices whose due date has passed (credit notes are never overdue)."""
    return Q(kind=Invoice.Kind.INVOICE, status__in=Invoice.UNSETTLED_STATUSES, due_date__lt=today)


def payment_state(*, kind: str, status: str, due_date: date, today: date) -> str:
    """Invoice.payment_state for a row read with values(): the stored status, or OVERDUE."""
    if kind == Invoice.Kind.INVOICE and status in Invoice.UNSETTLED_STATUSES and due_date < today:
        return OVERDUE
    return status


@dataclass(frozen=True)
class FinanceTotals:
    """The figures of one period. `credited` is what credit notes took back, as a positive amount;
    `paid` is the money received in the period (refunds and reversals subtracted); `open` and
    `overdue` are what is still unpaid today of the invoices dated in the period."""

    start: date
    end: date
    invoiced: Decimal = ZERO
    credited: Decimal = ZERO
    paid: Decimal = ZERO
    open: Decimal = ZERO
    overdue: Decimal = ZERO
    invoice_count: int = 0
    credit_note_count: int = 0
    payment_count: int = 0
    open_count: int = 0
    overdue_count: int = 0

    @property
    def net_invoiced(self) -> Decimal:
        return self.invoiced - self.credited


def _document_sums(today: date) -> dict:
    invoices = Q(kind=Invoice.Kind.INVOICE)
    credit_notes = Q(kind=Invoice.Kind.CREDIT_NOTE)
    still_open = invoices & Q(status__in=OPEN_STATUSES)
    overdue = overdue_condition(today)
    return {
        "invoiced": Sum("total", filter=invoices),
        "invoice_count": Count("pk", filter=invoices),
        "credited": Sum("total", filter=credit_notes),
        "credit_note_count": Count("pk", filter=credit_notes),
        "open": Sum(_OPEN_AMOUNT, filter=still_open),
        "open_count": Count("pk", filter=still_open),
        "overdue": Sum(_OPEN_AMOUNT, filter=overdue),
        "overdue_count": Count("pk", filter=overdue),
    }


def _payment_sums() -> dict:
    return {"paid": Sum("amount"), "payment_count": Count("pk")}


def _totals(start: date, end: date, values: dict) -> FinanceTotals:
    return FinanceTotals(
        start=start,
        end=end,
        invoiced=_cents(values.get("invoiced")),
        credited=-_cents(values.get("credited")),
        paid=_cents(values.get("paid")),
        open=_cents(values.get("open")),
        overdue=_cents(values.get("overdue")),
        invoice_count=values.get("invoice_count") or 0,
        credit_note_count=values.get("credit_note_count") or 0,
        payment_count=values.get("payment_count") or 0,
        open_count=values.get("open_count") or 0,
        overdue_count=values.get("overdue_count") or 0,
    )


def finance_totals(start: date, end: date, *, today: date | None = None) -> FinanceTotals:
    """Invoiced, credited, paid, open and overdue from `start` to `end` (both included).

    Two aggregate queries (documents, payments), whatever the number of invoices.
    """
    today = today or timezone.localdate()
    documents = Invoice.objects.filter(invoice_date__range=(start, end)).aggregate(**_document_sums(today))
    payments = Payment.objects.filter(paid_on__range=(start, end)).aggregate(**_payment_sums())
    return _totals(start, end, {**documents, **payments})


def combined_totals(parts: list[FinanceTotals]) -> FinanceTotals:
    """The totals of consecutive periods together (e.g. four quarters make the year)."""
    sums = {
        name: sum(getattr(part, name) for part in parts)
        for name in (
            "invoiced",
            "credited",
            "paid",
            "open",
            "overdue",
            "invoice_count",
            "credit_note_count",
            "payment_count",
            "open_count",
            "overdue_count",
        )
    }
    return FinanceTotals(start=parts[0].start, end=parts[-1].end, **sums)


def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    first_month = 3 * quarter - 2
    return date(year, first_month, 1), date(year, first_month + 2, monthrange(year, first_month + 2)[1])


def finance_totals_per_quarter(year: int, *, today: date | None = None) -> list[FinanceTotals]:
    """The four calendar quarters of `year`: two queries grouped by month, added up per quarter."""
    today = today or timezone.localdate()
    per_quarter: dict[int, dict] = {quarter: {} for quarter in (1, 2, 3, 4)}

    def add(rows):
        for row in rows:
            values = per_quarter[(row.pop("month") - 1) // 3 + 1]
            for name, value in row.items():
                values[name] = (values.get(name) or 0) + (value or 0)

    add(
        Invoice.objects.filter(invoice_date__range=(date(year, 1, 1), date(year, 12, 31)))
        .order_by()
        .values(month=ExtractMonth("invoice_date"))
        .annotate(**_document_sums(today))
    )
    add(
        Payment.objects.filter(paid_on__range=(date(year, 1, 1), date(year, 12, 31)))
        .order_by()
        .values(month=ExtractMonth("paid_on"))
        .annotate(**_payment_sums())
    )
    return [_totals(*quarter_bounds(year, quarter), per_quarter[quarter]) for quarter in (1, 2, 3, 4)]


@dataclass(frozen=True)
class OverdueSummary:
    count: int
    amount: Decimal


def overdue_summary(today: date | None = None) -> OverdueSummary:
    """All invoices overdue today, whatever their date: how many and how much is still open (one query)."""
    values = Invoice.objects.filter(overdue_condition(today or timezone.localdate())).aggregate(
        count=Count("pk"), amount=Sum(_OPEN_AMOUNT)
    )
    return OverdueSummary(count=values["count"] or 0, amount=_cents(values["amount"]))


def overdue_invoices(today: date | None = None) -> QuerySet[Invoice]:
    """Unsettled invoices past their due date, the longest overdue first (index on status, due date)."""
    return (
        Invoice.objects.filter(overdue_condition(today or timezone.localdate()))
        .select_related("member")
        .order_by("due_date", "year", "sequence")
    )


# --- the invoice list --------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceFilters:
    query: str = ""
    date_from: date | None = None
    date_to: date | None = None
    status: str = ""  # an Invoice.Status value, or OVERDUE
    kind: str = ""
    payment_method: str = ""
    plan_id: int | None = None
    member_id: int | None = None  # invoices about this member or paid by them
    today: date | None = None


# "2026-000012", "F2026-12", "2026 - 12": an invoice number, with or without its prefix and zeros.
_INVOICE_NUMBER = re.compile(r"^[A-Za-z]{0,10}\s*(\d{4})\s*-\s*0*(\d{1,11})$")


def invoice_list(filters: InvoiceFilters) -> QuerySet[Invoice]:
    """The back office's invoice list, newest first.

    A status filter matches what the list shows: "open" leaves out the open invoices past their
    due date, which show (and filter) as "overdue". The search finds an invoice number (with or
    without prefix and leading zeros), a payment reference as the bank shows it, a member number,
    or a name of the member or the paying member.
    """
    today = filters.today or timezone.localdate()
    invoices = Invoice.objects.all()
    if filters.date_from:
        invoices = invoices.filter(invoice_date__gte=filters.date_from)
    if filters.date_to:
        invoices = invoices.filter(invoice_date__lte=filters.date_to)
    if filters.status == OVERDUE:
        invoices = invoices.filter(overdue_condition(today))
    elif filters.status in Invoice.UNSETTLED_STATUSES:
        invoices = invoices.filter(status=filters.status).exclude(overdue_condition(today))
    elif filters.status:
        invoices = invoices.filter(status=filters.status)
    if filters.kind:
        invoices = invoices.filter(kind=filters.kind)
    if filters.payment_method:
        invoices = invoices.filter(payment_method=filters.payment_method)
    if filters.plan_id:
        invoices = invoices.filter(membership__plan_id=filters.plan_id)
    if filters.member_id:
        invoices = invoices.filter(Q(member_id=filters.member_id) | Q(payer_member_id=filters.member_id))
    text = (filters.query or "").strip()
    if text:
        invoices = invoices.filter(_invoice_text_condition(text))
    return invoices.order_by("-invoice_date", "-year", "-sequence")


def _invoice_text_condition(text: str) -> Q:
    condition = Q(number=text) | Q(number=text.upper())
    number = _INVOICE_NUMBER.match(text)
    if number:
        condition |= Q(year=int(number[1]), sequence=int(number[2]))
    reference = parse_payment_reference(text)
    if reference:
        condition |= Q(year=reference[0], sequence=reference[1])
    members = Q(member_number=text) | Q(member_number=text.upper())
    key = normalise(text)
    if key and not number and not reference and not text.replace(" ", "").isdigit():
        members |= Q(search_name__contains=key)
    member_ids = Member.objects.filter(members).values("pk")
    return condition | Q(member_id__in=member_ids) | Q(payer_member_id__in=member_ids)


def member_invoices(member_id: int, *, limit: int) -> list[Invoice]:
    """The newest `limit` + 1 invoices about or paid by a member (one query; the extra one says "more")."""
    invoices = Invoice.objects.filter(Q(member_id=member_id) | Q(payer_member_id=member_id)).select_related(
        "member"
    )
    return list(invoices.order_by("-invoice_date", "-year", "-sequence")[: limit + 1])


# --- the export for the accounting package -------------------------------------------------------


def period_vat_rates(start: date, end: date) -> list[Decimal]:
    """The VAT rates on the documents of a period, lowest first: one pair of columns each in the export."""
    rates = (
        InvoiceLine.objects.filter(invoice__invoice_date__range=(start, end))
        .order_by("vat_rate")
        .values_list("vat_rate", flat=True)
        .distinct()
    )
    return sorted({Decimal(rate).quantize(CENT) for rate in rates})


@dataclass(frozen=True)
class ExportDocument:
    kind: str
    number: str
    invoice_date: date
    due_date: date
    credited_number: str
    member_number: str
    recipient_name: str
    recipient_country: str
    description: str
    payment_method: str
    state: str  # an Invoice.Status value or OVERDUE
    payment_reference: str
    total_excl_vat: Decimal
    vat_amount: Decimal
    total: Decimal
    amount_paid: Decimal
    amount_credited: Decimal
    open_amount: Decimal
    vat_exemption_text: str
    # (rate, amount excl. VAT, VAT) for every rate of the period, in the order of period_vat_rates.
    by_rate: tuple[tuple[Decimal, Decimal, Decimal], ...] = field(default_factory=tuple)


_EXPORT_DOCUMENT_FIELDS = (
    "kind",
    "number",
    "year",
    "sequence",
    "reference_kind",
    "invoice_date",
    "due_date",
    "credited_invoice__number",
    "member__member_number",
    "recipient_name",
    "recipient_country",
    "description",
    "payment_method",
    "status",
    "total_excl_vat",
    "vat_amount",
    "total",
    "amount_paid",
    "amount_credited",
    "vat_exemption_text",
)


def period_export_rows(
    start: date,
    end: date,
    *,
    vat_rates: list[Decimal] | None = None,
    today: date | None = None,
    chunk_size: int = 2000,
) -> Iterator[ExportDocument]:
    """Every invoice and credit note dated from `start` to `end`, in number order, one row each,
    with the amounts split per VAT rate.

    One query (the lines summed per rate in it), read in chunks: a server-side cursor on
    PostgreSQL, so a year of a large association streams without being held in memory.
    """
    today = today or timezone.localdate()
    rates = list(vat_rates) if vat_rates is not None else period_vat_rates(start, end)
    sums = {}
    for index, rate in enumerate(rates):
        on_rate = Q(lines__vat_rate=rate)
        sums[f"excl_{index}"] = Sum("lines__amount_excl_vat", filter=on_rate)
        sums[f"vat_{index}"] = Sum("lines__vat_amount", filter=on_rate)
    rows = (
        Invoice.objects.filter(invoice_date__range=(start, end))
        .values(*_EXPORT_DOCUMENT_FIELDS)
        .annotate(**sums)
        .order_by("year", "sequence")
    )
    for row in rows.iterator(chunk_size=chunk_size):
        settled = row["status"] in (Invoice.Status.WRITTEN_OFF, Invoice.Status.CREDITED)
        total, paid, credited = (
            _cents(row["total"]),
            _cents(row["amount_paid"]),
            _cents(row["amount_credited"]),
        )
        yield ExportDocument(
            kind=row["kind"],
            number=row["number"],
            invoice_date=row["invoice_date"],
            due_date=row["due_date"],
            credited_number=row["credited_invoice__number"] or "",
            member_number=row["member__member_number"],
            recipient_name=row["recipient_name"],
            recipient_country=row["recipient_country"],
            description=row["description"],
            payment_method=row["payment_method"],
            state=payment_state(
                kind=row["kind"], status=row["status"], due_date=row["due_date"], today=today
            ),
            payment_reference=format_reference(
                payment_reference_for(row["year"], row["sequence"], row["reference_kind"])
            ),
            total_excl_vat=_cents(row["total_excl_vat"]),
            vat_amount=_cents(row["vat_amount"]),
            total=total,
            amount_paid=paid,
            amount_credited=credited,
            open_amount=ZERO if settled else total - paid - credited,
            vat_exemption_text=row["vat_exemption_text"],
            by_rate=tuple(
                (rate, _cents(row[f"excl_{index}"]), _cents(row[f"vat_{index}"]))
                for index, rate in enumerate(rates)
            ),
        )


@dataclass(frozen=True)
class ExportPayment:
    paid_on: date
    invoice_number: str
    invoice_kind: str
    member_number: str
    recipient_name: str
    amount: Decimal
    method: str
    source: str
    reference: str


def period_payment_rows(start: date, end: date, *, chunk_size: int = 2000) -> Iterator[ExportPayment]:
    """Every payment, refund and reversal dated from `start` to `end`, oldest first (one query, in chunks)."""
    rows = (
        Payment.objects.filter(paid_on__range=(start, end))
        .values_list(
            "paid_on",
            "invoice__number",
            "invoice__kind",
            "invoice__member__member_number",
            "invoice__recipient_name",
            "amount",
            "method",
            "source",
            "reference",
        )
        .order_by("paid_on", "pk")
    )
    for paid_on, number, kind, member_number, name, amount, method, source, reference in rows.iterator(
        chunk_size=chunk_size
    ):
        yield ExportPayment(
            paid_on, number, kind, member_number, name, _cents(amount), method, source, reference
        )


# --- reminders: flagged for the secretariat -------------------------------------------------------


def flagged_invoices() -> QuerySet[Invoice]:
    """Invoices flagged for the secretariat after the last reminder that are still unpaid, longest overdue first.

    Annotated with `amount_open`; the member (for the link to their page) comes in the same query.
    """
    return (
        Invoice.objects.filter(
            kind=Invoice.Kind.INVOICE, status__in=Invoice.UNSETTLED_STATUSES, flagged_at__isnull=False
        )
        .select_related("member")
        .annotate(
            amount_open=ExpressionWrapper(
                F("total") - F("amount_paid") - F("amount_credited"),
                output_field=DecimalField(max_digits=12, decimal_places=2),
            )
        )
        .order_by("due_date", "pk")
    )


# --- delivering the invoices of a run ------------------------------------------------------------


@dataclass(frozen=True)
class RunDelivery:
    emailed: int
    to_email: int
    being_emailed: int
    on_paper: int


def run_delivery(run_id: int) -> RunDelivery:
    """How the invoices of an invoice run reach their payers: emailed, still to email, on paper."""
    by_email = Q(send_by_post=False) & ~Q(recipient_email="")
    counts = Invoice.objects.filter(run_id=run_id).aggregate(
        emailed=Count("pk", filter=Q(email_sent_at__isnull=False)),
        to_email=Count("pk", filter=by_email & Q(email_sent_at__isnull=True, email_claimed_at__isnull=True)),
        being_emailed=Count("pk", filter=Q(email_sent_at__isnull=True, email_claimed_at__isnull=False)),
        on_paper=Count("pk", filter=~by_email),
    )
    return RunDelivery(**counts)


def paper_invoices_of_run(run_id: int) -> QuerySet[Invoice]:
    """The run's invoices that go by post (paper members, payers without an email address)."""
    by_email = Q(send_by_post=False) & ~Q(recipient_email="")
    return invoices_for_pdf().filter(run_id=run_id).exclude(by_email).order_by("sequence")
