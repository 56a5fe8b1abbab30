"""Reads of the member administration: search, dues breakdown, anniversaries."""

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import StrIndex
from django.db.models.lookups import GreaterThan
from django.utils.translation import gettext as _

from kring.core.models import Association
from kring.members.models import BillingFrequency, Member, Membership, PriceRule
from kring.members.names import normalise

CENT = Decimal("0.01")
NL_POSTCODE_QUERY = re.compile(r"^[1-9][0-9]{3}\s?[a-zA-Z]{2}$")
BE_POSTCODE_QUERY = re.compile(r"^[1-9][0-9]{3}$")


@dataclass(frozen=True)
class MemberFilters:
    query: str = ""
    plan_id: int | None = None
    status: str = ""
    country: str = ""


def search_members(filters: MemberFilters) -> QuerySet[Member]:
    """The back office's member search. Each kind of query uses its own index:

    - member number (exact), email (exact, lower case), postcode (NL '1234 AB', BE '1000'),
    - otherwise name words (trigram index on PostgreSQL) or the city (exact, normalised).

    The member list and the export read it through `search_member_page` and
    `search_members_for_export`, which find the same members faster on PostgreSQL.
    """
    members = Member.objects.all()
    if filters.plan_id:
        members = members.filter(current_plan_id=filters.plan_id)
    if filters.status:
        members = members.filter(membership_status=filters.status)
    if filters.country:
        members = members.filter(country=filters.country)
    text = (filters.query or "").strip()
    if text:
        members = members.filter(_text_condition(text))
    return members.order_by("sort_name", "id")


def _text_condition(text: str) -> Q:
    if "@" in text:
        return Q(email=text.lower())
    if NL_POSTCODE_QUERY.match(text):
        compact = text.replace(" ", "").upper()
        return Q(postcode=f"{compact[:4]} {compact[4:]}")
    condition = Q(member_number=text) | Q(member_number=text.upper())
    if BE_POSTCODE_QUERY.match(text):
        condition |= Q(postcode=text)
    if text.isdigit():
        return condition
    key = normalise(text)
    if key:
        condition |= Q(search_name__contains=key) | Q(city_search=key)
    return condition


# --- the member list and the export on PostgreSQL ------------------------------------------------
#
# With ORDER BY sort_name LIMIT 26 PostgreSQL's planner walks member_sort_idx and checks each row
# against the name, assuming the matches are spread evenly over the alphabet. A last name's matches
# all sit under one letter, so for 'Reynders' it reads some 700,000 rows before the first one. For
# name text the member list therefore takes the matches from the trigram index once, keeps only
# (id, sort_name), counts and sorts those, and loads the page's members by id. A town's members are
# spread over the alphabet: there the walk along the sort order finds a page soonest, so when the
# text is a town (exactly, as the search compares towns) the same statement takes that road.

# Name text shorter than this matches too many members to collect them all (the walk is better).
NAME_SEARCH_MIN_LENGTH = 4
# Tussenvoegsels and other particles that a great many Dutch and Belgian names contain. The trigram
# index would read hundreds of thousands of entries for them and narrow the search hardly at all:
# 'van den Berg' is looked up as 'berg', and each row found is then checked for 'van den berg'.
NAME_PARTICLES = frozenset(
    {"van", "de", "den", "der", "het", "ten", "ter", "te", "op", "in", "uit", "aan", "t", "d", "l"}
    | {"la", "le", "les", "du", "des", "del", "da", "di", "von", "vom", "zu", "zum"}
)


@dataclass(frozen=True)
class MemberPage:
    members: list[Member]
    number: int  # the page shown: past the last page (when the count is known) the last page
    counted: int  # the matches, counted up to count_limit + 1
    has_next: bool


def search_member_page(filters: MemberFilters, *, number: int, per_page: int, count_limit: int) -> MemberPage:
    """One page of `search_members` (with each member's plan) and the number of matches counted up
    to count_limit + 1, so that a search never counts a million rows. Two queries (a third only for
    a page number past the last page)."""
    members = search_members(filters)
    key = _name_search_key(filters)
    if key is None:
        counted = members.order_by()[: count_limit + 1].count()
        number = _existing_page(number, counted, per_page, count_limit)
        offset = (number - 1) * per_page
        rows = list(members.select_related("current_plan")[offset : offset + per_page + 1])
    else:
        offset = (number - 1) * per_page
        counted, ids = _ranked_ids(filters, members, key, offset, per_page + 1, count_limit)
        if _existing_page(number, counted, per_page, count_limit) != number:  # only past the last page
            number = _existing_page(number, counted, per_page, count_limit)
            offset = (number - 1) * per_page
            counted, ids = _ranked_ids(filters, members, key, offset, per_page + 1, count_limit)
        rows = _members_by_id(ids)
    return MemberPage(members=rows[:per_page], number=number, counted=counted, has_next=len(rows) > per_page)


def search_members_for_export(
    filters: MemberFilters, fields: Iterable[str], *, chunk_size: int = 2000
) -> tuple[int, Iterator[tuple]]:
    """All matches of `search_members` as value tuples of `fields`, in list order, read in chunks;
    and how many there are."""
    fields = list(fields)
    members = search_members(filters)
    key = _name_search_key(filters)
    ids = _all_ranked_ids(filters, key) if key is not None else None
    if ids is None:
        return members.count(), members.values_list(*fields).iterator(chunk_size=chunk_size)

    def rows():
        for start in range(0, len(ids), chunk_size):
            chunk = Member.objects.filter(pk__in=ids[start : start + chunk_size]).order_by("sort_name", "id")
            yield from chunk.values_list(*fields)

    return len(ids), rows()


def _existing_page(number: int, counted: int, per_page: int, count_limit: int) -> int:
    if counted > count_limit:
        return number  # not counted to the end: the page may or may not exist
    return min(number, max(1, -(-counted // per_page)))


def _name_search_key(filters: MemberFilters) -> str | None:
    """The normalised name text when the search collects its matches first (see above), else None."""
    if connection.vendor != "postgresql":
        return None  # SQLite has no trigram index; its plans are fine as they are
    text = (filters.query or "").strip()
    if not text or "@" in text or NL_POSTCODE_QUERY.match(text) or text.isdigit():
        return None
    key = normalise(text)
    if len(key) < NAME_SEARCH_MIN_LENGTH or not _telling_words(key):
        return None  # 'van den' alone matches members all over the alphabet
    return key


def _telling_words(key: str) -> list[str]:
    return [word for word in key.split() if len(word) >= 3 and word not in NAME_PARTICLES]


def _name_matches(filters: MemberFilters, key: str) -> QuerySet[Member]:
    """The members `search_members` finds for name text `key` that is not a town, written so the
    trigram index is asked for the telling words only."""
    text = filters.query.strip()
    if " " in key:
        name = Q()
        for word in _telling_words(key):
            name &= Q(search_name__contains=word)
        # The whole text, as the search compares it, checked on each row the index found.
        name &= Q(GreaterThan(StrIndex("search_name", Value(key)), 0))
    else:
        name = Q(search_name__contains=key)
    condition = Q(member_number=text) | Q(member_number=text.upper()) | name
    return search_members(
        MemberFilters(plan_id=filters.plan_id, status=filters.status, country=filters.country)
    ).filter(condition)


def _ranked_ids(
    filters: MemberFilters, members: QuerySet[Member], key: str, offset: int, limit: int, count_limit: int
) -> tuple[int, list[int]]:
    """(matches counted up to count_limit + 1, the ids of `limit` matches from `offset` in list order),
    in one statement: for a town the walk along the sort order, else the matches collected first."""
    table = Member._meta.db_table
    hits_sql, hits_params = (
        _name_matches(filters, key).order_by().values_list("id", "sort_name").query.sql_with_params()
    )
    count_sql, count_params = members.order_by().values("id")[: count_limit + 1].query.sql_with_params()
    page_sql, page_params = members.values_list("id")[offset : offset + limit].query.sql_with_params()
    sql = (
        f"WITH hits AS MATERIALIZED ({hits_sql}) "
        f"SELECT CASE WHEN town.found THEN (SELECT count(*) FROM ({count_sql}) capped) "
        "ELSE (SELECT count(*) FROM hits) END, "
        f"CASE WHEN town.found THEN array({page_sql}) "
        "ELSE array(SELECT id FROM hits ORDER BY sort_name, id OFFSET %s LIMIT %s) END "
        f"FROM (SELECT EXISTS (SELECT 1 FROM {table} WHERE city_search = %s) AS found) town"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, (*hits_params, *count_params, *page_params, offset, limit, key))
        total, ids = cursor.fetchone()
    return min(total, count_limit + 1), ids


def _all_ranked_ids(filters: MemberFilters, key: str) -> list[int] | None:
    """The ids of all name matches in list order; None when `key` is a town (see above)."""
    table = Member._meta.db_table
    hits_sql, hits_params = (
        _name_matches(filters, key).order_by().values_list("id", "sort_name").query.sql_with_params()
    )
    sql = (
        f"WITH hits AS MATERIALIZED ({hits_sql}) "
        f"SELECT CASE WHEN EXISTS (SELECT 1 FROM {table} WHERE city_search = %s) THEN NULL "
        "ELSE array(SELECT id FROM hits ORDER BY sort_name, id) END"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, (*hits_params, key))
        return cursor.fetchone()[0]


def _members_by_id(ids: list[int]) -> list[Member]:
    if not ids:
        return []
    return list(Member.objects.select_related("current_plan").filter(pk__in=ids).order_by("sort_name", "id"))


def dues_per_instalment(membership: Membership) -> Decimal | None:
    # Reads plan.prices.all() so a page that prefetched the prices runs no query per membership.
    for price in membership.plan.prices.all():
        if price.frequency == membership.billing_frequency:
            return price.instalment_price
    return None


@dataclass(frozen=True)
class DuesLine:
    label: str
    yearly_amount: Decimal


@dataclass(frozen=True)
class DuesBreakdown:
    lines: list[DuesLine]
    yearly_total: Decimal
    frequency: str
    instalments_per_year: int
    instalment_amount: Decimal


def dues_breakdown(
    membership: Membership, *, on_date: date, association: Association | None = None
) -> DuesBreakdown:
    """How a member's dues are made up: the plan's price, then each discount or surcharge as its own line.

    Ages are taken on the association's reference date in the year of `on_date`. Honorary members
    and other member types without dues pay nothing, shown as a line too. Pages that show several
    memberships pass the `association` they loaded once.
    """
    plan, member = membership.plan, membership.member
    lines = [DuesLine(plan.name, plan.yearly_price)]
    per_year = BillingFrequency.instalments_per_year(membership.billing_frequency)
    price = dues_per_instalment(membership)
    if price is not None and price * per_year != plan.yearly_price:
        lines.append(
            DuesLine(
                _("Difference for paying %(frequency)s")
                % {"frequency": membership.get_billing_frequency_display()},
                price * per_year - plan.yearly_price,
            )
        )
    if not member.member_type.pays_dues:
        lines.append(DuesLine(_("%(type)s: no dues") % {"type": member.member_type.name}, -plan.yearly_price))
    else:
        association = association or Association.current()
        reference = date(on_date.year, association.age_reference_month, association.age_reference_day)
        for rule in plan.price_rules.all():
            if rule_applies(rule, member, membership, reference, on_date):
                amount = (
                    rule.value
                    if rule.adjustment == PriceRule.Adjustment.AMOUNT
                    else (plan.yearly_price * rule.value / Decimal(100))
                )
                lines.append(DuesLine(rule.label, amount.quantize(CENT, ROUND_HALF_UP)))
    total = max(sum((line.yearly_amount for line in lines), Decimal(0)), Decimal(0))
    return DuesBreakdown(
        lines=lines,
        yearly_total=total,
        frequency=membership.billing_frequency,
        instalments_per_year=per_year,
        instalment_amount=(total / per_year).quantize(CENT, ROUND_HALF_UP),
    )


def rule_applies(
    rule: PriceRule, member: Member, membership: Membership, reference: date, on_date: date
) -> bool:
    kind = PriceRule.Kind
    if rule.kind in (kind.YOUTH, kind.SENIOR):
        age = member.age_on(reference)
        if age is None:
            return False
        return (rule.min_age is None or age >= rule.min_age) and (rule.max_age is None or age <= rule.max_age)
    if rule.kind == kind.STUDENT:
        return bool(member.student_until and member.student_until >= on_date)
    if rule.kind == kind.HOUSEHOLD:
        return bool(member.household_id and member.household_role != Member.HouseholdRole.HEAD)
    if rule.kind == kind.FIRST_YEAR:
        since = member.member_since or membership.start_date
        return (on_date - since).days < 365
    if rule.kind == kind.REGIONAL:
        countries = {c.strip().upper() for c in rule.countries.split(",") if c.strip()}
        if countries and member.country not in countries:
            return False
        if rule.postcode_from:
            postcode = member.postcode.replace(" ", "")
            return (
                rule.postcode_from.replace(" ", "")
                <= postcode
                <= (rule.postcode_to or rule.postcode_from).replace(" ", "") + "ZZ"
            )
        return True
    return False


@dataclass(frozen=True)
class Anniversary:
    member: Member
    years: int
    date: date
    may_be_named: bool


ANNIVERSARY_YEARS = (25, 40, 50)


def anniversaries_in(year: int, *, milestones=ANNIVERSARY_YEARS) -> list[Anniversary]:
    """Members reaching 25, 40 or 50 years of continuous membership in `year`.

    Everyone is listed for the secretariat; ``may_be_named`` says whether the member agreed to
    be named publicly.
    """
    condition = Q()
    for years in milestones:
        condition |= Q(member_since__year=year - years)
    members = (
        Member.objects.filter(
            condition, membership_status__in=[Membership.Status.ACTIVE, Membership.Status.CANCELLED]
        )
        .select_related("member_type")
        .order_by("member_since", "sort_name")
    )
    result = []
    for member in members:
        years = year - member.member_since.year
        day = (
            member.member_since.replace(year=year)
            if not (member.member_since.month == 2 and member.member_since.day == 29)
            else date(year, 3, 1)
        )
        result.append(
            Anniversary(
                member=member, years=years, date=day, may_be_named=member.may_be_named_for_anniversary
            )
        )
    return result


def members_coming_of_age(*, start: date, end: date) -> QuerySet[Member]:
    """Youth members who turn 18 between start and end (inclusive)."""
    born_from = (
        date(start.year - 18, start.month, start.day)
        if not (start.month == 2 and start.day == 29)
        else date(start.year - 18, 3, 1)
    )
    born_to = date(end.year - 18, end.month, min(end.day, 28) if end.month == 2 else end.day)
    return Member.objects.filter(
        kind=Member.Kind.PERSON, date_of_birth__gte=born_from, date_of_birth__lte=born_to
    )
