"""Alerts: a job failed, a verification turned red, a host's key changed, an urgent update appeared.

Deciding *what* to alert is here (Qt-free, from the database after a job ended plus the host-key
outcomes the engine reported); *showing* it is the caller's: the GUI passes a desktop callback (the
system tray), and e-mail goes out through smtplib when configured. The SMTP password lives in the
keyring (app.secrets), the database keeps its reference. Every network call has a timeout.
"""

from __future__ import annotations

import enum
import logging
import smtplib
import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from db import alerts as db_alerts
from db import baselines as db_baselines
from db import changes as db_changes
from db import compliance_history as db_compliance_history
from db import jobs as db_jobs
from db import outside_changes as db_outside
from db import settings as db_settings
from db.connection import Database

logger = logging.getLogger(__name__)

S_DESKTOP = "alerts.desktop"
S_EMAIL = "alerts.email.enabled"
S_HOST = "alerts.email.host"
S_PORT = "alerts.email.port"
S_STARTTLS = "alerts.email.starttls"
S_USER = "alerts.email.user"
S_FROM = "alerts.email.from"
S_TO = "alerts.email.to"
S_PASSWORD_REF = "alerts.email.password_ref"  # noqa: S105 (a setting name, not a password)
S_TIMEOUT = "alerts.email.timeout"


class AlertKind(enum.StrEnum):
    JOB_FAILED = "job-failed"
    VERIFICATION_RED = "verification-red"
    HOST_KEY_CHANGED = "host-key-changed"
    URGENT_UPDATE = "urgent-update"
    SOAK_RED = "soak-red"
    AUTO_ROLLBACK = "auto-rollback"
    DRIFT = "drift"
    OUTSIDE_CHANGE = "outside-change"


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    title: str
    message: str
    job_id: int | None = None
    hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeyChange:
    host: str
    old_fingerprint: str | None
    new_fingerprint: str


@dataclass(frozen=True)
class EmailSettings:
    enabled: bool = False
    host: str = ""
    port: int = 587
    starttls: bool = True
    user: str = ""
    sender: str = ""
    recipients: tuple[str, ...] = ()
    password_ref: str | None = None
    timeout: float = 10.0


def _names(hosts: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(hosts[:limit])
    return shown + (f" and {len(hosts) - limit} more" if len(hosts) > limit else "")


def job_alerts(db: Database, job_id: int, key_changes: Iterable[KeyChange] = ()) -> list[Alert]:
    """The alerts a finished job raises (read after the recorder flushed it)."""
    alerts: list[Alert] = []
    job = db_jobs.get_job(db, job_id)
    what = f"{job.kind} job #{job_id}" if job else f"job #{job_id}"
    steps = db_jobs.job_hosts(db, job_id)
    bad = [s.host_name for s in steps if str(s.state) in ("failed", "unreachable", "interrupted")]
    if bad:
        alerts.append(
            Alert(
                AlertKind.JOB_FAILED,
                f"Patchdesk: {what} failed on {len(bad)} host(s)",
                f"The {what} did not succeed on {_names(bad)}. See the job log for each host.",
                job_id,
                tuple(bad),
            )
        )
    red = db_jobs_red(db, job_id)
    if red:
        alerts.append(
            Alert(
                AlertKind.VERIFICATION_RED,
                f"Patchdesk: verification red on {len(red)} host(s)",
                f"Verification after {what} is red on {_names(red)}. "
                "Check the reasons and consider a rollback.",
                job_id,
                tuple(red),
            )
        )
    rolled = db_changes.auto_rollbacks(db, job_id)
    if rolled:
        names = [r.host for r in rolled]
        alerts.append(
            Alert(
                AlertKind.AUTO_ROLLBACK,
                f"Patchdesk: {len(rolled)} host(s) rolled back automatically",
                f"Verification after {what} was red on {_names(names)}; Patchdesk rolled "
                f"{'it' if len(names) == 1 else 'them'} back at once. "
                f"Reason: {'; '.join(rolled[0].reasons[:3])}",
                job_id,
                tuple(names),
            )
        )
    for kc in key_changes:
        alerts.append(
            Alert(
                AlertKind.HOST_KEY_CHANGED,
                f"Patchdesk: host key of {kc.host} changed",
                f"{kc.host} presented a different SSH host key ({kc.new_fingerprint}; trusted: "
                f"{kc.old_fingerprint or 'unknown'}). Possible interception: verify before accepting.",
                job_id,
                (kc.host,),
            )
        )
    fresh = db_compliance_history.new_urgent(db, job_id)
    if fresh:
        hosts = sorted({u.host for u in fresh})
        pkgs = sorted({u.name for u in fresh})
        alerts.append(
            Alert(
                AlertKind.URGENT_UPDATE,
                f"Patchdesk: {len(pkgs)} urgent update(s) appeared",
                f"Urgent: {_names(pkgs)} on {_names(hosts)}.",
                job_id,
                tuple(hosts),
            )
        )
    alerts.extend(drift_alerts(db, job_id))
    outside = db_outside.seen_in_job(db, job_id)
    if outside:
        hosts = sorted({r.host for r in outside})
        changed = [f"{r.name} {r.from_version or '-'} -> {r.to_version or '-'} on {r.host}" for r in outside]
        alerts.append(
            Alert(
                AlertKind.OUTSIDE_CHANGE,
                f"Patchdesk: {len(outside)} change(s) made outside Patchdesk",
                f"No Patchdesk job made: {_names(changed)}. Check who did (`patchdesk changes HOST`).",
                job_id,
                tuple(hosts),
            )
        )
    return alerts


def soak_alerts(entries: Iterable[Mapping[str, Any]]) -> list[Alert]:
    """The alerts of a scheduler pass's soak checks (``DueReport.soak``): one for the red ones, one for
    those that could not see (unknown is never healthy); each holds its update's promotion."""
    alerts: list[Alert] = []
    for verdict, head, text in (
        ("red", "soak check red", "turned red while soaking"),
        ("unknown", "soak check could not see", "could not be checked while soaking"),
    ):
        hit = [e for e in entries if e.get("verdict") == verdict]
        if not hit:
            continue
        hosts = sorted({str(e["host"]) for e in hit})
        updates = sorted({str(e["update"]) for e in hit})
        first = next((str(e["reasons"][0]) for e in hit if e.get("reasons")), "")
        alerts.append(
            Alert(
                AlertKind.SOAK_RED,
                f"Patchdesk: {head} on {len(hosts)} host(s)",
                f"{_names(hosts)} {text} ({_names(updates)}){': ' + first if first else ''}. "
                "The promotion to the next ring is held.",
                next((e.get("job") for e in hit if e.get("job")), None),
                tuple(hosts),
            )
        )
    return alerts


def drift_alerts(db: Database, job_id: int) -> list[Alert]:
    """New configuration drift a job found (a scan or a drift check): items that were not drifted
    before it."""
    fresh = db_baselines.new_drift(db, job_id)
    if not fresh:
        return []
    hosts = sorted({h for h, _, _ in fresh})
    items = [f"{kind} {target}" for _, kind, target in fresh]
    return [
        Alert(
            AlertKind.DRIFT,
            f"Patchdesk: configuration drift on {len(hosts)} host(s)",
            f"Differs from the baseline: {_names(items)} on {_names(hosts)}.",
            job_id,
            tuple(hosts),
        )
    ]


def db_jobs_red(db: Database, job_id: int) -> list[str]:
    return db_changes.red_verifications(db, job_id)


def key_changes_from_outcomes(outcomes: Iterable[Any]) -> list[KeyChange]:
    """KeyChange values from the engine's host outcomes (``details['kind'] == 'host-key-changed'``)."""
    out = []
    for o in outcomes:
        d = getattr(o, "details", {}) or {}
        if d.get("kind") == "host-key-changed":
            out.append(KeyChange(o.host.name, d.get("old_fingerprint"), str(d.get("fingerprint", ""))))
    return out


# -- the alerts list: every alert kept until acknowledged -------------------------------------------


def record(db: Database, alerts: Sequence[Alert]) -> list[int]:
    """Keep ``alerts`` in the alerts list (whatever the desktop and mail settings say: a balloon
    lasts seconds, the list until someone acknowledges it). Returns their ids."""
    if not alerts:
        return []
    return db_alerts.add_alerts(
        db, [db_alerts.NewAlert(str(a.kind), a.title, a.message, a.job_id, a.hosts) for a in alerts]
    )


def listed(db: Database, *, include_acknowledged: bool = True) -> list[db_alerts.AlertRow]:
    """The alerts list, newest first."""
    return db_alerts.list_alerts(db, include_acknowledged=include_acknowledged)


def open_count(db: Database) -> int:
    """How many alerts nobody acknowledged yet (the bell's number)."""
    return db_alerts.unacknowledged_count(db)


def acknowledge(db: Database, ids: Sequence[int] | None = None) -> int:
    """Acknowledge ``ids`` (None: every open alert); returns how many were open."""
    return db_alerts.acknowledge(db, ids)


# -- settings and delivery -------------------------------------------------------------------------


def desktop_enabled(db: Database) -> bool:
    return (db_settings.get_setting(db, S_DESKTOP) or "1") not in ("0", "false", "no")


def email_settings(db: Database) -> EmailSettings:
    g = db_settings.get_setting
    try:
        port = int(g(db, S_PORT) or 587)
        timeout = float(g(db, S_TIMEOUT) or 10.0)
    except ValueError:
        port, timeout = 587, 10.0
    return EmailSettings(
        enabled=(g(db, S_EMAIL) or "0") in ("1", "true", "yes"),
        host=g(db, S_HOST) or "",
        port=port,
        starttls=(g(db, S_STARTTLS) or "1") in ("1", "true", "yes"),
        user=g(db, S_USER) or "",
        sender=g(db, S_FROM) or "",
        recipients=tuple(r.strip() for r in (g(db, S_TO) or "").split(",") if r.strip()),
        password_ref=g(db, S_PASSWORD_REF),
        timeout=timeout,
    )


def save_email_settings(db: Database, s: EmailSettings) -> None:
    """Store the SMTP settings (the password itself goes to the keyring, see :func:`set_password`)."""
    values = {
        S_EMAIL: "1" if s.enabled else "0",
        S_HOST: s.host,
        S_PORT: str(s.port),
        S_STARTTLS: "1" if s.starttls else "0",
        S_USER: s.user,
        S_FROM: s.sender,
        S_TO: ",".join(s.recipients),
        S_TIMEOUT: str(s.timeout),
    }
    if s.password_ref:
        values[S_PASSWORD_REF] = s.password_ref
    for k, v in values.items():
        db_settings.set_setting(db, k, v)


def set_password(db: Database, secrets: Any, password: str) -> str:
    """Put the SMTP password in the keyring; the database keeps only the reference."""
    ref = db_settings.get_setting(db, S_PASSWORD_REF) or "patchdesk:smtp:alerts"
    secrets.set(ref, password)
    db_settings.set_setting(db, S_PASSWORD_REF, ref)
    return ref


class EmailError(Exception):
    """Sending the alert mail failed; ``str()`` is a sentence."""


def compose(settings: EmailSettings, alerts: Sequence[Alert]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = alerts[0].title if len(alerts) == 1 else f"Patchdesk: {len(alerts)} alerts"
    msg["From"] = settings.sender or settings.user or "patchdesk@localhost"
    msg["To"] = ", ".join(settings.recipients)
    msg.set_content("\n\n".join(f"{a.title}\n{a.message}" for a in alerts) + "\n\n-- Patchdesk\n")
    return msg


def send_email(settings: EmailSettings, alerts: Sequence[Alert], password: str | None = None) -> None:
    """Send one mail with every alert; raises EmailError with a sentence on any failure."""
    if not alerts:
        return
    if not settings.host or not settings.recipients:
        raise EmailError("E-mail alerts need an SMTP host and at least one recipient.")
    msg = compose(settings, alerts)
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.user:
                smtp.login(settings.user, password or "")
            smtp.send_message(msg)
    except smtplib.SMTPNotSupportedError as exc:
        raise EmailError(
            f"The mail server {settings.host}:{settings.port} does not offer STARTTLS; the alert was not "
            "sent (turn STARTTLS off only for a server on a trusted network)."
        ) from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise EmailError(f"The mail server refused the login of {settings.user!r}.") from exc
    except smtplib.SMTPServerDisconnected as exc:
        if "timed out" not in str(exc):
            raise EmailError(
                f"The mail server {settings.host}:{settings.port} closed the connection."
            ) from exc
        raise EmailError(
            f"The mail server {settings.host}:{settings.port} did not answer within {settings.timeout:g} s."
        ) from exc
    except TimeoutError as exc:
        raise EmailError(
            f"The mail server {settings.host}:{settings.port} did not answer within {settings.timeout:g} s."
        ) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise EmailError(f"Sending the alert mail via {settings.host}:{settings.port} failed: {exc}") from exc


def deliver(
    db: Database,
    alerts: Sequence[Alert],
    *,
    desktop: Callable[[Alert], None] | None = None,
    secrets: Any = None,
    settings: EmailSettings | None = None,
) -> list[str]:
    """Show each alert on the desktop (if a callback is given and enabled) and mail them (if
    configured). Returns the problems as sentences; never raises for a delivery failure."""
    problems: list[str] = []
    if not alerts:
        return problems
    if desktop is not None and desktop_enabled(db):
        for a in alerts:
            desktop(a)
    settings = settings or email_settings(db)
    if settings.enabled:
        password = None
        try:
            if settings.user and settings.password_ref and secrets is not None:
                password = secrets.get(settings.password_ref)
            send_email(settings, alerts, password)
        except EmailError as exc:
            problems.append(str(exc))
        except Exception as exc:  # a keyring failure is a known condition here: report it, go on
            problems.append(f"The alert mail was not sent: {exc}")
        for p in problems:
            logger.warning("%s", p)
    return problems
