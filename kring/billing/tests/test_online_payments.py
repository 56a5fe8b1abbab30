"""Online payment through Mollie, replayed from recorded API responses: starting a payment, the
webhook (replays, calls out of order, unknown ids, Mollie down), refunds and chargebacks, and the
page the member returns to."""

import html
import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
import responses
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kring.billing import online, services
from kring.billing.links import pay_token, payment_link
from kring.billing.models import Invoice, OnlinePayment, Payment
from kring.billing.providers import ProviderError
from kring.billing.providers.mollie import MollieProvider
from kring.billing.references import format_reference
from kring.billing.tests.online_helpers import (
    BASE_URL,
    CHECKOUT,
    EN,
    PAYMENT_ID,
    make_invoice,
    replay,
    replay_get,
    use_provider,
)

pytestmark = pytest.mark.django_db

WEBHOOK = "/pay/webhook/mollie/"


@pytest.fixture
def mollie_api(settings):
    """Mollie's API, answered from the recorded responses a test registers; anything else fails."""
    settings.MOLLIE_API_KEY = "test_dHar4XY7LxsDOtmnkVtjNVWXLSlXsM"
    settings.KRING_BASE_URL = BASE_URL
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def invoice(cast):
    use_provider("mollie")
    return make_invoice(cast.member)


def pay_url(invoice):
    return reverse("billing:pay", args=[pay_token(invoice)])


def return_url(invoice):
    return reverse("billing:pay_return", args=[pay_token(invoice)])


@pytest.fixture
def started(invoice, mollie_api):
    """The member pressed "Pay online now": Mollie created tr_WDqYK6vllg."""
    replay(mollie_api, responses.POST, "payments", "payment_create", invoice=invoice)
    payment = online.start_online_payment(invoice)
    mollie_api.calls.reset()
    return payment


def text(response) -> str:
    return html.unescape(response.content.decode())


def webhook(client, payment_id=PAYMENT_ID):
    return client.post(WEBHOOK, {"id": payment_id})


# --- starting a payment ------------------------------------------------------------------------


def test_pay_online_creates_the_payment_at_mollie_and_sends_the_member_to_its_checkout(
    client, invoice, mollie_api
):
    replay(mollie_api, responses.POST, "payments", "payment_create", invoice=invoice)
    response = client.post(pay_url(invoice))
    assert response.status_code == 302
    assert response.url == CHECKOUT
    [call] = mollie_api.calls
    assert call.request.headers["Authorization"] == "Bearer test_dHar4XY7LxsDOtmnkVtjNVWXLSlXsM"
    sent = json.loads(call.request.body)
    assert sent["amount"] == {"currency": "EUR", "value": "25.00"}
    assert sent["metadata"] == {"invoice_id": invoice.pk, "invoice_number": invoice.number}
    assert sent["redirectUrl"] == f"{BASE_URL}{return_url(invoice)}"
    assert sent["webhookUrl"] == f"{BASE_URL}{WEBHOOK}"
    assert invoice.number in sent["description"]
    assert "method" not in sent  # the member chooses iDEAL, Bancontact or a card at Mollie
    assert sent["locale"] == "nl_NL"
    payment = OnlinePayment.objects.get()
    assert (payment.invoice, payment.provider, payment.provider_payment_id) == (invoice, "mollie", PAYMENT_ID)
    assert (payment.amount, payment.status, payment.checkout_url) == (Decimal("25.00"), "open", CHECKOUT)


def test_the_amount_is_what_is_still_open(client, invoice, mollie_api):
    services.record_payment(
        invoice, amount=Decimal("10.10"), paid_on=date(2026, 11, 3), method="cash", actor=None
    )
    replay(mollie_api, responses.POST, "payments", "payment_create", invoice=invoice)
    client.post(pay_url(invoice))
    assert json.loads(mollie_api.calls[0].request.body)["amount"] == {"currency": "EUR", "value": "14.90"}


def test_belgian_members_get_mollies_belgian_page(client, cast, mollie_api):
    use_provider("mollie")
    member = cast.member
    member.country, member.postcode, member.city = "BE", "1000", "Brussel"
    member.save()
    invoice = make_invoice(member)
    replay(mollie_api, responses.POST, "payments", "payment_create", invoice=invoice)
    client.post(pay_url(invoice))
    assert json.loads(mollie_api.calls[0].request.body)["locale"] == "nl_BE"


def test_no_webhook_address_is_sent_when_kring_runs_on_this_computer(invoice, mollie_api, settings):
    settings.KRING_BASE_URL = "http://127.0.0.1:8000"
    replay(mollie_api, responses.POST, "payments", "payment_create", invoice=invoice)
    online.start_online_payment(invoice)
    sent = json.loads(mollie_api.calls[0].request.body)
    assert "webhookUrl" not in sent
    assert sent["redirectUrl"].startswith("http://127.0.0.1:8000/pay/")


def test_pressing_the_button_again_within_15_minutes_reuses_the_payment(client, invoice, mollie_api):
    replay(mollie_api, responses.POST, "payments", "payment_create", invoice=invoice)
    first = client.post(pay_url(invoice))
    second = client.post(pay_url(invoice))
    assert first.url == second.url == CHECKOUT
    assert len(mollie_api.calls) == 1
    assert OnlinePayment.objects.count() == 1


def test_after_15_minutes_or_for_another_amount_a_new_payment_is_made(client, invoice, mollie_api):
    replay(mollie_api, responses.POST, "payments", "payment_create", invoice=invoice)
    client.post(pay_url(invoice))
    OnlinePayment.objects.update(created_at=timezone.now() - timedelta(minutes=16))
    replay(mollie_api, responses.POST, "payments", "payment_create", invoice=invoice, id="tr_Second1234")
    client.post(pay_url(invoice))
    assert len(mollie_api.calls) == 2
    assert OnlinePayment.objects.count() == 2


@pytest.mark.parametrize("status", [500, 422])
def test_mollie_refusing_gives_the_member_the_bank_transfer_details_instead(
    client, invoice, mollie_api, status
):
    name = "error_internal" if status == 500 else "error_unprocessable"
    replay(mollie_api, responses.POST, "payments", name, status=status)
    response = client.post(pay_url(invoice), **EN)
    assert response.status_code == 200
    content = response.content.decode()
    assert "Online payment is not available right now" in content
    assert format_reference(invoice.payment_reference) in content
    assert "Pay online now" not in content
    assert not OnlinePayment.objects.exists()


def test_mollie_unreachable_gives_the_same_friendly_message(client, invoice, mollie_api):
    # Nothing registered: the mocked network refuses the connection.
    response = client.post(pay_url(invoice), **EN)
    assert response.status_code == 200
    assert "Online payment is not available right now" in response.content.decode()


def test_a_missing_api_key_gives_the_same_friendly_message(client, invoice, mollie_api, settings):
    settings.MOLLIE_API_KEY = ""
    response = client.post(pay_url(invoice), **EN)
    assert "Online payment is not available right now" in response.content.decode()
    assert not mollie_api.calls


def test_nothing_is_started_for_a_paid_invoice(client, invoice, mollie_api):
    services.record_payment(
        invoice, amount=invoice.total, paid_on=date(2026, 11, 3), method="cash", actor=None
    )
    response = client.post(pay_url(invoice))
    assert response.status_code == 302 and response.url == pay_url(invoice)
    assert not mollie_api.calls and not OnlinePayment.objects.exists()


# --- the webhook -------------------------------------------------------------------------------


def test_a_paid_webhook_marks_the_invoice_paid(client, invoice, started, mollie_api):
    replay_get(mollie_api, "payment_paid", invoice=invoice)
    response = webhook(client)
    assert response.status_code == 200
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID and invoice.amount_paid == Decimal("25.00")
    payment = Payment.objects.get()
    assert payment.external_id == f"mollie:{PAYMENT_ID}"
    assert (payment.amount, payment.method, payment.source) == (Decimal("25.00"), "online", "online")
    assert payment.paid_on == date(2026, 11, 2)
    started.refresh_from_db()
    assert (started.status, started.method, started.payment) == ("paid", "ideal", payment)


def test_the_webhook_is_csrf_exempt_and_post_only(invoice, started, mollie_api):
    replay_get(mollie_api, "payment_paid", invoice=invoice)
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(WEBHOOK, {"id": PAYMENT_ID}).status_code == 200
    assert strict.get(WEBHOOK, {"id": PAYMENT_ID}).status_code == 405


def test_the_same_webhook_five_times_records_one_payment(client, invoice, started, mollie_api):
    replay_get(mollie_api, "payment_paid", invoice=invoice)
    for _ in range(5):
        assert webhook(client).status_code == 200
    assert len(mollie_api.calls) == 5  # the status is fetched every time, never taken from the call
    assert Payment.objects.count() == 1
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("25.00") and invoice.status == "paid"


def test_the_webhook_body_is_not_trusted(client, invoice, started, mollie_api):
    replay_get(mollie_api, "payment_open", invoice=invoice)
    client.post(WEBHOOK, {"id": PAYMENT_ID, "status": "paid", "amount": "25.00"})
    assert not Payment.objects.exists()
    invoice.refresh_from_db()
    assert invoice.status == "open"


def test_paid_then_failed_stays_paid(client, invoice, started, mollie_api):
    replay_get(mollie_api, "payment_paid", invoice=invoice)
    replay_get(mollie_api, "payment_failed", invoice=invoice)
    webhook(client)
    webhook(client)
    started.refresh_from_db()
    invoice.refresh_from_db()
    assert started.status == "paid" and invoice.status == "paid"
    assert Payment.objects.count() == 1


def test_failed_then_paid_is_recorded(client, invoice, started, mollie_api):
    replay_get(mollie_api, "payment_failed", invoice=invoice)
    replay_get(mollie_api, "payment_paid", invoice=invoice)
    webhook(client)
    started.refresh_from_db()
    assert started.status == "failed" and not Payment.objects.exists()
    webhook(client)
    started.refresh_from_db()
    invoice.refresh_from_db()
    assert started.status == "paid" and invoice.status == "paid"
    assert Payment.objects.count() == 1


@pytest.mark.parametrize(
    "name,status", [("failed", "failed"), ("expired", "expired"), ("canceled", "canceled")]
)
def test_unsuccessful_payments_leave_the_invoice_open(client, invoice, started, mollie_api, name, status):
    replay_get(mollie_api, f"payment_{name}", invoice=invoice)
    webhook(client)
    started.refresh_from_db()
    invoice.refresh_from_db()
    assert started.status == status
    assert invoice.status == "open" and not Payment.objects.exists()


def test_paid_for_less_than_open_makes_the_invoice_partially_paid(client, invoice, started, mollie_api):
    replay_get(mollie_api, "payment_paid", invoice=invoice, amount={"value": "10.00", "currency": "EUR"})
    webhook(client)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PARTIALLY_PAID
    assert invoice.open_amount == Decimal("15.00")


def test_unknown_ids_answer_200_and_change_nothing(client, invoice, started, mollie_api, caplog):
    for payment_id in ("tr_Unknown123", "", "testByMollie"):
        assert webhook(client, payment_id).status_code == 200
    assert not mollie_api.calls  # not ours: nothing to ask Mollie
    assert not Payment.objects.exists()
    assert "unknown payment" in caplog.text


def test_an_id_mollie_does_not_know_answers_200(client, invoice, started, mollie_api, caplog):
    replay(mollie_api, responses.GET, f"payments/{PAYMENT_ID}", "error_not_found", status=404)
    assert webhook(client).status_code == 200
    started.refresh_from_db()
    assert started.status == "open"
    assert "does not know" in caplog.text


@pytest.mark.allow_error_logs
def test_mollie_down_answers_503_so_that_mollie_tries_again(client, invoice, started, mollie_api):
    replay(mollie_api, responses.GET, f"payments/{PAYMENT_ID}", "error_internal", status=500)
    replay_get(mollie_api, "payment_paid", invoice=invoice)  # what Mollie answers when it retries
    assert webhook(client).status_code == 503
    assert not Payment.objects.exists()
    assert webhook(client).status_code == 200
    assert Payment.objects.count() == 1


def test_a_payment_for_another_invoice_in_the_metadata_is_ignored(client, invoice, started, mollie_api, cast):
    other = make_invoice(cast.other_member)
    replay_get(mollie_api, "payment_paid", invoice=other)
    assert webhook(client).status_code == 200
    assert not Payment.objects.exists()


# --- refunds and chargebacks -------------------------------------------------------------------


def test_a_refund_is_recorded_once_as_a_negative_payment(client, invoice, started, mollie_api):
    replay_get(mollie_api, "payment_paid", invoice=invoice)
    replay_get(mollie_api, "payment_paid_refunded", invoice=invoice)
    for _ in range(4):
        webhook(client)
    refund = Payment.objects.get(amount__lt=0)
    assert refund.amount == Decimal("-5.00") and refund.method == Payment.Method.REFUND
    assert refund.external_id.startswith(f"mollie-refund:{PAYMENT_ID}")
    assert Payment.objects.count() == 2
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("20.00") and invoice.status == Invoice.Status.PARTIALLY_PAID


def test_a_second_refund_records_only_the_new_part(client, invoice, started, mollie_api):
    replay_get(mollie_api, "payment_paid_refunded", invoice=invoice)
    replay_get(
        mollie_api,
        "payment_paid_refunded",
        invoice=invoice,
        amountRefunded={"value": "25.00", "currency": "EUR"},
    )
    webhook(client)
    webhook(client)
    webhook(client)
    assert sorted(Payment.objects.values_list("amount", flat=True)) == [
        Decimal("-20.00"),
        Decimal("-5.00"),
        Decimal("25.00"),
    ]
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0 and invoice.status == Invoice.Status.OPEN


def test_a_chargeback_is_recorded_once_and_reverses_the_invoice(client, invoice, started, mollie_api):
    replay_get(mollie_api, "payment_paid_charged_back", invoice=invoice)
    webhook(client)
    webhook(client)
    chargeback = Payment.objects.get(amount__lt=0)
    assert chargeback.amount == Decimal("-25.00") and chargeback.method == Payment.Method.REVERSAL
    assert chargeback.external_id.startswith(f"mollie-chargeback:{PAYMENT_ID}")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.REVERSED and invoice.open_amount == Decimal("25.00")


def test_a_paid_payment_for_a_written_off_invoice_is_logged_not_retried_forever(
    client, invoice, started, mollie_api, caplog
):
    services.write_off(invoice, actor=None, reason="Onvindbaar")
    replay_get(mollie_api, "payment_paid", invoice=invoice)
    assert webhook(client).status_code == 200
    assert not Payment.objects.exists()
    assert "not recorded" in caplog.text


# --- the return page ---------------------------------------------------------------------------


def test_back_from_mollie_paid_says_thank_you_and_records_the_payment(client, invoice, started, mollie_api):
    replay_get(mollie_api, "payment_paid", invoice=invoice)
    response = client.get(return_url(invoice), **EN)
    assert "Thank you, we received your payment" in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    webhook(client)  # the webhook arrives later: nothing twice
    assert Payment.objects.count() == 1


@pytest.mark.parametrize("name", ["payment_failed", "payment_canceled", "payment_expired"])
def test_back_from_mollie_unpaid_says_nothing_was_charged(client, invoice, started, mollie_api, name):
    replay_get(mollie_api, name, invoice=invoice)
    content = text(client.get(return_url(invoice), **EN))
    assert "Your payment has not come through; nothing was charged" in content


@pytest.mark.parametrize("name", ["payment_open", "payment_pending"])
def test_back_from_mollie_undecided_says_we_are_waiting(client, invoice, started, mollie_api, name):
    replay_get(mollie_api, name, invoice=invoice)
    content = text(client.get(return_url(invoice), **EN))
    assert "We are waiting for your bank's confirmation" in content


def test_back_from_mollie_while_mollie_is_down_says_we_are_waiting(client, invoice, started, mollie_api):
    replay(mollie_api, responses.GET, f"payments/{PAYMENT_ID}", "error_internal", status=500)
    response = client.get(return_url(invoice), **EN)
    assert response.status_code == 200
    assert "We are waiting for your bank's confirmation" in text(response)


def test_the_return_page_without_a_payment_goes_to_the_invoice(client, invoice):
    response = client.get(return_url(invoice))
    assert response.status_code == 302 and response.url == pay_url(invoice)


# --- the provider on its own -------------------------------------------------------------------


def test_fetch_status_reads_mollies_payment(invoice, mollie_api):
    replay_get(mollie_api, "payment_paid_charged_back", invoice=invoice)
    status = MollieProvider().fetch_status(PAYMENT_ID)
    assert (status.status, status.amount, status.method) == ("paid", Decimal("25.00"), "creditcard")
    assert status.amount_charged_back == Decimal("25.00") and status.amount_refunded == Decimal("0.00")
    assert status.invoice_id == invoice.pk
    assert status.paid_at.isoformat() == "2026-11-02T09:15:02+00:00"


def test_fetch_status_of_a_bad_id_raises_without_calling_mollie(mollie_api):
    with pytest.raises(ProviderError):
        MollieProvider().fetch_status("not-a-payment")
    assert not mollie_api.calls


def test_payment_link_is_absolute_and_opens_the_pay_page(client, invoice, settings):
    settings.KRING_BASE_URL = "https://leden.vereniging.nl"
    link = payment_link(invoice)
    assert link.startswith("https://leden.vereniging.nl/pay/")
    assert client.get(link.removeprefix("https://leden.vereniging.nl")).status_code == 200
