"""Reminder letters on paper: one PDF per print batch, one letter per reminder.

Each letter is an A4 page laid out for a window envelope with the window on the left (DIN 5008
form B, which Dutch C5/6 and DL window envelopes follow): the sender's return line and the
recipient's name and address sit in the window field 20 mm from the left and 45 mm from the top;
fold marks at 105 mm and 210 mm. Beside the window: the date and the invoice number. Below: the
reminder itself (the same words as the email, `reminders.reminder_text`), the invoice's number,
date, due date and the amount still open, and how to pay, with the EPC QR code.

The drawing helpers (fonts, the payment box, the footer) are those of the invoice PDF
(`kring.billing.pdf`), so letters and invoices look alike.

A batch is rendered from the database each time it is downloaded. A letter whose invoice was
paid (or credited, or collected) after the batch was made is left out: nobody should get a
reminder for an invoice they have paid.
"""

import io
from datetime import date

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from kring.billing import epc_qr
from kring.billing.models import Invoice, PrintBatch, Reminder, ReminderStep
from kring.billing.pdf import (
    BODY,
    BOLD,
    FONT,
    LEADING,
    LEFT,
    MUTED,
    RIGHT,
    RULE,
    TOP,
    Sender,
    _InvoicePages,
    format_day,
    pdf_text,
)
from kring.billing.reminders import ReminderText, reminder_text

PAGE_WIDTH, PAGE_HEIGHT = A4
# DIN 5008 form B: the address field is 85 × 45 mm, 20 mm from the left and 45 mm from the top;
# its first 17.7 mm hold the return line, the recipient's address follows.
WINDOW_LEFT = 20 * mm
WINDOW_WIDTH = 85 * mm
RETURN_LINE_Y = PAGE_HEIGHT - 52 * mm
ADDRESS_Y = PAGE_HEIGHT - 63 * mm
ADDRESS_LINES = 6
INFO_LEFT = 125 * mm
INFO_Y = PAGE_HEIGHT - 55 * mm
SUBJECT_Y = PAGE_HEIGHT - 108 * mm
FOLD_MARKS = (PAGE_HEIGHT - 105 * mm, PAGE_HEIGHT - 210 * mm)
PUNCH_MARK = PAGE_HEIGHT / 2


class _ReminderLetter(_InvoicePages):
    """One reminder letter; page breaks, the payment box and the footer are the invoice PDF's."""

    def __init__(
        self, canvas: Canvas, invoice: Invoice, sender: Sender, *, text: ReminderText, letter_date: date
    ):
        super().__init__(canvas, invoice, sender)
        self.reminder = text
        self.letter_date = letter_date

    def title(self) -> str:
        return _("Reminder")

    def draw(self) -> int:
        self.c.setLineCap(0)
        self.marks()
        self.letterhead()
        self.window()
        self.info_block()
        self.body()
        self.end_page()
        return self.pages

    def marks(self) -> None:
        c = self.c
        c.setStrokeColorRGB(*RULE)
        c.setLineWidth(0.5)
        for y in (*FOLD_MARKS, PUNCH_MARK):
            c.line(4 * mm, y, 9 * mm if y != PUNCH_MARK else 7 * mm, y)

    def letterhead(self) -> None:
        """The association's name on the left; its address and numbers on the right, clear of the window."""
        sender = self.sender
        self.text(LEFT, TOP - 16, sender.association.name, font=BOLD, size=16)
        y = TOP - 12
        for line in sender.address_lines() + sender.contact_lines() + sender.registration_lines():
            self.text(RIGHT, y, line, size=9.5, color=MUTED, align="right")
            y -= 12

    def window(self) -> None:
        sender = self.sender
        return_line = "  ·  ".join([sender.association.name, *sender.address_lines()])
        line = (simpleSplit(pdf_text(return_line), FONT, 7, WINDOW_WIDTH) or [""])[0]
        self.text(WINDOW_LEFT, RETURN_LINE_Y, line, size=7, color=MUTED)
        self.rule(RETURN_LINE_Y - 2, x1=WINDOW_LEFT, x2=WINDOW_LEFT + WINDOW_WIDTH, color=RULE, width=0.4)
        invoice = self.invoice
        lines = [invoice.recipient_name, *(line.strip() for line in invoice.recipient_address.splitlines())]
        y = ADDRESS_Y
        for line in [line for line in lines if line][:ADDRESS_LINES]:
            fitted = (simpleSplit(pdf_text(line), FONT, BODY + 0.5, WINDOW_WIDTH) or [""])[0]
            self.text(WINDOW_LEFT, y, fitted, size=BODY + 0.5)
            y -= LEADING - 1

    def info_block(self) -> None:
        invoice = self.invoice
        rows = [(_("Date"), format_day(self.letter_date)), (_("Invoice number"), invoice.number)]
        if invoice.member_id and invoice.member.member_number:
            rows.append((_("Member number"), invoice.member.member_number))
        y = INFO_Y
        for label, value in rows:
            self.text(INFO_LEFT, y, label, size=9, color=MUTED)
            self.text(INFO_LEFT, y - 11, value, size=10.5)
            y -= 27

    def body(self) -> None:
        text = self.reminder
        width = RIGHT - LEFT
        self.y = SUBJECT_Y
        for line in simpleSplit(pdf_text(text.subject), BOLD, 14, width):
            self.text(LEFT, self.y, line, font=BOLD, size=14)
            self.y -= 18
        self.y -= 8
        self.wrapped(LEFT, text.greeting, width)
        self.y -= 6
        for paragraph in text.paragraphs:
            self.wrapped(LEFT, paragraph, width)
            self.y -= 6
        self.y -= 2
        value_x = LEFT + 45 * mm
        for label, value in text.details:
            self.need(LEADING)
            self.text(LEFT, self.y, label, size=10.5, color=MUTED)
            self.text(value_x, self.y, value, font=BOLD if label == text.details[-1][0] else FONT)
            self.y -= LEADING
        self.y -= 12
        payload = epc_qr.epc_payload(
            self.invoice, billing_settings=self.sender.billing_settings, association=self.sender.association
        )
        self.payment_box(_("How to pay"), text.payment, [text.payment_note], payload)
        self.y -= 4
        self.wrapped(LEFT, text.closing[0], width)
        self.y -= 10
        for line in text.closing[1:]:
            self.wrapped(LEFT, line, width)


def batch_letters(batch: PrintBatch) -> list[tuple[Reminder, Invoice]]:
    """The reminders of the batch whose invoice still has money open, by country and name."""
    reminders = (
        Reminder.objects.filter(print_batch=batch)
        .select_related("invoice__member")
        .order_by("invoice__recipient_country", "invoice__recipient_name", "pk")
    )
    return [
        (reminder, reminder.invoice)
        for reminder in reminders
        if reminder.invoice.status in Invoice.UNSETTLED_STATUSES and reminder.invoice.open_amount > 0
    ]


def render_print_batch_pdf(batch: PrintBatch, *, language: str | None = None) -> bytes:
    """All letters of a print batch in one PDF, each on its own page (three queries)."""
    with translation.override(language or settings.LANGUAGE_CODE):
        sender = Sender.load()
        steps = {step.level: step for step in ReminderStep.objects.all()}
        first_level = min(
            (step.level for step in steps.values() if step.action == ReminderStep.Action.REMIND), default=1
        )
        letter_date = timezone.localdate(batch.created_at)
        buffer = io.BytesIO()
        canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
        canvas.setCreator("Kring")
        canvas.setAuthor(pdf_text(sender.association.name))
        canvas.setTitle(pdf_text(_("Reminders of %(date)s") % {"date": format_day(letter_date)}))
        letters = batch_letters(batch)
        for reminder, invoice in letters:
            text = reminder_text(
                invoice,
                steps.get(reminder.level),
                level=reminder.level,
                first_level=first_level,
                context=sender,
            )
            _ReminderLetter(canvas, invoice, sender, text=text, letter_date=letter_date).draw()
        if not letters:
            canvas.setFont(FONT, BODY)
            canvas.drawString(LEFT, TOP, pdf_text(_("There are no letters to print in this batch.")))
            canvas.showPage()
        canvas.save()
        return buffer.getvalue()


def print_batch_filename(batch: PrintBatch) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        word = _("reminders")
    return f"{word}-{timezone.localdate(batch.created_at):%Y-%m-%d}-{batch.pk}.pdf"
