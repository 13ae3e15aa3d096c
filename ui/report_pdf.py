"""The PDF compliance report: the HTML report laid out by QTextDocument, with QtCharts images.

Lives in ui/ because it needs QtGui/QtWidgets; the CLI reaches it through the hook in
app/reports/pdf.py (registered by ui/main.py), creating an offscreen QApplication for that one
command when none exists.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMarginsF, QSize, QSizeF, QUrl
from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter, QTextDocument
from PySide6.QtWidgets import QApplication

from app.domain.errors import PatchdeskError
from app.reports.files import stage
from app.reports.render import html_document
from app.services.reports import Report
from ui.charts import classification_chart, group_chart, render_chart, trend_chart

CHART_SIZE = QSize(760, 300)
SMALL_CHART_SIZE = QSize(480, 270)


def write_pdf(report: Report, path: Path) -> None:
    """Write ``report`` as a PDF to ``path`` atomically: rendered to a temporary file beside it, checked,
    renamed; a failure is a sentence and leaves ``path`` as it was."""
    stage(path, lambda tmp: render_pdf(report, tmp), magic=b"%PDF-").publish()


def render_pdf(report: Report, path: Path) -> None:
    """Render ``report`` as an A4 PDF into ``path`` (a staged file: see :func:`write_pdf`): title,
    tiles, charts, the per-host table (paged)."""
    doc = QTextDocument()
    charts: dict[str, str] = {}
    images = {
        "chart-classes": classification_chart(report.summary)[0],
        "chart-trend": trend_chart(report.history)[0],
        "chart-groups": group_chart(report.by_group)[0],
    }
    for name, chart in images.items():
        size = CHART_SIZE if name == "chart-trend" else SMALL_CHART_SIZE
        doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), render_chart(chart, size))
    charts["Charts"] = (
        '<table width="100%"><tr><td><img src="chart-classes" width="330" height="185"></td>'
        '<td><img src="chart-groups" width="330" height="185"></td></tr></table>'
        '<p><img src="chart-trend" width="665" height="262"></p>'
    )
    doc.setHtml(html_document(report, charts))
    writer = QPdfWriter(str(path))
    writer.setTitle(report.title)
    writer.setCreator("Patchdesk")
    writer.setResolution(96)
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            QPageLayout.Orientation.Portrait,
            QMarginsF(12, 12, 12, 12),
            QPageLayout.Unit.Millimeter,
        )
    )
    rect = writer.pageLayout().paintRectPixels(writer.resolution())
    doc.setPageSize(QSizeF(rect.width(), rect.height()))
    doc.print_(writer)
    # QPdfWriter says nothing when it cannot open its file; what it left behind is the only sign
    if not path.is_file() or path.stat().st_size == 0:
        raise PatchdeskError(
            f"The PDF {path} could not be written (check the folder exists and is writable)."
        )


def write_pdf_offscreen(report: Report, path: Path) -> None:
    """For the CLI, whose report command stages the file itself (app/reports/files.py): make sure a
    QApplication exists (offscreen, so no display is needed), then render into ``path``."""
    if QApplication.instance() is None:
        QApplication(["patchdesk", "-platform", "offscreen"])
    render_pdf(report, path)
