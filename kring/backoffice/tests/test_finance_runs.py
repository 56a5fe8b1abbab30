"""Dues invoicing pages: choose a period, preview, create as a background job, follow it, the result;
who may do what (the treasurer runs, the audit committee only looks)."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from kring.billing import invoicing
from kring.billing.models import Invoice, InvoiceRun
from kring.core.jobs import execute_job
from kring.core.models import BackgroundJob
from kring.members.models import Membership
from kring.members.tests.factories import MemberFactory, PlanFactory

LIST = reverse("backoffice:finance_run_list")
NEW = reverse("backoffice:finance_run_new")
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
# SQLite gets three indexes on the temporary tables; PostgreSQL looks up two names and sets memory first.
PREVIEW_QUERIES = {"sqlite": 56, "postgresql": 61}


def detail_url(run) -> str:
    return reverse("backoffice:finance_run_detail", args=[run.pk])


@pytest.fixture
def members(cast):
    """The cast's two yearly members (from 2024) and two quarterly ones on another plan."""
    plan = PlanFactory(code="steun", name="Steunlid", yearly_price=Decimal("40.00"))
    for _number in range(2):
        Membership.objects.create(
            member=MemberFactory(),
            plan=plan,
            billing_frequency="quarterly",
            status="active",
            start_date=date(2020, 1, 1),
        )
    return cast


@pytest.fixture
def treasurer(client, members):
    client.force_login(members.treasurer)
    return client


def test_the_treasurer_chooses_a_period_sees_the_preview_and_creates_the_invoices(
    treasurer, members, django_assert_num_queries, django_capture_on_commit_callbacks
):
    response = treasurer.get(NEW, **EN)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'value="{invoicing.next_quarter(timezone.localdate())}" selected' in html
    assert 'id="run-preview"' not in html

    # The preview's SQL: temporary tables, the candidates, the lines and the totals (one chunk).
    with django_assert_num_queries(PREVIEW_QUERIES[connection.vendor]):
        response = treasurer.get(NEW, {"period": "2027-Q1", "invoice_date": "2027-01-04"}, **EN)
    html = response.content.decode()
    assert response.status_code == 200 and not Invoice.objects.exists()
    assert 'id="preview-count">4<' in html  # two yearly members (the third ended in 2024), two quarterly
    assert "Steunlid" in html and "Gewoon lid" in html
    assert "240.00" in html and "20.00" in html

    with django_capture_on_commit_callbacks(execute=False):
        response = treasurer.post(NEW, {"period": "2027-Q1", "invoice_date": "2027-01-04"}, **EN)
    run = InvoiceRun.objects.get()
    assert response.status_code == 302 and response["Location"] == detail_url(run)
    assert (run.period, run.invoice_date, run.created_by, run.job.kind) == (
        "2027-Q1",
        date(2027, 1, 4),
        members.treasurer,
        "billing.invoice_run",
    )
    assert not Invoice.objects.exists()  # the job does the work

    # While the job waits, the page shows its progress bar, which polls the job's status.
    with django_assert_num_queries(6):
        html = treasurer.get(detail_url(run), **EN).content.decode()
    assert 'id="job-progress"' in html and reverse("backoffice:job_status", args=[run.job.pk]) in html
    assert treasurer.get(reverse("backoffice:job_status", args=[run.job.pk]), **EN).status_code == 200

    execute_job(run.job.pk)
    with django_assert_num_queries(9):  # + how the invoices are delivered
        html = treasurer.get(detail_url(run), **EN).content.decode()
    assert 'id="run-done"' in html and "4 invoices were created" in html
    assert 'id="run-summary"' in html and "2027-000001" in html
    assert reverse("backoffice:finance_invoice_detail", args=[Invoice.objects.get(sequence=1).pk]) in html
    assert Invoice.objects.count() == 4

    with django_assert_num_queries(6):
        html = treasurer.get(LIST, **EN).content.decode()
    assert detail_url(run) in html and 'id="new-run"' in html

    # Doing the period again: the preview says there is nothing left.
    html = treasurer.get(NEW, {"period": "2027-Q1", "invoice_date": "2027-01-04"}, **EN).content.decode()
    assert 'id="run-nothing"' in html and 'id="run-create"' not in html


def test_a_wrong_period_or_date_is_explained_and_nothing_starts(treasurer):
    response = treasurer.post(NEW, {"period": "2027-Q9", "invoice_date": "vandaag"}, **EN)
    html = response.content.decode()
    assert response.status_code == 200 and 'id="error-summary"' in html
    assert not InvoiceRun.objects.exists() and not BackgroundJob.objects.exists()


def test_a_run_that_stopped_offers_to_do_the_period_again(treasurer, members):
    run = InvoiceRun.objects.create(
        period="2027-Q1",
        period_start=date(2027, 1, 1),
        period_end=date(2027, 3, 31),
        invoice_date=date(2027, 1, 4),
        status=InvoiceRun.Status.FAILED,
    )
    html = treasurer.get(detail_url(run), **EN).content.decode()
    assert 'id="run-failed"' in html and 'id="run-again"' in html
    assert "period=2027-Q1" in html


@pytest.mark.parametrize("role", ["board", "secretariat"])
def test_the_board_and_the_secretariat_cannot_see_or_run_invoicing(client, members, role):
    run = invoicing.run_invoices("2027-Q1", invoice_date=date(2027, 1, 4), actor=members.treasurer)
    client.force_login(getattr(members, role))
    assert client.get(LIST).status_code == 403
    assert client.get(detail_url(run)).status_code == 403
    assert client.get(NEW).status_code == 403
    assert client.post(NEW, {"period": "2027-Q2", "invoice_date": "2027-04-01"}).status_code == 403
    assert InvoiceRun.objects.count() == 1


def test_the_audit_committee_reads_the_runs_but_cannot_run(client, members, django_assert_num_queries):
    run = invoicing.run_invoices("2027-Q1", invoice_date=date(2027, 1, 4), actor=members.treasurer)
    client.force_login(members.audit_committee)
    with django_assert_num_queries(6):
        html = client.get(LIST, **EN).content.decode()
    assert detail_url(run) in html and 'id="new-run"' not in html
    with django_assert_num_queries(9):
        html = client.get(detail_url(run), **EN).content.decode()
    assert 'id="run-done"' in html and "You can look at all invoices" in html
    assert client.get(NEW).status_code == 403
    assert client.post(NEW, {"period": "2027-Q2", "invoice_date": "2027-04-01"}).status_code == 403
    assert InvoiceRun.objects.count() == 1


def test_anonymous_visitors_are_sent_to_the_login(client):
    response = client.get(LIST)
    assert response.status_code == 302 and "login" in response["Location"]


def test_an_older_period_can_be_done_again(treasurer):
    """The periods offered are last year to next year; "do this period again" may ask an older one."""
    response = treasurer.get(NEW, {"period": "2019-Q4", "invoice_date": "2027-01-04"}, **EN)
    html = response.content.decode()
    assert response.status_code == 200 and 'id="run-preview"' in html
    assert 'value="2019-Q4" selected' in html
