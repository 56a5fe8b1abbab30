from datetime import date

import pytest
from django.urls import reverse
from django.utils import timezone

from kring.members import services
from kring.members.tests.factories import MemberFactory, active_membership

URL = reverse("backoffice:anniversaries")


@pytest.fixture
def staff_client(client, cast):
    client.force_login(cast.secretariat)
    return client


def member_since(cast, start: date, *, named: bool = True, last_name: str = "Trouw"):
    member = MemberFactory(last_name=last_name, may_be_named_for_anniversary=named)
    active_membership(member, cast.plan, start=start)
    return member


def test_lists_members_reaching_25_40_and_50_years_in_the_chosen_year(staff_client, cast):
    silver = member_since(cast, date(2001, 4, 1), last_name="Zilver")
    ruby = member_since(cast, date(1986, 9, 15), last_name="Robijn")
    golden = member_since(cast, date(1976, 1, 10), last_name="Goud")
    member_since(cast, date(2002, 1, 1), last_name="Bijna")
    response = staff_client.get(URL, {"year": "2026"})
    found = [(a.member, a.years) for a in response.context["page"].object_list]
    assert found == [(golden, 50), (silver, 25), (ruby, 40)]  # in date order through the year


def test_shows_clearly_who_does_not_want_to_be_named(staff_client, cast):
    member_since(cast, date(2001, 4, 1), named=False, last_name="Stil")
    member_since(cast, date(2001, 5, 1), named=True, last_name="Blij")
    response = staff_client.get(URL, {"year": "2026"}, HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.context["not_named_count"] == 1
    assert html.count('class="row--not-named"') == 1
    assert "No – do not name publicly" in html
    assert "1 of them does not want to be named publicly." in html


def test_former_members_have_no_anniversary(staff_client, cast):
    gone = member_since(cast, date(2001, 4, 1), last_name="Weg")
    services.change_membership_status(
        gone.memberships.get(), "ended", actor=None, effective_date=date(2020, 1, 1)
    )
    assert staff_client.get(URL, {"year": "2026"}).context["total"] == 0


def test_shows_this_year_when_no_or_a_wrong_year_is_given(staff_client, cast):
    this_year = timezone.localdate().year
    assert staff_client.get(URL).context["year"] == this_year
    assert staff_client.get(URL, {"year": "last year"}).context["year"] == this_year
    assert staff_client.get(URL, {"year": "99999"}).context["year"] == this_year


def test_an_earlier_year_can_be_chosen(staff_client, cast):
    member = member_since(cast, date(1990, 6, 1), last_name="Vroeger")
    response = staff_client.get(URL, {"year": "2015"})
    assert response.context["year"] == 2015
    assert [a.member for a in response.context["page"].object_list] == [member]
    assert '<option value="2015" selected>' in response.content.decode()


def test_anniversary_page_query_count_is_fixed(staff_client, cast, django_assert_num_queries):
    for n in range(12):
        member_since(cast, date(2001, 1 + n, 1), named=n % 2 == 0, last_name=f"Trouw{n}")
    staff_client.get(URL, {"year": "2026"})
    # session, user, permissions (2), anniversaries with member type, association
    with django_assert_num_queries(6):
        response = staff_client.get(URL, {"year": "2026"})
    assert len(response.context["page"].object_list) == 12


def test_a_long_list_is_shown_in_pages_that_keep_the_year(staff_client, cast, monkeypatch):
    from kring.backoffice.views import anniversaries as anniversary_views

    monkeypatch.setattr(anniversary_views, "PER_PAGE", 5)
    for n in range(7):
        member_since(cast, date(2001, 1 + n, 1), named=n != 6, last_name=f"Trouw{n}")
    first = staff_client.get(URL, {"year": "2026"})
    assert (first.context["total"], len(first.context["page"].object_list)) == (7, 5)
    assert first.context["not_named_count"] == 1
    assert 'href="?year=2026&amp;page=2"' in first.content.decode()
    second = staff_client.get(URL, {"year": "2026", "page": "2"})
    assert [a.member.last_name for a in second.context["page"].object_list] == ["Trouw5", "Trouw6"]


@pytest.mark.browser
def test_anniversary_page_is_accessible(chromium, staff_client, cast):
    from kring.backoffice.tests.browser import open_browser_page
    from kring.conftest import assert_accessible

    member_since(cast, date(2001, 4, 1), named=False, last_name="Stil")
    member_since(cast, date(1986, 5, 1), last_name="Blij")
    page = open_browser_page(chromium, staff_client)
    try:
        page.goto(f"{URL}?year=2026")
        assert_accessible(page, context="anniversaries")
    finally:
        page.context.close()
