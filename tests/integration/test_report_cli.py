"""`patchdesk report` in every format and `patchdesk audit` from the real entry point (subprocess),
on a generated fleet; the PDF is rasterised with pdftoppm; tampering with the SQLite file is caught."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.integration.test_scan_cli import cli
from tests.support import unavailable
from tests.support.fleet import populate


@pytest.fixture
def fleet_path(db, db_path: Path) -> Path:  # type: ignore[no-untyped-def]
    populate(db, hosts=150, days=12)
    db.conn.close()
    return db_path


def test_report_formats(fleet_path: Path, tmp_path: Path) -> None:
    r = cli(fleet_path, "report", "--group", "web")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert rows and {row["group"] for row in rows} == {"web"}
    for fmt in ("csv", "json", "html", "pdf"):
        out = tmp_path / f"report.{fmt}"
        r = cli(fleet_path, "report", "--format", fmt, "-o", str(out))
        assert r.returncode == 0, r.stderr
        assert out.stat().st_size > 0 and "150 hosts" in r.stderr
    data = json.loads((tmp_path / "report.json").read_text())
    assert len(data["hosts"]) == 150 and len(data["history"]) == 13
    assert (tmp_path / "report.pdf").read_bytes()[:5] == b"%PDF-"
    # exports are audited
    r = cli(fleet_path, "audit", "list", "--json")
    assert [e["action"] for e in json.loads(r.stdout)["entries"]].count("report.exported") == 4


def test_pdf_pages_show_tiles_chart_and_table(fleet_path: Path, tmp_path: Path) -> None:
    if not shutil.which("pdftoppm"):
        unavailable("pdftoppm (poppler-utils) is not installed")
    out = tmp_path / "report.pdf"
    r = cli(fleet_path, "report", "--format", "pdf", "-o", str(out))
    assert r.returncode == 0, r.stderr
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(out), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) >= 2  # tiles and charts, then the rest of the 150-row table
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    for needle in ("Missing urgent", "Up to date", "Hosts (150)", "web-000"):
        assert needle in text
    from PySide6.QtGui import QImage

    img = QImage(str(pages[0]))
    colours = {
        img.pixelColor(x, y).name() for x in range(0, img.width(), 3) for y in range(0, img.height(), 3)
    }
    assert "#17803d" in colours or any(c.startswith("#1") and c != "#1d2330" for c in colours)
    assert len(colours) > 50  # a rendered chart, not just text


def test_pdf_from_a_past_date(fleet_path: Path, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    day = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    out = tmp_path / "past.pdf"
    r = cli(fleet_path, "report", "--date", day, "--format", "pdf", "-o", str(out))
    assert r.returncode == 0, r.stderr
    r = cli(fleet_path, "report", "--date", "1999-01-01")
    assert r.returncode == 2 and "No compliance snapshot" in r.stderr
    r = cli(fleet_path, "report", "--group", "nope")
    assert r.returncode == 2 and "Unknown group" in r.stderr


def test_audit_verify_names_the_tampered_entry(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    for i in range(4):
        r = cli(path, "hosts", "add", f"web{i}", "--address", f"127.0.9.{i}")
        assert r.returncode == 0, r.stderr
    r = cli(path, "hosts", "remove", "web3")
    assert r.returncode == 0
    r = cli(path, "audit", "verify")
    assert r.returncode == 0 and "5 entries" in r.stdout
    listed = json.loads(cli(path, "audit", "list", "--json").stdout)["entries"]
    assert [e["action"] for e in listed] == ["host.removed"] + ["host.added"] * 4
    assert listed[0]["actor"]

    conn = sqlite3.connect(path)
    conn.execute("UPDATE audit_log SET target = 'someone-else' WHERE id = 2")
    conn.commit()
    r = cli(path, "audit", "verify")
    assert r.returncode == 1 and "entry 2" in r.stderr
    conn.execute("UPDATE audit_log SET target = 'web1' WHERE id = 2")
    conn.commit()
    assert cli(path, "audit", "verify").returncode == 0

    conn.execute("DELETE FROM audit_log WHERE id = 3")
    conn.commit()
    conn.close()
    r = cli(path, "audit", "verify", "--json")
    data = json.loads(r.stdout)
    assert r.returncode == 1 and data["broken_id"] == 4 and "missing" in data["reason"]


def test_hosts_list_and_report_carry_compliance_and_last_job(db, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue #17: per host, the compliance state and the newest finished job's kind and state."""
    from tests.support.mixed_fleet import populate_mixed

    populate_mixed(db)
    db.conn.close()
    r = cli(db_path, "hosts", "list", "--json")
    assert r.returncode == 0, r.stderr
    hosts = {h["name"]: h for h in json.loads(r.stdout)["hosts"]}
    expected = {
        "compliant.invalid": "compliant",
        "pending.invalid": "non_compliant",
        "never.invalid": "unknown",
        "scanfail.invalid": "unknown",
        "unreach.invalid": "unknown",
        "stale.invalid": "unknown",
        "patchfail.invalid": "compliant",
        "rolledback.invalid": "non_compliant",
    }
    assert {n: h["compliance"] for n, h in hosts.items()} == expected
    assert hosts["never.invalid"]["last_job"] is None
    assert {k: hosts["patchfail.invalid"]["last_job"][k] for k in ("kind", "state")} == {
        "kind": "patch",
        "state": "failed",
    }
    assert hosts["rolledback.invalid"]["last_job"]["kind"] == "rollback"
    table = cli(db_path, "hosts", "list")
    assert "COMPLIANCE" in table.stdout and "non-compliant" in table.stdout

    r = cli(db_path, "report", "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["summary"]["hosts"]["unknown"] == 4
    assert {h["name"]: h["compliance"] for h in data["hosts"]} == expected
    by_name = {h["name"]: h for h in data["hosts"]}
    assert by_name["patchfail.invalid"]["last_job"]["state"] == "failed"
    assert by_name["compliant.invalid"]["last_job"]["kind"] == "scan"
