"""Pending updates of one host (db.scans.pending_for_host), coloured by classification."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QFont

from app.domain.models import Classification, PendingUpdate
from db.updates import PendingReader, PendingRows
from ui.theme import colour_pair, text_colour

COL_NAME = 0
COL_INSTALLED = 1
COL_AVAILABLE = 2
COL_SOURCE = 3
COL_CLASSIFICATION = 4
COL_REASON = 5
COL_SEVERITY = 6  # the vendor's (MSRC for Windows updates); shown next to the classification
COLUMN_COUNT = 7

HEADERS = ["Package", "Installed", "Available", "Source", "Classification", "Reason", "Severity"]

# Tinted row backgrounds (pale, or dark in the dark look) with a strong classification cell;
# noncritical stays neutral.
_URGENT = colour_pair("#9b1c14", "#fde4e1")
_IMPORTANT = colour_pair("#9a4d00", "#fff0db")
ROW_BACKGROUND = {
    Classification.URGENT: _URGENT[1],
    Classification.IMPORTANT: _IMPORTANT[1],
}
CLASS_FOREGROUND = {
    Classification.URGENT: _URGENT[0],
    Classification.IMPORTANT: _IMPORTANT[0],
    Classification.NONCRITICAL: text_colour("#3a4252"),
}


def _clean(text: str | None, limit: int = 300) -> str:
    if not text:
        return ""
    # the whole-string test first: a view asks for thousands of cells, nearly all of them clean
    s = text if text.isprintable() else "".join(c if c.isprintable() else "?" for c in text)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _installed(u: PendingUpdate) -> str:
    if u.installed is not None:
        return _clean(u.installed)
    return "—" if u.manager == "wua" else "(new)"


#: What each column shows, by column number.
_DISPLAY = (
    lambda u: _clean(u.name) + (f":{u.arch}" if u.arch and u.arch != "all" else ""),
    _installed,
    lambda u: _clean(u.available),
    lambda u: _clean(u.source),
    lambda u: str(u.classification),
    lambda u: _clean(u.reason),
    lambda u: _clean(u.severity, 40),
)


_SERVED_ROLES = frozenset(
    {
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.BackgroundRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.FontRole,
        Qt.ItemDataRole.ToolTipRole,
    }
)
_DISPLAY_ROLE = Qt.ItemDataRole.DisplayRole
#: Where each look role's answer sits in :meth:`UpdatesTableModel.cell_look`'s tuple.
_LOOK_ROLES = {
    int(Qt.ItemDataRole.FontRole): 2,
    int(Qt.ItemDataRole.ForegroundRole): 3,
    int(Qt.ItemDataRole.BackgroundRole): 4,
}
#: A classification by its stored text (a row read from the database has the text).
_CLASSES: dict[object, Classification] = {str(c.value): c for c in Classification}
_CLASSES.update({c: c for c in Classification})
#: Where a row's classification sits in its cached cells (after the display texts).
_CLASS = COLUMN_COUNT


class UpdatesTableModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self._rows: Sequence[PendingUpdate] = []
        # Per row, once asked for: its display texts and its classification. A view asks each
        # painted cell for seven roles, each a call from Qt into Python; the texts (and the
        # PendingUpdate behind them) are made once per row, not at each call of each paint (#25).
        # Colours are not kept: the look may change under a list that is shown (ui/theme.py).
        self._cells: list[tuple[object, ...] | None] = []
        # rows a PendingReader has read but not yet listed (see read_more)
        self._unlisted: list[Sequence[object]] = []
        self._bold = QFont()
        self._bold.setBold(True)

    def set_updates(self, updates: Sequence[PendingUpdate]) -> None:
        self.beginResetModel()
        # db.updates.PendingRows as it is: its rows are built as the view asks for them
        self._rows = updates if isinstance(updates, PendingRows) else list(updates)
        self._cells = [None] * len(self._rows)
        self._unlisted = []
        self.endResetModel()

    def read_more(self, reader: PendingReader, n: int) -> int:
        """Read the next ``n`` rows of the list a reader is reading (shown with ``set_updates(
        reader.rows)``); how many came. They are listed all at once when the reader is done: each
        insertion lays the view out and repaints it (7 repaints of 8 ms for 4,000 rows, #25).
        Nothing when another list is shown now."""
        if self._rows is not reader.rows:
            return 0
        got = reader.fetch(n)
        self._unlisted.extend(got)
        if reader.done:
            rest, self._unlisted = self._unlisted, []
            if rest:
                start = len(self._cells)
                self.beginInsertRows(QModelIndex(), start, start + len(rest) - 1)
                reader.add(rest)
                self._cells.extend([None] * len(rest))
                self.endInsertRows()
            else:
                reader.add(rest)
        return len(got)

    def is_complete(self) -> bool:
        """Whether every pending update of the host is listed (not only a first page of them)."""
        rows = self._rows
        return rows.complete if isinstance(rows, PendingRows) else True

    def total(self) -> int:
        """How many pending updates the host has, listed or still being read."""
        rows = self._rows
        return rows.total if isinstance(rows, PendingRows) else len(rows)

    def _row_cells(self, row: int) -> tuple[object, ...]:
        cells = self._cells[row]
        if cells is None:
            rows = self._rows
            # a PendingRows row's shown fields, without building its PendingUpdate (db/updates.py)
            u = rows.shown(row) if isinstance(rows, PendingRows) else rows[row]
            cls = _CLASSES.get(u.classification) or Classification(u.classification)
            cells = self._cells[row] = (*(show(u) for show in _DISPLAY), cls)  # type: ignore[arg-type]
        return cells

    def column_texts(self, col: int, limit: int) -> list[str]:
        """The display texts of column ``col`` in the first ``limit`` rows (ui/widgets/columns.py)."""
        return [self._row_cells(r)[col] for r in range(min(limit, len(self._cells)))]  # type: ignore[misc]

    def update_at(self, row: int) -> PendingUpdate | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._cells)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else COLUMN_COUNT

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
        # a view asks each cell for a dozen roles and this model serves five: the others cost nothing
        if role not in _SERVED_ROLES:
            return None
        row = index.row()  # -1 for an invalid index
        if not 0 <= row < len(self._cells):
            return None
        if role == _DISPLAY_ROLE:
            return (self._cells[row] or self._row_cells(row))[index.column()]
        look = _LOOK_ROLES.get(role)
        if look is not None:  # one description of a cell's look: the one painting uses
            return self.cell_look(row, index.column())[look]
        return self._tooltip(self._rows[row])

    def cell_look(self, row: int, col: int):  # type: ignore[no-untyped-def]
        """What data() answers for a painted cell's roles, in one call (ui/widgets/cells.py)."""
        if not 0 <= row < len(self._cells):
            return None
        cells = self._cells[row] or self._row_cells(row)
        cls = cells[_CLASS]
        bg = ROW_BACKGROUND.get(cls)  # type: ignore[call-overload]
        background = QBrush(bg) if bg else None  # brushes made per call: the colours follow the theme
        if col == COL_CLASSIFICATION:
            bold = self._bold if cls != Classification.NONCRITICAL else None
            return cells[col], None, bold, QBrush(CLASS_FOREGROUND[cls]), background  # type: ignore[index]
        return cells[col], None, None, None, background

    @staticmethod
    def _tooltip(u: PendingUpdate) -> str:
        lines = [f"{_clean(u.name)} {_clean(u.installed) or '(new)'} → {_clean(u.available)}"]
        if u.source:
            lines.append(f"from {_clean(u.source)}")
        lines.append(f"{u.classification}: {_clean(u.reason)}" if u.reason else str(u.classification))
        if u.severity:
            lines.append(f"Vendor severity: {_clean(u.severity, 40)}")
        if u.advisories:
            lines.append("Advisories: " + ", ".join(_clean(a, 40) for a in u.advisories[:20]))
        if u.cves:
            lines.append("CVEs: " + ", ".join(_clean(c, 40) for c in u.cves[:20]))
        if u.reboot_expected:
            lines.append("A reboot is expected after installing it.")
        return "\n".join(lines)
