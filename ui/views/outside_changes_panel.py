"""The host detail's "Outside Patchdesk" tab: package changes the host's own history shows that no
Patchdesk job made (app/domain/outside_changes.py), and whether that history could be read at all.
An unreadable history says "unknown" here, never an empty "none"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from PySide6.QtWidgets import (
    QLabel,
    QToolTip,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from db import outside_changes as db_outside
from ui.models.host_status import local_time, one_line
from ui.widgets.tile import TileFace

#: The dashboard tile counts the changes of this many days.
TILE_DAYS = 30

#: Most outside changes listed (the newest); `patchdesk changes HOST` has them all.
LIMIT = 500


class OutsideChangesPanel(QWidget):
    def __init__(self, db, parent: QWidget | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.db = db
        self.status = QLabel()
        self.status.setObjectName("outsideStatus")
        self.status.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setObjectName("outsideChanges")
        self.tree.setRootIsDecorated(False)
        self.tree.setHeaderLabels(("When", "Package", "From", "To", "Change", "Manager"))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.status)
        layout.addWidget(self.tree, 1)

    def show_host(self, host_id: int | None) -> int:
        """Show the host's outside changes; returns how many (for the tab's title)."""
        self.tree.clear()
        self.status.setObjectName("outsideStatus")
        if host_id is None:
            self.status.setText("")
            return 0
        st = db_outside.state(self.db, host_id)
        rows = db_outside.history(self.db, host_id, outside_only=True, limit=100_000)[-LIMIT:]
        for r in reversed(rows):
            QTreeWidgetItem(
                self.tree,
                [
                    local_time(r.when),
                    one_line(r.name, 120),
                    r.from_version or "—",
                    r.to_version or "—",
                    r.action,
                    r.manager,
                ],
            )
        if st is None:
            text = "Not read yet: the next scan reads the host's package history."
        elif st.status == "unknown":
            text = f"Unknown: the last scan could not read the package history ({one_line(st.note, 300)})."
            self.status.setObjectName("warningText")
        else:
            text = (
                f"{len(rows)} change(s) no Patchdesk job made, from the package history read "
                f"{local_time(st.read_at)}."
                if rows
                else "None: every change in the package history read "
                f"{local_time(st.read_at)} was a Patchdesk job's."
            )
            if st.status == "partial":
                text += f" Read in part: {one_line(st.note, 300)}."
        self.status.setText(text)
        for col in range(self.tree.columnCount()):
            self.tree.resizeColumnToContents(col)
        return len(rows)


class OutsideTile(TileFace):
    """The dashboard's "Outside Patchdesk" tile: changes of the last :data:`TILE_DAYS` days that no
    Patchdesk job made, on how many hosts; clicking it lists them (`patchdesk changes HOST` for more)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("outside", "Outside Patchdesk", parent)
        self.listing = ""
        self.clicked.connect(
            lambda: QToolTip.showText(self.mapToGlobal(self.rect().center()), self.listing, self)
        )

    def show_summary(self, summary: OutsideSummary) -> None:
        c = summary.counts
        self.number.setText(str(c.changes))
        self.sub.setText(f"on {c.hosts} host(s)" + (f"; {c.unknown} unknown" if c.unknown else ""))
        self.listing = (
            "\n".join(
                f"{local_time(r.when)}  {one_line(r.host, 40)}: {one_line(r.name, 60)} "
                f"{r.from_version or '-'} → {r.to_version or '-'}"
                for r in reversed(summary.newest)
            )
            or "No change outside Patchdesk in the package histories read."
        )
        self.setToolTip(
            f"Package changes of the last {TILE_DAYS} days that no Patchdesk job made"
            + (f"; {c.unknown} host(s) whose history could not be read (unknown)" if c.unknown else "")
            + ".\nClick to list the newest."
        )
        self.setProperty("level", "red" if c.changes else ("unknown" if c.unknown else ""))
        for w in (self, self.number, self.caption, self.sub):
            w.style().unpolish(w)
            w.style().polish(w)


@dataclass(frozen=True)
class OutsideSummary:
    counts: db_outside.OutsideCounts
    newest: list[db_outside.HistoryRow]


def outside_summary(db) -> OutsideSummary:  # type: ignore[no-untyped-def]
    """What the tile shows (read on the dashboard's pool thread, with its connection)."""
    since = datetime.now(UTC) - timedelta(days=TILE_DAYS)
    rows = db_outside.history(db, since=since, outside_only=True, limit=100_000)[-20:]
    return OutsideSummary(db_outside.counts(db, since), rows)
