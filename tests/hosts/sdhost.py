"""Test hosts with systemd as PID 1 (``HostCluster.start(n, systemd=True)``).

The same namespaces, overlay and loopback sshd as every test host (cluster.py), on the systemd base
(sdbase.py), plus what systemd needs to run as PID 1 of a container:

- a cgroup of its own: a directory under this machine's cgroup2 hierarchy
  (``<cgroup2 mount>/pdtest/<cluster id>_<name>``, works on a pure cgroup2 machine and on a hybrid one
  whose cgroup2 is at /sys/fs/cgroup/unified), which the host's init joins before it enters a new
  cgroup namespace and mounts cgroup2 at the host's /sys/fs/cgroup: systemd sees a delegated
  hierarchy whose root is that directory;
- ``container=patchdesk-test`` in PID 1's environment, so systemd runs in container mode (no udev,
  no getty on ttys, no kernel set-up);
- CAP_SYS_MODULE and CAP_SYS_TIME dropped from the bounding set: the hosts share this machine's
  kernel and clock, so units that would load modules or set the time are skipped by their conditions.

sshd is ssh.service; stopping a host is still SIGKILL of its PID 1, after which its cgroup directory
is removed. pd-ttl.service powers the host off after its time-to-live.

``systemctl reboot`` (or ``reboot``) inside reboots for real: systemd stops its units and calls
reboot(2), which in a child pid namespace ends the namespace's init with SIGHUP (poweroff: SIGINT); a
watcher thread sees that and boots the host again (same upper dir, a fresh /run and boot time), as a
machine comes back after a reboot. ``reboots`` counts them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from ._util import HostsError
from .cluster import SETUP_SCRIPT, START_TIMEOUT, TestHost, _owner_alive
from .sdbase import TTL_FILE, ensure_systemd_base

CGROUP_PARENT = "pdtest"
SYSTEMD = "/lib/systemd/systemd"

# The setup script's last step differs: join the host's own cgroup, enter a new cgroup namespace
# (rooted there), mount cgroup2 inside the host, then exec systemd as PID 1 with fewer capabilities.
_CHROOT_LINE = 'exec chroot "$R" /usr/local/sbin/pd-init\n'
assert SETUP_SCRIPT.endswith(_CHROOT_LINE)
SD_SETUP_SCRIPT = SETUP_SCRIPT.removesuffix(_CHROOT_LINE) + (
    f'echo "$PD_TTL" > "$R{TTL_FILE}"\n'
    'echo $$ > "$PD_CGROUP/cgroup.procs"\n'
    "exec unshare --cgroup /bin/sh -c '"
    'mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$0/sys/fs/cgroup"'
    ' && exec setpriv --bounding-set -sys_module,-sys_time chroot "$0" ' + SYSTEMD + '\' "$R"\n'
)

_available: tuple[bool, str] | None = None


def cgroup2_mount() -> Path | None:
    """Where this machine's cgroup2 hierarchy is mounted (/sys/fs/cgroup or .../unified), or None."""
    try:
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                left, _, right = line.partition(" - ")
                if right.split(" ", 1)[0] == "cgroup2":
                    return Path(left.split()[4])
    except OSError:
        return None
    return None


def systemd_hosts_available() -> tuple[bool, str]:
    """(True, "") when systemd can be PID 1 of a test host here; else (False, why, with the error)."""
    global _available
    if _available is None:
        _available = _check()
    return _available


def _check() -> tuple[bool, str]:
    mnt = cgroup2_mount()
    if mnt is None:
        return False, "no cgroup2 hierarchy is mounted (systemd needs one to delegate to the host)"
    probe = mnt / CGROUP_PARENT / f"probe-{os.getpid()}"
    try:
        probe.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return False, f"cannot create a cgroup under {mnt}: {exc}"
    try:
        cp = subprocess.run(
            ["unshare", "--cgroup", "--mount", "--fork", "sh", "-c", f"mount -t cgroup2 cgroup2 {probe}"],
            capture_output=True,
            text=True,
            timeout=20,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if cp.returncode != 0:
            return False, f"cannot mount cgroup2 in a new cgroup namespace: {cp.stderr.strip()[-300:]}"
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"cannot create a cgroup namespace here: {exc}"
    finally:
        with contextlib.suppress(OSError):
            probe.rmdir()
    missing = [t for t in ("setpriv",) if not any(Path(d, t).exists() for d in os.get_exec_path())]
    if missing:
        return False, f"systemd test hosts need: {', '.join(missing)} (util-linux)"
    return True, ""


def remove_cgroup(path: Path, timeout: float = 10.0) -> None:
    """rmdir a cgroup and its children, deepest first, once the processes in them have gone."""
    deadline = time.monotonic() + timeout
    while path.exists():
        dirs = sorted((d for d in path.rglob("*") if d.is_dir()), key=lambda d: len(d.parts), reverse=True)
        try:
            for d in [*dirs, path]:
                d.rmdir()
        except FileNotFoundError:
            continue
        except OSError as exc:
            if time.monotonic() > deadline:
                raise HostsError(f"cannot remove cgroup {path}: {exc}") from None
            time.sleep(0.05)


def prune_stale_cgroups() -> None:
    """Remove the cgroups of hosts whose owning test run is gone (their processes are gone too)."""
    mnt = cgroup2_mount()
    parent = mnt / CGROUP_PARENT if mnt else None
    if parent is None or not parent.is_dir():
        return
    for d in parent.iterdir():
        if not d.is_dir():
            continue
        if d.name[:1].isdigit() and not _owner_alive(d.name):
            with contextlib.suppress(HostsError, OSError):
                remove_cgroup(d, timeout=1.0)


class SystemdTestHost(TestHost):
    """A Debian test host whose PID 1 is systemd (sshd is ssh.service)."""

    __test__ = False

    # sshd logs a probe that closes without an identification as an error; answer like a client
    _probe_hello = b"SSH-2.0-patchdesk-test-probe\r\n"

    #: how many times the host rebooted itself (and was booted again by the watcher)
    reboots = 0

    def _launch(self) -> None:
        was = self._proc
        super()._launch()
        proc = self._proc
        if proc is not None and proc is not was:
            threading.Thread(
                target=self._watch, args=(proc,), name=f"{self.name}-reboot", daemon=True
            ).start()

    def stop(self) -> None:
        with self.cluster._lock:  # not while the watcher boots it again after a reboot
            super().stop()

    def _watch(self, proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
        """Boot the host again when its systemd rebooted (unshare passes on init's SIGHUP)."""
        proc.wait()
        if proc.returncode != -signal.SIGHUP or self._proc is not proc or self.cluster._stopped:
            return
        with self.cluster._lock:
            if self._proc is not proc or self.cluster._stopped:
                return  # stopped or started again by someone else meanwhile
            self._proc = None
            self._pid = None
            self.reboots += 1
            try:
                self._launch()
                self._await(time.monotonic() + START_TIMEOUT)
            except Exception as exc:  # a harness thread: say why in the console log, never raise
                with open(self._log, "a") as log:
                    log.write(f"--- boot after reboot failed: {exc}\n")

    @property
    def lower(self) -> Path:
        lower = getattr(self.cluster, "_systemd_lower", None)
        if lower is None:
            prune_stale_cgroups()
            lower = ensure_systemd_base(self.cluster.cache_dir)
            self.cluster._systemd_lower = lower  # type: ignore[attr-defined]
        return lower

    @property
    def cgroup(self) -> Path:
        mnt = cgroup2_mount()
        if mnt is None:
            raise HostsError("no cgroup2 hierarchy mounted")
        return mnt / CGROUP_PARENT / self._marker

    def _setup_script(self) -> Path:
        path = self.cluster.work_dir / "pd-setup-systemd.sh"
        if not path.exists():
            fd, tmp = tempfile.mkstemp(dir=self.cluster.work_dir)
            with os.fdopen(fd, "w") as fh:
                fh.write(SD_SETUP_SCRIPT)
            os.replace(tmp, path)
        return path

    def _extra_env(self) -> dict[str, str]:
        cg = self.cgroup
        if cg.exists():
            remove_cgroup(cg)
        cg.mkdir(parents=True)
        return {"PD_CGROUP": str(cg), "container": "patchdesk-test"}

    def _reap(self, timeout: float = 10.0) -> None:
        super()._reap(timeout)
        with contextlib.suppress(HostsError):
            remove_cgroup(self.cgroup)

    def wait_running(self, timeout: float = 30) -> str:
        """Wait until ``systemctl is-system-running`` has left "starting"; returns the state."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.run("systemctl is-system-running").stdout.strip()
            if state not in ("starting", "initializing", "") or time.monotonic() > deadline:
                return state
            time.sleep(0.1)


__all__ = ["SD_SETUP_SCRIPT", "SystemdTestHost", "cgroup2_mount", "systemd_hosts_available"]
