"""Issue #19: the CLI's error boundary. A locked or damaged database, a closed pipe, an absurd option
value: a sentence and an exit status, never a traceback, and nothing reported done that was not
committed. Real SQLite files: a second connection holds BEGIN EXCLUSIVE; garbage bytes are written
into the middle of a real database file."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import main as cli
from app.domain.models import Host
from app.services import inventory

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """A short busy timeout (the real one is 5 s), and no process-wide logging set-up per test."""
    import app.logsetup
    import db.database

    monkeypatch.setattr(db.database, "BUSY_TIMEOUT_MS", 300)
    monkeypatch.setattr(app.logsetup, "setup_logging", lambda **kw: None)


def run(capsys: pytest.CaptureFixture[str], db_path: Path, *argv: str) -> tuple[int, str, str]:
    out = io.StringIO()
    rc = cli.run(cli.parse(["--db", str(db_path), *argv]), out)
    return rc, out.getvalue(), capsys.readouterr().err


def no_traceback(err: str) -> None:
    assert "Traceback" not in err and "OperationalError" not in err and "sqlite3." not in err, err


@pytest.fixture
def locked(db, db_path: Path) -> Iterator[sqlite3.Connection]:  # type: ignore[no-untyped-def]
    """Another program holding the database's write lock (BEGIN EXCLUSIVE)."""
    inventory.add_host(db, Host(name="web01", address="127.0.0.1"))
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    yield other
    other.execute("ROLLBACK")
    other.close()


def _count(db_path: Path, sql: str) -> int:
    conn = sqlite3.connect(db_path)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


# -- item 3: SQLite errors become tracebacks ----------------------------------------------------------


def test_sqlite_errors_become_tracebacks_locked_hosts_add(capsys, db_path, locked) -> None:  # type: ignore[no-untyped-def]
    rc, out, err = run(capsys, db_path, "hosts", "add", "web02", "--address", "127.0.0.2")
    assert rc == cli.EXIT_FAILED and "Added" not in out
    no_traceback(err)
    assert "locked by another program" in err and "close" in err
    locked.execute("ROLLBACK")
    locked.execute("BEGIN")
    assert _count(db_path, "SELECT count(*) FROM hosts WHERE name = 'web02'") == 0


def test_sqlite_errors_become_tracebacks_locked_hosts_import(capsys, db_path, locked, tmp_path) -> None:  # type: ignore[no-untyped-def]
    csv = tmp_path / "hosts.csv"
    csv.write_text("name,address\n" + "".join(f"h{i}.invalid,127.0.0.1\n" for i in range(20)))
    rc, out, err = run(capsys, db_path, "hosts", "import", str(csv))
    assert rc == cli.EXIT_FAILED and "Imported" not in out
    no_traceback(err)
    assert "locked" in err


def test_sqlite_errors_become_tracebacks_locked_report_writes_no_file(
    capsys, db_path, locked, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "report.html"
    rc, _out, err = run(capsys, db_path, "report", "--format", "html", "-o", str(target))
    assert rc == cli.EXIT_FAILED
    no_traceback(err)
    assert "locked" in err and "Wrote" not in err
    assert not target.exists(), "the report was written although its audit entry could not be"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report.html")], (
        "a temporary file was left"
    )


def _corrupt(db_path: Path) -> None:
    """Garbage over pages in the middle of the file (the hosts table's among them)."""
    conn = sqlite3.connect(db_path)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'hosts'").fetchone()[0]
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with open(db_path, "r+b") as fh:
        fh.seek((root - 1) * page)
        fh.write(b"\xa5" * page * 3)


@pytest.fixture
def corrupt(db, db_path: Path) -> Path:  # type: ignore[no-untyped-def]
    for i in range(300):
        inventory.add_host(db, Host(name=f"h{i:03d}.invalid", address="127.0.0.1", group="web"))
    db.conn.close()
    _corrupt(db_path)
    return db_path


def test_sqlite_errors_become_tracebacks_corrupt_file_says_db_check(capsys, corrupt) -> None:  # type: ignore[no-untyped-def]
    for argv in (["hosts", "list"], ["report"], ["hosts", "add", "new", "--address", "127.0.0.1"]):
        rc, out, err = run(capsys, corrupt, *argv)
        assert rc == cli.EXIT_FAILED, (argv, out)
        no_traceback(err)
        assert "damaged" in err and "patchdesk db check" in err, err
        assert "Added" not in out


def test_sqlite_errors_become_tracebacks_db_check_restores_the_safety_copy(capsys, db, db_path) -> None:  # type: ignore[no-untyped-def]
    for i in range(300):
        inventory.add_host(db, Host(name=f"h{i:03d}.invalid", address="127.0.0.1"))
    db.conn.close()
    rc, out, _err = run(capsys, db_path, "db", "check")
    assert rc == cli.EXIT_OK and "passes the check" in out  # and refreshes the safety copy
    rc, out, _err = run(capsys, db_path, "hosts", "add", "late.invalid", "--address", "127.0.0.1")
    assert rc == cli.EXIT_OK  # audit entry 301: after the copy, lost with the damaged file
    _corrupt(db_path)
    rc, out, _err = run(capsys, db_path, "db", "check")
    assert rc == cli.EXIT_FAILED and "is damaged" in out and "--restore" in out
    rc, out, _err = run(capsys, db_path, "db", "check", "--restore")
    assert rc == cli.EXIT_OK and "Restored" in out and "audit entries 301..301" in out
    assert list(db_path.parent.glob(f"{db_path.name}.damaged-*")), "the damaged file was not kept"
    rc, out, err = run(capsys, db_path, "hosts", "list")
    assert rc == cli.EXIT_OK and "h299.invalid" in out and "late.invalid" not in out, err
    rc, out, err = run(capsys, db_path, "audit", "list", "--limit", "1", "--json")
    assert "database.restored" in out and "301..301" in out


# -- item 12: imports are not atomic -------------------------------------------------------------------


def test_imports_are_not_atomic_lock_taken_halfway_leaves_nothing(capsys, db, db_path, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Another program takes the lock halfway through: all rows with their audit entry, or nothing."""
    intruder = sqlite3.connect(db_path, isolation_level=None, timeout=0)
    took: list[bool] = []

    def hosts() -> Iterator[Host]:
        for i in range(500):
            if i == 250:
                try:
                    intruder.execute("BEGIN EXCLUSIVE")
                    took.append(True)
                except sqlite3.OperationalError:
                    took.append(False)
            yield Host(name=f"h{i:03d}.invalid", address="127.0.0.1")

    try:
        outcome = inventory.import_hosts(db, hosts(), "hosts.csv")
    except Exception as exc:  # the lock won: nothing may be left behind, and the error is a sentence
        from app.domain.errors import DatabaseError

        assert isinstance(exc, DatabaseError), repr(exc)
        outcome = None
    finally:
        if intruder.in_transaction:
            intruder.execute("ROLLBACK")
        intruder.close()
    hosts_kept = _count(db_path, "SELECT count(*) FROM hosts")
    audited = _count(db_path, "SELECT count(*) FROM audit_log WHERE action = 'hosts.imported'")
    if outcome is None:
        assert (hosts_kept, audited) == (0, 0)
    else:
        assert took == [False], "another program could take the lock in the middle of the import"
        assert (hosts_kept, audited, len(outcome.added)) == (500, 1, 500)


# -- item 13: other tracebacks -------------------------------------------------------------------------


def test_other_tracebacks_export_ics_huge_days(capsys, db_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as stop:
        run(capsys, db_path, "export", "ics", "--days", "100000000")
    assert stop.value.code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "--days" in err and "Traceback" not in err


def _cli(db_path: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "ui.main", "--db", str(db_path), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )


@pytest.mark.parametrize("argv", [["hosts", "list"], ["audit", "list", "--limit", "5000"]])
def test_other_tracebacks_broken_pipe(db, db_path, argv: list[str]) -> None:  # type: ignore[no-untyped-def]
    """`patchdesk hosts list | head -1`: the reader goes away after the first line. Far more output
    than a pipe buffers (64 KiB), so the writer does meet the closed pipe."""
    from app.services import audit

    inventory.import_hosts(
        db, [Host(name=f"h{i:04d}.invalid", address="127.0.0.1") for i in range(3000)], "t"
    )
    for i in range(1500):
        audit.record(db, audit.HOST_KEY_FORGOTTEN, f"h{i:04d}.invalid", {})
    db.conn.close()
    proc = _cli(db_path, *argv)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # as `head -1` does
    err = proc.stderr.read().decode()
    proc.stderr.close()
    proc.wait(60)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert proc.returncode == 141, (proc.returncode, err)


# -- item 14: unchecked values --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "-1", "0", "inf", "1e300"])
@pytest.mark.parametrize("command", [["scan", "--all"], ["patch", "--all"], ["run-due"]])
def test_unchecked_values_deadline(capsys, db_path, command: list[str], value: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as stop:
        cli.parse(["--db", str(db_path), *command, "--deadline", value])
    assert stop.value.code == cli.EXIT_USAGE
    assert "--deadline" in capsys.readouterr().err


@pytest.mark.parametrize("group", ["web\x1b[31m", "web\r\nx,evil", "a\x00b"])
def test_unchecked_values_control_characters_in_group_names(capsys, db_path, group: str) -> None:  # type: ignore[no-untyped-def]
    rc, _out, err = run(capsys, db_path, "hosts", "add", "web01", "--address", "127.0.0.1", "--group", group)
    assert rc == cli.EXIT_USAGE and "control characters" in err
    rc, _out, err = run(
        capsys, db_path, "windows", "add", "w", "--rrule", "FREQ=WEEKLY;BYDAY=SA", "--duration", "60",
        "--tz", "UTC", "--groups", f"ok,{group}",
    )  # fmt: skip
    assert rc == cli.EXIT_USAGE and "control characters" in err
    rc, out, _err = run(capsys, db_path, "report")
    assert "\x1b" not in out and "\x00" not in out


def test_unchecked_values_control_characters_in_imported_group_names(db) -> None:  # type: ignore[no-untyped-def]
    rows = [
        Host(name="a.invalid", address="127.0.0.1", group="ok"),
        Host(name="b.invalid", address="127.0.0.1", group="x\x1by"),
    ]
    outcome = inventory.import_hosts(db, rows, "hosts.csv", lines={"a.invalid": 2, "b.invalid": 3})
    assert outcome.added_names == ["a.invalid"]
    assert len(outcome.problems) == 1 and outcome.problems[0].startswith("line 3:")


# -- the boundary: every known family a sentence, a bug one line and its traceback in the log only ------


def test_boundary_known_families_and_bugs(capsys, db_path, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import logging

    from app.cli import boundary

    class FakeKeyringError(Exception):
        pass

    FakeKeyringError.__module__ = "keyring.errors"
    assert "keyring" in str(boundary.known_error(FakeKeyringError("locked collection")))
    assert boundary.known_error(sqlite3.OperationalError("database is locked")) is not None
    assert boundary.known_error(sqlite3.DatabaseError("database disk image is malformed")) is not None
    known = boundary.known_error(PermissionError(13, "Permission denied", "/x/y.csv"))
    assert known is not None and "/x/y.csv" in str(known) and "Permission denied" in str(known)
    assert boundary.known_error(KeyError("bug")) is None
    try:
        __import__("json").loads("[" * 200_000)
    except RecursionError as exc:
        assert "nested too deeply" in str(boundary.known_error(exc))

    def recurse() -> None:
        recurse()

    try:
        recurse()
    except RecursionError as exc:
        assert boundary.known_error(exc) is None  # our own recursion is a bug, not bad input

    log = tmp_path / "patchdesk.log"
    handler = logging.FileHandler(log)
    logging.getLogger().addHandler(handler)
    try:

        def bug(args, out):  # type: ignore[no-untyped-def]
            return {}["missing"]

        args = cli.parse(["--db", str(db_path), "hosts", "list"])
        args.func = bug
        rc = cli.run(args, io.StringIO())
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    err = capsys.readouterr().err
    assert rc == cli.EXIT_BUG and "internal error" in err and "Traceback" not in err
    assert str(log) in err and "Traceback" in log.read_text()


def test_unchecked_values_control_characters_already_stored_never_reach_csv(capsys, db, db_path) -> None:  # type: ignore[no-untyped-def]
    """A database written before names were checked: the CSV on stdout shows "?" instead."""
    from db import hosts as db_hosts

    db_hosts.add_host(db, Host(name="a.invalid", address="127.0.0.1", group="x\x1b[2Jy\r\nz"))
    rc, out, _err = run(capsys, db_path, "report")
    assert rc == cli.EXIT_OK and "x?[2Jy??z" in out and "\x1b" not in out


def test_boundary_broken_pipe_elsewhere_is_not_silenced(capsys, db_path) -> None:  # type: ignore[no-untyped-def]
    """Only our own output's reader going away is `| head`; a broken pipe to a host or file is an error."""

    def writes_to_a_dead_socket(args, out):  # type: ignore[no-untyped-def]
        raise BrokenPipeError(32, "Broken pipe")

    def interrupted(args, out):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    args = cli.parse(["--db", str(db_path), "hosts", "list"])
    args.func = writes_to_a_dead_socket
    assert cli.run(args, io.StringIO()) == cli.EXIT_FAILED
    assert "Broken pipe" in capsys.readouterr().err
    args.func = interrupted
    assert cli.run(args, io.StringIO()) == 130
    assert "interrupted" in capsys.readouterr().err
