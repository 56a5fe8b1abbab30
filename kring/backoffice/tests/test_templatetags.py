from decimal import Decimal

import pytest
from django.utils import translation

from kring.backoffice.templatetags.backoffice import (
    action_label,
    field_changes,
    format_money,
    history_change,
    status_badge,
)
from kring.core.models import AuditEntry


@pytest.mark.parametrize(
    "value,dutch,english",
    [
        (Decimal("1234.56"), "€\u00a01.234,56", "€\u00a01,234.56"),
        (Decimal("0"), "€\u00a00,00", "€\u00a00.00"),
        (Decimal("-24"), "€\u00a0-24,00", "€\u00a0-24.00"),
        (Decimal("1234567.005"), "€\u00a01.234.567,01", "€\u00a01,234,567.01"),
        (12, "€\u00a012,00", "€\u00a012.00"),
        ("9.5", "€\u00a09,50", "€\u00a09.50"),
    ],
)
def test_money_is_written_the_dutch_or_english_way(value, dutch, english):
    assert format_money(value, "nl") == dutch
    assert format_money(value, "en") == english


def test_money_follows_the_active_language():
    with translation.override("en"):
        assert format_money(Decimal("1000")) == "€\u00a01,000.00"
    with translation.override("nl"):
        assert format_money(Decimal("1000")) == "€\u00a01.000,00"


def test_money_rounds_half_up_without_float_errors():
    # 2.675 as a float is 2.67499999…; as a Decimal it rounds up
    assert format_money(Decimal("2.675"), "en") == "€\u00a02.68"
    assert format_money(None, "en") == ""


def test_status_badge_names_the_status_in_words():
    with translation.override("en"):
        assert str(status_badge("active")) == '<span class="badge badge--active">Active</span>'
        assert str(status_badge("")) == '<span class="badge badge--none">No membership</span>'


def test_action_codes_are_shown_in_plain_words_and_unknown_codes_as_they_are():
    with translation.override("en"):
        assert action_label("kring.membership.cancelled") == "Membership cancelled"
        assert action_label("kring.something.new") == "kring.something.new"


def test_history_change_uses_field_names_and_readable_values():
    entry = AuditEntry(
        object_type="member",
        changes=[
            {"field": "correspondence", "before": "email", "after": "paper"},
            {"field": "member_since", "before": "", "after": "2024-01-01"},
            {"field": "may_be_named_for_anniversary", "before": "ja", "after": "nee"},
        ],
    )
    with translation.override("en"):
        changes = field_changes(entry)
        html = str(history_change(entry))
    assert [(c.label, c.before, c.after) for c in changes] == [
        ("Correspondence", "by email", "on paper"),
        ("Member since", "", "Jan. 1, 2024"),
        ("May be named at anniversaries", "yes", "no"),
    ]
    assert '<span class="visually-hidden">was </span>by email</del>' in html
    # a first value is shown on its own, without "(empty) →"
    assert (
        'Member since</span>: <ins><span class="visually-hidden">now </span>Jan. 1, 2024</ins></li>' in html
    )


def test_history_change_says_when_a_value_was_removed():
    entry = AuditEntry(object_type="member", changes=[{"field": "city", "before": "Utrecht", "after": ""}])
    with translation.override("en"):
        html = str(history_change(entry))
    assert "Utrecht</del>" in html
    assert "(empty)" in html


def test_history_change_escapes_stored_values():
    entry = AuditEntry(object_type="member", changes=[{"field": "city", "before": "<b>x</b>", "after": "y"}])
    assert "<b>" not in str(history_change(entry))
