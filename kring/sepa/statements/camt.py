"""camt.053 (BankToCustomerStatement) versions 001.02 to 001.08, read leniently and safely.

Safety: no DTD is accepted at all (so no entity expansion bombs and no external entities), the
parser resolves no entities, never goes to the network and keeps lxml's size limits on.

Leniency, as real Dutch and Belgian bank files need it: the version is taken from the namespace
(any camt.053.001.0x, or none at all), element names are matched without their namespace and
regardless of case, values are trimmed and case-insensitive (``dbit``, ``True``), optional
elements may be missing, and an entry without details is read from the entry itself.
"""

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _
from lxml import etree

from kring.sepa.statements.base import ParsedStatement, ParsedTransaction, StatementFileError

_VERSION = re.compile(r"camt\.053\.001\.(\d+)")
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_TAG = re.compile(rb"<([A-Za-z_][\w:.-]*)")
_DEFAULT_NAMESPACE = re.compile(rb"""\sxmlns\s*=\s*["']([^"']*)["']""")
# Bank transaction (sub)family codes that mean money came back: returns, rejects, refunds, reversals.
RETURN_SUBFAMILIES = frozenset(
    {"RRTN", "RJCT", "RFND", "UPCT", "UPDD", "DDRT", "PRDD", "PRCT", "RPCR", "RCDD"}
)

# Every element name we read, so that a lower-case (or otherwise differently cased) file still works.
_NAMES = (
    "Document BkToCstmrStmt GrpHdr MsgId CreDtTm Stmt Id ElctrncSeqNb LglSeqNb FrToDt FrDtTm ToDtTm Acct "
    "IBAN Othr Bal Tp CdOrPrtry Cd Prtry Amt CdtDbtInd Dt DtTm Ntry NtryRef RvslInd Sts BookgDt ValDt "
    "AcctSvcrRef BkTxCd Domn Fmly SubFmlyCd NtryDtls Btch NbOfTxs PmtInfId TtlAmt TxDtls Refs EndToEndId "
    "MndtId InstrId TxId AmtDtls TxAmt InstdAmt RltdPties Dbtr Cdtr Pty Nm DbtrAcct CdtrAcct UltmtDbtr "
    "UltmtCdtr RmtInf Ustrd Strd CdtrRefInf Ref RtrInf Rsn AddtlRtrInf AddtlNtryInf AddtlTxInf"
).split()
_CANONICAL = {name.lower(): name for name in _NAMES}


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )


def _text(element, path: str) -> str:
    if element is None:
        return ""
    found = element.find(path)
    if found is None or found.text is None:
        return ""
    return " ".join(found.text.split())


def _amount(element, path: str) -> Decimal | None:
    found = element.find(path) if element is not None else None
    if found is None or not (found.text or "").strip():
        return None
    try:
        return Decimal(found.text.strip().replace(",", "."))
    except InvalidOperation:
        raise StatementFileError(
            _("Line %(line)s: “%(value)s” is not an amount.")
            % {"line": found.sourceline, "value": found.text},
            line=found.sourceline,
        ) from None


def _date(element, path: str) -> date | None:
    """A date from <path><Dt> or <path><DtTm> (or a bare date in <path>)."""
    found = element.find(path) if element is not None else None
    if found is None:
        return None
    raw = _text(found, "Dt") or _text(found, "DtTm") or " ".join((found.text or "").split())
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise StatementFileError(
            _("Line %(line)s: “%(value)s” is not a date.") % {"line": found.sourceline, "value": raw},
            line=found.sourceline,
        ) from None


def _sign(indicator: str) -> int:
    return -1 if indicator.strip().upper() == "DBIT" else 1


def _true(value: str) -> bool:
    return value.strip().lower() in ("true", "1")


def _bank_code(element) -> tuple[str, str]:
    """('PMNT/RDDT/ESDD' or the proprietary code, the sub-family code)."""
    code = element.find("BkTxCd") if element is not None else None
    if code is None:
        return "", ""
    domain = _text(code, "Domn/Cd")
    family = _text(code, "Domn/Fmly/Cd")
    sub = _text(code, "Domn/Fmly/SubFmlyCd")
    if domain or family:
        return "/".join(p for p in (domain, family, sub) if p)[:40], sub.upper()
    return _text(code, "Prtry/Cd")[:40], ""


def _party(details, role: str) -> str:
    parties = details.find("RltdPties")
    if parties is None:
        return ""
    return _text(parties, f"{role}/Nm") or _text(parties, f"{role}/Pty/Nm")


def _account(details, role: str) -> str:
    parties = details.find("RltdPties")
    if parties is None:
        return ""
    return (_text(parties, f"{role}Acct/Id/IBAN") or "").replace(" ", "").upper()


def _remittance(element) -> tuple[str, str]:
    """(unstructured text, structured creditor reference)."""
    info = element.find("RmtInf") if element is not None else None
    if info is None:
        return "", ""
    unstructured = " ".join(" ".join((u.text or "").split()) for u in info.findall("Ustrd")).strip()
    structured = ""
    for strd in info.findall("Strd"):
        structured = _text(strd, "CdtrRefInf/Ref")
        if structured:
            break
    if not structured:
        structured = _text(info, "CdtrRefInf/Ref")  # some 001.02 files leave out <Strd>
    return unstructured, structured


_SLASH_TAGS = re.compile(r"/(TRTP|IBAN|BIC|NAME|REMI|EREF|MARF|CSID|RTRN|CNTP|ADDR|ISDT)/")


def _slash_tags(text: str) -> dict[str, str]:
    """'/TRTP/SEPA OVERBOEKING/NAME/P. BAKKER/REMI/…' → {'TRTP': 'SEPA OVERBOEKING', 'NAME': …}."""
    parts = _SLASH_TAGS.split(text)
    return {parts[i]: parts[i + 1].strip().rstrip("/").strip() for i in range(1, len(parts) - 1, 2)}


def _end_to_end(refs) -> str:
    value = _text(refs, "EndToEndId") if refs is not None else ""
    return "" if value.upper() == "NOTPROVIDED" else value[:35]


def _transaction(entry_ctx: dict, details, index: int, only: bool) -> ParsedTransaction:
    """One transaction from an entry and (when there are) its details."""
    sign = entry_ctx["sign"]
    amount = None
    if details is not None:
        amount = _amount(details, "AmtDtls/TxAmt/Amt")
        if amount is None:
            amount = _amount(details, "Amt")
        if amount is None:
            amount = _amount(details, "AmtDtls/InstdAmt/Amt")
        indicator = _text(details, "CdtDbtInd")
        if indicator:
            sign = _sign(indicator)
    if amount is None:
        if not only:
            raise StatementFileError(
                _("Line %(line)s: a transaction in a batch has no amount.") % {"line": details.sourceline},
                line=details.sourceline,
            )
        amount = entry_ctx["amount"]
    code, sub = _bank_code(details) if details is not None else ("", "")
    if not code:
        code, sub = entry_ctx["code"], entry_ctx["sub"]
    refs = details.find("Refs") if details is not None else None
    unstructured, structured = _remittance(details)
    if not unstructured:
        unstructured = _text(details, "AddtlTxInf") if details is not None else ""
    if not unstructured and only:
        unstructured = entry_ctx["info"]
    return_info = details.find("RtrInf") if details is not None else None
    reason = ""
    if return_info is not None:
        reason = _text(return_info, "Rsn/Cd") or _text(return_info, "Rsn/Prtry")
    is_return = entry_ctx["reversal"] or return_info is not None or sub in RETURN_SUBFAMILIES
    incoming = sign > 0 or is_return
    first, second = ("Dbtr", "Cdtr") if incoming else ("Cdtr", "Dbtr")
    name, iban = "", ""
    if details is not None:
        name = _party(details, first) or _party(details, "Ultmt" + first) or _party(details, second)
        iban = _account(details, first) or _account(details, second)
    end_to_end = _end_to_end(refs)
    structured = structured or ""
    if details is None and entry_ctx["info"].startswith("/"):
        # ABN AMRO (and others) put the details of an entry without NtryDtls in one text.
        tags = _slash_tags(entry_ctx["info"])
        name = tags.get("NAME", name)
        iban = tags.get("IBAN", iban).replace(" ", "").upper()
        unstructured = tags.get("REMI", unstructured)
        eref = tags.get("EREF", "")
        end_to_end = "" if eref.upper() == "NOTPROVIDED" else eref[:35]
    reference = _text(refs, "AcctSvcrRef") if refs is not None else ""
    if not reference:
        reference = entry_ctx["reference"] + (f"/{index}" if not only else "")
    batch = entry_ctx["batch"] or (_text(refs, "PmtInfId") if refs is not None else "")
    return ParsedTransaction(
        booking_date=entry_ctx["booked"],
        value_date=entry_ctx["value"],
        amount=sign * amount,
        entry_reference=reference[:100],
        is_return=is_return,
        return_reason=reason.upper()[:4],
        bank_transaction_code=code,
        end_to_end_id=end_to_end,
        mandate_reference=(_text(refs, "MndtId") if refs is not None else "")[:35],
        batch_reference=batch[:100],
        remittance=unstructured[:500],
        structured_reference=structured.replace(" ", "")[:35],
        counterparty_name=name[:140],
        counterparty_iban=iban[:34],
    )


def _entry(entry, position: int) -> list[ParsedTransaction]:
    amount = _amount(entry, "Amt")
    booked = _date(entry, "BookgDt") or _date(entry, "ValDt")
    if amount is None or booked is None:
        raise StatementFileError(
            _("Line %(line)s: an entry without an amount or booking date.") % {"line": entry.sourceline},
            line=entry.sourceline,
        )
    code, sub = _bank_code(entry)
    ctx = {
        "amount": amount,
        "sign": _sign(_text(entry, "CdtDbtInd")),
        "booked": booked,
        "value": _date(entry, "ValDt"),
        "reversal": _true(_text(entry, "RvslInd")),
        "code": code,
        "sub": sub,
        "reference": _text(entry, "NtryRef") or _text(entry, "AcctSvcrRef") or f"entry-{position}",
        "info": _text(entry, "AddtlNtryInf"),
        "batch": "",
    }
    details_blocks = entry.findall("NtryDtls")
    transactions: list[ParsedTransaction] = []
    batch_count = 1
    for block in details_blocks:
        batch = block.find("Btch")
        if batch is not None:
            count = _text(batch, "NbOfTxs")
            batch_count = int(count) if count.isdigit() else batch_count
            ctx["batch"] = _text(batch, "PmtInfId") or _text(batch, "MsgId")
        tx_details = block.findall("TxDtls")
        only = len(tx_details) == 1 and len(details_blocks) == 1
        for index, details in enumerate(tx_details, start=1):
            transactions.append(_transaction(ctx, details, index, only))
    if not transactions:
        # No details (or a batch booked as one sum): one transaction for the whole entry.
        transaction = _transaction(ctx, None, 0, True)
        if batch_count > 1:
            transaction.batch_count = batch_count
            transaction.batch_reference = (ctx["batch"] or _text(entry, "AcctSvcrRef") or ctx["reference"])[
                :100
            ]
        transactions.append(transaction)
    return transactions


def _balance(statement, codes: tuple[str, ...]) -> Decimal | None:
    for balance in statement.findall("Bal"):
        code = (_text(balance, "Tp/CdOrPrtry/Cd") or _text(balance, "Tp/CdOrPrtry/Prtry")).upper()
        if code in codes:
            amount = _amount(balance, "Amt")
            return None if amount is None else _sign(_text(balance, "CdtDbtInd")) * amount
    return None


def _rewrite_names(root, canonical: dict) -> None:
    """Element names without their namespace and in their canonical case ('ntry' → 'Ntry')."""
    for element in root.iter(tag=etree.Element):
        tag = element.tag
        local = tag[tag.index("}") + 1 :] if tag[0] == "{" else tag
        element.tag = canonical.get(local.lower(), local)


def parse_camt053(data: bytes) -> ParsedStatement:
    doctype = _DOCTYPE.search(data)
    if doctype:
        line = data[: doctype.start()].count(b"\n") + 1
        raise StatementFileError(
            _(
                "Line %(line)s: the file contains a DOCTYPE declaration; bank statements never do, so it is refused."
            )
            % {"line": line},
            line=line,
        )
    # The default namespace is taken off the root tag before parsing (same lines, same columns), so
    # the names need no rewriting; only a file with prefixes or other casing is rewritten below.
    namespace = ""
    declaration = _DEFAULT_NAMESPACE.search(data, 0, 4096)
    if declaration:
        namespace = declaration.group(1).decode("ascii", "replace")
        data = (
            data[: declaration.start()]
            + b" " * (declaration.end() - declaration.start())
            + data[declaration.end() :]
        )
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (exc.lineno, 0)
        raise StatementFileError(
            _(
                "The file is not complete or not valid XML: it breaks at line %(line)s, column %(column)s "
                "(%(detail)s). Nothing was imported."
            )
            % {"line": line, "column": column, "detail": exc.msg},
            line=line,
            column=column,
        ) from None
    namespace = etree.QName(root).namespace or namespace
    match = _VERSION.search(namespace)
    version = f"camt.053.001.{match.group(1)}" if match else ""
    if namespace and not match:
        raise StatementFileError(
            _("This XML file is not a camt.053 bank statement (its type is %(type)s).") % {"type": namespace}
        )
    canonical = _CANONICAL
    names = {name.decode("ascii", "replace") for name in set(_TAG.findall(data))}
    if root.tag[0] == "{" or any(":" in n or canonical.get(n.lower(), n) != n for n in names):
        _rewrite_names(root, canonical)
    body = root if root.tag == "BkToCstmrStmt" else root.find("BkToCstmrStmt")
    if body is None:
        raise StatementFileError(_("This XML file is not a camt.053 bank statement (no BkToCstmrStmt)."))
    statements = body.findall("Stmt")
    if not statements:
        raise StatementFileError(_("The statement file holds no statement."))
    parsed = ParsedStatement(format="camt053", version=version)
    ids, froms, tos = [], [], []
    for statement in statements:
        ids.append(_text(statement, "Id") or _text(statement, "ElctrncSeqNb"))
        parsed.account_iban = parsed.account_iban or _text(statement, "Acct/Id/IBAN").replace(" ", "").upper()
        if not parsed.account_iban:
            parsed.account_iban = _text(statement, "Acct/Id/Othr/Id")[:34]
        period = statement.find("FrToDt")
        if period is not None:
            for tag, target in (("FrDtTm", froms), ("ToDtTm", tos)):
                raw = _text(period, tag)
                if raw:
                    try:
                        target.append(date.fromisoformat(raw[:10]))
                    except ValueError:
                        pass
        opening = _balance(statement, ("OPBD", "PRCD", "OPAV"))
        if parsed.opening_balance is None:
            parsed.opening_balance = opening
        closing = _balance(statement, ("CLBD", "CLAV"))
        if closing is not None:
            parsed.closing_balance = closing
        for entry in statement.findall("Ntry"):
            parsed.transactions.extend(_entry(entry, len(parsed.transactions) + 1))
    booked = [t.booking_date for t in parsed.transactions]
    parsed.statement_id = " + ".join(i for i in ids if i)[:100]
    parsed.period_from = min(froms) if froms else (min(booked) if booked else None)
    parsed.period_to = max(tos) if tos else (max(booked) if booked else None)
    return parsed
