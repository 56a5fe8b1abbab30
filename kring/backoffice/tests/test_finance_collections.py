"""Direct-debit pages: the mandate form and recording a paper mandate; choosing a collection date,
the preview with the uncollectable list, the job, the batch page and its download; who may do what."""

from datetime import date

import pytest
from django.urls import reverse
from freezegun import freeze_time

from kring.core.jobs import execute_job
from kring.core.models import BackgroundJob
from kring.members.models import BankAccount
from kring.sepa import pain008, services
from kring.sepa.models import CollectionBatch, Mandate, MandateAmendment
from kring.sepa.tests.collect_helpers import (
    ANNOUNCE_AT,
    COLLECT_AT,
    COLLECTION_DATE,
    IBAN_ING,
    IBAN_RABO,
    creditor,
    debtor,
    invoice_for,
)

pytestmark = pytest.mark.django_db
NEW = reverse("backoffice:finance_collection_new")
LIST = reverse("backoffice:finance_collection_list")


@pytest.fixture
def ready(cast):
    creditor()
    member, mandate = debtor()
    invoice = invoice_for(member)
    late_member, _m = debtor(iban=IBAN_ING)
    with freeze_time(ANNOUNCE_AT):
        services.announce_collection(COLLECTION_DATE, actor=None)
    late = invoice_for(late_member)
    return cast, invoice, late


def test_treasurer_previews_makes_and_downloads_the_file(
    client, ready, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    cast, invoice, late = ready
    with freeze_time(COLLECT_AT):
        client.force_login(cast.treasurer)
        # Constant: the invoices (and their last returns) are read in chunks.
        with django_assert_max_num_queries(33):
            page = client.get(NEW, {"collection_date": "2027-01-25", "version": pain008.PAIN_008_08})
        assert page.status_code == 200
        html = page.content.decode()
        assert 'id="preview-count">1<' in html and late.number in html
        assert not CollectionBatch.objects.exists()
        with django_capture_on_commit_callbacks(execute=False):
            response = client.post(NEW, {"collection_date": "2027-01-25", "version": pain008.PAIN_008_08})
        assert response.status_code == 302 and not CollectionBatch.objects.exists()  # the job does the work
        with django_assert_max_num_queries(8):
            waiting = client.get(response["Location"])
        assert 'id="job-progress"' in waiting.content.decode()
        execute_job(BackgroundJob.objects.get(kind="sepa.collect").pk)
    job_page = client.get(response["Location"])
    batch = CollectionBatch.objects.get()
    assert job_page.status_code == 302 and job_page["Location"] == reverse(
        "backoffice:finance_collection_detail", args=[batch.pk]
    )
    with django_assert_max_num_queries(12):
        detail = client.get(job_page["Location"])
    assert invoice.number in detail.content.decode() and late.number in detail.content.decode()
    with django_assert_max_num_queries(8):
        download = client.get(reverse("backoffice:finance_collection_download", args=[batch.pk]))
    assert download["Content-Type"] == "application/xml"
    assert pain008.validate(download.content) == []
    with django_assert_max_num_queries(8):
        assert client.get(LIST).status_code == 200


def test_a_date_too_soon_is_explained(client, ready):
    cast, _invoice, _late = ready
    with freeze_time(COLLECT_AT):
        client.force_login(cast.treasurer)
        page = client.get(NEW, {"collection_date": "2027-01-20", "version": pain008.PAIN_008_08})
    assert page.status_code == 200 and "2027-01-21" in page.content.decode()


@pytest.mark.parametrize("role", ["secretariat", "board"])
def test_others_cannot_make_collections(client, ready, role):
    cast, _invoice, _late = ready
    client.force_login(getattr(cast, role))
    assert client.get(NEW).status_code == 403


def test_audit_committee_reads_but_cannot_make(client, ready):
    cast, _invoice, _late = ready
    with freeze_time(COLLECT_AT):
        from kring.sepa.collection import collect

        batch = collect(COLLECTION_DATE, actor=None).batch
    client.force_login(cast.audit_committee)
    assert client.get(NEW).status_code == 403
    assert client.get(LIST).status_code == 200
    assert client.get(reverse("backoffice:finance_collection_download", args=[batch.pk])).status_code == 200


def test_treasurer_records_a_paper_mandate_and_prints_the_form(client, cast, django_assert_max_num_queries):
    creditor()
    client.force_login(cast.treasurer)
    member = cast.other_member
    with django_assert_max_num_queries(12):
        pdf = client.get(reverse("backoffice:finance_mandate_form_pdf", args=[member.pk]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    url = reverse("backoffice:finance_mandate_new", args=[member.pk])
    with django_assert_max_num_queries(12):
        assert client.get(url).status_code == 200
    bad = client.post(
        url, {"signed_on": "2025-01-01", "debtor_name": "B", "iban": "NL00XXXX", "kind": "recurrent"}
    )
    assert bad.status_code == 200 and not Mandate.objects.exists()
    response = client.post(
        url, {"signed_on": "2025-01-01", "debtor_name": "Bram", "iban": IBAN_RABO, "kind": "recurrent"}
    )
    assert response.status_code == 302
    mandate = Mandate.objects.get(member=member)
    assert mandate.signed_on == date(2025, 1, 1) and mandate.iban == IBAN_RABO


def test_secretariat_cannot_record_mandates(client, cast):
    client.force_login(cast.secretariat)
    assert client.get(reverse("backoffice:finance_mandate_new", args=[cast.member.pk])).status_code == 403


def test_changing_the_bank_account_amends_the_mandate(client, cast):
    member, mandate = debtor()
    client.force_login(cast.treasurer)
    response = client.post(
        reverse("backoffice:bank_account_edit", args=[member.pk]), {"iban": IBAN_ING, "holder_name": "Anna"}
    )
    assert response.status_code == 302
    mandate.refresh_from_db()
    assert mandate.iban == IBAN_ING and mandate.status == Mandate.Status.ACTIVE
    amendment = MandateAmendment.objects.get(mandate=mandate)
    assert amendment.original_iban == IBAN_RABO and amendment.other_bank
    assert BankAccount.objects.get(member=member, is_primary=True).iban == IBAN_ING
