"""db/connection.py: the handle the db/ functions take behaves as sqlite-utils' Database did (#25: it
replaces it so that opening the database does not import sqlite-utils). Each case runs the same
statements through both over real SQLite files and compares what a second connection sees."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from db.connection import Database
from db.database import open_database

ROOT = Path(__file__).resolve().parents[3]

Handle = Any  # db.connection.Database or sqlite_utils.Database


def _pair(tmp_path: Path) -> list[tuple[Handle, Path]]:
    out: list[tuple[Handle, Path]] = []
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    for name, make in (("ours", Database), ("sqlite_utils", sqlite_utils.Database)):
        path = folder / f"{name}.sqlite3"
        conn = sqlite3.connect(str(path))
        db = make(conn)
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
        out.append((db, path))
    return out


def _seen(path: Path) -> list[tuple[Any, ...]]:
    """The rows another connection sees (committed only)."""
    other = sqlite3.connect(str(path))
    try:
        return other.execute("SELECT id, name FROM t ORDER BY id").fetchall()
    finally:
        other.close()


def _same(tmp_path: Path, steps: Callable[[Handle], Any]) -> None:
    results = []
    for db, path in _pair(tmp_path):
        try:
            value: Any = steps(db)
        except Exception as exc:  # the same exception type and message
            value = (type(exc).__name__, str(exc))
        results.append((value, db.conn.in_transaction, _seen(path)))
        db.conn.close()
    assert results[0] == results[1]


def test_a_write_outside_a_transaction_is_committed_at_once(tmp_path: Path) -> None:
    _same(tmp_path, lambda db: db.execute("INSERT INTO t (name) VALUES (?)", ["a"]).rowcount)


def test_a_failed_write_leaves_no_transaction_open(tmp_path: Path) -> None:
    def steps(db: Handle) -> Any:
        db.execute("INSERT INTO t (name) VALUES ('a')")
        try:
            db.execute("INSERT INTO t (name) VALUES ('a')")
        except sqlite3.IntegrityError as exc:
            err = str(exc)
        db.execute("INSERT INTO t (name) VALUES ('b')")
        return err

    _same(tmp_path, steps)


def test_query_gives_dicts_with_repeated_columns_renamed(tmp_path: Path) -> None:
    def steps(db: Handle) -> Any:
        db.execute("INSERT INTO t (name) VALUES ('a')")
        return list(db.query("SELECT id, name, name, name AS name_2 FROM t WHERE name = :n", {"n": "a"}))

    _same(tmp_path, steps)


def test_query_refuses_a_statement_without_rows_and_undoes_it(tmp_path: Path) -> None:
    _same(tmp_path, lambda db: list(db.query("INSERT INTO t (name) VALUES ('x')")))
    _same(tmp_path, lambda db: list(db.query("BEGIN")))


def test_query_of_a_write_with_returning_completes_it(tmp_path: Path) -> None:
    _same(tmp_path, lambda db: list(db.query("INSERT INTO t (name) VALUES ('r') RETURNING id, name")))


def test_query_of_a_pragma(tmp_path: Path) -> None:
    _same(tmp_path, lambda db: [sorted(r) for r in db.query("PRAGMA table_info(t)")])


def test_atomic_nests_as_savepoints_and_rolls_back_what_raised(tmp_path: Path) -> None:
    def steps(db: Handle) -> Any:
        with db.atomic():
            db.execute("INSERT INTO t (name) VALUES ('outer')")
            try:
                with db.atomic():
                    db.execute("INSERT INTO t (name) VALUES ('inner')")
                    raise KeyError("inner")
            except KeyError:
                pass
            with db.atomic():
                db.execute("INSERT INTO t (name) VALUES ('kept')")
        try:
            with db.atomic():
                db.execute("INSERT INTO t (name) VALUES ('gone')")
                raise KeyError("outer")
        except KeyError:
            pass
        return db.table_names()

    _same(tmp_path, steps)


def test_atomic_after_a_trigger_ended_the_transaction(tmp_path: Path) -> None:
    def steps(db: Handle) -> Any:
        db.execute(
            "CREATE TRIGGER no_x BEFORE INSERT ON t WHEN NEW.name = 'x' "
            "BEGIN SELECT RAISE(ROLLBACK, 'no x'); END"
        )
        with db.atomic():
            db.execute("INSERT INTO t (name) VALUES ('a')")
            with db.atomic():
                db.execute("INSERT INTO t (name) VALUES ('x')")

    _same(tmp_path, steps)


def test_recursive_triggers_are_on_as_with_sqlite_utils(tmp_path: Path) -> None:
    _same(tmp_path, lambda db: db.execute("PRAGMA recursive_triggers").fetchone()[0])


def test_opening_a_current_database_does_not_import_sqlite_utils(tmp_path: Path) -> None:
    """Migrations need sqlite-utils; opening a database that is up to date does not (nor click,
    pluggy or dateutil, which it imports)."""
    path = tmp_path / "pd.sqlite3"
    open_database(path).conn.close()  # created and migrated here
    code = (
        "import sys\n"
        "from db.database import open_database\n"
        "from db import hosts, jobs, scans\n"
        "db = open_database(sys.argv[1])\n"
        "hosts.list_hosts(db); jobs.mark_interrupted(db)\n"
        "heavy = {'sqlite_utils', 'click', 'pluggy', 'dateutil'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


@pytest.mark.parametrize("stop_before", ["m010_baselines", None])
def test_migrations_still_upgrade_an_old_database_through_sqlite_utils(
    tmp_path: Path, stop_before: str | None
) -> None:
    """An old database (migrated part-way by sqlite-utils itself) is upgraded on open, with its safety
    copy, and its migration table names every migration once."""
    from db.database import schema_version
    from db.schema import MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "old.sqlite3"
    old = sqlite_utils.Database(path)
    MIGRATIONS.apply(old, stop_before=stop_before)
    old.execute("PRAGMA user_version = 9")
    old.conn.close()
    db = open_database(path)
    try:
        assert schema_version(db) == SCHEMA_VERSION
        names = [r["name"] for r in db.query("SELECT name FROM _sqlite_migrations ORDER BY id")]
        assert names == [m.name for m in MIGRATIONS._migrations]
        assert path.with_name("old.sqlite3.bak-v9").exists()
    finally:
        db.conn.close()
