"""Issue #17: the tiles, the summary and the reports count unknown hosts as their own state; the
percentage is over hosts with a known state; 0 hosts is not "100 % compliant"."""

from __future__ import annotations

from datetime import UTC, datetime

from app.domain.compliance import ComplianceState, Tile, host_compliance
from db import compliance as db_compliance
from db import hosts as db_hosts
from db import jobs as db_jobs
from db import tiles as db_tiles
from tests.support.mixed_fleet import populate_mixed


def test_no_hosts_is_not_compliant(db) -> None:  # type: ignore[no-untyped-def]
    s = db_compliance.summary(db)
    assert s[Tile.HOSTS] == 0
    assert s.known_percent is None  # no percentage at all, not 100 %
    assert s.compliance_percent is None
    data = s.as_json()
    assert data["compliance_percent"] is None and data["compliance_percent_of_known"] is None
    assert data["compliance"] == {"compliant": 0, "non_compliant": 0, "unknown": 0}


def test_unknown_hosts_are_their_own_count(db) -> None:  # type: ignore[no-untyped-def]
    populate_mixed(db)
    s = db_compliance.summary(db)
    assert s[Tile.HOSTS] == 8
    # never scanned, scan failed, unreachable, stale
    assert s[Tile.UNKNOWN] == 4
    assert s[Tile.UP_TO_DATE] == 2  # compliant, patchfail (its scan saw nothing pending)
    assert s[Tile.NON_COMPLIANT] == 2
    assert s[Tile.UP_TO_DATE] + s[Tile.NON_COMPLIANT] + s[Tile.UNKNOWN] == s[Tile.HOSTS]
    assert s.known == 4
    assert s.known_percent == 50.0  # over hosts with a known state
    assert s.compliance_percent == 25.0  # the old key keeps its meaning: over every host
    data = s.as_json()
    assert data["hosts"]["unknown"] == 4 and data["hosts"]["up_to_date"] == 2
    assert data["compliance"] == {"compliant": 2, "non_compliant": 2, "unknown": 4}
    assert data["compliance_percent_of_known"] == 50.0 and data["known_hosts"] == 4


def test_sql_and_domain_rule_agree(db) -> None:  # type: ignore[no-untyped-def]
    populate_mixed(db)
    days = db_tiles.stale_days(db)
    by_rule = {h.name: host_compliance(h, stale_days=days) for h in db_hosts.list_hosts(db)}
    ids = {t: set(db_compliance.host_ids(db, t)) for t in (Tile.UP_TO_DATE, Tile.NON_COMPLIANT, Tile.UNKNOWN)}
    names = {h.id: h.name for h in db_hosts.list_hosts(db)}
    tile_of = {ComplianceState.COMPLIANT: Tile.UP_TO_DATE, ComplianceState.NON_COMPLIANT: Tile.NON_COMPLIANT}
    for name, state in by_rule.items():
        tile = tile_of.get(state, Tile.UNKNOWN)
        assert name in {names[i] for i in ids[tile]}, (name, state)
    rows = {r.name: r for r in db_compliance.host_rows(db)}
    assert {n: r.compliance for n, r in rows.items()} == {n: str(s) for n, s in by_rule.items()}


def test_an_incomplete_scan_is_unknown_never_up_to_date(db) -> None:  # type: ignore[no-untyped-def]
    """A scan that could not see it all (an empty or stale index it could not refresh) leaves the host
    unknown, in the SQL tiles and in the domain rule alike, even with nothing pending."""
    from app.domain.models import Host, OsFacts, ScanResult
    from db import scans as db_scans

    seen = db_hosts.add_host(db, Host(name="seen.invalid", address="127.0.32.20"))
    blind = db_hosts.add_host(db, Host(name="blind.invalid", address="127.0.32.21"))
    facts = OsFacts(id="debian")
    db_scans.record_scan(db, seen.id, None, ScanResult(facts, ("apt",), (), complete=True))
    note = "The package index is empty: nothing can be said about pending updates."
    db_scans.record_scan(db, blind.id, None, ScanResult(facts, ("apt",), (), complete=False, notes=(note,)))
    assert set(db_compliance.host_ids(db, Tile.UP_TO_DATE)) == {seen.id}
    assert set(db_compliance.host_ids(db, Tile.UNKNOWN)) == {blind.id}
    stored = {h.name: h for h in db_hosts.list_hosts(db)}
    assert host_compliance(stored["blind.invalid"]) == ComplianceState.UNKNOWN
    assert host_compliance(stored["seen.invalid"]) == ComplianceState.COMPLIANT
    assert db_compliance.summary(db).as_json()["hosts"]["up_to_date"] == 1


def test_failed_scan_never_counts_as_up_to_date(db) -> None:  # type: ignore[no-untyped-def]
    hosts = populate_mixed(db)
    up = set(db_compliance.host_ids(db, Tile.UP_TO_DATE))
    for name in ("never.invalid", "scanfail.invalid", "unreach.invalid", "stale.invalid"):
        assert hosts[name].id not in up


def test_last_job_per_host(db) -> None:  # type: ignore[no-untyped-def]
    hosts = populate_mixed(db)
    last = db_jobs.last_jobs(db)
    assert hosts["never.invalid"].id not in last
    assert (last[hosts["compliant.invalid"].id].kind, last[hosts["compliant.invalid"].id].state) == (
        "scan",
        "succeeded",
    )
    pf = last[hosts["patchfail.invalid"].id]
    assert (pf.kind, pf.state, pf.failed) == ("patch", "failed", True)
    rb = last[hosts["rolledback.invalid"].id]
    assert (rb.kind, rb.state, rb.failed) == ("rollback", "succeeded", False)
    assert rb.as_json() == {"job_id": rb.job_id, "kind": "rollback", "state": "succeeded", "verdict": None}
    # the same hosts as the "Failed last job" tile
    assert {h for h, j in last.items() if j.failed} == set(db_compliance.host_ids(db, Tile.FAILED))
    # limited to some hosts
    only = db_jobs.last_jobs(db, [hosts["patchfail.invalid"].id])
    assert list(only) == [hosts["patchfail.invalid"].id]


def test_report_rows_carry_compliance_and_last_job(db) -> None:  # type: ignore[no-untyped-def]
    populate_mixed(db, now=datetime.now(UTC))
    rows = {r.name: r.as_json() for r in db_compliance.host_rows(db)}
    assert rows["never.invalid"]["compliance"] == "unknown" and rows["never.invalid"]["last_job"] is None
    assert rows["pending.invalid"]["compliance"] == "non_compliant"
    assert rows["compliant.invalid"]["compliance"] == "compliant"
    assert rows["patchfail.invalid"]["last_job"]["kind"] == "patch"
    assert rows["patchfail.invalid"]["last_job"]["state"] == "failed"
    assert rows["patchfail.invalid"]["failed_last_job"] is True
