"""Real Debian test hosts on this machine: namespaces + overlay + chroot, each running OpenSSH.

Each host is ``setsid unshare --uts --mount --pid --ipc [--time] --fork --kill-child`` running a setup
script that mounts an overlay (lower: the shared cached base, upper: the host's own directory), proc,
read-only sysfs, tmpfs /run and a small /dev, sets the hostname and ``exec chroot``s into pd-init,
which starts sshd on 127.0.10.N:22 and reaps orphans until its time-to-live runs out.  Every mount
lives only in the host's private mount namespace, so killing the host's PID 1 removes all of its
processes and all of its mounts.

Processes are only ever killed after checking that /proc/PID/environ carries this cluster's marker
(PATCHDESK_TEST_HOST=...) and that the PID is PID 1 of its namespace (or that it is our own child).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import shlex
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from . import recipe
from ._util import (
    HostsError,
    all_pids,
    proc_environ,
    proc_nspid,
    proc_start_time,
    run,
    safe_rmtree,
    which_all,
)
from .base import DEFAULT_CACHE_DIR, build_tools_missing, ensure_base
from .keys import ensure_host_key_pool, fingerprint_of_pub, make_client_key

MARKER_VAR = "PATCHDESK_TEST_HOST"
DEFAULT_SUBNET = "127.0.10"
DEFAULT_TTL = 2 * 3600
START_TIMEOUT = 20.0
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Runs on this machine's /bin/sh inside the host's fresh namespaces, before the chroot.
SETUP_SCRIPT = r"""#!/bin/sh
set -eu
R="$PD_ROOT"
mount -t overlay overlay -o "lowerdir=$PD_LOWER,upperdir=$PD_UPPER,workdir=$PD_WORK" "$R"
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
# the kernel's knobs stay read-only: the hosts share this machine's kernel
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro,nosuid,nodev,noexec "$R/proc/sys"
if [ -e "$R/proc/sysrq-trigger" ]; then mount --bind /dev/null "$R/proc/sysrq-trigger"; fi
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
mount -t tmpfs -o nosuid,nodev,mode=0755,size=64m tmpfs "$R/run"
mount -t tmpfs -o nosuid,mode=0755,size=1m tmpfs "$R/dev"
cd "$R/dev"
mknod -m 666 null c 1 3
mknod -m 666 zero c 1 5
mknod -m 666 full c 1 7
mknod -m 666 random c 1 8
mknod -m 666 urandom c 1 9
mknod -m 666 tty c 5 0
ln -s /proc/self/fd fd
ln -s /proc/self/fd/0 stdin
ln -s /proc/self/fd/1 stdout
ln -s /proc/self/fd/2 stderr
mkdir pts shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts pts
ln -s pts/ptmx ptmx
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs shm
cd /
hostname "$PD_HOSTNAME"
exec chroot "$R" /usr/local/sbin/pd-init
"""

# Holds dpkg's locks the way dpkg/apt take them (fcntl F_SETLK), until stdin closes.
LOCK_HOLDER = r"""
import fcntl, os, sys
fds = []
for p in ("/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock"):
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o640)
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fds.append(fd)
sys.stdout.write("locked %d\n" % os.getpid())
sys.stdout.flush()
sys.stdin.read()
"""

_available: tuple[bool, str] | None = None


def hosts_available() -> tuple[bool, str]:
    """(True, "") when test hosts can run here; else (False, reason)."""
    global _available
    if _available is None:
        _available = _check_available()
    return _available


def _check_available() -> tuple[bool, str]:
    if not os.path.exists("/proc/self/mountinfo"):
        return False, "test hosts need Linux"
    if os.geteuid() != 0:
        return False, "test hosts need root (namespaces, overlay mounts, chroot)"
    missing = which_all(["unshare", "nsenter", "chroot", "mount", "setsid", "ssh-keygen"])
    if missing:
        return False, f"test hosts need these tools: {', '.join(missing)}"
    from .base import base_hash

    if not (DEFAULT_CACHE_DIR / f"base-{base_hash()}" / "READY").exists() and not any(
        (DEFAULT_CACHE_DIR / f"base-{base_hash()}{e}").exists() for e in (".tar.zst", ".tar.gz")
    ):
        missing = build_tools_missing()
        if missing:
            return (
                False,
                f"building the test-host base needs: {', '.join(missing)} (apt-get install mmdebstrap ...)",
            )
    d = Path(tempfile.mkdtemp(prefix="pdcheck-"))
    try:
        for x in "luwm":
            (d / x).mkdir()
        cp = subprocess.run(
            [
                "unshare",
                "--mount",
                "--uts",
                "--ipc",
                "--pid",
                "--fork",
                "--kill-child",
                "--propagation",
                "private",
                "sh",
                "-c",
                f"mount -t overlay overlay -o lowerdir={d}/l,upperdir={d}/u,workdir={d}/w {d}/m"
                f" && mount -t proc proc {d}/m && hostname pdcheck",
            ],
            capture_output=True,
            text=True,
            timeout=20,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if cp.returncode != 0:
            return False, f"cannot create namespaces/overlay mounts here: {cp.stderr.strip()[-300:]}"
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"cannot create namespaces here: {exc}"
    finally:
        safe_rmtree(d)
    return True, ""


def _time_ns_supported() -> bool:
    cp = subprocess.run(
        ["unshare", "--time", "--fork", "true"],
        capture_output=True,
        timeout=10,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return cp.returncode == 0


def _banner(address: str, port: int, timeout: float, hello: bytes = b"") -> bytes | None:
    """The SSH identification line, or None (refused, timeout, closed).

    ``hello``: an identification line to answer with before closing (sshd then logs a plain
    disconnect, not an error in a systemd host's journal)."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as s:
            data = b""
            while b"\n" not in data and len(data) < 512:
                chunk = s.recv(256)
                if not chunk:
                    return None
                data += chunk
            if hello and data.startswith(b"SSH-"):
                s.sendall(hello)
            return data if data.startswith(b"SSH-") else None
    except OSError:
        return None


def _refused(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1.0):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


class TestHost:
    """One running (or stopped) test host.  Create them with ``HostCluster.start``."""

    __test__ = False  # not a pytest test class

    #: what the start-up probe answers sshd with (see _banner); systemd hosts set one
    _probe_hello = b""

    def __init__(self, cluster: HostCluster, index: int, name: str, address: str, key_set: Path) -> None:
        self.cluster = cluster
        self.index = index
        self.name = name
        self.hostname = name
        self.address = address
        self.port = 22
        self.dir = cluster.work_dir / name
        self.upper_dir = self.dir / "upper"
        self._ovl_work = self.dir / "work"
        self._root = self.dir / "root"
        self._key_set = key_set
        self._marker = f"{cluster._id}_{name}"
        self._proc: subprocess.Popen | None = None
        self._pid: int | None = None
        self._log: Path = self.dir / "console.log"
        self.dir.mkdir(parents=True)
        self._fresh_upper()

    def __repr__(self) -> str:
        state = f"pid={self._pid}" if self.running else "stopped"
        return f"<TestHost {self.name} {self.address}:{self.port} {state}>"

    # ---------------------------------------------------------------------------------- state

    @property
    def pid(self) -> int | None:
        """PID (in this machine's namespace) of the host's init, None when stopped."""
        return self._pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def lower(self) -> Path:
        """The read-only base root filesystem under this host's overlay."""
        return self.cluster.lower

    @property
    def root(self) -> Path:
        """The host's root filesystem as seen from outside (only while running)."""
        if not self._pid:
            raise HostsError(f"{self.name} is not running")
        return Path(f"/proc/{self._pid}/root")

    # ---------------------------------------------------------------------------------- upper dir

    def _fresh_upper(self) -> None:
        for d in (self.upper_dir, self._ovl_work):
            safe_rmtree(d)
            d.mkdir()
        self._root.mkdir(exist_ok=True)
        lower = self.lower
        self._put("etc/hostname", f"{self.name}\n")
        self._put(
            "etc/hosts",
            f"127.0.0.1\tlocalhost\n{self.address}\t{self.name}\n::1\tlocalhost ip6-localhost ip6-loopback\n",
        )
        self._put("etc/machine-id", uuid.uuid5(uuid.NAMESPACE_DNS, self._marker).hex + "\n", 0o444)
        self._put("etc/ssh/sshd_config.d/00-listen.conf", f"ListenAddress {self.address}:{self.port}\n")
        self._install_keys(self._key_set, self.upper_dir)
        pub = self.cluster.client_pubkey + "\n"
        for user in recipe.KEY_USERS:
            home = "root" if user == "root" else f"home/{user}"
            st = os.lstat(lower / home)
            self._put(f"{home}/.ssh/authorized_keys", pub, 0o600, st.st_uid, st.st_gid)

    def _put(self, rel: str, data: str | bytes, mode: int = 0o644, uid: int = 0, gid: int = 0) -> None:
        """Write a file into the (unmounted) upper dir, mirroring the lower's parent directories."""
        lower = self.lower
        parts = Path(rel).parts
        for i in range(1, len(parts)):
            up = self.upper_dir.joinpath(*parts[:i])
            if not up.exists():
                st = os.lstat(lower.joinpath(*parts[:i]))
                up.mkdir()
                os.chown(up, st.st_uid, st.st_gid)
                os.chmod(up, stat.S_IMODE(st.st_mode))
        path = self.upper_dir / rel
        (path.write_bytes if isinstance(data, bytes) else path.write_text)(data)
        os.chown(path, uid, gid)
        os.chmod(path, mode)

    def _install_keys(self, key_set: Path, root: Path) -> None:
        for src in sorted(key_set.iterdir()):
            if src.name.startswith("ssh_host_"):
                if root == self.upper_dir:
                    self._put(
                        f"etc/ssh/{src.name}", src.read_bytes(), 0o644 if src.suffix == ".pub" else 0o600
                    )
                else:
                    dst = root / "etc/ssh" / src.name
                    tmp = dst.with_name(dst.name + ".pdnew")
                    tmp.write_bytes(src.read_bytes())
                    os.chmod(tmp, 0o644 if src.suffix == ".pub" else 0o600)
                    os.replace(tmp, dst)

    # ---------------------------------------------------------------------------------- lifecycle

    def _launch(self) -> None:
        if self.running:
            return
        if not _refused(self.address, self.port):
            raise HostsError(
                f"{self.address}:{self.port} is already in use (another cluster or a stale host?)"
            )
        env = {
            "PATH": HOST_PATH,
            "LANG": "C.UTF-8",
            "PD_ROOT": str(self._root),
            "PD_LOWER": str(self.lower),
            "PD_UPPER": str(self.upper_dir),
            "PD_WORK": str(self._ovl_work),
            "PD_HOSTNAME": self.name,
            "PD_TTL": str(int(self.cluster.ttl)),
            MARKER_VAR: self._marker,
            **self._extra_env(),
        }
        cmd = [
            "unshare",
            "--uts",
            "--mount",
            "--pid",
            "--ipc",
            "--fork",
            "--kill-child",
            "--propagation",
            "private",
        ]
        if self.cluster._time_ns:
            with open("/proc/uptime") as fh:
                up = int(float(fh.read().split()[0]))
            if up > 5:
                # a per-host boot time: uptime starts near zero at every (re)start
                cmd += ["--time", f"--boottime=-{up - 1}"]
        cmd += ["/bin/sh", str(self._setup_script())]
        with open(self._log, "ab") as log:
            log.write(f"--- start {time.strftime('%H:%M:%S')}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                cmd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                close_fds=True,
            )
        self._pid = None

    def _extra_env(self) -> dict[str, str]:
        """More environment for the setup script and init (the systemd flavour adds its own)."""
        return {}

    def _setup_script(self) -> Path:
        return self.cluster._setup_script

    def _await(self, deadline: float) -> None:
        proc = self._proc
        assert proc is not None
        while True:
            if proc.poll() is not None:
                self._proc = None
                raise HostsError(f"{self.name} exited during start ({proc.returncode}):\n{self._log_tail()}")
            if self._pid is None:
                try:
                    with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as fh:
                        kids = fh.read().split()
                except OSError:
                    kids = []
                if kids:
                    self._pid = int(kids[0])
            if self._pid is not None and _banner(self.address, self.port, 2.0, self._probe_hello):
                return
            if time.monotonic() > deadline:
                raise HostsError(
                    f"{self.name}: no SSH banner on {self.address}:{self.port} in time\n{self._log_tail()}"
                )
            time.sleep(0.02)

    def _log_tail(self) -> str:
        try:
            return self._log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Boot the host (keeps its upper dir: like powering it on again)."""
        if self.running:
            return
        self._launch()
        self._await(time.monotonic() + timeout)

    def _signal_init(self) -> None:
        """SIGKILL the host's init: the kernel then kills everything in its pid namespace."""
        pid, proc = self._pid, self._proc
        if pid is not None and _is_marked_init(pid, self._marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        elif proc is not None and proc.poll() is None:
            # init unknown (start failed early): kill our own child unshare (--kill-child takes init along)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()

    def _reap(self, timeout: float = 10.0) -> None:
        proc = self._proc
        if proc is not None:
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()  # our own child (unshare); it carries the marker too
                proc.wait(5)
        self._proc = None
        self._pid = None

    def stop(self) -> None:
        """Power the host off: all its processes and mounts go away (upper dir is kept)."""
        self._signal_init()
        self._reap()

    def reset(self) -> None:
        """Back to the initial state: stop, empty upper dir, start."""
        self.stop()
        self.restore_packets()
        self._fresh_upper()
        self.start()

    # ---------------------------------------------------------------------------------- inside the host

    def _nsenter(self, argv: list[str]) -> list[str]:
        if not self.running or self._pid is None:
            raise HostsError(f"{self.name} is not running")
        ns = ["--mount", "--uts", "--ipc", "--pid"] + (["--time"] if self.cluster._time_ns else [])
        return ["nsenter", "-t", str(self._pid), *ns, "--root", "--wd", "--", *argv]

    @staticmethod
    def _env() -> dict[str, str]:
        return {
            "PATH": HOST_PATH,
            "HOME": "/root",
            "USER": "root",
            "LOGNAME": "root",
            "SHELL": "/bin/sh",
            "LANG": "C.UTF-8",
            "TERM": "dumb",
        }

    def run(self, cmd: str, timeout: float = 30, input: str | None = None) -> subprocess.CompletedProcess:
        """Run ``sh -c cmd`` as root inside the host, output captured as text; no error on exit status."""
        argv = self._nsenter(["/bin/sh", "-c", cmd])
        p = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self._env(),
            start_new_session=True,
        )
        try:
            out, err = p.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)  # nsenter and what it started inside (same group)
            out, err = p.communicate()
            raise subprocess.TimeoutExpired(argv, timeout, out, err) from None
        return subprocess.CompletedProcess(argv, p.returncode, out, err)

    def check(self, cmd: str, timeout: float = 30) -> str:
        """Like run() but raises HostsError on a non-zero exit; returns stdout."""
        cp = self.run(cmd, timeout)
        if cp.returncode != 0:
            raise HostsError(f"{self.name}: `{cmd}` failed ({cp.returncode}): {cp.stderr.strip()}")
        return cp.stdout

    def installed_version(self, pkg: str) -> str | None:
        cp = self.run(f"dpkg-query -W -f='${{Status}}\\t${{Version}}' {shlex.quote(pkg)}")
        if cp.returncode != 0:
            return None
        status, _, version = cp.stdout.partition("\t")
        return version if status.endswith(" installed") and status.startswith("install ") else None

    # ---------------------------------------------------------------------------------- faults

    def _sshd_signal(self, sig: str) -> None:
        self.check(f'p=$(cat /run/sshd.pid) && kill -{sig} "$p"')

    def stop_sshd(self, timeout: float = 10) -> None:
        """Stop the sshd listener: new connections are refused (open sessions stay)."""
        self.check('p=$(cat /run/sshd.pid) && kill -TERM "$p" && { kill -CONT "$p" 2>/dev/null; true; }')
        deadline = time.monotonic() + timeout
        while not _refused(self.address, self.port):
            if time.monotonic() > deadline:
                raise HostsError(f"{self.name}: sshd still accepting after stop")
            time.sleep(0.02)
        self.run("rm -f /run/sshd.pid")

    def start_sshd(self, timeout: float = 10) -> None:
        self.check("mkdir -p /run/sshd && /usr/sbin/sshd")
        self._wait_banner(timeout)

    def _wait_banner(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not _banner(self.address, self.port, 1.0):
            if time.monotonic() > deadline:
                raise HostsError(f"{self.name}: sshd gives no banner")
            time.sleep(0.02)

    def freeze_sshd(self) -> None:
        """SIGSTOP the listener: TCP connects, but no SSH banner ever comes."""
        self._sshd_signal("STOP")

    def thaw_sshd(self) -> None:
        self._sshd_signal("CONT")

    def drop_packets(self) -> None:
        """Drop all traffic to and from this host's address (connects hang until the client times out)."""
        self.cluster._nft_block(self.address, True)

    def restore_packets(self) -> None:
        self.cluster._nft_block(self.address, False)

    def host_key_fingerprint(self) -> str:
        """The current ed25519 host key fingerprint, "SHA256:..." (as ``ssh-keygen -lf`` prints it)."""
        pub = (self.root if self.running else self.upper_dir) / "etc/ssh/ssh_host_ed25519_key.pub"
        return fingerprint_of_pub(pub.read_text())

    def change_host_key(self, timeout: float = 10) -> str:
        """Install brand-new host keys and SIGHUP sshd; returns the new ed25519 fingerprint."""
        key_set = self.cluster._alloc_key_sets(1)[0]
        self._install_keys(key_set, self.root)
        want = self.host_key_fingerprint()
        self._sshd_signal("HUP")
        # sshd re-execs itself and reloads its keys: wait until the new key is what it serves
        deadline = time.monotonic() + timeout
        while self.served_fingerprint() != want:
            if time.monotonic() > deadline:
                raise HostsError(f"{self.name}: sshd does not serve the new host key after SIGHUP")
            time.sleep(0.05)
        return self.host_key_fingerprint()

    def served_fingerprint(self, timeout: float = 5) -> str | None:
        """The ed25519 host key fingerprint sshd actually serves (via ssh-keyscan), None if none."""
        cp = subprocess.run(
            [
                "ssh-keyscan",
                "-T",
                str(int(max(1, timeout))),
                "-t",
                "ed25519",
                "-p",
                str(self.port),
                self.address,
            ],
            capture_output=True,
            text=True,
            timeout=timeout + 5,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        for line in cp.stdout.splitlines():
            if not line.startswith("#") and len(line.split()) >= 3:
                return fingerprint_of_pub(line.split(None, 1)[1])
        return None

    @contextlib.contextmanager
    def hold_dpkg_lock(self, timeout: float = 10) -> Iterator[int]:
        """A process inside the host holds /var/lib/dpkg/lock-frontend and lock until the block ends.

        Yields that process's pid as seen inside the host (the one apt names in its error).
        """
        p = subprocess.Popen(
            self._nsenter(["python3", "-c", LOCK_HOLDER]),
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
                    raise HostsError(f"{self.name}: lock holder did not start")
                chunk = os.read(fd, 100)
                if not chunk:
                    raise HostsError(
                        f"{self.name}: could not take the dpkg lock: "
                        f"{p.stderr.read().decode(errors='replace')}"
                    )  # type: ignore[union-attr]
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


def _is_marked_init(pid: int, marker: str) -> bool:
    """PID carries our marker in its environment and is PID 1 of its pid namespace."""
    want = f"{MARKER_VAR}={marker}".encode()
    nspid = proc_nspid(pid)
    return len(nspid) >= 2 and nspid[-1] == 1 and want in proc_environ(pid)


def _owner_id() -> str:
    return f"{os.getpid()}_{proc_start_time(os.getpid())}"


def _owner_alive(owner: str) -> bool:
    try:
        pid_s, start = owner.split("_")[:2]
        return proc_start_time(int(pid_s)) == start
    except ValueError:
        return True  # unknown format: leave it alone


def reap_stale_hosts() -> int:
    """Kill test hosts whose owning process is gone (crashed runs); returns how many."""
    n = 0
    prefix = f"{MARKER_VAR}=".encode()
    for pid in all_pids():
        env = proc_environ(pid)
        marks = [e for e in env if e.startswith(prefix)]
        if not marks:
            continue
        nspid = proc_nspid(pid)
        if len(nspid) < 2 or nspid[-1] != 1:
            continue
        marker = marks[0][len(prefix) :].decode(errors="replace")
        if not _owner_alive(marker) and _is_marked_init(pid, marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                n += 1
    if which_all(["nft"]) == []:
        cp = subprocess.run(
            ["nft", "list", "tables"], capture_output=True, text=True, timeout=10, check=False
        )
        for line in cp.stdout.splitlines():
            parts = line.split()
            if (
                len(parts) == 3
                and parts[2].startswith("pdtest_")
                and not _owner_alive(parts[2][len("pdtest_") :])
            ):
                subprocess.run(
                    ["nft", "delete", "table", parts[1], parts[2]],
                    capture_output=True,
                    timeout=10,
                    check=False,
                )
    return n


class HostCluster:
    """A set of test hosts sharing one cached base, one client key and one work dir."""

    #: the class of the hosts ``start`` creates (the rpm flavour, rpmcluster.py, uses its own)
    host_class: type[TestHost] = TestHost

    def __init__(
        self,
        cache_dir: Path | None = None,
        work_dir: Path | None = None,
        *,
        subnet: str = DEFAULT_SUBNET,
        subnets: int = 1,
        ttl: float = DEFAULT_TTL,
    ) -> None:
        """``subnets``: how many consecutive /24s from ``subnet`` on the cluster may use, 254 hosts each
        (the fan-out benchmark's 1,000 hosts: 127.0.40.1..254, then 127.0.41.1.. and so on)."""
        ok, why = hosts_available()
        if not ok:
            raise HostsError(f"test hosts are not available here: {why}")
        self.cache_dir = Path(cache_dir or DEFAULT_CACHE_DIR)
        self.subnet = subnet
        head, _, third = subnet.rpartition(".")
        if subnets < 1 or not third.isdigit() or int(third) + subnets - 1 > 255:
            raise HostsError(f"{subnets} subnet(s) from {subnet} do not fit in {head}.x")
        self.subnets = subnets
        self.ttl = ttl
        self._id = f"{_owner_id()}_{uuid.uuid4().hex[:8]}"
        self._lock = threading.RLock()
        self._stopped = False
        self.hosts: list[TestHost] = []
        self._next_index = 1
        self._next_key_set = 0
        self._nft_table: str | None = None
        self._blocked: set[str] = set()
        reap_stale_hosts()
        if work_dir is None:
            self.work_dir = Path(tempfile.mkdtemp(prefix="pdhosts-"))
            self._own_work_dir = True
        else:
            self.work_dir = Path(work_dir)
            self._own_work_dir = not self.work_dir.exists()
            self.work_dir.mkdir(parents=True, exist_ok=True)
        self.work_dir.chmod(0o755)
        atexit.register(self.stop_all)
        try:
            self.lower = self._ensure_lower()
            self._time_ns = _time_ns_supported()
            self._setup_script = self.work_dir / "pd-setup.sh"
            self._setup_script.write_text(SETUP_SCRIPT)
            self.client_key = self.work_dir / "client_key"
            self.client_pubkey = make_client_key(self.client_key)
        except BaseException:
            self.stop_all()
            raise

    def _ensure_lower(self) -> Path:
        """The unpacked base root filesystem the hosts share (overridden by other flavours)."""
        return ensure_base(self.cache_dir)

    def __enter__(self) -> HostCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def __repr__(self) -> str:
        return f"<HostCluster {self.work_dir} hosts={len(self.hosts)}>"

    def _alloc_key_sets(self, n: int) -> list[Path]:
        with self._lock:
            first = self._next_key_set
            self._next_key_set += n
        return ensure_host_key_pool(self.cache_dir, first + n)[first:]

    def start(
        self, n: int, prefix: str = "pdhost", timeout: float = START_TIMEOUT, *, systemd: bool = False
    ) -> list[TestHost]:
        """Start ``n`` more hosts, named f"{prefix}{i:02d}" at {subnet}.i (i continues across calls).

        ``systemd=True``: hosts with systemd as PID 1 on the systemd base (sdhost.py); slower to boot
        (a second or two), so only for tests about services, failed units and the journal."""
        host_class = self.host_class
        if systemd:
            from .sdhost import SystemdTestHost, systemd_hosts_available

            ok, why = systemd_hosts_available()
            if not ok:
                raise HostsError(f"systemd test hosts are not available here: {why}")
            host_class = SystemdTestHost
        with self._lock:
            if self._stopped:
                raise HostsError("this HostCluster was stopped")
            if self._next_index + n - 1 > 254 * self.subnets:
                raise HostsError(f"at most {254 * self.subnets} hosts in this cluster ({self.subnets} x 254)")
            keys = self._alloc_key_sets(n)
            new: list[TestHost] = []
            for k in range(n):
                i = self._next_index
                self._next_index += 1
                host = host_class(self, i, f"{prefix}{i:02d}", self.address_of(i), keys[k])
                self.hosts.append(host)
                new.append(host)
            for host in new:
                host._launch()
            deadline = time.monotonic() + timeout + 0.2 * n
            for host in new:
                host._await(deadline)
            return new

    def address_of(self, i: int) -> str:
        """Host ``i``'s address: {subnet}.i for the first 254, then on through the next /24s."""
        head, _, third = self.subnet.rpartition(".")
        block, last = divmod(i - 1, 254)
        return f"{self.subnet}.{i}" if block == 0 else f"{head}.{int(third) + block}.{last + 1}"

    def stop_all(self) -> None:
        """Stop every host, remove firewall rules and the work dir.  Idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            errors: list[str] = []
            for host in self.hosts:
                host._signal_init()
            for host in self.hosts:
                try:
                    host._reap()
                except Exception as exc:  # keep going: clean up as much as possible
                    errors.append(f"{host.name}: {exc}")
            if self._nft_table:
                subprocess.run(
                    ["nft", "delete", "table", "inet", self._nft_table],
                    capture_output=True,
                    timeout=10,
                    check=False,
                )
                self._nft_table = None
                self._blocked.clear()
            try:
                if self._own_work_dir:
                    safe_rmtree(self.work_dir)
                else:
                    for host in self.hosts:
                        safe_rmtree(host.dir)
                    for name in ("client_key", "client_key.pub", "pd-setup.sh", "pd-setup-systemd.sh"):
                        (self.work_dir / name).unlink(missing_ok=True)
            except Exception as exc:
                errors.append(str(exc))
            atexit.unregister(self.stop_all)
            if errors:
                raise HostsError("stop_all: " + "; ".join(errors))

    # ---------------------------------------------------------------------------------- firewall

    def _nft_block(self, address: str, block: bool) -> None:
        with self._lock:
            if not block and address not in self._blocked:
                return
            if self._nft_table is None:
                if which_all(["nft"]):
                    raise HostsError("drop_packets needs nftables (apt-get install nftables)")
                table = f"pdtest_{self._id}"
                rules = "ip saddr @blocked drop; ip daddr @blocked drop;"
                hook = "type filter hook {} priority -300; policy accept;"
                run(
                    ["nft", "-f", "-"],
                    input=(
                        f"table inet {table} {{\n"
                        "  set blocked { type ipv4_addr; }\n"
                        f"  chain input {{ {hook.format('input')} {rules} }}\n"
                        f"  chain output {{ {hook.format('output')} {rules} }}\n"
                        "}\n"
                    ),
                    timeout=20,
                )
                self._nft_table = table
            verb = "add" if block else "delete"
            if block and address in self._blocked:
                return
            run(["nft", verb, "element", "inet", self._nft_table, "blocked", f"{{ {address} }}"], timeout=20)
            (self._blocked.add if block else self._blocked.discard)(address)


__all__ = ["HostCluster", "HostsError", "TestHost", "hosts_available", "reap_stale_hosts"]
