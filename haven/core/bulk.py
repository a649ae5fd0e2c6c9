"""Fast multi-row INSERTs for the registration hot path.

`bulk_create` builds a model instance and compiles every value of every row through the ORM; at
thousands of persons a second that is most of the time spent. `insert_rows` takes plain dicts,
converts only the values whose database form differs from the Python one (UUIDs, JSON, datetimes)
with the field's own `get_db_prep_save`, and sends one `executemany` (SQLite) or a few multi-row
INSERTs (PostgreSQL). Table and column names come from the model; every value is a parameter, in
the form Django's own conversions give it, so both databases store exactly what the ORM would.
"""

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, models

_PLAIN = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BooleanField,
    models.ForeignKey,
    models.AutoField,
    models.BigAutoField,
)


def _converter(field: models.Field[Any, Any]) -> Callable[[Any], Any] | None:
    if isinstance(field, _PLAIN) and not isinstance(field, models.JSONField):
        return None

    def convert(value: Any) -> Any:
        return field.get_db_prep_save(value, connection)

    return convert


def insert_rows(model: type[models.Model], rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows given as {attname: value} dicts, all with the same keys, in one executemany."""
    if not rows:
        return
    meta = model._meta
    names = list(rows[0])
    fields: list[models.Field[Any, Any]] = []
    for name in names:
        field = meta.get_field(name)
        if not isinstance(field, models.Field) or field.column is None:
            raise TypeError(f"{model.__name__}.{name} is not a concrete column")
        fields.append(field)
    converters = [_converter(field) for field in fields]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(field.column)) for field in fields)
    row_sql = "(" + ", ".join(["%s"] * len(names)) + ")"
    head = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "  # noqa: S608 - names from the model
    params = [
        [
            value if convert is None else convert(value)
            for value, convert in zip(row.values(), converters, strict=True)
        ]
        for row in rows
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # In-process: one prepared statement stepped once per row is the fastest form.
            cursor.executemany(head + row_sql, params)
            return
        # Over a network: few round trips, each a multi-row VALUES within the 65,535-parameter
        # limit of the PostgreSQL protocol.
        per_statement = max(1, 65_535 // len(names))
        for start in range(0, len(params), per_statement):
            chunk = params[start : start + per_statement]
            sql = head + ", ".join([row_sql] * len(chunk))
            cursor.execute(sql, [value for row in chunk for value in row])
