"""Validation and normalisation of member data, shared by forms, the import and the services.

Each ``check_…`` takes untrusted input and returns the normalised value, or raises a
ValidationError whose message says, in the user's language, what is wrong and what to do.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from schwifty import BIC, IBAN, registry
from schwifty.domain import Component
from schwifty.exceptions import SchwiftyException

from kring.members.names import normalise

NL_POSTCODE = re.compile(r"^([1-9][0-9]{3})\s*([A-Z]{2})$")
BE_POSTCODE = re.compile(r"^[1-9][0-9]{3}$")
# Letter combinations PostNL never issues.
NL_POSTCODE_UNUSED_LETTERS = {"SA", "SD", "SS"}


def check_postcode(value: str, country: str) -> str:
    raw = (value or "").strip().upper()
    if not raw:
        return ""
    if country == "NL":
        match = NL_POSTCODE.match(raw.replace(" ", "")) or NL_POSTCODE.match(raw)
        if not match or match.group(2) in NL_POSTCODE_UNUSED_LETTERS:
            raise ValidationError(
                _("'%(value)s' is not a Dutch postcode. Use four digits and two letters, like 1234 AB.")
                % {"value": value},
                code="postcode",
            )
        return f"{match.group(1)} {match.group(2)}"
    if country == "BE":
        cleaned = raw.removeprefix("B-").removeprefix("B").strip()
        if not BE_POSTCODE.match(cleaned):
            raise ValidationError(
                _("'%(value)s' is not a Belgian postcode. Use four digits, like 1000.") % {"value": value},
                code="postcode",
            )
        return cleaned
    if len(raw) > 10:
        raise ValidationError(_("A postcode has at most 10 characters."), code="postcode")
    return raw


def check_phone(value: str, country: str) -> str:
    """Any common notation ('06-12345678', '+32 470 12 34 56') → E.164 ('+31612345678')."""
    raw = (value or "").strip()
    if not raw:
        return ""
    region = country if country in ("NL", "BE", "DE", "LU", "FR") else "NL"
    national = _dutch_national_number(raw, region)
    if national is not None:
        if _surely_valid_dutch(national):
            return "+31" + national  # what format_number(…, E164) makes of it
        number = phonenumbers.PhoneNumber(country_code=31, national_number=int(national))
    else:
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _("'%(value)s' is not a valid phone number. Use for example 06 12345678 or +32 470 12 34 56.")
            % {"value": value},
            code="phone",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


PHONE_SEPARATORS = str.maketrans("", "", " -().")
NL_NATIONAL_NUMBER = re.compile(r"0([1-9][0-9]{8})")
NL_INTERNATIONAL_NUMBER = re.compile(r"(?:\+|00)31([1-9][0-9]{8})")


def _dutch_national_number(raw: str, region: str) -> str | None:
    """'06-12345678', '020 123 4567', '+31 6 12345678', '0031612345678' → the nine digits after +31,
    which is what phonenumbers.parse makes of them, without its general parser (most of an import's
    time). Whether the number exists is decided with phonenumbers' own patterns."""
    compact = raw.translate(PHONE_SEPARATORS)
    match = NL_INTERNATIONAL_NUMBER.fullmatch(compact)
    if match is None and region == "NL":
        match = NL_NATIONAL_NUMBER.fullmatch(compact)
    return match.group(1) if match is not None else None


@cache
def _dutch_number_patterns() -> tuple:
    """phonenumbers' own description of Dutch numbers: all numbers, mobile and fixed-line numbers,
    each as (possible lengths, pattern)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("NL")

    def described(desc):
        if desc is None or not desc.national_number_pattern:
            return None
        return frozenset(desc.possible_length), re.compile(desc.national_number_pattern)

    return described(metadata.general_desc), described(metadata.mobile), described(metadata.fixed_line)


def _surely_valid_dutch(national: str) -> bool:
    """True when phonenumbers.is_valid_number accepts +31 `national` — it accepts every number that
    fits the general description and the mobile or the fixed-line one, and these are those
    descriptions. False means: not sure, ask phonenumbers itself (the rare other kinds of number,
    and the invalid ones)."""
    general, *kinds = _dutch_number_patterns()
    if general is None or not _fits(national, general):
        return False
    return any(kind is not None and _fits(national, kind) for kind in kinds)


def _fits(national: str, description: tuple) -> bool:
    lengths, pattern = description
    return (not lengths or len(national) in lengths) and pattern.fullmatch(national) is not None


def format_phone(e164: str) -> str:
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    region = phonenumbers.region_code_for_number(number)
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if region in ("NL", "BE")
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


# Addresses as nearly every member list has them (name@example.nl): a part of what Django's
# validate_email accepts — an ASCII dot-atom before the @, ASCII labels of at most 63 letters, digits
# and inner hyphens, and a top-level domain of letters — checked with one expression. Anything else
# goes to validate_email itself.
COMMON_EMAIL = re.compile(
    r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


def check_email(value: str) -> str:
    raw = (value or "").strip()
    if not raw:
        return ""
    if len(raw) > 320 or COMMON_EMAIL.fullmatch(raw) is None:
        try:
            validate_email(raw)
        except ValidationError:
            raise ValidationError(
                _("'%(value)s' is not a valid email address. It looks like name@example.nl.")
                % {"value": value},
                code="email",
            ) from None
    # Stored in lower case so that search and the import's matching by email find it however it is typed.
    return raw.lower()


@dataclass(frozen=True)
class CheckedIban:
    iban: str
    bic: str


IBAN_SEPARATORS = re.compile(r"[\s.-]")


def check_iban(value: str, bic: str = "") -> CheckedIban:
    """Checks country format and check digits (schwifty); derives the BIC where the bank is known."""
    raw = IBAN_SEPARATORS.sub("", value or "").upper()
    if not raw:
        raise ValidationError(_("Enter an IBAN."), code="iban")
    iban: IBAN | None = None
    bank_key = _bank_key_of_valid_iban(raw)
    if bank_key is None:
        try:
            iban = IBAN(raw)
        except SchwiftyException:
            raise ValidationError(
                _("'%(value)s' is not a valid IBAN: check the country code, the length and the digits.")
                % {"value": value},
                code="iban",
            ) from None
        compact = iban.compact
        bank_key = (iban.country_code, _bank_lookup_key(compact, _iban_rules(iban.country_code)))
    else:
        compact = raw
    checked_bic = ""
    if bic.strip():
        try:
            checked_bic = str(BIC(bic.strip().upper()))
        except SchwiftyException:
            raise ValidationError(_("'%(value)s' is not a valid BIC.") % {"value": bic}, code="bic") from None
    else:
        checked_bic = _derived_bic(bank_key, iban or compact)
    return CheckedIban(iban=compact, bic=checked_bic)


IBAN_STRUCTURE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]+")
# Letters as ISO 7064 turns them into numbers: A = 10 … Z = 35.
NUMERIFY = str.maketrans(
    {letter: str(value) for value, letter in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 10)}
)


@cache
def _iban_rules(country: str) -> tuple | None:
    """schwifty's rules for the IBANs of `country`: length, BBAN pattern and where in the BBAN the
    key is that the bank's BIC is looked up with; None where schwifty has none."""
    try:
        spec = registry.get_iban_spec(country)
    except (SchwiftyException, KeyError):
        return None
    slices = []
    for component in spec.bic_lookup_components or [Component.BANK_CODE]:
        position = spec.positions.get(component)
        slices.append((position.start, position.end) if position is not None else (0, 0))
    return spec.iban_length, spec.regex, tuple(slices)


def _bank_key_of_valid_iban(compact: str) -> tuple[str, str] | None:
    """(country, bank lookup key) of an IBAN that schwifty's IBAN() accepts, found with the same
    checks — characters, the country's length and BBAN format, ISO 7064 check digits (02-98) — but
    without building its objects (most of an import's time for IBANs). None means: not sure, ask
    schwifty itself (which refuses most of those)."""
    if not compact.isascii() or IBAN_STRUCTURE.fullmatch(compact) is None:
        return None
    country = compact[:2]
    rules = _iban_rules(country)
    if rules is None:
        return None
    length, bban_pattern, _slices = rules
    bban = compact[4:]
    if len(compact) != length or not bban_pattern.match(bban):
        return None
    remainder = int((bban + country).translate(NUMERIFY)) * 100 % 97
    if f"{98 - remainder:02d}" != compact[2:4]:
        return None
    return country, _bank_lookup_key(compact, rules)


def _bank_lookup_key(compact: str, rules: tuple) -> str:
    """What schwifty's BBAN looks the bank up with: the bank code (and for some countries the branch
    code) cut from the BBAN."""
    bban = compact[4:]
    return "".join(bban[start:end] if end <= len(bban) else "" for start, end in rules[2])


_BIC_BY_BANK: dict[tuple[str, str], str] = {}


def _derived_bic(bank_key: tuple[str, str], iban: IBAN | str) -> str:
    """The BIC of the IBAN's bank. It depends only on the country and the bank's lookup key (bank
    and branch code), so an import of 100,000 IBANs from a dozen banks looks each bank up once."""
    if bank_key not in _BIC_BY_BANK:
        if not isinstance(iban, IBAN):
            iban = IBAN(iban)
        try:
            derived = iban.bic
        except SchwiftyException:
            derived = None
        if len(_BIC_BY_BANK) > 20000:
            _BIC_BY_BANK.clear()
        _BIC_BY_BANK[bank_key] = str(derived) if derived else ""
    return _BIC_BY_BANK[bank_key]


def mask_iban(iban: str) -> str:
    """'NL91ABNA0417164300' → 'NL91 •••• •••• 4300'."""
    compact = re.sub(r"\s", "", iban or "").upper()
    if len(compact) < 8:
        return "••••"
    return f"{compact[:4]} •••• •••• {compact[-4:]}"


def format_iban(iban: str) -> str:
    compact = re.sub(r"\s", "", iban or "").upper()
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def check_kvk_number(value: str) -> str:
    raw = re.sub(r"\s", "", value or "")
    if not raw:
        return ""
    if not re.fullmatch(r"[0-9]{8}", raw):
        raise ValidationError(_("A KvK number has exactly 8 digits."), code="kvk")
    return raw


def check_house_number(value) -> tuple[int | None, str]:
    """'12', '12a', '12-3', '12 bis' → (12, 'a') / (12, '3') / (12, 'bis')."""
    raw = str(value or "").strip()
    if not raw:
        return None, ""
    match = re.fullmatch(r"([0-9]{1,6})\s*[-/ ]?\s*([A-Za-z0-9 ]{0,10})", raw)
    if not match or int(match.group(1)) == 0:
        raise ValidationError(
            _("'%(value)s' is not a house number. Use digits, optionally followed by an addition like 12a.")
            % {"value": value},
            code="house_number",
        )
    return int(match.group(1)), match.group(2).strip()


DAY_MONTH_YEAR = re.compile(r"^([0-9]{1,2})[-/.]([0-9]{1,2})[-/.]([0-9]{4})$")
YEAR_MONTH_DAY = re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[T ][0-9:.]+)?$")


def check_date(value) -> date | None:
    """'31-12-1980', '1-2-1980', '31/12/1980', '1980-12-31' or a date object → date; empty → None.

    Day-month-year is the Dutch and Belgian order; a year always has four digits, so
    '01-02-03' is refused rather than guessed.
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raw = str(value or "").strip()
    if not raw:
        return None
    match = DAY_MONTH_YEAR.match(raw)
    if match:
        day, month, year = (int(part) for part in match.groups())
    else:
        match = YEAR_MONTH_DAY.match(raw)
        if match:
            year, month, day = (int(part) for part in match.groups())
    try:
        if not match:
            raise ValueError(raw)
        return date(year, month, day)
    except ValueError:
        raise ValidationError(
            _("'%(value)s' is not a date. Use day-month-year, like 31-12-1980.") % {"value": value},
            code="date",
        ) from None


def check_date_of_birth(day: date | None, today: date) -> date | None:
    if day is None:
        return None
    if day > today:
        raise ValidationError(_("A date of birth cannot be in the future."), code="date_of_birth")
    if day.year < 1900:
        raise ValidationError(
            _("A date of birth before 1900 is not possible; check the year."), code="date_of_birth"
        )
    return day


# Country names as member lists write them, after names.normalise (lower case, no accents).
COUNTRY_NAMES = {
    "NL": {"nl", "nld", "nederland", "netherlands", "the netherlands", "holland", "pays bas", "niederlande"},
    "BE": {"be", "bel", "belgie", "belgium", "belgique", "belgien"},
    "DE": {"de", "deu", "duitsland", "germany", "deutschland", "allemagne"},
    "LU": {"lu", "lux", "luxemburg", "luxembourg"},
    "FR": {"fr", "fra", "frankrijk", "france"},
}


def check_country(value: str) -> str:
    """'NL', 'Nederland', 'België', 'Belgium' → 'NL' / 'BE'; empty → ''."""
    key = normalise(value).replace(".", "")
    if not key:
        return ""
    for code, names in COUNTRY_NAMES.items():
        if key in names:
            return code
    raise ValidationError(
        _(
            "'%(value)s' is not a country Kring knows. Use Nederland, België, Duitsland, Luxemburg or Frankrijk "
            "(or NL, BE, DE, LU, FR)."
        )
        % {"value": value},
        code="country",
    )
