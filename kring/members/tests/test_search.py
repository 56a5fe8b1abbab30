import pytest

from kring.members.queries import MemberFilters, search_member_page, search_members, search_members_for_export
from kring.members.tests.factories import MemberFactory, PlanFactory, active_membership

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    anna = MemberFactory(
        member_number="000101",
        first_name="Anna",
        name_prefix="van den",
        last_name="Berg",
        email="anna@example.nl",
        postcode="3511 AB",
        city="Utrecht",
    )
    jan = MemberFactory(
        member_number="000102",
        first_name="Jan",
        name_prefix="",
        last_name="Bergman",
        email="jan@example.nl",
        postcode="1000",
        city="Brussel",
        country="BE",
    )
    els = MemberFactory(
        member_number="000103",
        first_name="Élise",
        name_prefix="d'",
        last_name="Hondt",
        email="els@example.be",
        postcode="9000",
        city="Gent",
        country="BE",
    )
    return anna, jan, els


def found(**kwargs):
    return [m.member_number for m in search_members(MemberFilters(**kwargs))]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("van den Berg", ["000101"]),
        ("Berg", ["000101", "000102"]),
        ("anna berg", ["000101"]),
        ("Anna van den Berg", ["000101"]),
        ("elise", ["000103"]),
        ("000102", ["000102"]),
        ("ANNA@example.nl", ["000101"]),
        ("3511ab", ["000101"]),
        ("1000", ["000102"]),
        ("utrecht", ["000101"]),
        ("nobody", []),
    ],
)
def test_search_by_name_number_email_postcode_city(people, query, expected):
    assert found(query=query) == expected


def test_filters_by_country_plan_and_status(people):
    anna, jan, _els = people
    plan = PlanFactory()
    active_membership(anna, plan)
    active_membership(jan)
    assert found(country="BE") == ["000102", "000103"]
    assert found(plan_id=plan.pk) == ["000101"]
    assert found(status="active") == ["000101", "000102"]
    assert found(status="active", query="berg", country="BE") == ["000102"]


@pytest.mark.parametrize("query", ["Bergman", "Zwolle", ""])
def test_member_page_counts_up_to_the_limit_and_shows_the_last_page_for_a_later_number(query):
    for n in range(9):
        MemberFactory(first_name=f"Kees{n}", name_prefix="", last_name="Bergman", city="Zwolle")
    page = search_member_page(MemberFilters(query=query), number=2, per_page=4, count_limit=100)
    expected = [m.pk for m in search_members(MemberFilters(query=query))]
    assert (page.counted, page.number, page.has_next) == (9, 2, True)
    assert [m.pk for m in page.members] == expected[4:8]
    past_the_end = search_member_page(MemberFilters(query=query), number=7, per_page=4, count_limit=100)
    assert (past_the_end.number, [m.pk for m in past_the_end.members]) == (3, expected[8:])
    assert not past_the_end.has_next
    capped = search_member_page(MemberFilters(query=query), number=7, per_page=4, count_limit=5)
    assert (capped.counted, capped.number, capped.members, capped.has_next) == (6, 7, [], False)


def test_export_rows_follow_the_search_in_list_order(people):
    count, rows = search_members_for_export(MemberFilters(query="berg"), ["member_number", "city"])
    assert (count, list(rows)) == (2, [("000101", "Utrecht"), ("000102", "Brussel")])
