"""Every check of the import names the row, the column, the value and what is wrong, in plain words."""

import random
from datetime import date

import phonenumbers
import pytest
from django.core.exceptions import ValidationError

from kring.members import services, validation
from kring.members.models import BillingFrequency, Member, Membership, PlanPrice
from kring.members.tests.factories import MemberFactory, PlanFactory, member_type
from kring.members.tests.import_helpers import csv_bytes, errors_of, run

pytestmark = pytest.mark.django_db

VALID = {
    "Lidnummer": "1001",
    "Voornaam": "Anna",
    "Achternaam": "Jansen",
    "E-mail": "anna@example.nl",
    "Telefoon": "06-12345678",
    "Straat": "Dorpsstraat",
    "Huisnummer": "12",
    "Postcode": "1234 AB",
    "Land": "Nederland",
    "IBAN": "NL91 ABNA 0417 1643 00",
    "BIC": "",
    "Lidmaatschap": "Gewoon lid",
    "Betaalfrequentie": "jaarlijks",
    "Soort": "Lid",
    "Geboortedatum": "15-04-1980",
    "Lid sinds": "01-01-2020",
    "Correspondentie": "e-mail",
}


@pytest.fixture
def plan():
    return PlanFactory(code="gewoon", name="Gewoon lid")


def check(**changed) -> list[tuple[int, str, str]]:
    cells = {**VALID, **{name.replace("_", " "): value for name, value in changed.items()}}
    return errors_of(run(csv_bytes(";".join(cells), ";".join(cells.values()))))


def only_error(**changed) -> tuple[int, str, str]:
    errors = check(**changed)
    assert len(errors) == 1, errors
    return errors[0]


def test_a_valid_row_has_no_problems(plan):
    assert check() == []


@pytest.mark.parametrize(
    "column,value,reason",
    [
        ("IBAN", "NL91 ABNA 0417 1643 01", "is not a valid IBAN"),
        ("IBAN", "XX12 3456", "is not a valid IBAN"),
        ("BIC", "NOTABIC!", "is not a valid BIC"),
        ("Postcode", "12345", "is not a Dutch postcode"),
        ("Postcode", "1234 SS", "is not a Dutch postcode"),
        ("E-mail", "anna@", "is not a valid email address"),
        ("Telefoon", "06-1234", "is not a valid phone number"),
        ("Huisnummer", "twaalf", "is not a house number"),
        ("Geboortedatum", "31-02-1980", "is not a date"),
        ("Geboortedatum", "01-02-80", "is not a date"),
        ("Geboortedatum", "01-01-2030", "cannot be in the future"),
        ("Geboortedatum", "01-01-1850", "before 1900"),
        ("Lid sinds", "gisteren", "is not a date"),
        ("Land", "Spanje", "is not a country Kring knows"),
        ("Betaalfrequentie", "wekelijks", "Unknown billing frequency"),
        ("Soort", "Beschermheer", "Unknown member type. Kring knows: Lid, Jeugdlid"),
        ("Lidmaatschap", "Goud", "Unknown plan. Kring knows these plans: Gewoon lid"),
        ("Correspondentie", "duif", "Unknown way of correspondence"),
        ("Voornaam", "A" * 101, "at most 100 characters"),
        ("Lidnummer", "1" * 21, "at most 20 characters"),
        ("Achternaam", "", "Enter the last name"),
    ],
)
def test_each_bad_value_is_reported_with_row_column_and_reason(plan, column, value, reason):
    row, reported_column, reported_reason = only_error(**{column: value})
    assert (row, reported_column) == (2, column)
    assert reason in reported_reason


def test_a_belgian_address_is_checked_as_belgian(plan):
    assert check(Land="België", Postcode="1000", Telefoon="0470 12 34 56") == []
    assert only_error(Land="België", Postcode="1234 AB", Telefoon="0470 12 34 56")[1:] == (
        "Postcode",
        "'1234 AB' is not a Belgian postcode. Use four digits, like 1000.",
    )


def test_the_problem_value_is_reported_as_it_was_in_the_file(plan):
    report = run(csv_bytes("Lidnummer;Achternaam;E-mail", "7;Jansen;anna(at)example.nl"))
    (error,) = report.errors
    assert (error.row, error.column, error.value) == (2, "E-mail", "anna(at)example.nl")


def test_duplicate_member_number_within_the_file(plan):
    report = run(csv_bytes("Lidnummer;Achternaam", "1;Jansen", "2;Smit", "1;Visser"))
    assert errors_of(report) == [
        (4, "Lidnummer", "This member number is also used in row 2. Each member appears once in the file.")
    ]


def test_the_same_member_twice_by_number_and_by_email(plan):
    MemberFactory(member_number="500", email="piet@example.nl")
    report = run(csv_bytes("Lidnummer;Achternaam;E-mail", "500;Jansen;", ";Jansen;piet@example.nl"))
    assert errors_of(report) == [
        (3, "E-mail", "Row 2 is about the same member (500). Each member appears once in the file.")
    ]


def test_plan_that_cannot_be_paid_at_that_frequency(plan):
    PlanPrice.objects.filter(plan=plan, frequency=BillingFrequency.MONTHLY).delete()
    row, column, reason = only_error(Betaalfrequentie="maandelijks")
    assert (row, column) == (2, "Betaalfrequentie")
    assert reason == "The plan Gewoon lid cannot be paid monthly. Choose: yearly, quarterly."


def test_plan_for_other_member_types(plan):
    plan.member_types.add(member_type("jeugdlid"))
    assert only_error()[1:] == ("Lidmaatschap", "The plan Gewoon lid is not available for Lid.")


def test_plan_for_organisations_only(plan):
    PlanFactory(code="bedrijf", name="Bedrijfslid", for_organisations=True)
    assert only_error(Lidmaatschap="Bedrijfslid")[1:] == (
        "Lidmaatschap",
        "The plan Bedrijfslid is for organisations only.",
    )


def test_an_add_on_cannot_be_imported_as_a_plan(plan):
    PlanFactory(code="blad", name="Verenigingsblad", is_addon=True)
    assert "is an add-on" in only_error(Lidmaatschap="Verenigingsblad")[2]


def test_kvk_number_of_an_organisation(plan):
    report = run(csv_bytes("Lidnummer;Bedrijfsnaam;KvK", "9;Bakkerij Jansen BV;1234"))
    assert errors_of(report) == [(2, "KvK", "A KvK number has exactly 8 digits.")]


def test_a_person_in_kring_cannot_become_an_organisation(plan):
    MemberFactory(member_number="600")
    report = run(csv_bytes("Lidnummer;Bedrijfsnaam", "600;Jansen BV"))
    assert errors_of(report)[0][:2] == (2, "Bedrijfsnaam")


def test_household_role_problems(plan):
    report = run(
        csv_bytes(
            "Lidnummer;Achternaam;Huishouden;Rol in huishouden",
            "1;Jansen;H1;hoofdlid",
            "2;Jansen;H1;hoofdlid",
            "3;Smit;;kind",
            "4;Smit;H2;buurman",
        )
    )
    assert errors_of(report) == [
        (3, "Rol in huishouden", "Household H1 already has a main member in row 2."),
        (4, "Rol in huishouden", "A role in the household needs a household in the same row."),
        (
            5,
            "Rol in huishouden",
            "Unknown role in the household. Use main member, partner, child or other "
            "(hoofdlid, partner, kind, overig).",
        ),
    ]


def test_member_of_another_household_must_leave_it_first(cast, plan):
    services.create_household(actor=None, name="Familie Jansen", head=cast.other_member)
    report = run(
        csv_bytes(
            "Lidnummer;Huishouden",
            f"{cast.member.member_number};X",
            f"{cast.other_member.member_number};X",
        )
    )
    assert errors_of(report) == [
        (
            3,
            "Huishouden",
            "This member already belongs to household Familie Jansen. "
            "Let them leave it on the member's page first.",
        )
    ]


def test_a_household_keeps_its_main_member_unless_changed_on_the_member_page(cast, plan):
    report = run(
        csv_bytes(
            "Lidnummer;Achternaam;Huishouden;Rol in huishouden",
            f"{cast.household_member.member_number};Berg;H;",
            "7001;Berg;H;hoofdlid",
        )
    )
    assert errors_of(report) == [
        (
            3,
            "Rol in huishouden",
            "Household Familie Van den Berg already has a main "
            f"member (member number {cast.member.member_number}). Change the main member on "
            "the member's page.",
        )
    ]


def test_a_cancelled_membership_cannot_switch_plans_in_an_import(cast, plan):
    other = PlanFactory(code="steun", name="Steunlid")
    membership = cast.other_member.memberships.get()
    services.cancel_membership(
        membership,
        actor=None,
        reason=membership.cancellation_reason or _reason(),
        cancelled_on=date(2025, 1, 1),
    )
    report = run(csv_bytes("Lidnummer;Lidmaatschap", f"{cast.other_member.member_number};{other.name}"))
    assert errors_of(report)[0][:2] == (2, "Lidmaatschap")
    assert Membership.objects.get(pk=membership.pk).plan == plan


def _reason():
    from kring.members.models import CancellationReason

    return CancellationReason.objects.first()


def test_every_problem_of_a_row_is_reported_not_only_the_first(plan):
    errors = check(Postcode="12", Telefoon="0", IBAN="NL00", Achternaam="")
    assert {column for _row, column, _reason in errors} == {"Postcode", "Telefoon", "IBAN", "Achternaam"}


def test_the_import_accepts_exactly_what_the_member_form_accepts(plan):
    """The import's checks are the services' own: a value refused there is refused here."""
    for postcode, phone in [("1234AB", "0612345678"), ("1234 SD", "0612345678"), ("1234 AB", "+31 6 1234")]:
        try:
            services.normalise_member_fields(
                {
                    "kind": Member.Kind.PERSON,
                    "country": "NL",
                    "postcode": postcode,
                    "phone": phone,
                    "last_name": "Jansen",
                }
            )
            form_ok = True
        except ValidationError:
            form_ok = False
        assert (check(Postcode=postcode, Telefoon=phone) == []) is form_ok


def test_dutch_phone_shortcut_gives_the_same_answer_as_the_full_parser():
    """check_phone reads common Dutch notations without phonenumbers.parse; the outcome must not differ."""

    def full(raw, region):
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(number):
            return None
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def shortcut(raw, region):
        try:
            return validation.check_phone(raw, region)
        except ValidationError:
            return None

    rng = random.Random(7)
    forms = [
        "0{d}",
        "+31{d}",
        "0031{d}",
        "+31 {d}",
        "0{a}-{b}",
        "0{a} {b}",
        "(0{a}) {b}",
        "+31 (0){d}",
        "+31-{a}-{b}",
        "00 31 {d}",
        "0{a}.{b}",
    ]
    for _ in range(20000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.choice([8, 9, 9, 9, 10])))
        cut = rng.randint(1, 3)
        raw = rng.choice(forms).format(d=digits, a=digits[:cut], b=digits[cut:])
        region = rng.choice(["NL", "NL", "BE", "DE"])
        assert shortcut(raw, region) == full(raw, region), (raw, region)
