"""The console's settings in one place (app.services.settings, #23 item 6): read together, checked
together (every problem a sentence, nothing stored while one is left), written through the services
that own them, each change audited."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.domain.errors import ConfigError
from app.services import alerts, audit
from app.services import settings as app_settings
from db import joblogs
from db import settings as db_settings
from db import tiles as db_tiles


def test_defaults_read_back_and_are_valid(db) -> None:  # type: ignore[no-untyped-def]
    s = app_settings.current(db)
    assert s.log_retention_days >= 0 and s.stale_days >= 1 and s.index_max_age_hours == 24
    assert app_settings.problems(s) == []


@pytest.mark.parametrize(
    ("target", "ok"),
    [
        ("", True),
        ("/dev/log", True),
        ("syslog.example.invalid", True),
        ("127.0.0.1:514", True),
        ("[::1]:514", True),
        ("log host:514", False),
        ("127.0.0.1:99999", False),
        ("host:port", False),
    ],
)
def test_syslog_targets(target: str, ok: bool) -> None:
    assert (app_settings.syslog_problem(target) is None) == ok


def test_every_problem_is_named_and_nothing_is_stored(db) -> None:  # type: ignore[no-untyped-def]
    s = app_settings.current(db)
    bad = replace(
        s,
        stale_days=0,
        syslog="127.0.0.1:70000",
        index_max_age_hours=0,
        email=replace(s.email, enabled=True, host="", recipients=("not an address",)),
    )
    found = app_settings.problems(bad)
    assert len(found) == 5, found
    with pytest.raises(ConfigError, match="mail server"):
        app_settings.save(db, bad)
    assert app_settings.current(db) == s  # nothing half-stored


def test_save_writes_each_setting_and_audits_it(db) -> None:  # type: ignore[no-untyped-def]
    s = app_settings.current(db)
    new = replace(
        s,
        log_retention_days=30,
        stale_days=14,
        syslog="127.0.0.1:5514",
        desktop_alerts=False,
        index_max_age_hours=6.0,
        email=replace(
            s.email, enabled=True, host="smtp.example.invalid", recipients=("ops@example.invalid",)
        ),
    )
    changed = app_settings.save(db, new)
    assert changed == [
        "job-log retention",
        "stale days",
        "syslog",
        "package index age",
        "desktop alerts",
        "e-mail alerts",
    ]
    assert joblogs.retention_days(db) == 30 and db_tiles.stale_days(db) == 14
    assert audit.syslog_target(db) == "127.0.0.1:5514"
    assert db_settings.policy_settings(db).index_max_age.total_seconds() == 6 * 3600
    assert not alerts.desktop_enabled(db)
    assert alerts.email_settings(db).recipients == ("ops@example.invalid",)
    targets = {e.target for e in audit.entries(db) if e.action == audit.SETTINGS_CHANGED}
    assert {"policy.index_max_age_hours", "alerts.desktop", "alerts.email", "audit.syslog"} <= targets
    assert app_settings.save(db, new) == []  # the same again changes nothing


def test_a_password_without_a_keyring_is_refused(db) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="no system keyring"):
        app_settings.save(db, app_settings.current(db), smtp_password="pw", secrets=None)
