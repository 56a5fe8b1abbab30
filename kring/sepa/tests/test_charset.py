"""The SEPA character set: transliteration, word-boundary cuts and the identifier slash rules."""

import re

import pytest
from django.core.exceptions import ValidationError
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kring.sepa.charset import (
    check_sepa_identifier,
    is_sepa_identifier,
    to_sepa_identifier,
    to_sepa_text,
)

SET = re.compile(r"[A-Za-z0-9/\-?:().,'+ ]*")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("José Müller", "Jose Muller"),
        ("Zoë van Ëlst", "Zoe van Elst"),
        ("Großmann", "Grossmann"),
        ("Ærø Bjørn Håkon", "AEro Bjorn Hakon"),
        ("Łukasz Wałęsa", "Lukasz Walesa"),
        ("Jansen & Zn.", "Jansen en Zn."),
        ("Jansen&Zn", "Jansen en Zn"),
        ("info@club.nl", "info(at)club.nl"),
        ("‘t Hof “De Linde”", "'t Hof 'De Linde'"),
        ("2026–2027 — dues", "2026-2027 - dues"),
        ("Олександр Шевченко", "Oleksandr Shevchenko"),
        ("Σωκράτης Νίκος", "Sokratis Nikos"),
        ("محمد Ali", "Ali"),
        ("דוד Cohen", "Cohen"),
        ("王 Wei 😀", "Wei"),
        ("  many \t\n spaces\u00a0here  ", "many spaces here"),
        ('<a href="x">', "(a href'x')"),
    ],
)
def test_transliteration(text, expected):
    assert to_sepa_text(text, 140) == expected


def test_cut_at_word_boundary():
    assert to_sepa_text("Vereniging De Lange Naam", 15) == "Vereniging De"
    assert to_sepa_text("Vereniging De Lange Naam", 13) == "Vereniging De"
    assert to_sepa_text("Vereniging De Lange Naam", 12) == "Vereniging"
    # a single word longer than the field is cut mid-word
    assert to_sepa_text("Donaudampfschifffahrtsgesellschaft", 10) == "Donaudampf"


def test_fallback_for_required_fields():
    assert to_sepa_text("😀 محمد", 70) == ""
    assert to_sepa_text("😀 محمد", 70, fallback="NOTPROVIDED") == "NOTPROVIDED"
    assert to_sepa_text(None, 70, fallback="Onbekend") == "Onbekend"
    assert to_sepa_identifier("//", fallback="INV-1") == "INV-1"


def test_identifier_conversion():
    assert to_sepa_identifier("/2026/ 0001//a/") == "2026/0001/a"
    assert to_sepa_identifier("Mandaat é&1") == "Mandaateen1"
    assert to_sepa_identifier("A" * 34 + "/B") == "A" * 34
    assert to_sepa_identifier("ab", 1) == "a"


@pytest.mark.parametrize(
    "text, code",
    [
        ("", "sepa_id_required"),
        ("A" * 36, "sepa_id_length"),
        ("MANDATE 1", "sepa_id_characters"),
        ("MANDAAT-é", "sepa_id_characters"),
        ("MANDATE&1", "sepa_id_characters"),
        ("/MANDATE", "sepa_id_slash_edge"),
        ("MANDATE/", "sepa_id_slash_edge"),
        ("MAN//DATE", "sepa_id_double_slash"),
    ],
)
def test_check_identifier_rejects_with_a_specific_reason(text, code):
    with pytest.raises(ValidationError) as raised:
        check_sepa_identifier(text)
    assert raised.value.code == code


def test_check_identifier_accepts_valid():
    for text in ("KR-2026-000123", "a/b/c", "(1)+?:.,'", "A" * 35):
        assert check_sepa_identifier(text) == text
        assert is_sepa_identifier(text)


any_text = st.text(max_size=500) | st.text(
    st.sampled_from(list('&<>"/ ézß😀שלוםمرحبا你好Жω\u200f\u202e\t\n')), max_size=500
)


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(any_text, st.integers(min_value=1, max_value=200))
@example("/" * 3 + "a//b" + "/", 35)
@example("", 1)
def test_text_is_always_in_the_set_and_fits(text, max_length):
    result = to_sepa_text(text, max_length)
    assert SET.fullmatch(result)
    assert len(result) <= max_length
    assert result == result.strip() and "  " not in result


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(any_text, st.integers(min_value=1, max_value=35))
@example("//a//", 35)
@example("a" * 34 + "//", 35)
def test_identifier_always_obeys_the_rules(text, max_length):
    result = to_sepa_identifier(text, max_length)
    assert len(result) <= max_length
    if result:  # empty only when nothing usable was left; the caller's fallback applies
        assert check_sepa_identifier(result, max_length) == result
