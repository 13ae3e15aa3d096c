"""The ``settings`` table: plain key/value settings, and the validated ``policy.*`` ones."""

from __future__ import annotations

import math
from datetime import timedelta

from app.domain.errors import ConfigError
from app.domain.models import Classification
from app.domain.rollout import (
    DEFAULT_SOAK,
    PolicySettings,
)
from db.connection import Database
from db.host_policy import criticality_rules


def get_setting(db: Database, key: str) -> str | None:
    row = db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    return str(row[0]) if row else None


def set_setting(db: Database, key: str, value: str | None) -> None:
    with db.atomic():
        if value is None:
            db.execute("DELETE FROM settings WHERE key = ?", [key])
        else:
            db.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )


def policy_settings(db: Database) -> PolicySettings:
    raw = {
        r["key"][7:]: r["value"]
        for r in db.query("SELECT key, value FROM settings WHERE key LIKE 'policy.%'")
    }

    def num(key: str, default: float) -> float:
        try:
            value = float(raw[key]) if key in raw else default
        except ValueError:
            return default
        return value if math.isfinite(value) else default

    d = PolicySettings()
    soak = {
        c: timedelta(hours=num(f"soak.{c}", DEFAULT_SOAK[c].total_seconds() / 3600)) for c in Classification
    }
    return PolicySettings(
        soak=soak,
        verify_share=num("verify_share", d.verify_share),
        reserve_factor=num("reserve_factor", d.reserve_factor),
        default_estimate=timedelta(minutes=num("default_estimate", d.default_estimate.total_seconds() / 60)),
        scan_interval=timedelta(hours=num("scan_interval", d.scan_interval.total_seconds() / 3600)),
        lock_ttl=timedelta(minutes=num("lock_ttl", d.lock_ttl.total_seconds() / 60)),
        urgent_push=raw.get("urgent_push", "yes").lower() in ("1", "yes", "true", "on"),
        index_max_age=timedelta(hours=num("index_max_age_hours", d.index_max_age.total_seconds() / 3600)),
        import_max_hosts=int(num("import_max_hosts", d.import_max_hosts)),
        soak_check_interval=timedelta(
            minutes=num("soak_check_interval_minutes", d.soak_check_interval.total_seconds() / 60)
        ),
        criticality=criticality_rules(db),
    )


def set_policy_setting(db: Database, key: str, value: str) -> None:
    """Validate and store one ``policy.*`` setting (key without the prefix)."""
    if key not in PolicySettings.KEYS:
        raise ConfigError(f"Unknown policy setting {key!r}; known: {', '.join(PolicySettings.KEYS)}.")
    if key == "urgent_push":
        v = value.strip().lower()
        if v not in ("yes", "no", "true", "false", "1", "0", "on", "off"):
            raise ConfigError("urgent_push takes yes or no.")
        value = "yes" if v in ("yes", "true", "1", "on") else "no"
    else:
        try:
            f = float(value)
        except ValueError as exc:
            raise ConfigError(f"{key} takes a number, not {value!r}.") from exc
        if not math.isfinite(f) or f < 0 or (key == "verify_share" and f > 1):
            raise ConfigError(f"{key} = {value} is out of range.")
        if (
            key
            in (
                "default_estimate",
                "lock_ttl",
                "scan_interval",
                "index_max_age_hours",
                "soak_check_interval_minutes",
            )
            and f <= 0
        ):
            raise ConfigError(f"{key} must be positive.")
        if key == "import_max_hosts" and (f != int(f) or not 1 <= f <= 10_000_000):
            raise ConfigError("import_max_hosts takes a whole number from 1 to 10,000,000.")
    set_setting(db, f"policy.{key}", value)
