"""Add or edit a maintenance window: name, patch groups, recurrence, start time, duration, time zone.

The recurrence is built from plain choices (every day / some weekdays / the n-th weekday of the month)
or typed as an RFC 5545 RRULE for anything else; the next openings are previewed as the user types,
with the same window maths the scheduler uses (``app.domain.maintenance_windows``), so what the dialog
shows is what will run. Saving is left to the caller (``result_window()``), which writes and audits it.
"""

from __future__ import annotations

import functools
import os
import re
import zoneinfo
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from PySide6.QtCore import QDate, Qt, QTime, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QStackedWidget,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import ConfigError
from app.domain.maintenance_windows import MaintenanceWindow, next_windows, validate

DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ORDINALS = (("first", 1), ("second", 2), ("third", 3), ("fourth", 4), ("last", -1))
DAILY, WEEKLY, MONTHLY, CUSTOM = range(4)
PREVIEW = 3
#: A window's name is a label, as the CLI takes it ("Saturday night"): any printable text, bounded.
NAME_LIMIT = 200


class Incomplete(ConfigError):
    """A field still to fill in (not a mistake): said as a hint, not as a red error."""


@functools.cache
def zone_names() -> frozenset[str]:
    """The IANA zones this machine knows (``available_timezones`` walks the tz database each call)."""
    return frozenset(zoneinfo.available_timezones())


def local_zone_name() -> str:
    """This workstation's IANA zone name (TZ, /etc/timezone, /etc/localtime), else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    except OSError:
        pass
    try:
        target = os.readlink("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for name in candidates:
        if name and name in zone_names():
            return name
    return "UTC"


def _parts(rule: str) -> dict[str, str]:
    body = rule.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    out: dict[str, str] = {}
    for item in body.split(";"):
        if "=" in item:
            k, v = item.split("=", 1)
            out[k.strip().upper()] = v.strip().upper()
    return out


def _span(start: datetime, end: datetime) -> str:
    later = " (next day)" if end.date() != start.date() else ""
    return f"{start:%a %Y-%m-%d %H:%M} to {end:%H:%M}{later}"


class WindowDialog(QDialog):
    """``existing`` set: edit that window (its name may change); otherwise a new one."""

    def __init__(
        self,
        groups: Sequence[str],
        existing: MaintenanceWindow | None = None,
        taken_names: Sequence[str] = (),
        parent: QWidget | None = None,
        now: datetime | None = None,
        save: Callable[[MaintenanceWindow], MaintenanceWindow] | None = None,
    ) -> None:
        super().__init__(parent)
        self.existing = existing
        self.save = save
        self.saved: MaintenanceWindow | None = None
        self.taken = {n.lower() for n in taken_names if not existing or n != existing.name}
        self.now = now or datetime.now(UTC)
        self._window: MaintenanceWindow | None = None
        self.setWindowTitle(f"Edit window {existing.name}" if existing else "Add maintenance window")
        self.setMinimumWidth(560)

        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. nightly-lab")
        self.groups_edit = QLineEdit()
        self.groups_edit.setPlaceholderText("patch groups, comma-separated, e.g. lab, web")
        if groups:
            comp = QCompleter(list(groups), self)
            comp.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            self.groups_edit.setCompleter(comp)
            self.groups_edit.setToolTip("Known groups: " + ", ".join(groups))

        self.freq_combo = QComboBox()
        self.freq_combo.addItems(
            ["Every day", "Every week on…", "Every month on the…", "Custom rule (RFC 5545 RRULE)"]
        )
        self.day_checks = [QCheckBox(d[:3]) for d in DAY_NAMES]
        days_row = QWidget()
        dl = QHBoxLayout(days_row)
        dl.setContentsMargins(0, 0, 0, 0)
        for c in self.day_checks:
            dl.addWidget(c)
        dl.addStretch(1)
        self.ordinal_combo = QComboBox()
        for label, n in ORDINALS:
            self.ordinal_combo.addItem(label, n)
        self.month_day_combo = QComboBox()
        self.month_day_combo.addItems(list(DAY_NAMES))
        month_row = QWidget()
        ml = QHBoxLayout(month_row)
        ml.setContentsMargins(0, 0, 0, 0)
        ml.addWidget(self.ordinal_combo)
        ml.addWidget(self.month_day_combo)
        ml.addWidget(QLabel("of the month"))
        ml.addStretch(1)
        self.rrule_edit = QLineEdit()
        self.rrule_edit.setPlaceholderText("FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2;BYHOUR=22")
        self.freq_stack = QStackedWidget()
        self.freq_stack.addWidget(QWidget())  # daily: nothing more to say
        self.freq_stack.addWidget(days_row)
        self.freq_stack.addWidget(month_row)
        self.freq_stack.addWidget(self.rrule_edit)

        self.time_edit = QTimeEdit()
        self.time_edit.setDisplayFormat("HH:mm")
        self.duration_spin = QSpinBox()
        self.duration_spin.setRange(15, 7 * 24 * 60)
        self.duration_spin.setSingleStep(15)
        self.duration_spin.setSuffix(" min")
        self.start_date = QDateEdit()
        self.start_date.setCalendarPopup(True)
        self.start_date.setDisplayFormat("yyyy-MM-dd")
        self.start_date.setToolTip("The rule applies from this date on (local time in the window's zone)")
        self.tz_combo = QComboBox()
        self.tz_combo.setEditable(True)
        self.tz_combo.addItems(sorted(zone_names()))
        self.tz_combo.completer().setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.enabled_check = QCheckBox("Enabled (a disabled window never opens)")
        self.description_edit = QLineEdit()
        self.description_edit.setPlaceholderText("optional: what this window is for")

        form = QFormLayout()
        form.addRow("Name", self.name_edit)
        form.addRow("Patch groups", self.groups_edit)
        form.addRow("Repeats", self.freq_combo)
        form.addRow("", self.freq_stack)
        form.addRow("Opens at", self.time_edit)
        form.addRow("Lasts", self.duration_spin)
        form.addRow("Starting", self.start_date)
        form.addRow("Time zone", self.tz_combo)
        form.addRow("", self.enabled_check)
        form.addRow("Description", self.description_edit)

        self.preview = QLabel()
        self.preview.setObjectName("windowPreview")
        self.preview.setWordWrap(True)
        self.preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        note = QLabel(
            "Routine updates of hosts in these groups install only inside the window, and a host starts "
            "only if its estimate plus the rollback reserve fits in what is left of it. Urgent updates do "
            "not wait."
        )
        note.setWordWrap(True)
        note.setObjectName("hint")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.preview)
        lay.addWidget(note)
        lay.addWidget(self.buttons)

        self._load(existing)
        self._last_mode = self.freq_combo.currentIndex()
        for sig in (
            self.name_edit.textChanged,
            self.groups_edit.textChanged,
            self.rrule_edit.textChanged,
            self.description_edit.textChanged,
            self.tz_combo.currentTextChanged,
        ):
            sig.connect(self._changed)
        self.freq_combo.currentIndexChanged.connect(self._freq_changed)
        for c in self.day_checks:
            c.toggled.connect(self._changed)
        self.ordinal_combo.currentIndexChanged.connect(self._changed)
        self.month_day_combo.currentIndexChanged.connect(self._changed)
        self.time_edit.timeChanged.connect(self._changed)
        self.duration_spin.valueChanged.connect(self._changed)
        self.start_date.dateChanged.connect(self._changed)
        self.enabled_check.toggled.connect(self._changed)
        self._changed()

    # -- load ---------------------------------------------------------------------------------------------

    def _load(self, w: MaintenanceWindow | None) -> None:
        if w is None:
            tz = local_zone_name()
            today = self.now.astimezone(zoneinfo.ZoneInfo(tz)).date()
            self.freq_combo.setCurrentIndex(DAILY)
            self.time_edit.setTime(QTime(2, 0))
            self.duration_spin.setValue(120)
            self.start_date.setDate(QDate(today.year, today.month, today.day))
            self.tz_combo.setCurrentText(tz)
            self.enabled_check.setChecked(True)
            self.day_checks[5].setChecked(True)
            self.freq_stack.setCurrentIndex(DAILY)
            return
        self.name_edit.setText(w.name)
        self.groups_edit.setText(", ".join(w.groups))
        self.description_edit.setText(w.description)
        self.duration_spin.setValue(max(15, round(w.duration.total_seconds() / 60)))
        self.start_date.setDate(QDate(w.dtstart.year, w.dtstart.month, w.dtstart.day))
        self.tz_combo.setCurrentText(w.tz)
        self.enabled_check.setChecked(w.enabled)
        p = _parts(w.rrule)
        hour = int(p["BYHOUR"]) if p.get("BYHOUR", "").isdigit() else w.dtstart.hour
        minute = int(p["BYMINUTE"]) if p.get("BYMINUTE", "").isdigit() else w.dtstart.minute
        self.time_edit.setTime(QTime(hour, minute))
        mode = self._mode_of(p)
        self.freq_combo.setCurrentIndex(mode)
        self.freq_stack.setCurrentIndex(mode)
        if mode == WEEKLY:
            chosen = set(p["BYDAY"].split(","))
            for d, c in zip(DAYS, self.day_checks, strict=True):
                c.setChecked(d in chosen)
        elif mode == MONTHLY:
            m = re.fullmatch(r"(-1|[1-4])(MO|TU|WE|TH|FR|SA|SU)", p["BYDAY"])
            assert m is not None
            self.ordinal_combo.setCurrentIndex(self.ordinal_combo.findData(int(m.group(1))))
            self.month_day_combo.setCurrentIndex(DAYS.index(m.group(2)))
        elif mode == CUSTOM:
            self.rrule_edit.setText(w.rrule)

    @staticmethod
    def _mode_of(p: dict[str, str]) -> int:
        """Which of the simple forms the rule is, exactly (anything more goes to the custom field)."""
        time_keys = {"BYHOUR", "BYMINUTE"}
        if not all(p.get(k, "0").isdigit() for k in time_keys):
            return CUSTOM
        keys = set(p) - time_keys - {"INTERVAL"} if p.get("INTERVAL", "1") == "1" else set(p)
        if keys == {"FREQ"} and p["FREQ"] == "DAILY":
            return DAILY
        if keys == {"FREQ", "BYDAY"} and p["FREQ"] == "WEEKLY":
            if all(d in DAYS for d in p["BYDAY"].split(",")):
                return WEEKLY
        if keys == {"FREQ", "BYDAY"} and p["FREQ"] == "MONTHLY":
            if re.fullmatch(r"(-1|[1-4])(MO|TU|WE|TH|FR|SA|SU)", p["BYDAY"]):
                return MONTHLY
        return CUSTOM

    # -- build ----------------------------------------------------------------------------------------------

    def rrule(self) -> str:
        return self._rule_for(self.freq_combo.currentIndex())

    def _rule_for(self, mode: int) -> str:
        t = self.time_edit.time()
        at = f"BYHOUR={t.hour()};BYMINUTE={t.minute()}"
        if mode == DAILY:
            return f"FREQ=DAILY;{at}"
        if mode == WEEKLY:
            days = [d for d, c in zip(DAYS, self.day_checks, strict=True) if c.isChecked()]
            if not days:
                raise ConfigError("Choose at least one day of the week.")
            return f"FREQ=WEEKLY;BYDAY={','.join(days)};{at}"
        if mode == MONTHLY:
            n = self.ordinal_combo.currentData()
            return f"FREQ=MONTHLY;BYDAY={n}{DAYS[self.month_day_combo.currentIndex()]};{at}"
        text = self.rrule_edit.text().strip()
        if not text:
            raise Incomplete("Type a recurrence rule, e.g. FREQ=MONTHLY;BYDAY=2TU;BYHOUR=22.")
        return text

    def build(self) -> MaintenanceWindow:
        """The window the fields describe; a ConfigError that says what to fix otherwise."""
        name = self.name_edit.text().strip()
        if not name:
            raise Incomplete("Give the window a name, e.g. Saturday night.")
        if not name.isprintable() or len(name) > NAME_LIMIT:
            raise ConfigError(
                f"Give the window a name of printable characters, at most {NAME_LIMIT} of them."
            )
        if name.lower() in self.taken:
            raise ConfigError(f"A window named {name!r} already exists.")
        groups = tuple(dict.fromkeys(g.strip() for g in self.groups_edit.text().split(",") if g.strip()))
        if not groups:
            raise Incomplete("Name at least one patch group whose hosts this window is for.")
        d = self.start_date.date()
        t = self.time_edit.time()
        tz = self.tz_combo.currentText().strip()
        w = MaintenanceWindow(
            id=self.existing.id if self.existing else None,
            name=name,
            rrule=self.rrule(),
            duration=timedelta(minutes=self.duration_spin.value()),
            tz=tz,
            dtstart=datetime.combine(date(d.year(), d.month(), d.day()), time(t.hour(), t.minute())),
            groups=groups,
            enabled=self.enabled_check.isChecked(),
            description=self.description_edit.text().strip(),
        )
        validate(w)
        return w

    # -- react ----------------------------------------------------------------------------------------------

    @Slot(int)
    def _freq_changed(self, index: int) -> None:
        if index == CUSTOM and not self.rrule_edit.text().strip() and self._last_mode != CUSTOM:
            # Start the custom rule from what the simple form said, so the user edits rather than types.
            try:
                self.rrule_edit.setText(self._rule_for(self._last_mode))
            except ConfigError:
                pass
        self._last_mode = index
        self.freq_stack.setCurrentIndex(index)
        self._changed()

    @Slot()
    def _changed(self, *_args: object) -> None:
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        try:
            w = self.build()
        except ConfigError as exc:
            self._window = None
            self.preview.setText(str(exc))
            # what is still to fill in is a hint, so a new window does not open on a red error
            self.preview.setObjectName("hintText" if isinstance(exc, Incomplete) else "errorText")
            save.setEnabled(False)
        else:
            self._window = w
            occ = next_windows([w], self.now, PREVIEW) if w.enabled else []
            if not w.enabled:
                text = "Disabled: this window will not open until it is enabled again."
            elif not occ:
                text = "This rule has no future openings (is its UNTIL or COUNT over?)."
            else:
                text = "Next openings: " + "; ".join(
                    _span(o.local_start(), o.end.astimezone(w.zone())) for o in occ
                )
                text += f" ({w.tz})"
            self.preview.setText(text)
            self.preview.setObjectName("windowPreview")
            save.setEnabled(True)
        self.preview.style().unpolish(self.preview)
        self.preview.style().polish(self.preview)

    def result_window(self) -> MaintenanceWindow | None:
        return self._window

    def accept(self) -> None:
        """Save through the caller's ``save``; a refusal (name taken meanwhile…) keeps the dialog open."""
        w = self._window
        if w is None:
            return
        if self.save is not None:
            try:
                self.saved = self.save(w)
            except ConfigError as exc:
                self.preview.setText(f"Not saved: {exc}")
                self.preview.setObjectName("errorText")
                self.preview.style().unpolish(self.preview)
                self.preview.style().polish(self.preview)
                return
        super().accept()
