"""The one way the GUI finds its icons and stylesheet, from source and from a PyInstaller bundle.

From source (or an installed wheel) the files live in the ``resources`` package and are found with
``importlib.resources``; in a frozen build PyInstaller unpacks them under ``sys._MEIPASS/resources``
(the spec file must add ``("resources", "resources")`` as data).
"""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path

from PySide6.QtGui import QIcon

logger = logging.getLogger(__name__)


@functools.cache
def resources_dir() -> Path:
    frozen_base = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and frozen_base:
        return Path(frozen_base) / "resources"
    from importlib.resources import files

    # The package is a plain directory (never zipped), so its Traversable is a real path.
    return Path(str(files("resources")))


def resource_path(relative: str) -> Path:
    return resources_dir() / relative


@functools.cache
def icon(name: str) -> QIcon:
    """``icon("scan")`` -> resources/icons/scan.svg; a missing icon logs and returns an empty icon."""
    path = resource_path(f"icons/{name}.svg")
    if not path.is_file():
        logger.warning("icon %s not found at %s", name, path)
        return QIcon()
    return QIcon(str(path))


#: Help → User guide (F1): the first hour, as a page shipped with the app (pyproject's package-data
#: and build.spec take it along).
USER_GUIDE = "user-guide.html"


def user_guide_path() -> Path:
    return resource_path(USER_GUIDE)


def app_icon() -> QIcon:
    return icon("patchdesk")


def stylesheet() -> str:
    path = resource_path("patchdesk.qss")
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        logger.warning("stylesheet %s could not be read", path)
        return ""
