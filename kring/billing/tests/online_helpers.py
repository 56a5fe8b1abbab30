"""Shared by the online-payment tests: an invoice to pay, and Mollie's recorded API answers.

The JSON files under files/mollie/ are Mollie v2 payment resources as the API returns them
(create: status open with _links.checkout; get: open/pending/paid/failed/expired/canceled, paid
with amountRefunded or amountChargedBack). Only the ids that depend on the test database (our
invoice id in the metadata) are filled in when they are replayed.
"""

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import responses

from kring.billing import services
from kring.billing.models import BillingSettings
from kring.billing.services import LineInput
from kring.core.models import Association

FILES = Path(__file__).parent / "files" / "mollie"
API = "https://api.mollie.com/v2"
PAYMENT_ID = "tr_WDqYK6vllg"
CHECKOUT = "https://www.mollie.com/checkout/select-method/WDqYK6vllg"
BASE_URL = "https://leden.kring.test"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def recorded(name: str, *, invoice=None, **changes) -> dict:
    data = json.loads((FILES / f"{name}.json").read_text())
    if invoice is not None and "metadata" in data:
        data["metadata"] = {"invoice_id": invoice.pk, "invoice_number": invoice.number}
    data.update(changes)
    return data


def replay(mock, method: str, path: str, name: str, *, status: int = 200, **kwargs) -> None:
    mock.add(
        method,
        f"{API}/{path}",
        json=recorded(name, **kwargs),
        status=status,
        content_type="application/hal+json",
    )


def replay_get(mock, name: str, *, invoice, payment_id: str = PAYMENT_ID, **changes) -> None:
    replay(mock, responses.GET, f"payments/{payment_id}", name, invoice=invoice, **changes)


def make_invoice(member, amount="25.00", **kwargs):
    return services.create_invoice(
        member=member,
        lines=[LineInput("Contributie 2026", Decimal(amount))],
        actor=None,
        invoice_date=kwargs.pop("invoice_date", date(2026, 11, 2)),
        description=kwargs.pop("description", "Contributie 2026"),
        **kwargs,
    )


def use_provider(name: str, *, iban: str = "NL91ABNA0417164300") -> BillingSettings:
    Association.current()  # exists in every installation; created here so that query counts are real
    billing_settings = BillingSettings.current()
    billing_settings.online_provider = name
    billing_settings.iban = iban
    billing_settings.bic = "ABNANL2A"
    billing_settings.account_holder = "Vereniging Kring"
    billing_settings.save()
    return billing_settings
