from datetime import date
from decimal import Decimal

import pytest
from django.utils import translation

from kring.members import queries, services
from kring.members.models import Membership, PriceRule
from kring.members.tests.factories import MemberFactory, PlanFactory, active_membership, member_type

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def test_breakdown_shows_each_discount_as_its_own_line():
    plan = PlanFactory(yearly_price=Decimal("120.00"))
    PriceRule.objects.create(
        plan=plan,
        kind="youth",
        label="Youth discount",
        adjustment="percent",
        value=Decimal("-50"),
        max_age=17,
    )
    PriceRule.objects.create(
        plan=plan,
        kind="regional",
        label="Belgian surcharge",
        adjustment="amount",
        value=Decimal("5.00"),
        countries="BE",
    )
    member = MemberFactory(date_of_birth=date(2010, 6, 1), country="BE", postcode="1000")
    membership = active_membership(member, plan, frequency="quarterly")
    breakdown = queries.dues_breakdown(membership, on_date=date(2026, 3, 1))
    assert [(line.label, line.yearly_amount) for line in breakdown.lines] == [
        (plan.name, Decimal("120.00")),
        ("Youth discount", Decimal("-60.00")),
        ("Belgian surcharge", Decimal("5.00")),
    ]
    assert breakdown.yearly_total == Decimal("65.00")
    assert breakdown.instalment_amount == Decimal("16.25")


def test_age_is_taken_on_the_reference_date():
    plan = PlanFactory()
    PriceRule.objects.create(
        plan=plan, kind="senior", label="Senior", adjustment="percent", value=Decimal("-25"), min_age=65
    )
    # Turns 65 on 2 January 2026: not yet 65 on the reference date 1 January 2026.
    member = MemberFactory(date_of_birth=date(1961, 1, 2))
    membership = active_membership(member, plan)
    assert len(queries.dues_breakdown(membership, on_date=date(2026, 6, 1)).lines) == 1
    assert len(queries.dues_breakdown(membership, on_date=date(2027, 6, 1)).lines) == 2


def test_honorary_members_pay_nothing_shown_as_a_line():
    member = MemberFactory(member_type=member_type("erelid"))
    breakdown = queries.dues_breakdown(active_membership(member), on_date=date(2026, 1, 1))
    assert breakdown.yearly_total == Decimal("0")
    assert "no dues" in breakdown.lines[-1].label


def test_monthly_price_difference_is_explained():
    plan = PlanFactory(yearly_price=Decimal("120.00"), frequencies=["yearly"])
    plan.prices.create(frequency="monthly", instalment_price=Decimal("10.50"))
    membership = active_membership(MemberFactory(), plan, frequency="monthly")
    breakdown = queries.dues_breakdown(membership, on_date=date(2026, 1, 1))
    assert breakdown.lines[1].yearly_amount == Decimal("6.00")
    assert breakdown.instalment_amount == Decimal("10.50")


def test_automatic_plans_renew_and_confirmation_plans_lapse_without_confirmation():
    automatic = active_membership(MemberFactory(), PlanFactory(renewal="automatic"), start=date(2025, 1, 1))
    confirm = active_membership(MemberFactory(), PlanFactory(renewal="confirmation"), start=date(2025, 1, 1))
    confirmed = active_membership(
        MemberFactory(), PlanFactory(renewal="confirmation", code="c2"), start=date(2025, 1, 1)
    )
    services.confirm_renewal(confirmed, actor=None)
    counts = services.process_term_ends(on_date=date(2026, 1, 2))
    assert counts == {"ended": 0, "renewed": 2, "lapsed": 1}
    automatic.refresh_from_db(), confirm.refresh_from_db(), confirmed.refresh_from_db()
    assert automatic.current_term_end == date(2026, 12, 31) and automatic.status == "active"
    assert confirm.status == "lapsed"
    assert confirmed.status == "active" and confirmed.current_term_end == date(2026, 12, 31)
    assert services.process_term_ends(on_date=date(2026, 1, 2)) == {"ended": 0, "renewed": 0, "lapsed": 0}


def test_cancelled_membership_ends_after_its_end_date():
    from kring.members.models import CancellationReason

    membership = active_membership(MemberFactory(), start=date(2025, 1, 1))
    services.cancel_membership(
        membership, actor=None, reason=CancellationReason.objects.first(), cancelled_on=date(2025, 6, 1)
    )
    assert services.process_term_ends(on_date=date(2025, 12, 31))["ended"] == 0
    assert services.process_term_ends(on_date=date(2026, 1, 1))["ended"] == 1
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ENDED and membership.end_date == date(2025, 12, 31)


def test_anniversaries_list_everyone_and_flag_who_may_not_be_named():
    quiet = MemberFactory(member_since=date(2001, 5, 4), may_be_named_for_anniversary=False)
    loud = MemberFactory(member_since=date(1986, 2, 1))
    MemberFactory(member_since=date(2002, 1, 1))
    for member in (quiet, loud):
        active_membership(member, start=member.member_since)
    result = {a.member.pk: a for a in queries.anniversaries_in(2026)}
    assert set(result) == {quiet.pk, loud.pk}
    assert result[quiet.pk].years == 25 and not result[quiet.pk].may_be_named
    assert result[loud.pk].years == 40 and result[loud.pk].may_be_named
