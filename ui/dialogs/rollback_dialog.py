"""Confirmation of a rollback: exactly what will be restored on which host, before anything runs.

Built from the same RollbackRequest the job will use (app.jobs.selection.rollback_request), so what
the administrator reads is what the task does: each package of the change record back to its
from-version, packages the patch newly installed removed. A patch interrupted before it wrote its
change record is rolled back from its snapshot; then the current versions are only known once the
host is asked, and the dialog says so.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.models import ChangeAction, Host
from app.jobs.rollback import RollbackRequest
from ui.models.host_status import one_line
from ui.resources import icon
from ui.theme import text_colour
from ui.views.host_detail import change_item, change_tree


def restore_rows(req: RollbackRequest) -> list[tuple[str, str | None, str | None, ChangeAction, str]]:
    """(package, current, restored, action, label) for each package the rollback touches."""
    rows = []
    if req.changes:
        for c in req.changes:
            back = c.reverse()
            action = back.action
            label = {ChangeAction.REMOVE: "remove", ChangeAction.INSTALL: "reinstall"}.get(action, "restore")
            rows.append((c.name, c.to_version, c.from_version, action, label))
    else:
        for name, version in sorted(req.snapshot.items()):
            action = ChangeAction.REMOVE if version is None else ChangeAction.DOWNGRADE
            rows.append(
                (name, None, version, action, "remove if installed" if version is None else "restore")
            )
    return rows


class RollbackDialog(QDialog):
    def __init__(
        self,
        requests: Sequence[tuple[Host, RollbackRequest]],
        skipped: Sequence[str] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.requests = list(requests)
        self.setWindowTitle("Roll back")
        self.setObjectName("rollbackDialog")
        self.resize(640, 440)

        jobs = sorted({r.subject_job_id for _h, r in self.requests})
        hosts = [h.name for h, _r in self.requests]
        if len(jobs) == 1:
            head = f"Roll back job #{jobs[0]} on {', '.join(hosts[:5])}" + (
                f" and {len(hosts) - 5} more" if len(hosts) > 5 else ""
            )
        else:
            head = f"Roll back the last patch on {len(hosts)} hosts"
        title = QLabel(one_line(head, 300))
        title.setObjectName("paneTitle")
        title.setWordWrap(True)
        intro = QLabel(
            "These packages go back to the versions they had before the patch; packages the patch "
            "installed are removed. If an old version is no longer available from a host's "
            "repositories, nothing is changed on that host. A verification runs afterwards."
        )
        intro.setObjectName("hintText")
        intro.setWordWrap(True)

        self.tree = change_tree(("Host / package", "Current", "Restored", "Action"))
        self.tree.setObjectName("rollbackTree")
        self.tree.setRootIsDecorated(len(self.requests) > 1)
        self.tree.setColumnWidth(0, 200)
        bold = QFont()
        bold.setBold(True)
        self.package_count = 0
        for host, req in self.requests:
            rows = restore_rows(req)
            parent_item = None
            if len(self.requests) > 1:
                parent_item = QTreeWidgetItem([host.name, "", "", f"job #{req.subject_job_id}"])
                parent_item.setFont(0, bold)
                self.tree.addTopLevelItem(parent_item)
            if not req.changes and req.snapshot:
                note = QTreeWidgetItem(
                    [
                        f"Job #{req.subject_job_id} was interrupted: restored from its snapshot; "
                        "current versions are read from the host."
                    ]
                )
                note.setForeground(0, QBrush(text_colour("#9a4d00")))
                self._add(parent_item, note)
                note.setFirstColumnSpanned(True)
            for name, current, restored, action, label in rows:
                item = change_item(name, current, restored or "removed", action, label)
                if current is None and not req.changes:
                    item.setText(1, "?")
                self._add(parent_item, item)
                self.package_count += 1
            if parent_item is not None:
                parent_item.setExpanded(True)

        self.skipped_label = QLabel("\n".join(one_line(s, 400) for s in skipped))
        self.skipped_label.setObjectName("errorText")
        self.skipped_label.setWordWrap(True)
        self.skipped_label.setVisible(bool(skipped))

        buttons = QDialogButtonBox()
        self.rollback_button = buttons.addButton("Roll back", QDialogButtonBox.ButtonRole.AcceptRole)
        self.rollback_button.setObjectName("dangerButton")
        self.rollback_button.setIcon(icon("rollback"))
        cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.skipped_label)
        layout.addWidget(buttons)
        self.tree.setFocus(Qt.FocusReason.OtherFocusReason)

    def _add(self, parent: QTreeWidgetItem | None, item: QTreeWidgetItem) -> None:
        if parent is None:
            self.tree.addTopLevelItem(item)
        else:
            parent.addChild(item)

    def hosts(self) -> list[Host]:
        return [h for h, _r in self.requests]
