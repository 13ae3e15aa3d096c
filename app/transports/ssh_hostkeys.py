"""SSH host keys: fingerprints, which key type to ask for, and whether to trust the key a server shows.

Inventory hosts are checked against the keys stored for them in the database (trust on first use:
an unknown key stops the connection unless ``accept_new``, in which case it is handed to
``on_new_key`` to be recorded, like OpenSSH's ``StrictHostKeyChecking=accept-new``; a changed key
always stops it, with both fingerprints in the message). Jump hosts are not in the inventory, so
they are checked against the user's ``known_hosts``, where OpenSSH keeps them, and never recorded.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.domain.errors import HostKeyChangedError, HostKeyUnknownError
from app.domain.models import HostKey
from app.transports.sshlib import paramiko

logger = logging.getLogger(__name__)

#: Called with (keytype, key_b64, fingerprint) when a new host key is accepted.
NewKeyCallback = Callable[[str, str, str], None]


def fingerprint_of(key_blob: bytes) -> str:
    """The fingerprint exactly as ``ssh-keygen -lf`` prints it: unpadded base64 of the SHA-256."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key_blob).digest()).decode().rstrip("=")


def fingerprint_b64(key_b64: str) -> str:
    return fingerprint_of(base64.b64decode(key_b64))


def preferred_key_types(trusted_types: Sequence[str], available: Sequence[str]) -> list[str]:
    """Server host-key algorithms in our order of preference: trusted types first.

    As OpenSSH does, so a host that offers ed25519 *and* RSA is not reported as "changed" just
    because the negotiation picked the type we have not stored. RSA keys are stored as "ssh-rsa"
    (the key type) but negotiated as rsa-sha2-512/256 (signature algorithms), hence the mapping.
    """
    first: list[str] = []
    for keytype in trusted_types:
        algs = ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] if keytype == "ssh-rsa" else [keytype]
        first.extend(a for a in algs if a in available and a not in first)
    return first + [a for a in available if a not in first]


@dataclass(frozen=True)
class HostKeyPolicy:
    """What one connection trusts: the stored keys of its inventory host, and how to treat new ones."""

    host_name: str
    trusted: tuple[HostKey, ...]
    accept_new: bool
    on_new_key: NewKeyCallback | None
    known_hosts: Path  # only for jump hosts

    def trusts(self, keytype: str, key_b64: str) -> bool:
        return any(k.keytype == keytype and k.key_b64 == key_b64 for k in self.trusted)

    def key_types(self, available: Sequence[str]) -> list[str]:
        """The server host-key algorithms to offer for the target, trusted types first."""
        return preferred_key_types([k.keytype for k in self.trusted], available)

    def check(self, keytype: str, key_b64: str, *, label: str, hostname: str, port: int, jump: bool) -> None:
        """Return when the key may be used; raise HostKeyChangedError or HostKeyUnknownError if not."""
        fp = fingerprint_b64(key_b64)
        if jump:
            self._check_jump(keytype, key_b64, fp, label=label, hostname=hostname, port=port)
            return
        if self.trusts(keytype, key_b64):
            return
        if self.trusted:
            same_type = [k for k in self.trusted if k.keytype == keytype]
            old = (same_type or list(self.trusted))[0]
            old_fp = old.fingerprint or fingerprint_b64(old.key_b64)
            logger.warning("%s: host key changed from %s to %s", label, old_fp, fp)
            raise HostKeyChangedError(
                f"Host key of {label} changed: was {old_fp}, now {fp} — possible interception; verify "
                "with the host's administrator before accepting the new key.",
                host=self.host_name,
                keytype=keytype,
                key_b64=key_b64,
                fingerprint=fp,
                old_fingerprint=old_fp,
            )
        if not self.accept_new:
            raise HostKeyUnknownError(
                f"{label} is not known yet: its {keytype} host key has the fingerprint {fp}. Verify it "
                "with the host's administrator, then accept it to connect.",
                host=self.host_name,
                keytype=keytype,
                key_b64=key_b64,
                fingerprint=fp,
            )
        logger.info("%s: accepting new host key %s %s", label, keytype, fp)
        if self.on_new_key is not None:
            self.on_new_key(keytype, key_b64, fp)

    def _check_jump(
        self, keytype: str, key_b64: str, fp: str, *, label: str, hostname: str, port: int
    ) -> None:
        known = self._known_jump_keys(hostname if port == 22 else f"[{hostname}]:{port}")
        if known.get(keytype) is not None:
            if known[keytype].get_base64() == key_b64:
                return
            old_fp = fingerprint_of(known[keytype].asbytes())
            raise HostKeyChangedError(
                f"Host key of {label} changed: was {old_fp}, now {fp} (per {self.known_hosts}) — "
                "possible interception; verify with the host's administrator before updating known_hosts.",
                host=hostname,
                keytype=keytype,
                key_b64=key_b64,
                fingerprint=fp,
                old_fingerprint=old_fp,
            )
        if not self.accept_new:
            raise HostKeyUnknownError(
                f"The {label} is not in {self.known_hosts}: its {keytype} host key has the fingerprint "
                f"{fp}. Verify it and connect once with ssh to {hostname} to record it.",
                host=hostname,
                keytype=keytype,
                key_b64=key_b64,
                fingerprint=fp,
            )
        logger.warning("%s: accepting unknown jump-host key %s %s (not recorded)", label, keytype, fp)

    def _known_jump_keys(self, lookup: str) -> dict[str, Any]:
        if not self.known_hosts.is_file():
            return {}
        try:
            entry = paramiko.HostKeys(str(self.known_hosts)).lookup(lookup)
        except (OSError, paramiko.SSHException) as exc:
            logger.warning("cannot read %s: %s", self.known_hosts, exc)
            entry = None
        return dict(entry) if entry else {}
