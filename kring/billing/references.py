"""Structured payment references, so that a payment matches its invoice without a human.

Dutch *betalingskenmerk* (Currence): 16 digits, the first is a check digit over the other 15,
weighted 2, 4, 8, 5, 10, 9, 7, 3, 6, 1 from the right, modulus 11 (10 → 1, 11 → 0).

Belgian structured communication (*gestructureerde mededeling*, OGM/VCS): 10 digits and two
check digits, the remainder of the 10 digits divided by 97 (97 when it is 0), written
+++123/4567/89012+++.

Both are built from the invoice's year and sequence number, so a reference found in a bank
statement leads back to exactly one invoice without a lookup column: `parse_payment_reference`.
"""

import re

DUTCH = "nl"
BELGIAN = "be"

_DUTCH_WEIGHTS = (2, 4, 8, 5, 10, 9, 7, 3, 6, 1)
# Year (4 digits) + sequence (11 digits) = the 15 digits a betalingskenmerk carries.
_DUTCH_SEQUENCE_DIGITS = 11
# Year within the century (2 digits) + sequence (8 digits) = the 10 digits of an OGM.
_BELGIAN_SEQUENCE_DIGITS = 8


def dutch_check_digit(base: str) -> int:
    total = sum(int(digit) * _DUTCH_WEIGHTS[i % 10] for i, digit in enumerate(reversed(base)))
    check = 11 - total % 11
    return {10: 1, 11: 0}.get(check, check)


def belgian_check_number(base: str) -> int:
    return int(base) % 97 or 97


def dutch_reference(year: int, sequence: int) -> str:
    base = f"{year:04d}{sequence:0{_DUTCH_SEQUENCE_DIGITS}d}"
    return f"{dutch_check_digit(base)}{base}"


def belgian_reference(year: int, sequence: int) -> str:
    if sequence >= 10**_BELGIAN_SEQUENCE_DIGITS:
        raise ValueError("An invoice sequence above 99,999,999 does not fit a Belgian structured reference.")
    base = f"{year % 100:02d}{sequence:0{_BELGIAN_SEQUENCE_DIGITS}d}"
    return f"{base}{belgian_check_number(base):02d}"


def payment_reference_for(year: int, sequence: int, kind: str) -> str:
    """The reference as digits only (16 for Dutch, 12 for Belgian)."""
    return belgian_reference(year, sequence) if kind == BELGIAN else dutch_reference(year, sequence)


def format_reference(digits: str) -> str:
    """How people read and type it: 1234 5678 9012 3456, or +++123/4567/89012+++."""
    if len(digits) == 12:
        return f"+++{digits[:3]}/{digits[3:7]}/{digits[7:]}+++"
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def is_valid_dutch_reference(digits: str) -> bool:
    return len(digits) == 16 and digits.isdigit() and dutch_check_digit(digits[1:]) == int(digits[0])


def is_valid_belgian_reference(digits: str) -> bool:
    return len(digits) == 12 and digits.isdigit() and belgian_check_number(digits[:10]) == int(digits[10:])


_NON_DIGITS = re.compile(r"[\s./+*-]")


def parse_payment_reference(text: str, *, century: int = 2000) -> tuple[int, int] | None:
    """(year, sequence) of the invoice a reference points to, or None when it is not one of ours.

    Accepts what banks and members write: spaces, dots, the +++ or *** around an OGM.
    """
    digits = _NON_DIGITS.sub("", text or "")
    if is_valid_dutch_reference(digits):
        return int(digits[1:5]), int(digits[5:])
    if is_valid_belgian_reference(digits):
        return century + int(digits[:2]), int(digits[2:10])
    return None
