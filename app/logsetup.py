"""Logging for every face: a rotating log file under the platform log dir, warnings to stderr."""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path


def log_dir() -> Path:
    env = os.environ.get("PATCHDESK_LOG_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_log_dir("patchdesk", appauthor=False))


def setup_logging(
    *, verbose: bool = False, stderr: bool = True, file_name: str = "patchdesk.log"
) -> Path | None:
    """Install the handlers once; returns the log file path (None when it cannot be created).
    ``file_name``: the GUI's job worker process writes a file of its own (app/jobs/worker.py)."""
    root = logging.getLogger()
    if getattr(root, "_patchdesk_configured", False):
        return getattr(root, "_patchdesk_logfile", None)
    root.setLevel(logging.DEBUG)
    logfile: Path | None = log_dir() / file_name
    try:
        assert logfile is not None
        logfile.parent.mkdir(parents=True, exist_ok=True)
        fh = logging.handlers.RotatingFileHandler(
            logfile, maxBytes=5 * 1024 * 1024, backupCount=5, encoding="utf-8"
        )
        fh.setLevel(logging.DEBUG if verbose else logging.INFO)
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
        root.addHandler(fh)
    except OSError:
        logfile = None
    if stderr:
        sh = logging.StreamHandler()
        sh.setLevel(logging.DEBUG if verbose else logging.WARNING)
        sh.setFormatter(logging.Formatter("patchdesk: %(levelname)s: %(message)s"))
        root.addHandler(sh)
    # paramiko logs every failed connection at ERROR with a traceback; we report those ourselves.
    logging.getLogger("paramiko").setLevel(logging.CRITICAL if not verbose else logging.DEBUG)
    root._patchdesk_configured = True  # type: ignore[attr-defined]
    root._patchdesk_logfile = logfile  # type: ignore[attr-defined]
    return logfile
