"""Dutch names: display, list and sort forms, and the normalised keys that search uses."""

import re
import unicodedata
from functools import lru_cache


# Names, prefixes and cities repeat a lot: an import of 100,000 members normalises each once.
@lru_cache(maxsize=65536)
def normalise(text: str) -> str:
    """Lower case, accents removed, punctuation to spaces: 'Élise  d'Hondt' → 'elise d hondt'."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"[^0-9a-z@.]+", " ", text.replace("ß", "ss"))
    return " ".join(text.split())


def display_name(member) -> str:
    if member.kind == "organisation":
        return member.organisation_name
    first = member.first_name or member.initials
    return " ".join(p for p in (first, member.name_prefix, member.last_name) if p)


def listed_name(member) -> str:
    """'Berg, Anna van den' — last name first, the tussenvoegsel after the first name."""
    if member.kind == "organisation":
        return member.organisation_name
    rest = " ".join(p for p in (member.first_name or member.initials, member.name_prefix) if p)
    return f"{member.last_name}, {rest}" if rest else member.last_name


def sort_key(member) -> str:
    """Sorts by last name without the tussenvoegsel: 'van den Berg' sorts under B."""
    if member.kind == "organisation":
        return normalise(member.organisation_name)[:300]
    parts = (member.last_name, member.first_name or member.initials, member.name_prefix)
    return " ".join(normalise(p) for p in parts if p)[:300]


def search_key(member) -> str:
    """All the ways someone may type the name: 'anna van den berg berg anna' finds
    'van den Berg', 'Berg', 'Anna Berg' and 'Anna van den Berg'."""
    if member.kind == "organisation":
        return normalise(member.organisation_name)[:400]
    first = normalise(member.first_name or member.initials)
    prefix = normalise(member.name_prefix)
    last = normalise(member.last_name)
    full = " ".join(p for p in (first, prefix, last) if p)
    short = " ".join(p for p in (first, last) if p)
    return f"{full} | {last} {first} | {short}"[:400]


def city_search_key(city: str) -> str:
    return normalise(city)[:100]
