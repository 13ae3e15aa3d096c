"""The CLI's scan of every host, counted from process start, against the OpenSSH client on the same hosts.

A one-shot ``patchdesk scan`` pays for what a console that stays open pays once: the interpreter, the
imports, opening the database, the job machinery, the first transport. This times it as a user waits
for it. Brings up N real Debian test hosts (tests/hosts, as bench/fanout.py), enrolls them in a fresh
database through the CLI (``patchdesk hosts import`` of a CSV naming the test suite's client key),
lets a first scan learn their host keys, then times, alternating in the same run:

  (a) the CLI as a fresh process, from fork to exit: ``patchdesk --db DB scan --all --json`` at
      concurrency C, with ``--full`` for a full scan (the first scan, or after any change: every
      host simulates) and without it for the unchanged-host scan (the host compares the fingerprint
      it is sent and skips apt's simulation)
  (b) the OpenSSH client (curve25519-sha256, as bench/fanout.py) running the same per-host command on
      every host, C in parallel, from the first ssh process's start to the last one's exit

and, in runs of their own, the CLI under bench/cli_probe.py, whose marks split its time into phases,
and once under ``python -X importtime`` for what its imports cost.

Prints medians and spreads, the CLI's own CPU, the hosts' CPU and the floor it sets, the ratios, and
the breakdown; the load average with every round. Run as root: `make bench-cli` or
`python -m bench.cli_scan --hosts 50 --concurrency 20 --rounds 5`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.fanout import (
    ROOT,
    host_namespaces,
    hosts_cpu,
    load_average,
    own_cpu,
    raise_limits,
    run_parallel,
    run_same,
    same_commands,
    ssh_cmd,
    start_hosts,
)

#: What the installed ``patchdesk`` script runs (pip's console-script wrapper), from this tree.
CLI = [sys.executable, "-c", "import sys\nfrom ui.main import main\nsys.exit(main())"]
PROBE = [sys.executable, "-m", "bench.cli_probe"]

#: The breakdown: (phase, the mark it ends at); each starts where the one before ended, the first at
#: the fork, and "exit" ends when the parent sees the process gone.
PHASES = (
    ("interpreter start (fork to first line)", "interpreter"),
    ("imports + parsing + logging set-up", "command"),
    ("first contact: DB open, schema check, inventory", "inventory_read"),
    ("first contact: job machinery (imports, recorder)", "runner_ready"),
    ("first contact: job row, host keys, rules", "job_started"),
    ("first contact: first transport to first handshake", "first_connect"),
    ("fan-out (first handshake to last host done)", "fanout_done"),
    ("writing results: record, close connections", "recorded"),
    ("writing results: report read and printed", "reported"),
    ("exit (return to process gone)", "exit"),
)


@dataclass
class Timed:
    wall: float
    cpu: float
    start: float  # time.monotonic() at the start (the fork)


def children_cpu() -> float:
    """CPU seconds of the waited-for child processes so far."""
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return c.ru_utime + c.ru_stime


@dataclass
class Sample:
    wall: float
    cpu: float  # the tool's own: the CLI process, or the ssh processes (and this process's threads)
    hosts_cpu: float
    load: str


class CliBench:
    def __init__(self, args: argparse.Namespace, cluster: Any, hosts: list[Any], work: Path) -> None:
        self.args = args
        self.c: int = args.concurrency
        self.hosts = hosts
        self.key: Path = cluster.client_key
        self.work = work
        self.db_path = work / "cli.sqlite3"
        self.namespaces = host_namespaces(hosts)
        # An installed Patchdesk has its bytecode compiled; a session that sets PYTHONDONTWRITEBYTECODE
        # would have every run compile the whole tree again (the warm-up runs write the caches).
        self.env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        self.env["PATCHDESK_LOG_DIR"] = str(work / "logs")
        self.samples: dict[str, list[Sample]] = {}
        self.phases: dict[str, list[dict[str, tuple[float, float]]]] = {}
        self.modules: set[str] = set()

    # -- the CLI ----------------------------------------------------------------------------------

    def cli(
        self, *args: str, probe: str | None = None, root: Path = ROOT
    ) -> tuple[subprocess.CompletedProcess[str], Timed]:
        """Run ``patchdesk --db DB ARGS``: its result, its wall time from fork to exit and its CPU.
        ``probe``: a file for bench/cli_probe.py's marks (the run goes through it); ``root``: the
        source tree whose CLI runs (``--compare``)."""
        env = dict(self.env)
        if probe:
            env["PD_PROBE_MARKS"] = probe
        argv = [*(PROBE if probe else CLI), "--db", str(self.db_path), *args]
        cpu0 = children_cpu()
        t0 = time.monotonic()
        r = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, timeout=900)
        timed = Timed(time.monotonic() - t0, children_cpu() - cpu0, t0)
        if r.returncode != 0:
            raise RuntimeError(f"patchdesk {' '.join(args)} failed ({r.returncode}): {r.stderr[-1000:]}")
        return r, timed

    def cli_scan(self, full: bool, probe: str | None = None, root: Path = ROOT) -> Timed:
        extra = ["--full"] if full else []
        argv = ["scan", "--all", "--json", "--concurrency", str(self.c), *extra]
        r, timed = self.cli(*argv, probe=probe, root=root)
        self.check_scan(r.stdout, full)
        return timed

    def compare_scan(self, full: bool) -> Timed:
        return self.cli_scan(full, root=self.args.compare)

    def check_scan(self, stdout: str, full: bool) -> None:
        """Every host scanned, and through the path the case is about (the simulation reused on every
        host when unchanged, on none when full), as the job's log says."""
        from db import jobs as db_jobs
        from db.database import open_database

        report = json.loads(stdout)
        bad = [h for h in report["hosts"] if h["status"] != "ok"]
        if bad or len(report["hosts"]) != len(self.hosts):
            raise RuntimeError(f"the CLI scan failed on {len(bad)} host(s): {bad[:2]}")
        db = open_database(self.db_path, migrate=False)
        try:
            lines = db_jobs.log_lines(db, report["job"])
        finally:
            db.conn.close()
        reused = {line.host_id for _, line in lines if "result was used again" in line.text}
        if len(reused) != (0 if full else len(self.hosts)):
            n = len(self.hosts)
            raise RuntimeError(f"the CLI scan reused the simulation on {len(reused)} of {n} hosts")

    def enroll(self) -> None:
        """The hosts into a fresh database through ``hosts import``, then the first scan (host keys
        learned, as OpenSSH's accept-new), timed for the record."""
        csv = self.work / "hosts.csv"
        rows = [f"{h.name},{h.address},admin,{self.key}\n" for h in self.hosts]
        csv.write_text("name,address,user,key\n" + "".join(rows))
        r, timed = self.cli("hosts", "import", str(csv), "--json")
        added = json.loads(r.stdout)["added"]
        if len(added) != len(self.hosts):
            raise RuntimeError(f"hosts import added {len(added)} of {len(self.hosts)}: {r.stdout[-500:]}")
        print(f"enrolled {len(added)} hosts with `patchdesk hosts import` in {timed.wall:.2f} s", flush=True)
        r, timed = self.cli("scan", "--all", "--json", "--concurrency", str(self.c))
        self.check_scan(r.stdout, full=True)
        print(f"first scan (host keys learned): {timed.wall:.2f} s (load {load_average()})", flush=True)
        if self.args.compare:
            self.compare_scan(full=True)  # warm-up: that tree's bytecode is written on its first run

    # -- OpenSSH ----------------------------------------------------------------------------------

    def prepare_ssh(self) -> None:
        """The same commands for OpenSSH: the full scan's, and each host's unchanged-host command with
        the fingerprint stored for it (as bench/fanout.py)."""
        from db import hosts as db_hosts
        from db import scan_basis as db_scan_basis
        from db.database import open_database

        db = open_database(self.db_path, migrate=False)
        try:
            ids = {h.name: h.id for h in db_hosts.list_hosts(db)}
            stored = db_scan_basis.fingerprints(db, [i for i in ids.values() if i is not None])
        finally:
            db.conn.close()
        if len(stored) != len(self.hosts):
            raise RuntimeError(f"only {len(stored)} of {len(self.hosts)} hosts have a stored scan basis")
        kex = "curve25519-sha256"
        script, self.end_marker, _ = same_commands()
        self.ssh_full = [ssh_cmd(self.key, h.address, script, kex) for h in self.hosts]
        self.ssh_same = []
        for h in self.hosts:
            per_host = same_commands(stored[ids[h.name]][1])
            self.ssh_same.append((ssh_cmd(self.key, h.address, per_host[0], kex), per_host))
        run_parallel(self.ssh_full, self.c, expect=self.end_marker)  # warm-up
        run_same(self.ssh_same, self.c)

    # -- samples ----------------------------------------------------------------------------------

    def measure(self, name: str, fn: Callable[[], Timed | None]) -> Sample:
        """``fn`` returns the CLI's own wall time and CPU, or None to be timed here (OpenSSH: the ssh
        processes' CPU and this process's threads that ran them)."""
        hosts0, cpu0 = hosts_cpu(self.namespaces), own_cpu()
        t0 = time.monotonic()
        timed = fn()
        if timed is None:
            timed = Timed(time.monotonic() - t0, own_cpu() - cpu0, t0)
        sample = Sample(timed.wall, timed.cpu, hosts_cpu(self.namespaces) - hosts0, load_average())
        self.samples.setdefault(name, []).append(sample)
        return sample

    def probe(self, case: str, full: bool) -> None:
        """One run under bench/cli_probe.py: its phase marks, with the fork and the exit from here."""
        marks_file = self.work / "marks.json"
        marks_file.unlink(missing_ok=True)
        timed = self.cli_scan(full, probe=str(marks_file))
        data = json.loads(marks_file.read_text())
        marks = {k: (v[0], v[1]) for k, v in data["marks"].items()}
        marks["fork"] = (timed.start, 0.0)
        marks["exit"] = (timed.start + timed.wall, timed.cpu)  # the process's whole CPU (its rusage)
        self.phases.setdefault(case, []).append(marks)
        self.modules.update(data["modules"])

    def rounds(self) -> None:
        cases: list[tuple[str, bool]] = [("full", True), ("unchanged", False)]
        for rnd in range(self.args.rounds):
            done: list[tuple[str, Sample]] = []
            for case, full in cases:
                cli_step = (f"{case}: cli", lambda full=full: self.cli_scan(full))
                if full:
                    ssh_step: tuple[str, Callable[[], Timed | None]] = (
                        f"{case}: ssh-curve25519",
                        lambda: run_parallel(self.ssh_full, self.c, expect=self.end_marker),
                    )
                else:
                    ssh_step = (f"{case}: ssh-curve25519", lambda: run_same(self.ssh_same, self.c))
                steps = [cli_step, ssh_step]
                if self.args.compare:
                    steps.append((f"{case}: cli@compare", lambda full=full: self.compare_scan(full)))
                # who goes first alternates from round to round: the machine's speed drifts
                for name, fn in steps if rnd % 2 == 0 else steps[::-1]:
                    done.append((name, self.measure(name, fn)))
                self.probe(case, full)
            print(
                f"round {rnd + 1} (load {load_average()}): "
                + "  ".join(f"{name} {s.wall:.2f}s" for name, s in done),
                flush=True,
            )

    # -- import costs -----------------------------------------------------------------------------

    def import_times(self) -> None:
        """One full scan under ``python -X importtime``: the imports' total and the costliest."""
        argv = [CLI[0], "-X", "importtime", *CLI[1:], "--db", str(self.db_path)]
        argv += ["scan", "--all", "--json", "--full", "--concurrency", str(self.c)]
        r = subprocess.run(argv, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=900)
        top: list[tuple[int, str]] = []
        for line in r.stderr.splitlines():
            parts = line.split("|")
            if not line.startswith("import time:") or len(parts) != 3 or "cumulative" in line:
                continue
            # "import time: self | cumulative | <2 spaces per nesting level>name"; nested imports are
            # in their importer's cumulative time
            if parts[2].startswith("  "):
                continue
            top.append((int(parts[1]), parts[2].strip()))
        total = sum(t for t, _ in top) / 1e6
        print(f"\nimports (python -X importtime, one full scan): {total:.3f} s, {len(top)} top-level")
        for us, name in sorted(top, reverse=True)[:15]:
            print(f"  {us / 1e3:8.1f} ms  {name}")

    # -- the report -------------------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        cores = os.cpu_count() or 1
        n = len(self.hosts)
        print()
        print(f"# the CLI's scan from process start, N={n} hosts, C={self.c}, {cores} CPUs (hosts' too)")
        print("floor: the hosts' own CPU / the cores (no tool can be faster with the hosts on these cores)")
        print(
            f"{'run':<28} {'wall s':>8} {'min':>7} {'max':>7} {'tool CPU':>9} {'hosts CPU':>10}"
            f" {'floor s':>8}  load"
        )
        out: dict[str, Any] = {"hosts": n, "concurrency": self.c, "runs": {}}
        for name, samples in self.samples.items():
            walls = [s.wall for s in samples]
            tool = statistics.median(s.cpu for s in samples)
            hosts = statistics.median(s.hosts_cpu for s in samples)
            print(
                f"{name:<28} {statistics.median(walls):8.3f} {min(walls):7.3f} {max(walls):7.3f} {tool:9.2f}"
                f" {hosts:10.2f} {hosts / cores:8.2f}  {samples[-1].load}"
            )
            out["runs"][name] = {
                "wall": walls,
                "tool_cpu": [s.cpu for s in samples],
                "load": [s.load for s in samples],
            }
        for case in ("full", "unchanged"):
            runs = self.phases.get(case, [])
            print(f"\n## {case}: where the CLI's time goes (median of {len(runs)} probed runs)")
            self.print_phases(runs)
        print()
        med = {k: statistics.median(s.wall for s in v) for k, v in self.samples.items()}
        for case in ("full", "unchanged"):
            ratio = med[f"{case}: cli"] / med[f"{case}: ssh-curve25519"]
            out[f"ratio_{case}"] = ratio
            line = f"{case:<10} CLI from process start / OpenSSH(curve25519) = {ratio:.2f}x"
            if f"{case}: cli@compare" in med:
                before = med[f"{case}: cli@compare"] / med[f"{case}: ssh-curve25519"]
                line += f"   (--compare tree: {before:.2f}x)"
            print(line)
        print("modules the CLI loaded of the watched ones: " + (", ".join(sorted(self.modules)) or "none"))
        if "PySide6" in self.modules:
            print("WARNING: the CLI imported PySide6")
        return out

    @staticmethod
    def print_phases(runs: list[dict[str, tuple[float, float]]]) -> None:
        if not runs:
            return
        print(f"  {'phase':<52} {'wall s':>7} {'CPU s':>7}")
        for i, (label, end) in enumerate(PHASES):
            start = "fork" if i == 0 else PHASES[i - 1][1]
            walls = [r[end][0] - r[start][0] for r in runs if end in r and start in r]
            cpus = [r[end][1] - r[start][1] for r in runs if end in r and start in r and i > 0]
            if walls:
                cpu = f"{statistics.median(cpus):7.3f}" if cpus else f"{'':>7}"
                print(f"  {label:<52} {statistics.median(walls):7.3f} {cpu}")
        total = statistics.median(r["exit"][0] - r["fork"][0] for r in runs)
        cpu = statistics.median(r["exit"][1] for r in runs)
        print(f"  {'total (fork to exit); CPU: the whole process':<52} {total:7.3f} {cpu:7.3f}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--subnet",
        default=os.environ.get("PATCHDESK_TEST_SUBNET", "127.0.52"),
        help="the first /24 of the test hosts (default: PATCHDESK_TEST_SUBNET, else 127.0.52)",
    )
    ap.add_argument("--key-sets", type=int, default=300, help="distinct host key sets at most")
    ap.add_argument(
        "--compare",
        type=Path,
        help="another source tree (`git archive` of an older commit) whose CLI is timed in the same rounds",
    )
    ap.add_argument("--json", type=Path, help="write the samples here")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from tests.hosts import HostCluster, hosts_available

    ok, reason = hosts_available()
    if not ok:
        print(f"cannot run: {reason}")
        return 2
    raise_limits()
    work = Path(tempfile.mkdtemp(prefix="pd-bench-cli-"))
    print(f"load average at start: {load_average()}", flush=True)
    with HostCluster(subnet=args.subnet, subnets=max(1, -(-args.hosts // 254))) as cluster:
        hosts = start_hosts(cluster, args.hosts, args.key_sets)
        bench = CliBench(args, cluster, hosts, work)
        bench.enroll()
        bench.prepare_ssh()
        bench.rounds()
        bench.import_times()
    result = bench.report()
    print(f"load average at the end: {load_average()}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
