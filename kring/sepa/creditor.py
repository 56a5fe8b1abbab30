"""The SEPA creditor identifier (Creditor ID, *incassant-ID*, *identifiant du créancier*).

Format (EPC262-08): two letters for the country, two check digits, a three-character business code
(``ZZZ`` unless the creditor chose one) and the national identifier, at most 35 characters::

    NL 79 ZZZ 999999990000      KvK number (8 digits) + 4-digit branch number, as Dutch banks issue it
    BE 68 ZZZ 0123456789        the enterprise number (10 digits)

The check digits are ISO 7064 MOD 97-10 over the national identifier followed by the country code
and ``00``, letters counted A=10 … Z=35, **leaving out the business code** — the creditor may
change its business code without a new identifier, so a changed business code is not an error.

For NL and BE the national identifier must have the form the banks there issue (all digits), so a
single wrong character or two swapped digits are always caught; for the other SEPA countries the
national identifier is 1–28 letters or digits.
"""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# The countries and territories in the SEPA schemes' geographical scope (EPC409-09), by the
# ISO 3166 code that identifiers use.
SEPA_COUNTRIES = frozenset(
    "AD AL AT AX BE BG BL CH CY CZ DE DK EE ES FI FR GB GF GG GI GP GR HR HU IE IM IS IT JE LI LT "
    "LU LV MC MD ME MF MK MQ MT NL NO PL PM PT RE RO SE SI SK SM VA YT".split()
)

# National identifier formats of the countries Kring serves.
NATIONAL_FORMATS = {
    "NL": (
        re.compile(r"[0-9]{12}"),
        _("a Dutch identifier ends in the KvK number and a 4-digit number (12 digits)"),
    ),
    "BE": (re.compile(r"[0-9]{10}"), _("a Belgian identifier ends in the 10-digit enterprise number")),
}
_GENERIC_NATIONAL = re.compile(r"[A-Z0-9]{1,28}")
_SHAPE = re.compile(r"([A-Z]{2})([0-9]{2})([A-Z0-9]{3})([A-Z0-9]+)")
MAX_LENGTH = 35


def _numeric(text: str) -> str:
    """Letters to numbers (A=10 … Z=35), digits unchanged."""
    return "".join(str(int(ch, 36)) for ch in text)


def check_digits(country: str, national_id: str) -> str:
    """The two MOD 97-10 check digits for `national_id` in `country` (both upper case)."""
    return f"{98 - int(_numeric(national_id + country + '00')) % 97:02d}"


def _normalise(text: str) -> str:
    return re.sub(r"\s+", "", str(text or "")).upper()


def _check_national(country: str, national_id: str) -> None:
    if country not in SEPA_COUNTRIES:
        raise ValidationError(
            _("“%(country)s” is not a SEPA country code."),
            code="creditor_id_country",
            params={"country": country},
        )
    pattern, explanation = NATIONAL_FORMATS.get(country, (_GENERIC_NATIONAL, None))
    if not pattern.fullmatch(national_id):
        if explanation is None:
            explanation = _("the national part is 1 to 28 letters or digits")
        raise ValidationError(
            _("This is not a valid creditor identifier: %(explanation)s."),
            code="creditor_id_national",
            params={"explanation": explanation},
        )


def creditor_identifier(country: str, national_id: str, business_code: str = "ZZZ") -> str:
    """Build the creditor identifier for `national_id` (for NL: KvK number + 4-digit branch number,
    e.g. ``123456780000``; for BE: the enterprise number, e.g. ``0123456789``)."""
    country = _normalise(country)
    national_id = _normalise(national_id).replace(".", "")
    business_code = _normalise(business_code)
    if country == "NL" and re.fullmatch(r"[0-9]{8}", national_id):
        national_id += "0000"
    _check_national(country, national_id)
    if not re.fullmatch(r"[A-Z0-9]{3}", business_code):
        raise ValidationError(
            _("The business code of a creditor identifier is 3 letters or digits (usually ZZZ)."),
            code="creditor_id_business_code",
        )
    return f"{country}{check_digits(country, national_id)}{business_code}{national_id}"


def check_creditor_identifier(text: str) -> str:
    """Return the creditor identifier normalised (upper case, no spaces) or raise ValidationError."""
    value = _normalise(text)
    if not value:
        raise ValidationError(_("Enter the creditor identifier."), code="creditor_id_required")
    if len(value) > MAX_LENGTH:
        raise ValidationError(
            _("A creditor identifier has at most 35 characters; this one has %(length)d."),
            code="creditor_id_length",
            params={"length": len(value)},
        )
    shape = _SHAPE.fullmatch(value)
    if shape is None:
        raise ValidationError(
            _(
                "This is not a valid creditor identifier: it starts with a country code and two check "
                "digits, then a 3-character business code and the national identifier, e.g. NL79ZZZ999999990000."
            ),
            code="creditor_id_format",
        )
    country, digits, _business, national_id = shape.groups()
    _check_national(country, national_id)
    if digits != check_digits(country, national_id):
        raise ValidationError(
            _(
                "This is not a valid creditor identifier: the check digits do not match. Check for a typing error."
            ),
            code="creditor_id_check_digits",
        )
    return value
