"""The CLI as the ``patchdesk`` script runs it (``ui.main:main``), with marks at the edges of its phases,
for the breakdown of bench/cli_scan.py: ``python -m bench.cli_probe ARGS`` = ``patchdesk ARGS``.

The marks are taken without touching the product: a post-import hook wraps a few functions of the
CLI, the job runner and the SSH dialer (its first handshake) as their modules load. Only
the standard library is imported here, so the CLI's own imports happen where they would. The marks,
``{name: [time.monotonic(), time.process_time()]}`` plus the heavy modules the process ended up with,
are written as JSON to the file named by ``PD_PROBE_MARKS`` when the command returns.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

MARKS: dict[str, tuple[float, float]] = {}

#: Modules whose presence at the end says what the scan paid for (PySide6 must never be among them).
WATCHED = (
    "PySide6",
    "paramiko",
    "cryptography",
    "sqlite_utils",
    "click",
    "yaml",
    "dateutil",
    "keyring",
    "winrm",
    "requests",
    "platformdirs",
)


def mark(name: str) -> None:
    """The first time ``name`` is reached (later ones are the same phase again: ignored)."""
    if name not in MARKS:
        MARKS[name] = (time.monotonic(), time.process_time())


mark("interpreter")


def _dump() -> None:
    path = os.environ.get("PD_PROBE_MARKS")
    if not path:
        return
    loaded = sorted(m for m in WATCHED if m in sys.modules)
    with open(path, "w") as f:
        json.dump({"marks": MARKS, "modules": loaded, "module_count": len(sys.modules)}, f)


#: module -> (function, mark before the call, mark after it); "Class.method" wraps a method.
WRAPS: dict[str, Sequence[tuple[str, str | None, str | None]]] = {
    "app.cli.jobs": [("scan", "command", None), ("_runner", "inventory_read", "runner_ready")],
    "app.jobs.engine": [("JobEngine.start", "job_started", None)],
    "app.jobs.runner": [("JobRunner.close", "fanout_done", "recorded")],
    "app.cli.main": [("run", None, "reported")],
    # the first SSH handshake: the socket under it may have been opened ahead (app/transports/ahead.py)
    "app.transports.ssh_connect": [("Dialer._handshake", "first_connect", None)],
}


def _wrap(module: ModuleType, attr: str, before: str | None, after: str | None) -> None:
    owner_name, _, name = attr.rpartition(".")
    owner = getattr(module, owner_name) if owner_name else module
    fn: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if before:
            mark(before)
        try:
            return fn(*args, **kwargs)
        finally:
            if after:
                mark(after)
                if after == "reported":
                    _dump()

    setattr(owner, name, wrapper)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds the modules of WRAPS as the path finder would, and wraps their functions once loaded."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in WRAPS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader: Any = spec.loader
        exec_module = loader.exec_module

        def exec_and_wrap(module: ModuleType) -> None:
            exec_module(module)
            for attr, before, after in WRAPS[fullname]:
                _wrap(module, attr, before, after)

        loader.exec_module = exec_and_wrap
        return spec


def main() -> int:
    sys.meta_path.insert(0, _AfterImport())
    from ui.main import main as patchdesk

    # No argv: like the installed script, main() reads the command line, and may end the process
    # the quick way after the command (app/cli/main.py end_process), which the "exit" phase times.
    return patchdesk()


if __name__ == "__main__":
    sys.exit(main())
