"""The export for the accounting package: one row per invoice or credit note with VAT per rate, and
one row per payment, in CSV for Dutch Excel (UTF-8 with BOM, semicolons, 12,50); every download audited."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from kring.backoffice.tests.finance_data import many_invoices, year_2024
from kring.billing import queries, services
from kring.billing.references import format_reference
from kring.billing.services import LineInput
from kring.core.models import AuditEntry

URL = reverse("backoffice:finance_export")


@pytest.fixture
def treasurer_client(client, cast):
    client.force_login(cast.treasurer)
    return client


def download(client, **params) -> tuple[list[str], list[dict[str, str]], bytes]:
    response = client.get(URL, params, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    raw = b"".join(response.streaming_content)
    assert raw.startswith("\ufeff".encode())  # the byte order mark: Excel reads UTF-8
    reader = csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";")
    header, *rows = list(reader)
    return header, [dict(zip(header, row, strict=True)) for row in rows], raw


def amount(text: str) -> Decimal:
    """Read an amount back the way Dutch Excel does."""
    assert "." not in text, text
    return Decimal(text.replace(",", "."))


def test_documents_one_row_each_with_vat_per_rate(treasurer_client, cast):
    data = year_2024(cast.member, cast.other_member)
    mixed = services.create_invoice(
        member=cast.member,
        lines=[
            LineInput("Cursus", Decimal("121.00"), vat_rate=Decimal("21")),
            LineInput("Boek", Decimal("10.90"), vat_rate=Decimal("9")),
            LineInput("Contributie", Decimal("25.00")),
        ],
        actor=None,
        invoice_date=date(2024, 6, 1),
    )
    with translation.override("en"):
        header, rows, _raw = download(treasurer_client, year="2024", what="documents")
    assert header[:3] == ["kind", "number", "invoice date"]
    assert "excl. VAT at 0%" in header and "VAT at 9%" in header and "VAT at 21%" in header
    assert (
        header.index("excl. VAT at 0%") < header.index("excl. VAT at 9%") < header.index("excl. VAT at 21%")
    )
    # every document of 2024 in number order, not F (dated 2023)
    expected = [data.a, data.b, data.credit_a, data.c, data.credit_c, data.d, data.e, mixed]
    assert [row["number"] for row in rows] == [document.number for document in expected]
    by_number = {row["number"]: row for row in rows}

    row = by_number[mixed.number]
    assert row["invoice date"] == "01-06-2024" and row["member number"] == cast.member.member_number
    assert amount(row["total"]) == Decimal("156.90")
    assert amount(row["excl. VAT at 21%"]) == Decimal("100.00") and amount(row["VAT at 21%"]) == Decimal(
        "21.00"
    )
    assert amount(row["excl. VAT at 9%"]) == Decimal("10.00") and amount(row["VAT at 9%"]) == Decimal("0.90")
    assert amount(row["excl. VAT at 0%"]) == Decimal("25.00") and amount(row["VAT at 0%"]) == Decimal("0.00")
    assert amount(row["total excl. VAT"]) + amount(row["VAT"]) == amount(row["total"])
    assert row["payment reference"] == format_reference(mixed.payment_reference)

    note = by_number[data.credit_c.number]
    assert note["kind"] == "credit note" and note["credits invoice"] == data.c.number
    assert (
        amount(note["total"]) == Decimal("-50.00") and note["total"] == "-50,00"
    )  # no quote before the minus
    b = by_number[data.b.number]
    assert (
        b["status"] == "overdue"
        and amount(b["paid"]) == Decimal("21.00")
        and amount(b["open"]) == Decimal("100.00")
    )
    assert (
        by_number[data.e.number]["status"] == "written off" and amount(by_number[data.e.number]["open"]) == 0
    )

    # the export adds up to the overview's figures for the same period
    totals = queries.finance_totals(date(2024, 1, 1), date(2024, 12, 31))
    invoices = [row for row in rows if row["kind"] == "invoice"]
    assert sum(amount(row["total"]) for row in invoices) == totals.invoiced
    assert -sum(amount(row["total"]) for row in rows if row["kind"] == "credit note") == totals.credited


def test_payments_one_row_each(treasurer_client, cast):
    data = year_2024(cast.member, cast.other_member)
    with translation.override("en"):
        header, rows, _raw = download(treasurer_client, year="2024", part="Q1", what="payments")
    assert header == [
        "date",
        "invoice number",
        "kind",
        "member number",
        "name",
        "amount",
        "method",
        "recorded through",
        "reference",
    ]
    assert [(row["date"], row["invoice number"], row["amount"]) for row in rows] == [
        ("05-01-2024", data.f.number, "40,00"),
        ("01-02-2024", data.a.number, "100,00"),
    ]
    assert rows[0]["method"] == "bank transfer" and rows[0]["name"] == "Bram Jansen"


def test_the_file_name_says_what_and_which_period(treasurer_client, cast):
    response = treasurer_client.get(
        URL, {"year": "2024", "part": "M03", "what": "payments"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response["Content-Disposition"] == 'attachment; filename="payments-2024-03.csv"'
    response = treasurer_client.get(
        URL, {"year": "2024", "part": "Q2", "what": "documents"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response["Content-Disposition"] == 'attachment; filename="invoices-2024-Q2.csv"'


def test_every_download_is_audited(treasurer_client, cast):
    year_2024(cast.member, cast.other_member)
    download(treasurer_client, year="2024", what="documents")
    download(treasurer_client, year="2024", part="Q2", what="payments")
    entries = list(AuditEntry.objects.filter(action="billing.export").order_by("id"))
    assert [entry.actor for entry in entries] == [cast.treasurer, cast.treasurer]
    assert entries[0].note == "documents 2024-01-01 – 2024-12-31; rows: 7"
    assert entries[1].note == "payments 2024-04-01 – 2024-06-30; rows: 1"


def test_text_that_a_spreadsheet_would_run_as_a_formula_is_defused(treasurer_client, cast):
    services.create_invoice(
        member=cast.member, lines=[LineInput("x", Decimal("1"))], actor=None, description="=HYPERLINK(1)"
    )
    _header, rows, _raw = download(treasurer_client, year=str(date.today().year), what="documents")
    assert rows[0]["description"] == "'=HYPERLINK(1)"


def test_the_page_without_a_choice_shows_the_form_and_exports_nothing(treasurer_client, cast):
    response = treasurer_client.get(URL, {"year": "2024"})
    assert response.status_code == 200 and "text/html" in response["Content-Type"]
    assert not AuditEntry.objects.filter(action="billing.export").exists()
    response = treasurer_client.get(URL, {"year": "1800", "what": "documents"})
    assert "text/html" in response["Content-Type"]


def test_the_export_reads_in_chunks_whatever_the_number_of_invoices(
    treasurer_client, cast, django_assert_max_num_queries
):
    many_invoices([cast.member, cast.other_member], 30)
    # session, user, permissions (2), count, audit entry, VAT rates, the documents (one query, read in chunks)
    with django_assert_max_num_queries(9):
        _header, rows, _raw = download(treasurer_client, year="2024", what="documents")
    assert len(rows) == 30
    with django_assert_max_num_queries(8):
        _header, rows, _raw = download(treasurer_client, year="2024", what="payments")
    assert len(rows) == 10


@pytest.mark.parametrize(
    "role,allowed", [("treasurer", True), ("audit_committee", True), ("secretariat", False), ("board", False)]
)
def test_who_may_export(client, cast, role, allowed):
    client.force_login(getattr(cast, role))
    response = client.get(URL, {"year": "2024", "what": "documents"})
    assert response.status_code == (200 if allowed else 403)
