"""The empty state every view shows instead of a blank table: what is missing and the next step.

A blank table reads as "broken" or "all fine" to a newcomer (#23 item 5). Like Windows Update's
settings page, each view says in a sentence why nothing is listed and offers the action that fills
it (Add host, Import, Scan). ``EmptyStack`` swaps a view's content for its ``EmptyState`` whenever
the content has nothing to show.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QAbstractItemModel, Qt, Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QStackedWidget, QVBoxLayout, QWidget


class EmptyState(QFrame):
    """A title, a sentence and the buttons for the next step, centred in the view's space."""

    def __init__(self, title: str, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emptyState")
        self.title = QLabel(title)
        self.title.setObjectName("emptyTitle")
        self.title.setWordWrap(True)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.text = QLabel(text)
        self.text.setObjectName("emptyText")
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text.setTextFormat(Qt.TextFormat.PlainText)  # host names and filters are data, never markup
        self.text.setVisible(bool(text))
        self.buttons: dict[str, QPushButton] = {}
        self._row = QHBoxLayout()
        self._row.setSpacing(8)
        self._row.addStretch(1)
        self._row.addStretch(1)
        box = QVBoxLayout(self)
        box.setContentsMargins(24, 24, 24, 24)
        box.setSpacing(10)
        box.addStretch(1)
        box.addWidget(self.title)
        box.addWidget(self.text)
        box.addSpacing(4)
        box.addLayout(self._row)
        box.addStretch(2)

    def set_text(self, title: str, text: str = "") -> None:
        self.title.setText(title)
        self.text.setText(text)
        self.text.setVisible(bool(text))

    def add_action(self, label: str, slot: Callable[[], object], *, name: str = "") -> QPushButton:
        """A button for the next step (the first one added is the default, drawn as such)."""
        button = QPushButton(label)
        button.setObjectName(name or "emptyAction")
        button.setAutoDefault(False)
        button.setDefault(not self.buttons)
        button.clicked.connect(lambda _checked=False: slot())
        self._row.insertWidget(self._row.count() - 1, button)
        self.buttons[label] = button
        return button

    def show_actions(self, *labels: str) -> None:
        """Show only these of the buttons (a filtered table needs Clear, an empty one Add host)."""
        for label, button in self.buttons.items():
            button.setVisible(label in labels)

    def visible_actions(self) -> list[str]:
        return [label for label, b in self.buttons.items() if not b.isHidden()]


class EmptyStack(QStackedWidget):
    """A view's content, or its empty state while ``is_empty()`` holds (by default: the watched
    model has no rows). Call :meth:`sync` after anything else that changes the answer."""

    def __init__(
        self,
        content: QWidget,
        empty: EmptyState,
        is_empty: Callable[[], bool] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.content = content
        self.empty = empty
        self._is_empty = is_empty
        self._model: QAbstractItemModel | None = None
        self.addWidget(content)
        self.addWidget(empty)

    def watch(self, model: QAbstractItemModel) -> None:
        self._model = model
        for signal in (model.modelReset, model.rowsInserted, model.rowsRemoved, model.layoutChanged):
            signal.connect(self.sync)
        self.sync()

    @property
    def showing_empty(self) -> bool:
        return self.currentWidget() is self.empty

    @Slot()
    def sync(self) -> bool:
        """Show the empty state or the content; returns whether the empty state is shown."""
        if self._is_empty is not None:
            empty = self._is_empty()
        else:
            empty = self._model is not None and self._model.rowCount() == 0
        self.setCurrentWidget(self.empty if empty else self.content)
        return empty
