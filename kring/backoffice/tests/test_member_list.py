import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kring.backoffice.views import members as member_views
from kring.members import services
from kring.members.models import Membership
from kring.members.tests.factories import MemberFactory, PlanFactory, active_membership

URL = reverse("backoffice:member_list")


@pytest.fixture
def staff_client(client, cast):
    client.force_login(cast.secretariat)
    return client


def listed_numbers(response) -> list[str]:
    return [member.member_number for member in response.context["page"].members]


def test_search_by_last_name_without_tussenvoegsel_finds_member(staff_client, cast):
    response = staff_client.get(URL, {"q": "berg"})
    assert cast.member.member_number in listed_numbers(response)
    assert cast.other_member.member_number not in listed_numbers(response)


def test_search_by_full_name_with_tussenvoegsel_finds_member(staff_client, cast):
    response = staff_client.get(URL, {"q": "Anna van den Berg"})
    assert listed_numbers(response) == [cast.member.member_number]


@pytest.mark.parametrize("field", ["member_number", "email", "postcode", "city"])
def test_search_by_number_email_postcode_or_city_finds_member(staff_client, cast, field):
    MemberFactory(
        last_name="Elders",
        postcode="9999 ZZ",
        city="Zwolle",
        email="elders@example.test",
        member_number="X000777",
    )
    values = {
        "member_number": "X000777",
        "email": "elders@example.test",
        "postcode": "9999zz",
        "city": "zwolle",
    }
    response = staff_client.get(URL, {"q": values[field]})
    assert listed_numbers(response) == ["X000777"]


def test_results_show_number_listed_name_place_plan_and_status(staff_client, cast):
    response = staff_client.get(URL, {"q": cast.member.member_number})
    html = response.content.decode()
    assert cast.member.member_number in html
    assert "Berg, Anna van den" in html
    assert cast.member.city in html
    assert cast.plan.name in html
    assert 'class="badge badge--active"' in html
    assert reverse("backoffice:member_detail", args=[cast.member.pk]) in html


def test_filters_by_plan_status_and_country(staff_client, cast):
    other_plan = PlanFactory(code="steun", name="Steunlid")
    belgian = MemberFactory(last_name="Peeters", country="BE", postcode="1000", city="Brussel")
    active_membership(belgian, other_plan)
    assert listed_numbers(staff_client.get(URL, {"plan": other_plan.pk})) == [belgian.member_number]
    assert listed_numbers(staff_client.get(URL, {"country": "BE"})) == [belgian.member_number]
    assert listed_numbers(staff_client.get(URL, {"status": Membership.Status.ENDED})) == [
        cast.former_member.member_number
    ]
    assert (
        listed_numbers(staff_client.get(URL, {"plan": cast.plan.pk, "status": "ended", "country": "BE"}))
        == []
    )


def test_unknown_filter_value_is_ignored_and_the_list_still_shows(staff_client, cast):
    response = staff_client.get(URL, {"plan": "999999", "status": "bogus", "page": "x"})
    assert response.status_code == 200
    assert len(listed_numbers(response)) == 4
    assert response.context["form"].errors.keys() == {"plan", "status"}


def test_list_shows_25_per_page_and_next_link_keeps_the_filters(staff_client, cast):
    for _n in range(30):
        MemberFactory(city="Zwolle")
    response = staff_client.get(URL, {"q": "zwolle"})
    page = response.context["page"]
    assert (len(page.members), page.total, page.has_next) == (25, 30, True)
    html = response.content.decode()
    assert 'href="?q=zwolle&amp;page=2"' in html
    second = staff_client.get(URL, {"q": "zwolle", "page": "2"})
    assert len(second.context["page"].members) == 5
    assert not second.context["page"].has_next
    assert 'href="?q=zwolle&amp;page=1"' in second.content.decode()
    assert not set(listed_numbers(response)) & set(listed_numbers(second))


def test_page_after_the_last_shows_the_last_page(staff_client, cast):
    response = staff_client.get(URL, {"page": "99"})
    assert response.context["page"].number == 1
    assert len(listed_numbers(response)) == 4


def test_count_stops_above_1000_and_says_more_than(staff_client, cast, monkeypatch):
    monkeypatch.setattr(member_views, "COUNT_LIMIT", 30)
    for _n in range(36):
        MemberFactory(city="Zwolle")
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(URL, {"q": "zwolle"}, HTTP_ACCEPT_LANGUAGE="en")
    page = response.context["page"]
    assert page.total is None
    assert page.has_next
    assert "More than 30 members found" in response.content.decode()
    count_sql = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(count_sql) == 1
    assert re.search(r"LIMIT 31\b", count_sql[0])


def test_empty_result_says_what_to_try(staff_client, cast):
    response = staff_client.get(URL, {"q": "nobody-by-this-name"}, HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.context["page"].members == []
    assert 'class="card empty-results"' in html
    assert "without “van”, “de” or “van der”" in html


def test_htmx_request_gets_only_the_results_and_the_new_count(staff_client, cast):
    response = staff_client.get(URL, {"q": "berg"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html
    assert 'hx-swap-oob="innerHTML:#result-count"' in html
    assert "Berg, Anna van den" in html
    assert "HX-Request" in response["Vary"]


def test_page_without_htmx_is_a_whole_page_with_a_working_form(staff_client, cast):
    response = staff_client.get(URL, {"q": "berg"})
    html = response.content.decode()
    assert "<html" in html
    assert 'method="get" action="/backoffice/members/"' in html
    assert 'id="results"' in html
    assert 'value="berg"' in html


def test_htmx_history_restore_gets_the_whole_page(staff_client, cast):
    response = staff_client.get(URL, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in response.content.decode()


def test_export_link_carries_the_current_selection(staff_client, cast):
    html = staff_client.get(URL, {"q": "berg", "status": "active"}).content.decode()
    assert reverse("backoffice:member_export") + "?q=berg&amp;status=active" in html


def test_member_page_links_back_to_the_same_search(staff_client, cast):
    staff_client.get(URL, {"q": "berg", "status": "active"})
    html = staff_client.get(reverse("backoffice:member_detail", args=[cast.member.pk])).content.decode()
    assert 'href="/backoffice/members/?q=berg&amp;status=active"' in html


def test_list_of_40_members_runs_a_fixed_number_of_queries(staff_client, cast, django_assert_num_queries):
    plans = [PlanFactory() for _n in range(3)]
    for n in range(40):
        member = MemberFactory(city="Zwolle")
        active_membership(member, plans[n % 3])
    services.refresh_membership_summary()
    staff_client.get(URL, {"q": "zwolle"})  # the session remembers the search; the next page view changes it
    # session, user, permissions (2), count, page of members with their plan, association, plans for the
    # filter, session update in a savepoint (3)
    with django_assert_num_queries(11):
        response = staff_client.get(URL, {"q": "zwolle", "page": "2"})
    assert len(response.context["page"].members) == 15


@pytest.mark.browser
def test_results_follow_the_typing_and_the_page_is_accessible(chromium, staff_client, cast):
    from kring.backoffice.tests.browser import open_browser_page
    from kring.conftest import assert_accessible

    page = open_browser_page(chromium, staff_client)
    try:
        page.goto(URL)
        assert_accessible(page, context="member list")
        page.locator("#id_q").press_sequentially("jansen", delay=30)
        page.wait_for_url("**/backoffice/members/?q=jansen*")
        page.wait_for_function("document.querySelectorAll('#results tbody tr').length === 1")
        assert page.locator("#results tbody tr").count() == 1
        assert "Jansen, Bram" in page.locator("#results").inner_text()
        assert page.evaluate("document.activeElement.id") == "id_q"
        page.locator("#id_q").fill("nobody-by-this-name")
        page.locator("#id_q").press("Enter")
        page.locator(".empty-results").wait_for()
        assert_accessible(page, context="member list without results")
    finally:
        page.context.close()
