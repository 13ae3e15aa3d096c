"""Tables that fit their pane: every column inside the view's width, no horizontal scrolling.

The host detail's tables sat in a pane about 560 px wide at 1280x800 and needed sideways scrolling
to reach Installed/Available (#23 item 8). A ``ColumnFitter`` gives the fixed columns (a
classification, a state, a date) what their text and header need, and shares what is left among the
flexible ones (names, versions, reasons), which elide in the middle; the full text stays in the
tooltip. It refits whenever the view is resized or its rows change (when they only move or are
filtered, once they have settled: see REFIT_DELAY_MS). Headers are never cut: a pane too narrow even
for them (a window at its minimum size) scrolls sideways instead.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Slot
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QTableView

#: The header's padding (6 px each side in the stylesheet) and its 1 px right border: what a header
#: needs beside its text to be drawn whole (measured in bold, a little wider than the 600 weight).
HEADER_PAD = 13
#: A cell's text margins (the style's focus-frame margin + 1, each side) and a little air.
CELL_PAD = 8
#: Rows whose text sets a column's width (Qt's own default looks at 1,000).
SAMPLE_ROWS = 200
#: After rows moved or were filtered (layoutChanged: each keystroke in the inventory's filter box, a
#: sort), the columns are refitted this long after the last such change rather than at each: measuring
#: eleven columns' texts tripled a keystroke's time at 5,000 hosts (#25). A reset (new rows) and a
#: resize still refit at once.
REFIT_DELAY_MS = 150


class ColumnFitter(QObject):
    def __init__(
        self,
        view: QTableView,
        flexible: Sequence[int],
        *,
        cap: int = 260,
        choose: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(view)
        self.view = view
        self.flexible = tuple(flexible)
        self.cap = cap  # no column's content share above this (a long reason is read in the tooltip)
        # called with the room before each fit: a view may show or hide columns by what fits
        self.choose = choose
        # no scroll bar while the columns fit (they are made to); one only when even the headers cannot
        view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        view.horizontalHeader().setStretchLastSection(False)
        view.viewport().installEventFilter(self)
        view.installEventFilter(self)  # its font (the style sheet's, once polished): measure again
        # What each column's rows need is measured once per change of the rows (Qt asks every role of
        # up to the header's precision of rows per column); a resize only shares the room out again.
        self._want: dict[int, int] = {}
        # what each header needs, by its text and the header's font (the theme may change the font)
        self._heads: dict[str, int] = {}
        self._heads_font = QFont()
        self._refit = QTimer(self)
        self._refit.setSingleShot(True)
        self._refit.setInterval(REFIT_DELAY_MS)
        self._refit.timeout.connect(self._rows_changed)
        model = view.model()
        model.modelReset.connect(self._rows_changed)
        model.layoutChanged.connect(self._rows_moved)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.Resize and watched is not self.view:
            self.fit()
        elif kind == QEvent.Type.FontChange and watched is self.view:
            # texts measured in the old font (a window built before its style sheet was applied,
            # ui/theme.py styled_once_built) are measured again: now if shown, else when it is
            self._want.clear()
            if self.view.isVisible():
                self.fit()
        return False

    def _header_width(self, col: int) -> int:
        hfont = self.view.horizontalHeader().font()
        if hfont != self._heads_font:  # a new look (theme, stylesheet): measure the headers again
            self._heads.clear()
            self._heads_font = QFont(hfont)
        text = str(self.view.model().headerData(col, Qt.Orientation.Horizontal) or "")
        found = self._heads.get(text)
        if found is None:
            font = QFont(hfont)
            font.setBold(True)  # the stylesheet's headers are bold
            found = self._heads[text] = QFontMetrics(font).horizontalAdvance(text) + HEADER_PAD
        return found

    @Slot()
    def _rows_changed(self) -> None:
        self._refit.stop()
        self._want.clear()
        self.fit()

    @Slot()
    def _rows_moved(self) -> None:
        self._refit.start()  # (re)started: one refit once the rows have settled

    def settle(self) -> None:
        """Refit now if a refit is waiting (tests, and a caller that must see the final widths)."""
        if self._refit.isActive():
            self._rows_changed()

    def _content_width(self, col: int) -> int:
        found = self._want.get(col)
        if found is None:
            found = self._want[col] = self._measure(col)
        return found

    def _measure(self, col: int) -> int:
        """The widest of the column's texts in its first rows, as QTableView.sizeHintForColumn would
        find it, but asking the model for the text alone: Qt asks each cell for a dozen roles through
        its delegate, 150 ms of a click on a host with 4,000 updates."""
        model = self.view.model()
        display, font_role = Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.FontRole
        # A model may hand over a column's texts in one call (``column_texts(col, n)``, the display
        # texts of its first n rows): a fifth of the cost of asking cell by cell through Qt.
        texts_of = getattr(model, "column_texts", None)
        if texts_of is not None:
            column = texts_of(col, SAMPLE_ROWS)
        else:
            rows = range(min(model.rowCount(), SAMPLE_ROWS))
            column = [model.data(model.index(r, col), display) for r in rows]
        texts = [(len(str(text)), row, str(text)) for row, text in enumerate(column) if text]
        plain = self.view.fontMetrics()
        widest = 0
        for _n, row, text in heapq.nlargest(5, texts):  # by length, then measured: a proportional font
            font = model.data(model.index(row, col), font_role)
            metrics = QFontMetrics(font.resolve(self.view.font())) if isinstance(font, QFont) else plain
            widest = max(widest, metrics.horizontalAdvance(text))
        return widest + CELL_PAD

    def want(self, col: int) -> int:
        """What the column needs to show its header and (up to the cap) its texts whole."""
        return max(self._header_width(col), min(self.cap, self._content_width(col) + 8))

    @Slot()
    def fit(self) -> None:
        view, hdr = self.view, self.view.horizontalHeader()
        room = view.viewport().width()
        if self.choose is not None:
            self.choose(room)
        cols = [c for c in range(view.model().columnCount()) if not hdr.isSectionHidden(c)]
        if not cols:
            return
        head = {c: self._header_width(c) for c in cols}
        want = {c: max(head[c], min(self.cap, self._content_width(c) + 8)) for c in cols}
        fixed = sum(want[c] for c in cols if c not in self.flexible)
        flex = [c for c in cols if c in self.flexible]
        flex_want = sum(want[c] for c in flex)
        if fixed + flex_want <= room or not flex:
            widths = dict(want)
            spare = room - fixed - flex_want
            if spare > 0:  # the slack goes to the flexible columns, else the last one
                takers = flex or [cols[-1]]
                for c in takers:
                    widths[c] += spare // len(takers)
        else:
            share = room - fixed
            # headers stay whole: with less room than they need (a window at its minimum size) the
            # table scrolls sideways rather than cut "Expected" to "Expec…"
            widths = {c: want[c] for c in cols if c not in self.flexible}
            for c in flex:
                widths[c] = max(head[c], share * want[c] // max(flex_want, 1))
            over = sum(widths.values()) - room
            for c in sorted(flex, key=lambda c: -widths[c]):  # the minimums overshot: take from the widest
                if over <= 0:
                    break
                cut = min(over, widths[c] - head[c])
                widths[c] -= cut
                over -= cut
        changed = [(c, w) for c, w in widths.items() if hdr.sectionSize(c) != w]
        if not changed:
            return
        # A table answers each resized section with a 0-ms timer that repaints the columns right of it;
        # when it fired after the paint under way (a click that shows the host detail and fits its
        # list), the whole list was painted a second time (#25). The view is told once, here, instead:
        # its scroll range now, its repaint with the paint to come.
        blocked = hdr.blockSignals(True)
        try:
            for c, w in changed:
                hdr.resizeSection(c, w)
        finally:
            hdr.blockSignals(blocked)
        view.updateGeometries()
        view.viewport().update()

    def total_width(self) -> int:
        hdr = self.view.horizontalHeader()
        return sum(hdr.sectionSize(c) for c in range(hdr.count()) if not hdr.isSectionHidden(c))
