"""Scan and patch fan-out: Patchdesk against the OpenSSH client and Ansible, on the same real hosts.

Brings up N real Debian test hosts (tests/hosts, the same builder the test suite uses), then times,
alternating in the same run:

  scan   (a) Patchdesk's own engine (paramiko) scanning every host at concurrency C
         (b) the OpenSSH client running the same command on every host, C in parallel, with its
             default key exchange and with curve25519-sha256 (the cheapest; what paramiko negotiates)
         (c) Ansible ad-hoc (`ansible -m raw -f C`, ansible-core in a separate venv)
         each with fresh logins (Patchdesk with kept connections off, as its CLI; OpenSSH without
         ControlMaster; Ansible with its ControlPersist off) and with the previous round's logins
         kept (Patchdesk's connection pool, 60 s; ControlPersist=60 for OpenSSH and Ansible, which
         is Ansible's default); and each for hosts unchanged since the last scan (the usual
         periodic scan: the host compares the fingerprint it is sent and skips apt's simulation --
         the other tools are sent the same per-host command) and for a full scan (the first scan,
         or after any change)
  patch  Patchdesk's patch job (verification off, to compare like with like; fresh logins; done when
         its change records are written) against OpenSSH running the same apt-get (curve25519 and
         the default key exchange) and Ansible ad-hoc running it (`-m raw`, fresh logins), on hosts
         reset before each tool's turn; Patchdesk and OpenSSH (curve25519) run next to each other,
         who goes first alternating from round to round.

For every run: the wall time, the tool's own CPU, Patchdesk's peak RSS, the CPU used inside the hosts
(their pid namespaces) and the floor it sets (hosts' CPU / cores), and the load average. ``--worker``
adds a full scan through the GUI's job worker and both processes' peak RSS. Over 254 hosts the
cluster spans consecutive /24s from ``--subnet``.

Prints medians and spreads, and the ratios as the last lines. Run as root: `make bench`,
`make bench-scale` (1,000 hosts) or `python -m bench.fanout --hosts 50 --concurrency 20,50 --rounds 5`.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.platforms.base import new_nonce  # noqa: E402
from app.platforms.posix.apt import AptAdapter  # noqa: E402
from app.platforms.posix.apt_install import install_command  # noqa: E402
from app.platforms.posix.facts import facts_with_command, marker  # noqa: E402

PATCH_PACKAGES = ("pd-regular", "pd-secfix")
ANSIBLE_VENV = Path.home() / ".cache" / "patchdesk-bench" / "ansible-venv"


def same_commands(known: str | None = None) -> tuple[str, str, str]:
    """Exactly what one Patchdesk scan of an apt host runs (app/jobs/tasks.py: the facts snippet, then the
    apt adapter's scan script, in one session), with ``known`` the host's stored fingerprint; a line
    every host's output must contain -- the scan script's last marker -- so a script that stops early
    cannot pass for a fast one; and the line a host prints when it skipped the simulation."""
    nonce = new_nonce()
    return (
        facts_with_command(nonce, AptAdapter(None).scan_script(nonce, known)),
        marker(nonce, "end"),
        marker(nonce, "same"),
    )


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy, all cores (/proc/stat: every state but idle, iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    """CPU seconds of this process (Patchdesk's engine runs in it, every thread) and of its waited-for
    children (ssh, ansible and theirs)."""
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + c.ru_utime + c.ru_stime


def load_average() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def host_namespaces(hosts: list[Any]) -> set[str]:
    """The pid namespaces of the hosts (each host's init is PID 1 of its own)."""
    return {os.readlink(f"/proc/{h.pid}/ns/pid") for h in hosts if h.pid}


def hosts_cpu(namespaces: set[str]) -> float:
    """CPU seconds spent inside the hosts so far: every process in their pid namespaces, with what its
    finished children used (a finished sshd session and its shell and apt are added to the listening
    sshd's, an orphan's to the host's init, when reaped). Counted directly, so that another session's
    load on this machine is not taken for the hosts' side."""
    ticks = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{name}/ns/pid") not in namespaces:
                continue
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:  # gone meanwhile: its time is in its parent's now
            continue
        ticks += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def reset_peak_rss() -> None:
    """Start this process's peak RSS (VmHWM) afresh (Linux: clear_refs 5)."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_rss_mb(pid: int | str = "self") -> float:
    """VmHWM of ``pid`` in MB (0 when unreadable)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def raise_limits() -> None:
    """Open files: every kept login is a socket in this process (and a ControlMaster's in ssh's), and
    1,000 hosts' start-up holds a log file each; the soft limit goes up to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def timed(fn: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run_parallel(
    commands: list[list[str]],
    concurrency: int,
    env: dict[str, str] | None = None,
    expect: str | None = None,
    also: str | None = None,
) -> None:
    def one(cmd: list[str]) -> None:
        r = subprocess.run(cmd, capture_output=True, timeout=300, env=env)
        if r.returncode != 0:
            raise RuntimeError(f"{cmd[:3]}… failed ({r.returncode}): {r.stderr[-300:]!r}")
        if expect is not None and expect.encode() not in r.stdout:
            raise RuntimeError(f"{cmd[:3]}… did not run the whole script: {r.stdout[-300:]!r}")
        if also is not None and also.encode() not in r.stdout:
            raise RuntimeError(f"{cmd[:3]}… did not take the unchanged-host path: {r.stdout[-300:]!r}")

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, commands))


def run_same(jobs: list[tuple[list[str], tuple[str, str, str]]], concurrency: int) -> None:
    """The unchanged-host scan over OpenSSH: each ``(command, same_commands(fingerprint))``, ``concurrency``
    in parallel; every host must answer with the script's end marker and its "same" marker."""

    def one(job: tuple[list[str], tuple[str, str, str]]) -> None:
        cmd, (_, end, same) = job
        r = subprocess.run(cmd, capture_output=True, timeout=600)
        if r.returncode != 0 or end.encode() not in r.stdout or same.encode() not in r.stdout:
            raise RuntimeError(f"{cmd[-2]}: not a whole unchanged-host scan: {r.stdout[-300:]!r}")

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, jobs))


def ssh_cmd(
    key: Path, address: str, script: str, kex: str | None, control: Path | None = None, keep: int = 60
) -> list[str]:
    """``control``: a directory for ControlMaster sockets kept ``keep`` s (OpenSSH's ControlPersist)."""
    opts = [
        "-i",
        str(key),
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "ConnectTimeout=10",
    ]
    if kex:
        opts += ["-o", f"KexAlgorithms={kex}"]
    if control is not None:
        opts += [
            "-o",
            "ControlMaster=auto",
            "-o",
            f"ControlPath={control}/%C",
            "-o",
            f"ControlPersist={keep}",
        ]
    return ["ssh", *opts, f"admin@{address}", script]


def ensure_ansible() -> Path | None:
    exe = ANSIBLE_VENV / "bin" / "ansible"
    if exe.exists():
        return exe
    print("setting up ansible-core in", ANSIBLE_VENV, flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(ANSIBLE_VENV)], check=True, timeout=120)
        subprocess.run(
            [str(ANSIBLE_VENV / "bin" / "pip"), "install", "-q", "ansible-core"], check=True, timeout=600
        )
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"ansible unavailable: {exc}")
        return None
    return exe if exe.exists() else None


def summary(name: str, samples: list[float]) -> str:
    med = statistics.median(samples)
    spread = f"min {min(samples):7.3f}   max {max(samples):7.3f}   (n={len(samples)})"
    return f"{name:<44} median {med:7.3f} s   {spread}"


@dataclass
class Sample:
    """One timed run of one tool over every host."""

    wall: float
    #: the tool's own CPU seconds: Patchdesk's process (all its threads); for ssh and Ansible the
    #: processes they ran and waited for (a ControlMaster left running is not among them)
    client_cpu: float
    #: CPU seconds inside the hosts (their sshd, shells, apt), counted in their pid namespaces
    hosts_cpu: float
    #: Patchdesk's peak RSS during the run, MB (0 for the other tools)
    peak_rss: float
    load: str
    #: the hosts the run covered (``--subset``'s runs cover the first K of them)
    hosts: int = 0


def med(samples: list[Sample], attr: str) -> float:
    return float(statistics.median(getattr(s, attr) for s in samples))


class Bench:
    """The hosts, their inventory, each tool's commands for them, and the samples taken."""

    def __init__(self, args: argparse.Namespace, cluster: Any, hosts: list[Any], work: Path) -> None:
        from app.domain.models import Host
        from app.jobs.runner import JobRunner
        from db import hosts as db_hosts
        from db.database import open_database

        self.args = args
        self.hosts = hosts
        self.work = work
        self.key: Path = cluster.client_key
        self.namespaces = host_namespaces(hosts)
        self.db_path = work / "bench.sqlite3"
        self.db = open_database(self.db_path)
        self.models = [
            db_hosts.add_host(
                self.db, Host(name=h.name, address=h.address, user="admin", key_file=str(self.key))
            )
            for h in hosts
        ]
        self.c: int = args.concurrency[0]
        top = max(args.concurrency)
        # Patchdesk as it runs: a finished job's connections are kept for the next one
        # (app/transports/pool.py; 60 s by default, --keep here, like ControlPersist for the others, so
        # that a round over 1,000 hosts does not outlast them). And with every job logging in afresh,
        # as the CLI does.
        self.runner = JobRunner(self.db_path, concurrency=top, host_deadline=600, keep_connections=args.keep)
        self.cold = JobRunner(self.db_path, concurrency=top, host_deadline=600, keep_connections=0)
        self.samples: dict[tuple[int, str], list[Sample]] = {}
        self.ansible: Path | None = None
        self.patch_c = self.c

    def close(self) -> None:
        self.runner.close()
        self.cold.close()

    # -- taking a sample --------------------------------------------------------------------------

    def measure(self, name: str, fn: Callable[[], None], hosts: int = 0) -> Sample:
        patchdesk = ": patchdesk" in name
        if patchdesk:
            reset_peak_rss()
        hosts0, mine0 = hosts_cpu(self.namespaces), own_cpu()
        wall = timed(fn)
        mine = own_cpu() - mine0
        sample = Sample(
            wall,
            mine,
            hosts_cpu(self.namespaces) - hosts0,
            peak_rss_mb() if patchdesk else 0.0,
            load_average(),
            hosts or len(self.hosts),
        )
        self.samples.setdefault((self.c, name), []).append(sample)
        return sample

    # -- Patchdesk --------------------------------------------------------------------------------

    def patchdesk_scan(self, full: bool = False, fresh: bool = False, first: int = 0) -> None:
        runner = self.cold if fresh else self.runner
        models = self.models[:first] if first else self.models
        handle = runner.start_scan(self.db, models, full=full, accept_new_keys=True, concurrency=self.c)
        handle.wait()
        bad = [o.error for o in handle.outcomes.values() if str(o.state) != "succeeded"]
        if bad:
            raise RuntimeError(f"Patchdesk scan failed on {len(bad)} host(s): {bad[:2]}")
        reused = sum(1 for o in handle.outcomes.values() if getattr(o.result, "reused", False))
        if reused != (0 if full else len(models)):
            raise RuntimeError(f"Patchdesk reused the simulation on {reused} of {len(models)} hosts")

    # -- the same commands for the others ---------------------------------------------------------

    def prepare(self) -> None:
        """Warm-up runs (first contact records host keys, caches are warm for everyone, the kept logins
        start) and each tool's commands."""
        from db import scan_basis as db_scan_basis

        self.patchdesk_scan(full=True)
        self.runner.flush()
        stored = db_scan_basis.fingerprints(self.db, [m.id for m in self.models if m.id is not None])
        if len(stored) != len(self.models):
            raise RuntimeError(f"only {len(stored)} of {len(self.models)} hosts have a stored scan basis")
        key, keep = self.key, self.args.keep
        self.script, self.end_marker, _ = same_commands()
        self.ssh_default = [ssh_cmd(key, h.address, self.script, None) for h in self.hosts]
        self.ssh_cheap = [ssh_cmd(key, h.address, self.script, "curve25519-sha256") for h in self.hosts]
        control = self.work / "ssh-cm"
        control.mkdir()
        self.ssh_kept = [
            ssh_cmd(key, h.address, self.script, "curve25519-sha256", control, keep) for h in self.hosts
        ]
        # The unchanged-host scan: each host is sent its own fingerprint, in the command Patchdesk
        # sends, and must answer with that script's end marker and its "same" marker.
        self.per_host = {
            h.name: same_commands(stored[m.id][1])
            for h, m in zip(self.hosts, self.models, strict=True)
            if m.id is not None
        }
        self.ssh_same = [
            (ssh_cmd(key, h.address, self.per_host[h.name][0], "curve25519-sha256"), self.per_host[h.name])
            for h in self.hosts
        ]
        self.ssh_same_kept = [
            (
                ssh_cmd(key, h.address, self.per_host[h.name][0], "curve25519-sha256", control, keep),
                self.per_host[h.name],
            )
            for h in self.hosts
        ]
        run_parallel(self.ssh_cheap, self.c, expect=self.end_marker)  # warm-up
        run_parallel(self.ssh_kept, self.c, expect=self.end_marker)  # and the control masters start
        self.prepare_ansible()

    def ssh_same_run(self, kept: bool = False) -> None:
        run_same(self.ssh_same_kept if kept else self.ssh_same, self.c)

    def prepare_ansible(self) -> None:
        self.ansible = None if self.args.no_ansible else ensure_ansible()
        self.inventory = self.work / "inventory.yml"
        # JSON strings are YAML double-quoted scalars; !unsafe keeps Ansible from templating the scripts.
        self.inventory.write_text(
            "bench:\n  hosts:\n"
            + "".join(
                f"    {h.name}:\n      ansible_host: {h.address}\n"
                f"      pd_script: !unsafe {json.dumps(self.per_host[h.name][0])}\n"
                for h in self.hosts
            )
            + "  vars:\n    ansible_user: admin\n"
            + f"    ansible_ssh_private_key_file: {json.dumps(str(self.key))}\n"
        )
        self.ansible_env = {
            **os.environ,
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_LOCAL_TEMP": str(self.work / "ansible-tmp"),
            # one fresh connection per host, as Patchdesk: no ControlMaster/ControlPersist (Ansible's default)
            "ANSIBLE_SSH_ARGS": "-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no",
            "ANSIBLE_NOCOLOR": "1",
        }
        # Ansible as installed: its ssh connection plugin keeps a ControlMaster per host (ControlPersist,
        # 60 s by default; --keep here), so every round after the first reuses the previous round's logins.
        self.persist_env = {
            **self.ansible_env,
            "ANSIBLE_SSH_ARGS": f"-C -o ControlMaster=auto -o ControlPersist={self.args.keep}s "
            + self.ansible_env["ANSIBLE_SSH_ARGS"],
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(self.work / "ansible-cp"),
        }
        if self.ansible is not None:
            self.ansible_scan()  # warm-up
            self.ansible_scan(same=True)
            self.ansible_scan(same=True, persist=True)

    def run_ansible(self, command: str, env: dict[str, str], timeout: float) -> str:
        """``ansible bench -m raw -a COMMAND -f C``; its stdout, or an error when it failed."""
        assert self.ansible is not None
        argv = [str(self.ansible), "bench", "-i", str(self.inventory), "-m", "raw", "-a", command]
        r = subprocess.run(
            [*argv, "-f", str(self.c)], capture_output=True, timeout=timeout, env=env, text=True
        )
        if r.returncode != 0:
            raise RuntimeError(f"ansible failed ({r.returncode}): {r.stdout[-500:]} {r.stderr[-500:]}")
        return r.stdout

    def ansible_scan(self, same: bool = False, persist: bool = False) -> None:
        out = self.run_ansible(
            # ":" first: a free-form argument starting with "{" would be read as JSON
            ": ; {{ pd_script }}" if same else self.script,
            self.persist_env if persist else self.ansible_env,
            3600,
        )
        if same:
            done = sum(1 for _, end, mark in self.per_host.values() if end in out and mark in out)
        else:
            done = out.count(self.end_marker)
        if done < len(self.hosts):
            raise RuntimeError(
                f"ansible ran the whole script on {done} of {len(self.hosts)} hosts: {out[-500:]}"
            )

    # -- the scan comparison ----------------------------------------------------------------------

    def scan_steps(self) -> list[tuple[str, Callable[[], None]]]:
        """One round: "fresh", every tool logs in to every host (Patchdesk with kept connections off,
        OpenSSH without ControlMaster, Ansible with ControlPersist off); "kept", each tool as it comes,
        reusing the previous round's logins (Patchdesk's pool, ControlPersist for OpenSSH and Ansible)."""
        a = self.ansible is not None
        d = not self.args.no_default_kex
        steps: list[tuple[str, Callable[[], None], bool]] = [
            ("unchanged fresh: patchdesk", lambda: self.patchdesk_scan(fresh=True), True),
            ("unchanged fresh: ssh-curve25519", self.ssh_same_run, True),
            ("unchanged fresh: ansible", lambda: self.ansible_scan(same=True), a),
            ("unchanged kept: patchdesk", self.patchdesk_scan, True),
            ("unchanged kept: ssh-curve25519", lambda: self.ssh_same_run(kept=True), True),
            ("unchanged kept: ansible", lambda: self.ansible_scan(same=True, persist=True), a),
            ("full fresh: patchdesk", lambda: self.patchdesk_scan(full=True, fresh=True), True),
            (
                "full fresh: ssh-default",
                lambda: run_parallel(self.ssh_default, self.c, expect=self.end_marker),
                d,
            ),
            (
                "full fresh: ssh-curve25519",
                lambda: run_parallel(self.ssh_cheap, self.c, expect=self.end_marker),
                True,
            ),
            ("full fresh: ansible", self.ansible_scan, a),
            ("full kept: patchdesk", lambda: self.patchdesk_scan(full=True), True),
            (
                "full kept: ssh-curve25519",
                lambda: run_parallel(self.ssh_kept, self.c, expect=self.end_marker),
                True,
            ),
            ("full kept: ansible", lambda: self.ansible_scan(persist=True), a),
        ]
        return [(name, fn) for name, fn, wanted in steps if wanted]

    def subset_steps(self) -> list[tuple[str, Callable[[], None]]]:
        """``--subset K``: each case's Patchdesk scan again over the first K hosts only, right after the
        full-size one: the same machine, load and pool at the same moment, so CPU per host that
        grows with the job's size shows apart from what the load does to every tool."""
        k = self.args.subset
        return [
            (f"unchanged fresh: patchdesk, first {k}", lambda: self.patchdesk_scan(fresh=True, first=k)),
            (f"unchanged kept: patchdesk, first {k}", lambda: self.patchdesk_scan(first=k)),
            (
                f"full fresh: patchdesk, first {k}",
                lambda: self.patchdesk_scan(full=True, fresh=True, first=k),
            ),
            (f"full kept: patchdesk, first {k}", lambda: self.patchdesk_scan(full=True, first=k)),
        ]

    def round_steps(self) -> list[tuple[str, Callable[[], None], int]]:
        steps = [(name, fn, 0) for name, fn in self.scan_steps()]
        if not self.args.subset or self.args.subset >= len(self.hosts):
            return steps
        out: list[tuple[str, Callable[[], None], int]] = []
        subsets = dict((name.split(":")[0], (name, fn)) for name, fn in self.subset_steps())
        for name, fn, n in steps:
            out.append((name, fn, n))
            if name.endswith(": patchdesk"):
                sub_name, sub_fn = subsets[name.split(":")[0]]
                out.append((sub_name, sub_fn, self.args.subset))
        return out

    def scan_rounds(self) -> None:
        for rnd in range(self.args.rounds):
            done = [(name, self.measure(name, fn, n)) for name, fn, n in self.round_steps()]
            print(
                f"C={self.c} scan round {rnd + 1} (load {load_average()}): "
                + "  ".join(f"{name} {s.wall:.2f}s" for name, s in done),
                flush=True,
            )

    # -- the patch comparison ---------------------------------------------------------------------

    def reset_all(self) -> None:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda h: h.reset(), self.hosts))
        self.namespaces = host_namespaces(self.hosts)  # a reset host is a new pid namespace

    def patch_rounds(self) -> None:
        from app.jobs.selection import selections_for

        apt = shlex.join(
            [
                "sudo",
                "-n",
                "env",
                "LC_ALL=C",
                "DEBIAN_FRONTEND=noninteractive",
                *install_command(list(PATCH_PACKAGES), 120),
            ]
        )
        ssh_patch = [ssh_cmd(self.key, h.address, apt, "curve25519-sha256") for h in self.hosts]
        ssh_patch_default = [ssh_cmd(self.key, h.address, apt, None) for h in self.hosts]
        installed = "Setting up pd-secfix"  # a line apt prints on every host it patched
        self.c = self.patch_c

        def patchdesk_patch() -> None:
            selections = selections_for(self.db, self.models, packages=set(PATCH_PACKAGES))
            # fresh logins, like the OpenSSH runs it is compared with
            handle = self.cold.start_patch(
                self.db, self.models, selections, verify=False, accept_new_keys=True, concurrency=self.c
            )
            handle.wait()
            self.cold.flush(600)  # done means recorded too: the change records are what rollback reads
            bad = [o.error for o in handle.outcomes.values() if str(o.state) != "succeeded"]
            if bad:
                raise RuntimeError(f"Patchdesk patch failed on {len(bad)} host(s): {bad[:2]}")

        def ansible_patch() -> None:
            out = self.run_ansible(apt, self.ansible_env, 3600)  # fresh logins, like the others
            if out.count(installed) < len(self.hosts):
                raise RuntimeError(f"ansible patched {out.count(installed)} of {len(self.hosts)} hosts")

        def patchdesk_round() -> None:
            self.reset_all()
            self.patchdesk_scan(full=True, fresh=True)  # the pending list the patch selection reads
            self.cold.flush(600)  # the scan's own recording is not the patch's
            self.measure("patch: patchdesk", patchdesk_patch)

        def ssh_round(default_kex: bool = False) -> None:
            self.reset_all()
            commands = ssh_patch_default if default_kex else ssh_patch
            name = "patch: ssh-default" if default_kex else "patch: ssh-curve25519"
            self.measure(name, lambda: run_parallel(commands, self.c, expect=installed))

        def ansible_round() -> None:
            self.reset_all()
            self.measure("patch: ansible", ansible_patch)

        others: list[Callable[[], None]] = []
        if not self.args.no_default_kex:
            others.append(lambda: ssh_round(default_kex=True))
        if self.ansible is not None:
            others.append(ansible_round)
        for rnd in range(self.args.patch_rounds):
            # Patchdesk and OpenSSH (curve25519) run next to each other, who goes first alternating: the
            # VM's speed drifts, and neighbours see the same. The other tools follow, also alternating.
            pair: list[Callable[[], None]] = [patchdesk_round, ssh_round]
            for fn in pair + others if rnd % 2 == 0 else pair[::-1] + others[::-1]:
                fn()
            print(
                f"patch round {rnd + 1} (load {load_average()}): "
                + "  ".join(
                    f"{n} {v[-1].wall:.2f}s" for (c, n), v in self.samples.items() if n.startswith("patch")
                ),
                flush=True,
            )

    # -- the report -------------------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        cores = os.cpu_count() or 1
        out: dict[str, Any] = {"hosts": len(self.hosts), "cores": cores, "runs": {}}
        print()
        print(f"# fan-out, N={len(self.hosts)} hosts, {cores} CPUs, hosts on the same machine")
        print("scan: facts + fingerprint + reboot check per host, plus the simulated upgrade when 'full';")
        print("'unchanged': nothing apt reads changed since the last scan, so the host skips the simulation")
        print("patch: apt-get install --only-upgrade of 2 packages per host, fresh logins")
        print("floor: the hosts' own CPU / the cores (no tool can be faster with the hosts on these cores)")
        print(
            f"{'C':>3} {'run':<34} {'wall s':>8} {'min':>7} {'max':>7} {'tool CPU':>9} {'ms/host':>8}"
            f" {'hosts CPU':>10} {'floor s':>8} {'/floor':>7} {'RSS MB':>7}  load"
        )
        for (c, name), samples in self.samples.items():
            n = samples[0].hosts
            walls = [s.wall for s in samples]
            wall, tool, hosts = (
                statistics.median(walls),
                med(samples, "client_cpu"),
                med(samples, "hosts_cpu"),
            )
            floor = hosts / cores
            rss = max(s.peak_rss for s in samples)
            print(
                f"{c:>3} {name:<34} {wall:8.2f} {min(walls):7.2f} {max(walls):7.2f} {tool:9.2f}"
                f" {1000 * tool / n:8.2f} {hosts:10.2f} {floor:8.2f} {wall / floor if floor else 0:7.2f}"
                f" {rss:7.0f}  {samples[-1].load}"
            )
            out["runs"][f"C={c} {name}"] = {
                "wall": walls,
                "tool_cpu": [s.client_cpu for s in samples],
                "hosts_cpu": [s.hosts_cpu for s in samples],
                "peak_rss_mb": rss,
                "load": [s.load for s in samples],
                "hosts": n,
            }
        print()
        self.print_ratios()
        return out

    def print_linearity(self) -> None:
        """CPU per host of the full-size job against the same case over the first K hosts."""
        k = self.args.subset
        for (c, name), samples in self.samples.items():
            if not name.endswith(f", first {k}") or (c, name.split(",")[0]) not in self.samples:
                continue
            whole = self.samples[(c, name.split(",")[0])]
            per_all = med(whole, "client_cpu") / whole[0].hosts
            per_k = med(samples, "client_cpu") / k
            print(
                f"C={c:<3} {name.split(':')[0]:<16} Patchdesk CPU/host {len(self.hosts)} hosts"
                f" {1000 * per_all:.2f} ms, first {k} {1000 * per_k:.2f} ms: {per_all / per_k - 1:+.0%}"
            )

    def print_ratios(self) -> None:
        if self.args.subset:
            self.print_linearity()
        m = {k: statistics.median(s.wall for s in v) for k, v in self.samples.items()}
        cases = ("unchanged fresh", "unchanged kept", "full fresh", "full kept", "patch")
        for c in sorted({c for c, _ in m}):
            for case in cases:
                pd = m.get((c, f"{case}: patchdesk"))
                if pd is None:
                    continue
                ssh = m[(c, f"{case}: ssh-curve25519")]
                line = f"C={c:<3} {case:<16} Patchdesk/OpenSSH(curve25519) = {pd / ssh:.2f}x"
                if (c, f"{case}: ssh-default") in m:
                    line += f"  Patchdesk/OpenSSH(default) = {pd / m[(c, f'{case}: ssh-default')]:.2f}x"
                if (c, f"{case}: ansible") in m:
                    line += f"  Ansible/Patchdesk = {m[(c, f'{case}: ansible')] / pd:.2f}x"
                print(line)


def probe_worker(db_path: Path, concurrency: int) -> int:
    """A full scan of every host in ``db_path`` through the GUI's job worker (app/jobs/worker.py), driven
    from this process as the console drives it, without a window; prints the peak RSS of this process
    and of the worker as JSON."""
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    from app.jobs.worker import WorkerJobRunner
    from db import hosts as db_hosts
    from db.database import open_database

    db = open_database(db_path)
    models = db_hosts.list_hosts(db)
    events = [0]
    runner = WorkerJobRunner(db_path, keyring=False, concurrency=concurrency, host_deadline=600)
    runner.add_listener(lambda ev: events.__setitem__(0, events[0] + 1))
    try:
        t0 = time.perf_counter()
        handle = runner.start_scan(db, models, full=True, accept_new_keys=True)
        handle.wait()
        wall = time.perf_counter() - t0
        runner.flush(600)
        bad = sum(1 for o in handle.outcomes.values() if str(o.state) != "succeeded")
        worker = peak_rss_mb(runner._proc.pid)
    finally:
        runner.close()
    print(
        json.dumps(
            {
                "hosts": len(models),
                "failed": bad,
                "wall": round(wall, 2),
                "events": events[0],
                "console_peak_rss_mb": round(peak_rss_mb(), 1),
                "worker_peak_rss_mb": round(worker, 1),
            }
        )
    )
    return 0 if bad == 0 else 1


def run_probe(db_path: Path, concurrency: int) -> dict[str, Any]:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.fanout",
            "--probe-worker",
            str(db_path),
            "--concurrency",
            str(concurrency),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=3600,
    )
    try:
        result: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise RuntimeError(f"worker probe failed ({r.returncode}): {r.stderr[-1000:]}") from None
    print(
        f"job worker, full scan of {result['hosts']} hosts at C={concurrency}: {result['wall']} s; peak RSS "
        f"console (headless) {result['console_peak_rss_mb']} MB + worker {result['worker_peak_rss_mb']} MB "
        f"= {result['console_peak_rss_mb'] + result['worker_peak_rss_mb']:.0f} MB (target <= 400)",
        flush=True,
    )
    return result


def share_host_keys(cluster: Any, sets: int) -> None:
    """Past the first ``sets`` hosts, hosts take the cached host key sets again, round robin. A new set
    is three keys, RSA-3072 among them: about 0.5 CPU-s each, 10 minutes of both cores for 1,000
    hosts on a quiet machine, an hour on a loaded one. What is timed here -- logins, key exchange,
    scans -- costs the same whichever key a host serves, and Patchdesk keeps each host's key on its own."""
    from tests.hosts.keys import ensure_host_key_pool

    pool = ensure_host_key_pool(cluster.cache_dir, sets)
    taken = itertools.count()
    cluster._alloc_key_sets = lambda n: [pool[next(taken) % len(pool)] for _ in range(n)]


def start_hosts(cluster: Any, n: int, key_sets: int) -> list[Any]:
    """``n`` hosts of ``cluster`` (at most ``key_sets`` distinct host key sets), started in batches: a
    thousand sshd starting at once time each other out."""
    share_host_keys(cluster, min(n, key_sets))
    t0 = time.perf_counter()
    hosts: list[Any] = []
    while len(hosts) < n:
        hosts += cluster.start(min(100, n - len(hosts)), prefix="bench")
    print(f"{len(hosts)} hosts up in {time.perf_counter() - t0:.1f} s (load {load_average()})", flush=True)
    return hosts


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument(
        "--concurrency",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[20],
        help="one or more, comma-separated (20,50): the scan comparison runs at each; the patch at the first",
    )
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--patch-rounds", type=int, default=3)
    ap.add_argument("--subnet", default="127.0.50", help="the first /24; more follow for over 254 hosts")
    ap.add_argument(
        "--key-sets", type=int, default=300, help="distinct host key sets at most (then shared round robin)"
    )
    ap.add_argument("--keep", type=int, default=1800, help="seconds kept logins live (every tool)")
    ap.add_argument("--no-ansible", action="store_true")
    ap.add_argument(
        "--no-default-kex",
        action="store_true",
        help="leave out OpenSSH with its default key exchange (sntrup761x25519: 3x the hosts' CPU)",
    )
    ap.add_argument("--worker", action="store_true", help="also a full scan through the GUI's job worker")
    ap.add_argument(
        "--subset",
        type=int,
        default=0,
        help="after each Patchdesk scan, the same over the first K hosts: CPU per host at two job sizes",
    )
    ap.add_argument("--json", type=Path, help="write the samples here")
    ap.add_argument("--probe-worker", type=Path, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.probe_worker:
        return probe_worker(args.probe_worker, args.concurrency[0])
    from tests.hosts import HostCluster, hosts_available

    ok, reason = hosts_available()
    if not ok:
        print(f"cannot run: {reason}")
        return 2
    raise_limits()
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    work = Path(tempfile.mkdtemp(prefix="pd-bench-"))
    os.environ["PATCHDESK_LOG_DIR"] = str(work / "logs")
    print(f"load average at start: {load_average()}", flush=True)
    with HostCluster(subnet=args.subnet, subnets=max(1, -(-args.hosts // 254))) as cluster:
        hosts = start_hosts(cluster, args.hosts, args.key_sets)
        bench = Bench(args, cluster, hosts, work)
        try:
            bench.prepare()
            for c in args.concurrency:
                bench.c = c
                bench.scan_rounds()
            probe = run_probe(bench.db_path, max(args.concurrency)) if args.worker else None
            bench.patch_rounds()
        finally:
            bench.close()
    result = bench.report()
    if probe is not None:
        print(
            f"job worker: console {probe['console_peak_rss_mb']} MB + worker {probe['worker_peak_rss_mb']} MB"
            " peak RSS during the full scan"
        )
        result["worker_probe"] = probe
    print(f"load average at the end: {load_average()}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
