"""dnf's side of offline bundles: what an offline host needs, resolved on a connected reference host
of the same release, and the bundle's repository made the offline host's source.

dnf has no way to be given another host's rpm database, so resolution runs on the reference host as
the login user, in a private scratch directory with its own metadata cache (``cachedir``), against
the offline host's installed list as the request carries it (``name<TAB>epoch:version-release.arch``):
``repoquery --latest-limit=1`` of every installed name gives the newest versions (compared here with
rpm's rules), ``repoquery --requires --resolve --recursive`` of those gives what they need, of which
the names the offline host lacks are new dependencies. ``dnf download`` then fetches the new versions,
the new dependencies and the versions installed now (for rollback); ``createrepo_c`` builds one index
per offline host listing only that host's files, and the reference repositories' advisories for them
(updateinfo.xml, merged here) are added with ``modifyrepo_c``, so a security update is still one
offline. Every command is built from constants and checked names; nothing a host printed is run.

On the offline host the bundle is a repository under /var/lib/patchdesk/bundles/<id>/repo, given to
dnf on its command line only (dnf_sources.source_options): nothing under /etc/yum.repos.d or /etc/dnf.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import shlex
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from app.domain.bundle import BundleError, Purpose, ResolvedPackage, check_arch, check_id, check_package
from app.domain.models import PendingUpdate, UpdateKind
from app.domain.rpmversion import compare_evr
from app.platforms.posix import dnf_sources
from app.platforms.posix.bundle_host import bundle_dir, fail
from app.transports.base import Transport

#: the offline host's state as the request carries it
STATUS_COMMAND = "rpm -qa --qf '%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH}\\n'"
ARCH_COMMAND = "rpm --eval %{_arch}"
#: (informational: resolution uses the reference host's repositories) without the credentials a
#: repository file may hold, which have no business in a request carried out of the site
SOURCES_COMMAND = (
    "cat /etc/yum.repos.d/*.repo 2>/dev/null | "
    "grep -viE '^[[:space:]]*(password|username|proxy_password|proxy_username|sslclientkey)[[:space:]]*=' "
    "| head -c 65536; true"
)
#: what repoquery prints of each package (dnf 4 adds the newline)
QUERY_FORMAT = "%{name}\t%{epoch}:%{version}-%{release}.%{arch}\t%{reponame}"
#: an advisory file larger than this (uncompressed) is not read
_MAX_UPDATEINFO = 512 * 1024 * 1024


@dataclass(frozen=True)
class Rpm:
    name: str
    evr: str  # epoch:version-release, the epoch always present
    arch: str
    repo: str = ""

    @property
    def nevra(self) -> str:
        return f"{self.name}-{self.evr}.{self.arch}"

    @property
    def shown(self) -> str:
        """The version as dnf prints it: no ``0:``."""
        return self.evr[2:] if self.evr.startswith("0:") else self.evr


def parse_rpm_line(line: str) -> Rpm | None:
    """``name<TAB>epoch:version-release.arch[<TAB>repo]``; None for a line that is not one (checked)."""
    fields = line.strip().split("\t")
    if len(fields) not in (2, 3):
        return None
    evra, dot, arch = fields[1].rpartition(".")
    epoch, colon, vr = evra.partition(":")
    if not dot or not colon or epoch in ("", "(none)"):
        epoch = "0" if colon else ""
    if not dot or not epoch.isdigit() or "-" not in vr:
        return None
    try:
        check_package(fields[0], f"{epoch}:{vr}")
        check_arch(arch)
    except BundleError:
        return None
    return Rpm(fields[0], f"{int(epoch)}:{vr}", arch, fields[2] if len(fields) == 3 else "")


def parse_installed(status: bytes) -> dict[str, list[Rpm]]:
    """The offline host's installed packages by name; an unreadable line refuses the request."""
    out: dict[str, list[Rpm]] = {}
    for line in status.decode("utf-8", "replace").splitlines():
        if not line.strip() or line.startswith("gpg-pubkey\t"):
            continue
        rpm = parse_rpm_line(line)
        if rpm is None:
            raise BundleError(f"The request lists an installed package Patchdesk cannot read: {line[:80]!r}.")
        out.setdefault(rpm.name, []).append(rpm)
    return out


def _dnf(scratch: str, *words: str) -> str:
    """dnf as the login user with the scratch directory's own metadata cache (never the system's)."""
    argv = ["dnf", "-q", f"--setopt=cachedir={scratch}/cache", "--setopt=skip_if_unavailable=False", *words]
    return f"cd {shlex.quote(scratch)} && LC_ALL=C " + shlex.join(argv)


def latest_command(scratch: str, names: Iterable[str]) -> str:
    checked = sorted(set(names))
    for name in checked:
        check_package(name)
    return _dnf(scratch, "repoquery", "--available", "--latest-limit=1", "--qf", QUERY_FORMAT, "--", *checked)


def requires_command(scratch: str, packages: Iterable[Rpm]) -> str:
    nevras = sorted({p.nevra for p in packages})
    for p in packages:
        check_package(p.name, p.evr)
    return _dnf(
        scratch,
        "repoquery",
        "--available",
        "--requires",
        "--resolve",
        "--recursive",
        "--latest-limit=1",
        "--qf",
        QUERY_FORMAT,
        "--",
        *nevras,
    )


def download_command(scratch: str, directory: str, packages: Sequence[ResolvedPackage]) -> str:
    return _dnf(scratch, "download", f"--destdir={directory}", "--", *_nevras(packages))


def size_command(scratch: str, packages: Sequence[ResolvedPackage]) -> str:
    """The download size of each package (the estimate before anything is downloaded)."""
    return _dnf(scratch, "repoquery", "--qf", "%{downloadsize}", "--", *_nevras(packages))


def _nevras(packages: Sequence[ResolvedPackage]) -> list[str]:
    out = []
    for p in packages:
        check_package(p.name, p.version)
        check_arch(p.arch)
        out.append(f"{p.name}-{p.version}.{p.arch}")
    return out


def parse_sizes(text: str) -> int:
    total = 0
    for line in text.split():
        if not line.isdigit():
            raise BundleError(f"dnf listed a package without its size: {line[:80]!r}.")
        total += int(line)
    return total


def _query(transport: Transport, command: str, host: str, reference: str, what: str) -> list[Rpm]:
    r = transport.run(command, timeout=900)
    if not r.ok:
        raise fail(reference, f"{what} for {host}", r.err)
    out = []
    for line in r.out.splitlines():
        if not line.strip():
            continue
        rpm = parse_rpm_line(line)
        if rpm is None:
            # a line not understood could be an update: never build a bundle that may miss one
            raise BundleError(
                f"dnf's answer on {reference} for {host} has a line Patchdesk cannot read "
                f"({line[:80]!r}); nothing was built."
            )
        out.append(rpm)
    return out


def _fits(candidate: Rpm, installed: Rpm | None, arch: str) -> bool:
    """A candidate of the installed package's architecture (noarch may become arch and back); for a
    new dependency, the host's architecture or noarch (no other multilib half comes along)."""
    if installed is None:
        return candidate.arch in (arch, "noarch")
    return candidate.arch == installed.arch or "noarch" in (candidate.arch, installed.arch)


def resolve_host(
    transport: Transport,
    scratch: str,
    state: tuple[str, str, bytes],
    reference: str,
    advisories: Sequence[ET.Element] = (),
    choose: Callable[[list[PendingUpdate]], Iterable[str] | None] | None = None,
) -> tuple[list[ResolvedPackage], list[tuple[str, str, str]]]:
    """The packages one offline host (``state``: its name, architecture and installed list) needs
    (updates, new dependencies and rollback versions) and its pending updates; ``choose`` as in
    bundle_apt.resolve_host, given the updates as the reference repositories' ``advisories`` classify
    them (so a choice of security updates keeps them)."""
    host, arch, status = state
    installed = parse_installed(status)
    if not installed:
        raise BundleError(f"The request lists no installed package for {host}.")
    newest = {name: max(rpms, key=_evr_key) for name, rpms in installed.items()}
    latest = _query(transport, latest_command(scratch, newest), host, reference, "find the newest versions")
    updates: dict[str, Rpm] = {}
    for p in latest:
        old = newest.get(p.name)
        if old is None or not _fits(p, old, arch) or compare_evr(p.evr, old.evr) <= 0:
            continue
        if p.name not in updates or p.arch == old.arch:  # the same architecture wins
            updates[p.name] = p
    pending = [
        PendingUpdate("dnf", p.name, p.shown, newest[p.name].shown, p.arch, p.repo) for p in updates.values()
    ]
    keep = choose(annotate(pending, advisories)) if choose is not None else None
    if keep is not None:
        updates = {n: p for n, p in updates.items() if n in set(keep)}
    if not updates:
        return [], []
    needed = _query(
        transport, requires_command(scratch, updates.values()), host, reference, "resolve the dependencies"
    )
    for p in needed:
        old = newest.get(p.name)
        if not _fits(p, old, arch) or p.name in updates:
            continue
        if old is None or compare_evr(p.evr, old.evr) > 0:
            updates[p.name] = p  # a new dependency, or an installed package the update needs newer
    out: list[ResolvedPackage] = []
    listed: list[tuple[str, str, str]] = []
    for p in sorted(updates.values(), key=lambda r: r.name):
        out.append(ResolvedPackage(p.name, p.evr, p.arch, Purpose.UPDATE, (host,), p.repo))
        old = newest.get(p.name)
        if old is not None:
            out.append(ResolvedPackage(old.name, old.evr, old.arch, Purpose.ROLLBACK, (host,)))
        listed.append((p.name, old.shown if old is not None else "", p.shown))
    return out, listed


_SEVERITY_RANK = {"Low": 1, "Moderate": 2, "Important": 3, "Critical": 4}


def annotate(pending: Sequence[PendingUpdate], advisories: Iterable[ET.Element]) -> list[PendingUpdate]:
    """The updates with the kind, severity, advisory ids and CVEs the advisories give their new
    versions (as the scan of a connected host would see them)."""
    by_package: dict[tuple[str, str], list[ET.Element]] = {}
    for u in advisories:
        for pk in u.iter("package"):
            by_package.setdefault(
                (pk.get("name") or "", f"{pk.get('version')}-{pk.get('release')}"), []
            ).append(u)
    return [_annotated(p, by_package.get((p.name, p.available.split(":", 1)[-1]), [])) for p in pending]


def _annotated(p: PendingUpdate, found: list[ET.Element]) -> PendingUpdate:
    if not found:
        return p
    kinds = {u.get("type") for u in found}
    security = "security" in kinds
    if security:
        kind = UpdateKind.SECURITY
    elif "enhancement" in kinds and "bugfix" not in kinds:
        kind = UpdateKind.ENHANCEMENT
    else:
        kind = UpdateKind.BUGFIX
    severities = [u.findtext("severity") or "" for u in found if u.get("type") == "security" or not security]
    ranked = sorted((s for s in severities if s in _SEVERITY_RANK), key=_SEVERITY_RANK.__getitem__)
    ids = tuple(sorted({u.findtext("id") or "" for u in found} - {""}))
    cves = {r.get("id") or "" for u in found for r in u.iter("reference") if r.get("type") == "cve"}
    return replace(
        p,
        security=security,
        kind=kind,
        severity=ranked[-1] if ranked else None,
        advisories=ids,
        cves=tuple(sorted(cves - {""})),
    )


def _evr_key(rpm: Rpm) -> _Evr:
    return _Evr(rpm.evr)


class _Evr:
    """Orders versions the way rpm does (for max())."""

    def __init__(self, evr: str) -> None:
        self.evr = evr

    def __lt__(self, other: _Evr) -> bool:
        return compare_evr(self.evr, other.evr) < 0


#: ``file<TAB>name<TAB>epoch:version-release.arch`` of every downloaded rpm, read by rpm itself
def identify_command(directory: str) -> str:
    return (
        f"cd {shlex.quote(directory)} && for f in *.rpm; do printf '%s\\t' \"$f\"; "
        "rpm -qp --nosignature --nodigest --qf '%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH}\\n' "
        '-- "$f" 2>/dev/null || echo; done'
    )


def parse_identify(text: str) -> dict[str, Rpm]:
    out: dict[str, Rpm] = {}
    for line in text.splitlines():
        name, _, rest = line.partition("\t")
        rpm = parse_rpm_line(rest)
        if rpm is None:
            raise BundleError(f"The reference host downloaded {name[:80]!r}, which rpm cannot read.")
        out[name] = rpm
    return out


def index_command(scratch: str, pocket: str, files: Sequence[str], updateinfo: bool) -> str:
    """``createrepo_c`` of one host's files (a list in the scratch directory, the index in its own
    directory), then the advisories with ``modifyrepo_c`` when there are any."""
    from app.domain.bundle import check_file_name, check_pocket

    check_pocket(pocket)
    names = [check_file_name(f) for f in files]
    s = shlex.quote(scratch)
    listing = f"printf '%s\\n' {' '.join(shlex.quote(n) for n in names)}" if names else ":"
    out = (
        f"cd {s} && rm -rf {pocket} && mkdir {pocket} && {listing} > {pocket}.list && "
        f"createrepo_c -q --no-database --pkglist {pocket}.list -o {pocket} rpms"
    )
    if updateinfo:
        out += f" && modifyrepo_c --mdtype=updateinfo {pocket}-updateinfo.xml {pocket}/repodata"
    return out


def makecache_command(scratch: str) -> str:
    """The reference repositories' metadata, advisories included, into the scratch cache."""
    return _dnf(scratch, "makecache")


TOOLS_COMMAND = "command -v createrepo_c && command -v modifyrepo_c"
UPDATEINFO_COMMAND = "find cache -path '*/repodata/*updateinfo.xml*' -type f -printf '%s %P\\n'"


def read_updateinfo(name: str, data: bytes) -> list[ET.Element]:
    """The ``<update>`` elements of one repository's updateinfo file (gz, bz2, xz or plain)."""
    try:
        if name.endswith(".gz"):
            raw = gzip.decompress(data)
        elif name.endswith(".bz2"):
            raw = bz2.decompress(data)
        elif name.endswith(".xz"):
            raw = lzma.decompress(data)
        elif name.endswith(".xml"):
            raw = data
        else:
            raise BundleError(
                f"The reference host's advisories ({name.rsplit('/', 1)[-1]}) are compressed in a way "
                "Patchdesk cannot read, so the bundle would lose which updates are security updates."
            )
        if len(raw) > _MAX_UPDATEINFO:
            raise BundleError("The reference host's advisories are larger than any Patchdesk reads.")
        if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
            raise BundleError(f"The reference host's advisories ({name[-60:]}) carry a DTD; refused.")
        root = ET.fromstring(raw)  # noqa: S314 - DOCTYPE/ENTITY refused above, so no entity tricks
    except (OSError, EOFError, lzma.LZMAError, ValueError, ET.ParseError) as exc:
        raise BundleError(f"The reference host's advisories ({name[-60:]}) cannot be read: {exc}.") from None
    return [u for u in root if u.tag == "update"]


def updateinfo_for(updates: Iterable[ET.Element], packages: Iterable[ResolvedPackage]) -> bytes | None:
    """An updateinfo.xml with the advisories that name one of ``packages`` (None: no advisory)."""
    wanted = set()
    for p in packages:
        vr = p.version.partition(":")[2]
        version, _, release = vr.rpartition("-")
        wanted.add((p.name, version, release))
    root = ET.Element("updates")
    seen: set[str] = set()
    for u in updates:
        ident = u.findtext("id") or ""
        names = {(pk.get("name"), pk.get("version"), pk.get("release")) for pk in u.iter("package")}
        if ident not in seen and names & wanted:
            seen.add(ident)
            root.append(u)
    if not len(root):
        return None
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode").encode()


# -- the offline host ---------------------------------------------------------------------------------


def install_command(bundle_id: str, pocket: str, created: int) -> str:
    """As root: the checked incoming files become the bundle's repository (root's, world-readable),
    checked again where they now lie, and the host's index (``pocket``) becomes its ``repodata``."""
    from app.domain.bundle import check_pocket

    d = shlex.quote(bundle_dir(bundle_id))
    p = check_pocket(pocket)
    return (
        f"set -e; cd {d}; chown -R 0:0 incoming; chmod 0755 incoming; "
        "find incoming -type f -exec chmod 0644 {} +; find incoming -type d -exec chmod 0755 {} +; "
        f"rm -rf repo; mv incoming repo; touch -d @{int(created)} created; "
        f"cd repo; sha256sum --quiet -c SHA256SUMS; mv {p} repodata"
    )


def sources_command(bundle_ids: Sequence[str]) -> str | None:
    """As root: read the bundles applied on the host into dnf's system cache (a file: repository, no
    network) so a scan without root reads them (``-C``), dated by each bundle's build time."""
    if not bundle_ids:
        return None
    for i in bundle_ids:
        check_id(i)
    argv = ["dnf", "-q", "--setopt=skip_if_unavailable=False", *dnf_sources.source_options(bundle_ids)]
    return f"LC_ALL=C {shlex.join([*argv, 'makecache'])} && {{ {dnf_sources.redate_cache(bundle_ids)}; }}"


def remove_command(bundle_id: str) -> str:
    """As root: the bundle's directory and its metadata cache."""
    repo = dnf_sources.repo_id(bundle_id)
    return f"rm -rf -- {bundle_dir(bundle_id)} /var/cache/dnf/{repo}-* /var/cache/dnf/{repo}.solv"
