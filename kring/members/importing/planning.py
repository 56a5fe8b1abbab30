"""What an import will do, row by row, before anything is written: match each row to an existing
member, check it, check the rows against each other (duplicate numbers, households), and work
out per row whether it is new, updated (which fields, before → after) or unchanged.

The dry run stops here; applying writes exactly this plan (see writing.py).
"""

from collections import Counter
from dataclasses import dataclass, field

from django.utils.formats import number_format
from django.utils.translation import gettext as _

from kring.core.audit import display_value
from kring.core.crypto import fingerprint
from kring.members.importing.columns import ColumnMapping
from kring.members.importing.existing import ExistingMember, find_keys, household_heads, load_members
from kring.members.importing.parallel import check_rows
from kring.members.importing.rows import ORGANISATION, ImportRow, check_keys, check_plan_rules, merged
from kring.members.importing.vocabulary import Lookups
from kring.members.models import BillingFrequency, Member, Membership
from kring.members.validation import mask_iban

NEW, UPDATED, UNCHANGED, ERROR = "new", "updated", "unchanged", "error"


@dataclass
class HouseholdPlan:
    """One household in the file: the rows with the same value in the household column."""

    label: str
    rows: list[ImportRow]
    pk: int | None = None  # an existing household, or None for a new one
    name: str = ""
    head: ImportRow | None = None


@dataclass
class ImportPlan:
    rows: list[ImportRow]
    lookups: Lookups
    households: list[HouseholdPlan] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return any(row.errors for row in self.rows)


def plan_import(
    rows: list[ImportRow], mapping: ColumnMapping, lookups: Lookups, *, for_update: bool, progress=None
) -> ImportPlan:
    report = progress or (lambda *args: None)
    total = len(rows)
    for row in rows:
        check_keys(row)
    _match(rows, for_update=for_update)
    street_holds_number = mapping.has("street") and not mapping.has("house_number")
    check_rows(
        rows,
        lookups,
        street_holds_number,
        lambda done: report(
            done,
            total,
            _("Checking row %(row)s of %(total)s") % {"row": _number(done), "total": _number(total)},
        ),
        encrypt=for_update,
    )
    _check_duplicates(rows)
    plan = ImportPlan(rows=rows, lookups=lookups)
    plan.households = _plan_households(rows)
    for row in rows:
        if not row.errors:
            _plan_row(row, lookups)
        row.status = (
            ERROR if row.errors else (NEW if row.existing is None else UPDATED if row.changes else UNCHANGED)
        )
    report(total, total, _("Checked %(total)s rows") % {"total": _number(total)})
    return plan


def _number(value: int) -> str:
    return number_format(value, force_grouping=True)


# --- matching -----------------------------------------------------------------------------


def _match(rows: list[ImportRow], *, for_update: bool) -> None:
    """By member number; rows without one by email address, when exactly one member has it and
    exactly one row in the file has it (a family sharing an address is not one member)."""
    numbers = {row.member_number for row in rows if row.member_number}
    emails_in_file = Counter(row.email.lower() for row in rows if row.email)
    emails = {row.email.lower() for row in rows if row.email and not row.member_number}
    keys = find_keys(numbers, emails)
    matched: dict[ImportRow, int] = {}
    for row in rows:
        if row.member_number:
            pk = keys.by_number.get(row.member_number)
        elif row.email:
            lowered = row.email.lower()
            candidates = keys.by_email.get(lowered, [])
            pk = candidates[0] if len(candidates) == 1 and emails_in_file[lowered] == 1 else None
        else:
            pk = None
        if pk is not None:
            matched[row] = pk
    existing = load_members(set(matched.values()), for_update=for_update)
    for row, pk in matched.items():
        row.existing = existing[pk]
        row.member_number = row.existing.member_number


def _check_duplicates(rows: list[ImportRow]) -> None:
    first_with_number: dict[str, ImportRow] = {}
    first_for_member: dict[int, ImportRow] = {}
    for row in rows:
        if row.member_number and "member_number" in row.raw:
            earlier = first_with_number.setdefault(row.member_number, row)
            if earlier is not row:
                row.error(
                    "member_number",
                    _("This member number is also used in row %(row)s. Each member appears once in the file.")
                    % {"row": earlier.number},
                )
                continue
        if row.existing is not None:
            earlier = first_for_member.setdefault(row.existing.pk, row)
            if earlier is not row:
                row.error(
                    "member_number" if "member_number" in row.raw else "email",
                    _(
                        "Row %(row)s is about the same member (%(number)s). Each member appears once in the "
                        "file."
                    )
                    % {"row": earlier.number, "number": row.existing.member_number},
                )


# --- households ---------------------------------------------------------------------------


def _plan_households(rows: list[ImportRow]) -> list[HouseholdPlan]:
    groups: dict[str, HouseholdPlan] = {}
    for row in rows:
        if row.household_key:
            groups.setdefault(
                row.household_key, HouseholdPlan(label=row.household_label, rows=[])
            ).rows.append(row)
    for household in groups.values():
        _choose_household(household)
    current_heads = household_heads([household.pk for household in groups.values() if household.pk])
    for household in groups.values():
        _plan_household(household, current_heads.get(household.pk))
    return list(groups.values())


def _choose_household(household: HouseholdPlan) -> None:
    """The rows join the household their main member (or else their first row) is already in, or a
    new one. The value in the household column only groups the rows of the file."""
    heads = [row for row in household.rows if row.household_role == Member.HouseholdRole.HEAD]
    for extra in heads[1:]:
        extra.error(
            "household_role",
            _("Household %(household)s already has a main member in row %(row)s.")
            % {"household": household.label, "row": heads[0].number},
        )
    known = [row for row in household.rows if row.existing is not None and row.existing.household_id]
    if heads and heads[0].existing is not None and heads[0].existing.household_id:
        known.insert(0, heads[0])
    if known:
        household.pk, household.name = known[0].existing.household_id, known[0].existing.household_name
    household.head = heads[0] if heads else None


def _plan_household(household: HouseholdPlan, current_head: tuple[int, str] | None) -> None:
    """Roles: the row marked as main member is the head. A new household, or one without a head,
    gets its first row as head; an existing head stays head unless the file names another."""
    head = household.head
    if household.pk is None:
        head = head or household.rows[0]
        household.name = _("Family %(name)s") % {"name": _family_name(head)}
    elif current_head is None:
        head = head or household.rows[0]
    elif head is not None and (head.existing is None or head.existing.pk != current_head[0]):
        head.error(
            "household_role",
            _(
                "Household %(household)s already has a main member (member number %(number)s). Change the "
                "main member on the member's page."
            )
            % {"household": household.name, "number": current_head[1]},
        )
    household.head = head
    for row in household.rows:
        existing = row.existing
        in_household = (
            existing is not None and household.pk is not None and existing.household_id == household.pk
        )
        if existing is not None and existing.household_id and not in_household:
            row.error(
                "household",
                _(
                    "This member already belongs to household %(current)s. Let them leave it on the member's "
                    "page first."
                )
                % {"current": existing.household_name},
            )
            continue
        if row is head:
            role = Member.HouseholdRole.HEAD
        elif row.household_role:
            role = row.household_role
        elif in_household and existing.values["household_role"]:
            role = existing.values["household_role"]
        else:
            role = Member.HouseholdRole.OTHER
        row.values["household"] = household
        row.values["household_role"] = role


def _family_name(row: ImportRow) -> str:
    if row.kind == ORGANISATION:
        return row.derived[3]
    person = merged(row)
    name = " ".join(part for part in (person.name_prefix, person.last_name) if part)
    return name[:1].upper() + name[1:]


# --- one row ------------------------------------------------------------------------------


# The order in which a row's changes are reported.
CHANGE_ORDER = {
    name: position
    for position, name in enumerate(
        [
            "member_number",
            "first_name",
            "initials",
            "name_prefix",
            "last_name",
            "organisation_name",
            "kvk_number",
            "contact_person",
            "date_of_birth",
            "email",
            "phone",
            "street",
            "house_number",
            "house_number_addition",
            "postcode",
            "city",
            "country",
            "correspondence",
            "member_type",
            "household",
            "household_role",
            "member_since",
            "plan",
            "billing_frequency",
            "start_date",
            "iban",
            "holder_name",
            "bic",
            "notes",
        ]
    )
}


def _plan_row(row: ImportRow, lookups: Lookups) -> None:
    _plan_membership(row, lookups)
    if row.errors:
        return
    _plan_member_since(row)
    if row.existing is not None:
        _plan_member_changes(row, lookups)
    _plan_bank(row)
    _plan_contact(row)
    row.changes.sort(key=lambda change: CHANGE_ORDER.get(change["field"], len(CHANGE_ORDER)))


def _show(name: str, value, lookups: Lookups) -> str:
    if value is None:
        return ""
    if name == "member_type":
        member_type = lookups.member_types_by_pk.get(value) if isinstance(value, int) else value
        return member_type.name if member_type else ""
    if name == "country":
        return value
    return display_value(value)


def _plan_member_changes(row: ImportRow, lookups: Lookups) -> None:
    existing: ExistingMember = row.existing
    updates = {}
    for name, new in row.values.items():
        if name in ("household", "member_number"):
            continue
        if name == "member_type":
            before_value, after_value = existing.member_type_id, new.pk
        else:
            before_value, after_value = existing.values[name], new
        if before_value != after_value:
            updates[name] = new
            row.changes.append(
                {
                    "field": name,
                    "before": _show(name, before_value, lookups),
                    "after": _show(name, after_value, lookups),
                }
            )
    household = row.values.get("household")
    if household is not None and (household.pk is None or household.pk != existing.household_id):
        updates["household"] = household
        row.changes.append({"field": "household", "before": existing.household_name, "after": household.name})
    row.todo["member"] = updates


def _plan_member_since(row: ImportRow) -> None:
    """'Member since' (lid sinds) is the start of the continuous membership. The file's start date
    column says it; without one, a first membership sets it (and a plan switch never moves it)."""
    existing = row.existing
    current = existing.values["member_since"] if existing else None
    since = row.start_date or current
    if row.start_date is None:
        for todo in row.todo.get("membership", []):
            if todo[0] == "start" and (since is None or todo[3] < since):
                since = todo[3]
    if since != current:
        row.values["member_since"] = since


def _plan_membership(row: ImportRow, lookups: Lookups) -> None:
    current = row.existing.membership if row.existing else None
    todos = []
    if row.plan is not None:
        plan = row.plan
        if current is None:
            frequency = row.frequency or BillingFrequency.YEARLY
            if check_plan_rules(row, plan, frequency):
                todos.append(("start", plan, frequency, row.start_date or lookups.today))
        elif current.plan_id == plan.pk:
            frequency = row.frequency or current.billing_frequency
            if check_plan_rules(row, plan, frequency):
                if frequency != current.billing_frequency:
                    todos.append(("frequency", current, frequency))
        elif current.status == Membership.Status.CANCELLED:
            row.error(
                "plan",
                _(
                    "This member's membership (%(plan)s) is cancelled; it cannot switch plans in an "
                    "import. Change it on the member's page."
                )
                % {"plan": lookups.plans_by_pk[current.plan_id].name},
            )
        else:
            frequency = row.frequency or current.billing_frequency
            if check_plan_rules(row, plan, frequency):
                # Started today or later: a correction of the plan, not a switch.
                kind = "correct" if current.start_date >= lookups.today else "switch"
                todos.append((kind, current, plan, frequency))
    elif row.frequency and current is not None and row.frequency != current.billing_frequency:
        plan = lookups.plans_by_pk[current.plan_id]
        if check_plan_rules(row, plan, row.frequency):
            todos.append(("frequency", current, row.frequency))
    row.todo["membership"] = todos
    if row.existing is not None:  # a new row's report is "new"; its audit entries are written by writing.py
        for todo in todos:
            row.changes.extend(_membership_changes(todo, lookups))


def _membership_changes(todo: tuple, lookups: Lookups) -> list[dict]:
    kind = todo[0]
    frequency_label = lookups.frequency_labels
    if kind == "start":
        return [
            {"field": "plan", "before": "", "after": todo[1].name},
            {"field": "billing_frequency", "before": "", "after": str(frequency_label[todo[2]])},
            {"field": "start_date", "before": "", "after": display_value(todo[3])},
        ]
    current = todo[1]
    if kind == "frequency":
        return [
            {
                "field": "billing_frequency",
                "before": str(frequency_label[current.billing_frequency]),
                "after": str(frequency_label[todo[2]]),
            }
        ]
    changes = [{"field": "plan", "before": lookups.plans_by_pk[current.plan_id].name, "after": todo[2].name}]
    if todo[3] != current.billing_frequency:
        changes.append(
            {
                "field": "billing_frequency",
                "before": str(frequency_label[current.billing_frequency]),
                "after": str(frequency_label[todo[3]]),
            }
        )
    return changes


def _plan_bank(row: ImportRow) -> None:
    bank = row.bank
    if not bank or "iban" not in bank:
        return
    current = row.existing.bank if row.existing else None
    if "fingerprint" not in bank:  # normally set while the row was checked (rows.seal_bank)
        bank["fingerprint"] = fingerprint(bank["iban"])
    if current is not None and current.fingerprint == bank["fingerprint"]:
        updates = {}
        if bank.get("holder_name") and bank["holder_name"] != current.holder_name:
            updates["holder_name"] = bank["holder_name"]
        if bank["bic_given"] and bank["bic"] != current.bic:
            updates["bic"] = bank["bic"]
        for name, value in updates.items():
            row.changes.append({"field": name, "before": getattr(current, name), "after": value})
        if updates:
            row.todo["bank"] = ("update", current, updates)
        return
    holder = bank.get("holder_name") or row.derived[3]
    bank["holder_name"] = holder
    row.todo["bank"] = ("new", current, bank)
    row.changes.append(
        {"field": "iban", "before": current.masked if current else "", "after": mask_iban(bank["iban"])}
    )
    if current is None or current.holder_name != holder:
        row.changes.append(
            {"field": "holder_name", "before": current.holder_name if current else "", "after": holder}
        )


def _plan_contact(row: ImportRow) -> None:
    if row.kind != ORGANISATION or not row.contact:
        return
    current = row.existing.contact if row.existing else None
    new = row.contact
    if current is None:
        row.todo["contact"] = ("new", None, new)
        row.changes.append({"field": "contact_person", "before": "", "after": _contact_name(new)})
        return
    before = {
        "first_name": current.first_name,
        "name_prefix": current.name_prefix,
        "last_name": current.last_name,
    }
    if before != new:
        row.todo["contact"] = ("update", current, new)
        row.changes.append(
            {"field": "contact_person", "before": _contact_name(before), "after": _contact_name(new)}
        )


def _contact_name(parts: dict) -> str:
    return " ".join(p for p in (parts["first_name"], parts["name_prefix"], parts["last_name"]) if p)
