from datetime import date

import pytest
from django.urls import reverse

from kring.core.models import Association, AuditEntry
from kring.members import validation
from kring.members.models import BankAccount, Member, Membership
from kring.members.tests.factories import PlanFactory, member_type

URL = reverse("backoffice:member_create")


def person_data(**overrides):
    data = {
        "kind": "person",
        "member_type": member_type("lid").pk,
        "first_name": "Dirk",
        "initials": "D.",
        "name_prefix": "van der",
        "last_name": "Linden",
        "date_of_birth": "1960-05-04",
        "email": "Dirk@Example.NL",
        "phone": "06-12345678",
        "correspondence": "email",
        "street": "Kerkstraat",
        "house_number": "12a",
        "postcode": "3511ab",
        "city": "Utrecht",
        "country": "NL",
        "may_be_named_for_anniversary": "on",
        "notes": "",
        "plan": "",
        "billing_frequency": "yearly",
        "start_date": "",
        "iban": "",
        "holder_name": "",
    }
    data.update(overrides)
    return data


def post(client, user, data, kind="person"):
    client.force_login(user)
    return client.post(f"{URL}?kind={kind}", data, HTTP_ACCEPT_LANGUAGE="en")


def test_secretariat_creates_person_with_normalised_data_and_automatic_number(client, cast):
    response = post(client, cast.secretariat, person_data())
    member = Member.objects.get(last_name="Linden")
    assert response.status_code == 302
    assert response.url == reverse("backoffice:member_detail", args=[member.pk])
    assert (member.house_number, member.house_number_addition) == (12, "a")
    assert (member.postcode, member.phone) == ("3511 AB", "+31612345678")
    assert member.email == validation.check_email("Dirk@Example.NL")
    assert member.member_number == "000001"
    assert member.date_of_birth == date(1960, 5, 4)
    assert AuditEntry.objects.filter(action="kring.member.created", member_id=member.pk).exists()


def test_create_shows_success_message_on_member_page(client, cast):
    post(client, cast.secretariat, person_data())
    member = Member.objects.get(last_name="Linden")
    page = client.get(reverse("backoffice:member_detail", args=[member.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert member.member_number in page.content.decode()
    assert "message--success" in page.content.decode()


def test_typed_member_number_is_used(client, cast):
    post(client, cast.secretariat, person_data(member_number="L-777"))
    assert Member.objects.get(last_name="Linden").member_number == "L-777"


def test_duplicate_member_number_creates_nothing(client, cast):
    response = post(client, cast.secretariat, person_data(member_number=cast.member.member_number))
    assert response.status_code == 200
    assert "member_number" in response.context["form"].errors
    assert not Member.objects.filter(last_name="Linden").exists()


def test_member_with_first_membership_and_bank_account_in_one_go(client, cast):
    response = post(
        client,
        cast.secretariat,
        person_data(
            plan=cast.plan.pk,
            billing_frequency="quarterly",
            start_date="2025-02-01",
            iban="NL91 ABNA 0417 1643 00",
            holder_name="",
        ),
    )
    assert response.status_code == 302
    member = Member.objects.get(last_name="Linden")
    membership = member.memberships.get()
    assert (membership.plan, membership.billing_frequency, membership.start_date) == (
        cast.plan,
        "quarterly",
        date(2025, 2, 1),
    )
    account = BankAccount.objects.get(member=member)
    assert account.iban == "NL91ABNA0417164300"
    assert account.holder_name == "Dirk van der Linden"


def test_invalid_iban_creates_no_member_and_no_membership(client, cast):
    members_before = Member.objects.count()
    memberships_before = Membership.objects.count()
    response = post(
        client,
        cast.secretariat,
        person_data(plan=cast.plan.pk, start_date="2025-02-01", iban="NL91 ABNA 0417 1643 01"),
    )
    assert response.status_code == 200
    assert "iban" in response.context["form"].errors
    assert Member.objects.count() == members_before
    assert Membership.objects.count() == memberships_before
    assert not AuditEntry.objects.filter(action="kring.member.created").exists()


def test_failed_create_does_not_use_up_a_member_number(client, cast):
    post(client, cast.secretariat, person_data(iban="NL00 0000 0000 0000 00"))
    post(client, cast.secretariat, person_data())
    assert Member.objects.get(last_name="Linden").member_number == "000001"


def test_bad_postcode_creates_nothing_and_is_shown_at_the_field(client, cast):
    response = post(client, cast.secretariat, person_data(postcode="12345"))
    assert response.status_code == 200
    assert "postcode" in response.context["form"].errors
    content = response.content.decode()
    assert 'id="id_postcode_error"' in content
    assert 'aria-describedby="id_postcode_helptext id_postcode_error"' in content
    assert 'aria-invalid="true"' in content
    assert not Member.objects.filter(last_name="Linden").exists()


def test_all_problems_are_shown_at_once(client, cast):
    response = post(
        client,
        cast.secretariat,
        person_data(house_number="twelve", postcode="12345", phone="12", iban="NL00"),
    )
    errors = response.context["form"].errors
    assert {"house_number", "postcode", "phone", "iban"} <= set(errors)
    assert not Member.objects.filter(last_name="Linden").exists()


@pytest.mark.parametrize(
    "field, value",
    [
        ("email", "dirk@"),
        ("phone", "0612"),
        ("house_number", "0"),
        ("last_name", ""),
        ("date_of_birth", "31-31-1960"),
    ],
)
def test_each_bad_value_creates_nothing(client, cast, field, value):
    response = post(client, cast.secretariat, person_data(**{field: value}))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Member.objects.filter(first_name="Dirk").exists()


def test_plan_not_allowed_for_frequency_creates_nothing(client, cast):
    response = post(client, cast.secretariat, person_data(plan=cast.plan.pk, billing_frequency="half_yearly"))
    assert "billing_frequency" in response.context["form"].errors
    assert not Member.objects.filter(last_name="Linden").exists()


def test_belgian_postcode_is_checked_against_the_country(client, cast):
    post(client, cast.secretariat, person_data(country="BE", postcode="B-1000", phone="+32 470 12 34 56"))
    member = Member.objects.get(last_name="Linden")
    assert (member.postcode, member.phone) == ("1000", "+32470123456")


def test_organisation_needs_its_name_and_a_valid_kvk_number(client, cast):
    data = {
        **person_data(kind="organisation"),
        "organisation_name": "Bakkerij De Korenschoof",
        "kvk_number": "1234",
    }
    response = post(client, cast.secretariat, data, kind="organisation")
    assert "kvk_number" in response.context["form"].errors
    assert not Member.objects.filter(kind="organisation").exists()
    data["kvk_number"] = "12345678"
    response = post(client, cast.secretariat, data, kind="organisation")
    organisation = Member.objects.get(kind="organisation")
    assert response.status_code == 302
    assert (organisation.organisation_name, organisation.kvk_number) == (
        "Bakkerij De Korenschoof",
        "12345678",
    )
    assert organisation.last_name == ""


def test_organisation_form_hides_person_fields(client, cast):
    client.force_login(cast.secretariat)
    response = client.get(f"{URL}?kind=organisation")
    form = response.context["form"]
    assert "organisation_name" in form.fields and "kvk_number" in form.fields
    assert "last_name" not in form.fields and "date_of_birth" not in form.fields


def test_person_form_hides_organisation_fields(client, cast):
    client.force_login(cast.secretariat)
    form = client.get(URL).context["form"]
    assert "last_name" in form.fields and "organisation_name" not in form.fields


@pytest.mark.parametrize("role", ["board", "audit_committee", "treasurer"])
def test_read_only_roles_cannot_create_members(client, cast, role):
    response = post(client, getattr(cast, role), person_data())
    assert response.status_code == 403
    assert not Member.objects.filter(last_name="Linden").exists()


def test_anonymous_is_sent_to_login(client, db):
    response = client.post(URL, person_data())
    assert response.status_code == 302
    assert "/accounts/login/" in response.url


def test_create_form_page_query_count(client, cast, django_assert_max_num_queries):
    for n in range(8):
        PlanFactory(code=f"extra-{n}")
    Association.current()
    client.force_login(cast.secretariat)
    # session, user, permissions (2), association, member types, plans, and the default member type
    with django_assert_max_num_queries(9):
        response = client.get(URL)
    assert response.status_code == 200


@pytest.mark.browser
def test_in_the_browser_errors_are_announced_and_the_page_is_accessible(chromium, client, cast):
    from kring.backoffice.tests.browser import open_browser_page
    from kring.conftest import assert_accessible

    client.force_login(cast.secretariat)
    page = open_browser_page(chromium, client)
    try:
        page.goto(URL)
        assert_accessible(page, context="new member form")
        page.fill("#id_last_name", "Linden")
        page.fill("#id_postcode", "12345")
        page.fill("#id_iban", "NL91 ABNA 0417 1643 01")
        page.click("form.form button[type=submit]")
        page.locator("#error-summary").wait_for()
        # The summary of problems gets the focus, so a screen reader reads it out first.
        # (autofocus is applied by the browser shortly after load, so wait for it; it times out if never.)
        page.wait_for_function("document.activeElement && document.activeElement.id === 'error-summary'")
        assert page.evaluate("document.activeElement.id") == "error-summary"
        assert page.get_attribute("#id_postcode", "aria-invalid") == "true"
        assert "id_postcode_error" in page.get_attribute("#id_postcode", "aria-describedby")
        assert_accessible(page, context="new member form with errors")
        assert not Member.objects.filter(last_name="Linden").exists()
        page.fill("#id_postcode", "3511 AB")
        page.fill("#id_iban", "NL91 ABNA 0417 1643 00")
        page.click("form.form button[type=submit]")
        page.wait_for_url("**/backoffice/members/*/")
        assert Member.objects.get(last_name="Linden").bank_accounts.get().iban == "NL91ABNA0417164300"
    finally:
        page.context.close()
