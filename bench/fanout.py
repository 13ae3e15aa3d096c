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

Prints medians and spreads, and the ratios as the last lines. Run as root: `make bench` or
`python -m bench.fanout --hosts 50 --concurrency 20 --rounds 5`.
"""

from __future__ import annotations

import argparse
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
from pathlib import Path

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


def ssh_cmd(key: Path, address: str, script: str, kex: str | None, control: Path | None = None) -> list[str]:
    """``control``: a directory for ControlMaster sockets kept 60 s (OpenSSH's ControlPersist)."""
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
        opts += ["-o", "ControlMaster=auto", "-o", f"ControlPath={control}/%C", "-o", "ControlPersist=60"]
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--patch-rounds", type=int, default=3)
    ap.add_argument("--subnet", default="127.0.50")
    ap.add_argument("--no-ansible", action="store_true")
    args = ap.parse_args(argv)

    from tests.hosts import HostCluster, hosts_available

    ok, reason = hosts_available()
    if not ok:
        print(f"cannot run: {reason}")
        return 2
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    from app.domain.models import Host
    from app.jobs.runner import JobRunner
    from app.jobs.selection import selections_for
    from db import hosts as db_hosts
    from db import scan_basis as db_scan_basis
    from db.database import open_database

    work = Path(tempfile.mkdtemp(prefix="pd-bench-"))
    os.environ["PATCHDESK_LOG_DIR"] = str(work / "logs")
    with HostCluster(subnet=args.subnet) as cluster:
        t0 = time.perf_counter()
        hosts = cluster.start(args.hosts, prefix="bench")
        print(
            f"{len(hosts)} hosts up in {time.perf_counter() - t0:.1f} s; concurrency {args.concurrency}",
            flush=True,
        )
        key = cluster.client_key
        db_path = work / "bench.sqlite3"
        db = open_database(db_path)
        models = [
            db_hosts.add_host(db, Host(name=h.name, address=h.address, user="admin", key_file=str(key)))
            for h in hosts
        ]
        # Patchdesk as it runs: a finished job's connections are kept 60 s for the next one
        # (app/transports/pool.py). And with every job logging in afresh, as the CLI does.
        runner = JobRunner(db_path, concurrency=args.concurrency, host_deadline=300)
        cold = JobRunner(db_path, concurrency=args.concurrency, host_deadline=300, keep_connections=0)

        def patchdesk_scan(full: bool = False, fresh: bool = False) -> None:
            handle = (cold if fresh else runner).start_scan(db, models, full=full, accept_new_keys=True)
            handle.wait()
            bad = [o.error for o in handle.outcomes.values() if str(o.state) != "succeeded"]
            if bad:
                raise RuntimeError(f"Patchdesk scan failed on {len(bad)} host(s): {bad[:2]}")
            reused = sum(1 for o in handle.outcomes.values() if getattr(o.result, "reused", False))
            if reused != (0 if full else len(models)):
                raise RuntimeError(f"Patchdesk reused the simulation on {reused} of {len(models)} hosts")

        patchdesk_scan(full=True)  # warm-up: first contact records host keys, caches are warm for everyone
        runner.flush()
        stored = db_scan_basis.fingerprints(db, [m.id for m in models if m.id is not None])
        if len(stored) != len(models):
            raise RuntimeError(f"only {len(stored)} of {len(models)} hosts have a stored scan basis")
        script, end_marker, _ = same_commands()
        ssh_default = [ssh_cmd(key, h.address, script, None) for h in hosts]
        ssh_cheap = [ssh_cmd(key, h.address, script, "curve25519-sha256") for h in hosts]
        control = work / "ssh-cm"
        control.mkdir()
        ssh_kept = [ssh_cmd(key, h.address, script, "curve25519-sha256", control) for h in hosts]
        # The unchanged-host scan: each host is sent its own fingerprint, in the command Patchdesk sends,
        # and must answer with that script's end marker and its "same" marker.
        per_host = {
            h.name: same_commands(stored[m.id][1])
            for h, m in zip(hosts, models, strict=True)
            if m.id is not None
        }
        ssh_same = [
            (ssh_cmd(key, h.address, per_host[h.name][0], "curve25519-sha256"), per_host[h.name])
            for h in hosts
        ]
        ssh_same_kept = [
            (ssh_cmd(key, h.address, per_host[h.name][0], "curve25519-sha256", control), per_host[h.name])
            for h in hosts
        ]

        def ssh_same_run(kept: bool = False) -> None:
            def one(job: tuple[list[str], tuple[str, str, str]]) -> None:
                cmd, (_, end, same) = job
                r = subprocess.run(cmd, capture_output=True, timeout=300)
                if r.returncode != 0 or end.encode() not in r.stdout or same.encode() not in r.stdout:
                    raise RuntimeError(f"{cmd[-2]}: not a whole unchanged-host scan: {r.stdout[-300:]!r}")

            with ThreadPoolExecutor(args.concurrency) as pool:
                list(pool.map(one, ssh_same_kept if kept else ssh_same))

        run_parallel(ssh_cheap, args.concurrency, expect=end_marker)  # warm-up
        run_parallel(ssh_kept, args.concurrency, expect=end_marker)  # and the control masters start

        ansible = None if args.no_ansible else ensure_ansible()
        inventory = work / "inventory.yml"
        # JSON strings are YAML double-quoted scalars; !unsafe keeps Ansible from templating the scripts.
        inventory.write_text(
            "bench:\n  hosts:\n"
            + "".join(
                f"    {h.name}:\n      ansible_host: {h.address}\n"
                f"      pd_script: !unsafe {json.dumps(per_host[h.name][0])}\n"
                for h in hosts
            )
            + f"  vars:\n    ansible_user: admin\n    ansible_ssh_private_key_file: {json.dumps(str(key))}\n"
        )
        ansible_env = {
            **os.environ,
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp"),
            # one fresh connection per host, as Patchdesk: no ControlMaster/ControlPersist (Ansible's default)
            "ANSIBLE_SSH_ARGS": "-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no",
            "ANSIBLE_NOCOLOR": "1",
        }

        # Ansible as installed: its ssh connection plugin keeps a ControlMaster per host for 60 s
        # (ControlPersist), so every round after the first reuses the previous round's logins.
        persist_env = {
            **ansible_env,
            "ANSIBLE_SSH_ARGS": "-C -o ControlMaster=auto -o ControlPersist=60s "
            + ansible_env["ANSIBLE_SSH_ARGS"],
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(work / "ansible-cp"),
        }

        def run_ansible(command: str, env: dict[str, str], timeout: float) -> str:
            """``ansible bench -m raw -a COMMAND -f C``; its stdout, or an error when it failed."""
            assert ansible is not None
            argv = [str(ansible), "bench", "-i", str(inventory), "-m", "raw", "-a", command]
            r = subprocess.run(
                [*argv, "-f", str(args.concurrency)], capture_output=True, timeout=timeout, env=env, text=True
            )
            if r.returncode != 0:
                raise RuntimeError(f"ansible failed ({r.returncode}): {r.stdout[-500:]} {r.stderr[-500:]}")
            return r.stdout

        def ansible_scan(same: bool = False, persist: bool = False) -> None:
            out = run_ansible(
                # ":" first: a free-form argument starting with "{" would be read as JSON
                ": ; {{ pd_script }}" if same else script,
                persist_env if persist else ansible_env,
                600,
            )
            if same:
                done = sum(1 for _, end, mark in per_host.values() if end in out and mark in out)
            else:
                done = out.count(end_marker)
            if done < len(hosts):
                raise RuntimeError(
                    f"ansible ran the whole script on {done} of {len(hosts)} hosts: {out[-500:]}"
                )

        if ansible is not None:
            ansible_scan()  # warm-up
            ansible_scan(same=True)
            ansible_scan(same=True, persist=True)

        # "fresh": every tool logs in to every host (Patchdesk with kept connections off, OpenSSH without
        # ControlMaster, Ansible with ControlPersist off). "kept": each tool as it comes, reusing the
        # previous round's logins (Patchdesk's pool, ControlPersist=60 for OpenSSH and Ansible).
        scans: dict[str, list[float]] = {}

        # Where each of Patchdesk's rounds spent the machine's CPU: its own process, and the rest -- the
        # hosts' sshd logins and scripts (and the kernel's loopback work for them). The hosts' part is a
        # floor under any tool's wall time with these hosts on these cores: no client can scan them faster
        # than the cores can run their side. (Only Patchdesk's rounds: ssh's ControlMasters and Ansible's
        # are not waited-for children while a round runs, so their CPU could not be told from the hosts'.)
        host_cpu: dict[str, list[float]] = {}
        tool_cpu: dict[str, list[float]] = {}

        def add(name: str, fn: Callable[[], None]) -> None:
            busy, mine = machine_busy(), own_cpu()
            scans.setdefault(name, []).append(timed(fn))
            if name.endswith(": patchdesk"):
                used = own_cpu() - mine
                tool_cpu.setdefault(name, []).append(used)
                host_cpu.setdefault(name, []).append(max(0.0, machine_busy() - busy - used))

        for rnd in range(args.rounds):
            add("unchanged fresh: patchdesk", lambda: patchdesk_scan(fresh=True))
            add("unchanged fresh: ssh-curve25519", ssh_same_run)
            if ansible is not None:
                add("unchanged fresh: ansible", lambda: ansible_scan(same=True))
            add("unchanged kept: patchdesk", patchdesk_scan)
            add("unchanged kept: ssh-curve25519", lambda: ssh_same_run(kept=True))
            if ansible is not None:
                add("unchanged kept: ansible", lambda: ansible_scan(same=True, persist=True))
            add("full fresh: patchdesk", lambda: patchdesk_scan(full=True, fresh=True))
            add(
                "full fresh: ssh-default",
                lambda: run_parallel(ssh_default, args.concurrency, expect=end_marker),
            )
            add(
                "full fresh: ssh-curve25519",
                lambda: run_parallel(ssh_cheap, args.concurrency, expect=end_marker),
            )
            if ansible is not None:
                add("full fresh: ansible", ansible_scan)
            add("full kept: patchdesk", lambda: patchdesk_scan(full=True))
            add(
                "full kept: ssh-curve25519",
                lambda: run_parallel(ssh_kept, args.concurrency, expect=end_marker),
            )
            if ansible is not None:
                add("full kept: ansible", lambda: ansible_scan(persist=True))
            print(
                f"scan round {rnd + 1}: " + "  ".join(f"{k} {v[-1]:.2f}s" for k, v in scans.items() if v),
                flush=True,
            )

        # -- patch fan-out ----------------------------------------------------------------------
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
        ssh_patch = [ssh_cmd(key, h.address, apt, "curve25519-sha256") for h in hosts]
        ssh_patch_default = [ssh_cmd(key, h.address, apt, None) for h in hosts]
        installed = "Setting up pd-secfix"  # a line apt prints on every host it patched

        def reset_all() -> None:
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda h: h.reset(), hosts))

        def patchdesk_patch() -> None:
            selections = selections_for(db, models, packages=set(PATCH_PACKAGES))
            # fresh logins, like the OpenSSH runs it is compared with
            handle = cold.start_patch(db, models, selections, verify=False, accept_new_keys=True)
            handle.wait()
            cold.flush(60)  # done means recorded too: the change records are what rollback reads
            bad = [o.error for o in handle.outcomes.values() if str(o.state) != "succeeded"]
            if bad:
                raise RuntimeError(f"Patchdesk patch failed on {len(bad)} host(s): {bad[:2]}")

        def ansible_patch() -> None:
            out = run_ansible(apt, ansible_env, 900)  # fresh logins, like the others
            if out.count(installed) < len(hosts):
                raise RuntimeError(f"ansible patched {out.count(installed)} of {len(hosts)} hosts")

        def patchdesk_round() -> None:
            reset_all()
            patchdesk_scan(full=True, fresh=True)  # the pending list the patch selection reads
            cold.flush(60)  # the scan's own recording is not the patch's
            patches["patchdesk"].append(timed(patchdesk_patch))

        def ssh_round(default_kex: bool = False) -> None:
            reset_all()
            commands = ssh_patch_default if default_kex else ssh_patch
            patches["ssh-default" if default_kex else "ssh-curve25519"].append(
                timed(lambda: run_parallel(commands, args.concurrency, expect=installed))
            )

        def ansible_round() -> None:
            reset_all()
            patches["ansible"].append(timed(ansible_patch))

        patches: dict[str, list[float]] = {"patchdesk": [], "ssh-curve25519": [], "ssh-default": []}
        others: list[Callable[[], None]] = [lambda: ssh_round(default_kex=True)]
        if ansible is not None:
            patches["ansible"] = []
            others.append(ansible_round)
        for rnd in range(args.patch_rounds):
            # Patchdesk and OpenSSH (curve25519) run next to each other, who goes first alternating: the
            # VM's speed drifts, and neighbours see the same. The other tools follow, also alternating.
            pair = [patchdesk_round, ssh_round]
            for fn in pair + others if rnd % 2 == 0 else pair[::-1] + others[::-1]:
                fn()
            print(
                f"patch round {rnd + 1}: "
                + "  ".join(f"{k} {v[-1]:.2f}s" for k, v in patches.items())
                + f"  ratio {patches['patchdesk'][-1] / patches['ssh-curve25519'][-1]:.2f}x",
                flush=True,
            )
        runner.close()
        cold.close()

    print()
    print(
        f"# fan-out, N={args.hosts} hosts, C={args.concurrency}, {os.cpu_count()} CPUs, "
        "hosts on the same machine"
    )
    print("scan: facts + fingerprint + reboot check per host, plus the simulated upgrade when 'full';")
    print("'unchanged': nothing apt reads changed since the last scan, so the host skips the simulation")
    for name, samples in scans.items():
        print("  " + summary(name, samples))
    print("patch (apt-get install --only-upgrade of 2 packages per host, fresh logins):")
    for name, samples in patches.items():
        print("  " + summary(name, samples))
    med = {k: statistics.median(v) for k, v in scans.items() if v}
    print()
    for case in ("unchanged fresh", "unchanged kept", "full fresh", "full kept"):
        if f"{case}: patchdesk" not in med:  # --rounds 0: the patch comparison only
            continue
        pd = med[f"{case}: patchdesk"]
        label = f"{case.strip():<15}"
        print(
            f"scan {label} Patchdesk/OpenSSH(curve25519) = {pd / med[f'{case}: ssh-curve25519']:.2f}x"
            "  (target <= 1.3)"
        )
        if f"{case}: ssh-default" in med:
            print(f"scan {label} Patchdesk/OpenSSH(default)    = {pd / med[f'{case}: ssh-default']:.2f}x")
        if f"{case}: ansible" in med:
            print(
                f"scan {label} Ansible/Patchdesk             = {med[f'{case}: ansible'] / pd:.2f}x faster"
                "  (target >= 6)"
            )
            plain = med[f"{case}: ansible"] / med[f"{case}: ssh-curve25519"]
            print(f"scan {label} Ansible/OpenSSH(curve25519)   = {plain:.2f}x  (same commands, plain ssh)")
            hosts_cpu = statistics.median(host_cpu[f"{case}: patchdesk"])
            floor = hosts_cpu / (os.cpu_count() or 1)
            print(
                f"scan {label} hosts' own side {hosts_cpu:.2f} CPU-s (Patchdesk's process "
                f"{statistics.median(tool_cpu[f'{case}: patchdesk']):.2f}) = {floor:.2f} s on "
                f"{os.cpu_count()} CPUs: Ansible/anything <= {med[f'{case}: ansible'] / floor:.2f}x here"
            )
    pmed = {k: statistics.median(v) for k, v in patches.items()}
    paired = [a / b for a, b in zip(patches["patchdesk"], patches["ssh-curve25519"], strict=True)]
    print(
        f"patch Patchdesk/OpenSSH(curve25519) = {pmed['patchdesk'] / pmed['ssh-curve25519']:.2f}x"
        f"  (target <= 1.2; median of the rounds' own ratios {statistics.median(paired):.2f}x)"
    )
    print(f"patch Patchdesk/OpenSSH(default)    = {pmed['patchdesk'] / pmed['ssh-default']:.2f}x")
    if "ansible" in pmed:
        print(f"patch Ansible/Patchdesk             = {pmed['ansible'] / pmed['patchdesk']:.2f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
