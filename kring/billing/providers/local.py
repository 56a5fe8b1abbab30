"""The local demo provider: the same interface as Mollie, no network and no real money.

Its checkout page is one of our own pages (kring.billing.views.local_checkout) with two big
buttons, "Paid" and "Failed". What the member chooses there is written in the OnlinePayment row;
``fetch_status`` reads it back from there, as the Mollie provider reads it from Mollie.
"""

import secrets
from decimal import Decimal

from django.urls import reverse

from kring.billing.links import pay_token
from kring.billing.models import Invoice, OnlinePayment
from kring.billing.providers import LOCAL, PaymentNotFound, ProviderStatus


class LocalProvider:
    name = LOCAL

    def create_payment(
        self, invoice: Invoice, amount: Decimal, description: str, redirect_url: str, webhook_url: str
    ) -> tuple[str, str]:
        payment_id = f"local_{secrets.token_urlsafe(12)}"
        return payment_id, reverse("billing:local_checkout", args=[pay_token(invoice), payment_id])

    def fetch_status(self, provider_payment_id: str) -> ProviderStatus:
        online = (
            OnlinePayment.objects.filter(provider=LOCAL, provider_payment_id=provider_payment_id)
            .only("status", "amount", "updated_at", "invoice_id")
            .first()
        )
        if online is None:
            raise PaymentNotFound(f"No demo payment {provider_payment_id!r}.")
        paid = online.status == OnlinePayment.Status.PAID
        return ProviderStatus(
            status=online.status,
            amount=online.amount,
            method="demo",
            paid_at=online.updated_at if paid else None,
            invoice_id=online.invoice_id,
        )
