"""The inventory's writes (app.services.inventory) and the window writes: each audited the same way
whichever face calls them, passwords only by reference, problems as sentences."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from app.domain.errors import ConfigError
from app.domain.maintenance_windows import MaintenanceWindow
from app.domain.models import Host, Ring
from app.services import audit, inventory, maintenance_windows
from db import hosts as db_hosts
from db import maintenance_windows as db_windows


class FakeStore:
    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.counter = 0

    def new_ref(self, kind: str, host_name: str) -> str:
        self.counter += 1
        return f"host:{host_name}:{kind}:{self.counter}"

    def set(self, ref: str, secret: str) -> None:
        self.secrets[ref] = secret

    def delete(self, ref: str) -> None:
        self.secrets.pop(ref, None)


def _actions(db) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(e.action, e.target) for e in reversed(audit.entries(db))]


def test_add_update_remove_are_audited(db) -> None:  # type: ignore[no-untyped-def]
    store = FakeStore()
    refs = inventory.store_passwords(store, "web01", {"login": "pw"})
    saved = inventory.add_host(
        db, Host(name="web01", address="127.0.9.1", credential_ref=refs["login"]), stored=refs
    )
    assert store.secrets == {refs["login"]: "pw"}
    edited = inventory.update_host(db, replace(saved, ring=Ring.TEST), saved)
    assert edited.ring == Ring.TEST
    entries = list(reversed(audit.entries(db)))
    assert [e.action for e in entries] == [audit.HOST_ADDED, audit.CREDENTIALS_CHANGED, audit.HOST_EDITED]
    assert entries[1].details == {"stored": ["login"]}
    assert entries[2].details["changed"] == ["ring"]

    removed = inventory.remove_host(db, "web01")
    inventory.delete_secrets(store, inventory.secret_refs(removed))
    assert store.secrets == {} and db_hosts.find_host(db, "web01") is None
    assert _actions(db)[-1] == (audit.HOST_REMOVED, "web01")
    with pytest.raises(ConfigError, match="Unknown host 'web01'"):
        inventory.remove_host(db, "web01")
    assert audit.verify(db).ok


def test_store_passwords_keeps_existing_references() -> None:
    store = FakeStore()
    out = inventory.store_passwords(
        store, "h", {"login": "a", "sudo": "b"}, {"login": "old-ref", "sudo": None}
    )
    assert out["login"] == "old-ref" and out["sudo"].startswith("host:h:sudo:")


def test_import_reports_refused_hosts_by_line(db) -> None:  # type: ignore[no-untyped-def]
    inventory.add_host(db, Host(name="dup", address="127.0.9.9"))
    outcome = inventory.import_hosts(
        db,
        [Host(name="a", address="127.0.9.1"), Host(name="dup", address="127.0.9.2")],
        "hosts.csv",
        lines={"a": 2, "dup": 3},
        format="csv",
    )
    assert outcome.added_names == ["a"]
    assert outcome.problems == ["line 3: A host named 'dup' already exists."]
    entry = audit.entries(db, action=audit.HOSTS_IMPORTED)[0]
    assert (entry.target, entry.details) == ("hosts.csv", {"added": ["a"], "format": "csv"})
    nothing = inventory.import_hosts(db, [Host(name="a", address="127.0.9.1")], "again")
    assert nothing.added == [] and len(audit.entries(db, action=audit.HOSTS_IMPORTED)) == 1


def test_remove_hosts_returns_their_secret_references(db) -> None:  # type: ignore[no-untyped-def]
    a = inventory.add_host(db, Host(name="a", address="127.0.9.1", credential_ref="r1", sudo_ref="r2"))
    b = inventory.add_host(db, Host(name="b", address="127.0.9.2"))
    assert inventory.remove_hosts(db, [a, b]) == ["r1", "r2"]
    assert db_hosts.host_count(db) == 0
    assert [t for act, t in _actions(db) if act == audit.HOST_REMOVED] == ["a", "b"]


def test_window_writes_are_audited(db) -> None:  # type: ignore[no-untyped-def]
    w = MaintenanceWindow(
        name="sat",
        rrule="FREQ=WEEKLY;BYDAY=SA;BYHOUR=22",
        duration=timedelta(hours=2),
        tz="UTC",
        dtstart=datetime(2026, 1, 1),
        groups=("web",),
    )
    maintenance_windows.add_window(db, w)
    maintenance_windows.update_window(db, "sat", replace(w, name="saturday"))
    assert maintenance_windows.set_window_enabled(db, "saturday", False)
    assert not maintenance_windows.set_window_enabled(db, "sat", True)
    assert maintenance_windows.remove_window(db, "saturday")
    assert not maintenance_windows.remove_window(db, "saturday")
    assert db_windows.list_windows(db) == []
    details = [e.details for e in reversed(audit.entries(db, action=audit.WINDOW_EDITED))]
    assert [d["action"] for d in details] == ["added", "edited", "disabled", "removed"]
    assert details[1]["renamed_from"] == "sat"
    with pytest.raises(ConfigError):
        maintenance_windows.add_window(db, replace(w, rrule="nonsense"))


def test_host_keys_trusted_and_forgotten(db) -> None:  # type: ignore[no-untyped-def]
    from app.domain.models import HostKey

    h = inventory.add_host(db, Host(name="a", address="127.0.9.1"))
    assert h.id is not None
    inventory.trust_host_key(db, "a", HostKey(h.id, "ssh-ed25519", "AAAA", "SHA256:one"), "SHA256:one")
    inventory.trust_host_key(
        db,
        "a",
        HostKey(h.id, "ssh-ed25519", "BBBB", "SHA256:two"),
        "SHA256:two",
        changed=True,
        old_fingerprint="SHA256:one",
    )
    assert [k.fingerprint for k in db_hosts.host_keys(db, h.id)] == ["SHA256:two"]
    inventory.forget_host_key(db, "a")
    assert db_hosts.host_keys(db, h.id) == []
    details = [e.details for e in reversed(audit.entries(db)) if e.action == audit.HOST_KEY_ACCEPTED]
    assert details == [
        {"fingerprint": "SHA256:one", "first_contact": True},
        {"fingerprint": "SHA256:two", "replaced": "SHA256:one"},
    ]
    assert _actions(db)[-1] == (audit.HOST_KEY_FORGOTTEN, "a")
    with pytest.raises(ConfigError, match="Unknown host 'b'"):
        inventory.forget_host_key(db, "b")
