"""A numbered event's row writes as plain column values, sent with the statement that numbers the event.

On PostgreSQL each statement is a round trip to the server: a turn's start was four of them (BEGIN, the fence,
the INSERT, COMMIT) and its end five, at every turn of every debate. Given as values instead of ORM code, the
fence and the writes become one statement there: data-modifying WITH queries, each write joined to the fence's
row so that it writes nothing when the fence matched none, the whole atomic by itself with no BEGIN or COMMIT.
Elsewhere (SQLite, inside the process: no round trips to save) they run after the fence in one transaction.
Only the writes of every turn are given this way (bench/bench_concurrent.py); other events write with the ORM.
"""
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper


@dataclass(frozen=True)
class RowWrite:
    model: type[models.Model]
    values: dict[str, object]  # field name -> the value as the model holds it
    pk: int | None = None  # the row to update; None: a row to insert, whose id the write returns

    @classmethod
    def save(cls, instance: models.Model, *, insert: bool) -> "RowWrite":
        """What instance.save() writes: every concrete field but the primary key (pre_save applied)."""
        fields = [f for f in instance._meta.concrete_fields if not f.primary_key]
        return cls(type(instance), {f.name: f.pre_save(instance, insert) for f in fields},
                   None if insert else instance.pk)

    @classmethod
    def update(cls, model: type[models.Model], pk: int, **values: object) -> "RowWrite":
        return cls(model, values, pk)

    def columns(self, db: BaseDatabaseWrapper) -> tuple[list[str], list[object]]:
        """The quoted columns and the values as the database takes them."""
        fields = [self.model._meta.get_field(name) for name in self.values]
        return _quoted(db, self.model, tuple(self.values)), [
            f.get_db_prep_save(value, db) for f, value in zip(fields, self.values.values())]

    def target(self, db: BaseDatabaseWrapper) -> tuple[str, str]:
        meta = self.model._meta
        return db.ops.quote_name(meta.db_table), db.ops.quote_name(meta.pk.column)


# A write's quoted columns, kept since its shape never changes: by database vendor, model and fields.
_QUOTED: dict[tuple, list[str]] = {}


def _quoted(db: BaseDatabaseWrapper, model: type[models.Model], names: tuple[str, ...]) -> list[str]:
    key = (db.vendor, model, names)
    if key not in _QUOTED:
        _QUOTED[key] = [db.ops.quote_name(model._meta.get_field(name).column) for name in names]
    return _QUOTED[key]


@dataclass(frozen=True)
class Writes:
    """A numbered event's change as rows (EventStream.emit's `change`). `then` is told the ids the inserts were
    given, in order, once the rows are written; a dict it returns is added to the event's payload."""
    rows: list[RowWrite]
    then: Callable[[list[int]], dict | None] = field(default=lambda ids: None)


def write_fenced(fence: tuple[str, list], writes: Writes) -> dict | None:
    """Run the fence (an UPDATE of one row), then the writes only when it matched a row. None: it matched none,
    and nothing was written. Else what `writes.then` returns."""
    db = connections[DEFAULT_DB_ALIAS]  # once: each use of the `connection` proxy is a lookup of its own
    if db.vendor == "postgresql":
        ids = _in_one_statement(db, fence, writes.rows)
    else:
        ids = _in_one_transaction(db, fence, writes.rows)
    return None if ids is None else (writes.then(ids) or {})


def _in_one_statement(db: BaseDatabaseWrapper, fence: tuple[str, list], rows: list[RowWrite]) -> list[int] | None:
    fence_sql, params = fence[0], list(fence[1])
    parts, inserted = [f"fence AS ({fence_sql} RETURNING 1)"], []
    for number, row in enumerate(rows):
        (table, pk), (columns, values) = row.target(db), row.columns(db)
        if row.pk is None:
            # An INSERT's SELECT takes its values' types from the columns (a NULL, a parameter of no set type).
            parts.append(f"w{number} AS (INSERT INTO {table} ({', '.join(columns)}) "
                         f"SELECT {', '.join(['%s'] * len(columns))} FROM fence RETURNING {pk})")
            params += values
            inserted.append(f"(SELECT {pk} FROM w{number})")
        else:
            assignments = ", ".join(f"{column} = %s" for column in columns)
            parts.append(f"w{number} AS (UPDATE {table} SET {assignments} FROM fence WHERE {table}.{pk} = %s)")
            params += [*values, row.pk]
    sql = f"WITH {', '.join(parts)} SELECT (SELECT count(*) FROM fence){''.join(', ' + i for i in inserted)}"
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        fenced, *ids = cursor.fetchone()
    return ids if fenced == 1 else None


def _in_one_transaction(db: BaseDatabaseWrapper, fence: tuple[str, list], rows: list[RowWrite]) -> list[int] | None:
    ids = []
    with transaction.atomic(using=db.alias), db.cursor() as cursor:
        cursor.execute(*fence)
        if cursor.rowcount != 1:
            return None
        for row in rows:
            (table, pk), (columns, values) = row.target(db), row.columns(db)
            if row.pk is None:
                cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
                               values)
                ids.append(db.ops.last_insert_id(cursor, row.model._meta.db_table, row.model._meta.pk.column))
            else:
                cursor.execute(f"UPDATE {table} SET {', '.join(f'{c} = %s' for c in columns)} WHERE {pk} = %s",
                               [*values, row.pk])
    return ids
