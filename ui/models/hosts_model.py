"""The inventory table: one row per host, read through db.hosts, filtered and sorted by itself.

The model holds immutable ``Host`` values. A change to the inventory (add, edit, remove, import)
reloads everything with a model reset; a scan result only replaces the changed rows and emits
``dataChanged`` for them, so the selection, scroll position and sort survive a running job.

At thousands of hosts every call from Qt into Python counts, so there is no QSortFilterProxyModel
in front of this model: it sorts itself with Python's ``sorted`` on precomputed keys, and filters
itself (the filter box, a dashboard tile's hosts) with one pass over a casefolded search text per
host, then tells the view with one layout change. A proxy would call into Python for every row on
each keystroke, and map the index of every painted cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QFont

from app.domain.compliance import DEFAULT_STALE_DAYS, LastJob
from app.domain.models import Host, HostStatus
from ui.models.host_status import (
    BOLD_LEVELS,
    BUSY_COLOURS,
    STATE_COLOURS,
    StatusCell,
    local_time,
    one_line,
    status_cell,
)
from ui.theme import text_colour

COL_NAME = 0
COL_ADDRESS = 1
COL_OS = 2
COL_GROUP = 3
COL_RING = 4
COL_CRITICALITY = 5
COL_URGENT = 6
COL_IMPORTANT = 7
COL_NONCRITICAL = 8
COL_LAST_SCAN = 9
COL_STATUS = 10
COLUMN_COUNT = 11

HEADERS = {
    COL_NAME: "Name",
    COL_ADDRESS: "Address",
    COL_OS: "OS",
    COL_GROUP: "Group",
    COL_RING: "Ring",
    COL_CRITICALITY: "Criticality",
    COL_URGENT: "Urgent",
    COL_IMPORTANT: "Important",
    COL_NONCRITICAL: "Non-critical",
    COL_LAST_SCAN: "Last scan",
    COL_STATUS: "Status",
}
COUNT_COLUMNS = (COL_URGENT, COL_IMPORTANT, COL_NONCRITICAL)

#: Role carrying a value that sorts correctly (numbers as numbers, times as timestamps).
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
#: Role carrying the host id of a row.
HOST_ID_ROLE = Qt.ItemDataRole.UserRole + 2

#: The Status text of a running job's host, by the job's verb.
DEFAULT_BUSY_TEXT = "scanning…"
STATUS_TEXT = {
    HostStatus.OK: "ok",
    HostStatus.FAILED: "failed",
    HostStatus.UNREACHABLE: "unreachable",
    HostStatus.NEVER: "never scanned",
}
COUNT_COLOURS = {
    COL_URGENT: text_colour("#b3261e"),
    COL_IMPORTANT: text_colour("#9a4d00"),  # #b35c00 read at 4.48:1 on the alternate rows
    COL_NONCRITICAL: text_colour("#1d2330"),
}


#: What :meth:`HostsTableModel.totals` sums.
TOTALS = ("urgent", "important", "noncritical", "bad", "never", "reboot")

#: The roles data() answers (anything else is None at once).
_ROLES = frozenset(
    int(r)
    for r in (
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.TextAlignmentRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.BackgroundRole,
        Qt.ItemDataRole.FontRole,
        Qt.ItemDataRole.ToolTipRole,
        SORT_ROLE,
        HOST_ID_ROLE,
    )
)


#: Where each look role's answer sits in :meth:`HostsTableModel.cell_look`'s tuple.
_LOOK_ROLES = {
    int(Qt.ItemDataRole.TextAlignmentRole): 1,
    int(Qt.ItemDataRole.FontRole): 2,
    int(Qt.ItemDataRole.ForegroundRole): 3,
    int(Qt.ItemDataRole.BackgroundRole): 4,
}

#: The count columns' alignment, made once (combining the flags is Python enum code at each call).
_RIGHT_ALIGNED = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

#: The overload of layoutAboutToBeChanged/layoutChanged that carries a hint (PySide6's plain
#: ``emit()`` takes no arguments).
_LAYOUT_SIGNATURE = "QList<QPersistentModelIndex>,QAbstractItemModel::LayoutChangeHint"


class HostsTableModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self._all: list[Host] = []  # every host, in the current sort order
        self._index_of: dict[int, int] = {}  # host id -> position in _all
        self._search: list[str] = []  # per host of _all: casefolded name, address, OS and group
        self._hosts: list[Host] = []  # the rows shown: _all through the filter, same order
        self._row_of: dict[int, int] = {}  # host id -> row shown
        self._needle = ""  # the filter box's text, casefolded ("" shows every host)
        self._ids: frozenset[int] | None = None  # only these hosts (a dashboard tile); None: all
        self._totals = dict.fromkeys(TOTALS, 0)
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._busy: dict[int, str] = {}  # host id -> the running job's verb ("patching…")
        self._last_jobs: dict[int, LastJob] = {}  # host id -> its newest finished job step
        self._stale_days = DEFAULT_STALE_DAYS
        self._cells: dict[int, StatusCell] = {}  # host id -> its Status cell, built on first use
        self._hardware: dict[int, str] = {}  # host id -> its hardware as the filter searches it
        self._bold = QFont()
        self._bold.setBold(True)

    # -- loading --------------------------------------------------------------------------------

    def set_hosts(
        self,
        hosts: Sequence[Host],
        last_jobs: Mapping[int, LastJob] | None = None,
        *,
        stale_days: int | None = None,
        hardware: Mapping[int, str] | None = None,
    ) -> None:
        """Replace every host (inventory changed); the current sort order and filter are kept.

        ``last_jobs`` (db.jobs.last_jobs) and ``stale_days`` are what the Status column needs besides
        the host records: loaded with the rows, so painting never queries. ``hardware``
        (db.hardware.search_texts): what the filter also matches, so "all hosts of one model" is a
        search for the model."""
        self.beginResetModel()
        if hardware is not None:
            self._hardware = dict(hardware)
        self._last_jobs = dict(last_jobs or {})
        if stale_days is not None:
            self._stale_days = stale_days
        self._cells = {}
        self._all = self._sorted(list(hosts))
        self._search = []  # built by the first filter that needs it, not at start-up
        self._reindex_all()
        self._totals = dict.fromkeys(TOTALS, 0)
        for h in self._all:
            self._add_totals(h, 1)
        self._hosts = self._filtered()
        self._reindex_rows()
        self.endResetModel()

    def update_hosts(
        self, hosts: Iterable[Host], last_jobs: Mapping[int, LastJob] | None = None
    ) -> list[Host]:
        """Replace hosts already in the model, emitting dataChanged per row shown (and re-sorting
        or re-filtering when a changed value moves a host in the sort or across the filter).

        ``last_jobs``: the newest finished job step of these hosts (db.jobs.last_jobs of their ids;
        a host absent from it has none); None leaves what the model knows.
        Returns the hosts that were not in the model (the caller reloads if that matters).
        """
        unknown = []
        changed: list[int] = []  # positions in _all
        for h in hosts:
            i = self._index_of.get(h.id) if h.id is not None else None
            if i is None:
                unknown.append(h)
                continue
            old = self._all[i]
            job_changed = False
            if last_jobs is not None and h.id is not None:
                job = last_jobs.get(h.id)
                job_changed = job != self._last_jobs.get(h.id)
                if job is None:
                    self._last_jobs.pop(h.id, None)
                else:
                    self._last_jobs[h.id] = job
            if old == h and not job_changed:
                continue
            self._cells.pop(h.id, None)  # type: ignore[arg-type]
            self._all[i] = h
            self._add_totals(old, -1)
            self._add_totals(h, 1)
            if self._search:
                self._search[i] = self._search_text(h)
            changed.append(i)
            row = self._row_of.get(h.id)  # type: ignore[arg-type]
            if row is not None:
                self._hosts[row] = h
                self.dataChanged.emit(self.index(row, 0), self.index(row, COLUMN_COUNT - 1))
        if not changed:
            return unknown
        if self._sort_column >= 0 and not self._still_sorted(changed):
            self.sort(self._sort_column, self._sort_order)  # re-filters too
        elif self._filtering() and any(
            self._accepts(i) != (self._all[i].id in self._row_of) for i in changed
        ):
            self._show(self._filtered())
        return unknown

    def _still_sorted(self, positions: list[int]) -> bool:
        """Whether each host at ``positions`` of _all still sits between its neighbours in the
        current sort (a scan seldom moves a row, and re-sorting every host on each row refresh
        would stall the window for nothing)."""
        col, hosts = self._sort_column, self._all
        desc = self._sort_order == Qt.SortOrder.DescendingOrder
        for r in positions:
            key = self._sort_key(hosts[r], col)
            if r > 0:
                before = self._sort_key(hosts[r - 1], col)
                if (key > before) if desc else (key < before):
                    return False
            if r + 1 < len(hosts):
                after = self._sort_key(hosts[r + 1], col)
                if (key < after) if desc else (key > after):
                    return False
        return True

    def _add_totals(self, h: Host, sign: int) -> None:
        t = self._totals
        t["urgent"] += sign * h.pending_urgent
        t["important"] += sign * h.pending_important
        t["noncritical"] += sign * h.pending_noncritical
        t["bad"] += sign * (h.last_status in (HostStatus.FAILED, HostStatus.UNREACHABLE))
        t["never"] += sign * (h.last_status == HostStatus.NEVER)
        t["reboot"] += sign * bool(h.reboot_required)

    def totals(self) -> dict[str, int]:
        """Sums over every host, shown or filtered out (the status bar's summary), without a pass
        over thousands of hosts: ``urgent``, ``important``, ``noncritical`` pending updates; hosts
        ``bad`` (failed or unreachable), ``never`` scanned, needing a ``reboot``."""
        return dict(self._totals)

    def _reindex_all(self) -> None:
        self._index_of = {h.id: i for i, h in enumerate(self._all) if h.id is not None}

    def _reindex_rows(self) -> None:
        self._row_of = {h.id: i for i, h in enumerate(self._hosts) if h.id is not None}

    # -- filtering (one pass in Python, one layout change for the view) ------------------------

    def _search_text(self, h: Host) -> str:
        """What the filter box searches: the displayed name, address, OS, group, tags and hardware
        (manufacturer, model, serial; \\0 between them, so a needle never matches across two fields)."""
        address = h.address + (f":{h.port}" if h.port else "")
        fields = [one_line(h.name), address, one_line(h.os_name, 60), h.group or "", *h.tags]
        fields.append(self._hardware.get(h.id or 0, ""))
        return "\0".join(fields).casefold()

    def set_filter_text(self, text: str) -> None:
        """Show only hosts whose name, address, OS, group, a tag or hardware (a model) contains ``text``
        (case-insensitive)."""
        needle = text.strip().casefold()
        if needle != self._needle:
            self._needle = needle
            self._show(self._filtered())

    def set_host_ids(self, ids: Iterable[int] | None) -> None:
        """Show only these hosts (a dashboard tile's list); None shows every host again."""
        self._ids = frozenset(ids) if ids is not None else None
        self._show(self._filtered())

    def host_ids(self) -> set[int] | None:
        return set(self._ids) if self._ids is not None else None

    def _filtering(self) -> bool:
        return bool(self._needle) or self._ids is not None

    def _accepts(self, i: int) -> bool:
        """Whether the host at position ``i`` of _all passes the filter."""
        h = self._all[i]
        if self._ids is not None and h.id not in self._ids:
            return False
        return not self._needle or self._needle in self._searchable()[i]

    def prepare_search(self) -> None:
        """Build the search texts now (idle time after a load) rather than on the first keystroke,
        which would otherwise wait for them."""
        self._searchable()

    def _searchable(self) -> list[str]:
        if len(self._search) != len(self._all):
            self._search = [self._search_text(h) for h in self._all]
        return self._search

    def _filtered(self) -> list[Host]:
        needle, ids = self._needle, self._ids
        if not needle:
            return list(self._all) if ids is None else [h for h in self._all if h.id in ids]
        pairs = zip(self._all, self._searchable(), strict=True)
        if ids is None:
            return [h for h, text in pairs if needle in text]
        return [h for h, text in pairs if needle in text and h.id in ids]

    def _show(self, new: list[Host]) -> None:
        """Make ``new`` the rows shown, as one layout change: persistent indexes (the view's
        selection and current row) follow their hosts, or become invalid for hosts filtered out."""
        old = self._hosts
        if len(new) == len(old) and all(a is b for a, b in zip(new, old, strict=True)):
            return  # e.g. "web-" -> "web": the same rows
        # Rows move or go, columns never do: with this hint the selection model keeps one persistent
        # index per selected row instead of one per selected cell (11 per row).
        hint = QAbstractItemModel.LayoutChangeHint.VerticalSortHint
        self.layoutAboutToBeChanged[_LAYOUT_SIGNATURE].emit([], hint)
        new_row = {id(h): i for i, h in enumerate(new)}
        moved_from = self.persistentIndexList()  # after the signal: the views have saved theirs
        moved_to = []
        invalid = QModelIndex()
        for idx in moved_from:
            r = idx.row()
            row = new_row.get(id(old[r])) if 0 <= r < len(old) else None
            moved_to.append(invalid if row is None else self.createIndex(row, idx.column()))
        self._hosts = new
        self._reindex_rows()
        self.changePersistentIndexList(moved_from, moved_to)
        self.layoutChanged[_LAYOUT_SIGNATURE].emit([], hint)

    # -- sorting (Python's sort on precomputed keys; see the module docstring) ----------------------

    def _sort_permutation(self, hosts: list[Host]) -> list[int] | None:
        if self._sort_column < 0:
            return None
        col = self._sort_column
        return sorted(
            range(len(hosts)),
            key=lambda i: self._sort_key(hosts[i], col),
            reverse=self._sort_order == Qt.SortOrder.DescendingOrder,
        )

    def _sorted(self, hosts: list[Host]) -> list[Host]:
        order = self._sort_permutation(hosts)
        return hosts if order is None else [hosts[i] for i in order]

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Reorder the rows; persistent indexes (the view's selection and current row) follow."""
        self._sort_column, self._sort_order = column, order
        perm = self._sort_permutation(self._all)
        if perm is None or perm == list(range(len(self._all))):
            return
        self._all = [self._all[i] for i in perm]
        if self._search:
            self._search = [self._search[i] for i in perm]
        self._reindex_all()
        self._show(self._filtered())

    def set_busy(self, host_ids: Iterable[int], busy: bool, verb: str = DEFAULT_BUSY_TEXT) -> None:
        """Mark hosts as worked on by a running job right now: the Status column shows the job's own
        ``verb`` ("scanning…", "patching…", "verifying…", "rolling back…") until it is cleared."""
        for hid in host_ids:
            if busy:
                self._busy[hid] = verb
            else:
                self._busy.pop(hid, None)
            row = self._row_of.get(hid)
            if row is not None:
                idx = self.index(row, COL_STATUS)
                self.dataChanged.emit(idx, idx)

    def status_cell(self, h: Host) -> StatusCell:
        """The Status cell of ``h`` (cached per host until its row or last job changes)."""
        hid = h.id if h.id is not None else -1
        cell = self._cells.get(hid)
        if cell is None:
            cell = status_cell(h, self._last_jobs.get(hid), stale_days=self._stale_days)
            self._cells[hid] = cell
        return cell

    def last_job(self, host_id: int) -> LastJob | None:
        return self._last_jobs.get(host_id)

    def column_texts(self, col: int, limit: int) -> list[str]:
        """The display texts of column ``col`` in the first ``limit`` rows shown (ui/widgets/columns.py)."""
        busy = self._busy
        return [self._display(h, col, busy.get(h.id) if busy else None) for h in self._hosts[:limit]]  # type: ignore[arg-type]

    def host_at(self, row: int) -> Host | None:
        """The host shown at ``row``."""
        return self._hosts[row] if 0 <= row < len(self._hosts) else None

    def host_by_id(self, host_id: int) -> Host | None:
        """The host with this id, shown or filtered out."""
        i = self._index_of.get(host_id)
        return self._all[i] if i is not None else None

    def row_of(self, host_id: int) -> int | None:
        """The row showing this host; None when it is filtered out or unknown."""
        return self._row_of.get(host_id)

    def hosts(self) -> list[Host]:
        """Every host, shown or filtered out, in the current sort order."""
        return list(self._all)

    def total_count(self) -> int:
        """How many hosts the model holds (rowCount: how many the filter shows)."""
        return len(self._all)

    # -- Qt model API ---------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._hosts)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else COLUMN_COUNT

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return HEADERS.get(section)
            if role == Qt.ItemDataRole.TextAlignmentRole and section in COUNT_COLUMNS:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if role == Qt.ItemDataRole.ToolTipRole and section in COUNT_COLUMNS:
                return f"Pending {HEADERS[section].lower()} updates found by the last successful scan"
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
        # the view asks ~10 roles per painted cell; most are answered here. The row is asked once
        # (-1 for an invalid index): each call on the index is a call into Qt.
        if role not in _ROLES or not 0 <= (row := index.row()) < len(self._hosts):
            return None
        h = self._hosts[row]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            busy = self._busy.get(h.id) if self._busy else None  # type: ignore[arg-type]
            return self._display(h, col, busy)
        if role == SORT_ROLE:
            return self._sort_key(h, col)
        if role == HOST_ID_ROLE:
            return h.id
        look = _LOOK_ROLES.get(role)
        if look is not None:  # one description of a cell's look: the one painting uses
            return self.cell_look(row, col)[look]
        if col == COL_STATUS:
            return self.status_cell(h).tooltip
        return self._tooltip(h, col)

    def cell_look(self, row: int, col: int):  # type: ignore[no-untyped-def]
        """What data() answers for a painted cell's roles, in one call (ui/widgets/cells.py)."""
        if not 0 <= row < len(self._hosts):
            return None
        h = self._hosts[row]
        busy = self._busy.get(h.id) if self._busy else None  # type: ignore[arg-type]
        text = self._display(h, col, busy)
        if col == COL_STATUS:
            cell = self.status_cell(h)
            fg, bg = BUSY_COLOURS if busy else STATE_COLOURS[cell.level]
            bold = self._bold if not busy and cell.level in BOLD_LEVELS else None
            return text, None, bold, QBrush(fg), QBrush(bg)
        if col in COUNT_COLUMNS:
            n = self._count(h, col)
            if n:
                bold = self._bold if col != COL_NONCRITICAL else None
                return text, _RIGHT_ALIGNED, bold, QBrush(COUNT_COLOURS[col]), None
            return text, _RIGHT_ALIGNED, None, None, None
        return text, None, None, None, None

    # -- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _count(h: Host, col: int) -> int:
        return {COL_URGENT: h.pending_urgent, COL_IMPORTANT: h.pending_important}.get(
            col, h.pending_noncritical
        )

    def _display(self, h: Host, col: int, busy: str | None) -> str:
        if col == COL_NAME:
            return one_line(h.name)
        if col == COL_ADDRESS:
            return h.address + (f":{h.port}" if h.port else "")
        if col == COL_OS:
            return one_line(h.os_name, 60)
        if col == COL_GROUP:
            # tags ride with the group: they place a host the way a group does
            return " · ".join(filter(None, [h.group or "", ", ".join(h.tags)]))
        if col == COL_RING:
            return str(h.ring)
        if col == COL_CRITICALITY:
            return str(h.criticality)
        if col in COUNT_COLUMNS:
            if h.last_status == HostStatus.NEVER:
                return "\u2013"  # en dash: not scanned yet, distinct from a real 0
            return str(self._count(h, col))
        if col == COL_LAST_SCAN:
            return local_time(h.last_scan_at)
        if col == COL_STATUS:
            return busy or self.status_cell(h).text
        return ""

    def _sort_key(self, h: Host, col: int):  # type: ignore[no-untyped-def]
        if col in COUNT_COLUMNS:
            return -1 if h.last_status == HostStatus.NEVER else self._count(h, col)
        if col == COL_LAST_SCAN:
            return h.last_scan_at.timestamp() if h.last_scan_at else 0.0
        if col == COL_STATUS:
            cell = self.status_cell(h)
            return (cell.rank, cell.text)
        return self._display(h, col, None).casefold()

    @staticmethod
    def _tooltip(h: Host, col: int) -> str | None:
        if col == COL_OS and h.kernel:
            return f"{h.os_name or ''}\nkernel {h.kernel}"
        if col == COL_NAME and h.last_error:
            return one_line(h.last_error, 1000)
        if col == COL_GROUP and h.tags:
            return f"Group: {h.group or 'none'}\nTags: {', '.join(h.tags)}"
        return None
