"""Import of 100,000 hosts from each inventory format, through the CLI as a user runs it: wall time
and peak RSS of the whole `patchdesk hosts import` process (issue #19's target: < 10 s, < 300 MB).

    python -m bench.import_scale [--hosts 100000]

Addresses are names under .invalid (nothing is ever dialled).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _write(folder: Path, n: int) -> dict[str, Path]:
    names = [f"h{i:06d}" for i in range(n)]
    files = {
        "csv": folder / "hosts.csv",
        "ansible-ini": folder / "hosts.ini",
        "ansible-yaml": folder / "hosts.yml",
        "ssh-config": folder / "ssh_config",
    }
    files["csv"].write_text(
        "name,address,group\n" + "".join(f"{h},{h}.bulk.invalid,g{i % 50}\n" for i, h in enumerate(names))
    )
    ini = []
    for g in range(50):
        ini.append(f"[g{g}]\n")
        ini.extend(f"{names[i]} ansible_host={names[i]}.bulk.invalid\n" for i in range(g, n, 50))
    files["ansible-ini"].write_text("".join(ini))
    yml = ["all:\n  children:\n"]
    for g in range(50):
        yml.append(f"    g{g}:\n      hosts:\n")
        yml.extend(
            f"        {names[i]}:\n          ansible_host: {names[i]}.bulk.invalid\n" for i in range(g, n, 50)
        )
    files["ansible-yaml"].write_text("".join(yml))
    files["ssh-config"].write_text("".join(f"Host {h}\n  HostName {h}.bulk.invalid\n" for h in names))
    return files


def _run(db: Path, path: Path, fmt: str) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one import in its own process (a fresh child,
    so RUSAGE_CHILDREN's figures are this one's). CPU time stays comparable when other work shares
    the cores and stretches the wall time."""
    code = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - t\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(f'{wall:.2f} {u.ru_utime + u.ru_stime:.2f} {u.ru_maxrss / 1024:.0f} '"
        " + (r.stdout.splitlines() or [''])[0])\n"
    )
    cmd = [sys.executable, "-m", "ui.main", "--db", str(db), "hosts", "import", str(path), "--format", fmt]
    out = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True, cwd=ROOT).stdout
    wall, cpu, peak, said = out.split(" ", 3)
    return float(wall), float(cpu), float(peak), said.strip()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=100_000)
    n = ap.parse_args().hosts
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = _write(folder, n)
        print(f"{'format':<14}{'size':>9}{'wall s':>9}{'CPU s':>8}{'peak MB':>9}  result")
        for fmt, path in files.items():
            wall, cpu, peak, said = _run(folder / f"{fmt}.sqlite3", path, fmt)
            size = path.stat().st_size / 1e6
            print(f"{fmt:<14}{size:>7.1f}MB{wall:>9.2f}{cpu:>8.2f}{peak:>9.0f}  {said}")


if __name__ == "__main__":
    main()
