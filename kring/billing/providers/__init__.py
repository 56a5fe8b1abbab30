"""Online payment providers: one small interface, a Mollie implementation and a local demo one.

A provider does two things:

- ``create_payment(invoice, amount, description, redirect_url, webhook_url)`` starts a payment and
  answers ``(provider_payment_id, checkout_url)``: where to send the member to pay;
- ``fetch_status(provider_payment_id)`` answers a ``ProviderStatus``: what the provider says now.

Nothing else is trusted: a webhook only tells us *which* payment to look up again
(kring.billing.online). Every failure to reach the provider is a ``ProviderError``.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from kring.billing.models import ZERO, BillingSettings, Invoice, OnlinePayment

MOLLIE = BillingSettings.OnlineProvider.MOLLIE.value
LOCAL = BillingSettings.OnlineProvider.LOCAL.value
NONE = BillingSettings.OnlineProvider.NONE.value


class ProviderError(Exception):
    """The provider could not be reached, refused the request, or answered nonsense."""


class PaymentNotFound(ProviderError):
    """The provider does not know this payment id."""


@dataclass(frozen=True)
class ProviderStatus:
    """A payment as the provider sees it now. `status` is one of OnlinePayment.Status."""

    status: str
    amount: Decimal
    method: str = ""
    paid_at: datetime | None = None
    currency: str = "EUR"
    amount_refunded: Decimal = ZERO
    amount_charged_back: Decimal = ZERO
    invoice_id: int | None = None

    @property
    def is_paid(self) -> bool:
        return self.status == OnlinePayment.Status.PAID


class PaymentProvider(Protocol):
    name: str

    def create_payment(
        self, invoice: Invoice, amount: Decimal, description: str, redirect_url: str, webhook_url: str
    ) -> tuple[str, str]: ...

    def fetch_status(self, provider_payment_id: str) -> ProviderStatus: ...


def get_provider(name: str) -> PaymentProvider:
    """The provider called `name` ("mollie" or "local"); ProviderError for any other."""
    if name == MOLLIE:
        from kring.billing.providers.mollie import MollieProvider

        return MollieProvider()
    if name == LOCAL:
        from kring.billing.providers.local import LocalProvider

        return LocalProvider()
    raise ProviderError(f"No online payment provider called {name!r}.")
