"""The compliance dashboard: the GUI's home view.

Tiles and charts come from db/compliance.py, computed on a pool thread with its own database
connection (never the main thread's), so a shop of thousands of hosts never freezes the window.
Every tile and chart segment is clickable: a tile asks the main window to show its hosts in the
inventory, a chart segment asks for the matching update list.

Start-up (#25): the first refresh waits for the window's first paint, so its queries do not compete
with it for the CPU; until the figures are in, the tiles show "-" and the charts' places say
"Loading…". The charts (QtCharts, its libraries and types) are built with the first figures.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, QPointF, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.domain.compliance import (
    OS_FAMILIES,
    OS_FAMILY_OTHER,
    OS_FAMILY_UNKNOWN,
    TILE_HELP,
    TILE_LABELS,
    ComplianceFilter,
    Dashboard,
    Tile,
)
from app.domain.models import Criticality, Ring
from db import compliance as db_compliance
from db import compliance_history as db_compliance_history
from db import database as db_database
from db import tiles as db_tiles
from ui.numbers import count_text
from ui.theme import text_colour, tint_chart
from ui.views.drift_panel import DriftTile
from ui.views.outside_changes_panel import OutsideTile, outside_summary
from ui.widgets.tile import TileFace
from ui.workers import submit

if TYPE_CHECKING:
    from PySide6.QtCharts import QBarSet, QChart, QChartView, QPieSlice

logger = logging.getLogger(__name__)

#: Tiles in their on-screen order (two rows of six, then Drifted and Outside Patchdesk as each row's
#: seventh): the three compliance states first.
TILES = (
    Tile.HOSTS,
    Tile.UP_TO_DATE,
    Tile.NON_COMPLIANT,
    Tile.UNKNOWN,
    Tile.FAILED,
    Tile.REBOOT,
    Tile.URGENT,
    Tile.IMPORTANT,
    Tile.NONCRITICAL,
    Tile.UNREACHABLE,
    Tile.STALE,
    Tile.NEVER,
)
TILES_PER_ROW = 6
#: A chart's least height: two rows of charts and two of tiles fit a 1280x800 window without scrolling.
CHART_MIN_HEIGHT = 200
#: What the dashboard says until its first figures are in (never zeros, never green).
LOADING_TEXT = "Loading…"
#: What the charts' places say when the first figures could not be read.
NOT_LOADED_TEXT = "No figures: the dashboard could not be read (see above)."
#: The first refresh waits for the first paint; a dashboard that is never painted (a window not
#: shown: tests, tools) refreshes after this long anyway.
FIRST_REFRESH_FALLBACK_MS = 1000
#: A tile turns red / amber / its own "unknown" colour when its number is not zero; "Up to date" is
#: green only when some host is (0 of 0 is not green).
RED_TILES = (Tile.NON_COMPLIANT, Tile.URGENT, Tile.FAILED, Tile.UNREACHABLE)
AMBER_TILES = (Tile.IMPORTANT, Tile.STALE, Tile.REBOOT, Tile.NEVER)
UNKNOWN_TILES = (Tile.UNKNOWN,)
#: What the dashboard says instead of numbers when the scope holds no host.
EMPTY_TEXT = (
    "<b>No hosts yet.</b> Nothing is compliant that was not seen: "
    '<a href="add">add a host</a> (or import a list) and scan it to see its compliance here.'
)
EMPTY_SCOPE_TEXT = "<b>No hosts in this scope.</b> Choose another group, ring, OS or criticality."
ALL = "All"
KEV_HINT = "No KEV catalog imported yet: Advisories tab → Import advisories…"
#: An overdue KEV date in the side list (lighter in the dark look).
OVERDUE_COLOUR = text_colour("#9b1c14")


# The tiles' look (cards, coloured by meaning only when their number calls for attention) is in the
# application stylesheet, light and dark: ui/theme.py DASHBOARD_QSS and meaning_qss.


def _share_height(w: QWidget) -> None:
    """Height from what the window has, not from the widget's own wish: the word-wrapped labels make
    the scroll area size the page to its preferred height, and the charts' and the KEV list's wishes
    (about 250 px each) pushed the trend below the fold at 1280x800."""
    policy = w.sizePolicy()
    policy.setVerticalPolicy(QSizePolicy.Policy.Ignored)
    w.setSizePolicy(policy)


class TileButton(TileFace):
    """A compliance tile: its number, label and help."""

    def __init__(self, tile: Tile, parent: QWidget | None = None) -> None:
        super().__init__(str(tile), TILE_LABELS[tile], parent)
        self.tile = tile
        self.setToolTip(TILE_HELP[tile] + "\nClick to show these hosts in the inventory.")

    def set_value(self, n: int, sub: str = "") -> None:
        self.number.setText(count_text(n))
        self.sub.setText(sub)
        level = "ok" if n and self.tile == Tile.UP_TO_DATE else ""
        if n and self.tile in UNKNOWN_TILES:
            level = "unknown"
        elif n and self.tile in RED_TILES:
            level = "red"
        elif n and self.tile in AMBER_TILES:
            level = "amber"
        self.setProperty("level", level)
        self.style().unpolish(self)
        self.style().polish(self)
        for w in (self.number, self.caption, self.sub):
            w.style().unpolish(w)
            w.style().polish(w)


def _compute(path: str, f: ComplianceFilter, record_today: bool) -> tuple[Dashboard, Any]:
    """Pool thread: its own connection, closed before returning; the dashboard and the outside-changes
    tile's summary."""
    from db.database import open_database

    db = open_database(Path(path), migrate=False)
    try:
        if record_today:
            db_compliance_history.record_urgent_seen(db)
            db_compliance_history.record_daily(db)
        return db_compliance.dashboard(db, f), outside_summary(db)
    finally:
        db.conn.close()


class DashboardView(QWidget):
    #: host ids and a label: show these hosts in the inventory
    hosts_requested = Signal(list, str)
    #: classification or "" and group or None: show the update list
    updates_requested = Signal(str, object, str)
    #: a package name, KB, advisory or CVE: open the per-update view
    update_requested = Signal(str)
    report_requested = Signal()
    #: the empty state's "add a host" link
    add_host_requested = Signal()
    refreshed = Signal()

    def __init__(self, db, parent: QWidget | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.db = db
        self.db_path = db_database.database_file(db)
        self.data: Dashboard | None = None
        self._generation = 0
        self._record_today = True
        self._pending_refresh = False
        self.busy = False
        # the first refresh is held until the first paint (see the module's docstring)
        self._painted = False
        self._held = False

        self.group_combo = QComboBox()
        self.group_combo.setObjectName("dashGroup")
        self.group_combo.addItem(ALL, None)
        self.ring_combo = self._combo("dashRing", [str(r) for r in Ring])
        self.os_combo = self._combo("dashOs", [*OS_FAMILIES, OS_FAMILY_OTHER, OS_FAMILY_UNKNOWN])
        self.crit_combo = self._combo("dashCriticality", [str(c) for c in Criticality])
        self.stale_spin = QSpinBox()
        self.stale_spin.setObjectName("staleDays")
        self.stale_spin.setRange(1, 365)
        self.stale_spin.setSuffix(" days")
        self.stale_spin.setValue(db_tiles.stale_days(db))
        self.stale_spin.setToolTip(
            "A host counts as not scanned recently after this many days without a scan."
        )
        self.report_button = QPushButton("Report…")
        self.report_button.setObjectName("dashReport")
        self.report_button.clicked.connect(self.report_requested)
        self.status_label = QLabel(LOADING_TEXT)
        self.status_label.setObjectName("hintText")
        self.status_label.installEventFilter(self)  # its first paint releases the first refresh
        bar = QHBoxLayout()
        bar.setSpacing(6)
        for label, w in (
            ("Group", self.group_combo),
            ("Ring", self.ring_combo),
            ("OS", self.os_combo),
            ("Criticality", self.crit_combo),
            ("Stale after", self.stale_spin),
        ):
            bar.addWidget(QLabel(label))
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.status_label)
        bar.addWidget(self.report_button)
        for combo in (self.group_combo, self.ring_combo, self.os_combo, self.crit_combo):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            combo.setMinimumWidth(110)
            combo.currentIndexChanged.connect(self.refresh)
        self.stale_spin.editingFinished.connect(self._stale_changed)

        self.tiles: dict[Tile, TileButton] = {}
        grid = QGridLayout()
        grid.setSpacing(8)
        for i, t in enumerate(TILES):
            b = TileButton(t)
            b.clicked.connect(lambda _=False, t=t: self.open_tile(t))
            self.tiles[t] = b
            grid.addWidget(b, i // TILES_PER_ROW, i % TILES_PER_ROW)
        # Drifted ends the states' row, Outside Patchdesk the updates' row: a third row of two tiles
        # pushed the trend chart below the fold at 1280x800
        self.drift_tile = DriftTile(db)
        self.drift_tile.hosts_requested.connect(self.hosts_requested)
        grid.addWidget(self.drift_tile, 0, TILES_PER_ROW)
        self.outside_tile = OutsideTile()
        grid.addWidget(self.outside_tile, 1, TILES_PER_ROW)
        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setObjectName("dashEmpty")
        self.empty_label.setWordWrap(True)
        self.empty_label.setTextFormat(Qt.TextFormat.RichText)
        self.empty_label.linkActivated.connect(lambda _link: self.add_host_requested.emit())
        self.empty_label.hide()

        # each chart's place; its QChartView is made with the first figures (_chart_view)
        self._chart_boxes = {
            name: self._chart_box(name) for name in ("chartClasses", "chartGroups", "chartTrend")
        }
        self._chart_views: dict[str, QChartView] = {}
        self._group_names: list[str] = []

        self.oldest_label = QLabel("")
        self.oldest_label.setObjectName("oldestUrgent")
        self.oldest_label.setWordWrap(True)
        self.oldest_label.setTextFormat(Qt.TextFormat.RichText)
        self.oldest_label.linkActivated.connect(self.update_requested)
        self.kev_list = QListWidget()
        self.kev_list.setObjectName("kevDue")
        # long lines ("No KEV catalog imported yet: …", a CVE with many packages) wrap, never cut
        self.kev_list.setWordWrap(True)
        self.kev_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.kev_list.setTextElideMode(Qt.TextElideMode.ElideNone)
        _share_height(self.kev_list)
        self.kev_list.itemActivated.connect(self._kev_clicked)
        self.kev_list.itemClicked.connect(self._kev_clicked)
        self.kev_title = QLabel("KEV due dates")
        self.kev_title.setObjectName("sectionTitle")
        side = QVBoxLayout()
        t1 = QLabel("Oldest unpatched urgent update")
        t1.setObjectName("sectionTitle")
        side.addWidget(t1)
        side.addWidget(self.oldest_label)
        side.addSpacing(8)
        side.addWidget(self.kev_title)
        side.addWidget(self.kev_list, 1)
        side_box = QFrame()
        side_box.setObjectName("dashSide")
        side_box.setLayout(side)
        side_box.setMinimumWidth(260)

        charts = QHBoxLayout()
        charts.setSpacing(8)
        charts.addWidget(self._chart_boxes["chartClasses"], 1)
        charts.addWidget(self._chart_boxes["chartGroups"], 1)
        lower = QHBoxLayout()
        lower.setSpacing(8)
        lower.addWidget(self._chart_boxes["chartTrend"], 2)
        lower.addWidget(side_box, 1)

        inner = QWidget()
        col = QVBoxLayout(inner)
        col.setContentsMargins(10, 8, 10, 8)
        col.setSpacing(8)
        col.addLayout(bar)
        col.addWidget(self.empty_label)
        # the numbers and charts, hidden while the scope holds no host (the empty state instead)
        self.body = QWidget()
        body = QVBoxLayout(self.body)
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(8)
        body.addLayout(grid)
        body.addLayout(charts, 1)
        body.addLayout(lower, 1)
        col.addWidget(self.body, 1)
        col.addStretch(0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(inner)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)
        self._debounce.timeout.connect(self._start)
        self._fallback = QTimer(self)
        self._fallback.setSingleShot(True)
        self._fallback.setInterval(FIRST_REFRESH_FALLBACK_MS)
        self._fallback.timeout.connect(self._release)

    # -- building -------------------------------------------------------------------------------

    @staticmethod
    def _combo(name: str, values: list[str]) -> QComboBox:
        c = QComboBox()
        c.setObjectName(name)
        c.addItem(ALL, None)
        for v in values:
            c.addItem(v, v)
        return c

    @staticmethod
    def _chart_box(name: str) -> QWidget:
        """A chart's place: "Loading…" until the chart view takes it over."""
        box = QWidget()
        box.setObjectName(f"{name}Box")
        box.setMinimumHeight(CHART_MIN_HEIGHT)
        _share_height(box)
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        label = QLabel(LOADING_TEXT)
        label.setObjectName("hintText")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setWordWrap(True)
        lay.addWidget(label)
        return box

    def _chart_view(self, name: str) -> QChartView:
        """The chart view in ``name``'s place, made (and QtCharts imported) on first use."""
        view = self._chart_views.get(name)
        if view is not None:
            return view
        from PySide6.QtCharts import QChartView
        from PySide6.QtGui import QPainter

        view = QChartView()
        view.setObjectName(name)
        view.setRenderHint(QPainter.RenderHint.Antialiasing)
        _share_height(view)  # as its place: the window's height, not the chart's wish, sizes it
        box = self._chart_boxes[name]
        lay = box.layout()
        while lay.count():
            item = lay.takeAt(0)
            old = item.widget() if item is not None else None
            if old is not None:  # the "Loading…" label: out of the box now, deleted soon
                old.setParent(None)
                old.deleteLater()
        lay.addWidget(view)
        view.show()  # now, not on the next turn of the event loop (the layout's way for a shown box)
        self._chart_views[name] = view
        return view

    @property
    def class_view(self) -> QChartView:
        return self._chart_view("chartClasses")

    @property
    def group_view(self) -> QChartView:
        return self._chart_view("chartGroups")

    @property
    def trend_view(self) -> QChartView:
        return self._chart_view("chartTrend")

    def _say_in_chart_places(self, text: str) -> None:
        """The charts' places not yet taken by a chart say ``text``."""
        for name, box in self._chart_boxes.items():
            if name not in self._chart_views:
                label = box.findChild(QLabel)
                if label is not None:
                    label.setText(text)

    # -- data -------------------------------------------------------------------------------------

    def current_filter(self) -> ComplianceFilter:
        return ComplianceFilter(
            group=self.group_combo.currentData(),
            ring=self.ring_combo.currentData(),
            os_family=self.os_combo.currentData(),
            criticality=self.crit_combo.currentData(),
        )

    @Slot()
    def refresh(self) -> None:
        """Recompute soon (several triggers in a row cost one query run); before the first paint,
        right after it."""
        if not self._painted:
            self._held = True
            if not self._fallback.isActive():
                self._fallback.start()
            return
        self._debounce.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """The status line's first paint (the dashboard itself is covered by its children and gets
        none): the window's first frame is being drawn."""
        if not self._painted and watched is self.status_label and event.type() == QEvent.Type.Paint:
            self._painted = True
            self.status_label.removeEventFilter(self)
            # once this paint pass is over: the first frame is out before the queries run
            QTimer.singleShot(0, self, self._release)
        return False

    @Slot()
    def _release(self) -> None:
        """The first paint is out (or never came): a refresh held until then starts now."""
        self._painted = True
        self._fallback.stop()
        if self._held:
            self._held = False
            self._start()

    def refresh_at_once(self) -> None:
        """Recompute now, without the debounce: a job's results are in the database (its end). A
        refresh already under way may have read before them, so one more follows it."""
        self._debounce.stop()
        self._start()

    def refresh_now(self) -> None:
        """Synchronous refresh on the main thread's connection (tests, screenshots)."""
        self._generation += 1
        self.outside_tile.show_summary(outside_summary(self.db))
        self._show(self._generation, db_compliance.dashboard(self.db, self.current_filter()))

    @Slot()
    def _start(self) -> None:
        if self.busy:
            self._pending_refresh = True
            return
        self._generation += 1
        gen = self._generation
        f = self.current_filter()
        record, self._record_today = self._record_today, False
        self.busy = True
        self.status_label.setText("Updating…")
        if not self.db_path:  # an in-memory database has no second connection
            self.outside_tile.show_summary(outside_summary(self.db))
            self._show(gen, db_compliance.dashboard(self.db, f))
            return
        path = self.db_path
        submit(self, lambda: _compute(path, f, record), lambda d: self._show_all(gen, d), self._failed)

    def _show_all(self, gen: int, found: tuple[Dashboard, Any]) -> None:
        self.outside_tile.show_summary(found[1])
        self._show(gen, found[0])

    def _failed(self, exc: BaseException) -> None:
        self.busy = False
        logger.warning("dashboard not refreshed: %s", exc)
        self.status_label.setText(f"Not refreshed: {exc}")
        self._say_in_chart_places(NOT_LOADED_TEXT)
        self._start_pending()

    def _start_pending(self) -> None:
        """A refresh asked for while one ran starts now: the triggers were coalesced meanwhile, and
        the one that ran may have read the database before what the trigger announced."""
        if self._pending_refresh:
            self._pending_refresh = False
            self._start()

    def _show(self, gen: int, data: Dashboard) -> None:
        self.busy = False
        if gen == self._generation:  # else a newer filter was chosen meanwhile
            self._draw(data)
        self._start_pending()

    def _draw(self, data: Dashboard) -> None:
        self.data = data
        self._sync_groups(data.groups)
        s = data.summary
        for t, b in self.tiles.items():
            sub = ""
            if t == Tile.URGENT:
                sub = f"{count_text(s.urgent_updates)} updates"
            elif t == Tile.IMPORTANT:
                sub = f"{count_text(s.important_updates)} updates"
            elif t == Tile.NONCRITICAL:
                sub = f"{count_text(s.noncritical_updates)} updates"
            elif t == Tile.UP_TO_DATE:
                pct = s.known_percent
                sub = f"{pct:.0f}% of {count_text(s.known)} known" if pct is not None else "no host known"
            elif t == Tile.UNKNOWN:
                sub = "not in the %" if s[t] else ""
            elif t == Tile.STALE:
                sub = f"> {s.stale_days} days"
            b.set_value(s[t], sub)
        empty = not s[Tile.HOSTS]
        self.empty_label.setText(EMPTY_TEXT if data.filter == ComplianceFilter() else EMPTY_SCOPE_TEXT)
        self.empty_label.setVisible(empty)
        self.body.setVisible(not empty)
        if empty:
            self.tiles[Tile.UP_TO_DATE].sub.setText("")  # no percentage without hosts
        self._set_charts(data)
        self._set_side(data)
        self.drift_tile.refresh()
        self.status_label.setText("")
        self.refreshed.emit()

    def _sync_groups(self, groups: tuple[str, ...]) -> None:
        have = [self.group_combo.itemData(i) for i in range(1, self.group_combo.count())]
        if have == [*groups, ""]:
            return
        current = self.group_combo.currentData()
        self.group_combo.blockSignals(True)
        self.group_combo.clear()
        self.group_combo.addItem(ALL, None)
        for g in groups:
            self.group_combo.addItem(g, g)
        self.group_combo.addItem("(no group)", "")
        idx = self.group_combo.findData(current) if current is not None else 0
        self.group_combo.setCurrentIndex(max(idx, 0))
        self.group_combo.blockSignals(False)

    def _set_charts(self, data: Dashboard) -> None:
        from ui.charts import classification_chart, group_chart, show_slice_labels, trend_chart

        chart, pie = classification_chart(data.summary)
        show_slice_labels(pie)  # the thin slices' labels would overlap (the legend has every count)
        pie.clicked.connect(self._slice_clicked)
        pie.hovered.connect(lambda sl, on: sl.setExploded(on))
        self._replace(self.class_view, chart)
        gchart, bars, names = group_chart(data.by_group)
        self._group_names = names
        bars.clicked.connect(self._bar_clicked)
        self._replace(self.group_view, gchart)
        tchart, line = trend_chart(data.history)
        line.clicked.connect(self._trend_clicked)
        self._replace(self.trend_view, tchart)

    @staticmethod
    def _replace(view: QChartView, chart: QChart) -> None:
        tint_chart(chart)
        old = view.chart()
        view.setChart(chart)
        if old is not None:
            old.deleteLater()

    def _set_side(self, data: Dashboard) -> None:
        o = data.oldest_urgent
        if o is None:
            self.oldest_label.setText("No urgent update is pending in this scope.")
        else:
            since = o.first_seen[:10]
            self.oldest_label.setText(
                f'<a href="{_attr(o.name)}"><b>{_html(o.name)}</b></a> ({_html(o.manager)}) on '
                f"<b>{_html(o.host)}</b>, pending since {since}."
            )
        self.kev_list.clear()
        if not data.kev_available:
            self.kev_title.setText("KEV due dates")
            item = QListWidgetItem(KEV_HINT)
            item.setToolTip(KEV_HINT)
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.kev_list.addItem(item)
            return
        self.kev_title.setText("KEV due dates (past or within 14 days)")
        if not data.kev_due:
            item = QListWidgetItem("Nothing pending has a KEV due date close or past.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.kev_list.addItem(item)
        from datetime import UTC, datetime

        today = datetime.now(UTC).date().isoformat()
        for k in data.kev_due:
            state = "OVERDUE" if k.due_date < today else "due"
            item = QListWidgetItem(
                f"{state} {k.due_date}  {k.cve} — {k.hosts} host(s): {', '.join(k.packages)}"
            )
            item.setData(Qt.ItemDataRole.UserRole, k.cve)
            item.setToolTip(f"{k.name}\n{', '.join(k.packages)}")
            if k.due_date < today:
                item.setForeground(OVERDUE_COLOUR)
            self.kev_list.addItem(item)

    # -- clicks -----------------------------------------------------------------------------------

    def open_tile(self, tile: Tile) -> None:
        """Emit the hosts behind ``tile`` (computed on the main connection: a host-table query)."""
        f = self.current_filter()
        ids = db_compliance.host_ids(self.db, tile, f, days=self.stale_spin.value())
        label = TILE_LABELS[tile] + ("" if f == ComplianceFilter() else f" ({f.describe()})")
        self.hosts_requested.emit(ids, label)

    # plain methods, not @Slot(QPieSlice) and the like: a decorator would need QtCharts' types when
    # this module is imported, before the first paint
    def _slice_clicked(self, sl: QPieSlice) -> None:
        from ui.charts import CLASS_LABELS

        cls = str(sl.property("classification") or "")
        self.updates_requested.emit(cls, self.current_filter().group, f"{CLASS_LABELS.get(cls, cls)} updates")

    def _bar_clicked(self, index: int, barset: QBarSet) -> None:
        from ui.charts import CLASS_LABELS

        if not 0 <= index < len(self._group_names):
            return
        group = self._group_names[index]
        cls = str(barset.property("classification") or "")
        self.updates_requested.emit(
            cls, group, f"{CLASS_LABELS.get(cls, cls)} updates in {group or '(no group)'}"
        )

    @Slot(QPointF)
    def _trend_clicked(self, _point: QPointF) -> None:
        self.open_tile(Tile.UP_TO_DATE)

    @Slot(QListWidgetItem)
    def _kev_clicked(self, item: QListWidgetItem) -> None:
        cve = item.data(Qt.ItemDataRole.UserRole)
        if cve:
            self.update_requested.emit(str(cve))

    @Slot()
    def _stale_changed(self) -> None:
        from app.services import reports

        if reports.set_stale_days(self.db, self.stale_spin.value()):
            self.refresh()


def _html(text: str) -> str:
    from html import escape

    return escape(text)


def _attr(text: str) -> str:
    from html import escape

    return escape(text, quote=True)
