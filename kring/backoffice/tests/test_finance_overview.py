"""The finance overview: invoiced, credited, paid, open and overdue per period, worked out by hand."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from kring.backoffice.tests.finance_data import many_invoices, year_2024
from kring.billing import queries

URL = reverse("backoffice:finance_overview")


@pytest.fixture
def treasurer_client(client, cast):
    client.force_login(cast.treasurer)
    return client


def test_the_totals_of_a_year_add_up_to_the_hand_worked_figures(cast):
    year_2024(cast.member, cast.other_member)
    totals = queries.finance_totals(date(2024, 1, 1), date(2024, 12, 31), today=date(2026, 1, 1))
    assert totals.invoiced == Decimal("411.00")  # A 100 + B 121 + C 50 + D 80 + E 60
    assert totals.credited == Decimal("80.00")  # 30 of A, all 50 of C
    assert totals.net_invoiced == Decimal("331.00")
    assert totals.paid == Decimal("161.00")  # A 100 + B 21 + F 40 (an invoice of 2023, paid in 2024)
    assert totals.open == Decimal("180.00")  # B 100 + D 80 (in collection); E written off, C credited
    assert totals.overdue == Decimal("100.00")  # B only: D is being collected
    assert (totals.invoice_count, totals.credit_note_count, totals.payment_count) == (5, 2, 3)
    assert (totals.open_count, totals.overdue_count) == (2, 1)
    assert all(isinstance(value, Decimal) for value in (totals.invoiced, totals.paid, totals.open))


def test_the_quarters_add_up_to_the_year(cast):
    year_2024(cast.member, cast.other_member)
    today = date(2026, 1, 1)
    quarters = queries.finance_totals_per_quarter(2024, today=today)
    assert [q.invoiced for q in quarters] == [
        Decimal("221.00"),
        Decimal("50.00"),
        Decimal("0.00"),
        Decimal("140.00"),
    ]
    assert [q.credited for q in quarters] == [
        Decimal("30.00"),
        Decimal("50.00"),
        Decimal("0.00"),
        Decimal("0.00"),
    ]
    assert [q.paid for q in quarters] == [
        Decimal("140.00"),
        Decimal("21.00"),
        Decimal("0.00"),
        Decimal("0.00"),
    ]
    assert [q.open for q in quarters] == [
        Decimal("100.00"),
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("80.00"),
    ]
    assert [q.overdue for q in quarters] == [
        Decimal("100.00"),
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("0.00"),
    ]
    assert (quarters[1].start, quarters[1].end) == (date(2024, 4, 1), date(2024, 6, 30))
    year = queries.finance_totals(date(2024, 1, 1), date(2024, 12, 31), today=today)
    for name in ("invoiced", "credited", "paid", "open", "overdue"):
        assert sum(getattr(q, name) for q in quarters) == getattr(year, name), name


def test_overdue_depends_on_the_day_it_is_asked(cast):
    data = year_2024(cast.member, cast.other_member)
    assert queries.finance_totals(date(2024, 1, 1), date(2024, 3, 31), today=date(2024, 2, 24)).overdue == 0
    assert queries.finance_totals(date(2024, 1, 1), date(2024, 3, 31), today=date(2024, 2, 25)).overdue == 100
    summary = queries.overdue_summary(date(2026, 1, 1))
    assert (summary.count, summary.amount) == (1, Decimal("100.00"))
    assert list(queries.overdue_invoices(date(2026, 1, 1))) == [data.b]


def test_the_overview_shows_the_figures_of_the_chosen_period(treasurer_client, cast):
    year_2024(cast.member, cast.other_member)
    response = treasurer_client.get(URL, {"year": "2024", "part": "Q1"})
    assert response.status_code == 200
    totals = response.context["totals"]
    assert (totals.start, totals.end) == (date(2024, 1, 1), date(2024, 3, 31))
    assert totals.invoiced == Decimal("221.00") and totals.paid == Decimal("140.00")
    html = response.content.decode()
    assert "€\u00a0221,00" in html  # the page is in Dutch: amounts with a decimal comma
    assert "€\u00a0411,00" in html  # the whole year in the foot of the quarter table
    assert response.context["year_total"].invoiced == Decimal("411.00")


def test_the_overview_shows_the_current_year_by_default(treasurer_client, cast, settings):
    response = treasurer_client.get(URL)
    assert response.status_code == 200
    period = response.context["period"]
    assert period.start.month == 1 and period.end == date(period.start.year, 12, 31)
    assert response.context["overdue"].count == 0


def test_a_month_can_be_chosen(treasurer_client, cast):
    year_2024(cast.member, cast.other_member)
    response = treasurer_client.get(URL, {"year": "2024", "part": "M02"})
    totals = response.context["totals"]
    assert (totals.start, totals.end) == (date(2024, 2, 1), date(2024, 2, 29))
    assert totals.invoiced == Decimal("121.00") and totals.paid == Decimal("100.00")


def test_a_wrong_period_falls_back_to_the_current_year(treasurer_client, cast):
    response = treasurer_client.get(URL, {"year": "1066", "part": "Q9"})
    assert response.status_code == 200
    assert response.context["period"].part == ""


def test_the_audit_committee_is_told_it_can_only_look(client, cast):
    client.force_login(cast.audit_committee)
    html = client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "notice" in html and client.get(URL).context["read_only"]
    client.force_login(cast.treasurer)
    assert not client.get(URL).context["read_only"]


def test_the_overview_needs_the_same_queries_for_30_invoices(
    treasurer_client, cast, django_assert_num_queries
):
    treasurer_client.get(URL, {"year": "2024", "part": "Q1"})
    # session, user, permissions (2), per quarter (documents, payments), overdue today, association
    with django_assert_num_queries(8):
        treasurer_client.get(URL, {"year": "2024", "part": "Q1"})
    many_invoices([cast.member, cast.other_member], 30)
    with django_assert_num_queries(8):
        response = treasurer_client.get(URL, {"year": "2024", "part": "Q1"})
    assert response.context["totals"].invoice_count == 30
    # a month adds its own two
    with django_assert_num_queries(10):
        response = treasurer_client.get(URL, {"year": "2024", "part": "M03"})
    assert response.context["totals"].invoice_count == 30
