"""app/services/baselines.py without hosts: item forms, host selection, the fix preview and its window."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.baseline import ItemResult, ItemStatus
from app.domain.errors import ConfigError
from app.domain.maintenance_windows import MaintenanceWindow
from app.domain.models import Host, JobKind
from app.services import baselines
from db import baselines as db_baselines
from db import hosts as db_hosts
from db import jobs as db_jobs
from db import maintenance_windows as db_windows


@pytest.mark.parametrize(
    ("kind", "spec", "target", "expected"),
    [
        ("package", "pd-x=2.0-1", "pd-x", {"state": "present", "version": "2.0-1", "match": "exact"}),
        ("package", "ssl>=3.0", "ssl", {"state": "present", "version": "3.0", "match": "minimum"}),
        ("package", "!telnetd", "telnetd", {"state": "absent"}),
        ("sysctl", "net.ipv4.ip_forward = 0", "net.ipv4.ip_forward", {"value": "0"}),
        ("file-option", "/etc/ssh/sshd_config:PermitRootLogin=no", "/etc/ssh/sshd_config",
         {"options": {"PermitRootLogin": "no"}}),
        ("service", "!cups", "cups", {"enabled": False, "running": False}),
        ("port", "!tcp/23", "tcp/23", {"state": "closed"}),
    ],
)  # fmt: skip
def test_item_forms(kind: str, spec: str, target: str, expected: dict[str, object]) -> None:
    item = baselines.parse_item(kind, spec)
    assert (item.target, item.expected) == (target, expected)


@pytest.mark.parametrize(("kind", "spec"), [("sysctl", "novalue"), ("package", "a b"), ("file", "relative")])
def test_bad_item_forms_are_sentences(kind: str, spec: str) -> None:
    with pytest.raises(ConfigError):
        baselines.parse_item(kind, spec)


def test_file_options_join_the_files_item(db) -> None:  # type: ignore[no-untyped-def]
    baselines.create(db, "b")
    baselines.add_items(db, "b", [baselines.parse_item("file-option", "/etc/x:A=1")])
    (item,) = baselines.add_items(db, "b", [baselines.parse_item("file-option", "/etc/x:B=2")]).items
    assert item.expected == {"options": {"A": "1", "B": "2"}}


def _drifted(db):  # type: ignore[no-untyped-def]
    host = db_hosts.add_host(db, Host(name="h.invalid", address="127.0.0.1", group="lab"))
    baselines.create(db, "b", [baselines.parse_item("package", "p=1.0"), baselines.parse_item("user", "bob")])
    baselines.assign(db, "b", hosts=["h.invalid"])
    job = db_jobs.create_job(db, JobKind.DRIFT, [host])
    results = [
        ItemResult(i.id, ItemStatus.DRIFTED, {"state": "absent"})
        for i in db_baselines.get_baseline(db, "b").items
    ]
    db_baselines.record_drift(db, job, host.id, results, "t")
    return host


def test_hosts_by_name_or_baseline_and_unknown_names(db) -> None:  # type: ignore[no-untyped-def]
    host = _drifted(db)
    db_hosts.add_host(db, Host(name="other.invalid", address="127.0.0.2"))
    assert [h.name for h in baselines.hosts_for(db, ["b"], False)] == [host.name]
    assert [h.name for h in baselines.hosts_for(db, [], True)] == [host.name]
    with pytest.raises(ConfigError):
        baselines.hosts_for(db, ["nosuch"], False)


def test_the_preview_says_what_it_will_do_and_what_it_cannot(db) -> None:  # type: ignore[no-untyped-def]
    host = _drifted(db)
    p = baselines.preview(db, host)
    assert p.actions == ("install p 1.0 (now absent)",)
    assert p.refused == ("user bob: cannot be put back automatically; fix it by hand",)


def test_a_fix_waits_for_the_hosts_window(db) -> None:  # type: ignore[no-untyped-def]
    host = _drifted(db)
    assert "no window covers group 'lab'" in (baselines.window_refusal(db, host) or "")
    saturday = MaintenanceWindow(
        "sat", "FREQ=WEEKLY;BYDAY=SA", timedelta(hours=2), "UTC", datetime(2026, 1, 3, 22)
    )
    db_windows.add_window(db, replace(saturday, groups=("lab",)))
    assert baselines.window_refusal(db, host, datetime(2026, 5, 2, 22, 30, tzinfo=UTC)) is None
    assert "next: sat" in (baselines.window_refusal(db, host, datetime(2026, 5, 3, 12, 0, tzinfo=UTC)) or "")


K = "HKLM\\SOFTWARE\\X|N"


@pytest.mark.parametrize(
    ("kind", "spec", "target", "expected"),
    [
        ("registry", f"{K}=DWord:1", K, {"state": "present", "type": "DWord", "value": "1"}),
        ("registry", f"{K}=a:b", K, {"state": "present", "type": "String", "value": "a:b"}),
        ("registry", f"!{K}", K, {"state": "absent"}),
        ("win-service", "Spooler=Disabled,stopped", "Spooler", {"start_mode": "Disabled", "running": False}),
        ("program", "7-Zip>=23.01", "7-Zip", {"state": "present", "version": "23.01", "match": "minimum"}),
        ("local-group", "Administrators:WIN01\\admin", "Administrators", {"members": ["WIN01\\admin"]}),
        ("firewall", "Public=off", "Public", {"enabled": False}),
    ],
)  # fmt: skip
def test_windows_item_forms(kind: str, spec: str, target: str, expected: dict[str, object]) -> None:
    item = baselines.parse_item(kind, spec)
    assert (item.target, item.expected) == (target, expected)
