"""QtCharts charts of the compliance numbers, shared by the dashboard and the PDF report.

Each builder returns a QChart whose parts carry what a click on them means (a classification, a
group, a tile); the dashboard connects the series' ``clicked`` signals, the PDF renders the chart to
an image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from html import escape

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSet,
    QChart,
    QDateTimeAxis,
    QHorizontalStackedBarSeries,
    QLineSeries,
    QPieSeries,
    QScatterSeries,
    QValueAxis,
)
from PySide6.QtCore import QDateTime, QMargins, QRectF, QSize, Qt, QTimeZone
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QGraphicsScene

from app.domain.compliance import DailyPoint, GroupPending, Summary
from ui.numbers import count_text

CLASS_COLOURS = {"urgent": "#b3261e", "important": "#d97706", "noncritical": "#64748b"}
CLASS_LABELS = {"urgent": "Urgent", "important": "Important", "noncritical": "Non-critical"}
OK_COLOUR = "#17803d"
UNKNOWN_COLOUR = "#6d5a9c"  # as the report's and the dashboard's unknown
NO_URGENT_COLOUR = "#2b6cb0"  # good news, but not "up to date": the accent blue, never the urgent red
#: A donut slice smaller than this share gets no label of its own (the legend has every count): at
#: 300+ hosts a few urgent beside thousands of non-critical updates made the labels overlap.
MIN_LABEL_SHARE = 0.08
#: Days the trend's axis spans before any snapshot exists (real dates, not "Jan 1" five times).
EMPTY_TREND_DAYS = 7


def _base(title: str) -> QChart:
    chart = QChart()
    chart.setTitle(title)
    font = QFont()
    font.setBold(True)
    font.setPointSize(10)
    chart.setTitleFont(font)
    chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
    chart.setBackgroundRoundness(4)
    chart.setMargins(QMargins(4, 4, 4, 4))
    chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
    return chart


def classification_chart(summary: Summary) -> tuple[QChart, QPieSeries]:
    """Donut of pending updates by classification; each slice's ``data`` is the classification."""
    chart = _base("Pending updates by classification")
    series = QPieSeries()
    series.setHoleSize(0.45)
    values = {
        "urgent": summary.urgent_updates,
        "important": summary.important_updates,
        "noncritical": summary.noncritical_updates,
    }
    for cls, n in values.items():
        sl = series.append(f"{CLASS_LABELS[cls]}: {count_text(n)}", max(n, 0))
        sl.setColor(QColor(CLASS_COLOURS[cls]))
        sl.setBorderColor(QColor("#ffffff"))
        sl.setProperty("classification", cls)
        sl.setLabelVisible(False)  # the legend carries the counts; slice labels get clipped
    chart.addSeries(series)
    chart.legend().setAlignment(Qt.AlignmentFlag.AlignRight)
    if not any(values.values()):
        chart.setTitle("Pending updates by classification — nothing pending")
    return chart, series


def show_slice_labels(series: QPieSeries, min_share: float = MIN_LABEL_SHARE) -> None:
    """Label the slices big enough to carry one outside the ring; the thin ones stay unlabelled, so
    labels never pile onto each other (the legend beside the donut lists every count)."""
    total = sum(max(sl.value(), 0.0) for sl in series.slices())
    for sl in series.slices():
        share = sl.value() / total if total > 0 else 0.0
        sl.setLabelVisible(share >= min_share)
        sl.setLabelPosition(sl.LabelPosition.LabelOutside)


def nice_step(peak: float, intervals: int = 5) -> int:
    """A whole tick step (1, 2 or 5 times a power of ten) giving at most ``intervals`` intervals up to
    ``peak``: counts are whole, so the axis never reads "0 0 0 0 1"."""
    raw = max(peak, 1) / intervals
    power = 10 ** max(0, math.floor(math.log10(raw))) if raw >= 1 else 1
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return int(factor * power)
    return int(10 * power)


def group_chart(
    groups: Sequence[GroupPending], limit: int = 12
) -> tuple[QChart, QHorizontalStackedBarSeries, list[str]]:
    """Stacked bars of pending updates per group; returns the group names in bar order."""
    chart = _base("Pending updates by group")
    top = sorted(groups, key=lambda g: -(g.urgent + g.important + g.noncritical))[:limit]
    top.reverse()  # the biggest at the top of a horizontal chart
    names = [g.group for g in top]
    series = QHorizontalStackedBarSeries()
    for cls in ("urgent", "important", "noncritical"):
        s = QBarSet(CLASS_LABELS[cls])
        s.setColor(QColor(CLASS_COLOURS[cls]))
        s.setBorderColor(QColor(CLASS_COLOURS[cls]))
        s.setProperty("classification", cls)
        for g in top:
            s.append(float(getattr(g, cls)))
        series.append(s)
    series.setBarWidth(0.6)
    chart.addSeries(series)
    axis_y = QBarCategoryAxis()
    # QtCharts lays axis labels out as rich text: a group named <img src=...> would embed a local
    # file. Escaped, every name from data shows as the plain text it is (and stays unique).
    axis_y.append([escape(n) if n else "(no group)" for n in names] or ["(no hosts)"])
    axis_y.setTruncateLabels(False)
    chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
    series.attachAxis(axis_y)
    axis_x = QValueAxis()
    axis_x.setLabelFormat("%d")
    peak = max([g.urgent + g.important + g.noncritical for g in top] + [1])
    step = nice_step(peak)
    axis_x.setRange(0, step * math.ceil(peak / step))
    axis_x.setTickType(QValueAxis.TickType.TicksDynamic)
    axis_x.setTickAnchor(0)
    axis_x.setTickInterval(step)
    chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
    series.attachAxis(axis_x)
    return chart, series, names


def _ms(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)


def trend_chart(points: Sequence[DailyPoint]) -> tuple[QChart, QLineSeries]:
    """Hosts up to date (%) per day, from the daily snapshots, with the share of hosts whose state was
    unknown that day (recorded since migration m007)."""
    chart = _base("Hosts up to date over time (%)")
    line = QLineSeries()
    line.setName("Up to date")
    pen = QPen(QColor(OK_COLOUR))
    pen.setWidth(3)
    line.setPen(pen)
    urgent = QLineSeries()
    urgent.setName("Without urgent updates")
    upen = QPen(QColor(NO_URGENT_COLOUR))
    upen.setWidth(2)
    upen.setStyle(Qt.PenStyle.DashLine)
    urgent.setPen(upen)
    unknown = QLineSeries()
    unknown.setName("Unknown")
    kpen = QPen(QColor(UNKNOWN_COLOUR))
    kpen.setWidth(2)
    kpen.setStyle(Qt.PenStyle.DotLine)
    unknown.setPen(kpen)
    dots = QScatterSeries()
    dots.setMarkerSize(7)
    dots.setColor(QColor(OK_COLOUR))
    dots.setBorderColor(QColor(OK_COLOUR))
    # a day without hosts has no percentage: it leaves a gap rather than a green 100 %
    points = [p for p in points if p.hosts]
    for p in points:
        x = _ms(p.day)
        pct = p.compliance_percent or 0.0
        line.append(x, pct)
        urgent.append(x, 100.0 * (p.hosts - p.with_urgent) / p.hosts)
        dots.append(x, pct)
        if p.unknown is not None:
            unknown.append(x, 100.0 * p.unknown / p.hosts)
    series = [line, urgent, dots] + ([unknown] if unknown.count() else [])
    for s in series:
        chart.addSeries(s)
    chart.legend().markers(dots)[0].setVisible(False)
    axis_x = QDateTimeAxis()
    axis_x.setFormat("MMM d")
    if points:
        first, last = _ms(points[0].day), _ms(points[-1].day)
    else:
        # no snapshot yet: the last days up to today, so the axis shows real dates, once each
        today = datetime.now(UTC).date()
        first, last = _ms(str(today - timedelta(days=EMPTY_TREND_DAYS - 1))), _ms(str(today))
        chart.setTitle("Hosts up to date over time (%) — no history yet: scan to start it")
    if first == last:
        first -= 86_400_000
    axis_x.setRange(
        QDateTime.fromMSecsSinceEpoch(first, QTimeZone.utc()),
        QDateTime.fromMSecsSinceEpoch(last, QTimeZone.utc()),
    )
    axis_x.setTickCount(trend_ticks(first, last))
    chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
    axis_y = QValueAxis()
    axis_y.setRange(0, 100)
    axis_y.setLabelFormat("%d%%")
    axis_y.setTickCount(5)
    chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
    for s in series:
        s.attachAxis(axis_x)
        s.attachAxis(axis_y)
    return chart, line


def trend_ticks(first_ms: int, last_ms: int, most: int = 7) -> int:
    """Ticks for a span of whole days: at most one per day (each label a different date), at most
    ``most``, and spaced by a whole number of days where the span allows it."""
    days = max(1, round((last_ms - first_ms) / 86_400_000))
    if days + 1 <= most:
        return days + 1
    for intervals in range(most - 1, 1, -1):
        if days % intervals == 0:
            return intervals + 1
    return most


def trend_dates(first: date, last: date, ticks: int) -> list[str]:
    """The dates a trend axis with ``ticks`` ticks from ``first`` to ``last`` labels (tests)."""
    span = (last - first).days
    return [str(first + timedelta(days=span * i / (ticks - 1))) for i in range(ticks)]


def render_chart(chart: QChart, size: QSize, scale: float = 2.0) -> QImage:
    """The chart as an image (for the PDF). Laid out in its own scene, so no window is needed;
    QGraphicsScene still needs a QApplication."""
    scene = QGraphicsScene()
    scene.addItem(chart)
    chart.setGeometry(QRectF(0, 0, size.width(), size.height()))
    chart.setBackgroundVisible(False)
    image = QImage(int(size.width() * scale), int(size.height() * scale), QImage.Format.Format_ARGB32)
    image.fill(QColor("#ffffff"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    scene.render(
        painter, QRectF(0, 0, image.width(), image.height()), QRectF(0, 0, size.width(), size.height())
    )
    painter.end()
    scene.removeItem(chart)
    return image
