"""The plain data a statement file is read into, and the one error a broken file raises."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError


class StatementFileError(ValidationError):
    """The file cannot be read; `line` (1-based) says where it broke when known."""

    def __init__(self, message, *, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.line = line
        self.column = column


@dataclass
class ParsedTransaction:
    booking_date: date
    amount: Decimal  # negative: money out of the account
    value_date: date | None = None
    entry_reference: str = ""
    is_return: bool = False
    return_reason: str = ""
    bank_transaction_code: str = ""
    end_to_end_id: str = ""
    mandate_reference: str = ""
    batch_reference: str = ""
    batch_count: int = 1  # > 1: one booking for a whole batch without its details
    remittance: str = ""
    structured_reference: str = ""
    counterparty_name: str = ""
    counterparty_iban: str = ""


@dataclass
class ParsedStatement:
    format: str  # "camt053" or "coda"
    version: str = ""
    account_iban: str = ""
    statement_id: str = ""
    period_from: date | None = None
    period_to: date | None = None
    opening_balance: Decimal | None = None
    closing_balance: Decimal | None = None
    transactions: list[ParsedTransaction] = field(default_factory=list)
