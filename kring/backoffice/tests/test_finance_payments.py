"""The treasurer records a payment by hand and writes invoices off; read-only roles cannot."""

import html
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from kring.billing import services
from kring.billing.models import Invoice, Payment
from kring.billing.tests.online_helpers import EN, make_invoice
from kring.core.models import Association, AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice(cast):
    Association.current()
    return make_invoice(cast.member)


def payment_url(invoice):
    return reverse("backoffice:finance_payment_new", args=[invoice.pk])


def write_off_url(invoice):
    return reverse("backoffice:finance_invoice_write_off", args=[invoice.pk])


def detail_url(invoice):
    return reverse("backoffice:finance_invoice_detail", args=[invoice.pk])


def text(response) -> str:
    return html.unescape(response.content.decode())


# --- recording a payment -----------------------------------------------------------------------


def test_the_form_proposes_the_open_amount_and_today(client, cast, invoice):
    services.record_payment(
        invoice, amount=Decimal("5.00"), paid_on=date(2026, 11, 3), method="cash", actor=None
    )
    client.force_login(cast.treasurer)
    response = client.get(payment_url(invoice), **EN)
    assert response.status_code == 200
    form = response.context["form"]
    assert form["amount"].initial == Decimal("20.00")
    assert form["paid_on"].initial == timezone.localdate()
    assert form["method"].initial == "transfer"
    assert "Record a payment for invoice" in text(response)


def test_treasurer_records_a_bank_transfer(client, cast, invoice):
    client.force_login(cast.treasurer)
    response = client.post(
        payment_url(invoice),
        {
            "amount": "25,00",
            "paid_on": "2026-11-10",
            "method": "transfer",
            "reference": "NL12 ABC",
            "note": "Via ING",
        },
    )
    assert response.status_code == 302 and response.url == detail_url(invoice)
    payment = Payment.objects.get()
    assert (payment.amount, payment.paid_on, payment.method, payment.source) == (
        Decimal("25.00"),
        date(2026, 11, 10),
        "transfer",
        "treasurer",
    )
    assert (payment.reference, payment.note, payment.recorded_by) == ("NL12 ABC", "Via ING", cast.treasurer)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    entry = AuditEntry.objects.get(action="billing.payment_recorded")
    assert entry.actor == cast.treasurer


def test_part_payment_in_cash_makes_the_invoice_partially_paid(client, cast, invoice):
    client.force_login(cast.treasurer)
    client.post(payment_url(invoice), {"amount": "10", "paid_on": "2026-11-10", "method": "cash"})
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PARTIALLY_PAID and invoice.open_amount == Decimal("15.00")


def test_a_refund_is_recorded_as_money_going_out(client, cast, invoice):
    services.record_payment(
        invoice, amount=Decimal("30.00"), paid_on=date(2026, 11, 3), method="transfer", actor=None
    )
    client.force_login(cast.treasurer)
    client.post(payment_url(invoice), {"amount": "5,00", "paid_on": "2026-11-10", "method": "refund"})
    assert Payment.objects.get(method="refund").amount == Decimal("-5.00")
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("25.00") and invoice.status == "paid"


@pytest.mark.parametrize(
    "data,field",
    [
        ({"amount": "", "paid_on": "2026-11-10", "method": "cash"}, "amount"),
        ({"amount": "0", "paid_on": "2026-11-10", "method": "cash"}, "amount"),
        ({"amount": "-3", "paid_on": "2026-11-10", "method": "cash"}, "amount"),
        ({"amount": "twaalf", "paid_on": "2026-11-10", "method": "cash"}, "amount"),
        ({"amount": "5", "paid_on": "", "method": "cash"}, "paid_on"),
        ({"amount": "5", "paid_on": "2026-11-10", "method": "online"}, "method"),
    ],
)
def test_bad_input_records_nothing(client, cast, invoice, data, field):
    client.force_login(cast.treasurer)
    response = client.post(payment_url(invoice), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Payment.objects.exists()


def test_a_payment_in_the_future_is_refused_by_the_service(client, cast, invoice):
    client.force_login(cast.treasurer)
    later = (timezone.localdate() + timedelta(days=10)).isoformat()
    response = client.post(payment_url(invoice), {"amount": "5", "paid_on": later, "method": "cash"})
    assert response.status_code == 200
    assert "paid_on" in response.context["form"].errors
    assert not Payment.objects.exists()


def test_refunding_more_than_was_paid_is_refused(client, cast, invoice):
    client.force_login(cast.treasurer)
    response = client.post(payment_url(invoice), {"amount": "5", "paid_on": "2026-11-10", "method": "refund"})
    assert response.status_code == 200 and response.context["form"].errors
    assert not Payment.objects.exists()


def test_no_payment_on_a_written_off_invoice(client, cast, invoice):
    services.write_off(invoice, actor=None, reason="Onvindbaar")
    client.force_login(cast.treasurer)
    response = client.post(payment_url(invoice), {"amount": "5", "paid_on": "2026-11-10", "method": "cash"})
    assert response.status_code == 302 and response.url == detail_url(invoice)
    assert not Payment.objects.exists()


def test_payment_form_query_count(client, cast, invoice, django_assert_num_queries):
    client.force_login(cast.treasurer)
    client.get(payment_url(invoice))
    # session, user, permissions (groups + user), invoice with member, association (page header)
    with django_assert_num_queries(6):
        assert client.get(payment_url(invoice)).status_code == 200


def test_recording_a_payment_query_count(client, cast, invoice, django_assert_num_queries):
    client.force_login(cast.treasurer)
    client.get(payment_url(invoice))
    with django_assert_num_queries(14):
        response = client.post(
            payment_url(invoice), {"amount": "25", "paid_on": "2026-11-10", "method": "cash"}
        )
    assert response.status_code == 302


# --- writing off -------------------------------------------------------------------------------


def test_treasurer_writes_off_an_invoice_with_a_reason(client, cast, invoice):
    client.force_login(cast.treasurer)
    assert client.get(write_off_url(invoice)).status_code == 200
    response = client.post(write_off_url(invoice), {"reason": "Lid is naar het buitenland vertrokken"})
    assert response.status_code == 302 and response.url == detail_url(invoice)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.WRITTEN_OFF and invoice.open_amount == 0
    entry = AuditEntry.objects.get(action="billing.written_off")
    assert entry.note == "Lid is naar het buitenland vertrokken" and entry.actor == cast.treasurer


def test_a_write_off_needs_a_reason(client, cast, invoice):
    client.force_login(cast.treasurer)
    response = client.post(write_off_url(invoice), {"reason": "  "})
    assert response.status_code == 200 and "reason" in response.context["form"].errors
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN


def test_a_paid_invoice_cannot_be_written_off(client, cast, invoice):
    services.record_payment(
        invoice, amount=invoice.total, paid_on=date(2026, 11, 3), method="cash", actor=None
    )
    client.force_login(cast.treasurer)
    response = client.post(write_off_url(invoice), {"reason": "Vergissing"})
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID


def test_write_off_form_query_count(client, cast, invoice, django_assert_num_queries):
    client.force_login(cast.treasurer)
    client.get(write_off_url(invoice))
    with django_assert_num_queries(6):
        assert client.get(write_off_url(invoice)).status_code == 200


# --- who may -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["audit_committee", "board", "secretariat"])
def test_read_only_roles_may_not_record_payments_or_write_off(client, cast, invoice, role):
    client.force_login(getattr(cast, role))
    for url in (payment_url(invoice), write_off_url(invoice)):
        assert client.get(url).status_code == 403
    assert (
        client.post(
            payment_url(invoice), {"amount": "5", "paid_on": "2026-11-10", "method": "cash"}
        ).status_code
        == 403
    )
    assert client.post(write_off_url(invoice), {"reason": "x"}).status_code == 403
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN and not Payment.objects.exists()


def test_members_and_anonymous_visitors_are_kept_out(client, cast, invoice):
    assert client.get(payment_url(invoice)).status_code == 302  # to the login page
    client.force_login(cast.member.user)
    assert client.get(payment_url(invoice)).status_code == 403
    assert client.get(write_off_url(invoice)).status_code == 403


def test_money_owed_back_on_a_credit_note_is_recorded_as_a_refund(client, cast, invoice):
    services.record_payment(
        invoice, amount=invoice.total, paid_on=date(2026, 11, 3), method="transfer", actor=None
    )
    note = services.create_credit_note(invoice, actor=None, reason="Dubbel betaald")
    client.force_login(cast.treasurer)
    form = client.get(payment_url(note)).context["form"]
    assert (form["amount"].initial, form["method"].initial) == (Decimal("25.00"), "refund")
    client.post(payment_url(note), {"amount": "25,00", "paid_on": "2026-11-20", "method": "refund"})
    note.refresh_from_db()
    assert note.amount_paid == Decimal("-25.00") and note.status == Invoice.Status.PAID
