from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.urls import reverse
from schwifty import IBAN

from kring.core import crypto, roles
from kring.core.models import AuditEntry, User
from kring.members import demo, names, services, validation
from kring.members.models import (
    BankAccount,
    ContactPerson,
    Household,
    Member,
    Membership,
    MembershipChange,
    MembershipPayer,
    Plan,
)
from kring.members.queries import anniversaries_in

pytestmark = pytest.mark.django_db(transaction=False)

TODAY = date(2026, 11, 23)
SIZE = 300


@pytest.fixture
def seeded():
    return demo.seed_demo(SIZE, seed=11, today=TODAY)


def table_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in [
            Member,
            Membership,
            MembershipChange,
            MembershipPayer,
            BankAccount,
            ContactPerson,
            Household,
            AuditEntry,
            User,
            Plan,
        ]
    }


def test_seed_creates_exactly_the_requested_number_of_members(seeded):
    assert Member.objects.count() == SIZE
    assert seeded.members == SIZE
    assert Member.objects.filter(kind=Member.Kind.ORGANISATION).exists()
    assert Member.objects.filter(country="BE").exists()
    assert Member.objects.exclude(name_prefix="").exists()


def test_staff_demo_logins_have_their_role_and_skip_the_second_factor(seeded):
    for login in demo.DEMO_LOGINS[1:]:
        user = User.objects.get(email=login.email)
        assert list(user.groups.values_list("name", flat=True)) == [login.group]
        assert user.is_staff and user.mfa_exempt and not user.is_superuser
        assert EmailAddress.objects.filter(user=user, email=login.email, verified=True, primary=True).exists()
    assert {login.group for login in demo.DEMO_LOGINS[1:]} == {
        roles.SECRETARIAT,
        roles.TREASURER,
        roles.BOARD,
        roles.AUDIT_COMMITTEE,
    }


def test_member_login_has_membership_household_and_bank_account(seeded):
    user = User.objects.get(email=demo.MEMBER_LOGIN)
    assert not user.is_staff
    assert EmailAddress.objects.filter(user=user, verified=True, primary=True).exists()
    member = user.member
    assert member.membership_status == Membership.Status.ACTIVE
    assert member.bank_accounts.filter(is_primary=True).exists()
    roles_in_household = set(member.household.members.values_list("household_role", flat=True))
    assert roles_in_household == {
        Member.HouseholdRole.HEAD,
        Member.HouseholdRole.PARTNER,
        Member.HouseholdRole.CHILD,
    }
    child = member.household.members.get(household_role=Member.HouseholdRole.CHILD)
    assert child.guardian == member
    youth = child.memberships.get()
    assert sorted(youth.payers.values_list("kind", "share_percent")) == [
        ("fund", Decimal("75.00")),
        ("guardian", Decimal("25.00")),
    ]


def test_demo_logins_can_log_in_with_the_demo_password(seeded, client):
    for login in demo.DEMO_LOGINS:
        assert authenticate(email=login.email, password=demo.DEMO_PASSWORD) is not None
    response = client.post(
        reverse("account_login"), {"login": demo.MEMBER_LOGIN, "password": demo.DEMO_PASSWORD}
    )
    assert response.status_code == 302
    assert client.session.get("_auth_user_id") == str(User.objects.get(email=demo.MEMBER_LOGIN).pk)


def test_every_generated_address_phone_email_and_kvk_passes_validation(seeded):
    members = list(Member.objects.all())
    for m in members:
        assert validation.check_postcode(m.postcode, m.country) == m.postcode, m.postcode
        assert validation.check_phone(m.phone, m.country) == m.phone, m.phone
        assert validation.check_email(m.email) == m.email, m.email
        assert validation.check_kvk_number(m.kvk_number) == m.kvk_number
    for contact in ContactPerson.objects.select_related("organisation"):
        assert validation.check_phone(contact.phone, contact.organisation.country) == contact.phone
        assert validation.check_email(contact.email) == contact.email
    assert all(m.phone.startswith(("+31", "+32")) for m in members if m.phone)
    emails = [m.email for m in members if m.email]
    assert len(emails) == len(set(emails))


def test_every_generated_iban_is_valid_with_the_derived_bic_and_encrypted_at_rest(seeded):
    accounts = list(BankAccount.objects.all())
    assert {a.iban[:2] for a in accounts} == {"NL", "BE"}
    for account in accounts:
        checked = validation.check_iban(account.iban)
        assert (checked.iban, checked.bic) == (account.iban, account.bic)
        assert str(IBAN(account.iban).bic) == account.bic
        assert account.iban_masked == validation.mask_iban(account.iban)
        assert account.iban_fingerprint == crypto.fingerprint(account.iban)
    with connection.cursor() as cursor:
        cursor.execute("SELECT iban FROM members_bankaccount")
        raw = [row[0] for row in cursor.fetchall()]
    assert not any(value.startswith(("NL", "BE")) for value in raw)
    assert sorted(crypto.decrypt(value) for value in raw) == sorted(a.iban for a in accounts)


def test_iban_helpers_compute_the_check_digits_of_known_ibans():
    assert demo.nl_iban("ABNA", "0417164300") == "NL91ABNA0417164300"
    assert demo.be_iban("539", "0075470") == "BE68539007547034"
    assert demo.iban_check_digits("NL", "ABNA0417164300") == "91"


def test_stored_name_keys_are_those_of_the_names_module(seeded):
    for m in Member.objects.all():
        assert (m.sort_name, m.search_name, m.city_search) == (
            names.sort_key(m),
            names.search_key(m),
            names.city_search_key(m.city),
        ), m.member_number


def test_membership_summary_is_what_refresh_membership_summary_computes(seeded):
    before = list(Member.objects.order_by("pk").values_list("pk", "current_plan_id", "membership_status"))
    services.refresh_membership_summary()
    after = list(Member.objects.order_by("pk").values_list("pk", "current_plan_id", "membership_status"))
    assert before == after
    assert {status for _pk, _plan, status in after} >= {"active", "cancelled", "ended"}
    covered = Member.objects.filter(memberships__isnull=True, household__isnull=False).exclude(
        membership_status=""
    )
    assert covered.filter(current_plan__covers_household=True).exists()


def test_member_since_is_the_first_start_of_the_current_memberships(seeded):
    for member in Member.objects.exclude(member_since=None).prefetch_related("memberships"):
        starts = [m.start_date for m in member.memberships.all() if m.parent_membership_id is None]
        assert member.member_since == min(starts), member.member_number


def test_memberships_follow_the_plan_rules(seeded):
    for membership in Membership.objects.select_related("plan", "member", "parent_membership__plan"):
        plan, member = membership.plan, membership.member
        assert plan.prices.filter(frequency=membership.billing_frequency).exists()
        if plan.member_types.exists():
            assert plan.member_types.filter(pk=member.member_type_id).exists()
        if plan.is_addon:
            assert membership.parent_membership.member_id == member.pk
            assert membership.parent_membership.plan.addons.filter(pk=plan.pk).exists()
        else:
            assert plan.for_organisations == (member.kind == Member.Kind.ORGANISATION)
        if membership.status in (Membership.Status.CANCELLED, Membership.Status.ENDED):
            assert membership.end_date is not None
        if membership.status == Membership.Status.CANCELLED:
            assert membership.cancellation_reason_id and membership.end_date >= TODAY
        assert membership.changes.filter(kind=MembershipChange.Kind.STARTED).count() == 1


def test_payers_of_each_membership_add_up_to_100_percent(seeded):
    totals = MembershipPayer.objects.values("membership").annotate(total=Sum("share_percent"), n=Count("id"))
    assert totals
    assert {row["total"] for row in totals} == {Decimal("100.00")}
    assert MembershipPayer.objects.filter(kind="fund", external_name=demo.FUND_NAME).exists()
    for child in Member.objects.filter(household_role=Member.HouseholdRole.CHILD).select_related("guardian"):
        assert child.guardian.household_id == child.household_id
        assert child.guardian.household_role == Member.HouseholdRole.HEAD


def test_organisations_have_a_kvk_number_and_one_main_contact(seeded):
    for organisation in Member.objects.filter(kind=Member.Kind.ORGANISATION).prefetch_related(
        "contact_persons"
    ):
        contacts = list(organisation.contact_persons.all())
        assert 1 <= len(contacts) <= 3
        assert sum(c.is_primary for c in contacts) == 1
        assert bool(organisation.kvk_number) == (organisation.country == "NL")


def test_anniversaries_of_25_40_and_50_years_are_there_this_year(seeded):
    years = {a.years for a in anniversaries_in(TODAY.year)}
    assert {25, 40, 50} <= years
    assert Member.objects.filter(member_type__is_honorary=True, current_plan__code="erelid").exists()


def schema_of(tables: list[str]) -> list:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) ORDER BY indexname",
                [tables],
            )
            indexes = cursor.fetchall()
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(k.oid) FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid "
                "WHERE t.relname = ANY(%s) ORDER BY conname",
                [tables],
            )
            return indexes + cursor.fetchall()
        placeholders = ", ".join("%s" for _ in tables)
        cursor.execute(
            f"SELECT name, sql FROM sqlite_master WHERE tbl_name IN ({placeholders}) ORDER BY name", tables
        )
        return cursor.fetchall()


def test_large_load_builds_indexes_and_foreign_keys_again_exactly_as_they_were(monkeypatch):
    tables = [model._meta.db_table for model in demo.WRITTEN_MODELS]
    before = schema_of(tables)
    assert len(before) > 20
    monkeypatch.setattr(demo, "LARGE_LOAD", 50)
    demo.seed_demo(200, seed=3, today=TODAY)
    assert schema_of(tables) == before
    assert Member.objects.count() == 200
    services.refresh_membership_summary()
    assert Member.objects.filter(search_name__contains="van").exists()


def test_a_failing_large_load_leaves_data_and_schema_as_they_were(monkeypatch):
    tables = [model._meta.db_table for model in demo.WRITTEN_MODELS]
    before = schema_of(tables)
    monkeypatch.setattr(demo, "LARGE_LOAD", 50)

    def broken(self, *args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(demo.MemberGenerator, "_youth_payers", broken)
    with pytest.raises(RuntimeError):
        demo.seed_demo(400, seed=3, today=TODAY)
    assert schema_of(tables) == before
    assert not Member.objects.exists()


def test_same_seed_gives_the_same_members():
    def snapshot():
        return list(
            Member.objects.order_by("member_number").values_list(
                "member_number",
                "sort_name",
                "email",
                "phone",
                "postcode",
                "membership_status",
                "member_since",
            )
        )

    with transaction.atomic():
        demo.seed_demo(60, seed=5, today=TODAY)
        first = snapshot()
        transaction.set_rollback(True)
    demo.seed_demo(60, seed=5, today=TODAY)
    assert snapshot() == first


def test_seed_demo_if_empty_a_second_time_changes_nothing():
    out = StringIO()
    call_command("seed_demo", "--members", "120", "--if-empty", stdout=out)
    counts = table_counts()
    call_command("seed_demo", "--members", "120", "--if-empty", stdout=out)
    assert table_counts() == counts
    assert counts["Member"] == 120


def test_seed_demo_on_a_filled_administration_is_refused_and_changes_nothing():
    call_command("seed_demo", "--members", "50", stdout=StringIO())
    counts = table_counts()
    with pytest.raises(CommandError):
        call_command("seed_demo", "--members", "50", stdout=StringIO())
    assert table_counts() == counts


def test_seed_demo_with_fewer_members_than_the_demo_household_is_refused():
    with pytest.raises(CommandError):
        call_command("seed_demo", "--members", "2", stdout=StringIO())
    assert not Member.objects.exists()


def test_demo_logins_command_lists_every_login_with_the_address():
    call_command("seed_demo", "--members", "10", stdout=StringIO())
    out = StringIO()
    call_command("demo_logins", "--url", "http://127.0.0.1:8123/", stdout=out)
    text = out.getvalue()
    assert "http://127.0.0.1:8123/" in text
    for login in demo.DEMO_LOGINS:
        assert login.email in text
    assert demo.DEMO_PASSWORD in text


def test_demo_logins_command_without_demo_says_how_to_load_it():
    out = StringIO()
    call_command("demo_logins", stdout=out)
    assert "seed_demo" in out.getvalue()
