from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kring.core.models import AuditEntry
from kring.members import services
from kring.members.models import (
    BillingFrequency,
    ContactPerson,
    Member,
    MembershipChange,
    MembershipPayer,
    PriceRule,
)
from kring.members.tests.factories import MemberFactory, PlanFactory, active_membership


def detail_url(member) -> str:
    return reverse("backoffice:member_detail", args=[member.pk])


@pytest.fixture
def staff_client(client, cast):
    client.force_login(cast.secretariat)
    return client


def page_html(client, member, **params) -> str:
    response = client.get(detail_url(member), params, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    return response.content.decode()


def build_long_history(member, *, memberships: int, audit_entries: int) -> None:
    """A member with several memberships (plan switches, payers, price rules) and a long history."""
    services.set_bank_account(member, actor=None, iban="NL91ABNA0417164300", holder_name="A. van den Berg")
    plans = [PlanFactory(code=f"history-{n}", name=f"History plan {n}") for n in range(memberships)]
    for plan in plans:
        PriceRule.objects.create(
            plan=plan,
            kind=PriceRule.Kind.REGIONAL,
            label="Regio",
            countries="NL",
            adjustment=PriceRule.Adjustment.AMOUNT,
            value=Decimal("-5"),
        )
    membership = member.memberships.get()
    for n, plan in enumerate(plans[1:], start=1):
        membership = services.switch_plan(
            membership, plan, actor=None, effective_date=date(2024, 1 + n * 2, 1)
        )
    payer = MemberFactory(last_name="Payer")
    services.set_payers(
        membership,
        [
            {"kind": MembershipPayer.Kind.GUARDIAN, "payer_member": payer, "share_percent": Decimal("25")},
            {
                "kind": MembershipPayer.Kind.FUND,
                "external_name": "Jeugdfonds",
                "share_percent": Decimal("75"),
            },
        ],
        actor=None,
    )
    existing = AuditEntry.objects.filter(member_id=member.pk).count()
    for n in range(max(0, audit_entries - existing)):
        services.update_member(member, actor=None, city=f"Stad {n}")


def test_page_shows_personal_data_address_and_formatted_phone(staff_client, cast):
    services.update_member(
        cast.member, actor=None, phone="06-12345678", correspondence="paper", date_of_birth=date(1960, 5, 17)
    )
    html = page_html(staff_client, cast.member)
    assert "Anna van den Berg" in html
    assert cast.member.member_number in html
    assert "06 12345678" in html
    assert 'href="tel:+31612345678"' in html
    assert "Dorpsstraat 1" in html
    assert "1234 AB" in html
    assert "on paper" in html
    assert "May 17, 1960" in html


def test_organisation_shows_its_contact_persons(staff_client, cast):
    company = MemberFactory(
        kind=Member.Kind.ORGANISATION,
        organisation_name="Bakkerij De Korenaar",
        first_name="",
        name_prefix="",
        last_name="",
        kvk_number="12345678",
    )
    ContactPerson.objects.create(
        organisation=company,
        first_name="Els",
        last_name="Smit",
        role="directeur",
        phone="+31201234567",
        is_primary=True,
    )
    html = page_html(staff_client, company)
    assert "Bakkerij De Korenaar" in html
    assert "12345678" in html
    assert "Els Smit" in html
    assert "directeur" in html
    assert "020 123 4567" in html


def test_household_members_are_listed_with_role_and_link(staff_client, cast):
    html = page_html(staff_client, cast.member)
    assert "Familie Van den Berg" in html
    assert detail_url(cast.household_member) in html
    assert "Pim van den Berg" in html
    assert "child" in html


def test_guardian_and_wards_link_to_each_other(staff_client, cast):
    services.update_member(cast.household_member, actor=None, guardian=cast.member)
    assert detail_url(cast.member) in page_html(staff_client, cast.household_member)
    assert detail_url(cast.household_member) in page_html(staff_client, cast.member)


def test_membership_shows_plan_dates_and_dues_made_up_per_instalment(staff_client, cast):
    plan = PlanFactory(code="jeugd", name="Jeugdlid", yearly_price=Decimal("120.00"))
    PriceRule.objects.create(
        plan=plan,
        kind=PriceRule.Kind.REGIONAL,
        label="Korting Utrecht",
        countries="NL",
        adjustment=PriceRule.Adjustment.AMOUNT,
        value=Decimal("-24.00"),
    )
    member = MemberFactory(last_name="Dekker")
    active_membership(member, plan, start=date(2024, 1, 1), frequency=BillingFrequency.QUARTERLY)
    html = page_html(staff_client, member)
    assert "Jeugdlid" in html
    assert "Jan. 1, 2024" in html
    assert "Korting Utrecht" in html
    assert "€\u00a0-24.00" in html
    assert "€\u00a096.00" in html  # total per year
    assert "€\u00a024.00</strong> per quarter" in html


def test_membership_shows_payers_with_their_shares(staff_client, cast):
    membership = cast.household_member.memberships.first() or active_membership(
        cast.household_member, cast.plan
    )
    services.set_payers(
        membership,
        [
            {
                "kind": MembershipPayer.Kind.GUARDIAN,
                "payer_member": cast.member,
                "share_percent": Decimal("25"),
            },
            {
                "kind": MembershipPayer.Kind.FUND,
                "external_name": "Jeugdfonds Sport",
                "share_percent": Decimal("75"),
            },
        ],
        actor=None,
    )
    html = page_html(staff_client, cast.household_member)
    assert "Jeugdfonds Sport" in html
    assert "<strong>75%</strong>" in html
    assert "<strong>25%</strong>" in html
    # and the parent's page says whom she pays for
    assert detail_url(cast.household_member) in page_html(staff_client, cast.member)


def test_membership_change_log_is_shown(staff_client, cast):
    html = page_html(staff_client, cast.former_member)
    # The service stores the status labels as text, in the language active when the change was made.
    change = MembershipChange.objects.get(
        membership__member=cast.former_member, kind=MembershipChange.Kind.STATUS
    )
    assert "Status changed" in html
    assert f"{change.from_value} → {change.to_value}" in html
    assert change.to_value


def test_secretariat_sees_only_the_masked_iban(staff_client, cast):
    services.set_bank_account(
        cast.member, actor=None, iban="NL91ABNA0417164300", holder_name="A. van den Berg"
    )
    html = page_html(staff_client, cast.member)
    assert "NL91 •••• •••• 4300" in html
    assert "NL91 ABNA 0417 1643 00" not in html
    assert "0417164300" not in html


def test_history_lists_changes_newest_first_with_field_names_and_before_after(staff_client, cast):
    services.update_member(cast.member, actor=cast.secretariat, city="Amersfoort")
    services.update_member(cast.member, actor=cast.secretariat, correspondence="paper")
    response = staff_client.get(detail_url(cast.member), HTTP_ACCEPT_LANGUAGE="en")
    history = list(response.context["history"])
    assert [entry.action for entry in history[:2]] == ["kring.member.changed", "kring.member.changed"]
    assert history[0].changes[0]["field"] == "correspondence"
    html = response.content.decode()
    assert "Member details changed" in html
    assert '<span class="history-change__field">City</span>' in html
    assert "Utrecht</del>" in html and "Amersfoort</ins>" in html
    assert "by email</del>" in html and "on paper</ins>" in html
    assert html.index("on paper</ins>") < html.index("Amersfoort</ins>")


def test_history_is_paged_by_20(staff_client, cast):
    for n in range(25):
        services.update_member(cast.member, actor=None, city=f"Stad {n}")
    total = AuditEntry.objects.filter(member_id=cast.member.pk).count()
    first = staff_client.get(detail_url(cast.member))
    assert len(first.context["history"].object_list) == 20
    last = staff_client.get(detail_url(cast.member), {"history": "2"})
    assert len(last.context["history"].object_list) == total - 20
    assert "Stad 24</ins>" in first.content.decode()
    assert "Stad 24</ins>" not in last.content.decode()


def test_unknown_member_is_not_found(staff_client, cast):
    assert staff_client.get(reverse("backoffice:member_detail", args=[999999])).status_code == 404


def test_page_offers_the_hooks_for_member_and_membership_actions(staff_client, cast):
    response = staff_client.get(detail_url(cast.member))
    used = [template.name for template in response.templates]
    assert "backoffice/members/_member_actions.html" in used
    assert "backoffice/memberships/_membership_actions.html" in used


def test_page_runs_the_same_queries_for_5_memberships_and_30_history_rows(staff_client, cast):
    staff_client.get(detail_url(cast.member))
    with CaptureQueriesContext(connection) as few:
        staff_client.get(detail_url(cast.member))
    build_long_history(cast.member, memberships=5, audit_entries=30)
    assert cast.member.memberships.count() == 5
    assert AuditEntry.objects.filter(member_id=cast.member.pk).count() >= 30
    with CaptureQueriesContext(connection) as many:
        html = staff_client.get(detail_url(cast.member), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "History plan 4" in html and "Jeugdfonds" in html
    assert len(many) == len(few)


def test_member_page_query_count_is_pinned(staff_client, cast, django_assert_num_queries):
    build_long_history(cast.member, memberships=5, audit_entries=30)
    staff_client.get(detail_url(cast.member))
    # session, user, permissions (2), member with its relations and prefetches (12), association (once for the
    # dues, once for the layout), the member's invoices (1), history count + page
    with django_assert_num_queries(20):
        staff_client.get(detail_url(cast.member))


@pytest.mark.browser
def test_member_page_is_accessible(chromium, staff_client, cast):
    from kring.backoffice.tests.browser import open_browser_page
    from kring.conftest import assert_accessible

    build_long_history(cast.member, memberships=3, audit_entries=25)
    page = open_browser_page(chromium, staff_client)
    try:
        page.goto(detail_url(cast.member))
        page.locator("details.membership-changes summary").first.click()
        assert_accessible(page, context="member page")
    finally:
        page.context.close()
