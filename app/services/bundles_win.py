"""Offline bundles, the connected side for Windows hosts.

A request carries a Windows host's OS build, architecture and the updates its last successful scan
found (KB, title, classification; an update without a KB by its update id). WUA's scan does not keep
download URLs, so ``create`` takes the update files from a local directory (``--from-dir``) the
administrator filled where a connection exists: the .msu/.cab of each chosen KB and Microsoft's
offline scan catalogue ``wsusscn2.cab``. They go into the bundle with the same manifest, hashes and
signature as a package repository. Applying a Windows bundle to a host is not built yet.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.domain.bundle import MAX_FILE_BYTES, BundleError, BundleFile, BundleHost, Purpose, check_file_name
from app.domain.models import Classification, Host, HostStatus
from app.services.bundle_file import sha256_file
from app.services.bundles import Progress, RequestHost, _Built, _Group
from app.transports.base import Transport
from db import scans as db_scans
from db.connection import Database

#: the manager the WUA adapter reports its updates under
WUA = "wua"
_MAX_UPDATES = 2000


def read_state(db: Database, transport: Transport, host: Host) -> RequestHost:
    """The host's build and architecture (asked now) and the updates of its last successful scan.

    A host never scanned, or whose last scan failed, is refused: its list of updates would be empty
    for want of looking, not because nothing is pending."""
    from app.platforms.windows import bundle_win

    assert host.id is not None
    if host.last_status is not HostStatus.OK or host.last_scan_at is None:
        raise BundleError(f"{host.name} has no successful scan to say which updates it needs; scan it first.")
    r = transport.run(bundle_win.state_script(), timeout=120)
    if not r.ok:
        raise BundleError(f"Could not read the OS build of {host.name}: {r.err.strip()[:200]}")
    build, full, arch = bundle_win.parse_state(r.out)
    updates = [
        {
            "name": u.name,
            "title": u.available[:256],
            "kbs": [a for a in u.advisories if a.upper().startswith("KB")][:8],
            "classification": str(u.classification),
            "security": u.security,
        }
        for u in db_scans.pending_for_host(db, host.id)
        if u.manager == WUA
    ][:_MAX_UPDATES]
    status = json.dumps(updates, ensure_ascii=True).encode()
    return RequestHost(host.name, "win", "windows", build, arch, status, "", (), full)


def updates_of(state: RequestHost) -> list[dict[str, Any]]:
    """The updates a request lists for a Windows host; malformed data is refused with a sentence."""
    try:
        raw = json.loads(state.status)
    except ValueError:
        raise BundleError(f"The request's update list for {state.name} is not readable.") from None
    if not isinstance(raw, list) or len(raw) > _MAX_UPDATES:
        raise BundleError(f"The request's update list for {state.name} is not readable.")
    out = []
    for u in raw:
        if not isinstance(u, dict) or not isinstance(u.get("name"), str):
            raise BundleError(f"The request lists an update for {state.name} Patchdesk cannot read.")
        out.append(u)
    return out


def _chosen(state: RequestHost, classes: Sequence[Classification] | None) -> list[tuple[str, str]]:
    """(KB, title) of the host's updates in the chosen classifications (as its own site classified
    them at its last scan). An update without a KB has no file to carry and is left out."""
    wanted = {c.value for c in classes} if classes else None
    out: list[tuple[str, str]] = []
    for u in updates_of(state):
        if wanted is not None and str(u.get("classification")) not in wanted:
            continue
        from app.platforms.windows.wua_parse import normalize_kb

        kb = normalize_kb(str(u["name"]))
        if kb is not None and kb not in [k for k, _t in out]:
            out.append((kb, str(u.get("title", ""))[:200]))
    return out


def build_win(
    group: _Group,
    from_dir: Path | None,
    classifications: Sequence[Classification] | None,
    progress: Progress,
    estimate_only: bool = False,
) -> _Built:
    """The update files of every host in ``group`` and the scan catalogue, from ``from_dir``."""
    from app.platforms.windows import bundle_win

    if from_dir is None:
        raise BundleError(
            f"{', '.join(h.name for h in group.hosts)} run Windows: give the directory holding the "
            "downloaded .msu/.cab files and wsusscn2.cab with --from-dir DIR."
        )
    try:
        listing = {p.name: p for p in Path(from_dir).iterdir() if p.is_file() and not p.is_symlink()}
    except OSError as exc:
        raise BundleError(f"Cannot read {from_dir}: {exc.strerror or exc}.") from None
    catalogue = next((p for n, p in listing.items() if n.lower() == bundle_win.SCAN_CATALOGUE), None)
    if catalogue is None:
        raise BundleError(
            f"{from_dir} holds no {bundle_win.SCAN_CATALOGUE}, which the offline hosts need to scan "
            "without Windows Update; download it from Microsoft into that directory."
        )
    built = _Built()
    needs: dict[str, list[str]] = {}  # file name -> hosts
    missing: list[str] = []
    for state in group.hosts:
        progress(0.1, f"choosing the files for {state.name}")
        chosen = _chosen(state, classifications)
        for kb, _title in chosen:
            names = bundle_win.files_for(listing, kb, group.arch)
            if not names:
                missing.append(f"{kb} ({state.name})")
            for name in names:
                needs.setdefault(name, []).append(state.name)
        built.hosts.append(
            BundleHost(
                state.name,
                "win",
                group.name,
                state.release,
                group.arch,
                tuple((kb, "", t) for kb, t in chosen),
            )
        )
    if missing:
        raise BundleError(
            f"{from_dir} has no update file for {', '.join(missing[:10])}"
            + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            + "; download them there (Microsoft Update Catalog) or choose fewer updates."
        )
    source = f"dir:{Path(from_dir).resolve()}"[:400]
    hosts = tuple(sorted(h.name for h in group.hosts))
    items = [
        (name, Purpose.UPDATE, tuple(sorted(set(h))), bundle_win.kb_of(name) or "")
        for name, h in sorted(needs.items())
    ]
    items.append((catalogue.name, Purpose.INDEX, hosts, ""))
    for i, (name, purpose, who, kb) in enumerate(items):
        path = listing[name]
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise BundleError(f"{name} is larger than any file a bundle carries.")
        if size == 0:
            raise BundleError(f"{name} in {from_dir} is empty: a download that did not finish.")
        if estimate_only:
            built.files.append(BundleFile(group.name, check_file_name(name), "0" * 64, size, purpose))
            continue
        progress(0.2 + 0.6 * i / len(items), f"hashing {name}")
        f = BundleFile(
            group.name, check_file_name(name), sha256_file(path), size, purpose, source, kb.lower(), "", who
        )
        built.files.append(f)
        built.local[f.member] = path
    return built


# -- the offline side -----------------------------------------------------------------------------------

#: free space kept on the host's drive beyond the files (wusa unpacks an .msu next to the system)
FREE_MARGIN = 512 * 1024 * 1024


def copy_to_host(
    transport: Transport,
    bundle_id: str,
    files: Sequence[BundleFile],
    work: Path,
    host: str,
    progress: Progress,
) -> None:
    """Copy the host's files into its bundle folder (resumably, the free space checked first), then
    check every SHA-256 there with Get-FileHash; a bad copy is named, deleted and raises."""
    from app.platforms.windows import bundle_win

    r = transport.run(bundle_win.prepare_script(bundle_id), timeout=120)
    free, have = bundle_win.parse_prepared(r.out if r.out.strip() else r.err)
    missing = sum(f.size - min(have.get(f.name, 0), f.size) for f in files)
    if free < missing + FREE_MARGIN:
        raise BundleError(
            f"{host} has {free // 2**20} MB free on the drive of {bundle_win.HOST_DIR}; this bundle needs "
            f"{(missing + FREE_MARGIN) // 2**20} MB there (with room for installing). Nothing was copied."
        )
    total, done = max(1, sum(f.size for f in files)), 0
    for f in files:
        offset = have.get(f.name, 0)
        offset = offset if offset <= f.size else 0  # longer than it should be: copied anew
        done += offset
        with open(work / f.member, "rb") as src:
            src.seek(offset)
            while offset < f.size:
                data = src.read(bundle_win.CHUNK)
                if not data:  # the extracted file is shorter than the manifest says: never sent short
                    raise BundleError(
                        f"{f.name} was cut short while it was extracted; nothing more was copied."
                    )
                r = transport.run(bundle_win.chunk_script(bundle_id, f.name, offset), stdin=data, timeout=300)
                if not r.ok:
                    raise BundleError(f"Could not copy {f.name} to {host}: {r.err.strip()[:300]}")
                offset += len(data)
                done += len(data)
                progress(0.8 * done / total, f"copying to {host}")
    r = transport.run(bundle_win.hash_script(bundle_id, [(f.name, f.sha256) for f in files]), timeout=1800)
    bad = bundle_win.parse_hashed(r.out, len(files)) if r.ok else None
    if bad is None:
        raise BundleError(f"Could not check the copied files on {host}: {r.err.strip()[:300]}")
    if bad:
        raise BundleError(
            f"The copy on {host} does not match the bundle: {', '.join(bad[:20])}. "
            "Apply the bundle again to copy it anew."
        )
