"""A read-only table of rows for the policy views: display text, a sort key, a tooltip and an
optional colour per cell, plus the domain object behind each row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush

from ui.theme import background, readable

#: the raw value of a cell, for sorting (numbers sort as numbers)
SORT_ROLE = Qt.ItemDataRole.UserRole + 1


@dataclass(frozen=True)
class Cell:
    text: str
    sort: object = None  # default: the text
    tip: str = ""
    colour: str | None = None  # foreground
    background: str | None = None


def _printable(value: str) -> str:
    return "".join(c if c.isprintable() else " " for c in value)


class RowsModel(QAbstractTableModel):
    def __init__(self, headers: Sequence[str], parent=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.headers = tuple(headers)
        self.rows: list[tuple[Cell, ...]] = []
        self.payload: list[object] = []

    def set_rows(self, rows: Sequence[Sequence[Cell | str | int]], payload: Sequence[object] = ()) -> None:
        self.beginResetModel()
        self.rows = [tuple(c if isinstance(c, Cell) else Cell(str(c), c) for c in row) for row in rows]
        self.payload = list(payload)
        self.endResetModel()

    def item(self, row: int) -> object | None:
        return self.payload[row] if 0 <= row < len(self.payload) else None

    def text(self, row: int, column: int) -> str:
        return self.rows[row][column].text

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.headers)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.headers[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        cell = self.rows[index.row()][index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return _printable(cell.text)
        if role == SORT_ROLE:
            return cell.text.casefold() if cell.sort is None else cell.sort
        if role == Qt.ItemDataRole.ToolTipRole:
            return _printable(cell.tip) if cell.tip else None
        # the cells' colours follow the look (ui/theme.py): lighter text, darker tints in the dark one
        if role == Qt.ItemDataRole.ForegroundRole and cell.colour:
            return QBrush(readable(cell.colour, cell.background)[0])
        if role == Qt.ItemDataRole.BackgroundRole and cell.background:
            bg = readable(cell.colour, cell.background)[1] if cell.colour else background(cell.background)
            return QBrush(bg)
        return None
