"""Checking the rows of a large file on every processor core.

Checking a row (phone number, IBAN, email, postcode, names, …) is pure computation on data
already in memory, and it is most of an import's time. For large files the rows are split over
worker processes started with fork, so they share the rows, the loaded plans and the matched
members without copying them; each sends back only what it found. The workers never touch the
database (they inherit its connection but do not use it), so the import's transaction stays
with the parent.
"""

import gc
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from kring.members.importing.rows import ImportRow, RowError, check_row
from kring.members.importing.vocabulary import Lookups

logger = logging.getLogger(__name__)

# Below this many rows, starting processes costs more than it saves.
PARALLEL_FROM_ROWS = 20000
CHUNK_ROWS = 2500
MAX_WORKERS = 4

# Set in the parent just before the fork; the workers read it.
_shared: dict = {}


def check_rows(rows: list[ImportRow], lookups: Lookups, street_holds_number: bool, progress) -> None:
    """check_row for every row, in this process or spread over the processor cores."""
    if _can_spread(len(rows)):
        try:
            _check_spread(rows, lookups, street_holds_number, progress)
            return
        except (OSError, BrokenProcessPool):  # no worker processes to be had (memory, limits): do it here
            logger.warning(
                "checking %s rows in one process: the worker processes failed", len(rows), exc_info=True
            )
    _check_here(rows, lookups, street_holds_number, progress)


def _can_spread(count: int) -> bool:
    return (
        count >= PARALLEL_FROM_ROWS
        and _workers() > 1
        and "fork" in multiprocessing.get_all_start_methods()
        # A daemonic process (e.g. a multiprocessing worker running this job) may not start processes.
        and not multiprocessing.current_process().daemon
    )


def _workers() -> int:
    return min(MAX_WORKERS, os.cpu_count() or 1)


def _check_here(rows: list[ImportRow], lookups: Lookups, street_holds_number: bool, progress) -> None:
    for position, row in enumerate(rows, start=1):
        check_row(row, lookups, street_holds_number)
        if position % CHUNK_ROWS == 0:
            progress(position)


def _check_spread(rows: list[ImportRow], lookups: Lookups, street_holds_number: bool, progress) -> None:
    _shared.update(rows=rows, lookups=lookups, street_holds_number=street_holds_number)
    # Without this the workers' garbage collector would walk (and so copy) every object of the parent.
    gc.freeze()
    try:
        ranges = [(start, min(start + CHUNK_ROWS, len(rows))) for start in range(0, len(rows), CHUNK_ROWS)]
        found: list[tuple[int, list[tuple]]] = []
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=_workers(), mp_context=context) as executor:
            for start, results in executor.map(_check_range, ranges):
                found.append((start, results))
                progress(start + len(results))
    finally:
        gc.unfreeze()
        _shared.clear()
    # Only now, with every chunk back, are the rows changed: a failed worker leaves them as they were.
    for start, results in found:
        for row, result in zip(rows[start : start + len(results)], results, strict=True):
            _restore(row, result, lookups)


def _check_range(bounds: tuple[int, int]) -> tuple[int, list[tuple]]:
    start, end = bounds
    rows, lookups = _shared["rows"], _shared["lookups"]
    results = []
    for row in rows[start:end]:
        check_row(row, lookups, _shared["street_holds_number"])
        results.append(_result(row))
    return start, results


def _result(row: ImportRow) -> tuple:
    """What check_row found, as plain values (models and plans by their id)."""
    values = dict(row.values)
    if "member_type" in values:
        values["member_type"] = values["member_type"].pk
    return (
        values,
        [(e.column, e.value, e.reason) for e in row.errors],
        row.kind,
        row.contact,
        row.bank,
        row.plan.pk if row.plan is not None else None,
        row.frequency,
        row.start_date,
        row.household_key,
        row.household_label,
        row.household_role,
        row.member_type.pk if row.member_type is not None else None,
        row.label,
        row.derived,
    )


def _restore(row: ImportRow, result: tuple, lookups: Lookups) -> None:
    (
        values,
        errors,
        row.kind,
        row.contact,
        row.bank,
        plan_pk,
        row.frequency,
        row.start_date,
        row.household_key,
        row.household_label,
        row.household_role,
        member_type_pk,
        row.label,
        row.derived,
    ) = result
    if "member_type" in values:
        values["member_type"] = lookups.member_types_by_pk[values["member_type"]]
    row.values = values
    row.errors = [RowError(row.number, column, value, reason) for column, value, reason in errors]
    row.plan = lookups.plans_by_pk[plan_pk] if plan_pk is not None else None
    row.member_type = lookups.member_types_by_pk[member_type_pk] if member_type_pk is not None else None
