"""The EPC QR code ("SEPA Credit Transfer QR", EPC069-12) on invoices, so members pay from their banking app.

The payload is twelve lines separated by "\\n", in UTF-8 (character set 1), version 002:

    BCD / 002 / 1 / SCT / BIC (may be empty) / beneficiary name (≤ 70) / IBAN (≤ 34) /
    amount "EUR12.34" / purpose (empty) / structured reference (≤ 35) /
    unstructured remittance (≤ 140, empty: only one of the two may be given) /
    beneficiary-to-originator information (≤ 70)

at most 331 bytes. Our payment reference (Dutch betalingskenmerk, 16 digits, or Belgian OGM,
12 digits) goes in the structured field, so the payment comes back with it and matches
automatically. The symbol uses error correction level M, as the standard asks.

An invoice gets a code only when there is something to transfer: an invoice (not a credit note)
with an open amount, paid by transfer (or a direct debit that bounced), and an IBAN in the
billing settings.
"""

import re
import unicodedata
from decimal import Decimal

import segno
from django.conf import settings
from django.utils import translation
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from kring.billing.models import BillingSettings, Invoice
from kring.core.models import Association
from kring.members.models import PaymentMethod

MAX_PAYLOAD_BYTES = 331
MAX_NAME = 70
MAX_IBAN = 34
MAX_REFERENCE = 35
MAX_INFORMATION = 70
MIN_AMOUNT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999.99")
ERROR_LEVEL = "M"
# About 150 CSS pixels wide on a page: a version 5–8 symbol (37–49 modules + the quiet zone).
SVG_TARGET_PIXELS = 150

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _clean(text: str, limit: int) -> str:
    """One line of the payload: no line breaks or control characters, at most `limit` characters."""
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text or ""))
    return " ".join(text.split())[:limit]


def _compact(code: str) -> str:
    return re.sub(r"\s", "", code or "").upper()


def transfer_amount(invoice: Invoice) -> Decimal | None:
    """What the member should transfer now, or None when the invoice is not paid by transfer (now)."""
    if invoice.kind != Invoice.Kind.INVOICE or invoice.status == Invoice.Status.IN_COLLECTION:
        return None
    # A direct debit is collected, not transferred; a reversed (bounced) one must be transferred.
    if invoice.payment_method == PaymentMethod.DIRECT_DEBIT and invoice.status != Invoice.Status.REVERSED:
        return None
    amount = invoice.open_amount
    if not MIN_AMOUNT <= amount <= MAX_AMOUNT:
        return None
    return amount


def beneficiary_name(billing_settings: BillingSettings, association: Association | None = None) -> str:
    if billing_settings.account_holder.strip():
        return billing_settings.account_holder
    return (association or Association.current()).name


def epc_payload(
    invoice: Invoice,
    *,
    billing_settings: BillingSettings | None = None,
    association: Association | None = None,
) -> str | None:
    """The text in the QR code, or None when there is nothing to transfer or no IBAN to transfer to.

    Pass `billing_settings`/`association` when rendering many invoices, to read them once.
    """
    amount = transfer_amount(invoice)
    if amount is None:
        return None
    billing_settings = billing_settings or BillingSettings.current()
    iban = _compact(billing_settings.iban)
    if not iban or len(iban) > MAX_IBAN:
        return None
    bic = _compact(billing_settings.bic)
    if len(bic) not in (8, 11):
        bic = ""  # optional in version 002; a malformed one would make banks refuse the code
    name = _clean(beneficiary_name(billing_settings, association), MAX_NAME)
    reference = invoice.payment_reference[:MAX_REFERENCE]
    with translation.override(settings.LANGUAGE_CODE):
        information = _clean(_("Invoice %(number)s") % {"number": invoice.number}, MAX_INFORMATION)
    fields = [
        "BCD",
        "002",
        "1",  # UTF-8
        "SCT",
        bic,
        name,
        iban,
        f"EUR{amount:.2f}",
        "",  # purpose
        reference,
        "",  # unstructured remittance: the structured reference is given instead
        information,
    ]
    # Multi-byte names can push the payload over the limit: shorten the free text first, then the name.
    while len("\n".join(fields).encode()) > MAX_PAYLOAD_BYTES:
        if fields[11]:
            fields[11] = fields[11][:-1].rstrip()
        else:
            fields[5] = fields[5][:-1].rstrip()
    # The last filled-in field is not followed by a separator.
    return "\n".join(fields).rstrip("\n")


def make_qr(payload: str) -> segno.QRCode:
    # Byte mode in UTF-8 without an ECI header (banking apps read it from the character-set line),
    # and level M exactly: boosting the level would make the symbol denser for no gain.
    return segno.make_qr(payload, error=ERROR_LEVEL, mode="byte", encoding="utf-8", boost_error=False)


def qr_svg(invoice: Invoice, *, billing_settings: BillingSettings | None = None) -> SafeString | None:
    """Inline SVG markup of the invoice's EPC QR code for HTML pages, or None when there is none."""
    payload = epc_payload(invoice, billing_settings=billing_settings)
    if payload is None:
        return None
    qr = make_qr(payload)
    width, _height = qr.symbol_size()
    scale = max(2, round(SVG_TARGET_PIXELS / width))
    label = _("QR code to pay invoice %(number)s with your banking app") % {"number": invoice.number}
    svg = qr.svg_inline(
        scale=scale, title=label, svgclass="epc-qr", lineclass=None, dark="#000", light="#fff"
    )
    # segno escapes the title itself; the accessible name is added beside it.
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)
    return mark_safe(svg)  # noqa: S308 - segno's markup, the only text in it escaped above


def draw_qr(canvas, payload: str, *, x: float, y: float, size: float, quiet_zone: int = 4) -> None:
    """Draw the QR code for `payload` on a reportlab canvas, `size` points square, lower-left corner at x, y.

    The modules are filled rectangles, one per run of dark modules in a row, written in module
    units under one transformation: a few hundred short integer operators instead of thousands of
    formatted coordinates (the difference is most of a page's drawing time).
    """
    matrix = make_qr(payload).matrix
    module = size / (len(matrix) + 2 * quiet_zone)
    runs = []
    for row_number, row in enumerate(matrix):
        column, width = 0, len(row)
        while column < width:
            if row[column]:
                start = column
                while column < width and row[column]:
                    column += 1
                runs.append(f"{start} {row_number} {column - start} 1 re")
            else:
                column += 1
    canvas.saveState()
    canvas.setFillColorRGB(1, 1, 1)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColorRGB(0, 0, 0)
    # Module (0, 0) is the top-left corner inside the quiet zone; rows count downwards.
    canvas.transform(module, 0, 0, -module, x + quiet_zone * module, y + size - quiet_zone * module)
    canvas.addLiteral("\n".join(runs) + "\nf")
    canvas.restoreState()
