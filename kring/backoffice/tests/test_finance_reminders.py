"""Reminder pages of the back office: the schedule, sending now, letters to print, flagged invoices."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from kring.billing import reminders, services
from kring.billing.models import PrintBatch, ReminderStep
from kring.billing.services import LineInput
from kring.core.jobs import execute_job
from kring.core.models import AuditEntry, BackgroundJob
from kring.members.tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

SCHEDULE = reverse("backoffice:finance_reminder_schedule")
SEND = reverse("backoffice:finance_reminders_send")
BATCHES = reverse("backoffice:finance_print_batch_list")
FLAGGED = reverse("backoffice:finance_flagged")


def overdue_invoice(member=None, *, days_overdue: int, amount: str = "25.00"):
    due = timezone.localdate() - timedelta(days=days_overdue)
    return services.create_invoice(
        member=member or MemberFactory(),
        lines=[LineInput("Contributie", Decimal(amount))],
        actor=None,
        invoice_date=due - timedelta(days=14),
        due_date=due,
    )


def login(client, user):
    client.force_login(user)
    return client


def step_url(level: int) -> str:
    return reverse("backoffice:finance_reminder_step_edit", args=[ReminderStep.objects.get(level=level).pk])


# --- the schedule -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role,status", [("treasurer", 200), ("audit_committee", 200), ("secretariat", 200), ("board", 403)]
)
def test_who_sees_the_reminder_schedule(client, cast, role, status):
    assert login(client, getattr(cast, role)).get(SCHEDULE).status_code == status


def test_the_schedule_shows_the_steps_and_what_was_sent(client, cast, django_assert_num_queries):
    overdue_invoice(days_overdue=15)
    overdue_invoice(MemberFactory(correspondence="paper"), days_overdue=15)
    reminders.send_reminders()
    login(client, cast.treasurer)
    client.get(SCHEDULE)  # warm the session
    with django_assert_num_queries(7):
        response = client.get(SCHEDULE, HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert [step.level for step in response.context["steps"]] == [1, 2, 3]
    assert "14 days after the due date" in html and "42 days after the due date" in html
    assert response.context["recent"] == [(1, "email", 1), (1, "paper", 1)]
    assert step_url(1) in html
    assert 'id="send-reminders-now"' in html


def test_the_audit_committee_sees_the_schedule_but_cannot_change_or_send(client, cast):
    html = login(client, cast.audit_committee).get(SCHEDULE).content.decode()
    assert step_url(1) not in html
    assert 'id="send-reminders-now"' not in html
    assert client.get(step_url(1)).status_code == 403
    assert client.post(step_url(1), {"days_after_due": "10", "action": "remind"}).status_code == 403
    assert client.post(SEND).status_code == 403
    assert not BackgroundJob.objects.exists()


# --- changing a step --------------------------------------------------------------------------


def test_the_treasurer_changes_a_step(client, cast, django_assert_max_num_queries):
    login(client, cast.treasurer)
    assert client.get(step_url(2)).status_code == 200
    with django_assert_max_num_queries(14):
        response = client.post(
            step_url(2),
            {
                "days_after_due": "21",
                "action": "remind",
                "subject": "Nog open: {number}",
                "text": "Beste {name},",
            },
        )
    assert response.status_code == 302 and response["Location"] == SCHEDULE
    step = ReminderStep.objects.get(level=2)
    assert (step.days_after_due, step.subject, step.text) == (21, "Nog open: {number}", "Beste {name},")
    assert AuditEntry.objects.filter(action="billing.reminder_step_changed", actor=cast.treasurer).exists()


def test_a_step_before_the_previous_one_is_refused_with_a_clear_message(client, cast):
    login(client, cast.treasurer)
    response = client.post(
        step_url(2),
        {"days_after_due": "10", "action": "remind", "subject": "", "text": ""},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "so it needs more than 14 days" in html
    assert 'id="error-summary"' in html
    assert ReminderStep.objects.get(level=2).days_after_due == 28


def test_an_unknown_placeholder_is_shown_next_to_the_field(client, cast):
    login(client, cast.treasurer)
    response = client.post(
        step_url(1),
        {"days_after_due": "14", "action": "remind", "subject": "Factuur {nummer}", "text": ""},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert response.context["form"].errors["subject"]
    assert ReminderStep.objects.get(level=1).subject != "Factuur {nummer}"


def test_the_secretariat_cannot_change_the_schedule(client, cast):
    login(client, cast.secretariat)
    assert client.get(step_url(1)).status_code == 403
    assert client.post(SEND).status_code == 403


# --- send now ---------------------------------------------------------------------------------


def test_send_now_runs_the_job_and_shows_what_it_did(
    client, cast, django_capture_on_commit_callbacks, mailoutbox
):
    overdue_invoice(days_overdue=15)
    login(client, cast.treasurer)
    assert client.get(SEND).status_code == 405
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(SEND)
    job = BackgroundJob.objects.get(kind="billing.send_reminders")
    assert response.status_code == 302 and response["Location"] == f"{SCHEDULE}?job={job.pk}"
    assert len(queued) == 1  # the job is queued once the request's transaction commits
    execute_job(job.pk)  # what the worker does
    job.refresh_from_db()
    assert job.status == BackgroundJob.Status.SUCCEEDED and job.created_by == cast.treasurer
    assert len(mailoutbox) == 1
    html = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Sent: 1 by email, 0 letters to print, 0 flagged for the secretariat." in html


# --- letters to print -------------------------------------------------------------------------


def paper_batch() -> PrintBatch:
    member = MemberFactory(
        first_name="Gerrit",
        name_prefix="van",
        last_name="Dijk",
        street="Kerkstraat",
        house_number=7,
        postcode="8011 AB",
        city="Zwolle",
        correspondence="paper",
    )
    overdue_invoice(member, days_overdue=15)
    overdue_invoice(MemberFactory(correspondence="paper"), days_overdue=15)
    return reminders.send_reminders().print_batch


@pytest.mark.parametrize(
    "role,status", [("treasurer", 200), ("audit_committee", 200), ("secretariat", 403), ("board", 403)]
)
def test_who_sees_the_letters_to_print(client, cast, role, status):
    batch = paper_batch()
    login(client, getattr(cast, role))
    assert client.get(BATCHES).status_code == status
    assert client.get(reverse("backoffice:finance_print_batch_pdf", args=[batch.pk])).status_code == status


def test_the_treasurer_downloads_the_letters_and_marks_them_printed(client, cast, django_assert_num_queries):
    batch = paper_batch()
    login(client, cast.treasurer)
    client.get(BATCHES)
    with django_assert_num_queries(7):  # session, user, 2× permissions, count, association, page
        response = client.get(BATCHES)
    html = response.content.decode()
    pdf_url = reverse("backoffice:finance_print_batch_pdf", args=[batch.pk])
    printed_url = reverse("backoffice:finance_print_batch_printed", args=[batch.pk])
    assert pdf_url in html and printed_url in html

    # session, user, 2× permissions, batch, association, billing settings, steps, letters
    with django_assert_num_queries(9):
        response = client.get(pdf_url)
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "Gerrit van Dijk" in text and "Kerkstraat 7" in text and "8011 AB" in text

    assert client.get(printed_url).status_code == 405
    response = client.post(printed_url)
    assert response.status_code == 302 and response["Location"] == BATCHES
    batch.refresh_from_db()
    assert batch.printed_at is not None
    assert printed_url not in client.get(BATCHES).content.decode()


def test_the_audit_committee_cannot_mark_letters_printed(client, cast):
    batch = paper_batch()
    login(client, cast.audit_committee)
    url = reverse("backoffice:finance_print_batch_printed", args=[batch.pk])
    assert url not in client.get(BATCHES).content.decode()
    assert client.post(url).status_code == 403
    batch.refresh_from_db()
    assert batch.printed_at is None


# --- flagged for the secretariat --------------------------------------------------------------


@pytest.mark.parametrize(
    "role,status", [("secretariat", 200), ("treasurer", 200), ("audit_committee", 200), ("board", 403)]
)
def test_who_sees_the_flagged_invoices(client, cast, role, status):
    assert login(client, getattr(cast, role)).get(FLAGGED).status_code == status


def test_the_secretariat_sees_whom_to_follow_up(client, cast, django_assert_num_queries):
    flagged = overdue_invoice(cast.other_member, days_overdue=50, amount="40.00")
    services.record_payment(
        flagged, amount=Decimal("10"), paid_on=timezone.localdate(), method="transfer", actor=None
    )
    paid = overdue_invoice(days_overdue=45)
    for _ in range(3):
        overdue_invoice(days_overdue=43)
    reminders.send_reminders()
    services.record_payment(
        paid, amount=Decimal("25"), paid_on=timezone.localdate(), method="transfer", actor=None
    )

    login(client, cast.secretariat)
    client.get(FLAGGED)
    with django_assert_num_queries(7):  # session, user, 2× permissions, count, page, association
        response = client.get(FLAGGED, HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    invoices = [invoice for invoice, _days in response.context["rows"]]
    assert invoices[0] == flagged and paid not in invoices and len(invoices) == 4
    assert response.context["rows"][0][1] == 50
    assert reverse("backoffice:member_detail", args=[cast.other_member.pk]) in html
    assert "€\u00a030.00" in html
    assert "4 invoices need follow-up." in html
