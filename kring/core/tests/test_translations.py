"""The interface is Dutch by default and English on request; no string reaches a page untranslated."""

import re
import shutil
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse

LOCALE = Path(settings.BASE_DIR) / "locale"
DUTCH = LOCALE / "nl" / "LC_MESSAGES" / "django.po"
ENGLISH = LOCALE / "en" / "LC_MESSAGES" / "django.po"
NAMED_PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdif]")


def describe(entry):
    where = ", ".join(f"{path}:{line}" for path, line in entry.occurrences[:2])
    return f"{entry.msgid!r} ({where})"


def test_every_dutch_string_is_translated_and_none_is_fuzzy():
    po = polib.pofile(str(DUTCH))

    untranslated = [describe(e) for e in po.untranslated_entries()]
    fuzzy = [describe(e) for e in po.fuzzy_entries()]

    assert not untranslated, "Translate these in locale/nl (run `make messages`):\n" + "\n".join(untranslated)
    assert not fuzzy, "Check these fuzzy entries in locale/nl and remove the flag:\n" + "\n".join(fuzzy)


def placeholders(text):
    return set(NAMED_PLACEHOLDER.findall(text))


def test_dutch_translations_keep_every_placeholder():
    broken = []
    for entry in polib.pofile(str(DUTCH)).translated_entries():
        if entry.msgid_plural:
            singular, plural = entry.msgstr_plural[0], entry.msgstr_plural[1]
            # The singular may write "1" where the English does, but uses no variable the code lacks.
            singular_ok = (
                placeholders(entry.msgid) <= placeholders(singular) <= placeholders(entry.msgid_plural)
            )
            ok = singular_ok and placeholders(plural) == placeholders(entry.msgid_plural)
        else:
            ok = placeholders(entry.msgstr) == placeholders(entry.msgid)
        if not ok:
            broken.append(describe(entry))
    assert not broken, "These translations lose or invent a placeholder:\n" + "\n".join(broken)


def test_english_catalogue_has_a_valid_header_and_falls_back_to_the_source_strings():
    po = polib.pofile(str(ENGLISH))

    assert po.metadata["Language"] == "en"
    assert not po.metadata_is_fuzzy
    assert "nplurals=2" in po.metadata["Plural-Forms"]
    # The source strings are English: an English msgstr would only drift from the code.
    assert not po.translated_entries()


@pytest.mark.skipif(not (shutil.which("xgettext") and shutil.which("msgmerge")), reason="needs GNU gettext")
def test_no_source_string_is_missing_from_the_dutch_catalogue(tmp_path, monkeypatch, settings):
    # Extract the strings from a copy of the code into a copy of the catalogue, so the real one
    # is not touched: a string added to the code without `make messages` shows up untranslated.
    shutil.copytree(
        Path(settings.BASE_DIR) / "kring",
        tmp_path / "kring",
        ignore=shutil.ignore_patterns("__pycache__", "tests"),
    )
    shutil.copytree(LOCALE, tmp_path / "locale", ignore=shutil.ignore_patterns("*.mo"))
    monkeypatch.chdir(tmp_path)
    settings.LOCALE_PATHS = [tmp_path / "locale"]

    call_command("makemessages", locale=["nl"], no_obsolete=True, verbosity=0)

    po = polib.pofile(str(tmp_path / "locale" / "nl" / "LC_MESSAGES" / "django.po"))
    missing = [describe(e) for e in po.untranslated_entries() + po.fuzzy_entries()]
    assert not missing, "New strings without a Dutch translation (run `make messages`):\n" + "\n".join(
        missing
    )


def test_login_page_is_dutch_by_default(client, db):
    page = client.get(reverse("account_login")).content.decode()

    assert '<html lang="nl">' in page
    assert "<h1>Inloggen</h1>" in page
    assert "Log in met uw e-mailadres en uw wachtwoord." in page
    assert "Log in with your email address" not in page


def test_login_page_is_english_when_the_browser_asks_for_english(client, db):
    page = client.get(reverse("account_login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert '<html lang="en">' in page
    assert "<h1>Sign In</h1>" in page
    assert "Log in with your email address and your password." in page
    assert "Inloggen" not in page


def test_allauth_error_on_the_login_page_addresses_the_member_as_u(client, cast):
    cache.clear()  # allauth counts failed attempts in the cache

    response = client.post(
        reverse("account_login"), {"login": "anna@example.test", "password": "not-my-password"}
    )

    page = response.content.decode()
    assert "Het e-mailadres of het wachtwoord klopt niet." in page
    assert "jou" not in page
    cache.clear()
