"""Shared set-up of the collection tests: the creditor, a member paying by direct debit with a
mandate, and an open invoice."""

from datetime import date, time

from kring.billing.tests.factories import InvoiceFactory
from kring.members.models import PaymentMethod
from kring.members.tests.factories import MemberFactory
from kring.sepa import services
from kring.sepa.models import CreditorSettings

CREDITOR_ID = "NL79ZZZ999999990000"
IBAN_RABO = "NL39RABO0300065264"
IBAN_ING = "NL20INGB0001234567"
IBAN_ABN = "NL91ABNA0417164300"
IBAN_SWISS = "CH9300762011623852957"
# Announced on Tuesday 5 January 2027, collected on Monday 25 January 2027.
ANNOUNCE_AT = "2027-01-05 09:00:00+01:00"
COLLECT_AT = "2027-01-20 09:00:00+01:00"
COLLECTION_DATE = date(2027, 1, 25)


def creditor(**overrides) -> CreditorSettings:
    fields = {
        "creditor_name": "Vereniging Kring Eëndracht & Zn",
        "creditor_identifier": CREDITOR_ID,
        "iban": IBAN_ABN,
        "bic": "ABNANL2A",
        "submission_cutoff": time(14, 0),
        "lead_days": 1,
        "prenotification_days": 14,
        **overrides,
    }
    return services.update_creditor_settings(actor=None, **fields)


def debtor(*, iban=IBAN_RABO, signed_on=date(2025, 6, 1), kind="recurrent", **member_fields):
    member = MemberFactory(**member_fields)
    mandate = services.record_paper_mandate(
        member, signed_on=signed_on, iban=iban, debtor_name=member.display_name, kind=kind, actor=None
    )
    member.refresh_from_db()
    assert member.payment_method == PaymentMethod.DIRECT_DEBIT
    return member, mandate


def invoice_for(member, **fields):
    return InvoiceFactory(member=member, payment_method=PaymentMethod.DIRECT_DEBIT, **fields)
