"""The invoice PDF download and "email this invoice now" in the back office."""

import io

import pytest
from django.urls import NoReverseMatch, reverse
from pypdf import PdfReader

from kring.billing.models import Invoice
from kring.billing.tests import conftest as billing_fixtures
from kring.billing.tests.factories import InvoiceFactory
from kring.core.models import AuditEntry

# The billing tests' fixtures: the association on invoices, and a local SMTP server.
sender_details = billing_fixtures.sender_details
smtp_sink = billing_fixtures.smtp_sink


def pdf_url(invoice):
    return reverse("backoffice:finance_invoice_pdf", args=[invoice.pk])


def send_url(invoice):
    return reverse("backoffice:finance_invoice_send", args=[invoice.pk])


def invoice_page(invoice):
    try:
        return reverse("backoffice:finance_invoice_detail", args=[invoice.pk])
    except NoReverseMatch:
        return reverse("backoffice:member_detail", args=[invoice.member_id])


@pytest.fixture
def invoice(cast, sender_details):
    return InvoiceFactory(member=cast.member, sequence=123)


@pytest.mark.parametrize("role", ["treasurer", "audit_committee", "secretariat"])
def test_staff_who_may_see_invoices_get_the_pdf_inline(
    client, cast, invoice, role, django_assert_num_queries
):
    client.force_login(getattr(cast, role))
    client.get(reverse("backoffice:dashboard"))  # session and second-factor checks settle first
    with django_assert_num_queries(
        8
    ):  # session, user, permissions (2), invoice, lines, association, settings
        response = client.get(pdf_url(invoice))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] in (
        'inline; filename="factuur-2027-000123.pdf"',
        'inline; filename="invoice-2027-000123.pdf"',
    )
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert "2027-000123" in text and "Anna van den Berg" in text


def test_members_and_strangers_get_no_pdf(client, cast, invoice):
    assert client.get(pdf_url(invoice)).status_code == 302  # to the login page
    client.force_login(cast.member.user)
    assert client.get(pdf_url(invoice)).status_code == 403
    client.force_login(cast.treasurer)
    assert client.get(reverse("backoffice:finance_invoice_pdf", args=[invoice.pk + 1000])).status_code == 404


def test_treasurer_emails_the_invoice_now_once(
    client, cast, invoice, smtp_sink, django_assert_max_num_queries
):
    client.force_login(cast.treasurer)
    client.get(reverse("backoffice:dashboard"))
    with django_assert_max_num_queries(14):
        response = client.post(send_url(invoice))
    assert response.status_code == 302 and response["Location"] == invoice_page(invoice)
    assert len(smtp_sink.messages) == 1
    assert smtp_sink.messages[0]["To"].addresses[0].addr_spec == "anna@example.test"
    invoice.refresh_from_db()
    assert invoice.email_sent_at is not None
    assert AuditEntry.objects.filter(action="billing.invoice_emailed", actor=cast.treasurer).count() == 1

    response = client.post(send_url(invoice), follow=True)
    assert len(smtp_sink.messages) == 1
    assert [m.level_tag for m in response.context["messages"]][-1] == "info"


def test_a_mail_server_problem_is_told_and_nothing_changes(client, cast, invoice, smtp_sink):
    smtp_sink.fail_next_data = 1
    client.force_login(cast.treasurer)
    response = client.post(send_url(invoice), follow=True)
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    invoice.refresh_from_db()
    assert invoice.email_sent_at is None and invoice.email_claimed_at is None


def test_a_paper_invoice_is_not_emailed(client, cast, invoice, smtp_sink):
    Invoice.objects.filter(pk=invoice.pk).update(send_by_post=True)
    client.force_login(cast.treasurer)
    response = client.post(send_url(invoice), follow=True)
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    assert smtp_sink.messages == []


@pytest.mark.parametrize("role", ["audit_committee", "secretariat", "board"])
def test_read_only_roles_cannot_send(client, cast, invoice, smtp_sink, role):
    client.force_login(getattr(cast, role))
    assert client.post(send_url(invoice)).status_code == 403
    assert smtp_sink.messages == []


def test_sending_needs_a_post(client, cast, invoice):
    client.force_login(cast.treasurer)
    assert client.get(send_url(invoice)).status_code == 405
