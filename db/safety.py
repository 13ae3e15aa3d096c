"""The database's health check and its safety copies (``patchdesk db check``).

The safety copies are the ones :func:`db.database.open_database` takes before a migration
(``<name>.bak-v<N>``) and the one a passing check refreshes (``<name>.bak-checked``). A damaged
database is never repaired in place: a restore moves it aside (``<name>.damaged-<time>``) and puts the
newest copy that passes the check in its place, so nothing is destroyed either way.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from app.domain.errors import DatabaseError
from db.database import backup_file, describe_sqlite_error

logger = logging.getLogger(__name__)

#: The copy a passing check leaves beside the database.
CHECKED_SUFFIX = ".bak-checked"
#: How many problems of PRAGMA quick_check are kept (it can list thousands on a shredded file).
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class Health:
    path: Path
    ok: bool
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class SafetyCopy:
    path: Path
    taken: datetime
    health: Health


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)


def check(path: Path) -> Health:
    """PRAGMA quick_check on the file (read-only): every page and index entry is readable."""
    if not path.is_file():
        return Health(path, False, (f"{path} does not exist",))
    try:
        conn = _read_only(path)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchmany(MAX_PROBLEMS)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        if "locked" in str(exc).lower():
            raise DatabaseError(describe_sqlite_error(exc, path)) from exc
        return Health(path, False, (str(exc),))
    problems = tuple(str(r[0]) for r in rows if str(r[0]) != "ok")
    return Health(path, not problems, problems)


def safety_copies(path: Path) -> list[SafetyCopy]:
    """The safety copies of the database at ``path``, newest first, each with its own check."""
    found = [
        p
        for p in path.parent.glob(f"{path.name}.bak-*")
        if p.is_file() and not p.name.endswith((".tmp", "-wal", "-shm", "-journal"))
    ]
    copies = [SafetyCopy(p, datetime.fromtimestamp(p.stat().st_mtime, UTC), check(p)) for p in found]
    return sorted(copies, key=lambda c: c.taken, reverse=True)


def refresh_checked_copy(path: Path) -> Path:
    """Copy a database that just passed the check to ``<name>.bak-checked`` (sqlite's online backup)."""
    target = path.with_name(path.name + CHECKED_SUFFIX)
    conn = sqlite3.connect(str(path), timeout=5)
    try:
        backup_file(conn, target)
    except sqlite3.Error as exc:
        raise DatabaseError(describe_sqlite_error(exc, path)) from exc
    finally:
        conn.close()
    return target


def restore(path: Path, copy: SafetyCopy) -> Path:
    """Move the damaged database aside and put ``copy`` in its place; returns where the damaged one
    went. Refuses while another program holds the database (its next write would land in the moved
    file, or bring back the damaged pages from its WAL)."""
    if not copy.health.ok:
        raise DatabaseError(
            f"The safety copy {copy.path} does not pass the check either; it was not restored."
        )
    _refuse_if_in_use(path)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    tmp = path.with_name(f"{path.name}.restore.tmp")
    try:
        shutil.copy2(copy.path, tmp)
        for suffix in ("", "-wal", "-shm"):
            part = Path(str(path) + suffix)
            if part.exists():
                os.replace(part, Path(str(aside) + suffix))
        os.replace(tmp, path)
    except OSError as exc:
        raise DatabaseError(f"Could not restore {copy.path} to {path}: {exc.strerror or exc}.") from exc
    finally:
        tmp.unlink(missing_ok=True)
    logger.warning("restored %s from the safety copy %s; the damaged file is %s", path, copy.path, aside)
    return aside


def _refuse_if_in_use(path: Path) -> None:
    try:
        conn = sqlite3.connect(str(path), timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN EXCLUSIVE")
            conn.execute("ROLLBACK")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        if "locked" in str(exc).lower() or "busy" in str(exc).lower():
            raise DatabaseError(describe_sqlite_error(exc, path)) from exc
        # a damaged file may refuse even this: it is not in use, which is all this asks
