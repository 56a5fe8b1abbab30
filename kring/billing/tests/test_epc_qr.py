"""The EPC QR code (EPC069-12): exact payload, the standard's limits, and when there is none."""

from decimal import Decimal

import pytest
from reportlab.pdfgen.canvas import Canvas

from kring.billing import epc_qr
from kring.billing.models import BillingSettings, Invoice
from kring.billing.tests.factories import CreditNoteFactory, InvoiceFactory
from kring.members.models import PaymentMethod

pytestmark = pytest.mark.django_db


def test_payload_of_a_known_invoice_is_exactly_as_the_standard_lays_it_out(sender_details):
    invoice = InvoiceFactory(sequence=123)
    payload = epc_qr.epc_payload(invoice)
    lines = payload.split("\n")
    assert lines[:11] == [
        "BCD",
        "002",
        "1",
        "SCT",
        "ABNANL2A",
        "Vereniging Kring Eëndracht",
        "NL91ABNA0417164300",
        "EUR12.50",
        "",
        "2202700000000123",
        "",
    ]
    # The last line is the text for the payer, in the invoice's language, without a trailing newline.
    assert len(lines) == 12 and lines[11].endswith(" 2027-000123") and not payload.endswith("\n")
    assert "\r" not in payload


def test_payload_text_in_english(sender_details, settings):
    settings.LANGUAGE_CODE = "en"
    payload = epc_qr.epc_payload(InvoiceFactory(sequence=123))
    assert payload == (
        "BCD\n002\n1\nSCT\nABNANL2A\nVereniging Kring Eëndracht\nNL91ABNA0417164300\nEUR12.50\n\n"
        "2202700000000123\n\nInvoice 2027-000123"
    )


def test_belgian_structured_communication_goes_in_the_structured_field(sender_details):
    invoice = InvoiceFactory(sequence=123, reference_kind="be")
    assert epc_qr.epc_payload(invoice).split("\n")[9] == "270000012379"


def test_only_the_open_amount_is_asked(sender_details):
    invoice = InvoiceFactory(lines=[("Contributie", "100.00", "0")])
    Invoice.objects.filter(pk=invoice.pk).update(
        amount_paid=Decimal("40.00"), status=Invoice.Status.PARTIALLY_PAID
    )
    invoice.refresh_from_db()
    assert epc_qr.epc_payload(invoice).split("\n")[7] == "EUR60.00"


def test_no_code_without_an_iban(sender_details):
    BillingSettings.objects.update(iban="")
    assert epc_qr.epc_payload(InvoiceFactory()) is None
    assert epc_qr.qr_svg(InvoiceFactory()) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"amount_paid": Decimal("12.50"), "status": Invoice.Status.PAID},
        {"amount_credited": Decimal("12.50"), "status": Invoice.Status.CREDITED},
        {"status": Invoice.Status.WRITTEN_OFF},
        {"status": Invoice.Status.IN_COLLECTION},
        {"payment_method": PaymentMethod.DIRECT_DEBIT},
    ],
)
def test_no_code_when_nothing_is_to_be_transferred(sender_details, changes):
    invoice = InvoiceFactory()
    Invoice.objects.filter(pk=invoice.pk).update(**changes)
    invoice.refresh_from_db()
    assert epc_qr.epc_payload(invoice) is None


def test_a_bounced_direct_debit_is_paid_by_transfer(sender_details):
    invoice = InvoiceFactory(payment_method=PaymentMethod.DIRECT_DEBIT, status=Invoice.Status.REVERSED)
    assert epc_qr.epc_payload(invoice).split("\n")[7] == "EUR12.50"


def test_no_code_on_a_credit_note_or_a_free_invoice(sender_details):
    assert epc_qr.epc_payload(CreditNoteFactory()) is None
    assert epc_qr.epc_payload(InvoiceFactory(lines=[("Ereleden", "0.00", "0")])) is None


def test_amount_above_the_standard_maximum_gets_no_code(sender_details):
    invoice = InvoiceFactory(lines=[("Groot", "1000000000.00", "0")])
    assert epc_qr.epc_payload(invoice) is None


def test_long_names_are_cut_to_the_field_limits_and_the_payload_fits(sender_details):
    _association, billing_settings = sender_details
    billing_settings.account_holder = "Ω" * 70  # two bytes each in UTF-8
    billing_settings.bic = ""
    billing_settings.save()
    invoice = InvoiceFactory(number="F" * 30)
    payload = epc_qr.epc_payload(invoice)
    lines = payload.split("\n")
    assert len(payload.encode()) <= epc_qr.MAX_PAYLOAD_BYTES
    assert lines[4] == ""  # BIC may be empty in version 002
    assert 0 < len(lines[5]) <= 70 and len(lines[11]) <= 70
    assert all(
        len(line) <= limit
        for line, limit in zip(lines, [3, 3, 1, 4, 11, 70, 34, 12, 4, 35, 140, 70], strict=True)
    )


def test_worst_case_multibyte_payload_is_shortened_to_331_bytes(sender_details):
    _association, billing_settings = sender_details
    billing_settings.account_holder = "€" * 70  # three bytes each
    billing_settings.save()
    payload = epc_qr.epc_payload(InvoiceFactory(number="€" * 30))
    assert len(payload.encode()) <= 331
    assert payload.split("\n")[5].startswith("€")  # the name is kept as long as it fits


def test_line_breaks_in_the_account_holder_cannot_shift_the_fields(sender_details):
    _association, billing_settings = sender_details
    billing_settings.account_holder = "Kring\nafdeling Noord"
    billing_settings.save()
    lines = epc_qr.epc_payload(InvoiceFactory()).split("\n")
    assert lines[5] == "Kring afdeling Noord" and len(lines) == 12


def test_the_name_falls_back_to_the_association(sender_details):
    lines = epc_qr.epc_payload(InvoiceFactory()).split("\n")
    assert lines[5] == "Vereniging Kring Eëndracht"


def test_qr_code_uses_error_correction_m_and_utf8_bytes(sender_details):
    payload = epc_qr.epc_payload(InvoiceFactory())
    qr = epc_qr.make_qr(payload)
    assert qr.error == "M" and qr.mode == "byte" and not qr.is_micro
    assert qr.version <= 13  # the standard's maximum


def test_svg_is_inline_markup_with_an_accessible_name(sender_details):
    invoice = InvoiceFactory(sequence=7)
    svg = epc_qr.qr_svg(invoice)
    assert svg.startswith("<svg ") and "<?xml" not in svg
    assert 'role="img"' in svg and "aria-label=" in svg and "<title>" in svg and "2027-000007" in svg
    assert "<path" in svg
    width = int(svg.split('width="')[1].split('"')[0])
    assert 120 <= width <= 200


def test_drawing_into_a_pdf_canvas_draws_the_modules(sender_details, tmp_path):
    import io

    payload = epc_qr.epc_payload(InvoiceFactory())
    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    epc_qr.draw_qr(canvas, payload, x=100, y=100, size=100)
    canvas.save()
    dark = sum(sum(row) for row in epc_qr.make_qr(payload).matrix)
    assert dark > 100 and buffer.getvalue().startswith(b"%PDF")
