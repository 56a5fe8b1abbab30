"""A pain.008.001.08 collection file of `count` debits, built (kring.sepa.pain008.build_pain008:
transliteration, field lengths, checks) and validated (official XSD + Kring's own rules), beside the
floor: the same tree built with plain lxml from ready strings, serialised and XSD-validated. No database."""

import random
import time
from datetime import date, datetime
from decimal import Decimal

from lxml import etree

from kring.sepa import pain008
from kring.sepa.pain008 import Batch, CreditorInfo, Debit, build_pain008, validate

FIRST = [
    "José",
    "Anneke",
    "Björn",
    "Zoë",
    "Łukasz",
    "Mohammed",
    "Fatma",
    "Jan",
    "Els",
    "Noël",
    "Søren",
    "Inès",
]
LAST = [
    "Müller",
    "de Vries",
    "Jansen & Zn",
    "van 't Hof",
    "Dubois",
    "Öztürk",
    "Peeters",
    "Bakker",
    "Smit",
    "Ålund",
]


def debits(count: int) -> list[Debit]:
    rng = random.Random(7)
    return [
        Debit(
            end_to_end_id=f"KR-2027-{n:06d}",
            amount=Decimal(rng.randint(500, 25000)) / 100,
            mandate_id=f"KR-M-{n:06d}",
            mandate_signed_on=date(2024, 1, 1),
            debtor_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            debtor_iban="NL02RABO0123456789",
            remittance=f"Contributie 2027 factuur KR-2027-{n:06d}",
            sequence_type="OOFF" if n % 50 == 0 else "RCUR",
        )
        for n in range(count)
    ]


def floor(creditor: CreditorInfo, batch: Batch) -> bytes:
    """Plain lxml: the same elements from strings that need no conversion, no checks, no own rules."""
    ns = "urn:iso:std:iso:20022:tech:xsd:pain.008.001.08"
    S = etree.SubElement

    def q(tag):
        return f"{{{ns}}}{tag}"

    def chain(parent, tags, text=None):
        for tag in tags.split("/"):
            parent = S(parent, q(tag))
        if text is not None:
            parent.text = text
        return parent

    groups: dict = {}
    for d in batch.debits:
        groups.setdefault(d.sequence_type, []).append(d)
    root = etree.Element(q("Document"), nsmap={None: ns})
    init = S(root, q("CstmrDrctDbtInitn"))
    header = S(init, q("GrpHdr"))
    chain(header, "MsgId", batch.message_id)
    chain(header, "CreDtTm", batch.created_at.isoformat())
    chain(header, "NbOfTxs", str(len(batch.debits)))
    chain(header, "CtrlSum", str(sum(d.amount for d in batch.debits)))
    chain(header, "InitgPty/Nm", creditor.name)
    for number, (seq, group) in enumerate(sorted(groups.items()), 1):
        info = S(init, q("PmtInf"))
        chain(info, "PmtInfId", f"{batch.message_id}-{number}")
        chain(info, "PmtMtd", "DD")
        chain(info, "BtchBookg", "true")
        chain(info, "NbOfTxs", str(len(group)))
        chain(info, "CtrlSum", str(sum(d.amount for d in group)))
        kind = S(info, q("PmtTpInf"))
        chain(kind, "SvcLvl/Cd", "SEPA")
        chain(kind, "LclInstrm/Cd", "CORE")
        chain(kind, "SeqTp", seq)
        chain(info, "ReqdColltnDt", batch.collection_date.isoformat())
        chain(info, "Cdtr/Nm", creditor.name)
        chain(info, "CdtrAcct/Id/IBAN", creditor.iban)
        chain(info, "CdtrAgt/FinInstnId/BICFI", creditor.bic)
        chain(info, "ChrgBr", "SLEV")
        other = chain(info, "CdtrSchmeId/Id/PrvtId/Othr")
        chain(other, "Id", creditor.creditor_id)
        chain(other, "SchmeNm/Prtry", "SEPA")
        for d in group:
            tx = S(info, q("DrctDbtTxInf"))
            chain(tx, "PmtId/EndToEndId", d.end_to_end_id)
            chain(tx, "InstdAmt", str(d.amount)).set("Ccy", "EUR")
            mandate = chain(tx, "DrctDbtTx/MndtRltdInf")
            chain(mandate, "MndtId", d.mandate_id)
            chain(mandate, "DtOfSgntr", d.mandate_signed_on.isoformat())
            chain(mandate, "AmdmntInd", "false")
            chain(tx, "DbtrAgt/FinInstnId/Othr/Id", "NOTPROVIDED")
            chain(tx, "Dbtr/Nm", d.debtor_name)
            chain(tx, "DbtrAcct/Id/IBAN", d.debtor_iban)
            chain(tx, "RmtInf/Ustrd", d.remittance)
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    if not pain008.schema(pain008.PAIN_008_08).validate(root):
        raise RuntimeError("floor tree is not XSD-valid")
    return xml


def run(count: int = 100_000) -> dict:
    creditor = CreditorInfo("Vereniging De Linde", "NL91ABNA0417164300", "NL69ZZZ123456780000", "ABNANL2A")
    items = debits(count)
    batch = Batch("KR-20270120-1", datetime(2027, 1, 20, 10, 0), date(2027, 1, 25), items)
    # The floor's strings are ready-made (as if already in the SEPA set); it gets the ASCII names.
    plain = Batch(
        batch.message_id,
        batch.created_at,
        batch.collection_date,
        [Debit(**{**d.__dict__, "debtor_name": "Jose Muller"}) for d in items],
    )
    pain008.schema(pain008.PAIN_008_08)  # parse the XSD once, outside the timings, for both

    started = time.perf_counter()
    floor_xml = floor(creditor, plain)
    floor_seconds = time.perf_counter() - started

    started = time.perf_counter()
    xml = build_pain008(creditor, batch)
    built = time.perf_counter()
    problems = validate(xml)
    finished = time.perf_counter()
    if problems:
        raise RuntimeError(f"{len(problems)} problems, first: {problems[0]}")
    return {
        "debits": count,
        "seconds": finished - started,
        "build_seconds": built - started,
        "validate_seconds": finished - built,
        "floor_seconds": floor_seconds,
        "bytes": len(xml),
        "floor_bytes": len(floor_xml),
    }


if __name__ == "__main__":
    import os
    import sys

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kring.settings")
    django.setup()
    print(run(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
