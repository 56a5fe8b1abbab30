"""Collection files: selection, sequence types, amendments, expiry, notice period, validity."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import translation
from freezegun import freeze_time
from lxml import etree

from kring.billing.models import Invoice
from kring.sepa import pain008, services
from kring.sepa.collection import collect
from kring.sepa.models import CollectionItem, Mandate, MandateAmendment, PreNotification
from kring.sepa.tests.collect_helpers import (
    ANNOUNCE_AT,
    COLLECT_AT,
    COLLECTION_DATE,
    CREDITOR_ID,
    IBAN_ING,
    IBAN_RABO,
    IBAN_SWISS,
    creditor,
    debtor,
    invoice_for,
)


@pytest.fixture(autouse=True)
def in_english():
    """These tests read the reasons and messages in English (the site's default is Dutch)."""
    with translation.override("en"):
        yield


pytestmark = pytest.mark.django_db

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.008.001.08"}


def announce(collection_date=COLLECTION_DATE):
    with freeze_time(ANNOUNCE_AT):
        return services.announce_collection(collection_date, actor=None)


def run(collection_date=COLLECTION_DATE, at=COLLECT_AT, **kwargs):
    with freeze_time(at):
        return collect(collection_date, actor=None, **kwargs)


def tree(result):
    return etree.fromstring(bytes(result.batch.xml))


def test_announce_then_collect_marks_invoices_and_validates():
    creditor()
    member, mandate = debtor()
    invoice = invoice_for(member)
    announcement = announce()
    assert announcement.invoice_count == 1 and announcement.emailed == 1
    [message] = mail.outbox
    assert mandate.reference in message.body and CREDITOR_ID in message.body and "12,50" in message.body
    invoice.refresh_from_db()
    assert invoice.collection_date == COLLECTION_DATE and invoice.mandate_reference == mandate.reference

    result = run()
    assert result.count == 1 and result.total == Decimal("12.50") and not result.uncollectable
    assert pain008.validate(bytes(result.batch.xml)) == []
    invoice.refresh_from_db()
    mandate.refresh_from_db()
    assert invoice.status == Invoice.Status.IN_COLLECTION
    assert mandate.last_collected_on == COLLECTION_DATE
    item = CollectionItem.objects.get()
    assert item.end_to_end_id == invoice.number and item.sequence_type == "RCUR"
    root = tree(result)
    assert root.findtext(".//p:EndToEndId", namespaces=NS) == invoice.number
    assert root.findtext(".//p:MndtId", namespaces=NS) == mandate.reference
    # Nothing left: a second run finds nothing and makes no batch.
    again = run()
    assert again.batch is None and again.count == 0


def test_announce_twice_notifies_once():
    creditor()
    member, _mandate = debtor()
    invoice_for(member)
    announce()
    second = announce()
    assert len(mail.outbox) == 1 and second.emailed == 0
    assert PreNotification.objects.count() == 1


def test_paper_member_gets_paper_notice():
    creditor()
    member, _mandate = debtor()
    invoice_for(member, send_by_post=True)
    announcement = announce()
    assert announcement.on_paper == 1 and not mail.outbox
    assert PreNotification.objects.get().channel == PreNotification.Channel.PAPER


def test_notice_period_refused_with_earliest_date():
    creditor()
    with freeze_time(ANNOUNCE_AT), pytest.raises(ValidationError) as error:
        services.announce_collection(date(2027, 1, 15), actor=None)
    # 5 January + 14 days = 19 January (a Tuesday).
    assert "2027-01-19" in error.value.messages[0]


def test_non_business_day_refused():
    creditor()
    with freeze_time(ANNOUNCE_AT), pytest.raises(ValidationError) as error:
        services.announce_collection(date(2027, 1, 30), actor=None)  # a Saturday
    assert "2027-02-01" in error.value.messages[0]


def test_collect_refuses_date_past_bank_cutoff():
    creditor(lead_days=2)
    with pytest.raises(ValidationError) as error:
        run(at="2027-01-21 15:00:00+01:00")  # after the cut-off: counts for Friday 22nd, + 2 = 26th
    assert "2027-01-26" in error.value.messages[0]


def test_no_frst_ever_and_ooff_for_one_off():
    creditor()
    first, _m1 = debtor()
    once, _m2 = debtor(iban=IBAN_ING, kind="one_off")
    invoice_for(first)
    invoice_for(once)
    announce()
    result = run()
    assert result.count == 2
    types = sorted(e.text for e in tree(result).iterfind(".//p:SeqTp", NS))
    assert types == ["OOFF", "RCUR"]
    assert b"FRST" not in bytes(result.batch.xml)
    # The next collection on the recurrent mandate is RCUR again; the one-off is not used again.
    invoice_for(first)
    invoice_for(once)
    announce(date(2027, 1, 26))
    later = run(date(2027, 1, 26))
    assert [e.text for e in tree(later).iterfind(".//p:SeqTp", NS)] == ["RCUR"]
    assert any("one-off" in u.reason for u in later.uncollectable)


def test_uncollectable_reasons_are_listed():
    creditor()
    told, _m = debtor()
    no_mandate = invoice_for(debtor()[0])
    Mandate.objects.filter(member=no_mandate.payer_member).delete()
    revoked_member, revoked = debtor(iban=IBAN_ING)
    late_member, _late = debtor()
    invoice_for(told)
    revoked_invoice = invoice_for(revoked_member)
    announce()
    services.revoke_mandate(revoked, actor=None, reason="member asked")
    late_invoice = invoice_for(late_member)  # made after the announcement: never told
    result = run()
    reasons = {u.number: u.reason for u in result.uncollectable}
    assert result.count == 1
    assert reasons[no_mandate.number] == "no mandate"
    assert "revoked" in reasons[revoked_invoice.number]
    assert "notice period" in reasons[late_invoice.number]


def test_invoice_emailed_with_date_serves_as_notice():
    creditor()
    member, mandate = debtor()
    invoice = invoice_for(member, collection_date=COLLECTION_DATE, mandate_reference="x")
    Invoice.objects.filter(pk=invoice.pk).update(email_sent_at=datetime.fromisoformat(ANNOUNCE_AT))
    assert run().count == 1


def test_mandate_unused_36_months_expires_and_is_never_collected():
    creditor()
    member, mandate = debtor(signed_on=date(2023, 1, 1))
    Mandate.objects.filter(pk=mandate.pk).update(last_collected_on=date(2024, 1, 24))
    invoice_for(member)
    with freeze_time(ANNOUNCE_AT):
        # The mandate is still active when told; by the collection date it is 36 months unused.
        services.announce_collection(COLLECTION_DATE, actor=None)
    result = run()
    assert result.count == 0
    assert "36 months" in result.uncollectable[0].reason
    # A later run (past the 36 months) marks it expired; it is never collected again.
    result = run(date(2027, 2, 25), at="2027-02-20 09:00:00+01:00")
    assert result.count == 0 and "expired" in result.uncollectable[0].reason
    mandate.refresh_from_db()
    assert mandate.status == Mandate.Status.EXPIRED


def test_expire_unused_mandates_is_set_based():
    member, old = debtor(signed_on=date(2022, 1, 1))
    _recent_member, recent = debtor(iban=IBAN_ING, signed_on=date(2022, 1, 1))
    Mandate.objects.filter(pk=recent.pk).update(last_collected_on=date(2024, 6, 1))
    assert services.expire_unused_mandates(date(2025, 1, 1)) == 1
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.status == Mandate.Status.EXPIRED and recent.status == Mandate.Status.ACTIVE


def test_amendment_carried_on_next_collection_only():
    creditor()
    member, mandate = debtor(iban=IBAN_RABO)
    amendment = services.amend_mandate_iban(mandate, IBAN_ING, actor=None)
    assert amendment.other_bank and amendment.original_iban == IBAN_RABO
    mandate.refresh_from_db()
    assert mandate.iban == IBAN_ING
    invoice_for(member)
    announce()
    first = run()
    details = tree(first).find(".//p:AmdmntInfDtls", NS)
    assert tree(first).findtext(".//p:AmdmntInd", namespaces=NS) == "true"
    assert details.findtext("p:OrgnlDbtrAcct/p:Id/p:IBAN", namespaces=NS) == IBAN_RABO
    assert details.findtext("p:OrgnlDbtrAgt/p:FinInstnId/p:Othr/p:Id", namespaces=NS) == "SMNDA"
    assert MandateAmendment.objects.get().carried_in == first.batch
    invoice_for(member)
    announce(date(2027, 1, 26))
    second = run(date(2027, 1, 26))
    assert tree(second).findtext(".//p:AmdmntInd", namespaces=NS) == "false"
    assert tree(second).find(".//p:AmdmntInfDtls", NS) is None


def test_same_bank_amendment_has_no_smnda():
    member, mandate = debtor(iban=IBAN_RABO)
    amendment = services.amend_mandate_iban(mandate, "NL44RABO0123456789", actor=None)
    assert amendment is not None and not amendment.other_bank
    assert services.amend_mandate_iban(mandate, "NL44RABO0123456789", actor=None) is None


def test_debtor_address_only_outside_eea_and_structured():
    creditor()
    dutch, _m = debtor()
    swiss, _m2 = debtor(
        iban=IBAN_SWISS, country="XX", city="Zürich", postcode="8001", street="Bahnhofstrasse"
    )
    invoice_for(dutch)
    invoice_for(swiss)
    announce()
    result = run()
    addresses = list(tree(result).iterfind(".//p:Dbtr/p:PstlAdr", NS))
    assert len(addresses) == 1
    assert addresses[0].findtext("p:TwnNm", namespaces=NS) == "Zurich"
    assert addresses[0].findtext("p:Ctry", namespaces=NS) == "CH"
    assert addresses[0].find("p:AdrLine", NS) is None


@pytest.mark.parametrize("version", pain008.VERSIONS)
def test_both_versions_are_valid(version):
    creditor()
    for iban in (IBAN_RABO, IBAN_ING, IBAN_SWISS):
        member, _m = debtor(iban=iban, last_name="Çelik-Ðorđević & “Zn” //")
        invoice_for(member)
    announce()
    result = run(version=version)
    assert result.batch.version == version and result.count == 3
    xml = bytes(result.batch.xml)
    assert version.encode() in xml
    assert pain008.validate(xml, version) == []


def test_message_version_comes_from_settings():
    creditor(message_version=pain008.PAIN_008_02)
    member, _m = debtor()
    invoice_for(member)
    announce()
    assert run().batch.version == pain008.PAIN_008_02


def test_paid_invoice_not_collected():
    creditor()
    member, _m = debtor()
    invoice = invoice_for(member)
    announce()
    Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.PAID, amount_paid=invoice.total)
    assert run().count == 0


@pytest.mark.parametrize("code, collected_again", [("AM04", True), ("MS02", False), ("MD06", False)])
def test_a_returned_invoice_is_collected_again_only_when_its_reason_allows_it(code, collected_again):
    creditor()
    member, _mandate = debtor()
    invoice = invoice_for(member)
    announce()
    assert run().count == 1
    CollectionItem.objects.filter(invoice=invoice).update(
        status=CollectionItem.Status.RETURNED, return_reason=code
    )
    Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.REVERSED)
    later = date(2027, 2, 25)
    with freeze_time("2027-02-01 09:00:00+01:00"):
        services.announce_collection(later, actor=None)
    result = run(later, at="2027-02-20 09:00:00+01:00")
    assert result.count == (1 if collected_again else 0)
    if not collected_again:
        assert code in result.uncollectable[0].reason
