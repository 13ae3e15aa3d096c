"""The PySide6 6.12.0 emit defect (ui/qtcompat.py): a long session must never abort on it."""

from __future__ import annotations

import os
import subprocess
import sys

from ui.qtcompat import emit_leaks_references

# More emits than True has references in a fresh process (a few thousand): on an affected PySide6
# without the guard, this aborts with "Fatal Python error: bool_dealloc".
_SESSION = """
import sys
from ui.app import _application
from ui.qtcompat import _Probe
app = _application()
probe = _Probe()
for _ in range(50_000):
    probe.ping.emit()
print("emitted", sys.getrefcount(True) > 0)
"""


def test_a_session_emitting_many_signals_exits_cleanly() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "-c", _SESSION], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "emitted True" in proc.stdout


def test_the_installed_pyside6_keeps_its_references() -> None:
    # pyproject.toml excludes the release with the defect; the guard is for environments that have it
    assert not emit_leaks_references(), "this PySide6 release loses references at emit()"
