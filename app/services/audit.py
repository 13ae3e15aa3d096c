"""The audit log: who did what to which host, when — tamper-evident.

One entry point, :func:`record`, used by the CLI handlers and the GUI's actions. Secrets never go in:
a credential change is recorded as "changed", never with its value (``details`` keys that look like
secrets are refused). Entries are hash-chained by db/audit.py; ``patchdesk audit verify`` walks the
chain. Optionally each entry is also sent to syslog (setting ``audit.syslog``: ``host[:port]`` for
UDP, a socket path such as ``/dev/log``, or empty/absent for none) so the SOC has a copy the local
database cannot rewrite.
"""

from __future__ import annotations

import getpass
import json
import logging
import logging.handlers
import socket
from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

from app.domain.audit import AuditEntry, ChainCheck
from db import audit as db_audit

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


def record(
    db: Database, action: str, target: str = "", details: Mapping[str, Any] | None = None
) -> AuditEntry:
    """Append an audit entry (and forward it to syslog when configured). Never stores a secret."""
    details = dict(details or {})
    _check_no_secrets(details)
    entry = db_audit.append(db, action, target, details, actor())
    _forward(db, entry)
    return entry


def verify(db: Database) -> ChainCheck:
    return db_audit.verify(db)


def entries(db: Database, **kw: Any) -> list[AuditEntry]:
    return db_audit.entries(db, **kw)


def describe(check: ChainCheck) -> str:
    if check.ok:
        return f"Audit log intact: {check.entries} entries, every hash matches."
    where = f"entry {check.broken_id}" if check.broken_id is not None else "the chain"
    return f"Audit log broken at {where}: {check.reason}."


def patch_started(db: Database, host_names: list[str], job_id: int, **details: Any) -> AuditEntry:
    """A patch job that will change hosts (a dry run is no administrative action)."""
    return record(db, PATCH_STARTED, ", ".join(host_names), {"job": job_id, "hosts": host_names, **details})


def rollback_started(db: Database, host_names: list[str], job_id: int, undo_job: int | None) -> AuditEntry:
    """A rollback job; ``undo_job`` is the patch job it undoes (None: each host's newest)."""
    details = {"job": job_id, "hosts": host_names, "undo_job": undo_job}
    return record(db, ROLLBACK_STARTED, ", ".join(host_names), details)


def report_exported(db: Database, target: str, fmt: str, scope: str) -> AuditEntry:
    return record(db, REPORT_EXPORTED, target, {"format": fmt, "scope": scope})


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


def syslog_line(entry: AuditEntry) -> str:
    return json.dumps(entry.as_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _forward(db: Database, entry: AuditEntry) -> None:
    target = syslog_target(db)
    if not target:
        return
    try:
        handler = syslog_handler(target)
        rec = logging.LogRecord("patchdesk.audit", logging.INFO, __file__, 0, syslog_line(entry), None, None)
        handler.emit(rec)
    except (OSError, ValueError) as exc:  # the entry is in the database; say the copy failed
        logger.warning("audit entry %d not forwarded to syslog %s: %s", entry.id, target, exc)


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
