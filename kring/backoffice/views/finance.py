"""The treasurer's and the audit committee's back office: figures per period, the invoice list and
page, manual invoices and credit notes, the export for the accounting package and the settings.

Reading needs ``billing.view_invoice``; making documents ``billing.add_invoice``; the export
``billing.export_invoice``; the settings ``billing.change_billingsettings``. The audit committee
reads everything and changes nothing.
"""

import csv
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch, QuerySet
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.dates import MONTHS
from django.utils.http import urlencode
from django.utils.text import capfirst, slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from django.views.decorators.http import require_safe

from kring.backoffice.forms import BackofficeForm, BackofficeFormRenderer, add_service_errors, date_field
from kring.backoffice.permissions import staff_required
from kring.backoffice.templatetags.backoffice import status_label
from kring.backoffice.views.members import COUNT_LIMIT, PER_PAGE, page_number, spreadsheet_safe
from kring.billing import queries, services
from kring.billing.links import payment_link
from kring.billing.models import BillingSettings, Invoice, OnlinePayment, Payment
from kring.billing.references import format_reference
from kring.core.models import AuditEntry
from kring.members.models import Member, PaymentMethod, Plan
from kring.members.validation import format_iban

try:  # the EPC QR code is drawn by kring.billing.epc_qr when it is there
    from kring.billing.epc_qr import qr_svg
except ImportError:  # pragma: no cover
    qr_svg = None

INVOICE_LIST_SESSION_KEY = "backoffice_invoice_list_query"
FILTER_NAMES = ("q", "date_from", "date_to", "status", "kind", "payment_method", "plan", "member")
MAX_INVOICE_LINES = 6
AUDIT_ENTRIES_SHOWN = 50
# The audit committee and the secretariat read; only these permissions make changes.
CHANGE_PERMISSIONS = ("billing.add_invoice", "billing.change_invoice", "billing.add_payment")


# --- amounts as people type them -------------------------------------------------------------


class AmountField(forms.DecimalField):
    """An amount typed the Dutch or the English way: '12,50', '12.50', '€ 1.234,50', '1,234.50'."""

    default_error_messages = {"invalid": gettext_lazy("Enter an amount, like 12,50.")}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "class": "input--short"}))
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, Decimal):
            return value
        text = re.sub(r"[\s€\u00a0]", "", str(value))
        if "," in text and "." in text:
            # The last separator is the decimal one: '1.234,50' or '1,234.50'.
            thousands = "." if text.rfind(",") > text.rfind(".") else ","
            text = text.replace(thousands, "")
        text = text.replace(",", ".")
        try:
            return Decimal(text)
        except InvalidOperation:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None

    def prepare_value(self, value):
        if isinstance(value, Decimal):
            text = f"{value:f}"
            return text if (translation.get_language() or "").startswith("en") else text.replace(".", ",")
        return value


def amount_text(value: Decimal) -> str:
    """An amount for the accounting export the way Dutch Excel reads it: 1234,50 and -12,00."""
    return f"{value:.2f}".replace(".", ",")


def rate_text(value: Decimal) -> str:
    return f"{value.normalize():f}".replace(".", ",")


# --- periods ---------------------------------------------------------------------------------

QUARTER_NAMES = {
    1: gettext_lazy("1st quarter"),
    2: gettext_lazy("2nd quarter"),
    3: gettext_lazy("3rd quarter"),
    4: gettext_lazy("4th quarter"),
}
ORDINAL_QUARTERS = {
    1: gettext_lazy("1st quarter (January–March)"),
    2: gettext_lazy("2nd quarter (April–June)"),
    3: gettext_lazy("3rd quarter (July–September)"),
    4: gettext_lazy("4th quarter (October–December)"),
}


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    label: str
    year: int
    part: str  # "", "Q1".."Q4", "M01".."M12"

    @property
    def key(self) -> str:
        """'2026', '2026-Q1', '2026-03': in file names and the audit log."""
        if not self.part:
            return str(self.year)
        return f"{self.year}-{self.part}" if self.part.startswith("Q") else f"{self.year}-{self.part[1:]}"


def make_period(year: int, part: str = "") -> Period:
    if part.startswith("Q"):
        quarter = int(part[1:])
        start, end = queries.quarter_bounds(year, quarter)
        label = _("%(quarter)s %(year)s") % {"quarter": QUARTER_NAMES[quarter], "year": year}
    elif part.startswith("M"):
        month = int(part[1:])
        start = date(year, month, 1)
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        label = f"{capfirst(MONTHS[month])} {year}"
    else:
        start, end, label = date(year, 1, 1), date(year, 12, 31), str(year)
    return Period(start=start, end=end, label=label, year=year, part=part)


class PeriodForm(forms.Form):
    year = forms.TypedChoiceField(label=gettext_lazy("Year"), coerce=int)
    part = forms.ChoiceField(label=gettext_lazy("Quarter or month"), required=False)

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["year"].choices = [
            (year, str(year)) for year in range(today.year + 1, today.year - 10, -1)
        ]
        self.fields["year"].initial = today.year
        self.fields["part"].choices = [
            ("", _("The whole year")),
            (_("Quarters"), [(f"Q{quarter}", label) for quarter, label in ORDINAL_QUARTERS.items()]),
            (_("Months"), [(f"M{month:02d}", capfirst(name)) for month, name in MONTHS.items()]),
        ]

    def period(self) -> Period:
        """The chosen period; the current year when nothing (or nothing valid) was chosen."""
        if self.is_bound and self.is_valid():
            return make_period(self.cleaned_data["year"], self.cleaned_data["part"] or "")
        return make_period(self.today.year)


def period_form(request, today: date) -> PeriodForm:
    data = request.GET if "year" in request.GET else None
    return PeriodForm(data, today=today)


def finance_context(request, subsection: str, **extra) -> dict:
    return {
        "section": "finance",
        "subsection": subsection,
        "read_only": not any(request.user.has_perm(permission) for permission in CHANGE_PERMISSIONS),
        **extra,
    }


# --- overview --------------------------------------------------------------------------------


@staff_required("billing.view_invoice")
@require_safe
def finance_overview(request):
    today = timezone.localdate()
    form = period_form(request, today)
    period = form.period()
    per_quarter = queries.finance_totals_per_quarter(period.year, today=today)
    year_total = queries.combined_totals(per_quarter)
    # A whole year or a quarter is read from the quarters; a month needs its own two queries.
    if not period.part:
        totals = year_total
    elif period.part.startswith("Q"):
        totals = per_quarter[int(period.part[1:]) - 1]
    else:
        totals = queries.finance_totals(period.start, period.end, today=today)
    quarters = [(ORDINAL_QUARTERS[number], quarter) for number, quarter in enumerate(per_quarter, 1)]
    return render(
        request,
        "backoffice/finance/overview.html",
        finance_context(
            request,
            "overview",
            form=form,
            period=period,
            totals=totals,
            quarters=quarters,
            year_total=year_total,
            overdue=queries.overdue_summary(today),
            today=today,
            overdue_query=urlencode({"status": queries.OVERDUE}),
            period_query=urlencode(
                {"date_from": period.start.isoformat(), "date_to": period.end.isoformat()}
            ),
            export_query=urlencode({"year": period.year, "part": period.part}),
        ),
    )


# --- the invoice list ------------------------------------------------------------------------


class InvoiceFilterForm(forms.Form):
    q = forms.CharField(
        label=gettext_lazy("Search"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("Invoice number, payment reference, member number or name"),
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off", "spellcheck": "false"}),
    )
    status = forms.ChoiceField(label=gettext_lazy("Payment status"), required=False)
    date_from = date_field(gettext_lazy("Invoice date from"), required=False)
    date_to = date_field(gettext_lazy("Invoice date until"), required=False)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), required=False)
    payment_method = forms.ChoiceField(label=gettext_lazy("Payment method"), required=False)
    plan = forms.ModelChoiceField(
        label=gettext_lazy("Plan"),
        required=False,
        queryset=Plan.objects.all(),
        empty_label=gettext_lazy("All plans"),
    )
    member = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)

    STATUS_ORDER = (
        Invoice.Status.OPEN,
        queries.OVERDUE,
        Invoice.Status.PARTIALLY_PAID,
        Invoice.Status.IN_COLLECTION,
        Invoice.Status.PAID,
        Invoice.Status.REVERSED,
        Invoice.Status.WRITTEN_OFF,
        Invoice.Status.CREDITED,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [
            ("", _("All")),
            *((value, capfirst(status_label(value))) for value in self.STATUS_ORDER),
        ]
        self.fields["kind"].choices = [
            ("", _("Invoices and credit notes")),
            *((value, capfirst(label)) for value, label in Invoice.Kind.choices),
        ]
        self.fields["payment_method"].choices = [
            ("", _("All")),
            *((value, capfirst(label)) for value, label in PaymentMethod.choices),
        ]

    def invoice_filters(self, today: date) -> queries.InvoiceFilters:
        """The valid part of the filters; a wrong value is reported on its field and ignored."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        plan = data.get("plan")
        return queries.InvoiceFilters(
            query=data.get("q") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            status=data.get("status") or "",
            kind=data.get("kind") or "",
            payment_method=data.get("payment_method") or "",
            plan_id=plan.pk if plan else None,
            member_id=data.get("member"),
            today=today,
        )


def filter_params(request) -> dict[str, str]:
    return {
        name: request.GET.get(name, "").strip() for name in FILTER_NAMES if request.GET.get(name, "").strip()
    }


@dataclass
class InvoicePage:
    invoices: list
    number: int
    total: int | None  # None: more than COUNT_LIMIT
    has_previous: bool
    has_next: bool

    @property
    def first_index(self) -> int:
        return (self.number - 1) * PER_PAGE + 1

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.invoices) - 1

    @property
    def page_count(self) -> int | None:
        return None if self.total is None else max(1, -(-self.total // PER_PAGE))


def invoice_page(invoices: QuerySet, number: int) -> InvoicePage:
    """One page without counting a million rows: the count stops at COUNT_LIMIT + 1 (as the member list)."""
    counted = invoices.order_by()[: COUNT_LIMIT + 1].count()
    total = counted if counted <= COUNT_LIMIT else None
    if total is not None:
        number = min(number, max(1, -(-total // PER_PAGE)))
    offset = (number - 1) * PER_PAGE
    rows = list(invoices[offset : offset + PER_PAGE + 1])
    return InvoicePage(
        invoices=rows[:PER_PAGE],
        number=number,
        total=total,
        has_previous=number > 1,
        has_next=len(rows) > PER_PAGE,
    )


@staff_required("billing.view_invoice")
@require_safe
def finance_invoice_list(request):
    today = timezone.localdate()
    form = InvoiceFilterForm(request.GET)
    filters = form.invoice_filters(today)
    invoices = queries.invoice_list(filters)
    if filters.status == queries.OVERDUE:
        invoices = invoices.order_by("due_date", "year", "sequence")  # the longest overdue first
    page = invoice_page(invoices, page_number(request.GET.get("page")))
    params = filter_params(request)
    query_string = urlencode(params)
    list_query = urlencode({**params, "page": page.number}) if page.number > 1 else query_string
    if request.session.get(INVOICE_LIST_SESSION_KEY) != list_query:
        request.session[INVOICE_LIST_SESSION_KEY] = list_query
    partial = request.htmx and not request.htmx.history_restore_request
    context = finance_context(
        request,
        "invoices",
        form=form,
        page=page,
        searched=bool(params),
        query_string=query_string,
        previous_query=urlencode({**params, "page": page.number - 1}),
        next_query=urlencode({**params, "page": page.number + 1}),
        count_limit=COUNT_LIMIT,
        overdue=filters.status == queries.OVERDUE,
        for_member=Member.objects.filter(pk=filters.member_id).first()
        if filters.member_id and not partial
        else None,
        partial=partial,
    )
    template = (
        "backoffice/finance/_invoice_results.html" if partial else "backoffice/finance/invoice_list.html"
    )
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- the invoice page ------------------------------------------------------------------------


def invoice_page_queryset(user) -> QuerySet[Invoice]:
    """An invoice with everything its page shows, one query per kind of related row."""
    prefetch = [
        "lines",
        Prefetch("credit_notes", queryset=Invoice.objects.order_by("invoice_date", "year", "sequence")),
    ]
    if user.has_perm("billing.view_payment"):
        prefetch.append(Prefetch("payments", queryset=Payment.objects.select_related("recorded_by")))
    if user.has_perm("billing.view_reminder"):
        prefetch.append("reminders")
    if user.has_perm("billing.view_onlinepayment"):
        prefetch.append(Prefetch("online_payments", queryset=OnlinePayment.objects.order_by("-created_at")))
    return Invoice.objects.select_related(
        "member", "payer_member", "membership__plan", "credited_invoice", "run", "created_by"
    ).prefetch_related(*prefetch)


def may_credit(invoice: Invoice) -> bool:
    return invoice.kind == Invoice.Kind.INVOICE and invoice.status not in (
        Invoice.Status.CREDITED,
        Invoice.Status.WRITTEN_OFF,
        Invoice.Status.IN_COLLECTION,
    )


def may_write_off(invoice: Invoice) -> bool:
    return (
        invoice.kind == Invoice.Kind.INVOICE
        and invoice.open_amount > 0
        and invoice.status not in (Invoice.Status.IN_COLLECTION, Invoice.Status.WRITTEN_OFF)
    )


@dataclass(frozen=True)
class VatGroup:
    rate: Decimal
    amount_excl_vat: Decimal
    vat_amount: Decimal


def vat_groups(lines) -> list[VatGroup]:
    groups: dict[Decimal, list[Decimal]] = {}
    for line in lines:
        excl, vat = groups.setdefault(line.vat_rate, [Decimal("0.00"), Decimal("0.00")])
        groups[line.vat_rate] = [excl + line.amount_excl_vat, vat + line.vat_amount]
    return [VatGroup(rate, excl, vat) for rate, (excl, vat) in sorted(groups.items())]


@staff_required("billing.view_invoice")
@require_safe
def finance_invoice_detail(request, pk: int):
    user = request.user
    invoice = get_object_or_404(invoice_page_queryset(user), pk=pk)
    lines = list(invoice.lines.all())
    credit_notes = list(invoice.credit_notes.all())
    audit_entries = None
    if user.has_perm("core.view_auditentry"):
        # This document's history, with the making of its credit notes.
        object_ids = [str(invoice.pk), *(str(note.pk) for note in credit_notes)]
        audit_entries = list(
            AuditEntry.objects.filter(object_type="invoice", object_id__in=object_ids).order_by(
                "-created_at", "-id"
            )[:AUDIT_ENTRIES_SHOWN]
        )
    qr = None
    if qr_svg is not None and invoice.kind == Invoice.Kind.INVOICE and invoice.open_amount > 0:
        qr = qr_svg(invoice)
    return render(
        request,
        "backoffice/finance/invoice_detail.html",
        finance_context(
            request,
            "invoices",
            invoice=invoice,
            lines=lines,
            vat_groups=vat_groups(lines),
            payment_reference=format_reference(invoice.payment_reference),
            pay_link=payment_link(invoice)
            if invoice.kind == Invoice.Kind.INVOICE and invoice.open_amount > 0
            else "",
            qr=qr,
            credit_notes=[(note, -note.total) for note in credit_notes],
            payments=list(invoice.payments.all()) if user.has_perm("billing.view_payment") else None,
            reminders=list(invoice.reminders.all()) if user.has_perm("billing.view_reminder") else None,
            online_payments=list(invoice.online_payments.all())
            if user.has_perm("billing.view_onlinepayment")
            else None,
            audit_entries=audit_entries,
            may_credit=may_credit(invoice) and user.has_perm("billing.add_invoice"),
            may_write_off=may_write_off(invoice) and user.has_perm("billing.change_invoice"),
            may_record_payment=invoice.status != Invoice.Status.WRITTEN_OFF
            and user.has_perm("billing.add_payment"),
            may_send=bool(invoice.recipient_email)
            and not invoice.email_sent_at
            and not invoice.send_by_post
            and user.has_perm("billing.change_invoice"),
            open_shown=abs(invoice.open_amount),
            back_query=request.session.get(INVOICE_LIST_SESSION_KEY, ""),
        ),
    )


# --- a manual invoice ------------------------------------------------------------------------


class ManualInvoiceForm(BackofficeForm):
    description = forms.CharField(
        label=gettext_lazy("What is the invoice for?"),
        max_length=200,
        help_text=gettext_lazy("For example: First aid course, spring 2026. It is printed on the invoice."),
        error_messages={"required": gettext_lazy("Say what the invoice is for.")},
    )
    invoice_date = date_field(gettext_lazy("Invoice date"))
    due_date = date_field(gettext_lazy("Pay before (optional)"), required=False)
    payer_number = forms.CharField(
        label=gettext_lazy("Paid by another member (optional)"),
        required=False,
        max_length=20,
        help_text=gettext_lazy(
            "The member number of, for example, a parent. Leave empty if the member pays."
        ),
        widget=forms.TextInput(attrs={"class": "input--short"}),
    )
    vat_exemption_text = forms.CharField(
        label=gettext_lazy("Why no VAT is charged (optional)"),
        required=False,
        max_length=200,
        help_text=gettext_lazy(
            "Only for lines without VAT, for example: Exempt from VAT under article 11 of the VAT Act."
        ),
    )

    def __init__(self, *args, payment_term_days: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["invoice_date"].initial = timezone.localdate()
        self.fields["due_date"].help_text = _(
            "Leave empty for the usual payment term: %(days)s days after the invoice date."
        ) % {"days": payment_term_days}

    def clean_payer_number(self):
        number = self.cleaned_data["payer_number"].strip()
        if not number:
            return None
        payer = Member.objects.filter(member_number__iexact=number).first()
        if payer is None:
            raise ValidationError(_("No member has number %(number)s.") % {"number": number})
        return payer


class InvoiceLineForm(forms.Form):
    """One line; a line left as it was is skipped."""

    description = forms.CharField(label=gettext_lazy("Description"), required=False, max_length=200)
    quantity = AmountField(label=gettext_lazy("Number"), required=False, min_value=Decimal("0.01"))
    unit_price = AmountField(
        label=gettext_lazy("Price each, VAT included"), required=False, min_value=Decimal("0")
    )
    vat_rate = AmountField(
        label=gettext_lazy("VAT %"),
        required=False,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        error_messages={"invalid": gettext_lazy("Enter a percentage, like 0, 9 or 21.")},
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["quantity"].initial = Decimal("1")
        self.fields["vat_rate"].initial = Decimal("0")
        self.fields["description"].widget.attrs["class"] = "input--wide"

    def clean(self):
        data = super().clean()
        if not self.has_changed():
            return data
        if not (data.get("description") or "").strip() and "description" not in self.errors:
            self.add_error("description", _("Describe what this line is for."))
        if data.get("unit_price") is None and "unit_price" not in self.errors:
            self.add_error("unit_price", _("Enter the price."))
        return data

    def line_input(self) -> services.LineInput:
        data = self.cleaned_data
        return services.LineInput(
            description=data["description"].strip(),
            unit_price=data["unit_price"],
            quantity=data["quantity"] if data.get("quantity") is not None else Decimal("1"),
            vat_rate=data["vat_rate"] if data.get("vat_rate") is not None else Decimal("0"),
        )


class BaseLineFormSet(forms.BaseFormSet):
    renderer = BackofficeFormRenderer()

    def filled_forms(self) -> list:
        return [form for form in self.forms if form.has_changed()]


InvoiceLineFormSet = forms.formset_factory(
    InvoiceLineForm,
    formset=BaseLineFormSet,
    extra=MAX_INVOICE_LINES,
    max_num=MAX_INVOICE_LINES,
    validate_max=True,
)


def line_problems(formset, label: str) -> list[tuple[str, str]]:
    """Each line's errors for the summary at the top: 'Line 2: Price: Enter the price.'"""
    problems = [("", str(message)) for message in formset.non_form_errors()]
    for position, form in enumerate(formset.forms, start=1):
        for name, errors in form.errors.items():
            field = form.fields.get(name)
            anchor = form[name].auto_id if field else ""
            for message in errors:
                text = f"{field.label}: {message}" if field else message
                problems.append((anchor, label % {"n": position, "message": text}))
    return problems


@staff_required("billing.view_invoice", "billing.add_invoice")
def finance_invoice_new(request, member_pk: int):
    member = get_object_or_404(Member.objects.select_related("current_plan"), pk=member_pk)
    billing_settings = BillingSettings.current()
    data = request.POST if request.method == "POST" else None
    form = ManualInvoiceForm(data, payment_term_days=billing_settings.payment_term_days)
    formset = InvoiceLineFormSet(data, prefix="lines")
    if data is None and member.current_plan_id and member.current_plan.vat_exemption_text:
        form.fields["vat_exemption_text"].initial = member.current_plan.vat_exemption_text
    problems = []
    if data is not None:
        if form.is_valid() and formset.is_valid():
            lines = [line.line_input() for line in formset.filled_forms()]
            if not lines:
                form.add_error(None, _("Fill in at least one line: what is charged and its price."))
            else:
                payer = form.cleaned_data["payer_number"]
                try:
                    invoice = services.create_invoice(
                        member=member,
                        lines=lines,
                        actor=request.user,
                        invoice_date=form.cleaned_data["invoice_date"],
                        due_date=form.cleaned_data["due_date"],
                        description=form.cleaned_data["description"].strip(),
                        recipient=services.member_recipient(payer) if payer else None,
                        payer_member=payer,
                        vat_exemption_text=form.cleaned_data["vat_exemption_text"].strip(),
                    )
                except ValidationError as error:
                    add_service_errors(form, error)
                else:
                    messages.success(
                        request,
                        _("Invoice %(number)s of %(total)s has been made.")
                        % {"number": invoice.number, "total": f"€ {amount_text(invoice.total)}"},
                    )
                    return redirect("backoffice:finance_invoice_detail", pk=invoice.pk)
        problems = form.error_summary() + line_problems(formset, _("Line %(n)s: %(message)s"))
    return render(
        request,
        "backoffice/finance/invoice_form.html",
        finance_context(
            request,
            "invoices",
            member=member,
            form=form,
            formset=formset,
            problems=problems,
            title=_("New invoice for %(name)s") % {"name": member.display_name},
        ),
    )


# --- a credit note ---------------------------------------------------------------------------


class CreditNoteForm(BackofficeForm):
    WHOLE, PART = "whole", "part"

    how = forms.ChoiceField(
        label=gettext_lazy("What do you want to credit?"),
        widget=forms.RadioSelect(attrs={"class": "choice-list"}),
        initial=WHOLE,
        choices=[
            (WHOLE, gettext_lazy("The whole invoice")),
            (PART, gettext_lazy("Part of it: fill in the amounts per line below")),
        ],
        error_messages={"required": gettext_lazy("Choose what to credit.")},
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=200,
        help_text=gettext_lazy("Printed on the credit note, for example: Membership ended on 1 March."),
        error_messages={"required": gettext_lazy("Say why the invoice is credited.")},
    )
    credit_date = date_field(gettext_lazy("Date of the credit note"))

    def __init__(self, *args, allow_whole: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["credit_date"].initial = timezone.localdate()
        if not allow_whole:
            # Part of the invoice was credited before: only amounts per line are possible now.
            self.fields["how"].choices = [
                (self.PART, _("Part of it: fill in the amounts per line below")),
            ]
            self.fields["how"].initial = self.PART


class CreditLineForm(forms.Form):
    amount = AmountField(label=gettext_lazy("Amount to credit"), required=False, min_value=Decimal("0"))

    def __init__(self, *args, line, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.line = line

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount is not None and amount > self.line.amount:
            raise ValidationError(
                _("At most %(amount)s, the amount of this line.")
                % {"amount": f"€ {amount_text(self.line.amount)}"}
            )
        return amount


class BaseCreditLineFormSet(forms.BaseFormSet):
    renderer = BackofficeFormRenderer()

    def __init__(self, *args, lines, **kwargs):
        self.lines = lines
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "line": self.lines[index]}

    def total_form_count(self):
        return len(self.lines)


CreditLineFormSet = forms.formset_factory(CreditLineForm, formset=BaseCreditLineFormSet, extra=0)


@staff_required("billing.view_invoice", "billing.add_invoice")
def finance_credit_note_new(request, pk: int):
    invoice = get_object_or_404(
        Invoice.objects.select_related("member").prefetch_related("lines", "credit_notes"), pk=pk
    )
    if not may_credit(invoice):
        if invoice.kind != Invoice.Kind.INVOICE:
            messages.error(request, _("A credit note cannot be credited."))
        else:
            messages.error(
                request,
                _("Invoice %(number)s is %(status)s and cannot be credited now.")
                % {"number": invoice.number, "status": status_label(invoice.status)},
            )
        return redirect("backoffice:finance_invoice_detail", pk=invoice.pk)
    lines = list(invoice.lines.all())
    already_credited = sum((-note.total for note in invoice.credit_notes.all()), Decimal("0.00"))
    data = request.POST if request.method == "POST" else None
    form = CreditNoteForm(data, allow_whole=not already_credited)
    formset = CreditLineFormSet(data, lines=lines, prefix="credit")
    problems = []
    if data is not None:
        if form.is_valid() and formset.is_valid():
            credit_lines = None
            if form.cleaned_data["how"] == CreditNoteForm.PART:
                credit_lines = [
                    services.LineInput(
                        description=line_form.line.description,
                        unit_price=line_form.cleaned_data["amount"],
                        vat_rate=line_form.line.vat_rate,
                    )
                    for line_form in formset.forms
                    if line_form.cleaned_data.get("amount")
                ]
                if not credit_lines:
                    form.add_error(None, _("Fill in the amount to credit on at least one line."))
            if not form.errors:
                try:
                    note = services.create_credit_note(
                        invoice,
                        actor=request.user,
                        reason=form.cleaned_data["reason"],
                        lines=credit_lines,
                        credit_date=form.cleaned_data["credit_date"],
                    )
                except ValidationError as error:
                    add_service_errors(form, error)
                else:
                    messages.success(
                        request,
                        _("Credit note %(number)s of %(total)s has been made for invoice %(invoice)s.")
                        % {
                            "number": note.number,
                            "total": f"€ {amount_text(-note.total)}",
                            "invoice": invoice.number,
                        },
                    )
                    return redirect("backoffice:finance_invoice_detail", pk=invoice.pk)
        problems = form.error_summary() + line_problems(formset, _("Line %(n)s: %(message)s"))
    return render(
        request,
        "backoffice/finance/credit_note_form.html",
        finance_context(
            request,
            "invoices",
            invoice=invoice,
            form=form,
            rows=list(zip(lines, formset.forms, strict=True)),
            formset=formset,
            already_credited=already_credited,
            problems=problems,
            title=_("Credit invoice %(number)s") % {"number": invoice.number},
        ),
    )


# --- export for the accounting package -------------------------------------------------------


class _Echo:
    def write(self, value):
        return value


def _date_text(value: date | None) -> str:
    return value.strftime("%d-%m-%Y") if value else ""


def document_lines(period: Period, vat_rates: list[Decimal]):
    writer = csv.writer(_Echo(), delimiter=";", lineterminator="\r\n")
    kinds = dict(Invoice.Kind.choices)
    methods = dict(PaymentMethod.choices)
    header = [
        _("kind"),
        _("number"),
        _("invoice date"),
        _("due date"),
        _("credits invoice"),
        _("member number"),
        _("name"),
        _("country"),
        _("description"),
        _("payment method"),
        _("status"),
        _("payment reference"),
        _("total excl. VAT"),
        _("VAT"),
        _("total"),
    ]
    for rate in vat_rates:
        header += [
            _("excl. VAT at %(rate)s%%") % {"rate": rate_text(rate)},
            _("VAT at %(rate)s%%") % {"rate": rate_text(rate)},
        ]
    header += [_("paid"), _("credited"), _("open"), _("VAT exemption")]
    # The byte order mark makes (Dutch) Excel read the file as UTF-8.
    yield "\ufeff" + writer.writerow(header)
    for row in queries.period_export_rows(period.start, period.end, vat_rates=vat_rates):
        text = [
            str(kinds.get(row.kind, row.kind)),
            row.number,
            _date_text(row.invoice_date),
            _date_text(row.due_date),
            row.credited_number,
            row.member_number,
            row.recipient_name,
            row.recipient_country,
            row.description,
            str(methods.get(row.payment_method, row.payment_method)),
            str(status_label(row.state)),
        ]
        cells = [spreadsheet_safe(value) for value in (*text, row.payment_reference)]
        cells += [amount_text(value) for value in (row.total_excl_vat, row.vat_amount, row.total)]
        for _rate, excl, vat in row.by_rate:
            cells += [amount_text(excl), amount_text(vat)]
        cells += [amount_text(value) for value in (row.amount_paid, row.amount_credited, row.open_amount)]
        cells.append(spreadsheet_safe(row.vat_exemption_text))
        yield writer.writerow(cells)


def payment_lines(period: Period):
    writer = csv.writer(_Echo(), delimiter=";", lineterminator="\r\n")
    kinds = dict(Invoice.Kind.choices)
    methods = dict(Payment.Method.choices)
    sources = dict(Payment.Source.choices)
    header = [
        _("date"),
        _("invoice number"),
        _("kind"),
        _("member number"),
        _("name"),
        _("amount"),
        _("method"),
        _("recorded through"),
        _("reference"),
    ]
    yield "\ufeff" + writer.writerow(header)
    for row in queries.period_payment_rows(period.start, period.end):
        yield writer.writerow(
            [
                _date_text(row.paid_on),
                spreadsheet_safe(row.invoice_number),
                str(kinds.get(row.invoice_kind, row.invoice_kind)),
                spreadsheet_safe(row.member_number),
                spreadsheet_safe(row.recipient_name),
                amount_text(row.amount),
                str(methods.get(row.method, row.method)),
                str(sources.get(row.source, row.source)),
                spreadsheet_safe(row.reference),
            ]
        )


EXPORTS = {
    "documents": gettext_lazy("invoices and credit notes"),
    "payments": gettext_lazy("payments"),
}


@staff_required("billing.view_invoice", "billing.export_invoice")
@require_safe
def finance_export(request):
    today = timezone.localdate()
    form = period_form(request, today)
    what = request.GET.get("what", "")
    if what in EXPORTS and form.is_bound and form.is_valid():
        period = form.period()
        if what == "documents":
            row_count = Invoice.objects.filter(invoice_date__range=(period.start, period.end)).count()
            lines = document_lines(period, queries.period_vat_rates(period.start, period.end))
            name = pgettext("file name of the invoice export", "invoices")
        else:
            row_count = Payment.objects.filter(paid_on__range=(period.start, period.end)).count()
            lines = payment_lines(period)
            name = pgettext("file name of the payment export", "payments")
        services.record_finance_export(
            actor=request.user, what=what, start=period.start, end=period.end, row_count=row_count
        )
        response = StreamingHttpResponse(
            (line.encode("utf-8") for line in lines), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{slugify(name)}-{period.key}.csv"'
        return response
    return render(
        request,
        "backoffice/finance/export.html",
        finance_context(request, "export", form=form, period=form.period(), exports=EXPORTS),
    )


# --- settings --------------------------------------------------------------------------------


class BillingSettingsForm(BackofficeForm):
    iban = forms.CharField(
        label=gettext_lazy("IBAN for payments"),
        required=False,
        max_length=42,
        help_text=gettext_lazy("The association's account that members pay to. Spaces do not matter."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    bic = forms.CharField(
        label=gettext_lazy("BIC (optional)"),
        required=False,
        max_length=11,
        help_text=gettext_lazy("Leave empty: for most banks it is filled in from the IBAN."),
        widget=forms.TextInput(attrs={"class": "input--short"}),
    )
    account_holder = forms.CharField(
        label=gettext_lazy("Account holder"),
        required=False,
        max_length=70,
        help_text=gettext_lazy("The name on the account. Leave empty to use the association's name."),
    )
    payment_term_days = forms.IntegerField(
        label=gettext_lazy("Payment term in days"),
        min_value=1,
        max_value=365,
        help_text=gettext_lazy("How many days after the invoice date members have to pay."),
        widget=forms.NumberInput(attrs={"class": "input--short"}),
        error_messages={"required": gettext_lazy("Enter the number of days.")},
    )
    invoice_number_prefix = forms.CharField(
        label=gettext_lazy("Invoice number prefix (optional)"),
        required=False,
        max_length=10,
        help_text=gettext_lazy(
            "Put before every new invoice number, e.g. 'F' gives F2027-000001. Invoices made earlier keep their number."
        ),
        widget=forms.TextInput(attrs={"class": "input--short"}),
    )
    billing_year_start_month = forms.TypedChoiceField(
        label=gettext_lazy("First month of the billing year"),
        coerce=int,
        choices=[(month, capfirst(name)) for month, name in MONTHS.items()],
        help_text=gettext_lazy(
            "Yearly dues cover the billing year; quarters and months are counted from its start."
        ),
    )
    online_provider = forms.ChoiceField(
        label=gettext_lazy("Online payment"),
        choices=BillingSettings.OnlineProvider.choices,
        widget=forms.RadioSelect(attrs={"class": "choice-list"}),
    )
    invoice_email_subject = forms.CharField(
        label=gettext_lazy("Subject of invoice emails"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("{number} is replaced by the invoice number."),
    )

    FIELDS = services.BILLING_SETTINGS_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["online_provider"].choices = [
            (value, capfirst(label)) for value, label in BillingSettings.OnlineProvider.choices
        ]

    @classmethod
    def initial_for(cls, billing_settings: BillingSettings) -> dict:
        initial = {name: getattr(billing_settings, name) for name in cls.FIELDS}
        initial["iban"] = format_iban(billing_settings.iban)
        return initial


@staff_required("billing.view_billingsettings")
def finance_settings(request):
    may_change = request.user.has_perm("billing.change_billingsettings")
    if request.method == "POST" and not may_change:
        raise PermissionDenied
    billing_settings = BillingSettings.current()
    form = None
    if may_change:
        form = BillingSettingsForm(
            request.POST if request.method == "POST" else None,
            initial=BillingSettingsForm.initial_for(billing_settings),
        )
        if request.method == "POST" and form.is_valid():
            try:
                services.update_billing_settings(actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, _("The invoice settings have been saved."))
                return redirect("backoffice:finance_settings")
    return render(
        request,
        "backoffice/finance/settings.html",
        finance_context(
            request,
            "settings",
            form=form,
            billing_settings=billing_settings,
            problems=form.error_summary() if form is not None and form.is_bound else [],
            iban=format_iban(billing_settings.iban),
            billing_month=capfirst(MONTHS.get(billing_settings.billing_year_start_month, "")),
        ),
    )
