"""The console's settings in one place (the GUI's Settings dialog, #23 item 6): job-log retention,
when a host counts as stale, the audit log's syslog copy, alerts (desktop and e-mail), and how old a
package index may be before a scan refreshes it.

They used to be edited on four tabs with four rules. Here they are read together, checked together
(every problem as a sentence, nothing stored while one is left) and written through the services that
own them, each change audited.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any

from app.domain.errors import ConfigError
from app.services import alerts, audit, reports
from db import joblogs
from db import settings as db_settings
from db import tiles as db_tiles
from db.connection import Database

MAX_RETENTION_DAYS = 3650
MAX_STALE_DAYS = 365
MAX_INDEX_AGE_HOURS = 24 * 365
MAX_SMTP_TIMEOUT = 300.0
#: ``host[:port]``: a DNS name or IPv4 address, or an IPv6 address in brackets.
_SYSLOG_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$")


@dataclass(frozen=True)
class ConsoleSettings:
    log_retention_days: int  # 0: keep forever
    stale_days: int
    syslog: str  # "": off
    desktop_alerts: bool
    email: alerts.EmailSettings
    index_max_age_hours: float


def current(db: Database) -> ConsoleSettings:
    return ConsoleSettings(
        log_retention_days=joblogs.retention_days(db) or 0,
        stale_days=db_tiles.stale_days(db),
        syslog=audit.syslog_target(db) or "",
        desktop_alerts=alerts.desktop_enabled(db),
        email=alerts.email_settings(db),
        index_max_age_hours=db_settings.policy_settings(db).index_max_age.total_seconds() / 3600,
    )


def syslog_problem(target: str) -> str | None:
    """Why ``target`` is no syslog destination (None when it is one, or empty: off)."""
    target = target.strip()
    if not target or target.startswith("/"):
        return None
    m = _SYSLOG_HOST.match(target)
    if m is None:
        return f"Syslog: {target!r} is not host[:port] (UDP) or a socket path such as /dev/log."
    if m.group(1) is not None and not 1 <= int(m.group(1)) <= 65535:
        return f"Syslog: port {m.group(1)} is out of range (1 to 65535)."
    return None


def _email_problems(e: alerts.EmailSettings) -> list[str]:
    out = []
    if not 1 <= e.port <= 65535:
        out.append(f"E-mail alerts: port {e.port} is out of range (1 to 65535).")
    if not (math.isfinite(e.timeout) and 0 < e.timeout <= MAX_SMTP_TIMEOUT):
        out.append(f"E-mail alerts: the timeout must be above 0 and at most {MAX_SMTP_TIMEOUT:g} seconds.")
    bad = [r for r in e.recipients if "@" not in r or any(c.isspace() for c in r)]
    if bad:
        out.append(f"E-mail alerts: {', '.join(bad)} is not an e-mail address.")
    if e.enabled and not e.host.strip():
        out.append("E-mail alerts need the mail server (SMTP host).")
    if e.enabled and not e.recipients:
        out.append("E-mail alerts need at least one recipient.")
    return out


def problems(s: ConsoleSettings) -> list[str]:
    """Every reason ``s`` cannot be stored, as sentences (empty: it can)."""
    out = []
    if not 0 <= s.log_retention_days <= MAX_RETENTION_DAYS:
        out.append(f"Keep job logs: 0 (forever) to {MAX_RETENTION_DAYS} days.")
    if not 1 <= s.stale_days <= MAX_STALE_DAYS:
        out.append(f"A host counts as not scanned recently after 1 to {MAX_STALE_DAYS} days.")
    if not (math.isfinite(s.index_max_age_hours) and 0 < s.index_max_age_hours <= MAX_INDEX_AGE_HOURS):
        out.append(f"Package index age: above 0 and at most {MAX_INDEX_AGE_HOURS} hours.")
    syslog = syslog_problem(s.syslog)
    if syslog:
        out.append(syslog)
    return out + _email_problems(s.email)


def save(db: Database, s: ConsoleSettings, *, smtp_password: str = "", secrets: Any = None) -> list[str]:
    """Store ``s`` (raises ConfigError with every problem, storing nothing, when it is not valid).
    ``smtp_password`` (when given) goes to the keyring. Returns what changed, for the status bar."""
    found = problems(s)
    if smtp_password and secrets is None:
        found.append("The mail password cannot be saved: no system keyring is available.")
    if found:
        raise ConfigError(" ".join(found))
    before = current(db)
    changed = []
    if audit.set_log_retention(db, s.log_retention_days or None):
        changed.append("job-log retention")
    if reports.set_stale_days(db, s.stale_days):
        changed.append("stale days")
    if audit.set_syslog_target(db, s.syslog):
        changed.append("syslog")
    if s.index_max_age_hours != before.index_max_age_hours:
        db_settings.set_policy_setting(db, "index_max_age_hours", f"{s.index_max_age_hours:g}")
        audit.record(
            db, audit.SETTINGS_CHANGED, "policy.index_max_age_hours", {"value": s.index_max_age_hours}
        )
        changed.append("package index age")
    changed += _save_alerts(db, before, s, smtp_password, secrets)
    return changed


def _save_alerts(
    db: Database, before: ConsoleSettings, s: ConsoleSettings, password: str, secrets: Any
) -> list[str]:
    changed = []
    if s.desktop_alerts != before.desktop_alerts:
        db_settings.set_setting(db, alerts.S_DESKTOP, "1" if s.desktop_alerts else "0")
        audit.record(db, audit.SETTINGS_CHANGED, alerts.S_DESKTOP, {"value": s.desktop_alerts})
        changed.append("desktop alerts")
    email = replace(s.email, password_ref=before.email.password_ref)
    if email != before.email:
        alerts.save_email_settings(db, email)
        # the addresses and the server are worth a record; a password never is
        details = {
            "enabled": email.enabled,
            "host": email.host,
            "port": email.port,
            "to": ",".join(email.recipients),
        }
        audit.record(db, audit.SETTINGS_CHANGED, "alerts.email", details)
        changed.append("e-mail alerts")
    if password:
        alerts.set_password(db, secrets, password)
        audit.record(db, audit.SETTINGS_CHANGED, alerts.S_PASSWORD_REF, {"value": "stored in the keyring"})
        changed.append("mail password")
    return changed
