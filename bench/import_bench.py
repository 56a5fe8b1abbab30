"""Benchmark of the member import: a generated Sportlink-style file of N rows, checked (dry run),
imported, imported again unchanged, and imported again with one row in ten changed.

    .venv/bin/python -m bench.import_bench --rows 100000
    DATABASE_URL=postgres://… .venv/bin/python -m bench.import_bench --rows 100000

``run(rows)`` returns the timings in seconds; bench/__main__.py puts them in `make bench`'s table.
Everything runs in one transaction that is rolled back, so the database is left as it was; the
foreign-key checks PostgreSQL would do at the commit are done (and timed) after each step.
"""

import argparse
import io
import random
import resource
import string
import time
from decimal import Decimal

FIRST_NAMES = [
    "Anna",
    "Bram",
    "Cor",
    "Daan",
    "Emma",
    "Fleur",
    "Gijs",
    "Hanna",
    "Isa",
    "Jan",
    "Kees",
    "Lotte",
    "Maarten",
    "Noor",
    "Olivier",
    "Pim",
    "Roos",
    "Sem",
    "Tess",
    "Vera",
    "Wim",
    "Élise",
    "Zoë",
]
PREFIXES = ["", "", "", "van", "de", "van der", "van den", "ter", "'t"]
LAST_NAMES = [
    "Berg",
    "Jansen",
    "Vries",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "Mulder",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "Dekker",
    "Brouwer",
    "Wit",
    "Dijkstra",
    "Hondt",
    "Janssens",
    "Maes",
    "Claes",
]
STREETS = [
    "Dorpsstraat",
    "Kerkstraat",
    "Stationsweg",
    "Molenweg",
    "Schoolstraat",
    "Julianalaan",
    "Beatrixstraat",
]
CITIES = ["Utrecht", "Amersfoort", "Zwolle", "Groningen", "Leiden", "Delft", "Tilburg", "Breda", "Nijmegen"]
BANKS = ["ABNA", "INGB", "RABO", "SNSB", "TRIO"]
FREQUENCIES = ["jaarlijks", "per kwartaal", "maandelijks"]
PLAN_NAME = "Benchmarklid"
HEADER = [
    "Lidnummer",
    "Voornaam",
    "Tussenvoegsel",
    "Achternaam",
    "Geboortedatum",
    "E-mail",
    "Mobiel",
    "Straat",
    "Huisnummer",
    "Toevoeging",
    "Postcode",
    "Woonplaats",
    "Land",
    "IBAN",
    "Lidmaatschap",
    "Betaalfrequentie",
    "Lid sinds",
]


def member_rows(count: int, *, seed: int = 2024) -> list[list[str]]:
    """Rows as a Sportlink export has them; one in ten without a member number (Kring numbers those
    and finds them again by email address)."""
    from schwifty import IBAN

    rng = random.Random(seed)
    letters = [
        a + b
        for a in string.ascii_uppercase
        for b in string.ascii_uppercase
        if a + b not in {"SA", "SD", "SS"}
    ]
    rows = []
    for index in range(count):
        number = index + 1
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        rows.append(
            [
                f"BENCH{number:07d}" if index % 10 else "",
                first,
                rng.choice(PREFIXES),
                last,
                f"{rng.randint(1, 28):02d}-{rng.randint(1, 12):02d}-{rng.randint(1940, 2010)}",
                f"lid{number}@bench.example.nl",
                f"06-{rng.choice('123458')}{rng.randint(0, 9999999):07d}",
                rng.choice(STREETS),
                str(rng.randint(1, 300)),
                rng.choice(["", "", "", "a", "bis", "2"]),
                f"{rng.randint(1000, 9999)} {rng.choice(letters)}",
                rng.choice(CITIES),
                "Nederland",
                str(IBAN.generate("NL", bank_code=rng.choice(BANKS), account_code=f"{number:010d}")),
                PLAN_NAME,
                rng.choice(FREQUENCIES),
                f"{rng.randint(1, 28):02d}-{rng.randint(1, 12):02d}-{rng.randint(1990, 2024)}",
            ]
        )
    return rows


def as_csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    buffer.write(";".join(HEADER) + "\r\n")
    for row in rows:
        buffer.write(";".join(row) + "\r\n")
    return buffer.getvalue().encode("cp1252")


def _ensure_plan():
    from kring.members.models import BillingFrequency, Plan, PlanPrice

    plan, _created = Plan.objects.get_or_create(
        code="benchmarklid", defaults={"name": PLAN_NAME, "yearly_price": Decimal("120.00")}
    )
    for frequency in (BillingFrequency.YEARLY, BillingFrequency.QUARTERLY, BillingFrequency.MONTHLY):
        PlanPrice.objects.get_or_create(
            plan=plan,
            frequency=frequency,
            defaults={
                "instalment_price": plan.yearly_price / BillingFrequency.instalments_per_year(frequency)
            },
        )
    return plan


def _cpu_seconds() -> float:
    """Processor time of this process and its finished children (the row checkers): on a busy
    machine the wall-clock time says more about the neighbours than about the import."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _check_constraints_now() -> None:
    """PostgreSQL checks Django's foreign keys at the commit, which the benchmark never reaches (it
    rolls back): have them checked now, so that the time an import really takes is measured."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


class _Rollback(Exception):
    pass


def run(rows: int = 100_000) -> dict[str, float]:
    """Timings in seconds: generate, check (dry run), import (check + write), re-import unchanged,
    re-import with 10% changed; each also as "<name>_cpu" (processor seconds, database server not
    included). Asserts the outcome so a fast wrong import cannot pass."""
    from django.db import transaction

    from kring.members.importing import run_import

    timings: dict[str, float] = {}
    started = time.perf_counter()
    data = member_rows(rows)
    first = as_csv(data)
    changed = [list(row) for row in data]
    for row in changed[::10]:
        row[11] = "Amsterdam"
    second = as_csv(changed)
    timings["generate"] = time.perf_counter() - started
    try:
        with transaction.atomic():
            _ensure_plan()
            steps = [
                ("check", first, False, {"new": rows}),
                ("import", first, True, {"new": rows}),
                ("reimport_unchanged", first, True, {"unchanged": rows}),
                ("reimport_10pct_changed", second, True, {"updated": len(changed[::10])}),
            ]
            for name, payload, apply, expected in steps:
                started, cpu = time.perf_counter(), _cpu_seconds()
                report = run_import(payload, "bench.csv", apply=apply)
                _check_constraints_now()
                timings[name] = time.perf_counter() - started
                timings[f"{name}_cpu"] = _cpu_seconds() - cpu
                counts = report.counts()
                for key, value in expected.items():
                    if counts[key] != value:
                        raise AssertionError(f"{name}: expected {value} {key}, got {counts}")
            raise _Rollback
    except _Rollback:
        pass
    return timings


def main() -> None:
    import os

    import django

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kring.settings")
    django.setup()
    from django.db import connection

    timings = run(args.rows)
    print(f"member import, {args.rows:,} rows, {connection.vendor}")
    print(f"  {'step':<24} {'seconds':>8} {'cpu':>8}")
    for name, seconds in timings.items():
        if not name.endswith("_cpu"):
            cpu = timings.get(f"{name}_cpu")
            print(
                f"  {name:<24} {seconds:8.2f} {cpu:8.2f}"
                if cpu is not None
                else f"  {name:<24} {seconds:8.2f}"
            )


if __name__ == "__main__":
    main()
