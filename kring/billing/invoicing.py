"""Contribution invoice runs: every membership's dues for a period, invoiced set-based.

`run_invoices("2027-Q1", actor=…)` creates the dues invoices that fall in the period, and
`preview_invoice_run` shows what it would create, per plan and billing frequency, creating nothing.
The rules (see docs/INVOICING.md):

- Instalments follow the billing year (`BillingSettings.billing_year_start_month`): yearly dues
  cover the billing year, half-yearly its halves, quarterly its quarters, monthly its months.
- A membership is invoiced for an instalment in the run whose period holds
  max(instalment start, membership start): a yearly payer once, in the period that holds the
  start of their year; someone who joins mid-instalment in the period that holds their start.
- Each line of `members.queries.dues_breakdown` (the plan's price, the difference for paying in
  instalments, each price rule) becomes an invoice line of yearly amount / instalments per year
  × covered days / days of the instalment, rounded half up to the cent. The invoice total is the
  sum of its lines; € 0 invoices are not made. The VAT inside each line is rounded as
  `services.vat_included` does.
- With payers (MembershipPayer), each payer gets its own invoice for its share of every line; the
  last payer (by id) takes what is left of each line, so the invoices add up exactly.

How it is done: a run walks the members in chunks of (50,000) ids. Per chunk, in one transaction,
it takes the row lock of the year's invoice-number counter, computes the candidates into temporary
tables with `INSERT … SELECT` (membership × instalment with the recipient's name and address, the
payers, the lines with their amounts, one row per invoice with its number), and inserts the
invoices and their lines with two more `INSERT … SELECT`s that read only those tables. The unique constraint `invoice_dues_once_per_instalment` (membership,
instalment start, payer position) and the NOT EXISTS in the candidate query make a run
idempotent: running a period again, or after a crash, adds only what is missing. Money is
computed in whole cents (integers) in SQL and only divided by 100 when stored, so SQLite's
floating point never rounds an amount.

The few differences between SQLite and PostgreSQL (date arithmetic, text functions) sit in `_Sql`.
"""

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from kring.billing.models import BillingSettings, Invoice, InvoiceRun
from kring.billing.services import format_invoice_number, invoice_sequence_name, reserve_invoice_numbers
from kring.core.audit import log_action
from kring.core.models import Association, NumberSequence
from kring.members.models import BillingFrequency, Country, Membership, Plan, PlanPrice, PriceRule

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
CHUNK_SIZE = 50_000
# Statuses whose memberships are invoiced (lapsed ones are not; ended ones for the days they ran).
BILLED_STATUSES = (
    Membership.Status.PENDING,
    Membership.Status.ACTIVE,
    Membership.Status.CANCELLED,
    Membership.Status.ENDED,
)
FREQUENCY_ORDER = [value for value, _label in BillingFrequency.choices]

Progress = Callable[[int, int, str], None]


# --- periods and instalments ------------------------------------------------------------------

_PERIOD = re.compile(r"^(\d{4})(?:-(?:(H[12])|(Q[1-4])|(0[1-9]|1[0-2])))?$")


@dataclass(frozen=True)
class Period:
    code: str
    start: date
    end: date


def parse_period(code: str) -> Period:
    """'2027', '2027-H1', '2027-Q3' or '2027-07' as the calendar dates it covers."""
    text = (code or "").strip().upper()
    match = _PERIOD.match(text)
    if not match or not 1900 <= int(match.group(1)) <= 9998:
        raise ValidationError(
            _(
                "“%(code)s” is not a period Kring knows. Write a year (2027), a half year (2027-H1), "
                "a quarter (2027-Q1) or a month (2027-01)."
            )
            % {"code": code},
            code="period",
        )
    year, half, quarter, month = match.groups()
    year = int(year)
    if half:
        first, months = 1 + 6 * (int(half[1]) - 1), 6
    elif quarter:
        first, months = 1 + 3 * (int(quarter[1]) - 1), 3
    elif month:
        first, months = int(month), 1
    else:
        first, months = 1, 12
    start = date(year, first, 1)
    return Period(code=text, start=start, end=add_months(start, months) - timedelta(days=1))


def next_quarter(today: date) -> str:
    """The code of the quarter after the one `today` is in (the back office's default)."""
    quarter = (today.month - 1) // 3 + 1
    year, quarter = (today.year + 1, 1) if quarter == 4 else (today.year, quarter + 1)
    return f"{year}-Q{quarter}"


def add_months(day: date, months: int) -> date:
    """The first of the month `months` after `day`'s month (`day` is always a first here)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Instalment:
    """One instalment of a billing frequency: a billing year, half, quarter or month."""

    frequency: str
    start: date
    end: date

    @property
    def per_year(self) -> int:
        return BillingFrequency.instalments_per_year(self.frequency)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        """'2027', '2027-H2', '2027-Q3', '2027-07' when it is that calendar period; else '2027-07 – 2028-06'."""
        months = 12 // self.per_year
        start = self.start
        if start.month == 1 and months == 12:
            return f"{start.year}"
        if months == 6 and start.month in (1, 7):
            return f"{start.year}-H{1 + start.month // 7}"
        if months == 3 and start.month in (1, 4, 7, 10):
            return f"{start.year}-Q{1 + start.month // 3}"
        if months == 1:
            return f"{start:%Y-%m}"
        return f"{start:%Y-%m} – {self.end:%Y-%m}"


def instalment_containing(day: date, frequency: str, *, start_month: int = 1) -> Instalment:
    """The instalment of `frequency` that `day` falls in, for a billing year starting in `start_month`."""
    months = 12 // BillingFrequency.instalments_per_year(frequency)
    offset = day.year * 12 + day.month - 1 - (start_month - 1)
    first = (offset // months) * months + (start_month - 1)
    start = date(first // 12, first % 12 + 1, 1)
    return Instalment(frequency, start, add_months(start, months) - timedelta(days=1))


def instalments_overlapping(
    start: date, end: date, frequency: str, *, start_month: int = 1
) -> list[Instalment]:
    found = []
    instalment = instalment_containing(start, frequency, start_month=start_month)
    while instalment.start <= end:
        found.append(instalment)
        instalment = instalment_containing(
            instalment.end + timedelta(days=1), frequency, start_month=start_month
        )
    return found


def covered_dates(
    instalment: Instalment, start_date: date, end_date: date | None
) -> tuple[date, date] | None:
    """The part of the instalment a membership from start_date to end_date (None: open) covers."""
    first = max(instalment.start, start_date)
    last = min(instalment.end, end_date) if end_date else instalment.end
    return (first, last) if first <= last else None


def prorated(yearly_amount: Decimal, *, per_year: int, covered_days: int, instalment_days: int) -> Decimal:
    """yearly amount / instalments per year × covered days / days of the instalment, to the cent (half up)."""
    return (yearly_amount * covered_days / (per_year * instalment_days)).quantize(CENT, ROUND_HALF_UP)


def split_shares(amount: Decimal, shares: list[Decimal]) -> list[Decimal]:
    """`amount` split by percentages; the last share takes the rest, so the parts add up to `amount`."""
    parts = [(amount * share / 100).quantize(CENT, ROUND_HALF_UP) for share in shares[:-1]]
    return [*parts, amount - sum(parts, Decimal(0))]


# --- preview ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewRow:
    plan_id: int
    plan_name: str
    frequency: str
    frequency_label: str
    invoice_count: int
    total: Decimal


@dataclass(frozen=True)
class InvoiceRunPreview:
    period: Period
    invoice_date: date
    rows: list[PreviewRow]
    invoice_count: int
    membership_count: int
    total: Decimal

    @property
    def is_empty(self) -> bool:
        return self.invoice_count == 0


def preview_invoice_run(
    period: str, invoice_date: date | None = None, *, chunk_size: int = CHUNK_SIZE
) -> InvoiceRunPreview:
    """What `run_invoices` would create now: counts and totals per plan and frequency. Creates nothing."""
    parsed = parse_period(period)
    invoice_date = invoice_date or timezone.localdate()
    groups: dict[tuple[int, str], list[int]] = {}
    memberships = 0
    with _Workspace(parsed, invoice_date) as work:
        for lo, hi in work.chunks(chunk_size):
            if not work.build(lo, hi, recipients=False):
                continue
            memberships += work.scalar(f"SELECT COUNT(DISTINCT membership_id) FROM {INV}")
            for plan_id, frequency, count, cents in work.rows(
                f"""SELECT c.plan_id, i.frequency, COUNT(*), SUM(v.total)
                FROM {INV} v
                JOIN {CAND} c ON c.membership_id = v.membership_id AND c.inst_id = v.inst_id
                JOIN {INST} i ON i.id = v.inst_id
                GROUP BY c.plan_id, i.frequency"""
            ):
                group = groups.setdefault((plan_id, frequency), [0, 0])
                group[0] += count
                group[1] += int(cents)
        plans = work.plans
    labels = dict(BillingFrequency.choices)
    rows = sorted(
        (
            PreviewRow(
                plan_id=plan_id,
                plan_name=plans[plan_id].name,
                frequency=frequency,
                frequency_label=str(labels.get(frequency, frequency)),
                invoice_count=count,
                total=_money(cents),
            )
            for (plan_id, frequency), (count, cents) in groups.items()
        ),
        key=lambda row: (
            plans[row.plan_id].sort_order,
            row.plan_name,
            FREQUENCY_ORDER.index(row.frequency) if row.frequency in FREQUENCY_ORDER else 99,
        ),
    )
    return InvoiceRunPreview(
        period=parsed,
        invoice_date=invoice_date,
        rows=rows,
        invoice_count=sum(row.invoice_count for row in rows),
        membership_count=memberships,
        total=sum((row.total for row in rows), Decimal("0.00")),
    )


# --- the run ----------------------------------------------------------------------------------


def start_invoice_run(
    period: str, *, invoice_date: date | None = None, actor, language: str = ""
) -> InvoiceRun:
    """Record a run and hand it to a background job ("billing.invoice_run"); the job does the work."""
    from kring.core.jobs import start_job

    parsed = parse_period(period)
    invoice_date = invoice_date or timezone.localdate()
    with transaction.atomic():
        job = start_job(
            "billing.invoice_run",
            params={"period": parsed.code, "invoice_date": invoice_date.isoformat(), "language": language},
            user=actor,
        )
        run = InvoiceRun.objects.create(
            period=parsed.code,
            period_start=parsed.start,
            period_end=parsed.end,
            invoice_date=invoice_date,
            job=job,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        job.params = {**job.params, "run": run.pk}
        job.save(update_fields=["params"])
    return run


def run_invoices(
    period: str,
    *,
    invoice_date: date | None = None,
    actor,
    progress: Progress | None = None,
    run: InvoiceRun | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> InvoiceRun:
    """Create the dues invoices of `period` that do not exist yet, chunk by chunk; returns the run.

    Each chunk of members is its own transaction: a crash loses at most the chunk it was in,
    and running the period again completes the rest. `run` continues a recorded run (the
    background job's); otherwise a new one is recorded.
    """
    parsed = parse_period(period)
    invoice_date = invoice_date or (run.invoice_date if run else timezone.localdate())
    if run is None:
        run = InvoiceRun.objects.create(
            period=parsed.code,
            period_start=parsed.start,
            period_end=parsed.end,
            invoice_date=invoice_date,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
    elif run.status != InvoiceRun.Status.RUNNING:
        InvoiceRun.objects.filter(pk=run.pk).update(status=InvoiceRun.Status.RUNNING, finished_at=None)
    count, cents = run.invoice_count, _cents(run.total)
    try:
        with _Workspace(parsed, invoice_date) as work:
            chunks = work.chunks(chunk_size)
            for done, (lo, hi) in enumerate(chunks):
                if progress:
                    progress(done, len(chunks), _label(count))
                with transaction.atomic():
                    work.lock_numbers()
                    created, created_cents = work.create(lo, hi, run=run, actor=actor)
                    if created:
                        count, cents = count + created, cents + created_cents
                        InvoiceRun.objects.filter(pk=run.pk).update(invoice_count=count, total=_money(cents))
            if progress:
                progress(len(chunks), len(chunks), _label(count))
    except BaseException:
        try:
            _finish(run, InvoiceRun.Status.FAILED, count, cents, actor=actor)
        except Exception:  # the database is gone: the run stays "running"; the original error says why
            logger.exception("invoice run %s: could not record that it failed", run.pk)
        raise
    return _finish(run, InvoiceRun.Status.DONE, count, cents, actor=actor)


def _label(count: int) -> str:
    return _("%(count)s invoices created") % {"count": number_format(count, force_grouping=True)}


def _finish(run: InvoiceRun, status: str, count: int, cents: int, *, actor) -> InvoiceRun:
    total = _money(cents)
    with transaction.atomic():
        InvoiceRun.objects.filter(pk=run.pk).update(
            status=status, invoice_count=count, total=total, finished_at=timezone.now()
        )
        run.refresh_from_db()
        note = _("Dues invoicing %(period)s: %(count)s invoices, € %(total)s") % {
            "period": run.period,
            "count": count,
            "total": total,
        }
        if status == InvoiceRun.Status.FAILED:
            note += " " + _("(stopped before the end; run the period again to complete it)")
        log_action(
            "billing.invoice_run",
            actor=actor,
            obj=run,
            changes=[
                {"field": _("invoices"), "before": "", "after": str(count)},
                {"field": _("total"), "before": "", "after": str(total)},
            ],
            note=note,
        )
    return run


def _money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def _cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value(ROUND_HALF_UP))


# --- SQL --------------------------------------------------------------------------------------

INST = "kring_run_inst"
PLANLINE = "kring_run_planline"
RULE = "kring_run_rule"
PLANINFO = "kring_run_planinfo"
CAND = "kring_run_cand"
PAY = "kring_run_pay"
LINE = "kring_run_line"
INV = "kring_run_inv"
RECIPIENT_COLUMNS = (
    "rec_name varchar(200), rec_address text, rec_country varchar(2), rec_email varchar(254), "
    "rec_post boolean, rec_method varchar(20)"
)
TEMP_TABLES = {
    INST: "id integer, frequency varchar(20), per_year integer, inst_start date, inst_end date, "
    "inst_days integer, den bigint, label varchar(40)",
    PLANLINE: "plan_id bigint, frequency varchar(20), position integer, label varchar(200), yearly bigint",
    RULE: "plan_id bigint, position integer, kind varchar(20), label varchar(200), yearly bigint, "
    "min_age integer, max_age integer, countries varchar(100), pc_from varchar(20), pc_to varchar(20)",
    PLANINFO: "plan_id bigint, vat_r integer, exemption varchar(200)",
    # One row per membership and instalment to invoice, with what the price rules and the
    # recipient (when the member pays) need from the member.
    CAND: "membership_id bigint, inst_id integer, member_id bigint, plan_id bigint, cov_start date, "
    "cov_end date, cov_days integer, den bigint, has_payers integer, age integer, is_student integer, "
    "in_household integer, since_days integer, country varchar(2), postcode varchar(20), "
    f"period_text varchar(60), {RECIPIENT_COLUMNS}",
    # The payers of the candidates that have them, with each payer's recipient details.
    PAY: "membership_id bigint, payer_position integer, membership_payer_id bigint, payer_member_id bigint, "
    f"share bigint, is_last integer, rec_reference varchar(100), {RECIPIENT_COLUMNS}",
    # The invoice lines, per payer, in cents.
    LINE: "membership_id bigint, inst_id integer, payer_position integer, membership_payer_id bigint, "
    "position integer, description varchar(200), amount bigint, vat bigint, vat_r integer",
    # One row per invoice: its totals in cents, its place in the numbering and its id.
    INV: "membership_id bigint, inst_id integer, payer_position integer, membership_payer_id bigint, "
    "total bigint, vat bigint, rn bigint, invoice_id bigint",
}
# Indexes for SQLite's nested-loop joins; PostgreSQL hash-joins the temporary tables.
SQLITE_INDEXES = {
    CAND: "membership_id, inst_id",
    PAY: "membership_id, payer_position",
    INV: "membership_id, inst_id, payer_position",
}
# PostgreSQL: room to sort and hash a chunk in memory (the default 4 MB spills to disk).
POSTGRES_WORK_MEM = "64MB"
POSTGRES_TEMP_BUFFERS = "128MB"


def _rhu(numerator: str, denominator: str) -> str:
    """numerator / denominator rounded half up (away from zero), in integers; denominator > 0."""
    return (
        f"(CASE WHEN ({numerator}) >= 0 THEN (2 * ({numerator}) + ({denominator})) / (2 * ({denominator})) "
        f"ELSE -((-2 * ({numerator}) + ({denominator})) / (2 * ({denominator}))) END)"
    )


def _sqlite_upper(value):
    return value.upper() if isinstance(value, str) else value


class _Sql:
    """The SQL that differs between PostgreSQL and SQLite."""

    def __init__(self):
        self.postgres = connection.vendor == "postgresql"
        self.icu = False
        if self.postgres:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'")
                self.icu = cursor.fetchone() is not None
                cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [Invoice._meta.db_table])
                self.invoice_id_sequence = cursor.fetchone()[0]
        else:
            connection.ensure_connection()
            raw = connection.connection
            raw.create_function("kring_upper", 1, _sqlite_upper, deterministic=True)

    def days(self, later: str, earlier: str) -> str:
        if self.postgres:
            return f"({later} - {earlier})"
        return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"

    def year(self, day: str) -> str:
        if self.postgres:
            return f"CAST(EXTRACT(YEAR FROM {day}) AS INTEGER)"
        return f"CAST(substr({day}, 1, 4) AS INTEGER)"

    def month_day(self, day: str) -> str:
        """The day's month * 100 + day of month."""
        if self.postgres:
            return f"CAST(EXTRACT(MONTH FROM {day}) * 100 + EXTRACT(DAY FROM {day}) AS INTEGER)"
        return f"CAST(substr({day}, 6, 2) || substr({day}, 9, 2) AS INTEGER)"

    def date_text(self, day: str) -> str:
        """'31-12-2027'."""
        if self.postgres:
            return f"to_char({day}, 'DD-MM-YYYY')"
        return f"(substr({day}, 9, 2) || '-' || substr({day}, 6, 2) || '-' || substr({day}, 1, 4))"

    def padded(self, number: str) -> str:
        """format(number, '06d')."""
        pad = (
            f"lpad(CAST({number} AS TEXT), 6, '0')" if self.postgres else f"substr('000000' || {number}, -6)"
        )
        return f"(CASE WHEN {number} < 1000000 THEN {pad} ELSE CAST({number} AS TEXT) END)"

    def upper(self, text: str) -> str:
        """str.upper(): ICU's full case mapping on PostgreSQL (ß → SS), Python's own on SQLite."""
        if not self.postgres:
            return f"kring_upper({text})"
        if self.icu:
            return f'upper({text} COLLATE "und-x-icu")'
        return f"replace(upper({text}), 'ß', 'SS')"

    def join(self, separator: str, parts: list[str]) -> str:
        """separator.join(part for part in parts if part), for text parts that are never NULL."""
        sep = {"\n": "chr(10)" if self.postgres else "char(10)", " ": "' '", "  ": "'  '"}[separator]
        if self.postgres:
            return f"concat_ws({sep}, {', '.join(f'NULLIF({part}, {chr(39) * 2})' for part in parts)})"
        joined = parts[0]
        for part in parts[1:]:
            joined = (
                f"(CASE WHEN ({joined}) = '' THEN ({part}) WHEN ({part}) = '' THEN ({joined}) "
                f"ELSE ({joined}) || {sep} || ({part}) END)"
            )
        return joined

    def contains(self, haystack: str, needle: str) -> str:
        return f"{'strpos' if self.postgres else 'instr'}({haystack}, {needle}) > 0"

    def binary(self, text: str) -> str:
        """Compare by code point, as Python compares strings."""
        return f'({text} COLLATE "C")' if self.postgres else text

    def clear(self, table: str) -> str:
        return f"TRUNCATE {table}" if self.postgres else f"DELETE FROM {table}"

    def recipient(self, m: str, country_labels: str) -> list[str]:
        """services.member_recipient(member) for the member row `m`, as the RECIPIENT_COLUMNS."""
        person = self.join(
            " ", [f"COALESCE(NULLIF({m}.first_name, ''), {m}.initials)", f"{m}.name_prefix", f"{m}.last_name"]
        )
        name = f"substr(CASE WHEN {m}.kind = 'organisation' THEN {m}.organisation_name ELSE {person} END, 1, 200)"
        house = (
            f"(CASE WHEN {m}.house_number IS NULL OR {m}.house_number = 0 THEN '' "
            f"ELSE CAST({m}.house_number AS TEXT) END)"
        )
        street = self.join(" ", [f"{m}.street", house, f"{m}.house_number_addition"])
        city = f"(CASE WHEN {m}.city = '' THEN '' ELSE {self.upper(f'{m}.city')} END)"
        place = self.join("  ", [f"{m}.postcode", city])
        country = f"(CASE WHEN {m}.country IN ('NL', '') THEN '' ELSE (CASE {m}.country {country_labels} ELSE '' END) END)"
        return [
            name,
            self.join("\n", [street, place, country]),
            f"COALESCE(NULLIF({m}.country, ''), 'NL')",
            f"{m}.email",
            f"({m}.correspondence = 'paper' OR {m}.email = '')",
            f"{m}.payment_method",
        ]


class _Workspace:
    """The temporary tables of one run or preview, and the SQL that fills them."""

    def __init__(self, period: Period, invoice_date: date):
        self.period = period
        self.invoice_date = invoice_date
        self.year = invoice_date.year
        self.settings = BillingSettings.current()
        association = Association.current()
        self.reference_month_day = association.age_reference_month * 100 + association.age_reference_day

    # -- set-up ---------------------------------------------------------------------------------

    def __enter__(self):
        self.sql = _Sql()
        self.cursor = connection.cursor().__enter__()
        if self.sql.postgres:
            self.execute(f"SET work_mem = '{POSTGRES_WORK_MEM}'")
            self._more_temp_buffers()
        for table, columns in TEMP_TABLES.items():
            self.execute(f"DROP TABLE IF EXISTS {table}")
            self.execute(f"CREATE TEMPORARY TABLE {table} ({columns})")
            if not self.sql.postgres and table in SQLITE_INDEXES:
                self.execute(f"CREATE INDEX {table}_key ON {table} ({SQLITE_INDEXES[table]})")
        self.fill_reference_tables()
        return self

    def _more_temp_buffers(self) -> None:
        """Keep a chunk's temporary tables in memory; only possible before the session's first one."""
        try:
            with transaction.atomic():
                self.execute(f"SET temp_buffers = '{POSTGRES_TEMP_BUFFERS}'")
        except DatabaseError:
            pass

    def __exit__(self, *exc):
        try:
            if connection.connection is not None and not connection.needs_rollback:
                for table in TEMP_TABLES:
                    self.execute(f"DROP TABLE IF EXISTS {table}")
                if self.sql.postgres:
                    self.execute("RESET work_mem")
        finally:
            self.cursor.__exit__(*exc)
        return False

    def execute(self, sql: str, params=None) -> int:
        self.cursor.execute(sql, params)
        return self.cursor.rowcount

    def scalar(self, sql: str, params=None):
        self.cursor.execute(sql, params)
        return self.cursor.fetchone()[0]

    def row(self, sql: str, params=None) -> tuple:
        self.cursor.execute(sql, params)
        return self.cursor.fetchone()

    def rows(self, sql: str, params=None) -> list[tuple]:
        self.cursor.execute(sql, params)
        return self.cursor.fetchall()

    def insert_rows(self, table: str, rows: list[tuple]) -> None:
        if rows:
            placeholders = ", ".join(["%s"] * len(rows[0]))
            self.cursor.executemany(f"INSERT INTO {table} VALUES ({placeholders})", rows)

    def fill_reference_tables(self) -> None:
        """The instalments of the period, and the plans' lines and price rules in whole cents."""
        adapt = connection.ops.adapt_datefield_value
        start_month = self.settings.billing_year_start_month
        self.instalments: list[Instalment] = []
        rows = []
        for frequency in FREQUENCY_ORDER:
            for instalment in instalments_overlapping(
                self.period.start, self.period.end, frequency, start_month=start_month
            ):
                self.instalments.append(instalment)
                rows.append(
                    (
                        len(self.instalments),
                        frequency,
                        instalment.per_year,
                        adapt(instalment.start),
                        adapt(instalment.end),
                        instalment.days,
                        instalment.per_year * instalment.days,
                        instalment.label,
                    )
                )
        self.insert_rows(INST, rows)

        plans = list(Plan.objects.prefetch_related("price_rules"))
        self.plans = {plan.pk: plan for plan in plans}
        prices = {
            (price.plan_id, price.frequency): price.instalment_price for price in PlanPrice.objects.all()
        }
        labels = dict(BillingFrequency.choices)
        plan_lines, rules, info = [], [], []
        for plan in plans:
            info.append(
                (plan.pk, _cents(plan.vat_rate), plan.vat_exemption_text[:200] if not plan.vat_rate else "")
            )
            for frequency in FREQUENCY_ORDER:
                plan_lines.append((plan.pk, frequency, 1, plan.name[:200], _cents(plan.yearly_price)))
                per_year = BillingFrequency.instalments_per_year(frequency)
                price = prices.get((plan.pk, frequency))
                # As queries.dues_breakdown: the difference for paying in instalments, as its own line.
                if price is not None and price * per_year != plan.yearly_price:
                    label = _("Difference for paying %(frequency)s") % {"frequency": labels[frequency]}
                    plan_lines.append(
                        (plan.pk, frequency, 2, label[:200], _cents(price * per_year - plan.yearly_price))
                    )
            for position, rule in enumerate(plan.price_rules.all(), start=3):
                amount = (
                    rule.value
                    if rule.adjustment == PriceRule.Adjustment.AMOUNT
                    else (plan.yearly_price * rule.value / Decimal(100))
                ).quantize(CENT, ROUND_HALF_UP)
                countries = sorted({c.strip().upper() for c in rule.countries.split(",") if c.strip()})
                postcode_from = rule.postcode_from.replace(" ", "")
                postcode_to = (rule.postcode_to or rule.postcode_from).replace(" ", "") + "ZZ"
                rules.append(
                    (
                        plan.pk,
                        position,
                        rule.kind,
                        rule.label[:200],
                        _cents(amount),
                        rule.min_age,
                        rule.max_age,
                        f",{','.join(countries)}," if countries else "",
                        postcode_from,
                        postcode_to if postcode_from else "",
                    )
                )
        self.insert_rows(PLANLINE, plan_lines)
        self.insert_rows(RULE, rules)
        self.insert_rows(PLANINFO, info)

    def chunks(self, size: int) -> list[tuple[int, int]]:
        """Ranges of member ids: a chunk reads its members through the primary key, in order."""
        low, high = self.row("SELECT MIN(id), MAX(id) FROM members_member")
        if low is None or not self.instalments:
            return []
        return [(start, min(start + size, high + 1)) for start in range(low, high + 1, size)]

    # -- per chunk ------------------------------------------------------------------------------

    def lock_numbers(self) -> None:
        """Take the year's invoice-number counter under a row lock before looking for candidates,
        so that a second run at the same time waits, then sees the first run's invoices."""
        name = invoice_sequence_name(self.year)
        NumberSequence.objects.get_or_create(name=name)
        NumberSequence.objects.select_for_update().filter(name=name).values_list("pk").get()

    def country_labels(self) -> str:
        """CASE branches: each country code as member_address writes it (upper case, in this language)."""
        return " ".join(
            f"WHEN '{code}' THEN '{str(label).upper().replace(chr(39), chr(39) * 2).replace('%', '%%')}'"
            for code, label in Country.choices
            if code != Country.NL
        )

    def build(self, lo: int, hi: int, *, recipients: bool = True) -> bool:
        """Fill the candidate tables for the members lo <= id < hi; False when there is nothing to invoice.

        `recipients` adds the names and addresses the invoices need (not the preview).
        """
        sql = self.sql
        for table in (CAND, PAY, LINE, INV):
            self.execute(sql.clear(table))
        adapt = connection.ops.adapt_datefield_value
        statuses = ", ".join(f"'{status}'" for status in BILLED_STATUSES)
        labels = self.country_labels() if recipients else ""
        member_recipient = sql.recipient("m", labels) if recipients else ["NULL"] * 6
        cov_start = "(CASE WHEN ms.start_date > i.inst_start THEN ms.start_date ELSE i.inst_start END)"
        cov_end = "(CASE WHEN ms.end_date IS NOT NULL AND ms.end_date < i.inst_end THEN ms.end_date ELSE i.inst_end END)"
        # The price rules look at the member on the first day invoiced (dues_breakdown's on_date):
        # ages on the association's reference date in that year.
        candidates = self.execute(
            f"""INSERT INTO {CAND} (membership_id, inst_id, member_id, plan_id, cov_start, cov_end, cov_days, den,
                has_payers, age, is_student, in_household, since_days, country, postcode, period_text,
                rec_name, rec_address, rec_country, rec_email, rec_post, rec_method)
            SELECT membership_id, inst_id, member_id, plan_id, cov_start, cov_end,
                {sql.days("cov_end", "cov_start")} + 1, den,
                CASE WHEN EXISTS (SELECT 1 FROM members_membershippayer p WHERE p.membership_id = m.membership_id)
                    THEN 1 ELSE 0 END,
                CASE WHEN dob IS NULL THEN NULL ELSE {sql.year("cov_start")} - {sql.year("dob")}
                    - CASE WHEN %s < {sql.month_day("dob")} THEN 1 ELSE 0 END END,
                CASE WHEN student_until IS NOT NULL AND student_until >= cov_start THEN 1 ELSE 0 END,
                CASE WHEN household_id IS NOT NULL AND household_role <> 'head' THEN 1 ELSE 0 END,
                {sql.days("cov_start", "since")},
                country, replace(postcode, ' ', ''),
                CASE WHEN cov_start = inst_start AND cov_end = inst_end THEN label
                    ELSE {sql.date_text("cov_start")} || ' – ' || {sql.date_text("cov_end")} END,
                {", ".join(member_recipient)}
            FROM (
                SELECT ms.id AS membership_id, i.id AS inst_id, ms.member_id, ms.plan_id,
                    {cov_start} AS cov_start, {cov_end} AS cov_end, i.inst_start, i.inst_end, i.den, i.label,
                    m.date_of_birth AS dob, m.student_until, m.household_id, m.household_role,
                    COALESCE(m.member_since, ms.start_date) AS since,
                    m.kind, m.first_name, m.initials, m.name_prefix, m.last_name, m.organisation_name,
                    m.street, m.house_number, m.house_number_addition, m.postcode, m.city, m.country,
                    m.email, m.correspondence, m.payment_method
                FROM members_member m
                JOIN members_membertype t ON t.id = m.member_type_id
                JOIN members_membership ms ON ms.member_id = m.id
                JOIN {INST} i ON i.frequency = ms.billing_frequency
                    AND ms.start_date <= i.inst_end AND (ms.end_date IS NULL OR ms.end_date >= i.inst_start)
                WHERE m.id >= %s AND m.id < %s AND ms.member_id >= %s AND ms.member_id < %s
                    AND ms.status IN ({statuses})
                    AND (ms.status <> 'ended' OR ms.end_date IS NOT NULL)
                    AND t.pays_dues
                    AND {cov_start} >= %s AND {cov_start} <= %s
                    AND NOT EXISTS (
                        SELECT 1 FROM billing_invoice x
                        WHERE x.membership_id = ms.id AND x.dues_period_start IS NOT NULL
                            AND x.member_id >= %s AND x.member_id < %s
                            AND (x.dues_period_start = i.inst_start
                                 -- Days already invoiced under another billing frequency are not
                                 -- invoiced again (the frequency changes at the next free instalment).
                                 OR (x.kind = 'invoice' AND x.status <> 'credited'
                                     AND x.period_start <= {cov_end} AND x.period_end >= {cov_start}))
                    )
            ) m""",
            [
                self.reference_month_day,
                lo,
                hi,
                lo,
                hi,
                adapt(self.period.start),
                adapt(self.period.end),
                lo,
                hi,
            ],
        )
        if candidates == 0:
            return False
        if sql.postgres:
            self.execute(f"ANALYZE {CAND} (has_payers)")  # so that the payer lookups go through indexes
        # Payers: a position per payer (by id), who takes the rest of each line, and to whom it goes.
        payer_recipient = sql.recipient("r", labels) if recipients else ["NULL"] * 6
        self.execute(
            f"""INSERT INTO {PAY} (membership_id, payer_position, membership_payer_id, payer_member_id, share,
                is_last, rec_reference, rec_name, rec_address, rec_country, rec_email, rec_post, rec_method)
            SELECT ranked.membership_id, ranked.position - 1, ranked.id, ranked.payer_member_id, ranked.share,
                CASE WHEN ranked.position = ranked.payers THEN 1 ELSE 0 END,
                substr(ranked.external_reference, 1, 100),
                CASE WHEN r.id IS NULL THEN substr(ranked.external_name, 1, 200) ELSE {payer_recipient[0]} END,
                CASE WHEN r.id IS NULL THEN ranked.external_address ELSE {payer_recipient[1]} END,
                CASE WHEN r.id IS NULL THEN NULL ELSE {payer_recipient[2]} END,
                CASE WHEN r.id IS NULL THEN ranked.external_email ELSE {payer_recipient[3]} END,
                CASE WHEN r.id IS NULL THEN ranked.external_email = '' ELSE {payer_recipient[4]} END,
                CASE WHEN r.id IS NULL THEN 'transfer' ELSE {payer_recipient[5]} END
            FROM (
                SELECT p.membership_id, p.id, p.payer_member_id, p.external_name, p.external_address,
                    p.external_email, p.external_reference,
                    CAST(ROUND(p.share_percent * 100) AS BIGINT) AS share,
                    ROW_NUMBER() OVER (PARTITION BY p.membership_id ORDER BY p.id) AS position,
                    COUNT(*) OVER (PARTITION BY p.membership_id) AS payers
                FROM members_membershippayer p
                WHERE p.membership_id IN (SELECT membership_id FROM {CAND} WHERE has_payers = 1)
            ) ranked
            LEFT JOIN members_member r ON r.id = ranked.payer_member_id"""
        )
        # The lines of every candidate, as dues_breakdown makes them: the plan, the difference for
        # paying in instalments, and each price rule that applies; pro rata, in cents.
        applies = f"""(
            (r.kind IN ('youth', 'senior') AND c.age IS NOT NULL
                AND (r.min_age IS NULL OR c.age >= r.min_age) AND (r.max_age IS NULL OR c.age <= r.max_age))
            OR (r.kind = 'student' AND c.is_student = 1)
            OR (r.kind = 'household' AND c.in_household = 1)
            OR (r.kind = 'first_year' AND c.since_days < 365)
            OR (r.kind = 'regional'
                AND (r.countries = '' OR {sql.contains("r.countries", "',' || c.country || ','")})
                AND (r.pc_from = '' OR ({sql.binary("c.postcode")} >= {sql.binary("r.pc_from")}
                    AND {sql.binary("c.postcode")} <= {sql.binary("r.pc_to")})))
        )"""
        base = f"""
            SELECT c.membership_id, c.inst_id, c.has_payers, l.position,
                l.label || ' ' || c.period_text AS description,
                {_rhu("l.yearly * c.cov_days", "c.den")} AS amount, pi.vat_r
            FROM {CAND} c
            JOIN {INST} i ON i.id = c.inst_id
            JOIN {PLANLINE} l ON l.plan_id = c.plan_id AND l.frequency = i.frequency
            JOIN {PLANINFO} pi ON pi.plan_id = c.plan_id
            UNION ALL
            SELECT c.membership_id, c.inst_id, c.has_payers, r.position,
                r.label || ' ' || c.period_text,
                {_rhu("r.yearly * c.cov_days", "c.den")}, pi.vat_r
            FROM {CAND} c
            JOIN {RULE} r ON r.plan_id = c.plan_id
            JOIN {PLANINFO} pi ON pi.plan_id = c.plan_id
            WHERE {applies}"""
        vat = _rhu("{amount} * {rate}", "10000 + {rate}")
        self.execute(
            f"""INSERT INTO {LINE} (membership_id, inst_id, payer_position, membership_payer_id, position,
                description, amount, vat, vat_r)
            SELECT membership_id, inst_id, 0, NULL, position, substr(description, 1, 200), amount,
                {vat.format(amount="amount", rate="vat_r")}, vat_r
            FROM ({base}) lines
            WHERE has_payers = 0 AND amount <> 0"""
        )
        self.execute(
            f"""INSERT INTO {LINE} (membership_id, inst_id, payer_position, membership_payer_id, position,
                description, amount, vat, vat_r)
            SELECT membership_id, inst_id, payer_position, membership_payer_id, position, description, share_amount,
                {vat.format(amount="share_amount", rate="vat_r")}, vat_r
            FROM (
                SELECT membership_id, inst_id, payer_position, membership_payer_id, position, description, vat_r,
                    -- (SUM of integers is numeric on PostgreSQL: back to integers for the division below.)
                    CASE WHEN is_last = 1
                        THEN amount - (CAST(SUM(rounded) OVER (PARTITION BY membership_id, inst_id, position)
                            AS BIGINT) - rounded)
                        ELSE rounded END AS share_amount
                FROM (
                    SELECT b.membership_id, b.inst_id, p.payer_position, p.membership_payer_id, b.position,
                        substr(b.description, 1, 200) AS description, b.vat_r, b.amount, p.is_last,
                        {_rhu("b.amount * p.share", "10000")} AS rounded
                    FROM ({base}) b
                    JOIN {PAY} p ON p.membership_id = b.membership_id
                    WHERE b.has_payers = 1
                ) shares
            ) split
            WHERE share_amount <> 0"""
        )
        # One row per invoice: its total, its VAT and its place in the numbering. Nothing at € 0.
        invoice_id = f"nextval('{sql.invoice_id_sequence}')" if sql.postgres and recipients else "NULL"
        invoices = self.execute(
            f"""INSERT INTO {INV} (membership_id, inst_id, payer_position, membership_payer_id, total, vat, rn,
                invoice_id)
            SELECT membership_id, inst_id, payer_position, membership_payer_id, total, vat,
                ROW_NUMBER() OVER (ORDER BY membership_id, inst_id, payer_position), {invoice_id}
            FROM (
                SELECT membership_id, inst_id, payer_position, membership_payer_id,
                    CAST(SUM(amount) AS BIGINT) AS total, CAST(SUM(vat) AS BIGINT) AS vat
                FROM {LINE}
                GROUP BY membership_id, inst_id, payer_position, membership_payer_id
                HAVING SUM(amount) > 0
            ) totals"""
        )
        return invoices > 0

    def create(self, lo: int, hi: int, *, run: InvoiceRun, actor) -> tuple[int, int]:
        """Create the chunk's invoices and lines (inside the caller's transaction, after lock_numbers)."""
        if not self.build(lo, hi):
            return 0, 0
        count, cents = self.row(f"SELECT COUNT(*), SUM(total) FROM {INV}")
        first = int(reserve_invoice_numbers(self.year, count).start)
        sql = self.sql
        if not sql.postgres:
            # Under SQLite's write lock nobody else inserts invoices: the ids follow the highest one.
            highest = self.scalar("SELECT MAX(id) FROM billing_invoice") or 0
            found = self.rows("SELECT seq FROM sqlite_sequence WHERE name = 'billing_invoice'")
            self.execute(
                f"UPDATE {INV} SET invoice_id = %s + rn", [max(highest, found[0][0] if found else 0)]
            )
        settings = self.settings
        now = Invoice._meta.get_field("created_at").get_db_prep_save(timezone.now(), connection)
        adapt = connection.ops.adapt_datefield_value
        due = self.invoice_date + timedelta(days=settings.payment_term_days)
        number_prefix = format_invoice_number(self.year, 0, settings.invoice_number_prefix)[:-6]
        description = _("Dues %(period)s") % {"period": "\x00"}
        before, _sep, after = description.partition("\x00")
        # The member pays (no payer rows: p.membership_id IS NULL), or each payer its share.
        own = "p.membership_id IS NULL"
        country = "COALESCE(p.rec_country, NULLIF(c.country, ''), 'NL')"
        # SQLite appends rows in id order when they come in that order; PostgreSQL does not care.
        order = "" if sql.postgres else "ORDER BY v.rn"
        inserted = self.execute(
            f"""INSERT INTO billing_invoice (id, number, year, sequence, kind, status, invoice_date, due_date,
                description, member_id, payer_member_id, membership_payer_id, share_percent,
                recipient_name, recipient_address, recipient_country, recipient_email, recipient_reference,
                send_by_post, reference_kind, membership_id, dues_period_start, payer_position,
                period_start, period_end, run_id, credited_invoice_id, payment_method, collection_date,
                mandate_reference, total_excl_vat, vat_amount, total, amount_paid, amount_credited,
                vat_exemption_text, email_sent_at, email_claimed_at, flagged_at, created_by_id, created_at)
            SELECT v.invoice_id, CAST(%s AS TEXT) || {sql.padded(f"({first} + v.rn - 1)")}, {self.year},
                {first} + v.rn - 1, 'invoice', 'open', %s, %s,
                substr(CAST(%s AS TEXT) || c.period_text || CAST(%s AS TEXT), 1, 200), c.member_id,
                CASE WHEN {own} THEN c.member_id ELSE p.payer_member_id END,
                v.membership_payer_id,
                CASE WHEN {own} THEN 100 ELSE p.share / 100.0 END,
                CASE WHEN {own} THEN c.rec_name ELSE p.rec_name END,
                CASE WHEN {own} THEN c.rec_address ELSE p.rec_address END,
                CASE WHEN {own} THEN c.rec_country ELSE {country} END,
                CASE WHEN {own} THEN c.rec_email ELSE p.rec_email END,
                CASE WHEN {own} THEN '' ELSE p.rec_reference END,
                CASE WHEN {own} THEN c.rec_post ELSE p.rec_post END,
                CASE WHEN (CASE WHEN {own} THEN c.rec_country ELSE {country} END) = 'BE' THEN 'be' ELSE 'nl' END,
                v.membership_id, i.inst_start, v.payer_position, c.cov_start, c.cov_end, %s, NULL,
                CASE WHEN {own} THEN c.rec_method ELSE p.rec_method END, NULL,
                '', (v.total - v.vat) / 100.0, v.vat / 100.0, v.total / 100.0, 0, 0,
                pi.exemption, NULL, NULL, NULL, %s, %s
            FROM {INV} v
            JOIN {CAND} c ON c.membership_id = v.membership_id AND c.inst_id = v.inst_id
            JOIN {INST} i ON i.id = v.inst_id
            JOIN {PLANINFO} pi ON pi.plan_id = c.plan_id
            LEFT JOIN {PAY} p ON p.membership_id = v.membership_id AND p.payer_position = v.payer_position
            {order}""",
            [
                number_prefix,
                adapt(self.invoice_date),
                adapt(due),
                before,
                after,
                run.pk,
                actor.pk if getattr(actor, "pk", None) else None,
                now,
            ],
        )
        assert inserted == count, (inserted, count)
        self.execute(
            f"""INSERT INTO billing_invoiceline (invoice_id, position, description, quantity, unit_price, vat_rate,
                amount_excl_vat, vat_amount, amount)
            SELECT v.invoice_id, l.position, l.description, 1, l.amount / 100.0, l.vat_r / 100.0,
                (l.amount - l.vat) / 100.0, l.vat / 100.0, l.amount / 100.0
            FROM {LINE} l
            JOIN {INV} v ON v.membership_id = l.membership_id AND v.inst_id = l.inst_id
                AND v.payer_position = l.payer_position
            {order}{", l.position" if order else ""}"""
        )
        return count, int(cents)


@dataclass
class RunSummaryRow:
    plan_name: str
    frequency_label: str
    invoice_count: int
    total: Decimal


@dataclass
class RunSummary:
    rows: list[RunSummaryRow] = field(default_factory=list)
    invoice_count: int = 0
    total: Decimal = Decimal("0.00")


def run_summary(run: InvoiceRun) -> RunSummary:
    """The invoices a run created, per plan and billing frequency (one query)."""
    from django.db.models import Count, Sum

    labels = dict(BillingFrequency.choices)
    grouped = (
        Invoice.objects.filter(run=run)
        .values("membership__plan__name", "membership__plan__sort_order", "membership__billing_frequency")
        .annotate(count=Count("pk"), total=Sum("total"))
        .order_by("membership__plan__sort_order", "membership__plan__name", "membership__billing_frequency")
    )
    summary = RunSummary()
    for row in grouped:
        total = Decimal(row["total"] or 0).quantize(CENT)
        summary.rows.append(
            RunSummaryRow(
                plan_name=row["membership__plan__name"] or "",
                frequency_label=str(labels.get(row["membership__billing_frequency"], "")),
                invoice_count=row["count"],
                total=total,
            )
        )
        summary.invoice_count += row["count"]
        summary.total += total
    return summary
