"""Offline bundles, the offline side: verify a bundle, apply it to hosts, remove it again.

``verify`` reads the whole file once against its signed manifest (app/services/bundle_file.py).
``apply`` verifies again while it extracts what the chosen hosts need, then per host: refuses a host
the bundle was not built for, checks the size cap and the free space, copies the host's files (only
those) into /var/lib/patchdesk/bundles/<id>/incoming resumably, checks every SHA-256 there, makes
them root's repository and reads it into the bundles' own apt lists. From then on the job engine
gives the host's package manager the bundle as its source on the command line (db/bundles.py:
sources_for, app/platforms/posix/apt_install.py: source_options); nothing under /etc/apt is written.
The rollback packages stay with the bundle until ``remove``.
"""

from __future__ import annotations

import logging
import math
import shlex
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from app.domain.bundle import (
    BundleError,
    BundleFile,
    Manifest,
    check_file_name,
    check_id,
    key_fingerprint,
)
from app.domain.errors import ConfigError, PatchdeskError, SecretStoreError
from app.domain.models import Host
from app.services import audit
from app.services.bundle_file import read_manifest, verify_bundle
from app.services.bundle_keys import Signer, signature_checker
from app.services.bundles import Progress, connect, hosts_named
from app.transports.base import Transport
from db import bundles as db_bundles
from db import hosts as db_hosts
from db import settings as db_settings
from db.connection import Database

if TYPE_CHECKING:
    from app.secrets import SecretStore

logger = logging.getLogger(__name__)

#: the most one host may receive from one bundle, rollback packages included (setting
#: ``bundles.max_host_mb``): the bundle directory stays until the bundle is removed
DEFAULT_MAX_HOST_MB = 4096
#: free space kept beyond the files themselves (apt's lists, the filesystem's own reserve)
FREE_MARGIN = 64 * 1024 * 1024


def _quiet(_fraction: float, _message: str) -> None:
    return None


@dataclass(frozen=True)
class HostOutcome:
    host: str
    ok: bool
    message: str
    files: int = 0
    bytes: int = 0


def checker(db: Database, secrets: SecretStore | None) -> Callable[[Manifest, bytes, bytes], None]:
    """The signature check: this workstation's own key (when the keyring has one) or a trusted one."""
    own = None
    if secrets is not None:
        try:
            own = Signer(secrets).public_key(create=False)
        except SecretStoreError:
            # a site without a keyring still verifies bundles signed by a key it trusts
            logger.info("no keyring: only trusted keys can vouch for a bundle")
    return signature_checker(own, db_bundles.trusted_keys(db))


def verify(db: Database, path: Path, secrets: SecretStore | None, progress: Progress = _quiet) -> Manifest:
    """Check the whole bundle; a tampered, truncated or unsigned one raises BundleError naming why."""
    manifest = verify_bundle(
        Path(path),
        checker(db, secrets),
        progress=lambda done, total: progress(done / max(1, total), "checking"),
    )
    db_bundles.record_bundle(db, manifest, str(Path(path).resolve()), verified=True)
    return manifest


def describe(path: Path) -> Manifest:
    """The manifest as written, without trusting it (to show what a bundle claims before trusting)."""
    opened = read_manifest(Path(path), lambda _m, _d, _s: None)
    opened.close()
    return opened.manifest


def trust_key(db: Database, key_file: Path, label: str = "") -> str:
    """Trust the public key another workstation exported (``bundle key``); returns its fingerprint."""
    try:
        text = Path(key_file).read_text(encoding="ascii").strip()
        raw = bytes.fromhex(text.split()[-1]) if text else b""
    except (OSError, UnicodeDecodeError, ValueError):
        raise ConfigError(f"{key_file} is not a key written by `patchdesk bundle key`.") from None
    if len(raw) != 32:
        raise ConfigError(f"{key_file} is not an Ed25519 public key written by `patchdesk bundle key`.")
    fingerprint = key_fingerprint(raw)
    db_bundles.trust_key(db, fingerprint, raw.hex(), label)
    audit.record(db, "bundle.key_trusted", fingerprint, {"label": label})
    return fingerprint


def export_key(secrets: SecretStore) -> str:
    """The line ``bundle key`` writes: the public key in hex, after a comment with its fingerprint."""
    signer = Signer(secrets)
    raw = signer.public_key()
    assert raw is not None
    return f"# patchdesk bundle-signing key {key_fingerprint(raw)}\n{raw.hex()}\n"


def _targets(db: Database, manifest: Manifest, names: Sequence[str], all_hosts: bool) -> list[Host]:
    """The named hosts, or with ``all_hosts`` those of the bundle's hosts this inventory has."""
    if all_hosts:
        return db_hosts.get_hosts_by_name(db, [h.name for h in manifest.hosts])
    return hosts_named(db, names, False)


def apply(
    db: Database,
    path: Path,
    names: Sequence[str],
    *,
    all_hosts: bool = False,
    secrets: SecretStore | None,
    progress: Progress = _quiet,
) -> list[HostOutcome]:
    """Verify the bundle, then copy to each host what it needs and make it the host's source."""
    opened = read_manifest(Path(path), checker(db, secrets))
    opened.close()
    manifest = opened.manifest
    hosts = _targets(db, manifest, names, all_hosts)
    if not hosts:
        raise ConfigError("None of the bundle's hosts is in this inventory.")
    work = Path(tempfile.mkdtemp(prefix="patchdesk-apply-"))
    try:
        wanted = {f.member for h in hosts for f in manifest.files_for(h.name)}
        progress(0.0, "checking the bundle")
        verify_bundle(
            Path(path),
            checker(db, secrets),
            extract_to=work,
            wanted=wanted,
            progress=lambda done, total: progress(0.3 * done / max(1, total), "checking the bundle"),
        )
        db_bundles.record_bundle(db, manifest, str(Path(path).resolve()), verified=True)
        cap = _max_host_bytes(db)
        known = {h.name for h in hosts}
        out = [
            HostOutcome(h.name, False, f"{h.name} is not in this inventory; nothing was copied for it.")
            for h in manifest.hosts
            if all_hosts and h.name not in known
        ]
        for i, host in enumerate(hosts):

            def step(fraction: float, message: str, i: int = i) -> None:
                progress(0.3 + 0.7 * (i + fraction) / len(hosts), message)

            out.append(_apply_host(db, manifest, host, work, cap, secrets, step))
        progress(1.0, "done")
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _max_host_bytes(db: Database) -> int:
    raw = db_settings.get_setting(db, "bundles.max_host_mb")
    try:
        mb = float(raw) if raw is not None else DEFAULT_MAX_HOST_MB
    except ValueError:
        mb = DEFAULT_MAX_HOST_MB
    if not math.isfinite(mb) or mb < 0:
        mb = DEFAULT_MAX_HOST_MB
    return int(mb * 1024 * 1024)


def _apply_host(
    db: Database,
    manifest: Manifest,
    host: Host,
    work: Path,
    cap: int,
    secrets: SecretStore | None,
    progress: Progress,
) -> HostOutcome:
    entry = manifest.host(host.name)
    files = manifest.files_for(host.name)
    if entry is None or not files:
        return HostOutcome(host.name, False, f"The bundle was not built for {host.name}.")
    size = sum(f.size for f in files)
    if size > cap:
        return HostOutcome(
            host.name,
            False,
            f"{host.name} would receive {size // 2**20} MB, more than the {cap // 2**20} MB a host may keep "
            "(setting bundles.max_host_mb).",
        )
    if entry.manager not in ("apt", "dnf", "win"):
        return HostOutcome(host.name, False, f"Bundles for {entry.manager} hosts are not supported yet.")
    assert host.id is not None
    try:
        with connect(db, host, secrets) as transport:
            others = [b for b in db_bundles.sources_for(db, [host.id]).get(host.id, ()) if b != manifest.id]
            created = _epoch(manifest.created)
            if entry.manager == "win":
                # the copied, checked files are the host's bundle: WUA and wusa read them where they lie
                from app.services.bundles_win import copy_to_host

                copy_to_host(transport, manifest.id, files, work, host.name, progress)
            else:
                _copy(transport, manifest.id, files, work, size, host.name, progress)
            if entry.manager == "dnf":
                _install_dnf(transport, manifest, host.name, [*others, manifest.id], created, progress)
            elif entry.manager == "apt":
                pockets = [*_pockets(db, others, host.name), *_pockets_of(manifest, host.name)]
                _install_apt(transport, manifest.id, host.name, progress, pockets, created)
    except PatchdeskError as exc:
        return HostOutcome(host.name, False, str(exc))
    db_bundles.record_applied(db, manifest.id, host.id, entry.manager, len(files), size)
    audit.record(db, "bundle.applied", host.name, {"bundle": manifest.id, "files": len(files), "bytes": size})
    return HostOutcome(
        host.name,
        True,
        f"{len(files)} file(s), {size // 1024} KiB; {len(entry.updates)} update(s) in the bundle.",
        len(files),
        size,
    )


def _copy(
    transport: Transport,
    bundle_id: str,
    files: list[BundleFile],
    work: Path,
    size: int,
    host: str,
    progress: Progress,
) -> None:
    """Copy the host's files into the bundle's incoming directory (resumably, free space checked
    first) and check every SHA-256 there."""
    from app.platforms.posix import bundle_apt, bundle_host

    incoming = bundle_host.prepare_incoming(transport, bundle_id, host)
    have = bundle_host.remote_sizes(transport, incoming, host)
    missing = sum(f.size - min(have.get(f.rel, 0), f.size) for f in files)
    free = bundle_host.free_bytes(transport, host)
    if free < missing + FREE_MARGIN:
        raise BundleError(
            f"{host} has {free // 2**20} MB free where bundles go; this bundle needs {missing // 2**20} MB "
            "more there. Nothing was installed."
        )
    done = 0

    def moved(n: int) -> None:
        nonlocal done
        done += n
        progress(0.8 * done / max(1, size), f"copying to {host}")

    for f in files:
        got = have.get(f.rel, 0)
        if got == f.size:
            moved(f.size)  # copied by an earlier attempt; its hash is checked below with the others
            continue
        bundle_host.push_file(transport, work / f.member, incoming, f.rel, got, host, moved)
    transport.put(bundle_apt.sums_file((f.rel, f.sha256) for f in files), f"{incoming}/SHA256SUMS")
    _check_sums(transport, incoming, host)


def _install_apt(
    transport: Transport,
    bundle_id: str,
    host: str,
    progress: Progress,
    pockets: list[tuple[str, str]],
    created: int,
) -> None:
    from app.platforms.posix import bundle_apt, bundle_host

    progress(0.85, f"installing the repository on {host}")
    r = transport.run(bundle_apt.install_command(bundle_id, created), sudo=True, timeout=600)
    if not r.ok:
        raise bundle_host.fail(host, "install the bundle's repository", r.err or r.out)
    progress(0.9, f"reading the bundle's index on {host}")
    r = transport.run(bundle_apt.sources_command(pockets), sudo=True, timeout=600)
    if not r.ok:
        raise bundle_apt.apply_update_failed(host, r.err or r.out)


def _install_dnf(
    transport: Transport,
    manifest: Manifest,
    host: str,
    bundle_ids: list[str],
    created: int,
    progress: Progress,
) -> None:
    """The copied files become the bundle's repository (the host's own index its ``repodata``), then
    dnf reads every bundle applied on the host into its system cache."""
    from app.platforms.posix import bundle_dnf, bundle_host

    pockets = {f.pocket for f in manifest.files_for(host) if f.pocket}
    if len(pockets) != 1:
        raise BundleError(f"The bundle carries no single repository index for {host}.")
    progress(0.85, f"installing the repository on {host}")
    r = transport.run(bundle_dnf.install_command(manifest.id, pockets.pop(), created), sudo=True, timeout=600)
    if not r.ok:
        raise bundle_host.fail(host, "install the bundle's repository", r.err or r.out)
    progress(0.9, f"reading the bundle's index on {host}")
    command = bundle_dnf.sources_command(bundle_ids)
    assert command is not None
    r = transport.run(command, sudo=True, timeout=600)
    if not r.ok:
        raise bundle_host.fail(host, "read the bundle's repository with dnf makecache", r.err or r.out)


def _epoch(iso: str) -> int:
    """The bundle's build time in seconds; a time it does not state counts as long ago (its index
    then reads as old, never as fresh)."""
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return 0
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())


def _pockets_of(manifest: Manifest, host: str) -> list[tuple[str, str]]:
    """(bundle id, sub-repository) of every index the host receives from ``manifest``."""
    return sorted({(manifest.id, f.pocket) for f in manifest.files_for(host) if f.pocket})


def _pockets(db: Database, bundle_ids: Sequence[str], host: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for bundle_id in bundle_ids:
        stored = db_bundles.get_bundle(db, bundle_id)
        if stored is not None:
            out += _pockets_of(stored.manifest, host)
    return out


def _check_sums(transport: Transport, incoming: str, host: str) -> None:
    """Every copied file against the manifest's SHA-256, on the host; a bad one is named and deleted
    (the next attempt copies it again)."""
    r = transport.run(f"cd {shlex.quote(incoming)} && LC_ALL=C sha256sum -c SHA256SUMS", timeout=1800)
    if r.ok:
        return
    bad = [
        line.rsplit(":", 1)[0]
        for line in r.out.splitlines()
        if line.endswith(("FAILED", "FAILED open or read"))
    ]
    names = []
    for name in bad[:20]:
        try:
            names.append("/".join(check_file_name(part) for part in name.split("/", 1)))
        except BundleError:
            continue
    if names:
        transport.run(["rm", "-f", "--", *[f"{incoming}/{n}" for n in names]], timeout=60)
    raise BundleError(
        f"The copy on {host} does not match the bundle: {', '.join(names) or 'unknown file'}. "
        "Apply the bundle again to copy it anew."
    )


def remove(
    db: Database, bundle: str, names: Sequence[str], *, secrets: SecretStore | None
) -> list[HostOutcome]:
    """Remove a bundle (by file or id) from the named hosts, or from every host that received it."""
    bundle_id = _bundle_id(db, bundle, secrets)
    applied = db_bundles.applied(db, bundle_id)
    chosen = [a for a in applied if not names or a.host in names]
    unknown = sorted(set(names) - {a.host for a in applied})
    out = [HostOutcome(n, False, f"{n} has not received bundle {bundle_id}.") for n in unknown]
    from app.platforms.posix import bundle_apt, bundle_dnf

    for a in chosen:
        host = db_hosts.get_host(db, a.host_id)
        others = [b for b in db_bundles.sources_for(db, [a.host_id]).get(a.host_id, ()) if b != bundle_id]
        remaining = _pockets(db, others, a.host)
        try:
            with connect(db, host, secrets) as transport:
                if a.manager == "win":
                    from app.platforms.windows import bundle_win

                    r = transport.run(bundle_win.remove_script(bundle_id), timeout=600)
                elif a.manager == "dnf":
                    _remove_dnf(transport, host.name, bundle_id, others)
                    r = transport.run(bundle_dnf.remove_command(bundle_id), sudo=True, timeout=600)
                else:
                    r = transport.run(bundle_apt.sources_command(remaining), sudo=True, timeout=600)
                    if not r.ok:
                        raise bundle_apt.apply_update_failed(host.name, r.err or r.out)
                    r = transport.run(bundle_apt.remove_command(bundle_id), sudo=True, timeout=600)
                if not r.ok:
                    raise BundleError(f"Could not delete the bundle on {host.name}: {r.err.strip()[:200]}")
        except PatchdeskError as exc:
            out.append(HostOutcome(host.name, False, str(exc)))
            continue
        db_bundles.forget_applied(db, bundle_id, a.host_id)
        audit.record(db, "bundle.removed", host.name, {"bundle": bundle_id})
        out.append(HostOutcome(host.name, True, f"Bundle {bundle_id} removed (its rollback packages too)."))
    return out


def _remove_dnf(transport: Transport, host: str, bundle_id: str, others: list[str]) -> None:
    """Before the bundle's files go, dnf reads the bundles that remain (none: nothing to read)."""
    from app.platforms.posix import bundle_dnf, bundle_host

    command = bundle_dnf.sources_command(others)
    if command is not None:
        r = transport.run(command, sudo=True, timeout=600)
        if not r.ok:
            raise bundle_host.fail(host, "read the remaining bundles with dnf makecache", r.err or r.out)


def _bundle_id(db: Database, bundle: str, secrets: SecretStore | None) -> str:
    try:
        return check_id(bundle)
    except BundleError:
        pass
    if not Path(bundle).exists():
        raise ConfigError(f"{bundle} is neither a bundle id nor a bundle file.")
    opened = read_manifest(Path(bundle), checker(db, secrets))
    opened.close()
    return opened.manifest.id
