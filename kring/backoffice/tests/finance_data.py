"""Invoices, credit notes and payments for the finance page tests, made through the real services."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from kring.billing import services
from kring.billing.models import Invoice, Payment
from kring.billing.services import LineInput


def invoice(
    member, amount="100.00", *, on=None, vat_rate="0", description="Cursus EHBO", **kwargs
) -> Invoice:
    return services.create_invoice(
        member=member,
        lines=[LineInput(description, Decimal(amount), vat_rate=Decimal(vat_rate))],
        actor=None,
        invoice_date=on or timezone.localdate(),
        description=description,
        **kwargs,
    )


def pay(document, amount, on, method=Payment.Method.TRANSFER):
    return services.record_payment(document, amount=Decimal(amount), paid_on=on, method=method, actor=None)


@dataclass
class Year2024:
    """A year of documents whose totals are worked out by hand in the tests.

    A  15 Jan  € 100,00 paid 1 Feb; € 30,00 of it credited 1 Mar (to refund)
    B  10 Feb  € 121,00 (21% VAT) € 21,00 paid 5 Apr; due 24 Feb: overdue, € 100,00 open
    C   1 May  €  50,00 credited whole 10 May
    D   1 Nov  €  80,00 in direct-debit collection: open, not overdue
    E   1 Dec  €  60,00 written off
    F  20 Dec 2023 € 40,00 paid 5 Jan 2024 (a payment in 2024 for an invoice of 2023)
    """

    a: Invoice
    b: Invoice
    c: Invoice
    d: Invoice
    e: Invoice
    f: Invoice
    credit_a: Invoice
    credit_c: Invoice


def year_2024(member, other) -> Year2024:
    f = invoice(other, "40.00", on=date(2023, 12, 20))
    pay(f, "40.00", date(2024, 1, 5))
    a = invoice(member, "100.00", on=date(2024, 1, 15), description="Contributie 2024")
    pay(a, "100.00", date(2024, 2, 1))
    b = invoice(other, "121.00", on=date(2024, 2, 10), vat_rate="21", description="Clubkleding")
    pay(b, "21.00", date(2024, 4, 5))
    credit_a = services.create_credit_note(
        a,
        actor=None,
        reason="Korting vrijwilliger",
        lines=[LineInput("Korting", Decimal("30.00"))],
        credit_date=date(2024, 3, 1),
    )
    c = invoice(member, "50.00", on=date(2024, 5, 1), description="Toernooi")
    credit_c = services.create_credit_note(
        c, actor=None, reason="Toernooi afgelast", credit_date=date(2024, 5, 10)
    )
    d = invoice(member, "80.00", on=date(2024, 11, 1), description="Contributie Q4")
    Invoice.objects.filter(pk=d.pk).update(status=Invoice.Status.IN_COLLECTION)
    e = invoice(other, "60.00", on=date(2024, 12, 1), description="Boete")
    services.write_off(e, actor=None, reason="Oninbaar")
    return Year2024(a=a, b=b, c=c, d=d, e=e, f=f, credit_a=credit_a, credit_c=credit_c)


def many_invoices(members, count: int, *, on: date | None = None) -> list[Invoice]:
    """`count` invoices spread over the members, some paid, some overdue."""
    start = on or date(2024, 3, 1)
    made = []
    for n in range(count):
        document = invoice(members[n % len(members)], f"{10 + n}.00", on=start + timedelta(days=n))
        if n % 3 == 0:
            pay(document, "5.00", start + timedelta(days=n + 1))
        made.append(document)
    return made
