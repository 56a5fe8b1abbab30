"""Invoice emails through a real SMTP server (a local sink): PDF attached, never sent twice."""

import smtplib
import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import close_old_connections, connection

from kring.billing import mail, queries
from kring.billing.models import Invoice, InvoiceRun
from kring.billing.tests.factories import CreditNoteFactory, InvoiceFactory
from kring.core.jobs import execute_job
from kring.core.models import AuditEntry, BackgroundJob
from kring.members.models import PaymentMethod
from kring.members.tests.factories import MemberFactory, UserFactory, ensure_default_lists

pytestmark = pytest.mark.django_db


def attachments(message):
    return [part for part in message.iter_attachments()]


def test_invoice_is_emailed_with_its_pdf_attached(sender_details, smtp_sink, settings):
    settings.DEFAULT_FROM_EMAIL = "Kring <facturen@kring.test>"
    member = MemberFactory(
        first_name="Anna", name_prefix="van den", last_name="Berg", email="anna@example.test"
    )
    invoice = InvoiceFactory(sequence=123, member=member)

    assert mail.send_invoice_email(queries.invoice_for_pdf(invoice.pk)) is True

    [message] = smtp_sink.messages
    assert message["Subject"] == "Factuur 2027-000123"  # the subject set in the billing settings
    assert message["From"] == "Kring <facturen@kring.test>"
    assert message["To"] == "Anna van den Berg <anna@example.test>"
    assert message["Reply-To"] == "penningmeester@kring.test"
    [attachment] = attachments(message)
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename().endswith("-2027-000123.pdf")
    assert attachment.get_content().startswith(b"%PDF-")
    text = message.get_body(preferencelist=("plain",)).get_content()
    for expected in (
        "Anna van den Berg",
        "2027-000123",
        "€\u00a012,50",
        "19 januari 2027",
        "NL91 ABNA 0417 1643 00",
    ):
        assert expected in text, expected
    assert "2202 7000 0000 0123" in text
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "2202 7000 0000 0123" in html and "<table" in html
    invoice.refresh_from_db()
    assert invoice.email_sent_at is not None


def test_filename_is_dutch_by_default(sender_details):
    invoice = InvoiceFactory(sequence=123)
    assert mail.build_invoice_email(invoice).attachments[0][0] in (
        "factuur-2027-000123.pdf",
        "invoice-2027-000123.pdf",
    )


def test_direct_debit_email_tells_that_nothing_needs_to_be_done(sender_details, smtp_sink, settings):
    settings.LANGUAGE_CODE = "en"
    invoice = InvoiceFactory(payment_method=PaymentMethod.DIRECT_DEBIT, mandate_reference="KRING-7")
    mail.send_invoice_email(queries.invoice_for_pdf(invoice.pk))
    text = smtp_sink.messages[0].get_body(preferencelist=("plain",)).get_content()
    assert "collected by direct debit" in text and "KRING-7" in text
    assert "we will let you know the date separately" in text
    assert "Payment reference" not in text


def test_credit_note_email_names_the_corrected_invoice(sender_details, smtp_sink, settings):
    settings.LANGUAGE_CODE = "en"
    original = InvoiceFactory(sequence=40)
    note = CreditNoteFactory(credited_invoice=original, sequence=41)
    mail.send_invoice_email(queries.invoice_for_pdf(note.pk))
    [message] = smtp_sink.messages
    assert message["Subject"] == "Credit note 2027-000041"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "It corrects invoice 2027-000040." in text and "We will refund" in text
    assert attachments(message)[0].get_filename() == "credit-note-2027-000041.pdf"


def test_sending_twice_sends_once(sender_details, smtp_sink):
    invoice = InvoiceFactory()
    assert mail.send_invoice_email(queries.invoice_for_pdf(invoice.pk)) is True
    assert mail.send_invoice_email(queries.invoice_for_pdf(invoice.pk)) is False
    stale_copy = Invoice.objects.get(pk=invoice.pk)
    Invoice.objects.filter(pk=invoice.pk).update(email_claimed_at=None)  # even without the claim
    assert mail.send_invoice_email(stale_copy) is False
    assert len(smtp_sink.messages) == 1


def test_paper_invoices_and_invoices_without_address_are_not_emailed(sender_details, smtp_sink):
    on_paper = InvoiceFactory(send_by_post=True)
    no_address = InvoiceFactory(recipient_email="")
    assert mail.send_invoice_email(on_paper) is False
    assert mail.send_invoice_email(no_address) is False
    assert smtp_sink.messages == []
    assert not Invoice.objects.filter(email_claimed_at__isnull=False).exists()


def test_a_mail_server_failure_leaves_the_invoice_unsent_and_retryable(sender_details, smtp_sink):
    invoice = InvoiceFactory()
    smtp_sink.fail_next_data = 1
    with pytest.raises(smtplib.SMTPDataError):
        mail.send_invoice_email(queries.invoice_for_pdf(invoice.pk))
    invoice.refresh_from_db()
    assert invoice.email_sent_at is None and invoice.email_claimed_at is None
    assert queries.unsent_invoice_ids() == [invoice.pk]

    assert mail.send_invoice_email(queries.invoice_for_pdf(invoice.pk)) is True
    assert len(smtp_sink.messages) == 1


def test_an_unreachable_mail_server_leaves_the_invoice_unsent(sender_details, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens
    invoice = InvoiceFactory()
    with pytest.raises(OSError):
        mail.send_invoice_email(queries.invoice_for_pdf(invoice.pk))
    invoice.refresh_from_db()
    assert invoice.email_sent_at is None and invoice.email_claimed_at is None


def test_many_invoices_go_over_one_connection(sender_details, smtp_sink, django_assert_max_num_queries):
    invoices = [InvoiceFactory() for _ in range(6)]
    paper = InvoiceFactory(send_by_post=True)
    ids = [invoice.pk for invoice in invoices] + [paper.pk]
    # Per invoice: claim + mark sent; per chunk: invoices + lines; once: association + settings.
    with django_assert_max_num_queries(2 * len(invoices) + 4):
        sent, skipped = mail.send_invoice_emails(ids)
    assert (sent, skipped) == (6, 1)
    assert len(smtp_sink.messages) == 6 and len(set(smtp_sink.peers)) == 1
    assert {m["To"].addresses[0].addr_spec for m in smtp_sink.messages} == {
        i.recipient_email for i in invoices
    }


def test_a_refused_recipient_is_skipped_and_the_others_are_sent(sender_details, smtp_sink, caplog):
    good, refused = InvoiceFactory(), InvoiceFactory(recipient_email="gone@example.test")
    smtp_sink.refuse_recipients.add("gone@example.test")
    assert mail.send_invoice_emails([refused.pk, good.pk]) == (1, 1)
    refused.refresh_from_db()
    assert refused.email_sent_at is None and refused.email_claimed_at is None  # tried again next time
    assert "gone@example.test" in caplog.text


def test_send_invoices_command_sends_what_is_unsent_and_is_safe_to_run_again(sender_details, smtp_sink):
    run = InvoiceRun.objects.create(
        period="2027-Q1", period_start="2027-01-01", period_end="2027-03-31", invoice_date="2027-01-05"
    )
    in_run = [InvoiceFactory(run=run) for _ in range(3)]
    other = InvoiceFactory()
    InvoiceFactory(send_by_post=True)

    out = StringIO()
    call_command("send_invoices", "--run", str(run.pk), "--limit", "2", stdout=out)
    assert len(smtp_sink.messages) == 2 and "2" in out.getvalue()
    call_command("send_invoices", "--run", str(run.pk), stdout=StringIO())
    assert len(smtp_sink.messages) == 3
    call_command("send_invoices", stdout=StringIO())
    call_command("send_invoices", stdout=StringIO())
    assert len(smtp_sink.messages) == 4
    assert set(Invoice.objects.filter(email_sent_at__isnull=False).values_list("pk", flat=True)) == {
        i.pk for i in [*in_run, other]
    }


def test_stale_claims_can_be_released_by_the_command(sender_details, smtp_sink):
    from datetime import timedelta

    from django.utils import timezone

    invoice = InvoiceFactory()
    Invoice.objects.filter(pk=invoice.pk).update(email_claimed_at=timezone.now() - timedelta(hours=3))
    call_command("send_invoices", stdout=StringIO())
    assert smtp_sink.messages == []  # a crashed send is not repeated on its own
    call_command("send_invoices", "--release-stale", stdout=StringIO())
    assert len(smtp_sink.messages) == 1


def test_background_job_sends_with_progress(sender_details, smtp_sink):
    invoices = [InvoiceFactory() for _ in range(3)]
    job = BackgroundJob.objects.create(kind="billing.send_invoices", params={})
    execute_job(job.pk)
    job.refresh_from_db()
    assert job.status == BackgroundJob.Status.SUCCEEDED, job.error
    assert job.result == {"sent": 3, "skipped": 0}
    assert (job.progress_done, job.progress_total) == (3, 3)
    assert len(smtp_sink.messages) == len(invoices)


def test_a_person_sending_is_recorded_in_the_audit_log(sender_details, smtp_sink):
    invoice = InvoiceFactory()
    treasurer = UserFactory(email="penningmeester@example.test", is_staff=True)
    mail.send_invoice_email(queries.invoice_for_pdf(invoice.pk), actor=treasurer)
    entry = AuditEntry.objects.get(action="billing.invoice_emailed")
    assert entry.actor == treasurer and entry.object_id == str(invoice.pk)


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_for_the_same_invoice_send_it_once(smtp_sink):
    if connection.vendor != "postgresql":
        # The in-memory test database's shared cache refuses concurrent writers outright ("table is
        # locked") instead of waiting; the sequential stale-copy case is in test_sending_twice_sends_once.
        pytest.skip("concurrent writers need PostgreSQL (or a file database)")
    ensure_default_lists()
    invoice = InvoiceFactory()
    start = threading.Barrier(4)
    results, errors = [], []

    def worker():
        try:
            copy = queries.invoice_for_pdf(invoice.pk)
            start.wait()
            results.append(mail.send_invoice_email(copy))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sorted(results) == [False, False, False, True]
    assert len(smtp_sink.messages) == 1


def test_with_online_payment_on_the_email_carries_the_members_payment_link(sender_details, smtp_sink):
    from kring.billing.links import payment_link
    from kring.billing.models import BillingSettings

    BillingSettings.objects.update(online_provider=BillingSettings.OnlineProvider.MOLLIE)
    invoice = InvoiceFactory(sequence=124)
    assert mail.send_invoice_email(queries.invoice_for_pdf(invoice.pk)) is True
    [message] = smtp_sink.messages
    assert payment_link(invoice) in message.get_body(preferencelist=("plain",)).get_content()


def test_without_online_payment_there_is_no_payment_link(sender_details, smtp_sink):
    invoice = InvoiceFactory(sequence=125)
    mail.send_invoice_email(queries.invoice_for_pdf(invoice.pk))
    [message] = smtp_sink.messages
    assert "/pay/" not in message.get_body(preferencelist=("plain",)).get_content()
