"""One severity scale for every vendor's words.

Vendors grade with different vocabularies: MSRC and Red Hat say Critical/Important/Moderate/Low, SUSE
the same in lower case, Ubuntu and Debian high/medium/low/negligible (Debian's changelog "urgency" is
emergency/critical/high/medium/low), GitHub/OSV CRITICAL/HIGH/MODERATE/LOW, and some give only a CVSS
score. Rules compare the normalised value; the reason shown to the user keeps the vendor's own word.
"""

from __future__ import annotations

import re

from app.domain.models import StrEnum


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NONE = "none"  # negligible / unimportant: the vendor says it does not matter
    UNKNOWN = "unknown"  # nobody graded it

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {
    Severity.CRITICAL: 5,
    Severity.HIGH: 4,
    Severity.MEDIUM: 3,
    Severity.LOW: 2,
    Severity.NONE: 1,
    Severity.UNKNOWN: 0,
}

_WORDS = {
    # MSRC, Red Hat, SUSE, GitHub/OSV, Debian urgency
    "critical": Severity.CRITICAL,
    "emergency": Severity.CRITICAL,
    "important": Severity.HIGH,
    "high": Severity.HIGH,
    "moderate": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "negligible": Severity.NONE,
    "unimportant": Severity.NONE,
    "none": Severity.NONE,
    "not yet assigned": Severity.UNKNOWN,
    "unknown": Severity.UNKNOWN,
    "unspecified": Severity.UNKNOWN,
    "untriaged": Severity.UNKNOWN,
}

_SCORE = re.compile(r"^\s*(\d{1,2}(?:\.\d+)?)\s*$")


def normalize(raw: str | None) -> Severity:
    """The normalised severity of a vendor word or a CVSS base score; UNKNOWN for anything else."""
    if raw is None:
        return Severity.UNKNOWN
    text = raw.strip().lower()
    if not text:
        return Severity.UNKNOWN
    if text in _WORDS:
        return _WORDS[text]
    m = _SCORE.match(text)
    if m:
        return from_cvss(float(m.group(1)))
    # "High (DSA)", "critical*": a known word at the start still counts
    word = re.split(r"[^a-z ]", text, maxsplit=1)[0].strip()
    return _WORDS.get(word, Severity.UNKNOWN)


def from_cvss(score: float) -> Severity:
    """CVSS v3 qualitative rating of a base score."""
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    if score > 0.0:
        return Severity.LOW
    return Severity.NONE


def highest(values: list[Severity]) -> Severity:
    return max(values, key=lambda s: s.rank, default=Severity.UNKNOWN)
