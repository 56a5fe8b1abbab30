"""The member search benchmark: a fixed set of back-office searches, each as the member list runs
it (kring.members.queries.search_member_page: the matches counted up to 1,001 and the first page of
25 with their plan) and as hand-written SQL of the same shape (the floor). Both must find the same
members, so a fast wrong query cannot pass.
"""

import statistics
import time
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count

from kring.members.models import Member, Plan
from kring.members.names import normalise
from kring.members.queries import NAME_PARTICLES, MemberFilters, search_member_page

PER_PAGE = 25
COUNT_LIMIT = 1000
COLUMNS = "m.*, p.*"


@dataclass
class Case:
    label: str
    filters: MemberFilters
    where: str
    params: tuple
    # Name text: the floor collects the matches first (WITH ... AS MATERIALIZED), as Kring does.
    collect: bool = False


def _name(text: str) -> tuple[str, tuple]:
    """A town: the name or the town, walked along the sort order."""
    key = normalise(text)
    return "(m.search_name LIKE %s OR m.city_search = %s)", (f"%{key}%", key)


def _collected_name(text: str) -> tuple[str, tuple]:
    """A name that is not a town: the member number, or the telling words through the trigram index
    and the whole text checked on each row found (see kring.members.queries)."""
    key = normalise(text)
    numbers = "m.member_number = %s OR m.member_number = %s"
    if " " in key:
        words = [w for w in key.split() if len(w) >= 3 and w not in NAME_PARTICLES]
        like = " AND ".join("m.search_name LIKE %s" for _w in words)
        return (
            f"({numbers} OR ({like} AND strpos(m.search_name, %s) > 0))",
            (text, text.upper(), *(f"%{w}%" for w in words), key),
        )
    return f"({numbers} OR m.search_name LIKE %s)", (text, text.upper(), f"%{key}%")


def _and(*parts: tuple[str, tuple]) -> tuple[str, tuple]:
    return " AND ".join(p[0] for p in parts), tuple(v for p in parts for v in p[1])


def build_cases() -> list[Case]:
    """The searches, with values taken from the data (a member in the middle of the table)."""
    total = Member.objects.count()
    sample = (
        Member.objects.filter(kind=Member.Kind.PERSON, country="NL")
        .exclude(email="")
        .order_by("id")[total // 2]
    )
    rare = (  # the least common last name
        Member.objects.filter(kind=Member.Kind.PERSON)
        .values("last_name")
        .annotate(n=Count("id"))
        .order_by("n", "last_name")
        .first()
    )
    plans = {p.code: p.pk for p in Plan.objects.all()}
    gewoon, senior = plans.get("gewoon"), plans.get("senior")
    cases = []

    def add(label, filters, where, params=(), collect=False):
        cases.append(Case(label, filters, where, params, collect))

    def name(label, filters, *others):
        add(label, filters, *_and(*others, _collected_name(filters.query)), collect=True)

    name("last name 'Jansen'", MemberFilters(query="Jansen"))
    name("with tussenvoegsel 'van den Berg'", MemberFilters(query="van den Berg"))
    name("without tussenvoegsel 'Berg'", MemberFilters(query="Berg"))
    name("'de Vries'", MemberFilters(query="de Vries"))
    name("first and last name 'Maria Jansen'", MemberFilters(query="Maria Jansen"))
    name("part of a name 'dijkst'", MemberFilters(query="dijkst"))
    name(f"rare last name '{rare['last_name']}'", MemberFilters(query=rare["last_name"]))
    name("no match 'Xyzzyq'", MemberFilters(query="Xyzzyq"))
    add(
        "member number",
        MemberFilters(query=sample.member_number),
        "m.member_number = %s",
        (sample.member_number,),
    )
    add("email address", MemberFilters(query=sample.email), "m.email = %s", (sample.email,))
    compact = sample.postcode.replace(" ", "").lower()
    add(f"NL postcode '{compact}'", MemberFilters(query=compact), "m.postcode = %s", (sample.postcode,))
    add(
        "BE postcode '9000'",
        MemberFilters(query="9000"),
        "(m.postcode = %s OR m.member_number = %s)",
        ("9000", "9000"),
    )
    add("city 'Utrecht'", MemberFilters(query="Utrecht"), *_name("Utrecht"))
    add("city 'Gent'", MemberFilters(query="Gent"), *_name("Gent"))
    add("plan 'Gewoon lid'", MemberFilters(plan_id=gewoon), "m.current_plan_id = %s", (gewoon,))
    add("status lapsed", MemberFilters(status="lapsed"), "m.membership_status = %s", ("lapsed",))
    add("status cancelled", MemberFilters(status="cancelled"), "m.membership_status = %s", ("cancelled",))
    add("country BE", MemberFilters(country="BE"), "m.country = %s", ("BE",))
    add("everyone (no filter)", MemberFilters(), "TRUE")
    name(
        "plan + status + country + 'de Vries'",
        MemberFilters(query="de Vries", plan_id=gewoon, status="active", country="NL"),
        (
            "m.current_plan_id = %s AND m.membership_status = %s AND m.country = %s",
            (gewoon, "active", "NL"),
        ),
    )
    name(
        "senior plan + active + 'Jansen'",
        MemberFilters(query="Jansen", plan_id=senior, status="active"),
        ("m.current_plan_id = %s AND m.membership_status = %s", (senior, "active")),
    )
    name(
        "country BE + ended + 'Peeters'",
        MemberFilters(query="Peeters", status="ended", country="BE"),
        ("m.membership_status = %s AND m.country = %s", ("ended", "BE")),
    )
    return cases


def run_kring(case: Case) -> tuple[int, list[int]]:
    """What the back-office member list runs for its first page."""
    page = search_member_page(case.filters, number=1, per_page=PER_PAGE, count_limit=COUNT_LIMIT)
    return page.counted, [m.pk for m in page.members]


def run_sql(case: Case) -> tuple[int, list[int]]:
    """The floor: the same two steps written by hand (for name text the matches collected first)."""
    page_columns = (
        f"SELECT {COLUMNS} FROM members_member m LEFT JOIN members_plan p ON p.id = m.current_plan_id"
    )
    with connection.cursor() as cursor:
        if case.collect:
            cursor.execute(
                f"WITH hits AS MATERIALIZED (SELECT m.id, m.sort_name FROM members_member m WHERE {case.where}) "
                "SELECT (SELECT count(*) FROM hits), "
                f"array(SELECT id FROM hits ORDER BY sort_name, id LIMIT {PER_PAGE + 1})",
                case.params,
            )
            counted, ids = cursor.fetchone()
            counted = min(counted, COUNT_LIMIT + 1)
            cursor.execute(f"{page_columns} WHERE m.id = ANY(%s) ORDER BY m.sort_name, m.id", (ids,))
        else:
            cursor.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM members_member m WHERE {case.where} "
                f"LIMIT {COUNT_LIMIT + 1}) t",
                case.params,
            )
            counted = cursor.fetchone()[0]
            cursor.execute(
                f"{page_columns} WHERE {case.where} ORDER BY m.sort_name, m.id LIMIT {PER_PAGE + 1}",
                case.params,
            )
        ids = [row[0] for row in cursor.fetchall()]
    return counted, ids[:PER_PAGE]


def _timed(function, case) -> float:
    started = time.perf_counter()
    function(case)
    return (time.perf_counter() - started) * 1000


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def run(rounds: int = 10) -> dict:
    """Times each search `rounds` times (after one warm-up round) as Kring runs it and as plain SQL."""
    cases = build_cases()
    for case in cases:
        kring, sql = run_kring(case), run_sql(case)
        if kring != sql:
            raise AssertionError(f"{case.label}: the searches disagree: {kring} / {sql}")
    kring_times = {case.label: [] for case in cases}
    sql_times = {case.label: [] for case in cases}
    for round_number in range(rounds):
        for case in cases:
            # Whichever runs second finds the first one's table pages in PostgreSQL's buffer cache:
            # take turns.
            if round_number % 2:
                sql_times[case.label].append(_timed(run_sql, case))
                kring_times[case.label].append(_timed(run_kring, case))
            else:
                kring_times[case.label].append(_timed(run_kring, case))
                sql_times[case.label].append(_timed(run_sql, case))
    every_kring = [t for times in kring_times.values() for t in times]
    every_sql = [t for times in sql_times.values() for t in times]
    return {
        "members": Member.objects.count(),
        "queries": len(cases),
        "rounds": rounds,
        "median_ms": statistics.median(every_kring),
        "p99_ms": percentile(every_kring, 0.99),
        "floor_median_ms": statistics.median(every_sql),
        "floor_p99_ms": percentile(every_sql, 0.99),
        "per_query": [
            {
                "label": case.label,
                "count": run_kring(case)[0],
                "median_ms": statistics.median(kring_times[case.label]),
                "max_ms": max(kring_times[case.label]),
                "floor_median_ms": statistics.median(sql_times[case.label]),
                "floor_max_ms": max(sql_times[case.label]),
            }
            for case in cases
        ],
    }
