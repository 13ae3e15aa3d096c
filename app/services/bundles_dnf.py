"""Offline bundles, the connected side for dnf hosts: resolve each offline host's updates on the
reference host (app/platforms/posix/bundle_dnf.py), download them with the versions installed now
(for rollback), fetch them back, and build each host's repository index (createrepo_c, with the
reference repositories' advisories for those packages) on the reference host."""

from __future__ import annotations

import shlex
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from app.domain.bundle import (
    BundleError,
    BundleFile,
    BundleHost,
    Purpose,
    ResolvedPackage,
    check_file_name,
    merge_resolved,
)
from app.domain.models import Classification, Host
from app.services.bundle_file import sha256_file
from app.services.bundles import Progress, _Built, _check_reference, _chooser, _Group
from app.transports.base import Transport
from db.connection import Database

#: the most advisory data fetched from the reference host (compressed)
MAX_UPDATEINFO_FETCH = 256 * 1024 * 1024


def build_dnf(
    db: Database,
    transport: Transport,
    reference: Host,
    group: _Group,
    work: Path,
    classifications: Sequence[Classification] | None,
    progress: Progress,
    estimate_only: bool = False,
) -> _Built:
    from app.platforms.posix import bundle_dnf
    from app.platforms.posix.bundle_host import fail, make_scratch, remove_scratch

    _check_reference(transport, reference, group)
    r = transport.run(bundle_dnf.TOOLS_COMMAND, timeout=30)
    if not r.ok:
        raise BundleError(
            f"The reference host {reference.name} has no createrepo_c and modifyrepo_c (package "
            "createrepo_c), which build the bundle's repository index; install them there first."
        )
    scratch = make_scratch(transport, reference.name)
    built = _Built()
    try:
        progress(0.02, f"reading the repositories' metadata on {reference.name}")
        r = transport.run(bundle_dnf.makecache_command(scratch), timeout=1800)
        if not r.ok:
            raise fail(reference.name, "read the repositories' metadata", r.err)
        advisories = _advisories(transport, scratch, reference.name)
        resolved: list[ResolvedPackage] = []
        for i, state in enumerate(group.hosts):
            progress(0.05 + 0.25 * i / len(group.hosts), f"resolving {state.name} on {reference.name}")
            found, updates = bundle_dnf.resolve_host(
                transport,
                scratch,
                (state.name, state.arch, state.status),
                reference.name,
                advisories,
                _chooser(db, classifications, state),
            )
            resolved += found
            built.hosts.append(
                BundleHost(state.name, "dnf", group.name, state.release, state.arch, tuple(updates))
            )
        packages = merge_resolved(resolved)
        if estimate_only and not packages:
            return built
        if estimate_only:
            r = transport.run(bundle_dnf.size_command(scratch, packages), timeout=900)
            if not r.ok:
                raise fail(reference.name, "list the packages to download", r.err)
            size = bundle_dnf.parse_sizes(r.out)
            built.files.append(BundleFile(group.name, "estimate", "0" * 64, size, Purpose.UPDATE))
            return built
        rpms = f"{scratch}/rpms"
        transport.run(["mkdir", "-p", "--", rpms], timeout=30)
        files: dict[str, ResolvedPackage] = {}
        if packages:  # a host that needs nothing still gets its (empty) index: its scan then says so
            progress(0.35, f"downloading {len(packages)} package(s) on {reference.name}")
            r = transport.run(bundle_dnf.download_command(scratch, rpms, packages), timeout=3600)
            if not r.ok:
                raise fail(reference.name, "download the packages (old versions too, for rollback)", r.err)
            files = _match(transport, rpms, reference.name, packages)
            _fetch(transport, rpms, files, work / group.name, reference.name, progress, built, group)
        for number, state in enumerate(group.hosts):
            progress(0.86, f"indexing {state.name}'s repository on {reference.name}")
            where = (scratch, reference.name)
            _host_index(transport, where, built, group, work, number, state.name, files, advisories)
    finally:
        remove_scratch(transport, scratch)
    return built


def _match(
    transport: Transport, rpms: str, reference: str, packages: list[ResolvedPackage]
) -> dict[str, ResolvedPackage]:
    """Each downloaded file's package, read by rpm on the reference host, matched to what was
    resolved: a file nothing asked for, or a package not downloaded, refuses the bundle."""
    from app.platforms.posix import bundle_dnf
    from app.platforms.posix.bundle_host import fail

    r = transport.run(bundle_dnf.identify_command(rpms), timeout=600)
    if not r.ok:
        raise fail(reference, "read the downloaded packages", r.err)
    wanted = {(p.name, p.version, p.arch): p for p in packages}
    out: dict[str, ResolvedPackage] = {}
    for name, rpm in sorted(bundle_dnf.parse_identify(r.out).items()):
        p = wanted.pop((rpm.name, rpm.evr, rpm.arch), None)
        if p is None:
            raise BundleError(f"The reference host downloaded {name}, which nothing asked for.")
        out[name] = p
    if wanted:
        missing = [f"{n}-{v}.{a}" for n, v, a in wanted]
        raise BundleError(f"The reference host did not download {', '.join(missing[:5])}.")
    return out


def _advisories(transport: Transport, scratch: str, reference: str) -> list[ET.Element]:
    """Every advisory of the reference host's repositories (their updateinfo files in the scratch
    metadata cache); a repository without one adds none."""
    from app.platforms.posix import bundle_dnf
    from app.platforms.posix.bundle_host import fail, fetch_file, list_files

    r = transport.run(f"cd {shlex.quote(scratch)} && {bundle_dnf.UPDATEINFO_COMMAND}", timeout=60)
    if not r.ok:
        raise fail(reference, "find the repositories' advisories", r.err)
    found: list[ET.Element] = []
    total = 0
    with tempfile.TemporaryDirectory(prefix="patchdesk-updateinfo-") as tmp:
        for line in r.out.splitlines():
            size_text, _, rel = line.partition(" ")
            parts = rel.split("/")
            if not size_text.isdigit() or len(parts) != 3 or parts[1] != "repodata":
                raise BundleError(
                    f"{reference} listed an advisory file Patchdesk cannot read: {line[:80]!r}."
                )
            check_file_name(parts[0])
            total += int(size_text)
            if total > MAX_UPDATEINFO_FETCH:
                raise BundleError(f"The advisories on {reference} are larger than any Patchdesk reads.")
            directory = f"{scratch}/cache/{parts[0]}/repodata"
            names = list_files(transport, directory, reference, parts[2])
            local = Path(tmp) / f"{len(found)}-{parts[2]}"
            fetch_file(transport, f"{directory}/{parts[2]}", names[parts[2]], local, reference)
            found += bundle_dnf.read_updateinfo(parts[2], local.read_bytes())
    return found


def _fetch(
    transport: Transport,
    rpms: str,
    files: dict[str, ResolvedPackage],
    target: Path,
    reference: str,
    progress: Progress,
    built: _Built,
    group: _Group,
) -> None:
    from app.platforms.posix.bundle_host import fetch_file, list_files

    sizes = list_files(transport, rpms, reference, ".rpm")
    total, done = max(1, sum(sizes.values())), 0
    target.mkdir(parents=True, exist_ok=True)

    def moved(n: int) -> None:
        nonlocal done
        done += n
        progress(0.4 + 0.45 * done / total, f"fetching from {reference}")

    for name, p in sorted(files.items()):
        local = target / name
        fetch_file(transport, f"{rpms}/{name}", sizes[name], local, reference, moved)
        f = BundleFile(
            group.name,
            name,
            sha256_file(local),
            local.stat().st_size,
            p.purpose,
            f"{reference} {p.origin}".strip(),
            p.name,
            p.version,
            p.hosts,
        )
        built.files.append(f)
        built.local[f.member] = local


def _host_index(
    transport: Transport,
    where: tuple[str, str],
    built: _Built,
    group: _Group,
    work: Path,
    number: int,
    host: str,
    files: dict[str, ResolvedPackage],
    advisories: list[ET.Element],
) -> None:
    """One host's index, listing only the files it receives, with the advisories of its updates."""
    from app.platforms.posix import bundle_dnf
    from app.platforms.posix.bundle_host import fail, fetch_file, list_files

    scratch, reference = where
    pocket = f"h{number}"
    mine = sorted(name for name, p in files.items() if host in p.hosts)
    updates = [p for p in files.values() if host in p.hosts and p.purpose is Purpose.UPDATE]
    updateinfo = bundle_dnf.updateinfo_for(advisories, updates)
    if updateinfo is not None:
        transport.put(updateinfo, f"{scratch}/{pocket}-updateinfo.xml", mode=0o600)
    r = transport.run(bundle_dnf.index_command(scratch, pocket, mine, updateinfo is not None), timeout=900)
    if not r.ok:
        raise fail(reference, f"build the repository index of {host}", r.err)
    repodata = f"{scratch}/{pocket}/repodata"
    directory = work / group.name / pocket
    directory.mkdir(parents=True, exist_ok=True)
    for name, size in sorted(list_files(transport, repodata, reference, "").items()):
        local = directory / name
        fetch_file(transport, f"{repodata}/{name}", size, local, reference)
        f = BundleFile(
            group.name,
            name,
            sha256_file(local),
            size,
            Purpose.INDEX,
            "Patchdesk",
            hosts=(host,),
            pocket=pocket,
        )
        built.files.append(f)
        built.local[f.member] = local
