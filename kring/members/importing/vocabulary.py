"""The words member lists use for billing frequencies, household roles, correspondence, member
types and plans, mapped to Kring's values. Compared like column names: lower case, no accents,
spaces or punctuation ("Per kwartaal" = "perkwartaal")."""

from dataclasses import dataclass, field
from datetime import date

from django.utils.translation import gettext as _

from kring.members.importing.columns import column_key
from kring.members.models import BillingFrequency, Member, MemberType, Plan

FREQUENCY_WORDS = {
    BillingFrequency.YEARLY: [
        "jaarlijks",
        "perjaar",
        "jaar",
        "j",
        "jaarbetaling",
        "1xperjaar",
        "eenmaalperjaar",
        "yearly",
        "annual",
        "annually",
        "peryear",
        "year",
        "1",
    ],
    BillingFrequency.HALF_YEARLY: [
        "halfjaarlijks",
        "perhalfjaar",
        "halfjaar",
        "2xperjaar",
        "tweemaalperjaar",
        "halfyearly",
        "semiannual",
        "semiannually",
        "biannual",
        "biannually",
        "2",
    ],
    BillingFrequency.QUARTERLY: [
        "perkwartaal",
        "kwartaal",
        "kwartaallijks",
        "driemaandelijks",
        "4xperjaar",
        "quarterly",
        "perquarter",
        "quarter",
        "4",
    ],
    BillingFrequency.MONTHLY: [
        "maandelijks",
        "permaand",
        "maand",
        "12xperjaar",
        "monthly",
        "permonth",
        "month",
        "12",
    ],
}

ROLE_WORDS = {
    Member.HouseholdRole.HEAD: [
        "hoofdlid",
        "hoofd",
        "gezinshoofd",
        "hoofdbewoner",
        "hoofdmember",
        "head",
        "main",
        "mainmember",
        "primary",
        "headofhousehold",
    ],
    Member.HouseholdRole.PARTNER: [
        "partner",
        "echtgenoot",
        "echtgenote",
        "echtgenoote",
        "vrouw",
        "man",
        "spouse",
        "wife",
        "husband",
    ],
    Member.HouseholdRole.CHILD: ["kind", "zoon", "dochter", "child", "son", "daughter"],
    Member.HouseholdRole.OTHER: ["overig", "overige", "anders", "ander", "gezinslid", "familielid", "other"],
}

CORRESPONDENCE_WORDS = {
    Member.Correspondence.EMAIL: [
        "email",
        "mail",
        "peremail",
        "viaemail",
        "byemail",
        "digitaal",
        "digital",
        "elektronisch",
        "online",
    ],
    Member.Correspondence.PAPER: [
        "post",
        "perpost",
        "viapost",
        "papier",
        "paper",
        "brief",
        "postal",
        "bypost",
        "print",
    ],
}

# English (and common Dutch) words for the member types Kring starts with, by their code.
MEMBER_TYPE_WORDS = {
    "lid": ["lid", "member", "gewoonlid", "regularmember", "ordinarymember"],
    "jeugdlid": ["jeugdlid", "jeugd", "junior", "youth", "youthmember", "juniormember"],
    "donateur": ["donateur", "donor", "supporter"],
    "erelid": ["erelid", "honorarymember", "honorary"],
    "lid-van-verdienste": ["lidvanverdienste", "memberofmerit"],
}


def _words(table: dict) -> dict[str, str]:
    found = {}
    for value, words in table.items():
        found[column_key(value)] = value
        for word in words:
            found[word] = value
    return found


FREQUENCIES = _words(FREQUENCY_WORDS)
FREQUENCIES.update({column_key(label): value for value, label in BillingFrequency.choices})
ROLES = _words(ROLE_WORDS)
ROLES.update({column_key(label): value for value, label in Member.HouseholdRole.choices})
CORRESPONDENCE = _words(CORRESPONDENCE_WORDS)


@dataclass(frozen=True)
class PlanInfo:
    pk: int
    code: str
    name: str
    is_addon: bool
    term_months: int
    for_organisations: bool
    frequencies: frozenset
    member_type_ids: frozenset


@dataclass
class Lookups:
    """Everything a row is checked against, loaded once per import (a few queries, not one per row)."""

    today: date
    default_country: str
    member_types: dict[str, MemberType] = field(default_factory=dict)
    member_types_by_pk: dict[int, MemberType] = field(default_factory=dict)
    default_member_type: MemberType | None = None
    plans: dict[str, PlanInfo] = field(default_factory=dict)
    plans_by_pk: dict[int, PlanInfo] = field(default_factory=dict)
    # Translated once per import, not once per row.
    frequency_labels: dict[str, str] = field(default_factory=dict)
    new_number_label: str = ""
    countries: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, *, today: date, default_country: str) -> "Lookups":
        lookups = cls(today=today, default_country=default_country or "NL")
        lookups.frequency_labels = {value: str(label) for value, label in BillingFrequency.choices}
        lookups.new_number_label = _("(new number)")
        types = list(MemberType.objects.order_by("sort_order", "pk"))
        by_code = {t.code: t for t in types}
        for member_type in types:
            lookups.member_types_by_pk[member_type.pk] = member_type
            lookups.member_types[column_key(member_type.code)] = member_type
            lookups.member_types[column_key(member_type.name)] = member_type
        for code, words in MEMBER_TYPE_WORDS.items():
            if code in by_code:
                for word in words:
                    lookups.member_types.setdefault(word, by_code[code])
        lookups.default_member_type = by_code.get("lid") or (types[0] if types else None)
        plans = Plan.objects.prefetch_related("prices", "member_types").order_by("sort_order", "pk")
        for plan in plans:
            info = PlanInfo(
                pk=plan.pk,
                code=plan.code,
                name=plan.name,
                is_addon=plan.is_addon,
                term_months=plan.term_months,
                for_organisations=plan.for_organisations,
                frequencies=frozenset(price.frequency for price in plan.prices.all()),
                member_type_ids=frozenset(t.pk for t in plan.member_types.all()),
            )
            lookups.plans_by_pk[plan.pk] = info
            lookups.plans.setdefault(column_key(plan.code), info)
            lookups.plans.setdefault(column_key(plan.name), info)
        return lookups

    def plan_names(self) -> str:
        return ", ".join(p.name for p in self.plans_by_pk.values() if not p.is_addon) or "–"

    def member_type_names(self) -> str:
        return ", ".join(t.name for t in self.member_types_by_pk.values()) or "–"
