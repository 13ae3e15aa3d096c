"""File → Report…: export the compliance report for the dashboard's current scope.

PDF is drawn with Qt (ui/report_pdf.py); HTML, CSV and JSON are text from app.reports.render. Each
export is written atomically and audited in the same step (app/reports/files.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QFileDialog

from app.domain.errors import PatchdeskError
from ui.messages import show_error

if TYPE_CHECKING:
    from ui.main_window import MainWindow


class ReportExporter(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.win = window

    @Slot()
    def export_report_dialog(self) -> None:
        win = self.win
        path, chosen = QFileDialog.getSaveFileName(
            win,
            "Export compliance report",
            "patchdesk-compliance.pdf",
            "PDF (*.pdf);;HTML (*.html);;CSV (*.csv);;JSON (*.json)",
        )
        if not path:
            return
        fmt = chosen.split(" ", 1)[0].lower() if chosen else "pdf"
        suffix = path.rsplit(".", 1)[-1].lower() if "." in path else ""
        if suffix in ("pdf", "html", "csv", "json"):
            fmt = suffix
        try:
            self.export_report(path, fmt)
        except (PatchdeskError, OSError, ValueError) as exc:
            show_error(win, f"The report was not written: {exc}", "Report")
            return
        win.statusBar().showMessage(f"Wrote the {fmt.upper()} report to {path}.", 8000)

    def export_report(self, path: str, fmt: str) -> None:
        """Write the report for the dashboard's current scope (PDF with Qt, others as text), atomically
        and with its audit entry (app/reports/files.py)."""
        from pathlib import Path

        from app.reports.files import write_report
        from app.services.reports import build_report
        from ui.report_pdf import render_pdf

        db = self.win.db
        scope = self.win.dashboard.current_filter()
        report = build_report(db, scope)
        write_report(db, report, Path(path), fmt, scope.describe(), render_pdf)
