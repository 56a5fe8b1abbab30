"""Dues invoicing in the back office: choose a period, see what it would create, create it.

1. finance_run_new: choose the period (default: the next quarter) and the invoice date. "Show
   what will be invoiced" shows counts and totals per plan and billing frequency; nothing is
   created yet. "Create the invoices" (a POST, permission billing.run_invoices) records the run
   and starts a background job.
2. finance_run_detail: the job's progress bar while it runs (the import's partial and polling),
   then how many invoices were made, per plan and frequency, and the run's first invoices.
3. finance_run_list: the runs so far. The audit committee reads these pages and changes nothing.
"""

from datetime import date

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from kring.backoffice.forms import BackofficeForm, date_field
from kring.backoffice.permissions import staff_required
from kring.billing import invoicing, queries
from kring.billing.models import Invoice, InvoiceRun

VIEW = "billing.view_invoicerun"
RUN = "billing.run_invoices"
RUNS_SHOWN = 50
INVOICES_SHOWN = 25


def period_choices(today: date) -> list:
    """Last year, this year and next year: the year, its halves, quarters and months, per year."""
    groups = []
    for year in (today.year - 1, today.year, today.year + 1):
        codes = [str(year), f"{year}-H1", f"{year}-H2"]
        codes += [f"{year}-Q{quarter}" for quarter in range(1, 5)]
        codes += [f"{year}-{month:02d}" for month in range(1, 13)]
        groups.append((str(year), period_choices_for(codes)))
    return groups


def period_choices_for(codes: list[str]) -> list[tuple[str, str]]:
    """(code, "2027-Q1: 1 January 2027 to 31 March 2027") per period code."""
    choices = []
    for code in codes:
        period = invoicing.parse_period(code)
        dates = _("%(start)s to %(end)s") % {
            "start": date_format(period.start, "j F Y"),
            "end": date_format(period.end, "j F Y"),
        }
        choices.append((period.code, f"{period.code}: {dates}"))
    return choices


class InvoiceRunForm(BackofficeForm):
    period = forms.ChoiceField(
        label=gettext_lazy("Period"),
        help_text=gettext_lazy(
            "Every membership gets the dues that fall in this period: a yearly payer in the period "
            "in which their year starts, a quarterly payer every quarter."
        ),
    )
    invoice_date = date_field(
        gettext_lazy("Invoice date"),
        help_text=gettext_lazy("The date on the invoices. The payment term counts from this day."),
    )

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        choices = period_choices(today)
        asked = (self.data.get("period") or "").strip().upper() if self.is_bound else ""
        if asked and all(asked != code for _year, group in choices for code, _label in group):
            # An older period, e.g. "do this period again" for a run of two years ago.
            try:
                choices.insert(0, (asked[:4], period_choices_for([asked])))
            except ValidationError:
                pass
        self.fields["period"].choices = choices
        self.fields["period"].initial = invoicing.next_quarter(today)
        self.fields["invoice_date"].initial = today


def finance_context(request, **extra) -> dict:
    return {
        "section": "finance",
        "subsection": "runs",
        "read_only": not request.user.has_perm(RUN),
        **extra,
    }


@staff_required(VIEW)
@require_safe
def finance_run_list(request):
    runs = InvoiceRun.objects.select_related("created_by").order_by("-started_at", "-pk")[:RUNS_SHOWN]
    return render(request, "backoffice/finance/runs/list.html", finance_context(request, runs=runs))


@staff_required(VIEW, RUN)
def finance_run_new(request):
    today = timezone.localdate()
    if request.method == "POST":
        form = InvoiceRunForm(request.POST, today=today)
        if form.is_valid():
            return _start(request, form)
        return _new_page(request, form, preview=None)
    preview = None
    if "period" in request.GET:
        form = InvoiceRunForm(request.GET, today=today)
        if form.is_valid():
            preview = invoicing.preview_invoice_run(
                form.cleaned_data["period"], form.cleaned_data["invoice_date"]
            )
    else:
        form = InvoiceRunForm(today=today)
    return _new_page(request, form, preview=preview)


def _new_page(request, form, *, preview):
    return render(
        request,
        "backoffice/finance/runs/new.html",
        finance_context(request, form=form, preview=preview, problems=form.error_summary()),
    )


def _start(request, form):
    run = invoicing.start_invoice_run(
        form.cleaned_data["period"],
        invoice_date=form.cleaned_data["invoice_date"],
        actor=request.user,
        language=get_language(),
    )
    messages.success(
        request,
        _("The invoices for %(period)s are being created. You can leave this page; the work goes on.")
        % {"period": run.period},
    )
    return redirect("backoffice:finance_run_detail", pk=run.pk)


@staff_required(VIEW)
@require_safe
def finance_run_detail(request, pk: int):
    run = get_object_or_404(InvoiceRun.objects.select_related("created_by", "job"), pk=pk)
    job = run.job
    working = run.status == InvoiceRun.Status.RUNNING and job is not None and not job.is_finished
    context = {"run": run, "job": job, "working": working}
    if not working:
        context["summary"] = invoicing.run_summary(run)
        if run.status == InvoiceRun.Status.DONE:
            context["delivery"] = queries.run_delivery(run.pk)
        context["invoices"] = list(
            Invoice.objects.filter(run=run)
            .select_related("member", "membership__plan")
            .order_by("sequence")[:INVOICES_SHOWN]
        )
        context["invoice_list_query"] = urlencode(
            {
                "date_from": run.invoice_date.isoformat(),
                "date_to": run.invoice_date.isoformat(),
                "kind": Invoice.Kind.INVOICE,
            }
        )
        context["again_query"] = urlencode(
            {"period": run.period, "invoice_date": run.invoice_date.isoformat()}
        )
    return render(request, "backoffice/finance/runs/detail.html", finance_context(request, **context))
