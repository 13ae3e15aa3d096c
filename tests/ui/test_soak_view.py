"""The Schedule tab shows each rollout's soak health over time (issue #20 item 5): a Soak column with
the present soak's state and number of checks, the held ones among those waiting for a decision, and
the selected update's checks listed under the table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain.models import Ring
from app.domain.rollout import RolloutState, SoakCheck, SoakVerdict
from db import rollouts as db_rollouts
from db import soak as db_soak
from tests.support.policy_data import REGULAR, SECFIX, add_scanned
from tests.ui.test_policy_views import _column, _row, _window
from ui.views import schedule_view as sv
from ui.views.schedule_rows import RCOL_SOAK

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def _soaking(db, key: str, verdicts: list[str]) -> None:  # type: ignore[no-untyped-def]
    db_rollouts.set_rollout(db, key, state=RolloutState.TESTING, ring=Ring.TEST, ring_since=T0)
    db_soak.add_soak_checks(
        db,
        [
            (
                SoakCheck(
                    key,
                    "t1",
                    Ring.TEST,
                    T0 + timedelta(minutes=15 * (i + 1)),
                    SoakVerdict(v),
                    ("service nginx is failed",) if v == "red" else (),
                ),
                None,
            )
            for i, v in enumerate(verdicts)
        ],
    )


def test_schedule_tab_shows_soak_health_and_history(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    add_scanned(db, "t1", Ring.TEST, (REGULAR, SECFIX))
    from app.services import approvals

    approvals.ensure_pending_rollouts(db)
    keys = sorted(r.key for r in db_rollouts.list_rollouts(db))
    red_key, green_key = keys
    _soaking(db, red_key, ["green", "red", "green"])
    _soaking(db, green_key, ["green", "amber"])
    w = _window(qtbot, db)
    view = w.schedule_view
    with qtbot.waitSignal(view.loaded, timeout=10000):
        w.tabs.setCurrentWidget(view)
    # waiting for a decision: the update a red soak check holds, not the one soaking fine
    assert _column(view.rollout_proxy, sv.RCOL_KEY) == [red_key]
    assert "1 update(s) held by a soak check that was red or could not see" in view.rollouts_hint.text()
    assert _row(view.rollout_proxy, sv.RCOL_KEY, red_key)["Soak"] == "red (3 checks)"
    view.waiting_check.setChecked(False)
    assert _row(view.rollout_proxy, sv.RCOL_KEY, green_key)["Soak"] == "amber (2 checks)"
    tip = view.rollout_proxy.index(0, RCOL_SOAK).data(0x03)  # ToolTipRole: the checks themselves
    assert tip is not None and "t1" in tip

    panel = view.rollouts_panel
    assert not panel.soak_list.isVisible()
    assert view.select_rollout(red_key)
    assert panel.soak_list.isVisible()
    lines = [panel.soak_list.item(i).text() for i in range(panel.soak_list.count())]
    assert len(lines) == 3
    assert lines[1].endswith("t1 red: service nginx is failed")  # newest first
    assert "(red), newest first" in panel.soak_title.text()
