"""The database handle every db/ function takes: a sqlite3 connection with sqlite-utils' ``execute``,
``query`` and ``atomic``, without importing sqlite-utils.

Those three (and ``conn``, ``table_names``, ``close``) are all Patchdesk uses of sqlite-utils'
``Database`` outside the migrations, yet importing sqlite-utils loads click, pluggy, dateutil's parser,
decimal and uuid: about a fifth of a one-shot ``patchdesk scan``'s start-up and part of the GUI's.
So the handle is this class, whose methods behave as sqlite-utils 4's do (the same transaction
rules, so callers cannot tell), and sqlite-utils is imported only to apply migrations
(db/migrations.py), on a ``sqlite_utils.Database`` made over the same connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import count
from typing import Any

#: Statements that open or end a transaction themselves: ``execute`` leaves them alone.
_TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"})
#: Statements ``query`` refuses: they return no rows and would break out of its savepoint.
_QUERY_REJECTED = _TRANSACTION_CONTROL | {"VACUUM", "ATTACH", "DETACH"}
_NOT_A_QUERY = "query() can only be used with SQL that returns rows - use execute() for other statements"

Params = Sequence[Any] | dict[str, Any] | None

#: Savepoint names of nested ``atomic`` blocks (sqlite-utils draws random ones; unique is enough).
_savepoints = count()


class Database:
    """A sqlite3 connection with the parts of sqlite-utils' ``Database`` API that Patchdesk uses.

    Like sqlite-utils' (whose defaults Patchdesk used), it turns on recursive triggers.
    """

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.execute("PRAGMA recursive_triggers=on;")

    def close(self) -> None:
        self.conn.close()

    def execute(self, sql: str, parameters: Params = None) -> sqlite3.Cursor:
        """Run ``sql``; a write outside a transaction is committed at once (the driver's implicit
        transaction would otherwise hold every later write), and one that fails is rolled back."""
        conn = self.conn
        was_in_transaction = conn.in_transaction
        try:
            cursor = conn.execute(sql) if parameters is None else conn.execute(sql, parameters)
        except Exception:
            if not was_in_transaction and conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if (
            not was_in_transaction
            and conn.in_transaction
            and cursor.description is None
            and _first_keyword(sql) not in _TRANSACTION_CONTROL
        ):
            conn.execute("COMMIT")
        return cursor

    def query(self, sql: str, params: Params = None) -> Iterator[dict[str, Any]]:
        """Rows of ``sql`` as dicts (a repeated column name gets ``_2``, ``_3``...). A statement that
        returns no rows raises ValueError and, run inside a savepoint, is undone first."""
        keyword = _first_keyword(sql)
        if keyword in _QUERY_REJECTED:
            raise ValueError(_NOT_A_QUERY)
        conn = self.conn
        args: tuple[Any, ...] = (params,) if params is not None else ()
        if keyword == "PRAGMA":
            # some PRAGMAs refuse to run inside a transaction: no savepoint, and no implicit one
            if conn.in_transaction:
                cursor = conn.execute(sql, *args)
            else:
                old, conn.isolation_level = conn.isolation_level, None
                try:
                    cursor = conn.execute(sql, *args)
                finally:
                    conn.isolation_level = old
            if cursor.description is None:
                raise ValueError(_NOT_A_QUERY)
            return _dicts(cursor, cursor)
        conn.execute('SAVEPOINT "patchdesk_query"')
        released = False
        try:
            cursor = conn.execute(sql, *args)
            if cursor.description is None:
                raise ValueError(_NOT_A_QUERY)
            try:
                conn.execute('RELEASE "patchdesk_query"')
                released = True
            except sqlite3.OperationalError:
                # a write with RETURNING whose rows are not all fetched: fetch them so it
                # completes, then release (which commits it unless an outer transaction is open)
                fetched = cursor.fetchall()
                conn.execute('RELEASE "patchdesk_query"')
                released = True
                return _dicts(cursor, fetched)
            return _dicts(cursor, cursor)
        finally:
            if not released and conn.in_transaction:
                conn.execute('ROLLBACK TO "patchdesk_query"')
                conn.execute('RELEASE "patchdesk_query"')

    @contextmanager
    def atomic(self) -> Generator[Database, None, None]:
        """One transaction (BEGIN ... COMMIT) around the block, or a savepoint inside an open one;
        rolled back if the block raises."""
        conn = self.conn
        if conn.in_transaction:
            savepoint = f"patchdesk_{next(_savepoints)}"
            conn.execute(f"SAVEPOINT {savepoint};")
            try:
                yield self
            except BaseException:
                # an error such as a RAISE(ROLLBACK) trigger may have ended the transaction, with
                # the savepoint: then there is nothing left to undo
                if conn.in_transaction:
                    conn.execute(f"ROLLBACK TO SAVEPOINT {savepoint};")
                    conn.execute(f"RELEASE SAVEPOINT {savepoint};")
                raise
            conn.execute(f"RELEASE SAVEPOINT {savepoint};")
            return
        conn.execute("BEGIN")
        try:
            yield self
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def table_names(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]


def _dicts(cursor: sqlite3.Cursor, rows: Iterable[Any]) -> Iterator[dict[str, Any]]:
    keys = _dedupe([d[0] for d in cursor.description])
    return (dict(zip(keys, row, strict=False)) for row in rows)


def _dedupe(keys: list[str]) -> list[str]:
    """Column names made unique as sqlite-utils does: later repeats get ``_2``, ``_3``..."""
    taken = set(keys)
    if len(taken) == len(keys):
        return keys
    seen: set[str] = set()
    result = []
    for key in keys:
        if key in seen:
            new_key, suffix = key, 2
            while new_key in seen or new_key in taken:
                new_key = f"{key}_{suffix}"
                suffix += 1
            key = new_key
        seen.add(key)
        result.append(key)
    return result


def _first_keyword(sql: str) -> str:
    """The first keyword of ``sql``, upper-cased, after what the driver skips: whitespace, ``--`` and
    ``/* */`` comments, bare ``;`` and a byte order mark ("" if none)."""
    i, n = 0, len(sql)
    while i < n:
        if sql[i].isspace() or sql[i] in (";", "\ufeff"):
            i += 1
        elif sql.startswith("--", i):
            newline = sql.find("\n", i)
            if newline == -1:
                return ""
            i = newline + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end == -1:
                return ""
            i = end + 2
        else:
            break
    j = i
    while j < n and (sql[j].isalpha() or sql[j] == "_"):
        j += 1
    return sql[i:j].upper()
