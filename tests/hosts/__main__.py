"""Manual use: ``sudo python -m tests.hosts build`` or ``sudo python -m tests.hosts up 3 [--systemd]``.

``up N`` starts N hosts, prints how to reach them and keeps them running until Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from . import HostCluster, hosts_available
from .base import DEFAULT_CACHE_DIR, ensure_base
from .rpmbase import ensure_rpm_base
from .sdbase import ensure_systemd_base
from .sdhost import systemd_hosts_available


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.hosts", description=__doc__)
    ap.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("check", help="can test hosts run here?")
    sub.add_parser("build", help="build (or unpack) the cached base root filesystem")
    up = sub.add_parser("up", help="start N hosts and keep them until Ctrl-C")
    up.add_argument("n", type=int)
    up.add_argument("--prefix", default="pdhost")
    up.add_argument("--subnet", default="127.0.10")
    up.add_argument("--systemd", action="store_true", help="systemd as PID 1 (tests/hosts/sdhost.py)")
    args = ap.parse_args(argv)

    ok, reason = hosts_available()
    if args.cmd == "check":
        print("available" if ok else f"not available: {reason}")
        sd_ok, sd_reason = systemd_hosts_available() if ok else (False, "")
        if ok:
            print("systemd hosts:", "available" if sd_ok else f"not available: {sd_reason}")
        return 0 if ok else 1
    if args.cmd == "build":
        for ensure in (ensure_base, ensure_rpm_base, ensure_systemd_base):
            t0 = time.monotonic()
            print(ensure(args.cache_dir), f"({time.monotonic() - t0:.1f}s)")
        return 0
    if not ok:
        print(f"not available: {reason}", file=sys.stderr)
        return 1
    with HostCluster(args.cache_dir, subnet=args.subnet) as cluster:
        t0 = time.monotonic()
        hosts = cluster.start(args.n, prefix=args.prefix, systemd=args.systemd)
        print(f"{len(hosts)} hosts up in {time.monotonic() - t0:.2f}s; client key {cluster.client_key}")
        for h in hosts:
            print(f"  {h.name}: ssh -i {cluster.client_key} -o StrictHostKeyChecking=no admin@{h.address}")
        print("Ctrl-C stops them.")
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
