"""Hosts, groups and host keys."""

from __future__ import annotations

import dataclasses
import functools
import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from app.domain.errors import ConfigError
from app.domain.inventory import validate_host
from app.domain.models import (
    AutoRollback,
    Criticality,
    Host,
    HostKey,
    HostStatus,
    OsFacts,
    RebootPolicy,
    Ring,
    TransportKind,
    WinRMOptions,
)
from db import hardware as db_hardware
from db.connection import Database
from db.database import now_iso, parse_ts

#: The columns a Host is read from, in the order _row_to_host unpacks them.
_HOST_COLUMNS = (
    "h.id, h.name, h.address, h.port, h.transport, h.username, h.key_file, h.credential_ref, "
    "h.sudo_ref, h.use_sudo, h.reboot_policy, h.pre_command, h.post_command, h.services, "
    "h.transport_options, g.name, h.ring, h.criticality, h.tags, h.os_id, h.os_name, h.os_version, "
    "h.kernel, h.managers, h.last_scan_at, h.last_status, h.last_error, h.reboot_required, "
    "h.pending_urgent, h.pending_important, h.pending_noncritical, h.scan_complete, h.index_updated, "
    "h.scan_notes, h.check_command, h.auto_rollback"
)
_HOST_SELECT = f"""
SELECT {_HOST_COLUMNS}
FROM hosts h LEFT JOIN groups g ON g.id = h.group_id
"""


#: Host's fields, not frozen: a Host is slotted and frozen, whose generated ``__init__`` sets each
#: field through ``object.__setattr__`` (ten times the cost of a plain store), and the whole inventory
#: is built at start-up; an instance of this twin is filled by plain stores and then becomes a Host
#: (same slots, so ``__class__`` may be assigned).
_HostFill = dataclasses.make_dataclass(
    "_HostFill", [(f.name, Any) for f in dataclasses.fields(Host)], slots=True
)
assert _HostFill.__slots__ == Host.__slots__  # type: ignore[attr-defined]


def _row_to_host(row: Sequence[Any]) -> Host:
    # The inventory is read whole at start-up, so this is kept cheap: plain tuples unpacked by
    # position rather than sqlite-utils' dict per row; the JSON columns repeat
    # the same few texts, so they are decoded once each (_json_tuple, _winrm_options cache); enum
    # members come from dicts rather than Enum.__call__; the instance is filled directly (_HostFill).
    (
        id_, name, address, port, transport, username, key_file, credential_ref,
        sudo_ref, use_sudo, reboot_policy, pre_command, post_command, services,
        transport_options, group_name, ring, criticality, tags, os_id, os_name, os_version,
        kernel, managers, last_scan_at, last_status, last_error, reboot_required,
        pending_urgent, pending_important, pending_noncritical, scan_complete, index_updated,
        scan_notes, check_command, auto_rollback,
    ) = row  # fmt: skip
    host = _HostFill(
        id=id_,
        name=name,
        address=address,
        port=port,
        transport=_TRANSPORTS.get(transport) or TransportKind(transport),
        user=username,
        key_file=key_file,
        credential_ref=credential_ref,
        sudo_ref=sudo_ref,
        use_sudo=bool(use_sudo),
        reboot_policy=None if reboot_policy is None else _REBOOT_POLICIES.get(reboot_policy),
        pre_command=pre_command,
        post_command=post_command,
        services=_json_tuple(services),
        check_command=check_command,
        auto_rollback=None if auto_rollback is None else _AUTO_ROLLBACKS.get(auto_rollback),
        winrm=_winrm_options(transport_options),
        group=group_name,
        ring=_RINGS.get(ring) or Ring(ring),
        criticality=_CRITICALITIES.get(criticality) or Criticality(criticality),
        tags=_json_tuple(tags),
        os_id=os_id,
        os_name=os_name,
        os_version=os_version,
        kernel=kernel,
        managers=_json_tuple(managers),
        last_scan_at=parse_ts(last_scan_at),
        last_status=_STATUSES.get(last_status) or HostStatus(last_status),
        last_error=last_error,
        reboot_required=bool(reboot_required),
        pending_urgent=pending_urgent,
        pending_important=pending_important,
        pending_noncritical=pending_noncritical,
        scan_complete=None if scan_complete is None else bool(scan_complete),
        index_updated=parse_ts(index_updated),
        scan_notes=None if scan_notes is None else _json_tuple(scan_notes),
    )
    host.__class__ = Host
    return host  # type: ignore[no-any-return]


_TRANSPORTS = {str(m.value): m for m in TransportKind}
_REBOOT_POLICIES = {str(m.value): m for m in RebootPolicy}
_RINGS = {str(m.value): m for m in Ring}
_CRITICALITIES = {str(m.value): m for m in Criticality}
_STATUSES = {str(m.value): m for m in HostStatus}
_AUTO_ROLLBACKS = {str(m.value): m for m in AutoRollback}


@functools.lru_cache(maxsize=1024)
def _json_tuple(raw: str | None) -> tuple[str, ...]:
    return tuple(json.loads(raw or "[]"))


@functools.lru_cache(maxsize=256)
def _winrm_options(raw: str | None) -> WinRMOptions:
    try:
        data = json.loads(raw or "{}").get("winrm", {})
        return WinRMOptions(
            auth=str(data.get("auth", "ntlm")),
            scheme=str(data.get("scheme", "https")),
            ca_trust_path=data.get("ca_trust_path"),
            cert_validation=bool(data.get("cert_validation", True)),
            proxy=data.get("proxy"),
        )
    except (ValueError, AttributeError):
        return WinRMOptions()


def ensure_group(db: Database, name: str | None) -> int | None:
    """The id of group ``name``, creating it; None for no group."""
    if not name:
        return None
    row = db.execute("SELECT id FROM groups WHERE name = ?", [name]).fetchone()
    if row:
        return int(row[0])
    return int(db.execute("INSERT INTO groups (name) VALUES (?)", [name]).lastrowid or 0)


def list_groups(db: Database) -> list[str]:
    return [r[0] for r in db.execute("SELECT name FROM groups ORDER BY name COLLATE NOCASE")]


def _host_values(db: Database, host: Host, group_id: int | bool | None = False) -> dict[str, Any]:
    """The row of ``host``; ``group_id`` when the caller already knows it (False: look it up)."""
    return {
        "name": host.name,
        "address": host.address,
        "port": host.port,
        "transport": str(host.transport),
        "username": host.user,
        "key_file": host.key_file,
        "credential_ref": host.credential_ref,
        "sudo_ref": host.sudo_ref,
        "use_sudo": int(host.use_sudo),
        "group_id": ensure_group(db, host.group) if group_id is False else group_id,
        "ring": str(host.ring),
        "criticality": str(host.criticality),
        "tags": json.dumps(list(host.tags)),
        "reboot_policy": str(host.reboot_policy) if host.reboot_policy else None,
        "pre_command": host.pre_command,
        "post_command": host.post_command,
        "services": json.dumps(list(host.services)),
        "check_command": host.check_command,
        "auto_rollback": str(host.auto_rollback) if host.auto_rollback else None,
        "transport_options": json.dumps({"winrm": host.winrm.as_json()}),
    }


def add_host(db: Database, host: Host) -> Host:
    """Insert a new host; a duplicate name is a ConfigError, not a crash."""
    _validate(host)
    values = _host_values(db, host)
    values["created_at"] = values["updated_at"] = now_iso()
    cols = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    try:
        with db.atomic():
            cur = db.execute(f"INSERT INTO hosts ({cols}) VALUES ({marks})", list(values.values()))
    except sqlite3.IntegrityError as exc:
        if "UNIQUE" in str(exc):
            raise ConfigError(f"A host named {host.name!r} already exists.") from exc
        raise
    return get_host(db, int(cur.lastrowid or 0))


def add_hosts(db: Database, hosts: Iterable[Host]) -> list[Host | ConfigError]:
    """Insert many new hosts inside the caller's transaction (an import): one answer per host, the
    host itself with its id now set, or the ConfigError that refused it. Per row it costs one INSERT: groups
    are looked up once each and nothing is read back."""
    groups: dict[str, int | None] = {}
    stamp = now_iso()
    out: list[Host | ConfigError] = []
    for host in hosts:
        if host.id is not None:
            raise ValueError("add_hosts takes new hosts (without an id)")
        try:
            _validate(host)
        except ConfigError as exc:
            out.append(exc)
            continue
        key = (host.group or "").casefold()
        if key not in groups:
            groups[key] = ensure_group(db, host.group)
        values = _host_values(db, host, groups[key])
        values["created_at"] = values["updated_at"] = stamp
        try:
            cur = db.execute(
                f"INSERT INTO hosts ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                list(values.values()),
            )
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise
            out.append(ConfigError(f"A host named {host.name!r} already exists."))
            continue
        # the id set in place on the caller's new host rather than on a copy: a 100,000-host import
        # would otherwise hold the inventory twice (the host had no id, so nothing else saw it change)
        object.__setattr__(host, "id", int(cur.lastrowid or 0))
        out.append(host)
    return out


def update_host(db: Database, host: Host) -> Host:
    """Save the editable fields of an existing host (not its scan results)."""
    if host.id is None:
        raise ValueError("update_host needs a host with an id")
    _validate(host)
    values = _host_values(db, host)
    values["updated_at"] = now_iso()
    sets = ", ".join(f"{k} = ?" for k in values)
    try:
        with db.atomic():
            db.execute(f"UPDATE hosts SET {sets} WHERE id = ?", [*values.values(), host.id])
    except sqlite3.IntegrityError as exc:
        if "UNIQUE" in str(exc):
            raise ConfigError(f"A host named {host.name!r} already exists.") from exc
        raise
    return get_host(db, host.id)


def _validate(host: Host) -> None:
    validate_host(host)


def get_host(db: Database, host_id: int) -> Host:
    row = db.execute(_HOST_SELECT + " WHERE h.id = ?", [host_id]).fetchone()
    if row is None:
        raise ConfigError(f"No host with id {host_id}.")
    return _row_to_host(row)


def get_hosts(db: Database, host_ids: Iterable[int]) -> list[Host]:
    """The hosts with these ids that still exist, in one query per 500 ids (the GUI refreshes the
    rows a running job touched several times a second, on its main thread)."""
    ids = list(host_ids)
    out: list[Host] = []
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ", ".join("?" * len(chunk))
        out.extend(map(_row_to_host, db.execute(_HOST_SELECT + f" WHERE h.id IN ({marks})", chunk)))
    return out


def find_host(db: Database, name: str) -> Host | None:
    row = db.execute(_HOST_SELECT + " WHERE h.name = ?", [name]).fetchone()
    return _row_to_host(row) if row is not None else None


def get_hosts_by_name(db: Database, names: Sequence[str]) -> list[Host]:
    """Hosts in the order named; an unknown name is a ConfigError listing all unknown names."""
    hosts, missing = [], []
    for name in names:
        h = find_host(db, name)
        if h is None:
            missing.append(name)
        else:
            hosts.append(h)
    if missing:
        raise ConfigError("Unknown host(s): " + ", ".join(missing) + ". See `patchdesk hosts list`.")
    return hosts


def list_hosts(db: Database) -> list[Host]:
    return list(map(_row_to_host, db.execute(_HOST_SELECT + " ORDER BY h.name COLLATE NOCASE")))


def host_count(db: Database) -> int:
    return int(db.execute("SELECT count(*) FROM hosts").fetchone()[0])


def remove_host(db: Database, name: str) -> bool:
    with db.atomic():
        cur = db.execute("DELETE FROM hosts WHERE name = ?", [name])
    return cur.rowcount > 0


def record_facts(db: Database, host_id: int, facts: OsFacts, managers: Iterable[str]) -> None:
    db.execute(
        "UPDATE hosts SET os_id = ?, os_name = ?, os_version = ?, kernel = ?, managers = ?, "
        "uptime_seconds = ?, updated_at = ? WHERE id = ?",
        [
            facts.id or None,
            facts.pretty_name or facts.name or None,
            facts.version or None,
            facts.kernel or None,
            json.dumps(list(managers)),  # order kept: the adapter used first
            facts.uptime_seconds,
            now_iso(),
            host_id,
        ],
    )
    if facts.hardware is not None:
        # a scan whose facts did not read the hardware (cut short) keeps the last inventory
        db_hardware.save(db, host_id, facts.hardware)


def set_status(
    db: Database, host_id: int, status: HostStatus, error: str | None, at: str | None = None
) -> None:
    db.execute(
        "UPDATE hosts SET last_status = ?, last_error = ?, last_scan_at = ? WHERE id = ?",
        [str(status), error, at or now_iso(), host_id],
    )


# -- host keys -----------------------------------------------------------------------------------


def host_keys(db: Database, host_id: int) -> list[HostKey]:
    return [
        HostKey(
            host_id=r["host_id"], keytype=r["keytype"], key_b64=r["key_b64"], fingerprint=r["fingerprint"]
        )
        for r in db.query("SELECT * FROM host_keys WHERE host_id = ? ORDER BY id", [host_id])
    ]


def host_keys_for(db: Database, host_ids: Iterable[int]) -> dict[int, list[HostKey]]:
    ids = list(host_ids)
    out: dict[int, list[HostKey]] = {i: [] for i in ids}
    for hid in ids:
        out[hid] = host_keys(db, hid)
    return out


def trust_host_key(db: Database, key: HostKey, *, replace: bool = False) -> None:
    """Record a key as trusted. ``replace`` drops every other key of the host (a changed key accepted)."""
    with db.atomic():
        if replace:
            db.execute("DELETE FROM host_keys WHERE host_id = ?", [key.host_id])
        db.execute(
            "INSERT INTO host_keys (host_id, keytype, key_b64, fingerprint, added_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (host_id, keytype) DO UPDATE SET key_b64 = excluded.key_b64, "
            "fingerprint = excluded.fingerprint, added_at = excluded.added_at",
            [key.host_id, key.keytype, key.key_b64, key.fingerprint, now_iso()],
        )


def forget_host_keys(db: Database, host_id: int) -> None:
    with db.atomic():
        db.execute("DELETE FROM host_keys WHERE host_id = ?", [host_id])
