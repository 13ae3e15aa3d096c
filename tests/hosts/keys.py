"""SSH keys: a cached pool of sshd host key sets, the cluster's client key, fingerprints."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
from pathlib import Path

from ._util import HostsError, run
from .base import _locked

HOST_KEY_TYPES = ("ed25519", "ecdsa", "rsa")


def fingerprint_of_pub(pub_line: str) -> str:
    """ "SHA256:..." of an OpenSSH public key line, the same string ``ssh-keygen -lf`` prints."""
    parts = pub_line.split()
    if len(parts) < 2:
        raise ValueError(f"not an OpenSSH public key: {pub_line!r}")
    blob = base64.b64decode(parts[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def ensure_host_key_pool(cache_dir: Path, count: int) -> list[Path]:
    """At least ``count`` host key sets under cache_dir/hostkeys (generated in parallel, then reused)."""
    pool = Path(cache_dir) / "hostkeys"
    pool.mkdir(parents=True, exist_ok=True)
    sets = [pool / f"set-{i:04d}" for i in range(count)]
    if all((s / "ssh_host_ed25519_key.pub").exists() for s in sets):
        return sets
    with _locked(pool / ".lock"):
        missing = [s for s in sets if not (s / "ssh_host_ed25519_key.pub").exists()]
        procs: list[tuple[subprocess.Popen, Path]] = []
        pending = []
        for s in missing:
            tmp = s.with_name(s.name + ".tmp")
            if tmp.exists():
                for f in tmp.iterdir():
                    f.unlink()
            else:
                tmp.mkdir()
            pending.append((tmp, s))
            for t in HOST_KEY_TYPES:
                cmd = [
                    "ssh-keygen",
                    "-q",
                    "-t",
                    t,
                    "-N",
                    "",
                    "-C",
                    f"root@pdtest-{s.name}",
                    "-f",
                    str(tmp / f"ssh_host_{t}_key"),
                ]
                procs.append(
                    (
                        subprocess.Popen(
                            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
                        ),
                        tmp,
                    )
                )
                # keep at most ~2 per core running
                while sum(p.poll() is None for p, _ in procs) >= 2 * (os.cpu_count() or 2):
                    procs[[p.poll() is None for p, _ in procs].index(True)][0].wait(60)
        errors = []
        for p, tmp in procs:
            _, err = p.communicate(timeout=120)
            if p.returncode:
                errors.append(f"{tmp}: {err.decode(errors='replace')}")
        if errors:
            raise HostsError("ssh-keygen failed: " + "; ".join(errors))
        for tmp, s in pending:
            tmp.rename(s)
    return sets


def make_client_key(path: Path) -> str:
    """Generate an ed25519 client key (OpenSSH format, no passphrase); return the public key line."""
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "patchdesk-test-client", "-f", str(path)])
    path.chmod(0o600)
    return Path(str(path) + ".pub").read_text().strip()
