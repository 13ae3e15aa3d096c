"""What the Schedule tab shows, read in one go on a pool thread with its own connection (the window
plans look at every host)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.domain.maintenance_windows import MaintenanceWindow, Occurrence, next_windows
from app.domain.rollout import Rollout, SoakCheck
from app.domain.schedule import ScheduleEvent
from app.services import approvals
from app.services.maintenance_windows import WindowPlan, window_plan
from db import maintenance_windows as db_windows
from db import rollouts as db_rollouts
from db import schedule as db_schedule
from db import soak as db_soak

#: how many upcoming openings the calendar lists
UPCOMING = 20


@dataclass(frozen=True)
class Snapshot:
    now: datetime
    windows: list[MaintenanceWindow]
    upcoming: list[Occurrence]
    plans: dict[str, WindowPlan]
    rollouts: list[Rollout]
    events: list[ScheduleEvent]
    #: the newest soak checks of each rollout in a ring, oldest first (app/jobs/soak.py)
    soak: dict[str, list[SoakCheck]] = field(default_factory=dict)


def load_snapshot(db: Any, now: datetime) -> Snapshot:
    approvals.ensure_pending_rollouts(db)  # as `patchdesk approve` does: every pending update has a row
    windows = db_windows.list_windows(db)
    rollouts = db_rollouts.list_rollouts(db)
    return Snapshot(
        now,
        windows,
        next_windows(windows, now, UPCOMING),
        {w.name: window_plan(db, w) for w in windows},
        rollouts,
        db_schedule.schedule_events(db, limit=300),
        db_soak.soak_checks_for(db, [r.key for r in rollouts if r.ring is not None]),
    )
