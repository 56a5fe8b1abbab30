"""Applying an import: all or nothing, updates instead of duplicates, households, memberships,
bank accounts and the audit log written as the services would."""

from datetime import date, timedelta

import pytest
from django.db import connection

from kring.core.crypto import fingerprint
from kring.core.models import Association, AuditEntry, NumberSequence
from kring.members import services
from kring.members.importing import bulk, parallel
from kring.members.models import (
    BankAccount,
    BillingFrequency,
    ContactPerson,
    Household,
    Member,
    Membership,
    MembershipChange,
)
from kring.members.tests.factories import MemberFactory, PlanFactory
from kring.members.tests.import_helpers import FILES, TODAY, csv_bytes, errors_of, everything, outcome, run

pytestmark = pytest.mark.django_db

HEADER = (
    "Lidnummer;Voornaam;Tussenvoegsel;Achternaam;E-mail;Mobiel;Postcode;Woonplaats;IBAN;Lidmaatschap;"
    "Betaalfrequentie;Lid sinds"
)
ANNA = (
    "1001;Anna;van den;Berg;anna.berg@example.nl;06-12345678;1234ab;Utrecht;NL91ABNA0417164300;Gewoon lid;"
    "per kwartaal;01-09-2010"
)
BRAM = "1002;Bram;;Jansen;bram.jansen@example.nl;;3511 AB;Utrecht;;Gewoon lid;;"


@pytest.fixture
def plan():
    return PlanFactory(code="gewoon", name="Gewoon lid")


def test_a_new_member_gets_everything_the_member_form_would_give(plan):
    report = run(csv_bytes(HEADER, ANNA, BRAM), apply=True)
    assert outcome(report) == {2: "new", 3: "new"}
    anna = Member.objects.get(member_number="1001")
    assert (anna.sort_name, anna.city_search, anna.listed_name) == (
        "berg anna van den",
        "utrecht",
        "Berg, Anna van den",
    )
    assert "anna van den berg" in anna.search_name
    assert (anna.phone, anna.postcode, anna.member_since) == ("+31612345678", "1234 AB", date(2010, 9, 1))
    assert (anna.current_plan, anna.membership_status) == (plan, Membership.Status.ACTIVE)
    membership = anna.memberships.get()
    assert (membership.status, membership.billing_frequency, membership.start_date) == (
        Membership.Status.ACTIVE,
        BillingFrequency.QUARTERLY,
        date(2010, 9, 1),
    )
    assert membership.current_term_end == date(2025, 8, 31)  # the term running on the day of the import
    assert membership.changes.get().kind == MembershipChange.Kind.STARTED
    bram = Member.objects.get(member_number="1002")
    assert (bram.member_since, bram.memberships.get().billing_frequency) == (TODAY, BillingFrequency.YEARLY)


def test_imported_iban_is_encrypted_masked_and_findable(plan):
    run(csv_bytes(HEADER, ANNA), apply=True)
    account = BankAccount.objects.get()
    assert (account.iban, account.iban_masked, account.bic, account.is_primary) == (
        "NL91ABNA0417164300",
        "NL91 •••• •••• 4300",
        "ABNANL2A",
        True,
    )
    assert account.iban_fingerprint == fingerprint("NL91ABNA0417164300")
    assert account.holder_name == "Anna van den Berg"
    with connection.cursor() as cursor:
        cursor.execute("SELECT iban FROM members_bankaccount WHERE id = %s", [account.pk])
        raw = cursor.fetchone()[0]
    assert "NL91ABNA0417164300" not in raw and "4300" not in raw


def test_new_members_are_audited_with_what_they_were_imported_with(plan, cast):
    before = AuditEntry.objects.count()
    run(csv_bytes(HEADER, ANNA), apply=True, actor=cast.secretariat)
    anna = Member.objects.get(member_number="1001")
    entry = AuditEntry.objects.get(member_id=anna.pk)
    assert AuditEntry.objects.count() == before + 1
    assert (entry.action, entry.actor, entry.note) == (
        "kring.member.created",
        cast.secretariat,
        "Imported from leden.csv.",
    )
    after = {change["field"]: change["after"] for change in entry.changes}
    assert (
        after["last_name"] == "Berg"
        and after["plan"] == "Gewoon lid"
        and after["iban"] == "NL91 •••• •••• 4300"
    )
    assert "NL91ABNA0417164300" not in str(entry.changes)


def test_rows_without_a_number_get_the_next_numbers_in_the_associations_format(plan):
    association = Association.current()
    association.member_number_prefix = "L"
    association.member_number_digits = 5
    association.save()
    run(csv_bytes("Lidnummer;Achternaam", "L00041;Jansen", ";Smit", ";Visser", "9999;Bos"), apply=True)
    numbers = set(Member.objects.values_list("member_number", flat=True))
    assert numbers == {"L00041", "L00042", "L00043", "9999"}
    assert NumberSequence.objects.get(name=services.MEMBER_NUMBER_SEQUENCE).last_value == 43
    assert (
        services.create_member(
            actor=None, member_type=Member.objects.first().member_type, last_name="Later"
        ).member_number
        == "L00044"
    )


def test_one_bad_row_imports_nothing(plan, cast):
    before = everything()
    report = run(csv_bytes(HEADER, ANNA, BRAM, "1003;Cor;;Vries;cor@;;;;;Gewoon lid;;"), apply=True)
    assert not report.applied
    assert errors_of(report) == [
        (4, "E-mail", "'cor@' is not a valid email address. It looks like name@example.nl.")
    ]
    assert everything() == before


def test_a_failure_while_writing_leaves_nothing_behind(plan, cast, monkeypatch):
    before = everything()
    original = bulk.insert

    def fail_on_audit(model, fields, rows, **options):
        if model is AuditEntry:
            raise RuntimeError("disk full")
        return original(model, fields, rows, **options)

    monkeypatch.setattr(bulk, "insert", fail_on_audit)
    with pytest.raises(RuntimeError):
        run(csv_bytes(HEADER, ANNA, BRAM), apply=True)
    assert everything() == before


def test_reimport_updates_by_member_number_and_reports_the_changed_fields(plan, cast):
    anna = cast.member
    data = csv_bytes(
        "Lidnummer;Achternaam;Woonplaats;Postcode", f"{anna.member_number};Berg;Amersfoort;3811aa"
    )
    report = run(data, apply=True, actor=cast.secretariat)
    (row,) = report.rows
    assert row.status == "updated"
    assert row.changes == [
        {"field": "postcode", "before": "1234 AB", "after": "3811 AA"},
        {"field": "city", "before": "Utrecht", "after": "Amersfoort"},
    ]
    anna.refresh_from_db()
    assert (anna.city, anna.city_search, anna.postcode, Member.objects.count()) == (
        "Amersfoort",
        "amersfoort",
        "3811 AA",
        4,
    )
    entry = AuditEntry.objects.filter(member_id=anna.pk).latest("pk")
    assert (entry.action, entry.actor) == ("kring.member.changed", cast.secretariat)
    assert {"field": "city", "before": "Utrecht", "after": "Amersfoort"} in entry.changes


def test_reimport_without_a_member_number_updates_the_one_member_with_that_email(plan, cast):
    data = csv_bytes("Lidnummer;Achternaam;E-mail;Telefoon", ";Jansen;BRAM@example.test;06-11223344")
    report = run(data, apply=True)
    assert outcome(report) == {2: "updated"}
    assert report.rows[0].label.startswith(cast.other_member.member_number)
    cast.other_member.refresh_from_db()
    assert cast.other_member.phone == "+31611223344"


def test_an_email_shared_by_two_rows_matches_nobody(plan, cast):
    data = csv_bytes(
        "Lidnummer;Voornaam;Achternaam;E-mail",
        ";Bram;Jansen;bram@example.test",
        ";Sanne;Jansen;bram@example.test",
    )
    assert outcome(run(data)) == {2: "new", 3: "new"}


def test_an_email_two_members_have_matches_nobody(plan, cast):
    MemberFactory(email="bram@example.test", last_name="Jansen")
    assert outcome(run(csv_bytes("Achternaam;E-mail", "Jansen;bram@example.test"))) == {2: "new"}


def test_importing_the_same_file_twice_changes_nothing_the_second_time(plan):
    data = (FILES / "sportlink_leden.csv").read_bytes()
    first = run(data, apply=True)
    assert first.counts()["new"] == 5
    before = everything()
    stamps = dict(Member.objects.values_list("pk", "updated_at"))
    second = run(data, apply=True)
    assert set(outcome(second).values()) == {"unchanged"}
    assert everything() == before
    assert dict(Member.objects.values_list("pk", "updated_at")) == stamps


def test_households_are_grouped_by_the_household_column(plan):
    run((FILES / "sportlink_leden.csv").read_bytes(), apply=True)
    household = Household.objects.get()
    people = {m.first_name: m.household_role for m in household.members.all()}
    assert people == {
        "René": Member.HouseholdRole.HEAD,
        "Inès": Member.HouseholdRole.PARTNER,
        "Zoë": Member.HouseholdRole.CHILD,
    }
    assert household.name == "Family Van der Meer"
    assert Member.objects.get(first_name="Søren").household is None


def test_without_roles_the_first_row_heads_the_household(plan):
    run(csv_bytes("Lidnummer;Achternaam;Gezin", "1;Bos;12", "2;Bos;12", "3;Smit;13"), apply=True)
    assert dict(Member.objects.values_list("member_number", "household_role")) == {
        "1": Member.HouseholdRole.HEAD,
        "2": Member.HouseholdRole.OTHER,
        "3": Member.HouseholdRole.HEAD,
    }
    assert Household.objects.count() == 2


def test_new_family_members_join_the_household_their_family_is_already_in(plan, cast):
    data = csv_bytes(
        "Lidnummer;Voornaam;Achternaam;Huishouden;Rol in huishouden",
        f"{cast.member.member_number};Anna;Berg;G7;",
        "8001;Lotte;Berg;G7;kind",
    )
    report = run(data, apply=True)
    assert outcome(report) == {2: "unchanged", 3: "new"}
    lotte = Member.objects.get(member_number="8001")
    assert (lotte.household, lotte.household_role) == (cast.member.household, Member.HouseholdRole.CHILD)
    assert Household.objects.count() == 1


def test_frequency_change_is_recorded_on_the_membership(plan, cast):
    membership = cast.member.memberships.get()
    report = run(
        csv_bytes(
            "Lidnummer;Lidmaatschap;Betaalfrequentie", f"{cast.member.member_number};Gewoon lid;maandelijks"
        ),
        apply=True,
    )
    assert report.rows[0].changes == [{"field": "billing_frequency", "before": "yearly", "after": "monthly"}]
    membership.refresh_from_db()
    assert membership.billing_frequency == BillingFrequency.MONTHLY
    change = membership.changes.get(kind=MembershipChange.Kind.FREQUENCY)
    assert (change.from_value, change.to_value) == ("yearly", "monthly")
    assert AuditEntry.objects.filter(
        action="kring.membership.frequency_changed", object_id=str(membership.pk)
    ).exists()


def test_another_plan_switches_the_membership_from_today(plan, cast):
    steun = PlanFactory(code="steun", name="Steunlid")
    old = cast.member.memberships.get()
    report = run(csv_bytes("Lidnummer;Lidmaatschap", f"{cast.member.member_number};Steunlid"), apply=True)
    assert report.rows[0].changes == [{"field": "plan", "before": "Gewoon lid", "after": "Steunlid"}]
    old.refresh_from_db()
    assert (old.status, old.end_date) == (Membership.Status.ENDED, TODAY - timedelta(days=1))
    new = cast.member.memberships.get(status=Membership.Status.ACTIVE)
    assert (new.plan, new.start_date, new.billing_frequency) == (steun, TODAY, old.billing_frequency)
    assert new.changes.filter(kind=MembershipChange.Kind.PLAN_SWITCH).exists()
    cast.member.refresh_from_db()
    assert (cast.member.current_plan, cast.member.member_since) == (steun, date(2024, 1, 1))


def test_a_former_member_with_a_plan_starts_a_new_membership(plan, cast):
    report = run(
        csv_bytes("Lidnummer;Lidmaatschap", f"{cast.former_member.member_number};Gewoon lid"), apply=True
    )
    assert outcome(report) == {2: "updated"}
    cast.former_member.refresh_from_db()
    assert cast.former_member.membership_status == Membership.Status.ACTIVE
    assert cast.former_member.memberships.filter(status=Membership.Status.ACTIVE, start_date=TODAY).exists()


def test_a_new_iban_retires_the_old_account(plan, cast):
    services.set_bank_account(
        cast.member, actor=None, iban="NL91ABNA0417164300", holder_name="A. van den Berg"
    )
    report = run(
        csv_bytes("Lidnummer;IBAN", f"{cast.member.member_number};NL44 RABO 0123 4567 89"), apply=True
    )
    assert report.rows[0].changes[0] == {
        "field": "iban",
        "before": "NL91 •••• •••• 4300",
        "after": "NL44 •••• •••• 6789",
    }
    accounts = dict(BankAccount.objects.filter(member=cast.member).values_list("iban_masked", "is_primary"))
    assert accounts == {"NL91 •••• •••• 4300": False, "NL44 •••• •••• 6789": True}
    assert BankAccount.objects.get(member=cast.member, is_primary=True).iban == "NL44RABO0123456789"


def test_the_same_iban_again_changes_nothing(plan, cast):
    services.set_bank_account(
        cast.member, actor=None, iban="NL91ABNA0417164300", holder_name="A. van den Berg"
    )
    report = run(
        csv_bytes("Lidnummer;IBAN", f"{cast.member.member_number};NL91 ABNA 0417 1643 00"), apply=True
    )
    assert outcome(report) == {2: "unchanged"}


def test_empty_cells_do_not_erase(plan, cast):
    report = run(
        csv_bytes("Lidnummer;Achternaam;E-mail;Woonplaats", f"{cast.member.member_number};;;"), apply=True
    )
    assert outcome(report) == {2: "unchanged"}
    cast.member.refresh_from_db()
    assert (cast.member.last_name, cast.member.email, cast.member.city) == (
        "Berg",
        "anna@example.test",
        "Utrecht",
    )


def test_organisations_with_their_contact_person(plan):
    data = csv_bytes(
        "Lidnummer;Bedrijfsnaam;KvK;Voornaam;Achternaam;E-mail",
        "5001;Bakkerij Jansen B.V.;12345678;Piet;Jansen;info@bakkerij.example",
    )
    run(data, apply=True)
    organisation = Member.objects.get(member_number="5001")
    assert (
        organisation.kind,
        organisation.organisation_name,
        organisation.kvk_number,
        organisation.last_name,
    ) == (Member.Kind.ORGANISATION, "Bakkerij Jansen B.V.", "12345678", "")
    contact = ContactPerson.objects.get(organisation=organisation)
    assert (contact.first_name, contact.last_name, contact.is_primary) == ("Piet", "Jansen", True)
    report = run(data.replace(b"Piet", b"Kees"), apply=True)
    assert report.rows[0].changes == [
        {"field": "contact_person", "before": "Piet Jansen", "after": "Kees Jansen"}
    ]
    assert ContactPerson.objects.get(organisation=organisation).first_name == "Kees"


def test_large_files_are_checked_on_every_core_with_the_same_outcome(plan, cast, monkeypatch):
    lines = [
        HEADER,
        ANNA,
        BRAM,
        "1003;Cor;;Vries;cor@;;;;;Gewoon lid;;",
        f"{cast.member.member_number};;;;;;;Zeist;;;;",
    ]
    lines += [
        f"{2000 + n};Lid;;Nummer{n};lid{n}@example.nl;06-1234{n:04d};;;;Gewoon lid;;" for n in range(12)
    ]
    data = csv_bytes(*lines)
    serial = run(data)
    monkeypatch.setattr(parallel, "PARALLEL_FROM_ROWS", 1)
    monkeypatch.setattr(parallel, "CHUNK_ROWS", 3)
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 4)
    restored = []
    original_restore = parallel._restore
    monkeypatch.setattr(
        parallel, "_restore", lambda row, *args: restored.append(row) or original_restore(row, *args)
    )
    spread = run(data)
    assert len(restored) == len(spread.rows)  # the rows were checked by the worker processes

    def summary(report):
        return [(row.number, row.status, row.label, row.changes, row.derived) for row in report.rows]

    assert summary(spread) == summary(serial)
    assert errors_of(spread) == errors_of(serial) != []


def test_derived_fields_are_what_the_model_computes(plan, cast):
    run((FILES / "sportlink_leden.csv").read_bytes(), apply=True)
    run((FILES / "english_members.csv").read_bytes(), "english_members.csv", apply=True)
    run(
        csv_bytes(
            "Lidnummer;Voornaam;Tussenvoegsel;Achternaam;Woonplaats",
            f"{cast.member.member_number};Annemarie;;Van den Bergh-Smit;'s-Hertogenbosch",
        ),
        apply=True,
    )
    assert Member.objects.count() == 12
    for member in Member.objects.all():
        stored = (member.sort_name, member.search_name, member.city_search)
        member.refresh_derived_fields()
        assert stored == (member.sort_name, member.search_name, member.city_search), member.member_number


def test_imported_children_are_covered_by_the_household_plan():
    from kring.members.importing import run_import
    from kring.members.models import Member
    from kring.members.tests.factories import PlanFactory

    PlanFactory(code="gezin", name="Gezinslidmaatschap", covers_household=True)
    data = (
        b"Lidnummer;Voornaam;Achternaam;Lidmaatschap;Huishouden;Rol in huishouden\n"
        b"500001;Karin;Smit;Gezinslidmaatschap;Smit;hoofdlid\n"
        b"500002;Lotte;Smit;;Smit;kind\n"
    )
    report = run_import(data, "gezin.csv", apply=True)
    assert not report.errors
    child = Member.objects.get(member_number="500002")
    assert child.membership_status == "active" and child.current_plan.name == "Gezinslidmaatschap"
