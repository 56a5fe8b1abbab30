"""Writing an import plan to the database, set-based (see bulk.py): all new members in one go,
then their memberships, bank accounts, contact persons and audit entries, and the changed rows
grouped by the fields that change. Never one save per row: 100,000 rows take seconds.

Runs inside the caller's transaction (importing.run_import), so a failure writes nothing.

The audit log gets what the services would write: for a new member one "created" entry that
also lists the plan and the (masked) IBAN it was imported with; for an existing member one entry
per changed thing (member data, membership, bank account, contact person).
"""

import calendar
import json
from datetime import date, timedelta
from functools import lru_cache
from json.encoder import encode_basestring_ascii

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from kring.core import crypto
from kring.core.audit import audit_row, display_value
from kring.core.models import Association, AuditEntry, NumberSequence
from kring.members.importing import bulk
from kring.members.importing.existing import chunks
from kring.members.importing.planning import NEW, UPDATED, ImportPlan
from kring.members.importing.rows import ImportRow
from kring.members.models import (
    BankAccount,
    CancellationReason,
    ContactPerson,
    Household,
    Member,
    Membership,
    MembershipChange,
    MemberType,
    Plan,
)
from kring.members.services import (
    MEMBER_FIELDS,
    MEMBER_NUMBER_SEQUENCE,
    next_member_numbers,
    refresh_membership_summary,
)
from kring.members.validation import mask_iban

SUMMARY_CHUNK = 5000
BANK_FIELDS = ("iban", "holder_name", "bic")
MEMBERSHIP_FIELDS = ("plan", "billing_frequency", "start_date")
DERIVED_FIELDS = ("sort_name", "search_name", "city_search")
STEPS = 6
# The tables whose indexes are set aside while a large share of them is written (see bulk.Load), on
# SQLite and on PostgreSQL (measured). PostgreSQL keeps the indexes of memberships and of the audit
# log (rows in the order of their keys) up to date as cheaply as it builds them afresh, and the
# audit log is too large to read six more times.
INDEXES_SET_ASIDE = {
    False: (Member, Membership, BankAccount, MembershipChange, AuditEntry),
    True: (Member, BankAccount, MembershipChange),
}

MEMBER_COLUMNS = [field.attname for field in Member._meta.concrete_fields]
MEMBERSHIP_COLUMNS = [
    "id",
    "member_id",
    "plan_id",
    "billing_frequency",
    "status",
    "start_date",
    "current_term_end",
    "created_at",
]
CHANGE_COLUMNS = [
    "membership_id",
    "kind",
    "effective_date",
    "from_value",
    "to_value",
    "note",
    "created_by_id",
    "created_at",
]
BANK_COLUMNS = [
    "id",
    "member_id",
    "iban",
    "iban_fingerprint",
    "iban_masked",
    "bic",
    "holder_name",
    "is_primary",
    "created_at",
]
AUDIT_COLUMNS = [
    "action",
    "actor_id",
    "actor_label",
    "created_at",
    "object_type",
    "object_id",
    "member_id",
    "changes",
    "note",
]
CREATED_FIELDS = ["member_number", *(name for name in MEMBER_FIELDS if name != "guardian")]
# The fields of a new member's "created" entry that every row sets itself.
ROW_FIELDS = {"member_number", "kind", "member_type", "household"}
MEMBER_POSITIONS = {column: position for position, column in enumerate(MEMBER_COLUMNS)}


def add_months(day: date, months: int) -> date:
    """What `day + relativedelta(months=months)` gives (the day clipped to the month's end), faster."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@lru_cache(maxsize=65536)
def term_end_on(start: date, term_months: int, today: date) -> date:
    """The end of the term running on `today` (or of the first term, for a start in the future);
    services.term_end for the first term, then term after term as process_term_ends renews."""
    terms = 1
    if start < today:
        months = (today.year - start.year) * 12 + today.month - start.month
        terms = max(1, months // term_months)
    while True:
        end = add_months(start, terms * term_months) - timedelta(days=1)
        if end >= today or start > today:
            return end
        terms += 1


# --- the audit entries' changes as JSON text ------------------------------------------------
# Exactly what json.dumps (which Django's JSONField uses) writes, built from pieces: the changes of
# 100,000 new members are most of an import's audit log.


def _json(value) -> str:
    return encode_basestring_ascii(value) if isinstance(value, str) else json.dumps(value)


def _change_json(change) -> str:
    if change.__class__ is dict and len(change) == 3:
        keys = iter(change)
        if next(keys) == "field" and next(keys) == "before" and next(keys) == "after":
            return (
                f'{{"field": {_json(change["field"])}, "before": {_json(change["before"])}, '
                f'"after": {_json(change["after"])}}}'
            )
    return json.dumps(change)


def changes_json(changes: list) -> str:
    """json.dumps(changes), faster for the usual {"field", "before", "after"} entries."""
    return "[" + ", ".join([_change_json(change) for change in changes]) + "]"


# '{"field": "email", "before": "", "after": ' for every field a new member's entry can list.
_ADDED = {}


def _added_json(field: str, value: str) -> str:
    """_change_json({"field": field, "before": "", "after": value}) for text values."""
    prefix = _ADDED.get(field)
    if prefix is None:
        prefix = _ADDED[field] = f'{{"field": {_json(field)}, "before": "", "after": '
    return prefix + encode_basestring_ascii(value) + "}"


class Writer:
    def __init__(self, plan: ImportPlan, *, actor, note: str, progress):
        self.plan = plan
        self.lookups = plan.lookups
        self.today = plan.lookups.today
        self.yesterday = self.today - timedelta(days=1)
        self.now = timezone.now()
        self.user_id = actor.pk if getattr(actor, "pk", None) else None
        self.note = note
        self.progress = progress
        # Who and how the audit log names them: the same as kring.core.audit.log_action.
        template = audit_row("", actor=actor, obj=Member(pk=0))
        self.actor_label = template["actor_label"]
        self.audit: list[tuple] = []
        self.changes: list[tuple] = []  # MembershipChange rows
        self.household_names: dict[int, str] = {}
        self.member_ids: dict[ImportRow, int] = {}
        self.refresh_ids: list[int] = []
        self.created_steps: dict[tuple, list] = {}  # see _created_steps
        self.frequency_labels = self.lookups.frequency_labels
        self.status_labels = {value: str(label) for value, label in Membership.Status.choices}

    def log(self, action: str, model, object_id: int, member_id: int, changes: list[dict]) -> None:
        self.log_json(action, model, object_id, member_id, changes_json(changes))

    def log_json(self, action: str, model, object_id: int, member_id: int, changes: str) -> None:
        """An audit entry whose changes are JSON text already (see changes_json)."""
        self.audit.append(
            (
                action,
                self.user_id,
                self.actor_label,
                self.now,
                model._meta.model_name,
                str(object_id),
                member_id,
                changes,
                self.note,
            )
        )

    def change(self, membership_id: int, kind: str, effective: date, before: str, after: str) -> None:
        self.changes.append(
            (
                membership_id,
                kind,
                effective,
                str(before)[:200],
                str(after)[:200],
                self.note,
                self.user_id,
                self.now,
            )
        )

    def run(self) -> None:
        rows = [row for row in self.plan.rows if row.status in (NEW, UPDATED)]
        new_rows = [row for row in rows if row.status == NEW]
        updated_rows = [row for row in rows if row.status == UPDATED]
        started = sum(1 for row in rows for todo in row.todo.get("membership", ()) if todo[0] != "frequency")
        added = {
            Member: len(new_rows),
            Membership: started,
            BankAccount: sum(1 for row in rows if row.todo.get("bank", ("",))[0] == "new"),
            MembershipChange: started,
            AuditEntry: len(rows),
        }
        load = bulk.Load(
            added,
            indexes_of=INDEXES_SET_ASIDE[connection.vendor == "postgresql"],
            lookups=(Plan, MemberType, Household, CancellationReason),
        )
        load.start()
        try:
            self.progress(0, STEPS, _("Saving new members"))
            self.create_households()
            self.create_members(new_rows)
            self.progress(1, STEPS, _("Saving changed members"))
            self.update_members([row for row in updated_rows if row.todo.get("member")])
            self.progress(2, STEPS, _("Saving memberships"))
            self.write_memberships(new_rows, [row for row in updated_rows if row.todo.get("membership")])
            self.progress(3, STEPS, _("Saving bank accounts and contact persons"))
            self.write_bank_accounts([row for row in rows if row.todo.get("bank")])
            self.write_contacts([row for row in rows if row.todo.get("contact")])
            self.progress(4, STEPS, _("Writing the history"))
            bulk.insert(MembershipChange, CHANGE_COLUMNS, self.changes)
            bulk.insert(AuditEntry, AUDIT_COLUMNS, self.audit, ready=("changes",))
            load.finish()
        finally:
            load.restore_cache()
        self.progress(5, STEPS, _("Updating the member list"))
        for chunk in chunks(sorted(set(self.refresh_ids)), SUMMARY_CHUNK):
            refresh_membership_summary(chunk)
        # Partners and children without a plan of their own are covered by the household plan:
        # refresh the households in the file (refresh_membership_summary includes the housemates).
        household_member_ids = sorted({self.member_id(row) for row in rows if row.household_key})
        for chunk in chunks(household_member_ids, SUMMARY_CHUNK):
            refresh_membership_summary(chunk)
        self.progress(6, STEPS, _("Done"))

    # --- households and members -----------------------------------------------------------

    def create_households(self) -> None:
        new = [household for household in self.plan.households if household.pk is None]
        for household, pk in zip(new, bulk.reserve_ids(Household, len(new)), strict=True):
            household.pk = pk
        bulk.insert(Household, ["id", "name", "created_at"], [(h.pk, h.name[:200], self.now) for h in new])
        self.household_names = {household.pk: household.name for household in self.plan.households}

    def create_members(self, rows: list[ImportRow]) -> None:
        self._number(rows)
        defaults = {field.attname: field.get_default() for field in Member._meta.concrete_fields}
        defaults.update(created_at=self.now, updated_at=self.now, country=self.lookups.default_country)
        template = [defaults[column] for column in MEMBER_COLUMNS]
        # The audit entry's part for each field a row leaves at its default (the same for every row).
        unchanged = {name: self._added_or_none(name, defaults[_attname(name)]) for name in CREATED_FIELDS}
        member_ids = bulk.reserve_ids(Member, len(rows))
        # Made while they are written: PostgreSQL stores the first rows while the next are made.
        bulk.insert(Member, MEMBER_COLUMNS, self._member_records(rows, member_ids, template, unchanged))

    def _member_records(self, rows: list[ImportRow], member_ids: list[int], template: list, unchanged: dict):
        at = MEMBER_POSITIONS
        for row, member_id in zip(rows, member_ids, strict=True):
            record = template.copy()
            record[at["id"]] = member_id
            record[at["member_number"]] = row.member_number
            record[at["kind"]] = row.kind
            record[at["member_type_id"]] = row.member_type.pk
            for name, value in row.values.items():
                if name == "household":
                    record[at["household_id"]] = value.pk
                elif name == "member_type":
                    record[at["member_type_id"]] = value.pk
                else:
                    record[at[name]] = value
            for todo in row.todo.get("membership", ()):
                if todo[0] == "start":
                    # A new member's one membership is what the summary would pick (refresh_membership_summary).
                    record[at["current_plan_id"]] = todo[1].pk
                    record[at["membership_status"]] = Membership.Status.ACTIVE
                    break
            record[at["sort_name"]], record[at["search_name"]], record[at["city_search"]] = row.derived[:3]
            self.member_ids[row] = member_id
            self.log_json(
                "kring.member.created",
                Member,
                member_id,
                member_id,
                self._created_changes_json(record, row, unchanged),
            )
            yield record

    def _number(self, rows: list[ImportRow]) -> None:
        """Numbers in the association's format move the counter past them; rows without a number
        get the next ones, reserved in one go."""
        association = Association.current()
        in_format = [n for n in (_number_in_format(row.member_number, association) for row in rows) if n]
        if in_format:
            NumberSequence.ensure_at_least(MEMBER_NUMBER_SEQUENCE, max(in_format))
        unnumbered = [row for row in rows if not row.member_number]
        for row, number in zip(unnumbered, next_member_numbers(len(unnumbered)), strict=True):
            row.member_number = number

    def _apply_values(self, record: dict, values: dict) -> None:
        for name, value in values.items():
            if name == "household":
                record["household_id"] = value.pk
            elif name == "member_type":
                record["member_type_id"] = value.pk
            else:
                record[name] = value

    def _created_changes_json(self, record: list, row: ImportRow, unchanged: dict) -> str:
        """What create_member, start_membership and set_bank_account audit, in one entry: the JSON text
        of [{"field": …, "before": "", "after": …}, …] for every field with a value (`record` is the
        member's row in MEMBER_COLUMNS order, `unchanged` the parts of the fields at their default)."""
        shape = tuple(row.values)
        steps = self.created_steps.get(shape)
        if steps is None:
            steps = self.created_steps[shape] = self._created_steps(row.values, unchanged)
        parts = []
        for name, position in steps:
            if position is None:
                parts.append(name)  # the part of a field at its default
                continue
            if position == -1:
                value = row.member_type.name
            elif position == -2:
                value = self.household_names.get(record[MEMBER_POSITIONS["household_id"]], "")
            else:
                value = record[position]
                if value.__class__ is not str:
                    value = display_value(value)
            if value != "":
                parts.append(_added_json(name, value))
        for todo in row.todo.get("membership", ()):
            parts.append(_added_json("plan", todo[1].name))
            parts.append(_added_json("billing_frequency", todo[2]))
            parts.append(_added_json("start_date", display_value(todo[3])))
        for change in row.changes:
            if change["field"] in BANK_FIELDS:
                parts.append(_change_json(change))
        return "[" + ", ".join(parts) + "]"

    def _created_steps(self, values: dict, unchanged: dict) -> list[tuple]:
        """For rows that set these `values`: per field of CREATED_FIELDS in turn, (part, None) for a
        field at its default, or (name, where its value is: a position in the record, -1 for the
        member type, -2 for the household)."""
        steps = []
        for name in CREATED_FIELDS:
            if name == "member_type":
                steps.append((name, -1))
            elif name == "household":
                steps.append((name, -2))
            elif name in values or name in ROW_FIELDS:
                steps.append((name, MEMBER_POSITIONS[name]))
            elif unchanged[name] is not None:
                steps.append((unchanged[name], None))
        return steps

    def _added_or_none(self, name: str, value) -> str | None:
        """The audit entry's part for `name` at its default `value`; None when it is left out (empty)."""
        if name == "member_type" or name == "household":
            return None  # always worked out per row (ROW_FIELDS)
        shown = value if value.__class__ is str else display_value(value)
        return _added_json(name, shown) if shown != "" else None

    def update_members(self, rows: list[ImportRow]) -> None:
        groups: dict[tuple, list[tuple]] = {}
        for row in rows:
            existing = row.existing
            updates = row.todo["member"]
            record = dict(existing.values, kind=existing.kind)
            self._apply_values(record, updates)
            record["sort_name"], record["search_name"], record["city_search"] = row.derived[:3]
            record["updated_at"] = self.now
            fields = tuple(sorted(_attname(name) for name in updates)) + DERIVED_FIELDS + ("updated_at",)
            groups.setdefault(fields, []).append((existing.pk, *(record[name] for name in fields)))
            self.log(
                "kring.member.changed",
                Member,
                existing.pk,
                existing.pk,
                [change for change in row.changes if change["field"] in updates],
            )
        for fields, records in groups.items():
            bulk.update(Member, fields, records)

    def member_id(self, row: ImportRow) -> int:
        return row.existing.pk if row.existing is not None else self.member_ids[row]

    # --- memberships ----------------------------------------------------------------------

    def write_memberships(self, new_rows: list[ImportRow], updated_rows: list[ImportRow]) -> None:
        started: list[tuple[ImportRow, tuple]] = []
        updates: dict[tuple, list[tuple]] = {}
        ended: list[int] = []
        for row in new_rows:
            started += [(row, todo) for todo in row.todo.get("membership", [])]
        for row in updated_rows:
            member_id = row.existing.pk
            self.refresh_ids.append(member_id)
            for todo in row.todo["membership"]:
                kind = todo[0]
                if kind == "start":
                    started.append((row, todo))
                elif kind == "switch":
                    ended.append(todo[1].pk)
                    self._end_for_switch(member_id, todo, updates)
                    started.append((row, todo))
                else:
                    self._update_membership(member_id, row, todo, updates)
        self._start_memberships(started)
        for fields, records in updates.items():
            bulk.update(Membership, fields, records)
        self._end_addons(ended)

    def _start_memberships(self, started: list[tuple[ImportRow, tuple]]) -> None:
        records = []
        for (row, todo), membership_id in zip(
            started, bulk.reserve_ids(Membership, len(started)), strict=True
        ):
            member_id = self.member_id(row)
            if todo[0] == "start":
                _kind, plan, frequency, start = todo
            else:
                _kind, current, plan, frequency = todo
                start = self.today
                self.change(
                    membership_id,
                    MembershipChange.Kind.PLAN_SWITCH,
                    start,
                    self.lookups.plans_by_pk[current.plan_id].name,
                    plan.name,
                )
            records.append(
                (
                    membership_id,
                    member_id,
                    plan.pk,
                    frequency,
                    Membership.Status.ACTIVE,
                    start,
                    term_end_on(start, plan.term_months, self.today),
                    self.now,
                )
            )
            self.change(membership_id, MembershipChange.Kind.STARTED, start, "", plan.name)
            if row.existing is not None:
                self.log(
                    "kring.membership.started",
                    Membership,
                    membership_id,
                    member_id,
                    [
                        {"field": "plan", "before": "", "after": plan.name},
                        {"field": "billing_frequency", "before": "", "after": frequency},
                        {"field": "status", "before": "", "after": Membership.Status.ACTIVE},
                        {"field": "start_date", "before": "", "after": display_value(start)},
                    ],
                )
        bulk.insert(Membership, MEMBERSHIP_COLUMNS, records)

    def _end_for_switch(self, member_id: int, todo: tuple, updates: dict) -> None:
        """The old membership ends the day before the new plan starts (as services.switch_plan)."""
        _kind, current, plan, _frequency = todo
        updates.setdefault(("status", "end_date"), []).append(
            (current.pk, Membership.Status.ENDED, self.yesterday)
        )
        self.change(
            current.pk,
            MembershipChange.Kind.STATUS,
            self.yesterday,
            self.status_labels[current.status],
            self.status_labels[Membership.Status.ENDED],
        )
        self.change(
            current.pk,
            MembershipChange.Kind.PLAN_SWITCH,
            self.today,
            self.lookups.plans_by_pk[current.plan_id].name,
            plan.name,
        )
        self.log(
            "kring.membership.status_changed",
            Membership,
            current.pk,
            member_id,
            [
                {"field": "status", "before": current.status, "after": Membership.Status.ENDED},
                {
                    "field": "end_date",
                    "before": display_value(current.end_date),
                    "after": display_value(self.yesterday),
                },
            ],
        )

    def _update_membership(self, member_id: int, row: ImportRow, todo: tuple, updates: dict) -> None:
        kind, current = todo[0], todo[1]
        if kind == "correct":
            # Started today or later: the plan is corrected in place, not switched.
            plan, frequency = todo[2], todo[3]
            updates.setdefault(("plan", "billing_frequency", "current_term_end"), []).append(
                (
                    current.pk,
                    plan.pk,
                    frequency,
                    term_end_on(current.start_date, plan.term_months, self.today),
                )
            )
            self.change(
                current.pk,
                MembershipChange.Kind.PLAN_SWITCH,
                current.start_date,
                self.lookups.plans_by_pk[current.plan_id].name,
                plan.name,
            )
            self.log(
                "kring.membership.changed",
                Membership,
                current.pk,
                member_id,
                [
                    {
                        "field": "plan",
                        "before": self.lookups.plans_by_pk[current.plan_id].name,
                        "after": plan.name,
                    },
                    {"field": "billing_frequency", "before": current.billing_frequency, "after": frequency},
                ],
            )
        elif kind == "frequency":
            frequency = todo[2]
            updates.setdefault(("billing_frequency",), []).append((current.pk, frequency))
            self.change(
                current.pk,
                MembershipChange.Kind.FREQUENCY,
                self.today,
                self.frequency_labels[current.billing_frequency],
                self.frequency_labels[frequency],
            )
            self.log(
                "kring.membership.frequency_changed",
                Membership,
                current.pk,
                member_id,
                [{"field": "billing_frequency", "before": current.billing_frequency, "after": frequency}],
            )

    def _end_addons(self, ended_ids: list[int]) -> None:
        """Add-ons end with the main membership they belong to (as change_membership_status does)."""
        records = []
        for chunk in chunks(ended_ids):
            current = (
                Membership.objects.filter(parent_membership_id__in=chunk)
                .exclude(status=Membership.Status.ENDED)
                .values_list("pk", "member_id", "status", "start_date", "end_date")
            )
            for pk, member_id, status, start, end in current:
                end_date = max(end or self.yesterday, start)
                records.append((pk, Membership.Status.ENDED, end_date))
                self.change(
                    pk,
                    MembershipChange.Kind.STATUS,
                    self.yesterday,
                    self.status_labels[status],
                    self.status_labels[Membership.Status.ENDED],
                )
                self.log(
                    "kring.membership.status_changed",
                    Membership,
                    pk,
                    member_id,
                    [
                        {"field": "status", "before": status, "after": Membership.Status.ENDED},
                        {"field": "end_date", "before": display_value(end), "after": display_value(end_date)},
                    ],
                )
        bulk.update(Membership, ("status", "end_date"), records)

    # --- bank accounts and contact persons ------------------------------------------------

    def write_bank_accounts(self, rows: list[ImportRow]) -> None:
        retired, created, changed = [], [], []
        for row in rows:
            kind, current, data = row.todo["bank"]
            member_id = self.member_id(row)
            bank_changes = [change for change in row.changes if change["field"] in BANK_FIELDS]
            if kind == "update":
                changed.append(
                    (current.pk, data.get("holder_name", current.holder_name), data.get("bic", current.bic))
                )
                self.log("kring.bank_account.changed", BankAccount, current.pk, member_id, bank_changes)
                continue
            if current is not None:
                retired.append(current.pk)
            created.append((row, member_id, data, bank_changes))
        for chunk in chunks(retired):
            BankAccount.objects.filter(pk__in=chunk).update(is_primary=False)
        records = []
        for (row, member_id, data, bank_changes), account_id in zip(
            created, bulk.reserve_ids(BankAccount, len(created)), strict=True
        ):
            # Written without save(): the masked form and the fingerprint are set here, and the IBAN
            # is encrypted as its field would (most were encrypted while the rows were checked).
            records.append(
                (
                    account_id,
                    member_id,
                    data.get("encrypted") or crypto.encrypt(data["iban"]),
                    data["fingerprint"],
                    mask_iban(data["iban"]),
                    data["bic"],
                    data["holder_name"][:140],
                    True,
                    self.now,
                )
            )
            if row.existing is not None:  # a new member's account is in its "created" entry
                self.log("kring.bank_account.changed", BankAccount, account_id, member_id, bank_changes)
        bulk.insert(BankAccount, BANK_COLUMNS, records, ready=("iban",))
        bulk.update(BankAccount, ("holder_name", "bic"), changed)

    def write_contacts(self, rows: list[ImportRow]) -> None:
        created, changed = [], []
        for row in rows:
            kind, current, parts = row.todo["contact"]
            member_id = self.member_id(row)
            if kind == "new":
                created.append((member_id, parts))
            else:
                changed.append((current.pk, parts["first_name"], parts["name_prefix"], parts["last_name"]))
                self.log(
                    "kring.contact_person.changed",
                    ContactPerson,
                    current.pk,
                    member_id,
                    [change for change in row.changes if change["field"] == "contact_person"],
                )
        records = []
        for (member_id, parts), contact_id in zip(
            created, bulk.reserve_ids(ContactPerson, len(created)), strict=True
        ):
            records.append(
                (
                    contact_id,
                    member_id,
                    parts["first_name"],
                    parts["name_prefix"],
                    parts["last_name"],
                    True,
                    "",
                    "",
                    "",
                )
            )
            name = " ".join(p for p in (parts["first_name"], parts["name_prefix"], parts["last_name"]) if p)
            self.log(
                "kring.contact_person.created",
                ContactPerson,
                contact_id,
                member_id,
                [{"field": "contact_person", "before": "", "after": name}],
            )
        bulk.insert(
            ContactPerson,
            [
                "id",
                "organisation_id",
                "first_name",
                "name_prefix",
                "last_name",
                "is_primary",
                "role",
                "email",
                "phone",
            ],
            records,
        )
        bulk.update(ContactPerson, ("first_name", "name_prefix", "last_name"), changed)


def _attname(name: str) -> str:
    return {"household": "household_id", "member_type": "member_type_id"}.get(name, name)


def _number_in_format(number: str, association: Association) -> int | None:
    """123 for 'L000123' when the association numbers members L + six digits; else None."""
    prefix = association.member_number_prefix
    if not number.startswith(prefix):
        return None
    digits = number[len(prefix) :]
    if not digits.isdigit() or not digits.isascii():
        return None
    value = int(digits)
    return value if association.format_member_number(value) == number else None
