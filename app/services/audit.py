"""The audit log: who did what to which host, when — tamper-evident.

One entry point, :func:`record`, used by the CLI handlers and the GUI's actions. Secrets never go in:
a credential change is recorded as "changed", never with its value (``details`` keys that look like
secrets are refused). Entries are hash-chained by db/audit.py; ``patchdesk audit verify`` walks the
chain. Optionally each entry is also sent to syslog (setting ``audit.syslog``: ``host[:port]`` for
UDP, a socket path such as ``/dev/log``, or empty/absent for none) so the SOC has a copy the local
database cannot rewrite.

At every append the chain is *anchored* outside the table it protects: the entry count and the head
(id and hash) go to the anchor file in the log folder and to the log file (and, with the entry, to
syslog). ``verify`` holds the table against the newest anchor of this database it can find, so
deleting the newest entries and pointing the head back, or wiping the log, shows. Entries recorded
inside :func:`transaction` are anchored only once it has committed: an anchor never names an entry
that was rolled back.
"""

from __future__ import annotations

import getpass
import json
import logging
import logging.handlers
import os
import re
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.domain.audit import Anchor, AuditEntry, ChainCheck, check_anchor
from db import audit as db_audit
from db.connection import Database
from db.database import database_file, write_transaction

logger = logging.getLogger(__name__)

SYSLOG_SETTING = "audit.syslog"
_SECRET_WORDS = ("password", "secret", "passphrase", "token", "private_key")

# Administrative actions (the strings stored in the log).
HOST_ADDED = "host.added"
HOST_EDITED = "host.edited"
HOST_REMOVED = "host.removed"
HOSTS_IMPORTED = "hosts.imported"
CREDENTIALS_CHANGED = "credentials.changed"
HOST_KEY_ACCEPTED = "host-key.accepted"
HOST_KEY_FORGOTTEN = "host-key.forgotten"
PATCH_STARTED = "patch.started"
ROLLBACK_STARTED = "rollback.started"
APPROVAL = "update.approval"
SETTINGS_CHANGED = "settings.changed"
WINDOW_EDITED = "window.edited"
LOGS_PRUNED = "logs.pruned"
REPORT_EXPORTED = "report.exported"
DATABASE_RESTORED = "database.restored"


def actor() -> str:
    """The OS user running Patchdesk."""
    try:
        return getpass.getuser()
    except Exception:  # no login name in some service contexts; still record the action
        return "unknown"


def _check_no_secrets(details: Mapping[str, Any]) -> None:
    for key in details:
        low = str(key).lower()
        if any(w in low for w in _SECRET_WORDS) and not low.endswith(("_changed", "_set", "_ref")):
            raise ValueError(f"audit details must not carry secrets (key {key!r})")


#: Entries recorded inside an open :func:`transaction`, per connection, anchored after its commit.
_uncommitted: dict[int, list[AuditEntry]] = {}


def record(
    db: Database, action: str, target: str = "", details: Mapping[str, Any] | None = None
) -> AuditEntry:
    """Append an audit entry (and forward it to syslog when configured). Never stores a secret."""
    details = dict(details or {})
    _check_no_secrets(details)
    entry = db_audit.append(db, action, target, details, actor())
    pending = _uncommitted.get(id(db.conn))
    if pending is not None:
        pending.append(entry)
    else:
        _published(db, [entry])
    return entry


@contextmanager
def transaction(db: Database) -> Iterator[Database]:
    """A change and its audit entries in one write transaction: all of it is committed, or nothing.
    The entries go to syslog and the anchor file once the commit succeeded."""
    key = id(db.conn)
    if key in _uncommitted:  # nested: the outer transaction publishes
        with write_transaction(db):
            yield db
        return
    _uncommitted[key] = []
    try:
        with write_transaction(db):
            yield db
        entries = _uncommitted[key]
    finally:
        _uncommitted.pop(key, None)
    _published(db, entries)


def _published(db: Database, entries: list[AuditEntry]) -> None:
    """Forward and anchor committed entries. The change is committed by now, so a failure here is
    logged, never raised: the command must not report a committed change as failed."""
    if not entries:
        return
    try:
        total = db_audit.count(db)
        for entry in entries:
            _forward(db, entry, total)
        _anchor(db, entries[-1], total)
    except Exception:
        logger.warning("audit entries up to %d not forwarded or anchored", entries[-1].id, exc_info=True)


def verify(db: Database) -> ChainCheck:
    """The chain checked in itself, then against the newest anchor of this database outside it."""
    check = db_audit.verify(db)
    path = database_file(db)
    anchor = newest_anchor(path) if path else None
    anchored = db_audit.hash_of(db, anchor.head_id) if anchor is not None else None
    return check_anchor(check, anchor, anchored)


def entries(db: Database, **kw: Any) -> list[AuditEntry]:
    return db_audit.entries(db, **kw)


def describe(check: ChainCheck) -> str:
    against = (
        f" Checked against {check.anchor}."
        if check.anchor
        else " No anchor of this database was found outside it (log folder), so the newest entries "
        "deleted together with the recorded head would not show."
    )
    if check.ok:
        return f"Audit log intact: {check.entries} entries, every hash matches.{against}"
    where = f"entry {check.broken_id}" if check.broken_id is not None else "the chain"
    return f"Audit log broken at {where}: {check.reason}.{against}"


def patch_started(db: Database, host_names: list[str], job_id: int, **details: Any) -> AuditEntry:
    """A patch job that will change hosts (a dry run is no administrative action)."""
    return record(db, PATCH_STARTED, ", ".join(host_names), {"job": job_id, "hosts": host_names, **details})


def rollback_started(db: Database, host_names: list[str], job_id: int, undo_job: int | None) -> AuditEntry:
    """A rollback job; ``undo_job`` is the patch job it undoes (None: each host's newest)."""
    details = {"job": job_id, "hosts": host_names, "undo_job": undo_job}
    return record(db, ROLLBACK_STARTED, ", ".join(host_names), details)


def report_exported(db: Database, target: str, fmt: str, scope: str) -> AuditEntry:
    return record(db, REPORT_EXPORTED, target, {"format": fmt, "scope": scope})


def database_restored(db: Database, path: str, copy: str, aside: str, lost: str) -> AuditEntry:
    """A damaged database replaced by its safety copy (``patchdesk db check --restore``); ``lost`` names
    the audit entries that went with the damaged file ("" for none), since the anchors that named
    them are overtaken by the next appends."""
    details = {"from": copy, "damaged_kept_as": aside, "entries_lost": lost or "none"}
    return record(db, DATABASE_RESTORED, path, details)


def set_syslog_target(db: Database, value: str) -> bool:
    """Set (or with "" switch off) the syslog copy of the log; False when nothing changed."""
    from db import settings as db_settings

    value = value.strip()
    if value == (syslog_target(db) or ""):
        return False
    db_settings.set_setting(db, SYSLOG_SETTING, value or None)
    record(db, SETTINGS_CHANGED, SYSLOG_SETTING, {"value": value or "off"})
    return True


def set_log_retention(db: Database, days: int | None) -> bool:
    """Keep job logs ``days`` days (None or 0: forever); False when nothing changed."""
    from db import joblogs

    days = days or None
    if days == joblogs.retention_days(db):
        return False
    joblogs.set_retention_days(db, days)
    record(db, SETTINGS_CHANGED, joblogs.RETENTION_SETTING, {"value": days or "forever"})
    return True


# -- syslog forwarding -----------------------------------------------------------------------------

_handlers: dict[str, logging.Handler] = {}


def syslog_target(db: Database) -> str | None:
    from db import settings as db_settings

    value = (db_settings.get_setting(db, SYSLOG_SETTING) or "").strip()
    return value or None


def syslog_handler(target: str) -> logging.Handler:
    """A SysLogHandler for ``host[:port]`` (UDP) or a local socket path; cached per target."""
    if target not in _handlers:
        if target.startswith("/"):
            address: Any = target
            handler = logging.handlers.SysLogHandler(address=address, facility="authpriv")
        else:
            host, _, port = target.rpartition(":") if ":" in target else (target, "", "514")
            handler = logging.handlers.SysLogHandler(
                address=(host, int(port or 514)), facility="authpriv", socktype=socket.SOCK_DGRAM
            )
        handler.setFormatter(logging.Formatter("patchdesk-audit: %(message)s"))
        _handlers[target] = handler
    return _handlers[target]


def syslog_line(entry: AuditEntry, entries: int | None = None) -> str:
    """The entry as JSON; ``entries`` (the log's entry count after it) makes the line an anchor too."""
    data = entry.as_json()
    if entries is not None:
        data["anchor_entries"] = entries
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _forward(db: Database, entry: AuditEntry, entries: int | None = None) -> None:
    target = syslog_target(db)
    if not target:
        return
    try:
        handler = syslog_handler(target)
        line = syslog_line(entry, entries)
        rec = logging.LogRecord("patchdesk.audit", logging.INFO, __file__, 0, line, None, None)
        handler.emit(rec)
    except (OSError, ValueError) as exc:  # the entry is in the database; say the copy failed
        logger.warning("audit entry %d not forwarded to syslog %s: %s", entry.id, target, exc)


# -- anchors outside the database ------------------------------------------------------------------

ANCHOR_FILE = "audit-anchors.log"
#: The anchor file is rotated once (to ``.1``) at this size; the newest anchor is all verify needs.
ANCHOR_MAX_BYTES = 1024 * 1024
_ANCHOR = re.compile(
    r"audit-anchor entries=(?P<n>\d{1,18}) head=(?P<id>\d{1,18}):(?P<hash>[0-9a-f]{64}) db=(?P<db>.+)$"
)


def _anchor_files() -> list[Path]:
    from app.logsetup import log_dir

    folder = log_dir()
    anchors = [folder / f"{ANCHOR_FILE}.1", folder / ANCHOR_FILE]
    logs = [
        p
        for p in sorted(folder.glob("*.log.[0-9]*"), reverse=True) + sorted(folder.glob("*.log"))
        if p not in anchors
    ]
    # oldest first, the anchor file last: of equal entry ids the later line, and the anchor file, win
    return [p for p in logs + anchors if p.is_file()]


def _anchor(db: Database, head: AuditEntry, entries: int) -> None:
    """Write the chain's end to the anchor file and the log file. A failure is logged, never raised:
    the entry itself is committed."""
    from app.logsetup import log_dir

    path = database_file(db)
    if not path:
        return  # an in-memory database has nothing to anchor against
    text = f"audit-anchor entries={entries} head={head.id}:{head.hash} db={os.path.abspath(path)}"
    logger.info("%s", text)
    try:
        target = log_dir() / ANCHOR_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and target.stat().st_size > ANCHOR_MAX_BYTES:
            os.replace(target, target.with_name(f"{ANCHOR_FILE}.1"))
        at = datetime.now(UTC).isoformat(timespec="seconds")
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(f"{at} {text}\n")
    except OSError as exc:
        logger.warning("audit entry %d not anchored in the log folder: %s", head.id, exc)


def newest_anchor(db_path: str) -> Anchor | None:
    """The anchor of this database with the highest entry id in the anchor and log files (a later
    anchor with a lower id is what a truncation leaves, so the highest one counts)."""
    wanted = os.path.abspath(db_path)
    best: Anchor | None = None
    for path in _anchor_files():
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    found = _parse_anchor(line, wanted, path)
                    if found is not None and (best is None or found.head_id >= best.head_id):
                        best = found
        except OSError as exc:
            logger.warning("cannot read audit anchors from %s: %s", path, exc)
    return best


def _parse_anchor(line: str, wanted: str, path: Path) -> Anchor | None:
    m = _ANCHOR.search(line.rstrip("\n"))
    if m is None or m["db"] != wanted:
        return None
    # The anchor file's lines start with an ISO time stamp, the log file's with a date and a time.
    prefix = line[: m.start()].strip()
    stamp = prefix[:25] if "T" in prefix[:11] else prefix[:19]
    return Anchor(int(m["n"]), int(m["id"]), m["hash"], stamp or "at an unknown time", str(path))


# -- log retention (an administrative action, so it lives with the audit) ---------------------------


def prune_logs(db: Database, days: int | None = None) -> int:
    """Delete job log lines older than ``days`` (default: the retention setting; none set: nothing).

    Never silent: returns the number pruned, logs it, and records an audit entry when any went.
    """
    from datetime import UTC, datetime, timedelta

    from db import joblogs

    days = days if days is not None else joblogs.retention_days(db)
    if not days:
        return 0
    before = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="milliseconds")
    pruned = joblogs.prune_older_than(db, before)
    if pruned:
        logger.info("pruned %d job log line(s) older than %d days", pruned, days)
        record(db, LOGS_PRUNED, "job logs", {"lines": pruned, "older_than_days": days, "before": before})
    return pruned
