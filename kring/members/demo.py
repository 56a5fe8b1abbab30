"""The demo association: reference data, demo logins and any number of realistic members.

``seed_demo`` fills an empty member administration. The few people behind the demo logins are
created through the services (so their history reads like real use); the bulk of the members is
generated set-based: pools of names, streets and places are drawn from Faker once, combined with
a seeded ``random.Random`` and written in batches (PostgreSQL ``COPY``, SQLite ``executemany``).
Derived columns (sort and search keys, masked and encrypted IBANs, the membership summary) are
filled with the same functions the application uses, so the rows look exactly as if the
services had written them.
"""

import json
import queue
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from json.encoder import encode_basestring

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop
from faker import Faker

from kring.core import crypto, roles
from kring.core.models import Association, AuditEntry, NumberSequence, User
from kring.members import names, services
from kring.members.models import (
    BankAccount,
    BillingFrequency,
    CancellationReason,
    ContactPerson,
    Household,
    Member,
    Membership,
    MembershipChange,
    MembershipPayer,
    MemberType,
    Plan,
    PlanPrice,
    PortalPart,
    PriceRule,
)
from kring.members.validation import NL_POSTCODE_UNUSED_LETTERS, mask_iban

DEMO_PASSWORD = "kring-demo"
DEFAULT_MEMBERS = 2000
DEFAULT_SEED = 1
BATCH_SIZE = 5000
# From this many members on, the seeder builds the indexes after loading instead of during it.
LARGE_LOAD = 20_000

# Addresses under .test never reach a real mailbox (RFC 2606), whatever a later feature sends.
NL_MAIL_DOMAINS = [
    ("gmail.test", 30),
    ("hotmail.test", 14),
    ("ziggo.test", 12),
    ("kpnmail.test", 9),
    ("outlook.test", 8),
    ("planet.test", 4),
    ("home.test", 4),
    ("xs4all.test", 3),
    ("icloud.test", 4),
    ("live.test", 3),
]
BE_MAIL_DOMAINS = [
    ("telenet.test", 26),
    ("gmail.test", 28),
    ("skynet.test", 10),
    ("hotmail.test", 14),
    ("proximus.test", 6),
    ("outlook.test", 6),
]


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    group: str
    full_name: str


MEMBER_LOGIN = "lid@demo.kring.test"
# The role is marked for translation here and translated where it is shown.
TREASURER_LOGIN = "penningmeester@demo.kring.test"
DEMO_LOGINS = [
    DemoLogin(MEMBER_LOGIN, gettext_noop("Member"), "", "Sanne van der Linden"),
    DemoLogin(
        "secretariaat@demo.kring.test", gettext_noop("Secretariat"), roles.SECRETARIAT, "Marieke de Boer"
    ),
    DemoLogin(TREASURER_LOGIN, gettext_noop("Treasurer"), roles.TREASURER, "Johan Visser"),
    DemoLogin("bestuur@demo.kring.test", gettext_noop("Board"), roles.BOARD, "Els Peeters"),
    DemoLogin(
        "kascommissie@demo.kring.test", gettext_noop("Audit committee"), roles.AUDIT_COMMITTEE, "Kees van Dam"
    ),
]
# Sanne, her partner Daan and their daughter Noor.
DEMO_HOUSEHOLD_SIZE = 3

ASSOCIATION = {
    "name": "Vereniging De Groene Kring",
    "kvk_number": "40512873",
    "street": "Catharijnesingel",
    "house_number": "52",
    "postcode": "3511 GC",
    "city": "Utrecht",
    "country": "NL",
    "email": "secretariaat@demo.kring.test",
    "phone": "+31302345678",
    "website": "https://demo.kring.test",
    "member_number_prefix": "",
    "member_number_digits": 6,
}

PORTAL_PARTS = [
    ("kennisbank", "Kennisbank", "Artikelen, teeltfiches en richtlijnen van de vereniging."),
    ("community", "Community", "Leden vinden elkaar, stellen vragen en delen ervaringen."),
    ("opleidingen", "Opleidingen", "Cursussen en bijscholing met PE-punten."),
    ("evenementen", "Evenementen", "Open tuinendagen, excursies en de ledenvergadering."),
]


@dataclass(frozen=True)
class PlanSpec:
    code: str
    name: str
    description: str
    yearly_price: str
    prices: dict
    member_types: tuple = ()
    portal_parts: tuple = ()
    renewal: str = Plan.Renewal.AUTOMATIC
    is_addon: bool = False
    covers_household: bool = False
    for_organisations: bool = False
    is_active: bool = True


Y, H, Q, M = (
    BillingFrequency.YEARLY,
    BillingFrequency.HALF_YEARLY,
    BillingFrequency.QUARTERLY,
    BillingFrequency.MONTHLY,
)
PLANS = [
    PlanSpec(
        "gewoon",
        "Gewoon lid",
        "Het lidmaatschap voor iedereen vanaf 18 jaar.",
        "120.00",
        {Y: "120.00", H: "61.00", Q: "31.00", M: "10.50"},
        ("lid",),
        ("evenementen",),
    ),
    PlanSpec(
        "jeugd",
        "Jeugdlid",
        "Voor jonge leden tot 18 jaar, met de jeugdactiviteiten.",
        "45.00",
        {Y: "45.00", Q: "11.25"},
        ("jeugdlid",),
        ("evenementen",),
    ),
    PlanSpec(
        "student",
        "Studentlid",
        "Voor studenten; verleng elk jaar met je studiebewijs.",
        "40.00",
        {Y: "40.00"},
        ("lid",),
        ("kennisbank", "evenementen"),
        renewal=Plan.Renewal.CONFIRMATION,
    ),
    PlanSpec(
        "senior",
        "Seniorlid",
        "Voor leden vanaf 67 jaar.",
        "90.00",
        {Y: "90.00", Q: "23.00", M: "7.75"},
        ("lid",),
        ("evenementen",),
    ),
    PlanSpec(
        "gezin",
        "Gezinslidmaatschap",
        "Eén lidmaatschap voor het hele huishouden.",
        "180.00",
        {Y: "180.00", Q: "46.00", M: "15.50"},
        ("lid",),
        ("evenementen",),
        covers_household=True,
    ),
    PlanSpec(
        "bedrijf",
        "Bedrijfslid",
        "Voor hoveniers, kwekerijen en andere bedrijven.",
        "450.00",
        {Y: "450.00", H: "230.00"},
        ("lid",),
        ("kennisbank", "opleidingen", "evenementen"),
        for_organisations=True,
    ),
    PlanSpec(
        "donateur", "Donateur", "Steun de vereniging zonder stemrecht.", "25.00", {Y: "25.00"}, ("donateur",)
    ),
    PlanSpec(
        "erelid",
        "Erelidmaatschap",
        "Voor ereleden en leden van verdienste: geen contributie.",
        "0.00",
        {Y: "0.00"},
        ("erelid", "lid-van-verdienste"),
        ("kennisbank", "community", "evenementen"),
    ),
    PlanSpec(
        "steunlid",
        "Steunlid (tot 2018)",
        "Oud abonnement; vervangen door Gewoon lid.",
        "60.00",
        {Y: "60.00"},
        ("lid",),
        (),
        is_active=False,
    ),
    PlanSpec(
        "kennisbank-plus",
        "Kennisbank Plus",
        "De volledige kennisbank en de online cursussen.",
        "35.00",
        {Y: "35.00", H: "17.50", Q: "8.75", M: "3.00"},
        (),
        ("kennisbank", "opleidingen"),
        is_addon=True,
    ),
    PlanSpec(
        "community",
        "Community",
        "Het ledenforum en de werkgroepen.",
        "15.00",
        {Y: "15.00", H: "7.50", Q: "3.75", M: "1.25"},
        (),
        ("community",),
        is_addon=True,
    ),
]
ADDONS_FOR = {
    "gewoon": ("kennisbank-plus", "community"),
    "senior": ("kennisbank-plus", "community"),
    "gezin": ("kennisbank-plus", "community"),
    "student": ("kennisbank-plus", "community"),
    "bedrijf": ("kennisbank-plus",),
    "erelid": ("community",),
}

K = PriceRule.Kind
PRICE_RULES = [
    # plan, kind, label, adjustment, value, min_age, max_age, countries
    ("gewoon", K.YOUTH, "Jongerenkorting (18 tot en met 26 jaar)", "percent", "-25", 18, 26, ""),
    ("gewoon", K.HOUSEHOLD, "Gezinskorting", "percent", "-30", None, None, ""),
    ("gewoon", K.FIRST_YEAR, "Welkomstkorting eerste jaar", "amount", "-20", None, None, ""),
    ("gewoon", K.REGIONAL, "Portokosten België", "amount", "7.50", None, None, "BE"),
    ("senior", K.REGIONAL, "Portokosten België", "amount", "7.50", None, None, "BE"),
    ("gezin", K.FIRST_YEAR, "Welkomstkorting eerste jaar", "amount", "-20", None, None, ""),
    ("gezin", K.REGIONAL, "Portokosten België", "amount", "7.50", None, None, "BE"),
    ("kennisbank-plus", K.STUDENT, "Studentenkorting", "percent", "-50", None, None, ""),
    ("kennisbank-plus", K.SENIOR, "Seniorenkorting (67 jaar en ouder)", "percent", "-50", 67, None, ""),
]

# Places with their postcode ranges and telephone area codes, weighted roughly by size.
NL_PLACES = [
    ("Amsterdam", 1011, 1109, "20", 8),
    ("Rotterdam", 3011, 3089, "10", 6),
    ("Den Haag", 2491, 2599, "70", 5),
    ("Utrecht", 3511, 3585, "30", 5),
    ("Eindhoven", 5611, 5658, "40", 3),
    ("Groningen", 9711, 9747, "50", 3),
    ("Tilburg", 5011, 5049, "13", 3),
    ("Almere", 1311, 1364, "36", 3),
    ("Breda", 4811, 4839, "76", 2),
    ("Nijmegen", 6511, 6546, "24", 2),
    ("Apeldoorn", 7311, 7336, "55", 2),
    ("Haarlem", 2011, 2037, "23", 2),
    ("Arnhem", 6811, 6846, "26", 2),
    ("Enschede", 7511, 7548, "53", 2),
    ("Amersfoort", 3811, 3830, "33", 2),
    ("'s-Hertogenbosch", 5211, 5237, "73", 2),
    ("Zwolle", 8011, 8048, "38", 2),
    ("Leiden", 2311, 2334, "71", 2),
    ("Maastricht", 6211, 6229, "43", 2),
    ("Dordrecht", 3311, 3329, "78", 1),
    ("Ede", 6711, 6718, "318", 1),
    ("Leeuwarden", 8911, 8939, "58", 1),
    ("Alkmaar", 1811, 1834, "72", 1),
    ("Delft", 2611, 2629, "15", 1),
    ("Deventer", 7411, 7429, "570", 1),
    ("Hilversum", 1211, 1223, "35", 1),
    ("Gouda", 2801, 2809, "182", 1),
    ("Heerlen", 6411, 6422, "45", 1),
    ("Venlo", 5911, 5932, "77", 1),
    ("Assen", 9401, 9409, "592", 1),
    ("Middelburg", 4331, 4339, "118", 1),
    ("Harderwijk", 3841, 3849, "341", 1),
    ("Wageningen", 6701, 6709, "317", 1),
    ("Veenendaal", 3901, 3907, "318", 1),
    ("Hoorn", 1621, 1628, "229", 1),
    ("Roermond", 6041, 6045, "475", 1),
    ("Emmen", 7811, 7828, "591", 1),
    ("Doetinchem", 7001, 7009, "314", 1),
    ("Zeist", 3701, 3709, "30", 1),
    ("Houten", 3991, 3995, "30", 1),
    ("Drachten", 9200, 9204, "512", 1),
    ("Den Helder", 1781, 1789, "223", 1),
    ("Oss", 5341, 5349, "412", 1),
    ("Goes", 4461, 4463, "113", 1),
    ("Meppel", 7941, 7948, "522", 1),
    ("Winterswijk", 7101, 7109, "543", 1),
    ("Zaandam", 1501, 1509, "75", 1),
    ("Bussum", 1401, 1406, "35", 1),
]
BE_PLACES = [
    ("Antwerpen", (2000, 2018, 2020, 2030, 2050, 2060), "3", 6),
    ("Gent", (9000, 9030, 9031, 9032, 9040, 9041, 9050), "9", 5),
    ("Brussel", (1000,), "2", 3),
    ("Leuven", (3000, 3001, 3010, 3012, 3018), "16", 3),
    ("Brugge", (8000, 8200, 8310), "50", 3),
    ("Mechelen", (2800,), "15", 2),
    ("Hasselt", (3500, 3510, 3511), "11", 2),
    ("Aalst", (9300,), "53", 2),
    ("Kortrijk", (8500,), "56", 2),
    ("Sint-Niklaas", (9100,), "3", 2),
    ("Oostende", (8400,), "59", 2),
    ("Genk", (3600,), "89", 2),
    ("Roeselare", (8800,), "51", 1),
    ("Turnhout", (2300,), "14", 1),
    ("Lier", (2500,), "3", 1),
    ("Geel", (2440,), "14", 1),
    ("Dendermonde", (9200,), "52", 1),
    ("Tienen", (3300,), "16", 1),
    ("Ieper", (8900,), "57", 1),
    ("Lokeren", (9160,), "9", 1),
    ("Herentals", (2200,), "14", 1),
    ("Vilvoorde", (1800,), "2", 1),
    ("Halle", (1500,), "2", 1),
    ("Sint-Truiden", (3800,), "11", 1),
    ("Tongeren", (3700,), "12", 1),
    ("Waregem", (8790,), "56", 1),
]
# (bank code, BIC, weight); the BIC is what schwifty derives for the code.
NL_BANKS = [
    ("INGB", "INGBNL2A", 36),
    ("RABO", "RABONL2U", 28),
    ("ABNA", "ABNANL2A", 20),
    ("SNSB", "SNSBNL2A", 5),
    ("ASNB", "ASNBNL21", 3),
    ("TRIO", "TRIONL2U", 2),
    ("KNAB", "KNABNL2H", 2),
    ("BUNQ", "BUNQNL2A", 3),
    ("RBRB", "RBRBNL21", 1),
]
BE_BANKS = [
    ("001", "GEBABEBB", 28),
    ("068", "GKCCBEBB", 20),
    ("363", "BBRUBEBB", 22),
    ("734", "KREDBEBB", 24),
    ("103", "NICABEBB", 3),
    ("973", "ARSPBE22", 3),
]

NL_COMMON_SURNAMES = """Jansen:6 de Jong:6 de Vries:6 van den Berg:5 van Dijk:5 Bakker:5 Janssen:4 Visser:4 Smit:4
Meijer:4 de Boer:4 Mulder:4 de Groot:4 Bos:3 Vos:3 Peters:3 Hendriks:3 van Leeuwen:3 Dekker:3 Brouwer:3 de Wit:3
Dijkstra:3 Smits:3 de Graaf:3 van der Meer:3 van der Linden:3 Kok:2 Jacobs:2 de Haan:2 Vermeulen:2
van den Heuvel:2 van der Veen:2 van den Broek:2 de Bruijn:2 de Bruin:2 van der Heijden:2 Schouten:2 van Beek:2
Willems:2 van Vliet:2 van de Ven:2 Hoekstra:2 Maas:2 Verhoeven:2 Koster:2 van Dam:2 van der Wal:2 Prins:2
Blom:2 Huisman:2 de Jonge:2 Kuipers:2 van Veen:2 Post:2 Kuiper:2 Veenstra:2 Kramer:2 van den Brink:2 Scholten:2
van Wijk:2 Postma:2 Martens:2 Vink:2 de Ruiter:2 Timmermans:2 Groen:2 Gerritsen:2 Jonker:2 van Loon:2
van der Velde:2 Willemsen:2 Smeets:2 de Lange:2 de Vos:2 Bosch:2 van Dongen:2 Schipper:2 de Koning:2
van der Laan:2 Koning:2 van der Veer:2 Driessen:2 van Doorn:2 Hermans:2 Evers:2 van den Bosch:2
van der Meulen:2 Hofman:2 Bosman:2 Wolters:2 Sanders:2 van der Horst:2 Mol:2 Kuijpers:2 Molenaar:2
van de Pol:2 de Leeuw:2 Verbeek:2 ter Horst:1 ten Have:1 van 't Hof:1 in 't Veld:1 op de Beek:1 ten Brink:1
te Riele:1 ter Beek:1 van het Reve:1 uit den Bogaard:1 van de Kamp:1 ter Haar:1 ten Cate:1 van 't Zand:1
den Hartog:1 den Ouden:1 van der Sluis:1 van de Wetering:1 van Rijn:1 van Os:1 de Kort:1 Wijnands:1"""
BE_COMMON_SURNAMES = """Peeters:6 Janssens:6 Maes:5 Jacobs:4 Mertens:4 Willems:4 Claes:4 Goossens:4 Wouters:4
De Smet:4 Dubois:2 Lambert:2 Martens:3 De Clercq:3 Hermans:3 Van den Bossche:3 Desmet:3 Claeys:3 Vermeulen:3
Pauwels:3 Van Damme:3 De Backer:3 Michiels:3 Aerts:3 Smets:3 Van de Velde:3 Verhoeven:2 Cools:2 Declercq:2
Van Dyck:2 Lemmens:2 Van Hecke:2 De Coninck:2 Vandenberghe:2 Verstraete:2 De Wilde:2 Segers:2 Stevens:2
Van Acker:2 Dewulf:2 Leemans:2 De Meyer:2 Van Hoof:2 Baert:2 Vervoort:2 Coppens:2 Van Laere:2"""

# Born before about 1975, people more often carry names like these than Faker's modern ones.
OLDER_MALE_NAMES = {
    "NL": "Jan Johannes Cornelis Hendrik Willem Pieter Gerrit Jacobus Kees Henk Piet Wim Hans Peter Frans Ton "
    "Gerard Rob Theo Ad Jos Bert Joop Klaas Dirk Ruud Marco Erik Paul Martin Harm Gert Leo",
    "BE": "Jozef Marc Luc Patrick Dirk Eddy Rudy Guido Frans Willy André Roger Jean Lucien Herman Ivo Walter "
    "Geert Koen Johan Jan Paul Erik Danny",
}
OLDER_FEMALE_NAMES = {
    "NL": "Maria Anna Johanna Cornelia Wilhelmina Elisabeth Geertruida Hendrika Ria Annie Truus Ans Joke "
    "Marian Ingrid Monique Anja Karin Linda Els Marja Petra Yvonne Margreet Ineke Tineke Corrie Greet "
    "Mieke Wilma Gerda Riet",
    "BE": "Maria Godelieve Rita Lieve Hilde Christiane Monique Annemie Lutgarde Marleen Greta Martine Linda Mia "
    "Nicole Chris Veerle Katrien Ingrid Ann Hilda Rosa",
}
INITIAL_LETTERS = "JJJMMMAAHHCCPPWWEGLRTFSDK"
NL_POSTCODE_LETTERS = [
    a + b
    for a in "ABCDEGHJKLMNPRSTVWXZ"
    for b in "ABCDEGHJKLMNPRSTVWXZ"
    if a + b not in NL_POSTCODE_UNUSED_LETTERS
]
NL_PREFIXES = (
    "van der",
    "van den",
    "van de",
    "van het",
    "van 't",
    "in 't",
    "op de",
    "uit den",
    "uit de",
    "van",
    "de",
    "den",
    "der",
    "ter",
    "ten",
    "te",
)
ORGANISATION_FORMS = {
    "NL": [
        "Hoveniersbedrijf {n}",
        "Tuincentrum {n}",
        "{n} Groenvoorziening B.V.",
        "Boomkwekerij {n}",
        "Tuinarchitectenbureau {n}",
        "{n} & Zonen Hoveniers",
        "Kwekerij {n}",
        "{n} Groenadvies",
        "Stichting Stadstuin {c}",
        "Imkerij {n}",
    ],
    "BE": [
        "Tuinaanleg {n} BV",
        "Boomkwekerij {n}",
        "{n} Groen NV",
        "Tuincentrum {n}",
        "Hoeve {n}",
        "Kwekerij {n} BV",
    ],
}
CONTACT_ROLES = [
    "eigenaar",
    "directeur",
    "bedrijfsleider",
    "office manager",
    "administratie",
    "hoofd personeelszaken",
]
MEMBER_NOTES = [
    "Wil de ledenpost graag op papier.",
    "Vrijwilliger bij de open tuinendag.",
    "Zit in de werkgroep moestuinen.",
    "Belt liever dan dat hij of zij mailt.",
    "Hielp mee bij de jubileumtentoonstelling.",
]
FUND_NAME = "Jeugdfonds Sport"


# --- what the command calls ------------------------------------------------------------------


@dataclass
class SeedResult:
    members: int = 0
    counts: Counter = field(default_factory=Counter)
    seconds: float = 0.0


def is_loaded() -> bool:
    """The demo (or any member administration) is there: seeding again would duplicate it."""
    return Member.objects.exists()


class AlreadyLoaded(Exception):
    pass


def seed_demo(
    members: int = DEFAULT_MEMBERS,
    seed: int = DEFAULT_SEED,
    *,
    today: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SeedResult:
    """Load the demo association with `members` members (at least the demo household of 3).

    Everything happens in one transaction: it loads completely or not at all. Raises
    AlreadyLoaded when the administration already has members.
    """
    started = time.perf_counter()
    today = today or timezone.localdate()
    with transaction.atomic():
        if is_loaded():
            raise AlreadyLoaded
        reference = load_reference_data()
        staff = create_staff_logins()
        demo_people = create_demo_household(reference, actor=staff[roles.SECRETARIAT], today=today)
        result = SeedResult(members=len(demo_people))
        generator = MemberGenerator(
            rng=random.Random(seed),
            pools=build_pools(seed),
            reference=reference,
            today=today,
            actor=staff[roles.SECRETARIAT],
            writer=TableWriter(),
        )
        generator.generate(max(members - len(demo_people), 0), progress=progress)
        result.members += generator.members_written
        result.counts = generator.writer.counts
    result.seconds = time.perf_counter() - started
    return result


def existing_demo_logins() -> list[DemoLogin]:
    emails = set(
        User.objects.filter(email__in=[login.email for login in DEMO_LOGINS]).values_list("email", flat=True)
    )
    return [login for login in DEMO_LOGINS if login.email in emails]


# --- reference data and the people behind the demo logins -----------------------------------


@dataclass
class Reference:
    plans: dict[str, Plan]
    prices: dict[str, list[str]]
    member_types: dict[str, MemberType]
    reasons: list[CancellationReason]


def load_reference_data() -> Reference:
    association = Association.current()
    for name, value in ASSOCIATION.items():
        setattr(association, name, value)
    association.save()

    parts = {}
    for code, name, description in PORTAL_PARTS:
        parts[code], _created = PortalPart.objects.get_or_create(
            code=code, defaults={"name": name, "description": description}
        )
    member_types = {t.code: t for t in MemberType.objects.all()}
    plans = {}
    for order, spec in enumerate(PLANS):
        plan, created = Plan.objects.get_or_create(
            code=spec.code,
            defaults={
                "name": spec.name,
                "description": spec.description,
                "yearly_price": Decimal(spec.yearly_price),
                "renewal": spec.renewal,
                "is_addon": spec.is_addon,
                "covers_household": spec.covers_household,
                "for_organisations": spec.for_organisations,
                "is_active": spec.is_active,
                "sort_order": order,
            },
        )
        if created:
            for frequency, price in spec.prices.items():
                PlanPrice.objects.create(plan=plan, frequency=frequency, instalment_price=Decimal(price))
            plan.portal_parts.set([parts[code] for code in spec.portal_parts])
            plan.member_types.set([member_types[code] for code in spec.member_types])
        plans[spec.code] = plan
    for code, addons in ADDONS_FOR.items():
        plans[code].addons.add(*(plans[addon] for addon in addons))
    for order, (plan, kind, label, adjustment, value, min_age, max_age, countries) in enumerate(PRICE_RULES):
        PriceRule.objects.get_or_create(
            plan=plans[plan],
            kind=kind,
            label=label,
            defaults={
                "adjustment": adjustment,
                "value": Decimal(value),
                "min_age": min_age,
                "max_age": max_age,
                "countries": countries,
                "sort_order": order,
            },
        )
    prices = {spec.code: list(spec.prices) for spec in PLANS}
    reasons = list(CancellationReason.objects.filter(is_active=True).order_by("sort_order"))
    return Reference(plans=plans, prices=prices, member_types=member_types, reasons=reasons)


@cache
def _demo_password_hash() -> str:
    # Hashing is slow on purpose; the demo logins share one password, so hash it once.
    return make_password(DEMO_PASSWORD)


def _login(login: DemoLogin, *, staff: bool) -> User:
    user = User.objects.filter(email=login.email).first()
    if user is None:
        user = User.objects.create_user(
            login.email, None, full_name=login.full_name, is_staff=staff, mfa_exempt=staff
        )
        user.password = _demo_password_hash()
        user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(
        user=user, email=login.email, defaults={"verified": True, "primary": True}
    )
    if login.group:
        user.groups.add(Group.objects.get(name=login.group))
    return user


def create_staff_logins() -> dict[str, User]:
    """The back-office logins of the demo. They skip the second factor (demo only)."""
    return {login.group: _login(login, staff=True) for login in DEMO_LOGINS if login.group}


def create_demo_household(reference: Reference, *, actor, today: date) -> list[Member]:
    """The member behind lid@demo.kring.test, with a partner and a child, made through the services."""
    user = _login(DEMO_LOGINS[0], staff=False)
    lid, jeugdlid = reference.member_types["lid"], reference.member_types["jeugdlid"]
    address = {
        "street": "Kastanjelaan",
        "house_number": 17,
        "postcode": "3532 AB",
        "city": "Utrecht",
        "country": "NL",
    }
    sanne = services.create_member(
        actor=actor,
        member_type=lid,
        user=user,
        first_name="Sanne",
        initials="S.M.",
        name_prefix="van der",
        last_name="Linden",
        date_of_birth=date(1984, 5, 12),
        email=MEMBER_LOGIN,
        phone="06 12345678",
        **address,
    )
    daan = services.create_member(
        actor=actor,
        member_type=lid,
        first_name="Daan",
        initials="D.",
        last_name="Mulder",
        date_of_birth=date(1982, 11, 3),
        email="daan.mulder@ziggo.test",
        phone="06 23456789",
        **address,
    )
    noor = services.create_member(
        actor=actor,
        member_type=jeugdlid,
        first_name="Noor",
        initials="N.",
        name_prefix="van der",
        last_name="Linden",
        date_of_birth=date(today.year - 12, 3, 8),
        guardian=sanne,
        **address,
    )
    household = services.create_household(actor=actor, name="Familie Van der Linden", head=sanne)
    services.add_to_household(daan, household, role=Member.HouseholdRole.PARTNER, actor=actor)
    services.add_to_household(noor, household, role=Member.HouseholdRole.CHILD, actor=actor)

    plans = reference.plans
    main = services.start_membership(
        sanne,
        plans["gewoon"],
        actor=actor,
        start_date=date(today.year - 14, 9, 1),
        billing_frequency=BillingFrequency.YEARLY,
    )
    services.start_membership(
        sanne,
        plans["kennisbank-plus"],
        actor=actor,
        start_date=date(today.year - 3, 1, 1),
        billing_frequency=BillingFrequency.YEARLY,
        parent_membership=main,
    )
    services.start_membership(
        daan,
        plans["gewoon"],
        actor=actor,
        start_date=date(today.year - 9, 1, 1),
        billing_frequency=BillingFrequency.QUARTERLY,
    )
    youth = services.start_membership(
        noor,
        plans["jeugd"],
        actor=actor,
        start_date=date(today.year - 4, 9, 1),
        billing_frequency=BillingFrequency.YEARLY,
    )
    services.set_payers(
        youth,
        [
            {
                "kind": MembershipPayer.Kind.FUND,
                "external_name": FUND_NAME,
                "share_percent": Decimal("75"),
                "external_reference": f"JFS-{today.year}-0417",
            },
            {"kind": MembershipPayer.Kind.GUARDIAN, "payer_member": sanne, "share_percent": Decimal("25")},
        ],
        actor=actor,
    )
    services.set_bank_account(
        sanne, actor=actor, iban=nl_iban("INGB", "0417164300"), holder_name="S.M. van der Linden"
    )
    services.set_bank_account(daan, actor=actor, iban=nl_iban("RABO", "0123456789"), holder_name="D. Mulder")
    services.process_term_ends(on_date=today, actor=None)
    return [sanne, daan, noor]


# --- IBANs -------------------------------------------------------------------------------------


@cache
def _as_digits(text: str) -> str:
    """Letters as ISO 13616 numbers (A = 10 … Z = 35); cached, as only bank and country codes have letters."""
    return "".join(str(int(ch, 36)) for ch in text)


def iban_check_digits(country: str, bban: str) -> str:
    digits = "".join(
        _as_digits(part) if not part.isdigit() else part for part in re.findall(r"[A-Z]+|[0-9]+", bban)
    )
    return f"{98 - int(digits + _as_digits(country) + '00') % 97:02d}"


def nl_iban(bank: str, account: str) -> str:
    return f"NL{98 - int(_as_digits(bank) + account + '232100') % 97:02d}{bank}{account}"


def be_iban(bank: str, account: str) -> str:
    """Belgian BBAN: bank code (3), account (7) and the national check (number mod 97, 0 → 97)."""
    national = int(bank + account) % 97 or 97
    bban = f"{bank}{account}{national:02d}"
    return f"BE{98 - int(bban + '111400') % 97:02d}{bban}"


ELEVEN_TEST_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)


def random_nl_account(rng: random.Random) -> str:
    """Ten digits that pass the old Dutch eleven-test, as real Dutch account numbers do."""
    while True:
        head = str(100_000_000 + int(rng.random() * 900_000_000))
        total = sum(int(d) * w for d, w in zip(head, ELEVEN_TEST_WEIGHTS, strict=True))
        last = (-total) % 11
        if last < 10:
            return head + str(last)


# --- pools -------------------------------------------------------------------------------------


@dataclass
class LocalePool:
    country: str
    first_names: dict[str, list[str]]
    older_first_names: dict[str, list[str]]
    surnames: list[tuple[str, str]]
    streets: list[str]
    places: list[tuple]
    banks: list[tuple[str, str]]
    mail_domains: list[str]


@dataclass
class Pools:
    nl: LocalePool
    be: LocalePool


def _weighted(items):
    return [item for item, weight in items for _ in range(weight)]


def _parse_surnames(text: str, *, split_prefix: bool) -> list[tuple[str, str]]:
    result = []
    for entry in re.findall(r"([^:\n]+?):(\d+)", text.replace("\n", " ")):
        name, weight = entry[0].strip(), int(entry[1])
        result += [_split_surname(name) if split_prefix else ("", name)] * weight
    return result


def _split_surname(name: str) -> tuple[str, str]:
    for prefix in NL_PREFIXES:
        if name.startswith(prefix + " ") and re.fullmatch(r"[A-Z][a-zA-Zëéèï']+", name[len(prefix) + 1 :]):
            return prefix, name[len(prefix) + 1 :]
    return "", name


def build_pools(seed: int) -> Pools:
    """Names and streets from Faker (seeded), places and banks from the lists above."""
    pools = {}
    for country, locale in (("NL", "nl_NL"), ("BE", "nl_BE")):
        fake = Faker(locale)
        fake.seed_instance(seed)
        first = {
            "M": [fake.first_name_male() for _ in range(600)],
            "F": [fake.first_name_female() for _ in range(600)],
        }
        older = {"M": OLDER_MALE_NAMES[country].split(), "F": OLDER_FEMALE_NAMES[country].split()}
        common = _parse_surnames(
            NL_COMMON_SURNAMES if country == "NL" else BE_COMMON_SURNAMES, split_prefix=country == "NL"
        )
        faked = []
        for _ in range(len(common)):
            surname = fake.last_name()
            if country == "NL":
                prefix, last = _split_surname(surname)
                if not re.fullmatch(r"[A-Z][a-zëéèïö]+", last):
                    continue
                faked.append((prefix, last))
            elif re.fullmatch(r"([A-Z][a-z]* )*[A-Z][a-zëéèïö]+", surname):
                faked.append(("", surname))
        streets = sorted({fake.street_name() for _ in range(900)})
        streets += [
            "Kerkstraat",
            "Dorpsstraat",
            "Molenweg",
            "Stationsstraat",
            "Schoolstraat",
            "Nieuwstraat",
            "Kastanjelaan",
            "Lindelaan",
            "Markt",
            "Beukenlaan",
        ] * 4
        if country == "NL":
            streets += [
                "Julianastraat",
                "Beatrixlaan",
                "Wilhelminastraat",
                "Hoofdstraat",
                "Prins Hendrikstraat",
            ] * 3
            places = _weighted(
                [((name, start, end, area), weight) for name, start, end, area, weight in NL_PLACES]
            )
        else:
            streets += ["Kapelstraat", "Veldstraat", "Grote Markt", "Bergstraat", "Steenweg"] * 3
            places = _weighted([((name, codes, area), weight) for name, codes, area, weight in BE_PLACES])
        pools[country] = LocalePool(
            country=country,
            first_names=first,
            older_first_names=older,
            surnames=common + faked,
            streets=streets,
            places=places,
            banks=_weighted(
                [((code, bic), weight) for code, bic, weight in (NL_BANKS if country == "NL" else BE_BANKS)]
            ),
            mail_domains=_weighted(NL_MAIL_DOMAINS if country == "NL" else BE_MAIL_DOMAINS),
        )
    return Pools(nl=pools["NL"], be=pools["BE"])


# --- writing rows set-based ------------------------------------------------------------------


class TableWriter:
    """Writes prepared rows straight into tables: ``COPY`` on PostgreSQL, ``executemany`` on SQLite.

    Rows hold values ready for the database driver: an encrypted field its ciphertext, a JSON
    field its JSON text, a timestamp the text from ``timestamp()``. Fields a caller leaves out
    get their model default. Batches are written by a background thread on the same database
    connection and transaction, so generating the next batch overlaps with writing this one (both
    drivers release the GIL while the database works). Between ``begin()`` and ``finish()`` the
    caller must not use the connection itself.
    """

    # SQLite's page cache while seeding (KiB): index pages stay in memory instead of being re-read.
    SQLITE_CACHE_KIB = 256 * 1024

    def __init__(self, using=connection, *, background: bool = True):
        self.connection = using
        self.background = background
        self.counts = Counter()
        self.connection.ensure_connection()
        self.postgres = self.connection.vendor == "postgresql"
        self._previous_cache_size = None
        self._rebuild: list[str] = []
        self._rebuilt_tables: list[str] = []
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def timestamp(self, moment: datetime) -> str:
        utc = moment.astimezone(UTC)
        return utc.isoformat(" ") if self.postgres else utc.replace(tzinfo=None).isoformat(" ")

    def next_id(self, model: type[models.Model]) -> int:
        with self.connection.cursor() as cursor:
            cursor.execute(f"SELECT MAX(id) FROM {self.connection.ops.quote_name(model._meta.db_table)}")
            return (cursor.fetchone()[0] or 0) + 1

    def begin(self, model_list: Sequence[type[models.Model]], *, large: bool = False) -> None:
        """Lock out other writers (readers carry on) and start the writing thread.

        For a `large` load the tables' indexes (and, on PostgreSQL, their foreign keys) are set
        aside and built again by finish(), from their own definitions in the database catalog:
        building an index over a million rows at once takes a fraction of the time of a million
        single insertions (this is how pg_restore loads). It all happens inside the caller's
        transaction, so on any error the schema is rolled back with the data. The tables are
        locked for readers too until the transaction ends.
        """
        tables = [m._meta.db_table for m in model_list]
        with self.connection.cursor() as cursor:
            if self.postgres:
                quoted = ", ".join(self.connection.ops.quote_name(t) for t in tables)
                cursor.execute(f"LOCK TABLE {quoted} IN SHARE ROW EXCLUSIVE MODE")
                # Check foreign keys at the end of each COPY, while the next batch is generated, instead
                # of all at once at commit. finish() sets Django's default (deferred) back.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            else:
                cursor.execute("PRAGMA cache_size")
                self._previous_cache_size = cursor.fetchone()[0]
                cursor.execute(f"PRAGMA cache_size = -{self.SQLITE_CACHE_KIB}")
            if large:
                self._rebuild = self._set_aside_indexes(cursor, tables)
                self._rebuilt_tables = tables
        self._queue = queue.Queue(maxsize=2)
        if self.background:
            self._thread = threading.Thread(
                target=self._work, args=(self.connection.connection,), daemon=True
            )
            self._thread.start()

    def write(self, batch: list[tuple[type[models.Model], Sequence[str], list]]) -> None:
        """Queue a batch of (model, field names, rows), written in this order."""
        if self._error is not None:
            self.finish()
        prepared = [self._prepare(model, field_names, rows) for model, field_names, rows in batch if rows]
        self._queue.put(prepared)
        if not self.background:
            self._queue.put(None)
            self._work(self.connection.connection)

    def finish(self) -> None:
        """Wait for the writes; raises the first error the writing thread met."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._previous_cache_size is not None:
            with self.connection.cursor() as cursor:
                cursor.execute(f"PRAGMA cache_size = {int(self._previous_cache_size)}")
            self._previous_cache_size = None
        if self._error is None:
            with self.connection.cursor() as cursor:
                if self.postgres:
                    cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
                for statement in self._rebuild:
                    cursor.execute(statement)
                if self.postgres:
                    cursor.execute("SET CONSTRAINTS ALL DEFERRED")
                # Fresh statistics, so the first searches after a large load get good plans.
                for table in self._rebuilt_tables:
                    cursor.execute(f"ANALYZE {self.connection.ops.quote_name(table)}")
            self._rebuild, self._rebuilt_tables = [], []
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _set_aside_indexes(self, cursor, tables: list[str]) -> list[str]:
        """Drop the indexes that back no constraint (and PostgreSQL's foreign keys) of `tables`;
        returns the statements that create them again exactly as they were."""
        if self.postgres:
            cursor.execute(
                """
                SELECT t.relname, i.relname, pg_get_indexdef(x.indexrelid)
                FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
                WHERE t.relname = ANY(%s) AND pg_table_is_visible(t.oid)
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
                ORDER BY t.relname, i.relname
                """,
                [tables],
            )
            indexes = cursor.fetchall()
            cursor.execute(
                """
                SELECT t.relname, k.conname, pg_get_constraintdef(k.oid)
                FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid
                WHERE k.contype = 'f' AND t.relname = ANY(%s) AND pg_table_is_visible(t.oid)
                ORDER BY t.relname, k.conname
                """,
                [tables],
            )
            foreign_keys = cursor.fetchall()
            quote = self.connection.ops.quote_name
            for table, name, _definition in foreign_keys:
                cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
            for _table, name, _definition in indexes:
                cursor.execute(f"DROP INDEX {quote(name)}")
            return [definition for _table, _name, definition in indexes] + [
                f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}"
                for table, name, definition in foreign_keys
            ]
        placeholders = ", ".join("%s" for _ in tables)
        # Indexes SQLite makes for UNIQUE and PRIMARY KEY have no SQL of their own and stay.
        cursor.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({placeholders}) ORDER BY name",
            tables,
        )
        indexes = cursor.fetchall()
        for name, _sql in indexes:
            cursor.execute(f"DROP INDEX {self.connection.ops.quote_name(name)}")
        return [sql for _name, sql in indexes]

    def _work(self, raw_connection) -> None:
        while (batch := self._queue.get()) is not None:
            if self._error is not None:
                continue  # Keep taking batches so the producer never blocks; finish() raises.
            try:
                for label, sql, rows in batch:
                    if self.postgres:
                        with raw_connection.cursor() as cursor, cursor.copy(sql) as copy:
                            for row in rows:
                                copy.write_row(row)
                    else:
                        raw_connection.executemany(sql, rows)
                    self.counts[label] += len(rows)
            except Exception as exc:  # handed to the caller by finish()
                self._error = exc

    def _prepare(self, model, field_names, rows):
        meta = model._meta
        given = [meta.get_field(name) for name in field_names]
        missing = [
            f
            for f in meta.concrete_fields
            if f not in given and not (f.primary_key and "id" not in field_names)
        ]
        if missing:
            extra = tuple(self._default(model, f) for f in missing)
            rows = [tuple(row) + extra for row in rows]
        quote = self.connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in given + missing)
        table = quote(meta.db_table)
        if self.postgres:
            sql = f"COPY {table} ({columns}) FROM STDIN"
        else:
            sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' for _ in given + missing)})"
        return meta.label, sql, rows

    def _default(self, model, model_field):
        if model_field.has_default():
            value = model_field.get_default()
        elif model_field.null:
            return None
        elif model_field.blank:
            return ""
        else:
            raise RuntimeError(
                f"{model._meta.label}.{model_field.name} has no default: the demo seeder must fill it."
            )
        if isinstance(value, datetime):
            return self.timestamp(value)
        if isinstance(model_field, models.JSONField):
            return json.dumps(value)
        return model_field.get_db_prep_save(value, self.connection)

    def reset_sequences(self, model_list: Sequence[type[models.Model]]) -> None:
        with self.connection.cursor() as cursor:
            for sql in self.connection.ops.sequence_reset_sql(no_style(), model_list):
                cursor.execute(sql)


def changes_json(changes: Sequence[tuple[str, str, str]]) -> str:
    """The audit entry's changes, [(field, before, after)], as JSON text (fast: this runs millions of times)."""
    return (
        "["
        + ", ".join(
            f'{{"field": "{name}", "before": {encode_basestring(before)}, "after": {encode_basestring(after)}}}'
            for name, before, after in changes
        )
        + "]"
    )


# --- generating members --------------------------------------------------------------------

MEMBER_FIELDS = (
    "id",
    "member_number",
    "kind",
    "member_type_id",
    "first_name",
    "initials",
    "name_prefix",
    "last_name",
    "date_of_birth",
    "student_until",
    "organisation_name",
    "kvk_number",
    "sort_name",
    "search_name",
    "email",
    "phone",
    "street",
    "house_number",
    "house_number_addition",
    "postcode",
    "city",
    "city_search",
    "country",
    "correspondence",
    "household_id",
    "household_role",
    "guardian_id",
    "current_plan_id",
    "membership_status",
    "member_since",
    "may_be_named_for_anniversary",
    "notes",
    "created_at",
    "updated_at",
)
# Positions in a member row that are filled in after the memberships are known.
CURRENT_PLAN, MEMBERSHIP_STATUS, MEMBER_SINCE = 27, 28, 29
MEMBERSHIP_FIELDS = (
    "id",
    "member_id",
    "plan_id",
    "billing_frequency",
    "status",
    "start_date",
    "end_date",
    "current_term_end",
    "parent_membership_id",
    "cancellation_reason_id",
    "cancelled_on",
    "renewal_confirmed_until",
    "created_at",
)
CHANGE_FIELDS = (
    "membership_id",
    "kind",
    "effective_date",
    "from_value",
    "to_value",
    "reason_id",
    "note",
    "created_by_id",
    "created_at",
)
AUDIT_FIELDS = (
    "action",
    "actor_id",
    "actor_label",
    "created_at",
    "object_type",
    "object_id",
    "member_id",
    "changes",
    "note",
)
BANK_FIELDS = (
    "id",
    "member_id",
    "iban",
    "iban_fingerprint",
    "iban_masked",
    "bic",
    "holder_name",
    "is_primary",
    "created_at",
)
CONTACT_FIELDS = (
    "organisation_id",
    "first_name",
    "name_prefix",
    "last_name",
    "role",
    "email",
    "phone",
    "is_primary",
)
PAYER_FIELDS = (
    "membership_id",
    "kind",
    "payer_member_id",
    "external_name",
    "external_email",
    "external_reference",
    "share_percent",
)
HOUSEHOLD_FIELDS = ("id", "name", "created_at")

ACTIVE, CANCELLED, PENDING, LAPSED, ENDED = (
    Membership.Status.ACTIVE.value,
    Membership.Status.CANCELLED.value,
    Membership.Status.PENDING.value,
    Membership.Status.LAPSED.value,
    Membership.Status.ENDED.value,
)
SUMMARY_RANK = {str(status): rank for rank, status in enumerate(services.SUMMARY_STATUS_ORDER)}
PERSON, ORGANISATION = Member.Kind.PERSON.value, Member.Kind.ORGANISATION.value
WRITTEN_MODELS = [
    Household,
    Member,
    Membership,
    MembershipPayer,
    MembershipChange,
    BankAccount,
    ContactPerson,
    AuditEntry,
]
SHARE_75, SHARE_25, SHARE_100 = Decimal("75.00"), Decimal("25.00"), Decimal("100.00")


class NameParts:
    """The name fields of a member, for the key functions in kring.members.names."""

    __slots__ = ("kind", "first_name", "initials", "name_prefix", "last_name", "organisation_name")

    def __init__(self, kind, first_name, initials, name_prefix, last_name, organisation_name):
        self.kind, self.first_name, self.initials = kind, first_name, initials
        self.name_prefix, self.last_name, self.organisation_name = name_prefix, last_name, organisation_name


@dataclass
class Address:
    country: str
    street: str
    house_number: int
    addition: str
    postcode: str
    city: str
    area: str


class MemberGenerator:
    """Generates members unit by unit (a person, a household, an organisation) into row batches.

    Hot code: it runs a million times for the benchmarks, so it draws with ``random()`` directly.
    """

    # The first units are fixed so that even a small demo has milestone anniversaries this year.
    FIXED_UNITS = {
        3: ("honorary", 50),
        7: ("single", 40),
        11: ("honorary", 40),
        15: ("single", 25),
        19: ("single", 25),
        23: ("single", 50),
        27: ("single", 25),
    }

    def __init__(
        self,
        *,
        rng: random.Random,
        pools: Pools,
        reference: Reference,
        today: date,
        actor: User,
        writer: TableWriter,
    ):
        self.rng, self.random = rng, rng.random
        self.pools, self.reference, self.today, self.writer = pools, reference, today, writer
        self.today_ordinal = today.toordinal()
        self.actor_id, self.actor_label = actor.pk, actor.get_full_name()
        self.plans = {code: plan.pk for code, plan in reference.plans.items()}
        self.plan_names = {code: plan.name for code, plan in reference.plans.items()}
        self.types = {code: t.pk for code, t in reference.member_types.items()}
        self.reasons = [r.pk for r in reference.reasons]
        self.reason_death = next((r.pk for r in reference.reasons if r.code == "overleden"), self.reasons[-1])
        self.labels = {s.value: str(s.label) for s in Membership.Status}
        self.emails: set[str] = set(Member.objects.exclude(email="").values_list("email", flat=True))
        self.kvk_numbers: set[str] = set()
        self.norm = names.normalise
        self.day_texts: dict[date, str] = {}
        self.stamp_suffix = "+00:00" if writer.postgres else ""
        self.now = writer.timestamp(timezone.now())
        # The demo association moved to Kring three years ago: members who joined since were entered
        # in Kring (and have a 'created' entry); older ones came over in one import.
        self.went_live = date(today.year - 3, 1, 1)
        self.members_written = 0
        self._reset_batch()

    # -- driving -----------------------------------------------------------------------------

    def generate(self, count: int, *, progress=None) -> None:
        if count <= 0:
            return
        writer = self.writer
        self.next_member_id = writer.next_id(Member)
        self.next_membership_id = writer.next_id(Membership)
        self.next_household_id = writer.next_id(Household)
        self.next_bank_account_id = writer.next_id(BankAccount)
        association = Association.current()
        self.member_numbers = [
            association.format_member_number(n)
            for n in NumberSequence.reserve(services.MEMBER_NUMBER_SEQUENCE, count)
        ]
        self.remaining = count
        writer.begin(WRITTEN_MODELS, large=count >= LARGE_LOAD)
        self.audit.append(
            (
                "kring.member.imported",
                None,
                "import",
                self._stamp(self.went_live),
                "association",
                str(association.pk),
                None,
                "[]",
                "Members taken over from the previous member administration.",
            )
        )
        try:
            unit = 0
            while self.remaining > 0:
                self._unit(unit)
                unit += 1
                if len(self.members) >= BATCH_SIZE:
                    self._flush()
                    if progress:
                        progress(self.members_written, count)
            self._flush()
        finally:
            writer.finish()
        if progress:
            progress(self.members_written, count)
        writer.reset_sequences([Household, Member, Membership, BankAccount])

    def _reset_batch(self):
        self.households, self.members, self.memberships, self.payers = [], [], [], []
        self.changes, self.bank_accounts, self.contacts, self.audit = [], [], [], []

    def _flush(self):
        self.writer.write(
            [
                (Household, HOUSEHOLD_FIELDS, self.households),
                (Member, MEMBER_FIELDS, self.members),
                (Membership, MEMBERSHIP_FIELDS, self.memberships),
                (MembershipPayer, PAYER_FIELDS, self.payers),
                (MembershipChange, CHANGE_FIELDS, self.changes),
                (BankAccount, BANK_FIELDS, self.bank_accounts),
                (ContactPerson, CONTACT_FIELDS, self.contacts),
                (AuditEntry, AUDIT_FIELDS, self.audit),
            ]
        )
        self.members_written += len(self.members)
        self._reset_batch()

    def _unit(self, number: int) -> None:
        if number in self.FIXED_UNITS:
            kind, years = self.FIXED_UNITS[number]
            if kind == "honorary":
                self._honorary(years=years)
            else:
                self._single(years=years)
            return
        roll = self.random()
        if roll < 0.080 and self.remaining >= 2:
            self._household()
        elif roll < 0.110:
            self._organisation()
        elif roll < 0.150:
            self._donor()
        elif roll < 0.156:
            self._honorary()
        elif roll < 0.195:
            self._student()
        else:
            self._single()

    # -- small helpers ---------------------------------------------------------------------

    def _pick(self, seq):
        return seq[int(self.random() * len(seq))]

    def _between(self, low: int, high: int) -> int:
        return low + int(self.random() * (high - low + 1))

    def _days_ago(self, days: int) -> date:
        return date.fromordinal(self.today_ordinal - days)

    def _stamp(self, day: date) -> str:
        """A time on that day during office hours, as the database takes it."""
        text = self.day_texts.get(day)
        if text is None:
            text = self.day_texts[day] = day.isoformat()
        minutes = 480 + int(self.random() * 540)
        return f"{text} {minutes // 60:02d}:{minutes % 60:02d}:00{self.stamp_suffix}"

    def _pool(self) -> LocalePool:
        return self.pools.be if self.random() < 0.12 else self.pools.nl

    def _years_member(self, age: int) -> float:
        roll, r = self.random(), self.random()
        if roll < 0.50:
            years = r * 8
        elif roll < 0.82:
            years = 8 + r * 12
        elif roll < 0.975:
            years = 20 + r * 12
        else:
            years = 32 + r * 24
        if years > age - 18:
            years = max(age - 18, 0) * self.random()
        return years

    def _start_for(self, years: float, exact_years: int | None = None) -> date:
        if exact_years is not None:
            return date(self.today.year - exact_years, self._between(1, 12), self._between(1, 28))
        return self._days_ago(int(years * 365.25))

    # -- units -----------------------------------------------------------------------------------

    def _single(self, years: int | None = None) -> None:
        pool = self._pool()
        age = int(self.rng.triangular(19, 92, 58)) if years is None else years + self._between(22, 40)
        start = self._start_for(self._years_member(age), years)
        plan = "senior" if age >= 67 and self.random() < 0.35 else "gewoon"
        row = self._person(pool, self._address(pool), age=age, member_type="lid", joined=start)
        self._membership_history(row, plan, start, age=age, forced=ACTIVE if years is not None else None)
        self._maybe_bank_account(row, pool, start)

    def _student(self) -> None:
        pool = self._pool()
        age = self._between(18, 26)
        start = self._days_ago(self._between(20, 365 * min(age - 17, 6)))
        until = date(self.today.year + self._between(0, 3), 8, 31)
        row = self._person(
            pool, self._address(pool), age=age, member_type="lid", joined=start, student_until=until
        )
        self._membership_history(row, "student", start, age=age)
        self._maybe_bank_account(row, pool, start, chance=0.7)

    def _donor(self) -> None:
        pool = self._pool()
        age = int(self.rng.triangular(25, 90, 65))
        start = self._start_for(self._years_member(age))
        row = self._person(pool, self._address(pool), age=age, member_type="donateur", joined=start)
        self._membership_history(row, "donateur", start, age=age)
        self._maybe_bank_account(row, pool, start, chance=0.6)

    def _honorary(self, years: int | None = None) -> None:
        pool = self._pool()
        years = years if years is not None else self._between(22, 52)
        age = min(years + self._between(25, 40), 98)
        start = self._start_for(years, years if years in (25, 40, 50) else None)
        member_type = "erelid" if self.random() < 0.4 else "lid-van-verdienste"
        row = self._person(
            pool,
            self._address(pool),
            age=age,
            member_type=member_type,
            joined=start,
            may_be_named=self.random() < 0.7,
        )
        self._membership_history(row, "erelid", start, age=age, forced=ACTIVE)

    def _household(self) -> None:
        pool = self._pool()
        address = self._address(pool)
        head_age = self._between(30, 56)
        start = self._days_ago(self._between(30, 365 * min(head_age - 22, 20)))
        household_id = self.next_household_id
        self.next_household_id += 1
        head_sex = self._pick("MF")
        prefix, last = self._pick(pool.surnames)
        head = self._person(
            pool,
            address,
            age=head_age,
            member_type="lid",
            joined=start,
            surname=(prefix, last),
            sex=head_sex,
            household=(household_id, Member.HouseholdRole.HEAD.value, None),
        )
        family_name = " ".join(p for p in (prefix[:1].upper() + prefix[1:], last) if p)
        self.households.append((household_id, f"Familie {family_name}", self._stamp(start)))
        adults, children = [head], []
        if self.random() < 0.75 and self.remaining > 0:
            partner = self._person(
                pool,
                address,
                age=max(head_age + self._between(-5, 5), 24),
                member_type="lid",
                joined=start,
                surname=(prefix, last) if self.random() < 0.35 else None,
                sex="F" if head_sex == "M" else "M",
                household=(household_id, Member.HouseholdRole.PARTNER.value, None),
            )
            adults.append(partner)
        for _ in range(self._pick((0, 1, 1, 2, 2, 2, 3))):
            if self.remaining <= 0:
                break
            child_age = self._between(4, min(17, head_age - 20))
            children.append(
                (
                    self._person(
                        pool,
                        address,
                        age=child_age,
                        member_type="jeugdlid",
                        joined=start,
                        surname=(prefix, last),
                        household=(household_id, Member.HouseholdRole.CHILD.value, head[0]),
                    ),
                    child_age,
                )
            )
        if self.random() < 0.5:
            # One membership for the household: the head holds it, the others are covered by it and
            # show its plan and status (as services.refresh_membership_summary sets them).
            self._membership_history(head, "gezin", start, age=head_age)
            for covered in [*adults[1:], *(child for child, _age in children)]:
                covered[CURRENT_PLAN] = head[CURRENT_PLAN]
                covered[MEMBERSHIP_STATUS] = head[MEMBERSHIP_STATUS]
        else:
            for adult in adults:
                self._membership_history(adult, "gewoon", start, age=head_age)
            for child, child_age in children:
                child_start = max(start, self._days_ago(365 * max(child_age - 4, 1)))
                membership_id = self._membership_history(
                    child, "jeugd", child_start, age=child_age, forced=ACTIVE
                )
                self._youth_payers(membership_id, head[0])
        self._maybe_bank_account(head, pool, start, chance=0.95)
        if len(adults) > 1:
            self._maybe_bank_account(adults[1], pool, start, chance=0.4)

    def _organisation(self) -> None:
        pool = self._pool()
        address = self._address(pool)
        last = self._pick(pool.surnames)[1]
        name = self._pick(ORGANISATION_FORMS[pool.country]).format(n=last, c=address.city)
        start = self._days_ago(int(self.random() * 25 * 365.25))
        kvk = ""
        if pool.country == "NL":
            while not kvk or kvk in self.kvk_numbers:
                kvk = str(self._between(10_000_000, 99_999_999))
            self.kvk_numbers.add(kvk)
        slug = re.sub(r"[^a-z0-9]+", "-", self.norm(last)).strip("-") or "bedrijf"
        row = self._row(
            kind=ORGANISATION,
            member_type="lid",
            first="",
            initials="",
            prefix="",
            last="",
            organisation_name=name,
            kvk=kvk,
            born=None,
            email=self._unique_email(f"info@{slug}.test"),
            phone=self._landline(address),
            address=address,
            joined=start,
        )
        for position in range(self._pick((1, 1, 2, 2, 3))):
            first = self._pick(pool.first_names[self._pick("MF")])
            contact_prefix, contact_last = self._pick(pool.surnames)
            role = self._pick(CONTACT_ROLES[:2]) if position == 0 else self._pick(CONTACT_ROLES[2:])
            email = self._unique_email(f"{self.norm(first).replace(' ', '')}@{slug}.test")
            phone = self._mobile(pool.country) if self.random() < 0.8 else ""
            self.contacts.append(
                (row[0], first, contact_prefix, contact_last, role, email, phone, position == 0)
            )
        self._membership_history(row, "bedrijf", start, age=None)
        self._maybe_bank_account(row, pool, start, chance=0.9, holder=name)

    # -- people and addresses -------------------------------------------------------------

    def _address(self, pool: LocalePool) -> Address:
        random_ = self.random
        place = self._pick(pool.places)
        house_number = self._between(1, 40) if random_() < 0.7 else self._between(41, 320)
        if pool.country == "NL":
            city, low, high, area = place
            letters = NL_POSTCODE_LETTERS[int(random_() * len(NL_POSTCODE_LETTERS))]
            postcode = f"{self._between(low, high)} {letters}"
            addition = self._pick(("A", "B", "1", "2", "bis", "hs", "III")) if random_() < 0.09 else ""
        else:
            city, codes, area = place
            postcode = str(self._pick(codes))
            addition = f"bus {self._between(1, 12)}" if random_() < 0.12 else ""
        return Address(pool.country, self._pick(pool.streets), house_number, addition, postcode, city, area)

    def _person(
        self,
        pool: LocalePool,
        address: Address,
        *,
        age: int,
        member_type: str,
        joined: date,
        surname=None,
        sex=None,
        household=None,
        student_until=None,
        may_be_named=None,
    ) -> list:
        random_ = self.random
        sex = sex or ("M" if random_() < 0.5 else "F")
        born = self._days_ago(age * 365 + int(random_() * 365))
        older = born.year < 1960 and random_() < 0.9 or born.year < 1975 and random_() < 0.5
        first = self._pick((pool.older_first_names if older else pool.first_names)[sex])
        prefix, last = surname or self._pick(pool.surnames)
        extra = random_()
        initials = first[0] + "."
        if extra < 0.55:
            initials += self._pick(INITIAL_LETTERS) + "."
            if extra < 0.15:
                initials += self._pick(INITIAL_LETTERS) + "."
        email = ""
        if age >= 12 and random_() < (0.93 if age < 75 else 0.6):
            email = self._person_email(pool, first, prefix, last, born)
        phone = ""
        if age >= 14 and random_() < 0.85:
            phone = self._mobile(pool.country) if age < 70 or random_() < 0.5 else self._landline(address)
        return self._row(
            kind=PERSON,
            member_type=member_type,
            first=first,
            initials=initials,
            prefix=prefix,
            last=last,
            organisation_name="",
            kvk="",
            born=born,
            email=email,
            phone=phone,
            address=address,
            joined=joined,
            household=household,
            student_until=student_until,
            may_be_named=may_be_named,
        )

    def _row(
        self,
        *,
        kind,
        member_type,
        first,
        initials,
        prefix,
        last,
        organisation_name,
        kvk,
        born,
        email,
        phone,
        address: Address,
        joined: date,
        household=None,
        student_until=None,
        may_be_named=None,
    ) -> list:
        random_ = self.random
        member_id = self.next_member_id
        self.next_member_id += 1
        number = self.member_numbers[self.members_written + len(self.members)]
        self.remaining -= 1
        parts = NameParts(kind, first, initials, prefix, last, organisation_name)
        sort_name, search_name = names.sort_key(parts), names.search_key(parts)
        household_id, role, guardian_id = household or (None, "", None)
        correspondence = "email" if email and random_() < 0.94 else "paper"
        if may_be_named is None:
            may_be_named = random_() < 0.95
        created = self._stamp(min(joined, self.today))
        row = [
            member_id,
            number,
            kind,
            self.types[member_type],
            first,
            initials,
            prefix,
            last,
            born,
            student_until,
            organisation_name,
            kvk,
            sort_name,
            search_name,
            email,
            phone,
            address.street,
            address.house_number,
            address.addition,
            address.postcode,
            address.city,
            names.city_search_key(address.city),
            address.country,
            correspondence,
            household_id,
            role,
            guardian_id,
            None,
            "",
            None,
            may_be_named,
            self._pick(MEMBER_NOTES) if random_() < 0.02 else "",
            created,
            self.now,
        ]
        self.members.append(row)
        if joined >= self.went_live:
            created_fields = (
                ("member_number", "", number),
                ("first_name", "", first),
                ("name_prefix", "", prefix),
                ("last_name", "", last),
                ("organisation_name", "", organisation_name),
                ("email", "", email),
                ("city", "", address.city),
            )
            self.audit.append(
                (
                    "kring.member.created",
                    self.actor_id,
                    self.actor_label,
                    created,
                    "member",
                    str(member_id),
                    member_id,
                    changes_json([change for change in created_fields if change[2]]),
                    "",
                )
            )
        if email and random_() < 0.12:
            old = email.split("@")[0] + "@" + self._pick(("hetnet.test", "wanadoo.test", "chello.test"))
            self.audit.append(
                (
                    "kring.member.changed",
                    self.actor_id,
                    self.actor_label,
                    self._stamp(self._days_ago(self._between(1, 900))),
                    "member",
                    str(member_id),
                    member_id,
                    changes_json([("email", old, email)]),
                    "",
                )
            )
        return row

    def _person_email(self, pool: LocalePool, first: str, prefix: str, last: str, born: date) -> str:
        first_key = self.norm(first).replace(" ", "")
        last_key = self.norm(prefix + last).replace(" ", "")
        style = self.random()
        if style < 0.45:
            local = f"{first_key}.{last_key}"
        elif style < 0.7:
            local = f"{first_key[:1]}.{last_key}"
        elif style < 0.85:
            local = f"{first_key}{last_key}{born.year % 100:02d}"
        else:
            local = f"{first_key}{self._between(1, 999)}"
        return self._unique_email(f"{local}@{self._pick(pool.mail_domains)}")

    def _unique_email(self, email: str) -> str:
        if email in self.emails:
            local, domain = email.split("@")
            counter = 2
            while f"{local}{counter}@{domain}" in self.emails:
                counter += 1
            email = f"{local}{counter}@{domain}"
        self.emails.add(email)
        return email

    def _mobile(self, country: str) -> str:
        if country == "NL":
            return f"+316{self._between(1, 5)}{int(self.random() * 10_000_000):07d}"
        return f"+324{self._between(7, 9)}{int(self.random() * 10_000_000):07d}"

    def _landline(self, address: Address) -> str:
        area = address.area
        if address.country == "NL":
            rest = 8 - len(area)
            return f"+31{area}{self._between(2, 9)}{int(self.random() * 10**rest):0{rest}d}"
        if len(area) == 1:
            second = self._between(2, 3) if area in ("4", "9") else self._between(2, 8)
            return f"+32{area}{second}{int(self.random() * 1_000_000):06d}"
        return f"+32{area}{self._between(2, 8)}{int(self.random() * 100_000):05d}"

    def _maybe_bank_account(
        self, row: list, pool: LocalePool, since: date, *, chance: float = 0.88, holder: str | None = None
    ) -> None:
        if self.random() >= chance:
            return
        member_id = row[0]
        holder = holder or " ".join(p for p in (row[5], row[6], row[7]) if p)
        created = self._stamp(since)
        if self.random() < 0.06:
            _old_id, old = self._bank_row(member_id, pool, holder, created, is_primary=False)
            created = self._stamp(self._days_ago(self._between(10, 1500)))
            new_id, new = self._bank_row(member_id, pool, holder, created, is_primary=True)
            self.audit.append(
                (
                    "kring.bank_account.changed",
                    self.actor_id,
                    self.actor_label,
                    created,
                    "bankaccount",
                    str(new_id),
                    member_id,
                    changes_json([("iban", old, new)]),
                    "",
                )
            )
        else:
            self._bank_row(member_id, pool, holder, created, is_primary=True)

    def _bank_row(
        self, member_id: int, pool: LocalePool, holder: str, created: str, *, is_primary: bool
    ) -> tuple[int, str]:
        account_id = self.next_bank_account_id
        self.next_bank_account_id += 1
        code, bic = self._pick(pool.banks)
        if pool.country == "NL":
            iban = nl_iban(code, random_nl_account(self.rng))
        else:
            iban = be_iban(code, f"{int(self.random() * 10_000_000):07d}")
        masked = mask_iban(iban)
        self.bank_accounts.append(
            (
                account_id,
                member_id,
                crypto.encrypt(iban),
                crypto.fingerprint(iban),
                masked,
                bic,
                holder[:140],
                is_primary,
                created,
            )
        )
        return account_id, masked

    # -- memberships -------------------------------------------------------------------------

    def _term_end_after(self, start: date, day: date) -> date:
        """The end of the yearly term (anniversary minus one day) that runs on `day`."""
        year = max(day.year, start.year + 1)
        while True:
            try:
                anniversary = start.replace(year=year)
            except ValueError:
                anniversary = date(year, 3, 1)
            if anniversary > day:
                return anniversary - timedelta(days=1)
            year += 1

    def _membership_history(
        self, row: list, plan: str, start: date, *, age: int | None, forced: str | None = None
    ) -> int:
        """The member's main membership, with an earlier plan for some and add-ons for others.

        Fills in the member's summary (current plan, status) and 'member since' the way the
        services do; the seeding test checks it against services.refresh_membership_summary.
        """
        random_ = self.random
        today = self.today
        member_id = row[0]
        summary = []
        first_start = start
        if forced is None and plan == "gewoon" and (today - start).days > 3 * 365 and random_() < 0.06:
            # A switch from the old plan: the member keeps 'member since'.
            switch_on = start + timedelta(days=self._between(365, (today - start).days - 1))
            old_id = self._membership(
                member_id,
                "steunlid",
                start,
                ENDED,
                end=switch_on - timedelta(days=1),
                frequency=BillingFrequency.YEARLY.value,
                switched_to=plan,
            )
            summary.append((ENDED, start, old_id, "steunlid"))
            start = switch_on
        frequency = self._frequency(plan)
        status = forced or self._status(plan)
        if status == LAPSED and (today - start).days < 370:
            status = ACTIVE
        end = cancelled_on = None
        if status == PENDING:
            start = today + timedelta(days=self._between(1, 45))
            first_start = min(first_start, start) if summary else start
        elif status == ENDED:
            days = (today - start).days
            if days < 60:
                status = ACTIVE
            else:
                end = start + timedelta(days=self._between(30, days - 1))
                cancelled_on = max(end - timedelta(days=self._between(30, 200)), start)
        elif status == CANCELLED:
            cancelled_on = max(self._days_ago(self._between(1, 60)), start)
            end = self._term_end_after(start, today)
        main_id = self._membership(
            member_id, plan, start, status, end=end, frequency=frequency, cancelled_on=cancelled_on, age=age
        )
        summary.append((status, start, main_id, plan))
        if status in (ACTIVE, CANCELLED) and plan in ADDONS_FOR and random_() < 0.22:
            addon_start = start + timedelta(days=self._between(0, max((today - start).days, 0)))
            self._membership(
                member_id,
                self._pick(ADDONS_FOR[plan]),
                addon_start,
                status,
                end=end,
                frequency=frequency,
                cancelled_on=cancelled_on,
                parent=main_id,
            )
        # The summary, chosen as services.refresh_membership_summary chooses it.
        best = min(summary, key=lambda s: (SUMMARY_RANK[s[0]], -s[1].toordinal(), -s[2]))
        row[CURRENT_PLAN], row[MEMBERSHIP_STATUS], row[MEMBER_SINCE] = (
            self.plans[best[3]],
            best[0],
            first_start,
        )
        return main_id

    def _status(self, plan: str) -> str:
        roll = self.random()
        if plan == "student":
            return ACTIVE if roll < 0.62 else LAPSED if roll < 0.82 else ENDED if roll < 0.95 else CANCELLED
        if roll < 0.80:
            return ACTIVE
        if roll < 0.845:
            return CANCELLED
        if roll < 0.985:
            return ENDED
        return PENDING

    def _frequency(self, plan: str) -> str:
        allowed = self.reference.prices[plan]
        roll = self.random()
        choice = Y if roll < 0.55 else Q if roll < 0.75 else M if roll < 0.95 else H
        return (choice if choice in allowed else allowed[0]).value

    def _membership(
        self,
        member_id: int,
        plan: str,
        start: date,
        status: str,
        *,
        end: date | None,
        frequency: str,
        cancelled_on: date | None = None,
        parent: int | None = None,
        age: int | None = None,
        switched_to: str | None = None,
    ) -> int:
        today = self.today
        membership_id = self.next_membership_id
        self.next_membership_id += 1
        reason = None
        if cancelled_on is not None:
            old_age = age is not None and age > 80
            reason = self.reason_death if old_age and self.random() < 0.4 else self._pick(self.reasons)
        if status == ENDED:
            term_end = end
        elif status == LAPSED:
            term_end = self._term_end_after(start, self._days_ago(self._between(20, 300)))
            term_end = max(min(term_end, self._days_ago(1)), start)
        else:
            term_end = self._term_end_after(start, max(today, start))
        confirmed = None
        if plan == "student" and status == ACTIVE and self.random() < 0.5:
            confirmed = self._term_end_after(term_end + timedelta(days=1), term_end + timedelta(days=1))
        created = self._stamp(min(start, today))
        self.memberships.append(
            (
                membership_id,
                member_id,
                self.plans[plan],
                frequency,
                status,
                start,
                end,
                term_end,
                parent,
                reason,
                cancelled_on,
                confirmed,
                created,
            )
        )
        plan_name = self.plan_names[plan]
        labels, changes = self.labels, self.changes
        # The start is recorded as a membership change; the audit log gets the later changes below.
        changes.append((membership_id, "started", start, "", plan_name, None, "", None, created))
        if switched_to:
            stamp = self._stamp(end)
            changes.append(
                (membership_id, "status", end, labels[ACTIVE], labels[ENDED], None, "", self.actor_id, stamp)
            )
            changes.append(
                (
                    membership_id,
                    "plan_switch",
                    end + timedelta(days=1),
                    plan_name,
                    self.plan_names[switched_to],
                    None,
                    "",
                    self.actor_id,
                    stamp,
                )
            )
        elif cancelled_on is not None:
            stamp = self._stamp(cancelled_on)
            changes.append((membership_id, "cancelled", end, "", "", reason, "", self.actor_id, stamp))
            self.audit.append(
                (
                    "kring.membership.cancelled",
                    self.actor_id,
                    self.actor_label,
                    stamp,
                    "membership",
                    str(membership_id),
                    member_id,
                    changes_json([("status", ACTIVE, CANCELLED), ("end_date", "", end.isoformat())]),
                    "",
                )
            )
            if status == ENDED:
                changes.append(
                    (
                        membership_id,
                        "status",
                        end,
                        labels[CANCELLED],
                        labels[ENDED],
                        None,
                        "",
                        None,
                        self._stamp(end + timedelta(days=1)),
                    )
                )
        elif status == LAPSED:
            lapsed_on = term_end + timedelta(days=1)
            changes.append(
                (
                    membership_id,
                    "status",
                    lapsed_on,
                    labels[ACTIVE],
                    labels[LAPSED],
                    None,
                    "",
                    None,
                    self._stamp(lapsed_on),
                )
            )
        return membership_id

    def _youth_payers(self, membership_id: int, guardian_id: int) -> None:
        if self.random() < 0.2:
            reference = f"JFS-{self.today.year}-{int(self.random() * 10_000):04d}"
            self.payers.append((membership_id, "fund", None, FUND_NAME, "", reference, SHARE_75))
            self.payers.append((membership_id, "guardian", guardian_id, "", "", "", SHARE_25))
        else:
            self.payers.append((membership_id, "guardian", guardian_id, "", "", "", SHARE_100))
