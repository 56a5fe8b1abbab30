"""Work the benchmark runs in a fresh process, so that Django loads the settings (DATABASE_URL,
KRING_VAR_DIR) of the database under test. Prints one result line: ``BENCH-RESULT {json}``.

    python -m bench.child seed 100000
    python -m bench.child import 100000
    python -m bench.child search 10
"""

import json
import os
import sys
import time

RESULT_MARK = "BENCH-RESULT "


def seed(members: int) -> dict:
    from kring.members import demo

    result = demo.seed_demo(members, demo.DEFAULT_SEED)
    return {"seconds": result.seconds, "members": result.members, "rows": dict(result.counts)}


def import_members(rows: int) -> dict:
    from bench import import_bench

    return import_bench.run(rows)


def search(rounds: int) -> dict:
    from bench.search import run

    return run(rounds=rounds)


def analyze() -> dict:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
        else:
            cursor.execute("ANALYZE")
    return {"seconds": time.perf_counter() - started}


def invoice_pdfs(count: int) -> dict:
    from bench import billing_pdf

    return billing_pdf.run(count)


def invoice_run() -> dict:
    from bench import billing_run

    return billing_run.run()


def sepa_file(count: int) -> dict:
    from bench import sepa_file

    return sepa_file.run(count)


def sepa_statements(count: int) -> dict:
    from bench import sepa_statements

    return sepa_statements.run(count)


TASKS = {
    "seed": seed,
    "import": import_members,
    "search": search,
    "analyze": analyze,
    "pdf": invoice_pdfs,
    "invoice_run": invoice_run,
    "sepa_file": sepa_file,
    "sepa_statements": sepa_statements,
}


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kring.settings")
    import django

    django.setup()
    task, *args = argv
    result = TASKS[task](*(int(a) for a in args))
    print(RESULT_MARK + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
