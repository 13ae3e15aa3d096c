"""Showing errors to the user: known errors are one sentence in a message box, never a traceback."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from app.domain.errors import PatchdeskError


def show_error(parent: QWidget | None, text: str, title: str = "Patchdesk") -> None:
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorMessage")
    box.exec()


def show_known_error(parent: QWidget | None, exc: PatchdeskError, title: str = "Patchdesk") -> None:
    show_error(parent, str(exc), title)


def confirm(parent: QWidget | None, title: str, text: str, yes: str = "OK") -> bool:
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.NoButton, parent)
    ok = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is ok
