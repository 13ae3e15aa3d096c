"""paramiko, imported without the ``invoke`` package it pulls in.

paramiko's config module imports ``invoke`` (a task runner that loads ``unittest.mock``, ``asyncio`` and
a vendored YAML) only to evaluate ``Match exec`` blocks of an SSH config. Patchdesk never evaluates
those (app.transports.sshconfig rewrites them so they never match), yet the import was a fifth of a
one-shot CLI scan's start-up. So the first import of paramiko sees ``invoke`` as missing, which
paramiko supports (it raises only if a ``Match exec`` is evaluated); ``invoke`` itself stays
importable for anyone else in the process. Every module of app.transports takes paramiko from here.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Sequence
from types import ModuleType

__all__ = ["paramiko"]

_SKIPPED = "invoke"


class _WithoutInvoke(importlib.abc.MetaPathFinder):
    """Says ``invoke`` is not there, while paramiko is first imported."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> None:
        if fullname == _SKIPPED or fullname.startswith(_SKIPPED + "."):
            raise ModuleNotFoundError(f"No module named {fullname!r} (not used by Patchdesk)", name=fullname)
        return None


def _import_paramiko() -> None:
    if "paramiko" in sys.modules:  # imported directly before (a test): as it is
        return
    finder = _WithoutInvoke()
    sys.meta_path.insert(0, finder)
    try:
        import paramiko  # noqa: F401
    finally:
        sys.meta_path.remove(finder)


_import_paramiko()

import paramiko  # noqa: E402  (now from sys.modules, for the type checker and the importers)
