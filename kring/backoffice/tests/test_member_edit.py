import pytest
from django.urls import reverse

from kring.core.models import Association, AuditEntry
from kring.members.models import Member
from kring.members.tests.factories import MemberFactory, member_type


def edit_url(member):
    return reverse("backoffice:member_edit", args=[member.pk])


def form_data(member, **overrides):
    """What the edit form sends back unchanged."""
    data = {
        "kind": member.kind,
        "member_type": member.member_type_id,
        "first_name": member.first_name,
        "initials": member.initials,
        "name_prefix": member.name_prefix,
        "last_name": member.last_name,
        "date_of_birth": member.date_of_birth.isoformat() if member.date_of_birth else "",
        "organisation_name": member.organisation_name,
        "kvk_number": member.kvk_number,
        "email": member.email,
        "phone": member.phone,
        "correspondence": member.correspondence,
        "street": member.street,
        "house_number": str(member.house_number or ""),
        "postcode": member.postcode,
        "city": member.city,
        "country": member.country,
        "notes": member.notes,
    }
    if member.may_be_named_for_anniversary:
        data["may_be_named_for_anniversary"] = "on"
    data.update(overrides)
    return data


def test_edit_form_shows_current_data_with_house_number_and_addition(client, cast):
    member = cast.member
    Member.objects.filter(pk=member.pk).update(
        house_number=12, house_number_addition="a", phone="+31612345678"
    )
    client.force_login(cast.secretariat)
    form = client.get(edit_url(member)).context["form"]
    assert form["house_number"].value() == "12a"
    assert form["last_name"].value() == "Berg"
    assert form["phone"].value() == "06 12345678"
    assert "member_number" not in form.fields and "iban" not in form.fields and "plan" not in form.fields


def test_secretariat_changes_address_and_each_field_is_audited(client, cast):
    member = cast.member
    client.force_login(cast.secretariat)
    response = client.post(
        edit_url(member),
        form_data(member, street="Stationsweg", house_number="7-2", postcode="3811aa", city="Amersfoort"),
    )
    assert response.status_code == 302
    assert response.url == reverse("backoffice:member_detail", args=[member.pk])
    member.refresh_from_db()
    assert (member.street, member.house_number, member.house_number_addition) == ("Stationsweg", 7, "2")
    assert (member.postcode, member.city) == ("3811 AA", "Amersfoort")
    entry = AuditEntry.objects.filter(action="kring.member.changed", member_id=member.pk).latest("pk")
    assert {c["field"] for c in entry.changes} == {
        "street",
        "house_number",
        "house_number_addition",
        "postcode",
        "city",
    }
    assert entry.actor == cast.secretariat


def test_saving_unchanged_form_records_nothing(client, cast):
    member = cast.member
    before = AuditEntry.objects.count()
    client.force_login(cast.secretariat)
    response = client.post(edit_url(member), form_data(member))
    assert response.status_code == 302
    assert AuditEntry.objects.count() == before


@pytest.mark.parametrize(
    "field, value",
    [
        ("postcode", "1234"),
        ("email", "anna.example.test"),
        ("phone", "123"),
        ("house_number", "a12"),
        ("last_name", ""),
    ],
)
def test_bad_value_changes_nothing(client, cast, field, value):
    member = cast.member
    before = AuditEntry.objects.count()
    client.force_login(cast.secretariat)
    response = client.post(edit_url(member), form_data(member, city="Zwolle", **{field: value}))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    member.refresh_from_db()
    assert member.city == "Utrecht"
    assert AuditEntry.objects.count() == before


def test_postcode_is_checked_for_the_chosen_country(client, cast):
    member = cast.member
    client.force_login(cast.secretariat)
    response = client.post(edit_url(member), form_data(member, country="BE", postcode="1234 AB"))
    assert "postcode" in response.context["form"].errors
    response = client.post(edit_url(member), form_data(member, country="BE", postcode="9000", city="Gent"))
    member.refresh_from_db()
    assert (member.country, member.postcode) == ("BE", "9000")


def test_member_type_and_anniversary_choice_can_be_changed(client, cast):
    member = cast.member
    client.force_login(cast.secretariat)
    data = form_data(member, member_type=member_type("erelid").pk)
    del data["may_be_named_for_anniversary"]
    client.post(edit_url(member), data)
    member.refresh_from_db()
    assert member.member_type.code == "erelid"
    assert member.may_be_named_for_anniversary is False


def test_organisation_edit_validates_kvk_number(client, cast):
    organisation = MemberFactory(
        kind="organisation",
        organisation_name="Bouwbedrijf Jansen",
        last_name="",
        first_name="",
        name_prefix="",
    )
    client.force_login(cast.secretariat)
    response = client.post(edit_url(organisation), form_data(organisation, kvk_number="12AB5678"))
    assert "kvk_number" in response.context["form"].errors
    response = client.post(edit_url(organisation), form_data(organisation, kvk_number="87654321"))
    organisation.refresh_from_db()
    assert organisation.kvk_number == "87654321"


@pytest.mark.parametrize("role", ["board", "audit_committee", "treasurer"])
def test_roles_without_change_permission_get_403(client, cast, role):
    member = cast.member
    client.force_login(getattr(cast, role))
    response = client.post(edit_url(member), form_data(member, city="Zwolle"))
    assert response.status_code == 403
    member.refresh_from_db()
    assert member.city == "Utrecht"


def test_unknown_member_is_404(client, cast):
    client.force_login(cast.secretariat)
    assert client.get(reverse("backoffice:member_edit", args=[999999])).status_code == 404


def test_edit_page_query_count(client, cast, django_assert_max_num_queries):
    Association.current()
    client.force_login(cast.secretariat)
    with django_assert_max_num_queries(8):
        assert client.get(edit_url(cast.member)).status_code == 200


def test_member_page_buttons_follow_the_role(client, cast):
    member = cast.member
    edit = edit_url(member)
    bank = reverse("backoffice:bank_account_edit", args=[member.pk])
    start = reverse("backoffice:membership_create", args=[member.pk])

    def page(user):
        client.force_login(user)
        return client.get(reverse("backoffice:member_detail", args=[member.pk])).content.decode()

    secretariat, treasurer, board = page(cast.secretariat), page(cast.treasurer), page(cast.board)
    assert edit in secretariat and bank in secretariat and start in secretariat
    assert bank in treasurer and edit not in treasurer and start not in treasurer
    assert edit not in board and bank not in board and start not in board
