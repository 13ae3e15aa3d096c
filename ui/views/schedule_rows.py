"""The Schedule tab's tables as rows of :class:`~ui.models.rows_model.Cell`: the headers, the rollout
table's column numbers and one row builder per table (window openings, what an opening will patch,
rollouts, the scheduler's log)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from app.domain.maintenance_windows import Occurrence
from app.domain.rollout import Rollout, RolloutState, SoakCheck, current_checks, soak_state
from app.domain.schedule import ScheduleEvent
from app.services import approvals
from app.services.maintenance_windows import HostInWindow, WindowPlan
from ui.models.rows_model import Cell
from ui.views.advisories_view import CLASS_COLOURS

OCC_HEADERS = ("Opens (window time)", "Closes", "Window", "Groups", "Will patch")
PLAN_HEADERS = ("Host", "Ring", "Urgent", "Important", "Non-critical", "Estimate")
ROLLOUT_HEADERS = ("Update", "Kind", "Class", "State", "Ring", "Approval", "Soak", "Note")
RCOL_KEY, RCOL_KIND, RCOL_CLASS, RCOL_STATE, RCOL_RING, RCOL_APPROVAL, RCOL_SOAK, RCOL_NOTE = range(8)
#: the soak column's colours (text, background) by state; green says nothing loud
SOAK_COLOURS = {
    "red": ("#9b1c14", "#fde2e0"),
    "unknown": ("#6b4e00", "#fff3c4"),
    "amber": ("#9a4d00", None),
    "green": ("#1e6b34", None),
}
EVENT_HEADERS = ("When (UTC)", "Host", "Update", "Action", "Why")


def when(dt: datetime) -> str:
    return dt.strftime("%a %Y-%m-%d %H:%M")


def minutes(d: timedelta) -> str:
    m = d.total_seconds() / 60
    return f"{m / 60:.1f} h" if m >= 120 else f"{m:.0f} min"


def approval_text(r: Rollout) -> str:
    if approvals.needs_approval(r):
        return "needs approval"
    if r.explicit_approval:
        return "approved"
    return ""


def occurrence_cells(o: Occurrence, plan: WindowPlan) -> tuple[Cell, ...]:
    pending = sum(sum(h.pending.values()) for h in plan.hosts)
    will = f"{len(plan.hosts)} host(s), {pending} pending update(s)" if plan.hosts else "nothing pending"
    local = o.local_start()
    return (
        Cell(f"{when(local)} {o.window.tz}", o.start.isoformat(), f"{o.start.isoformat()} UTC"),
        Cell(
            o.end.astimezone(o.window.zone()).strftime("%H:%M") + f" ({minutes(o.end - o.start)})",
            o.end.isoformat(),
        ),
        Cell(
            o.window.name,
            tip=f"{o.window.rrule} in {o.window.tz}\n{o.window.description}".strip(),
        ),
        Cell(", ".join(o.window.groups)),
        Cell(will, len(plan.hosts), plan.summary()),
    )


def plan_cells(h: HostInWindow) -> tuple[Cell, ...]:
    return (
        Cell(h.name),
        Cell(h.ring),
        Cell(
            str(h.pending.get("urgent", 0)),
            h.pending.get("urgent", 0),
            colour=CLASS_COLOURS["urgent"] if h.pending.get("urgent") else None,
        ),
        Cell(str(h.pending.get("important", 0)), h.pending.get("important", 0)),
        Cell(str(h.pending.get("noncritical", 0)), h.pending.get("noncritical", 0)),
        Cell(
            f"~{minutes(h.estimate)}",
            h.estimate.total_seconds(),
            "from the host's own patch history",
        ),
    )


def soak_line(c: SoakCheck) -> str:
    """One soak check as a line of the history: when (local time, as the other views show stored
    times), host, verdict and the first reason."""
    why = f": {c.reasons[0]}" if c.reasons and str(c.verdict) != "green" else ""
    return f"{c.at.astimezone().strftime('%Y-%m-%d %H:%M')} {c.host} {c.verdict}{why}"


def soak_cell(r: Rollout, checks: Sequence[SoakCheck]) -> Cell:
    """The soak health of the rollout's present soak: the state, how many checks, the last ones as tip."""
    if r.ring is None:
        return Cell("—", "")
    these = current_checks(r, checks)
    state = soak_state(r, checks)
    if not these:
        return Cell(
            "not checked yet", state, "No soak check in this ring yet: run-due checks at its interval."
        )
    fg, bg = SOAK_COLOURS.get(state, (None, None))
    tip = "\n".join(soak_line(c) for c in these[-10:])
    return Cell(
        f"{state} ({len(these)} check{'s' if len(these) != 1 else ''})", state, tip, colour=fg, background=bg
    )


def rollout_cells(r: Rollout, now: datetime, checks: Sequence[SoakCheck] = ()) -> tuple[Cell, ...]:
    state = str(r.state)
    if r.state == RolloutState.DEFERRED:
        state += (
            f" until {r.deferred_until.strftime('%Y-%m-%d')}" if r.deferred_until else " (until approved)"
        )
    need = approvals.needs_approval(r)
    blocked = r.blocked(now)
    return (
        Cell(r.key, tip=r.key + (f"\n{blocked}" if blocked else "")),
        Cell(str(r.kind), colour="#9a4d00" if need else None),
        Cell(str(r.classification), colour=CLASS_COLOURS.get(str(r.classification))),
        Cell(state, str(r.state)),
        Cell(str(r.ring or "—"), str(r.ring or "")),
        Cell(
            approval_text(r),
            tip="Firmware and driver updates are never promoted without an explicit approval."
            if need
            else "",
            colour="#9b1c14" if need else None,
            background="#fff0db" if need else None,
        ),
        soak_cell(r, checks),
        Cell(r.note, tip=r.note),
    )


def event_cells(e: ScheduleEvent) -> tuple[Cell, ...]:
    return (
        Cell(e.at[:16].replace("T", " ")),
        Cell(e.host_name or "—"),
        Cell(e.update_key or "—"),
        Cell(e.action + (" (dry run)" if e.dry_run else "")),
        Cell(e.reason, tip=e.reason),
    )
