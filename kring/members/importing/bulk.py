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

from collections.abc import Iterable, Sequence

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


def _converters(model, fields: Sequence[str]) -> list:
    """Per field: None when the value goes to the driver as is, else the field that converts it."""
    converters = []
    for name in fields:
        field = model._meta.get_field(name)
        converters.append(None if type(field) in PLAIN_FIELDS else field)
    return converters


def _prepared(model, fields: Sequence[str], rows: Iterable[Sequence]) -> list[tuple]:
    converters = _converters(model, fields)
    special = [
        (index, field, {} if isinstance(field, (models.DateField, models.DateTimeField)) else None)
        for index, field in enumerate(converters)
        if field is not None
    ]
    if not special:
        return [tuple(row) for row in rows]
    prepared = []
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
        prepared.append(tuple(values))
    return prepared


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


def insert(model, fields: Sequence[str], rows: list[Sequence]) -> None:
    """Insert `rows` (tuples in `fields` order, the primary key included) into `model`'s table."""
    if not rows:
        return
    quote = connection.ops.quote_name
    columns = [model._meta.get_field(name).column for name in fields]
    table = quote(model._meta.db_table)
    column_list = ", ".join(quote(column) for column in columns)
    prepared = _prepared(model, fields, rows)
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
