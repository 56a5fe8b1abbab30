"""The member's pay page (signed link, no login), the demo provider end to end, and who can open what."""

import html
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from kring.billing import services
from kring.billing.links import invoice_id_from_token, pay_token
from kring.billing.models import BillingSettings, Invoice, OnlinePayment, Payment
from kring.billing.references import format_reference
from kring.billing.tests.factories import CreditNoteFactory
from kring.billing.tests.online_helpers import EN, make_invoice, use_provider

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return html.unescape(response.content.decode())


def pay_url(invoice, token=None):
    return reverse("billing:pay", args=[token or pay_token(invoice)])


@pytest.fixture
def invoice(cast):
    use_provider("local")
    return make_invoice(cast.member)


# --- the pay page ------------------------------------------------------------------------------


def test_the_pay_page_shows_the_invoice_the_transfer_details_the_qr_code_and_the_button(client, invoice):
    response = client.get(pay_url(invoice), **EN)
    assert response.status_code == 200
    content = text(response)
    assert f"Invoice {invoice.number}" in content
    assert "Contributie 2026" in content
    assert "€\u00a025.00" in content
    assert "16 November 2026" in content  # the due date
    assert "NL91 ABNA 0417 1643 00" in content
    assert "Vereniging Kring" in content
    assert format_reference(invoice.payment_reference) in content
    assert 'class="epc-qr"' in content
    assert "Pay online now" in content
    assert response["Cache-Control"].startswith("max-age=0")
    assert response["X-Robots-Tag"] == "noindex, nofollow"


def test_the_pay_page_is_dutch_by_default(client, invoice):
    content = text(client.get(pay_url(invoice)))
    assert '<html lang="nl">' in content
    assert "€\u00a025,00" in content


def test_without_online_payment_only_the_transfer_is_offered(client, invoice):
    use_provider("none")
    content = text(client.get(pay_url(invoice), **EN))
    assert "Pay online now" not in content
    assert "Pay by bank transfer" in content


@pytest.mark.parametrize("settle", ["paid", "credited", "written_off"])
def test_settled_invoices_show_that_nothing_is_open_and_offer_no_button(client, invoice, settle):
    if settle == "paid":
        services.record_payment(
            invoice, amount=invoice.total, paid_on=date(2026, 11, 3), method="cash", actor=None
        )
    elif settle == "credited":
        services.create_credit_note(invoice, actor=None, reason="Opgezegd")
    else:
        services.write_off(invoice, actor=None, reason="Onvindbaar")
    content = text(client.get(pay_url(invoice), **EN))
    assert "Nothing is open on this invoice" in content
    assert "Pay online now" not in content and "bank transfer" not in content
    assert 'class="epc-qr"' not in content
    response = client.post(pay_url(invoice))
    assert response.status_code == 302 and response.url == pay_url(invoice)
    assert not OnlinePayment.objects.exists()


def test_a_credit_note_asks_for_nothing(client, invoice):
    note = CreditNoteFactory(credited_invoice=invoice)
    content = text(client.get(pay_url(note), **EN))
    assert "This is a credit note" in content and "Pay online now" not in content


def test_a_direct_debit_invoice_says_it_will_be_collected(client, cast):
    use_provider("local")
    invoice = make_invoice(cast.member, payment_method="direct_debit")
    content = text(client.get(pay_url(invoice), **EN))
    assert "by direct debit" in content and "Pay online now" not in content


def test_a_partly_paid_invoice_asks_for_the_rest(client, invoice):
    services.record_payment(
        invoice, amount=Decimal("10.00"), paid_on=date(2026, 11, 3), method="cash", actor=None
    )
    content = text(client.get(pay_url(invoice), **EN))
    assert "Paid so far" in content and "€\u00a015.00" in content


def test_pay_page_query_count_is_pinned(client, invoice, django_assert_num_queries):
    # the invoice, the billing settings, the association (page header)
    with django_assert_num_queries(3):
        assert client.get(pay_url(invoice)).status_code == 200


def test_pay_page_query_count_for_a_logged_in_member(client, cast, invoice, django_assert_num_queries):
    client.force_login(cast.member.user)
    with django_assert_num_queries(5):  # + session and user
        assert client.get(pay_url(invoice)).status_code == 200


def test_starting_a_payment_query_count_is_pinned(client, invoice, django_assert_num_queries):
    # invoice, settings, a payment to reuse?, association (description), the new payment
    with django_assert_num_queries(5):
        assert client.post(pay_url(invoice)).status_code == 302


# --- signed links ------------------------------------------------------------------------------


def test_tokens_are_per_invoice_and_unguessable(cast):
    first, second = make_invoice(cast.member), make_invoice(cast.member)
    assert pay_token(first) != pay_token(second)
    assert invoice_id_from_token(pay_token(first)) == first.pk
    _pk, signature = pay_token(first).split(".")
    assert len(signature) >= 40


def test_tampered_links_are_not_found(client, cast, invoice):
    other = make_invoice(cast.other_member)
    pk, signature = pay_token(invoice).split(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    for token in (
        f"{pk}.{flipped}",
        f"{other.pk}.{signature}",  # another invoice's id with this invoice's signature
        f"{pk}",
        f"{pk}.",
        "1.abc",
        "nothing",
    ):
        assert client.get(pay_url(invoice, token)).status_code == 404, token
        assert client.get(reverse("billing:pay_return", args=[token])).status_code == 404, token
        assert client.post(pay_url(invoice, token)).status_code == 404, token
    assert not OnlinePayment.objects.exists()


def test_a_logged_in_member_cannot_open_another_invoice_with_their_own_token(client, cast, invoice):
    other = make_invoice(cast.other_member)
    client.force_login(cast.member.user)
    _pk, signature = pay_token(invoice).split(".")
    assert client.get(pay_url(invoice, f"{other.pk}.{signature}")).status_code == 404
    # Their own link shows their own invoice only.
    content = text(client.get(pay_url(invoice), **EN))
    assert invoice.number in content and other.number not in content


def test_the_demo_checkout_only_opens_payments_of_the_invoice_in_the_link(client, cast, invoice):
    other = make_invoice(cast.other_member)
    client.post(pay_url(other))
    others_payment = OnlinePayment.objects.get(invoice=other)
    client.force_login(cast.member.user)
    mine = reverse("billing:local_checkout", args=[pay_token(invoice), others_payment.provider_payment_id])
    assert client.get(mine).status_code == 404
    assert client.post(mine, {"outcome": "paid"}).status_code == 404
    others_payment.refresh_from_db()
    assert others_payment.status == "open" and not Payment.objects.exists()


# --- the demo provider end to end --------------------------------------------------------------


def test_demo_payment_paid_end_to_end(client, invoice, django_assert_num_queries):
    page = client.get(pay_url(invoice), **EN)
    assert "Pay online now" in text(page)
    started = client.post(pay_url(invoice))
    assert started.status_code == 302
    payment = OnlinePayment.objects.get()
    assert payment.provider == "local" and started.url == payment.checkout_url
    checkout = client.get(started.url, **EN)
    content = text(checkout)
    assert "No real money" in content and ">Paid<" in content and ">Failed<" in content
    with django_assert_num_queries(19):
        done = client.post(started.url, {"outcome": "paid"})
    assert done.url == reverse("billing:pay_return", args=[pay_token(invoice)])
    assert "Thank you, we received your payment" in text(client.get(done.url, **EN))
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    recorded = Payment.objects.get()
    assert recorded.external_id == f"local:{payment.provider_payment_id}" and recorded.method == "online"
    payment.refresh_from_db()
    assert payment.status == "paid" and payment.payment == recorded
    # Pressing "Failed" afterwards (another tab, the back button) changes nothing.
    client.post(started.url, {"outcome": "failed"})
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == "paid" and invoice.status == "paid" and Payment.objects.count() == 1
    assert "Nothing is open on this invoice" in text(client.get(pay_url(invoice), **EN))


def test_demo_payment_failed_leaves_the_invoice_open_and_can_be_tried_again(client, invoice):
    started = client.post(pay_url(invoice))
    done = client.post(started.url, {"outcome": "failed"})
    assert "nothing was charged" in text(client.get(done.url, **EN))
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN and not Payment.objects.exists()
    client.post(started.url, {"outcome": "paid"})  # too late: the first choice is final
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN
    again = client.post(pay_url(invoice))
    assert again.url != started.url
    client.post(again.url, {"outcome": "paid"})
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID


def test_demo_checkout_refuses_other_outcomes(client, invoice):
    started = client.post(pay_url(invoice))
    assert client.post(started.url, {"outcome": "refunded"}).status_code == 400


def test_demo_payments_cannot_be_paid_once_the_demo_provider_is_switched_off(client, invoice):
    started = client.post(pay_url(invoice))
    settings = BillingSettings.current()
    settings.online_provider = "mollie"
    settings.save()
    assert client.post(started.url, {"outcome": "paid"}).status_code == 404
    assert not Payment.objects.exists()
