"""Reading a member list: CSV (comma, semicolon or tab; UTF-8 with or without BOM, UTF-16, or
Windows-1252) and Excel (.xlsx). The result is a table of cells with the row numbers the user
sees in their spreadsheet program, so every message can point at the right row.
"""

import codecs
import csv
import io
import zipfile
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from kring.members.importing.columns import count_known

CSV_EXTENSIONS = (".csv", ".txt")
EXCEL_EXTENSIONS = (".xlsx", ".xlsm")
DELIMITERS = (";", ",", "\t")
# The header is the first of these rows that names at least two known columns (some exports
# start with a title line such as "Ledenlijst per 1 januari").
HEADER_SEARCH_ROWS = 10


class ImportFileError(Exception):
    """The file as a whole cannot be read; the message says what to do."""


@dataclass
class Table:
    headers: list[str]
    # (row number in the spreadsheet, cells); empty rows are left out
    rows: list[tuple[int, list]] = field(default_factory=list)
    file_format: str = "csv"
    encoding: str = ""
    delimiter: str = ""


def check_file_name(filename: str) -> None:
    """Refuse what cannot be a member list by its name alone (before any upload is stored)."""
    name = (filename or "").lower()
    if name.endswith(EXCEL_EXTENSIONS + CSV_EXTENSIONS):
        return
    if name.endswith(".xls"):
        raise ImportFileError(
            _(
                "Old Excel files (.xls) cannot be read. Open the file in Excel and save it as "
                "'Excel workbook (.xlsx)' or as 'CSV', then try again."
            )
        )
    raise ImportFileError(
        _(
            "Kring can read CSV files (.csv) and Excel workbooks (.xlsx). Save your member "
            "list in one of these formats and try again."
        )
    )


def check_not_empty(data: bytes) -> None:
    if not data or not data.strip():
        raise ImportFileError(_("The file is empty. Choose the file with your member list."))


def read_table(data: bytes, filename: str) -> Table:
    check_file_name(filename)
    check_not_empty(data)
    if filename.lower().endswith(EXCEL_EXTENSIONS):
        table = _read_xlsx(data)
    else:
        table = _read_csv(data)
    if not table.rows:
        raise ImportFileError(_("The file has column names but no members below them."))
    return table


# --- CSV ----------------------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str]:
    """The text and the name of its encoding. UTF-8 is tried first: text in Windows-1252 with
    accented letters is practically never valid UTF-8, so this guess is reliable."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace"), "UTF-8 (BOM)"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace"), "UTF-16"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        # The five bytes Windows-1252 leaves undefined: read as Latin-1, which defines them all.
        return data.decode("latin-1"), "ISO-8859-1"


def guess_delimiter(text: str) -> str:
    """The separator that splits the first lines (outside quotes) into the most columns. Several
    lines, because some exports start with a title line that has none."""
    best, most = ",", 0
    lines = [line for line in text.splitlines()[: HEADER_SEARCH_ROWS * 2] if line.strip()][
        :HEADER_SEARCH_ROWS
    ]
    for line in lines:
        outside_quotes = "".join(part for index, part in enumerate(line.split('"')) if index % 2 == 0)
        for delimiter in DELIMITERS:
            count = outside_quotes.count(delimiter)
            if count > most:
                best, most = delimiter, count
    return best


def _read_csv(data: bytes) -> Table:
    text, encoding = decode(data)
    delimiter = guess_delimiter(text)
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise ImportFileError(
            _(
                "The file cannot be read as CSV (%(error)s). Save it again as CSV from your spreadsheet program."
            )
            % {"error": exc}
        ) from None
    # A record is a row in the spreadsheet, even when a quoted cell spans several lines.
    numbered = [(number, cells) for number, cells in enumerate(records, start=1)]
    table = _table_from_rows(numbered)
    table.file_format, table.encoding = "csv", encoding
    table.delimiter = {";": "semicolon", ",": "comma", "\t": "tab"}[delimiter]
    return table


# --- Excel --------------------------------------------------------------------------------


def _read_xlsx(data: bytes) -> Table:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise ImportFileError(
            _(
                "This file cannot be opened as an Excel workbook. Open it in Excel, save it as "
                "'Excel workbook (.xlsx)' or as 'CSV', and try again."
            )
        ) from None
    try:
        sheet = workbook.worksheets[0]
        # Some programs write a wrong size into the file; read the rows as they are.
        sheet.reset_dimensions()
        numbered = [
            (number, list(cells)) for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1)
        ]
    finally:
        workbook.close()
    table = _table_from_rows(numbered)
    table.file_format = "xlsx"
    return table


# --- both ---------------------------------------------------------------------------------


def _is_empty(cells) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def _table_from_rows(numbered: list[tuple[int, list]]) -> Table:
    filled = [(number, cells) for number, cells in numbered if not _is_empty(cells)]
    if not filled:
        raise ImportFileError(_("The file is empty. Choose the file with your member list."))
    header_at = 0
    for index, (_number, cells) in enumerate(filled[:HEADER_SEARCH_ROWS]):
        if count_known(cells) >= 2:
            header_at = index
            break
    headers = [str(cell).strip() if cell is not None else "" for cell in filled[header_at][1]]
    return Table(headers=headers, rows=filled[header_at + 1 :])
