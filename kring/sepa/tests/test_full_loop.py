"""The closed loop: invoice run → pre-notification → collection file → a camt.053 statement answering
it with returns → reconciliation → retry / suspended mandate → membership status."""

from datetime import date
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import translation
from freezegun import freeze_time
from lxml import etree

from kring.billing.invoicing import run_invoices
from kring.billing.models import Invoice
from kring.members.models import Membership
from kring.members.tests.factories import PlanFactory, ensure_default_lists
from kring.sepa import pain008, services
from kring.sepa.collection import collect
from kring.sepa.models import CollectionItem, Mandate
from kring.sepa.tests.collect_helpers import IBAN_ABN, IBAN_ING, IBAN_RABO, creditor, debtor


@pytest.fixture(autouse=True)
def in_english():
    """These tests read the reasons and messages in English (the site's default is Dutch)."""
    with translation.override("en"):
        yield


pytestmark = pytest.mark.django_db
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.008.001.08"}
IBAN_OTHER = "NL44RABO0123456789"


def camt053(
    batch_message_id: str, booked: date, paid: list[tuple[str, str, str, str]], returned: list[tuple]
) -> bytes:
    """A camt.053.001.02 statement: one batch-booked entry with the details of each debit, then one
    entry per return (end-to-end id, mandate id, amount, reason code)."""
    details = "".join(
        f"<TxDtls><Refs><EndToEndId>{e2e}</EndToEndId><MndtId>{mandate}</MndtId></Refs>"
        f'<AmtDtls><TxAmt><Amt Ccy="EUR">{amount}</Amt></TxAmt></AmtDtls>'
        f"<RltdPties><Dbtr><Nm>{name}</Nm></Dbtr></RltdPties></TxDtls>"
        for e2e, mandate, amount, name in paid
    )
    total = sum(Decimal(amount) for _e, _m, amount, _n in paid)
    entries = [
        f'<Ntry><NtryRef>DD-{booked:%Y%m%d}</NtryRef><Amt Ccy="EUR">{total}</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
        f"<Sts>BOOK</Sts><BookgDt><Dt>{booked}</Dt></BookgDt><ValDt><Dt>{booked}</Dt></ValDt>"
        f"<AcctSvcrRef>BATCH-{booked:%m%d}</AcctSvcrRef>"
        "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>IDDT</Cd><SubFmlyCd>ESDD</SubFmlyCd></Fmly></Domn></BkTxCd>"
        f"<NtryDtls><Btch><MsgId>{batch_message_id}</MsgId><NbOfTxs>{len(paid)}</NbOfTxs>"
        f'<TtlAmt Ccy="EUR">{total}</TtlAmt><CdtDbtInd>CRDT</CdtDbtInd></Btch>{details}</NtryDtls></Ntry>'
    ]
    for number, (e2e, mandate, amount, reason) in enumerate(returned, start=1):
        entries.append(
            f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>'
            f"<BookgDt><Dt>{booked}</Dt></BookgDt><ValDt><Dt>{booked}</Dt></ValDt>"
            f"<AcctSvcrRef>RTRN-{booked:%m%d}-{number}</AcctSvcrRef>"
            "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>IDDT</Cd><SubFmlyCd>UPDD</SubFmlyCd></Fmly></Domn></BkTxCd>"
            f"<NtryDtls><TxDtls><Refs><EndToEndId>{e2e}</EndToEndId><MndtId>{mandate}</MndtId></Refs>"
            f'<AmtDtls><TxAmt><Amt Ccy="EUR">{amount}</Amt></TxAmt></AmtDtls>'
            f"<RtrInf><Rsn><Cd>{reason}</Cd></Rsn></RtrInf></TxDtls></NtryDtls></Ntry>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>STMT-{booked:%Y%m%d}</MsgId><CreDtTm>{booked}T22:00:00</CreDtTm></GrpHdr>"
        f"<Stmt><Id>{booked:%m%d}</Id><CreDtTm>{booked}T22:00:00</CreDtTm>"
        f"<Acct><Id><IBAN>{IBAN_ABN}</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        f"{''.join(entries)}</Stmt></BkToCstmrStmt></Document>"
    ).encode()


def test_full_loop(django_capture_on_commit_callbacks):
    try:
        from kring.sepa.reconciliation import import_statement
    except ImportError:
        pytest.skip("kring.sepa.reconciliation.import_statement is not there yet")
    ensure_default_lists()
    creditor()
    plan = PlanFactory(code="loop", name="Lid", yearly_price=Decimal("60.00"))
    people = {}
    for name, iban in (("Paid", IBAN_RABO), ("Funds", IBAN_ING), ("Nomandate", IBAN_OTHER)):
        member, mandate = debtor(iban=iban, last_name=name)
        membership = Membership.objects.create(
            member=member,
            plan=plan,
            billing_frequency="yearly",
            status="pending",
            start_date=date(2027, 1, 1),
        )
        people[name] = (member, mandate, membership)

    with freeze_time("2027-01-04 09:00:00+01:00"):
        run = run_invoices("2027-Q1", invoice_date=date(2027, 1, 4), actor=None)
        assert run.invoice_count == 3
        announced = services.announce_collection(date(2027, 1, 25), actor=None)
    assert announced.invoice_count == 3 and len(mail.outbox) == 3
    invoices = {name: Invoice.objects.get(member=people[name][0]) for name in people}

    with freeze_time("2027-01-20 09:00:00+01:00"):
        result = collect(date(2027, 1, 25), actor=None)
    assert result.count == 3 and result.total == Decimal("180.00")
    xml = bytes(result.batch.xml)
    assert pain008.validate(xml) == []
    assert {e.text for e in etree.fromstring(xml).iterfind(".//p:SeqTp", NS)} == {"RCUR"}

    paid = [
        (invoices[name].number, people[name][1].reference, "60.00", name)
        for name in ("Paid", "Funds", "Nomandate")
    ]
    returned = [
        (invoices["Funds"].number, people["Funds"][1].reference, "60.00", "AM04"),
        (invoices["Nomandate"].number, people["Nomandate"][1].reference, "60.00", "MD01"),
    ]
    statement = camt053(result.batch.message_id, date(2027, 1, 27), paid, returned)
    with freeze_time("2027-01-28 09:00:00+01:00"), django_capture_on_commit_callbacks(execute=True):
        imported = import_statement(statement, "loop.xml", actor=None)
    assert imported.returns == 2, imported.message
    for obj in (*invoices.values(), *(p[1] for p in people.values()), *(p[2] for p in people.values())):
        obj.refresh_from_db()
    # Paid: the membership follows the money and becomes active.
    assert invoices["Paid"].status == Invoice.Status.PAID
    assert people["Paid"][2].status == Membership.Status.ACTIVE
    # Insufficient funds: open again, the membership stays pending, collected once more.
    assert invoices["Funds"].status == Invoice.Status.REVERSED
    assert people["Funds"][2].status == Membership.Status.PENDING
    # No mandate: the mandate is suspended; the next collection lists it with the reason.
    assert people["Nomandate"][1].status == Mandate.Status.SUSPENDED

    with freeze_time("2027-01-28 10:00:00+01:00"):
        again = services.announce_collection(date(2027, 2, 25), actor=None)
    assert again.invoice_count == 1  # only the AM04 invoice: its mandate is still active
    with freeze_time("2027-02-20 09:00:00+01:00"):
        retry = collect(date(2027, 2, 25), actor=None)
    assert retry.count == 1
    item = CollectionItem.objects.get(batch=retry.batch)
    assert item.invoice_id == invoices["Funds"].pk and item.attempt == 2 and item.sequence_type == "RCUR"
    reasons = {u.number: u.reason for u in retry.uncollectable}
    assert "suspended" in reasons[invoices["Nomandate"].number]
