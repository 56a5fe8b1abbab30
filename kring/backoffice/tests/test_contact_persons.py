import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from kring.core.models import Association, AuditEntry
from kring.members import services
from kring.members.models import ContactPerson
from kring.members.tests.factories import MemberFactory


@pytest.fixture
def organisation(db):
    return MemberFactory(
        kind="organisation",
        organisation_name="Bouwbedrijf Jansen BV",
        first_name="",
        name_prefix="",
        last_name="",
        country="NL",
    )


def contact_data(**overrides):
    data = {
        "first_name": "Karin",
        "name_prefix": "de",
        "last_name": "Wit",
        "role": "HR",
        "email": "karin@jansen.example",
        "phone": "030 123 4567",
        "is_primary": "",
    }
    data.update(overrides)
    if not data["is_primary"]:
        del data["is_primary"]  # an unticked checkbox is not sent
    return data


def add(organisation, **fields):
    data = {"first_name": "Piet", "last_name": "Smit", "email": "", "phone": ""} | fields
    return services.add_contact_person(organisation, actor=None, **data)


# --- services -----------------------------------------------------------------------------


def test_first_contact_person_becomes_main_contact_and_is_audited_on_the_organisation(organisation):
    contact = add(organisation, phone="06-12345678", email="Piet@Jansen.example")
    assert contact.is_primary
    assert contact.phone == "+31612345678"
    entry = AuditEntry.objects.get(action="kring.contact_person.added")
    assert entry.member_id == organisation.pk


def test_new_main_contact_replaces_the_old_one(organisation):
    first = add(organisation)
    second = add(organisation, last_name="Bakker", is_primary=True)
    first.refresh_from_db()
    assert (first.is_primary, second.is_primary) == (False, True)
    assert AuditEntry.objects.filter(action="kring.contact_person.changed", object_id=str(first.pk)).exists()


def test_person_members_have_no_contact_persons(cast):
    with pytest.raises(ValidationError):
        add(cast.member)


@pytest.mark.parametrize("field, value", [("email", "piet@"), ("phone", "12345"), ("last_name", " ")])
def test_bad_contact_data_is_refused(organisation, field, value):
    with pytest.raises(ValidationError) as error:
        add(organisation, **{field: value})
    assert field in error.value.message_dict
    assert not ContactPerson.objects.exists()


def test_main_contact_cannot_simply_be_unticked(organisation):
    contact = add(organisation)
    with pytest.raises(ValidationError) as error:
        services.update_contact_person(contact, actor=None, is_primary=False)
    assert "is_primary" in error.value.message_dict


def test_removing_main_contact_makes_the_next_one_main(organisation):
    main = add(organisation, last_name="Aalbers")
    other = add(organisation, last_name="Bakker")
    successor = services.remove_contact_person(main, actor=None)
    assert successor == other
    other.refresh_from_db()
    assert other.is_primary
    removed = AuditEntry.objects.get(action="kring.contact_person.removed")
    assert removed.member_id == organisation.pk


# --- views --------------------------------------------------------------------------------


def test_secretariat_adds_contact_person(client, cast, organisation):
    client.force_login(cast.secretariat)
    response = client.post(
        reverse("backoffice:contact_person_create", args=[organisation.pk]), contact_data()
    )
    assert response.status_code == 302
    assert response.url == reverse("backoffice:member_detail", args=[organisation.pk])
    contact = organisation.contact_persons.get()
    assert (str(contact), contact.phone, contact.is_primary) == ("Karin de Wit", "+31301234567", True)


def test_bad_email_adds_nothing(client, cast, organisation):
    client.force_login(cast.secretariat)
    response = client.post(
        reverse("backoffice:contact_person_create", args=[organisation.pk]),
        contact_data(email="karin.jansen.example"),
    )
    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    assert not ContactPerson.objects.exists()


def test_secretariat_edits_contact_person_and_makes_them_main(client, cast, organisation):
    add(organisation, last_name="Aalbers")
    other = add(organisation, last_name="Bakker")
    client.force_login(cast.secretariat)
    url = reverse("backoffice:contact_person_edit", args=[organisation.pk, other.pk])
    assert client.get(url).context["form"]["last_name"].value() == "Bakker"
    response = client.post(url, contact_data(last_name="Bakker-Smit", is_primary="on"))
    assert response.status_code == 302
    other.refresh_from_db()
    assert (other.last_name, other.is_primary) == ("Bakker-Smit", True)
    assert organisation.contact_persons.filter(is_primary=True).count() == 1


def test_unticking_main_contact_in_the_form_changes_nothing(client, cast, organisation):
    main = add(organisation)
    client.force_login(cast.secretariat)
    response = client.post(
        reverse("backoffice:contact_person_edit", args=[organisation.pk, main.pk]),
        contact_data(last_name="Anders"),
    )
    assert "is_primary" in response.context["form"].errors
    main.refresh_from_db()
    assert (main.last_name, main.is_primary) == ("Smit", True)


def test_secretariat_removes_contact_person(client, cast, organisation):
    contact = add(organisation)
    client.force_login(cast.secretariat)
    url = reverse("backoffice:contact_person_remove", args=[organisation.pk, contact.pk])
    assert client.get(url).status_code == 200
    assert ContactPerson.objects.exists()
    response = client.post(url)
    assert response.status_code == 302
    assert not ContactPerson.objects.exists()


def test_contact_person_of_another_organisation_is_404(client, cast, organisation):
    other_organisation = MemberFactory(kind="organisation", organisation_name="Ander BV", last_name="")
    contact = add(other_organisation)
    client.force_login(cast.secretariat)
    response = client.post(reverse("backoffice:contact_person_remove", args=[organisation.pk, contact.pk]))
    assert response.status_code == 404
    assert ContactPerson.objects.filter(pk=contact.pk).exists()


def test_contact_person_list_shows_the_contacts(client, cast, organisation, django_assert_max_num_queries):
    for n in range(5):
        add(organisation, last_name=f"Persoon{n}")
    Association.current()
    client.force_login(cast.board)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("backoffice:contact_person_list", args=[organisation.pk]))
    content = response.content.decode()
    assert response.status_code == 200
    assert content.count("Persoon") == 5
    # The board may look but not change: no buttons to change or remove.
    assert "/edit/" not in content and "/remove/" not in content


@pytest.mark.parametrize("role", ["board", "audit_committee", "treasurer"])
def test_roles_without_permission_get_403(client, cast, organisation, role):
    contact = add(organisation)
    client.force_login(getattr(cast, role))
    assert (
        client.post(
            reverse("backoffice:contact_person_create", args=[organisation.pk]), contact_data()
        ).status_code
        == 403
    )
    assert (
        client.post(
            reverse("backoffice:contact_person_edit", args=[organisation.pk, contact.pk]),
            contact_data(last_name="Anders"),
        ).status_code
        == 403
    )
    assert (
        client.post(
            reverse("backoffice:contact_person_remove", args=[organisation.pk, contact.pk])
        ).status_code
        == 403
    )
    contact.refresh_from_db()
    assert contact.last_name == "Smit"
    assert ContactPerson.objects.count() == 1
