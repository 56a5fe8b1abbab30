"""Shared by the import tests: build files, run an import in English on a fixed day, count rows."""

import io
from datetime import date
from pathlib import Path

import openpyxl
from django.utils import translation

from kring.core.models import AuditEntry
from kring.members.importing import run_import
from kring.members.models import BankAccount, ContactPerson, Household, Member, Membership, MembershipChange

FILES = Path(__file__).parent / "files"
TODAY = date(2025, 6, 2)


def csv_bytes(*lines: str, encoding: str = "utf-8") -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_bytes(rows: list[list]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def run(data: bytes, filename: str = "leden.csv", *, apply: bool = False, actor=None, today: date = TODAY):
    with translation.override("en"):
        return run_import(data, filename, apply=apply, actor=actor, today=today)


def everything() -> dict[str, int]:
    """How many rows each table the import writes to has."""
    return {
        model.__name__: model.objects.count()
        for model in (Member, Membership, MembershipChange, BankAccount, ContactPerson, Household, AuditEntry)
    }


def errors_of(report) -> list[tuple[int, str, str]]:
    return [(error.row, error.column, error.reason) for error in report.errors]


def outcome(report) -> dict[int, str]:
    return {row.number: row.status for row in report.rows}
