"""Set-based inserts and updates for large imports.

Django's bulk_create compiles every value of every row through the ORM and, on SQLite, sends 30
rows per statement; for 100,000 members (and their memberships, bank accounts and audit entries)
that alone takes over a minute. Here rows go to the database driver directly: COPY on
PostgreSQL, one prepared statement run for all rows (executemany) on SQLite. Ids are taken in
advance, so the caller knows them without reading rows back.

Values are converted exactly as the ORM would (``Field.get_db_prep_save``) except for plain
text, numbers, booleans and foreign keys, which the drivers take as they are. Must run inside the
caller's transaction: on SQLite the ids come from the table itself, which only the transaction's
write lock makes safe.
"""

from collections.abc import Collection, Iterable, Sequence

from django.db import connection, models

from kring.members.importing.existing import chunks

# Field classes whose values the drivers take as they are (a subclass may convert, so exact types).
PLAIN_FIELDS = {
    models.CharField,
    models.TextField,
    models.EmailField,
    models.SlugField,
    models.IntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.BigIntegerField,
    models.BooleanField,
    models.ForeignKey,
    models.OneToOneField,
    models.AutoField,
    models.BigAutoField,
}
UPDATE_BATCH = 5000


def _converters(model, fields: Sequence[str], ready: Collection[str] = ()) -> list:
    """Per field: None when the value goes to the driver as is, else the field that converts it."""
    converters = []
    for name in fields:
        field = model._meta.get_field(name)
        converters.append(None if type(field) in PLAIN_FIELDS or name in ready else field)
    return converters


def _prepared(
    model, fields: Sequence[str], rows: Iterable[Sequence], ready: Collection[str] = ()
) -> Iterable:
    """The rows with their values converted (as they are made, when `rows` is a generator)."""
    converters = _converters(model, fields, ready)
    special = [
        (index, field, {} if isinstance(field, (models.DateField, models.DateTimeField)) else None)
        for index, field in enumerate(converters)
        if field is not None
    ]
    if not special:
        return rows
    return _converted(rows, special)


def _converted(rows: Iterable[Sequence], special: list) -> Iterable[list]:
    for row in rows:
        values = list(row)
        for index, field, memo in special:
            value = values[index]
            if memo is None:
                values[index] = field.get_db_prep_save(value, connection)
            else:
                # Dates repeat (every row of an import has the same creation time): convert each once.
                if value not in memo:
                    memo[value] = field.get_db_prep_save(value, connection)
                values[index] = memo[value]
        yield values


def reserve_ids(model, count: int) -> list[int]:
    """`count` new primary keys for `model`, taken from its sequence (PostgreSQL) or after the
    highest id ever used (SQLite, whose AUTOINCREMENT never reuses an id)."""
    if count == 0:
        return []
    table = model._meta.db_table
    column = model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [connection.ops.quote_name(table), column, count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(
            f"SELECT MAX({connection.ops.quote_name(column)}) FROM {connection.ops.quote_name(table)}"
        )
        highest = cursor.fetchone()[0] or 0
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        found = cursor.fetchone()
        start = max(highest, found[0] if found else 0) + 1
    return list(range(start, start + count))


def insert(model, fields: Sequence[str], rows: Iterable[Sequence], *, ready: Collection[str] = ()) -> None:
    """Insert `rows` (sequences in `fields` order, the primary key included; a list, or a generator
    that makes them while they are written) into `model`'s table. The fields named in `ready` hold
    what the database stores (an encrypted field its ciphertext, a JSON field its JSON text),
    converted by the caller."""
    if isinstance(rows, Sequence) and not rows:
        return
    quote = connection.ops.quote_name
    columns = [model._meta.get_field(name).column for name in fields]
    table = quote(model._meta.db_table)
    column_list = ", ".join(quote(column) for column in columns)
    prepared = _prepared(model, fields, rows, ready)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy:
                for row in prepared:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({column_list}) VALUES ({placeholders})", prepared)


def update(model, fields: Sequence[str], rows: list[Sequence]) -> None:
    """UPDATE … SET fields WHERE pk: each row is (pk, *values in `fields` order)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(model._meta.get_field(name).column)} = %s" for name in fields)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote(model._meta.pk.column)} = %s"
    prepared = _prepared(model, fields, (row[1:] for row in rows))
    parameters = [(*values, row[0]) for values, row in zip(prepared, rows, strict=True)]
    with connection.cursor() as cursor:
        for batch in chunks(parameters, UPDATE_BATCH):
            cursor.executemany(sql, batch)


# --- large loads --------------------------------------------------------------------------

# A table gets its indexes set aside while it is loaded when the import adds at least this many rows
# to it, and at least as many as it already has (a first import, or a list that doubles).
LARGE_LOAD_ROWS = 20000
# SQLite's page cache while an import writes (KiB; the default is 2 MiB): the index pages of the
# tables written stay in memory instead of being written out and read back.
SQLITE_CACHE_KIB = 256 * 1024


class Load:
    """The writes of one import. On SQLite a larger page cache. Tables to which the import adds a
    large share (at least LARGE_LOAD_ROWS rows, and at least as many as they have) and that are
    named in `indexes_of` get their indexes set aside while they are written and built again by
    finish(), from their own definitions in the database catalog: building an index over 100,000
    rows at once takes a fraction of the time of 100,000 single insertions (this is how pg_restore
    loads). On PostgreSQL the foreign keys between the tables that get a large share are set aside
    too (and those from them to the small tables named in `lookups`) and added again by finish(),
    which checks all rows with one query per key instead of one lookup per row and key. It all
    happens inside the import's transaction, so on any error the schema is rolled back with the
    data; those tables are locked for readers until it ends."""

    def __init__(self, added: dict, *, indexes_of: Collection = (), lookups: Collection = ()):
        self.added = added  # model → rows the import adds to its table
        self.indexes_of = indexes_of  # the models whose indexes may be set aside
        self.lookups = lookups  # small tables whose foreign keys from those tables may be set aside
        self.postgres = connection.vendor == "postgresql"
        self.rebuild: list[str] = []
        self.previous_cache_size = None

    def start(self) -> None:
        with connection.cursor() as cursor:
            if not self.postgres:
                cursor.execute("PRAGMA cache_size")
                self.previous_cache_size = cursor.fetchone()[0]
                cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
            large = [
                model
                for model, count in self.added.items()
                if count >= LARGE_LOAD_ROWS and _has_at_most(cursor, model, count)
            ]
            if not large:
                return
            if self.postgres:
                # PostgreSQL changes no table with foreign-key checks still waiting for the commit
                # (rows written earlier in this transaction): run them now, then defer again
                # (Django's foreign keys are all DEFERRABLE INITIALLY DEFERRED).
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
                tables = [model._meta.db_table for model in large]
                self.rebuild = _set_aside_foreign_keys(
                    cursor, tables, tables + [model._meta.db_table for model in self.lookups]
                )
            indexed = [model._meta.db_table for model in large if model in self.indexes_of]
            if indexed:
                self.rebuild = _set_aside_indexes(cursor, indexed) + self.rebuild

    def finish(self) -> None:
        """Build the indexes and add the foreign keys that were set aside again, as they were."""
        statements, self.rebuild = self.rebuild, []
        if not statements:
            return
        with connection.cursor() as cursor:
            if self.postgres:
                # No index is built on a table with foreign-key checks still waiting: run them now.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
                cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            for statement in statements:
                cursor.execute(statement)
            if self.postgres:
                cursor.execute("SET LOCAL maintenance_work_mem TO DEFAULT")

    def restore_cache(self) -> None:
        if self.previous_cache_size is not None:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA cache_size = {int(self.previous_cache_size)}")
            self.previous_cache_size = None


def _has_at_most(cursor, model, count: int) -> bool:
    table = connection.ops.quote_name(model._meta.db_table)
    cursor.execute(f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} LIMIT %s) AS rows_present", [count + 1])
    return cursor.fetchone()[0] <= count


def _set_aside_indexes(cursor, tables: list[str]) -> list[str]:
    """Drop the indexes of `tables` that only speed up reading; returns the statements that create
    them again exactly as they were (from the database's own catalog). In the import's transaction:
    on any error they come back with the rollback. Primary keys, unique indexes and foreign keys
    stay, so every row is still checked as it is written."""
    if connection.vendor == "postgresql":
        cursor.execute(
            """
            SELECT i.relname, pg_get_indexdef(x.indexrelid)
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
            WHERE t.relname = ANY(%s) AND pg_table_is_visible(t.oid)
              AND NOT x.indisunique
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
            ORDER BY t.relname, i.relname
            """,
            [tables],
        )
    else:
        placeholders = ", ".join("%s" for _ in tables)
        # Indexes SQLite makes for UNIQUE and PRIMARY KEY have no SQL of their own and stay.
        cursor.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND sql NOT LIKE 'CREATE UNIQUE%%' AND tbl_name IN ({placeholders}) ORDER BY tbl_name, name",
            tables,
        )
    indexes = cursor.fetchall()
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    return [definition for _name, definition in indexes]


def _set_aside_foreign_keys(cursor, tables: list[str], referenced: list[str]) -> list[str]:
    """PostgreSQL: drop the foreign keys from `tables` to `referenced` (dropping one locks both of
    its tables until the transaction ends); returns the statements that add them again. Adding a
    foreign key checks all rows at once and fails, with the import, on any row without its match."""
    cursor.execute(
        """
        SELECT t.relname, k.conname, pg_get_constraintdef(k.oid)
        FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid JOIN pg_class r ON r.oid = k.confrelid
        WHERE k.contype = 'f' AND t.relname = ANY(%s) AND r.relname = ANY(%s) AND pg_table_is_visible(t.oid)
        ORDER BY t.relname, k.conname
        """,
        [tables, referenced],
    )
    foreign_keys = cursor.fetchall()
    quote = connection.ops.quote_name
    for table, name, _definition in foreign_keys:
        cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
    return [
        f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}"
        for table, name, definition in foreign_keys
    ]
