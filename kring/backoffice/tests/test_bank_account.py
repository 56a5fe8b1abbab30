import pytest
from django.urls import reverse

from kring.core.models import AuditEntry
from kring.members import services
from kring.members.models import BankAccount


def url(member):
    return reverse("backoffice:bank_account_edit", args=[member.pk])


@pytest.mark.parametrize("role", ["secretariat", "treasurer"])
def test_secretariat_and_treasurer_set_a_new_bank_account(client, cast, role):
    member = cast.member
    services.set_bank_account(member, actor=None, iban="NL91ABNA0417164300", holder_name="A. van den Berg")
    client.force_login(getattr(cast, role))
    response = client.post(url(member), {"iban": "nl44 rabo 0123 4567 89", "holder_name": "", "bic": ""})
    assert response.status_code == 302
    assert response.url == reverse("backoffice:member_detail", args=[member.pk])
    current = BankAccount.objects.get(member=member, is_primary=True)
    assert current.iban == "NL44RABO0123456789"
    assert current.holder_name == member.display_name
    assert BankAccount.objects.filter(member=member, is_primary=False).count() == 1
    entry = AuditEntry.objects.filter(action="kring.bank_account.changed", member_id=member.pk).latest("pk")
    assert entry.actor == getattr(cast, role)
    assert "NL44RABO0123456789" not in str(entry.changes)


def test_page_shows_current_account_masked_only(client, cast):
    services.set_bank_account(
        cast.member, actor=None, iban="NL44RABO0123456789", holder_name="A. van den Berg"
    )
    client.force_login(cast.secretariat)
    content = client.get(url(cast.member)).content.decode()
    assert "NL44 •••• •••• 6789" in content
    assert "0123" not in content and "456789" not in content


@pytest.mark.parametrize("iban", ["NL91ABNA0417164301", "NL91", "XX00 1234", ""])
def test_invalid_iban_changes_nothing(client, cast, iban):
    services.set_bank_account(
        cast.member, actor=None, iban="NL91ABNA0417164300", holder_name="A. van den Berg"
    )
    before = AuditEntry.objects.count()
    client.force_login(cast.secretariat)
    response = client.post(url(cast.member), {"iban": iban, "holder_name": "Someone", "bic": ""})
    assert response.status_code == 200
    assert "iban" in response.context["form"].errors
    assert 'id="id_iban_error"' in response.content.decode()
    assert BankAccount.objects.get(member=cast.member).iban == "NL91ABNA0417164300"
    assert AuditEntry.objects.count() == before


def test_invalid_bic_is_shown_at_the_bic_field(client, cast):
    client.force_login(cast.secretariat)
    response = client.post(
        url(cast.member), {"iban": "NL91ABNA0417164300", "holder_name": "", "bic": "NOTABIC!"}
    )
    assert "bic" in response.context["form"].errors
    assert not BankAccount.objects.filter(member=cast.member).exists()


@pytest.mark.parametrize("role", ["board", "audit_committee"])
def test_read_only_roles_get_403(client, cast, role):
    client.force_login(getattr(cast, role))
    response = client.post(url(cast.member), {"iban": "NL91ABNA0417164300", "holder_name": "", "bic": ""})
    assert response.status_code == 403
    assert not BankAccount.objects.exists()
