"""Mollie (iDEAL, Bancontact, credit card) through the official client, mollie-api-python.

The API key comes from the environment (KRING_MOLLIE_API_KEY → settings.MOLLIE_API_KEY). The
member chooses the method on Mollie's own checkout page: we do not pin one, so Mollie offers every
method the association activated in its Mollie dashboard (iDEAL, Bancontact and cards).
Amounts go to Mollie as strings with two decimals, in euros; the invoice id travels in the metadata.
"""

import logging
from datetime import datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import translation
from mollie.api.client import Client
from mollie.api.error import Error as MollieError
from mollie.api.error import IdentifierError, NotFoundError

from kring.billing.models import ZERO, Invoice, OnlinePayment
from kring.billing.providers import MOLLIE, PaymentNotFound, ProviderError, ProviderStatus

logger = logging.getLogger(__name__)

STATUSES = {
    "open": OnlinePayment.Status.OPEN,
    "pending": OnlinePayment.Status.PENDING,
    "authorized": OnlinePayment.Status.PENDING,
    "paid": OnlinePayment.Status.PAID,
    "failed": OnlinePayment.Status.FAILED,
    "canceled": OnlinePayment.Status.CANCELED,
    "expired": OnlinePayment.Status.EXPIRED,
}
# Mollie cannot call a webhook on the member's own computer; the return page checks instead.
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0", ""}


def mollie_amount(amount: Decimal) -> dict:
    return {"currency": "EUR", "value": f"{amount:.2f}"}


def _decimal(value: dict | None) -> Decimal:
    if not value:
        return ZERO
    return Decimal(value["value"])


def _locale(country: str) -> str:
    language = (translation.get_language() or settings.LANGUAGE_CODE)[:2]
    if language == "en":
        return "en_US"
    return "nl_BE" if country == "BE" else "nl_NL"


class MollieProvider:
    name = MOLLIE

    def __init__(self, api_key: str | None = None):
        self.api_key = settings.MOLLIE_API_KEY if api_key is None else api_key

    def _client(self) -> Client:
        client = Client(timeout=(3, 10), retry=1)
        client.set_user_agent_component("Kring", "1")
        try:
            client.set_api_key(self.api_key)
        except MollieError as exc:
            raise ProviderError("The Mollie API key is missing or malformed (KRING_MOLLIE_API_KEY).") from exc
        return client

    def create_payment(
        self, invoice: Invoice, amount: Decimal, description: str, redirect_url: str, webhook_url: str
    ) -> tuple[str, str]:
        data = {
            "amount": mollie_amount(amount),
            "description": description[:255],
            "redirectUrl": redirect_url,
            "locale": _locale(invoice.recipient_country),
            "metadata": {"invoice_id": invoice.pk, "invoice_number": invoice.number},
        }
        if webhook_url and urlsplit(webhook_url).hostname not in LOCAL_HOSTS:
            data["webhookUrl"] = webhook_url
        try:
            payment = self._client().payments.create(data)
            payment_id, checkout_url = payment.id, payment.checkout_url
        except MollieError as exc:
            raise ProviderError(f"Mollie refused to create a payment: {exc}") from exc
        if not payment_id or not checkout_url:
            raise ProviderError("Mollie answered without a payment id or checkout link.")
        return payment_id, checkout_url

    def fetch_status(self, provider_payment_id: str) -> ProviderStatus:
        try:
            payment = self._client().payments.get(provider_payment_id)
        except (IdentifierError, NotFoundError) as exc:
            raise PaymentNotFound(f"Mollie does not know payment {provider_payment_id!r}.") from exc
        except MollieError as exc:
            raise ProviderError(f"Could not fetch payment {provider_payment_id} from Mollie: {exc}") from exc
        try:
            status = STATUSES.get(payment.status)
            if status is None:
                logger.warning(
                    "Mollie payment %s has an unknown status %r", provider_payment_id, payment.status
                )
                status = OnlinePayment.Status.PENDING
            metadata = payment.metadata if isinstance(payment.metadata, dict) else {}
            invoice_id = metadata.get("invoice_id")
            paid_at = datetime.fromisoformat(payment.paid_at) if payment.paid_at else None
            return ProviderStatus(
                status=status,
                amount=_decimal(payment.amount),
                currency=payment.amount["currency"],
                method=payment.method or "",
                paid_at=paid_at,
                amount_refunded=_decimal(payment.amount_refunded),
                amount_charged_back=_decimal(payment.amount_chargedback),
                invoice_id=int(invoice_id) if invoice_id is not None else None,
            )
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise ProviderError(
                f"Mollie's answer for payment {provider_payment_id} could not be read: {exc}"
            ) from exc
