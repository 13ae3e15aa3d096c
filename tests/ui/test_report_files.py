"""Issue #19 items 10 and 11: report files are written atomically (a failed write is a sentence, not
"Wrote the PDF report"), and chart labels from data are plain text (a group named
``<img src=...>`` does not embed a local image)."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QImage

from app.cli import main as cli
from app.domain.compliance import GroupPending
from app.domain.models import Host
from app.services import inventory


@pytest.fixture(autouse=True)
def _pdf_renderer(monkeypatch: pytest.MonkeyPatch) -> None:
    import app.logsetup
    from app.reports import pdf
    from ui.main import _register_pdf_renderer

    monkeypatch.setattr(app.logsetup, "setup_logging", lambda **kw: None)
    _register_pdf_renderer()
    yield
    pdf.register(None)


def run(capsys: pytest.CaptureFixture[str], db_path: Path, *argv: str) -> tuple[int, str]:
    rc = cli.run(cli.parse(["--db", str(db_path), *argv]), io.StringIO())
    return rc, capsys.readouterr().err


def exported(db_path: Path) -> int:
    conn = sqlite3.connect(db_path)
    try:
        return int(
            conn.execute("SELECT count(*) FROM audit_log WHERE action = 'report.exported'").fetchone()[0]
        )
    finally:
        conn.close()


@pytest.fixture
def fleet(db, db_path: Path) -> Path:  # type: ignore[no-untyped-def]
    inventory.add_host(db, Host(name="web01.invalid", address="127.0.0.1", group="web"))
    return db_path


@pytest.mark.parametrize("fmt", ["pdf", "html", "csv", "json"])
def test_a_failed_pdf_write_is_reported_as_success_folder(qapp, capsys, fleet, tmp_path, fmt) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "out"
    folder.mkdir()
    rc, err = run(capsys, fleet, "report", "--format", fmt, "-o", str(folder))
    assert rc == cli.EXIT_FAILED and "Wrote" not in err and "is a folder" in err, err
    assert exported(fleet) == 0 and list(folder.iterdir()) == []


@pytest.mark.parametrize("fmt", ["pdf", "html"])
def test_a_failed_pdf_write_is_reported_as_success_read_only_file(qapp, capsys, fleet, tmp_path, fmt) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / f"report.{fmt}"
    target.write_text("the old report")
    target.chmod(0o444)
    rc, err = run(capsys, fleet, "report", "--format", fmt, "-o", str(target))
    assert rc == cli.EXIT_FAILED and "Wrote" not in err and "read-only" in err, err
    assert target.read_text() == "the old report" and exported(fleet) == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report")] == []


def test_a_failed_pdf_write_is_reported_as_success_missing_folder(qapp, capsys, fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rc, err = run(capsys, fleet, "report", "--format", "pdf", "-o", str(tmp_path / "no" / "r.pdf"))
    assert rc == cli.EXIT_FAILED and "does not exist" in err and exported(fleet) == 0


def test_a_failed_pdf_write_is_reported_as_success_renderer_writes_nothing(
    qapp, capsys, fleet, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """A PDF writer that silently produces nothing over an existing file: the old file stays."""
    from app.reports import pdf

    pdf.register(lambda report, path: None)
    target = tmp_path / "report.pdf"
    target.write_bytes(b"%PDF-1.4 old")
    rc, err = run(capsys, fleet, "report", "--format", "pdf", "-o", str(target))
    assert rc == cli.EXIT_FAILED and "could not be written" in err
    assert target.read_bytes() == b"%PDF-1.4 old" and exported(fleet) == 0


def test_a_pdf_write_that_works_replaces_the_file_and_is_audited(qapp, capsys, fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "report.pdf"
    target.write_bytes(b"old")
    rc, err = run(capsys, fleet, "report", "--format", "pdf", "-o", str(target))
    assert rc == cli.EXIT_OK and "Wrote the PDF report" in err
    assert target.read_bytes()[:5] == b"%PDF-" and exported(fleet) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_export_files_are_written_atomically(capsys, fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "out"
    folder.mkdir()
    for argv in (["export", "ics"], ["export", "changes"]):
        rc, err = run(capsys, fleet, *argv, "-o", str(folder))
        assert rc == cli.EXIT_FAILED and "is a folder" in err and "Wrote" not in err
    rc, err = run(capsys, fleet, "export", "ics", "-o", str(tmp_path / "w.ics"))
    assert rc == cli.EXIT_OK and (tmp_path / "w.ics").read_text().startswith("BEGIN:VCALENDAR")


# -- item 11 ---------------------------------------------------------------------------------------------

EVIL = QColor("#ff00ff")


def _magenta(image: QImage) -> int:
    return sum(
        1
        for y in range(0, image.height(), 2)
        for x in range(0, image.width(), 2)
        if image.pixelColor(x, y) == EVIL
    )


def test_group_names_are_rendered_as_qt_rich_text_in_pdf_charts(qapp, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ui.charts import group_chart, render_chart

    picture = QImage(24, 24, QImage.Format.Format_ARGB32)  # small enough to fit the label row
    picture.fill(EVIL)
    evil = tmp_path / "evil.png"
    assert picture.save(str(evil))
    name = f'<img src="{evil}">'
    chart, _series, names = group_chart(
        [GroupPending(name, 1, 3, 1, 0), GroupPending("<b>db</b>", 1, 1, 0, 0)]
    )
    assert names[-1] == name  # the dashboard's click still gets the real name
    image = render_chart(chart, QSize(480, 270))
    assert _magenta(image) == 0, "the group's name embedded a local image"


def test_a_failed_pdf_write_is_reported_as_success_ui_write_pdf(qapp, db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """ui/report_pdf.write_pdf itself (the GUI's and a library caller's entry): staged, checked, renamed."""
    from app.domain.errors import PatchdeskError
    from app.services.reports import build_report
    from ui.report_pdf import write_pdf

    report = build_report(db)
    with pytest.raises(PatchdeskError, match="is a folder"):
        write_pdf(report, tmp_path)
    target = tmp_path / "r.pdf"
    target.write_bytes(b"old")
    target.chmod(0o444)
    with pytest.raises(PatchdeskError, match="read-only"):
        write_pdf(report, target)
    assert target.read_bytes() == b"old"
    target.chmod(0o644)
    write_pdf(report, target)
    assert target.read_bytes()[:5] == b"%PDF-" and not list(tmp_path.glob(".r.pdf.*"))
