from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from kring.backoffice.forms import long_date
from kring.core.models import Association, AuditEntry
from kring.members import services
from kring.members.models import CancellationReason, Membership, MembershipChange, MembershipPayer
from kring.members.tests.factories import MemberFactory, PlanFactory

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def url(name, membership):
    return reverse(f"backoffice:{name}", args=[membership.pk])


def member_page(member):
    return reverse("backoffice:member_detail", args=[member.pk])


def reason(code="verhuisd"):
    return CancellationReason.objects.get(code=code)


@pytest.fixture
def membership(cast):
    return cast.member.memberships.get()


# --- start a membership -------------------------------------------------------------------


def test_secretariat_starts_a_pending_membership(client, cast):
    newcomer = MemberFactory()
    client.force_login(cast.secretariat)
    response = client.post(
        reverse("backoffice:membership_create", args=[newcomer.pk]),
        {
            "plan": cast.plan.pk,
            "billing_frequency": "monthly",
            "start_date": "2025-03-01",
            "status": "pending",
            "note": "Paid at the door",
        },
    )
    assert response.status_code == 302
    assert response.url == member_page(newcomer)
    membership = newcomer.memberships.get()
    assert (membership.status, membership.billing_frequency, membership.start_date) == (
        "pending",
        "monthly",
        date(2025, 3, 1),
    )
    newcomer.refresh_from_db()
    assert newcomer.membership_status == "pending"


def test_add_on_is_started_on_its_main_membership(client, cast, membership):
    addon = PlanFactory(code="tijdschrift", name="Tijdschrift", is_addon=True, yearly_price=Decimal("25"))
    cast.plan.addons.add(addon)
    client.force_login(cast.secretariat)
    response = client.post(
        reverse("backoffice:membership_create", args=[cast.member.pk]),
        {
            "plan": addon.pk,
            "billing_frequency": "yearly",
            "start_date": "2025-01-01",
            "status": "active",
            "parent_membership": membership.pk,
        },
    )
    assert response.status_code == 302
    assert cast.member.memberships.get(plan=addon).parent_membership == membership


def test_add_on_without_main_membership_starts_nothing(client, cast):
    addon = PlanFactory(code="tijdschrift", name="Tijdschrift", is_addon=True)
    client.force_login(cast.secretariat)
    response = client.post(
        reverse("backoffice:membership_create", args=[cast.member.pk]),
        {
            "plan": addon.pk,
            "billing_frequency": "yearly",
            "start_date": "2025-01-01",
            "status": "active",
        },
    )
    assert response.status_code == 200
    assert "plan" in response.context["form"].errors
    assert not Membership.objects.filter(plan=addon).exists()


def test_frequency_the_plan_does_not_offer_starts_nothing(client, cast):
    newcomer = MemberFactory()
    client.force_login(cast.secretariat)
    response = client.post(
        reverse("backoffice:membership_create", args=[newcomer.pk]),
        {
            "plan": cast.plan.pk,
            "billing_frequency": "half_yearly",
            "start_date": "2025-01-01",
            "status": "active",
        },
    )
    assert "billing_frequency" in response.context["form"].errors
    assert not newcomer.memberships.exists()


# --- status -------------------------------------------------------------------------------


def test_status_form_offers_only_allowed_transitions(client, cast, membership):
    client.force_login(cast.secretariat)
    choices = [
        value
        for value, _label in client.get(url("membership_status", membership))
        .context["form"]
        .fields["status"]
        .choices
    ]
    assert choices == ["lapsed", "ended"]


def test_secretariat_marks_membership_lapsed_with_a_note(client, cast, membership):
    client.force_login(cast.secretariat)
    response = client.post(
        url("membership_status", membership),
        {"status": "lapsed", "effective_date": "2025-01-01", "note": "Did not pay"},
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.status == "lapsed"
    change = membership.changes.get(kind=MembershipChange.Kind.STATUS)
    assert (change.note, change.created_by) == ("Did not pay", cast.secretariat)


def test_disallowed_transition_changes_nothing(client, cast):
    newcomer = MemberFactory()
    pending = services.start_membership(
        newcomer,
        cast.plan,
        actor=None,
        start_date=date(2025, 1, 1),
        billing_frequency="yearly",
        status="pending",
    )
    client.force_login(cast.secretariat)
    response = client.post(
        url("membership_status", pending), {"status": "lapsed", "effective_date": "2025-02-01"}
    )
    assert response.status_code == 200
    assert "status" in response.context["form"].errors
    pending.refresh_from_db()
    assert pending.status == "pending"


def test_ended_membership_offers_no_status_change(client, cast):
    ended = cast.former_member.memberships.get()
    client.force_login(cast.secretariat)
    response = client.post(
        url("membership_status", ended), {"status": "active", "effective_date": "2025-02-01"}
    )
    assert response.status_code == 302
    ended.refresh_from_db()
    assert ended.status == "ended"


# --- cancel and withdraw ------------------------------------------------------------------


def test_cancel_without_end_date_ends_at_end_of_term(client, cast, membership):
    client.force_login(cast.secretariat)
    response = client.post(
        url("membership_cancel", membership),
        {"reason": reason().pk, "cancelled_on": "2024-06-01", "end_date": ""},
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.status == "cancelled"
    assert (
        membership.end_date == services.earliest_end_date(membership, date(2024, 6, 1)) == date(2024, 12, 31)
    )
    assert membership.cancellation_reason == reason()


def test_cancel_form_shows_the_computed_end_date(client, cast, membership):
    client.force_login(cast.secretariat)
    with translation.override("en"):
        expected = long_date(services.earliest_end_date(membership, date(2024, 12, 15)))
    response = client.get(url("membership_cancel", membership), {"cancelled_on": "2024-12-15"}, **EN)
    assert expected in response.context["form"].fields["end_date"].help_text
    # htmx asks for just the help text when the cancellation date changes.
    partial = client.get(
        url("membership_cancel", membership), {"cancelled_on": "2024-12-15"}, HTTP_HX_REQUEST="true", **EN
    )
    assert expected in partial.content.decode()
    assert "<form" not in partial.content.decode()


def test_cancel_without_reason_changes_nothing(client, cast, membership):
    client.force_login(cast.secretariat)
    response = client.post(url("membership_cancel", membership), {"cancelled_on": "2024-06-01"})
    assert "reason" in response.context["form"].errors
    membership.refresh_from_db()
    assert membership.status == "active"


def test_end_date_before_start_changes_nothing(client, cast, membership):
    client.force_login(cast.secretariat)
    response = client.post(
        url("membership_cancel", membership),
        {"reason": reason().pk, "cancelled_on": "2024-06-01", "end_date": "2023-12-31"},
    )
    assert "end_date" in response.context["form"].errors
    membership.refresh_from_db()
    assert (membership.status, membership.end_date) == ("active", None)


def test_withdrawing_a_cancellation_makes_the_membership_active_again(client, cast, membership):
    services.cancel_membership(membership, actor=None, reason=reason(), cancelled_on=date(2024, 6, 1))
    client.force_login(cast.secretariat)
    response = client.post(url("membership_withdraw_cancellation", membership), {"on_date": "2024-07-01"})
    assert response.status_code == 302
    membership.refresh_from_db()
    assert (membership.status, membership.end_date, membership.cancelled_on) == ("active", None, None)
    assert membership.changes.filter(kind=MembershipChange.Kind.CANCELLATION_WITHDRAWN).exists()


def test_withdraw_on_a_membership_that_is_not_cancelled_changes_nothing(client, cast, membership):
    client.force_login(cast.secretariat)
    response = client.post(url("membership_withdraw_cancellation", membership), {"on_date": "2024-07-01"})
    assert response.status_code == 302
    assert not membership.changes.filter(kind=MembershipChange.Kind.CANCELLATION_WITHDRAWN).exists()


# --- switch plan and frequency ------------------------------------------------------------


def test_switch_plan_ends_the_old_and_starts_the_new(client, cast, membership):
    senior = PlanFactory(code="senior", name="Senior")
    client.force_login(cast.secretariat)
    response = client.post(
        url("membership_switch_plan", membership),
        {"plan": senior.pk, "effective_date": "2025-01-01", "billing_frequency": "monthly"},
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert (membership.status, membership.end_date) == ("ended", date(2024, 12, 31))
    new = cast.member.memberships.get(plan=senior)
    assert (new.status, new.billing_frequency, new.start_date) == ("active", "monthly", date(2025, 1, 1))


def test_switch_before_the_start_date_changes_nothing(client, cast, membership):
    senior = PlanFactory(code="senior", name="Senior")
    client.force_login(cast.secretariat)
    response = client.post(
        url("membership_switch_plan", membership),
        {"plan": senior.pk, "effective_date": "2023-06-01", "billing_frequency": "yearly"},
    )
    assert "effective_date" in response.context["form"].errors
    membership.refresh_from_db()
    assert membership.status == "active"
    assert not Membership.objects.filter(plan=senior).exists()


def test_change_billing_frequency(client, cast, membership):
    client.force_login(cast.secretariat)
    response = client.post(
        url("membership_frequency", membership),
        {"billing_frequency": "quarterly", "effective_date": "2025-01-01"},
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.billing_frequency == "quarterly"
    assert AuditEntry.objects.filter(action="kring.membership.frequency_changed").exists()


def test_frequency_the_plan_does_not_allow_changes_nothing(client, cast, membership):
    client.force_login(cast.secretariat)
    response = client.post(
        url("membership_frequency", membership),
        {"billing_frequency": "half_yearly", "effective_date": "2025-01-01"},
    )
    assert "billing_frequency" in response.context["form"].errors
    membership.refresh_from_db()
    assert membership.billing_frequency == "yearly"


# --- payers -------------------------------------------------------------------------------


def payer_rows(*rows, initial=0):
    data = {
        "payers-TOTAL_FORMS": str(max(len(rows), 1)),
        "payers-INITIAL_FORMS": str(initial),
        "payers-MIN_NUM_FORMS": "0",
        "payers-MAX_NUM_FORMS": "10",
    }
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"payers-{index}-{key}"] = value
    return data


def test_fund_pays_75_percent_and_parent_25(client, cast, membership):
    client.force_login(cast.secretariat)
    response = client.post(
        url("membership_payers", membership),
        payer_rows(
            {
                "kind": "fund",
                "external_name": "Jeugdsportfonds Utrecht",
                "external_reference": "JSF-123",
                "share_percent": "75",
            },
            {"kind": "guardian", "member_number": cast.other_member.member_number, "share_percent": "25"},
        ),
    )
    assert response.status_code == 302
    payers = {p.kind: p for p in membership.payers.all()}
    assert payers["fund"].share_percent == Decimal("75")
    assert payers["fund"].external_reference == "JSF-123"
    assert payers["guardian"].payer_member == cast.other_member


def test_the_member_itself_can_pay_a_part_without_typing_its_number(client, cast, membership):
    client.force_login(cast.secretariat)
    client.post(
        url("membership_payers", membership),
        payer_rows(
            {"kind": "fund", "external_name": "Fonds", "share_percent": "50"},
            {"kind": "member", "share_percent": "50"},
        ),
    )
    assert membership.payers.get(kind="member").payer_member == cast.member


def test_shares_adding_up_to_90_percent_change_nothing(client, cast, membership):
    client.force_login(cast.secretariat)
    response = client.post(
        url("membership_payers", membership),
        payer_rows(
            {"kind": "fund", "external_name": "Fonds", "share_percent": "65"},
            {"kind": "guardian", "member_number": cast.other_member.member_number, "share_percent": "25"},
        ),
    )
    assert response.status_code == 200
    assert response.context["problems"]
    assert "90" in response.context["problems"][0][1]
    assert not MembershipPayer.objects.exists()


def test_unknown_member_number_for_a_payer_changes_nothing(client, cast, membership):
    client.force_login(cast.secretariat)
    response = client.post(
        url("membership_payers", membership),
        payer_rows(
            {"kind": "guardian", "member_number": "NO-SUCH-NUMBER", "share_percent": "100"},
        ),
    )
    assert response.status_code == 200
    assert "member_number" in response.context["formset"].forms[0].errors
    assert not MembershipPayer.objects.exists()


def test_removing_all_payers_means_the_member_pays_everything(client, cast, membership):
    services.set_payers(
        membership, [{"kind": "fund", "external_name": "Fonds", "share_percent": Decimal(100)}], actor=None
    )
    client.force_login(cast.secretariat)
    form = client.get(url("membership_payers", membership)).context["formset"].forms[0]
    assert form["external_name"].value() == "Fonds"
    response = client.post(
        url("membership_payers", membership),
        payer_rows(
            {"kind": "fund", "external_name": "Fonds", "share_percent": "100", "DELETE": "on"},
            initial=1,
        ),
    )
    assert response.status_code == 302
    assert not membership.payers.exists()


def test_payers_page_query_count(client, cast, membership, django_assert_max_num_queries):
    services.set_payers(
        membership,
        [
            {"kind": "guardian", "payer_member": MemberFactory(), "share_percent": Decimal(10)}
            for _ in range(10)
        ],
        actor=None,
    )
    Association.current()
    client.force_login(cast.secretariat)
    with django_assert_max_num_queries(8):
        assert client.get(url("membership_payers", membership)).status_code == 200


# --- permissions --------------------------------------------------------------------------

ACTIONS = [
    ("membership_status", {"status": "lapsed", "effective_date": "2025-01-01"}),
    ("membership_cancel", {"reason": "1", "cancelled_on": "2024-06-01"}),
    ("membership_switch_plan", {"plan": "1", "effective_date": "2025-01-01", "billing_frequency": "yearly"}),
    ("membership_frequency", {"billing_frequency": "quarterly", "effective_date": "2025-01-01"}),
    ("membership_payers", payer_rows({"kind": "fund", "external_name": "Fonds", "share_percent": "100"})),
]


@pytest.mark.parametrize("role", ["board", "audit_committee", "treasurer"])
@pytest.mark.parametrize("name, data", ACTIONS)
def test_roles_without_permission_get_403_and_nothing_changes(client, cast, membership, role, name, data):
    client.force_login(getattr(cast, role))
    assert client.post(url(name, membership), data).status_code == 403
    membership.refresh_from_db()
    assert (membership.status, membership.billing_frequency) == ("active", "yearly")
    assert not MembershipPayer.objects.exists()


@pytest.mark.parametrize("role", ["board", "audit_committee"])
def test_read_only_roles_cannot_start_memberships(client, cast, role):
    newcomer = MemberFactory()
    client.force_login(getattr(cast, role))
    response = client.post(
        reverse("backoffice:membership_create", args=[newcomer.pk]),
        {"plan": cast.plan.pk, "billing_frequency": "yearly", "start_date": "2025-01-01", "status": "active"},
    )
    assert response.status_code == 403
    assert not newcomer.memberships.exists()


@pytest.mark.browser
def test_in_the_browser_the_end_date_help_follows_the_cancellation_date(chromium, client, cast, membership):
    from kring.backoffice.tests.browser import open_browser_page
    from kring.conftest import assert_accessible

    client.force_login(cast.secretariat)
    page = open_browser_page(chromium, client)
    try:
        page.goto(url("membership_cancel", membership))
        assert_accessible(page, context="cancel form")
        with translation.override("nl"):  # the browser asks for Dutch (nl-NL)
            expected = long_date(services.earliest_end_date(membership, date(2030, 12, 15)))
        page.fill("#id_cancelled_on", "2030-12-15")
        page.dispatch_event("#id_cancelled_on", "change")
        page.wait_for_function(
            f"document.querySelector('#id_end_date_helptext').innerText.includes({expected!r})"
        )
        page.goto(url("membership_payers", membership))
        assert_accessible(page, context="payers form")
    finally:
        page.context.close()


# --- the buttons on the member page -------------------------------------------------------


def member_page_html(client, member):
    return client.get(member_page(member)).content.decode()


def test_member_page_offers_the_actions_for_an_active_membership(client, cast, membership):
    client.force_login(cast.secretariat)
    html = member_page_html(client, cast.member)
    for name in (
        "membership_status",
        "membership_cancel",
        "membership_switch_plan",
        "membership_frequency",
        "membership_payers",
    ):
        assert url(name, membership) in html, name
    assert url("membership_withdraw_cancellation", membership) not in html


def test_member_page_offers_withdrawal_only_for_a_cancelled_membership(client, cast, membership):
    services.cancel_membership(membership, actor=None, reason=reason(), cancelled_on=date(2024, 6, 1))
    client.force_login(cast.secretariat)
    html = member_page_html(client, cast.member)
    assert url("membership_withdraw_cancellation", membership) in html
    assert url("membership_cancel", membership) not in html
    assert url("membership_switch_plan", membership) not in html


def test_member_page_offers_nothing_for_an_ended_membership(client, cast):
    ended = cast.former_member.memberships.get()
    client.force_login(cast.secretariat)
    html = member_page_html(client, cast.former_member)
    assert f"/backoffice/memberships/{ended.pk}/" not in html


@pytest.mark.parametrize("role", ["board", "audit_committee"])
def test_read_only_roles_see_no_membership_actions(client, cast, membership, role):
    client.force_login(getattr(cast, role))
    html = member_page_html(client, cast.member)
    assert f"/backoffice/memberships/{membership.pk}/" not in html
    assert reverse("backoffice:membership_create", args=[cast.member.pk]) not in html
