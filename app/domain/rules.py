"""Classification as data: ordered rules that turn evidence about an update into a class and a reason.

Evidence for one pending update: its kind and security flag (from the host), its vendor severity
(from the host, else from a linked advisory) normalised across vendors, and the KEV entries of its
CVEs. The first enabled rule whose conditions all hold decides; when none does the update is
``noncritical``. Rules live in the database (db/rules.py) so Settings can show and edit them; the
defaults below are what a new database gets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from app.domain.errors import ConfigError
from app.domain.matching import AdvisoryIndex, Link, Platform, link, platform_for
from app.domain.models import Classification, PendingUpdate, UpdateKind
from app.domain.severity import Severity, normalize


@dataclass(frozen=True)
class Rule:
    """Conditions that are None do not matter; every other one must hold."""

    name: str
    classification: Classification
    kev: bool | None = None
    severities: frozenset[Severity] | None = None
    kinds: frozenset[UpdateKind] | None = None
    security: bool | None = None
    description: str = ""
    enabled: bool = True

    def matches(self, ev: Evidence) -> bool:
        if not self.enabled:
            return False
        if self.kev is not None and bool(ev.kev) != self.kev:
            return False
        if self.severities is not None and ev.severity not in self.severities:
            return False
        if self.kinds is not None and ev.kind not in self.kinds:
            return False
        return self.security is None or ev.security == self.security

    def conditions_json(self) -> dict[str, Any]:
        return {
            "kev": self.kev,
            "severities": sorted(str(s) for s in self.severities) if self.severities is not None else None,
            "kinds": sorted(str(k) for k in self.kinds) if self.kinds is not None else None,
            "security": self.security,
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "classification": str(self.classification),
            "conditions": self.conditions_json(),
            "description": self.description,
            "enabled": self.enabled,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rule:
        cond = data.get("conditions") or {}
        try:
            return cls(
                name=str(data["name"]),
                classification=Classification(data["classification"]),
                kev=cond.get("kev"),
                severities=(
                    frozenset(Severity(s) for s in cond["severities"])
                    if cond.get("severities") is not None
                    else None
                ),
                kinds=(
                    frozenset(UpdateKind(k) for k in cond["kinds"]) if cond.get("kinds") is not None else None
                ),
                security=cond.get("security"),
                description=str(data.get("description") or ""),
                enabled=bool(data.get("enabled", True)),
            )
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"Classification rule {data.get('name')!r} is malformed: {exc}.") from exc

    def describe(self) -> str:
        """The conditions in words, for `rules list` and Settings."""
        parts = []
        if self.kev is not None:
            parts.append("a CVE in CISA KEV" if self.kev else "no CVE in CISA KEV")
        if self.security is not None:
            parts.append("security update" if self.security else "not a security update")
        if self.severities is not None:
            parts.append("severity " + "/".join(sorted(str(s) for s in self.severities)))
        if self.kinds is not None:
            parts.append("kind " + "/".join(sorted(str(k) for k in self.kinds)))
        return " and ".join(parts) or "always"


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(
        "kev",
        Classification.URGENT,
        kev=True,
        description="A CVE it fixes is being exploited (CISA KEV).",
    ),
    Rule(
        "critical",
        Classification.URGENT,
        severities=frozenset({Severity.CRITICAL}),
        description="The vendor rates it Critical.",
    ),
    Rule(
        "security",
        Classification.IMPORTANT,
        security=True,
        severities=frozenset({Severity.HIGH, Severity.UNKNOWN}),
        description="Other security updates the vendor rates Important/High, or does not rate.",
    ),
)


@dataclass(frozen=True)
class Evidence:
    security: bool
    kind: UpdateKind
    severity: Severity
    severity_word: str | None  # the vendor's own word, for the reason
    severity_from: str  # who said so: "MSRC", "SUSE", "DSA-5000-1", …
    link: Link

    @property
    def kev(self) -> tuple[Any, ...]:
        return self.link.kev


_MANAGER_VENDOR = {
    "wua": "MSRC",
    "windows-update": "MSRC",
    "dnf": "vendor",
    "yum": "vendor",
    "zypper": "SUSE",
    "apt": "Debian/Ubuntu",
}


def evidence(update: PendingUpdate, lnk: Link) -> Evidence:
    security = update.security or update.kind == UpdateKind.SECURITY or bool(lnk.advisories)
    word, source = update.severity, _MANAGER_VENDOR.get(update.manager, update.manager)
    sev = normalize(word)
    if sev == Severity.UNKNOWN:
        # the host gave none: the highest one of the linked advisories
        graded = [(normalize(a.severity), a) for a in lnk.advisories if a.severity]
        if graded:
            best_sev, best = max(graded, key=lambda p: p[0].rank)
            sev, word, source = best_sev, best.severity, best.advisory_id
    return Evidence(security, update.kind, sev, word, source, lnk)


def _reason(rule: Rule | None, cls: Classification, ev: Evidence, update: PendingUpdate) -> str:
    sev = f"vendor severity {ev.severity_word} ({ev.severity_from})" if ev.severity_word else ""
    if rule is not None and rule.kev and ev.kev:
        first = ev.kev[0]
        due = f" (due {first.due_date})" if first.due_date else ""
        more = f" and {len(ev.kev) - 1} more" if len(ev.kev) > 1 else ""
        text = f"{first.cve} is in CISA KEV{due}{more}"
    elif rule is not None and rule.severities is not None and ev.severity != Severity.UNKNOWN:
        text = sev
        if ev.security:
            text = "security update, " + text
    elif ev.security:
        text = "security update, " + (sev if sev else "severity not graded")
        if not sev and update.source:
            text += f" ({update.source})"
    elif update.kind in (UpdateKind.FIRMWARE, UpdateKind.DRIVER):
        text = f"{update.kind} update"
    else:
        text = "not a security update"
    if ev.link.advisories and not (rule is not None and rule.kev and ev.kev):
        ids = ", ".join(dict.fromkeys(a.advisory_id for a in ev.link.advisories))
        text += f"; fixes {ids}"
    if rule is not None and rule.name not in {r.name for r in DEFAULT_RULES}:
        text += f" (rule {rule.name!r})"
    return f"{cls}: {text}"


@dataclass(frozen=True)
class Classifier:
    """Rules plus advisory data: all a task needs to classify, computed on the caller's side."""

    rules: tuple[Rule, ...] = DEFAULT_RULES
    index: AdvisoryIndex = field(default_factory=AdvisoryIndex)

    def classify(self, update: PendingUpdate, platform: Platform | None = None) -> PendingUpdate:
        lnk = link(update, platform or Platform((), None), self.index)
        ev = evidence(update, lnk)
        rule = next((r for r in self.rules if r.matches(ev)), None)
        cls = rule.classification if rule is not None else Classification.NONCRITICAL
        advisories = tuple(dict.fromkeys((*update.advisories, *(a.advisory_id for a in lnk.advisories))))
        return replace(
            update,
            classification=cls,
            reason=_reason(rule, cls, ev, update),
            cves=lnk.cves,
            advisories=advisories,
            security=update.security or bool(lnk.advisories),
            severity=update.severity or (ev.severity_word if ev.severity_word else None),
        )

    def classify_all(
        self,
        updates: Iterable[PendingUpdate],
        *,
        os_id: str | None = None,
        os_version: str | None = None,
        id_like: Sequence[str] = (),
    ) -> list[PendingUpdate]:
        platform = platform_for(os_id, os_version, id_like)
        return [self.classify(u, platform) for u in updates]
