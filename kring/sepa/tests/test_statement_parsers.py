"""camt.053 and CODA files read into plain data: counts, amounts, signs, references, returns,
batches with and without details; broken, truncated and hostile files refused with the line."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from kring.sepa.statements import StatementFileError, detect_format, parse_statement

FILES = Path(__file__).parent / "files"


def parse(name: str):
    return parse_statement((FILES / name).read_bytes())


def test_rabobank_001_02():
    s = parse("rabobank_camt053_001_02.xml")
    assert (s.format, s.version, s.account_iban) == ("camt053", "camt.053.001.02", "NL44RABO0123456789")
    assert (s.opening_balance, s.closing_balance) == (Decimal("1250.00"), Decimal("1322.50"))
    assert s.opening_balance + sum(t.amount for t in s.transactions) == s.closing_balance
    kenmerk, text, out = s.transactions
    assert (kenmerk.amount, kenmerk.structured_reference, kenmerk.end_to_end_id) == (
        Decimal("45.00"),
        "4202600000000001",
        "",
    )
    assert (kenmerk.counterparty_name, kenmerk.counterparty_iban) == ("J. Jansen", "NL91ABNA0417164300")
    assert text.remittance == "Contributie 2026 factuur 2026-000002 A. de Vries"
    assert out.amount == Decimal("-32.50") and out.counterparty_name == "Drukkerij Van der Linden BV"
    assert kenmerk.bank_transaction_code == "PMNT/RCDT/ESCT" and not any(t.is_return for t in s.transactions)


def test_ing_batch_with_details_and_returns():
    s = parse("ing_camt053_001_02_collection.xml")
    assert len(s.transactions) == 5
    debits = s.transactions[:3]
    assert [t.end_to_end_id for t in debits] == ["2026-000003", "2026-000004", "2026-000005"]
    assert {t.batch_reference for t in debits} == {"KRING-20260325-RCUR"}
    assert [t.mandate_reference for t in debits] == ["KRING-M-0003", "KRING-M-0004", "KRING-M-0005"]
    assert sum(t.amount for t in debits) == Decimal("112.50")
    am04, md01 = s.transactions[3:]
    assert (am04.is_return, am04.return_reason, am04.amount) == (True, "AM04", Decimal("-37.50"))
    assert (md01.is_return, md01.return_reason, md01.end_to_end_id) == (True, "MD01", "2026-000005")
    assert am04.counterparty_name == "M. Visser"  # the debtor, also on a return
    assert (s.period_from, s.period_to) == (date(2026, 3, 25), date(2026, 3, 27))


def test_abnamro_deviations_batch_without_details_and_reversal():
    s = parse("abnamro_camt053_001_04.xml")
    assert s.version == "camt.053.001.04" and s.account_iban == "NL02ABNA0123456789"
    plain, batch, reversal = s.transactions
    # An entry without NtryDtls: its details come from ABN AMRO's /NAME/…/REMI/ text.
    assert (plain.amount, plain.counterparty_name, plain.counterparty_iban) == (
        Decimal("35.00"),
        "P. BAKKER",
        "NL86INGB0002445588",
    )
    assert (batch.amount, batch.batch_count, batch.batch_reference) == (
        Decimal("75.00"),
        2,
        "KRING-20260425-1",
    )
    assert (reversal.is_return, reversal.return_reason, reversal.amount) == (True, "AC04", Decimal("-37.50"))


def test_kbc_001_08_ogm_and_returns():
    s = parse("kbc_camt053_001_08.xml")
    assert s.version == "camt.053.001.08"
    ogm, ms02, md06 = s.transactions
    assert (ogm.structured_reference, ogm.counterparty_name) == ("260000000170", "Dirk Peeters")
    assert [(t.return_reason, t.is_return) for t in (ms02, md06)] == [("MS02", True), ("MD06", True)]


def test_lower_case_tags_and_no_namespace_are_read():
    data = (FILES / "rabobank_camt053_001_02.xml").read_bytes()
    data = data.replace(b"<Ntry>", b"<ntry>").replace(b"</Ntry>", b"</ntry>")
    data = data.replace(b' xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"', b"")
    s = parse_statement(data)
    assert len(s.transactions) == 3 and s.version == ""


def test_coda_collections_returns_and_ogm():
    s = parse("kbc_coda_collections.cod")
    assert (s.format, s.account_iban) == ("coda", "BE68539007547034")
    assert (s.opening_balance, s.closing_balance) == (Decimal("1000.00"), Decimal("1078.75"))
    first, second, ogm, back, costs = s.transactions
    assert [first.end_to_end_id, second.end_to_end_id] == ["2026-000001", "2026-000002"]
    assert (first.mandate_reference, first.amount, first.counterparty_iban) == (
        "KRING-BE-0001",
        Decimal("40.00"),
        "BE71096123456769",
    )
    assert (ogm.structured_reference, ogm.counterparty_name) == ("260000000372", "Jan Maes")
    assert (back.is_return, back.return_reason, back.amount) == (True, "MS03", Decimal("-40.00"))
    assert costs.amount == Decimal("-1.25") and not costs.is_return


def coda_lines():
    return (FILES / "kbc_coda_collections.cod").read_bytes().decode("latin-1").splitlines()


def test_coda_trailer_mismatch_is_an_error():
    lines = coda_lines()
    lines[-1] = lines[-1][:16] + "000014" + lines[-1][22:]
    with pytest.raises(StatementFileError) as error:
        parse_statement("\n".join(lines).encode("latin-1"))
    assert error.value.line == len(lines)


def test_coda_sum_mismatch_is_an_error():
    lines = coda_lines()
    lines[-1] = lines[-1][:37] + "000000000121000" + lines[-1][52:]
    with pytest.raises(StatementFileError):
        parse_statement("\n".join(lines).encode("latin-1"))


def test_coda_wrong_line_length_names_the_line():
    lines = coda_lines()
    lines[3] = lines[3][:100]
    with pytest.raises(StatementFileError) as error:
        parse_statement("\n".join(lines).encode("latin-1"))
    assert error.value.line == 4


def test_coda_lf_and_trailing_spaces_are_fine():
    lines = [line + "   " for line in coda_lines()]
    assert len(parse_statement("\n".join(lines).encode("latin-1")).transactions) == 5


def test_coda_without_trailer_is_refused():
    with pytest.raises(StatementFileError):
        parse_statement("\n".join(coda_lines()[:-1]).encode("latin-1"))


def test_truncated_xml_names_the_line():
    data = (FILES / "ing_camt053_001_02_collection.xml").read_bytes()
    with pytest.raises(StatementFileError) as error:
        parse_statement(data[: len(data) // 2])
    assert error.value.line and error.value.line > 10


def test_doctype_and_entity_bomb_refused():
    bomb = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>&lol2;</BkToCstmrStmt></Document>"""
    with pytest.raises(StatementFileError) as error:
        parse_statement(bomb)
    assert error.value.line == 2


def test_external_entity_refused():
    xxe = b"""<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><Document>&x;</Document>"""
    with pytest.raises(StatementFileError):
        parse_statement(xxe)


def test_not_a_statement():
    with pytest.raises(StatementFileError):
        parse_statement(
            b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.008.001.08"/>'
        )


def test_bad_amount_names_the_line():
    data = (FILES / "rabobank_camt053_001_02.xml").read_bytes().replace(b">45.00<", b">45,00x<", 1)
    with pytest.raises(StatementFileError) as error:
        parse_statement(data)
    assert error.value.line is not None


def test_detect_format():
    assert detect_format(b"\xef\xbb\xbf<?xml version='1.0'?>") == "camt053"
    assert detect_format((FILES / "kbc_coda_collections.cod").read_bytes()) == "coda"
