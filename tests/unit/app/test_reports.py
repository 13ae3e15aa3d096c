"""Reports (CSV/JSON/HTML, past days) and alerts (job alerts, e-mail through a local SMTP server)."""

from __future__ import annotations

import csv
import io
import json
import socketserver
import threading
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.compliance import ComplianceFilter, Tile
from app.reports import pdf, render
from app.services import alerts
from app.services.reports import build_report
from db import compliance as db_compliance
from db import compliance_history as db_compliance_history
from tests.support.fleet import populate


@pytest.fixture
def fleet(db):  # type: ignore[no-untyped-def]
    return populate(db, hosts=120, days=10)


def test_csv_json_html(db, fleet) -> None:  # type: ignore[no-untyped-def]
    report = build_report(db, ComplianceFilter(group="web"))
    rows = list(csv.DictReader(io.StringIO(render.to_csv(report))))
    assert (
        len(rows)
        == report.summary[Tile.HOSTS]
        == db_compliance.summary(db, ComplianceFilter(group="web"))[Tile.HOSTS]
    )
    assert {r["group"] for r in rows} == {"web"}
    assert sum(int(r["urgent"]) for r in rows) == report.summary.urgent_updates
    data = json.loads(render.to_json(report))
    assert data["summary"]["hosts"]["urgent"] == report.summary[Tile.URGENT]
    assert len(data["hosts"]) == len(rows) and len(data["history"]) == 11
    html = render.to_html(report)
    assert "<svg" in html and "Missing urgent" in html and rows[0]["host"] in html


def test_csv_defuses_formulas(db) -> None:  # type: ignore[no-untyped-def]
    from app.domain.models import Host
    from db import hosts as db_hosts

    db_hosts.add_host(db, Host(name="x1", address="127.0.9.1", group="=cmd|' /C calc'!A0"))
    text = render.to_csv(build_report(db))
    assert "'=cmd" in text


def test_html_escapes_host_text(db) -> None:  # type: ignore[no-untyped-def]
    from app.domain.models import Host
    from db import hosts as db_hosts

    db_hosts.add_host(db, Host(name="x1", address="127.0.9.1", group="<script>alert(1)</script>"))
    assert "<script>" not in render.to_html(build_report(db))


def test_past_day_uses_its_snapshot(db, fleet) -> None:  # type: ignore[no-untyped-def]
    day = (datetime.now(UTC) - timedelta(days=5)).date()
    report = build_report(db, None, day)
    point = next(p for p in db_compliance_history.history(db) if p.day == day.isoformat())
    assert not report.live and report.hosts == ()
    assert report.summary[Tile.HOSTS] == point.hosts and report.summary.urgent_updates == point.urgent
    assert report.history[-1].day == day.isoformat()
    assert "tile" in render.to_csv(report).splitlines()[0]
    with pytest.raises(ValueError, match="No compliance snapshot"):
        build_report(db, None, day - timedelta(days=100))


def test_pdf_without_a_renderer_is_a_sentence(db) -> None:  # type: ignore[no-untyped-def]
    pdf.register(None)
    with pytest.raises(pdf.PdfUnavailableError, match="html"):
        pdf.write_pdf(build_report(db), __import__("pathlib").Path("/nonexistent.pdf"))


# -- alerts ---------------------------------------------------------------------------------------


def test_job_alerts(db, fleet) -> None:  # type: ignore[no-untyped-def]
    found = alerts.job_alerts(db, fleet.failed_job, [alerts.KeyChange("web-005", "SHA256:old", "SHA256:new")])
    kinds = [a.kind for a in found]
    assert kinds == [
        alerts.AlertKind.JOB_FAILED,
        alerts.AlertKind.VERIFICATION_RED,
        alerts.AlertKind.HOST_KEY_CHANGED,
    ]
    assert len(found[0].hosts) == 3 and len(found[1].hosts) == 1
    assert "SHA256:new" in found[2].message


def test_new_urgent_update_alert(db, fleet) -> None:  # type: ignore[no-untyped-def]
    from app.domain.models import Classification, JobKind, OsFacts, PendingUpdate, ScanResult, StepState
    from db import hosts as db_hosts
    from db import jobs as db_jobs
    from db import scans as db_scans

    host = db_hosts.get_host(db, fleet.host_ids[50])
    job = db_jobs.create_job(db, JobKind.SCAN, [host])
    old = [u for u in db_scans.pending_for_host(db, host.id)]
    fresh = PendingUpdate("apt", "pd-brand-new", "2.0", "1.0", classification=Classification.URGENT)
    db_scans.record_scan(db, host.id, job, ScanResult(OsFacts(id="debian"), ("apt",), (*old, fresh)))
    db_jobs.set_host_state(db, job, host.id, StepState.SUCCEEDED)
    db_compliance_history.after_job(db, job)
    [alert] = alerts.job_alerts(db, job)
    assert alert.kind == alerts.AlertKind.URGENT_UPDATE and "pd-brand-new" in alert.message
    assert alert.hosts == (host.name,)


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT."""

    def reply(self, line: str) -> None:
        self.wfile.write((line + "\r\n").encode())

    def handle(self) -> None:
        server = self.server
        self.reply("220 test ESMTP")
        while True:
            line = self.rfile.readline().decode().rstrip("\r\n")
            if not line:
                return
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.wfile.write(b"250-test\r\n250 AUTH PLAIN\r\n")
            elif verb == "AUTH":
                server.auth.append(line)  # type: ignore[attr-defined]
                self.reply("235 ok")
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                server.envelope.append(line)  # type: ignore[attr-defined]
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 go on")
                body = []
                while (chunk := self.rfile.readline().decode()) not in (".\r\n", ""):
                    body.append(chunk)
                server.messages.append("".join(body))  # type: ignore[attr-defined]
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 no")


@pytest.fixture
def smtp_server():  # type: ignore[no-untyped-def]
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.daemon_threads = True
    server.messages, server.envelope, server.auth = [], [], []  # type: ignore[attr-defined]
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server
    server.shutdown()
    server.server_close()


class _Secrets:
    def __init__(self) -> None:
        self.stored: dict[str, str] = {}

    def set(self, ref: str, value: str) -> None:
        self.stored[ref] = value

    def get(self, ref: str) -> str | None:
        return self.stored.get(ref)


def test_email_alert_through_local_smtp(db, fleet, smtp_server) -> None:  # type: ignore[no-untyped-def]
    port = smtp_server.server_address[1]
    secrets = _Secrets()
    alerts.save_email_settings(
        db,
        alerts.EmailSettings(
            enabled=True,
            host="127.0.0.1",
            port=port,
            starttls=False,
            user="ops",
            sender="pd@example.test",
            recipients=("soc@example.test", "admin@example.test"),
            timeout=5,
        ),
    )
    ref = alerts.set_password(db, secrets, "s3cret")
    assert "s3cret" not in str(db.execute("SELECT * FROM settings").fetchall())
    shown = []
    problems = alerts.deliver(
        db, alerts.job_alerts(db, fleet.failed_job), desktop=shown.append, secrets=secrets
    )
    assert problems == []
    assert len(shown) == 2  # job failed + verification red, on the desktop
    [message] = smtp_server.messages
    assert "failed on 3 host(s)" in message and "verification red" in message.lower()
    assert any("soc@example.test" in e for e in smtp_server.envelope)
    import base64

    assert base64.b64decode(smtp_server.auth[0].split()[-1]).split(b"\0")[1:] == [b"ops", b"s3cret"]
    assert secrets.get(ref) == "s3cret"


def test_email_failures_are_sentences(db, fleet, smtp_server) -> None:  # type: ignore[no-untyped-def]
    port = smtp_server.server_address[1]
    settings = alerts.EmailSettings(
        enabled=True, host="127.0.0.1", port=port, starttls=True, recipients=("a@example.test",), timeout=5
    )
    [problem] = alerts.deliver(db, alerts.job_alerts(db, fleet.failed_job), settings=settings)
    assert "does not offer STARTTLS" in problem
    # a server that never answers: the timeout, not a hang
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        slow = alerts.EmailSettings(
            enabled=True,
            host="127.0.0.1",
            port=silent.getsockname()[1],
            starttls=False,
            recipients=("a@example.test",),
            timeout=0.5,
        )
        [problem] = alerts.deliver(db, alerts.job_alerts(db, fleet.failed_job), settings=slow)
    finally:
        silent.close()
    assert "did not answer within 0.5 s" in problem


def test_report_counts_unknown_hosts_apart(db) -> None:  # type: ignore[no-untyped-def]
    """Issue #17: unknown hosts are their own count in every format; the percentage is over the known."""
    from tests.support.mixed_fleet import populate_mixed

    populate_mixed(db)
    report = build_report(db)
    data = json.loads(render.to_json(report))
    assert data["summary"]["hosts"]["unknown"] == 4 and data["summary"]["hosts"]["up_to_date"] == 2
    assert data["summary"]["compliance"] == {"compliant": 2, "non_compliant": 2, "unknown": 4}
    assert data["summary"]["compliance_percent_of_known"] == 50.0
    hosts = {h["name"]: h for h in data["hosts"]}
    assert hosts["scanfail.invalid"]["compliance"] == "unknown"
    assert hosts["scanfail.invalid"]["up_to_date"] is False
    assert hosts["pending.invalid"]["compliance"] == "non_compliant"
    assert hosts["patchfail.invalid"]["last_job"]["state"] == "failed"
    assert hosts["never.invalid"]["last_job"] is None
    rows = {r["host"]: r for r in csv.DictReader(io.StringIO(render.to_csv(report)))}
    assert rows["never.invalid"]["compliance"] == "unknown"
    assert rows["rolledback.invalid"]["last_job_kind"] == "rollback"
    html = render.to_html(report)
    assert ">Unknown<" in html and "50.0%</b> of 4 hosts with a known state" in html
    assert "4</b> unknown" in html


def test_report_with_no_hosts_is_an_empty_state(db) -> None:  # type: ignore[no-untyped-def]
    report = build_report(db)
    data = json.loads(render.to_json(report))
    assert data["summary"]["compliance_percent"] is None
    assert data["summary"]["compliance_percent_of_known"] is None
    html = render.to_html(report)
    assert "100" not in html.split("<h2>Summary</h2>")[1].split("<h2>")[0]
    assert "No hosts yet" in html


def test_past_day_report_counts_unknown_hosts(db, fleet) -> None:  # type: ignore[no-untyped-def]
    day = datetime.now(UTC).date()
    db_compliance_history.record_daily(db, day=(day - timedelta(days=1)).isoformat())
    report = build_report(db, None, day - timedelta(days=1))
    live = build_report(db)
    assert report.summary[Tile.UNKNOWN] == live.summary[Tile.UNKNOWN]
    assert report.summary[Tile.NON_COMPLIANT] == live.summary[Tile.NON_COMPLIANT]
    data = json.loads(render.to_json(report))
    assert data["summary"]["hosts"]["unknown"] == live.summary[Tile.UNKNOWN]
    assert data["history"][-1]["unknown"] == live.summary[Tile.UNKNOWN]
    assert data["history"][-1]["compliance_percent_of_known"] is not None
