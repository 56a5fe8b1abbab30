"""Invoices by email, with the PDF attached, through the configured SMTP server; never twice.

Sending is claimed first with one conditional UPDATE (`email_sent_at` and `email_claimed_at` both
empty → claimed now). Of two workers that try the same invoice at once, the database lets one
win; only the winner sends. After the mail server accepted the message `email_sent_at` is set;
when the server refuses or cannot be reached, the claim is released so the next run tries again.

A worker that dies between its claim and the mail server's answer leaves the claim in place:
the invoice is then not sent again automatically (it may have gone out), and
`release_stale_claims` lets the treasurer decide.
"""

import logging
import smtplib
from collections.abc import Callable, Iterable
from datetime import timedelta
from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils import timezone, translation
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

from kring.billing import epc_qr, queries
from kring.billing.links import payment_link
from kring.billing.models import BillingSettings, Invoice
from kring.billing.pdf import (
    Sender,
    format_amount,
    format_day,
    format_iban,
    invoice_filename,
    render_invoice_pdf,
)
from kring.billing.references import format_reference
from kring.core.audit import log_action
from kring.members.models import PaymentMethod

logger = logging.getLogger(__name__)

# Invoices loaded and sent per round trip to the database.
CHUNK = 200
# Refusals that concern this one message; anything else (server down, timeout) stops the batch.
MESSAGE_REFUSALS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused)


def can_email(invoice: Invoice) -> bool:
    return not invoice.send_by_post and bool(invoice.recipient_email)


def _subject(invoice: Invoice, billing_settings: BillingSettings) -> str:
    if invoice.is_credit_note:
        return _("Credit note %(number)s") % {"number": invoice.number}
    template = billing_settings.invoice_email_subject or _("Invoice {number}")
    try:
        return template.format(number=invoice.number)
    except (KeyError, IndexError, ValueError):
        return _("Invoice %(number)s") % {"number": invoice.number}


def _content(invoice: Invoice, sender: Sender) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """The message as (opening paragraphs, payment details as label/value, closing paragraphs)."""
    name = sender.association.name
    opening = [_("Dear %(name)s,") % {"name": invoice.recipient_name}]
    details: list[tuple[str, str]] = []
    closing: list[str] = []
    if invoice.is_credit_note:
        opening.append(
            _("Attached is credit note %(number)s from %(association)s.")
            % {"number": invoice.number, "association": name}
        )
        if invoice.credited_invoice_id:
            opening.append(_("It corrects invoice %(number)s.") % {"number": invoice.credited_invoice.number})
        if invoice.open_amount < 0:
            opening.append(
                _("We will refund %(amount)s to you, or settle it with an invoice you still have to pay.")
                % {"amount": format_amount(-invoice.open_amount)}
            )
        else:
            opening.append(_("The amount has been settled. You do not need to do anything."))
    else:
        opening.append(
            _("Attached is invoice %(number)s from %(association)s for %(amount)s.")
            % {"number": invoice.number, "association": name, "amount": format_amount(invoice.total)}
        )
        if epc_qr.transfer_amount(invoice) is not None:
            opening.append(
                _("Please transfer the amount before %(date)s.") % {"date": format_day(invoice.due_date)}
            )
            details.append((_("Amount to pay"), format_amount(invoice.open_amount)))
            details.append((_("Pay before"), format_day(invoice.due_date)))
            if sender.billing_settings.iban:
                details.append((_("To account (IBAN)"), format_iban(sender.billing_settings.iban)))
                details.append((_("In the name of"), sender.account_name))
            details.append((_("Payment reference"), format_reference(invoice.payment_reference)))
            if sender.billing_settings.online_provider != BillingSettings.OnlineProvider.NONE:
                opening.append(
                    _("You can also pay online with iDEAL, Bancontact or a card: %(link)s")
                    % {"link": payment_link(invoice)}
                )
            closing.append(_("Always state the payment reference: then we can match your payment."))
            if sender.billing_settings.iban:
                closing.append(_("You can also scan the QR code on the invoice with your banking app."))
        elif invoice.payment_method == PaymentMethod.DIRECT_DEBIT and invoice.open_amount > 0:
            opening.append(_("You do not need to do anything: the amount will be collected by direct debit."))
            details.append((_("Amount"), format_amount(invoice.open_amount)))
            details.append(
                (
                    _("Collection date"),
                    format_day(invoice.collection_date)
                    if invoice.collection_date
                    else _("we will let you know the date separately"),
                )
            )
            account = getattr(invoice, "debit_account_masked", None)
            if account and (invoice.payer_member_id or not invoice.membership_payer_id):
                details.append((_("From account"), account))
            if invoice.mandate_reference:
                details.append((_("Mandate reference"), invoice.mandate_reference))
        else:
            opening.append(_("Nothing remains to be paid on this invoice."))
    contact = sender.association.email
    if contact:
        closing.append(_("Questions? Reply to this email or write to %(email)s.") % {"email": contact})
    else:
        closing.append(_("Questions? Reply to this email."))
    closing.append(_("Kind regards,") + "\n" + name)
    return opening, details, closing


def _bodies(invoice: Invoice, sender: Sender) -> tuple[str, str]:
    opening, details, closing = _content(invoice, sender)
    width = max((len(label) for label, _value in details), default=0)
    text_parts = ["\n\n".join(opening)]
    if details:
        text_parts.append("\n".join(f"{label + ':':<{width + 2}}{value}" for label, value in details))
    text_parts.append("\n\n".join(closing))
    text = "\n\n".join(text_parts) + "\n"

    def paragraph_html(item: str):
        lines = item.split("\n")
        return format_html(
            '<p style="margin:0 0 1em">{}{}</p>',
            format_html_join("", "{}<br>", ((line,) for line in lines[:-1])),
            lines[-1],
        )

    rows = format_html_join(
        "",
        '<tr><th scope="row" style="text-align:left;font-weight:normal;color:#444;padding:4px 16px 4px 0">{}</th>'
        '<td style="font-weight:bold;padding:4px 0">{}</td></tr>',
        details,
    )
    table = (
        format_html(
            '<table role="presentation" style="border-collapse:collapse;margin:0 0 1em">{}</table>', rows
        )
        if details
        else ""
    )
    html = format_html(
        '<!DOCTYPE html><html lang="{}"><head><meta charset="utf-8"><title>{}</title></head>'
        '<body style="font-family:Arial,Helvetica,sans-serif;font-size:17px;line-height:1.5;color:#1a1a1a">'
        "{}{}{}</body></html>",
        translation.get_language() or settings.LANGUAGE_CODE,
        _subject(invoice, sender.billing_settings),
        format_html_join("", "{}", ((paragraph_html(p),) for p in opening)),
        table,
        format_html_join("", "{}", ((paragraph_html(p),) for p in closing)),
    )
    return text, str(html)


def build_invoice_email(
    invoice: Invoice, *, sender: Sender | None = None, connection=None
) -> EmailMultiAlternatives:
    """The email for one invoice, in the invoice's language, with its PDF attached (not sent)."""
    with translation.override(settings.LANGUAGE_CODE):
        sender = sender or Sender.load()
        text, html = _bodies(invoice, sender)
        message = EmailMultiAlternatives(
            subject=_subject(invoice, sender.billing_settings),
            body=text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[formataddr((invoice.recipient_name, invoice.recipient_email))],
            reply_to=[sender.association.email] if sender.association.email else None,
            connection=connection,
        )
        message.attach_alternative(html, "text/html")
        message.attach(
            invoice_filename(invoice), render_invoice_pdf(invoice, sender=sender), "application/pdf"
        )
        return message


def _claim(invoice: Invoice) -> bool:
    now = timezone.now()
    claimed = Invoice.objects.filter(
        pk=invoice.pk, email_sent_at__isnull=True, email_claimed_at__isnull=True
    ).update(email_claimed_at=now)
    if claimed:
        invoice.email_claimed_at = now
    return bool(claimed)


def _release(invoice: Invoice) -> None:
    Invoice.objects.filter(
        pk=invoice.pk, email_sent_at__isnull=True, email_claimed_at=invoice.email_claimed_at
    ).update(email_claimed_at=None)
    invoice.email_claimed_at = None


def send_invoice_email(
    invoice: Invoice, *, connection=None, sender: Sender | None = None, actor=None
) -> bool:
    """Email the invoice with its PDF to its recipient. True if this call sent it.

    False when it goes by post, has no email address, or was sent (or is being sent) already.
    A failure of the mail server is raised, with the invoice left unsent so it can be tried again.
    Pass `actor` when a person asked for it: the sending is then recorded in the audit log.
    """
    if not can_email(invoice) or not _claim(invoice):
        return False
    try:
        message = build_invoice_email(invoice, sender=sender, connection=connection)
        message.send()
    except Exception:
        _release(invoice)
        raise
    sent_at = timezone.now()
    Invoice.objects.filter(pk=invoice.pk).update(email_sent_at=sent_at)
    invoice.email_sent_at = sent_at
    if actor is not None:
        log_action(
            "billing.invoice_emailed",
            actor=actor,
            obj=invoice,
            member_id=invoice.member_id,
            changes=[{"field": "email_sent_at", "before": "", "after": sent_at.isoformat()}],
            note=invoice.recipient_email,
        )
    return True


def send_invoice_emails(
    invoice_ids: Iterable[int], *, progress: Callable[[int, int], None] | None = None
) -> tuple[int, int]:
    """Email many invoices over one SMTP connection. Returns (sent, skipped).

    Skipped: on paper, no email address, already sent or being sent by another worker, or
    refused by the mail server for this message (logged; the next run tries it again). When the
    server cannot be reached the claim is released and the error raised: run it again later.
    """
    ids = list(invoice_ids)
    sent = skipped = 0
    sender = Sender.load()
    connection = get_connection()
    connection.open()
    try:
        for start in range(0, len(ids), CHUNK):
            for invoice in queries.invoices_for_pdf_by_ids(ids[start : start + CHUNK]):
                try:
                    if send_invoice_email(invoice, connection=connection, sender=sender):
                        sent += 1
                    else:
                        skipped += 1
                except MESSAGE_REFUSALS as exc:
                    logger.warning(
                        "invoice %s to %s refused by the mail server: %s",
                        invoice.number,
                        invoice.recipient_email,
                        exc,
                    )
                    skipped += 1
            if progress:
                progress(min(start + CHUNK, len(ids)), len(ids))
    finally:
        connection.close()
    skipped += len(ids) - sent - skipped  # ids of invoices that no longer exist
    return sent, skipped


def release_stale_claims(*, older_than: timedelta = timedelta(hours=1)) -> int:
    """Make invoices whose sending was claimed long ago but never confirmed sendable again.

    Only for after a crash: such an invoice may have been delivered just before the worker died.
    """
    return Invoice.objects.filter(
        email_sent_at__isnull=True, email_claimed_at__lt=timezone.now() - older_than
    ).update(email_claimed_at=None)
