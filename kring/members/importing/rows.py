"""One row of a member list: its raw cells by field, and the checked, normalised values.

Every check is the one forms and services use (kring.members.validation and
services.normalise_member_fields), so a value the import accepts is one a form accepts.
"""

import re
from datetime import date, datetime
from types import SimpleNamespace

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from kring.core import crypto
from kring.members import names, validation
from kring.members.importing.columns import ColumnMapping, column_key
from kring.members.importing.vocabulary import CORRESPONDENCE, FREQUENCIES, ROLES, Lookups
from kring.members.models import BillingFrequency, Member
from kring.members.services import normalise_member_fields

PERSON, ORGANISATION = Member.Kind.PERSON, Member.Kind.ORGANISATION
MAX_LENGTHS = {
    name: Member._meta.get_field(name).max_length
    for name in (
        "first_name",
        "initials",
        "name_prefix",
        "last_name",
        "organisation_name",
        "street",
        "house_number_addition",
        "city",
    )
}
MAX_LENGTHS.update({"member_number": 20, "holder_name": 140, "household": 200})
NAME_FIELDS = ("first_name", "initials", "name_prefix", "last_name")
TEXT_FIELDS = (*NAME_FIELDS, "organisation_name", "city", "notes", "holder_name")
# "Dorpsstraat 12a" in one column when the file has no house number column.
STREET_WITH_NUMBER = re.compile(r"^(.*[^0-9\s])\s+([0-9].*)$")
EXCEL_SERIAL_RANGE = (1, 2958465)


class RowError:
    __slots__ = ("row", "column", "value", "reason")

    def __init__(self, row: int, column: str, value: str, reason: str):
        self.row, self.column, self.value, self.reason = row, column, value, reason

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "value": self.value, "reason": self.reason}


class ImportRow:
    """A data row while it is checked and planned. Plain attributes: there are 100,000 of them."""

    __slots__ = (
        "number",
        "raw",
        "mapping",
        "errors",
        "member_number",
        "email",
        "existing",
        "kind",
        "values",
        "contact",
        "bank",
        "plan",
        "frequency",
        "start_date",
        "household_key",
        "household_label",
        "household_role",
        "member_type",
        "status",
        "changes",
        "label",
        "todo",
        "derived",
    )

    def __init__(self, number: int, raw: dict, mapping: ColumnMapping):
        self.number = number
        self.raw = raw  # field → (value, column position)
        self.mapping = mapping
        self.errors: list[RowError] = []
        self.member_number = ""
        self.email = ""
        self.existing = None  # kring.members.importing.existing.ExistingMember
        self.kind = PERSON
        self.values: dict = {}  # member fields the row sets
        self.contact: dict | None = None  # contact person of an organisation
        self.bank: dict | None = None
        self.plan = None
        self.frequency = ""
        self.start_date: date | None = None
        self.household_key = ""
        self.household_label = ""
        self.household_role = ""
        self.member_type = None
        self.status = ""
        self.changes: list[dict] = []
        self.label = ""
        self.todo: dict = {}  # what writing.Writer does for this row (filled by planning)
        self.derived: tuple = ()  # sort name, search name, city key, display name (see describe)

    def error(self, field: str, reason: str, value=None) -> None:
        if field in self.raw:
            cell, position = self.raw[field]
            column = self.mapping.header(position)
            shown = cell_text(cell) if value is None else value
        else:
            positions = self.mapping.columns.get(field)
            column = self.mapping.header(positions[0]) if positions else ""
            shown = "" if value is None else value
        self.errors.append(RowError(self.number, column, str(shown), str(reason)))

    def text(self, field: str) -> str:
        value = self.raw[field][0]
        return value if value.__class__ is str else cell_text(value)  # text is stripped already


def cell_text(value) -> str:
    """A cell as text: Excel gives numbers (12.0 → '12') and dates; CSV gives text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def extract_rows(table_rows: list[tuple[int, list]], mapping: ColumnMapping) -> list[ImportRow]:
    """The raw value of each field per row: the first filled-in column of those mapped to it."""
    wanted = list(mapping.columns.items())
    # Most fields have one column; those are read without the inner loop.
    single = [(name, positions[0]) for name, positions in wanted if len(positions) == 1]
    several = [(name, positions) for name, positions in wanted if len(positions) != 1]
    reach = max((position for _name, positions in wanted for position in positions), default=-1)
    rows = []
    for number, cells in table_rows:
        raw = {}
        if len(cells) > reach:
            for name, position in single:
                value = cells[position]
                if isinstance(value, str):
                    value = value.strip()
                    if value:
                        raw[name] = (value, position)
                elif value is not None:
                    raw[name] = (value, position)
            if several:
                _extract_several(raw, cells, several)
        else:
            _extract_several(raw, cells, wanted)
        rows.append(ImportRow(number, raw, mapping))
    return rows


def _extract_several(raw: dict, cells: list, wanted: list) -> None:
    width = len(cells)
    for name, positions in wanted:
        for position in positions:
            if position < width:
                value = cells[position]
                if value is None:
                    continue
                if isinstance(value, str):
                    value = value.strip()
                    if not value:
                        continue
                raw[name] = (value, position)
                break


def check_keys(row: ImportRow) -> None:
    """Member number and email first: they decide which existing member the row is about."""
    if "member_number" in row.raw:
        number = row.text("member_number")
        if len(number) > MAX_LENGTHS["member_number"]:
            row.error("member_number", _("A member number has at most 20 characters."))
        else:
            row.member_number = number
    if "email" in row.raw:
        row.email = row.text("email")  # checked with the rest of the row (check_row)


# Dates as text repeat a lot (birth dates, start dates): each is read once per process.
_DATES: dict[str, date] = {}


def date_cell(value) -> date | None:
    """Excel date cells, Excel day numbers, or text like 31-12-1980 / 1980-12-31."""
    if value.__class__ is str:
        known = _DATES.get(value)
        if known is None:
            known = validation.check_date(value)
            if known is not None:
                if len(_DATES) > 100000:
                    _DATES.clear()
                _DATES[value] = known
        return known
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if EXCEL_SERIAL_RANGE[0] <= value <= EXCEL_SERIAL_RANGE[1]:
            from openpyxl.utils.datetime import from_excel

            return from_excel(value).date()
    return validation.check_date(value)


def check_row(row: ImportRow, lookups: Lookups, street_holds_number: bool) -> None:
    """Fill row.values and friends from the raw cells; every problem becomes a RowError."""
    raw = row.raw
    existing = row.existing
    values = row.values
    if row.member_number and existing is None:
        values["member_number"] = row.member_number
    if row.email:
        try:
            values["email"] = validation.check_email(row.email)
        except ValidationError as exc:
            row.error("email", exc.messages[0])

    row.kind = existing.kind if existing else (ORGANISATION if "organisation_name" in raw else PERSON)
    if existing and existing.kind == PERSON and "organisation_name" in raw:
        row.error(
            "organisation_name",
            _(
                "This member is a person in Kring, not an organisation. Leave the "
                "organisation empty for this row."
            ),
        )
    _check_texts(row)
    country = _check_country(row, lookups)
    _check_contact_fields(row, country)
    _check_address(row, street_holds_number)
    if "date_of_birth" in raw:
        try:
            values["date_of_birth"] = validation.check_date_of_birth(
                date_cell(raw["date_of_birth"][0]), lookups.today
            )
        except ValidationError as exc:
            row.error("date_of_birth", exc.messages[0])
    _check_choices(row, lookups)
    _check_bank(row)
    _check_membership(row, lookups)
    describe(row, lookups)


def seal_bank(row: ImportRow, encrypt: bool) -> None:
    """The IBAN's fingerprint (to compare it with the member's account) and, with `encrypt`, its
    ciphertext when it will be written as a new account: worked out while the row is checked, so
    that for large files it happens on every processor core (see parallel.py)."""
    bank = row.bank
    if not bank or "iban" not in bank or row.errors:
        return
    bank["fingerprint"] = crypto.fingerprint(bank["iban"])
    if encrypt:
        current = row.existing.bank if row.existing is not None else None
        if current is None or current.fingerprint != bank["fingerprint"]:
            bank["encrypted"] = crypto.encrypt(bank["iban"])


def merged(row: ImportRow) -> SimpleNamespace:
    """The member as it will be: the existing values overlaid with the row's."""
    data = dict(row.existing.values) if row.existing else {}
    data.update(row.values)
    for name in ("first_name", "initials", "name_prefix", "last_name", "organisation_name", "city"):
        data.setdefault(name, "")
    data["kind"] = row.kind
    return SimpleNamespace(**data)


def describe(row: ImportRow, lookups: Lookups) -> None:
    """The row's label for the report and the derived fields Member.refresh_derived_fields would set
    (the same kring.members.names functions), worked out while the row is at hand."""
    person = merged(row)
    display = names.display_name(person)
    row.derived = (
        names.sort_key(person),
        names.search_key(person),
        names.city_search_key(person.city),
        display,
    )
    row.label = f"{row.member_number or lookups.new_number_label} {display}"


def _check_texts(row: ImportRow) -> None:
    raw, values = row.raw, row.values
    texts = {}
    for name in TEXT_FIELDS:
        if name in raw:
            text = row.text(name)
            if name != "notes" and ("  " in text or "\t" in text or "\n" in text):
                text = " ".join(text.split())
            limit = MAX_LENGTHS.get(name)
            if limit and len(text) > limit:
                row.error(name, _("This is too long: at most %(max)s characters.") % {"max": limit})
                continue
            texts[name] = text
    if row.kind == ORGANISATION:
        parts = {name: texts.pop(name) for name in NAME_FIELDS if name in texts}
        if parts.get("last_name"):
            row.contact = {
                "first_name": parts.get("first_name") or parts.get("initials", ""),
                "name_prefix": parts.get("name_prefix", ""),
                "last_name": parts["last_name"],
            }
    for name in ("organisation_name", "city", "notes"):
        if name in texts:
            values[name] = texts.pop(name)
    if row.kind == PERSON:
        for name in NAME_FIELDS:
            if name in texts:
                values[name] = texts.pop(name)
    if "holder_name" in texts:
        row.bank = {"holder_name": texts["holder_name"]}


def _check_country(row: ImportRow, lookups: Lookups) -> str:
    if "country" in row.raw:
        text = row.text("country")
        country = lookups.countries.get(text)
        if country is None:
            try:
                country = lookups.countries[text] = validation.check_country(text)
            except ValidationError as exc:
                row.error("country", exc.messages[0])
        if country is not None:
            row.values["country"] = country
            return country
    return row.existing.country if row.existing else lookups.default_country


def _check_contact_fields(row: ImportRow, country: str) -> None:
    """Postcode, phone, KvK number and the required name: services.normalise_member_fields."""
    raw = row.raw
    data = {"kind": row.kind, "country": country}
    for name in ("postcode", "phone", "kvk_number"):
        if name in raw:
            data[name] = row.text(name)
    if row.existing is None:
        if row.kind == PERSON:
            data["last_name"] = row.values.get("last_name", "")
        else:
            data["organisation_name"] = row.values.get("organisation_name", "")
    try:
        cleaned = normalise_member_fields(data)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            row.error(name, messages[0])
        return
    for name in ("postcode", "phone", "kvk_number"):
        if name in data:
            row.values[name] = cleaned[name]


def _check_address(row: ImportRow, street_holds_number: bool) -> None:
    raw, values = row.raw, row.values
    street = " ".join(row.text("street").split()) if "street" in raw else None
    number_text = row.text("house_number") if "house_number" in raw else None
    if street is not None and number_text is None and street_holds_number:
        match = STREET_WITH_NUMBER.match(street)
        if match:
            street, number_text = match.group(1), match.group(2)
    if street is not None:
        if len(street) > MAX_LENGTHS["street"]:
            row.error(
                "street", _("This is too long: at most %(max)s characters.") % {"max": MAX_LENGTHS["street"]}
            )
        else:
            values["street"] = street
    addition = None
    if number_text is not None:
        try:
            values["house_number"], addition = validation.check_house_number(number_text)
        except ValidationError as exc:
            row.error(
                "house_number" if "house_number" in raw else "street", exc.messages[0], value=number_text
            )
    if "house_number_addition" in raw:
        addition = row.text("house_number_addition")
    if addition is not None and (addition or "house_number_addition" in raw or number_text is not None):
        if len(addition) > MAX_LENGTHS["house_number_addition"]:
            row.error(
                "house_number_addition" if "house_number_addition" in raw else "house_number",
                _("This is too long: at most %(max)s characters.") % {"max": 10},
                value=addition,
            )
        else:
            values["house_number_addition"] = addition


def _check_choices(row: ImportRow, lookups: Lookups) -> None:
    raw, values = row.raw, row.values
    if "member_type" in raw:
        member_type = lookups.member_types.get(column_key(row.text("member_type")))
        if member_type is None:
            row.error(
                "member_type",
                _("Unknown member type. Kring knows: %(types)s.") % {"types": lookups.member_type_names()},
            )
        else:
            values["member_type"] = member_type
    row.member_type = values.get("member_type") or (
        lookups.member_types_by_pk.get(row.existing.member_type_id)
        if row.existing
        else lookups.default_member_type
    )
    if row.member_type is None:
        row.error("member_type", _("There are no member types yet. Add them first (at least 'Lid')."))
    if "correspondence" in raw:
        choice = CORRESPONDENCE.get(column_key(row.text("correspondence")))
        if choice is None:
            row.error("correspondence", _("Unknown way of correspondence. Use 'email' or 'post'."))
        else:
            values["correspondence"] = choice
    if "household" in raw:
        label = " ".join(row.text("household").split())
        if len(label) > MAX_LENGTHS["household"]:
            row.error("household", _("This is too long: at most %(max)s characters.") % {"max": 200})
        else:
            row.household_label, row.household_key = label, label.casefold()
    if "household_role" in raw:
        role = ROLES.get(column_key(row.text("household_role")))
        if role is None:
            row.error(
                "household_role",
                _(
                    "Unknown role in the household. Use main member, partner, child or "
                    "other (hoofdlid, partner, kind, overig)."
                ),
            )
        elif not row.household_key:
            row.error("household_role", _("A role in the household needs a household in the same row."))
        else:
            row.household_role = role


def _check_bank(row: ImportRow) -> None:
    raw = row.raw
    if "iban" not in raw:
        row.bank = None  # a holder name or BIC without an IBAN says nothing
        return
    bic = row.text("bic") if "bic" in raw else ""
    try:
        checked = validation.check_iban(row.text("iban"), bic)
    except ValidationError as exc:
        row.error("bic" if exc.code == "bic" else "iban", exc.messages[0])
        return
    bank = row.bank or {}
    bank.update({"iban": checked.iban, "bic": checked.bic, "bic_given": bool(bic)})
    row.bank = bank


def _check_membership(row: ImportRow, lookups: Lookups) -> None:
    raw = row.raw
    if "start_date" in raw:
        try:
            row.start_date = date_cell(raw["start_date"][0])
        except ValidationError as exc:
            row.error("start_date", exc.messages[0])
    if "billing_frequency" in raw:
        frequency = FREQUENCIES.get(column_key(row.text("billing_frequency")))
        if frequency is None:
            row.error(
                "billing_frequency",
                _(
                    "Unknown billing frequency. Use yearly, half-yearly, quarterly or "
                    "monthly (jaarlijks, halfjaarlijks, per kwartaal, maandelijks)."
                ),
            )
        else:
            row.frequency = frequency
    if "plan" not in raw:
        return
    plan = lookups.plans.get(column_key(row.text("plan")))
    if plan is None:
        row.error(
            "plan", _("Unknown plan. Kring knows these plans: %(plans)s.") % {"plans": lookups.plan_names()}
        )
        return
    if plan.is_addon:
        row.error(
            "plan",
            _("%(plan)s is an add-on; add it on the member's page after the import.") % {"plan": plan.name},
        )
        return
    row.plan = plan  # the plan's rules are checked when the row is planned (see planning.plan_membership)


def check_plan_rules(row: ImportRow, plan, frequency: str) -> bool:
    """The rules of services.check_plan_for, against the plans loaded once for the whole file."""
    ok = True
    if frequency not in plan.frequencies:
        allowed = ", ".join(
            str(label) for value, label in BillingFrequency.choices if value in plan.frequencies
        )
        row.error(
            "billing_frequency" if "billing_frequency" in row.raw else "plan",
            _("The plan %(plan)s cannot be paid %(frequency)s. Choose: %(allowed)s.")
            % {"plan": plan.name, "frequency": BillingFrequency(frequency).label, "allowed": allowed or "–"},
        )
        ok = False
    if (
        plan.member_type_ids
        and row.member_type is not None
        and row.member_type.pk not in plan.member_type_ids
    ):
        row.error(
            "plan",
            _("The plan %(plan)s is not available for %(type)s.")
            % {"plan": plan.name, "type": row.member_type.name},
        )
        ok = False
    if plan.for_organisations and row.kind != ORGANISATION:
        row.error("plan", _("The plan %(plan)s is for organisations only.") % {"plan": plan.name})
        ok = False
    return ok
