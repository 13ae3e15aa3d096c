"""Advisory values shared by the parsers, the matcher, db/ and the faces."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KevEntry:
    """One entry of CISA's Known Exploited Vulnerabilities catalog."""

    cve: str
    vendor: str = ""
    product: str = ""
    name: str = ""
    date_added: str = ""  # YYYY-MM-DD
    due_date: str = ""  # YYYY-MM-DD: the remediation deadline for US federal agencies
    ransomware: str = ""  # "Known" | "Unknown"
    description: str = ""
    required_action: str = ""

    def as_json(self) -> dict[str, object]:
        return {
            "cve": self.cve,
            "vendor": self.vendor,
            "product": self.product,
            "name": self.name,
            "date_added": self.date_added,
            "due_date": self.due_date,
            "ransomware": self.ransomware,
            "description": self.description,
            "required_action": self.required_action,
        }


@dataclass(frozen=True)
class AffectedPackage:
    """One package an advisory affects, with the versions that fix it (``fixed`` range events)."""

    ecosystem: str  # OSV ecosystem, e.g. "Debian:12", "Ubuntu:22.04:LTS", "AlmaLinux:9"
    name: str
    fixed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Advisory:
    """A vendor bulletin (DSA/DLA, USN, RHSA, GHSA, …) as OSV describes it."""

    id: str
    source: str = "osv"
    summary: str = ""
    severity: str | None = None  # the vendor's own word (or CVSS score), None when ungraded
    aliases: tuple[str, ...] = ()  # CVE ids (and other ids) of the same issue
    published: str = ""
    modified: str = ""
    affected: tuple[AffectedPackage, ...] = ()

    @property
    def cves(self) -> tuple[str, ...]:
        ids = (self.id, *self.aliases)
        return tuple(dict.fromkeys(a for a in ids if a.upper().startswith("CVE-")))


@dataclass(frozen=True)
class AdvisoryBatch:
    """What one file (or one refresh) brought: imported together or not at all."""

    kev: tuple[KevEntry, ...] = ()
    advisories: tuple[Advisory, ...] = ()
    kev_version: str | None = None  # catalogVersion
    kev_released: str | None = None  # dateReleased
    sources: tuple[str, ...] = ()  # files or URLs, for the message

    def merged(self, other: AdvisoryBatch) -> AdvisoryBatch:
        return AdvisoryBatch(
            self.kev + other.kev,
            self.advisories + other.advisories,
            other.kev_version or self.kev_version,
            other.kev_released or self.kev_released,
            self.sources + other.sources,
        )
