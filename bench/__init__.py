"""Kring's benchmarks: ``make bench`` (``python -m bench``). Never part of ``make test`` or CI.

Each figure is measured beside its floor in the same run: the same rows written by a bare
``COPY`` (PostgreSQL) or ``executemany`` INSERT (SQLite), or the same search as hand-written SQL.
The ratio says how much Kring adds on top of what the database itself needs.

- ``__main__.py`` runs everything and prints the table (``--quick`` for smaller sizes);
- ``child.py`` is the work done in a fresh process per database, so settings load for it;
- ``floors.py`` measures the floors with the database drivers only;
- ``search.py`` holds the fixed set of member searches;
- ``import_bench.py`` is the import benchmark (owned by the importer).
"""
