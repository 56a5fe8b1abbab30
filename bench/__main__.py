"""``make bench``: seed, import and search benchmarks, each beside its floor, as one table.

    .venv/bin/python -m bench            # seed 100k, import 100k, search on 1,000,000 members
    .venv/bin/python -m bench --quick    # 10k / 10k / 100,000: a fast check that everything runs

SQLite runs in a temporary folder; PostgreSQL in the database ``kring_bench`` (created and
dropped here; BENCH_DATABASE names another) on BENCH_POSTGRES_URL (default
postgres://postgres@127.0.0.1:5432/). The table is also written to bench/out/.
"""

import argparse
import json
import os
import platform
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
from cryptography.fernet import Fernet

from bench import floors
from bench.child import RESULT_MARK

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DATABASE = os.environ.get("BENCH_DATABASE", "kring_bench")


@dataclass
class Figure:
    name: str
    measured: str
    floor: str = "–"
    ratio: str = "–"
    goal: str = "–"
    verdict: str = ""


def seconds(value: float) -> str:
    return f"{value:.1f} s"


def millis(value: float) -> str:
    return f"{value:.1f} ms"


def ratio(measured: float, floor: float) -> str:
    return f"{measured / floor:.1f}×" if floor > 0 else "–"


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


class Bench:
    def __init__(self, args):
        self.args = args
        self.figures: list[Figure] = []
        self.details: list[str] = []
        self.results: dict = {}
        self.postgres_base = os.environ.get(
            "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/"
        ).rstrip("/")
        self.workdir = Path(tempfile.mkdtemp(prefix="kring-bench-"))
        # Production settings (KRING_DEBUG=0) want their keys given; these live for this run only.
        self.keys = {
            "KRING_SECRET_KEY": secrets.token_urlsafe(50),
            "KRING_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        }

    # -- running work in a fresh Django process --------------------------------------------

    def env(self, database_url: str) -> dict:
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": database_url,
                "KRING_VAR_DIR": str(self.workdir / "var"),
                "KRING_DEBUG": "0",
                "DJANGO_SETTINGS_MODULE": "kring.settings",
                "PYTHONPATH": str(ROOT),
                **self.keys,
            }
        )
        env.pop("KRING_TESTING", None)
        return env

    def child(self, database_url: str, *args) -> dict:
        completed = subprocess.run(
            [sys.executable, "-m", "bench.child", *map(str, args)],
            cwd=ROOT,
            env=self.env(database_url),
            capture_output=True,
            text=True,
        )
        for line in completed.stdout.splitlines():
            if line.startswith(RESULT_MARK):
                return json.loads(line[len(RESULT_MARK) :])
        raise RuntimeError(
            f"bench.child {' '.join(map(str, args))} failed:\n{completed.stdout}\n{completed.stderr}"
        )

    def migrate(self, database_url: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env=self.env(database_url),
            check=True,
        )

    def log(self, text: str) -> None:
        print(f"[{datetime.now():%H:%M:%S}] {text}", flush=True)

    # -- PostgreSQL database ---------------------------------------------------------------

    def admin(self):
        return psycopg.connect(f"{self.postgres_base}/postgres", autocommit=True)

    def postgres_available(self) -> bool:
        try:
            with self.admin() as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError as exc:
            self.postgres_error = str(exc).strip().splitlines()[0]
            return False

    def fresh_postgres(self) -> str:
        with self.admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {DATABASE}")
        url = f"{self.postgres_base}/{DATABASE}"
        self.migrate(url)
        return url

    def drop_postgres(self) -> None:
        if self.args.keep:
            return
        with self.admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")

    # -- the figures -----------------------------------------------------------------------

    def import_available(self) -> bool:
        return (ROOT / "bench" / "import_bench.py").exists()

    def seed_figure(self, vendor: str, members: int, seeded: dict, floor: float, goal: float) -> None:
        applies = members >= 100_000
        self.figures.append(
            Figure(
                f"seed {members:,} members ({vendor})",
                seconds(seeded["seconds"]),
                seconds(floor),
                ratio(seeded["seconds"], floor),
                f"< {goal:.0f} s" if applies else "–",
                verdict(seeded["seconds"] < goal) if applies else "",
            )
        )
        self.details.append(
            f"seed {members:,} ({vendor}), rows written: "
            + ", ".join(f"{k} {v:,}" for k, v in seeded["rows"].items())
        )

    def import_figure(self, vendor: str, rows: int, timings: dict, floor: float) -> None:
        """The floor is the bare insert of as many member rows (those of the seed in the same run)."""
        measured = timings["import"]
        applies = rows >= 100_000
        self.figures.append(
            Figure(
                f"import {rows:,} rows, check + write ({vendor})",
                seconds(measured),
                seconds(floor),
                ratio(measured, floor),
                "< 15 s" if applies else "–",
                verdict(measured < 15) if applies else "",
            )
        )
        self.details.append(
            f"import {rows:,} ({vendor}): " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items())
        )

    def sqlite_seed_and_import(self, size: int) -> None:
        folder = self.workdir / "sqlite"
        folder.mkdir()
        database = folder / "kring.sqlite3"
        self.log("SQLite: migrating")
        self.migrate(f"sqlite:///{database}")
        with sqlite3.connect(database) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        empty = folder / "empty.sqlite3"
        shutil.copy(database, empty)

        self.log(f"SQLite: seed {size:,} members")
        seeded = self.child(f"sqlite:///{database}", "seed", size)
        self.results["seed_sqlite"] = seeded
        columns, rows = floors.sqlite_member_rows(database)
        floor = floors.sqlite_insert(empty, folder / "floor.sqlite3", columns, rows)
        self.results["seed_sqlite_floor"] = floor
        self.seed_figure("SQLite", size, seeded, floor, 30)

        if self.import_available():
            target = folder / "import.sqlite3"
            shutil.copy(empty, target)
            self.log(f"SQLite: import {size:,} rows")
            timings = self.child(f"sqlite:///{target}", "import", size)
            self.results["import_sqlite"] = timings
            self.import_figure("SQLite", size, timings, floor)

    def postgres_seed_and_import(self, size: int) -> None:
        url = self.fresh_postgres()
        timings = None
        if self.import_available():
            # The import rolls itself back, so the database is empty again for the seed.
            self.log(f"PostgreSQL: import {size:,} rows")
            timings = self.child(url, "import", size)
            self.results["import_postgres"] = timings
        self.log(f"PostgreSQL: seed {size:,} members")
        seeded = self.child(url, "seed", size)
        self.results["seed_postgres"] = seeded
        _rows, floor = floors.postgres_copy(url)
        self.results["seed_postgres_floor"] = floor
        self.seed_figure("PostgreSQL", size, seeded, floor, 30)
        if timings is not None:
            self.import_figure("PostgreSQL", size, timings, floor)

    def postgres_search(self, members: int, rounds: int) -> None:
        url = self.fresh_postgres()
        self.log(f"PostgreSQL: seed {members:,} members for the search")
        seeded = self.child(url, "seed", members)
        self.results["seed_postgres_search"] = seeded
        _rows, floor = floors.postgres_copy(url)
        self.results["seed_postgres_search_floor"] = floor
        if members >= 1_000_000:
            self.seed_figure("PostgreSQL", members, seeded, floor, 300)
        else:
            self.seed_figure("PostgreSQL", members, seeded, floor, 30)
        self.log("PostgreSQL: VACUUM ANALYZE")
        self.child(url, "analyze")
        self.log(f"PostgreSQL: {rounds} rounds of searches")
        result = self.child(url, "search", rounds)
        self.results["search"] = result
        label = f"search {members:,} members (PostgreSQL)"
        self.figures.append(
            Figure(
                f"{label}, median",
                millis(result["median_ms"]),
                millis(result["floor_median_ms"]),
                ratio(result["median_ms"], result["floor_median_ms"]),
            )
        )
        self.figures.append(
            Figure(
                f"{label}, p99",
                millis(result["p99_ms"]),
                millis(result["floor_p99_ms"]),
                ratio(result["p99_ms"], result["floor_p99_ms"]),
                "p99 < 50 ms",
                verdict(result["p99_ms"] < 50),
            )
        )
        self.details.append(
            f"search: {result['queries']} queries × {result['rounds']} rounds of "
            "kring.members.queries.search_member_page (as the member list runs it: the matches counted "
            "up to 1,001 and the first page of 25 with the plan); floor: the same statements written by hand"
        )
        width = max(len(q["label"]) for q in result["per_query"])
        self.details.append(
            f"  {'query':<{width}}  {'found':>6}  {'median':>8}  {'max':>8}  {'SQL median':>10}  {'SQL max':>8}"
        )
        for q in result["per_query"]:
            found = "1000+" if q["count"] > 1000 else str(q["count"])
            self.details.append(
                f"  {q['label']:<{width}}  {found:>6}  {q['median_ms']:>6.1f}ms  {q['max_ms']:>6.1f}ms  "
                f"{q['floor_median_ms']:>8.1f}ms  {q['floor_max_ms']:>6.1f}ms"
            )

    def invoice_pdfs(self, count: int) -> None:
        """Invoice PDFs per second (bench/billing_pdf.py) on SQLite, beside reportlab drawing the same page."""
        folder = self.workdir / "pdf"
        folder.mkdir()
        url = f"sqlite:///{folder / 'kring.sqlite3'}"
        self.log("SQLite: migrating for the PDFs")
        self.migrate(url)
        self.log(f"PDFs: {count:,} invoices")
        result = self.child(url, "pdf", count)
        self.results["invoice_pdfs"] = result
        self.figures.append(
            Figure(
                f"invoice PDFs, {count:,} one by one (SQLite)",
                f"{result['single_per_second']:.0f}/s",
                f"{result['floor_per_second']:.0f}/s",
                ratio(result["single_ms"], result["floor_ms"]),
            )
        )
        self.figures.append(
            Figure(
                f"invoice PDFs, {count:,} in one print batch (SQLite)",
                f"{result['batch_per_second']:.0f}/s",
                f"{result['floor_per_second']:.0f}/s",
                ratio(1000 / result["batch_per_second"], result["floor_ms"]),
            )
        )
        self.details.append(
            f"invoice PDFs: {result['single_ms']:.1f} ms each with the queries (processor "
            f"{1000 * result['single_cpu_seconds'] / count:.1f} ms), of which encoding the EPC QR code "
            f"{result['qr_encoding_ms']:.1f} ms; {result['single_bytes']:,} bytes each. Floor: reportlab alone "
            f"drawing the same {result['text_items']} strings, {result['qr_rectangles']} QR rectangles and "
            f"{result['rules']} rules per page ({result['floor_ms']:.1f} ms, processor "
            f"{1000 * result['floor_cpu_seconds'] / count:.1f} ms)"
        )

    def invoice_run(self, vendor: str, url: str, members: int, goal: float) -> None:
        """Dues invoicing (bench/billing_run.py) of the next quarter on `members` freshly seeded members,
        beside the floor: the same invoice and line rows in one bare INSERT … SELECT."""
        self.log(f"{vendor}: seed {members:,} members for the invoice run")
        self.child(url, "seed", members)
        self.child(url, "analyze")
        self.log(f"{vendor}: invoice run")
        result = self.child(url, "invoice_run")
        self.results[f"invoice_run_{vendor.lower()}"] = result
        applies = members >= (1_000_000 if vendor == "PostgreSQL" else 100_000)
        within = result["run_seconds"] < goal and (
            vendor != "PostgreSQL" or result["run_seconds"] <= 3 * result["floor_seconds"]
        )
        self.figures.append(
            Figure(
                f"invoice run {result['period']}, {result['memberships']:,} memberships ({vendor})",
                seconds(result["run_seconds"]),
                seconds(result["floor_seconds"]),
                ratio(result["run_seconds"], result["floor_seconds"]),
                (f"< {goal:.0f} s" + (", ≤ 3× floor" if vendor == "PostgreSQL" else "")) if applies else "–",
                verdict(within) if applies else "",
            )
        )
        self.details.append(
            f"invoice run ({vendor}): {result['invoices']:,} invoices with {result['lines']:,} lines for "
            f"{result['invoiced_memberships']:,} memberships ({', '.join(f'{k} {v:,}' for k, v in result['per_frequency'].items())}); "
            f"preview {result['preview_seconds']:.1f} s, the same period again {result['rerun_seconds']:.1f} s"
        )

    def invoice_runs(self, quick: bool) -> None:
        folder = self.workdir / "invoices"
        folder.mkdir()
        url = f"sqlite:///{folder / 'kring.sqlite3'}"
        self.migrate(url)
        self.invoice_run("SQLite", url, 10_000 if quick else 100_000, 20)
        if not self.postgres_available():
            self.figures.append(Figure("invoice run (PostgreSQL)", f"skipped: {self.postgres_error}"))
            return
        try:
            self.invoice_run("PostgreSQL", self.fresh_postgres(), 100_000 if quick else 1_000_000, 60)
        finally:
            self.drop_postgres()

    def sepa_file(self, count: int) -> None:
        """A pain.008.001.08 file of `count` debits built and validated (bench/sepa_file.py), beside the
        same tree built with plain lxml and XSD-validated. No database is touched."""
        self.log(f"SEPA: collection file of {count:,} debits")
        result = self.child(f"sqlite:///{self.workdir / 'sepa.sqlite3'}", "sepa_file", count)
        self.results["sepa_file"] = result
        applies = count >= 100_000
        within = result["seconds"] < 10 and result["seconds"] <= 2 * result["floor_seconds"]
        self.figures.append(
            Figure(
                f"SEPA pain.008 file, {count:,} debits, built + validated",
                seconds(result["seconds"]),
                seconds(result["floor_seconds"]),
                ratio(result["seconds"], result["floor_seconds"]),
                "< 10 s, ≤ 2× floor" if applies else "–",
                verdict(within) if applies else "",
            )
        )
        self.details.append(
            f"SEPA file: build {result['build_seconds']:.1f} s, validate (XSD + own rules) "
            f"{result['validate_seconds']:.1f} s, {result['bytes']:,} bytes; floor: plain lxml building the "
            "same tree from ready strings, serialising and XSD-validating it"
        )

    def sepa_statements(self, count: int) -> None:
        """A camt.053 statement of `count` entries imported and matched (bench/sepa_statements.py), on
        SQLite and PostgreSQL, beside lxml parsing the same file plus a bare INSERT of as many rows."""
        folder = self.workdir / "statements"
        folder.mkdir()
        runs = [("SQLite", f"sqlite:///{folder / 'kring.sqlite3'}")]
        if self.postgres_available():
            runs.append(("PostgreSQL", None))
        for vendor, url in runs:
            try:
                url = url or self.fresh_postgres()
                if vendor == "SQLite":
                    self.migrate(url)
                self.log(f"{vendor}: bank statement of {count:,} entries")
                result = self.child(url, "sepa_statements", count)
            finally:
                if vendor == "PostgreSQL":
                    self.drop_postgres()
            self.results[f"sepa_statements_{vendor.lower()}"] = result
            applies = count >= 100_000
            self.figures.append(
                Figure(
                    f"bank statement, {count:,} entries, import + match ({vendor})",
                    seconds(result["seconds"]),
                    seconds(result["floor_seconds"]),
                    ratio(result["seconds"], result["floor_seconds"]),
                    "< 30 s" if applies else "–",
                    verdict(result["seconds"] < 30) if applies else "",
                )
            )
            self.details.append(
                f"bank statement ({vendor}): matched "
                + ", ".join(f"{k} {v:,}" for k, v in result["matched"].items())
                + f", unmatched {result['unmatched']:,}; the same file again {result['again_seconds']:.2f} s; "
                "floor: lxml parsing the same file plus one bare INSERT of as many statement rows"
            )

    # -- output ----------------------------------------------------------------------------

    def table(self) -> str:
        header = Figure("figure", "measured", "floor", "ratio", "goal", "")
        rows = [header, *self.figures]
        fields = ["name", "measured", "floor", "ratio", "goal", "verdict"]
        widths = {f: max(len(getattr(r, f)) for r in rows) for f in fields}
        lines = []
        for position, row in enumerate(rows):
            lines.append(
                "  ".join(
                    getattr(row, f).ljust(widths[f]) if f == "name" else getattr(row, f).rjust(widths[f])
                    for f in fields
                ).rstrip()
            )
            if position == 0:
                lines.append("-" * len(lines[0]))
        return "\n".join(lines)

    def report(self) -> str:
        parts = [
            f"Kring benchmarks — {datetime.now():%Y-%m-%d %H:%M}, {'quick' if self.args.quick else 'full'} run",
            f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {self.postgres_version()}, "
            f"{os.cpu_count()} CPUs, load {' '.join(f'{x:.1f}' for x in os.getloadavg())}",
            "",
            self.table(),
        ]
        if not self.import_available():
            parts.append("import: see bench/import_bench.py (not yet available)")
        parts += ["", *self.details]
        return "\n".join(parts)

    def postgres_version(self) -> str:
        try:
            with self.admin() as conn:
                return "PostgreSQL " + conn.execute("SHOW server_version").fetchone()[0].split()[0]
        except psycopg.OperationalError:
            return "PostgreSQL not reachable"

    def run(self) -> None:
        quick = self.args.quick
        size = 10_000 if quick else 100_000
        search_size = 100_000 if quick else 1_000_000
        steps = self.args.only or ["sqlite", "postgres", "search", "pdf", "invoices", "sepa", "statements"]
        started = time.perf_counter()
        try:
            if "sqlite" in steps:
                self.sqlite_seed_and_import(size)
            if "pdf" in steps:
                self.invoice_pdfs(200 if quick else 1000)
            if "invoices" in steps:
                self.invoice_runs(quick)
            if "sepa" in steps:
                self.sepa_file(10_000 if quick else 100_000)
            if "statements" in steps:
                self.sepa_statements(10_000 if quick else 100_000)
            if "postgres" in steps or "search" in steps:
                if not self.postgres_available():
                    self.figures.append(Figure("PostgreSQL figures", f"skipped: {self.postgres_error}"))
                else:
                    try:
                        if "postgres" in steps:
                            self.postgres_seed_and_import(size)
                        if "search" in steps:
                            self.postgres_search(search_size, self.args.rounds)
                    finally:
                        self.drop_postgres()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)
        text = self.report() + f"\n\nthe whole run took {time.perf_counter() - started:.0f} s"
        print()
        print(text)
        OUT.mkdir(exist_ok=True)
        stamp = f"{datetime.now():%Y%m%d-%H%M%S}-{'quick' if quick else 'full'}"
        (OUT / f"{stamp}.txt").write_text(text + "\n")
        (OUT / f"{stamp}.json").write_text(json.dumps(self.results, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Kring's benchmarks (make bench).")
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes (10k seed/import, search on 100k)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["sqlite", "postgres", "search", "pdf", "invoices", "sepa", "statements"],
        help="run only these parts",
    )
    parser.add_argument("--rounds", type=int, default=10, help="rounds of the search set (default 10)")
    parser.add_argument("--keep", action="store_true", help="keep the kring_bench database afterwards")
    Bench(parser.parse_args()).run()


if __name__ == "__main__":
    main()
