"""Importing statements: each matching rule proven, the same file twice changes nothing, returns
reopen invoices with the code and its action, the member is told once, memberships follow the money."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core import mail

from kring.billing.models import BillingSettings, Invoice, Payment
from kring.billing.tests.factories import InvoiceFactory
from kring.members.models import BankAccount, Membership
from kring.members.tests.factories import MemberFactory, PlanFactory
from kring.sepa import reconciliation, returns, services
from kring.sepa.models import BankStatement, CollectionBatch, CollectionItem, Mandate, StatementTransaction
from kring.sepa.statements import StatementFileError

FILES = Path(__file__).parent / "files"
Match = StatementTransaction.Match
pytestmark = pytest.mark.django_db


def data(name: str) -> bytes:
    return (FILES / name).read_bytes()


def invoice(sequence: int, amount: str, *, first="Anna", last="Jansen", prefix="", **fields) -> Invoice:
    member = fields.pop("member", None) or MemberFactory(first_name=first, name_prefix="", last_name=last)
    return InvoiceFactory(
        member=member,
        year=2026,
        sequence=sequence,
        number=f"{prefix}2026-{sequence:06d}",
        invoice_date=date(2026, 1, 5),
        lines=[("Contributie 2026", amount, "0")],
        **fields,
    )


def collected(sequence: int, amount: str, *, last: str, batch: CollectionBatch, iban="NL20INGB0001234567"):
    member = MemberFactory(first_name="K", name_prefix="", last_name=last)
    mandate = services.record_paper_mandate(
        member, signed_on=date(2025, 6, 1), iban=iban, debtor_name=last, actor=None
    )
    inv = invoice(sequence, amount, member=member, payment_method="direct_debit")
    Invoice.objects.filter(pk=inv.pk).update(status=Invoice.Status.IN_COLLECTION)
    item = CollectionItem.objects.create(
        batch=batch,
        invoice=inv,
        mandate=mandate,
        amount=Decimal(amount),
        end_to_end_id=inv.number,
        sequence_type="RCUR",
    )
    return inv, mandate, item


def a_batch(message_id="KRING-20260320-01") -> CollectionBatch:
    return CollectionBatch.objects.create(
        message_id=message_id, collection_date=date(2026, 3, 25), version="pain.008.001.08"
    )


def run(name, django_capture_on_commit_callbacks, actor=None):
    with django_capture_on_commit_callbacks(execute=True):
        return reconciliation.import_statement(data(name), name, actor=actor)


def test_reference_and_invoice_number_rules(django_capture_on_commit_callbacks):
    kenmerk = invoice(1, "45.00", last="Jansen")
    in_text = invoice(2, "60.00", first="Anouk", last="de Vries")
    result = run("rabobank_camt053_001_02.xml", django_capture_on_commit_callbacks)
    assert result.transactions == 3
    assert result.matched == {Match.REFERENCE: 1, Match.INVOICE_NUMBER: 1}
    assert result.unmatched == 1  # the payment to the printer
    kenmerk.refresh_from_db()
    in_text.refresh_from_db()
    assert kenmerk.status == in_text.status == Invoice.Status.PAID
    payment = Payment.objects.get(invoice=kenmerk)
    assert (payment.method, payment.source, payment.paid_on) == (
        "transfer",
        "bank_statement",
        date(2026, 3, 10),
    )
    tx = StatementTransaction.objects.get(payment=payment)
    assert tx.match == Match.REFERENCE and tx.counterparty_iban == "NL91ABNA0417164300"
    assert tx.counterparty_iban_masked == "NL91 •••• •••• 4300" and tx.counterparty_iban_fingerprint
    statement = result.statement
    assert (statement.entry_count, statement.matched_count, statement.format_version) == (
        3,
        2,
        "camt.053.001.02",
    )


def test_same_file_twice_changes_nothing(django_capture_on_commit_callbacks):
    invoice(1, "45.00")
    first = run("rabobank_camt053_001_02.xml", django_capture_on_commit_callbacks)
    payments = Payment.objects.count()
    again = run("rabobank_camt053_001_02.xml", django_capture_on_commit_callbacks)
    assert again.already_imported and again.statement.pk == first.statement.pk
    assert "already imported" in again.message or "al" in again.message
    assert BankStatement.objects.count() == 1 and Payment.objects.count() == payments


def test_overlapping_statement_records_nothing_twice(django_capture_on_commit_callbacks):
    kenmerk = invoice(1, "45.00")
    run("rabobank_camt053_001_02.xml", django_capture_on_commit_callbacks)
    # The bank sends the same day again in another file (another hash, same entries).
    other = data("rabobank_camt053_001_02.xml").replace(b"<ElctrncSeqNb>69", b"<ElctrncSeqNb>70")
    with django_capture_on_commit_callbacks(execute=True):
        reconciliation.import_statement(other, "again.xml", actor=None)
    kenmerk.refresh_from_db()
    assert kenmerk.amount_paid == Decimal("45.00") and Payment.objects.filter(invoice=kenmerk).count() == 1


def test_prefix_invoice_number_rule(django_capture_on_commit_callbacks):
    settings = BillingSettings.current()
    settings.invoice_number_prefix = "F"
    settings.save()
    in_text = invoice(2, "60.00", last="Elders", prefix="F")
    result = run("rabobank_camt053_001_02.xml", django_capture_on_commit_callbacks)
    assert result.matched[Match.INVOICE_NUMBER] == 1
    in_text.refresh_from_db()
    assert in_text.status == Invoice.Status.PAID


def test_end_to_end_batch_with_details_and_returns(django_capture_on_commit_callbacks):
    batch = a_batch()
    paid, _m3, item3 = collected(3, "37.50", last="Bakker", batch=batch)
    funds, mandate4, item4 = collected(4, "37.50", last="Visser", batch=batch)
    nomandate, mandate5, item5 = collected(5, "37.50", last="Smit", batch=batch)
    result = run("ing_camt053_001_02_collection.xml", django_capture_on_commit_callbacks)
    assert result.matched[Match.END_TO_END] == 5 and result.returns == 2 and result.unmatched == 0
    for obj in (paid, funds, nomandate, item3, item4, item5, mandate4, mandate5):
        obj.refresh_from_db()
    assert paid.status == Invoice.Status.PAID and item3.status == CollectionItem.Status.COLLECTED
    assert Payment.objects.get(invoice=paid).method == "direct_debit"
    # AM04: reversed (open again), collected again once, mandate stays.
    assert funds.status == Invoice.Status.REVERSED and funds.amount_paid == 0
    assert (item4.status, item4.return_reason) == (CollectionItem.Status.RETURNED, "AM04")
    assert mandate4.status == Mandate.Status.ACTIVE and funds.flagged_at is None
    assert returns.may_collect_again("AM04")
    # MD01: mandate suspended, member asked for new details.
    assert nomandate.status == Invoice.Status.REVERSED and mandate5.status == Mandate.Status.SUSPENDED
    assert (item5.status, item5.return_reason) == (CollectionItem.Status.RETURNED, "MD01")
    reversal = Payment.objects.get(invoice=nomandate, amount__lt=0)
    assert (reversal.method, reversal.amount) == ("reversal", Decimal("-37.50"))
    # Each member told once, in plain words.
    assert len(mail.outbox) == 2
    assert {m.to[0].split("<")[1].rstrip(">") for m in mail.outbox} == {
        funds.recipient_email,
        nomandate.recipient_email,
    }
    # Importing again: nothing new, no second email.
    run("ing_camt053_001_02_collection.xml", django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 2 and Payment.objects.filter(method="reversal").count() == 2


def test_amount_and_name_batch_without_details_and_reversal(django_capture_on_commit_callbacks):
    by_name = invoice(6, "35.00", first="Piet", last="Bakker")
    invoice(7, "35.00", first="Els", last="Anders")  # same amount, other name: not chosen
    batch = a_batch("KRING-20260425")
    first, mandate_first, _i = collected(3, "37.50", last="Bakker", batch=batch, iban="NL20INGB0001234567")
    second, _m, _i2 = collected(8, "37.50", last="Mulder", batch=batch, iban="NL39RABO0300065264")
    result = run("abnamro_camt053_001_04.xml", django_capture_on_commit_callbacks)
    by_name.refresh_from_db()
    first.refresh_from_db()
    second.refresh_from_db()
    mandate_first.refresh_from_db()
    assert by_name.status == Invoice.Status.PAID
    assert result.matched[Match.AMOUNT_AND_NAME] == 1
    # The batch of 75.00 settled both collected invoices; the AC04 return then reopened the first.
    assert second.status == Invoice.Status.PAID
    assert first.status == Invoice.Status.REVERSED and mandate_first.status == Mandate.Status.SUSPENDED
    assert CollectionBatch.objects.get(pk=batch.pk).status == CollectionBatch.Status.SETTLED


def test_amount_and_iban_rule_needs_exactly_one(django_capture_on_commit_callbacks):
    member = MemberFactory(first_name="Zeno", last_name="Onbekend")
    BankAccount.objects.create(member=member, iban="NL86INGB0002445588", is_primary=True)
    target = invoice(9, "35.00", member=member)
    run("abnamro_camt053_001_04.xml", django_capture_on_commit_callbacks)
    target.refresh_from_db()
    assert target.status == Invoice.Status.PAID


def test_ambiguous_amount_stays_unmatched(django_capture_on_commit_callbacks):
    invoice(6, "35.00", first="Piet", last="Bakker")
    invoice(7, "35.00", first="Peter", last="Bakker")
    result = run("abnamro_camt053_001_04.xml", django_capture_on_commit_callbacks)
    assert result.matched[Match.AMOUNT_AND_NAME] == 0
    assert StatementTransaction.objects.filter(match=Match.UNMATCHED, amount=Decimal("35.00")).exists()


def test_belgian_ogm_ms02_and_md06(django_capture_on_commit_callbacks):
    ogm = invoice(1, "40.00", last="Peeters", recipient_country="BE", reference_kind="be")
    batch = a_batch()
    refused, mandate2, _i = collected(2, "40.00", last="Janssens", batch=batch)
    refunded, mandate3, _i3 = collected(3, "40.00", last="Maes", batch=batch)
    for inv in (refused, refunded):  # collected and booked earlier
        reconciliation.record_payment(
            inv, amount=Decimal("40.00"), paid_on=date(2026, 4, 1), method="direct_debit", actor=None
        )
    result = run("kbc_camt053_001_08.xml", django_capture_on_commit_callbacks)
    for obj in (ogm, refused, refunded, mandate2, mandate3):
        obj.refresh_from_db()
    assert ogm.status == Invoice.Status.PAID and result.matched[Match.REFERENCE] == 1
    assert refused.status == Invoice.Status.REVERSED and refused.flagged_at is not None  # MS02: secretariat
    assert refunded.status == Invoice.Status.REVERSED and refunded.flagged_at is None  # MD06: just open
    assert mandate2.status == mandate3.status == Mandate.Status.ACTIVE
    assert not returns.may_collect_again("MS02") and not returns.may_collect_again("MD06")
    assert len(mail.outbox) == 2


def test_coda_import(django_capture_on_commit_callbacks):
    batch = a_batch()
    first, _m1, _i1 = collected(1, "40.00", last="Peeters", batch=batch)
    second, _m2, _i2 = collected(2, "40.00", last="Janssens", batch=batch)
    ogm = invoice(3, "40.00", last="Maes")
    result = run("kbc_coda_collections.cod", django_capture_on_commit_callbacks)
    for obj in (first, second, ogm):
        obj.refresh_from_db()
    assert result.statement.format == "coda"
    assert first.status == ogm.status == Invoice.Status.PAID
    assert second.status == Invoice.Status.REVERSED and result.returns == 1
    assert result.unmatched == 1  # the bank costs


def test_broken_file_imports_nothing():
    broken = data("ing_camt053_001_02_collection.xml")[:-300]
    with pytest.raises(StatementFileError) as error:
        reconciliation.import_statement(broken, "broken.xml", actor=None)
    assert "line" in str(error.value.messages[0]).lower() or "regel" in str(error.value.messages[0]).lower()
    assert BankStatement.objects.count() == 0 and StatementTransaction.objects.count() == 0


def test_pending_membership_activated_by_payment(django_capture_on_commit_callbacks):
    member = MemberFactory(first_name="Anna", last_name="Jansen")
    membership = Membership.objects.create(
        member=member, plan=PlanFactory(), start_date=date(2026, 1, 1), status=Membership.Status.PENDING
    )
    invoice(1, "45.00", member=member, membership=membership)
    run("rabobank_camt053_001_02.xml", django_capture_on_commit_callbacks)
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE


def test_manual_match_and_ignore(django_capture_on_commit_callbacks):
    result = run("rabobank_camt053_001_02.xml", django_capture_on_commit_callbacks)
    target = invoice(5, "45.00", last="Elders")
    tx = StatementTransaction.objects.get(statement=result.statement, position=1)
    reconciliation.match_manually(tx, invoice_number="2026-000005", actor=None)
    target.refresh_from_db()
    tx.refresh_from_db()
    assert target.status == Invoice.Status.PAID and tx.match == Match.MANUAL and tx.payment.amount == 45
    out = StatementTransaction.objects.get(statement=result.statement, position=3)
    reconciliation.ignore_transaction(out, actor=None)
    out.refresh_from_db()
    assert out.match == Match.IGNORED


def test_return_table_covers_the_codes():
    for code in "AC01 AC04 AC06 AG01 AM04 MD01 MD02 MD06 MD07 MS02 MS03 RR01 RR02 RR03 RR04 SL01 FF01 AM05 BE05 CNOR DNOR TM01".split():
        entry = returns.RETURN_ACTIONS[code]
        assert entry.action in returns.ACTION_LABELS and str(entry.meaning) and str(entry.treasurer)
    assert returns.action_for("XX99").action == returns.CHECK


def test_bulk_recorder_follows_record_payment_rules():
    """record_statement_payments gives the same invoices, payments and audit as record_payment."""
    from kring.billing.services import record_payment
    from kring.core.models import AuditEntry

    pairs = []
    for sequence in (11, 12):
        pairs.append(invoice(sequence, "20.00", last=f"Paar{sequence}"))
    one, two = pairs
    Invoice.objects.filter(pk=two.pk).update(status=Invoice.Status.IN_COLLECTION)
    written_off = invoice(13, "20.00", last="Weg")
    Invoice.objects.filter(pk=written_off.pk).update(status=Invoice.Status.WRITTEN_OFF)
    entry = reconciliation.PaymentEntry
    out = reconciliation.record_statement_payments(
        [
            entry(one.pk, Decimal("5.00"), date(2026, 3, 1), "transfer", "x:1"),
            entry(one.pk, Decimal("15.00"), date(2026, 3, 2), "transfer", "x:2"),
            entry(two.pk, Decimal("20.00"), date(2026, 3, 2), "direct_debit", "x:3"),
            entry(two.pk, Decimal("20.00"), date(2026, 3, 2), "direct_debit", "x:3"),  # twice: once
            entry(written_off.pk, Decimal("20.00"), date(2026, 3, 2), "transfer", "x:4"),  # refused
            entry(one.pk, Decimal("-30.00"), date(2026, 3, 3), "reversal", "x:5"),  # more than paid: refused
        ],
        actor=None,
    )
    assert [type(o).__name__ if o not in (None, "duplicate") else o for o in out] == [
        "Payment",
        "Payment",
        "Payment",
        "duplicate",
        None,
        None,
    ]
    for obj in (one, two):
        obj.refresh_from_db()
    assert (one.amount_paid, one.status) == (Decimal("20.00"), Invoice.Status.PAID)
    assert (two.amount_paid, two.status) == (Decimal("20.00"), Invoice.Status.PAID)
    assert AuditEntry.objects.filter(action="billing.payment_recorded").count() == 3
    # The same invoice reversed through record_payment: the rules line up.
    record_payment(one, amount=Decimal("-20.00"), paid_on=date(2026, 3, 4), method="reversal", actor=None)
    one.refresh_from_db()
    assert one.status == Invoice.Status.REVERSED
    assert reconciliation.record_statement_payments(
        [entry(one.pk, Decimal("20.00"), date(2026, 3, 5), "transfer", "x:6")], actor=None
    )[0].amount == Decimal("20.00")
    one.refresh_from_db()
    assert one.status == Invoice.Status.PAID
