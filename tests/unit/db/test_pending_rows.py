"""A host's pending updates read for the host detail (db.updates.pending_rows) are the same list as
db.scans.pending_for_host's, each row built only when it is used (#25)."""

from __future__ import annotations

from app.domain.models import Classification, Host, OsFacts, PendingUpdate, ScanResult
from db import hosts as db_hosts
from db import scans as db_scans
from db import updates as db_updates

_CLASSES = (Classification.NONCRITICAL, Classification.URGENT, Classification.IMPORTANT)


def _host_with_mixed_updates(db, n: int, prefix: str = "pkg") -> int:  # type: ignore[no-untyped-def]
    """A host whose last scan found ``n`` updates, the classifications taking turns."""
    h = db_hosts.add_host(db, Host(name="h1.invalid", address="127.0.0.1"))
    assert h.id is not None
    stored = tuple(
        PendingUpdate("apt", f"{prefix}{i:03d}", "2", "1", classification=_CLASSES[i % 3]) for i in range(n)
    )
    db_scans.record_scan(db, h.id, None, ScanResult(OsFacts(id="debian"), ("apt",), stored))
    return h.id


def test_pending_rows_read_the_same_updates_built_as_used(db) -> None:  # type: ignore[no-untyped-def]
    h = db_hosts.add_host(db, Host(name="h1.invalid", address="127.0.0.1"))
    assert h.id is not None
    classes = (Classification.NONCRITICAL, Classification.URGENT, Classification.IMPORTANT)
    stored = tuple(
        PendingUpdate("apt", f"pkg{i:03d}", "2", "1", classification=classes[i % 3], cves=(f"CVE-{i}",))
        for i in range(300)
    )
    db_scans.record_scan(db, h.id, None, ScanResult(OsFacts(id="debian"), ("apt",), stored))
    rows = db_updates.pending_rows(db, h.id)
    assert len(rows) == 300 and rows.built() == 0
    assert rows[0] == db_scans.pending_for_host(db, h.id)[0] and rows.built() == 1
    assert rows[-1].name == "pkg297" and rows[:3] == db_scans.pending_for_host(db, h.id)[:3]
    assert rows.built() == 4
    assert list(rows) == db_scans.pending_for_host(db, h.id)  # most urgent first, then by name
    assert rows[5] is rows[5]  # built once
    # what a table shows, without building the rest
    fresh = db_updates.pending_rows(db, h.id)
    for i in (0, 150, 299):
        shown, u = fresh.shown(i), rows[i]
        assert (shown.name, shown.installed, shown.available, shown.arch, shown.source) == (
            u.name, u.installed, u.available, u.arch, u.source
        )  # fmt: skip
        assert (shown.manager, shown.severity, shown.reason) == (u.manager, u.severity, u.reason)
        assert shown.classification == str(u.classification)
    assert fresh.built() == 0 and fresh.shown(3) is not fresh[3] and fresh.shown(3) is fresh[3]


def test_a_pending_reader_reads_one_list_in_slices_though_a_scan_replaces_it_meanwhile(db, db_path) -> None:  # type: ignore[no-untyped-def]
    """The host detail reads a host's first page on a click and the rest between the window's events
    (#25): the slices and the count are one reading, whatever was written in between."""
    from db.database import open_database

    h = db_hosts.add_host(db, Host(name="h1.invalid", address="127.0.0.1"))
    assert h.id is not None
    first = tuple(PendingUpdate("apt", f"pkg{i:03d}", "2", "1") for i in range(300))
    db_scans.record_scan(db, h.id, None, ScanResult(OsFacts(id="debian"), ("apt",), first))
    expected = db_scans.pending_for_host(db, h.id)
    own = open_database(db_path, migrate=False)
    try:
        reader = db_updates.PendingReader(own, h.id)
        assert reader.read(100) == 100
        assert (len(reader.rows), reader.rows.total, reader.rows.complete) == (100, 300, False)
        # a newer scan finds 10 other updates while the rest is still to be read
        newer = tuple(PendingUpdate("apt", f"new{i}", "2", "1") for i in range(10))
        db_scans.record_scan(db, h.id, None, ScanResult(OsFacts(id="debian"), ("apt",), newer))
        while not reader.done:
            reader.read(64)
        assert list(reader.rows) == expected and reader.rows.complete  # the reading begun, whole
        again = db_updates.PendingReader(own, h.id)
        again.read(200)
        assert again.done and [u.name for u in again.rows] == [f"new{i}" for i in range(10)]
        empty = db_hosts.add_host(db, Host(name="h2.invalid", address="127.0.0.2"))
        assert empty.id is not None
        none = db_updates.PendingReader(own, empty.id)
        assert none.read(200) == 0 and none.done and none.rows.complete and none.rows.total == 0
    finally:
        own.conn.close()


def test_a_pending_reader_orders_only_the_first_page_before_a_click_shows_it(db, db_path) -> None:  # type: ignore[no-untyped-def]
    """The first page came from one statement over the whole list: SQLite sorted every row of the
    host, whole, before the first came back (5-9 ms of a click on the 4,000-update host, #25). Now
    the first page is a statement with a LIMIT, the rest a second one read later in the same
    reading, which the reader releases when it is done or closed."""
    from db.database import open_database

    host_id = _host_with_mixed_updates(db, 500)
    expected = db_scans.pending_for_host(db, host_id)
    own = open_database(db_path, migrate=False)
    statements: list[str] = []
    own.conn.set_trace_callback(statements.append)
    try:
        reader = db_updates.PendingReader(own, host_id)
        assert reader.read(200) == 200
        reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        assert len(reads) == 1 and "LIMIT 200" in reads[0]
        assert list(reader.rows) == expected[:200] and reader.rows.total == 500
        while not reader.done:
            reader.read(128)
        assert list(reader.rows) == expected and reader.rows.complete
        assert not own.conn.in_transaction  # done: the reading is released
        # closed half-way (another host clicked): released at once
        half = db_updates.PendingReader(own, host_id)
        half.read(100)
        half.read(100)
        assert own.conn.in_transaction
        half.close()
        assert not own.conn.in_transaction and half.done and half.read(100) == 0
    finally:
        own.conn.close()


def _plans(db, run) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """Each statement ``run`` executes on ``db``, with its query plan's steps."""
    seen: list[str] = []
    db.conn.set_trace_callback(seen.append)
    try:
        run()
    finally:
        db.conn.set_trace_callback(None)
    reads = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    return {s: [step[3] for step in db.conn.execute("EXPLAIN QUERY PLAN " + s)] for s in reads}


def test_a_hosts_list_is_read_down_its_index_not_sorted(db, db_path) -> None:  # type: ignore[no-untyped-def]
    """The host detail's first page sorted all of the host's rows to find its 200 (2.1 ms of a click on
    the 4,000-update host, #25): pending_host_order (m016) holds them in the list's order, so the
    first page, the rest and pending_for_host walk it; only the first page's own rows are sorted."""
    from db.database import open_database

    host_id = _host_with_mixed_updates(db, 90, "p")
    own = open_database(db_path, migrate=False)
    try:
        reader = db_updates.PendingReader(own, host_id)

        def read_in_two() -> None:
            reader.read(30)
            reader.read(100)

        plans = _plans(own, read_in_two)
        assert reader.done and list(reader.rows) == db_scans.pending_for_host(db, host_id)
    finally:
        own.conn.close()
    plans |= _plans(db, lambda: db_scans.pending_for_host(db, host_id))
    assert len(plans) == 3, list(plans)
    for sql, steps in plans.items():
        assert any("USING INDEX pending_host_order (host_id=?)" in s for s in steps), (sql, steps)
        sorts = [s for s in steps if "TEMP B-TREE FOR ORDER BY" in s]
        assert len(sorts) == (1 if "LIMIT 30)" in sql else 0), (sql, steps)  # the page's own 30


def test_a_database_from_before_the_list_index_upgrades_to_it(db_path) -> None:  # type: ignore[no-untyped-def]
    from db.database import open_database, schema_version
    from db.schema import SCHEMA_VERSION
    from tests.support.migrations import database_without

    old = database_without(db_path, "m016_host_list_order")
    h = db_hosts.add_host(old, Host(name="h1.invalid", address="127.0.0.1"))
    assert h.id is not None
    stored = (PendingUpdate("apt", "zlib", "2", "1", classification=Classification.URGENT),)
    stored += (PendingUpdate("apt", "bash", "2", "1"), PendingUpdate("apt", "curl", "2", "1"))
    db_scans.record_scan(old, h.id, None, ScanResult(OsFacts(id="debian"), ("apt",), stored))
    old.conn.close()

    db = open_database(db_path)
    try:
        assert schema_version(db) == SCHEMA_VERSION
        sql = "SELECT name FROM sqlite_master WHERE tbl_name = 'pending_updates'"
        indexes = {r[0] for r in db.execute(sql)}
        assert "pending_host_order" in indexes and "pending_host" not in indexes
        assert [u.name for u in db_scans.pending_for_host(db, h.id)] == ["zlib", "bash", "curl"]
    finally:
        db.conn.close()
