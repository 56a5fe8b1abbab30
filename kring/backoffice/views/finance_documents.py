"""An invoice as a document in the back office: its PDF, and emailing it now."""

import logging
import smtplib

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from kring.backoffice.permissions import staff_required
from kring.billing import mail, queries
from kring.billing.models import Invoice
from kring.billing.pdf import invoice_filename, render_invoice_pdf

logger = logging.getLogger(__name__)


def _invoice(pk) -> Invoice:
    try:
        return queries.invoice_for_pdf(pk)
    except Invoice.DoesNotExist:
        raise Http404 from None


def _invoice_page(invoice: Invoice):
    try:
        return redirect(reverse("backoffice:finance_invoice_detail", args=[invoice.pk]))
    except NoReverseMatch:  # the invoice page is not there (yet): the member's page lists the invoices
        return redirect("backoffice:member_detail", invoice.member_id)


@require_GET
@staff_required("billing.view_invoice")
def finance_invoice_pdf(request, pk):
    invoice = _invoice(pk)
    response = HttpResponse(render_invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{invoice_filename(invoice)}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_POST
@staff_required("billing.view_invoice", "billing.change_invoice")
def finance_invoice_send(request, pk):
    invoice = _invoice(pk)
    if invoice.email_sent_at:
        messages.info(
            request,
            _("This invoice was already emailed on %(date)s. It is not sent twice.")
            % {"date": date_format(timezone.localtime(invoice.email_sent_at), "j F Y, H:i")},
        )
    elif invoice.send_by_post:
        messages.error(request, _("This invoice goes by post, so it is not emailed."))
    elif not invoice.recipient_email:
        messages.error(request, _("There is no email address on this invoice, so it cannot be emailed."))
    else:
        try:
            sent = mail.send_invoice_email(invoice, actor=request.user)
        except (smtplib.SMTPException, OSError):
            logger.warning("emailing invoice %s failed", invoice.number, exc_info=True)
            messages.error(
                request,
                _(
                    "The email could not be sent: the mail server did not accept it. Nothing was changed; please try again later."
                ),
            )
        else:
            if sent:
                messages.success(
                    request,
                    _("Invoice %(number)s was emailed to %(email)s.")
                    % {"number": invoice.number, "email": invoice.recipient_email},
                )
            else:
                messages.info(request, _("This invoice is being emailed already. It is not sent twice."))
    return _invoice_page(invoice)
