"""pain.008 Customer Direct Debit Initiation files (SEPA Core direct debit), built with lxml from plain
dataclasses, and their validation against the official ISO 20022 schema plus Kring's own SEPA rules.

    xml = build_pain008(creditor, batch)                       # pain.008.001.08 (the default)
    xml = build_pain008(creditor, batch, version=PAIN_008_02)  # for banks still on the 2009 version
    problems = validate(xml)                                   # [] when the file is good

The file has one payment information block (PmtInf) per sequence type and collection date; local
instrument CORE, service level SEPA, charge bearer SLEV, batch booking. Only the sequence types RCUR
(every collection on a recurrent mandate, the first one included) and OOFF (a one-off mandate) are
made: FRST and FNAL are no longer needed since the 2016 rulebook and Dutch banks reject FRST after an
RCUR on the same mandate, so they are refused.

Free text (names, remittance information, addresses) goes through `charset.to_sepa_text` with the
field lengths (names 70, remittance 140); identifiers (message id, end-to-end id = invoice number,
mandate reference) must already be valid SEPA identifiers: they are refused, not silently changed,
because the bank statement is matched on them later.

Differences between the versions: the BIC is ``BICFI`` in .08 and ``BIC`` in .02; a debtor's postal
address is structured in .08 (street, building number, postcode, town, country — unstructured
addresses are rejected from November 2026) and, in .02, the country plus two address lines as the
EPC's guidelines for that version allow.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from lxml import etree

from kring.sepa.charset import (
    SEPA_TEXT,
    check_sepa_identifier,
    is_sepa_identifier,
    to_sepa_text,
)
from kring.sepa.creditor import check_creditor_identifier

PAIN_008_08 = "pain.008.001.08"
PAIN_008_02 = "pain.008.001.02"
VERSIONS = (PAIN_008_08, PAIN_008_02)
SEQUENCE_TYPES = ("RCUR", "OOFF")
SCHEMAS = Path(__file__).resolve().parent / "schemas"

NAME_LENGTH = 70
REMITTANCE_LENGTH = 140
ID_LENGTH = 35
# What a name becomes when nothing of it is left in the SEPA character set (e.g. a name written only
# in Arabic script): the EPC's own placeholder for information that is not available.
NOT_PROVIDED = "NOTPROVIDED"
MAX_AMOUNT = Decimal("999999999.99")
CENT = Decimal("0.01")

_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}")
_BIC = re.compile(r"[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?")
_COUNTRY = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True)
class CreditorInfo:
    name: str
    iban: str
    creditor_id: str
    bic: str | None = None


@dataclass(frozen=True)
class PostalAddress:
    """A structured postal address; town and country are required by the EPC from November 2025."""

    town: str
    country: str
    street: str = ""
    building_number: str = ""
    postcode: str = ""


@dataclass(frozen=True)
class Amendment:
    """What changed on the mandate since the last collection; carried on the next collection only."""

    original_mandate_id: str | None = None
    original_creditor_id: str | None = None
    original_debtor_iban: str | None = None
    # The debtor moved to another bank: the original debtor agent is given as "SMNDA".
    other_bank: bool = False


@dataclass(frozen=True)
class Debit:
    end_to_end_id: str
    amount: Decimal
    mandate_id: str
    mandate_signed_on: date
    debtor_name: str
    debtor_iban: str
    sequence_type: str = "RCUR"
    debtor_bic: str | None = None
    remittance: str = ""
    # A structured creditor reference instead of the free text (e.g. a betalingskenmerk with issuer
    # "CUR", a Belgian +++OGM+++ with "BBA", an ISO 11649 RF reference with "ISO").
    structured_reference: str | None = None
    structured_reference_issuer: str | None = None
    amendment: Amendment | None = None
    debtor_address: PostalAddress | None = None
    collection_date: date | None = None  # None: the batch's collection date


@dataclass(frozen=True)
class Batch:
    message_id: str
    created_at: datetime
    collection_date: date
    debits: Sequence[Debit]


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class _What:
    """ "debit <end-to-end id>" for error messages, translated only when a message is made."""

    __slots__ = ("id",)

    def __init__(self, id: str):
        self.id = id

    def __str__(self) -> str:
        return gettext("debit %(id)s") % {"id": self.id}


# -- checking the input ---------------------------------------------------------------------------


def _iban(value: str, what) -> str:
    value = re.sub(r"\s+", "", str(value or "")).upper()
    if not _IBAN.fullmatch(value):
        raise ValidationError(
            _("%(what)s: “%(value)s” is not an IBAN."), params={"what": what, "value": value}
        )
    return value


def _bic(value: str | None, what) -> str | None:
    if not value:
        return None
    value = re.sub(r"\s+", "", value).upper()
    if not _BIC.fullmatch(value):
        raise ValidationError(_("%(what)s: “%(value)s” is not a BIC."), params={"what": what, "value": value})
    return value


def _identifier(value: str, what) -> str:
    if is_sepa_identifier(value, ID_LENGTH):
        return value
    try:
        return check_sepa_identifier(value, ID_LENGTH)
    except ValidationError as error:
        raise ValidationError(
            _("%(what)s: %(problem)s"), params={"what": what, "problem": error.messages[0]}, code=error.code
        ) from None


def _amount(value, what) -> Decimal:
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        amount = None
    if (
        amount is None
        or not amount.is_finite()
        or amount != amount.quantize(CENT)
        or not CENT <= amount <= MAX_AMOUNT
    ):
        raise ValidationError(
            _("%(what)s: the amount must be between 0.01 and 999999999.99 euro, in cents."),
            params={"what": what},
            code="sepa_amount",
        )
    return amount.quantize(CENT)


def _sequence_type(value: str, what) -> str:
    if value in ("FRST", "FNAL"):
        raise ValidationError(
            _(
                "%(what)s: sequence type %(type)s is not used; every collection on a recurrent mandate is "
                "RCUR (the first one too), a one-off mandate is OOFF."
            ),
            params={"what": what, "type": value},
            code="sepa_sequence_type",
        )
    if value not in SEQUENCE_TYPES:
        raise ValidationError(
            _("%(what)s: unknown sequence type “%(type)s” (RCUR or OOFF)."),
            params={"what": what, "type": value},
            code="sepa_sequence_type",
        )
    return value


# -- building ---------------------------------------------------------------------------------------


_SubElement = etree.SubElement


class _Qualified(dict):
    """Tag → {namespace}tag, made once per tag."""

    def __init__(self, ns: str):
        super().__init__()
        self.ns = ns

    def __missing__(self, tag: str) -> str:
        qualified = self[tag] = f"{{{self.ns}}}{tag}"
        return qualified


class _Builder:
    def __init__(self, version: str):
        if version not in VERSIONS:
            raise ValueError(f"unsupported pain.008 version {version!r}")
        self.version = version
        self.ns = f"urn:iso:std:iso:20022:tech:xsd:{version}"
        self.bic_tag = "BICFI" if version == PAIN_008_08 else "BIC"
        self.tags = _Qualified(self.ns)
        self._chains: dict[str, tuple[list[str], str]] = {}

    def q(self, tag: str) -> str:
        return self.tags[tag]

    def sub(self, parent, tag: str, text: str | None = None):
        element = _SubElement(parent, self.tags[tag])
        if text is not None:
            element.text = text
        return element

    def path(self, parent, tags: str, text: str | None = None):
        """A chain of single children, e.g. path(x, "Id/IBAN", iban)."""
        chain = self._chains.get(tags)
        if chain is None:
            *head, last = (self.tags[tag] for tag in tags.split("/"))
            chain = self._chains[tags] = (head, last)
        head, last = chain
        for tag in head:
            parent = _SubElement(parent, tag)
        element = _SubElement(parent, last)
        if text is not None:
            element.text = text
        return element

    def agent(self, parent, tag: str, bic: str | None) -> None:
        institution = self.path(parent, f"{tag}/FinInstnId")
        if bic:
            self.sub(institution, self.bic_tag, bic)
        else:
            self.path(institution, "Othr/Id", NOT_PROVIDED)

    def scheme_id(self, parent, tag: str, creditor_id: str) -> None:
        other = self.path(parent, f"{tag}/Id/PrvtId/Othr")
        self.sub(other, "Id", creditor_id)
        self.path(other, "SchmeNm/Prtry", "SEPA")

    def address(self, parent, address: PostalAddress) -> None:
        element = self.sub(parent, "PstlAdr")
        country = address.country.strip().upper()
        if self.version == PAIN_008_08:
            for tag, value, length in (
                ("StrtNm", address.street, 70),
                ("BldgNb", address.building_number, 16),
                ("PstCd", address.postcode, 16),
                ("TwnNm", address.town, 35),
            ):
                text = to_sepa_text(value, length)
                if text:
                    self.sub(element, tag, text)
            self.sub(element, "Ctry", country)
        else:
            self.sub(element, "Ctry", country)
            for line in (
                f"{address.street} {address.building_number}",
                f"{address.postcode} {address.town}",
            ):
                text = to_sepa_text(line, 70)
                if text:
                    self.sub(element, "AdrLine", text)


def _check_address(address: PostalAddress, what) -> None:
    if not _COUNTRY.fullmatch(address.country.strip().upper()) or not to_sepa_text(address.town, 35):
        raise ValidationError(
            _("%(what)s: a debtor's address needs at least the town and the two-letter country code."),
            params={"what": what},
            code="sepa_address",
        )


def build_pain008(creditor: CreditorInfo, batch: Batch, *, version: str = PAIN_008_08) -> bytes:
    """The pain.008 file for `batch` as UTF-8 bytes; raises ValidationError on unusable input."""
    b = _Builder(version)
    message_id = _identifier(batch.message_id, _("message id"))
    creditor_id = check_creditor_identifier(creditor.creditor_id)
    creditor_iban = _iban(creditor.iban, _("creditor account"))
    creditor_bic = _bic(creditor.bic, _("creditor BIC"))
    creditor_name = to_sepa_text(creditor.name, NAME_LENGTH)
    if not creditor_name:
        raise ValidationError(
            _("The creditor's name is empty in the SEPA character set."), code="sepa_creditor_name"
        )
    if not batch.debits:
        raise ValidationError(_("A collection file needs at least one debit."), code="sepa_empty")

    groups: dict[tuple[date, str], list[tuple[Debit, Decimal]]] = {}
    for debit in batch.debits:
        what = _What(debit.end_to_end_id)
        _identifier(debit.end_to_end_id, what)
        _identifier(debit.mandate_id, what)
        amount = _amount(debit.amount, what)
        sequence_type = _sequence_type(debit.sequence_type, what)
        if debit.debtor_address is not None:
            _check_address(debit.debtor_address, what)
        groups.setdefault((debit.collection_date or batch.collection_date, sequence_type), []).append(
            (debit, amount)
        )

    root = etree.Element(b.q("Document"), nsmap={None: b.ns})
    initiation = b.sub(root, "CstmrDrctDbtInitn")
    header = b.sub(initiation, "GrpHdr")
    b.sub(header, "MsgId", message_id)
    b.sub(header, "CreDtTm", batch.created_at.replace(microsecond=0).isoformat())
    b.sub(header, "NbOfTxs", str(len(batch.debits)))
    b.sub(
        header,
        "CtrlSum",
        str(sum((amount for group in groups.values() for _d, amount in group), Decimal("0.00"))),
    )
    b.path(header, "InitgPty/Nm", creditor_name)

    for number, ((collection_date, sequence_type), debits) in enumerate(sorted(groups.items()), start=1):
        suffix = f"-{number}"
        info = b.sub(initiation, "PmtInf")
        b.sub(info, "PmtInfId", message_id[: ID_LENGTH - len(suffix)].rstrip("/") + suffix)
        b.sub(info, "PmtMtd", "DD")
        b.sub(info, "BtchBookg", "true")
        b.sub(info, "NbOfTxs", str(len(debits)))
        b.sub(info, "CtrlSum", str(sum((amount for _d, amount in debits), Decimal("0.00"))))
        kind = b.sub(info, "PmtTpInf")
        b.path(kind, "SvcLvl/Cd", "SEPA")
        b.path(kind, "LclInstrm/Cd", "CORE")
        b.sub(kind, "SeqTp", sequence_type)
        b.sub(info, "ReqdColltnDt", collection_date.isoformat())
        b.path(info, "Cdtr/Nm", creditor_name)
        b.path(info, "CdtrAcct/Id/IBAN", creditor_iban)
        b.agent(info, "CdtrAgt", creditor_bic)
        b.sub(info, "ChrgBr", "SLEV")
        b.scheme_id(info, "CdtrSchmeId", creditor_id)
        for debit, amount in debits:
            _transaction(b, info, debit, amount)

    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _transaction(b: _Builder, info, debit: Debit, amount: Decimal) -> None:
    what = _What(debit.end_to_end_id)
    tx = b.sub(info, "DrctDbtTxInf")
    b.path(tx, "PmtId/EndToEndId", debit.end_to_end_id)
    b.sub(tx, "InstdAmt", str(amount)).set("Ccy", "EUR")
    mandate = b.path(tx, "DrctDbtTx/MndtRltdInf")
    b.sub(mandate, "MndtId", debit.mandate_id)
    b.sub(mandate, "DtOfSgntr", debit.mandate_signed_on.isoformat())
    amendment = debit.amendment
    if amendment is None or not (
        amendment.original_mandate_id
        or amendment.original_creditor_id
        or amendment.original_debtor_iban
        or amendment.other_bank
    ):
        b.sub(mandate, "AmdmntInd", "false")
    else:
        b.sub(mandate, "AmdmntInd", "true")
        details = b.sub(mandate, "AmdmntInfDtls")
        if amendment.original_mandate_id:
            b.sub(details, "OrgnlMndtId", _identifier(amendment.original_mandate_id, what))
        if amendment.original_creditor_id:
            b.scheme_id(
                details, "OrgnlCdtrSchmeId", check_creditor_identifier(amendment.original_creditor_id)
            )
        if amendment.original_debtor_iban:
            b.path(details, "OrgnlDbtrAcct/Id/IBAN", _iban(amendment.original_debtor_iban, what))
        if amendment.other_bank:
            b.path(details, "OrgnlDbtrAgt/FinInstnId/Othr/Id", "SMNDA")
    b.agent(tx, "DbtrAgt", _bic(debit.debtor_bic, what))
    debtor = b.sub(tx, "Dbtr")
    b.sub(debtor, "Nm", to_sepa_text(debit.debtor_name, NAME_LENGTH, fallback=NOT_PROVIDED))
    if debit.debtor_address is not None:
        b.address(debtor, debit.debtor_address)
    b.path(tx, "DbtrAcct/Id/IBAN", _iban(debit.debtor_iban, what))
    if debit.structured_reference:
        reference = b.path(tx, "RmtInf/Strd/CdtrRefInf")
        kind = b.sub(reference, "Tp")
        b.path(kind, "CdOrPrtry/Cd", "SCOR")
        if debit.structured_reference_issuer:
            b.sub(kind, "Issr", to_sepa_text(debit.structured_reference_issuer, 35))
        b.sub(reference, "Ref", _identifier(re.sub(r"[\s+]", "", debit.structured_reference), what))
    else:
        text = to_sepa_text(debit.remittance, REMITTANCE_LENGTH)
        if text:
            b.path(tx, "RmtInf/Ustrd", text)


# -- validating -------------------------------------------------------------------------------------


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@cache
def schema(version: str) -> etree.XMLSchema:
    """The official XSD of `version`, parsed once per process, without network access."""
    if version not in VERSIONS:
        raise ValueError(f"unsupported pain.008 version {version!r}")
    return etree.XMLSchema(etree.parse(str(SCHEMAS / f"{version}.xsd"), _parser()))


IDENTIFIER_TAGS = ("MsgId", "PmtInfId", "InstrId", "EndToEndId", "MndtId", "OrgnlMndtId")
# Any text content outside the SEPA set (UTF-8 bytes ≥ 0x80, entities with "&", control characters).
_BAD_TEXT = re.compile(rb">([^<]*[^A-Za-z0-9/\-?:().,'+ <][^<]*)<")


def validate(xml: bytes, version: str | None = None) -> list[Problem]:
    """Every problem of the pain.008 file `xml`: against the official schema of `version` (taken from
    the file's namespace when not given) and Kring's own SEPA rules the schema does not check (the
    character set, the identifier slash rules, counts and control sums recomputed, sequence types,
    the creditor identifier's check digits, duplicate end-to-end ids, structured addresses in .08).
    An empty list means the file is good."""
    try:
        root = etree.fromstring(xml, _parser())
    except etree.XMLSyntaxError as error:
        return [Problem("/", gettext("The file is not well-formed XML: %(error)s") % {"error": error})]
    if root.getroottree().docinfo.internalDTD is not None or root.getroottree().docinfo.doctype:
        # A payment file never has one; refusing it keeps entity tricks out of the schema validation.
        return [
            Problem(
                "/", gettext("The file contains a document type declaration (DOCTYPE), which is not allowed.")
            )
        ]
    namespace = etree.QName(root).namespace or ""
    found = namespace.rsplit(":", 1)[-1]
    version = version or found
    if version not in VERSIONS:
        return [Problem("/", gettext("Unknown message version “%(version)s”.") % {"version": found})]
    if found != version:
        return [
            Problem(
                "/",
                gettext("The file is %(found)s, expected %(version)s.")
                % {"found": found or "?", "version": version},
            )
        ]
    xsd = schema(version)
    tree = root.getroottree()
    problems = []
    try:
        valid = xsd.validate(tree)
    except etree.XMLSchemaValidateError as error:
        return [
            Problem(
                "/", gettext("The file could not be checked against the schema: %(error)s") % {"error": error}
            )
        ]
    if not valid:
        for error in xsd.error_log:
            problems.append(Problem(error.path or f"line {error.line}", error.message))
    problems += _own_rules(xml, root, namespace, version)
    return problems


def _own_rules(xml: bytes, root, ns: str, version: str) -> list[Problem]:
    tree = root.getroottree()
    problems: list[Problem] = []

    def problem(element, message: str, **params) -> None:
        problems.append(Problem(tree.getpath(element), str(message) % params if params else str(message)))

    def q(tag: str) -> str:
        return f"{{{ns}}}{tag}"

    # The character set, fast on the bytes; only when something is found, element by element for the paths.
    if b"<![CDATA[" in xml or any(segment.strip() for segment in _BAD_TEXT.findall(xml)):
        for element in root.iter():
            text = element.text
            if text and len(element) == 0 and not SEPA_TEXT.fullmatch(text):
                problem(element, _("Characters outside the SEPA character set: “%(text)s”."), text=text)

    for element in root.iter(*map(q, IDENTIFIER_TAGS)):
        text = element.text or ""
        if not is_sepa_identifier(text, ID_LENGTH):
            problem(
                element,
                _(
                    "Not a valid SEPA identifier (at most 35 characters, no spaces, not starting or ending "
                    "with “/”, no “//”): “%(text)s”."
                ),
                text=text,
            )

    for scheme in root.iter(q("CdtrSchmeId"), q("OrgnlCdtrSchmeId")):
        for element in scheme.iterfind(f"{q('Id')}/{q('PrvtId')}/{q('Othr')}/{q('Id')}"):
            try:
                check_creditor_identifier(element.text or "")
            except ValidationError as error:
                problems.append(Problem(tree.getpath(element), error.messages[0]))

    if version == PAIN_008_08:
        for element in root.iter(q("AdrLine")):
            problem(element, _("Only structured addresses are allowed (no AdrLine)."))

    end_to_end_ids: set[str] = set()
    total_count = 0
    total_sum = Decimal("0")
    amount_tag, e2e_tag = q("InstdAmt"), q("EndToEndId")
    for info in root.iter(q("PmtInf")):
        count = sum(1 for _tx in info.iterchildren(q("DrctDbtTxInf")))
        amounts = Decimal("0")
        for element in info.iter(amount_tag):
            try:
                amount = Decimal(element.text)
            except (InvalidOperation, TypeError):
                continue  # the schema reported it
            amounts += amount
            if element.get("Ccy") != "EUR":
                problem(element, _("The currency must be EUR."))
            if amount != amount.quantize(CENT) or not CENT <= amount <= MAX_AMOUNT:
                problem(element, _("The amount must be between 0.01 and 999999999.99 euro, in cents."))
        for element in info.iter(e2e_tag):
            if element.text in end_to_end_ids:
                problem(element, _("The end-to-end id “%(id)s” occurs more than once."), id=element.text)
            end_to_end_ids.add(element.text)
        total_count += count
        total_sum += amounts
        _check_totals(info, q, count, amounts, problem)
        sequence = info.find(f"{q('PmtTpInf')}/{q('SeqTp')}")
        if sequence is None or sequence.text not in SEQUENCE_TYPES:
            problem(
                sequence if sequence is not None else info,
                _("The sequence type must be RCUR or OOFF (FRST and FNAL are not used)."),
            )
        for tags, expected in (
            (("PmtTpInf", "SvcLvl", "Cd"), "SEPA"),
            (("PmtTpInf", "LclInstrm", "Cd"), "CORE"),
            (("ChrgBr",), "SLEV"),
            (("PmtMtd",), "DD"),
        ):
            element = info.find("/".join(map(q, tags)))
            if element is None or element.text != expected:
                problem(
                    element if element is not None else info,
                    _("%(field)s must be %(expected)s."),
                    field="/".join(tags),
                    expected=expected,
                )
    header = root.find(f"{q('CstmrDrctDbtInitn')}/{q('GrpHdr')}")
    if header is not None:
        _check_totals(header, q, total_count, total_sum, problem)
    return problems


def _check_totals(parent, q, count: int, amounts: Decimal, problem) -> None:
    number = parent.find(q("NbOfTxs"))
    if number is None or number.text != str(count):
        problem(number if number is not None else parent, _("NbOfTxs must be %(count)d."), count=count)
    control = parent.find(q("CtrlSum"))
    try:
        wrong = control is None or Decimal(control.text) != amounts
    except (InvalidOperation, TypeError):
        wrong = True
    if wrong:
        problem(control if control is not None else parent, _("CtrlSum must be %(sum)s."), sum=amounts)
