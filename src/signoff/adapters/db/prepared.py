"""Hot write statements run straight on the driver's cursor, compiled by SQLAlchemy once.

A registration runs seven statements. Through `Connection.execute` each spends many times
longer in SQLAlchemy's bookkeeping (execution context, events, result set-up) than SQLite takes
to run it, and the registration is the write pipelines make most (`make bench` measures
registrations per second). `Prepared`
keeps SQLAlchemy for what it is good at (the SQL for each dialect, paramstyle, bind casts and
type conversion on the way in) and drops the per-call machinery: the statement is compiled once
per dialect, its parameters converted by the columns' own bind processors, and run on a cursor
of the driver connection in the session's current transaction. The transaction itself (BEGIN,
the SQLite writer gate, COMMIT) stays the session's.

Results come back as the driver returns them, so statements may only return columns whose type
needs no conversion (ids, counters, strings); that is checked when the statement is compiled.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from contextlib import closing
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_CONNECTION_KEY = "signoff.prepared.connection"


class Compiled:
    """A statement compiled for one dialect: its SQL, and its parameters as the driver takes them.

    Results are the driver's own values: a column that SQLAlchemy would convert on the way out
    is refused unless the caller converts it itself (``raw_results``, the resolve reader).
    """

    __slots__ = ("fixed", "keys", "names", "positional", "processors", "sql")

    def __init__(self, stmt: ClauseElement, dialect: Dialect, column_keys: Sequence[str] | None = None, *,
                 raw_results: bool = False) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(column_keys) if column_keys is not None else None)
        if not isinstance(compiled, SQLCompiler):  # DDL has neither binds nor result columns
            raise TypeError(f"Prepared statements are SQL statements, not {type(stmt).__name__}")
        if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None):
            raise ValueError(f"Prepared statements must give every column a value: {compiled.string}")
        for column in () if raw_results else getattr(compiled, "_result_columns", ()):
            if column[3].dialect_impl(dialect).result_processor(dialect, None) is not None:
                raise ValueError(f"Prepared statements may only return unconverted columns, not {column[0]!r}")
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        self.names: list[str] = list(compiled.positiontup or []) if self.positional else list(compiled.binds)
        escaped = getattr(compiled, "escaped_bind_names", None) or {}
        self.keys = [escaped.get(name, name) for name in self.names]  # as the SQL names them (pyformat)
        # Values the statement carries itself (`.limit(1)`), not given by the caller.
        self.fixed = {name: bind.value for name, bind in compiled.binds.items()
                      if not bind.required and bind.value is not None}
        self.processors: list[tuple[str, Callable[[Any], Any]]] = []
        for name in dict.fromkeys(self.names):
            processor = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.processors.append((name, processor))

    def params(self, values: dict[str, Any]) -> Any:
        if self.fixed:
            values = {**self.fixed, **values}
        if self.processors:
            values = dict(values)
            for name, processor in self.processors:
                values[name] = processor(values[name])
        if self.positional:
            return tuple(values[name] for name in self.names)
        return {key: values[name] for key, name in zip(self.keys, self.names)}


class Prepared:
    """One Core statement, run on the current transaction of a session without SQLAlchemy's execute.

    ``column_keys`` fixes the columns of an INSERT (SQLAlchemy otherwise takes them from the
    first parameter set); every column without a server-side default must be among them.
    """

    def __init__(self, stmt: ClauseElement, column_keys: Sequence[str] | None = None) -> None:
        self.stmt, self.column_keys = stmt, column_keys
        self._by_dialect: weakref.WeakKeyDictionary[Dialect, Compiled] = weakref.WeakKeyDictionary()

    def _for(self, dialect: Dialect) -> Compiled:
        compiled = self._by_dialect.get(dialect)
        if compiled is None:
            compiled = self._by_dialect[dialect] = Compiled(self.stmt, dialect, self.column_keys)
        return compiled

    def execute(self, session: Session, values: dict[str, Any] | None = None) -> None:
        self._run(session, values, None)

    def execute_many(self, session: Session, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        connection, dialect = _connection(session)
        compiled = self._for(dialect)
        with closing(connection.cursor()) as cursor:
            cursor.executemany(compiled.sql, [compiled.params(r) for r in rows])

    def all(self, session: Session, values: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._run(session, values, "all")]

    def first(self, session: Session, values: dict[str, Any] | None = None) -> tuple[Any, ...] | None:
        row = self._run(session, values, "one")
        return tuple(row) if row is not None else None

    def scalar(self, session: Session, values: dict[str, Any] | None = None) -> Any:
        row = self._run(session, values, "one")
        return row[0] if row is not None else None

    def _run(self, session: Session, values: dict[str, Any] | None, fetch: str | None) -> Any:
        connection, dialect = _connection(session)
        compiled = self._for(dialect)
        # A cursor per statement, closed at once: an open one keeps its statement alive, and on
        # SQLite a closed connection with a live statement lingers, holding the write lock.
        with closing(connection.cursor()) as cursor:
            cursor.execute(compiled.sql, compiled.params(values or {}))
            if fetch == "one":
                return cursor.fetchone()
            if fetch == "all":
                return cursor.fetchall()
            return None


def execute_fixed(session: Session, sql: str) -> None:
    """A statement without parameters (SAVEPOINT …) on the session's current transaction."""
    connection, _ = _connection(session)
    with closing(connection.cursor()) as cursor:
        cursor.execute(sql)


def _connection(session: Session) -> tuple[Any, Dialect]:
    """The driver connection of the session's current transaction, begun (as the session would) if none.

    Kept in ``session.info`` with the transaction it belongs to: a later transaction of the same
    session may run on another pooled connection.
    """
    transaction = session.get_transaction()
    cached = session.info.get(_CONNECTION_KEY)
    if cached is not None and transaction is not None and cached[0] is transaction:
        return cached[1], cached[2]
    connection = session.connection()
    driver = connection.connection.driver_connection
    session.info[_CONNECTION_KEY] = (session.get_transaction(), driver, connection.dialect)
    return driver, connection.dialect
