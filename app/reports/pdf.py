"""The PDF hook: app/ may not import QtGui, so the PDF renderer lives in ui/report_pdf.py.

The composition root (ui/main.py) registers the renderer before running a CLI command; the GUI
registers it when it starts. ``patchdesk report --format pdf`` then calls :func:`write_pdf`. Without a
registered renderer (app/ used as a library without ui/) the command says so in a sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from app.domain.errors import PatchdeskError

if TYPE_CHECKING:
    # Only a type here: every CLI command registers the renderer, and the reports service (with the
    # compliance queries it imports) is not what a scan should load.
    from app.services.reports import Report

PdfRenderer = Callable[["Report", Path], None]
_renderer: PdfRenderer | None = None


class PdfUnavailableError(PatchdeskError):
    """No PDF renderer is registered (Qt's GUI libraries are not part of this installation)."""


def register(renderer: PdfRenderer | None) -> None:
    global _renderer
    _renderer = renderer


def available() -> bool:
    return _renderer is not None


def write_pdf(report: Report, path: Path) -> None:
    if _renderer is None:
        raise PdfUnavailableError(
            "PDF reports need Patchdesk's GUI libraries (Qt), which are not available here; "
            "use --format html and print that to PDF instead."
        )
    _renderer(report, path)
