"""Import of an existing member list (CSV or Excel, as Sportlink, e-Captain, AllUnited or a
spreadsheet export it).

    report = run_import(data, "leden.csv", apply=False)   # dry run: what would happen, row by row
    report = run_import(data, "leden.csv", apply=True, actor=user)   # all or nothing

The steps, each in its own module:

1. reading.py   — bytes → a table of cells with spreadsheet row numbers (encoding, separator, xlsx)
2. columns.py   — column names → Kring's fields (Dutch and English names)
3. rows.py      — each row's cells checked and normalised with kring.members.validation
4. planning.py  — rows matched to existing members (member number, else email), checked against
                  each other (duplicates, households), and per row: new / updated / unchanged
5. writing.py   — the plan written set-based, in the caller's transaction, with the audit log
6. report.py    — the outcome for the command line, the back office and the error report (CSV)
"""

import gc
from contextlib import contextmanager

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kring.core.models import Association
from kring.members.importing.columns import ColumnMapping, map_columns
from kring.members.importing.planning import plan_import
from kring.members.importing.reading import ImportFileError, check_file_name, check_not_empty, read_table
from kring.members.importing.report import ImportReport, errors_csv, text_report
from kring.members.importing.rows import extract_rows
from kring.members.importing.vocabulary import Lookups
from kring.members.importing.writing import Writer

__all__ = [
    "ImportFileError",
    "ImportReport",
    "check_file_name",
    "check_not_empty",
    "errors_csv",
    "run_import",
    "text_report",
]

IDENTIFYING_FIELDS = ("last_name", "organisation_name", "member_number", "email")


def run_import(
    data: bytes, filename: str, *, apply: bool, actor=None, progress=None, today=None
) -> ImportReport:
    """Check (and with apply=True, import) a member list. Raises ImportFileError when the file as
    a whole cannot be used; problems in rows are in the report, and then nothing is imported."""
    with _without_cycle_collector():
        return _run_import(data, filename, apply=apply, actor=actor, progress=progress, today=today)


@contextmanager
def _without_cycle_collector():
    """An import keeps millions of small objects alive until it ends; Python's cycle collector would
    walk them over and over (a third of the time for 100,000 rows). Reference counting still frees
    what is no longer used; the collector resumes afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _run_import(data: bytes, filename: str, *, apply: bool, actor, progress, today) -> ImportReport:
    report_progress = progress or (lambda done, total, label: None)
    table = read_table(data, filename)
    mapping = map_columns(table.headers)
    _check_mapping(mapping)
    rows = extract_rows(table.rows, mapping)
    report = ImportReport(
        filename=filename,
        file_format=table.file_format,
        encoding=table.encoding,
        delimiter=table.delimiter,
        mapping=mapping,
    )
    today = today or timezone.localdate()
    total = len(rows) * (2 if apply else 1)
    report_progress(0, total, _("Reading the file"))

    def checking(done, _rows, label):
        report_progress(done, total, label)

    if not apply:
        lookups = Lookups.load(today=today, default_country=Association.current().country)
        report.rows = plan_import(rows, mapping, lookups, for_update=False, progress=checking).rows
        return report

    def writing(step, steps, label):
        report_progress(len(rows) + len(rows) * step // steps, total, label)

    try:
        with transaction.atomic():
            lookups = Lookups.load(today=today, default_country=Association.current().country)
            plan = plan_import(rows, mapping, lookups, for_update=True, progress=checking)
            report.rows = plan.rows
            if plan.has_errors:
                return report
            note = _("Imported from %(file)s.") % {"file": filename}
            Writer(plan, actor=actor, note=note, progress=writing).run()
            report.applied = True
    except IntegrityError as exc:
        raise ImportFileError(
            _(
                "The import could not be saved because the data changed while it ran (%(error)s). Nothing was "
                "imported; check the file again and retry."
            )
            % {"error": exc}
        ) from exc
    return report


def _check_mapping(mapping: ColumnMapping) -> None:
    if not mapping.columns:
        raise ImportFileError(
            _(
                "None of the column names in the first row were recognised. The first row must name the columns, "
                "for example Lidnummer, Voornaam, Tussenvoegsel, Achternaam, E-mail, Postcode."
            )
        )
    if not any(mapping.has(name) for name in IDENTIFYING_FIELDS):
        raise ImportFileError(
            _(
                "The file has no column with the last name, the organisation, the member number or the email "
                "address, so Kring cannot tell who each row is about. Add one of these columns."
            )
        )
