"""Benchmark of the dues invoice run (kring.billing.invoicing) beside its floor.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kring_bench_run .venv/bin/python -m bench.billing_run --seed 1000000
    DATABASE_URL=sqlite:////tmp/run.sqlite3 .venv/bin/python -m bench.billing_run --seed 100000

On a database seeded with the demo association (``--seed N`` seeds it first when it is empty), it
times the preview, the run (every invoice of the period), a second run of the same period (which
finds nothing to do) and the floor: the same invoice and line rows written by one bare
``INSERT … SELECT`` into the same, emptied, tables (same indexes, constraints and foreign-key
checks, one transaction, committed). The run's rows are put back afterwards, so the database ends
as the run left it. ``run()`` returns the figures; bench/__main__.py puts them in `make bench`'s table.
"""

import argparse
import json
import os
import time
from datetime import date


def run(period: str | None = None, invoice_date: date | None = None) -> dict:
    """Figures for `period` (default: the quarter after today, as the back office proposes),
    invoice date `invoice_date` (default: the first day of the period)."""
    from django.db import connection
    from django.utils import timezone

    from kring.billing import invoicing
    from kring.billing.models import Invoice, InvoiceLine

    period = period or invoicing.next_quarter(timezone.localdate())
    invoice_date = invoice_date or invoicing.parse_period(period).start

    if Invoice.objects.exists():
        raise RuntimeError("bench.billing_run needs a database without invoices")
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if postgres else "ANALYZE")
        cursor.execute("SELECT COUNT(*) FROM members_membership")
        memberships = cursor.fetchone()[0]

    started = time.perf_counter()
    preview = invoicing.preview_invoice_run(period, invoice_date)
    preview_seconds = time.perf_counter() - started

    started = time.perf_counter()
    result = invoicing.run_invoices(period, invoice_date=invoice_date, actor=None)
    run_seconds = time.perf_counter() - started

    started = time.perf_counter()
    again = invoicing.run_invoices(period, invoice_date=invoice_date, actor=None)
    rerun_seconds = time.perf_counter() - started

    invoices = Invoice.objects.count()
    lines = InvoiceLine.objects.count()
    assert invoices == result.invoice_count == preview.invoice_count, (invoices, result.invoice_count)
    assert again.invoice_count == 0
    assert result.total == preview.total
    floor_seconds = floor(postgres)
    assert Invoice.objects.count() == invoices and InvoiceLine.objects.count() == lines
    per_frequency: dict[str, int] = {}
    for row in preview.rows:
        per_frequency[row.frequency] = per_frequency.get(row.frequency, 0) + row.invoice_count
    return {
        "vendor": connection.vendor,
        "period": period,
        "memberships": memberships,
        "invoiced_memberships": preview.membership_count,
        "invoices": invoices,
        "lines": lines,
        "total": str(result.total),
        "per_frequency": per_frequency,
        "preview_seconds": preview_seconds,
        "run_seconds": run_seconds,
        "rerun_seconds": rerun_seconds,
        "floor_seconds": floor_seconds,
    }


def floor(postgres: bool) -> float:
    """Seconds for one bare INSERT … SELECT of the run's invoice and line rows into the emptied tables."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        for table in ("bench_hold_invoice", "bench_hold_line"):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute("CREATE TABLE bench_hold_invoice AS SELECT * FROM billing_invoice")
        cursor.execute("CREATE TABLE bench_hold_line AS SELECT * FROM billing_invoiceline")
        if postgres:
            # Nothing else refers to the invoices in the benchmark database (no payments, reminders).
            cursor.execute("TRUNCATE billing_invoiceline, billing_invoice CASCADE")
            cursor.execute("VACUUM ANALYZE billing_invoice")
            cursor.execute("VACUUM ANALYZE billing_invoiceline")
        else:
            cursor.execute("DELETE FROM billing_invoiceline")
            cursor.execute("DELETE FROM billing_invoice")
        started = time.perf_counter()
        with transaction.atomic():
            cursor.execute("INSERT INTO billing_invoice SELECT * FROM bench_hold_invoice")
            cursor.execute("INSERT INTO billing_invoiceline SELECT * FROM bench_hold_line")
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_hold_invoice")
        cursor.execute("DROP TABLE bench_hold_line")
    return seconds


def reset() -> None:
    """Remove every invoice, line and run, and restart the invoice numbers (benchmark databases only)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Nothing else refers to the invoices in a benchmark database (no payments, reminders).
            cursor.execute("TRUNCATE billing_invoiceline, billing_invoice, billing_invoicerun CASCADE")
        else:
            cursor.execute("DELETE FROM billing_invoiceline")
            cursor.execute("DELETE FROM billing_invoice")
            cursor.execute("DELETE FROM billing_invoicerun")
        cursor.execute("DELETE FROM core_numbersequence WHERE name LIKE %s", ["invoice-%"])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.billing_run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seed", type=int, default=0, help="seed this many demo members first (empty database)"
    )
    parser.add_argument("--reset", action="store_true", help="delete all invoices and invoice runs first")
    parser.add_argument("--period", help="default: the quarter after today")
    parser.add_argument("--date", help="the invoice date (default: the first day of the period)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kring.settings")
    import django

    django.setup()
    if args.seed:
        from django.core.management import call_command

        from kring.members import demo

        call_command("migrate", verbosity=0)
        if not demo.is_loaded():
            started = time.perf_counter()
            demo.seed_demo(args.seed, demo.DEFAULT_SEED)
            print(f"seeded {args.seed:,} members in {time.perf_counter() - started:.1f} s", flush=True)
    if args.reset:
        reset()
    print(json.dumps(run(args.period, date.fromisoformat(args.date) if args.date else None), indent=2))


if __name__ == "__main__":
    main()
