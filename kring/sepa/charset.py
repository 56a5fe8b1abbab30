"""The SEPA character set and the conversion of free text and identifiers into it.

SEPA files may carry only the Latin characters ``a-z A-Z 0-9 / - ? : ( ) . , ' +`` and the space
(EPC217-08). Everything else is transliterated before it goes into a file:

- letters with accents lose them (é → e, ë → e, Å → A; Unicode NFKD decomposition),
- letters without a decomposition come from a table: ß → ss, æ → ae, ø → o, Ł → L, þ → th, œ → oe …,
  and Greek and Cyrillic letters are transliterated letter by letter (Ж → Zh, Ω → O),
- ``&`` becomes the Dutch word "en" (Jansen & Zn → Jansen en Zn), ``@`` becomes "(at)",
  ``€`` becomes "EUR"; typographic quotes ‘ ’ “ ” „ ″ and ``"`` become ``'``; dashes – — ‐ −
  become ``-``; brackets ``[ ] { } < >`` become ``( )``; ``_`` becomes ``-``; ``;`` becomes ``,``;
  ``\\`` and ``|`` become ``/``,
- everything else (Arabic, Hebrew, CJK, emoji, symbols, control characters) is dropped; all kinds of
  white space become one space.

Free text is then cut to its field length at a word boundary (mid-word only when a single word is
longer than the field). Identifiers (message, payment information, end-to-end, mandate reference)
also follow the EPC identifier rules: no spaces (many banks refuse them), never starting or ending
with ``/`` and never ``//``.
"""

import re
import unicodedata
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

SEPA_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-?:().,'+ ")
SEPA_TEXT = re.compile(r"[A-Za-z0-9/\-?:().,'+ ]*")
SEPA_IDENTIFIER = re.compile(r"(?!/)(?!.*//)[A-Za-z0-9/\-?:().,'+]{1,35}(?<!/)")

_TABLE = {
    "ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE",
    "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "ı": "i",
    "ħ": "h", "Ħ": "H", "ŧ": "t", "Ŧ": "T", "ŋ": "n", "Ŋ": "N", "ĸ": "k", "ſ": "s", "ƒ": "f",
    "&": " en ", "@": "(at)", "€": "EUR", "£": "GBP", "$": "USD",
    "\"": "'", "‘": "'", "’": "'", "‚": "'", "‛": "'", "“": "'", "”": "'", "„": "'", "‟": "'",
    "′": "'", "″": "'", "`": "'", "´": "'", "«": "'", "»": "'", "‹": "'", "›": "'",
    "–": "-", "—": "-", "‐": "-", "‑": "-", "‒": "-", "―": "-", "−": "-", "_": "-", "~": "-",
    "[": "(", "]": ")", "{": "(", "}": ")", "<": "(", ">": ")", ";": ",", "\\": "/", "|": "/",
    "⁄": "/", "!": ".", "·": ".", "…": "...",
}  # fmt: skip
# Greek and Cyrillic (Russian, Ukrainian, Belarusian, Bulgarian, Serbian) letter by letter.
_GREEK = dict(
    zip(
        "αβγδεζηθικλμνξοπρσςτυφχψωΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ",
        "a v g d e z i th i k l m n x o p r s s t y f ch ps o "
        "A V G D E Z I Th I K L M N X O P R S T Y F Ch Ps O".split(),
        strict=True,
    )
)
_CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяієїґўђјљњћџАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯІЄЇҐЎЂЈЉЊЋЏ",
        "a b v g d e e zh z i i k l m n o p r s t u f kh ts ch sh shch - y - e iu ia i ie i g u dj j lj nj c dz "
        "A B V G D E E Zh Z I I K L M N O P R S T U F Kh Ts Ch Sh Shch - Y - E Iu Ia I Ie I G U Dj J Lj Nj C Dz".split(),
        strict=True,
    )
)
for _letters in (_GREEK, _CYRILLIC):
    _TABLE.update({k: ("" if v == "-" else v) for k, v in _letters.items()})


@lru_cache(maxsize=4096)
def _character(ch: str) -> str:
    """The SEPA replacement of one character that is not in the set ('' to drop it)."""
    if ch in _TABLE:
        return _TABLE[ch]
    if ch.isspace():
        return " "
    decomposed = unicodedata.normalize("NFKD", ch)
    if decomposed == ch:
        return ""
    return "".join(c if c in SEPA_CHARACTERS else _character(c) for c in decomposed)


def transliterate(text: str) -> str:
    """`text` with every character in the SEPA set (white space not yet collapsed)."""
    if SEPA_TEXT.fullmatch(text):
        return text
    return "".join(ch if ch in SEPA_CHARACTERS else _character(ch) for ch in text)


def cut_at_word(text: str, max_length: int) -> str:
    """Cut `text` (already collapsed) to `max_length` at a word boundary; mid-word only when its
    first word alone is longer than the limit."""
    if len(text) <= max_length:
        return text
    if text[max_length] == " ":
        return text[:max_length].rstrip()
    head = text[:max_length]
    space = head.rfind(" ")
    if space > 0:
        return head[:space].rstrip()
    return head


@lru_cache(maxsize=65536)
def _to_sepa_text(text: str, max_length: int) -> str:
    return cut_at_word(" ".join(transliterate(text).split()), max_length)


def to_sepa_text(text: str | None, max_length: int, *, fallback: str = "") -> str:
    """Free text (names, remittance information, address lines) in the SEPA character set, white
    space collapsed, cut at a word boundary to `max_length`. When nothing is left (an empty name, one
    in a script that cannot be transliterated) the converted `fallback` is returned instead, so a
    required field gets `fallback` (the caller chooses it) rather than an empty string."""
    result = _to_sepa_text(str(text or ""), max_length)
    if not result and fallback:
        result = _to_sepa_text(fallback, max_length)
    return result


@lru_cache(maxsize=65536)
def _to_sepa_identifier(text: str, max_length: int) -> str:
    value = re.sub(r"/{2,}", "/", "".join(transliterate(text).split())).strip("/")
    return value[:max_length].rstrip("/")


def to_sepa_identifier(text: str | None, max_length: int = 35, *, fallback: str = "") -> str:
    """An identifier in the SEPA character set without spaces, not starting or ending with ``/``,
    without ``//``, at most `max_length` long (cut, identifiers have no words). Empty when nothing is
    left and no `fallback` is given."""
    result = _to_sepa_identifier(str(text or ""), max_length)
    if not result and fallback:
        result = _to_sepa_identifier(fallback, max_length)
    return result


def is_sepa_text(text: str, max_length: int | None = None) -> bool:
    return SEPA_TEXT.fullmatch(text) is not None and (max_length is None or len(text) <= max_length)


def is_sepa_identifier(text: str, max_length: int = 35) -> bool:
    return SEPA_IDENTIFIER.fullmatch(text) is not None and len(text) <= max_length


def check_sepa_identifier(text: str, max_length: int = 35) -> str:
    """Return `text` unchanged when it is a valid SEPA identifier (mandate reference, end-to-end id,
    message id), else raise ValidationError saying what is wrong."""
    text = str(text or "")
    if not text:
        raise ValidationError(_("Enter a reference."), code="sepa_id_required")
    if len(text) > max_length:
        raise ValidationError(
            _("A reference has at most %(max)d characters; this one has %(length)d."),
            code="sepa_id_length",
            params={"max": max_length, "length": len(text)},
        )
    wrong = sorted({ch for ch in text if ch not in SEPA_CHARACTERS or ch == " "})
    if wrong:
        shown = " ".join("(space)" if ch == " " else ch for ch in wrong)
        raise ValidationError(
            _(
                "A reference may contain only letters a-z and A-Z without accents, digits and "
                "/ - ? : ( ) . , ' + (no spaces); not allowed here: %(characters)s"
            ),
            code="sepa_id_characters",
            params={"characters": shown},
        )
    if text.startswith("/") or text.endswith("/"):
        raise ValidationError(_("A reference may not start or end with “/”."), code="sepa_id_slash_edge")
    if "//" in text:
        raise ValidationError(_("A reference may not contain “//”."), code="sepa_id_double_slash")
    return text
