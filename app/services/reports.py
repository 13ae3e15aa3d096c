"""A compliance report's content, gathered once and rendered to any format."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from app.domain.compliance import ComplianceFilter, DailyPoint, GroupPending, HostRow, Summary, Tile
from app.domain.hardware import Hardware
from db import compliance as db_compliance
from db import compliance_history as db_compliance_history
from db import hardware as db_hardware
from db import hosts as db_hosts
from db import tiles as db_tiles
from db.connection import Database


@dataclass(frozen=True)
class Report:
    """Everything a report shows. ``hosts`` is empty for a past date (per-host state is only kept
    for the present; the daily snapshots keep the totals)."""

    scope: ComplianceFilter
    as_of: str  # YYYY-MM-DD
    generated_at: str
    live: bool  # True: the current state; False: a past day's snapshot
    summary: Summary
    history: tuple[DailyPoint, ...]
    by_group: tuple[GroupPending, ...]
    hosts: tuple[HostRow, ...]
    note: str = ""
    #: the hardware inventory of the report's hosts, by host name (hosts never read are absent)
    hardware: Mapping[str, Hardware] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"Patch compliance — {self.scope.describe()} — {self.as_of}"

    def as_json(self) -> dict[str, object]:
        return {
            "title": self.title,
            "scope": {
                "group": self.scope.group,
                "ring": self.scope.ring,
                "os_family": self.scope.os_family,
                "criticality": self.scope.criticality,
            },
            "as_of": self.as_of,
            "generated_at": self.generated_at,
            "live": self.live,
            "note": self.note,
            "summary": self.summary.as_json(),
            "by_group": [
                {
                    "group": g.group,
                    "hosts": g.hosts,
                    "urgent": g.urgent,
                    "important": g.important,
                    "noncritical": g.noncritical,
                }
                for g in self.by_group
            ],
            "history": [
                {
                    "day": p.day,
                    "hosts": p.hosts,
                    "up_to_date": p.up_to_date,
                    "compliance_percent": _rounded(p.compliance_percent),
                    "non_compliant": p.non_compliant,
                    "unknown": p.unknown,
                    "compliance_percent_of_known": _rounded(p.known_percent),
                    "urgent": p.urgent,
                    "important": p.important,
                    "noncritical": p.noncritical,
                }
                for p in self.history
            ],
            "hosts": [
                {**h.as_json(), "hardware": hw.as_json() if (hw := self.hardware.get(h.name)) else None}
                for h in self.hosts
            ],
        }


def _hardware_by_name(db: Database, names: set[str]) -> dict[str, Hardware]:
    by_id = db_hardware.all_hardware(db)
    return {h.name: by_id[h.id] for h in db_hosts.list_hosts(db) if h.name in names and h.id in by_id}


def _rounded(pct: float | None) -> float | None:
    return None if pct is None else round(pct, 1)


def build_report(
    db: Database, scope: ComplianceFilter | None = None, as_of: date | None = None, *, history_days: int = 90
) -> Report:
    """The report for ``scope`` on ``as_of`` (today: the live state; a past day: its snapshot)."""
    scope = scope or ComplianceFilter()
    now = datetime.now(UTC)
    today = now.date()
    day = as_of or today
    generated = now.isoformat(timespec="seconds")
    if day > today:
        raise ValueError(f"{day.isoformat()} is in the future")
    if day == today:
        return Report(
            scope=scope,
            as_of=day.isoformat(),
            generated_at=generated,
            live=True,
            summary=db_compliance.summary(db, scope),
            history=tuple(db_compliance_history.history(db, scope, days=history_days)),
            by_group=tuple(db_compliance.pending_by_group(db, scope)),
            hosts=(rows := tuple(db_compliance.host_rows(db, scope))),
            hardware=_hardware_by_name(db, {r.name for r in rows}),
        )
    points = [
        p
        for p in db_compliance_history.history(db, scope, days=(today - day).days + history_days)
        if p.day <= day.isoformat()
    ]
    snap = points[-1] if points and points[-1].day == day.isoformat() else None
    if snap is None:
        raise ValueError(
            f"No compliance snapshot was recorded on {day.isoformat()} (snapshots are taken after each "
            "scan or patch job and when the console starts)."
        )
    # snapshots from before migration m007 lack the unknown / non-compliant split: daily_counts leaves
    # those keys absent (not 0) then
    counts: dict[Tile, int] = {t: 0 for t in Tile if t not in (Tile.UNKNOWN, Tile.NON_COMPLIANT)}
    counts.update(
        {
            Tile.HOSTS: snap.hosts,
            Tile.UP_TO_DATE: snap.up_to_date,
            Tile.URGENT: snap.with_urgent,
            Tile.IMPORTANT: snap.with_important,
        }
    )
    counts.update(db_compliance_history.daily_counts(db, scope, day.isoformat()))
    return Report(
        scope=scope,
        as_of=day.isoformat(),
        generated_at=generated,
        live=False,
        summary=Summary(counts, snap.urgent, snap.important, snap.noncritical, db_tiles.stale_days(db)),
        history=tuple(points[-history_days:]),
        by_group=tuple(db_compliance_history.daily_by_group(db, scope, day.isoformat())),
        hosts=(),
        note="Per-host detail is kept only for the current state; totals come from the day's snapshot.",
    )


def set_stale_days(db: Database, days: int) -> bool:
    """After how many days without a scan a host counts as stale; False when nothing changed."""
    from app.services import audit

    if days == db_tiles.stale_days(db):
        return False
    db_tiles.set_stale_days(db, days)
    audit.record(db, audit.SETTINGS_CHANGED, "compliance.stale_days", {"value": days})
    return True
