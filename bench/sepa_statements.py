"""Benchmark: a camt.053 statement of `count` entries imported and matched (kring.sepa.reconciliation),
beside its floor: parsing the same XML with lxml alone plus one bare INSERT of as many
statement-transaction rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kring_bench_stmt .venv/bin/python -m bench.sepa_statements 100000
    DATABASE_URL=sqlite:////tmp/stmt.sqlite3 .venv/bin/python -m bench.sepa_statements 100000

The database must be migrated and hold no invoices. It seeds 2,000 demo members and `count` open
invoices of this year (not timed), then writes a statement whose entries pay them: 45 % with the
betalingskenmerk in Strd, 25 % with the invoice number in the text, 20 % as a batch-booked
collection with details (end-to-end id = invoice number), 5 % by amount and name only, 5 % that
match nothing (gifts).
"""

import argparse
import json
import os
import random
import time
from datetime import date
from decimal import Decimal
from xml.sax.saxutils import escape


def _setup(count: int) -> list:
    from django.db import connection

    from kring.billing.models import Invoice
    from kring.billing.references import dutch_reference
    from kring.members import demo
    from kring.members.models import Member

    if Invoice.objects.exists():
        raise RuntimeError("bench.sepa_statements needs a database without invoices")
    if not Member.objects.exists():
        demo.seed_demo(2000, demo.DEFAULT_SEED)
    members = list(Member.objects.values_list("pk", "first_name", "last_name")[:2000])
    year = date.today().year
    rng = random.Random(11)
    invoices = []
    for n in range(1, count + 1):
        pk, first, last = members[n % len(members)]
        # Unique amounts for the amount-and-name share, so that exactly one invoice fits.
        amount = Decimal(rng.randint(1000, 9000)) / 100 if n % 20 >= 2 else Decimal(100000 + n) / 100
        invoices.append(
            Invoice(
                number=f"{year}-{n:06d}",
                year=year,
                sequence=n,
                invoice_date=date(year, 1, 5),
                due_date=date(year, 1, 19),
                member_id=pk,
                payer_member_id=pk,
                recipient_name=f"{first} {last}".strip(),
                total_excl_vat=amount,
                total=amount,
            )
        )
    Invoice.objects.bulk_create(invoices, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    return [
        (
            inv.number,
            inv.year,
            inv.sequence,
            inv.total,
            inv.recipient_name,
            dutch_reference(inv.year, inv.sequence),
        )
        for inv in invoices
    ]


def statement_xml(rows: list) -> bytes:
    """A camt.053.001.02 statement paying `rows` (number, year, sequence, amount, name, kenmerk)."""
    today = date.today().isoformat()
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
        "<BkToCstmrStmt><GrpHdr><MsgId>BENCH</MsgId><CreDtTm>2026-01-01T00:00:00</CreDtTm></GrpHdr><Stmt>"
        "<Id>BENCH-1</Id><Acct><Id><IBAN>NL44RABO0123456789</IBAN></Id></Acct>"
    ]

    def entry(ref, amount, sign, details):
        return (
            f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>{sign}</CdtDbtInd><Sts>BOOK</Sts>'
            f"<BookgDt><Dt>{today}</Dt></BookgDt><ValDt><Dt>{today}</Dt></ValDt><AcctSvcrRef>{ref}</AcctSvcrRef>"
            "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>"
            f"<NtryDtls>{details}</NtryDtls></Ntry>"
        )

    def tx(amount, name, *, e2e="NOTPROVIDED", strd="", ustrd="", iban="NL91ABNA0417164300"):
        remittance = ""
        if strd:
            remittance = f"<RmtInf><Strd><CdtrRefInf><Ref>{strd}</Ref></CdtrRefInf></Strd></RmtInf>"
        elif ustrd:
            remittance = f"<RmtInf><Ustrd>{escape(ustrd)}</Ustrd></RmtInf>"
        return (
            f'<TxDtls><Refs><EndToEndId>{e2e}</EndToEndId></Refs><AmtDtls><TxAmt><Amt Ccy="EUR">{amount}</Amt></TxAmt></AmtDtls>'
            f"<RltdPties><Dbtr><Nm>{escape(name)}</Nm></Dbtr><DbtrAcct><Id><IBAN>{iban}</IBAN></Id></DbtrAcct></RltdPties>"
            f"{remittance}</TxDtls>"
        )

    batch: list = []
    for position, (number, _year, _sequence, amount, name, kenmerk) in enumerate(rows, start=1):
        kind = position % 20
        if kind in (0,):  # nothing to match: a gift
            parts.append(entry(f"R{position}", "12.34", "CRDT", tx("12.34", "Onbekende Gever", ustrd="gift")))
        elif kind == 1:
            parts.append(entry(f"R{position}", amount, "CRDT", tx(amount, name, ustrd="contributie")))
        elif kind < 11:
            parts.append(entry(f"R{position}", amount, "CRDT", tx(amount, name, strd=kenmerk)))
        elif kind < 16:
            parts.append(
                entry(f"R{position}", amount, "CRDT", tx(amount, name, ustrd=f"Factuur {number} contributie"))
            )
        else:
            batch.append((number, amount, name))
            if len(batch) == 100:
                total = sum(a for _n, a, _m in batch)
                details = "<Btch><PmtInfId>B</PmtInfId><NbOfTxs>100</NbOfTxs></Btch>" + "".join(
                    tx(a, m, e2e=n) for n, a, m in batch
                )
                parts.append(entry(f"B{position}", total, "CRDT", details))
                batch = []
    for number, amount, name in batch:
        parts.append(entry(f"E{number}", amount, "CRDT", tx(amount, name, e2e=number)))
    parts.append("</Stmt></BkToCstmrStmt></Document>")
    return "".join(parts).encode()


def floor(data: bytes, rows: int) -> float:
    """lxml parsing the same bytes, plus one bare INSERT of `rows` statement-transaction rows."""
    from django.db import connection, transaction
    from lxml import etree

    from kring.sepa.models import BankStatement

    started = time.perf_counter()
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    entries = len(root.findall(".//{*}Ntry"))
    today = date.today().isoformat()
    with transaction.atomic():
        statement = BankStatement.objects.create(format="camt053", file_sha256="floor" + str(time.time()))
        values = [
            (
                statement.pk,
                n,
                f"R{n}",
                today,
                "10.00",
                False,
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "unmatched",
            )
            for n in range(1, rows + 1)
        ]
        columns = (
            "statement_id, position, entry_reference, booking_date, amount, is_return, return_reason, "
            "bank_transaction_code, end_to_end_id, mandate_reference, batch_reference, remittance, "
            "structured_reference, counterparty_name, counterparty_iban, counterparty_iban_masked, "
            "counterparty_iban_fingerprint, match"
        )
        placeholders = ", ".join(["%s"] * 18)
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO sepa_statementtransaction ({columns}) VALUES ({placeholders})", values
            )
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    assert entries > 0
    return seconds


def run(count: int) -> dict:
    from kring.billing.models import Invoice, Payment
    from kring.sepa.models import StatementTransaction
    from kring.sepa.reconciliation import import_statement

    started = time.perf_counter()
    rows = _setup(count)
    setup_seconds = time.perf_counter() - started
    data = statement_xml(rows)
    floor_seconds = floor(data, count)

    started = time.perf_counter()
    result = import_statement(data, "bench.xml", actor=None)
    seconds = time.perf_counter() - started

    started = time.perf_counter()
    again = import_statement(data, "bench.xml", actor=None)
    again_seconds = time.perf_counter() - started
    assert again.already_imported
    matched = {str(k): v for k, v in result.matched.items()}
    return {
        "entries": StatementTransaction.objects.count(),
        "seconds": seconds,
        "floor_seconds": floor_seconds,
        "setup_seconds": setup_seconds,
        "again_seconds": again_seconds,
        "bytes": len(data),
        "matched": matched,
        "unmatched": result.unmatched,
        "payments": Payment.objects.count(),
        "paid_invoices": Invoice.objects.filter(status="paid").count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, nargs="?", default=100_000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kring.settings")
    import django

    django.setup()
    print(json.dumps(run(args.count), indent=2))


if __name__ == "__main__":
    main()
