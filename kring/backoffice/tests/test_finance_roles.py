"""Who may see and do what in Finance: the treasurer everything, the audit committee reads every page
and changes nothing, the secretariat reads invoices only, the board and members nothing."""

import pytest
from django.urls import URLPattern, reverse

from kring.backoffice import urls_finance
from kring.backoffice.tests.finance_data import invoice
from kring.billing.models import Invoice, Payment
from kring.core.models import AuditEntry

# The pages of this part of Finance; `None` arguments are filled in with the test's invoice or member.
PAGES = {
    "finance_overview": None,
    "finance_invoice_list": None,
    "finance_invoice_detail": "invoice",
    "finance_invoice_new": "member",
    "finance_credit_note_new": "invoice",
    "finance_export": None,
    "finance_settings": None,
}
READS = {"finance_overview", "finance_invoice_list", "finance_invoice_detail"}
WRITES = {"finance_invoice_new", "finance_credit_note_new"}

EXPECTED = {
    # role: pages answered with 200 (all others 403)
    "treasurer": set(PAGES),
    "audit_committee": READS | {"finance_export", "finance_settings"},
    "secretariat": READS,
    "board": set(),
}


@pytest.fixture
def document(cast):
    return invoice(cast.member, "40.00")


def url_for(name, cast, document) -> str:
    kind = PAGES[name]
    if kind is None:
        return reverse(f"backoffice:{name}")
    return reverse(f"backoffice:{name}", args=[document.pk if kind == "invoice" else cast.member.pk])


@pytest.mark.parametrize("role", EXPECTED)
@pytest.mark.parametrize("name", PAGES)
def test_each_role_sees_exactly_its_finance_pages(client, cast, document, role, name):
    client.force_login(getattr(cast, role))
    status = client.get(url_for(name, cast, document)).status_code
    assert status == (200 if name in EXPECTED[role] else 403)


def test_the_finance_menu_item_follows_the_permission(client, cast):
    for role, shown in (
        ("treasurer", True),
        ("audit_committee", True),
        ("secretariat", True),
        ("board", False),
    ):
        client.force_login(getattr(cast, role))
        html = client.get(reverse("backoffice:dashboard")).content.decode()
        assert (reverse("backoffice:finance_overview") in html) is shown, role


def finance_patterns():
    return [entry for entry in urls_finance.urlpatterns if isinstance(entry, URLPattern)]


def is_write(pattern) -> bool:
    permissions = getattr(pattern.callback, "required_permissions", ())
    return any(
        permission.split(".", 1)[1].startswith(("add_", "change_", "delete_")) for permission in permissions
    )


@pytest.mark.parametrize("pattern", finance_patterns(), ids=lambda pattern: pattern.name)
def test_the_audit_committee_changes_nothing_anywhere_in_finance(client, cast, document, pattern):
    """Every POST to a page that changes something is refused (403); nothing changes anywhere."""
    client.force_login(cast.audit_committee)
    kwargs = {name: document.pk if name == "pk" else cast.member.pk for name in pattern.pattern.converters}
    url = reverse(f"backoffice:{pattern.name}", kwargs=kwargs)
    before = (Invoice.objects.count(), Payment.objects.count(), AuditEntry.objects.count())
    response = client.post(
        url, {"how": "whole", "reason": "x", "amount": "40", "paid_on": "2026-01-01", "description": "x"}
    )
    if is_write(pattern) or pattern.name == "finance_settings":
        assert response.status_code == 403, pattern.name
    elif pattern.name in PAGES:  # the pages of this file only show: they do not take a POST at all
        assert response.status_code == 405, pattern.name
    assert (Invoice.objects.count(), Payment.objects.count(), AuditEntry.objects.count()) == before
    document.refresh_from_db()
    assert document.status == Invoice.Status.OPEN and document.email_sent_at is None


def test_the_audit_committee_sees_no_action_buttons(client, cast, document):
    client.force_login(cast.audit_committee)
    html = client.get(url_for("finance_invoice_detail", cast, document)).content.decode()
    for name in (
        "finance_credit_note_new",
        "finance_invoice_send",
        "finance_payment_new",
        "finance_invoice_write_off",
    ):
        try:
            assert reverse(f"backoffice:{name}", args=[document.pk]) not in html, name
        except Exception as error:  # a page another part of Finance I has not built (yet)
            if "NoReverseMatch" not in type(error).__name__:
                raise
    html = client.get(reverse("backoffice:member_detail", args=[cast.member.pk])).content.decode()
    assert reverse("backoffice:finance_invoice_new", args=[cast.member.pk]) not in html


def test_a_member_is_refused_and_a_visitor_sent_to_log_in(client, cast, document):
    for name in PAGES:
        url = url_for(name, cast, document)
        client.logout()
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("account_login")), name
        client.force_login(cast.member.user)
        assert client.get(url).status_code == 403, name
