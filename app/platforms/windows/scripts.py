"""How Patchdesk's PowerShell scripts are put together.

Every script is trusted text written here, and starts with a marker line ``# patchdesk:<op>`` (which
makes it recognisable in logs and to the test server). Anything that varies -- update ids, KB numbers,
package names, which are untrusted text from a host -- travels as *data*: a JSON object, base64-encoded
into a single-quoted literal and turned back into ``$P`` by ``ConvertFrom-Json`` on the host. Base64 has
no character PowerShell gives a meaning to, so nothing from a host is ever parsed as code.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping

_OP_RE = re.compile(r"[a-z][a-z0-9-]*\Z")
_MARKER_RE = re.compile(r"^# patchdesk:([a-z][a-z0-9-]*)\r?$", re.M)
_PARAMS_RE = re.compile(r"FromBase64String\('([A-Za-z0-9+/=]*)'\)\)\s*\|\s*ConvertFrom-Json")


def render(op: str, body: str, params: Mapping[str, object] | None = None) -> str:
    """A script: the marker, ``$P`` from ``params`` (JSON, base64), then ``body``."""
    if not _OP_RE.match(op):
        raise ValueError(f"bad script name {op!r}")
    blob = base64.b64encode(json.dumps(dict(params or {}), ensure_ascii=True).encode("ascii")).decode("ascii")
    return (
        f"# patchdesk:{op}\r\n"
        "$P = [System.Text.Encoding]::UTF8.GetString("
        f"[System.Convert]::FromBase64String('{blob}')) | ConvertFrom-Json\r\n"
        f"{body}"
    )


def script_ops(script: str) -> list[str]:
    """The ``# patchdesk:<op>`` markers of a script, in order (for logs and the test server)."""
    return _MARKER_RE.findall(script)


def script_params(script: str) -> list[dict[str, object]]:
    """Every ``$P`` object embedded in a script by :func:`render`, in order."""
    out: list[dict[str, object]] = []
    for blob in _PARAMS_RE.findall(script):
        value = json.loads(base64.b64decode(blob))
        if isinstance(value, dict):
            out.append(value)
    return out


#: Prints the last boot time as an ISO 8601 UTC string (used to notice a restart).
BOOT_TIME = (
    "(Get-CimInstance -ClassName Win32_OperatingSystem).LastBootUpTime.ToUniversalTime().ToString('o')"
)
