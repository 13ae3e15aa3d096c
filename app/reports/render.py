"""CSV, JSON and HTML renderings of a :class:`~app.services.reports.Report` (pure text, no Qt).

The HTML is self-contained (inline CSS and SVG charts) so it can be mailed or archived as one file;
the PDF renderer (ui/report_pdf.py) reuses :func:`html_document` with the QtCharts images instead of
the SVG, which Qt's rich-text engine does not draw.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from html import escape

from app.domain.compliance import TILE_HELP, TILE_LABELS, LastJob, Tile
from app.domain.hardware import human_bytes
from app.services.reports import Report

CLASS_COLOURS = {"urgent": "#b3261e", "important": "#d97706", "noncritical": "#64748b"}
OK_COLOUR = "#17803d"
#: Unknown compliance (nothing recent seen) has its own colour, neither green nor red.
UNKNOWN_COLOUR = "#6d5a9c"
COMPLIANCE_COLOURS = {"compliant": OK_COLOUR, "non_compliant": "#b3261e", "unknown": UNKNOWN_COLOUR}
COMPLIANCE_TEXT = {"compliant": "compliant", "non_compliant": "non-compliant", "unknown": "unknown"}
EMPTY_TEXT = "No hosts yet: add hosts (patchdesk hosts add, or Add host in the console) and scan them."

#: The tiles a report shows, in order.
REPORT_TILES = (
    Tile.HOSTS,
    Tile.UP_TO_DATE,
    Tile.NON_COMPLIANT,
    Tile.UNKNOWN,
    Tile.URGENT,
    Tile.IMPORTANT,
    Tile.NONCRITICAL,
    Tile.FAILED,
    Tile.UNREACHABLE,
    Tile.STALE,
    Tile.REBOOT,
)
TILES_PER_ROW = 6

CSV_COLUMNS = (
    "host",
    "address",
    "group",
    "ring",
    "criticality",
    "os",
    "status",
    "last_scan",
    "urgent",
    "important",
    "noncritical",
    "reboot_required",
    "failed_last_job",
    "up_to_date",
    "compliance",
    "last_job_kind",
    "last_job_state",
)


def _cell(value: object) -> str:
    """Spreadsheet-safe text: a leading = + - @ would be run as a formula by Excel/LibreOffice.
    Control characters (ESC, CR, LF... from a database written before names were checked) become
    "?": on a terminal they would drive it, in a spreadsheet split the row."""
    text = "" if value is None else str(value)
    if not text.isprintable():
        text = "".join(c if c.isprintable() else "?" for c in text)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


#: for other exports of host text to spreadsheets (app/reports/hardware.py)
spreadsheet_cell = _cell


def to_csv(report: Report) -> str:
    """The per-host table (live report), or the day's totals (past date) as tile,count rows."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if not report.live:
        w.writerow(["as_of", "tile", "hosts"])
        for t in REPORT_TILES:
            if t in report.summary.counts:  # a snapshot has no unknown / non-compliant split
                w.writerow([report.as_of, str(t), report.summary[t]])
        return buf.getvalue()
    w.writerow(CSV_COLUMNS)
    for h in report.hosts:
        w.writerow(
            [
                _cell(v)
                for v in (
                    h.name,
                    h.address,
                    h.group,
                    h.ring,
                    h.criticality,
                    h.os,
                    h.status,
                    h.last_scan or "",
                    h.urgent,
                    h.important,
                    h.noncritical,
                    "yes" if h.reboot_required else "no",
                    "yes" if h.failed_last_job else "no",
                    "yes" if h.up_to_date else "no",
                    h.compliance,
                    h.last_job.kind if h.last_job else "",
                    h.last_job.state if h.last_job else "",
                )
            ]
        )
    return buf.getvalue()


def to_json(report: Report) -> str:
    return json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n"


# -- HTML --------------------------------------------------------------------------------------------

_CSS = """
body { font-family: 'DejaVu Sans', Arial, sans-serif; color: #1d2330; margin: 24px; font-size: 10pt; }
h1 { font-size: 16pt; margin: 0 0 4px 0; }
h2 { font-size: 12pt; margin: 18px 0 6px 0; }
.meta { color: #5b6372; margin-bottom: 12px; }
table.tiles td { border: 1px solid #d9dde4; padding: 4px 10px; text-align: center; width: 20%; }
.tile-n { font-size: 16pt; font-weight: bold; }
.tile-l { color: #5b6372; font-size: 8pt; }
table.hosts { border-collapse: collapse; width: 100%; }
table.hosts th { background: #eef1f5; text-align: left; padding: 2px 4px; font-size: 7pt; }
table.hosts td { border-bottom: 1px solid #eceff3; padding: 1px 4px; font-size: 7pt; white-space: nowrap; }
td.num { text-align: right; }
.urgent { color: #b3261e; font-weight: bold; }
.note { color: #8a4b00; }
"""


def _tile_colour(t: Tile, n: int) -> str:
    if t == Tile.UP_TO_DATE and n:
        return OK_COLOUR
    if n and t == Tile.UNKNOWN:
        return UNKNOWN_COLOUR
    if n and t in (Tile.NON_COMPLIANT, Tile.URGENT, Tile.FAILED, Tile.UNREACHABLE):
        return CLASS_COLOURS["urgent"]
    if n and t in (Tile.IMPORTANT, Tile.STALE, Tile.REBOOT):
        return CLASS_COLOURS["important"]
    return "#1d2330"


def tiles_html(report: Report) -> str:
    s = report.summary
    if not s[Tile.HOSTS]:
        text = EMPTY_TEXT if report.scope.describe() == "all hosts" else "No hosts in this scope."
        return f'<p class="note">{escape(text)}</p>'
    cells = []
    for t in REPORT_TILES:
        if t not in s.counts:
            continue  # not recorded for a past day
        n = s[t]
        cells.append(
            f'<td title="{escape(TILE_HELP[t])}">'
            f'<div class="tile-n" style="color:{_tile_colour(t, n)}">{n}</div>'
            f'<div class="tile-l">{escape(TILE_LABELS[t])}</div></td>'
        )
    rows = [cells[i : i + TILES_PER_ROW] for i in range(0, len(cells), TILES_PER_ROW)]
    return (
        '<table class="tiles" cellspacing="4">'
        + "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
        + "</table>"
        f"<p>{compliance_sentence(report)} Pending updates: "
        f'<span class="urgent">{s.urgent_updates} urgent</span>, {s.important_updates} important, '
        f"{s.noncritical_updates} non-critical. Stale means no scan for {s.stale_days} days.</p>"
    )


def compliance_sentence(report: Report) -> str:
    """The percentage over hosts with a known state, with the unknown count beside it (HTML)."""
    s = report.summary
    pct, unknown = s.known_percent, s.unknown
    if unknown is None:  # a past day's snapshot: no unknown split was recorded
        return (
            f"Compliance: <b>{pct or 0:.1f}%</b> of hosts up to date (unknown hosts not recorded that day)."
        )
    tail = (
        f' <span style="color:{UNKNOWN_COLOUR}"><b>{unknown}</b> unknown</span> '
        "(never scanned, scan failed or unreachable, or stale) are not counted."
    )
    if pct is None:
        return f"Compliance: no host has a known state yet.{tail}"
    return f"Compliance: <b>{pct:.1f}%</b> of {s.known} hosts with a known state are up to date;{tail}"


def hosts_table_html(report: Report) -> str:
    if not report.hosts:
        return f'<p class="note">{escape(report.note or "No hosts in this scope.")}</p>'
    head = "".join(
        f"<th>{escape(h)}</th>"
        for h in (
            "Host",
            "Group",
            "Ring",
            "OS",
            "Status",
            "Last scan",
            "Urg",
            "Imp",
            "Non-crit",
            "Reboot",
            "Compliance",
            "Last job",
        )
    )
    rows = []
    for h in report.hosts:
        rows.append(
            "<tr>"
            f"<td>{escape(h.name)}</td><td>{escape(h.group)}</td><td>{escape(h.ring)}</td>"
            f"<td>{escape(h.os[:26])}</td>"
            f"<td>{escape(h.status)}{', job failed' if h.failed_last_job else ''}</td>"
            f"<td>{escape((h.last_scan or '')[:10])}</td>"
            f'<td class="num{" urgent" if h.urgent else ""}">{h.urgent}</td>'
            f'<td class="num">{h.important}</td><td class="num">{h.noncritical}</td>'
            f"<td>{'yes' if h.reboot_required else ''}</td>"
            f'<td style="color:{COMPLIANCE_COLOURS.get(h.compliance, "#1d2330")}">'
            f"{escape(COMPLIANCE_TEXT.get(h.compliance, h.compliance))}</td>"
            f"<td>{escape(_last_job_text(h.last_job))}</td>"
            "</tr>"
        )
    # <thead>: the PDF repeats the header row on every page
    return f'<table class="hosts"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def hardware_table_html(report: Report) -> str:
    """The hardware inventory of the report's hosts (section left out when no scan read any)."""
    shown = [(h.name, report.hardware[h.name]) for h in report.hosts if h.name in report.hardware]
    if not shown:
        return ""
    head = "".join(f"<th>{escape(t)}</th>" for t in ("Host", "Manufacturer", "Model", "Serial", "BIOS/UEFI",
                                                     "CPU", "Memory"))  # fmt: skip
    rows = []
    for name, hw in shown:
        bios = " ".join(p for p in (hw.bios_vendor, hw.bios_version, hw.bios_date) if p)
        cpu = f"{hw.cpu_count} CPU, {hw.cpu_model or '?'}" if hw.cpu_count else (hw.cpu_model or "")
        cells = (name, hw.manufacturer, hw.model, hw.serial, bios, cpu,
                 human_bytes(hw.memory_bytes) if hw.memory_bytes else "")  # fmt: skip
        rows.append("<tr>" + "".join(f"<td>{escape((c or '')[:40])}</td>" for c in cells) + "</tr>")
    return (
        f"<h2>Hardware ({len(shown)})</h2>"
        f'<table class="hosts"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _last_job_text(job: LastJob | None) -> str:
    if job is None:
        return ""
    text = f"{job.kind} {job.state}"
    return text + (f", {job.verdict}" if job.verdict else "")


def svg_classification_chart(report: Report, width: int = 420, height: int = 150) -> str:
    """Horizontal bars: pending updates by classification."""
    s = report.summary
    values = [
        ("urgent", s.urgent_updates),
        ("important", s.important_updates),
        ("noncritical", s.noncritical_updates),
    ]
    top = max([v for _, v in values] + [1])
    bars = []
    for i, (cls, v) in enumerate(values):
        y = 10 + i * 42
        w = int((width - 170) * v / top)
        bars.append(
            f'<text x="0" y="{y + 20}" font-size="12">{cls}</text>'
            f'<rect x="95" y="{y}" width="{max(w, 1)}" height="28" fill="{CLASS_COLOURS[cls]}"/>'
            f'<text x="{100 + w}" y="{y + 20}" font-size="12">{v}</text>'
        )
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">{"".join(bars)}</svg>'


def svg_trend_chart(report: Report, width: int = 520, height: int = 160) -> str:
    """Line: % of hosts up to date per day."""
    pts = [p for p in report.history if p.compliance_percent is not None]
    if len(pts) < 2:
        return '<p class="note">Not enough daily snapshots for a trend yet.</p>'
    x0, y0, w, h = 40, 10, width - 50, height - 30
    coords, unknown = [], []
    for i, p in enumerate(pts):
        x = x0 + w * i / (len(pts) - 1)
        y = y0 + h * (1 - (p.compliance_percent or 0.0) / 100)
        coords.append(f"{x:.1f},{y:.1f}")
        if p.unknown is not None:
            unknown.append(f"{x:.1f},{y0 + h * (1 - p.unknown / p.hosts):.1f}")
    axis = (
        f'<line x1="{x0}" y1="{y0 + h}" x2="{x0 + w}" y2="{y0 + h}" stroke="#999"/>'
        f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y0 + h}" stroke="#999"/>'
        f'<text x="0" y="{y0 + 8}" font-size="10">100%</text>'
        f'<text x="12" y="{y0 + h}" font-size="10">0%</text>'
        f'<text x="{x0}" y="{height - 4}" font-size="10">{escape(pts[0].day)}</text>'
        f'<text x="{x0 + w - 60}" y="{height - 4}" font-size="10">{escape(pts[-1].day)}</text>'
    )
    line = f'<polyline fill="none" stroke="{OK_COLOUR}" stroke-width="2" points="{" ".join(coords)}"/>'
    if len(unknown) > 1:
        # the share of hosts whose state was not known that day, so a rise in "up to date" is not
        # mistaken for a fleet that simply was not seen
        line += (
            f'<polyline fill="none" stroke="{UNKNOWN_COLOUR}" stroke-width="2" stroke-dasharray="4 3" '
            f'points="{" ".join(unknown)}"/>'
        )
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">{axis}{line}</svg>'


def html_document(report: Report, charts: Mapping[str, str] | None = None) -> str:
    """The whole report as HTML. ``charts`` maps a title to ready HTML (SVG, or <img> for the PDF)."""
    if charts is None:
        charts = {
            "Pending updates by classification": svg_classification_chart(report),
            "Hosts up to date over time": svg_trend_chart(report),
        }
    chart_html = "".join(f"<h2>{escape(title)}</h2>{body}" for title, body in charts.items())
    state = "current state" if report.live else "snapshot of that day"
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{escape(report.title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{escape(report.title)}</h1>"
        f'<div class="meta">Scope: {escape(report.scope.describe())} · '
        f"as of {escape(report.as_of)} ({state}) · "
        f"generated {escape(report.generated_at)} by Patchdesk</div>"
        f"<h2>Summary</h2>{tiles_html(report)}{chart_html}"
        f"<h2>Hosts ({len(report.hosts)})</h2>{hosts_table_html(report)}"
        f"{hardware_table_html(report)}"
        "</body></html>"
    )


def to_html(report: Report) -> str:
    return html_document(report)
