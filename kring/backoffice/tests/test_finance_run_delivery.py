"""Sending the invoices of an invoice run: by email once, and the paper ones as one PDF to print."""

import io
from datetime import date

import pytest
from django.urls import reverse
from pypdf import PdfReader

from kring.billing.invoicing import run_invoices
from kring.billing.models import Invoice
from kring.billing.tests import conftest as billing_fixtures
from kring.core.jobs import execute_job
from kring.core.models import BackgroundJob
from kring.members.models import Member
from kring.members.tests.factories import MemberFactory, active_membership

pytestmark = pytest.mark.django_db
sender_details = billing_fixtures.sender_details


@pytest.fixture
def run(cast, sender_details):
    paper = MemberFactory(
        first_name="Gerrit", name_prefix="", last_name="Post", correspondence=Member.Correspondence.PAPER
    )
    active_membership(paper, cast.plan, start=date(2024, 1, 1))
    return run_invoices("2027-Q1", invoice_date=date(2026, 11, 2), actor=cast.treasurer)


def detail(run):
    return reverse("backoffice:finance_run_detail", args=[run.pk])


def test_the_run_page_counts_what_goes_by_email_and_by_post(client, cast, run, django_assert_num_queries):
    client.force_login(cast.treasurer)
    client.get(reverse("backoffice:dashboard"))
    response = client.get(detail(run))
    delivery = response.context["delivery"]
    assert (delivery.emailed, delivery.on_paper) == (0, 1)
    assert delivery.to_email == run.invoice_count - 1 > 0
    assert b'id="run-send"' in response.content and b'id="run-paper"' in response.content


def test_emailing_a_run_sends_each_invoice_once_even_when_pressed_twice(client, cast, run, mailoutbox):
    client.force_login(cast.treasurer)
    url = reverse("backoffice:finance_run_send", args=[run.pk])
    for _press in range(2):
        assert client.post(url).status_code == 302
        # The worker's part (the test database transaction never commits, so run it here).
        for job in BackgroundJob.objects.filter(kind="billing.send_invoices", finished_at__isnull=True):
            execute_job(job.pk)
    assert BackgroundJob.objects.filter(kind="billing.send_invoices").count() == 1
    emailed = Invoice.objects.filter(run=run, email_sent_at__isnull=False)
    assert len(mailoutbox) == emailed.count() == run.invoice_count - 1
    assert all(message.attachments[0][2] == "application/pdf" for message in mailoutbox)
    assert not Invoice.objects.filter(run=run, send_by_post=True, email_sent_at__isnull=False).exists()


def test_the_paper_invoices_come_as_one_pdf_with_the_postal_address(client, cast, run):
    client.force_login(cast.treasurer)
    response = client.get(reverse("backoffice:finance_run_paper_pdf", args=[run.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "Gerrit Post" in text and "Anna" not in text


@pytest.mark.parametrize("role", ["audit_committee", "board", "secretariat"])
def test_only_the_treasurer_may_email_a_run(client, cast, run, role, mailoutbox):
    client.force_login(getattr(cast, role))
    assert client.post(reverse("backoffice:finance_run_send", args=[run.pk])).status_code == 403
    assert not mailoutbox


def test_the_audit_committee_may_download_the_paper_invoices_but_sees_no_send_button(client, cast, run):
    client.force_login(cast.audit_committee)
    assert client.get(reverse("backoffice:finance_run_paper_pdf", args=[run.pk])).status_code == 200
    assert b'id="run-send"' not in client.get(detail(run)).content
