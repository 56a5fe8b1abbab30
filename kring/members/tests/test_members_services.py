from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import translation

from kring.core.models import AuditEntry
from kring.members import services
from kring.members.models import BankAccount, Member, Membership
from kring.members.tests.factories import MemberFactory, PlanFactory, active_membership, member_type

pytestmark = pytest.mark.django_db


def test_people_sort_by_last_name_without_tussenvoegsel():
    MemberFactory(first_name="Anna", name_prefix="van den", last_name="Berg")
    MemberFactory(first_name="Bert", name_prefix="", last_name="Aalders")
    MemberFactory(first_name="Cees", name_prefix="de", last_name="Zwart")
    names = [m.listed_name for m in Member.objects.all()]
    assert names == ["Aalders, Bert", "Berg, Anna van den", "Zwart, Cees de"]


def test_created_member_gets_next_number_in_configured_format():
    first = services.create_member(actor=None, member_type=member_type("lid"), last_name="Jansen")
    second = services.create_member(actor=None, member_type=member_type("lid"), last_name="Pietersen")
    assert first.member_number == "000001"
    assert second.member_number == "000002"


def test_member_data_is_normalised_on_create():
    member = services.create_member(
        actor=None,
        member_type=member_type("lid"),
        last_name="Jansen",
        postcode="1234ab",
        phone="06-12345678",
        email="Jan@Example.NL",
        country="NL",
    )
    assert (member.postcode, member.phone, member.email) == ("1234 AB", "+31612345678", "jan@example.nl")


def test_update_member_audits_each_changed_field():
    member = MemberFactory(city="Utrecht")
    changes = services.update_member(member, actor=None, city="Amersfoort", postcode="3811 AA")
    assert {c["field"] for c in changes} == {"city", "postcode"}
    entry = AuditEntry.objects.get(action="kring.member.changed", member_id=member.pk)
    assert {"field": "city", "before": "Utrecht", "after": "Amersfoort"} in entry.changes


def test_update_member_with_bad_postcode_changes_nothing():
    member = MemberFactory(postcode="1234 AB")
    with pytest.raises(ValidationError) as error:
        services.update_member(member, actor=None, postcode="12345")
    assert "postcode" in error.value.message_dict
    member.refresh_from_db()
    assert member.postcode == "1234 AB"
    assert not AuditEntry.objects.filter(action="kring.member.changed").exists()


def test_iban_is_encrypted_at_rest_and_audited_masked():
    member = MemberFactory()
    services.set_bank_account(
        member, actor=None, iban="NL91 ABNA 0417 1643 00", holder_name="A. van den Berg"
    )
    account = BankAccount.objects.get(member=member)
    assert account.iban == "NL91ABNA0417164300"
    assert account.iban_masked == "NL91 •••• •••• 4300"
    assert account.bic == "ABNANL2A"
    with connection.cursor() as cursor:
        cursor.execute("SELECT iban FROM members_bankaccount WHERE id = %s", [account.pk])
        raw = cursor.fetchone()[0]
    assert "NL91ABNA0417164300" not in raw and "0417164300" not in raw
    entry = AuditEntry.objects.get(action="kring.bank_account.changed")
    assert "NL91ABNA0417164300" not in str(entry.changes)
    assert {"field": "iban", "before": "", "after": "NL91 •••• •••• 4300"} in entry.changes


def test_invalid_iban_is_refused_with_reason():
    member = MemberFactory()
    with translation.override("en"), pytest.raises(ValidationError, match="not a valid IBAN"):
        services.set_bank_account(member, actor=None, iban="NL91ABNA0417164301", holder_name="X")
    assert not BankAccount.objects.exists()


def test_new_iban_keeps_old_account_out_of_use():
    member = MemberFactory()
    services.set_bank_account(member, actor=None, iban="NL91ABNA0417164300", holder_name="A")
    services.set_bank_account(member, actor=None, iban="BE68539007547034", holder_name="A")
    assert member.bank_accounts.filter(is_primary=True).get().iban == "BE68539007547034"
    assert member.bank_accounts.count() == 2


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        ("pending", "active", True),
        ("active", "lapsed", True),
        ("lapsed", "active", True),
        ("active", "cancelled", True),
        ("cancelled", "ended", True),
        ("ended", "active", False),
        ("ended", "pending", False),
        ("active", "pending", False),
        ("cancelled", "lapsed", False),
    ],
)
def test_status_transitions_are_enforced(current, new, allowed):
    membership = active_membership(MemberFactory())
    Membership.objects.filter(pk=membership.pk).update(status=current)
    if allowed:
        services.change_membership_status(membership, new, actor=None, effective_date=date(2025, 1, 1))
        membership.refresh_from_db()
        assert membership.status == new
    else:
        with pytest.raises(ValidationError):
            services.change_membership_status(membership, new, actor=None, effective_date=date(2025, 1, 1))
        membership.refresh_from_db()
        assert membership.status == current


def test_member_summary_follows_membership_status():
    member = MemberFactory()
    membership = active_membership(member)
    member.refresh_from_db()
    assert member.membership_status == "active" and member.current_plan_id == membership.plan_id
    services.change_membership_status(membership, "ended", actor=None, effective_date=date(2025, 1, 1))
    member.refresh_from_db()
    assert member.membership_status == "ended"


def test_plan_switch_keeps_member_since_and_records_change():
    member = MemberFactory()
    old = active_membership(member, start=date(2020, 3, 1))
    new_plan = PlanFactory(code="senior", name="Senior")
    new = services.switch_plan(old, new_plan, actor=None, effective_date=date(2025, 7, 1))
    old.refresh_from_db()
    member.refresh_from_db()
    assert old.status == "ended" and old.end_date == date(2025, 6, 30)
    assert new.status == "active" and new.start_date == date(2025, 7, 1)
    assert member.member_since == date(2020, 3, 1)
    assert new.changes.filter(kind="plan_switch", from_value=old.plan.name, to_value="Senior").exists()


def test_frequency_not_offered_by_plan_is_refused():
    plan = PlanFactory(frequencies=["yearly"])
    with translation.override("en"), pytest.raises(ValidationError, match="cannot be paid"):
        services.start_membership(
            MemberFactory(), plan, actor=None, start_date=date(2025, 1, 1), billing_frequency="monthly"
        )


def test_cancellation_respects_notice_period():
    plan = PlanFactory(notice_period_days=30)
    membership = active_membership(MemberFactory(), plan, start=date(2025, 1, 1))
    from kring.members.models import CancellationReason

    reason = CancellationReason.objects.get(code="verhuisd")
    late = services.cancel_membership(membership, actor=None, reason=reason, cancelled_on=date(2025, 12, 15))
    assert late.end_date == date(2026, 12, 31)
    assert late.status == "cancelled" and late.cancellation_reason == reason


def test_payer_shares_must_add_up_to_100():
    membership = active_membership(MemberFactory())
    with translation.override("en"), pytest.raises(ValidationError, match="add up to"):
        services.set_payers(
            membership,
            [{"kind": "fund", "external_name": "Jeugdfonds Sport", "share_percent": 75}],
            actor=None,
        )
    parent = MemberFactory()
    services.set_payers(
        membership,
        [
            {"kind": "fund", "external_name": "Jeugdfonds Sport", "share_percent": 75},
            {"kind": "guardian", "payer_member": parent, "share_percent": 25},
        ],
        actor=None,
    )
    assert membership.payers.count() == 2


def test_leaving_household_is_a_change_not_a_reentry():
    head = MemberFactory()
    household = services.create_household(actor=None, name="Fam", head=head)
    partner = MemberFactory()
    services.add_to_household(partner, household, role="partner", actor=None)
    partner.member_since = date(2010, 1, 1)
    partner.save()
    number = partner.member_number
    membership = services.leave_household(
        partner, actor=None, on_date=date(2025, 5, 1), new_plan=PlanFactory(), billing_frequency="yearly"
    )
    partner.refresh_from_db()
    assert partner.household is None
    assert partner.member_number == number and partner.member_since == date(2010, 1, 1)
    assert membership.changes.filter(kind="household_left").exists()
    assert AuditEntry.objects.filter(action="kring.member.changed", member_id=partner.pk).exists()


def test_household_members_are_covered_by_the_main_members_household_plan():
    head = MemberFactory()
    household = services.create_household(actor=None, name="Fam", head=head)
    child = MemberFactory()
    services.add_to_household(child, household, role="child", actor=None)
    family_plan = PlanFactory(code="gezin", covers_household=True)
    membership = active_membership(head, family_plan)
    child.refresh_from_db()
    assert (child.membership_status, child.current_plan_id) == ("active", family_plan.pk)
    services.change_membership_status(membership, "ended", actor=None, effective_date=date(2025, 1, 1))
    child.refresh_from_db()
    assert child.membership_status == "ended"
    services.leave_household(child, actor=None, on_date=date(2025, 2, 1))
    child.refresh_from_db()
    assert (child.membership_status, child.current_plan_id) == ("", None)


def test_a_plan_that_does_not_cover_the_household_covers_only_its_member():
    head = MemberFactory()
    household = services.create_household(actor=None, name="Fam", head=head)
    partner = MemberFactory()
    services.add_to_household(partner, household, role="partner", actor=None)
    active_membership(head, PlanFactory(code="single"))
    partner.refresh_from_db()
    assert partner.membership_status == ""
