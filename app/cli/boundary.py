"""The error boundary both faces share: which exceptions are known conditions, and their sentences.

A *known* condition (a locked or damaged database, a file that cannot be written, an unreadable input,
the keyring, a host that cannot be reached) becomes one sentence and an exit status; the CLI
(app/cli/main.py) prints it, the GUI's crash hook (ui/dialogs/crash_dialog.py) shows it in a message
box. Anything else is a bug: its traceback goes to the log file only, with one line saying so.
"""

from __future__ import annotations

import logging
import os
import select
import sys
import traceback
from pathlib import Path
from types import TracebackType

from app.cli.common import EXIT_FAILED, EXIT_USAGE
from app.domain.errors import (
    AdvisoryFormatError,
    ConfigError,
    ImportFormatError,
    PatchdeskError,
    SecretStoreError,
    TransportError,
)

logger = logging.getLogger("app.cli")

#: A bug (sysexits' EX_SOFTWARE): the traceback is in the log file.
EXIT_BUG = 70
#: Interrupted with Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130
#: The reader of our output went away (``patchdesk hosts list | head``): what a SIGPIPE death gives.
EXIT_PIPE = 141

#: Third-party exception families recognised by the module that defines them, so this module needs
#: none of them installed (and app/ keeps importing keyring only through app.secrets).
_KEYRING_MODULES = ("keyring", "secretstorage", "jeepney")
_TRANSPORT_MODULES = ("paramiko", "winrm", "requests", "urllib3", "spnego", "ntlm_auth")
_PARSER_MODULES = ("yaml",)


def _family(exc: BaseException) -> str:
    return type(exc).__module__.split(".", 1)[0]


def _os_sentence(exc: OSError) -> str:
    what = exc.strerror or str(exc) or type(exc).__name__
    name = exc.filename
    if name is not None:
        return f"Cannot use {os.fsdecode(name)}: {what}."
    return f"The system refused: {what}."


def known_error(exc: BaseException, db_path: Path | str | None = None) -> PatchdeskError | None:
    """The known condition ``exc`` stands for, as a PatchdeskError with its sentence; None for a bug."""
    from db.database import known_database_error

    if isinstance(exc, PatchdeskError):
        return exc
    found: PatchdeskError | None = known_database_error(exc, db_path)
    if found is not None:
        return found
    family = _family(exc)
    if family in _KEYRING_MODULES:
        found = SecretStoreError(f"The keyring refused: {exc or type(exc).__name__}.")
    elif family in _TRANSPORT_MODULES:
        found = TransportError(f"Talking to the host failed: {exc or type(exc).__name__}.")
    elif family in _PARSER_MODULES or isinstance(exc, UnicodeDecodeError) or _parser_recursion(exc):
        found = ImportFormatError(f"The input could not be read: {_short(exc)}.")
    elif isinstance(exc, OSError):
        found = PatchdeskError(_os_sentence(exc))
    if found is not None:
        found.__cause__ = exc
    return found


def _parser_recursion(exc: BaseException) -> bool:
    """A RecursionError raised inside a parser (deeply nested JSON/YAML/XML input), not a bug of ours."""
    if not isinstance(exc, RecursionError):
        return False
    tb = exc.__traceback__
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.split(".")[0] in ("json", "yaml", "tomllib", "xml", "ast"):
            return True
        tb = tb.tb_next
    return False


def _short(exc: BaseException) -> str:
    """At most ~80 characters of an error about hostile input (it may quote the input)."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, RecursionError):
        text = "it is nested too deeply"
    return text if len(text) <= 80 else text[:77] + "..."


def exit_status(err: PatchdeskError) -> int:
    """Usage and input errors are EXIT_USAGE; everything else that stopped a command EXIT_FAILED."""
    return (
        EXIT_USAGE if isinstance(err, ConfigError | ImportFormatError | AdvisoryFormatError) else EXIT_FAILED
    )


def log_bug(exc: BaseException, tb: TracebackType | None = None) -> str | None:
    """Write the traceback of a bug to the log file only (not to stderr); returns the log file."""
    info = (type(exc), exc, tb or exc.__traceback__)
    record = logger.makeRecord(logger.name, logging.ERROR, __file__, 0, "internal error", (), info)
    where: str | None = None
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)
            where = handler.baseFilename
    if where is None:  # no log file could be opened: the traceback must not be lost
        traceback.print_exception(*info, file=sys.stderr)
    return where


def output_closed(out: object) -> bool:
    """Whether the reader of ``out`` went away (a pipe whose other end is closed), so that a
    BrokenPipeError from elsewhere (a socket, a file) is not taken for ``| head`` and silenced. Where
    poll() is missing (Windows) any BrokenPipeError is taken for the output's."""
    poll = getattr(select, "poll", None)
    try:
        fd = out.fileno()  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False
    if poll is None:
        return True
    watcher = poll()
    watcher.register(fd, select.POLLOUT)
    return any(ev & (select.POLLERR | select.POLLHUP) for _fd, ev in watcher.poll(0))


def silence_stdout() -> None:
    """After the reader of stdout went away: send what is still buffered to /dev/null, so the
    interpreter's last flush does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (a test's StringIO): nothing to do
        pass
