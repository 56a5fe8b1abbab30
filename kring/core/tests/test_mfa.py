"""Staff log in with a second factor: TOTP from an authenticator app, with recovery codes."""

import pytest
from allauth.mfa.models import Authenticator
from django.core.cache import cache
from django.urls import reverse

from kring.core.tests.totp import totp_code, wrong_code

PASSWORD = "kring-test-password"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Rate limits and "this TOTP code was already used" live in the cache.
    cache.clear()
    yield
    cache.clear()


def log_in(client, email):
    return client.post(reverse("account_login"), {"login": email, "password": PASSWORD})


def test_staff_without_second_factor_is_sent_to_the_authenticator_setup(client, new_secretary):
    response = log_in(client, new_secretary.email)
    assert response["Location"] == reverse("backoffice:dashboard")

    response = client.get(reverse("backoffice:dashboard"))

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")


def test_staff_without_second_factor_cannot_reach_the_django_admin_either(client, new_secretary):
    client.force_login(new_secretary)

    response = client.get("/django-admin/")

    assert response["Location"] == reverse("mfa_activate_totp")


def open_totp_setup(client):
    """allauth asks for the password again before a second factor is added (MFA_REAUTHENTICATION_REQUIRED)."""
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    response = client.post(response["Location"], {"password": PASSWORD})
    assert response["Location"] == reverse("mfa_activate_totp")
    return client.get(reverse("mfa_activate_totp"), **EN)


def test_staff_sets_up_the_authenticator_app_gets_recovery_codes_and_reaches_the_back_office(
    client, new_secretary
):
    log_in(client, new_secretary.email)

    page = open_totp_setup(client)
    assert page.status_code == 200
    secret = client.session["mfa.totp.secret"]
    assert secret in page.content.decode()  # the key to type in when the QR code cannot be scanned

    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_view_recovery_codes")
    recovery = Authenticator.objects.get(user=new_secretary, type=Authenticator.Type.RECOVERY_CODES).wrap()
    page = client.get(reverse("mfa_view_recovery_codes"), **EN).content.decode()
    for code in recovery.get_unused_codes():
        assert code in page
    assert "go to the back office" in page
    assert client.get(reverse("backoffice:dashboard")).status_code == 200


def test_a_wrong_code_does_not_activate_the_authenticator(client, new_secretary):
    log_in(client, new_secretary.email)
    open_totp_setup(client)
    secret = client.session["mfa.totp.secret"]

    response = client.post(reverse("mfa_activate_totp"), {"code": wrong_code(secret)}, **EN)

    assert response.status_code == 200
    assert "Incorrect code." in response.content.decode()
    assert not Authenticator.objects.filter(user=new_secretary).exists()
    assert client.get(reverse("backoffice:dashboard"))["Location"] == reverse("mfa_activate_totp")


def test_the_totp_secret_is_encrypted_at_rest(protected_secretary):
    stored = Authenticator.objects.get(user=protected_secretary, type=Authenticator.Type.TOTP).data["secret"]

    assert stored != protected_secretary.totp_secret
    assert protected_secretary.totp_secret not in stored


def test_staff_with_totp_must_give_the_code_after_the_password(client, protected_secretary):
    response = log_in(client, protected_secretary.email)

    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("backoffice:dashboard"))["Location"].startswith(reverse("account_login"))

    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(protected_secretary.totp_secret)})

    assert response["Location"] == reverse("backoffice:dashboard")
    assert int(client.session["_auth_user_id"]) == protected_secretary.pk
    assert client.get(reverse("backoffice:dashboard")).status_code == 200


def test_a_wrong_totp_code_is_refused(client, protected_secretary):
    log_in(client, protected_secretary.email)

    response = client.post(
        reverse("mfa_authenticate"), {"code": wrong_code(protected_secretary.totp_secret)}, **EN
    )

    assert response.status_code == 200
    assert "Incorrect code." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_recovery_code_works_once(client, protected_secretary):
    code = protected_secretary.recovery_codes[0]
    log_in(client, protected_secretary.email)

    response = client.post(reverse("mfa_authenticate"), {"code": code})

    assert response["Location"] == reverse("backoffice:dashboard")
    assert int(client.session["_auth_user_id"]) == protected_secretary.pk

    client.post(reverse("account_logout"))
    log_in(client, protected_secretary.email)
    response = client.post(reverse("mfa_authenticate"), {"code": code}, **EN)

    assert response.status_code == 200
    assert "Incorrect code." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_exempt_demo_staff_go_straight_to_the_back_office(client, cast):
    assert cast.secretariat.mfa_exempt

    response = log_in(client, cast.secretariat.email)

    assert response["Location"] == reverse("backoffice:dashboard")
    assert client.get(reverse("backoffice:dashboard")).status_code == 200


def test_members_are_not_asked_for_a_second_factor(client, cast):
    client.force_login(cast.member.user)

    assert client.get(reverse("account_email")).status_code == 200
    assert client.get(reverse("home"))["Location"] == reverse("account_email")


def test_the_requirement_can_be_switched_off(client, new_secretary, settings):
    settings.KRING_STAFF_REQUIRE_MFA = False
    client.force_login(new_secretary)

    assert client.get(reverse("backoffice:dashboard")).status_code == 200


def test_two_step_login_page_shows_the_app_is_on(client, protected_secretary):
    client.force_login(protected_secretary)

    page = client.get(reverse("mfa_index"), **EN).content.decode()

    assert "Authentication using an authenticator app is active." in page
    assert "You have 10 unused recovery codes left." in page


def test_the_django_admin_login_form_cannot_skip_the_second_factor(client, protected_secretary):
    response = client.post(
        "/django-admin/login/",
        {"username": protected_secretary.email, "password": PASSWORD, "next": "/django-admin/"},
    )

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "_auth_user_id" not in client.session
