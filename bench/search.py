"""The member search benchmark: a fixed set of back-office searches, each as the member list runs
it (kring.members.queries.search_members, a capped count and the first page) and as hand-written
SQL (the floor). Both must find the same members, so a fast wrong query cannot pass.
"""

import statistics
import time
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count

from kring.members.models import Member, Plan
from kring.members.names import normalise
from kring.members.queries import MemberFilters, search_members

PER_PAGE = 25
COUNT_LIMIT = 1000
COLUMNS = "m.*, p.*"


@dataclass
class Case:
    label: str
    filters: MemberFilters
    where: str
    params: tuple


def _name(text: str) -> tuple[str, tuple]:
    key = normalise(text)
    return "(m.search_name LIKE %s OR m.city_search = %s)", (f"%{key}%", key)


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

    def add(label, filters, where, params=()):
        cases.append(Case(label, filters, where, params))

    add("last name 'Jansen'", MemberFilters(query="Jansen"), *_name("Jansen"))
    add("with tussenvoegsel 'van den Berg'", MemberFilters(query="van den Berg"), *_name("van den Berg"))
    add("without tussenvoegsel 'Berg'", MemberFilters(query="Berg"), *_name("Berg"))
    add("'de Vries'", MemberFilters(query="de Vries"), *_name("de Vries"))
    add("first and last name 'Maria Jansen'", MemberFilters(query="Maria Jansen"), *_name("Maria Jansen"))
    add("part of a name 'dijkst'", MemberFilters(query="dijkst"), *_name("dijkst"))
    add(
        f"rare last name '{rare['last_name']}'",
        MemberFilters(query=rare["last_name"]),
        *_name(rare["last_name"]),
    )
    add("no match 'Xyzzyq'", MemberFilters(query="Xyzzyq"), *_name("Xyzzyq"))
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
    add(
        "plan + status + country + 'de Vries'",
        MemberFilters(query="de Vries", plan_id=gewoon, status="active", country="NL"),
        *_and(
            (
                "m.current_plan_id = %s AND m.membership_status = %s AND m.country = %s",
                (gewoon, "active", "NL"),
            ),
            _name("de Vries"),
        ),
    )
    add(
        "senior plan + active + 'Jansen'",
        MemberFilters(query="Jansen", plan_id=senior, status="active"),
        *_and(("m.current_plan_id = %s AND m.membership_status = %s", (senior, "active")), _name("Jansen")),
    )
    add(
        "country BE + ended + 'Peeters'",
        MemberFilters(query="Peeters", status="ended", country="BE"),
        *_and(("m.membership_status = %s AND m.country = %s", ("ended", "BE")), _name("Peeters")),
    )
    return cases


def run_orm(case: Case) -> tuple[int, list[int]]:
    """What the back-office member list does: a count that stops after 1,000, then the first page."""
    members = search_members(case.filters)
    counted = members.order_by()[: COUNT_LIMIT + 1].count()
    rows = list(members.select_related("current_plan")[: PER_PAGE + 1])
    return counted, [m.pk for m in rows[:PER_PAGE]]


def run_proposed(case: Case) -> tuple[int, list[int]]:
    """A PROPOSAL for the member list, not Kring's code (see the benchmark report).

    With ORDER BY sort_name LIMIT 26, PostgreSQL's planner assumes that name matches are spread
    evenly over the alphabet, so it walks member_sort_idx and filters row by row. A last name's
    matches all sit under one letter: for 'Peeters' it reads 700,000 rows first. Proposal: for name
    text of four or more characters that is not a city, take the matches from the trigram index once,
    keep only (id, sort_name), count and sort those, and load the page's 25 members by id. Short
    fragments and cities match members all over the alphabet; there the index walk stays the best plan.
    """
    members = search_members(case.filters)
    key = normalise(case.filters.query)
    if len(key) < 4 or "@" in key or Member.objects.filter(city_search=key).exists():
        return run_orm(case)
    sql, params = members.order_by().values_list("id", "sort_name").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH hits AS MATERIALIZED ({sql}) SELECT (SELECT count(*) FROM hits), "
            f"array(SELECT id FROM hits ORDER BY sort_name, id LIMIT {PER_PAGE + 1})",
            params,
        )
        total, ids = cursor.fetchone()
    rows = list(Member.objects.select_related("current_plan").filter(pk__in=ids).order_by("sort_name", "id"))
    return min(total, COUNT_LIMIT + 1), [m.pk for m in rows[:PER_PAGE]]


def run_sql(case: Case) -> tuple[int, list[int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM members_member m WHERE {case.where} LIMIT {COUNT_LIMIT + 1}) t",
            case.params,
        )
        counted = cursor.fetchone()[0]
        cursor.execute(
            f"SELECT {COLUMNS} FROM members_member m LEFT JOIN members_plan p ON p.id = m.current_plan_id "
            f"WHERE {case.where} ORDER BY m.sort_name, m.id LIMIT {PER_PAGE + 1}",
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
    """Times each search `rounds` times (after one warm-up round) through the ORM and as plain SQL."""
    cases = build_cases()
    for case in cases:
        orm, sql, proposed = run_orm(case), run_sql(case), run_proposed(case)
        if not orm == sql == proposed:
            raise AssertionError(f"{case.label}: the searches disagree: {orm} / {sql} / {proposed}")
    orm_times = {case.label: [] for case in cases}
    sql_times = {case.label: [] for case in cases}
    proposed_times = {case.label: [] for case in cases}
    for _round in range(rounds):
        for case in cases:
            orm_times[case.label].append(_timed(run_orm, case))
            sql_times[case.label].append(_timed(run_sql, case))
            proposed_times[case.label].append(_timed(run_proposed, case))
    every_orm = [t for times in orm_times.values() for t in times]
    every_sql = [t for times in sql_times.values() for t in times]
    every_proposed = [t for times in proposed_times.values() for t in times]
    return {
        "members": Member.objects.count(),
        "queries": len(cases),
        "rounds": rounds,
        "median_ms": statistics.median(every_orm),
        "p99_ms": percentile(every_orm, 0.99),
        "floor_median_ms": statistics.median(every_sql),
        "floor_p99_ms": percentile(every_sql, 0.99),
        "proposed_median_ms": statistics.median(every_proposed),
        "proposed_p99_ms": percentile(every_proposed, 0.99),
        "per_query": [
            {
                "label": case.label,
                "count": run_orm(case)[0],
                "median_ms": statistics.median(orm_times[case.label]),
                "max_ms": max(orm_times[case.label]),
                "floor_median_ms": statistics.median(sql_times[case.label]),
                "floor_max_ms": max(sql_times[case.label]),
                "proposed_median_ms": statistics.median(proposed_times[case.label]),
                "proposed_max_ms": max(proposed_times[case.label]),
            }
            for case in cases
        ],
    }
