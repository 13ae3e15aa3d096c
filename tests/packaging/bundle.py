"""Where the packaged build is and how the tests run it.

The bundle is built by ``make dist`` (CI runs it before ``make test``). A test that needs it skips
with the reason when it is missing -- unless ``PATCHDESK_REQUIRE_BUNDLE=1`` (set by .ci/run), under
which a missing bundle fails, so CI can never go green by skipping the frozen checks.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUNDLE_EXE = ROOT / "dist" / "patchdesk" / ("patchdesk.exe" if os.name == "nt" else "patchdesk")

#: stderr lines that are the environment's, not Patchdesk's, and do not fail a check. Empty on purpose:
#: add a pattern only with a comment that says why the line is harmless.
EXPECTED_STDERR: tuple[re.Pattern[str], ...] = ()


def bundle_or_skip() -> Path:
    if BUNDLE_EXE.is_file():
        return BUNDLE_EXE
    reason = f"the packaged build {BUNDLE_EXE.relative_to(ROOT)} is missing: run `make dist` first"
    if os.environ.get("PATCHDESK_REQUIRE_BUNDLE") == "1":
        pytest.fail(f"{reason} (PATCHDESK_REQUIRE_BUNDLE=1, so this is a failure, not a skip)")
    pytest.skip(reason)


def unexpected_stderr(stderr: str) -> list[str]:
    return [
        line
        for line in stderr.splitlines()
        if line.strip() and not any(p.search(line) for p in EXPECTED_STDERR)
    ]


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """A minimal environment: a fresh HOME, no proxies, no display, no session bus, no keyring choice.

    Built from nothing rather than filtered from os.environ, so nothing of the developer's session
    (proxies, SSH agent, D-Bus, PYTHON_KEYRING_BACKEND, PATCHDESK_*) can leak into the check.
    """
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TMPDIR": str(home / "tmp"),
    }
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    env.update(extra)
    return env
