"""#23 item 3: a dark desktop palette made parts of the window unreadable (a fixed dark text colour in
the stylesheet, light cards on a dark window). The look follows the desktop's colour scheme, with a
light and a dark variant and View → Theme (system / light / dark), kept in the settings."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QCheckBox,
    QLabel,
    QMenu,
    QTabBar,
    QWidget,
)

from tests.support.fleet import populate
from ui import theme
from ui.main_window import MainWindow
from ui.models.host_status import BUSY_COLOURS, STATE_COLOURS
from ui.models.hosts_model import COUNT_COLOURS
from ui.models.updates_model import CLASS_FOREGROUND, ROW_BACKGROUND
from ui.resources import resource_path

Role = QPalette.ColorRole

#: A dark desktop as KDE's Breeze Dark sets it: what the console meets on such a desktop.
DARK_DESKTOP = {
    Role.Window: "#202326",
    Role.WindowText: "#fcfcfc",
    Role.Base: "#141618",
    Role.AlternateBase: "#1d1f22",
    Role.Text: "#fcfcfc",
    Role.Button: "#292c30",
    Role.ButtonText: "#fcfcfc",
    Role.Highlight: "#3daee9",
    Role.HighlightedText: "#fcfcfc",
    Role.ToolTipBase: "#292c30",
    Role.ToolTipText: "#fcfcfc",
}


@pytest.fixture
def desktop(qapp) -> Iterator[QApplication]:  # type: ignore[no-untyped-def]
    """Restores the application's palette and stylesheet (the tests play other desktops)."""
    palette, sheet = QPalette(qapp.palette()), qapp.styleSheet()
    yield qapp
    qapp.setPalette(palette)
    theme.forget_platform_palette()
    theme.apply_theme("light")
    qapp.setStyleSheet(sheet)
    qapp.setPalette(palette)
    theme.forget_platform_palette()


def _dark_desktop(app: QApplication) -> None:
    pal = QPalette(app.palette())
    for role, colour in DARK_DESKTOP.items():
        pal.setColor(role, QColor(colour))
    app.setPalette(pal)
    theme.forget_platform_palette()


def _rules(sheet: str) -> list[tuple[str, str]]:
    sheet = re.sub(r"/\*.*?\*/", "", sheet, flags=re.S)
    return [(m.group(1).strip(), m.group(2)) for m in re.finditer(r"([^{}]+)\{([^{}]*)\}", sheet)]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_stylesheet_sets_no_text_colour_without_its_background(scheme) -> None:  # type: ignore[no-untyped-def]
    """A fixed text colour (``QWidget { color: #1d2330 }``) on whatever background the desktop gives was
    the dark-on-dark defect: a literal text colour needs its background in the same rule, and every
    such pair reads at WCAG AA."""
    sheet = theme.build_stylesheet(scheme)
    checked = 0
    for selector, body in _rules(sheet):
        decl = dict(
            (k.strip(), v.strip()) for k, _, v in (d.partition(":") for d in body.split(";")) if v.strip()
        )
        colour = decl.get("color")
        if colour is None or colour.startswith("palette("):
            continue
        background = decl.get("background") or decl.get("background-color")
        assert background, f"{selector}: text colour {colour} without its background"
        if ":disabled" in selector or background.startswith("palette(") or background == "transparent":
            continue
        assert theme.contrast(QColor(colour), QColor(background)) >= theme.AA_CONTRAST, selector
        checked += 1
    assert checked >= 6  # the error and warning boxes, the danger button, the tile numbers


def test_the_shipped_stylesheet_sets_no_literal_text_colour() -> None:
    """resources/patchdesk.qss (what the app starts with) takes every text colour from the palette."""
    for selector, body in _rules(resource_path("patchdesk.qss").read_text(encoding="utf-8")):
        literal = re.search(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{3,8}|rgb)", body)
        assert literal is None, f"{selector} hard-codes a text colour"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_item_views_are_not_drawn_by_the_stylesheet(scheme) -> None:  # type: ignore[no-untyped-def]
    """A colour or box property on QTableView (and its kin) sends every cell through the style
    sheet's own drawing: a paint of the whole window at 5,000 hosts took 21 ms instead of 4, twice in
    each host click (#25). Their colours are the palette's; only the grid's colour may be set."""
    views = re.compile(r"(?<![\w:])(QTableView|QTreeView|QListView|QAbstractItemView)(?![\w:])")
    seen = False
    for selector, body in _rules(theme.build_stylesheet(scheme)):
        for part in selector.split(","):
            if not views.search(part) or "::" in part:  # sub-controls (check boxes) are drawn apart
                continue
            seen = True
            props = {d.partition(":")[0].strip() for d in body.split(";") if d.strip()}
            assert props <= {"gridline-color"}, f"{part.strip()} sets {sorted(props)}"
    assert seen


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_palettes_meet_wcag_aa(scheme) -> None:  # type: ignore[no-untyped-def]
    p = theme.PALETTES[scheme]
    pairs = [
        (Role.WindowText, Role.Window),
        (Role.Text, Role.Base),
        (Role.Text, Role.AlternateBase),
        (Role.ButtonText, Role.Button),
        (Role.HighlightedText, Role.Highlight),
        (Role.ToolTipText, Role.ToolTipBase),
        (Role.PlaceholderText, Role.Base),
        (Role.PlaceholderText, Role.Window),
        (Role.Link, Role.Base),
        (Role.Text, Role.Midlight),
    ]
    for fg, bg in pairs:
        ratio = theme.contrast(QColor(p[fg]), QColor(p[bg]))
        assert ratio >= theme.AA_CONTRAST, (scheme, fg, bg, ratio)


def _background(w: QWidget) -> QColor:
    """The colour the widget is drawn on, as rendered: the most common pixel of its picture."""
    img = w.grab().toImage()
    step = max(1, min(img.width(), img.height()) // 40)
    counts = Counter(
        img.pixel(x, y) for x in range(0, img.width(), step) for y in range(0, img.height(), step)
    )
    return QColor.fromRgb(counts.most_common(1)[0][0])


def _text_widgets(win: QWidget) -> list[QWidget]:
    kinds = (QLabel, QAbstractButton, QTabBar)
    found = [
        w
        for w in win.findChildren(QWidget)
        if isinstance(w, kinds)
        and w.isVisible()
        and w.width() > 4
        and w.height() > 4
        and (not isinstance(w, QLabel) or w.text().strip())
        and (not isinstance(w, QAbstractButton) or w.text().strip())
    ]
    return found


def _poor_contrast(widgets: list[QWidget]) -> list[str]:
    poor = []
    for w in widgets:
        if not w.isEnabled():
            continue  # WCAG exempts inactive controls
        fg = w.palette().color(w.foregroundRole())
        bg = _background(w)
        ratio = theme.contrast(fg, bg)
        if ratio < theme.AA_CONTRAST:
            poor.append(
                f"{type(w).__name__} {w.objectName() or getattr(w, 'text', lambda: '')()!r}: "
                f"{fg.name()} on {bg.name()} = {ratio:.2f}"
            )
    return poor


@pytest.fixture
def dark_window(qtbot, db, desktop):  # type: ignore[no-untyped-def]
    populate(db, hosts=40, days=14)
    _dark_desktop(desktop)
    win = MainWindow(db, runner=None, secrets=None)  # choice "system": the desktop is dark
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitUntil(lambda: win.dashboard.data is not None and not win.dashboard.busy, timeout=10000)
    yield win
    win.close()


def test_dark_desktop_main_widgets_read_at_wcag_aa(qtbot, dark_window) -> None:  # type: ignore[no-untyped-def]
    """Under a dark desktop palette every visible label, button, check box and tab of the dashboard and
    the inventory, and the menus, read at 4.5:1 against what they are drawn on."""
    win = dark_window
    assert theme.current_scheme() == "dark"
    assert win.palette().color(Role.Window).lightness() < 100
    poor = _poor_contrast(_text_widgets(win))
    win.show_inventory()
    qtbot.wait(50)
    poor += _poor_contrast(_text_widgets(win))
    for i in range(2, win.tabs.count()):  # the tabs built on first use
        win.tabs.setCurrentIndex(i)
        qtbot.wait(300)
        poor += [f"{win.tabs.tabText(i)}: {p}" for p in _poor_contrast(_text_widgets(win))]
    menus = [m for m in win.menuBar().findChildren(QMenu)]
    assert menus
    poor += _poor_contrast(menus)
    assert not poor, "\n".join(poor)
    # no light card left on the dark window: the tiles and the tables are drawn dark
    tile = win.dashboard.findChild(QAbstractButton, "tile_urgent")
    assert tile is not None
    assert _background(tile).lightness() < 100
    assert _background(win.inventory.table.viewport()).lightness() < 100


def test_dark_desktop_new_views_read_at_wcag_aa(qtbot, dark_window, db) -> None:  # type: ignore[no-untyped-def]
    """The views added since: the Baselines tab, the host's Drift and Outside Patchdesk tabs, the
    Schedule tab's criticality rules and the Offline bundles window, with something in them, read at
    4.5:1 under a dark desktop, and their tables are drawn dark."""
    from tests.ui.test_baselines_view import _drifted

    win = dark_window
    drifted, _ = _drifted(db)
    win.reload_hosts()
    win.tabs.setCurrentWidget(win.baselines_view)
    win.baselines_view.reload()
    qtbot.wait(200)
    poor = [f"Baselines: {p}" for p in _poor_contrast(_text_widgets(win))]
    assert _background(win.baselines_view.hosts_table.viewport()).lightness() < 100
    win.show_inventory()
    win.inventory.select_host(drifted.id)
    for panel in (win.detail.drift_panel, win.detail.outside):
        win.detail.tabs.setCurrentWidget(panel)
        qtbot.wait(200)
        title = win.detail.tabs.tabText(win.detail.tabs.indexOf(panel))
        poor += [f"{title}: {p}" for p in _poor_contrast(_text_widgets(win))]
        assert _background(panel).lightness() < 100, title
    schedule = win.schedule_view
    win.tabs.setCurrentWidget(schedule)
    schedule.tabs.setCurrentWidget(schedule.criticality_panel)
    qtbot.wait(300)
    poor += [f"Criticality rules: {p}" for p in _poor_contrast(_text_widgets(win))]
    win.show_bundles()
    qtbot.wait(200)
    bundles = win.bundles_view
    poor += [f"Offline bundles: {p}" for p in _poor_contrast(_text_widgets(bundles))]
    assert _background(bundles).lightness() < 100
    bundles.close()
    assert not poor, "\n".join(poor)


def test_check_boxes_are_drawn_on_a_dark_desktop(dark_window) -> None:  # type: ignore[no-untyped-def]
    """The toolbar's check box: its label reads, and its box is not a black square: the box's outline
    stands out (3:1, WCAG for the parts of a control) from what it is drawn on."""
    box = dark_window.refresh_check
    assert isinstance(box, QCheckBox)
    assert not _poor_contrast([box])
    img = box.grab().toImage()
    behind = _background(box)
    side = min(img.height(), 20)
    outline = [
        (x, y)
        for x in range(side)
        for y in range(img.height())
        if theme.contrast(QColor.fromRgb(img.pixel(x, y)), behind) >= 3.0
    ]
    assert len({x for x, _ in outline}) >= 8 and len({y for _, y in outline}) >= 8, len(outline)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_status_and_count_colours_read_in_both_looks(desktop, scheme) -> None:  # type: ignore[no-untyped-def]
    """The Status column's cells (text on their own tint), the red/amber counts and the Updates rows
    read at AA in both looks: in the dark look a pale cell would be a light card in a dark table."""
    theme.apply_theme(scheme)
    base = QColor(theme.PALETTES[scheme][Role.Base])
    for level, (fg, bg) in [*STATE_COLOURS.items(), ("busy", BUSY_COLOURS)]:
        assert theme.contrast(fg, bg) >= theme.AA_CONTRAST, (scheme, level)
        if scheme == "dark":
            assert bg.lightness() < 100, level
        # the row's other cells use the palette's text on this tint
        assert theme.contrast(QColor(theme.PALETTES[scheme][Role.Text]), bg) >= theme.AA_CONTRAST
    for col, fg in COUNT_COLOURS.items():
        assert theme.contrast(fg, base) >= theme.AA_CONTRAST, (scheme, col)
    for cls, fg in CLASS_FOREGROUND.items():
        bg = ROW_BACKGROUND.get(cls, base)
        assert theme.contrast(fg, bg) >= theme.AA_CONTRAST, (scheme, cls)


def test_view_theme_choice_applies_and_is_kept(qtbot, db, desktop) -> None:  # type: ignore[no-untyped-def]
    win = MainWindow(db, runner=None, secrets=None)
    qtbot.addWidget(win)
    assert set(win.theme_actions) == {"system", "light", "dark"}
    assert win.theme_actions["system"].isChecked()
    win.theme_actions["dark"].trigger()
    assert theme.current_scheme() == "dark"
    assert QApplication.palette().color(Role.Window).lightness() < 100
    win.close()
    again = MainWindow(db, runner=None, secrets=None)  # the next start
    qtbot.addWidget(again)
    assert again.theme_actions["dark"].isChecked()
    assert theme.current_scheme() == "dark"
    again.theme_actions["light"].trigger()
    assert theme.current_scheme() == "light"
    assert QApplication.palette().color(Role.Window).lightness() > 200
    again.close()


def test_system_choice_follows_the_desktop_switching(qtbot, db, desktop, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """QStyleHints.colorSchemeChanged (the desktop switched to dark) re-applies the "system" look."""
    win = MainWindow(db, runner=None, secrets=None)
    qtbot.addWidget(win)
    assert theme.current_scheme() == "light"
    monkeypatch.setattr(theme, "system_scheme", lambda: "dark")
    QGuiApplication.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert theme.current_scheme() == "dark"
    win.close()


@pytest.mark.parametrize("kind", ["QSpinBox", "QDoubleSpinBox"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_spin_box_arrows_are_drawn(qtbot, desktop, scheme, kind) -> None:  # type: ignore[no-untyped-def]
    """#23 item 8: the styled spin boxes had no up/down button rules and showed no usable arrows. Each
    button now shows an arrow that stands out (3:1, WCAG for graphics) from the button; the decimal
    ones too (the Settings dialog's index age and mail timeout had none)."""
    from PySide6 import QtWidgets

    theme.apply_theme(scheme)
    spin = getattr(QtWidgets, kind)()
    qtbot.addWidget(spin)
    spin.resize(120, 30)
    spin.show()
    img = spin.grab().toImage()
    button = QColor(theme.PALETTES[scheme][Role.Button])
    for top in (True, False):
        ys = range(2, img.height() // 2) if top else range(img.height() // 2, img.height() - 2)
        strong = [
            (x, y)
            for x in range(img.width() - 16, img.width() - 3)
            for y in ys
            if theme.contrast(QColor.fromRgb(img.pixel(x, y)), button) >= 3.0
        ]
        # a triangle, not the stray lines of a broken button: several rows and several columns
        assert len({x for x, _ in strong}) >= 3 and len({y for _, y in strong}) >= 3, (top, scheme)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_theme_following_colour_reads_at_aa(desktop, scheme) -> None:  # type: ignore[no-untyped-def]
    """Every text colour a model or view takes from ui/theme.py (the log's levels, the history's step
    states, the advisories' and schedule's cells…) reads at AA on its own background, or on the
    tables' Base and AlternateBase when it has none."""
    import ui.dialogs.patch_dialog
    import ui.views.advisories_view
    import ui.views.audit_view
    import ui.views.job_panel
    import ui.views.schedule_rows  # noqa: F401  (their colours register on import)
    from ui.views.advisories_view import CLASS_COLOURS, SEVERITY_COLOURS

    for hex_colour in (*CLASS_COLOURS.values(), *SEVERITY_COLOURS.values(), "#6b7280"):
        theme.readable(hex_colour)
    theme.readable("#9b1c14", "#fff0db")
    theme.apply_theme(scheme)
    pal = theme.PALETTES[scheme]
    poor = []
    for t in theme._tinted:
        if t.is_background:
            continue
        backs = [t.partner.colour] if t.partner else [QColor(pal[Role.Base]), QColor(pal[Role.AlternateBase])]
        for bg in backs:
            if theme.contrast(t.colour, bg) < theme.AA_CONTRAST:
                poor.append(
                    f"{t.light} -> {t.colour.name()} on {bg.name()}: {theme.contrast(t.colour, bg):.2f}"
                )
    assert not poor, "\n".join(poor)


def test_switching_the_look_recolours_the_shown_hosts_badge(qtbot, db, desktop) -> None:  # type: ignore[no-untyped-def]
    """The host detail's status badge takes its colours when shown: a theme switch shows it again."""
    populate(db, hosts=5, days=2)
    win = MainWindow(db, runner=None, secrets=None)
    qtbot.addWidget(win)
    win.show()
    win.show_inventory()
    win.inventory.table.selectRow(0)
    qtbot.waitUntil(lambda: win.detail.host is not None)
    win.set_theme("dark")
    badge = re.search(r"background: (#[0-9a-f]{6})", win.detail.status.styleSheet())
    assert badge is not None and QColor(badge.group(1)).lightness() < 100
    win.close()
