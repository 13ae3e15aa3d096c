"""Reading ``fwupdmgr --json`` output: devices, available firmware releases and remotes.

Pure functions over untrusted text. The formats are those of libfwupd's ``fwupd_device_to_json``,
``fwupd_release_to_json`` and ``fwupd_remote_to_json`` (``{"Devices": [...]}``, ``{"Remotes": [...]}``),
as fwupd's own self tests pin them. fwupdmgr's exit status (fwupdmgr(1), EXIT STATUS): 0 success,
1 failure, 2 "nothing to do" (get-updates: no updates, or no updatable devices), 3 not found; anything
else -- and anything unreadable -- means the scan could not see.

A pending firmware update is named by the device's first GUID: GUIDs are derived from the hardware's
instance ids, so the same model has the same GUID on every host (one approval covers a model), and
``fwupdmgr install GUID VERSION`` installs exactly that release on the matching devices.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from app.domain.errors import AdapterError
from app.domain.models import PendingUpdate, UpdateKind
from app.platforms.base import clean_value

#: Most output parsed from one fwupdmgr call; beyond it the answer is refused as unreadable.
MAX_JSON_CHARS = 8 * 1024 * 1024
MAX_DEVICES = 512
MAX_RELEASES = 64
MAX_ISSUES = 64
#: release notes kept (they are markup, shown as text)
MAX_NOTES = 2000

EXIT_OK = 0
EXIT_NOTHING_TO_DO = 2

_GUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+~_:-]{0,63}\Z")
_DEVICE_ID_RE = re.compile(r"[0-9a-f]{40}\Z")
_SHA256_RE = re.compile(r"[0-9a-f]{64}\Z")
_CVE_RE = re.compile(r"CVE-\d{4}-\d{4,7}\Z", re.I)
_TAG_RE = re.compile(r"<[^>]{0,200}>")

#: fwupd's release urgency -> the severity word the classifier reads (app/domain/severity.py)
URGENCIES = ("critical", "high", "medium", "low")


@dataclass(frozen=True)
class FwRelease:
    version: str
    appstream_id: str = ""
    name: str = ""
    vendor: str = ""
    protocol: str = ""
    urgency: str | None = None
    remote: str = ""
    description: str = ""
    issues: tuple[str, ...] = ()
    flags: frozenset[str] = frozenset()
    #: SHA-256 of the .cab (the metadata's container checksum): how a carried file is recognised
    sha256: tuple[str, ...] = ()


@dataclass(frozen=True)
class FwDevice:
    device_id: str
    name: str
    guid: str
    version: str
    vendor: str = ""
    plugin: str = ""
    flags: frozenset[str] = frozenset()
    releases: tuple[FwRelease, ...] = ()

    @property
    def can_downgrade(self) -> bool:
        """fwupd refuses older versions on devices flagged ``only-version-upgrade``."""
        return "updatable" in self.flags and "only-version-upgrade" not in self.flags


def _text(value: object, limit: int = 256) -> str:
    return clean_value(value)[:limit] if isinstance(value, str) else ""


def _strings(value: object, limit: int) -> list[str]:
    return [v for v in value[:limit] if isinstance(v, str)] if isinstance(value, list) else []


def _notes(markup: str) -> str:
    """AppStream description markup as one line of text."""
    text = _TAG_RE.sub(" ", markup[: MAX_NOTES * 4])
    return " ".join(text.split())[:MAX_NOTES]


def _load(text: str, key: str, what: str) -> list[Any]:
    if len(text) > MAX_JSON_CHARS:
        raise AdapterError(f"fwupdmgr {what} printed more than {MAX_JSON_CHARS // 2**20} MiB; not read.")
    try:
        obj = json.loads(text)
    except ValueError:
        raise AdapterError(f"fwupdmgr {what} did not print the JSON it documents.") from None
    items = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(items, list):
        raise AdapterError(f"fwupdmgr {what} printed JSON without a {key!r} list.")
    return items


def _release(obj: object) -> FwRelease | None:
    if not isinstance(obj, dict):
        return None
    version = _text(obj.get("Version"), 64)
    if not _VERSION_RE.match(version):
        return None
    urgency = _text(obj.get("Urgency"), 16).lower()
    issues = tuple(i.upper() for i in _strings(obj.get("Issues"), MAX_ISSUES) if _CVE_RE.match(i))
    return FwRelease(
        version=version,
        appstream_id=_text(obj.get("AppstreamId"), 128),
        name=_text(obj.get("Name"), 128),
        vendor=_text(obj.get("Vendor"), 128),
        protocol=_text(obj.get("Protocol"), 64),
        urgency=urgency if urgency in URGENCIES else None,
        remote=_text(obj.get("RemoteId"), 64),
        description=_notes(obj["Description"]) if isinstance(obj.get("Description"), str) else "",
        issues=issues,
        flags=frozenset(_text(f, 32) for f in _strings(obj.get("Flags"), 32)),
        sha256=tuple(c.lower() for c in _strings(obj.get("Checksum"), 8) if _SHA256_RE.match(c.lower())),
    )


def _device(obj: object) -> FwDevice | None:
    if not isinstance(obj, dict):
        return None
    guids = [g.lower() for g in _strings(obj.get("Guid"), 32) if _GUID_RE.match(g.lower())]
    device_id = _text(obj.get("DeviceId"), 64)
    if not guids or not _DEVICE_ID_RE.match(device_id):
        return None  # neither installable by GUID nor a device we could name
    releases = [r for r in (_release(x) for x in _strings_or_objects(obj.get("Releases"))) if r is not None]
    return FwDevice(
        device_id=device_id,
        name=_text(obj.get("Name"), 128) or guids[0],
        guid=guids[0],
        version=_text(obj.get("Version"), 64),
        vendor=_text(obj.get("Vendor"), 128),
        plugin=_text(obj.get("Plugin"), 64),
        flags=frozenset(_text(f, 32) for f in _strings(obj.get("Flags"), 64)),
        releases=tuple(releases),
    )


def _strings_or_objects(value: object) -> list[object]:
    return list(value[:MAX_RELEASES]) if isinstance(value, list) else []


def parse_devices(text: str, what: str = "get-devices") -> list[FwDevice]:
    """``{"Devices": [...]}`` -> devices (entries that name no device id or GUID are skipped)."""
    items = _load(text, "Devices", what)
    return [d for d in (_device(x) for x in items[:MAX_DEVICES]) if d is not None]


def parse_releases(text: str) -> list[FwRelease]:
    """``fwupdmgr get-releases --json`` (``{"Releases": [...]}``) -> releases."""
    items = _load(text, "Releases", "get-releases")
    return [r for r in (_release(x) for x in items[:MAX_RELEASES]) if r is not None]


def error_message(out: str, err: str) -> str:
    """What fwupdmgr said when it failed: with --json it prints ``{"Error": {"Message": ...}}`` on
    stdout (a daemon it cannot reach, a device not found); otherwise the first line of stderr."""
    try:
        obj = json.loads(out) if out.strip().startswith("{") and len(out) < 65536 else None
    except ValueError:
        obj = None
    error = obj.get("Error") if isinstance(obj, dict) else None
    if isinstance(error, dict) and isinstance(error.get("Message"), str):
        return clean_value(error["Message"])
    return next((clean_value(line) for line in (err or out).splitlines() if line.strip()), "")


# the tree's box-drawing characters come out as "?" in the C locale: skip whatever leads the field
_FIELD_RE = re.compile(r"[^A-Za-z]{0,40}(GUID|Device ID|New version|Urgency):\s+(\S.*)$")


def parse_text_urgencies(text: str) -> dict[tuple[str, str], str]:
    """``(GUID, version) -> urgency`` from the text tree of ``fwupdmgr get-updates``.

    fwupd 2.0.20 leaves the release urgency out of its JSON (Debian 12's fwupd) while its text output
    shows it, so the scan reads it from there; only urgencies fwupd defines are taken, and a release
    whose urgency cannot be read here stays ungraded."""
    out: dict[tuple[str, str], str] = {}
    guids: list[str] = []
    version: str | None = None
    for raw in text.splitlines()[:20000]:
        m = _FIELD_RE.match(raw.rstrip())
        if not m:
            continue
        key, value = m.group(1), m.group(2).strip()
        if key == "Device ID":
            guids, version = [], None
        elif key == "GUID":
            guid = value.split()[0].lower()
            if _GUID_RE.match(guid) and len(guids) < 32:
                guids.append(guid)
        elif key == "New version":
            version = value if _VERSION_RE.match(value) else None
        elif key == "Urgency" and version is not None and value.lower() in URGENCIES:
            for guid in guids:
                out.setdefault((guid, version), value.lower())
    return out


def read_updates(exit_status: int, out: str, err: str) -> list[FwDevice]:
    """``fwupdmgr get-updates --json``: the devices with releases newer than theirs.

    Exit status 2 is fwupd's "nothing to do" (no updates, or no updatable device): an empty list, as
    long as what it printed (if anything) is not something else. Every other non-zero status, and
    output that is not the documented JSON, is an error: the scan could not see.
    """
    if exit_status == EXIT_NOTHING_TO_DO:
        if out.strip():
            parse_devices(out, "get-updates")  # whatever it printed must still be its JSON
        return []
    if exit_status != EXIT_OK:
        detail = error_message(out, err)
        raise AdapterError(
            f"fwupdmgr get-updates failed with exit status {exit_status}"
            + (f": {detail}" if detail else " and no message")
            + ". Is the fwupd daemon running on the host?"
        )
    return parse_devices(out, "get-updates")


def pending_updates(
    devices: list[FwDevice], urgencies: Mapping[tuple[str, str], str] | None = None
) -> list[PendingUpdate]:
    """One pending update of kind firmware per device: its newest offered release (fwupd lists the
    newest first). The vendor's urgency is the severity (from the JSON, else from ``urgencies``: see
    :func:`parse_text_urgencies`); CVEs it fixes, or an urgency of high or critical, make it a
    security update."""
    out: list[PendingUpdate] = []
    for d in devices:
        if not d.releases:
            continue
        r = d.releases[0]
        if r.urgency is None and urgencies:
            r = replace(r, urgency=urgencies.get((d.guid, r.version)))
        security = bool(r.issues) or r.urgency in ("critical", "high")
        out.append(
            PendingUpdate(
                manager="fwupd",
                name=d.guid,
                available=r.version,
                installed=d.version or None,
                source=_source(d, r),
                security=security,
                kind=UpdateKind.FIRMWARE,
                severity=r.urgency,
                cves=r.issues,
                reboot_expected="needs-reboot" in d.flags or "needs-shutdown" in d.flags,
            )
        )
    return out


def _source(d: FwDevice, r: FwRelease) -> str:
    """The device the update applies to, as the lists show it: name, vendor, what it needs."""
    needs = [w for f, w in (("require-ac", "AC power"), ("needs-reboot", "a reboot")) if f in d.flags]
    parts = [d.name + (f" ({d.vendor})" if d.vendor else "")]
    if r.remote:
        parts.append(f"from {r.remote}")
    if needs:
        parts.append("needs " + " and ".join(needs))
    if not d.can_downgrade:
        parts.append("no downgrade")
    return clean_value("; ".join(parts))


@dataclass(frozen=True)
class RemotesState:
    """What ``get-remotes`` says of the firmware metadata: when the oldest enabled remote was last
    refreshed (None: one never was), and which remotes are enabled."""

    updated: datetime | None
    enabled: tuple[str, ...]


def parse_remotes(text: str) -> RemotesState:
    """``{"Remotes": [...]}`` -> the metadata age of the enabled remotes that carry metadata.

    libfwupd writes the cache file's time as ``Mtime`` (seconds since the epoch; 0 when never
    refreshed); later versions may call it ``ModificationTime``. A remote of kind ``directory`` holds
    .cab files, not metadata, and has no age to judge.
    """
    items = _load(text, "Remotes", "get-remotes")
    enabled: list[str] = []
    oldest: datetime | None = None
    never = False
    for r in items[:64]:
        if not isinstance(r, dict) or r.get("Enabled") is not True or r.get("Kind") == "directory":
            continue
        enabled.append(_text(r.get("Id"), 64) or "?")
        stamp = r.get("Mtime", r.get("ModificationTime"))
        if not isinstance(stamp, int) or isinstance(stamp, bool) or stamp <= 0 or stamp > 2**40:
            never = True
            continue
        at = datetime.fromtimestamp(stamp, UTC)
        oldest = at if oldest is None or at < oldest else oldest
    return RemotesState(None if never else oldest, tuple(enabled))
