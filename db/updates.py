"""Pending updates seen per update rather than per host: the drill-down list, and who needs, has
and failed one update."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, overload

from app.domain.compliance import (
    ComplianceFilter,
    UpdateHost,
    UpdateStatus,
    UpdateSummary,
)
from app.domain.models import PendingUpdate
from db.connection import Database
from db.scans import _CLASS_ORDER, _UPDATE_COLUMNS, _row_to_update
from db.tiles import filter_sql


class ShownUpdate:
    """What a table shows of a pending update, read from its row as stored (the columns of
    db.scans._row_to_update, in its order): the classification as its text."""

    __slots__ = (
        "arch", "available", "classification", "installed", "manager", "name", "reason", "severity", "source",
    )  # fmt: skip

    def __init__(self, row: Sequence[Any]) -> None:
        (
            self.manager, self.name, self.available, self.installed, self.arch, self.source, _security,
            _kind, self.severity, _cves, _advisories, _reboot, self.classification, self.reason, _held,
            _held_reason,
        ) = row  # fmt: skip


class PendingRows(Sequence[PendingUpdate]):
    """A host's pending updates as read, most urgent first, each made a PendingUpdate when first asked
    for: the host detail shows a screenful and measures its columns on 200 rows, and building all
    4,000 of the biggest host's was a third of a click on it (#25). The rows are read at once, so
    the list is one consistent reading of the database, like db.scans.pending_for_host's.

    Or read in slices by a ``PendingReader`` (one read transaction, so still one reading): ``total`` is how
    many the host has, ``complete`` whether they are all here yet."""

    __slots__ = ("_made", "_rows", "total")

    def __init__(self, rows: list[Sequence[Any]], total: int | None = None) -> None:
        self._rows = rows
        self._made: list[PendingUpdate | None] = [None] * len(rows)
        self.total = len(rows) if total is None else total

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, i: int) -> PendingUpdate: ...

    @overload
    def __getitem__(self, i: slice) -> list[PendingUpdate]: ...

    def __getitem__(self, i: int | slice) -> PendingUpdate | list[PendingUpdate]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self._rows)))]
        u = self._made[i]
        if u is None:
            u = self._made[i] = _row_to_update(self._rows[i])
        return u

    @property
    def complete(self) -> bool:
        """Whether every pending update of the host is here (not only the slices read so far)."""
        return len(self._rows) >= self.total

    def shown(self, i: int) -> PendingUpdate | ShownUpdate:
        """Row ``i`` for a table to show: its PendingUpdate when built already, else its shown fields
        alone (making a PendingUpdate decodes its CVE and advisory lists, a third of what the host
        detail's first 200 rows cost on a click, #25)."""
        return self._made[i] or ShownUpdate(self._rows[i])

    def built(self) -> int:
        """How many rows have been made PendingUpdates so far (tests)."""
        return sum(u is not None for u in self._made)


#: A host's list's order: most urgent first, then by name (the id makes it a total order).
_HOST_ORDER = f"{_CLASS_ORDER}, name, id"


def pending_rows(db: Database, host_id: int) -> PendingRows:
    """db.scans.pending_for_host's list, its rows made PendingUpdates as they are used."""
    sql = f"SELECT {_UPDATE_COLUMNS} FROM pending_updates WHERE host_id = ? ORDER BY {_HOST_ORDER}"
    return PendingRows(db.execute(sql, [host_id]).fetchall())


class PendingReader:
    """``pending_rows``'s list read in slices: the host detail reads the first screenful on a click
    and the rest between the window's events, rather than all 4,000 of the biggest host's rows at
    once (14-30 ms of the click, #25). The first page is its own statement with a LIMIT, so SQLite
    sorts only its keys and keeps the first rows, rather than every row whole: ordering all 4,000
    of the biggest host's full rows before the first came back was 5-9 ms of a click on it (#25).
    The rest is a second statement, read from where the first page ended. Both, and the host's count
    that comes with the first page, are one reading of the database, however long the reading takes:
    the reader holds a read transaction until it is done or closed, so ``db`` must be a connection of
    its own that nothing else uses meanwhile (the host detail's)."""

    __slots__ = ("_began", "_cursor", "_db", "_fetched", "_host_id", "_reading", "rows")

    def __init__(self, db: Database, host_id: int) -> None:
        self._db = db
        self._host_id = host_id
        # a deferred BEGIN: the reading (WAL snapshot) starts with the first statement
        self._began = not db.conn.in_transaction
        if self._began:
            db.execute("BEGIN")
        self._reading = True
        self._cursor: Any = None
        self.rows = PendingRows([], -1)  # the count comes with the first page
        self._fetched = 0

    def fetch(self, n: int) -> list[Sequence[Any]]:
        """The next (up to) ``n`` rows, for ``add``. The reading is released once the last row is
        read; an empty list then."""
        if not self._reading:
            return []
        n = max(n, 1)
        got: list[Sequence[Any]]
        if self.rows.total < 0:  # the first page, with the host's count
            # the first rows' ids found by their sort keys alone, then those rows read whole: a
            # sorter fed the whole rows copied each candidate's CVE and advisory lists
            sql = (
                f"SELECT (SELECT count(*) FROM pending_updates WHERE host_id = :h), {_UPDATE_COLUMNS} "
                "FROM pending_updates WHERE id IN (SELECT id FROM pending_updates WHERE host_id = :h "
                f"ORDER BY {_HOST_ORDER} LIMIT :n) ORDER BY {_HOST_ORDER}"
            )
            first = self._db.execute(sql, {"h": self._host_id, "n": n}).fetchall()
            self.rows.total = first[0][0] if first else 0
            got = [r[1:] for r in first]
        else:
            if self._cursor is None:  # the rest, in the same order, in the same reading
                sql = (
                    f"SELECT {_UPDATE_COLUMNS} FROM pending_updates WHERE host_id = :h "
                    f"ORDER BY {_HOST_ORDER} LIMIT -1 OFFSET :skip"
                )
                self._cursor = self._db.execute(sql, {"h": self._host_id, "skip": self._fetched})
            got = self._cursor.fetchmany(n)
        self._fetched += len(got)
        if len(got) < n or self._fetched >= self.rows.total:
            self.close()
        return got

    def add(self, got: list[Sequence[Any]]) -> None:
        """Append rows ``fetch`` returned to ``rows`` (all of them, in order, maybe several fetches'
        at once)."""
        rows = self.rows
        rows._rows.extend(got)
        rows._made.extend([None] * len(got))
        if not self._reading:
            rows.total = len(rows._rows)  # the reading's end is the truth (no rows at all: 0)

    def read(self, n: int) -> int:
        """``add(fetch(n))``: how many rows were added."""
        got = self.fetch(n)
        self.add(got)
        return len(got)

    @property
    def done(self) -> bool:
        return not self._reading

    def close(self) -> None:
        """Stop reading (another host is shown): the statement is finished and the reading released
        at once."""
        import sqlite3  # stdlib, loaded already; here so the module's imports stay as they are

        cursor, self._cursor = self._cursor, None
        began, self._began = self._began, False
        self._reading = False
        try:
            if cursor is not None:
                cursor.close()
            if began and self._db.conn.in_transaction:
                self._db.execute("COMMIT")  # it only read: this ends the reading
        except sqlite3.ProgrammingError:  # its connection was closed first, and the statement with it
            pass


def updates_list(
    db: Database,
    *,
    classification: str | None = None,
    group: str | None = None,
    f: ComplianceFilter | None = None,
    limit: int = 5000,
) -> list[UpdateSummary]:
    """Distinct pending updates with how many hosts need each (a chart segment's drill-down)."""
    f = f or ComplianceFilter()
    params: dict[str, Any] = {"limit": limit}
    hosts_where = [filter_sql(f, params)]
    if group is not None:
        hosts_where.append("COALESCE(g.name, '') = :g")
        params["g"] = group
    if hosts_where == ["1"]:
        return _summary_list(db, classification, limit)
    where = ["1"]
    if classification:
        where.append("p.classification = :cls")
        params["cls"] = classification
    if hosts_where != ["1"]:
        # The hosts in scope as one set, looked up per row, rather than a join of every pending row
        # to hosts and groups (a third of the time over 870,000 rows); unfiltered, no lookup at all.
        where.append(
            "p.host_id IN (SELECT h.id FROM hosts h LEFT JOIN groups g ON g.id = h.group_id "
            f"WHERE {' AND '.join(hosts_where)})"
        )
    sql = (
        "SELECT p.manager, p.name, p.classification, count(DISTINCT p.host_id) AS hosts "
        "FROM pending_updates p "
        f"WHERE {' AND '.join(where)} GROUP BY p.classification, p.manager, p.name "
        "ORDER BY CASE p.classification WHEN 'urgent' THEN 0 WHEN 'important' THEN 1 ELSE 2 END, "
        "hosts DESC, p.name LIMIT :limit"
    )
    return [
        UpdateSummary(r["manager"], r["name"], r["classification"], int(r["hosts"]))
        for r in db.query(sql, params)
    ]


#: The list's order: most urgent class first, then the updates most hosts need.
_LIST_ORDER = "CASE classification WHEN 'urgent' THEN 0 WHEN 'important' THEN 1 ELSE 2 END, hosts DESC, name"


def _summary_list(db: Database, classification: str | None, limit: int) -> list[UpdateSummary]:
    """The whole fleet's list from update_summary (m015, kept by triggers on every write to
    pending_updates): the same rows as grouping every pending row, without reading a million."""
    params: dict[str, Any] = {"limit": limit}
    where = "hosts > 0"  # a key no host needs any more keeps its row at 0 (db/schema.py)
    if classification:
        where += " AND classification = :cls"
        params["cls"] = classification
    sql = (
        "SELECT manager, name, classification, hosts FROM update_summary "
        f"WHERE {where} ORDER BY {_LIST_ORDER} LIMIT :limit"
    )
    return [
        UpdateSummary(r["manager"], r["name"], r["classification"], int(r["hosts"]))
        for r in db.query(sql, params)
    ]


def _json_has(column: str) -> str:
    return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE upper(json_each.value) = upper(:spec))"


def update_status(db: Database, spec: str) -> UpdateStatus:
    """Who needs, has and failed one update: a package name, or a KB / advisory / CVE id."""
    spec = spec.strip()
    params: dict[str, Any] = {"spec": spec}
    need = [
        UpdateHost(
            r["host_id"],
            r["host"],
            r["installed"],
            r["available"],
            r["classification"],
            None,
            r["finished_at"],
            r["name"],
            r["reason"],
        )
        for r in db.query(
            "SELECT p.host_id, h.name AS host, p.name, p.installed, p.available, p.classification, p.reason, "
            "s.finished_at "
            "FROM pending_updates p JOIN hosts h ON h.id = p.host_id LEFT JOIN scans s ON s.id = p.scan_id "
            f"WHERE p.name = :spec OR ((p.advisories != '[]' AND {_json_has('p.advisories')}) "
            f"OR (p.cves != '[]' AND {_json_has('p.cves')})) ORDER BY h.name COLLATE NOCASE, p.name",
            params,
        )
    ]
    names = {u.detail for u in need} | {spec}
    name_params: dict[str, Any] = {f"n{i}": n for i, n in enumerate(sorted(names))}
    name_in = ", ".join(f":n{i}" for i in range(len(names)))
    have = [
        UpdateHost(
            r["host_id"],
            r["host"],
            r["from_version"],
            r["to_version"],
            "",
            r["job_id"],
            r["recorded_at"],
            r["name"],
        )
        for r in db.query(
            "SELECT c.host_id, h.name AS host, c.name, c.from_version, c.to_version, c.job_id, c.recorded_at "
            "FROM changes c JOIN hosts h ON h.id = c.host_id "
            f"WHERE (c.name IN ({name_in}) OR upper(COALESCE(c.kb, '')) = upper(:spec)) "
            "AND c.rolled_back_by IS NULL AND c.to_version IS NOT NULL "
            "AND c.id = (SELECT max(c2.id) FROM changes c2 WHERE c2.host_id = c.host_id AND c2.name = c.name) "
            "ORDER BY h.name COLLATE NOCASE",
            {**name_params, "spec": spec},
        )
    ]
    failed: list[UpdateHost] = []
    for r in db.query(
        "SELECT j.id AS job_id, j.params, jh.host_id, jh.host_name, jh.state, jh.verdict, jh.error, jh.finished_at "
        "FROM jobs j JOIN job_hosts jh ON jh.job_id = j.id WHERE j.kind = 'patch' "
        "AND (jh.state IN ('failed', 'interrupted') OR jh.verdict = 'red') ORDER BY j.id DESC LIMIT 2000"
    ):
        try:
            selections = json.loads(r["params"]).get("selections", {})
            chosen = set(selections.get(str(r["host_id"]), {}).get("names", []))
        except (ValueError, AttributeError):
            continue
        if chosen & names or spec.upper() in {c.upper() for c in chosen}:
            why = r["error"] or (f"verification {r['verdict']}" if r["verdict"] else r["state"])
            failed.append(
                UpdateHost(r["host_id"], r["host_name"], None, None, "", r["job_id"], r["finished_at"], why)
            )
    return UpdateStatus(spec, tuple(need), tuple(have), tuple(failed))


def update_names(db: Database, prefix: str = "", limit: int = 200) -> list[str]:
    """Package names pending anywhere (completion in the per-update view)."""
    return [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT name FROM pending_updates WHERE name >= ? AND name < ? ORDER BY name LIMIT ?",
            [prefix, prefix + "\uffff", limit],
        )
    ]
