"""The invoice settings: the treasurer changes them (IBAN checked, every change audited); the audit
committee only reads them."""

import pytest
from django.urls import reverse

from kring.billing.models import BillingSettings
from kring.core.models import AuditEntry

URL = reverse("backoffice:finance_settings")


def settings_post(**fields) -> dict:
    return {
        "iban": "nl91 abna 0417 1643 00",
        "bic": "",
        "account_holder": "Sportvereniging De Kring",
        "payment_term_days": "21",
        "invoice_number_prefix": "F",
        "billing_year_start_month": "7",
        "online_provider": "local",
        "invoice_email_subject": "Factuur {number}",
        **fields,
    }


@pytest.fixture
def treasurer_client(client, cast):
    client.force_login(cast.treasurer)
    return client


def test_the_treasurer_changes_the_settings_and_it_is_audited(treasurer_client, cast):
    response = treasurer_client.post(URL, settings_post())
    assert response.status_code == 302
    saved = BillingSettings.current()
    assert saved.iban == "NL91ABNA0417164300" and saved.bic == "ABNANL2A"  # normalised; BIC from the IBAN
    assert (saved.payment_term_days, saved.invoice_number_prefix, saved.billing_year_start_month) == (
        21,
        "F",
        7,
    )
    assert saved.online_provider == "local"
    entry = AuditEntry.objects.get(action="billing.settings_changed")
    assert entry.actor == cast.treasurer
    assert {"field": "payment_term_days", "before": "14", "after": "21"} in entry.changes
    # saving the same again changes nothing and writes no audit entry
    treasurer_client.post(URL, settings_post())
    assert AuditEntry.objects.filter(action="billing.settings_changed").count() == 1
    html = treasurer_client.get(reverse("backoffice:finance_overview")).content.decode()
    assert "message--success" in html


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"iban": "NL91ABNA0417164301"}, "iban"),
        ({"bic": "XX"}, "bic"),
        ({"payment_term_days": "0"}, "payment_term_days"),
        ({"payment_term_days": ""}, "payment_term_days"),
        ({"invoice_number_prefix": "F 1"}, "invoice_number_prefix"),
        ({"online_provider": "paypal"}, "online_provider"),
    ],
)
def test_wrong_settings_are_refused_and_nothing_changes(treasurer_client, fields, field):
    response = treasurer_client.post(URL, settings_post(**fields))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert BillingSettings.current().payment_term_days == 14
    assert not AuditEntry.objects.filter(action="billing.settings_changed").exists()


def test_the_audit_committee_reads_the_settings_but_cannot_change_them(client, cast):
    BillingSettings.objects.update_or_create(
        pk=BillingSettings.current().pk, defaults={"iban": "NL91ABNA0417164300"}
    )
    client.force_login(cast.audit_committee)
    response = client.get(URL, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and response.context["form"] is None
    html = response.content.decode()
    assert "NL91 ABNA 0417 1643 00" in html and '<form method="post" novalidate' not in html
    assert client.post(URL, settings_post()).status_code == 403
    assert BillingSettings.current().payment_term_days == 14


@pytest.mark.parametrize("role", ["secretariat", "board"])
def test_secretariat_and_board_do_not_see_the_settings(client, cast, role):
    client.force_login(getattr(cast, role))
    assert client.get(URL).status_code == 403


def test_settings_page_query_count(treasurer_client, django_assert_max_num_queries):
    treasurer_client.get(URL)
    # session, user, permissions (2), settings, association
    with django_assert_max_num_queries(6):
        treasurer_client.get(URL)
