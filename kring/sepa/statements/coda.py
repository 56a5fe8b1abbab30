"""CODA, the Belgian banks' statement format (Febelfin standard, version 2): 128-character records.

Records read: 0 header (creation date), 1 old balance (account: structure 2 = Belgian IBAN in
positions 6-21, 3 = foreign IBAN in 6-39; 0/1 = old account numbers), 21/22/23 movements
(amount 15 digits with 3 decimals and a sign code, value date, 8-digit transaction code,
communication type 0 free / 1 structured — code 101 is the 12-digit OGM —, entry date, the
customer reference = SEPA end-to-end id and the ISO return reason in 22, the counterparty's
account and name in 23), 31/32/33 information (read for the communication), 4 free text
(skipped), 8 new balance and 9 trailer, whose record count and debit/credit sums are checked.

A movement booked globally (detail number 0000) followed by its details (0001, 0002 …) gives
one transaction per detail; without details, one for the whole amount with the bank reference as
batch reference. Trailing spaces after position 128 and CRLF are fine; any other line length is refused.
"""

from datetime import date
from decimal import Decimal

from django.utils.translation import gettext as _

from kring.sepa.statements.base import ParsedStatement, ParsedTransaction, StatementFileError

RECORD_LENGTH = 128
THOUSANDTH = Decimal("0.001")
CENT = Decimal("0.01")
# Family 05 (direct debit) codes that mean money came back: 03 unpaid, 05 refund, 54-58 for the creditor.
RETURN_CODES = frozenset({"0503", "0505", "0554", "0556", "0558"})


def _error(number: int, message: str) -> StatementFileError:
    return StatementFileError(
        _("Line %(line)s: %(problem)s") % {"line": number, "problem": message}, line=number
    )


def _amount(number: int, sign: str, digits: str) -> Decimal:
    if not digits.isdigit() or sign not in "01":
        raise _error(number, _("“%(value)s” is not an amount.") % {"value": digits})
    value = (Decimal(digits) * THOUSANDTH).quantize(CENT)
    return -value if sign == "1" else value


def _date(number: int, text: str) -> date | None:
    if text.strip("0 ") == "":
        return None
    try:
        return date(2000 + int(text[4:6]), int(text[2:4]), int(text[0:2]))
    except ValueError:
        raise _error(number, _("“%(value)s” is not a date (DDMMYY).") % {"value": text}) from None


class _Movement:
    def __init__(self):
        self.lines: dict[str, str] = {}
        self.info = ""
        self.number = 0


def _communication(movement: _Movement) -> str:
    return (
        movement.lines.get("21", " " * 128)[62:115]
        + movement.lines.get("22", " " * 128)[10:63]
        + movement.lines.get("23", " " * 128)[82:125]
    )


def _transaction(movement: _Movement, batch_count: int = 1) -> ParsedTransaction:
    r21 = movement.lines["21"]
    r22 = movement.lines.get("22", " " * 128)
    r23 = movement.lines.get("23", " " * 128)
    number = movement.number
    amount = _amount(number, r21[31], r21[32:47])
    code = r21[53:61]
    structured = r21[61] == "1"
    communication = _communication(movement)
    reference, mandate, text = "", "", ""
    if structured:
        kind = communication[0:3]
        if kind == "101" or kind == "102":
            reference = communication[3:15].strip()
        elif kind == "127":  # SEPA direct debit: creditor id, mandate reference, communication
            mandate = communication[47:82].strip()
            text = communication[82:]
        else:
            text = communication[3:]
    else:
        text = communication
    if movement.info:
        text = f"{text} {movement.info}"
    reason = r22[113:117].strip()
    r_type = r22[112].strip()
    account = r23[10:44].strip().replace(" ", "").upper()
    return ParsedTransaction(
        booking_date=_date(number, r21[115:121]) or _date(number, r21[47:53]),
        value_date=_date(number, r21[47:53]),
        amount=amount,
        entry_reference=(r21[10:31].strip() + (f"/{r21[6:10]}" if r21[6:10] != "0000" else ""))[:100],
        is_return=bool(reason or r_type) or code[1:5] in RETURN_CODES,
        return_reason=reason.upper(),
        bank_transaction_code=code.strip(),
        end_to_end_id=r22[63:98].strip()[:35] if r22[63:98].strip().upper() != "NOTPROVIDED" else "",
        mandate_reference=mandate[:35],
        batch_reference=r21[10:31].strip() if batch_count > 1 else "",
        batch_count=batch_count,
        remittance=" ".join(text.split())[:500],
        structured_reference=reference,
        counterparty_name=" ".join(r23[47:82].split())[:140],
        counterparty_iban=account if account[:2].isalpha() else "",
    )


def parse_coda(data: bytes) -> ParsedStatement:
    text = data.decode("latin-1")
    parsed = ParsedStatement(format="coda", version="CODA 2")
    counted = 0
    with_eight = 0
    debit_sum = credit_sum = Decimal("0")
    trailer = None
    movements: list[list[_Movement]] = []  # per sequence number: the global movement and its details
    current: _Movement | None = None
    seen_header = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        if len(line) > RECORD_LENGTH and not line[RECORD_LENGTH:].strip():
            line = line[:RECORD_LENGTH]  # trailing spaces added by some software
        if len(line) != RECORD_LENGTH:
            raise _error(
                number,
                _("a CODA record has 128 characters; this one has %(length)s.") % {"length": len(line)},
            )
        kind = line[0]
        if kind == "0":
            seen_header = True
            parsed.period_to = _date(number, line[5:11])
        elif not seen_header:
            raise _error(number, _("the file does not start with a CODA header record (0)."))
        elif kind == "1":
            counted += 1
            structure = line[1]
            if structure == "2":
                parsed.account_iban = line[5:21].strip()
            elif structure == "3":
                parsed.account_iban = line[5:39].strip()
            else:
                parsed.account_iban = line[5:17].strip()
            parsed.opening_balance = _amount(number, line[42], line[43:58])
            parsed.period_from = _date(number, line[58:64])
            parsed.statement_id = line[2:5] if not parsed.statement_id else parsed.statement_id
        elif kind == "2":
            counted += 1
            sub = line[0:2]
            if sub == "21":
                current = _Movement()
                current.number = number
                current.lines["21"] = line
                if line[6:10] == "0000" or not movements:
                    movements.append([current])
                    if line[6:10] == "0000":
                        amount = _amount(number, line[31], line[32:47])
                        if amount < 0:
                            debit_sum -= amount
                        else:
                            credit_sum += amount
                else:
                    movements[-1].append(current)
            elif sub in ("22", "23") and current is not None:
                current.lines[sub] = line
            else:
                raise _error(number, _("a record 22 or 23 without its record 21."))
        elif kind == "3":
            counted += 1
            if current is not None:
                if line[1] == "1":
                    current.info += " " + (line[40:113] if line[39] == "0" else "")
                else:
                    current.info += " " + line[10:115]
        elif kind == "4":
            continue
        elif kind == "8":
            with_eight += 1
            parsed.closing_balance = _amount(number, line[41], line[42:57])
            parsed.period_to = _date(number, line[57:63]) or parsed.period_to
        elif kind == "9":
            trailer = (number, line)
        else:
            raise _error(number, _("unknown CODA record type “%(type)s”.") % {"type": kind})
    if trailer is None:
        raise StatementFileError(_("The CODA file is not complete: the closing record (9) is missing."))
    number, line = trailer
    expected_count = line[16:22]
    debit = _amount(number, "0", line[22:37])
    credit = _amount(number, "0", line[37:52])
    if not expected_count.isdigit() or int(expected_count) not in (counted, counted + with_eight):
        raise _error(
            number,
            _("the closing record counts %(expected)s records, the file has %(found)s.")
            % {"expected": expected_count.lstrip("0") or "0", "found": counted},
        )
    if debit != debit_sum or credit != credit_sum:
        raise _error(
            number,
            _(
                "the closing record's totals (debit %(debit)s, credit %(credit)s) differ from the "
                "movements (debit %(found_debit)s, credit %(found_credit)s)."
            )
            % {"debit": debit, "credit": credit, "found_debit": debit_sum, "found_credit": credit_sum},
        )
    if parsed.opening_balance is not None and parsed.closing_balance is not None:
        if parsed.opening_balance + credit_sum - debit_sum != parsed.closing_balance:
            raise StatementFileError(
                _("The CODA file does not add up: old balance plus movements is not the new balance.")
            )
    for group in movements:
        details = group[1:] if group[0].lines["21"][6:10] == "0000" else group
        if details and len(group) > 1:
            parsed.transactions.extend(_transaction(m) for m in details)
        else:
            glob = group[0]
            count = 2 if glob.lines["21"][124] not in (" ", "0") else 1
            parsed.transactions.append(_transaction(glob, batch_count=count))
    return parsed
