import csv
import io
import re

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from kring.core.models import AuditEntry
from kring.members import services
from kring.members.tests.factories import MemberFactory

URL = reverse("backoffice:member_export")


@pytest.fixture
def staff_client(client, cast):
    client.force_login(cast.secretariat)
    return client


def export(client, **params) -> tuple[bytes, list[list[str]]]:
    response = client.get(URL, params, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    return body, rows


def test_export_is_semicolon_separated_utf8_with_bom_for_excel(staff_client, cast):
    response = staff_client.get(URL)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="[a-z]+-\d{4}-\d{2}-\d{2}\.csv"', response["Content-Disposition"]
    )
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    assert body.splitlines()[0].count(b";") == 16


def test_export_has_the_agreed_columns_and_values(staff_client, cast):
    services.update_member(cast.member, actor=None, phone="0612345678", house_number_addition="bis")
    _body, rows = export(staff_client, q=cast.member.member_number)
    assert rows[0] == [
        "member number",
        "first name",
        "initials",
        "tussenvoegsel",
        "last name",
        "organisation",
        "email address",
        "phone number",
        "street",
        "house number",
        "addition",
        "postcode",
        "city",
        "country",
        "plan",
        "membership status",
        "member since",
    ]
    assert rows[1:] == [
        [
            cast.member.member_number,
            "Anna",
            "",
            "van den",
            "Berg",
            "",
            "anna@example.test",
            "06 12345678",
            "Dorpsstraat",
            "1",
            "bis",
            "1234 AB",
            "Utrecht",
            "NL",
            "Gewoon lid",
            "active",
            "2024-01-01",
        ]
    ]


def test_export_follows_the_search_and_filters(staff_client, cast):
    _body, rows = export(staff_client, status="ended")
    assert [row[0] for row in rows[1:]] == [cast.former_member.member_number]
    _body, rows = export(staff_client)
    assert len(rows) == 1 + 4


def test_export_never_contains_the_iban(staff_client, cast):
    services.set_bank_account(
        cast.member, actor=None, iban="NL91ABNA0417164300", holder_name="A. van den Berg"
    )
    body, _rows = export(staff_client)
    assert b"0417164300" not in body
    assert b"NL91" not in body


def test_cells_that_a_spreadsheet_would_run_as_formula_are_neutralised(staff_client, cast):
    MemberFactory(last_name='=HYPERLINK("http://evil.test")', first_name="+Eve", city="@Stad")
    _body, rows = export(staff_client, q="hyperlink")
    assert rows[1][1] == "'+Eve"
    assert rows[1][4].startswith("'=HYPERLINK")
    assert rows[1][12] == "'@Stad"


def test_export_is_audited_with_who_the_filter_and_the_number_of_rows(staff_client, cast):
    export(staff_client, q="berg", status="active")
    entry = AuditEntry.objects.get(action="kring.member.exported")
    assert entry.actor == cast.secretariat
    assert "q=berg" in entry.note and "status=active" in entry.note
    assert entry.note.startswith("rows: 1;")  # Pim van den Berg has no membership


def test_export_reads_members_in_chunks_not_all_at_once(staff_client, cast, django_assert_max_num_queries):
    for _n in range(40):
        MemberFactory()
    response = staff_client.get(URL)
    with django_assert_max_num_queries(3):
        rows = b"".join(response.streaming_content).splitlines()
    assert len(rows) == 1 + 44
