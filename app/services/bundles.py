"""Offline bundles, the connected side: the request an offline site writes, and the bundle built from
it on a connected reference host of the same release.

``request`` reads each offline host's OS, architecture and full installed-package state over its own
transport; ``create`` resolves on the reference host what each host needs (the offline host's dpkg
status given to apt there, see app/platforms/posix/bundle_apt.py), downloads the new versions, their
new dependencies and the versions installed now (for rollback), fetches them back, builds a flat
repository index for them, and writes one signed file (app/services/bundle_file.py). The offline
side (verify, apply, remove) is app/services/bundle_apply.py. Windows hosts: app/services/bundles_win.py
(their update files come from a local directory, not a reference host; applying them is not built yet).
"""

from __future__ import annotations

import base64
import getpass
import json
import logging
import platform
import secrets as pysecrets
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.domain.bundle import (
    MANAGERS,
    MAX_REQUEST_BYTES,
    MAX_STATUS_BYTES,
    REQUEST_FORMAT,
    BundleError,
    BundleFile,
    BundleHost,
    Manifest,
    Purpose,
    ResolvedPackage,
    check_arch,
    group_name,
    merge_resolved,
    packages_stanza,
    release_file,
)
from app.domain.errors import ConfigError, PatchdeskError
from app.domain.models import Classification, Host, PendingUpdate
from app.services import audit
from app.services.bundle_file import sha256_file, write_bundle
from app.services.bundle_keys import Signer
from app.transports.base import Deadline, Transport
from db import bundles as db_bundles
from db import hosts as db_hosts
from db.connection import Database

if TYPE_CHECKING:
    from app.secrets import SecretStore

logger = logging.getLogger(__name__)

#: (fraction 0..1, what is happening): both faces show it (a progress bar, a line on stderr)
Progress = Callable[[float, str], None]

HOST_TIMEOUT = 3600.0


def _quiet(_fraction: float, _message: str) -> None:
    return None


@dataclass(frozen=True)
class RequestHost:
    """One offline host's state, as the request carries it."""

    name: str
    manager: str
    os_id: str
    release: str  # VERSION_CODENAME, else VERSION_ID
    arch: str
    status: bytes  # apt: /var/lib/dpkg/status; dnf: ``rpm -qa`` name<TAB>epoch:version-release.arch
    sources: str = ""
    id_like: tuple[str, ...] = ()
    version: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "manager": self.manager,
            "os_id": self.os_id,
            "id_like": list(self.id_like),
            "release": self.release,
            "version": self.version,
            "arch": self.arch,
            "status": base64.b64encode(self.status).decode(),
            "sources": self.sources,
        }


@dataclass
class CreateResult:
    """The bundle written, or with ``estimate_only`` its size before anything is downloaded."""

    manifest: Manifest | None
    path: Path | None
    estimate: int = 0
    hosts: list[BundleHost] = field(default_factory=list)


# -- connecting ----------------------------------------------------------------------------------------


def connect(
    db: Database, host: Host, secrets: SecretStore | None, timeout: float = HOST_TIMEOUT
) -> Transport:
    """The host's transport, with the host keys trusted in the inventory (a first contact is refused:
    scan the host once first, as every other change does)."""
    from app.transports.factory import TransportFactory

    assert host.id is not None
    factory = TransportFactory(trusted_keys=db_hosts.host_keys_for(db, [host.id]), secrets=secrets)
    return factory.connect(host, Deadline(timeout), lambda _event: None, job_id=0)


def hosts_named(db: Database, names: Sequence[str], all_hosts: bool) -> list[Host]:
    if all_hosts:
        return [h for h in db_hosts.list_hosts(db) if h.transport.value != "winrm"]
    hosts = db_hosts.get_hosts_by_name(db, names)
    missing = sorted(set(names) - {h.name for h in hosts})
    if missing:
        raise ConfigError(f"No host named {', '.join(missing)} in the inventory.")
    return hosts


# -- the request ---------------------------------------------------------------------------------------


def read_state(transport: Transport, host: Host) -> RequestHost:
    """One host's OS, architecture, package manager, installed state and sources."""
    from app.platforms.family import family_of
    from app.platforms.posix import bundle_apt, bundle_dnf
    from app.platforms.posix.apt import is_debian_family
    from app.platforms.posix.dnf import is_rpm_family

    facts, found, _ = family_of(host).facts(transport)
    release = facts.version_codename or facts.version
    if is_debian_family(facts) and "apt-get" in found:
        manager = "apt"
        commands = (bundle_apt.ARCH_COMMAND, bundle_apt.STATUS_COMMAND, bundle_apt.SOURCES_COMMAND)
    elif is_rpm_family(facts) and "dnf" in found:
        manager = "dnf"
        commands = (bundle_dnf.ARCH_COMMAND, bundle_dnf.STATUS_COMMAND, bundle_dnf.SOURCES_COMMAND)
    else:
        raise BundleError(f"{host.name}: bundles are made for apt and dnf hosts only so far.")
    arch = transport.run(commands[0], timeout=30)
    status = transport.run(commands[1], timeout=300)
    if not arch.ok or not status.ok or not status.stdout.strip():
        raise BundleError(f"Could not read the installed packages of {host.name}: {status.err.strip()[:200]}")
    if len(status.stdout) > MAX_STATUS_BYTES:
        raise BundleError(f"{host.name}'s package state is larger than any Patchdesk reads.")
    sources = transport.run(commands[2], timeout=60)
    return RequestHost(
        host.name,
        manager,
        facts.id,
        release,
        check_arch(arch.out.strip()),
        status.stdout,
        sources.out[:65536],
        facts.id_like,
        facts.version,
    )


def gather(
    db: Database, hosts: Sequence[Host], secrets: SecretStore | None, progress: Progress = _quiet
) -> tuple[list[RequestHost], dict[str, str]]:
    """Every host's state; a host that cannot be read is named with its reason, never dropped silently."""
    out: list[RequestHost] = []
    failed: dict[str, str] = {}
    for i, host in enumerate(hosts):
        progress(i / max(1, len(hosts)), f"reading {host.name}")
        try:
            with connect(db, host, secrets, timeout=600) as transport:
                if host.transport.value == "winrm":
                    from app.services.bundles_win import read_state as read_windows

                    out.append(read_windows(db, transport, host))
                else:
                    out.append(read_state(transport, host))
        except PatchdeskError as exc:
            failed[host.name] = str(exc)
    progress(1.0, "done")
    return out, failed


def write_request(path: Path, hosts: Sequence[RequestHost]) -> None:
    data = {
        "format": REQUEST_FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "hosts": [h.as_json() for h in hosts],
    }
    _atomic_write(Path(path), json.dumps(data, indent=1).encode())


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
    try:
        with open(fd, "wb") as f:
            f.write(data)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_request(path: Path) -> list[RequestHost]:
    """The hosts of a request file; anything malformed is refused with a sentence."""
    try:
        if Path(path).stat().st_size > MAX_REQUEST_BYTES:
            raise BundleError(f"{path} is larger than any bundle request.")
        raw = json.loads(Path(path).read_bytes())
    except OSError as exc:
        raise BundleError(f"Cannot read the request {path}: {exc.strerror or exc}.") from None
    except ValueError:
        raise BundleError(f"{path} is not a bundle request (not JSON).") from None
    if (
        not isinstance(raw, dict)
        or raw.get("format") != REQUEST_FORMAT
        or not isinstance(raw.get("hosts"), list)
    ):
        raise BundleError(f"{path} is not a Patchdesk bundle request.")
    out = []
    for h in raw["hosts"]:
        try:
            out.append(
                RequestHost(
                    str(h["name"])[:255],
                    str(h["manager"]),
                    str(h["os_id"])[:64],
                    str(h["release"])[:64],
                    check_arch(str(h["arch"])),
                    base64.b64decode(h["status"], validate=True),
                    str(h.get("sources", ""))[:65536],
                    tuple(str(x)[:64] for x in h.get("id_like", []))[:8],
                    str(h.get("version", ""))[:64],
                )
            )
        except (KeyError, TypeError, ValueError):
            raise BundleError(f"{path} has a host entry Patchdesk cannot read.") from None
        if out[-1].manager not in MANAGERS:
            raise BundleError(f"{path} names a package manager bundles do not support.")
    return out


# -- creating a bundle ----------------------------------------------------------------------------------


def _chooser(
    db: Database, classes: Sequence[Classification] | None, state: RequestHost
) -> Callable[[list[PendingUpdate]], set[str]] | None:
    """Picks the updates of the chosen classifications (the rules and advisories of this workstation)."""
    if not classes:
        return None
    from app.domain.rules import Classifier
    from db import advisories as db_advisories
    from db import rules as db_rules

    classifier = Classifier(tuple(db_rules.list_rules(db)), db_advisories.advisory_index(db))

    def choose(pending: list[PendingUpdate]) -> set[str]:
        found = classifier.classify_all(
            pending, os_id=state.os_id, os_version=state.version, id_like=state.id_like
        )
        return {p.name for p in found if p.classification in classes}

    return choose


@dataclass
class _Group:
    manager: str
    release: str
    arch: str
    hosts: list[RequestHost] = field(default_factory=list)

    @property
    def name(self) -> str:
        return group_name(self.manager, self.release, self.arch)


def create(
    db: Database,
    reference_name: str | None,
    states: Sequence[RequestHost],
    out: Path,
    *,
    secrets: SecretStore | None,
    classifications: Sequence[Classification] | None = None,
    progress: Progress = _quiet,
    estimate_only: bool = False,
    from_dir: Path | None = None,
) -> CreateResult:
    """Build the bundle for ``states`` on the reference host (Windows hosts: from the update files
    in ``from_dir``) and write it to ``out``."""
    needs_reference = any(s.manager != "win" for s in states)
    reference = db_hosts.find_host(db, reference_name) if reference_name else None
    if reference is None and (reference_name or needs_reference):
        if not reference_name:
            raise ConfigError(
                "apt and dnf hosts need a connected reference host: give it with --reference HOST."
            )
        raise ConfigError(f"No host named {reference_name} in the inventory.")
    if not states:
        raise ConfigError("No offline host to build a bundle for.")
    signer = Signer(secrets) if secrets is not None else None
    if signer is None:
        raise BundleError("A bundle is signed with this workstation's key, which needs the system keyring.")
    signer.public_key()  # the keyring is asked before anything is downloaded
    groups: dict[str, _Group] = {}
    for s in states:
        g = groups.setdefault(group_name(s.manager, s.release, s.arch), _Group(s.manager, s.release, s.arch))
        g.hosts.append(s)
    work = Path(tempfile.mkdtemp(prefix="patchdesk-bundle-"))
    try:
        files: list[BundleFile] = []
        local: dict[str, Path] = {}
        hosts: list[BundleHost] = []
        for built in _build_all(
            db, reference, groups, work, classifications, progress, estimate_only, from_dir, secrets
        ):
            files += built.files
            local.update(built.local)
            hosts += built.hosts
        if estimate_only:
            progress(1.0, "estimated")
            return CreateResult(None, None, estimate=sum(f.size for f in files), hosts=hosts)
        origin = reference.name if reference is not None else f"local directory {Path(from_dir or '.').name}"
        manifest = _manifest(signer, origin[:200], hosts, files, classifications)
        progress(0.9, "writing the bundle")
        write_bundle(out, manifest, signer.sign(manifest.to_bytes()), local)
        db_bundles.record_bundle(db, manifest, str(Path(out).resolve()), verified=True)
        audit.record(
            db,
            "bundle.created",
            manifest.id,
            {"reference": manifest.reference, "hosts": [h.name for h in hosts], "files": len(files)},
        )
        progress(1.0, "done")
        return CreateResult(manifest, Path(out))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _manifest(
    signer: Signer,
    reference: str,
    hosts: list[BundleHost],
    files: list[BundleFile],
    classifications: Sequence[Classification] | None,
) -> Manifest:
    public = signer.public_key()
    assert public is not None
    return Manifest(
        pysecrets.token_hex(8),
        datetime.now(UTC).isoformat(timespec="seconds"),
        f"{getpass.getuser()}@{platform.node()}"[:200],
        reference,
        signer.fingerprint() or "",
        public.hex(),
        tuple(hosts),
        tuple(files),
        tuple(c.value for c in classifications or ()),
    )


def _build_all(
    db: Database,
    reference: Host | None,
    groups: dict[str, _Group],
    work: Path,
    classifications: Sequence[Classification] | None,
    progress: Progress,
    estimate_only: bool,
    from_dir: Path | None,
    secrets: SecretStore | None,
) -> list[_Built]:
    """Every group's files: Windows groups from ``from_dir``, the others on the reference host."""
    from app.services.bundles_win import build_win

    out = [
        build_win(g, from_dir, classifications, progress, estimate_only)
        for g in groups.values()
        if g.manager == "win"
    ]
    others = [g for g in groups.values() if g.manager != "win"]
    if others:
        assert reference is not None
        with connect(db, reference, secrets) as transport:
            for g in others:
                out.append(
                    _build_group(db, transport, reference, g, work, classifications, progress, estimate_only)
                )
    return out


@dataclass
class _Built:
    files: list[BundleFile] = field(default_factory=list)
    local: dict[str, Path] = field(default_factory=dict)
    hosts: list[BundleHost] = field(default_factory=list)


def _build_group(
    db: Database,
    transport: Transport,
    reference: Host,
    group: _Group,
    work: Path,
    classifications: Sequence[Classification] | None,
    progress: Progress,
    estimate_only: bool,
) -> _Built:
    if group.manager == "dnf":
        from app.services.bundles_dnf import build_dnf

        return build_dnf(db, transport, reference, group, work, classifications, progress, estimate_only)
    if group.manager != "apt":
        raise BundleError(f"Bundles for {group.manager} hosts are not supported yet.")
    return _build_apt(db, transport, reference, group, work, classifications, progress, estimate_only)


def _check_reference(transport: Transport, reference: Host, group: _Group) -> None:
    from app.platforms.family import family_of

    facts, found, _ = family_of(reference).facts(transport)
    release = facts.version_codename or facts.version
    binary = "apt-get" if group.manager == "apt" else "dnf"
    arch_cmd = "dpkg --print-architecture" if group.manager == "apt" else "rpm --eval %{_arch}"
    arch = transport.run(arch_cmd, timeout=30).out.strip()
    if binary not in found and not (group.manager == "dnf" and "yum" in found):
        raise BundleError(
            f"The reference host {reference.name} has no {binary}; it cannot build {group.name}."
        )
    if release != group.release or arch != group.arch:
        raise BundleError(
            f"The reference host {reference.name} runs {release or '?'} on {arch or '?'}, but "
            f"{', '.join(h.name for h in group.hosts)} run {group.release} on {group.arch}: the reference "
            "host must be of the same release and architecture."
        )


def _build_apt(
    db: Database,
    transport: Transport,
    reference: Host,
    group: _Group,
    work: Path,
    classifications: Sequence[Classification] | None,
    progress: Progress,
    estimate_only: bool = False,
) -> _Built:
    from app.platforms.posix import bundle_apt
    from app.platforms.posix.bundle_host import fail, fetch_file, list_files, make_scratch, remove_scratch

    _check_reference(transport, reference, group)
    scratch = make_scratch(transport, reference.name)
    built = _Built()
    try:
        resolved: list[ResolvedPackage] = []
        for i, state in enumerate(group.hosts):
            progress(0.05 + 0.25 * i / len(group.hosts), f"resolving {state.name} on {reference.name}")
            found, updates = bundle_apt.resolve_host(
                transport,
                scratch,
                state.status,
                state.name,
                reference.name,
                _chooser(db, classifications, state),
            )
            resolved += found
            built.hosts.append(
                BundleHost(state.name, "apt", group.name, state.release, state.arch, tuple(updates))
            )
        packages = merge_resolved(resolved)
        if not packages:
            return _index_only(built, group, work)
        debs = f"{scratch}/debs"
        transport.run(["mkdir", "-p", "--", debs], timeout=30)
        if estimate_only:
            r = transport.run(bundle_apt.download_command(debs, packages, print_uris=True), timeout=600)
            if not r.ok:
                raise fail(reference.name, "list the packages to download", r.err)
            size = bundle_apt.parse_print_uris(r.out)
            built.files.append(BundleFile(group.name, "estimate", "0" * 64, size, Purpose.UPDATE))
            return built
        progress(0.35, f"downloading {len(packages)} package(s) on {reference.name}")
        r = transport.run(bundle_apt.download_command(debs, packages), timeout=3600)
        if not r.ok:
            raise fail(reference.name, "download the packages (old versions too, for rollback)", r.err)
        sizes = list_files(transport, debs, reference.name, ".deb")
        total, done = max(1, sum(sizes.values())), 0
        target = work / group.name
        target.mkdir(parents=True, exist_ok=True)

        def moved(n: int) -> None:
            nonlocal done
            done += n
            progress(0.4 + 0.45 * done / total, f"fetching from {reference.name}")

        for name, size in sorted(sizes.items()):
            fetch_file(transport, f"{debs}/{name}", size, target / name, reference.name, moved)
    finally:
        remove_scratch(transport, scratch)
    return _apt_index(built, group, work, packages, source=f"{reference.name}")


def _index_only(built: _Built, group: _Group, work: Path) -> _Built:
    return _apt_index(built, group, work, [], source="")


def _apt_index(
    built: _Built, group: _Group, work: Path, packages: list[ResolvedPackage], source: str
) -> _Built:
    """Match every fetched .deb to what was resolved, then write each host's index."""
    from app.platforms.posix import bundle_apt

    target = work / group.name
    target.mkdir(parents=True, exist_ok=True)
    wanted = {(p.name.split(":", 1)[0], p.version): p for p in packages}
    debs: list[tuple[BundleFile, str, dict[str, str]]] = []  # file, origin, control
    for deb in sorted(target.glob("*.deb")):
        control = bundle_apt.deb_control(deb)
        key = (control.get("Package", ""), control.get("Version", ""))
        p = wanted.pop(key, None)
        if p is None:
            raise BundleError(f"The reference host downloaded {deb.name}, which nothing asked for.")
        f = BundleFile(
            group.name,
            deb.name,
            sha256_file(deb),
            deb.stat().st_size,
            p.purpose,
            source,
            key[0],
            key[1],
            p.hosts,
        )
        debs.append((f, p.origin if p.purpose is Purpose.UPDATE else "", control))
        built.files.append(f)
        built.local[f.member] = deb
    if wanted:
        missing = [f"{n} {v}" for n, v in wanted]
        raise BundleError(f"The reference host did not download {', '.join(missing[:5])}.")
    for number, state in enumerate(group.hosts):
        _host_index(built, group, work, number, state.name, debs)
    return built


def _host_index(
    built: _Built,
    group: _Group,
    work: Path,
    number: int,
    host: str,
    debs: list[tuple[BundleFile, str, dict[str, str]]],
) -> None:
    """One host's sub-repositories: one per origin of its updates (the Release file carries that
    origin's label and archive, so a security update still reads as one on the offline host), and
    one for its rollback packages. Each lists only the files this host receives."""
    from app.domain.bundle import parse_origin

    origins = sorted({origin for f, origin, _c in debs if host in f.hosts and f.purpose is Purpose.UPDATE})
    pockets: dict[str, list[tuple[BundleFile, dict[str, str]]]] = {}
    names = {origin: f"h{number}u{i}" for i, origin in enumerate(origins)}
    for f, origin, control in debs:
        if host in f.hosts:
            pocket = names[origin] if f.purpose is Purpose.UPDATE else f"h{number}r"
            pockets.setdefault(pocket, []).append((f, control))
    origin_of = {v: k for k, v in names.items()}
    date = format_datetime(datetime.now(UTC), usegmt=True)
    for pocket, entries in sorted(pockets.items()):
        directory = work / group.name / pocket
        directory.mkdir(parents=True, exist_ok=True)
        index = "\n".join(packages_stanza(c, f.name, f.size, f.sha256) for f, c in entries).encode()
        (directory / "Packages").write_bytes(index)
        fields = parse_origin(origin_of[pocket]) if pocket in origin_of else None
        (directory / "Release").write_text(release_file(index, date, fields))
        for name in ("Packages", "Release"):
            path = directory / name
            f = BundleFile(
                group.name,
                name,
                sha256_file(path),
                path.stat().st_size,
                Purpose.INDEX,
                "Patchdesk",
                hosts=(host,),
                pocket=pocket,
            )
            built.files.append(f)
            built.local[f.member] = path
