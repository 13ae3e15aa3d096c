"""Help → User guide (F1): the first hour with Patchdesk, from resources/user-guide.html.

A QTextBrowser rather than the system browser: it works the same on an offline site, in a bundle and
without a desktop default browser. The window is not modal, so the guide can stay open beside the
console while the administrator follows it; links to other pages open in the system browser.
"""

from __future__ import annotations

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from ui.resources import user_guide_path


class UserGuideDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Patchdesk user guide")
        self.setModal(False)
        self.browser = QTextBrowser()
        self.browser.setObjectName("userGuide")
        self.browser.setOpenExternalLinks(True)  # in-page anchors stay here, web links go outside
        path = user_guide_path()
        if path.is_file():
            self.browser.setSource(QUrl.fromLocalFile(str(path)))
        else:  # a damaged install: say so rather than show a blank window
            self.browser.setPlainText(f"The user guide is missing from this installation ({path}).")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.browser, 1)
        lay.addWidget(buttons)
        self._size_to_screen(parent)

    def _size_to_screen(self, parent: QWidget | None) -> None:
        screen = (parent.screen() if parent is not None else None) or self.screen()
        avail = screen.availableGeometry()
        self.resize(min(820, avail.width() - 40), min(760, avail.height() - 60))

    def headings(self) -> list[str]:
        """The guide's section headings (tests: what the first hour covers)."""
        doc = self.browser.document()
        out, block = [], doc.begin()
        while block.isValid():
            if block.blockFormat().headingLevel() == 2:
                out.append(block.text())
            block = block.next()
        return out
