"""Logging in: email + password, a one-time code by email, closed sign-up, where people land."""

import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

from kring.core.models import Association, User

PASSWORD = "kring-test-password"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # allauth counts attempts in the cache; every test starts with a clean count.
    cache.clear()
    yield
    cache.clear()


def log_in(client, email, password=PASSWORD, **extra):
    return client.post(reverse("account_login"), {"login": email, "password": password}, **extra)


def test_login_page_is_dutch_by_default(client, db):
    response = client.get(reverse("account_login"))

    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="nl">' in page
    assert "<h1>Inloggen</h1>" in page
    assert "Wachtwoord vergeten?" in page


def test_login_page_is_english_when_the_browser_asks(client, db):
    response = client.get(reverse("account_login"), **EN)

    page = response.content.decode()
    assert '<html lang="en">' in page
    assert "Sign In" in page
    assert "Forgot your password?" in page


def test_login_page_offers_a_code_by_email_and_password_reset_but_no_sign_up(client, db):
    page = client.get(reverse("account_login"), **EN).content.decode()

    assert "Send me a login code by email instead" in page
    assert f'href="{reverse("account_request_login_code")}"' in page
    assert f'href="{reverse("account_reset_password")}"' in page
    assert reverse("account_signup") not in page


def test_member_logs_in_with_email_and_password_and_lands_on_login_settings(client, cast):
    response = log_in(client, "anna@example.test")

    assert response.status_code == 302
    assert response["Location"] == reverse("account_email")
    assert client.get(reverse("account_email"), **EN).status_code == 200
    assert int(client.session["_auth_user_id"]) == cast.member.user.pk


def test_staff_member_lands_in_the_back_office(client, cast):
    response = log_in(client, "secretariaat@example.test")

    assert response["Location"] == reverse("backoffice:dashboard")


def test_wrong_password_is_refused_with_a_clear_message(client, cast):
    response = log_in(client, "anna@example.test", "not-my-password", **EN)

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "The email address and/or password you specified are not correct." in response.content.decode()


def test_member_logs_in_with_a_code_sent_by_email(client, cast):
    response = client.post(reverse("account_request_login_code"), {"email": "anna@example.test"})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_confirm_login_code")
    assert "_auth_user_id" not in client.session

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["anna@example.test"]
    code = re.search(r"^\s*(\d{6})\s*$", message.body, re.MULTILINE).group(1)

    response = client.post(reverse("account_confirm_login_code"), {"code": code})

    assert response.status_code == 302
    assert response["Location"] == reverse("account_email")
    assert int(client.session["_auth_user_id"]) == cast.member.user.pk


def test_a_wrong_login_code_does_not_log_in(client, cast):
    client.post(reverse("account_request_login_code"), {"email": "anna@example.test"})
    code = re.search(r"^\s*(\d{6})\s*$", mail.outbox[0].body, re.MULTILINE).group(1)
    wrong = "000000" if code != "000000" else "111111"

    response = client.post(reverse("account_confirm_login_code"), {"code": wrong}, **EN)

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "Incorrect code." in response.content.decode()


def test_login_code_page_shows_where_the_code_went(client, cast):
    client.post(reverse("account_request_login_code"), {"email": "anna@example.test"})

    page = client.get(reverse("account_confirm_login_code"), **EN).content.decode()

    assert "anna@example.test" in page


def test_code_for_an_unknown_address_logs_nobody_in_and_invites_no_sign_up(client, cast):
    client.post(reverse("account_request_login_code"), {"email": "stranger@example.test"})

    # The same answer as for a known address (no hint whether it exists), but the mail holds no code.
    assert len(mail.outbox) == 1
    assert not re.search(r"^\s*\d{6}\s*$", mail.outbox[0].body, re.MULTILINE)
    assert "/accounts/signup/" not in mail.outbox[0].body


def test_sign_up_is_closed(client, db):
    response = client.post(
        reverse("account_signup"),
        {"email": "new@example.test", "password1": "a-long-new-password", "password2": "a-long-new-password"},
        **EN,
    )

    assert response.status_code == 200
    assert "Sign Up Closed" in response.content.decode()
    assert not User.objects.filter(email="new@example.test").exists()


def test_home_sends_anonymous_visitors_to_the_login_page(client, db):
    response = client.get(reverse("home"))

    assert response["Location"] == reverse("account_login")


def test_home_sends_members_to_their_login_settings_and_staff_to_the_back_office(client, cast):
    client.force_login(cast.member.user)
    assert client.get(reverse("home"))["Location"] == reverse("account_email")

    client.force_login(cast.treasurer)
    assert client.get(reverse("home"))["Location"] == reverse("backoffice:dashboard")


def test_login_honours_the_page_the_member_was_going_to(client, cast):
    response = client.post(
        reverse("account_login") + "?next=" + reverse("mfa_index"),
        {"login": "anna@example.test", "password": PASSWORD},
    )

    assert response["Location"] == reverse("mfa_index")


def test_login_refuses_to_send_people_to_another_site(client, cast):
    response = client.post(
        reverse("account_login") + "?next=https://evil.example/",
        {"login": "anna@example.test", "password": PASSWORD},
    )

    assert response["Location"] == reverse("account_email")


def test_password_reset_mails_a_link_signed_by_the_association(client, cast):
    response = client.post(reverse("account_reset_password"), {"email": "anna@example.test"})

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "/accounts/password/reset/key/" in mail.outbox[0].body
    assert mail.outbox[0].subject.startswith(f"[{Association.current().name}] ")
    assert mail.outbox[0].body.rstrip().endswith(Association.current().name)


def test_logout_needs_a_post(client, cast):
    client.force_login(cast.member.user)

    assert client.get(reverse("account_logout")).status_code == 200
    assert "_auth_user_id" in client.session

    client.post(reverse("account_logout"))
    assert "_auth_user_id" not in client.session


def test_forgotten_password_is_replaced_through_the_emailed_link(client, cast):
    client.post(reverse("account_reset_password"), {"email": "anna@example.test"})
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+)", mail.outbox[0].body).group(1)

    response = client.get(link)  # allauth moves the key out of the address before showing the form
    form_url = response["Location"]
    page = client.get(form_url, **EN)
    assert page.status_code == 200
    assert "Choose a new password" in page.content.decode()

    response = client.post(form_url, {"password1": "a-brand-new-secret", "password2": "a-brand-new-secret"})

    assert response["Location"] == reverse("account_reset_password_from_key_done")
    assert client.get(response["Location"]).status_code == 200
    cast.member.user.refresh_from_db()
    assert cast.member.user.check_password("a-brand-new-secret")


def test_a_used_reset_link_says_so_plainly(client, cast):
    page = client.get(reverse("account_reset_password_from_key", args=["xx", "bad-key"]), **EN)

    assert page.status_code == 200
    assert "This link no longer works" in page.content.decode()


def test_member_adds_an_email_address_that_must_be_confirmed_before_it_is_used(client, cast):
    client.force_login(cast.member.user)

    response = client.post(reverse("account_email"), {"action_add": "", "email": "anna.nieuw@example.test"})

    assert response.status_code == 302
    assert mail.outbox[-1].to == ["anna.nieuw@example.test"]
    page = client.get(reverse("account_email"), **EN).content.decode()
    assert "anna.nieuw@example.test" in page
    assert "Not confirmed yet" in page
    cast.member.user.refresh_from_db()
    assert cast.member.user.email == "anna@example.test"


def test_member_without_a_password_can_set_one(client, cast):
    user = cast.member.user
    user.set_unusable_password()
    user.save(update_fields=["password"])
    client.force_login(user)

    assert client.get(reverse("account_set_password"), **EN).status_code == 200
    response = client.post(
        reverse("account_set_password"), {"password1": "my-first-password", "password2": "my-first-password"}
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("my-first-password")
