"""Issue #25: what a one-shot ``patchdesk scan`` pays from process start. The CLI never loads Qt, and a
scan goes through the whole path (job machinery, SSH transport) in a real process that exits
promptly. Real parts: the CLI as a subprocess, a real SQLite file, a refused TCP port on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.cli import main as cli

ROOT = Path(__file__).resolve().parents[3]

#: The CLI as the installed ``patchdesk`` script runs it, then what it left loaded.
SCRIPT = """
import sys
from ui.main import main
code = main(sys.argv[1:])
loaded = sorted(sys.modules)
print('LOADED=' + ','.join(loaded), file=sys.stderr)
sys.exit(code)
"""


def patchdesk(
    db_path: Path, *args: str, timeout: float = 60
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    r = subprocess.run(
        [sys.executable, "-c", SCRIPT, "--db", str(db_path), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ),
    )
    lines = [line for line in r.stderr.splitlines() if line.startswith("LOADED=")]
    assert lines, r.stderr
    return r, set(lines[-1].removeprefix("LOADED=").split(","))


def refused_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli_scan_never_imports_qt_and_exits_promptly(db_path: Path) -> None:
    port = refused_port()
    r, _ = patchdesk(db_path, "hosts", "add", "web01", "--address", "127.0.0.1", "--port", str(port))
    assert r.returncode == 0, r.stderr
    t0 = time.monotonic()
    r, loaded = patchdesk(db_path, "scan", "--all", "--json", "--connect-timeout", "5")
    elapsed = time.monotonic() - t0
    assert r.returncode == 1, r.stderr  # the host could not be seen: said so, not "nothing pending"
    entry = json.loads(r.stdout)["hosts"][0]
    assert entry["status"] == "unreachable" and "refused" in entry["error"].lower()
    assert "paramiko" in loaded  # the whole path ran, through the SSH transport
    assert not {m.split(".")[0] for m in loaded} & {"PySide6", "shiboken6"}, "the CLI imported Qt"
    # paramiko's optional task runner (with asyncio and unittest.mock) and the Windows runner are
    # not what a scan over SSH needs
    assert not loaded & {"invoke", "asyncio", "unittest.mock", "app.transports.local_windows"}
    # a scan runs no patch, rollback or verification: their machinery is imported when a job needs it
    assert not loaded & {"app.jobs.patching", "app.jobs.rollback", "app.jobs.verification"}
    # nor the patch session's machinery, nor the baseline (drift) checks of a host that has none
    assert not loaded & {"app.jobs.host_session", "app.jobs.drift", "app.platforms.windows"}
    # the database was current: sqlite-utils (with click, pluggy and dateutil's parser) is only for
    # migrating it (db/migrations.py)
    assert not {m.split(".")[0] for m in loaded} & {"sqlite_utils", "click", "pluggy", "dateutil"}
    # a refused connection is immediate; the rest is start-up and exit, which must not wait on
    # anything (kept connections, thread pools)
    assert elapsed < 20, f"the CLI took {elapsed:.1f} s for one refused host"


def test_cli_commands_without_hosts_load_neither_qt_nor_ssh(db_path: Path) -> None:
    for args in (["hosts", "list", "--json"], ["report", "--format", "json"]):
        r, loaded = patchdesk(db_path, *args)
        assert r.returncode == 0, (args, r.stderr)
        top = {m.split(".")[0] for m in loaded}
        assert not top & {"PySide6", "shiboken6", "paramiko", "winrm", "keyring"}, (args, top)


def test_paramiko_without_invoke_leaves_invoke_to_others() -> None:
    code = (
        "import sys\n"
        "from app.transports.ssh import SshTransport\n"
        "import paramiko.config\n"
        "assert 'invoke' not in sys.modules and paramiko.config.invoke is None\n"
        "import invoke\n"  # still importable by anyone who wants it
        "print('ok', invoke.__name__)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok invoke", r.stderr


JOB_COMMANDS = (
    ["scan", "--all"],
    ["--db", "x.db", "-v", "scan", "web01", "--full", "--json", "--concurrency", "5"],
    ["--db=x.db", "patch", "--all", "--packages", "a,b", "--dry-run"],
    ["verify", "web01"],
    ["--no-first-run", "rollback", "--all", "--job", "3"],
    ["history", "web01", "--limit", "5"],
    # usage errors: the same sentence and status as from the full parser
    ["scan", "--concurrency", "many"],
    ["scan", "--deadline", "nan", "--all"],
    ["scan", "--all", "--bogus"],
    ["history"],
    ["scan", "--help"],
)


def _outcome(parse: object, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[object, str, str]:
    try:
        result: object = vars(parse(argv))  # type: ignore[operator]
    except SystemExit as exc:
        result = ("exit", exc.code)
    captured = capsys.readouterr()
    return result, captured.out, captured.err


@pytest.mark.parametrize("argv", JOB_COMMANDS)
def test_job_commands_parse_with_their_group_alone_exactly_as_with_all(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli._command_word(argv) in cli._JOB_COMMANDS
    fast = _outcome(cli.parse, argv, capsys)
    full = _outcome(lambda a: cli.build_parser().parse_args(a), argv, capsys)
    assert fast == full


@pytest.mark.parametrize(
    "argv", [["hosts", "list"], ["--help"], ["--version"], ["--db"], ["-h", "scan"], ["--d", "x", "scan"]]
)
def test_other_commands_and_leading_options_take_the_full_parser(argv: list[str]) -> None:
    assert cli._command_word(argv) not in cli._JOB_COMMANDS


def test_a_job_command_does_not_build_the_other_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    real = cli.build_parser

    def spy(only: object = None) -> object:
        built.append("only" if only else "all")
        return real(only)  # type: ignore[arg-type]

    monkeypatch.setattr(cli, "build_parser", spy)
    cli.parse(["--db", "x.db", "scan", "--all"])
    cli.parse(["hosts", "list"])
    assert built == ["only", "all"]


def test_the_job_runner_of_a_command_freezes_what_start_up_built(db_path: Path) -> None:
    import gc

    from app.cli import jobs

    gc.unfreeze()
    runner = jobs._runner(cli.parse(["--db", str(db_path), "scan", "--all"]))
    try:
        assert gc.get_freeze_count() > 0
        assert runner.pool.idle == 0  # one job, then the process ends: no connection is kept
    finally:
        runner.close()
        gc.unfreeze()


#: The CLI exactly as the installed ``patchdesk`` script runs it: ``main()`` reads the process's own
#: command line, so it may end the process the quick way (app/cli/main.py end_process). The atexit
#: line shows which way it ended: only the interpreter's ordinary exit prints it.
CONSOLE_SCRIPT = """
import atexit, sys
atexit.register(lambda: print('ORDINARY-EXIT', file=sys.stderr))
from ui.main import main
sys.exit(main())
"""


def console(db_path: Path, *args: str, script: str = CONSOLE_SCRIPT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, "--db", str(db_path), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )


def test_quick_exit_of_a_failed_scan_keeps_its_results_and_exit_code(db_path: Path) -> None:
    """The one-shot scan skips the WAL checkpoint of closing its database (the next opener does it):
    everything it committed is there for the next process, and a failed host still exits 1."""
    import sqlite3

    from app.domain.models import JobKind, JobState, StepState
    from db import jobs as db_jobs
    from db.database import open_database

    port = refused_port()
    r, _ = patchdesk(db_path, "hosts", "add", "web01", "--address", "127.0.0.1", "--port", str(port))
    assert r.returncode == 0, r.stderr
    r = console(db_path, "scan", "--all", "--json")
    assert r.returncode == 1, r.stderr  # the host could not be seen
    assert "ORDINARY-EXIT" not in r.stderr  # it ended the quick way
    job_id = json.loads(r.stdout)["job"]
    # The checkpoint was skipped: the WAL outlives the process (an ordinary close removes it).
    wal = db_path.with_name(db_path.name + "-wal")
    assert wal.exists() and wal.stat().st_size > 0
    # A plain SQLite connection sees the committed job (read from the WAL), and the database is sound.
    raw = sqlite3.connect(str(db_path))
    try:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert raw.execute("SELECT count(*) FROM jobs WHERE id = ?", (job_id,)).fetchone()[0] == 1
    finally:
        raw.close()
    db = open_database(db_path)
    try:
        job = db_jobs.get_job(db, job_id)
        assert job is not None and job.kind is JobKind.SCAN and job.state is JobState.FINISHED
        assert job.finished_at is not None
        [step] = db_jobs.job_hosts(db, job_id)
        assert step.state is StepState.UNREACHABLE and "refused" in (step.error or "").lower()
    finally:
        db.conn.close()
    # The next CLI process reads the same history.
    r, _ = patchdesk(db_path, "history", "web01", "--json")
    assert r.returncode == 0, r.stderr
    assert str(job_id) in r.stdout


def test_quick_exit_only_for_a_job_command_that_ran_to_its_end(db_path: Path, tmp_path: Path) -> None:
    """Other commands, and a job command that stopped on an error, end the ordinary way."""
    r = console(db_path, "hosts", "list", "--json")
    assert r.returncode == 0 and "ORDINARY-EXIT" in r.stderr, r.stderr
    # A usage error of a job command (exit 2) is not "ran to its end".
    r = console(db_path, "scan")
    assert r.returncode == 2 and "ORDINARY-EXIT" in r.stderr, r.stderr
    # An empty inventory is a known condition with a sentence, and its exit status stays its own.
    r = console(db_path, "scan", "--all")
    assert r.returncode == 2 and "ORDINARY-EXIT" in r.stderr, r.stderr
    assert "inventory is empty" in r.stderr


def test_json_output_is_one_write_not_one_per_token() -> None:
    """json.dump hands the stream each token (a 50-host scan report: tens of thousands of writes, each a
    system call when stdout is unbuffered: 26 ms of CPU, 50 ms into a pipe). The text is the same."""
    import io

    from app.cli.common import dump_json

    class Counting(io.StringIO):
        writes = 0

        def write(self, s: str) -> int:
            self.writes += 1
            return super().write(s)

    data = {
        "job": 7,
        "hosts": [{"name": f"h{i}", "pending": [{"cves": ["CVE-1", "ü"]}] * 3} for i in range(20)],
    }
    out = Counting()
    dump_json(out, data)
    expected = io.StringIO()
    json.dump(data, expected, indent=2)
    assert out.getvalue() == expected.getvalue() + "\n"
    assert out.writes == 1


def test_connecting_to_an_ascii_address_skips_the_idna_codec(tmp_path: Path) -> None:
    """Given a str host, socket encodes it with the pure-Python idna codec (imported with unicodedata
    and stringprep on every one-shot scan); an ASCII name or address goes to the resolver as bytes.
    A malformed name from the SSH config is then the resolver's "does not resolve" sentence, where the
    codec raised a UnicodeError (a bug report)."""
    config = tmp_path / "ssh_config"
    config.write_text("Host odd\n    HostName a..b.invalid\n")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from app.domain.errors import UnreachableError\n"
        "from app.domain.models import Host\n"
        "from app.transports.ssh import SshTransport\n"
        "def reach(address, port, config):\n"
        "    host = Host(name='h', address=address, port=port, user='root')\n"
        "    t = SshTransport(host, ssh_config=Path(config), look_for_keys=False, allow_agent=False)\n"
        "    try:\n"
        "        t.run('true')\n"
        "    except UnreachableError as exc:\n"
        "        return str(exc)\n"
        "print(reach('127.0.0.1', int(sys.argv[1]), '/dev/null'))\n"
        "print('encodings.idna' in sys.modules)\n"
        "print(reach('odd', 22, sys.argv[2]))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, str(refused_port()), str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    refused, idna, malformed = r.stdout.splitlines()
    assert "connection refused" in refused
    assert idna == "False"
    assert "the name a..b.invalid does not resolve" in malformed


#: The installed script's way in, reporting whether the cyclic collector runs at three points.
GC_SCRIPT = """
import gc, sys
import app.cli.jobs as jobs
import app.cli.main as cli
real_runner, real_run = jobs._runner, cli.run
def say(where):
    print(f'GC {where} {gc.isenabled()}', file=sys.stderr, flush=True)
def runner(args):
    say('before-runner'); r = real_runner(args); say('after-runner'); return r
def run(args, out=None):
    say('command'); return real_run(args, out)
jobs._runner, cli.run = runner, run
from ui.main import main
sys.exit(main())
"""


def test_a_one_shot_command_loads_without_the_collector_and_resumes_it(db_path: Path) -> None:
    """A job command's imports run with the cyclic collector paused (work for nothing: what start-up
    builds is never garbage); it runs again once the job machinery is in, and for every other command
    from the start of the command."""

    def points(*args: str) -> list[str]:
        r = console(db_path, *args, script=GC_SCRIPT)
        return [line.removeprefix("GC ") for line in r.stderr.splitlines() if line.startswith("GC ")]

    port = refused_port()
    assert points("hosts", "add", "web01", "--address", "127.0.0.1", "--port", str(port)) == ["command True"]
    assert points("scan", "--all", "--connect-timeout", "5") == [
        "command False",
        "before-runner False",
        "after-runner True",
    ]
