"""app/transports/local.py: the workstation through subprocess, same contract as SSH."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from app.domain.errors import CancelledError, CommandTimeoutError, DeadlineExceededError, TransportError
from app.transports.base import Deadline
from app.transports.local import LocalTransport

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the local transport runs sh -c")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) counts as gone
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def test_runs_and_separates_streams() -> None:
    t = LocalTransport()
    res = t.run("echo out; echo err >&2; exit 3")
    assert (res.exit_status, res.stdout, res.stderr) == (3, b"out\n", b"err\n")
    assert not res.ok


def test_list_arguments_are_data_not_code(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    hostile = f"$(touch {target})"
    res = LocalTransport().run(["echo", hostile, "; touch", str(target), "`id`"])
    assert res.stdout.decode() == f"{hostile} ; touch {target} `id`\n"
    assert not target.exists()


def test_env_is_quoted_and_stdin_is_fed() -> None:
    res = LocalTransport().run('printf "%s|" "$A"; cat', env={"A": "x y'$(id)"}, stdin=b"in\x00put")
    assert res.stdout == b"x y'$(id)|in\x00put"


def test_stdin_eof_when_none_given() -> None:
    res = LocalTransport().run("cat; echo done", timeout=5)
    assert res.stdout == b"done\n"


def test_non_utf8_and_streaming_order() -> None:
    seen: list[tuple[str, bytes]] = []
    script = r"printf '\377\376a\n'; sleep 0.2; printf 'b\n' >&2; sleep 0.2; printf 'c\n'"
    res = LocalTransport().run(script, on_output=lambda s, c: seen.append((s, c)))
    assert res.stdout == b"\xff\xfea\nc\n"
    assert res.out == "\ufffd\ufffda\nc\n"
    assert [s for s, _ in seen] == ["stdout", "stderr", "stdout"]


def test_huge_output_is_capped() -> None:
    t = LocalTransport()
    t.max_output = 1024 * 1024
    total = 0

    def count(stream: str, chunk: bytes) -> None:
        nonlocal total
        total += len(chunk)

    res = t.run("head -c 5000000 /dev/zero", on_output=count)
    assert total == 5_000_000  # the callback saw everything
    assert res.stdout.startswith(b"\0" * t.max_output)
    assert f"{5_000_000 - t.max_output} more bytes of output dropped".encode() in res.stdout[t.max_output :]
    assert len(res.stdout) < t.max_output + 100


def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    t = LocalTransport()
    start = time.monotonic()
    with pytest.raises(CommandTimeoutError, match=r"did not finish within 1 s on this workstation"):
        t.run(f"sleep 60 & echo $! > {pidfile}; wait", timeout=1)
    assert time.monotonic() - start < 2.5
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 3
    while pid_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(child), "the background child survived the timeout"


def test_deadline_and_cancel() -> None:
    t = LocalTransport(deadline=Deadline(0.5))
    start = time.monotonic()
    with pytest.raises(DeadlineExceededError):
        t.run("sleep 30", timeout=30)
    assert time.monotonic() - start < 2

    cancel = threading.Event()
    t = LocalTransport(deadline=Deadline(None, cancel))
    threading.Timer(0.3, cancel.set).start()
    start = time.monotonic()
    with pytest.raises(CancelledError):
        t.run("sleep 30", timeout=30)
    assert time.monotonic() - start < 2
    with pytest.raises(CancelledError):
        t.run("true")  # a cancelled job starts nothing new


def test_sudo_as_root_runs_directly() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to show that sudo is skipped")
    res = LocalTransport().run("id -u", sudo=True)
    assert res.stdout == b"0\n"


def test_put_and_get(tmp_path: Path) -> None:
    t = LocalTransport()
    path = tmp_path / "f.conf"
    t.put(b"a\0b", str(path), mode=0o600)
    assert t.get(str(path)) == b"a\0b"
    assert path.stat().st_mode & 0o777 == 0o600
    assert list(tmp_path.iterdir()) == [path]  # no temporary left behind
    with pytest.raises(TransportError, match="Could not read"):
        t.get(str(tmp_path / "missing"))
    with pytest.raises(TransportError, match="Could not write"):
        t.put(b"x", str(tmp_path / "no" / "dir" / "f"))
    t.close()
    t.close()
