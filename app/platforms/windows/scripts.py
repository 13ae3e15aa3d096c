"""How Patchdesk's PowerShell scripts are put together.

Every script is trusted text kept in ``ps/*.ps1`` next to this module (loaded with importlib.resources,
so it works from a wheel and from the PyInstaller bundle). A script as sent starts with a marker line
``# patchdesk:<op>`` (which makes it recognisable in logs and to the test server). Anything that
varies -- update ids, KB numbers, package names, which are untrusted text from a host -- travels as
*data*: a JSON object, base64-encoded
into a single-quoted literal and turned back into ``$P`` by ``ConvertFrom-Json`` on the host. Base64 has
no character PowerShell gives a meaning to, so nothing from a host is ever parsed as code.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Mapping
from importlib import resources

_OP_RE = re.compile(r"[a-z][a-z0-9-]*\Z")
_MARKER_RE = re.compile(r"^# patchdesk:([a-z][a-z0-9-]*)\r?$", re.M)
_PARAMS_RE = re.compile(r"FromBase64String\('([A-Za-z0-9+/=]*)'\)\)\s*\|\s*ConvertFrom-Json")
_NAME_RE = re.compile(r"[a-z][a-z0-9-]*\Z")
_PACKAGE = __name__.rpartition(".")[0]

#: Placeholders in the .ps1 files, written as braced variables so every file parses as PowerShell on
#: its own. Both are filled with trusted code only; data from a host travels in ``$P`` (see render).
BOOT_PLACEHOLDER = "${@BOOT@}"
PAYLOAD_PLACEHOLDER = "${@PAYLOAD@}"


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


def script_files() -> list[str]:
    """The names of every script file under ps/ (without ``.ps1``)."""
    folder = resources.files(_PACKAGE) / "ps"
    return sorted(f.name[:-4] for f in folder.iterdir() if f.name.endswith(".ps1"))


@functools.cache
def _read(name: str) -> str:
    if not _NAME_RE.match(name):
        raise ValueError(f"bad script file name {name!r}")
    # bytes, not read_text: text mode would translate line ends, and the scripts go out as written
    return (resources.files(_PACKAGE) / "ps" / f"{name}.ps1").read_bytes().decode("utf-8")


def script_body(*names: str, crlf: bool = False) -> str:
    """The text of the script files ``names``, joined, with the boot-time placeholder filled.

    ``crlf`` sends Windows line ends (the files keep ``\\n``); Chocolatey's scripts always went out so.
    """
    text = "".join(_read(name) for name in names).replace(BOOT_PLACEHOLDER, BOOT_TIME)
    return text.replace("\n", "\r\n") if crlf else text
