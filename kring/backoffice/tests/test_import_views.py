"""Importing a member list from the back office: upload, background check with progress, report,
error report, "Import now", and who may do it."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from kring.core.jobs import execute_job
from kring.core.models import BackgroundJob
from kring.members.models import Member
from kring.members.tests.factories import PlanFactory
from kring.members.tests.import_helpers import FILES, csv_bytes

START = reverse("backoffice:import_start")
GOOD = csv_bytes(
    "Lidnummer;Voornaam;Achternaam;E-mail;Postcode;Lidmaatschap;Geslacht",
    "1001;Anna;Visser;anna.visser@example.nl;1234 AB;Gewoon lid;V",
    "1002;Bram;Bos;bram.bos@example.nl;3511 AB;Gewoon lid;M",
)
BAD = csv_bytes("Lidnummer;Achternaam;Postcode", "1001;Visser;1234 AB", "1002;Bos;12345", "1003;;")


@pytest.fixture
def staff_client(client, cast):
    PlanFactory(code="gewoon", name="Gewoon lid")
    client.force_login(cast.secretariat)
    return client


def upload(client, data: bytes, name: str = "leden.csv"):
    return client.post(START, {"file": SimpleUploadedFile(name, data)}, HTTP_ACCEPT_LANGUAGE="en")


def checked(client, data: bytes, name: str = "leden.csv") -> BackgroundJob:
    response = upload(client, data, name)
    job = BackgroundJob.objects.latest("pk")
    assert response.status_code == 302
    assert response["Location"] == reverse("backoffice:import_detail", args=[job.pk])
    execute_job(job.pk)
    job.refresh_from_db()
    return job


def page(client, job: BackgroundJob) -> str:
    response = client.get(reverse("backoffice:import_detail", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    return response.content.decode()


def test_the_upload_is_kept_in_the_job_and_its_page_follows_the_progress(staff_client, cast):
    response = upload(staff_client, GOOD, "ledenlijst.csv")
    job = BackgroundJob.objects.get()
    assert response["Location"] == reverse("backoffice:import_detail", args=[job.pk])
    assert (job.kind, bytes(job.input_file), job.input_filename) == ("members.import", GOOD, "ledenlijst.csv")
    assert (job.params["apply"], job.created_by, job.status) == (False, cast.secretariat, "queued")
    html = page(staff_client, job)
    status_url = reverse("backoffice:job_status", args=[job.pk])
    assert f'hx-get="{status_url}"' in html and 'hx-trigger="every 1s"' in html
    assert f'data-job="{job.pk}"' in page(staff_client, job)  # a reload shows the same job
    assert Member.objects.filter(member_number="1001").count() == 0


def test_the_progress_partial_shows_how_far_the_job_is(staff_client):
    upload(staff_client, GOOD)
    job = BackgroundJob.objects.get()
    BackgroundJob.objects.filter(pk=job.pk).update(
        status="running", progress_done=250, progress_total=1000, progress_label="Checking row 250 of 1000"
    )
    response = staff_client.get(
        reverse("backoffice:job_status", args=[job.pk]), HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en"
    )
    html = response.content.decode()
    assert 'value="25"' in html and "Checking row 250 of 1000" in html and "every 1s" in html
    assert "HX-Refresh" not in response


def test_a_finished_job_tells_the_page_to_reload(staff_client):
    job = checked(staff_client, GOOD)
    response = staff_client.get(reverse("backoffice:job_status", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert response["HX-Refresh"] == "true"
    assert "every 1s" not in response.content.decode()


def test_the_checked_file_shows_the_mapping_what_changes_and_the_import_button(staff_client):
    job = checked(staff_client, GOOD)
    assert job.status == "succeeded" and job.result["counts"]["new"] == 2
    html = page(staff_client, job)
    assert 'id="import-apply-form"' in html and reverse("backoffice:import_apply", args=[job.pk]) in html
    assert "<td>Lidnummer</td><td>member number</td>" in html
    assert "<td>Geslacht</td><td>not imported: name not recognised</td>" in html
    assert "1001 Anna Visser" in html and "1002 Bram Bos" in html


def test_problems_come_first_can_be_downloaded_and_block_the_import(staff_client):
    job = checked(staff_client, BAD)
    html = page(staff_client, job)
    assert 'id="import-apply-form"' not in html
    assert html.index('id="import-problems"') < html.index('id="import-mapping"')
    assert html.count('class="import-error"') == 2
    response = staff_client.get(reverse("backoffice:import_errors", args=[job.pk]))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="importfouten-{job.pk}.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert [row[:3] for row in rows[1:]] == [["3", "Postcode", "12345"], ["4", "Achternaam", ""]]
    assert "is not a Dutch postcode" in rows[1][3]
    assert staff_client.post(reverse("backoffice:import_apply", args=[job.pk])).status_code == 302
    assert BackgroundJob.objects.count() == 1


def test_import_now_imports_the_same_file_once(staff_client, cast):
    check = checked(staff_client, GOOD)
    response = staff_client.post(reverse("backoffice:import_apply", args=[check.pk]))
    job = BackgroundJob.objects.latest("pk")
    assert response["Location"] == reverse("backoffice:import_detail", args=[job.pk])
    assert (bytes(job.input_file), job.params["apply"], job.params["checked_job"]) == (GOOD, True, check.pk)
    execute_job(job.pk)
    assert set(
        Member.objects.filter(member_number__in=["1001", "1002"]).values_list("last_name", flat=True)
    ) == {"Visser", "Bos"}
    html = page(staff_client, job)
    assert 'id="import-done"' in html and "2 new members, 0 updated, 0 unchanged" in html
    again = staff_client.post(reverse("backoffice:import_apply", args=[check.pk]))
    assert again["Location"] == reverse("backoffice:import_detail", args=[job.pk])
    assert BackgroundJob.objects.count() == 2
    check_page = page(staff_client, check)
    assert 'id="import-apply-form"' not in check_page and 'id="import-applied-link"' in check_page


def test_with_the_task_backend_the_check_runs_once_the_upload_is_saved(transactional_db, staff_client):
    # No test transaction around this one: as in production, the upload commits, then the task runs
    # (the immediate backend of the test settings runs it at once, on a fresh connection).
    upload(staff_client, (FILES / "sportlink_leden.csv").read_bytes(), "sportlink_leden.csv")
    job = BackgroundJob.objects.get()
    assert job.status == "succeeded"
    assert (job.result["counts"]["new"], job.result["encoding"]) == (5, "Windows-1252")


def test_a_file_that_cannot_be_read_fails_the_job_with_the_reason(staff_client):
    job = checked(staff_client, b"PK\x03\x04 broken", "leden.xlsx")
    assert job.status == "failed"
    html = page(staff_client, job)
    assert 'id="job-error"' in html and "cannot be opened as an Excel workbook" in html


@pytest.mark.parametrize(
    "name,data,message",
    [
        ("leden.pdf", GOOD, "Kring can read CSV files"),
        ("leden.csv", b"", "The submitted file is empty."),
        ("leden.csv", b"   \r\n", "The file is empty."),
    ],
)
def test_a_wrong_upload_is_refused_on_the_form(staff_client, name, data, message):
    response = upload(staff_client, data, name)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not BackgroundJob.objects.exists()


def test_the_start_page_lists_recent_imports_and_offers_an_example(staff_client):
    job = checked(staff_client, GOOD)
    html = staff_client.get(START, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert (
        reverse("backoffice:import_detail", args=[job.pk]) in html and "2 new, 0 updated, 0 unchanged" in html
    )
    example = staff_client.get(reverse("backoffice:import_example"))
    header = example.content.decode("utf-8-sig").splitlines()[0].split(";")
    assert header[:5] == ["Lidnummer", "Voornaam", "Voorletters", "Tussenvoegsel", "Achternaam"]


def test_the_report_page_needs_the_same_queries_for_many_rows(staff_client, django_assert_max_num_queries):
    lines = [f"{5000 + n};Lid{n};lid{n}@example.nl;Gewoon lid" for n in range(300)]
    job = checked(staff_client, csv_bytes("Lidnummer;Achternaam;E-mail;Lidmaatschap", *lines))
    with django_assert_max_num_queries(8):
        html = page(staff_client, job)
    assert html.count('class="import-row import-row--new"') == 200 and "And 100 more rows." in html


@pytest.mark.parametrize("role", ["board", "treasurer", "audit_committee"])
def test_only_the_secretariat_may_import(client, cast, role):
    job = BackgroundJob.objects.create(
        kind="members.import",
        params={"apply": False},
        created_by=cast.secretariat,
        input_file=GOOD,
        input_filename="leden.csv",
    )
    client.force_login(getattr(cast, role))
    for name, args in [
        ("import_start", []),
        ("import_example", []),
        ("import_detail", [job.pk]),
        ("import_errors", [job.pk]),
        ("job_status", [job.pk]),
    ]:
        assert client.get(reverse(f"backoffice:{name}", args=args)).status_code == 403, name
    assert client.post(START, {"file": SimpleUploadedFile("leden.csv", GOOD)}).status_code == 403
    assert client.post(reverse("backoffice:import_apply", args=[job.pk])).status_code == 403
    assert BackgroundJob.objects.count() == 1


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(START)
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


def test_another_kind_of_job_is_not_an_import_page(staff_client, cast):
    job = BackgroundJob.objects.create(kind="billing.invoice_run", created_by=cast.treasurer)
    assert staff_client.get(reverse("backoffice:import_detail", args=[job.pk])).status_code == 404
    assert staff_client.get(reverse("backoffice:job_status", args=[job.pk])).status_code == 403
