"""Shared test setup: strict templates, the same cast of people in every test.

The cast (healthchecks-style): a member, a household member, another member, a former member,
the secretariat, the treasurer, the board, the audit committee, and anonymous.
"""

import os

os.environ.setdefault("KRING_TESTING", "1")

import pytest  # noqa: E402
from django.conf import settings  # noqa: E402


class InvalidTemplateVariable(str):
    def __mod__(self, other):
        raise AssertionError(f"Undefined template variable: {other!r}")


@pytest.fixture(autouse=True)
def _strict_settings(settings):
    settings.TEMPLATES[0]["OPTIONS"]["string_if_invalid"] = InvalidTemplateVariable("%s")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def cast(db):
    from kring.members.tests.factories import make_cast

    return make_cast()


def pytest_configure(config):
    assert settings.TIME_ZONE == "Europe/Amsterdam"
