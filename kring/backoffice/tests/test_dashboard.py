from datetime import date

import pytest
from dateutil.relativedelta import relativedelta
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kring.core.models import AuditEntry
from kring.members import services
from kring.members.models import Member
from kring.members.tests.factories import MemberFactory, PlanFactory, active_membership

URL = reverse("backoffice:dashboard")


@pytest.fixture
def staff_client(client, cast):
    client.force_login(cast.secretariat)
    return client


def test_counts_members_per_status_in_one_aggregate_query(staff_client, cast):
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(URL)
    counts = dict(response.context["status_counts"])
    assert counts == {"pending": 0, "active": 2, "lapsed": 0, "cancelled": 0, "ended": 1, "": 1}
    assert response.context["current_total"] == 2
    grouped = [
        q["sql"]
        for q in queries.captured_queries
        if "GROUP BY" in q["sql"] and q["sql"].startswith('SELECT "members_member"."membership_status"')
    ]
    assert len(grouped) == 1


def test_counts_current_members_per_plan(staff_client, cast):
    other = PlanFactory(code="steun", name="Steunlid")
    for _n in range(3):
        active_membership(MemberFactory(), other)
    response = staff_client.get(URL)
    assert [(plan.name, n) for plan, n in response.context["plan_counts"]] == [
        ("Gewoon lid", 2),
        ("Steunlid", 3),
    ]


def test_shows_newest_members_first(staff_client, cast):
    newest = MemberFactory(last_name="Nieuw")
    active_membership(newest, cast.plan, start=timezone.localdate())
    response = staff_client.get(URL)
    assert list(response.context["newest_members"])[0] == newest
    assert "Nieuw, Anna van den" in response.content.decode()


def test_shows_the_last_10_changes_with_a_link_to_the_member(staff_client, cast):
    for n in range(12):
        services.update_member(cast.other_member, actor=cast.secretariat, city=f"Stad {n}")
    response = staff_client.get(URL)
    recent = response.context["recent_changes"]
    assert len(recent) == 10
    assert recent[0][0] == AuditEntry.objects.order_by("-created_at", "-id").first()
    assert recent[0][1] == cast.other_member
    assert (
        reverse("backoffice:member_detail", args=[cast.other_member.pk]) + "#history"
        in response.content.decode()
    )


def test_counts_this_years_anniversaries_and_links_to_them(staff_client, cast):
    year = timezone.localdate().year
    jubilee = MemberFactory(last_name="Trouw")
    active_membership(jubilee, cast.plan, start=date(year - 25, 3, 1))
    response = staff_client.get(URL)
    assert response.context["anniversary_count"] == 1
    assert f"{reverse('backoffice:anniversaries')}?year={year}" in response.content.decode()


def test_lists_members_turning_18_in_the_next_three_months(staff_client, cast):
    today = timezone.localdate()
    soon = MemberFactory(
        last_name="Bijna", date_of_birth=today - relativedelta(years=18) + relativedelta(days=20)
    )
    later = MemberFactory(
        last_name="Later", date_of_birth=today - relativedelta(years=18) + relativedelta(months=5)
    )
    left = MemberFactory(
        last_name="Weg", date_of_birth=today - relativedelta(years=18) + relativedelta(days=10)
    )
    for member in (soon, later, left):
        active_membership(member, cast.plan)
    services.change_membership_status(left.memberships.get(), "ended", actor=None, effective_date=today)
    response = staff_client.get(URL)
    assert [member for member, _birthday in response.context["coming_of_age"]] == [soon]
    assert response.context["coming_of_age"][0][1] == soon.date_of_birth + relativedelta(years=18)


def test_dashboard_query_count_does_not_grow_with_members(staff_client, cast, django_assert_num_queries):
    for n in range(30):
        member = MemberFactory()
        active_membership(member, cast.plan, start=timezone.localdate() - relativedelta(days=n))
        services.update_member(member, actor=cast.secretariat, city="Zwolle")
    assert Member.objects.count() > 30
    staff_client.get(URL)  # creates the association's settings row once
    # session, user, permissions (2), counts per status and plan, plans, recent changes + their members,
    # coming of age, anniversaries, newest members, association
    with django_assert_num_queries(12):
        staff_client.get(URL)


@pytest.mark.browser
def test_overview_is_accessible(chromium, staff_client, cast):
    from kring.backoffice.tests.browser import open_browser_page
    from kring.conftest import assert_accessible

    services.update_member(cast.member, actor=cast.secretariat, city="Amersfoort")
    page = open_browser_page(chromium, staff_client)
    try:
        page.goto(URL)
        assert_accessible(page, context="overview")
    finally:
        page.context.close()
