"""Reads of the member administration: search, dues breakdown, anniversaries."""

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q, QuerySet
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
