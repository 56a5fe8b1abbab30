import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from kring.members import validation


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    ("raw", "expected"), [("1234AB", "1234 AB"), ("1234 ab", "1234 AB"), (" 9999zz ", "9999 ZZ")]
)
def test_dutch_postcode_is_normalised(raw, expected):
    assert validation.check_postcode(raw, "NL") == expected


@pytest.mark.parametrize("raw", ["0123 AB", "12345", "1234 A", "ABCD EF", "1234 SS", "1234-AB-1"])
def test_bad_dutch_postcode_is_refused(raw):
    with pytest.raises(ValidationError, match="Dutch postcode"):
        validation.check_postcode(raw, "NL")


@pytest.mark.parametrize(("raw", "expected"), [("1000", "1000"), ("B-9000", "9000"), (" 3500 ", "3500")])
def test_belgian_postcode(raw, expected):
    assert validation.check_postcode(raw, "BE") == expected


@pytest.mark.parametrize("raw", ["0999", "10000", "1000 AB"])
def test_bad_belgian_postcode_is_refused(raw):
    with pytest.raises(ValidationError, match="Belgian postcode"):
        validation.check_postcode(raw, "BE")


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("06-12345678", "NL", "+31612345678"),
        ("020 123 4567", "NL", "+31201234567"),
        ("+32 470 12 34 56", "NL", "+32470123456"),
        ("0470 12 34 56", "BE", "+32470123456"),
    ],
)
def test_phone_is_stored_as_e164(raw, country, expected):
    assert validation.check_phone(raw, country) == expected


@pytest.mark.parametrize("raw", ["12345", "06-1234", "abc"])
def test_bad_phone_is_refused(raw):
    with pytest.raises(ValidationError, match="not a valid phone number"):
        validation.check_phone(raw, "NL")


def test_email_is_lower_cased_and_bad_email_refused():
    assert validation.check_email(" Jan@Example.NL ") == "jan@example.nl"
    with pytest.raises(ValidationError, match="not a valid email address"):
        validation.check_email("jan@@example")


def test_iban_checksum_and_country_format():
    checked = validation.check_iban("nl91 abna 0417 1643 00")
    assert checked.iban == "NL91ABNA0417164300" and checked.bic == "ABNANL2A"
    assert validation.check_iban("BE68 5390 0754 7034").iban == "BE68539007547034"
    for bad in ("NL91ABNA0417164301", "NL91ABNA041716430", "XX91ABNA0417164300", "1234"):
        with pytest.raises(ValidationError, match="not a valid IBAN"):
            validation.check_iban(bad)


def test_iban_masking():
    assert validation.mask_iban("NL91ABNA0417164300") == "NL91 •••• •••• 4300"
    assert validation.format_iban("NL91ABNA0417164300") == "NL91 ABNA 0417 1643 00"


def test_kvk_number_has_eight_digits():
    assert validation.check_kvk_number("1234 5678") == "12345678"
    with pytest.raises(ValidationError, match="8 digits"):
        validation.check_kvk_number("1234567")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12", (12, "")), ("12a", (12, "a")), ("12-3", (12, "3")), ("12 bis", (12, "bis")), ("", (None, ""))],
)
def test_house_number_and_addition(raw, expected):
    assert validation.check_house_number(raw) == expected


@pytest.mark.parametrize("raw", ["0", "a12", "12/3/4/5/6/7/8/9"])
def test_bad_house_number_is_refused(raw):
    with pytest.raises(ValidationError):
        validation.check_house_number(raw)
