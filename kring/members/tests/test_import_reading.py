"""Reading member lists as other tools export them: encodings, separators, Excel, column names."""

from datetime import date, datetime

import pytest

from kring.members.importing import ImportFileError
from kring.members.importing.columns import map_columns
from kring.members.importing.reading import read_table
from kring.members.models import Member
from kring.members.tests.factories import PlanFactory
from kring.members.tests.import_helpers import FILES, csv_bytes, errors_of, outcome, run, xlsx_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan():
    return PlanFactory(code="gewoon", name="Gewoon lid")


def test_sportlink_export_in_windows_1252_with_semicolons_keeps_accents(plan):
    report = run((FILES / "sportlink_leden.csv").read_bytes(), "sportlink_leden.csv", apply=True)
    assert (report.encoding, report.delimiter) == ("Windows-1252", "semicolon")
    assert report.counts()["new"] == 5
    names = sorted(Member.objects.values_list("first_name", flat=True))
    assert names == ["Inès", "Joëlle", "René", "Søren", "Zoë"]
    assert Member.objects.get(member_number="1004").city == "Brussel"


def test_english_export_in_utf8_with_bom_and_commas(plan):
    report = run((FILES / "english_members.csv").read_bytes(), "english_members.csv", apply=True)
    assert (report.encoding, report.delimiter) == ("UTF-8 (BOM)", "comma")
    assert errors_of(report) == []
    jan = Member.objects.get(member_number="2002")
    assert (jan.first_name, jan.name_prefix, jan.last_name) == ("Jan, Jr.", "van", "Dijk")
    assert jan.member_type.code == "donateur"
    assert Member.objects.get(member_number="2003").last_name == "d'Hondt"


def test_utf8_without_bom_is_recognised():
    table = read_table(csv_bytes("Lidnummer;Achternaam", "1;Müller"), "leden.csv")
    assert (table.encoding, table.rows[0][1]) == ("UTF-8", ["1", "Müller"])


def test_windows_1252_is_recognised_without_a_hint():
    table = read_table(csv_bytes("Lidnummer;Achternaam", "1;Brouwér", encoding="cp1252"), "leden.csv")
    assert (table.encoding, table.rows[0][1]) == ("Windows-1252", ["1", "Brouwér"])


def test_tab_separated_utf16_as_excel_saves_unicode_text():
    data = "\ufeffLidnummer\tAchternaam\r\n1\tJansen\r\n".encode("utf-16-le")
    table = read_table(b"\xff\xfe" + data[2:], "leden.txt")
    assert (table.delimiter, table.rows[0][1]) == ("tab", ["1", "Jansen"])


def test_row_numbers_are_those_of_the_spreadsheet(plan):
    data = csv_bytes(
        "Ledenlijst per 1 juni",
        "",
        "Lidnummer;Achternaam;Opmerkingen",
        '1;Jansen;"twee\nregels"',
        "",
        "2;;",
    )
    report = run(data)
    assert errors_of(report) == [(6, "Achternaam", "Enter the last name.")]


def test_xlsx_with_dates_numbers_and_a_title_row(plan):
    data = xlsx_bytes(
        [
            ["Ledenlijst"],
            [
                "Lidnummer",
                "Voornaam",
                "Achternaam",
                "Geboortedatum",
                "Mobiel",
                "Huisnummer",
                "Postcode",
                "Land",
                "Lid sinds",
            ],
            [
                3001,
                "Fenna",
                "Visser",
                datetime(1984, 2, 29),
                612345678,
                12.0,
                "3511ab",
                "Nederland",
                date(2001, 9, 1),
            ],
            [None, None, None, None, None, None, None, None, None],
            [3002.0, "Ruud", "Smit", "29-02-1984", "0470 12 34 56", "7a", 1000, "België", 36892],
        ]
    )
    report = run(data, "leden.xlsx", apply=True)
    assert report.file_format == "xlsx"
    assert errors_of(report) == []
    assert outcome(report) == {3: "new", 5: "new"}
    fenna = Member.objects.get(member_number="3001")
    assert (fenna.date_of_birth, fenna.phone, fenna.house_number, fenna.postcode, fenna.member_since) == (
        date(1984, 2, 29),
        "+31612345678",
        12,
        "3511 AB",
        date(2001, 9, 1),
    )
    ruud = Member.objects.get(member_number="3002")
    assert (ruud.phone, ruud.house_number, ruud.house_number_addition, ruud.postcode, ruud.country) == (
        "+32470123456",
        7,
        "a",
        "1000",
        "BE",
    )
    assert ruud.member_since == date(2001, 1, 1)  # Excel day number 36892


@pytest.mark.parametrize(
    "header,field",
    [
        ("Lidnummer", "member_number"),
        ("Relatienummer", "member_number"),
        ("Member number", "member_number"),
        ("Relatiecode", "member_number"),
        ("VOORNAAM", "first_name"),
        ("Roepnaam", "first_name"),
        ("Voorletters", "initials"),
        ("Tussenvoegsel(s)", "name_prefix"),
        ("Voorvoegsel", "name_prefix"),
        ("Prefix", "name_prefix"),
        ("Achternaam", "last_name"),
        ("Naam", "last_name"),
        ("Last name", "last_name"),
        ("Geboortedatum", "date_of_birth"),
        ("Date of birth", "date_of_birth"),
        ("E-mail", "email"),
        (" e-mail adres ", "email"),
        ("E-mailadres", "email"),
        ("Telefoon", "phone"),
        ("Mobiel", "phone"),
        ("GSM", "phone"),
        ("Straat", "street"),
        ("Adres", "street"),
        ("Huisnummer", "house_number"),
        ("House number", "house_number"),
        ("Toevoeging", "house_number_addition"),
        ("Huisnummertoevoeging", "house_number_addition"),
        ("Postcode", "postcode"),
        ("Zip", "postcode"),
        ("Woonplaats", "city"),
        ("Plaats", "city"),
        ("City", "city"),
        ("Land", "country"),
        ("Country", "country"),
        ("IBAN", "iban"),
        ("Rekeningnummer", "iban"),
        ("Tenaamstelling", "holder_name"),
        ("Rekeninghouder", "holder_name"),
        ("Account holder", "holder_name"),
        ("BIC", "bic"),
        ("Lidmaatschap", "plan"),
        ("Soort lid", "plan"),
        ("Plan", "plan"),
        ("Betaalfrequentie", "billing_frequency"),
        ("Frequency", "billing_frequency"),
        ("Lid sinds", "start_date"),
        ("Ingangsdatum", "start_date"),
        ("Start date", "start_date"),
        ("Soort", "member_type"),
        ("Member type", "member_type"),
        ("Organisatie", "organisation_name"),
        ("Bedrijfsnaam", "organisation_name"),
        ("Organisation", "organisation_name"),
        ("KvK", "kvk_number"),
        ("KvK-nummer", "kvk_number"),
        ("Huishouden", "household"),
        ("Gezin", "household"),
        ("Household", "household"),
        ("Rol in huishouden", "household_role"),
        ("Correspondentie", "correspondence"),
    ],
)
def test_column_names_are_recognised_whatever_their_case_spaces_or_accents(header, field):
    mapping = map_columns([header])
    assert mapping.columns == {field: [0]}


def test_unknown_columns_are_listed_as_not_imported():
    mapping = map_columns(["Lidnummer", "Geslacht", "Achternaam", "Schoenmaat"])
    assert [mapping.header(position) for position in mapping.unmapped] == ["Geslacht", "Schoenmaat"]
    assert mapping.as_dict()["unmapped"] == ["Geslacht", "Schoenmaat"]


def test_when_two_columns_hold_the_phone_each_row_takes_the_first_filled_in(plan):
    data = csv_bytes(
        "Lidnummer;Achternaam;Telefoon;Mobiel", "1;Jansen;030-1234567;06-12345678", "2;Smit;030-1234567;"
    )
    run(data, apply=True)
    assert Member.objects.get(member_number="1").phone == "+31612345678"
    assert Member.objects.get(member_number="2").phone == "+31301234567"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("31-12-1980", date(1980, 12, 31)),
        ("1-2-1980", date(1980, 2, 1)),
        ("01/02/1980", date(1980, 2, 1)),
        ("1980-02-01", date(1980, 2, 1)),
        ("1.2.1980", date(1980, 2, 1)),
    ],
)
def test_dates_in_the_usual_notations(plan, text, expected):
    run(csv_bytes("Lidnummer;Achternaam;Geboortedatum", f"1;Jansen;{text}"), apply=True)
    assert Member.objects.get().date_of_birth == expected


@pytest.mark.parametrize(
    "text,code",
    [
        ("NL", "NL"),
        ("Nederland", "NL"),
        ("Netherlands", "NL"),
        ("BE", "BE"),
        ("België", "BE"),
        ("Belgie", "BE"),
        ("Belgium", "BE"),
        ("belgique", "BE"),
        ("Duitsland", "DE"),
    ],
)
def test_countries_by_code_or_name(plan, text, code):
    run(csv_bytes("Lidnummer;Achternaam;Land", f"1;Jansen;{text}"), apply=True)
    assert Member.objects.get().country == code


@pytest.mark.parametrize(
    "data,filename,message",
    [
        (b"", "leden.csv", "The file is empty"),
        (b"  \r\n ", "leden.csv", "The file is empty"),
        (b"Lidnummer;Achternaam\r\n", "leden.csv", "column names but no members"),
        (
            b"Lidnummer;Achternaam\r\n1;Jansen\r\n",
            "leden.pdf",
            "CSV files (.csv) and Excel workbooks (.xlsx)",
        ),
        (b"\xd0\xcf\x11\xe0", "leden.xls", "Old Excel files (.xls)"),
        (b"PK\x03\x04 not really a workbook", "leden.xlsx", "cannot be opened as an Excel workbook"),
        (b"Geslacht;Schoenmaat\r\nM;44\r\n", "leden.csv", "None of the column names"),
        (b"Geslacht;Woonplaats\r\nM;Utrecht\r\n", "leden.csv", "cannot tell who each row is about"),
    ],
)
def test_unusable_files_are_refused_with_a_clear_message(data, filename, message):
    with pytest.raises(ImportFileError) as error:
        run(data, filename)
    assert message in str(error.value)
