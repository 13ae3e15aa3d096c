"""Scan and patch fan-out: Patchdesk against the OpenSSH client and Ansible, on the same real hosts.

Brings up N real Debian test hosts (tests/hosts, the same builder the test suite uses), then times,
alternating in the same run:

  scan   (a) Patchdesk's own engine (paramiko) scanning every host at concurrency C
         (b) the OpenSSH client running the same three commands on every host, C in parallel,
             with its default key exchange and with curve25519-sha256 (the cheapest; what paramiko
             negotiates), one connection per host as Patchdesk uses
         (c) Ansible ad-hoc (`ansible -m raw -f C`, ansible-core in a separate venv)
  patch  Patchdesk's patch job (verification off, to compare like with like) against OpenSSH
         running the same apt-get, on hosts reset between rounds.

Prints medians and spreads, and the ratios as the last lines. Run as root: `make bench` or
`python -m bench.fanout --hosts 50 --concurrency 20 --rounds 5`.
"""

from __future__ import annotations

import argparse
import os
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

from app.platforms.apt import AptAdapter, install_command  # noqa: E402
from app.platforms.facts import facts_with_command, marker, new_nonce  # noqa: E402

PATCH_PACKAGES = ("pd-regular", "pd-secfix")
ANSIBLE_VENV = Path.home() / ".cache" / "patchdesk-bench" / "ansible-venv"


def same_commands() -> tuple[str, str]:
    """Exactly what one Patchdesk scan of an apt host runs (app/jobs/tasks.py: the facts snippet, then the
    apt adapter's scan script, in one session), and a line every host's output must contain -- the
    scan script's last marker -- so a script that stops early cannot pass for a fast one."""
    nonce = new_nonce()
    return facts_with_command(nonce, AptAdapter(None).scan_script(nonce)), marker(nonce, "end")


def timed(fn: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run_parallel(
    commands: list[list[str]], concurrency: int, env: dict[str, str] | None = None, expect: str | None = None
) -> None:
    def one(cmd: list[str]) -> None:
        r = subprocess.run(cmd, capture_output=True, timeout=300, env=env)
        if r.returncode != 0:
            raise RuntimeError(f"{cmd[:3]}… failed ({r.returncode}): {r.stderr[-300:]!r}")
        if expect is not None and expect.encode() not in r.stdout:
            raise RuntimeError(f"{cmd[:3]}… did not run the whole script: {r.stdout[-300:]!r}")

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, commands))


def ssh_cmd(key: Path, address: str, script: str, kex: str | None) -> list[str]:
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
    from app.jobs.runner import JobRunner
    from app.jobs.selection import selections_for
    from app.models import Host
    from db import hosts as db_hosts
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
        runner = JobRunner(db_path, concurrency=args.concurrency, host_deadline=300)

        def patchdesk_scan() -> None:
            handle = runner.start_scan(db, models, accept_new_keys=True)
            handle.wait()
            bad = [o.error for o in handle.outcomes.values() if str(o.state) != "succeeded"]
            if bad:
                raise RuntimeError(f"Patchdesk scan failed on {len(bad)} host(s): {bad[:2]}")

        patchdesk_scan()  # warm-up: first contact records host keys, caches are warm for everyone
        script, end_marker = same_commands()
        ssh_default = [ssh_cmd(key, h.address, script, None) for h in hosts]
        ssh_cheap = [ssh_cmd(key, h.address, script, "curve25519-sha256") for h in hosts]
        run_parallel(ssh_cheap, args.concurrency, expect=end_marker)  # warm-up

        ansible = None if args.no_ansible else ensure_ansible()
        inventory = work / "inventory.ini"
        inventory.write_text(
            "[bench]\n"
            + "".join(f"{h.name} ansible_host={h.address}\n" for h in hosts)
            + "[bench:vars]\nansible_user=admin\n"
            + f"ansible_ssh_private_key_file={key}\n"
        )
        ansible_env = {
            **os.environ,
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp"),
            "ANSIBLE_SSH_ARGS": "-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no",
            "ANSIBLE_NOCOLOR": "1",
        }

        def ansible_scan() -> None:
            assert ansible is not None
            r = subprocess.run(
                [
                    str(ansible),
                    "bench",
                    "-i",
                    str(inventory),
                    "-m",
                    "raw",
                    "-a",
                    script,
                    "-f",
                    str(args.concurrency),
                ],
                capture_output=True,
                timeout=600,
                env=ansible_env,
                text=True,
            )
            if r.returncode != 0:
                raise RuntimeError(f"ansible failed ({r.returncode}): {r.stdout[-500:]} {r.stderr[-500:]}")
            done = r.stdout.count(end_marker)
            if done < len(hosts):
                raise RuntimeError(
                    f"ansible ran the whole script on {done} of {len(hosts)} hosts: {r.stdout[-500:]}"
                )

        if ansible is not None:
            ansible_scan()  # warm-up

        scans: dict[str, list[float]] = {
            "patchdesk": [],
            "ssh-default": [],
            "ssh-curve25519": [],
            "ansible": [],
        }
        for rnd in range(args.rounds):
            scans["patchdesk"].append(timed(patchdesk_scan))
            scans["ssh-default"].append(
                timed(lambda: run_parallel(ssh_default, args.concurrency, expect=end_marker))
            )
            scans["ssh-curve25519"].append(
                timed(lambda: run_parallel(ssh_cheap, args.concurrency, expect=end_marker))
            )
            if ansible is not None:
                scans["ansible"].append(timed(ansible_scan))
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

        def reset_all() -> None:
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda h: h.reset(), hosts))

        def patchdesk_patch() -> None:
            selections = selections_for(db, models, packages=set(PATCH_PACKAGES))
            handle = runner.start_patch(db, models, selections, verify=False, accept_new_keys=True)
            handle.wait()
            bad = [o.error for o in handle.outcomes.values() if str(o.state) != "succeeded"]
            if bad:
                raise RuntimeError(f"Patchdesk patch failed on {len(bad)} host(s): {bad[:2]}")

        patches: dict[str, list[float]] = {"patchdesk": [], "ssh-curve25519": []}
        for rnd in range(args.patch_rounds):
            reset_all()
            patchdesk_scan()  # the pending list the patch selection reads
            patches["patchdesk"].append(timed(patchdesk_patch))
            reset_all()
            patches["ssh-curve25519"].append(
                timed(lambda: run_parallel(ssh_patch, args.concurrency, expect="Setting up pd-secfix"))
            )
            print(
                f"patch round {rnd + 1}: " + "  ".join(f"{k} {v[-1]:.2f}s" for k, v in patches.items()),
                flush=True,
            )
        runner.close()

    print()
    print(
        f"# fan-out, N={args.hosts} hosts, C={args.concurrency}, {os.cpu_count()} CPUs, "
        "hosts on the same machine"
    )
    print("scan (facts + simulated upgrade + reboot check per host):")
    for name, samples in scans.items():
        if samples:
            print("  " + summary(name, samples))
    print("patch (apt-get install --only-upgrade of 2 packages per host):")
    for name, samples in patches.items():
        print("  " + summary(name, samples))
    med = {k: statistics.median(v) for k, v in scans.items() if v}
    print()
    print(
        f"scan  Patchdesk/OpenSSH(curve25519) = {med['patchdesk'] / med['ssh-curve25519']:.2f}x"
        "  (target <= 1.3)"
    )
    print(f"scan  Patchdesk/OpenSSH(default)    = {med['patchdesk'] / med['ssh-default']:.2f}x")
    if "ansible" in med:
        print(
            f"scan  Ansible/Patchdesk            = {med['ansible'] / med['patchdesk']:.2f}x faster"
            "  (target >= 6)"
        )
    pmed = {k: statistics.median(v) for k, v in patches.items()}
    print(
        f"patch Patchdesk/OpenSSH(curve25519) = {pmed['patchdesk'] / pmed['ssh-curve25519']:.2f}x"
        "  (target <= 1.2)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
