"""The floors: writing the same member rows with nothing but the database driver."""

import io
import shutil
import sqlite3
import time
from pathlib import Path

import psycopg


def sqlite_member_rows(database: Path) -> tuple[list[str], list[tuple]]:
    with sqlite3.connect(database) as db:
        cursor = db.execute("SELECT * FROM members_member ORDER BY id")
        columns = [c[0] for c in cursor.description]
        return columns, cursor.fetchall()


def sqlite_insert(empty_database: Path, work_copy: Path, columns: list[str], rows: list[tuple]) -> float:
    """Seconds for one executemany INSERT of `rows` into members_member of a fresh copy of the empty
    database (same indexes, same pragmas as Kring uses, no foreign-key checks)."""
    shutil.copy(empty_database, work_copy)
    db = sqlite3.connect(work_copy, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA cache_size=-262144")
        placeholders = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO members_member ({', '.join(columns)}) VALUES ({placeholders})"
        started = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.executemany(sql, rows)
        db.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        db.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{work_copy}{suffix}").unlink(missing_ok=True)


def postgres_copy(url: str) -> tuple[int, float]:
    """Seconds for a bare COPY of all rows of members_member into an empty table with the same
    columns and indexes (no foreign keys), in one transaction. Returns (rows, seconds)."""
    with psycopg.connect(url, autocommit=True) as conn:
        buffer = io.BytesIO()
        with conn.cursor() as cursor, cursor.copy("COPY members_member TO STDOUT") as copy:
            for chunk in copy:
                buffer.write(chunk)
        rows = conn.execute("SELECT count(*) FROM members_member").fetchone()[0]
        conn.execute("DROP TABLE IF EXISTS bench_floor_member")
        conn.execute("CREATE TABLE bench_floor_member (LIKE members_member INCLUDING ALL)")
        data = buffer.getvalue()
        started = time.perf_counter()
        with (
            conn.transaction(),
            conn.cursor() as cursor,
            cursor.copy("COPY bench_floor_member FROM STDIN") as copy,
        ):
            for offset in range(0, len(data), 1 << 20):
                copy.write(data[offset : offset + (1 << 20)])
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE bench_floor_member")
        return rows, seconds
