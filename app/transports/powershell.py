"""PowerShell for the WinRM transport: quoting, how a script reaches powershell.exe, and CLIXML stderr.

Pure text functions, no network: app.transports.winrm runs what these build. A script runs as
``powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand <base64 of
UTF-16LE>`` when that fits :data:`MAX_COMMAND_LINE`; a longer one (or one with ``stdin`` data) goes
through the command's stdin to a small fixed :data:`BOOTSTRAP`, which hands the stdin bytes to the
script as ``$PatchdeskStdin`` (PowerShell cannot read a raw binary stdin reliably, and the stdin pipe
already carries the script).
"""

# ruff: noqa: E501 - embedded PowerShell reads better unwrapped

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from app.transports.base import Command

#: Longest command line we hand to WinRS. cmd.exe stops at 8191 characters; we stay below.
MAX_COMMAND_LINE = 8000
POWERSHELL = "powershell.exe"
POWERSHELL_ARGS = ("-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand")

#: Put in front of every script: UTF-8 output, no progress records on stderr.
PROLOGUE = (
    "$ProgressPreference = 'SilentlyContinue'\r\n"
    "[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false\r\n"
    "$OutputEncoding = [Console]::OutputEncoding\r\n"
)

#: Reads the real script (line 1) and the stdin bytes (line 2), both base64, from stdin and runs it.
#: ``$input`` enumerates stdin lines in ``powershell.exe -EncodedCommand`` (the approach Ansible's
#: WinRM bootstrap has used for years).
BOOTSTRAP = (
    "# patchdesk:bootstrap\r\n"
    "$patchdeskLines = @($input)\r\n"
    "$patchdeskScript = [System.Text.Encoding]::UTF8.GetString("
    "[System.Convert]::FromBase64String([string]$patchdeskLines[0]))\r\n"
    "$PatchdeskStdin = [byte[]]@()\r\n"
    "if ($patchdeskLines.Count -gt 1 -and [string]$patchdeskLines[1]) "
    "{ $PatchdeskStdin = [System.Convert]::FromBase64String([string]$patchdeskLines[1]) }\r\n"
    "Remove-Variable patchdeskLines\r\n"
    ". ([ScriptBlock]::Create($patchdeskScript))\r\n"
)

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_CLIXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
#: PowerShell treats all of these as single quotes inside a single-quoted string.
_PS_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"


def ps_quote(value: str) -> str:
    """A PowerShell single-quoted string literal holding ``value`` verbatim (no expansion at all)."""
    out = []
    for ch in value:
        out.append(ch * 2 if ch in _PS_SINGLE_QUOTES else ch)
    return "'" + "".join(out) + "'"


def to_powershell(command: Command) -> str:
    """A script from a command: a string is a trusted script; a sequence is quoted word by word and
    run with the call operator, so untrusted words stay data."""
    if isinstance(command, str):
        return command
    words = list(command)
    if not words:
        raise ValueError("empty command")
    return "& " + " ".join(ps_quote(w) for w in words)


def env_lines(env: dict[str, str] | None) -> str:
    if not env:
        return ""
    lines = []
    for key, value in env.items():
        if not _ENV_NAME.match(key):
            raise ValueError(f"not a valid environment variable name: {key!r}")
        lines.append(f"${{env:{key}}} = {ps_quote(value)}\r\n")
    return "".join(lines)


def encode_command(script: str) -> str:
    """``-EncodedCommand`` form of a script: base64 of its UTF-16LE bytes."""
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


@dataclass(frozen=True)
class Invocation:
    """How one script reaches the host: the program, its arguments and what goes to its stdin."""

    arguments: tuple[str, ...]
    stdin: bytes | None  # None: nothing is sent (console-mode stdin)
    via_stdin: bool

    @property
    def command_line(self) -> str:
        return " ".join((POWERSHELL, *self.arguments))


def build_invocation(script: str, stdin: bytes | None = None, *, limit: int = MAX_COMMAND_LINE) -> Invocation:
    """The command line for ``script`` (already including the prologue), or the bootstrap plus stdin."""
    direct = (*POWERSHELL_ARGS, encode_command(script))
    if stdin is None and len(" ".join((POWERSHELL, *direct))) <= limit:
        return Invocation(direct, None, via_stdin=False)
    payload = base64.b64encode(script.encode("utf-8")) + b"\r\n" + base64.b64encode(stdin or b"") + b"\r\n"
    return Invocation((*POWERSHELL_ARGS, encode_command(PROLOGUE + BOOTSTRAP)), payload, via_stdin=True)


def _unescape_clixml(text: str) -> str:
    return _CLIXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def clixml_to_text(data: bytes) -> bytes:
    """Turn PowerShell's CLIXML stderr into plain text; anything else is returned unchanged.

    powershell.exe writes errors, warnings and verbose messages to a redirected stderr as
    ``#< CLIXML`` followed by an ``<Objs>`` document whose ``<S S="Error">`` strings carry the text,
    with line breaks escaped as ``_x000D__x000A_``. Progress records (``<Obj S="progress">``) are
    dropped. Text before the marker (a native program's stderr) is kept.
    """
    marker = b"#< CLIXML"
    idx = data.find(marker)
    if idx < 0:
        return data
    before = data[:idx]
    rest = data[idx + len(marker) :].lstrip(b"\r\n")
    pieces: list[str] = []
    # A command may emit several CLIXML documents (one per pipeline); parse each <Objs>…</Objs>.
    docs = re.findall(rb"<Objs\b.*?</Objs>", rest, flags=re.S)
    if not docs:
        return data
    for doc in docs:
        try:
            root = ET.fromstring(doc)  # noqa: S314 - output of the host, no entities are resolved
        except ET.ParseError:
            return data
        for node in root:
            tag = node.tag.rsplit("}", 1)[-1]
            if tag != "S" or not node.text:
                continue
            stream = node.get("S", "")
            text = _unescape_clixml(node.text)
            if stream in ("Warning", "Verbose", "Debug", "Information"):
                text = f"{stream.upper()}: {text}"
            pieces.append(text)
    joined = "".join(pieces)
    lines = [line.rstrip() for line in joined.replace("\r\n", "\n").split("\n")]
    text = "\n".join(lines).strip("\n")
    out = before + text.encode("utf-8")
    return out + b"\n" if text else out


#: Writes $PatchdeskStdin to @PATH@ through a temporary name.
PUT_SCRIPT = """# patchdesk:put
$ErrorActionPreference = 'Stop'
$p = @PATH@
$dir = Split-Path -Parent $p
if ($dir -and -not (Test-Path -LiteralPath $dir)) { New-Item -ItemType Directory -Force -Path $dir | Out-Null }
$tmp = $p + '.patchdesk-tmp'
[System.IO.File]::WriteAllBytes($tmp, $PatchdeskStdin)
Move-Item -LiteralPath $tmp -Destination $p -Force
"""

#: Prints @COUNT@ bytes of @PATH@ from @OFFSET@ in base64; exit status 2 when the file is missing.
GET_SCRIPT = """# patchdesk:get
$ErrorActionPreference = 'Stop'
$p = @PATH@
if (-not (Test-Path -LiteralPath $p -PathType Leaf)) { [Console]::Error.WriteLine('not found'); exit 2 }
$fs = [System.IO.File]::Open($p, 'Open', 'Read', 'ReadWrite')
try {
  [void]$fs.Seek(@OFFSET@, 'Begin')
  $buf = New-Object byte[] @COUNT@
  $n = 0
  while ($n -lt $buf.Length) { $r = $fs.Read($buf, $n, $buf.Length - $n); if ($r -le 0) { break }; $n += $r }
  [Console]::Out.Write([System.Convert]::ToBase64String($buf, 0, $n))
} finally { $fs.Dispose() }
"""
