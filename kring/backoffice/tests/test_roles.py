"""Who may see and do what in the back office, for every role and every back-office page."""

import uuid

import pytest
from django.urls import URLPattern, URLResolver, reverse

from kring.backoffice import urls as backoffice_urls
from kring.members import services

STAFF_ROLES = ["secretariat", "treasurer", "board", "audit_committee"]
READ_ONLY_ROLES = ["board", "audit_committee"]
WRITE_PREFIXES = ("add_", "change_", "delete_", "import_")
FULL_IBAN = "NL91 ABNA 0417 1643 00"


def flatten(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from flatten(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield entry


ALL_PATTERNS = list(flatten(backoffice_urls.urlpatterns))


def required(pattern) -> tuple[str, ...]:
    return tuple(getattr(pattern.callback, "required_permissions", ()) or ())


def is_write(pattern) -> bool:
    return any(perm.split(".", 1)[1].startswith(WRITE_PREFIXES) for perm in required(pattern))


WRITE_PATTERNS = [pattern for pattern in ALL_PATTERNS if is_write(pattern)]


def sample_url(pattern) -> str:
    """Any object id will do: permissions are checked before a view loads anything."""
    kwargs = {}
    for name, converter in pattern.pattern.converters.items():
        kind = type(converter).__name__
        value = 1 if kind == "IntConverter" else uuid.UUID(int=1) if kind == "UUIDConverter" else "x"
        kwargs[name] = converter.to_url(value)
    return reverse(f"backoffice:{pattern.name}", kwargs=kwargs)


def pattern_id(pattern) -> str:
    return pattern.name or str(pattern.pattern)


# --- reading --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_every_staff_role_sees_the_overview_list_member_page_and_anniversaries(client, cast, role):
    client.force_login(getattr(cast, role))
    for url in (
        reverse("backoffice:dashboard"),
        reverse("backoffice:member_list"),
        reverse("backoffice:member_detail", args=[cast.member.pk]),
        reverse("backoffice:anniversaries"),
    ):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("name", ["dashboard", "member_list", "member_export", "anniversaries"])
def test_anonymous_visitor_is_sent_to_the_login_page(client, cast, name):
    response = client.get(reverse(f"backoffice:{name}"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_anonymous_visitor_of_a_member_page_is_sent_to_the_login_page(client, cast):
    url = reverse("backoffice:member_detail", args=[cast.member.pk])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login") + "?next=" + url)


@pytest.mark.parametrize("name", ["dashboard", "member_list", "member_export", "anniversaries"])
def test_logged_in_member_is_refused(client, cast, name):
    client.force_login(cast.member.user)
    assert client.get(reverse(f"backoffice:{name}")).status_code == 403


def test_logged_in_member_cannot_open_another_members_page(client, cast):
    client.force_login(cast.member.user)
    assert client.get(reverse("backoffice:member_detail", args=[cast.other_member.pk])).status_code == 403


# --- export and full IBAN ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "role,allowed",
    [
        ("secretariat", True),
        ("treasurer", True),
        ("board", False),
        ("audit_committee", False),
    ],
)
def test_only_secretariat_and_treasurer_may_export(client, cast, role, allowed):
    client.force_login(getattr(cast, role))
    response = client.get(reverse("backoffice:member_export"))
    assert response.status_code == (200 if allowed else 403)
    list_html = client.get(reverse("backoffice:member_list")).content.decode()
    assert (reverse("backoffice:member_export") in list_html) is allowed


@pytest.mark.parametrize(
    "role,allowed",
    [
        ("secretariat", False),
        ("treasurer", True),
        ("board", False),
        ("audit_committee", True),
    ],
)
def test_full_iban_only_for_treasurer_and_audit_committee(client, cast, role, allowed):
    services.set_bank_account(
        cast.member, actor=None, iban="NL91ABNA0417164300", holder_name="A. van den Berg"
    )
    client.force_login(getattr(cast, role))
    html = client.get(reverse("backoffice:member_detail", args=[cast.member.pk])).content.decode()
    assert (FULL_IBAN in html) is allowed
    assert "NL91 •••• •••• 4300" in html or allowed


# --- changing ---------------------------------------------------------------------------------


def test_every_back_office_page_states_the_permissions_it_needs():
    unguarded = [pattern_id(p) for p in ALL_PATTERNS if not required(p)]
    assert unguarded == []


def test_there_are_change_views_to_check():
    assert len(WRITE_PATTERNS) >= 1


@pytest.mark.parametrize("pattern", WRITE_PATTERNS, ids=pattern_id)
@pytest.mark.parametrize("role", READ_ONLY_ROLES)
def test_board_and_audit_committee_cannot_reach_any_change_view(client, cast, role, pattern):
    user = getattr(cast, role)
    assert not user.has_perms(required(pattern))
    client.force_login(user)
    url = sample_url(pattern)
    # A view that only takes POST may answer a GET with 405 before it checks permissions: it shows nothing either.
    assert client.get(url).status_code in (403, 405)
    assert client.post(url, {}).status_code == 403


@pytest.mark.parametrize("pattern", WRITE_PATTERNS, ids=pattern_id)
def test_change_views_refuse_a_logged_in_member(client, cast, pattern):
    client.force_login(cast.member.user)
    assert client.post(sample_url(pattern), {}).status_code == 403
