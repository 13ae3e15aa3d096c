"""Real parts the tests start for themselves (an OpenSSH server, a Secret Service) and the policy for
what happens when they cannot run here.

Tests that need such a part *skip* with a reason on a workstation that lacks it, but *fail* when the
environment variable ``PATCHDESK_REQUIRE_HOSTS=1`` is set, so CI that is supposed to have them can
never silently go green by skipping.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def hosts_required() -> bool:
    """Whether missing real parts are a failure (CI) rather than a skip (a developer's laptop)."""
    return os.environ.get("PATCHDESK_REQUIRE_HOSTS", "") == "1"


def unavailable(reason: str) -> NoReturn:
    """Skip the current test because ``reason`` -- or fail it under PATCHDESK_REQUIRE_HOSTS=1."""
    if hosts_required():
        pytest.fail(f"{reason} (PATCHDESK_REQUIRE_HOSTS=1, so this is a failure, not a skip)")
    pytest.skip(reason)
