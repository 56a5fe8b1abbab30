"""On PostgreSQL the member list and the export take name searches along another road (the matches
collected from the trigram index first, see kring.members.queries). These tests compare that road
with the plain search on demo data: the same members, in the same order, counted the same way, on
every page.
"""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kring.members import demo
from kring.members.models import Member, Membership, Plan
from kring.members.queries import (
    MemberFilters,
    _name_search_key,
    search_member_page,
    search_members,
    search_members_for_export,
)
from kring.members.tests.factories import MemberFactory, active_membership

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigram road is PostgreSQL's only"),
]

TODAY = date(2026, 11, 23)
PER_PAGE = 4


def plain_page(filters: MemberFilters, number: int, count_limit: int) -> tuple:
    """What the member list did before: a capped count, then one page along the sort order."""
    members = search_members(filters)
    counted = members.order_by()[: count_limit + 1].count()
    if counted <= count_limit:
        number = min(number, max(1, -(-counted // PER_PAGE)))
    offset = (number - 1) * PER_PAGE
    ids = list(members.values_list("id", flat=True)[offset : offset + PER_PAGE + 1])
    return counted, number, ids[:PER_PAGE], len(ids) > PER_PAGE


def new_page(filters: MemberFilters, number: int, count_limit: int) -> tuple:
    page = search_member_page(filters, number=number, per_page=PER_PAGE, count_limit=count_limit)
    return page.counted, page.number, [m.pk for m in page.members], page.has_next


@pytest.fixture
def association_data():
    demo.seed_demo(800, seed=7, today=TODAY)
    # Names that are also towns, a member number with letters, names with particles and accents.
    MemberFactory(
        member_number="X000777", first_name="Lotte", name_prefix="", last_name="Utrecht", city="Gouda"
    )
    MemberFactory(
        member_number="X000778", first_name="Kees", name_prefix="van", last_name="Gent", city="Gent"
    )
    MemberFactory(first_name="Élise", name_prefix="d'", last_name="Hondt", city="Brugge", country="BE")
    MemberFactory(first_name="Jan", name_prefix="de", last_name="Vries", city="Xanten")
    active_membership(MemberFactory(first_name="Jan", name_prefix="van den", last_name="Berg"))


def common_last_names(limit: int) -> list[str]:
    rows = (
        Member.objects.filter(kind=Member.Kind.PERSON)
        .values_list("name_prefix", "last_name")
        .order_by("last_name")
    )
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        counts[row] = counts.get(row, 0) + 1
    ranked = sorted(counts, key=lambda row: (-counts[row], row))[:limit]
    return [" ".join(part for part in row if part) for row in ranked]


def searches() -> list[MemberFilters]:
    sample = (
        Member.objects.filter(kind=Member.Kind.PERSON, country="NL").exclude(email="").order_by("id")[100]
    )
    organisation = Member.objects.filter(kind=Member.Kind.ORGANISATION).order_by("id").first()
    plans = list(Plan.objects.filter(is_addon=False).order_by("id").values_list("id", flat=True))
    texts = [
        *common_last_names(4),  # with and without a tussenvoegsel
        "Jansen",
        "van den Berg",
        "Berg",
        "de Vries",
        "Jan de Vries",
        "dijkst",
        "hondt",
        "Élise d'Hondt",
        f"{sample.first_name} {sample.last_name}",
        f"{sample.last_name}, {sample.first_name}",
        organisation.organisation_name.split()[-1],
        "Xyzzyq",
        "van den",
        "de",
        "ber",
        sample.member_number,
        "X000777",
        "x000777",
        sample.email.upper(),
        sample.postcode.replace(" ", "").lower(),
        "9000",
        "Utrecht",
        "utrecht",
        "Gent",
        sample.city,
    ]
    filters = [MemberFilters(query=text) for text in texts]
    for plan in plans[:2]:
        filters += [
            MemberFilters(query="Berg", plan_id=plan),
            MemberFilters(query="de Vries", plan_id=plan, status=Membership.Status.ACTIVE, country="NL"),
        ]
    filters += [
        MemberFilters(query="Jansen", status=Membership.Status.ACTIVE),
        MemberFilters(query="Peeters", status=Membership.Status.ENDED, country="BE"),
        MemberFilters(query="Gent", country="BE"),
        MemberFilters(query="van den Berg", country="BE"),
        MemberFilters(status=Membership.Status.LAPSED),
        MemberFilters(country="BE"),
        MemberFilters(),
    ]
    return filters


def test_name_searches_take_the_trigram_road():
    MemberFactory(first_name="Bram", name_prefix="", last_name="Jansen")
    assert _name_search_key(MemberFilters(query="van den Berg")) == "van den berg"
    assert _name_search_key(MemberFilters(query="Utrecht")) == "utrecht"  # decided in the statement
    for text in ["ber", "de", "van den", "anna@example.nl", "3511 ab", "9000", "123456", ""]:
        assert _name_search_key(MemberFilters(query=text)) is None, text
    with CaptureQueriesContext(connection) as queries:
        page = search_member_page(
            MemberFilters(query="Jansen"), number=1, per_page=PER_PAGE, count_limit=1000
        )
    assert [m.last_name for m in page.members] == ["Jansen"]
    assert len(queries.captured_queries) == 2
    assert "AS MATERIALIZED" in queries.captured_queries[0]["sql"]


@pytest.mark.parametrize("count_limit", [1000, 12])
def test_every_page_is_the_same_as_along_the_sort_order(association_data, count_limit):
    compared = 0
    for filters in searches():
        first = plain_page(filters, 1, count_limit)
        assert new_page(filters, 1, count_limit) == first, filters
        counted = first[0]
        pages = -(-min(counted, count_limit + 1) // PER_PAGE)
        for number in sorted({2, 3, pages - 1, pages, pages + 1, pages + 5} - {0, 1, -1}):
            assert new_page(filters, number, count_limit) == plain_page(filters, number, count_limit), (
                filters,
                number,
            )
        compared += counted > 0
    assert compared >= 30


def test_the_export_has_the_same_members_in_the_same_order(association_data):
    fields = ["member_number", "last_name", "current_plan__name", "membership_status"]
    for filters in searches():
        members = search_members(filters)
        expected = list(members.values_list(*fields))
        count, rows = search_members_for_export(filters, fields, chunk_size=50)
        assert (count, list(rows)) == (len(expected), expected), filters
