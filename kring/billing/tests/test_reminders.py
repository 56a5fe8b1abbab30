"""Payment reminders: the schedule, each step once, email through a real SMTP server, paper letters,
flags for the secretariat, failures retried, and two runs at once on PostgreSQL."""

import io
import threading
from datetime import date, timedelta
from decimal import Decimal
from importlib import import_module

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.db.models import F
from django.utils import translation
from pypdf import PdfReader

from kring.billing import reminders, services
from kring.billing.letters import render_print_batch_pdf
from kring.billing.models import Invoice, PrintBatch, Reminder, ReminderStep
from kring.billing.queries import flagged_invoices
from kring.billing.references import format_reference
from kring.billing.services import LineInput
from kring.core.jobs import execute_job, start_job
from kring.core.models import AuditEntry, BackgroundJob
from kring.members.models import Member, PaymentMethod
from kring.members.tests.factories import MemberFactory, ensure_default_lists

TODAY = date(2026, 6, 1)  # in the past: payments cannot be dated in the future

pytestmark = pytest.mark.django_db


def overdue_invoice(member=None, *, days_overdue: int, today: date = TODAY, amount: str = "25.00", **kwargs):
    """An invoice made with the real service, whose due date lies `days_overdue` days before `today`."""
    due = today - timedelta(days=days_overdue)
    return services.create_invoice(
        member=member or MemberFactory(),
        lines=[LineInput("Contributie 2027", Decimal(amount))],
        actor=None,
        invoice_date=due - timedelta(days=14),
        due_date=due,
        **kwargs,
    )


def run(today: date = TODAY, actor=None) -> reminders.ReminderReport:
    return reminders.send_reminders(today=today, actor=actor)


def age_unsent_reminders(delta=timedelta(days=1)) -> None:
    """Let time pass for reminders waiting to be retried (a later run, e.g. tomorrow's)."""
    Reminder.objects.filter(sent_at__isnull=True).update(created_at=F("created_at") - delta)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


# --- the schedule ---------------------------------------------------------------------------------


def test_the_default_schedule_reminds_after_14_and_28_days_and_flags_after_42(smtp_sink, sender_details):
    invoice = overdue_invoice(days_overdue=0)
    due = invoice.due_date

    assert run(due + timedelta(days=13)).total_sent == 0
    assert not Reminder.objects.exists() and smtp_sink.messages == []

    report = run(due + timedelta(days=14))
    assert report.sent == {(1, "email"): 1}
    [first] = smtp_sink.messages
    assert first["To"].addresses[0].addr_spec == invoice.recipient_email
    assert invoice.number in first["Subject"]

    assert run(due + timedelta(days=20)).total_sent == 0  # nothing between the steps

    report = run(due + timedelta(days=28))
    assert report.sent == {(2, "email"): 1}
    assert len(smtp_sink.messages) == 2

    report = run(due + timedelta(days=42))
    assert report.sent == {(3, "flag"): 1}
    assert len(smtp_sink.messages) == 2  # a flag is for the secretariat, not the member
    invoice.refresh_from_db()
    assert invoice.flagged_at is not None
    assert list(flagged_invoices()) == [invoice]
    assert list(invoice.reminders.values_list("level", "channel")) == [
        (1, "email"),
        (2, "email"),
        (3, "flag"),
    ]
    assert all(invoice.reminders.values_list("sent_at", flat=True))
    assert AuditEntry.objects.filter(action="billing.invoice_flagged", object_id=str(invoice.pk)).count() == 1


def test_an_invoice_found_long_overdue_gets_only_the_latest_step(smtp_sink):
    second_due = overdue_invoice(days_overdue=30)
    long_overdue = overdue_invoice(days_overdue=60)
    report = run()
    assert report.sent == {(2, "email"): 1, (3, "flag"): 1}
    assert list(second_due.reminders.values_list("level", flat=True)) == [2]
    assert list(long_overdue.reminders.values_list("level", flat=True)) == [3]
    assert len(smtp_sink.messages) == 1
    # Tomorrow the earlier steps are not sent after all.
    assert run(TODAY + timedelta(days=1)).total_sent == 0
    assert len(smtp_sink.messages) == 1


def test_running_twice_the_same_day_sends_nothing_the_second_time(smtp_sink):
    invoices = [overdue_invoice(days_overdue=15) for _ in range(3)]
    paper = overdue_invoice(MemberFactory(correspondence=Member.Correspondence.PAPER), days_overdue=15)
    first = run()
    assert first.sent == {(1, "email"): 3, (1, "paper"): 1}
    second = run()
    assert second.total_sent == 0 and second.created == 0 and second.print_batch is None
    assert len(smtp_sink.messages) == 3
    assert Reminder.objects.count() == 4
    assert PrintBatch.objects.count() == 1
    assert sorted(m["To"].addresses[0].addr_spec for m in smtp_sink.messages) == sorted(
        i.recipient_email for i in invoices
    )
    assert paper.reminders.get().print_batch == first.print_batch


def test_settled_invoices_and_credit_notes_never_get_reminders(smtp_sink):
    paid = overdue_invoice(days_overdue=20)
    services.record_payment(
        paid, amount=Decimal("25"), paid_on=TODAY - timedelta(days=1), method="transfer", actor=None
    )
    credited = overdue_invoice(days_overdue=20)
    services.create_credit_note(
        credited, actor=None, reason="Dubbel gefactureerd", credit_date=TODAY - timedelta(days=1)
    )
    written_off = services.write_off(overdue_invoice(days_overdue=20), actor=None, reason="Lid overleden")
    in_collection = overdue_invoice(days_overdue=20)
    Invoice.objects.filter(pk=in_collection.pk).update(status=Invoice.Status.IN_COLLECTION)
    direct_debit = overdue_invoice(days_overdue=20, payment_method=PaymentMethod.DIRECT_DEBIT)
    free = overdue_invoice(days_overdue=20, amount="0.00")

    report = run()

    assert report.total_sent == 0 and smtp_sink.messages == []
    assert not Reminder.objects.filter(
        invoice__in=[paid, credited, written_off, in_collection, direct_debit, free]
    ).exists()
    assert not Reminder.objects.filter(invoice__kind=Invoice.Kind.CREDIT_NOTE).exists()


def test_partly_paid_and_bounced_direct_debits_are_reminded_of_what_is_still_open(smtp_sink, sender_details):
    partly = overdue_invoice(days_overdue=20, amount="40.00")
    services.record_payment(
        partly, amount=Decimal("15"), paid_on=TODAY - timedelta(days=3), method="transfer", actor=None
    )
    bounced = overdue_invoice(days_overdue=20, payment_method=PaymentMethod.DIRECT_DEBIT)
    services.record_payment(
        bounced, amount=Decimal("25"), paid_on=TODAY - timedelta(days=9), method="direct_debit", actor=None
    )
    services.record_payment(
        bounced, amount=Decimal("-25"), paid_on=TODAY - timedelta(days=5), method="reversal", actor=None
    )

    assert run().sent == {(1, "email"): 2}
    bodies = {
        m["To"].addresses[0].addr_spec: m.get_body(("plain",)).get_content() for m in smtp_sink.messages
    }
    assert "€\u00a025,00" in bodies[partly.recipient_email]  # 40 − 15
    assert "€\u00a025,00" in bodies[bounced.recipient_email]


def test_an_unsent_reminder_of_an_invoice_paid_since_is_dropped(smtp_sink):
    invoice = overdue_invoice(days_overdue=15)
    smtp_sink.fail_next_data = 1
    assert run().total_failed == 1
    services.record_payment(invoice, amount=Decimal("25"), paid_on=TODAY, method="transfer", actor=None)
    age_unsent_reminders()
    report = run(TODAY + timedelta(days=1))
    assert report.dropped == 1 and report.total_sent == 0
    assert smtp_sink.messages == [] and not Reminder.objects.exists()


# --- email ----------------------------------------------------------------------------------------


def test_the_email_says_what_is_open_and_how_to_pay_with_the_invoice_attached(smtp_sink, sender_details):
    member = MemberFactory(
        first_name="Anna", name_prefix="de", last_name="Wit", email="anna.wit@example.test"
    )
    invoice = overdue_invoice(member, days_overdue=15, amount="37.50")
    run()
    [message] = smtp_sink.messages
    assert message["Subject"] == f"Herinnering: factuur {invoice.number}"  # the step's subject, filled in
    assert message["Reply-To"] == "penningmeester@kring.test"
    body = message.get_body(("plain",)).get_content()
    assert invoice.recipient_name in body
    assert invoice.number in body
    assert "€\u00a037,50" in body
    assert "NL91 ABNA 0417 1643 00" in body
    assert format_reference(invoice.payment_reference) in body
    assert "Vereniging Kring Eëndracht" in body
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename().endswith(".pdf")
    assert invoice.number in pdf_text(attachment.get_content())


def test_the_steps_own_subject_and_text_are_used_with_placeholders_filled_in(smtp_sink):
    ReminderStep.objects.filter(level=1).update(
        subject="Nog open: {number}",
        text="Beste lid,\n\nFactuur {number} van {amount} had op {due_date} betaald moeten zijn. {onbekend}",
    )
    invoice = overdue_invoice(days_overdue=14, amount="12.50")
    run()
    [message] = smtp_sink.messages
    assert message["Subject"] == f"Nog open: {invoice.number}"
    body = message.get_body(("plain",)).get_content()
    with translation.override("nl"):
        due_text = reminders.format_day(invoice.due_date)
    assert (
        f"Factuur {invoice.number} van €\u00a012,50 had op {due_text} betaald moeten zijn. {{onbekend}}"
        in body
    )


def test_a_refused_email_is_tried_again_on_a_later_run_and_sent_only_once(smtp_sink):
    first, second = overdue_invoice(days_overdue=15), overdue_invoice(days_overdue=15)
    smtp_sink.fail_next_data = 1  # the server says "try again later" to the first message

    report = run()
    assert report.total_failed == 1 and report.sent == {(1, "email"): 1}
    assert len(smtp_sink.messages) == 1
    failed = Reminder.objects.get(sent_at__isnull=True)

    # A run right after it leaves the reminder alone: it could still be another run's.
    assert run().total_sent == 0 and len(smtp_sink.messages) == 1

    age_unsent_reminders(timedelta(minutes=10))
    report = run()
    assert report.sent == {(1, "email"): 1} and report.total_failed == 0
    assert len(smtp_sink.messages) == 2
    recipients = sorted(m["To"].addresses[0].addr_spec for m in smtp_sink.messages)
    assert recipients == sorted([first.recipient_email, second.recipient_email])
    failed.refresh_from_db()
    assert failed.sent_at is not None

    assert run(TODAY + timedelta(days=1)).total_sent == 0
    assert len(smtp_sink.messages) == 2


def test_when_the_mail_server_is_down_nothing_is_lost(settings):
    overdue_invoice(days_overdue=15)
    overdue_invoice(days_overdue=15)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nobody listens
    report = run()
    assert report.total_failed == 2 and report.total_sent == 0
    assert Reminder.objects.filter(sent_at__isnull=True).count() == 2
    assert not AuditEntry.objects.filter(action="billing.reminder_sent").exists()


def test_an_address_the_mail_server_refuses_gets_the_reminder_on_paper(smtp_sink):
    invoice = overdue_invoice(days_overdue=15)
    smtp_sink.refuse_recipients.add(invoice.recipient_email)
    report = run()
    assert report.rerouted == 1 and report.sent == {(1, "paper"): 1}
    reminder = invoice.reminders.get()
    assert reminder.channel == "paper" and reminder.print_batch == report.print_batch
    assert smtp_sink.messages == []


def test_the_send_reminders_command_prints_counts_per_step_and_channel(smtp_sink):
    overdue_invoice(days_overdue=15)
    overdue_invoice(MemberFactory(correspondence=Member.Correspondence.PAPER), days_overdue=30)
    out = io.StringIO()
    with translation.override("en"):
        call_command("send_reminders", "--date", TODAY.isoformat(), stdout=out)
    text = out.getvalue()
    assert "step 1, email: 1" in text
    assert "step 2, paper: 1" in text
    assert "1 letters to print and post" in text
    out = io.StringIO()
    with translation.override("en"):
        call_command("send_reminders", "--date", TODAY.isoformat(), stdout=out)
    assert "Nothing to send today." in out.getvalue()


def test_the_command_refuses_a_wrong_date():
    with pytest.raises(CommandError):
        call_command("send_reminders", "--date", "1-3-2027")


def test_the_background_job_sends_the_reminders_and_reports_what_it_did(cast, smtp_sink):
    overdue_invoice(days_overdue=15)
    job = start_job("billing.send_reminders", params={"date": TODAY.isoformat()}, user=cast.treasurer)
    execute_job(job.pk)
    job.refresh_from_db()
    assert job.status == BackgroundJob.Status.SUCCEEDED, job.error
    assert job.result["emails"] == 1 and job.result["letters"] == 0
    assert len(smtp_sink.messages) == 1
    entry = AuditEntry.objects.get(action="billing.reminder_sent")
    assert entry.actor == cast.treasurer


# --- paper ----------------------------------------------------------------------------------------


def test_members_who_prefer_paper_land_in_one_print_batch_with_their_address(smtp_sink, sender_details):
    on_paper = MemberFactory(
        first_name="Gerrit",
        name_prefix="van",
        last_name="Dijk",
        street="Kerkstraat",
        house_number=7,
        postcode="8011 AB",
        city="Zwolle",
        correspondence=Member.Correspondence.PAPER,
    )
    without_email = MemberFactory(
        last_name="Zonderpost", email="", street="Markt", house_number=3, city="Gouda"
    )
    paper_invoice = overdue_invoice(on_paper, days_overdue=15, amount="60.00")
    overdue_invoice(without_email, days_overdue=29)
    overdue_invoice(days_overdue=15)  # by email

    report = run()

    assert report.sent == {(1, "email"): 1, (1, "paper"): 1, (2, "paper"): 1}
    batch = report.print_batch
    assert batch.kind == PrintBatch.Kind.REMINDERS and batch.letter_count == 2
    assert PrintBatch.objects.count() == 1
    text = pdf_text(render_print_batch_pdf(batch))
    assert "Gerrit van Dijk" in text
    assert "Kerkstraat 7" in text
    assert "8011 AB" in text and "ZWOLLE" in text
    assert "Markt 3" in text and "GOUDA" in text
    assert paper_invoice.number in text
    assert "60,00" in text
    assert "NL91 ABNA 0417 1643 00" in text
    assert format_reference(paper_invoice.payment_reference) in text
    assert "Herinnering" in text
    assert len(PdfReader(io.BytesIO(render_print_batch_pdf(batch))).pages) == 2


def test_a_letter_for_an_invoice_paid_after_the_batch_was_made_is_left_out(smtp_sink):
    paid_later = overdue_invoice(MemberFactory(correspondence="paper", last_name="Betaler"), days_overdue=15)
    overdue_invoice(MemberFactory(correspondence="paper", last_name="Wachter"), days_overdue=15)
    batch = run().print_batch
    services.record_payment(paid_later, amount=Decimal("25"), paid_on=TODAY, method="transfer", actor=None)
    text = pdf_text(render_print_batch_pdf(batch))
    assert "Wachter" in text and "Betaler" not in text


def test_marking_a_print_batch_printed_is_recorded_once(cast, smtp_sink):
    overdue_invoice(MemberFactory(correspondence="paper"), days_overdue=15)
    batch = run().print_batch
    reminders.mark_print_batch_printed(batch, actor=cast.treasurer)
    first = PrintBatch.objects.get(pk=batch.pk).printed_at
    reminders.mark_print_batch_printed(batch, actor=cast.treasurer)
    assert PrintBatch.objects.get(pk=batch.pk).printed_at == first
    assert AuditEntry.objects.filter(action="billing.print_batch_printed").count() == 1


# --- editing the schedule -------------------------------------------------------------------------


def test_steps_must_come_strictly_later_than_the_step_before(cast):
    second = ReminderStep.objects.get(level=2)
    for days in (14, 10, 42, 50, 0):
        with pytest.raises(ValidationError) as caught:
            reminders.update_reminder_step(
                second, actor=cast.treasurer, days_after_due=days, action="remind", subject="", text=""
            )
        assert "days_after_due" in caught.value.error_dict
    reminders.update_reminder_step(
        second, actor=cast.treasurer, days_after_due=21, action="remind", subject="Tweede: {number}", text=""
    )
    second.refresh_from_db()
    assert second.days_after_due == 21 and second.subject == "Tweede: {number}"
    assert AuditEntry.objects.filter(action="billing.reminder_step_changed").count() == 1


def test_an_unknown_placeholder_is_refused(cast):
    with pytest.raises(ValidationError) as caught:
        reminders.update_reminder_step(
            ReminderStep.objects.get(level=1),
            actor=cast.treasurer,
            days_after_due=14,
            action="remind",
            subject="Factuur {nummer}",
            text="",
        )
    assert "subject" in caught.value.error_dict


# --- two runs at once -----------------------------------------------------------------------------


def restore_default_schedule():
    """Transactional tests start from an emptied database, without the migration's schedule."""
    import_module("kring.billing.migrations.0002_default_reminder_schedule").add_default_steps(apps, None)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_the_same_time_send_every_reminder_once(smtp_sink):
    ensure_default_lists()
    restore_default_schedule()
    by_email = [overdue_invoice(days_overdue=15) for _ in range(12)]
    on_paper = [overdue_invoice(MemberFactory(correspondence="paper"), days_overdue=30) for _ in range(5)]
    flagged = [overdue_invoice(days_overdue=50) for _ in range(3)]
    start = threading.Barrier(2)
    reports, errors = [], []

    def worker():
        try:
            start.wait()
            reports.append(reminders.send_reminders(today=TODAY))
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(reports) == 2

    recipients = sorted(m["To"].addresses[0].addr_spec for m in smtp_sink.messages)
    assert recipients == sorted(i.recipient_email for i in by_email)  # each exactly once
    assert Reminder.objects.count() == 20
    assert not Reminder.objects.filter(sent_at__isnull=True).exists()
    assert sum(r.total_sent for r in reports) == 20
    letters = Reminder.objects.filter(channel="paper")
    assert letters.count() == 5 and letters.filter(print_batch__isnull=False).count() == 5
    assert sum(b.letter_count for b in PrintBatch.objects.all()) == 5
    assert Invoice.objects.filter(pk__in=[i.pk for i in flagged], flagged_at__isnull=False).count() == 3
    assert all(i.reminders.count() == 1 for i in on_paper)
