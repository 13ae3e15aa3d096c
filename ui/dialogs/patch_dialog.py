"""Patch dialog: choose what to install, preview the plan per host, confirm, hand over to the window.

The choice mirrors ``patchdesk patch``: classifications and hand-picked package names are two
filters that both apply (app.jobs.selection.select_updates), per host, over the pending updates of
its last scan. "Preview" runs a plan job (read-only: the package manager simulates the transaction,
dependencies included) on the engine's threads and waits for it on a pool thread, so the window
stays responsive. "Patch…" is enabled only for a preview of the current choice and asks before
anything changes; the dialog then closes with ``request`` set and the main window starts the job.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QBrush, QFont, QFontMetrics
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import PatchdeskError
from app.domain.models import Classification, Host, InstallPlan, PendingUpdate, RebootPolicy, StepState
from app.jobs.engine import JobHandle
from app.jobs.patching import HostSelection
from app.jobs.selection import approved_keys, is_nameable, select_updates, withheld
from db import scans as db_scans
from ui.messages import confirm
from ui.models.host_status import one_line
from ui.resources import icon
from ui.theme import text_colour
from ui.views.host_detail import change_item, change_tree
from ui.workers import submit

logger = logging.getLogger(__name__)

#: How long the pool thread waits for a preview before giving up on it (the engine's own per-host
#: deadline normally ends it much sooner).
PLAN_WAIT = 900.0

CLASS_TEXT = {
    Classification.URGENT: "Urgent",
    Classification.IMPORTANT: "Important",
    Classification.NONCRITICAL: "Non-critical",
}
CLASS_ORDER = (Classification.URGENT, Classification.IMPORTANT, Classification.NONCRITICAL)
REBOOT_CHOICES = (
    ("Host default", None),
    ("Never", RebootPolicy.NEVER),
    ("If needed", RebootPolicy.IF_NEEDED),
    ("Always", RebootPolicy.ALWAYS),
)
PACKAGE_ROLE = Qt.ItemDataRole.UserRole + 1
#: Text colours on the tree's own background, lighter in the dark look (ui/theme.py).
ERROR_COLOUR = text_colour("#9b1c14")
WARNING_COLOUR = text_colour("#9a4d00")
MUTED_COLOUR = text_colour("#5b6372")


@dataclass(frozen=True)
class PatchRequest:
    """What the administrator confirmed: the main window turns it into runner.start_patch(...)."""

    hosts: tuple[Host, ...]
    selections: dict[int, HostSelection]
    reboot: RebootPolicy | None
    verify: bool
    change_count: int


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


class PatchDialog(QDialog):
    def __init__(self, db, runner, hosts: Sequence[Host], parent: QWidget | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.db = db
        self.runner = runner
        self.hosts = [h for h in hosts if h.id is not None]
        self.request: PatchRequest | None = None
        self.plan_handle: JobHandle | None = None
        self.plans: dict[int, InstallPlan] = {}
        self.plan_errors: dict[int, str] = {}
        self._preview_key: tuple[object, ...] | None = None
        self._previewed: dict[int, HostSelection] = {}
        # The pending lists of the last scans, read once: the choice below is computed from them.
        self.pending: dict[int, list[PendingUpdate]] = {
            h.id: db_scans.pending_for_host(db, h.id) for h in self.hosts if h.id is not None
        }
        # firmware and drivers approved for each host's ring: the only ones a patch may select
        self.approved: dict[int, frozenset[str]] = {
            h.id: approved_keys(db, self.pending[h.id], h.ring) for h in self.hosts if h.id is not None
        }

        self.setWindowTitle("Patch hosts")
        self.setObjectName("patchDialog")
        self._size_to_screen(parent)

        names = ", ".join(h.name for h in self.hosts[:6]) + (
            f" and {len(self.hosts) - 6} more" if len(self.hosts) > 6 else ""
        )
        title = QLabel(f"Patch {len(self.hosts)} host(s)")
        title.setObjectName("paneTitle")
        subtitle = QLabel(one_line(names, 400))
        subtitle.setObjectName("hintText")
        subtitle.setWordWrap(True)

        # -- what to install ----------------------------------------------------------------
        self.class_checks: dict[Classification, QCheckBox] = {}
        counts = {c: 0 for c in CLASS_ORDER}
        for ups in self.pending.values():
            for u in ups:
                if is_nameable(u):
                    counts[u.classification] += 1
        classes = QHBoxLayout()
        for c in CLASS_ORDER:
            box = QCheckBox(f"{CLASS_TEXT[c]} ({counts[c]})")
            box.setChecked(c != Classification.NONCRITICAL)
            box.toggled.connect(self._choice_changed)
            self.class_checks[c] = box
            classes.addWidget(box)
        classes.addStretch(1)

        self.package_list = QListWidget()
        self.package_list.setObjectName("patchPackages")
        self.package_list.setUniformItemSizes(True)
        self._fill_packages()
        self.package_list.itemChanged.connect(self._choice_changed)
        pick_hint = QLabel(
            "Check packages to install only those; with none checked, every pending update of the "
            "chosen classifications is installed. Packages new to a host come in as dependencies."
        )
        pick_hint.setObjectName("hintText")
        pick_hint.setWordWrap(True)
        self.choice_label = QLabel()
        self.choice_label.setObjectName("sectionTitle")

        what = QGroupBox("What to install")
        wl = QVBoxLayout(what)
        wl.addLayout(classes)
        wl.addWidget(self.package_list, 1)
        wl.addWidget(pick_hint)
        wl.addWidget(self.choice_label)

        self.reboot_combo = QComboBox()
        for text, value in REBOOT_CHOICES:
            self.reboot_combo.addItem(text, value)
        self.reboot_combo.setToolTip("'Host default' uses each host's own reboot policy")
        self.verify_check = QCheckBox("Verify after patching (rescan and health checks)")
        self.verify_check.setChecked(True)
        options = QGroupBox("Options")
        ol = QFormLayout(options)
        ol.addRow("Reboot:", self.reboot_combo)
        ol.addRow("", self.verify_check)

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(what, 1)
        ll.addWidget(options)

        # -- preview --------------------------------------------------------------------------
        self.preview_button = QPushButton(icon("scan"), "Preview")
        self.preview_button.setObjectName("previewButton")
        self.preview_button.setToolTip(
            "Ask each host's package manager what it would change (changes nothing)"
        )
        self.preview_button.clicked.connect(self.preview)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(160)
        self.busy.setVisible(False)
        self.status_label = QLabel("Preview the plan to see what will change on each host.")
        self.status_label.setObjectName("hintText")
        self.status_label.setWordWrap(True)
        head = QHBoxLayout()
        head.addWidget(self.preview_button)
        head.addWidget(self.busy)
        head.addWidget(self.status_label, 1)
        self.plan_tree = change_tree(("Host / package", "From", "To", "Change"))
        self.plan_tree.setObjectName("planTree")
        self.plan_tree.setRootIsDecorated(True)
        # a version cut at its end hides what changes ("5.36.0-7+…" → "5.36.0-7+…"): cut in the middle
        self.plan_tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.plan_tree.setColumnWidth(0, 210)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        plan_title = QLabel("Plan")
        plan_title.setObjectName("sectionTitle")
        rl.addWidget(plan_title)
        rl.addLayout(head)
        rl.addWidget(self.plan_tree, 1)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setChildrenCollapsible(False)
        split.setSizes([self.width() * 9 // 25, self.width() * 16 // 25])  # the plan needs the width

        self.buttons = QDialogButtonBox()
        self.patch_button = self.buttons.addButton("Patch…", QDialogButtonBox.ButtonRole.AcceptRole)
        self.patch_button.setObjectName("patchButton")
        self.patch_button.setIcon(icon("patch"))
        self.patch_button.setEnabled(False)
        self.patch_button.setToolTip("Available after a preview of the current choice")
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        # buttons.accepted is deliberately not connected to accept(): Patch… asks first.
        self.patch_button.clicked.connect(self._patch_clicked)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addWidget(split, 1)
        layout.addWidget(self.buttons)
        self._choice_changed()

    # -- choice -----------------------------------------------------------------------------------

    def _fill_packages(self) -> None:
        by_name: dict[str, list[PendingUpdate]] = {}
        on_hosts: dict[str, set[int]] = {}
        for hid, ups in self.pending.items():
            for u in ups:
                if is_nameable(u):  # new Linux packages are never named (select_updates)
                    by_name.setdefault(u.name, []).append(u)
                    on_hosts.setdefault(u.name, set()).add(hid)
        # firmware and drivers not approved for some host's ring: listed, but a patch leaves them
        waiting = {u.name for hid, hups in self.pending.items() for u in withheld(hups, self.approved[hid])}
        for name in sorted(by_name, key=str.casefold):
            ups = by_name[name]
            classes = sorted({u.classification for u in ups}, key=CLASS_ORDER.index)
            # a Windows update has no installed version: its title says what it is
            versions = sorted({f"{u.installed} → {u.available}" if u.installed else u.available for u in ups})
            label = f"{one_line(name, 80)}   ·  {', '.join(str(c) for c in classes)}"
            severities = sorted({u.severity for u in ups if u.severity})
            if severities:
                label += f"  ·  {one_line(', '.join(severities), 40)}"
            label += f"  ·  {one_line(versions[0], 60)}" if len(versions) == 1 else "  ·  several versions"
            if len(self.hosts) > 1:
                label += f"  ·  {len(on_hosts[name])} host(s)"
            if name in waiting:
                label += "  ·  needs approval (View → Firmware…)"
            item = QListWidgetItem(label)
            item.setData(PACKAGE_ROLE, name)
            item.setData(PACKAGE_ROLE + 1, [str(c) for c in classes])
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            if any(u.security for u in ups):
                item.setForeground(QBrush(ERROR_COLOUR))
            item.setToolTip("\n".join([label, *(f"{one_line(name, 200)} {v}" for v in versions)]))
            self.package_list.addItem(item)

    def _size_to_screen(self, parent: QWidget | None) -> None:
        """Most of the screen the dialog opens on (never more than it): the plan's versions need the
        width, a fixed 860x640 cut them on a big screen and did not fit a small one."""
        screen = (parent.screen() if parent is not None else None) or self.screen()
        avail = screen.availableGeometry()
        width = min(avail.width() - 40, max(860, avail.width() * 17 // 20))
        height = min(avail.height() - 60, max(640, avail.height() * 4 // 5))
        self.resize(max(width, 480), max(height, 360))

    def package_item(self, name: str) -> QListWidgetItem | None:
        for i in range(self.package_list.count()):
            item = self.package_list.item(i)
            if item.data(PACKAGE_ROLE) == name:
                return item
        return None

    def set_packages(self, names: Sequence[str]) -> None:
        """Check exactly ``names`` in the package list (for tests and keyboard users alike)."""
        for i in range(self.package_list.count()):
            item = self.package_list.item(i)
            want = item.data(PACKAGE_ROLE) in names
            item.setCheckState(Qt.CheckState.Checked if want else Qt.CheckState.Unchecked)

    def chosen_classes(self) -> set[Classification]:
        return {c for c, box in self.class_checks.items() if box.isChecked()}

    def chosen_packages(self) -> set[str] | None:
        names = {
            self.package_list.item(i).data(PACKAGE_ROLE)
            for i in range(self.package_list.count())
            if self.package_list.item(i).checkState() == Qt.CheckState.Checked
        }
        return names or None

    def selections(self) -> dict[int, HostSelection]:
        classes, packages = self.chosen_classes(), self.chosen_packages()
        return {
            hid: select_updates(
                ups, classifications=classes, packages=packages, approved=self.approved.get(hid, frozenset())
            )
            for hid, ups in self.pending.items()
        }

    def _key(self) -> tuple[object, ...]:
        """What a preview is valid for: the effective per-host choice, not how it was ticked."""
        return tuple(sorted((hid, s.names) for hid, s in self.selections().items() if s.names))

    @Slot()
    def _choice_changed(self, *_args: object) -> None:
        chosen = self.chosen_classes()
        self.package_list.blockSignals(True)
        for i in range(self.package_list.count()):
            item = self.package_list.item(i)
            eligible = any(Classification(c) in chosen for c in item.data(PACKAGE_ROLE + 1))
            flags = item.flags()
            item.setFlags(
                flags | Qt.ItemFlag.ItemIsEnabled if eligible else flags & ~Qt.ItemFlag.ItemIsEnabled
            )
        self.package_list.blockSignals(False)
        sel = self.selections()
        names = {n for s in sel.values() for n in s.names}
        nhosts = sum(1 for s in sel.values() if s.names)
        if not self.pending or not any(self.pending.values()):
            self.choice_label.setText("Nothing is pending on these hosts (scan them first).")
        elif not names:
            self.choice_label.setText("Nothing chosen: tick a classification or a package of it.")
        else:
            self.choice_label.setText(f"Chosen: {len(names)} package(s) on {nhosts} host(s)")
        self.preview_button.setEnabled(bool(names) and self.plan_handle is None)
        if self._preview_key is not None and self._preview_key != self._key():
            self.status_label.setText("The choice changed: preview again before patching.")
            self.plan_tree.setEnabled(False)
        elif self._preview_key is not None:
            self.plan_tree.setEnabled(True)
            self._show_plan_status()
        self._update_patch_button()

    # -- preview ----------------------------------------------------------------------------------

    @Slot()
    def preview(self) -> None:
        if self.plan_handle is not None or self.runner is None:
            return
        selections = {hid: s for hid, s in self.selections().items() if s.names}
        hosts = [h for h in self.hosts if h.id in selections]
        if not hosts:
            return
        try:
            handle = self.runner.start_plan(self.db, hosts, selections)
        except PatchdeskError as exc:
            self.status_label.setText(str(exc))
            return
        self.plan_handle = handle
        key = self._key()
        self.plans, self.plan_errors, self._preview_key = {}, {}, None
        self.plan_tree.clear()
        self.busy.setVisible(True)
        self.preview_button.setEnabled(False)
        self.status_label.setText(f"Asking {len(hosts)} host(s) what would change…")
        self._update_patch_button()
        logger.info("plan job %d for %d host(s)", handle.job_id, len(hosts))
        submit(
            self,
            lambda: handle.wait(PLAN_WAIT),
            lambda finished: self._plan_done(handle, key, selections, bool(finished)),
        )

    def _plan_done(
        self, handle: JobHandle, key: tuple[object, ...], selections: dict[int, HostSelection], finished: bool
    ) -> None:
        if handle is not self.plan_handle:
            return
        self.plan_handle = None
        self.busy.setVisible(False)
        if not finished:
            handle.cancel()
            self.status_label.setText("The preview took too long and was cancelled; try again.")
            self._choice_changed()
            return
        for h in self.hosts:
            if h.id not in selections:
                continue
            outcome = handle.outcomes.get(h.id)
            if (
                outcome is not None
                and outcome.state == StepState.SUCCEEDED
                and isinstance(outcome.result, InstallPlan)
            ):
                self.plans[h.id] = outcome.result
            else:
                self.plan_errors[h.id] = (
                    (outcome.error if outcome is not None and outcome.error else "no plan came back")
                    if outcome is None or outcome.state != StepState.CANCELLED
                    else "cancelled"
                )
        self._preview_key = key
        self._previewed = selections
        self._fill_plan_tree()
        self._choice_changed()

    def _fill_plan_tree(self) -> None:
        self.plan_tree.clear()
        bold = QFont()
        bold.setBold(True)
        for h in self.hosts:
            assert h.id is not None
            if h.id in self.plan_errors:
                top = QTreeWidgetItem([h.name, "", "", "not planned"])
                top.setFont(0, bold)
                top.setForeground(3, QBrush(ERROR_COLOUR))
                err = QTreeWidgetItem([one_line(self.plan_errors[h.id], 400)])
                err.setForeground(0, QBrush(ERROR_COLOUR))
                top.addChild(err)
                err.setFirstColumnSpanned(True)
                err.setToolTip(0, one_line(self.plan_errors[h.id], 1000))
            elif h.id in self.plans:
                plan = self.plans[h.id]
                n = len(plan.changes)
                summary = f"{n} change(s)" if n else "up to date"
                if plan.reboot_expected:
                    summary += ", reboot expected"
                top = QTreeWidgetItem([h.name, "", "", summary])
                top.setFont(0, bold)
                if plan.reboot_expected:
                    top.setForeground(3, QBrush(WARNING_COLOUR))
                for c in plan.changes:
                    item = change_item(c.name, c.from_version, c.to_version, c.action)
                    for col, full in ((0, c.name), (1, c.from_version), (2, c.to_version)):
                        if full:  # the whole value, even where the cell is cut
                            item.setToolTip(col, one_line(full, 1000))
                    top.addChild(item)
                for w in plan.warnings:
                    warn = QTreeWidgetItem(["⚠ " + one_line(w, 300)])
                    warn.setForeground(0, QBrush(WARNING_COLOUR))
                    top.addChild(warn)
                    warn.setFirstColumnSpanned(True)
            else:
                top = QTreeWidgetItem([h.name, "", "", "nothing chosen"])
                top.setForeground(3, QBrush(MUTED_COLOUR))
            self.plan_tree.addTopLevelItem(top)
            top.setExpanded(True)
        self._fit_plan_columns()

    def _fit_plan_columns(self) -> None:
        """Columns as wide as their text where the tree has the room, else shared in proportion, so
        From and To show whole versions where they can; every cell's whole text is in its tooltip
        for where they cannot (elided in the middle)."""
        tree = self.plan_tree
        room = max(tree.viewport().width(), 400)
        tops = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
        rows = [top.child(j) for top in tops for j in range(top.childCount())]
        widths = [self._natural_width(c, rows) for c in range(4)]
        widths[0] += 2 * tree.indentation()
        # the hosts' summaries ("4 change(s), reboot expected") may take a fifth, then elide
        widths[3] = max(widths[3], min(self._natural_width(3, tops), room // 5))
        if sum(widths) <= room:  # the slack goes to the summaries first, then to the names
            widths[3] = min(self._natural_width(3, tops), widths[3] + room - sum(widths))
            widths[0] += room - sum(widths)
        else:
            left, total = room - widths[3], sum(widths[:3])
            widths[:3] = [max(w * left // total, room // 7) for w in widths[:3]]
        for col, width in enumerate(widths):
            tree.setColumnWidth(col, width)
        for item in (*tops, *rows):
            for col in range(4):
                if item.text(col) and not item.toolTip(col):
                    item.setToolTip(col, item.text(col))

    def _natural_width(self, col: int, items: Sequence[QTreeWidgetItem]) -> int:
        header = self.plan_tree.headerItem().text(col)
        texts = [(self.plan_tree.font(), header)] + [(i.font(col), i.text(col)) for i in items]
        return max(QFontMetrics(font).horizontalAdvance(text) for font, text in texts) + 20

    def change_count(self) -> int:
        return sum(len(p.changes) for p in self.plans.values())

    def patch_hosts(self) -> list[Host]:
        return [h for h in self.hosts if h.id is not None and self.plans.get(h.id, InstallPlan(())).changes]

    def _show_plan_status(self) -> None:
        n, m = self.change_count(), len(self.patch_hosts())
        parts = [f"{n} change(s) on {m} host(s)"] if n else ["Nothing would change"]
        if self.plan_errors:
            parts.append(f"{len(self.plan_errors)} host(s) could not be planned and are left out")
        reboots = sum(1 for p in self.plans.values() if p.reboot_expected and p.changes)
        if reboots:
            parts.append(f"{reboots} expect a reboot")
        self.status_label.setText("; ".join(parts) + ".")

    def _update_patch_button(self) -> None:
        ready = (
            self.plan_handle is None
            and self._preview_key is not None
            and self._preview_key == self._key()
            and self.change_count() > 0
        )
        self.patch_button.setEnabled(ready)

    @Slot()
    def _patch_clicked(self) -> None:
        if not self.patch_button.isEnabled():
            return
        hosts = self.patch_hosts()
        n = self.change_count()
        reboot = self.reboot_combo.currentData()
        what = "" if reboot is None else f" Reboot: {self.reboot_combo.currentText().lower()}."
        if not confirm(
            self,
            "Patch hosts",
            f"Install {_plural(n, 'change')} on {_plural(len(hosts), 'host')}?{what}",
            "Install",
        ):
            return
        self.request = PatchRequest(
            hosts=tuple(hosts),
            selections={h.id: self._previewed[h.id] for h in hosts if h.id is not None},
            reboot=reboot,
            verify=self.verify_check.isChecked(),
            change_count=n,
        )
        self.accept()

    def done(self, result: int) -> None:
        if self.plan_handle is not None:  # closed while previewing: the plan is no longer wanted
            self.plan_handle.cancel()
            self.plan_handle = None
        super().done(result)
