"""Getting the invoices of an invoice run to the payers: by email (a background job) or on paper (one PDF)."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from kring.backoffice.permissions import staff_required
from kring.billing import queries
from kring.billing.models import InvoiceRun
from kring.billing.pdf import render_invoices_pdf
from kring.core.jobs import start_job


@staff_required("billing.change_invoice")
@require_POST
def finance_run_send(request, pk: int):
    run = get_object_or_404(InvoiceRun, pk=pk, status=InvoiceRun.Status.DONE)
    delivery = queries.run_delivery(run.pk)
    if not delivery.to_email:
        messages.info(request, _("There are no invoices of this run left to email."))
    else:
        start_job(
            "billing.send_invoices",
            params={"run_id": run.pk, "language": get_language()},
            user=request.user,
        )
        messages.success(
            request,
            _("%(count)s invoices are being emailed in the background. Reload this page to follow it.")
            % {"count": delivery.to_email},
        )
    return redirect("backoffice:finance_run_detail", pk=run.pk)


@staff_required("billing.view_invoice")
@require_safe
def finance_run_paper_pdf(request, pk: int):
    run = get_object_or_404(InvoiceRun, pk=pk)
    invoices = list(queries.paper_invoices_of_run(run.pk))
    if not invoices:
        messages.info(request, _("No invoice of this run goes by post."))
        return redirect("backoffice:finance_run_detail", pk=run.pk)
    response = HttpResponse(render_invoices_pdf(invoices, duplex=True), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="facturen-post-{run.period}.pdf"'
    return response
