"""``patchdesk hosts edit``: every per-host setting can be changed from the CLI, audited, and read back
from ``hosts list --json`` (issue #20 item 1)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from app.cli.main import parse, run


def cli(db: Path, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = run(parse(["--db", str(db), *argv]), out)
    return code, out.getvalue()


def listed(db: Path, name: str) -> dict[str, object]:
    code, text = cli(db, "hosts", "list", "--json")
    assert code == 0
    return next(h for h in json.loads(text)["hosts"] if h["name"] == name)


@pytest.fixture
def dbp(tmp_path: Path) -> Path:
    p = tmp_path / "pd.sqlite3"
    assert cli(p, "hosts", "add", "web1", "--address", "127.0.0.7")[0] == 0
    return p


def test_every_setting_round_trips_through_edit_and_list(dbp: Path, tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text("not really a key\n")
    code, text = cli(
        dbp, "hosts", "edit", "web1",
        "--address", "web1.example.invalid", "--port", "2222", "--user", "admin", "--key", str(key),
        "--group", "web", "--ring", "test", "--criticality", "mission-critical", "--tags", "dmz, linux",
        "--reboot-policy", "never", "--pre-command", "systemctl stop app", "--post-command",
        "systemctl start app", "--services", "nginx,postgresql@15-main", "--no-sudo",
    )  # fmt: skip
    assert code == 0, text
    h = listed(dbp, "web1")
    assert h["address"] == "web1.example.invalid" and h["port"] == 2222 and h["user"] == "admin"
    assert h["key_file"] == str(key) and h["group"] == "web" and h["ring"] == "test"
    assert h["criticality"] == "mission-critical" and h["tags"] == ["dmz", "linux"]
    assert h["reboot_policy"] == "never" and h["use_sudo"] is False
    assert h["pre_command"] == "systemctl stop app" and h["post_command"] == "systemctl start app"
    assert h["services"] == ["nginx", "postgresql@15-main"]
    assert "changed" in text and "tags" in text


def test_an_empty_value_clears_a_field(dbp: Path) -> None:
    cli(
        dbp,
        "hosts",
        "edit",
        "web1",
        "--port",
        "2222",
        "--group",
        "web",
        "--tags",
        "a",
        "--pre-command",
        "true",
    )
    code, _ = cli(
        dbp, "hosts", "edit", "web1", "--port", "", "--group", "", "--tags", "", "--pre-command", ""
    )
    assert code == 0
    h = listed(dbp, "web1")
    assert h["port"] is None and h["group"] is None and h["tags"] == [] and h["pre_command"] is None


def test_every_change_is_audited_with_the_fields_that_changed(dbp: Path) -> None:
    cli(dbp, "hosts", "edit", "web1", "--ring", "pilot", "--services", "ssh")
    code, text = cli(dbp, "audit", "list", "--json")
    assert code == 0
    entries = json.loads(text)
    entries = entries.get("entries", entries) if isinstance(entries, dict) else entries
    edited = [e for e in entries if e["action"] == "host.edited"]
    assert edited and set(edited[-1]["details"]["changed"]) == {"ring", "services"}


def test_nothing_to_change_says_so_and_audits_nothing(dbp: Path) -> None:
    code, text = cli(dbp, "hosts", "edit", "web1", "--ring", "production")
    assert code == 0 and "nothing changed" in text.lower()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--ring", "canary"], "--ring must be one of"),
        (["--reboot-policy", "sometimes"], "--reboot-policy must be one of"),
        (["--port", "70000"], "port"),
        (["--services", "ng inx"], "service name"),
        (["--services", "$(id)"], "service name"),
        (["--tags", "a\x1b[2Jb"], "tag"),
        (["--address", "$(id)"], "not a host name"),
        (["--key", "/nonexistent/key"], "does not exist"),
        (["--pre-command", "a\nb"], "one line"),
    ],
)
def test_bad_values_are_refused_with_a_sentence(dbp: Path, argv: list[str], message: str, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _ = cli(dbp, "hosts", "edit", "web1", *argv)
    assert code != 0
    assert message in capsys.readouterr().err
    assert listed(dbp, "web1")["ring"] == "production"


def test_an_unknown_host_is_a_sentence(dbp: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _ = cli(dbp, "hosts", "edit", "nope", "--ring", "test")
    assert code != 0 and "Unknown host" in capsys.readouterr().err


# -- check command, automatic rollback, group defaults (issue #20 items 1 and 6) -----------------------


def test_check_command_and_auto_rollback_round_trip_and_clear(dbp: Path) -> None:
    check = "dpkg-query -W -f='${Version}' pd-regular | grep -qx 2.0-1"
    code, text = cli(dbp, "hosts", "edit", "web1", "--check-command", check, "--auto-rollback", "on-red")
    assert code == 0, text
    h = listed(dbp, "web1")
    assert h["check_command"] == check and h["auto_rollback"] == "on-red"
    assert h["effective"]["check_command"] == check  # type: ignore[index]
    code, _ = cli(
        dbp, "hosts", "edit", "web1", "--check-command", "", "--auto-rollback", "", "--reboot-policy", ""
    )
    assert code == 0
    h = listed(dbp, "web1")
    assert h["check_command"] is None and h["auto_rollback"] is None and h["reboot_policy"] is None
    # unset: the standard rule decides
    eff = h["effective"]
    assert eff["auto_rollback"] == "off" and eff["reboot_policy"] == "if-needed"  # type: ignore[index]
    assert eff["sources"]["auto_rollback"] == "criticality"  # type: ignore[index]


def test_bad_auto_rollback_is_a_usage_sentence(dbp: Path) -> None:
    code, _ = cli(dbp, "hosts", "edit", "web1", "--auto-rollback", "sometimes")
    assert code == 2


def test_group_defaults_apply_where_the_host_sets_nothing(dbp: Path) -> None:
    cli(dbp, "hosts", "edit", "web1", "--group", "web", "--services", "postgresql")
    code, text = cli(
        dbp, "hosts", "group-defaults", "web", "--reboot-policy", "never", "--services", "nginx",
        "--check-command", "curl -fs http://localhost/", "--auto-rollback", "on-red",
    )  # fmt: skip
    assert code == 0 and "changed" in text
    eff = listed(dbp, "web1")["effective"]
    assert eff["services"] == ["postgresql"]  # type: ignore[index]  # the host's own
    assert eff["reboot_policy"] == "never" and eff["auto_rollback"] == "on-red"  # type: ignore[index]
    assert eff["check_command"] == "curl -fs http://localhost/"  # type: ignore[index]
    assert eff["sources"]["check_command"] == "group"  # type: ignore[index]
    # the host's own setting wins
    cli(dbp, "hosts", "edit", "web1", "--auto-rollback", "off")
    assert listed(dbp, "web1")["effective"]["auto_rollback"] == "off"  # type: ignore[index]
    # listed as JSON, then an empty value clears one default
    code, text = cli(dbp, "hosts", "group-defaults", "--json")
    assert json.loads(text)["groups"][0]["check_command"] == "curl -fs http://localhost/"
    cli(dbp, "hosts", "group-defaults", "web", "--check-command", "")
    assert listed(dbp, "web1")["effective"]["check_command"] is None  # type: ignore[index]
    code, text = cli(dbp, "audit", "list", "--json")
    changes = [e for e in json.loads(text)["entries"] if e["action"] == "group.defaults"]
    assert len(changes) == 2
    assert changes[0]["details"]["changed"]["check_command"]["to"] is None


def test_group_defaults_refuse_what_a_host_would_refuse(dbp: Path) -> None:
    code, _ = cli(dbp, "hosts", "group-defaults", "web", "--services", "nginx; rm -rf /")
    assert code == 2
    code, _ = cli(dbp, "hosts", "group-defaults", "--services", "nginx")
    assert code == 2


def test_policy_criticality_show_set_reset_audited(dbp: Path) -> None:
    code, text = cli(dbp, "policy", "criticality", "show", "--json")
    rules = {r["criticality"]: r for r in json.loads(text)["rules"]}
    assert rules["mission-critical"]["auto_rollback"] == "on-red" and rules["desktop"]["urgent_at_once"]
    code, text = cli(
        dbp, "policy", "criticality", "set", "mission-critical", "auto-rollback=off", "windows-only=no"
    )
    assert code == 0 and "changed windows_only, auto_rollback" in text
    cli(dbp, "hosts", "edit", "web1", "--criticality", "mission-critical")
    assert listed(dbp, "web1")["effective"]["auto_rollback"] == "off"  # type: ignore[index]
    assert cli(dbp, "policy", "criticality", "set", "desktop", "reboot=sometimes")[0] == 2
    assert cli(dbp, "policy", "criticality", "set", "desktop", "reboot")[0] == 2
    assert cli(dbp, "policy", "criticality", "reset", "mission-critical")[0] == 0
    assert listed(dbp, "web1")["effective"]["auto_rollback"] == "on-red"  # type: ignore[index]
    code, text = cli(dbp, "policy", "criticality")
    assert code == 0 and "reboot_approval" in text
    code, text = cli(dbp, "audit", "list", "--json")
    assert [e["action"] for e in json.loads(text)["entries"]].count("policy.criticality") == 2
