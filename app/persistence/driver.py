"""Core statements run on the driver's cursor: the station hot path on PostgreSQL.

A station start or completion runs a handful of statements that are the same every time. Through
SQLAlchemy's ``Connection.execute`` each one costs more of the server's CPU than the driver's own
work on it (cache lookups, execution context, a result object built from the cursor description),
and the server is bound by that CPU under load. A :class:`DriverStatement` is compiled once per
dialect by SQLAlchemy, then run on the DBAPI cursor of the same connection, inside the same
transaction, with the same bind and result conversions (e.g. ``UTCDateTime``), and a driver error
is raised as the ``sqlalchemy.exc`` error SQLAlchemy would raise (a lost server invalidates the
connection as it would). On other databases (SQLite) it is plain ``Connection.execute``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class _Prepared:
    sql: str
    defaults: Mapping[str, Any]
    bind_processors: tuple[tuple[str, Callable[[Any], Any]], ...]
    result_processors: tuple[Callable[[Any], Any] | None, ...] | None  # None: no conversion at all
    returns_rows: bool


class DriverStatement:
    """A statement compiled once and run on the driver's cursor (see the module's docstring)."""

    def __init__(self, statement: Executable, *, returns_rows: bool = True) -> None:
        self.statement = statement
        self.returns_rows = returns_rows
        self._prepared: dict[str, _Prepared] = {}

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> list[Row]:
        """All rows (tuples); an empty list for a statement that returns none."""
        dialect = connection.dialect
        if dialect.name != "postgresql":
            result = connection.execute(self.statement, dict(params))
            return [tuple(r) for r in result] if self.returns_rows else []
        prepared = self._prepared.get(dialect.name) or self._prepare(dialect)
        values = dict(prepared.defaults)
        values.update(params)
        for name, process in prepared.bind_processors:
            values[name] = process(values[name])
        fairy = connection.connection
        cursor = fairy.cursor()
        try:
            cursor.execute(prepared.sql, values)
            if not prepared.returns_rows:
                return []
            fetched = cast(list[Row], cursor.fetchall())
        except dialect.loaded_dbapi.Error as error:
            raise _wrapped(connection, dialect, prepared.sql, values, error, cursor) from error
        finally:
            cursor.close()
        processors = prepared.result_processors
        if processors is None:
            return fetched
        return [
            tuple(value if p is None or value is None else p(value) for p, value in zip(processors, row, strict=True))
            for row in fetched
        ]

    def one_or_none(self, connection: Connection, params: Mapping[str, Any]) -> Row | None:
        found = self.rows(connection, params)
        if len(found) > 1:
            raise sa_exc.MultipleResultsFound("Multiple rows were found when one or none was required")
        return found[0] if found else None

    def one(self, connection: Connection, params: Mapping[str, Any]) -> Row:
        found = self.one_or_none(connection, params)
        if found is None:
            raise sa_exc.NoResultFound("No row was found when one was required")
        return found

    def _prepare(self, dialect: Dialect) -> _Prepared:
        if not isinstance(self.statement, ClauseElement):
            raise TypeError(f"{self.statement!r} is not a statement SQLAlchemy can compile")
        compiled = self.statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        sql = compiled.string
        if "POSTCOMPILE" in sql or getattr(compiled, "escaped_bind_names", None):
            raise ValueError("a driver statement takes no expanding or escaped parameters")
        defaults = {name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required}
        bind_processors = []
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                bind_processors.append((name, process))
        columns = getattr(self.statement, "exported_columns", None)
        result_processors: tuple[Callable[[Any], Any] | None, ...] | None = None
        if columns is not None:
            candidates = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
            if any(p is not None for p in candidates):
                result_processors = candidates
        prepared = _Prepared(sql, defaults, tuple(bind_processors), result_processors, self.returns_rows)
        self._prepared[dialect.name] = prepared
        return prepared


def _wrapped(
    connection: Connection, dialect: Dialect, sql: str, params: Mapping[str, Any], error: Any, cursor: Any
) -> sa_exc.DBAPIError:
    """The error as SQLAlchemy raises it from ``Connection.execute``; a disconnect invalidates the connection."""
    disconnect = dialect.is_disconnect(error, connection.connection.dbapi_connection, cursor)
    if disconnect:
        connection.invalidate(error)
    wrapped = sa_exc.DBAPIError.instance(
        sql,
        dict(params),
        error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=disconnect,
        dialect=dialect,
    )
    assert isinstance(wrapped, sa_exc.DBAPIError)
    return wrapped
