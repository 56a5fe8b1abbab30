"""Which column of a member list holds what: column names as Dutch and English tools export them.

Sportlink, e-Captain, AllUnited and home-made Excel sheets all name their columns differently
("Lidnummer", "Relatienummer", "Member number", "E-mailadres", "Tussenvoegsel(s)", …). A name is
compared after lower-casing and dropping accents, spaces and punctuation, so "E-mail adres",
"e-mailadres" and "EMAILADRES" are the same column.
"""

import re
from dataclasses import dataclass, field
from functools import lru_cache

from django.utils.translation import gettext_lazy as _

from kring.members.names import normalise

# field → (label, column names in order of preference). When a file has two columns for the same
# field (e.g. "Mobiel" and "Telefoon"), each row takes the first one that is filled in.
FIELDS = {
    "member_number": (
        _("member number"),
        [
            "lidnummer",
            "lidnr",
            "lidno",
            "lidmaatschapsnummer",
            "relatienummer",
            "relatienr",
            "relatiecode",
            "membernumber",
            "memberno",
            "membernr",
            "memberid",
            "membershipnumber",
        ],
    ),
    "first_name": (
        _("first name"),
        [
            "roepnaam",
            "voornaam",
            "voornamen",
            "firstname",
            "givenname",
            "forename",
            "callname",
        ],
    ),
    "initials": (_("initials"), ["voorletters", "voorletter", "initialen", "initials"]),
    "name_prefix": (
        _("tussenvoegsel"),
        [
            "tussenvoegsel",
            "tussenvoegsels",
            "tussenv",
            "voorvoegsel",
            "voorvoegsels",
            "prefix",
            "nameprefix",
            "infix",
            "middlename",
        ],
    ),
    "last_name": (
        _("last name"),
        [
            "achternaam",
            "familienaam",
            "geslachtsnaam",
            "naam",
            "lastname",
            "surname",
            "familyname",
        ],
    ),
    "date_of_birth": (
        _("date of birth"),
        [
            "geboortedatum",
            "geboren",
            "gebdatum",
            "geboortedag",
            "dateofbirth",
            "birthdate",
            "birthday",
            "dob",
        ],
    ),
    "email": (
        _("email address"),
        [
            "email",
            "emailadres",
            "mail",
            "mailadres",
            "emailaddress",
            "eadres",
        ],
    ),
    "phone": (
        _("phone number"),
        [
            "mobiel",
            "mobielnummer",
            "mobieletelefoon",
            "mobieltelefoonnummer",
            "gsm",
            "gsmnummer",
            "telefoon",
            "telefoonnummer",
            "tel",
            "telnr",
            "telefoonmobiel",
            "telefoonvast",
            "vastetelefoon",
            "mobile",
            "mobilephone",
            "mobilenumber",
            "phone",
            "phonenumber",
            "telephone",
            "telephonenumber",
        ],
    ),
    "street": (
        _("street"),
        ["straat", "straatnaam", "adres", "street", "streetname", "address", "addressline1"],
    ),
    "house_number": (
        _("house number"),
        [
            "huisnummer",
            "huisnr",
            "housenumber",
            "streetnumber",
            "houseno",
        ],
    ),
    "house_number_addition": (
        _("addition"),
        [
            "toevoeging",
            "huisnummertoevoeging",
            "huisnrtoevoeging",
            "huisnummertoev",
            "toev",
            "bus",
            "busnummer",
            "addition",
            "housenumberaddition",
            "housenumbersuffix",
            "suffix",
        ],
    ),
    "postcode": (_("postcode"), ["postcode", "postcd", "zip", "zipcode", "postalcode", "postnummer"]),
    "city": (_("city"), ["woonplaats", "plaats", "stad", "gemeente", "city", "town", "place", "residence"]),
    "country": (_("country"), ["land", "landcode", "country", "countrycode"]),
    "iban": (
        _("IBAN"),
        [
            "iban",
            "ibannummer",
            "rekeningnummer",
            "rekeningnr",
            "bankrekening",
            "bankrekeningnummer",
            "bankrekeningnr",
            "bankaccount",
            "accountnumber",
            "bankaccountnumber",
        ],
    ),
    "holder_name": (
        _("account holder"),
        [
            "tenaamstelling",
            "rekeninghouder",
            "tnv",
            "tennamevan",
            "naamrekeninghouder",
            "accountholder",
            "accountname",
            "holdername",
            "nameonaccount",
        ],
    ),
    "bic": (_("BIC"), ["bic", "biccode", "swift", "swiftcode", "swiftbic"]),
    "plan": (
        _("plan"),
        [
            "lidmaatschap",
            "soortlid",
            "soortlidmaatschap",
            "lidmaatschapssoort",
            "lidmaatschapstype",
            "contributiesoort",
            "abonnement",
            "plan",
            "membership",
            "membershipplan",
            "membershiptype",
        ],
    ),
    "billing_frequency": (
        _("billing frequency"),
        [
            "betaalfrequentie",
            "betalingsfrequentie",
            "frequentie",
            "betaaltermijn",
            "termijn",
            "frequency",
            "billingfrequency",
            "paymentfrequency",
        ],
    ),
    "start_date": (
        _("start date"),
        [
            "lidsinds",
            "ingangsdatum",
            "startdatum",
            "begindatum",
            "inschrijfdatum",
            "aanmelddatum",
            "lidvanaf",
            "datumlidmaatschap",
            "datumlidsinds",
            "startdate",
            "membersince",
            "joined",
            "datejoined",
            "joindate",
        ],
    ),
    "member_type": (
        _("member type"),
        [
            "soort",
            "type",
            "lidtype",
            "typelid",
            "categorie",
            "lidcategorie",
            "membertype",
            "category",
        ],
    ),
    "organisation_name": (
        _("organisation"),
        [
            "organisatie",
            "organisatienaam",
            "bedrijf",
            "bedrijfsnaam",
            "firma",
            "firmanaam",
            "instelling",
            "organisation",
            "organization",
            "organisationname",
            "organizationname",
            "company",
            "companyname",
        ],
    ),
    "kvk_number": (
        _("KvK number"),
        [
            "kvk",
            "kvknummer",
            "kvknr",
            "kvkno",
            "handelsregisternummer",
            "chamberofcommerce",
            "cocnumber",
            "kvknumber",
        ],
    ),
    "household": (
        _("household"),
        [
            "huishouden",
            "huishoudnummer",
            "huishoudennummer",
            "huishoudcode",
            "gezin",
            "gezinsnummer",
            "gezinsnr",
            "gezinscode",
            "household",
            "householdid",
            "family",
            "familyid",
        ],
    ),
    "household_role": (
        _("role in household"),
        [
            "rolinhuishouden",
            "rolhuishouden",
            "huishoudrol",
            "gezinsrol",
            "rolingezin",
            "householdrole",
            "roleinhousehold",
            "familyrole",
        ],
    ),
    "correspondence": (
        _("correspondence"),
        [
            "correspondentie",
            "correspondentievorm",
            "correspondentievoorkeur",
            "verzendwijze",
            "contactvoorkeur",
            "correspondence",
            "correspondencepreference",
        ],
    ),
    "notes": (
        _("notes"),
        ["opmerkingen", "opmerking", "notities", "notitie", "notes", "note", "remarks", "comments"],
    ),
}

ALIASES = {
    alias: (name, rank) for name, (_label, aliases) in FIELDS.items() for rank, alias in enumerate(aliases)
}


@lru_cache(maxsize=4096)
def column_key(header) -> str:
    """'E-mail adres' → 'emailadres'; 'Tussenvoegsel(s)' → 'tussenvoegsels'."""
    return re.sub(r"[^0-9a-z]", "", normalise(str(header or "")))


def field_label(name: str) -> str:
    return str(FIELDS[name][0])


@dataclass
class ColumnMapping:
    headers: list[str]
    # field → column positions, in order of preference
    columns: dict[str, list[int]] = field(default_factory=dict)
    unmapped: list[int] = field(default_factory=list)

    def has(self, name: str) -> bool:
        return name in self.columns

    def header(self, position: int) -> str:
        return self.headers[position]

    def rows(self) -> list[tuple[str, str | None]]:
        """(column name, field label or None) in the file's column order, for showing the mapping."""
        field_of = {pos: name for name, positions in self.columns.items() for pos in positions}
        return [
            (header, field_label(field_of[pos]) if pos in field_of else None)
            for pos, header in enumerate(self.headers)
            if header.strip() or pos in field_of
        ]

    def as_dict(self) -> dict:
        field_of = {pos: name for name, positions in self.columns.items() for pos in positions}
        return {
            "columns": [
                {"column": header, "field": field_of.get(pos, "")}
                for pos, header in enumerate(self.headers)
                if header.strip()
            ],
            "unmapped": [self.headers[pos] for pos in self.unmapped if self.headers[pos].strip()],
        }


def map_columns(headers: list[str]) -> ColumnMapping:
    mapping = ColumnMapping(headers=[str(h if h is not None else "").strip() for h in headers])
    ranked: dict[str, list[tuple[int, int]]] = {}
    for position, header in enumerate(mapping.headers):
        known = ALIASES.get(column_key(header))
        if known is None:
            mapping.unmapped.append(position)
            continue
        name, rank = known
        ranked.setdefault(name, []).append((rank, position))
    mapping.columns = {name: [pos for _rank, pos in sorted(found)] for name, found in ranked.items()}
    return mapping


def count_known(headers: list) -> int:
    return sum(1 for header in headers if column_key(header) in ALIASES)
