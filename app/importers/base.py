"""What every inventory importer returns (the good hosts and the bad rows with their line numbers), and
the limits every importer shares: a bounded read, a line length, a host count per file.

An inventory may come from anywhere (an attacker's file, a tired administrator's /dev/zero), so each
limit ends in a sentence naming the line, never in a hang, a memory blow-up or a traceback.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from app.domain.errors import ConfigError, ImportFormatError, PatchdeskError
from app.domain.inventory import parse_port, validate_host
from app.domain.models import Host

#: The largest inventory read, whatever the file system says its size is.
MAX_IMPORT_BYTES = 20 * 1024 * 1024
#: Hosts read from one file; a setting may pass another value. More are reported, never dropped quietly.
MAX_HOSTS_PER_FILE = 100_000
#: Names that ranges such as ``web[0:9999]`` may produce in one file, repeats included.
MAX_EXPANDED_NAMES = 1_000_000
#: Lines longer than this are reported and skipped before tokenising (shlex is quadratic on them).
MAX_LINE_CHARS = 8192
#: How much of an offending value a message quotes.
QUOTE_CHARS = 80
MAX_NAME_CHARS = 255
_MAX_MESSAGE_CHARS = 400

# C0/C1 controls, line/paragraph separators and bidi overrides: each can rewrite a terminal line or a
# CSV export, so a name, group, tag or path holding one is refused with a sentence.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def quote(text: str, limit: int = QUOTE_CHARS) -> str:
    """``repr`` of ``text``, cut to ``limit`` characters with the full length said (escapes controls)."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text):,} characters)"


def bare(text: str, limit: int = QUOTE_CHARS) -> str:
    """``text`` as it is when it is short and has nothing to escape (a tag, an anchor); else quoted."""
    if len(text) <= limit and repr(text)[1:-1] == text:
        return text
    return quote(text, limit)


def port_of(value: str) -> int | None:
    """A port from a file: ASCII digits only, checked before int() (``isdigit`` takes '¹', which int
    refuses, and int refuses more than 4,300 digits); None for an empty value."""
    v = value.strip()
    if v and not (len(v) <= 5 and v.isascii() and v.isdigit()):
        raise ConfigError(f"The port {quote(value)} is not a number between 1 and 65535.")
    return parse_port(v)


def long_line_problem(line: str) -> str | None:
    """The problem to report for a line over MAX_LINE_CHARS, or None for a line that may be parsed."""
    if len(line) <= MAX_LINE_CHARS:
        return None
    return f"the line is {len(line):,} characters long (at most {MAX_LINE_CHARS:,}); skipped: {quote(line)}"


_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # POSIX only, as are the two below
_OPEN_FLAGS = os.O_RDONLY | _NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


def read_bounded(
    path: Path,
    limit: int = MAX_IMPORT_BYTES,
    *,
    what: str = "inventory",
    error: type[PatchdeskError] = ImportFormatError,
) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them, or ``error`` with a sentence.

    Devices, FIFOs and sockets are refused before they are opened (``/dev/zero`` never ends, a FIFO
    waits for a writer); the read stops at ``limit`` + 1 bytes whatever ``st_size`` says (files in
    /proc report 0 and are not).
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise _not_regular(path, what, error)
        # O_NONBLOCK: if the path was swapped for a FIFO since the stat, open returns at once.
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise error(f"{path} does not exist.") from None
    except PermissionError:
        raise error(f"{path} cannot be read (permission denied).") from None
    except OSError as exc:
        raise error(f"{path} cannot be opened: {exc.strerror or exc}.") from None
    with os.fdopen(fd, "rb") as stream:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _not_regular(path, what, error)
        if _NONBLOCK:
            os.set_blocking(fd, True)
        try:
            return read_bounded_stream(stream, limit, str(path), what=what, error=error)
        except IsADirectoryError:
            raise error(f"{path} is a folder, not an {what} file.") from None
        except OSError as exc:
            raise error(f"{path} cannot be read: {exc.strerror or exc}.") from None


def _not_regular(path: Path, what: str, error: type[PatchdeskError]) -> PatchdeskError:
    if path.is_dir():
        return error(f"{path} is a folder, not an {what} file.")
    return error(
        f"{path} is not a regular file (a device, FIFO or socket); save the {what} to a file and import that."
    )


def read_bounded_stream(
    stream: IO[bytes],
    limit: int,
    name: str,
    *,
    what: str = "inventory",
    error: type[PatchdeskError] = ImportFormatError,
) -> bytes:
    """Read ``stream`` (a file, or stdin when the user asked for it) to its end, refusing more than
    ``limit`` bytes as soon as they arrive."""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(min(1 << 20, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise error(f"{name} holds more than {limit:,} bytes; a larger {what} is refused.")


@dataclass
class ImportProblem:
    line: int  # 1-based line in the file; 0 when the format gives none
    message: str

    def __post_init__(self) -> None:
        # A safety net for messages built elsewhere (domain checks, parser errors) that quote input
        # whole or unescaped: a problem is one short line that prints safely on a terminal.
        message = _CONTROL.sub(lambda m: ascii(m.group())[1:-1], self.message)
        if len(message) > _MAX_MESSAGE_CHARS:
            message = message[:_MAX_MESSAGE_CHARS] + "… (message cut)"
        self.message = message

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass
class ImportResult:
    format: str
    hosts: list[Host] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    #: line of each host in the file, by host name (to report problems found later, e.g. duplicates)
    lines: dict[str, int] = field(default_factory=dict)
    max_hosts: int = MAX_HOSTS_PER_FILE
    max_expanded: int = MAX_EXPANDED_NAMES
    # Host names are case-insensitive (as DNS names are): the lower-cased name -> the name first read.
    _keys: dict[str, str] = field(default_factory=dict, repr=False)
    _admitted: int = field(default=0, repr=False)
    _over: int = field(default=0, repr=False)
    _first_over: tuple[str, int] = field(default=("", 0), repr=False)
    _expanded: int = field(default=0, repr=False)

    def problem(self, line: int, message: str) -> None:
        self.problems.append(ImportProblem(line, message))

    @property
    def full(self) -> bool:
        """True once ``max_hosts`` names were read; parsers then count names instead of reading them."""
        return self._admitted >= self.max_hosts

    def admit(self, name: str, line: int, count: int = 1) -> bool:
        """Take a place for ``name``; False when the file already named ``max_hosts`` hosts, and then
        ``name`` is counted for the report (``count``: the names it stands for, a range's size)."""
        if not self.full:
            self._admitted += 1
            return True
        self.count_over(name, line, count)
        return False

    def count_over(self, name: str, line: int, count: int = 1) -> None:
        """Count ``count`` names from ``name`` on as not read for the cap (a parser that collects
        names before it builds hosts decides this itself)."""
        if not self._over:
            self._first_over = (name, line)
        self._over += count

    def spend_expansion(self, count: int, pattern: str, line: int) -> bool:
        """Account for a range producing ``count`` names; False (reported once) past the budget."""
        if self._expanded + count <= self.max_expanded:
            self._expanded += count
            return True
        if self._expanded <= self.max_expanded:
            self.problem(
                line,
                f"ranges in this file expand to more than {self.max_expanded:,} names (repeats included); "
                f"{quote(pattern)} and the ranges after it were not expanded",
            )
            self._expanded = self.max_expanded + 1
        return False

    def add(self, host: Host, line: int, *, admitted: bool = False) -> None:
        """Keep ``host`` unless it is invalid, a repeat (in any letter case) or over the host cap;
        each refusal is a problem naming ``line``. ``admitted``: the parser already took its place."""
        message = row_problem(host)
        if message is not None:
            self.problem(line, message)
            return
        key = host.name.lower()
        key = host.name if key == host.name else key  # share the string when already lower-case
        first = self._keys.get(key)
        if first is not None:
            if first == host.name:
                message = f"{host.name} appears again (first at line {self.lines[first]}); kept the first."
            else:
                message = (
                    f"{host.name} is the same host as {first} (line {self.lines[first]}; "
                    "host names ignore case); kept the first."
                )
            self.problem(line, message)
            return
        if not admitted and not self.admit(host.name, line):
            return
        self.hosts.append(host)
        self.lines[host.name] = line
        self._keys[key] = host.name

    def finish(self) -> ImportResult:
        """Report the host cap if it was reached, and put the problems in line order."""
        if self._over:
            name, line = self._first_over
            self.problem(
                line,
                f"this file names more hosts than the limit of {self.max_hosts:,} per file; "
                f"the first {self.max_hosts:,} were read, the others ({self._over:,}, from {quote(name)} on) "
                "were not",
            )
            self._over = 0
        self.problems.sort(key=lambda p: p.line)
        return self


def row_problem(host: Host) -> str | None:
    """The first problem of one host read from a file, as a sentence that quotes at most
    QUOTE_CHARS characters of it; None when it may be imported."""
    at_most = f"is too long (at most {MAX_NAME_CHARS} characters)"
    if len(host.name) > MAX_NAME_CHARS:
        return f"the host name {quote(host.name)} {at_most}"
    if len(host.address) > MAX_NAME_CHARS:
        return f"the address {quote(host.address)} of {bare(host.name)} {at_most}"
    fields = [("host name", host.name), ("address", host.address), ("group", host.group or "")]
    fields += [("user name", host.user or ""), ("key file", host.key_file or "")]
    fields += [("tag", t) for t in host.tags]
    for what, value in fields:
        if _CONTROL.search(value):
            owner = "" if what == "host name" else f" of {quote(host.name)}"
            return f"the {what} {quote(value)}{owner} contains control characters"
    if host.group is not None and len(host.group) > MAX_NAME_CHARS:
        return f"the group {quote(host.group)} of {host.name} {at_most}"
    try:
        validate_host(host)
    except ConfigError as exc:
        return str(exc)
    return None
