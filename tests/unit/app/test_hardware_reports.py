"""#24 item 4: the hardware inventory in the compliance report (JSON, HTML) and in ``export
hardware`` (CSV, JSON), host text defused for spreadsheets and escaped in HTML."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from sqlite_utils import Database

from app.cli.main import parse, run
from app.domain.hardware import Disk, Hardware
from app.domain.models import Host, OsFacts, ScanResult
from app.reports import render
from app.services.reports import build_report
from db import hosts as db_hosts
from db import scans as db_scans
from db.database import open_database

HW = Hardware(
    manufacturer="Dell Inc.",
    model="<b>PowerEdge</b> R650",
    serial="=cmd|' /C calc'!A0",
    bios_version="1.10.2",
    cpu_count=32,
    memory_bytes=2**30,
    disks=(Disk("sda", 10**9, "PERC"),),
)


def _fleet(db: Database) -> None:
    a = db_hosts.add_host(db, Host("srv1", "127.0.9.1"))
    db_hosts.add_host(db, Host("never", "127.0.9.2"))
    assert a.id is not None
    db_scans.record_scan(db, a.id, None, ScanResult(OsFacts(id="debian", hardware=HW), ("apt",), ()))


def test_report_json_and_html_carry_the_hardware(db: Database) -> None:
    _fleet(db)
    report = build_report(db)
    hosts = {h["name"]: h for h in json.loads(render.to_json(report))["hosts"]}
    assert hosts["srv1"]["hardware"]["model"] == "<b>PowerEdge</b> R650"
    assert hosts["never"]["hardware"] is None
    html = render.to_html(report)
    assert "<h2>Hardware (1)</h2>" in html and "&lt;b&gt;PowerEdge" in html and "<b>PowerEdge" not in html


def _cli(db_path: Path, *argv: str) -> str:
    out = io.StringIO()
    assert run(parse(["--db", str(db_path), *argv]), out) == 0
    return out.getvalue()


def test_export_hardware_csv_and_json(db_path: Path) -> None:
    db = open_database(db_path)
    _fleet(db)
    db.conn.close()
    rows = list(csv.DictReader(io.StringIO(_cli(db_path, "export", "hardware"))))
    by = {r["host"]: r for r in rows}
    assert by["srv1"]["serial"].startswith("'=cmd")  # a formula stays text in a spreadsheet
    assert by["srv1"]["memory_bytes"] == str(2**30) and by["srv1"]["disks"] == "sda 1000000000 PERC"
    assert by["never"]["model"] == "" and by["never"]["cpu_count"] == ""
    data = json.loads(_cli(db_path, "export", "hardware", "--format", "json", "--model", "poweredge"))
    assert [h["host"] for h in data["hosts"]] == ["srv1"]
