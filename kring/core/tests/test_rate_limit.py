"""Login attempts are rate-limited: guessing a password is slowed down to uselessness."""

import pytest
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

from kring.core.tests.totp import totp_code, wrong_code

PASSWORD = "kring-test-password"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
TOO_MANY = "Too many failed login attempts. Try again later."


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # allauth counts attempts in the cache (LocMemCache in tests, shared Redis in production).
    cache.clear()
    yield
    cache.clear()


def log_in(client, email, password, **extra):
    return client.post(reverse("account_login"), {"login": email, "password": password}, **extra)


def test_after_five_wrong_passwords_even_the_right_one_is_refused(client, cast):
    for _ in range(5):
        response = log_in(client, "anna@example.test", "wrong-password", **EN)
        assert TOO_MANY not in response.content.decode()

    response = log_in(client, "anna@example.test", PASSWORD, **EN)

    assert response.status_code == 200
    assert TOO_MANY in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_refusal_is_in_dutch_for_dutch_visitors(client, cast):
    for _ in range(5):
        log_in(client, "anna@example.test", "wrong-password")

    response = log_in(client, "anna@example.test", PASSWORD)

    assert "Er is te vaak geprobeerd in te loggen. Probeer het later opnieuw." in response.content.decode()


def test_four_wrong_passwords_still_allow_the_right_one(client, cast):
    for _ in range(4):
        log_in(client, "anna@example.test", "wrong-password")

    response = log_in(client, "anna@example.test", PASSWORD)

    assert response.status_code == 302
    assert "_auth_user_id" in client.session


def test_one_blocked_address_does_not_block_another_member(client, cast):
    for _ in range(6):
        log_in(client, "anna@example.test", "wrong-password")

    response = log_in(client, "bram@example.test", PASSWORD)

    assert response.status_code == 302


def test_the_block_counts_per_address_not_per_spelling(client, cast):
    for _ in range(5):
        log_in(client, "Anna@Example.test", "wrong-password")

    response = log_in(client, "anna@example.test", PASSWORD, **EN)

    assert TOO_MANY in response.content.decode()


def test_login_codes_cannot_be_requested_endlessly(client, cast):
    for _ in range(3):
        client.post(reverse("account_request_login_code"), {"email": "anna@example.test"})
        client.post(reverse("account_logout"))
    sent = len(mail.outbox)

    response = client.post(reverse("account_request_login_code"), {"email": "anna@example.test"}, **EN)

    assert response.status_code == 200
    assert TOO_MANY in response.content.decode()
    assert len(mail.outbox) == sent


def test_guessing_the_authenticator_code_is_limited_too(client, protected_secretary):
    secret = protected_secretary.totp_secret
    log_in(client, protected_secretary.email, PASSWORD)
    for _ in range(5):
        client.post(reverse("mfa_authenticate"), {"code": wrong_code(secret)})

    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)}, **EN)

    assert response.status_code == 200
    assert TOO_MANY in response.content.decode()
    assert "_auth_user_id" not in client.session
