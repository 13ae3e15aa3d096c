"""The inventory's writes: add, edit, remove and import hosts, each with its audit entry.

The CLI's ``hosts`` commands, the host and import dialogs and the first-run assistant all call these,
so a host change leaves the same audit entry whichever face made it. Passwords live in the OS keyring
(app.secrets); only their references are stored with the host. Keyring calls may block on an unlock
prompt, so :func:`store_passwords` and :func:`delete_secrets` are separate from the database writes:
the GUI runs them on a pool thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.domain.errors import ConfigError
from app.domain.models import Host, HostKey
from app.services import audit
from db import hosts as db_hosts
from db.connection import Database

#: The fields whose change an "edited" audit entry names.
EDITABLE_FIELDS = (
    "name",
    "address",
    "port",
    "user",
    "key_file",
    "group",
    "ring",
    "criticality",
    "use_sudo",
    "reboot_policy",
    "pre_command",
    "post_command",
    "services",
    "check_command",
    "auto_rollback",
    "tags",
    "transport",
)


class Secrets(Protocol):
    """What the inventory needs of app.secrets.SecretStore."""

    def new_ref(self, kind: Any, host_name: str) -> str: ...  # kind: app.secrets.SecretKind

    def set(self, ref: str, secret: str) -> None: ...

    def delete(self, ref: str) -> None: ...


@dataclass
class ImportOutcome:
    added: list[Host] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def added_names(self) -> list[str]:
        return [h.name for h in self.added]


def check_group_name(name: str | None, what: str = "The group name") -> None:
    """A group name is shown in tables, CSV and charts: control characters (ESC, CR, LF...) would
    drive a terminal or split a row there, so they are refused where names come in."""
    if name is not None and not name.isprintable():
        shown = "".join(c if c.isprintable() else "?" for c in name[:80])
        raise ConfigError(f"{what} {shown!r} contains control characters (? above); use plain text.")


def _check_host_text(host: Host) -> None:
    check_group_name(host.group, f"The group of {host.name!r}")


def add_host(db: Database, host: Host, *, stored: Iterable[str] = ()) -> Host:
    """Insert ``host`` and audit it; ``stored`` names the passwords just put in the keyring for it."""
    _check_host_text(host)
    with audit.transaction(db):
        saved = db_hosts.add_host(db, host)
        audit.record(
            db, audit.HOST_ADDED, saved.name, {"address": saved.address, "transport": str(saved.transport)}
        )
        _audit_credentials(db, saved, stored)
    return saved


def update_host(db: Database, host: Host, original: Host, *, stored: Iterable[str] = ()) -> Host:
    """Save the editable fields of an existing host; the audit entry lists the fields that changed."""
    _check_host_text(host)
    with audit.transaction(db):
        saved = db_hosts.update_host(db, host)
        changed = changed_fields(original, saved)
        audit.record(
            db,
            audit.HOST_EDITED,
            saved.name,
            {"address": saved.address, "transport": str(saved.transport), "changed": changed},
        )
        _audit_credentials(db, saved, stored)
    return saved


def changed_fields(original: Host, host: Host) -> list[str]:
    """The editable fields in which ``host`` differs from ``original``, sorted."""
    return sorted(f for f in EDITABLE_FIELDS if getattr(original, f) != getattr(host, f))


def _audit_credentials(db: Database, saved: Host, stored: Iterable[str]) -> None:
    kinds = sorted(stored)
    if kinds and (saved.credential_ref or saved.sudo_ref):
        audit.record(db, audit.CREDENTIALS_CHANGED, saved.name, {"stored": kinds})


def remove_host(db: Database, name: str) -> Host:
    """Delete a host (its scans and history go with it) and audit it; an unknown name is a ConfigError.

    Returns the removed host: its keyring references are for :func:`delete_secrets`.
    """
    found = db_hosts.find_host(db, name)
    if found is None:
        raise ConfigError(f"Unknown host {name!r}. See `patchdesk hosts list`.")
    with audit.transaction(db):
        db_hosts.remove_host(db, name)
        audit.record(db, audit.HOST_REMOVED, name, {"address": found.address})
    return found


def remove_hosts(db: Database, hosts: Sequence[Host]) -> list[str]:
    """Delete these hosts with an audit entry each; returns their keyring references to delete."""
    refs: list[str] = []
    with audit.transaction(db):
        for h in hosts:
            db_hosts.remove_host(db, h.name)
            audit.record(db, audit.HOST_REMOVED, h.name, {"address": h.address})
            refs += secret_refs(h)
    return refs


def secret_refs(host: Host) -> list[str]:
    return [r for r in (host.credential_ref, host.sudo_ref) if r]


def store_passwords(
    store: Secrets, host_name: str, passwords: Mapping[str, str], refs: Mapping[str, str | None] | None = None
) -> dict[str, str]:
    """Put passwords (kind -> value) in the keyring, reusing a host's existing references.

    Returns kind -> reference for the host record. May block on a keyring unlock prompt.
    """
    out: dict[str, str] = {}
    for kind, value in passwords.items():
        ref = (refs or {}).get(kind) or store.new_ref(kind, host_name)
        store.set(ref, value)
        out[kind] = ref
    return out


def delete_secrets(store: Secrets, refs: Iterable[str]) -> None:
    """Delete keyring entries of removed hosts; raises SecretStoreError. May block on the keyring."""
    for ref in refs:
        store.delete(ref)


def import_hosts(
    db: Database,
    hosts: Iterable[Host],
    source: str,
    *,
    lines: Mapping[str, int] | None = None,
    format: str | None = None,
) -> ImportOutcome:
    """Add each host; one refused (a duplicate name…) becomes a problem naming its line.

    All the hosts added and their one audit entry (``source``, a file or the dialog, as its target)
    are one transaction: a database that is locked or fails part-way leaves nothing behind, and the
    error (a DatabaseError sentence) says so instead of a count of hosts that were not kept.
    """
    outcome = ImportOutcome()
    checked: list[Host] = []
    for host in hosts:
        try:
            _check_host_text(host)
            checked.append(host)
        except ConfigError as exc:
            outcome.problems.append(f"line {(lines or {}).get(host.name, 0)}: {exc}")
    with audit.transaction(db):
        for host, saved in zip(checked, db_hosts.add_hosts(db, checked), strict=True):
            if isinstance(saved, ConfigError):
                outcome.problems.append(f"line {(lines or {}).get(host.name, 0)}: {saved}")
            else:
                outcome.added.append(saved)
        if outcome.added:
            details: dict[str, object] = {"added": outcome.added_names}
            if format is not None:
                details["format"] = format
            audit.record(db, audit.HOSTS_IMPORTED, source, details)
    return outcome


def forget_host_key(db: Database, name: str) -> Host:
    """Forget a host's trusted SSH keys (after a verified key change); the next scan trusts anew."""
    known = db_hosts.find_host(db, name)
    if known is None or known.id is None:
        raise ConfigError(f"Unknown host {name!r}.")
    db_hosts.forget_host_keys(db, known.id)
    audit.record(db, audit.HOST_KEY_FORGOTTEN, name, {})
    return known


def trust_host_key(
    db: Database,
    host_name: str,
    key: HostKey,
    fingerprint: str,
    *,
    changed: bool = False,
    old_fingerprint: str | None = None,
) -> None:
    """Trust a host key shown at first contact, or (``changed``) one that replaces the trusted key."""
    db_hosts.trust_host_key(db, key, replace=changed)
    details: dict[str, object] = {"fingerprint": fingerprint}
    if changed:
        details["replaced"] = old_fingerprint
    else:
        details["first_contact"] = True
    audit.record(db, audit.HOST_KEY_ACCEPTED, host_name, details)
