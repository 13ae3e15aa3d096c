"""The console's light and dark look, chosen in View → Theme (system / light / dark).

The shared stylesheet (resources/patchdesk.qss) takes every neutral colour from the palette, so one
set of rules serves both looks; this module builds the light and the dark palette, adds the few
colours that carry meaning (error and warning boxes, the danger button, the dashboard tiles), each
with its background, and keeps the models' meaning colours (the Status column's pale cells, red
counts) readable on the palette in use. "System" follows the desktop: Qt's colour scheme
(QStyleHints.colorScheme()) where the platform reports one, else how dark the desktop's palette is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QBrush, QColor, QGuiApplication, QPalette, QPen
from PySide6.QtWidgets import QApplication

from ui.resources import resource_path, stylesheet

if TYPE_CHECKING:
    from PySide6.QtCharts import QChart

logger = logging.getLogger(__name__)

CHOICES = ("system", "light", "dark")
#: The user setting (QSettings) that keeps the View → Theme choice across starts.
SETTING_KEY = "view/theme"
#: WCAG 2 AA for body text.
AA_CONTRAST = 4.5

Role = QPalette.ColorRole

#: The palettes, by role. Placeholder text doubles as the muted (hint, disabled) text colour, so it is
#: chosen to stay readable on both Window and Base.
PALETTES: dict[str, dict[QPalette.ColorRole, str]] = {
    "light": {
        Role.Window: "#f5f6f8",
        Role.WindowText: "#1d2330",
        Role.Base: "#ffffff",
        Role.AlternateBase: "#f7f9fc",
        Role.Text: "#1d2330",
        Role.Button: "#eef1f5",
        Role.ButtonText: "#3a4252",
        Role.BrightText: "#ffffff",
        Role.Light: "#ffffff",
        Role.Midlight: "#eaf1fb",
        Role.Mid: "#d9dde4",
        Role.Dark: "#b3bac6",
        Role.Shadow: "#8a919c",
        Role.Highlight: "#cfe0f7",
        Role.HighlightedText: "#10243f",
        Role.Link: "#2b6cb0",
        Role.LinkVisited: "#6d3fb0",
        Role.ToolTipBase: "#ffffdc",
        Role.ToolTipText: "#1d2330",
        Role.PlaceholderText: "#5b6372",
    },
    "dark": {
        Role.Window: "#1e2128",
        Role.WindowText: "#e6e9ef",
        Role.Base: "#262a33",
        Role.AlternateBase: "#2c313b",
        Role.Text: "#e6e9ef",
        Role.Button: "#323845",
        Role.ButtonText: "#dfe3ea",
        Role.BrightText: "#ffffff",
        Role.Light: "#4a5263",
        Role.Midlight: "#34405a",
        Role.Mid: "#3b414d",
        Role.Dark: "#566074",
        Role.Shadow: "#0b0d10",
        Role.Highlight: "#2f5d99",
        Role.HighlightedText: "#ffffff",
        Role.Link: "#8ab4f8",
        Role.LinkVisited: "#c5a3ff",
        Role.ToolTipBase: "#2c313b",
        Role.ToolTipText: "#e6e9ef",
        Role.PlaceholderText: "#a3acba",
    },
}


@dataclass(frozen=True)
class Meaning:
    """A text colour, its background and a border: an error box, a warning box, a tile's level."""

    fg: str
    bg: str
    border: str


#: The colours that carry meaning, per look; every text colour comes with its background.
MEANINGS: dict[str, dict[str, Meaning]] = {
    "light": {
        "error": Meaning("#9b1c14", "#fdecea", "#f3b8b3"),
        "warning": Meaning("#7a4a00", "#fff4e0", "#e8b04b"),
        "danger": Meaning("#ffffff", "#b3261e", "#8c1d17"),
        "red": Meaning("#b3261e", "#ffffff", "#b3261e"),
        "amber": Meaning("#9a4d00", "#ffffff", "#d97706"),
        "ok": Meaning("#17632f", "#ffffff", "#17803d"),
        "unknown": Meaning("#5a4a85", "#ffffff", "#6d5a9c"),
    },
    "dark": {
        "error": Meaning("#ffb4ab", "#3d1c19", "#8c3a33"),
        "warning": Meaning("#ffd08a", "#37290f", "#a8741c"),
        "danger": Meaning("#ffffff", "#b3261e", "#e0625a"),
        "red": Meaning("#ff8a80", "#262a33", "#e0625a"),
        "amber": Meaning("#ffb457", "#262a33", "#d97706"),
        "ok": Meaning("#6fd08c", "#262a33", "#2f9e55"),
        "unknown": Meaning("#c3b5f0", "#262a33", "#8c79c4"),
    },
}


#: The dashboard's tiles as cards (palette roles; their level colours are in meaning_qss). In the one
#: application stylesheet, not the dashboard's own: a widget's sheet would win over the level rules.
DASHBOARD_QSS = """
QPushButton[tile="true"] {
    border: 1px solid palette(mid);
    border-radius: 6px;
    text-align: center;
}
QPushButton[tile="true"]:hover { border-color: palette(link); background: palette(midlight); }
QPushButton[tile="true"]:pressed { background: palette(highlight); }
QPushButton[tile="true"] QLabel#tileNumber { font-size: 20pt; font-weight: 700; }
QPushButton[tile="true"] QLabel#tileCaption { font-size: 9pt; }
QPushButton[tile="true"] QLabel#tileSub { font-size: 8pt; color: palette(placeholder-text); }
QLabel#dashEmpty { color: palette(text); background: palette(base); border: 1px dashed palette(dark);
    border-radius: 6px; padding: 14px; font-size: 11pt; }
QFrame#dashSide { background: palette(base); border: 1px solid palette(mid); border-radius: 6px; }
QLabel#sectionTitle { font-weight: 700; }
QListWidget#kevDue { border: none; }
"""


def meaning_qss(scheme: str) -> str:
    """The rules for the colours that carry meaning (the shared stylesheet has only palette roles)."""
    m = MEANINGS[scheme]
    base = PALETTES[scheme][Role.Base]
    rules = [
        f"QLabel#errorText {{ color: {m['error'].fg}; background: {m['error'].bg};"
        f" border: 1px solid {m['error'].border}; border-radius: 4px; padding: 6px 8px; }}",
        f"QLabel#warningText {{ color: {m['warning'].fg}; background: {m['warning'].bg};"
        f" border: 1px solid {m['warning'].border}; border-radius: 4px; padding: 6px 8px; }}",
        f"QFrame#warningBanner {{ background: {m['warning'].bg}; border: 1px solid {m['warning'].border};"
        " border-radius: 4px; }",
        f"QFrame#warningBanner QLabel {{ color: {m['warning'].fg}; background: {m['warning'].bg}; }}",
        f"QPushButton#dangerButton {{ color: {m['danger'].fg}; background: {m['danger'].bg};"
        f" border-color: {m['danger'].border}; }}",
        f"QPushButton#dangerButton:disabled {{ color: {m['danger'].fg}; background: {m['danger'].border}; }}",
        f'QCheckBox[danger="true"] {{ color: {m["error"].fg}; background: {m["error"].bg};'
        " font-weight: 600; border-radius: 4px; padding: 2px 6px; }",
        # the dashboard's tiles: a coloured edge and number when the number calls for attention
        f'QPushButton[tile="true"] {{ background: {base}; }}',
    ]
    for level in ("red", "amber", "ok", "unknown"):
        rules.append(f'QPushButton[level="{level}"] {{ border-left: 5px solid {m[level].border}; }}')
        rules.append(
            f'QPushButton[level="{level}"] QLabel#tileNumber'
            f" {{ color: {m[level].fg}; background: {m[level].bg}; }}"
        )
    return "\n".join(rules) + "\n"


def indicator_qss(scheme: str) -> str:
    """Pictures the stylesheet needs in the look's colours (resources/icons/*-SCHEME.svg): the spin
    boxes' arrows (a styled spin box draws none of its own) and the check boxes' marks (the native
    boxes' outlines all but vanish on a dark window: #23 item 3's "black squares")."""

    def url(name: str) -> str:
        return 'url("' + resource_path(f"icons/{name}-{scheme}.svg").as_posix() + '")'

    rules = []
    for way in ("up", "down"):
        targets = ", ".join(
            f"{kind}::{way}-arrow" for kind in ("QAbstractSpinBox", "QDateTimeEdit", "QTimeEdit")
        )
        rules.append(f"{targets} {{ image: {url('spin-' + way)}; width: 8px; height: 5px; }}")
    boxes = ("QCheckBox::indicator", "QAbstractItemView::indicator", "QGroupBox::indicator")
    rules += [
        ", ".join(boxes) + " { width: 13px; height: 13px; border: 1px solid palette(placeholder-text);"
        " border-radius: 3px; background: palette(base); }",
        ", ".join(f"{b}:checked" for b in boxes) + f" {{ image: {url('check')}; background: palette(link);"
        " border-color: palette(link); }",
        ", ".join(f"{b}:indeterminate" for b in boxes) + f" {{ image: {url('partial')};"
        " background: palette(link); border-color: palette(link); }",
        ", ".join(f"{b}:disabled" for b in boxes)
        + " { border-color: palette(mid); background: palette(window); }",
        ", ".join(f"{b}:checked:disabled" for b in boxes)
        + " { border-color: palette(dark); background: palette(dark); }",
    ]
    return "\n".join(rules) + "\n"


def build_stylesheet(scheme: str) -> str:
    return (
        stylesheet()
        + "\n/* ui/theme.py: the dashboard, then the colours that carry meaning */\n"
        + DASHBOARD_QSS
        + indicator_qss(scheme)
        + meaning_qss(scheme)
    )


def build_palette(scheme: str) -> QPalette:
    pal = QPalette()
    for role, colour in PALETTES[scheme].items():
        pal.setColor(QPalette.ColorGroup.All, role, QColor(colour))
    muted = QColor(PALETTES[scheme][Role.PlaceholderText])
    for role in (Role.WindowText, Role.Text, Role.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, muted)
    return pal


# -- which look --------------------------------------------------------------------------------------

_platform_palette: QPalette | None = None  # the desktop's palette, before the first theme replaced it
_current = "light"


def _platform_dark() -> bool:
    """The desktop's palette is dark (its window colour is): the fallback when Qt has no scheme."""
    pal = _platform_palette if _platform_palette is not None else QGuiApplication.palette()
    return pal.color(Role.Window).lightness() < 128


def system_scheme() -> str:
    """ "light" or "dark" as the desktop has it: Qt's colour scheme, else its palette's lightness."""
    hint = QGuiApplication.styleHints().colorScheme()
    if hint == Qt.ColorScheme.Dark:
        return "dark"
    if hint == Qt.ColorScheme.Light:
        return "light"
    return "dark" if _platform_dark() else "light"


def resolve(choice: str) -> str:
    return system_scheme() if choice == "system" else ("dark" if choice == "dark" else "light")


def current_scheme() -> str:
    """The look in use: "light" or "dark"."""
    return _current


def apply_theme(choice: str = "system", app: QApplication | None = None) -> str:
    """Give the application the palette and stylesheet of ``choice``; returns the look used."""
    global _platform_palette, _current
    app = app or QApplication.instance()  # type: ignore[assignment]
    if not isinstance(app, QApplication):
        return _current
    if _platform_palette is None:
        _platform_palette = QPalette(app.palette())
    scheme = resolve(choice)
    _current = scheme
    _retint(scheme)
    # unchanged (a second window, a repeated choice): no re-polish of every widget
    palette = build_palette(scheme)
    if app.palette() != palette:
        app.setPalette(palette)
    sheet = build_stylesheet(scheme)
    if app.styleSheet() != sheet:
        app.setStyleSheet(sheet)
    return scheme


@contextmanager
def styled_once_built(choice: str = "system") -> Iterator[str]:
    """Build a window's widgets under ``choice``'s palette but without the application style sheet,
    which is applied once they are all built (before they are shown, so they are polished once).

    With an application style sheet, Qt restyles a widget and every widget under it each time it
    changes parents, and repolishes those already polished (a size asked for polishes them): a view
    built from parentless parts, then put into the window, went through that at every level. At
    5,000 hosts that was 70 ms of the 230 ms the main window took to build (#25). Widgets that
    measured text while the style sheet was off measure again when it brings their font
    (ui/widgets/columns.py, the job panel's folded height)."""
    app = QApplication.instance()
    scheme = apply_theme(choice)  # the palette and the meaning colours, for the widgets being built
    if not isinstance(app, QApplication):
        yield scheme
        return
    if app.styleSheet():
        app.setStyleSheet("")
    try:
        yield scheme
    finally:
        apply_theme(choice, app)


def forget_platform_palette() -> None:
    """For tests that play a different desktop: read the desktop's palette again on the next apply."""
    global _platform_palette
    _platform_palette = None


def _settings() -> QSettings:
    # A look is the desktop user's preference, not the inventory's: kept per user, not in the database.
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "Patchdesk", "Patchdesk")


def stored_choice() -> str:
    """The View → Theme choice of the last session ("system" when none or unreadable)."""
    value = _settings().value(SETTING_KEY, "system")
    return value if isinstance(value, str) and value in CHOICES else "system"


def store_choice(choice: str) -> None:
    settings = _settings()
    settings.setValue(SETTING_KEY, choice if choice in CHOICES else "system")
    settings.sync()
    if settings.status() != QSettings.Status.NoError:
        logger.warning("the theme choice could not be saved in %s", settings.fileName())


# -- contrast ----------------------------------------------------------------------------------------


def luminance(c: QColor) -> float:
    """WCAG 2 relative luminance."""

    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())


def contrast(a: QColor, b: QColor) -> float:
    """WCAG 2 contrast ratio (1 to 21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


# -- the models' meaning colours -------------------------------------------------------------------
# The models keep their colours in module-level QColor constants read on paint. Made here, those
# QColors are retinted in place when the look changes: the light look keeps the designed colours,
# the dark look gets a dark cell background of the same hue and a text colour lightened until it
# reads (AA) on it, and on the dark Base and AlternateBase for a text colour alone.


@dataclass
class _Tinted:
    colour: QColor
    light: str
    partner: _Tinted | None  # a text colour's background, if it has one
    is_background: bool


_tinted: list[_Tinted] = []


def _dark_background(light: str) -> QColor:
    h, s, _l, _a = QColor(light).getHslF()
    return QColor.fromHslF(max(h, 0.0), min(s, 0.35), 0.21)


def _dark_text(light: str, backgrounds: list[QColor]) -> QColor:
    h, s, _l, _a = QColor(light).getHslF()
    lightness = 0.62
    while True:
        c = QColor.fromHslF(max(h, 0.0), min(s, 0.85), lightness)
        if lightness >= 0.95 or all(contrast(c, bg) >= AA_CONTRAST for bg in backgrounds):
            return c
        lightness += 0.02


def _tint(t: _Tinted, scheme: str) -> None:
    if scheme != "dark":
        t.colour.setRgb(QColor(t.light).rgb())
        return
    if t.is_background:
        t.colour.setRgb(_dark_background(t.light).rgb())
        return
    pal = PALETTES["dark"]
    bgs = (
        [_dark_background(t.partner.light)]
        if t.partner is not None
        else [QColor(pal[Role.Base]), QColor(pal[Role.AlternateBase]), QColor(pal[Role.Window])]
    )
    t.colour.setRgb(_dark_text(t.light, bgs).rgb())


def _retint(scheme: str) -> None:
    for t in _tinted:
        _tint(t, scheme)


def text_colour(light: str) -> QColor:
    """A text colour drawn on the view's own background: ``light`` in the light look, a lighter shade
    of it in the dark look."""
    t = _Tinted(QColor(light), light, None, is_background=False)
    _tinted.append(t)
    _tint(t, _current)
    return t.colour


def colour_pair(fg: str, bg: str) -> tuple[QColor, QColor]:
    """A text colour and its cell background (the Status column's pale cells), in both looks."""
    back = _Tinted(QColor(bg), bg, None, is_background=True)
    front = _Tinted(QColor(fg), fg, back, is_background=False)
    _tinted.extend((back, front))
    _tint(back, _current)
    _tint(front, _current)
    return front.colour, back.colour


def tint_chart(chart: QChart) -> None:
    """A chart's background, title, legend and axis labels in the palette's colours (Qt Charts draws
    its own light theme otherwise: a white card with grey labels on a dark window). The series keep
    their meaning colours."""
    from PySide6.QtCharts import QPieSeries  # the dashboard has imported Qt Charts already

    pal = PALETTES[_current]
    text = QColor(pal[Role.Text])
    chart.setBackgroundBrush(QBrush(QColor(pal[Role.Base])))
    chart.setBackgroundPen(QPen(QColor(pal[Role.Mid])))
    chart.setTitleBrush(QBrush(text))
    chart.legend().setLabelColor(text)
    for series in chart.series():
        if isinstance(series, QPieSeries):
            for piece in series.slices():
                piece.setLabelColor(text)
                piece.setBorderColor(QColor(pal[Role.Base]))  # the gaps between slices, not white lines
    for axis in chart.axes():
        axis.setLabelsColor(text)
        axis.setTitleBrush(QBrush(text))
        axis.setGridLineColor(QColor(pal[Role.Mid]))
        axis.setLinePenColor(QColor(pal[Role.Dark]))


_by_hex: dict[tuple[str, str | None], tuple[QColor, QColor | None]] = {}


def readable(fg: str, bg: str | None = None) -> tuple[QColor, QColor | None]:
    """The theme-following QColors for a view's hex text colour (and its background, if any), made
    once per pair: what a table cell's colours become in the look in use."""
    key = (fg.lower(), bg.lower() if bg else None)
    found = _by_hex.get(key)
    if found is None:
        found = colour_pair(fg, bg) if bg else (text_colour(fg), None)
        _by_hex[key] = found
    return found


def background(bg: str) -> QColor:
    """A view's cell background without a text colour of its own: pale in the light look, dark in
    the dark one (the palette's text reads on both)."""
    key = ("", bg.lower())
    found = _by_hex.get(key)
    if found is None:
        t = _Tinted(QColor(bg), bg, None, is_background=True)
        _tinted.append(t)
        _tint(t, _current)
        found = (t.colour, None)
        _by_hex[key] = found
    return found[0]
