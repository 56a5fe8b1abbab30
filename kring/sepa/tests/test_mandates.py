"""Mandates: references, paper and electronic mandates, revoking, creditor settings."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from kring.core.models import AuditEntry
from kring.members.models import BankAccount, PaymentMethod
from kring.members.tests.factories import MemberFactory
from kring.sepa import services
from kring.sepa.charset import is_sepa_identifier
from kring.sepa.models import CreditorSettings, Mandate
from kring.sepa.tests.collect_helpers import CREDITOR_ID, IBAN_ING, IBAN_RABO, debtor

pytestmark = pytest.mark.django_db


def test_generated_reference_follows_sepa_rules():
    member = MemberFactory(member_number="//Ünïcode & co/")
    mandate = services.record_paper_mandate(
        member, signed_on=date(2025, 1, 1), iban=IBAN_RABO, debtor_name="A", actor=None
    )
    assert is_sepa_identifier(mandate.reference) and len(mandate.reference) <= 35
    assert mandate.reference.startswith("KRING-") and "//" not in mandate.reference
    second = services.record_paper_mandate(
        member, signed_on=date(2025, 2, 1), iban=IBAN_ING, debtor_name="A", actor=None
    )
    assert second.reference != mandate.reference and is_sepa_identifier(second.reference)


@pytest.mark.parametrize("reference", ["/ABC", "ABC/", "A//B", "MET SPATIE", "É-123", "X" * 36])
def test_given_reference_is_checked(reference):
    member = MemberFactory()
    with pytest.raises(ValidationError) as error:
        services.record_paper_mandate(
            member,
            reference=reference,
            signed_on=date(2025, 1, 1),
            iban=IBAN_RABO,
            debtor_name="A",
            actor=None,
        )
    assert "reference" in error.value.message_dict
    assert not Mandate.objects.exists()


def test_given_reference_must_be_unique():
    member = MemberFactory()
    services.record_paper_mandate(
        member, reference="LID-1", signed_on=date(2025, 1, 1), iban=IBAN_RABO, debtor_name="A", actor=None
    )
    with pytest.raises(ValidationError):
        services.record_paper_mandate(
            MemberFactory(),
            reference="LID-1",
            signed_on=date(2025, 1, 1),
            iban=IBAN_RABO,
            debtor_name="B",
            actor=None,
        )


def test_new_mandate_revokes_previous_and_sets_direct_debit():
    member, first = debtor()
    second = services.record_paper_mandate(
        member, signed_on=date(2025, 7, 1), iban=IBAN_ING, debtor_name="Anna", actor=None
    )
    first.refresh_from_db()
    member.refresh_from_db()
    assert first.status == Mandate.Status.REVOKED and first.ended_on
    assert second.status == Mandate.Status.ACTIVE
    assert member.payment_method == PaymentMethod.DIRECT_DEBIT
    assert BankAccount.objects.get(member=member, is_primary=True).iban == IBAN_ING
    assert AuditEntry.objects.filter(action="sepa.mandate_recorded").count() == 2


def test_electronic_mandate_records_consent():
    member = MemberFactory()
    mandate = services.record_electronic_mandate(
        member,
        iban=IBAN_RABO,
        debtor_name="Anna",
        consent_text="Ik machtig Kring …",
        channel="member portal",
        ip="192.0.2.7",
        user_agent="Firefox",
        actor=None,
    )
    assert mandate.source == Mandate.Source.ELECTRONIC
    assert mandate.consent_text == "Ik machtig Kring …" and mandate.consent_ip == "192.0.2.7"
    assert mandate.consent_at is not None and mandate.consent_channel == "member portal"


def test_signature_in_future_refused():
    with pytest.raises(ValidationError):
        services.record_paper_mandate(
            MemberFactory(), signed_on=date(2999, 1, 1), iban=IBAN_RABO, debtor_name="A", actor=None
        )


def test_creditor_settings_validated_and_audited():
    with pytest.raises(ValidationError) as error:
        services.update_creditor_settings(actor=None, creditor_identifier="NL78ZZZ999999990000")
    assert "creditor_identifier" in error.value.message_dict
    current = services.update_creditor_settings(
        actor=None,
        creditor_identifier="nl79 zzz 9999 9999 0000",
        iban="nl91 abna 0417 1643 00",
        creditor_name="Kring",
    )
    assert current.creditor_identifier == CREDITOR_ID and current.iban == "NL91ABNA0417164300"
    assert current.bic == "ABNANL2A"
    assert CreditorSettings.objects.count() == 1
    assert AuditEntry.objects.filter(action="sepa.creditor_settings_changed").exists()


def test_mandate_form_pdf():
    member, _mandate = debtor()
    pdf = services.render_mandate_form_pdf(member)
    assert pdf.startswith(b"%PDF")
