"""Offline firmware: LVFS metadata and .cab files carried in to a site without internet.

The files go to the host (``/var/lib/patchdesk/firmware``) and a local fwupd remote
(``/etc/fwupd/remotes.d/patchdesk-offline.conf``) points at the metadata; fwupd notices the new
remote by itself. Each .cab is stored as ``<sha256>.cab``: the LVFS metadata names its files by
absolute download URLs (which fwupd's FirmwareBaseURI cannot turn into local files), so the fwupd
adapter installs a release from the carried file whose checksum the metadata gives for it
(``fwupdmgr install FILE GUID``) and downloads nothing. After the import a scan shows what the
metadata offers like any other firmware update, and installing one still needs its approval
(app/jobs/selection.py): importing evaluates, it installs nothing.

fwupd still checks the signatures inside the .cab files (its OnlyTrusted setting); the metadata of a
local remote is trusted as a root-owned file, so it should be the one downloaded from the LVFS.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.domain.errors import AdapterError, ConfigError
from app.domain.events import Event, HostKeyLearned
from app.domain.models import Host, HostKey
from app.platforms.posix.fwupd import CARRIED_DIR
from app.services import audit
from app.transports.base import Deadline
from db import hosts as db_hosts
from db.connection import Database

if TYPE_CHECKING:
    from app.secrets import SecretStore

FIRMWARE_IMPORTED = "firmware.imported"

#: where the carried files live on the host, and the remote that points at them
FIRMWARE_DIR = CARRIED_DIR
REMOTE_CONF = "/etc/fwupd/remotes.d/patchdesk-offline.conf"
REMOTE_ID = "patchdesk-offline"

#: caps on what is carried (firmware archives are megabytes; a mistake should not fill the host)
MAX_METADATA_BYTES = 64 * 2**20
MAX_CAB_BYTES = 512 * 2**20
MAX_CABS = 200

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}\Z")
_METADATA_SUFFIXES = (".xml", ".xml.gz", ".xml.zst", ".xml.xz")
_STAGING_RE = re.compile(r"/[A-Za-z0-9._/-]{1,200}\Z")


@dataclass(frozen=True)
class OfflineImport:
    host: str
    metadata: str  # the name it has on the host
    cabs: tuple[str, ...]
    sha256: dict[str, str]

    def as_json(self) -> dict[str, object]:
        return {
            "host": self.host,
            "remote": REMOTE_ID,
            "directory": FIRMWARE_DIR,
            "metadata": self.metadata,
            "cabs": list(self.cabs),
            "sha256": self.sha256,
        }


def _read(path: Path, limit: int, what: str) -> bytes:
    if not _NAME_RE.match(path.name):
        raise ConfigError(f"{path.name!r}: a {what} name may hold letters, digits and . _ + - only.")
    try:
        size = path.stat().st_size
        if size > limit:
            raise ConfigError(f"{path} is {size // 2**20} MiB, more than the {limit // 2**20} MiB allowed.")
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.") from exc


def _metadata_name(path: Path) -> str:
    for suffix in _METADATA_SUFFIXES:
        if path.name.endswith(suffix):
            return "firmware" + suffix
    raise ConfigError(f"{path.name}: metadata is an AppStream XML file ({', '.join(_METADATA_SUFFIXES)}).")


def install_script(staging: str, metadata: str, cabs: Sequence[str]) -> str:
    """Root shell: move the staged files into place and write the remote (names already checked)."""
    q = shlex.quote
    moves = " ".join(q(n) for n in (metadata, *cabs))
    conf = (
        "[fwupd Remote]\\nEnabled=true\\nTitle=Patchdesk offline firmware\\n"
        f"MetadataURI=file://{FIRMWARE_DIR}/{metadata}\\n"
    )
    return (
        f"set -e; install -d -m 0755 {FIRMWARE_DIR}; "
        f'for f in {moves}; do install -m 0644 {q(staging)}/"$f" {FIRMWARE_DIR}/"$f"; done; '
        f"printf {q(conf)} > {REMOTE_CONF}.tmp; mv {REMOTE_CONF}.tmp {REMOTE_CONF}; "
        f"rm -rf {q(staging)}"
    )


def import_offline(
    db: Database,
    host: Host,
    metadata: Path,
    cabs: Sequence[Path],
    *,
    secrets: SecretStore | None = None,
    timeout: float = 600,
) -> OfflineImport:
    """Carry ``metadata`` and ``cabs`` to ``host`` and point a local fwupd remote at them; audited."""
    from app.transports.factory import TransportFactory

    if host.id is None:
        raise ConfigError("Save the host first.")
    if len(cabs) > MAX_CABS:
        raise ConfigError(f"At most {MAX_CABS} .cab files at once.")
    meta_name = _metadata_name(metadata)
    files: dict[str, bytes] = {meta_name: _read(metadata, MAX_METADATA_BYTES, "metadata file")}
    for cab in cabs:
        if not cab.name.endswith(".cab"):
            raise ConfigError(f"{cab.name}: firmware archives end in .cab.")
        data = _read(cab, MAX_CAB_BYTES, ".cab file")
        if hashlib.sha256(data).hexdigest() + ".cab" in files:
            raise ConfigError(f"{cab.name} is given twice (the same file under another name?).")
        files[hashlib.sha256(data).hexdigest() + ".cab"] = data  # found by checksum (fwupd adapter)
    learned: list[HostKey] = []

    def report(ev: Event) -> None:
        if isinstance(ev, HostKeyLearned):
            learned.append(ev.key)

    keys = db_hosts.host_keys(db, host.id)
    factory = TransportFactory(trusted_keys={host.id: keys}, accept_new_keys=not keys, secrets=secrets)
    transport = factory.connect(host, Deadline(timeout), report, job_id=0)
    try:
        # the login user's own private directory (mktemp -d: mode 0700, a name nobody can predict)
        made = transport.run("mktemp -d", timeout=30)
        staging = made.out.strip()
        if not made.ok or not _STAGING_RE.match(staging):
            raise AdapterError(
                f"Cannot create a temporary directory on {host.name}: {made.err.strip()[:200]}"
            )
        for name, data in files.items():
            transport.put(data, f"{staging}/{name}", mode=0o600)
        script = install_script(staging, meta_name, [n for n in files if n != meta_name])
        done = transport.run(script, sudo=True, timeout=120)
        if not done.ok:
            transport.run(f"rm -rf {shlex.quote(staging)}", timeout=30)
            raise AdapterError(
                f"Could not put the firmware in place on {host.name} (exit status {done.exit_status}): "
                f"{(done.err or done.out).strip()[:300]}"
            )
    finally:
        transport.close()
    for key in learned:
        db_hosts.trust_host_key(db, key)
    sums = {meta_name: hashlib.sha256(files[meta_name]).hexdigest()}
    sums.update({c.name: n[:-4] for c, n in zip(cabs, [n for n in files if n != meta_name], strict=True)})
    result = OfflineImport(host.name, meta_name, tuple(c.name for c in cabs), sums)
    audit.record(db, FIRMWARE_IMPORTED, host.name, {"remote": REMOTE_ID, "sha256": sums})
    return result
