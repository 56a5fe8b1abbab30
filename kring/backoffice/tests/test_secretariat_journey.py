"""A secretariat worker's day, end to end in a real browser over a live server: log in through the
login form, find a member, change their address, and see the change in the member's history."""

import pytest

from kring.conftest import assert_accessible
from kring.core.models import AuditEntry
from kring.members.tests.factories import MemberFactory, active_membership

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_secretariat_logs_in_finds_a_member_and_changes_the_address(cast, page):
    cast.secretariat.set_password("kring-journey-1")
    cast.secretariat.save()
    for number in range(30):
        active_membership(MemberFactory(last_name=f"Jansen{number}", city="Zwolle"))

    page.goto("/accounts/login/")
    page.fill("input[name=login]", "secretariaat@example.test")
    page.fill("input[name=password]", "kring-journey-1")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url("**/backoffice/")

    page.goto("/backoffice/members/")
    assert_accessible(page, context="member list")
    page.fill("input[name=q]", "van den Berg")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=van*")
    page.get_by_role("link", name="Berg, Anna van den").click()
    page.wait_for_url(f"**/backoffice/members/{cast.member.pk}/")
    assert_accessible(page, context="member page")

    page.goto(f"/backoffice/members/{cast.member.pk}/edit/")
    page.fill("input[name=city]", "Amersfoort")
    page.fill("input[name=postcode]", "3811ab")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(f"**/backoffice/members/{cast.member.pk}/")

    cast.member.refresh_from_db()
    assert (cast.member.city, cast.member.postcode) == ("Amersfoort", "3811 AB")
    entry = AuditEntry.objects.filter(action="kring.member.changed", member_id=cast.member.pk).latest(
        "created_at"
    )
    assert entry.actor == cast.secretariat
    assert page.get_by_text("Amersfoort").count() >= 2  # the data and the history line


def test_board_member_cannot_change_a_member_in_the_browser(cast, page):
    cast.board.set_password("kring-journey-1")
    cast.board.save()
    page.goto("/accounts/login/")
    page.fill("input[name=login]", "bestuur@example.test")
    page.fill("input[name=password]", "kring-journey-1")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url("**/backoffice/")
    response = page.goto(f"/backoffice/members/{cast.member.pk}/edit/")
    assert response.status == 403
    page.goto(f"/backoffice/members/{cast.member.pk}/")
    assert page.get_by_role("link", name="Edit").count() == 0
