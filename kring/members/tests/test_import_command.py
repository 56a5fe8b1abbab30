"""python manage.py import_members FILE [--apply]"""

import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from kring.core.models import AuditEntry
from kring.members.models import Member
from kring.members.tests.factories import PlanFactory
from kring.members.tests.import_helpers import FILES, csv_bytes, everything

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan():
    return PlanFactory(code="gewoon", name="Gewoon lid")


def import_members(*args) -> str:
    out = io.StringIO()
    with translation.override("en"):
        call_command("import_members", *args, stdout=out)
    return out.getvalue()


def test_without_apply_it_prints_the_mapping_and_the_rows_and_saves_nothing(plan):
    output = import_members(str(FILES / "sportlink_leden.csv"))
    assert "CSV, Windows-1252, separated by semicolons" in output
    assert "  Lidnummer → member number" in output
    assert "Not imported (column name not recognised): Geslacht" in output
    assert "Row 2: new member 1001 René van der Meer" in output
    assert "Check only, nothing was saved: 5 new, 0 to update, 0 unchanged." in output
    assert Member.objects.count() == 0


def test_apply_imports_and_a_second_run_reports_every_row_unchanged(plan):
    assert "Imported: 5 new, 0 updated, 0 unchanged." in import_members(
        str(FILES / "sportlink_leden.csv"), "--apply"
    )
    entries = AuditEntry.objects.count()
    output = import_members(str(FILES / "sportlink_leden.csv"), "--apply")
    assert "Unchanged: rows 2-6" in output
    assert "Imported: 0 new, 0 updated, 5 unchanged." in output
    assert AuditEntry.objects.count() == entries


def test_updated_rows_list_each_field_before_and_after(plan, cast, tmp_path):
    path = tmp_path / "leden.csv"
    path.write_bytes(csv_bytes("Lidnummer;Woonplaats", f"{cast.member.member_number};Zeist"))
    output = import_members(str(path), "--apply")
    assert f"Row 2: {cast.member.member_number} Anna van den Berg updated" in output
    assert "    city: 'Utrecht' → 'Zeist'" in output


def test_problems_are_listed_and_the_command_fails_with_nothing_imported(plan, tmp_path):
    path = tmp_path / "leden.csv"
    path.write_bytes(csv_bytes("Lidnummer;Achternaam;Postcode", "1;Jansen;1234 AB", "2;Smit;12345"))
    out, err = io.StringIO(), io.StringIO()
    with translation.override("en"), pytest.raises(CommandError) as error:
        call_command("import_members", str(path), "--apply", stdout=out, stderr=err)
    assert error.value.returncode == 1
    assert "row 3, Postcode '12345': '12345' is not a Dutch postcode." in out.getvalue()
    assert "Nothing was imported: the file has 1 problem. Correct it and try again." in out.getvalue()
    assert Member.objects.count() == 0


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("missing.csv", None, "There is no file"),
        ("leden.pdf", b"Lidnummer;Achternaam\r\n1;Jansen\r\n", "Kring can read CSV files"),
        ("leeg.csv", b"", "The file is empty"),
    ],
)
def test_bad_arguments_give_a_clear_message_and_change_nothing(plan, cast, tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    before = everything()
    with translation.override("en"), pytest.raises(CommandError, match=message):
        call_command("import_members", str(path), "--apply", stdout=io.StringIO())
    assert everything() == before


def test_the_importing_staff_member_is_named_in_the_history(plan, cast, tmp_path):
    path = tmp_path / "leden.csv"
    path.write_bytes(csv_bytes("Lidnummer;Achternaam", "1;Jansen"))
    import_members(str(path), "--apply", "--user", cast.secretariat.email)
    assert (
        AuditEntry.objects.get(
            action="kring.member.created", member_id=Member.objects.get(member_number="1").pk
        ).actor
        == cast.secretariat
    )
    with translation.override("en"), pytest.raises(CommandError, match="no staff member"):
        call_command("import_members", str(path), "--user", "nobody@example.test", stdout=io.StringIO())
