"""Creditor identifiers: MOD 97-10 over national identifier + country + "00", business code left out."""

import string

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from kring.sepa.creditor import check_creditor_identifier, check_digits, creditor_identifier


def test_epc_example_is_valid():
    assert check_creditor_identifier("DE98ZZZ09999999999") == "DE98ZZZ09999999999"


def test_check_digits_by_the_algorithm():
    # 09999999999 + "DE00" with D=13, E=14 → 09999999999131400; 98 - n mod 97 = 98
    assert 98 - int("09999999999131400") % 97 == 98
    assert check_digits("DE", "09999999999") == "98"
    # NL: 999999990000 + "NL00" (N=23, L=21)
    assert check_digits("NL", "999999990000") == f"{98 - int('999999990000232100') % 97:02d}" == "79"


def test_build_dutch_from_kvk_number():
    assert creditor_identifier("NL", "12345678") == "NL69ZZZ123456780000"
    assert creditor_identifier("nl", "123456780000") == "NL69ZZZ123456780000"
    assert creditor_identifier("NL", "12345678", business_code="ABC") == "NL69ABC123456780000"


def test_build_belgian_from_enterprise_number():
    assert creditor_identifier("BE", "0123.456.789") == "BE68ZZZ0123456789"
    assert check_creditor_identifier("be68 zzz 0123 456 789") == "BE68ZZZ0123456789"


def test_business_code_is_not_part_of_the_check():
    assert check_creditor_identifier("NL69XYZ123456780000") == "NL69XYZ123456780000"


@pytest.mark.parametrize(
    "text, code",
    [
        ("", "creditor_id_required"),
        ("NL70ZZZ123456780000", "creditor_id_check_digits"),
        ("NL69ZZZ12345678000", "creditor_id_national"),  # 11 digits
        ("BE68ZZZ012345678X", "creditor_id_national"),
        ("XX68ZZZ0123456789", "creditor_id_country"),
        ("US68ZZZ0123456789", "creditor_id_country"),
        ("NLAAZZZ123456780000", "creditor_id_format"),
        ("NL69ZZ", "creditor_id_format"),
        ("NL69ZZZ-23456780000", "creditor_id_format"),
        ("DE98ZZZ" + "9" * 29, "creditor_id_length"),
    ],
)
def test_rejected_with_a_specific_reason(text, code):
    with pytest.raises(ValidationError) as raised:
        check_creditor_identifier(text)
    assert raised.value.code == code
    assert str(raised.value.messages[0])


def test_builder_refuses_bad_input():
    with pytest.raises(ValidationError):
        creditor_identifier("NL", "1234567")
    with pytest.raises(ValidationError):
        creditor_identifier("BE", "0123456789", business_code="Z-Z")


ALPHABET = string.ascii_uppercase + string.digits + "-/ ?"
BUSINESS = range(4, 7)  # positions 5–7: the business code, which the check leaves out

valid_identifiers = st.one_of(
    st.builds(
        creditor_identifier,
        st.just("NL"),
        st.text(string.digits, min_size=8, max_size=8),
        st.text(string.ascii_uppercase + string.digits, min_size=3, max_size=3),
    ),
    st.builds(
        creditor_identifier,
        st.just("BE"),
        st.text(string.digits, min_size=10, max_size=10),
        st.text(string.ascii_uppercase + string.digits, min_size=3, max_size=3),
    ),
)


def rejected(text: str) -> bool:
    try:
        check_creditor_identifier(text)
    except ValidationError:
        return True
    return False


@settings(max_examples=200, deadline=None, derandomize=True)
@given(valid_identifiers)
def test_every_single_character_mutation_is_rejected(identifier):
    assert check_creditor_identifier(identifier) == identifier
    for position, original in enumerate(identifier):
        if position in BUSINESS:
            continue
        for replacement in ALPHABET:
            if replacement == original:
                continue
            mutated = identifier[:position] + replacement + identifier[position + 1 :]
            assert rejected(mutated), mutated


@settings(max_examples=200, deadline=None, derandomize=True)
@given(valid_identifiers)
def test_every_transposition_of_adjacent_digits_is_rejected(identifier):
    for position in range(len(identifier) - 1):
        a, b = identifier[position], identifier[position + 1]
        if position + 1 in BUSINESS or position in BUSINESS or a == b or not (a.isdigit() and b.isdigit()):
            continue
        swapped = identifier[:position] + b + a + identifier[position + 2 :]
        assert rejected(swapped), swapped
