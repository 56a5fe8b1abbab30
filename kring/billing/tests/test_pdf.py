"""Invoice and credit-note PDFs: what Dutch invoicing law asks is on the page, in few queries."""

import io
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader

from kring.billing import pdf, queries
from kring.billing.models import BillingSettings, Invoice
from kring.billing.tests.factories import CreditNoteFactory, InvoiceFactory
from kring.members.models import BankAccount, PaymentMethod
from kring.members.tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def pages_text(data: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(data))
    return [page.extract_text().replace("\xa0", " ") for page in reader.pages]


def text_of(invoice: Invoice, **kwargs) -> str:
    data = pdf.render_invoice_pdf(queries.invoice_for_pdf(invoice.pk), **kwargs)
    assert data.startswith(b"%PDF-")
    return "\n".join(pages_text(data))


@pytest.fixture
def invoice(sender_details):
    member = MemberFactory(
        first_name="Anna",
        name_prefix="van den",
        last_name="Berg",
        street="Dorpsstraat",
        house_number=7,
        postcode="1234 AB",
        city="Utrecht",
    )
    return InvoiceFactory(
        sequence=123,
        member=member,
        recipient_reference="PO-778",
        period_start=date(2027, 1, 1),
        period_end=date(2027, 3, 31),
        vat_exemption_text="Vrijgesteld van btw (art. 11 lid 1 sub e Wet OB)",
        description="Contributie eerste kwartaal",
        lines=[("Contributie Gewoon lid 2027-Q1", "12.50", "0")],
    )


def test_invoice_shows_what_the_law_asks(invoice):
    text = text_of(invoice)
    for expected in (
        "2027-000123",  # number
        "5 januari 2027",  # invoice date
        "19 januari 2027",  # due date
        "Vereniging Kring Eëndracht",
        "Stationsweg 12",
        "3511 AA",
        "40123456",  # KvK
        "NL001234567B01",  # VAT number
        "Anna van den Berg",
        "Dorpsstraat 7",
        "1234 AB  UTRECHT",
        "PO-778",
        "1 januari 2027 – 31 maart 2027",
        "Contributie eerste kwartaal",
        "Contributie Gewoon lid 2027-Q1",
        "€ 12,50",
        "0%",
        "Vrijgesteld van btw (art. 11 lid 1 sub e Wet OB)",
        "NL91 ABNA 0417 1643 00",
        "2202 7000 0000 0123",  # payment reference, formatted
    ):
        assert expected in text, expected


def test_titles_and_labels_are_in_the_invoice_language(invoice, settings):
    settings.LANGUAGE_CODE = "en"
    text = text_of(invoice)
    assert "Invoice" in text and "Invoice number" in text and "How to pay" in text
    assert "5 January 2027" in text and "€ 12.50" in text
    assert "Scan with your banking app" in text
    assert pdf.invoice_filename(invoice) == "invoice-2027-000123.pdf"


def test_vat_lines_show_prices_excl_vat_and_vat_per_rate(sender_details):
    invoice = InvoiceFactory(
        lines=[("Clubblad", "12.10", "21", "2"), ("Training", "10.90", "9"), ("Contributie", "30.00", "0")],
        vat_exemption_text="should not be shown",
    )
    text = text_of(invoice, language="en")
    assert "€ 10.00" in text  # 12.10 incl. 21% VAT per copy
    assert "VAT 21% on € 20.00" in text and "€ 4.20" in text
    assert "VAT 9% on € 10.00" in text and "€ 0.90" in text
    assert "Total excl. VAT" in text and "€ 60.00" in text
    assert "€ 65.10" in text
    assert "should not be shown" not in text


def test_paid_and_open_amounts_are_shown_after_a_part_payment(invoice):
    Invoice.objects.filter(pk=invoice.pk).update(
        amount_paid=Decimal("5.00"), status=Invoice.Status.PARTIALLY_PAID
    )
    text = text_of(invoice, language="en")
    assert "Already paid" in text and "€ -5.00" in text
    assert "Still to pay" in text and "€ 7.50" in text


def test_a_paid_invoice_says_so_and_has_no_qr(invoice):
    Invoice.objects.filter(pk=invoice.pk).update(amount_paid=Decimal("12.50"), status=Invoice.Status.PAID)
    text = text_of(invoice, language="en")
    assert "This invoice has been paid" in text
    assert "Scan with your banking app" not in text


def test_without_an_iban_there_is_no_account_and_no_qr_but_still_the_reference(invoice):
    BillingSettings.objects.update(iban="")
    text = text_of(invoice, language="en")
    assert "2202 7000 0000 0123" in text
    assert "IBAN" not in text and "Scan with your banking app" not in text


def test_direct_debit_invoice_names_the_date_account_and_mandate(sender_details):
    member = MemberFactory()
    BankAccount.objects.create(member=member, iban="NL02ABNA0123456789", holder_name="A. Berg")
    invoice = InvoiceFactory(
        member=member,
        payment_method=PaymentMethod.DIRECT_DEBIT,
        collection_date=date(2027, 1, 28),
        mandate_reference="KRING-000042",
    )
    text = text_of(invoice, language="en")
    assert "collected by direct debit" in text
    assert "28 January 2027" in text and "KRING-000042" in text
    assert "NL02" in text and "6789" in text  # the masked account (pypdf does not read the bullets)
    assert "NL02ABNA0123456789" not in text  # never the full IBAN
    assert "Scan with your banking app" not in text and "Payment reference" not in text


def test_direct_debit_without_date_yet_says_it_will_be_announced(sender_details):
    invoice = InvoiceFactory(payment_method=PaymentMethod.DIRECT_DEBIT)
    text = text_of(invoice, language="en")
    assert "collected by direct debit" in text
    assert "we will let you know the date separately" in text


def test_credit_note_mentions_the_original_invoice_and_the_refund(sender_details):
    original = InvoiceFactory(sequence=40)
    note = CreditNoteFactory(credited_invoice=original, sequence=41)
    text = text_of(note, language="en")
    assert "Credit note" in text and "2027-000041" in text
    assert "This credit note corrects invoice 2027-000040" in text
    assert "We will refund € 12.50" in text and "€ -12.50" in text
    assert "Scan with your banking app" not in text and "Due date" not in text


def test_accents_and_the_euro_sign_survive_and_unknown_letters_lose_only_their_accent(sender_details):
    invoice = InvoiceFactory(recipient_name="Zoë Ünal-Dvořák", lines=[("Café-avond Łódź", "8.00", "0")])
    text = text_of(invoice)
    assert "Zoë Ünal-Dvorák" in text and "Café-avond Lódz" in text and "€ 8,00" in text


def test_a_long_invoice_continues_on_further_pages(sender_details):
    invoice = InvoiceFactory(lines=[(f"Training {n}", "1.00", "0") for n in range(80)])
    pages = pages_text(pdf.render_invoice_pdf(queries.invoice_for_pdf(invoice.pk), language="en"))
    assert len(pages) >= 3
    assert "Continued on the next page" in pages[0]
    assert "page 2" in pages[1] and invoice.number in pages[1]
    assert "Training 79" in "".join(pages) and "How to pay" in pages[-1]


def test_one_invoice_pdf_takes_four_queries(invoice, django_assert_num_queries):
    with django_assert_num_queries(4):  # invoice, lines, association, billing settings
        pdf.render_invoice_pdf(queries.invoice_for_pdf(invoice.pk))


def test_many_invoices_in_one_pdf_take_as_many_queries_as_one(sender_details, django_assert_num_queries):
    member = MemberFactory()
    BankAccount.objects.create(member=member, iban="NL02ABNA0123456789", holder_name="A. Berg")
    invoices = [InvoiceFactory(member=member, payment_method=PaymentMethod.DIRECT_DEBIT) for _ in range(3)]
    invoices += [CreditNoteFactory(credited_invoice=invoices[0])] + [InvoiceFactory() for _ in range(3)]
    ids = [invoice.pk for invoice in invoices]
    with django_assert_num_queries(4):
        data = pdf.render_invoices_pdf(queries.invoices_for_pdf_by_ids(ids))
    pages = pages_text(data)
    assert len(pages) == len(invoices)
    assert [invoice.number in page for invoice, page in zip(invoices, pages, strict=True)] == [True] * 7


def test_print_batch_for_double_sided_printing_starts_every_invoice_on_a_front_page(sender_details):
    long = InvoiceFactory(lines=[(f"Training {n}", "1.00", "0") for n in range(30)])  # two pages
    short = InvoiceFactory()
    data = pdf.render_invoices_pdf(queries.invoices_for_pdf_by_ids([short.pk, long.pk]), duplex=True)
    pages = pages_text(data)
    assert len(pages) == 4
    assert short.number in pages[0] and not pages[1].strip()
    assert long.number in pages[2]


def test_amount_formatting_is_dutch_by_default():
    assert pdf.format_amount(Decimal("1234.5"), "nl") == "€\u00a01.234,50"
    assert pdf.format_amount(Decimal("-12.5"), "nl") == "€\u00a0-12,50"
    assert pdf.format_amount(Decimal("1234.5"), "en") == "€\u00a01,234.50"
    assert pdf.format_number(Decimal("2.50"), "nl") == "2,5"
    assert pdf.format_number(Decimal("21.00"), "nl") == "21"
