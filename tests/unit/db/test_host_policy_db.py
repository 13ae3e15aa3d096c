"""m008_host_policy: an older database upgrades with its hosts' settings kept; group defaults and
criticality rules are stored and read back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from app.domain.criticality import DEFAULT_RULES, GroupDefaults
from app.domain.models import AutoRollback, Criticality, RebootPolicy
from db import host_policy as db_host_policy
from db import hosts as db_hosts
from db.database import open_database
from db.schema import MIGRATIONS, SCHEMA_VERSION


def _version_7_database(path: Path) -> None:
    conn = sqlite3.connect(path)
    db = Database(conn)
    MIGRATIONS.apply(db, stop_before="m008_host_policy")
    conn.execute("PRAGMA user_version = 7")
    conn.execute("INSERT INTO groups (name) VALUES ('web')")
    for name, reboot in (("a", "never"), ("b", "if-needed"), ("c", "always")):
        conn.execute(
            "INSERT INTO hosts (name, address, group_id, reboot_policy, services, created_at, updated_at) "
            "VALUES (?, '127.0.0.1', 1, ?, '[\"nginx\"]', 'x', 'x')",
            [name, reboot],
        )
    conn.commit()
    conn.close()


def test_an_old_database_upgrades_and_keeps_its_hosts(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _version_7_database(path)
    db = open_database(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    hosts = {h.name: h for h in db_hosts.list_hosts(db)}
    assert hosts["a"].reboot_policy == RebootPolicy.NEVER
    assert hosts["c"].reboot_policy == RebootPolicy.ALWAYS
    # the old column default was never a choice: the group's default, then the rule decide now
    assert hosts["b"].reboot_policy is None
    assert hosts["a"].services == ("nginx",) and hosts["a"].group == "web"
    assert hosts["a"].check_command is None and hosts["a"].auto_rollback is None
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert db_host_policy.criticality_rules(db) == dict(DEFAULT_RULES)


def test_group_defaults_and_rules_round_trip(db) -> None:  # type: ignore[no-untyped-def]
    gd = GroupDefaults(
        "Web", reboot_policy=RebootPolicy.ALWAYS, services=("nginx",), check_command="curl -fs localhost",
        auto_rollback=AutoRollback.ON_RED,
    )  # fmt: skip
    db_host_policy.save_group_defaults(db, gd)
    assert db_host_policy.group_defaults(db, "web") == gd  # group names compare without case
    db_host_policy.save_group_defaults(db, GroupDefaults("Web"))
    assert "web" not in db_host_policy.all_group_defaults(db)
    rule = DEFAULT_RULES[Criticality.STANDARD]
    from dataclasses import replace

    db_host_policy.save_criticality_rule(db, replace(rule, windows_only=True, important_within_days=1.5))
    got = db_host_policy.criticality_rules(db)[Criticality.STANDARD]
    assert got.windows_only and got.important_within_days == 1.5
    db_host_policy.reset_criticality_rule(db, Criticality.STANDARD)
    assert db_host_policy.criticality_rules(db)[Criticality.STANDARD] == rule
