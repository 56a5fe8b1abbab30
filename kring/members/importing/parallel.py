"""Checking the rows of a large file with the help of more processor cores.

Checking a row (phone number, IBAN, email, postcode, names, …) is pure computation on data
already in memory, and it is most of an import's time. With three or more processor cores the rows
are split over worker processes started with fork, so they share the rows, the loaded plans and
the matched members without copying them; each sends back only what it found, and this process
checks chunks too. With two cores that costs more than it saves, and a second process only seals
the IBANs (fingerprint and encryption, a third of the work of a row), which needs nothing but
their text. The workers never touch the database (they inherit its connection but do not use it),
so the import's transaction stays with this process.
"""

import gc
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from django.core.exceptions import ValidationError

from kring.core import crypto
from kring.members import validation
from kring.members.importing.rows import ImportRow, RowError, check_row, seal_bank
from kring.members.importing.vocabulary import Lookups

logger = logging.getLogger(__name__)

# Below this many rows, starting processes costs more than it saves.
PARALLEL_FROM_ROWS = 20000
CHUNK_ROWS = 2500
# Processes that check rows, this one included.
MAX_WORKERS = 4
# Spreading the rows over processes pays from this many processors on. With two, handing the rows
# to the second process and its findings back (and the copies the operating system makes of the
# memory both touch) costs about as much processor time as the checking itself (measured: 100,000
# rows took as long, with half again as much processor time); there the second process only seals
# the IBANs, which needs their text and nothing else.
SPREAD_FROM_CPUS = 3

# Set in the parent just before the fork; the workers read it.
_shared: dict = {}


def check_rows(
    rows: list[ImportRow], lookups: Lookups, street_holds_number: bool, progress, *, encrypt: bool = False
) -> None:
    """check_row (and seal_bank) for every row: spread over the processor cores when there are
    three or more; with two, the IBANs are sealed (fingerprint, encryption) by a second process
    while this one checks the rows."""
    if _can_fork(len(rows)):
        try:
            if _processors() >= SPREAD_FROM_CPUS:
                _check_spread(rows, lookups, street_holds_number, progress, encrypt)
                return
            if encrypt:
                _check_sealing_aside(rows, lookups, street_holds_number, progress)
                return
        except (OSError, BrokenProcessPool):  # no worker processes to be had (memory, limits): do it here
            logger.warning(
                "checking %s rows in one process: the worker processes failed", len(rows), exc_info=True
            )
    _check_here(rows, lookups, street_holds_number, progress, encrypt)


def _can_fork(count: int) -> bool:
    return (
        count >= PARALLEL_FROM_ROWS
        and _processors() > 1
        and "fork" in multiprocessing.get_all_start_methods()
        # A daemonic process (e.g. a multiprocessing worker running this job) may not start processes.
        and not multiprocessing.current_process().daemon
    )


def _processors() -> int:
    return min(MAX_WORKERS, os.cpu_count() or 1)


def _check_here(
    rows: list[ImportRow], lookups: Lookups, street_holds_number: bool, progress, encrypt: bool
) -> None:
    for position, row in enumerate(rows, start=1):
        check_row(row, lookups, street_holds_number)
        seal_bank(row, encrypt)
        if position % CHUNK_ROWS == 0:
            progress(position)


def _check_sealing_aside(
    rows: list[ImportRow], lookups: Lookups, street_holds_number: bool, progress
) -> None:
    """check_row here while a second process works out the fingerprint and the ciphertext of each
    IBAN (about a third of the work of a row), from the last rows back. When the checking is done,
    the IBANs are sealed from the first rows on, taking what the second process has done and doing
    the rest here; a failing second process only means more is done here."""
    items = [_seal_item(row) for row in rows]
    ranges = [(start, min(start + CHUNK_ROWS, len(rows))) for start in range(0, len(rows), CHUNK_ROWS)]
    executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
    try:
        gc.freeze()  # the second process starts with the first submit
        try:
            futures = {
                start: executor.submit(_seal_chunk, items[start:end]) for start, end in reversed(ranges)
            }
        finally:
            gc.unfreeze()
        for position, row in enumerate(rows, start=1):
            check_row(row, lookups, street_holds_number)
            if position % CHUNK_ROWS == 0:
                progress(position)
        for start, end in ranges:
            sealed = _sealed(futures[start])
            for offset, row in enumerate(rows[start:end]):
                bank = row.bank
                found = sealed[offset] if sealed is not None else None
                if found is not None and bank and bank.get("iban") == found[0] and not row.errors:
                    bank["fingerprint"] = found[1]
                    if found[2] is not None:
                        bank["encrypted"] = found[2]
                else:
                    seal_bank(row, True)
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


def _seal_item(row: ImportRow) -> tuple | None:
    """What seal_bank needs of a row, as check_row reads it: the IBAN and BIC as typed, and the
    fingerprint of the member's current account."""
    if "iban" not in row.raw:
        return None
    current = row.existing.bank if row.existing is not None else None
    bic = row.text("bic") if "bic" in row.raw else ""
    return row.text("iban"), bic, current.fingerprint if current is not None else None


def _seal_chunk(items: list) -> list:
    """In the second process: (IBAN as stored, fingerprint, ciphertext or None) per item, as
    check_row and seal_bank work them out; None where the IBAN is not valid."""
    found = []
    for item in items:
        if item is None:
            found.append(None)
            continue
        iban, bic, current = item
        try:
            compact = validation.check_iban(iban, bic).iban
        except ValidationError:
            found.append(None)
            continue
        fingerprint = crypto.fingerprint(compact)
        found.append((compact, fingerprint, crypto.encrypt(compact) if fingerprint != current else None))
    return found


def _sealed(future) -> list | None:
    """The second process's work on a chunk, if it is done; otherwise it is not waited for."""
    if not future.done():
        future.cancel()
        return None
    if future.cancelled() or future.exception() is not None:
        return None
    return future.result()


def _check_spread(
    rows: list[ImportRow], lookups: Lookups, street_holds_number: bool, progress, encrypt: bool
) -> None:
    """The rows in chunks, taken in turn by the worker processes and by this process itself (which
    would otherwise only wait): a busy processor simply takes fewer chunks."""
    context = multiprocessing.get_context("fork")
    ranges = [(start, min(start + CHUNK_ROWS, len(rows))) for start in range(0, len(rows), CHUNK_ROWS)]
    workers = _processors() - 1
    # The next chunk to take; the first one of each worker is its own, so that every worker has work.
    counter = context.Value("i", workers)
    _shared.update(
        rows=rows,
        lookups=lookups,
        street_holds_number=street_holds_number,
        encrypt=encrypt,
        ranges=ranges,
        counter=counter,
    )
    # Without this the workers' garbage collector would walk (and so copy) every object of the parent.
    gc.freeze()
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as executor:
            futures = [executor.submit(_check_chunks, first) for first in range(workers)]
            found = []
            while (index := _next_chunk()) is not None:
                start, end = ranges[index]
                found.append((start, [_check_copy(row) for row in rows[start:end]]))
                progress(min(counter.value * CHUNK_ROWS, len(rows)))
            for future in futures:
                found += future.result()
    finally:
        gc.unfreeze()
        _shared.clear()
    # Only now, with every chunk back, are the rows changed: a failed worker leaves them as they were.
    for start, results in found:
        for row, result in zip(rows[start : start + len(results)], results, strict=True):
            _restore(row, result, lookups)


def _next_chunk() -> int | None:
    counter = _shared["counter"]
    with counter.get_lock():
        index = counter.value
        if index >= len(_shared["ranges"]):
            return None
        counter.value = index + 1
    return index


def _check_chunks(first: int) -> list[tuple[int, list[tuple]]]:
    """In a worker process: its first chunk, then whichever chunk is next."""
    rows, ranges = _shared["rows"], _shared["ranges"]
    street_holds_number, encrypt, lookups = (
        _shared["street_holds_number"],
        _shared["encrypt"],
        _shared["lookups"],
    )
    found = []
    index = first if first < len(ranges) else None
    while index is not None:
        start, end = ranges[index]
        results = []
        for row in rows[start:end]:
            check_row(row, lookups, street_holds_number)
            seal_bank(row, encrypt)
            results.append(_result(row))
        found.append((start, results))
        index = _next_chunk()
    return found


def _check_copy(row: ImportRow) -> tuple:
    """check_row in this process, on a copy of the row, so that the rows stay as they were until
    all chunks are back (as with the workers)."""
    copy = ImportRow(row.number, row.raw, row.mapping)
    copy.member_number, copy.email, copy.existing = row.member_number, row.email, row.existing
    copy.errors = list(row.errors)  # those of check_keys
    check_row(copy, _shared["lookups"], _shared["street_holds_number"])
    seal_bank(copy, _shared["encrypt"])
    return _result(copy)


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
