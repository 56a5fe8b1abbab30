"""What an import found and did, in a form the command prints, the back office shows (from the
job's stored result) and the error report (CSV) lists."""

import csv
import io
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from kring.members.importing.columns import FIELDS, ColumnMapping
from kring.members.importing.planning import ERROR, NEW, UNCHANGED, UPDATED

# Labels of the things a row can change that are not columns of their own.
EXTRA_LABELS = {
    "member_since": gettext_lazy("member since"),
    "household_role": gettext_lazy("role in household"),
    "contact_person": gettext_lazy("contact person"),
    "member_type": gettext_lazy("member type"),
}
# The stored result keeps at most this many errors and row details; the counts are always complete.
MAX_STORED_ERRORS = 20000
MAX_STORED_ROWS = 5000


def change_label(name: str) -> str:
    if name in EXTRA_LABELS:
        return str(EXTRA_LABELS[name])
    if name in FIELDS:
        return str(FIELDS[name][0])
    return name


@dataclass
class ImportReport:
    filename: str
    file_format: str
    encoding: str
    delimiter: str
    mapping: ColumnMapping
    rows: list = field(default_factory=list)  # ImportRow, in file order
    applied: bool = False

    @property
    def errors(self) -> list:
        return [error for row in self.rows for error in row.errors]

    @property
    def has_errors(self) -> bool:
        return any(row.errors for row in self.rows)

    def counts(self) -> dict[str, int]:
        counts = {"rows": len(self.rows), NEW: 0, UPDATED: 0, UNCHANGED: 0, ERROR: 0}
        for row in self.rows:
            counts[row.status] += 1
        counts["errors"] = sum(len(row.errors) for row in self.rows)
        return counts

    def as_result(self) -> dict:
        """The JSON the background job stores: everything the result page and the CSV need."""
        errors = self.errors
        detailed = [row for row in self.rows if row.status in (NEW, UPDATED)]
        return {
            "applied": self.applied,
            "filename": self.filename,
            "format": self.file_format,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "mapping": self.mapping.as_dict(),
            "counts": self.counts(),
            "errors": [error.as_dict() for error in errors[:MAX_STORED_ERRORS]],
            "errors_truncated": len(errors) > MAX_STORED_ERRORS,
            "rows": [
                {"row": row.number, "status": row.status, "member": row.label, "changes": row.changes}
                for row in detailed[:MAX_STORED_ROWS]
            ],
            "rows_truncated": len(detailed) > MAX_STORED_ROWS,
            # As ranges ("2-4, 7"): complete and small, even for 100,000 unchanged rows.
            "unchanged_rows": compact_ranges([row.number for row in self.rows if row.status == UNCHANGED]),
        }


def mapping_rows(mapping: dict) -> list[dict]:
    """[{'column': 'Lidnummer', 'label': 'member number'}, …] from a stored mapping."""
    return [
        {
            "column": column["column"],
            "field": column["field"],
            "label": change_label(column["field"]) if column["field"] else "",
        }
        for column in mapping["columns"]
    ]


def errors_csv(result: dict) -> str:
    """The error report: one line per problem, in the order of the rows, opened by Excel as is
    (semicolons and a BOM, as Dutch Excel expects)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow([_("Row"), _("Column"), _("Value"), _("Problem")])
    for error in result.get("errors", []):
        writer.writerow([error["row"], error["column"], error["value"], error["reason"]])
    if result.get("errors_truncated"):
        writer.writerow(
            [
                "",
                "",
                "",
                _("Only the first %(count)s problems are listed; correct these and check the file again.")
                % {"count": len(result["errors"])},
            ]
        )
    return buffer.getvalue()


def compact_ranges(numbers: list[int]) -> str:
    """[2, 3, 4, 7, 9, 10] → '2-4, 7, 9-10'."""
    parts = []
    start = previous = None
    for number in numbers:
        if start is None:
            start = previous = number
        elif number == previous + 1:
            previous = number
        else:
            parts.append(f"{start}" if start == previous else f"{start}-{previous}")
            start = previous = number
    if start is not None:
        parts.append(f"{start}" if start == previous else f"{start}-{previous}")
    return ", ".join(parts)


def text_report(report: ImportReport, *, verbose: bool = False) -> list[str]:
    """The report as lines of plain text, for the command line: mapping, errors, then per row."""
    lines = [
        _("File: %(name)s (%(format)s)") % {"name": report.filename, "format": _describe_format(report)},
        "",
        _("Columns:"),
    ]
    for column, label in report.mapping.rows():
        if label:
            lines.append(f"  {column} → {label}")
    ignored = [report.mapping.header(p) for p in report.mapping.unmapped if report.mapping.header(p).strip()]
    if ignored:
        lines.append(
            _("  Not imported (column name not recognised): %(columns)s") % {"columns": ", ".join(ignored)}
        )
    lines.append("")
    errors = report.errors
    if errors:
        lines.append(_("Problems (%(count)s):") % {"count": len(errors)})
        for error in errors:
            where = _("row %(row)s") % {"row": error.row}
            if error.column:
                where += f", {error.column}"
            value = f" '{error.value}'" if error.value else ""
            lines.append(f"  {where}{value}: {error.reason}")
        lines.append("")
    unchanged = []
    for row in report.rows:
        if row.status == NEW:
            lines.append(_("Row %(row)s: new member %(member)s") % {"row": row.number, "member": row.label})
        elif row.status == UPDATED:
            lines.append(_("Row %(row)s: %(member)s updated") % {"row": row.number, "member": row.label})
            for change in row.changes:
                lines.append(
                    f"    {change_label(change['field'])}: '{change['before']}' → '{change['after']}'"
                )
        elif row.status == UNCHANGED:
            unchanged.append(row.number)
            if verbose:
                lines.append(
                    _("Row %(row)s: %(member)s unchanged") % {"row": row.number, "member": row.label}
                )
    if unchanged and not verbose:
        lines.append(_("Unchanged: rows %(rows)s") % {"rows": compact_ranges(unchanged)})
    if lines[-1]:
        lines.append("")
    lines.append(summary_line(report.counts(), applied=report.applied))
    return lines


def summary_line(counts: dict, *, applied: bool) -> str:
    if counts["errors"]:
        return ngettext(
            "Nothing was imported: the file has %(count)s problem. Correct it and try again.",
            "Nothing was imported: the file has %(count)s problems. Correct them and try again.",
            counts["errors"],
        ) % {"count": counts["errors"]}
    values = {"new": counts[NEW], "updated": counts[UPDATED], "unchanged": counts[UNCHANGED]}
    if applied:
        return _("Imported: %(new)s new, %(updated)s updated, %(unchanged)s unchanged.") % values
    return (
        _(
            "Check only, nothing was saved: %(new)s new, %(updated)s to update, %(unchanged)s unchanged. "
            "Run again with --apply to import."
        )
        % values
    )


def _describe_format(report: ImportReport) -> str:
    if report.file_format == "xlsx":
        return "Excel"
    return _("CSV, %(encoding)s, separated by %(delimiter)s") % {
        "encoding": report.encoding,
        "delimiter": {"semicolon": _("semicolons"), "comma": _("commas"), "tab": _("tabs")}.get(
            report.delimiter, report.delimiter
        ),
    }
