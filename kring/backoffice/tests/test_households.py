from datetime import date

import pytest
from django.urls import reverse

from kring.members import services
from kring.members.models import Household, Member, MembershipChange
from kring.members.tests.factories import MemberFactory, PlanFactory, member_type


def url(name, member):
    return reverse(f"backoffice:{name}", args=[member.pk])


def test_secretariat_starts_a_household_with_the_member_as_main_member(client, cast):
    bram = cast.other_member
    client.force_login(cast.secretariat)
    form = client.get(url("household_create", bram), HTTP_ACCEPT_LANGUAGE="en").context["form"]
    assert form["name"].value() == "Family Jansen"
    response = client.post(url("household_create", bram), {"name": "Familie Jansen"})
    assert response.status_code == 302
    assert response.url == reverse("backoffice:member_detail", args=[bram.pk])
    bram.refresh_from_db()
    assert (bram.household.name, bram.household_role) == ("Familie Jansen", "head")


def test_household_needs_a_name(client, cast):
    client.force_login(cast.secretariat)
    response = client.post(url("household_create", cast.other_member), {"name": " "})
    assert "name" in response.context["form"].errors
    assert not Household.objects.filter(name__icontains="Jansen").exists()


def test_member_already_in_a_household_cannot_start_another(client, cast):
    client.force_login(cast.secretariat)
    households_before = Household.objects.count()
    response = client.post(url("household_create", cast.member), {"name": "Tweede huishouden"})
    assert response.status_code == 302
    assert Household.objects.count() == households_before


def test_add_partner_by_member_number(client, cast):
    client.force_login(cast.secretariat)
    response = client.post(
        url("household_add_member", cast.member),
        {"member_number": cast.other_member.member_number, "role": "partner"},
    )
    assert response.status_code == 302
    cast.other_member.refresh_from_db()
    assert (cast.other_member.household_id, cast.other_member.household_role) == (
        cast.member.household_id,
        "partner",
    )


def test_unknown_member_number_adds_nobody(client, cast):
    client.force_login(cast.secretariat)
    response = client.post(
        url("household_add_member", cast.member), {"member_number": "X999999", "role": "child"}
    )
    assert response.status_code == 200
    assert "member_number" in response.context["form"].errors
    assert cast.member.household.members.count() == 2


def test_member_of_another_household_is_refused(client, cast):
    other_head = MemberFactory()
    client.force_login(cast.secretariat)
    client.post(url("household_create", other_head), {"name": "Familie Anders"})
    response = client.post(
        url("household_add_member", other_head),
        {"member_number": cast.household_member.member_number, "role": "child"},
    )
    assert "member_number" in response.context["form"].errors
    cast.household_member.refresh_from_db()
    assert cast.household_member.household == cast.member.household


def test_leaving_the_household_with_an_own_plan_keeps_number_and_member_since(client, cast):
    pim = cast.household_member
    Member.objects.filter(pk=pim.pk).update(member_since=date(2010, 1, 1))
    number = pim.member_number
    client.force_login(cast.secretariat)
    response = client.post(
        url("household_leave", pim),
        {"on_date": "2025-03-01", "plan": cast.plan.pk, "billing_frequency": "monthly"},
    )
    assert response.status_code == 302
    pim.refresh_from_db()
    assert (pim.household_id, pim.household_role, pim.member_number) == (None, "", number)
    assert pim.member_since == date(2010, 1, 1)
    membership = pim.memberships.get()
    assert (membership.start_date, membership.billing_frequency) == (date(2025, 3, 1), "monthly")
    assert membership.changes.filter(kind=MembershipChange.Kind.HOUSEHOLD_LEFT).exists()


def test_leaving_with_a_plan_the_plan_cannot_be_paid_that_way_changes_nothing(client, cast):
    pim = cast.household_member
    client.force_login(cast.secretariat)
    response = client.post(
        url("household_leave", pim),
        {"on_date": "2025-03-01", "plan": cast.plan.pk, "billing_frequency": "half_yearly"},
    )
    assert "billing_frequency" in response.context["form"].errors
    pim.refresh_from_db()
    assert pim.household_id == cast.member.household_id
    assert not pim.memberships.exists()


def test_turned_18_gives_new_member_type_and_plan(client, cast):
    youth_plan = PlanFactory(code="jeugd", name="Jeugd")
    pim = cast.household_member
    Member.objects.filter(pk=pim.pk).update(
        member_type=member_type("jeugdlid"), date_of_birth=date(2007, 2, 10), guardian=cast.member
    )
    services.start_membership(
        pim, youth_plan, actor=None, start_date=date(2020, 1, 1), billing_frequency="yearly"
    )
    client.force_login(cast.secretariat)
    form = client.get(url("come_of_age", pim)).context["form"]
    assert form["on_date"].value() == date(2025, 2, 10)
    response = client.post(
        url("come_of_age", pim),
        {
            "on_date": "2025-02-10",
            "member_type": member_type("lid").pk,
            "plan": cast.plan.pk,
            "billing_frequency": "yearly",
        },
    )
    assert response.status_code == 302
    pim.refresh_from_db()
    assert pim.member_type.code == "lid"
    assert pim.guardian is None
    assert pim.memberships.get(plan=youth_plan).status == "ended"
    new = pim.memberships.get(plan=cast.plan)
    assert new.changes.filter(kind=MembershipChange.Kind.CAME_OF_AGE).exists()


def test_turned_18_with_a_date_before_the_membership_started_changes_nothing(client, cast):
    youth_plan = PlanFactory(code="jeugd", name="Jeugd")
    pim = cast.household_member
    Member.objects.filter(pk=pim.pk).update(guardian=cast.member)
    services.start_membership(
        pim, youth_plan, actor=None, start_date=date(2020, 1, 1), billing_frequency="yearly"
    )
    client.force_login(cast.secretariat)
    response = client.post(
        url("come_of_age", pim),
        {
            "on_date": "2019-06-01",
            "member_type": member_type("lid").pk,
            "plan": cast.plan.pk,
            "billing_frequency": "yearly",
        },
    )
    assert response.status_code == 200
    assert "on_date" in response.context["form"].errors
    assert pim.memberships.get().plan == youth_plan


def test_turned_18_is_not_offered_for_adult_members(client, cast):
    client.force_login(cast.secretariat)
    response = client.post(
        url("come_of_age", cast.other_member),
        {"on_date": "2025-01-01", "member_type": member_type("erelid").pk},
    )
    assert response.status_code == 302
    cast.other_member.refresh_from_db()
    assert cast.other_member.member_type.code == "lid"


@pytest.mark.parametrize("role", ["board", "audit_committee", "treasurer"])
def test_roles_without_permission_get_403(client, cast, role):
    client.force_login(getattr(cast, role))
    pim = cast.household_member
    assert client.post(url("household_create", cast.other_member), {"name": "X"}).status_code == 403
    assert (
        client.post(
            url("household_add_member", cast.member),
            {"member_number": cast.other_member.member_number, "role": "partner"},
        ).status_code
        == 403
    )
    assert client.post(url("household_leave", pim), {"on_date": "2025-01-01"}).status_code == 403
    assert (
        client.post(
            url("come_of_age", pim), {"on_date": "2025-01-01", "member_type": member_type("lid").pk}
        ).status_code
        == 403
    )
    pim.refresh_from_db()
    cast.other_member.refresh_from_db()
    assert pim.household_id == cast.member.household_id
    assert cast.other_member.household_id is None


def test_member_page_offers_household_actions_that_fit(client, cast):
    Member.objects.filter(pk=cast.household_member.pk).update(member_type=member_type("jeugdlid"))
    client.force_login(cast.secretariat)

    def page(member):
        return client.get(reverse("backoffice:member_detail", args=[member.pk])).content.decode()

    youth, head, single = page(cast.household_member), page(cast.member), page(cast.other_member)
    assert url("come_of_age", cast.household_member) in youth
    assert url("household_leave", cast.household_member) in youth
    assert url("come_of_age", cast.member) not in head
    assert url("household_add_member", cast.member) in head
    assert url("household_create", cast.member) not in head
    assert url("household_create", cast.other_member) in single
    assert url("household_leave", cast.other_member) not in single
    client.force_login(cast.board)
    assert url("household_add_member", cast.member) not in page(cast.member)
