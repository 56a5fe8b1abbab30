"""Invoices and credit notes as PDF, drawn with reportlab's canvas (quick: no layout engine).

One drawing routine serves a single invoice (download, email attachment) and a batch of many in
one file (the paper print batch). Everything the Dutch invoicing rules ask is on the page: the
number, the date, the association's name, address, KvK and VAT number, the recipient's name and
address as they were on the invoice date, the lines with quantity, price, VAT rate and amount,
the totals with the VAT per rate or the exemption text, and how to pay: the transfer details
with the payment reference and the EPC QR code, or the direct-debit date and mandate reference.

The text is set in Helvetica (WinAnsi: €, é, ë, ü, ß …); a character outside that set is written
without its accent rather than as a black box. Amounts are Decimal throughout.
"""

import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils import translation
from django.utils.formats import date_format
from django.utils.text import slugify
from django.utils.translation import gettext as _
from reportlab import rl_config
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from kring.billing import epc_qr
from kring.billing.models import ZERO, BillingSettings, Invoice
from kring.billing.references import format_reference
from kring.core.models import Association
from kring.members.models import PaymentMethod
from kring.members.validation import format_phone

CENT = Decimal("0.01")

# Compressed page streams stay binary instead of being ASCII85-encoded as well: a quarter smaller,
# and the encoding (pure Python without reportlab's optional C accelerator) took a tenth of the time.
rl_config.useA85 = 0

PAGE_WIDTH, PAGE_HEIGHT = A4
LEFT = 20 * mm
RIGHT = PAGE_WIDTH - 20 * mm
TOP = PAGE_HEIGHT - 18 * mm
BOTTOM = 26 * mm  # below this only the footer
# The recipient's address sits where a Dutch window envelope (C5/6, DL) shows it.
ADDRESS_TOP = PAGE_HEIGHT - 50 * mm
TITLE_TOP = PAGE_HEIGHT - 85 * mm

FONT = "Helvetica"
BOLD = "Helvetica-Bold"
ITALIC = "Helvetica-Oblique"
BODY = 11  # points: comfortable for older readers on paper
SMALL = 9.5
LEADING = 15

INK = (0.10, 0.10, 0.10)
MUTED = (0.33, 0.33, 0.33)  # still above 7:1 contrast on white
RULE = (0.75, 0.75, 0.75)
SHADE = (0.94, 0.95, 0.96)

# Columns of the lines table: right edges of the number columns.
COL_AMOUNT = RIGHT
COL_VAT = RIGHT - 82
COL_PRICE = RIGHT - 122
COL_QUANTITY = RIGHT - 200
DESCRIPTION_WIDTH = COL_QUANTITY - 55 - LEFT
QR_SIZE = 32 * mm  # comfortably scannable from paper (a module is about 0.6 mm)


# --- formatting -----------------------------------------------------------------------------------


def format_amount(value: Decimal, language: str | None = None) -> str:
    """'€ 1.234,56' in Dutch, '€ 1,234.56' in English (with a non-breaking space)."""
    amount = Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    language = language or translation.get_language() or settings.LANGUAGE_CODE
    whole, _sep, cents = f"{abs(amount):f}".partition(".")
    grouped = f"{int(whole):,}"
    number = f"{grouped}.{cents}" if language.startswith("en") else f"{grouped.replace(',', '.')},{cents}"
    return f"€\u00a0{'-' if amount < 0 else ''}{number}"


def format_day(day: date) -> str:
    """'15 januari 2027' in the active language."""
    return date_format(day, "j F Y")


def format_number(value: Decimal, language: str | None = None) -> str:
    """A quantity or rate without needless zeros: 1, 2,5 (Dutch) / 2.5 (English)."""
    text = f"{Decimal(value).normalize():f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    language = language or translation.get_language() or settings.LANGUAGE_CODE
    return text if language.startswith("en") else text.replace(".", ",")


def format_iban(iban: str) -> str:
    compact = re.sub(r"\s", "", iban or "").upper()
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def invoice_filename(invoice: Invoice) -> str:
    """'factuur-2027-000123.pdf' (in the invoice's language)."""
    with translation.override(settings.LANGUAGE_CODE):
        word = _("credit note") if invoice.is_credit_note else _("invoice")
    number = re.sub(r"[^A-Za-z0-9_-]+", "-", invoice.number).strip("-")
    return f"{slugify(word)}-{number}.pdf"


_FALLBACK = str.maketrans({"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "ı": "i", "Ħ": "H", "ħ": "h"})


def pdf_text(text: str) -> str:
    """Text Helvetica can show: characters outside WinAnsi lose their accent (Dvořák → Dvorak)."""
    try:
        text.encode("cp1252")
        return text
    except UnicodeEncodeError:
        pass
    characters = []
    for character in text:
        try:
            character.encode("cp1252")
        except UnicodeEncodeError:
            character = unicodedata.normalize("NFKD", character.translate(_FALLBACK))
            character = "".join(c for c in character if not unicodedata.combining(c))
            character = character.encode("cp1252", "replace").decode("cp1252")
        characters.append(character)
    return "".join(characters)


# --- what every invoice in a document shares --------------------------------------------------------


@dataclass
class Sender:
    association: Association
    billing_settings: BillingSettings

    @classmethod
    def load(cls) -> "Sender":
        return cls(association=Association.current(), billing_settings=BillingSettings.current())

    @property
    def account_name(self) -> str:
        return epc_qr.beneficiary_name(self.billing_settings, self.association)

    def address_lines(self) -> list[str]:
        association = self.association
        street = " ".join(part for part in (association.street, association.house_number) if part)
        place = "  ".join(part for part in (association.postcode, association.city) if part)
        return [line for line in (street, place) if line]

    def registration_lines(self) -> list[str]:
        association = self.association
        lines = []
        if association.kvk_number:
            lines.append(f"{_('KvK number')} {association.kvk_number}")
        if association.enterprise_number:
            lines.append(f"{_('Enterprise number')} {association.enterprise_number}")
        if association.vat_number:
            lines.append(f"{_('VAT number')} {association.vat_number}")
        return lines

    def contact_lines(self) -> list[str]:
        association = self.association
        return [
            line for line in (association.email, format_phone(association.phone), association.website) if line
        ]


# --- drawing ------------------------------------------------------------------------------------


class _InvoicePages:
    """Draws one invoice on the canvas, from the top of a fresh page, adding pages as it needs them."""

    def __init__(self, canvas: Canvas, invoice: Invoice, sender: Sender):
        self.c = canvas
        self.invoice = invoice
        self.sender = sender
        self.language = translation.get_language() or settings.LANGUAGE_CODE
        self.page = 1
        self.y = TOP
        self.pages = 0

    # small drawing helpers

    def text(self, x, y, text, *, font=FONT, size=BODY, color=INK, align="left"):
        c = self.c
        c.setFont(font, size)
        c.setFillColorRGB(*color)
        text = pdf_text(text)
        if align == "right":
            c.drawRightString(x, y, text)
        elif align == "center":
            c.drawCentredString(x, y, text)
        else:
            c.drawString(x, y, text)

    def wrapped(self, x, text, width, *, font=FONT, size=BODY, color=INK, leading=LEADING) -> None:
        """A paragraph from self.y downwards, wrapped to `width`; moves self.y below it."""
        for line in simpleSplit(pdf_text(text), font, size, width):
            self.need(leading)
            self.text(x, self.y, line, font=font, size=size, color=color)
            self.y -= leading

    def rule(self, y, *, x1=LEFT, x2=RIGHT, color=RULE, width=0.6):
        c = self.c
        c.setStrokeColorRGB(*color)
        c.setLineWidth(width)
        c.line(x1, y, x2, y)

    def money(self, value) -> str:
        return format_amount(value, self.language)

    def need(self, height: float) -> None:
        """Start a new page when `height` points no longer fit above the footer."""
        if self.y - height < BOTTOM:
            self.text(
                RIGHT,
                BOTTOM - 3 * mm,
                _("Continued on the next page"),
                size=SMALL,
                color=MUTED,
                align="right",
            )
            self.end_page()
            self.page += 1
            self.y = TOP
            self.text(LEFT, self.y - 12, f"{self.title()} {self.invoice.number}", font=BOLD, size=13)
            self.text(
                RIGHT,
                self.y - 12,
                _("page %(page)s") % {"page": self.page},
                size=SMALL,
                color=MUTED,
                align="right",
            )
            self.y -= 40

    def end_page(self) -> None:
        self.footer()
        self.c.showPage()
        self.pages += 1

    def title(self) -> str:
        return _("Credit note") if self.invoice.is_credit_note else _("Invoice")

    # the parts of the page

    def draw(self) -> int:
        self.c.setLineCap(0)
        self.header()
        self.recipient()
        self.heading_and_details()
        self.lines_table()
        self.totals()
        self.payment()
        self.end_page()
        return self.pages

    def header(self) -> None:
        sender = self.sender
        y = TOP - 16
        self.text(LEFT, y, sender.association.name, font=BOLD, size=16)
        y -= 18
        for line in sender.address_lines():
            self.text(LEFT, y, line, size=10, color=MUTED)
            y -= 13
        right_y = TOP - 14
        for line in sender.contact_lines() + sender.registration_lines():
            self.text(RIGHT, right_y, line, size=10, color=MUTED, align="right")
            right_y -= 13

    def recipient(self) -> None:
        invoice = self.invoice
        y = ADDRESS_TOP
        lines = [invoice.recipient_name, *(line.strip() for line in invoice.recipient_address.splitlines())]
        for line in lines:
            if line:
                self.text(LEFT, y, line, size=BODY + 0.5)
                y -= LEADING

    def heading_and_details(self) -> None:
        invoice = self.invoice
        self.y = TITLE_TOP
        self.text(LEFT, self.y, self.title(), font=BOLD, size=22)
        self.y -= 28
        rows = [
            (_("Credit note number") if invoice.is_credit_note else _("Invoice number"), invoice.number),
            (_("Date") if invoice.is_credit_note else _("Invoice date"), format_day(invoice.invoice_date)),
        ]
        if invoice.is_credit_note:
            if invoice.credited_invoice_id:
                rows.append((_("Corrects invoice"), invoice.credited_invoice.number))
        else:
            rows.append((_("Due date"), format_day(invoice.due_date)))
        if invoice.member_id and invoice.member.member_number:
            rows.append((_("Member number"), invoice.member.member_number))
        if invoice.recipient_reference:
            rows.append((_("Your reference"), invoice.recipient_reference))
        if invoice.period_start and invoice.period_end:
            rows.append(
                (_("Period"), f"{format_day(invoice.period_start)} – {format_day(invoice.period_end)}")
            )
        if invoice.description:
            rows.append((_("Regarding"), invoice.description))
        value_x = LEFT + 42 * mm
        for label, value in rows:
            self.text(LEFT, self.y, label, size=10.5, color=MUTED)
            for number, line in enumerate(simpleSplit(pdf_text(value), FONT, BODY, RIGHT - value_x)):
                if number:
                    self.y -= LEADING
                self.text(value_x, self.y, line)
            self.y -= LEADING
        self.y -= 6

    @property
    def has_vat(self) -> bool:
        return self.invoice.vat_amount != 0 or any(line.vat_rate for line in self.invoice.lines.all())

    def table_header(self) -> None:
        excl = self.has_vat
        self.need(3 * LEADING)
        y = self.y
        self.text(LEFT, y, _("Description"), font=BOLD, size=10.5)
        for x, label in (
            (COL_QUANTITY, _("Quantity")),
            (COL_PRICE, _("Price")),
            (COL_VAT, _("VAT")),
            (COL_AMOUNT, _("Amount")),
        ):
            self.text(x, y, label, font=BOLD, size=10.5, align="right")
        if excl:
            y -= 12
            for x in (COL_PRICE, COL_AMOUNT):
                self.text(x, y, _("excl. VAT"), size=SMALL, color=MUTED, align="right")
        self.rule(y - 5, color=INK, width=0.8)
        self.y = y - LEADING - 6

    def lines_table(self) -> None:
        self.table_header()
        excl = self.has_vat
        for line in self.invoice.lines.all():
            parts = simpleSplit(pdf_text(line.description), FONT, BODY, DESCRIPTION_WIDTH)
            height = len(parts) * LEADING + 6
            if self.y - height < BOTTOM:
                self.need(height + 2 * LEADING)
                self.table_header()
            if excl:
                quantity = line.quantity or Decimal(1)
                price = (line.amount_excl_vat / quantity).quantize(CENT, rounding=ROUND_HALF_UP)
                amount = line.amount_excl_vat
            else:
                price, amount = line.unit_price, line.amount
            y = self.y
            self.text(COL_QUANTITY, y, format_number(line.quantity, self.language), align="right")
            self.text(COL_PRICE, y, self.money(price), align="right")
            self.text(COL_VAT, y, f"{format_number(line.vat_rate, self.language)}%", align="right")
            self.text(COL_AMOUNT, y, self.money(amount), align="right")
            for part in parts:
                self.text(LEFT, self.y, part)
                self.y -= LEADING
            self.rule(self.y + LEADING - 5 - 1)
            self.y -= 6

    def totals(self) -> None:
        invoice = self.invoice
        rows: list[tuple[str, Decimal, bool]] = []
        if self.has_vat:
            rows.append((_("Total excl. VAT"), invoice.total_excl_vat, False))
            groups: dict[Decimal, list[Decimal]] = {}
            for line in invoice.lines.all():
                base, vat = groups.setdefault(line.vat_rate, [ZERO, ZERO])
                groups[line.vat_rate] = [base + line.amount_excl_vat, vat + line.vat_amount]
            for rate, (base, vat) in sorted(groups.items()):
                if rate:
                    label = _("VAT %(rate)s%% on %(base)s") % {
                        "rate": format_number(rate, self.language),
                        "base": self.money(base),
                    }
                    rows.append((label, vat, False))
        rows.append((_("Total"), invoice.total, True))
        if not invoice.is_credit_note and (invoice.amount_paid or invoice.amount_credited):
            if invoice.amount_paid:
                rows.append((_("Already paid"), -invoice.amount_paid, False))
            if invoice.amount_credited:
                rows.append((_("Credited"), -invoice.amount_credited, False))
            rows.append((_("Still to pay"), invoice.open_amount, True))
        self.need(len(rows) * (LEADING + 2) + 10)
        self.y -= 4
        for label, amount, strong in rows:
            font, size = (BOLD, BODY + 1) if strong else (FONT, BODY)
            if strong:
                self.rule(self.y + LEADING - 3, x1=COL_PRICE - 60, color=INK, width=0.8)
            self.text(COL_VAT, self.y, label, font=font, size=size, align="right")
            self.text(COL_AMOUNT, self.y, self.money(amount), font=font, size=size, align="right")
            self.y -= LEADING + 2
        if invoice.vat_amount == 0 and invoice.vat_exemption_text:
            self.y -= 4
            self.wrapped(LEFT, invoice.vat_exemption_text, RIGHT - LEFT, font=ITALIC, size=10.5)
        self.y -= 8

    # how to pay

    def payment(self) -> None:
        invoice = self.invoice
        if invoice.is_credit_note:
            heading, rows, paragraphs = self.credit_note_settlement()
            payload = None
        elif epc_qr.transfer_amount(invoice) is not None:
            heading, rows, paragraphs = self.transfer_instructions()
            payload = epc_qr.epc_payload(
                invoice, billing_settings=self.sender.billing_settings, association=self.sender.association
            )
        elif invoice.payment_method == PaymentMethod.DIRECT_DEBIT and invoice.open_amount > 0:
            heading, rows, paragraphs = self.direct_debit_notice()
            payload = None
        else:
            heading, rows, paragraphs = self.settled_notice()
            payload = None
        self.payment_box(heading, rows, paragraphs, payload)

    def transfer_instructions(self):
        invoice = self.invoice
        billing_settings = self.sender.billing_settings
        rows = [
            (_("Amount to pay"), self.money(invoice.open_amount)),
            (_("Pay before"), format_day(invoice.due_date)),
        ]
        if billing_settings.iban:
            rows.append((_("To account (IBAN)"), format_iban(billing_settings.iban)))
            rows.append((_("In the name of"), self.sender.account_name))
        rows.append((_("Payment reference"), format_reference(invoice.payment_reference)))
        paragraphs = []
        if invoice.status == Invoice.Status.REVERSED:
            paragraphs.append(
                _("The direct debit for this invoice was reversed. Please transfer the amount yourself.")
            )
        paragraphs.append(_("Always state the payment reference: then we can match your payment."))
        return _("How to pay"), rows, paragraphs

    def direct_debit_notice(self):
        invoice = self.invoice
        rows = [(_("Amount"), self.money(invoice.open_amount))]
        rows.append(
            (
                _("Collection date"),
                format_day(invoice.collection_date)
                if invoice.collection_date
                else _("we will let you know the date separately"),
            )
        )
        account = self.debit_account()
        if account:
            rows.append((_("From account"), account))
        if invoice.mandate_reference:
            rows.append((_("Mandate reference"), invoice.mandate_reference))
        paragraphs = [_("You do not need to do anything: the amount will be collected by direct debit.")]
        if not invoice.collection_date:
            paragraphs.append(_("Please make sure there is enough money in your account on that day."))
        return _("Direct debit"), rows, paragraphs

    def debit_account(self) -> str:
        """The masked IBAN the money is collected from (the paying member's account in use)."""
        invoice = self.invoice
        if not invoice.payer_member_id and invoice.membership_payer_id:
            return ""  # an outside party pays
        if hasattr(invoice, "debit_account_masked"):
            return invoice.debit_account_masked or ""
        from kring.members.models import BankAccount

        account = (
            BankAccount.objects.filter(
                member_id=invoice.payer_member_id or invoice.member_id, is_primary=True
            )
            .values_list("iban_masked", flat=True)
            .first()
        )
        return account or ""

    def credit_note_settlement(self):
        invoice = self.invoice
        paragraphs = []
        if invoice.credited_invoice_id:
            paragraphs.append(
                _("This credit note corrects invoice %(number)s.")
                % {"number": invoice.credited_invoice.number}
            )
        if invoice.open_amount < 0:
            paragraphs.append(
                _("We will refund %(amount)s to you, or settle it with an invoice you still have to pay.")
                % {"amount": self.money(-invoice.open_amount)}
            )
        else:
            paragraphs.append(_("The amount has been settled. You do not need to do anything."))
        return _("Settlement"), [], paragraphs

    def settled_notice(self):
        invoice = self.invoice
        if invoice.status == Invoice.Status.PAID:
            text = _("This invoice has been paid. Thank you!")
        elif invoice.status == Invoice.Status.CREDITED:
            text = _("This invoice has been credited. You do not need to pay anything.")
        elif invoice.status == Invoice.Status.IN_COLLECTION:
            text = _("The amount is being collected by direct debit. You do not need to do anything.")
        else:
            text = _("Nothing remains to be paid on this invoice.")
        return _("Payment"), [], [text]

    def payment_box(self, heading: str, rows, paragraphs, payload: str | None) -> None:
        padding = 4 * mm
        label_width = 45 * mm
        text_right = RIGHT - padding - (QR_SIZE + 6 * mm if payload else 0)
        value_x = LEFT + padding + label_width
        row_lines = [
            simpleSplit(pdf_text(value), FONT, BODY, text_right - value_x) or [""] for _l, value in rows
        ]
        paragraph_lines = [
            simpleSplit(pdf_text(p), FONT, BODY, text_right - LEFT - padding) for p in paragraphs
        ]
        text_height = (
            22
            + sum(len(lines) for lines in row_lines) * LEADING
            + sum(len(lines) for lines in paragraph_lines) * LEADING
            + (6 if paragraphs and rows else 0)
        )
        qr_height = QR_SIZE + 16 if payload else 0
        height = max(text_height, qr_height) + 2 * padding
        self.need(height + 4)
        top = self.y + 4
        c = self.c
        c.setFillColorRGB(*SHADE)
        c.roundRect(LEFT, top - height, RIGHT - LEFT, height, 3 * mm, stroke=0, fill=1)
        y = top - padding - 13
        self.text(LEFT + padding, y, heading, font=BOLD, size=13)
        y -= 22
        for (label, _value), lines in zip(rows, row_lines, strict=True):
            self.text(LEFT + padding, y, label, size=10.5, color=MUTED)
            for line in lines:
                self.text(value_x, y, line, font=BOLD)
                y -= LEADING
        if paragraphs and rows:
            y -= 6
        for lines in paragraph_lines:
            for line in lines:
                self.text(LEFT + padding, y, line)
                y -= LEADING
        if payload:
            qr_x = RIGHT - padding - QR_SIZE
            qr_y = top - padding - QR_SIZE
            epc_qr.draw_qr(c, payload, x=qr_x, y=qr_y, size=QR_SIZE)
            caption = _("Scan with your banking app")
            half = c.stringWidth(pdf_text(caption), FONT, SMALL) / 2
            centre = min(qr_x + QR_SIZE / 2, RIGHT - padding / 2 - half)
            self.text(centre, qr_y - 11, caption, size=SMALL, color=MUTED, align="center")
        self.y = top - height - 10

    def footer(self) -> None:
        sender = self.sender
        parts = [sender.association.name, *sender.registration_lines()]
        if sender.billing_settings.iban:
            parts.append(f"IBAN {format_iban(sender.billing_settings.iban)}")
        self.rule(BOTTOM - 8 * mm + 12, color=RULE)
        lines = simpleSplit(pdf_text("  ·  ".join(parts)), FONT, 8.5, RIGHT - LEFT)
        y = BOTTOM - 8 * mm
        for line in lines[:2]:
            self.text(LEFT, y, line, size=8.5, color=MUTED)
            y -= 11


def _new_canvas(buffer, invoice: Invoice | None, sender: Sender) -> Canvas:
    canvas = Canvas(
        buffer, pagesize=A4, pageCompression=1, lang=translation.get_language() or settings.LANGUAGE_CODE
    )
    canvas.setCreator("Kring")
    canvas.setAuthor(pdf_text(sender.association.name))
    if invoice is not None:
        title = _("Credit note") if invoice.is_credit_note else _("Invoice")
        canvas.setTitle(pdf_text(f"{title} {invoice.number}"))
        canvas.setSubject(pdf_text(f"{title} {invoice.number} – {sender.association.name}"))
    return canvas


def render_invoice_pdf(
    invoice: Invoice, *, language: str | None = None, sender: Sender | None = None
) -> bytes:
    """The PDF of one invoice or credit note, in the invoice's language (the site's, Dutch by default).

    Load the invoice with `queries.invoice_for_pdf` for a constant number of queries.
    """
    with translation.override(language or settings.LANGUAGE_CODE):
        sender = sender or Sender.load()
        buffer = io.BytesIO()
        canvas = _new_canvas(buffer, invoice, sender)
        _InvoicePages(canvas, invoice, sender).draw()
        canvas.save()
        return buffer.getvalue()


def render_invoices_pdf(
    invoices: Iterable[Invoice], *, language: str | None = None, duplex: bool = False
) -> bytes:
    """Many invoices in one PDF (a print batch), each starting on a new page.

    With `duplex`, an invoice with an odd number of pages is followed by a blank page, so that
    printed on both sides no invoice starts on the back of another. Load the invoices with
    `queries.invoices_for_pdf`.
    """
    with translation.override(language or settings.LANGUAGE_CODE):
        sender = Sender.load()
        buffer = io.BytesIO()
        canvas = _new_canvas(buffer, None, sender)
        canvas.setTitle(pdf_text(_("Invoices")))
        drawn = 0
        for invoice in invoices:
            pages = _InvoicePages(canvas, invoice, sender).draw()
            if duplex and pages % 2:
                canvas.setFont(FONT, 1)  # a page needs content to be kept
                canvas.drawString(0, 0, " ")
                canvas.showPage()
            drawn += 1
        if not drawn:
            canvas.setFont(FONT, BODY)
            canvas.drawString(LEFT, TOP, pdf_text(_("There are no invoices to print.")))
            canvas.showPage()
        canvas.save()
        return buffer.getvalue()
