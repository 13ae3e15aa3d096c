"""Writing report and export files atomically: a temporary file beside the target, checked, renamed.

A failed write (a folder given as the file, a read-only file, a full disk, a PDF writer that silently
produced nothing) is a sentence, and the target is either the complete new file or untouched. The
rename can be held back until the caller's audit entry is committed (:meth:`StagedFile.publish`
inside the audit transaction), so no file is reported or audited as written that was not.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from app.domain.errors import PatchdeskError

if TYPE_CHECKING:
    from app.services.reports import Report
    from db.connection import Database


class StagedFile:
    """A complete, checked temporary file waiting to replace ``target``."""

    def __init__(self, target: Path, tmp: Path) -> None:
        self.target = target
        self.tmp = tmp

    def publish(self) -> None:
        try:
            os.replace(self.tmp, self.target)
        except OSError as exc:
            self.discard()
            raise PatchdeskError(f"Cannot write {self.target}: {exc.strerror or exc}.") from exc

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


def _check_target(target: Path) -> None:
    if target.is_dir():
        raise PatchdeskError(f"{target} is a folder; give a file name, such as {target / 'report.pdf'}.")
    if not target.parent.is_dir():
        raise PatchdeskError(f"Cannot write {target}: the folder {target.parent} does not exist.")
    if target.exists():
        mode = target.stat().st_mode
        # root may write anything, so the permission bits say what the owner meant
        if not os.access(target, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            raise PatchdeskError(f"{target} is read-only; choose another file or make it writable.")


def stage(
    target: Path, write: Callable[[Path], None], *, magic: bytes = b"", nonempty: bool = True
) -> StagedFile:
    """Write through ``write(tmp)`` to a temporary file beside ``target`` and check it is not empty
    (unless ``nonempty`` is off) and starts with ``magic``; the caller publishes or discards it."""
    target = Path(target).expanduser()
    _check_target(target)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise PatchdeskError(f"Cannot write {target}: {exc.strerror or exc}.") from exc
    os.close(fd)
    staged = StagedFile(target, Path(name))
    try:
        # mkstemp's file is private (0600); the report gets the mode the file it replaces had
        os.chmod(staged.tmp, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        write(staged.tmp)
        with open(staged.tmp, "rb") as fh:
            head = fh.read(max(len(magic), 1))
        if (nonempty and not head) or not head.startswith(magic):
            raise PatchdeskError(f"{target} could not be written (the writer produced no usable file).")
    except OSError as exc:
        staged.discard()
        raise PatchdeskError(f"Cannot write {target}: {exc.strerror or exc}.") from exc
    except BaseException:
        staged.discard()
        raise
    return staged


def write_text(target: Path, text: str) -> None:
    """Write ``text`` (UTF-8, newlines as given) to ``target`` atomically."""

    stage(target, lambda tmp: _write(tmp, text), nonempty=bool(text)).publish()


def write_report(
    db: Database,
    report: Report,
    target: Path,
    fmt: str,
    scope: str,
    pdf_writer: Callable[[Report, Path], None],
) -> None:
    """Write ``report`` as ``fmt`` (csv, json, html, pdf through ``pdf_writer``) to ``target`` with its
    ``report.exported`` audit entry: the file replaces the target only inside the transaction that
    records the entry, so a locked database leaves neither, and a failed write no entry."""
    from app.reports import render
    from app.services import audit

    if fmt == "pdf":
        staged = stage(target, lambda tmp: pdf_writer(report, tmp), magic=b"%PDF-")
    else:
        text = {"csv": render.to_csv, "json": render.to_json, "html": render.to_html}[fmt](report)
        staged = stage(target, lambda tmp: _write(tmp, text))
    try:
        with audit.transaction(db):
            audit.report_exported(db, str(target), fmt, scope)
            staged.publish()
    except BaseException:
        staged.discard()
        raise


def _write(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
