"""Opening the Patchdesk database: location, connection settings, migrations, safety copy.

Every thread that touches the database opens its own connection through :func:`open_database`;
connections are never shared across threads (no ``check_same_thread=False``).
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from app.domain.errors import DatabaseError, SchemaTooNewError
from db.connection import Database
from db.schema import MIGRATIONS, SCHEMA_VERSION

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
DB_FILENAME = "patchdesk.sqlite3"


def default_db_path() -> Path:
    """The database file under the platform data dir (``PATCHDESK_DB`` overrides)."""
    env = os.environ.get("PATCHDESK_DB")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("patchdesk", appauthor=False)) / DB_FILENAME


def now_iso() -> str:
    """Current UTC time as stored in the database (ISO 8601, sortable as text)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def parse_ts(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            logger.warning("database %s is not in WAL mode (%s)", path, mode)
        conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(describe_sqlite_error(exc, path)) from exc
    return conn


#: Where the sentences send a user whose database is damaged.
CHECK_COMMAND = "patchdesk db check"


def describe_sqlite_error(exc: BaseException, path: Path | str | None = None) -> str:
    """Turn an sqlite3 error into a sentence that says what to do."""
    text = str(exc)
    where = f" ({path})" if path else ""
    low = text.lower()
    if "locked" in low or "busy" in low:
        return (
            f"The database{where} is locked by another program: another Patchdesk window, a scheduled "
            f"`patchdesk run-due`, or a tool such as sqlite3 or DB Browser holding it open. Patchdesk waited "
            f"{BUSY_TIMEOUT_MS / 1000:g} seconds for it; close that program and retry."
        )
    if "disk is full" in low or "database or disk is full" in low:
        return f"The disk holding the database{where} is full; free some space and retry. Nothing was lost."
    if "not a database" in low:
        return f"The file{where} is not a valid Patchdesk database (or it is damaged): {text}."
    if "malformed" in low or "corrupt" in low:
        return (
            f"The database{where} is damaged ({text}). Run `{CHECK_COMMAND}`: it checks every page and "
            "offers to restore the newest safety copy that is sound."
        )
    if "unable to open" in low:
        return f"Cannot open the database{where}: check that the folder exists and is writable."
    if "readonly" in low or "read-only" in low:
        return f"The database{where} is read-only; check the file's permissions."
    if "disk i/o" in low:
        return f"The disk could not read or write the database{where} ({text}); check the disk and retry."
    return f"Database error{where}: {text}"


def known_database_error(exc: BaseException, path: Path | str | None = None) -> DatabaseError | None:
    """The sentence for an sqlite3 error that escaped a command (the error boundaries of the CLI and
    the GUI ask here, since only db/ knows sqlite3); None for anything else."""
    if isinstance(exc, DatabaseError):
        return exc
    if isinstance(exc, sqlite3.Error):
        err = DatabaseError(describe_sqlite_error(exc, path))
        err.__cause__ = exc
        return err
    return None


@contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """One write transaction: everything inside is committed together, or nothing is.

    Takes the write lock up front (BEGIN IMMEDIATE), so a database another program holds is found
    before anything is written, after waiting the busy timeout; inside an open transaction it nests
    as a savepoint. sqlite3 errors leave as a DatabaseError sentence.
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise DatabaseError(describe_sqlite_error(exc, database_file(db)) + " Nothing was changed.") from exc
    try:
        yield db
    except sqlite3.Error as exc:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise DatabaseError(describe_sqlite_error(exc, database_file(db)) + " Nothing was changed.") from exc
    except BaseException:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise
    try:
        db.execute("COMMIT")
    except sqlite3.Error as exc:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise DatabaseError(describe_sqlite_error(exc, database_file(db))) from exc


def schema_version(db: Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def open_database(path: Path | str | None = None, *, migrate: bool = True) -> Database:
    """Open (creating if needed) and migrate the database at ``path``.

    Refuses a database written by a newer Patchdesk instead of guessing at its schema, and copies
    an existing database aside (``<name>.bak-v<N>``) before applying migrations to it.
    """
    p = Path(path) if path is not None else default_db_path()
    if str(p) != ":memory:":
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(
                f"Cannot create the folder for the database ({p.parent}): {exc.strerror}."
            ) from exc
    existed = p.exists() and p.stat().st_size > 0
    conn = _connect(p)
    try:
        db = Database(conn)
        version = schema_version(db)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise DatabaseError(describe_sqlite_error(exc, p)) from exc
    if version > SCHEMA_VERSION:
        conn.close()
        raise SchemaTooNewError(
            f"The database {p} was written by a newer Patchdesk (schema {version}, this version knows "
            f"{SCHEMA_VERSION}). Install the newer Patchdesk, or open a different database with --db."
        )
    if migrate and version < SCHEMA_VERSION:
        if existed and version > 0:
            backup = p.with_name(f"{p.name}.bak-v{version}")
            backup_file(conn, backup)
            logger.info("backed up %s to %s before migrating", p, backup)
        try:
            MIGRATIONS.apply(db)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise DatabaseError(describe_sqlite_error(exc, p)) from exc
    return db


def backup_file(conn: sqlite3.Connection, target: Path) -> None:
    """Consistent copy of the live database (sqlite's online backup, WAL included)."""
    tmp = target.with_name(target.name + ".tmp")
    dest = sqlite3.connect(str(tmp))
    try:
        conn.backup(dest)
    finally:
        dest.close()
    shutil.move(str(tmp), str(target))


def database_file(db: Database) -> str | None:
    """The main file of ``db`` (for a worker thread that opens its own connection)."""
    for r in db.execute("PRAGMA database_list"):
        if r[1] == "main":
            return str(r[2]) or None
    return None
