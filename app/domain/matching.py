"""Linking pending updates to advisories and to the KEV catalog.

An update is linked to an OSV advisory when the advisory affects a package of that name in an
ecosystem of the host's distribution and one of its "fixed" versions is newer than what is installed
and not newer than the candidate (so installing the candidate fixes it). Versions compare in the
ecosystem's own order: dpkg's for Debian/Ubuntu, rpm's for the RPM distributions. An update is in KEV
when one of its CVEs (reported by the host, as dnf/zypper/Windows Update do, or the aliases of a
linked advisory) is in the catalog.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from app.domain import debversion
from app.domain.advisories import Advisory, KevEntry
from app.domain.models import PendingUpdate
from app.domain.rpmversion import compare_evr


@dataclass(frozen=True)
class PackageAdvisory:
    """One (advisory, affected package) pair, the unit of matching."""

    advisory_id: str
    ecosystem: str
    name: str
    fixed: tuple[str, ...]
    cves: tuple[str, ...] = ()
    severity: str | None = None


@dataclass(frozen=True)
class AdvisoryIndex:
    """Everything the classifier needs from the advisory tables, loaded once per job (caller side)."""

    by_package: Mapping[str, tuple[PackageAdvisory, ...]] = field(default_factory=dict)
    kev: Mapping[str, KevEntry] = field(default_factory=dict)

    @classmethod
    def build(cls, advisories: Iterable[Advisory], kev: Iterable[KevEntry]) -> AdvisoryIndex:
        by: dict[str, list[PackageAdvisory]] = {}
        for a in advisories:
            for p in a.affected:
                by.setdefault(p.name, []).append(
                    PackageAdvisory(a.id, p.ecosystem, p.name, p.fixed, a.cves, a.severity)
                )
        return cls({k: tuple(v) for k, v in by.items()}, {e.cve: e for e in kev})


@dataclass(frozen=True)
class Platform:
    """Which OSV ecosystems describe a host's packages, and how its versions compare."""

    ecosystems: tuple[str, ...]
    compare: Callable[[str, str], int] | None

    def covers(self, ecosystem: str) -> bool:
        return any(ecosystem == e or ecosystem.startswith(e + ":") for e in self.ecosystems)


def platform_for(os_id: str | None, version: str | None, id_like: Iterable[str] = ()) -> Platform:
    """OSV ecosystem names for a distribution (os-release ID and VERSION_ID)."""
    oid = (os_id or "").lower()
    ver = (version or "").strip()
    major = ver.split(".")[0]
    like = {x.lower() for x in id_like}
    if oid == "debian" or (oid not in ("ubuntu",) and "debian" in like and not ver):
        return Platform((f"Debian:{major}",) if major else ("Debian",), debversion.compare)
    if oid == "ubuntu":
        return Platform((f"Ubuntu:{ver}", f"Ubuntu:Pro:{ver}") if ver else ("Ubuntu",), debversion.compare)
    rpm: dict[str, tuple[str, ...]] = {
        "almalinux": (f"AlmaLinux:{major}",),
        "rocky": (f"Rocky Linux:{major}",),
        "rhel": ("Red Hat",),
        "centos": ("Red Hat",),
        "fedora": (f"Fedora:{major}" if major else "Fedora",),
        "opensuse-leap": (f"openSUSE:Leap {ver}",),
        "opensuse-tumbleweed": ("openSUSE:Tumbleweed",),
        "sles": ("SUSE:Linux Enterprise Server", "SUSE:Linux Enterprise"),
        "sle_hpc": ("SUSE:Linux Enterprise",),
    }
    if oid in rpm:
        return Platform(rpm[oid], compare_evr)
    if "debian" in like:
        return Platform(("Debian",), debversion.compare)
    return Platform((), None)


@dataclass(frozen=True)
class Link:
    """What matching found for one pending update."""

    advisories: tuple[PackageAdvisory, ...] = ()
    cves: tuple[str, ...] = ()
    kev: tuple[KevEntry, ...] = ()


def link(update: PendingUpdate, platform: Platform, index: AdvisoryIndex) -> Link:
    matched: list[PackageAdvisory] = []
    if platform.compare is not None and update.installed is not None:
        for pa in index.by_package.get(update.name, ()):
            if not platform.covers(pa.ecosystem):
                continue
            if any(_fixes(platform.compare, f, update) for f in pa.fixed):
                matched.append(pa)
    cves = list(update.cves)
    for pa in matched:
        cves.extend(pa.cves)
    cves = list(dict.fromkeys(c.upper() for c in cves))
    kev = tuple(index.kev[c] for c in cves if c in index.kev)
    return Link(tuple(matched), tuple(cves), kev)


def _fixes(compare: Callable[[str, str], int], fixed: str, u: PendingUpdate) -> bool:
    try:
        return compare(fixed, u.available) <= 0 and (u.installed is None or compare(u.installed, fixed) < 0)
    except (ValueError, IndexError):  # a malformed version from a host or a feed matches nothing
        return False
