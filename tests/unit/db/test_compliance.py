"""db/compliance.py, compliance_history.py and updates.py against independent counts on a few hundred
hosts with history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.compliance import ComplianceFilter, Tile
from db import compliance as db_compliance
from db import compliance_history as db_compliance_history
from db import hosts as db_hosts
from db import tiles as db_tiles
from db import updates as db_updates
from tests.support.fleet import populate


@pytest.fixture
def fleet_db(db):  # type: ignore[no-untyped-def]
    populate(db, hosts=240, days=20)
    return db


def _independent(db, f: ComplianceFilter | None = None) -> dict[Tile, int]:  # type: ignore[no-untyped-def]
    """The tile numbers computed in Python from list_hosts plus plain SQL for the last job step."""
    cutoff = datetime.now(UTC) - timedelta(days=db_tiles.stale_days(db))
    hosts = db_hosts.list_hosts(db)
    if f is not None and f.group is not None:
        hosts = [h for h in hosts if (h.group or "") == f.group]
    if f is not None and f.ring:
        hosts = [h for h in hosts if str(h.ring) == f.ring]
    if f is not None and f.criticality:
        hosts = [h for h in hosts if str(h.criticality) == f.criticality]
    failed = set()
    for h in hosts:
        row = db.execute(
            "SELECT state, verdict FROM job_hosts WHERE host_id = ? AND state NOT IN ('queued', 'running') "
            "ORDER BY job_id DESC LIMIT 1",
            [h.id],
        ).fetchone()
        if row and (row[0] in ("failed", "interrupted") or row[1] == "red"):
            failed.add(h.id)

    def recent(h) -> bool:  # type: ignore[no-untyped-def]
        return h.last_scan_at is not None and h.last_scan_at >= cutoff

    return {
        Tile.HOSTS: len(hosts),
        Tile.UP_TO_DATE: sum(
            1 for h in hosts if str(h.last_status) == "ok" and h.pending_total == 0 and recent(h)
        ),
        Tile.NON_COMPLIANT: sum(
            1 for h in hosts if str(h.last_status) == "ok" and h.pending_total > 0 and recent(h)
        ),
        Tile.UNKNOWN: sum(1 for h in hosts if str(h.last_status) != "ok" or not recent(h)),
        Tile.URGENT: sum(1 for h in hosts if h.pending_urgent),
        Tile.IMPORTANT: sum(1 for h in hosts if h.pending_important),
        Tile.NONCRITICAL: sum(1 for h in hosts if h.pending_noncritical),
        Tile.FAILED: len(failed),
        Tile.UNREACHABLE: sum(1 for h in hosts if str(h.last_status) == "unreachable"),
        Tile.STALE: sum(1 for h in hosts if not recent(h)),
        Tile.NEVER: sum(1 for h in hosts if str(h.last_status) == "never"),
        Tile.REBOOT: sum(1 for h in hosts if h.reboot_required),
    }


def test_tiles_equal_independent_counts(fleet_db) -> None:  # type: ignore[no-untyped-def]
    s = db_compliance.summary(fleet_db)
    expected = _independent(fleet_db)
    assert s.counts == expected
    # every tile means something in this data set
    assert all(expected[t] > 0 for t in Tile), expected
    raw = fleet_db.execute(
        "SELECT classification, count(*) FROM pending_updates GROUP BY classification"
    ).fetchall()
    by_class = dict(raw)
    assert (s.urgent_updates, s.important_updates, s.noncritical_updates) == (
        by_class["urgent"],
        by_class["important"],
        by_class["noncritical"],
    )


@pytest.mark.parametrize(
    "f",
    [
        ComplianceFilter(group="web"),
        ComplianceFilter(group=""),
        ComplianceFilter(ring="test"),
        ComplianceFilter(criticality="mission-critical", group="dmz"),
    ],
)
def test_filtered_tiles_and_host_lists_agree(fleet_db, f: ComplianceFilter) -> None:  # type: ignore[no-untyped-def]
    s = db_compliance.summary(fleet_db, f)
    assert s.counts == _independent(fleet_db, f)
    for t in Tile:
        assert len(db_compliance.host_ids(fleet_db, t, f)) == s[t]


def test_os_family_filter(fleet_db) -> None:  # type: ignore[no-untyped-def]
    windows = db_compliance.summary(fleet_db, ComplianceFilter(os_family="windows"))
    count = fleet_db.execute("SELECT count(*) FROM hosts WHERE os_id = 'windows'").fetchone()[0]
    assert windows[Tile.HOSTS] == count > 0
    unknown = db_compliance.summary(fleet_db, ComplianceFilter(os_family="unknown"))
    assert unknown[Tile.HOSTS] == unknown[Tile.NEVER] == 5


def test_history_daily_snapshots(fleet_db) -> None:  # type: ignore[no-untyped-def]
    points = db_compliance_history.history(fleet_db)
    assert len(points) == 21  # 20 days back plus today
    assert points[-1].day == datetime.now(UTC).date().isoformat()
    assert points[0].with_urgent > points[-1].with_urgent  # the admin patched over time
    assert points[-1].hosts == 240
    # re-recording today replaces, never duplicates
    db_compliance_history.record_daily(fleet_db)
    assert len(db_compliance_history.history(fleet_db)) == 21
    web = db_compliance_history.history(fleet_db, ComplianceFilter(group="web"))
    assert web[-1].hosts == db_compliance.summary(fleet_db, ComplianceFilter(group="web"))[Tile.HOSTS]


def test_pending_by_group_sums_to_totals(fleet_db) -> None:  # type: ignore[no-untyped-def]
    s = db_compliance.summary(fleet_db)
    groups = db_compliance.pending_by_group(fleet_db)
    assert sum(g.urgent for g in groups) == s.urgent_updates
    assert sum(g.hosts for g in groups) == s[Tile.HOSTS]


def test_oldest_urgent_and_kev_due(fleet_db) -> None:  # type: ignore[no-untyped-def]
    o = db_compliance.oldest_urgent(fleet_db)
    assert o is not None
    still = fleet_db.execute(
        "SELECT count(*) FROM pending_updates WHERE host_id = ? AND name = ? AND classification = 'urgent'",
        [o.host_id, o.name],
    ).fetchone()[0]
    assert still == 1
    older = fleet_db.execute(
        "SELECT count(*) FROM urgent_seen u WHERE first_seen < ? AND EXISTS (SELECT 1 FROM pending_updates p "
        "WHERE p.host_id = u.host_id AND p.name = u.name AND p.classification = 'urgent')",
        [o.first_seen],
    ).fetchone()[0]
    assert older == 0
    assert db_compliance.kev_available(fleet_db)
    due = db_compliance.kev_due(fleet_db)
    assert [k.cve for k in due] == ["CVE-2099-0001", "CVE-2099-0002"]  # the 60-day one is not close
    hosts_with_openssl = fleet_db.execute(
        "SELECT count(DISTINCT host_id) FROM pending_updates WHERE name = 'openssl'"
    ).fetchone()[0]
    assert due[0].hosts == hosts_with_openssl


def test_kev_degrades_without_advisory_tables(db) -> None:  # type: ignore[no-untyped-def]
    assert db_compliance.kev_available(db) is False  # empty catalog
    db.execute("DROP TABLE kev")
    assert db_compliance.kev_available(db) is False
    assert db_compliance.kev_due(db) == []
    assert db_compliance.dashboard(db).kev_due == ()


def test_update_status_need_have_failed(fleet_db) -> None:  # type: ignore[no-untyped-def]
    st = db_updates.update_status(fleet_db, "openssl")
    need = fleet_db.execute("SELECT count(*) FROM pending_updates WHERE name = 'openssl'").fetchone()[0]
    assert len(st.need) == need
    assert len(st.have) == 17  # the fleet's patch job changed openssl on 17 hosts
    assert {u.detail for u in st.failed} == {"dpkg failed", "verification red"}
    assert len(st.failed) == 4
    by_cve = db_updates.update_status(fleet_db, "cve-2099-0001")
    assert {u.host for u in by_cve.need} == {u.host for u in st.need}


def test_urgent_seen_follows_scans(fleet_db) -> None:  # type: ignore[no-untyped-def]
    fleet_db.execute("DELETE FROM pending_updates WHERE classification = 'urgent'")
    fleet_db.execute("UPDATE hosts SET pending_urgent = 0")
    db_compliance_history.record_urgent_seen(fleet_db)
    assert fleet_db.execute("SELECT count(*) FROM urgent_seen").fetchone()[0] == 0
    assert db_compliance.oldest_urgent(fleet_db) is None


def test_daily_snapshot_records_unknown_and_non_compliant(fleet_db) -> None:  # type: ignore[no-untyped-def]
    """The trend kept only "up to date": a day's unknown hosts were folded into "not up to date"."""
    db_compliance_history.record_daily(fleet_db)
    today = db_compliance_history.history(fleet_db)[-1]
    live = db_compliance.summary(fleet_db)
    assert live[Tile.UNKNOWN] > 0
    assert today.unknown == live[Tile.UNKNOWN] and today.non_compliant == live[Tile.NON_COMPLIANT]
    assert today.up_to_date + today.non_compliant + today.unknown == today.hosts
    known = today.hosts - today.unknown
    assert today.known_percent == pytest.approx(100.0 * today.up_to_date / known)
    web = db_compliance_history.history(fleet_db, ComplianceFilter(group="web"))[-1]
    assert web.unknown == db_compliance.summary(fleet_db, ComplianceFilter(group="web"))[Tile.UNKNOWN]


def test_snapshots_from_before_the_split_say_not_recorded(fleet_db) -> None:  # type: ignore[no-untyped-def]
    fleet_db.execute("UPDATE compliance_daily SET unknown = NULL, non_compliant = NULL")
    point = db_compliance_history.history(fleet_db)[-1]
    assert point.unknown is None and point.non_compliant is None and point.known_percent is None
    counts = db_compliance_history.daily_counts(fleet_db, ComplianceFilter(), point.day)
    assert Tile.UNKNOWN not in counts and Tile.NON_COMPLIANT not in counts


def test_a_day_without_hosts_is_not_100_percent() -> None:
    from app.domain.compliance import DailyPoint

    empty = DailyPoint("2026-01-01", 0, 0, 0, 0, 0, 0, 0, non_compliant=0, unknown=0)
    assert empty.compliance_percent is None and empty.known_percent is None
