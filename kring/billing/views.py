"""The member's pages to pay an invoice (no login needed: the signed link is the key), the demo
provider's checkout page, and the payment providers' webhooks.

Views are thin: kring.billing.online does the work.
"""

import logging
from functools import wraps

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from kring.billing import online
from kring.billing.links import invoice_id_from_token
from kring.billing.models import BillingSettings, Invoice, OnlinePayment
from kring.billing.providers import LOCAL, MOLLIE, NONE, PaymentNotFound, ProviderError
from kring.billing.references import format_reference
from kring.members.validation import format_iban

logger = logging.getLogger(__name__)


def member_page(view):
    """A page reached through a pay link: never cached, never indexed by search engines."""

    @never_cache
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    return wrapper


def invoice_for(token: str) -> Invoice:
    """The invoice a pay link was made for; 404 for anything we did not sign."""
    invoice_id = invoice_id_from_token(token)
    if invoice_id is None:
        raise Http404
    return get_object_or_404(Invoice, pk=invoice_id)


def _qr_svg(invoice: Invoice, billing_settings: BillingSettings):
    try:
        from kring.billing.epc_qr import qr_svg
    except ImportError:  # built by another part of the finance work; the page works without it
        return None
    return qr_svg(invoice, billing_settings=billing_settings)


def _unavailable_message(invoice: Invoice) -> str:
    return _(
        "Online payment is not available right now. Please pay by bank transfer with payment reference %(reference)s."
    ) % {"reference": format_reference(invoice.payment_reference)}


def pay_page(request, invoice: Invoice, token: str, *, error: str = ""):
    billing_settings = BillingSettings.current()
    amount = online.payable_online_amount(invoice)
    context = {
        "invoice": invoice,
        "token": token,
        "amount": amount,
        "state": _state(invoice),
        "reference": format_reference(invoice.payment_reference),
        "iban": format_iban(billing_settings.iban) if billing_settings.iban else "",
        "bic": billing_settings.bic,
        "account_holder": billing_settings.account_holder,
        "qr_svg": _qr_svg(invoice, billing_settings) if amount else None,
        "online": amount is not None and billing_settings.online_provider != NONE and not error,
        "error": error,
    }
    return render(request, "billing/pay.html", context)


def _state(invoice: Invoice) -> str:
    """Which situation the page explains: to pay, paid, credited, written off, collected, or a credit note."""
    if invoice.kind == Invoice.Kind.CREDIT_NOTE:
        return "credit_note"
    if invoice.status == Invoice.Status.WRITTEN_OFF:
        return "written_off"
    if invoice.status == Invoice.Status.CREDITED:
        return "credited"
    if invoice.open_amount <= 0:
        return "paid"
    if online.payable_online_amount(invoice) is None:
        return "direct_debit"
    return "open"


@member_page
@require_http_methods(["GET", "POST"])
def pay(request, token):
    """The invoice with everything needed to pay it: online, by transfer, or with the QR code."""
    invoice = invoice_for(token)
    if request.method == "GET":
        return pay_page(request, invoice, token)
    try:
        payment = online.start_online_payment(invoice)
    except ValidationError:
        # Paid meanwhile, or online payment switched off: the page shows what is true now.
        return redirect("billing:pay", token=token)
    except online.PaymentBusy:
        return pay_page(
            request,
            invoice,
            token,
            error=_("Your payment is being prepared. Please wait a moment and try again."),
        )
    except ProviderError:
        logger.warning("Could not start an online payment for invoice %s", invoice.number, exc_info=True)
        return pay_page(request, invoice, token, error=_unavailable_message(invoice))
    return redirect(payment.checkout_url)


@member_page
def pay_return(request, token):
    """Where the member lands after the provider's page: what happened, in plain words."""
    invoice = invoice_for(token)
    payment = invoice.online_payments.order_by("-created_at", "-pk").first()
    if payment is None:
        return redirect("billing:pay", token=token)
    try:
        payment = online.sync_online_payment(payment.provider, payment.provider_payment_id) or payment
    except ProviderError:
        logger.warning("Could not check online payment %s", payment.provider_payment_id, exc_info=True)
    invoice.refresh_from_db()
    if payment.status == OnlinePayment.Status.PAID:
        outcome = "paid"
    elif payment.status in OnlinePayment.FINAL_STATUSES:
        outcome = "failed"
    else:
        outcome = "waiting"
    return render(
        request,
        "billing/pay_return.html",
        {"invoice": invoice, "token": token, "payment": payment, "outcome": outcome},
    )


@member_page
@require_http_methods(["GET", "POST"])
def local_checkout(request, token, payment_id):
    """The demo provider's checkout: "Paid" or "Failed", no real money."""
    invoice = invoice_for(token)
    payment = get_object_or_404(
        OnlinePayment.objects.select_related("invoice"),
        invoice=invoice,
        provider=LOCAL,
        provider_payment_id=payment_id,
    )
    if request.method == "POST":
        outcome = request.POST.get("outcome")
        if outcome not in (OnlinePayment.Status.PAID, OnlinePayment.Status.FAILED):
            return HttpResponseBadRequest()
        if BillingSettings.current().online_provider != LOCAL:
            raise Http404  # the demo provider was switched off: its payments can no longer be "paid"
        # Written only while the payment is still open: what the member chose first is final.
        OnlinePayment.objects.filter(pk=payment.pk).exclude(status__in=OnlinePayment.FINAL_STATUSES).update(
            status=outcome
        )
        online.sync_online_payment(LOCAL, payment_id)
        return redirect("billing:pay_return", token=token)
    return render(
        request, "billing/local_checkout.html", {"invoice": invoice, "payment": payment, "token": token}
    )


@csrf_exempt
@require_POST
def mollie_webhook(request):
    """Mollie says "something happened to tr_…": we fetch that payment from Mollie and act on what it says.

    Answers 200 for ids we do not know (else Mollie keeps retrying), 503 when Mollie cannot be
    reached (so that it tries again later).
    """
    payment_id = request.POST.get("id", "").strip()[:100]
    if not payment_id:
        logger.warning("Mollie webhook called without a payment id")
        return HttpResponse(status=200)
    try:
        online.sync_online_payment(MOLLIE, payment_id)
    except PaymentNotFound:
        logger.warning("Mollie webhook for %r, which Mollie does not know", payment_id)
    except ProviderError:
        logger.error("Mollie webhook for %s: could not fetch the payment", payment_id, exc_info=True)
        return HttpResponse(status=503)
    return HttpResponse(status=200)
