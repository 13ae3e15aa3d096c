"""A table delegate that asks its model for a cell's look in one call (#25).

Qt's delegate asks the model for seven roles per painted cell, and under PySide each is a call into
Python that costs as much as the work it asks for; a model with ``cell_look(row, col)`` answers them
all at once. Whatever else asks ``data()`` (tooltips, sorting, accessibility, copying) is unchanged.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFontMetrics, QPalette
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

_HAS_DISPLAY = QStyleOptionViewItem.ViewItemFeature.HasDisplay
_TEXT = QPalette.ColorRole.Text


class CellLookDelegate(QStyledItemDelegate):
    """For models with ``cell_look(row, col) -> (text, alignment | None, font | None, foreground
    brush | None, background brush | None)``, as ``data()`` answers those roles."""

    def __init__(self, model: Any, parent: Any = None) -> None:
        super().__init__(parent)
        self._look = model.cell_look

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        look = self._look(index.row(), index.column())
        if look is None:
            super().initStyleOption(option, index)
            return
        text, align, font, fg, bg = look
        option.index = index
        if font is not None:  # as Qt does: the model's font over the view's
            font = font.resolve(option.font)
            option.font = font
            option.fontMetrics = QFontMetrics(font)
        if align is not None:
            option.displayAlignment = Qt.AlignmentFlag(align)
        if fg is not None:
            palette = option.palette
            palette.setBrush(_TEXT, fg)
            option.palette = palette
        if text:
            option.features |= _HAS_DISPLAY
            option.text = text
        if bg is not None:
            option.backgroundBrush = bg
