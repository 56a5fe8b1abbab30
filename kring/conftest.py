"""Shared test setup: strict templates, the same cast of people in every test.

The cast (healthchecks-style): a member, a household member, another member, a former member,
the secretariat, the treasurer, the board, the audit committee, and anonymous.
"""

import os

os.environ.setdefault("KRING_TESTING", "1")

import logging  # noqa: E402

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
    # Rate-limit counters live in the cache: every test starts with none.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts in the default language (Dutch), not in whatever an earlier request left active."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fail_on_logged_errors(request, caplog):
    """A logged error fails the test, unless the test says it expects one (@pytest.mark.allow_error_logs)."""
    yield
    if request.node.get_closest_marker("allow_error_logs"):
        return
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, "Errors were logged: " + "; ".join(r.getMessage() for r in errors)


@pytest.fixture
def cast(db):
    from kring.members.tests.factories import make_cast

    return make_cast()


def pytest_configure(config):
    assert settings.TIME_ZONE == "Europe/Amsterdam"
    # Tests check Dutch pages: compile the translations when the .po is newer (as `make test` does).
    from django.core.management import call_command

    call_command("compile_translations", verbosity=0)
    from asgiref.local import Local
    from django.utils.translation import trans_real

    # Forget catalogs that were loaded before the .mo files existed.
    trans_real._translations = {}
    trans_real._default = None
    trans_real._active = Local()


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium():
    """Debian's chromium driven by Playwright (never a downloaded browser). `make test` installs it."""
    import shutil

    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test
    # itself are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from django.db import connections

    # Inside Playwright's loop Django hands out other connections; close ours on both sides so that
    # PostgreSQL can drop the test database at the end.
    connections.close_all()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
        connections.close_all()


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(
        base_url=live_server.url, locale="nl-NL", viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def assert_accessible(page, *, context: str = "") -> None:
    """Run axe-core in the page; fail on any WCAG 2.x A/AA violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page,
        options={
            "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}
        },
    )
    violations = results.response["violations"]
    assert not violations, f"{context} accessibility violations:\n" + "\n".join(
        f"- {v['id']}: {v['help']} ({len(v['nodes'])}x) e.g. {v['nodes'][0]['html'][:160]}"
        for v in violations
    )
