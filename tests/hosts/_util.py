"""Small helpers shared by the host builder and manager (stdlib only)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


class HostsError(RuntimeError):
    """Building or running the test hosts failed."""


def run(
    cmd: list[str], *, timeout: float = 600, input: str | bytes | None = None, **kw
) -> subprocess.CompletedProcess:
    """subprocess.run with check, captured output and an error that shows stderr."""
    text = not isinstance(input, bytes)
    try:
        cp = subprocess.run(
            cmd,
            capture_output=True,
            text=text,
            timeout=timeout,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            **kw,
        )
    except subprocess.TimeoutExpired as exc:
        raise HostsError(f"timed out after {timeout}s: {' '.join(map(str, cmd))}") from exc
    if cp.returncode != 0:
        err = cp.stderr if isinstance(cp.stderr, str) else cp.stderr.decode(errors="replace")
        raise HostsError(f"command failed ({cp.returncode}): {' '.join(map(str, cmd))}\n{err[-4000:]}")
    return cp


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path`` in this process's mount namespace."""
    p = str(Path(path).resolve()).rstrip("/")
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            mp = line.split()[4].replace("\\040", " ")
            if mp == p or mp.startswith(p + "/"):
                found.append(mp)
    return found


def safe_rmtree(path: Path) -> None:
    """rm -rf, but refuse if anything is mounted below (never delete through a bind mount)."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    mnts = mounts_under(path)
    if mnts:
        raise HostsError(f"refusing to delete {path}: still mounted: {mnts[:5]}")
    shutil.rmtree(path, ignore_errors=False)


def proc_start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
            data = fh.read()
    except OSError:
        return None
    return data.rsplit(")", 1)[1].split()[19]


def proc_environ(pid: int) -> list[bytes]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            return fh.read().split(b"\0")
    except OSError:
        return []


def proc_nspid(pid: int) -> list[int]:
    """The NSpid line of /proc/PID/status: pid in each nested pid namespace, outermost first."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("NSpid:"):
                    return [int(x) for x in line.split()[1:]]
    except (OSError, ValueError):
        pass
    return []


def all_pids() -> list[int]:
    return [int(n) for n in os.listdir("/proc") if n.isdigit()]


def which_all(names: list[str]) -> list[str]:
    """Names from ``names`` that are not on PATH (also looking in sbin dirs)."""
    path = os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin"
    return [n for n in names if shutil.which(n, path=path) is None]
