"""PowerShell for the WinRM transport: quoting, how a script reaches powershell.exe, and CLIXML stderr.

Pure text functions, no network: app.transports.winrm runs what these build. A script runs as
``powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand <base64 of
UTF-16LE>`` when that fits :data:`MAX_COMMAND_LINE`; a longer one (or one with ``stdin`` data) goes
through the command's stdin to a small fixed bootstrap (``ps/bootstrap.ps1``), which hands the stdin
bytes to the script as ``$PatchdeskStdin`` (PowerShell cannot read a raw binary stdin reliably, and the
stdin pipe already carries the script). The scripts themselves are trusted ``ps/*.ps1`` files.
"""

from __future__ import annotations

import base64
import functools
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from importlib import resources

from app.transports.base import Command

#: Longest command line we hand to WinRS. cmd.exe stops at 8191 characters; we stay below.
MAX_COMMAND_LINE = 8000
POWERSHELL = "powershell.exe"
POWERSHELL_ARGS = ("-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand")

_CRLF_SCRIPTS = frozenset({"prologue", "bootstrap"})
_PLACEHOLDER = re.compile(r"\$\{@([A-Z]+)@\}")
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
    return Invocation((*POWERSHELL_ARGS, encode_command(prologue() + bootstrap())), payload, via_stdin=True)


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
            # PowerShell 5.1 names these streams in lowercase (S="warning"), newer ones capitalised.
            stream = node.get("S", "").lower()
            text = _unescape_clixml(node.text)
            if stream in ("warning", "verbose", "debug", "information"):
                text = f"{stream.upper()}: {text}"
            pieces.append(text)
    joined = "".join(pieces)
    lines = [line.rstrip() for line in joined.replace("\r\n", "\n").split("\n")]
    text = "\n".join(lines).strip("\n")
    out = before + text.encode("utf-8")
    return out + b"\n" if text else out


@functools.cache
def script(name: str) -> str:
    """The trusted script ``ps/<name>.ps1`` beside this module.

    Read as bytes (text mode would translate line ends); ``prologue`` and ``bootstrap`` go out with
    Windows line ends, as powershell.exe is fed them.
    """
    text = (resources.files(__package__) / "ps" / f"{name}.ps1").read_bytes().decode("utf-8")
    return text.replace("\n", "\r\n") if name in _CRLF_SCRIPTS else text


def prologue() -> str:
    """Put in front of every script: UTF-8 output, no progress records on stderr."""
    return script("prologue")


def bootstrap() -> str:
    """Reads the real script (line 1) and the stdin bytes (line 2), both base64, from stdin and runs it.

    ``$input`` enumerates stdin lines in ``powershell.exe -EncodedCommand`` (the approach Ansible's
    WinRM bootstrap has used for years).
    """
    return script("bootstrap")


def fill(name: str, **values: str) -> str:
    """Script ``name`` with its ``${@NAME@}`` placeholders replaced in one pass, so a value (a quoted
    path) is never searched for another placeholder."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(1).lower()], script(name))
