"""Switching plans, cancelling and ending in the back office correct the dues already invoiced,
and the page says which credit notes and invoices were made."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from kring.billing import services as billing_services
from kring.billing.models import Invoice
from kring.billing.services import LineInput
from kring.members.models import CancellationReason
from kring.members.tests.factories import PlanFactory

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def url(name, membership):
    return reverse(f"backoffice:{name}", args=[membership.pk])


@pytest.fixture
def membership(cast):
    return cast.member.memberships.get()


@pytest.fixture
def invoice_2026(membership):
    """The cast's yearly dues for 2026 (€ 120), as an invoice run makes them."""
    return billing_services.create_invoice(
        member=membership.member,
        lines=[LineInput(membership.plan.name, Decimal("120.00"))],
        actor=None,
        invoice_date=date(2026, 1, 1),
        membership=membership,
        dues_period_start=date(2026, 1, 1),
        payer_position=0,
        period_start=date(2026, 1, 1),
        period_end=date(2026, 12, 31),
    )


def shown(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_switching_plans_mid_year_makes_a_credit_note_and_a_new_invoice(
    client, cast, membership, invoice_2026, django_assert_max_num_queries
):
    senior = PlanFactory(code="senior", name="Senior", yearly_price=Decimal("60.00"))
    client.force_login(cast.secretariat)
    with django_assert_max_num_queries(84):
        response = client.post(
            url("membership_switch_plan", membership),
            {"plan": senior.pk, "effective_date": "2026-07-01", "billing_frequency": "yearly"},
            **EN,
        )
    assert response.status_code == 302
    note = invoice_2026.credit_notes.get()
    new = Invoice.objects.get(membership__plan=senior)
    # 120 × 181/365 = 59.51 kept, 60.49 credited; Senior 60 × 184/365 = 30.25.
    assert (note.total, new.total) == (Decimal("-60.49"), Decimal("30.25"))
    messages = shown(response)
    assert any(note.number in m and "Credit note" in m for m in messages)
    assert any(new.number in m and "Invoice" in m for m in messages)


def test_cancelling_mid_year_credits_the_rest_of_the_year(client, cast, membership, invoice_2026):
    client.force_login(cast.secretariat)
    reason = CancellationReason.objects.order_by("pk").first()
    response = client.post(
        url("membership_cancel", membership),
        {"reason": reason.pk, "cancelled_on": "2026-09-01", "end_date": "2026-09-30"},
        **EN,
    )
    assert response.status_code == 302
    note = invoice_2026.credit_notes.get()
    assert note.total == Decimal("-30.25")
    assert any(note.number in m for m in shown(response))


def test_cancelling_at_the_end_of_the_term_makes_no_credit_note(client, cast, membership, invoice_2026):
    client.force_login(cast.secretariat)
    reason = CancellationReason.objects.order_by("pk").first()
    response = client.post(
        url("membership_cancel", membership), {"reason": reason.pk, "cancelled_on": "2026-11-01"}, **EN
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.end_date == date(2026, 12, 31)
    assert not invoice_2026.credit_notes.exists()
    assert not any("Credit note" in m for m in shown(response))


def test_ending_a_membership_credits_the_rest(client, cast, membership, invoice_2026):
    client.force_login(cast.secretariat)
    response = client.post(
        url("membership_status", membership), {"status": "ended", "effective_date": "2026-06-30"}, **EN
    )
    assert response.status_code == 302
    assert invoice_2026.credit_notes.get().total == Decimal("-60.49")


def test_an_invoice_in_collection_is_named_as_left_for_after_the_collection(
    client, cast, membership, invoice_2026
):
    Invoice.objects.filter(pk=invoice_2026.pk).update(status=Invoice.Status.IN_COLLECTION)
    senior = PlanFactory(code="senior", name="Senior", yearly_price=Decimal("60.00"))
    client.force_login(cast.secretariat)
    response = client.post(
        url("membership_switch_plan", membership),
        {"plan": senior.pk, "effective_date": "2026-07-01", "billing_frequency": "yearly"},
        **EN,
    )
    assert response.status_code == 302
    assert Invoice.objects.count() == 1
    assert any(invoice_2026.number in m and "after the collection" in m for m in shown(response))
