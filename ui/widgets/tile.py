"""A dashboard tile: a big number, its caption and a line under it; the whole tile is one button.

The compliance tiles (ui/views/dashboard.py), the Drifted tile (ui/views/drift_panel.py) and the
Outside Patchdesk tile (ui/views/outside_changes_panel.py) share this face; the stylesheet draws
them by the ``tile`` property and the label names.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget


class TileFace(QPushButton):
    def __init__(self, name: str, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"tile_{name}")
        self.setProperty("tile", True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setMinimumHeight(74)
        self.number = QLabel("-")
        self.number.setObjectName("tileNumber")
        self.caption = QLabel(caption)
        self.caption.setObjectName("tileCaption")
        self.sub = QLabel("")
        self.sub.setObjectName("tileSub")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(0)
        for w in (self.number, self.caption, self.sub):
            w.setAlignment(Qt.AlignmentFlag.AlignCenter)
            w.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            lay.addWidget(w)
