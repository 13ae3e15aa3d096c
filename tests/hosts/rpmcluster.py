"""Real dnf/rpm test hosts: the Debian hosts' recipe plus rpm, dnf and a local dnf repository.

    from tests.hosts import RpmHostCluster
    with RpmHostCluster() as cluster:
        hosts = cluster.start(2)          # pdrpm01..02 on 127.0.20.1..2:22, real sshd + dnf/rpm
        hosts[0].run("dnf -q check-update")
        hosts[0].installed_version("pd-secfix")   # "1.0-1"

Same hosts as cluster.py (namespaces + overlay + chroot + sshd, same users, same faults), on their own
base (rpmbase.py) and on their own loopback subnet (127.0.20.x), so a Debian pool (127.0.10.x) and an
rpm pool can run in one pytest session. See tests/hosts/README.md.
"""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from ._util import HostsError
from .cluster import HostCluster, TestHost
from .rpmbase import ensure_rpm_base

DEFAULT_RPM_SUBNET = "127.0.20"
DEFAULT_RPM_PREFIX = "pdrpm"

# Holds dnf's RPMDB lock the way a running dnf transaction does (dnf's own ProcessLock, so the pid file
# and flock are exactly dnf's), until stdin closes. Another dnf then waits ("Waiting for process with
# pid N to finish.") or, with exit_on_lock, exits 200 ("RPMDB already locked by N").
DNF_LOCK_HOLDER = r"""
import os, sys
import dnf.lock
lock = dnf.lock.build_rpmdb_lock("/var/lib/dnf", True)
lock.__enter__()
sys.stdout.write("locked %d\n" % os.getpid())
sys.stdout.flush()
sys.stdin.read()
lock.__exit__(None, None, None)
"""


class RpmTestHost(TestHost):
    """A test host whose system package manager is dnf (rpm database of synthetic packages only)."""

    __test__ = False

    def installed_version(self, pkg: str) -> str | None:
        """``VERSION-RELEASE`` (``EPOCH:`` in front when the epoch is not 0) from ``rpm -q --qf``."""
        cp = self.run("rpm -q --qf '%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n' -- " + shlex.quote(pkg))
        if cp.returncode != 0:
            return None
        lines = cp.stdout.split()
        if not lines:
            return None
        epoch, _, vr = lines[-1].partition(":")
        return vr if epoch == "0" else f"{epoch}:{vr}"

    @contextlib.contextmanager
    def hold_rpm_lock(self, timeout: float = 20) -> Iterator[int]:
        """A process inside the host holds dnf's RPMDB lock until the block ends; yields its pid
        (as seen inside the host, the one dnf names)."""
        p = subprocess.Popen(
            self._nsenter(["python3", "-c", DNF_LOCK_HOLDER]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self._env(),
            start_new_session=True,
        )
        try:
            fd = p.stdout.fileno()  # type: ignore[union-attr]
            line = b""
            deadline = time.monotonic() + timeout
            while not line.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    raise HostsError(f"{self.name}: rpm lock holder did not start")
                chunk = os.read(fd, 100)
                if not chunk:
                    err = p.stderr.read().decode(errors="replace")  # type: ignore[union-attr]
                    raise HostsError(f"{self.name}: could not take dnf's RPMDB lock: {err}")
                line += chunk
            yield int(line.split()[1])
        finally:
            with contextlib.suppress(BrokenPipeError, OSError):
                p.stdin.close()  # type: ignore[union-attr]
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)
            for f in (p.stdout, p.stderr):
                if f:
                    f.close()

    # the Debian name works too, so generic fault tests can say "hold the package lock"
    hold_package_lock = hold_rpm_lock


class RpmHostCluster(HostCluster):
    """A HostCluster of :class:`RpmTestHost` on the rpm base, by default on 127.0.20.x."""

    host_class = RpmTestHost

    def __init__(
        self,
        cache_dir: Path | None = None,
        work_dir: Path | None = None,
        *,
        subnet: str = DEFAULT_RPM_SUBNET,
        ttl: float | None = None,
    ) -> None:
        kwargs = {} if ttl is None else {"ttl": ttl}
        super().__init__(cache_dir, work_dir, subnet=subnet, **kwargs)

    def _ensure_lower(self) -> Path:
        return ensure_rpm_base(self.cache_dir)

    def start(self, n: int, prefix: str = DEFAULT_RPM_PREFIX, timeout: float | None = None) -> list[TestHost]:
        """Start ``n`` more hosts, named f"{prefix}{i:02d}" at {subnet}.i."""
        if timeout is None:
            return super().start(n, prefix=prefix)
        return super().start(n, prefix=prefix, timeout=timeout)


__all__ = ["DNF_LOCK_HOLDER", "RpmHostCluster", "RpmTestHost"]
