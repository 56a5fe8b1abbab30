"""Bank statements in the back office: upload, list, transactions with their rule, manual match,
'not for an invoice', the reason-code table. Treasurer writes, audit committee reads, others 403."""

from datetime import date
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from kring.billing.models import Invoice
from kring.billing.tests.factories import InvoiceFactory
from kring.core.models import Association
from kring.sepa import reconciliation
from kring.sepa.models import BankStatement, StatementTransaction

FILES = Path(__file__).resolve().parents[2] / "sepa" / "tests" / "files"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
pytestmark = pytest.mark.django_db


def upload(name="rabobank_camt053_001_02.xml", content=None):
    return SimpleUploadedFile(name, content if content is not None else (FILES / name).read_bytes())


def imported():
    return reconciliation.import_statement(
        (FILES / "rabobank_camt053_001_02.xml").read_bytes(), "r.xml", actor=None
    )


def a_invoice(sequence, amount, cast):
    return InvoiceFactory(
        member=cast.member,
        year=2026,
        sequence=sequence,
        number=f"2026-{sequence:06d}",
        invoice_date=date(2026, 1, 5),
        lines=[("Contributie", amount, "0")],
    )


def test_treasurer_uploads_a_statement(client, cast, django_assert_max_num_queries):
    kenmerk = a_invoice(1, "45.00", cast)
    client.force_login(cast.treasurer)
    assert client.get(reverse("backoffice:finance_statement_upload"), **EN).status_code == 200
    with django_assert_max_num_queries(120):
        response = client.post(reverse("backoffice:finance_statement_upload"), {"file": upload()}, **EN)
    statement = BankStatement.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("backoffice:finance_statement_detail", args=[statement.pk])
    kenmerk.refresh_from_db()
    assert kenmerk.status == Invoice.Status.PAID
    again = client.post(reverse("backoffice:finance_statement_upload"), {"file": upload()}, follow=True, **EN)
    assert "already imported" in again.content.decode()
    assert BankStatement.objects.count() == 1


def test_a_broken_file_is_shown_plainly(client, cast):
    client.force_login(cast.treasurer)
    broken = (FILES / "ing_camt053_001_02_collection.xml").read_bytes()[:1500]
    response = client.post(
        reverse("backoffice:finance_statement_upload"), {"file": upload("broken.xml", broken)}, **EN
    )
    assert response.status_code == 200
    assert "line" in response.content.decode() and BankStatement.objects.count() == 0


def test_list_detail_unmatched_and_reasons_pinned(client, cast, django_assert_num_queries):
    Association.current()
    statement = imported().statement
    client.force_login(cast.audit_committee)
    pages = [
        (reverse("backoffice:finance_statement_list"), 7),
        (reverse("backoffice:finance_statement_detail", args=[statement.pk]), 7),
        (reverse("backoffice:finance_statement_unmatched"), 6),
        (reverse("backoffice:finance_statement_reasons"), 5),
    ]
    for url, queries in pages:
        with django_assert_num_queries(queries):
            response = client.get(url, **EN)
        assert response.status_code == 200, url
    detail = client.get(pages[1][0], **EN).content.decode()
    assert "not matched" in detail
    reasons = client.get(pages[3][0], **EN).content.decode()
    assert "AM04" in reasons and "MD06" in reasons
    # Audit committee reads but cannot act.
    unmatched = client.get(pages[2][0], **EN).content.decode()
    assert "Not for an invoice" not in unmatched
    tx = StatementTransaction.objects.filter(match="unmatched").first()
    assert client.post(reverse("backoffice:finance_statement_ignore", args=[tx.pk])).status_code == 403
    assert client.get(reverse("backoffice:finance_statement_upload")).status_code == 403


def test_manual_match_and_ignore(client, cast):
    statement = imported().statement
    target = a_invoice(7, "45.00", cast)
    first = StatementTransaction.objects.get(statement=statement, position=1)
    # Not matched on import (no invoice 2026-000001 existed): match it by hand.
    assert first.match == "unmatched"
    client.force_login(cast.treasurer)
    page = client.get(reverse("backoffice:finance_statement_unmatched"), **EN).content.decode()
    assert "Not for an invoice" in page
    response = client.post(
        reverse("backoffice:finance_statement_match", args=[first.pk]), {"invoice_number": "2026-000007"}
    )
    assert response.status_code == 302
    first.refresh_from_db()
    target.refresh_from_db()
    assert first.match == "manual" and target.status == Invoice.Status.PAID
    wrong = StatementTransaction.objects.get(statement=statement, position=2)
    client.post(reverse("backoffice:finance_statement_match", args=[wrong.pk]), {"invoice_number": "9999"})
    wrong.refresh_from_db()
    assert wrong.match == "unmatched"
    out = StatementTransaction.objects.get(statement=statement, position=3)
    client.post(reverse("backoffice:finance_statement_ignore", args=[out.pk]))
    out.refresh_from_db()
    assert out.match == "ignored"


@pytest.mark.parametrize("role", ["secretariat", "board"])
def test_others_get_403(client, cast, role):
    client.force_login(getattr(cast, role))
    for name in ("finance_statement_list", "finance_statement_unmatched", "finance_statement_reasons"):
        response = client.get(reverse(f"backoffice:{name}"))
        assert response.status_code == 403
