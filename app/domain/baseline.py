"""Configuration baselines and drift: the values and the pure decisions.

A *baseline* is a named set of checks (:class:`BaselineItem`), each of one kind (a file, a package, a
service, a sysctl value, a user or group, a listening port) with a *target* (the path, package name,
service name, key…) and what is *expected* of it (a small JSON-able dict whose keys depend on the
kind, see :data:`EXPECTED_KEYS`). A host's drift verdict comes from comparing, item by item, what a
check on the host observed with what is expected: :func:`evaluate` says ``ok``, ``drifted`` or
``unknown`` (the check could not see), and :func:`verdict` folds them into one word per host.

The Ansible export (another module) reads :class:`Baseline` and :class:`BaselineItem` as they are here;
keep their fields stable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.domain import debversion, rpmversion
from app.domain.events import Event


class CheckKind(StrEnum):
    FILE = "file"
    PACKAGE = "package"
    SERVICE = "service"
    SYSCTL = "sysctl"
    USER = "user"
    GROUP = "group"
    PORT = "port"
    # Windows
    REGISTRY = "registry"  # target: HIVE\key\path|value name
    WIN_SERVICE = "win-service"
    PROGRAM = "program"  # an installed program by its display name
    LOCAL_GROUP = "local-group"
    FIREWALL = "firewall"  # a firewall profile: Domain, Private or Public


#: The kinds a Windows host checks (the others are POSIX checks).
WINDOWS_KINDS = frozenset(
    {CheckKind.REGISTRY, CheckKind.WIN_SERVICE, CheckKind.PROGRAM, CheckKind.LOCAL_GROUP, CheckKind.FIREWALL}
)


class ItemStatus(StrEnum):
    OK = "ok"
    DRIFTED = "drifted"
    UNKNOWN = "unknown"


class DriftVerdict(StrEnum):
    """One host's drift verdict. ``unknown``: a check could not see (or never ran)."""

    NO_DRIFT = "no-drift"
    DRIFTED = "drifted"
    UNKNOWN = "unknown"
    NO_BASELINE = "no-baseline"


#: The keys ``expected`` may hold, per kind (anything else is refused when an item is made).
EXPECTED_KEYS: Mapping[CheckKind, frozenset[str]] = {
    CheckKind.FILE: frozenset({"state", "owner", "group", "mode", "sha256", "size", "options"}),
    CheckKind.PACKAGE: frozenset({"state", "version", "match"}),
    CheckKind.SERVICE: frozenset({"enabled", "running"}),
    CheckKind.SYSCTL: frozenset({"value"}),
    CheckKind.USER: frozenset({"state"}),
    CheckKind.GROUP: frozenset({"state"}),
    CheckKind.PORT: frozenset({"state"}),
    CheckKind.REGISTRY: frozenset({"state", "value", "type"}),
    CheckKind.WIN_SERVICE: frozenset({"start_mode", "running"}),
    CheckKind.PROGRAM: frozenset({"state", "version", "match"}),
    CheckKind.LOCAL_GROUP: frozenset({"members"}),
    CheckKind.FIREWALL: frozenset({"enabled"}),
}

#: Registry value types a baseline can set, and service start modes (as Windows names them).
REGISTRY_TYPES = frozenset({"String", "ExpandString", "DWord", "QWord", "MultiString"})
START_MODES = frozenset({"Automatic", "Manual", "Disabled"})

#: What ``systemctl is-enabled`` says of a unit that starts at boot (or with what pulls it in).
ENABLED_STATES = frozenset({"enabled", "enabled-runtime", "static", "alias", "indirect"})

#: Largest file content a baseline stores (and restores): configuration files, not data.
MAX_FILE_BYTES = 256 * 1024

_PATH_RE = re.compile(r"/[A-Za-z0-9_.+@%,:=~/-]{0,1023}")
_PACKAGE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._-]{0,127}")
_SERVICE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}")
_SYSCTL_RE = re.compile(r"[a-z0-9_][a-z0-9_.-]{0,127}")
_ACCOUNT_RE = re.compile(r"[a-z_][a-z0-9_.-]{0,31}\$?")
_PORT_RE = re.compile(r"(tcp|udp)/([0-9]{1,5})")
_OPTION_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
_MODE_RE = re.compile(r"[0-7]{3,4}")
_SHA_RE = re.compile(r"[0-9a-f]{64}")
_VERSION_RE = re.compile(r"[A-Za-z0-9.+~:_-]{1,128}")
# Windows targets travel to the host as data (base64 JSON), never as code; still bounded and one line.
_REGISTRY_RE = re.compile(r"(HKLM|HKCU|HKU|HKCR|HKCC)(\\[^\\|\x00-\x1f]{1,255}){1,32}\|[^|\x00-\x1f]{0,255}")
_WIN_SERVICE_RE = re.compile(r"[A-Za-z0-9 @._:$-]{1,256}")
_PROGRAM_RE = re.compile(r"[^\x00-\x1f\x7f]{1,256}")
_LOCAL_GROUP_RE = re.compile(r"[^\x00-\x1f\x7f\"/\\\[\]:;|=,+*?<>]{1,256}")
_FIREWALL_RE = re.compile(r"Domain|Private|Public")


@dataclass(frozen=True)
class BaselineItem:
    """One check. ``id`` is the database id (0 before it is stored)."""

    id: int
    kind: str
    target: str
    expected: dict[str, Any]


@dataclass(frozen=True)
class Baseline:
    """A named set of checks."""

    name: str
    items: tuple[BaselineItem, ...]


@dataclass(frozen=True)
class ItemResult:
    """What one check found on one host: the status and what was actually there."""

    item_id: int
    status: ItemStatus
    actual: dict[str, Any]
    reason: str = ""


@dataclass(frozen=True)
class DriftItem:
    """A differing (or unseen) item as shown and exported: expected, actual and since when."""

    id: int
    kind: str
    target: str
    expected: dict[str, Any]
    actual: dict[str, Any]
    since: str
    status: str = ItemStatus.DRIFTED


@dataclass(frozen=True)
class DriftRecorded(Event):
    """The results of a drift check on one host (some or all of its items)."""

    host_id: int
    results: tuple[ItemResult, ...]


@dataclass(frozen=True)
class RemediationRecorded(Event):
    """One item a fix (or the rollback of a fix) changed on a host: what was there before (persisted
    before anything is changed, so the fix can be undone) and, once done, the outcome."""

    host_id: int
    item_id: int
    kind: str
    target: str
    before: dict[str, Any]
    before_content: bytes | None = None
    state: str = "snapshot"  # snapshot | applied | failed | rolled-back
    detail: str = ""
    undoes_job: int | None = None


@dataclass(frozen=True)
class Observation:
    """What the host said about one item: ``fields`` from its answer; ``complete`` when the item's
    answer ended as the script prints it (a cut answer is unknown)."""

    fields: dict[str, str] = field(default_factory=dict)
    complete: bool = False


# -- validation ------------------------------------------------------------------------------------


def check_target(kind: str, target: str) -> str:
    """The target when it is a valid one for ``kind``; ValueError with a sentence otherwise.

    Targets go into the host-side script (shell-quoted), so they are held to a strict form first."""
    patterns = {
        CheckKind.FILE: _PATH_RE,
        CheckKind.PACKAGE: _PACKAGE_RE,
        CheckKind.SERVICE: _SERVICE_RE,
        CheckKind.SYSCTL: _SYSCTL_RE,
        CheckKind.USER: _ACCOUNT_RE,
        CheckKind.GROUP: _ACCOUNT_RE,
        CheckKind.PORT: _PORT_RE,
        CheckKind.REGISTRY: _REGISTRY_RE,
        CheckKind.WIN_SERVICE: _WIN_SERVICE_RE,
        CheckKind.PROGRAM: _PROGRAM_RE,
        CheckKind.LOCAL_GROUP: _LOCAL_GROUP_RE,
        CheckKind.FIREWALL: _FIREWALL_RE,
    }
    try:
        pattern = patterns[CheckKind(kind)]
    except ValueError:
        raise ValueError(f"{kind!r} is not a check kind ({', '.join(k.value for k in CheckKind)})") from None
    posix_path = kind == CheckKind.FILE and ("/../" in target + "/" or "//" in target)
    if not pattern.fullmatch(target) or posix_path or target != target.strip():
        raise ValueError(f"{target[:80]!r} is not a valid {kind} target")
    if kind == CheckKind.PORT and not 0 < int(target.split("/")[1]) < 65536:
        raise ValueError(f"{target!r}: the port must be from 1 to 65535")
    return target


def check_expected(kind: str, expected: Mapping[str, Any]) -> dict[str, Any]:
    """``expected`` when its keys and values fit ``kind``; ValueError with a sentence otherwise."""
    unknown = set(expected) - EXPECTED_KEYS[CheckKind(kind)]
    if unknown:
        raise ValueError(f"{kind} checks have no {', '.join(sorted(unknown))}")
    out = dict(expected)
    state = out.get("state")
    if state is not None and state not in ("present", "absent", "listening", "closed"):
        raise ValueError(f"state {state!r} is not present/absent/listening/closed")
    if "mode" in out and not _MODE_RE.fullmatch(str(out["mode"])):
        raise ValueError(f"mode {out['mode']!r} is not an octal mode such as 0644")
    if "mode" in out:
        out["mode"] = str(out["mode"]).rjust(4, "0")  # as the host's answer is read (stat's %a, padded)
    if "owner" in out and not _ACCOUNT_RE.fullmatch(str(out["owner"])):
        raise ValueError(f"owner {str(out['owner'])[:40]!r} is not a user name")
    if "group" in out and not _ACCOUNT_RE.fullmatch(str(out["group"])):
        raise ValueError(f"group {str(out['group'])[:40]!r} is not a group name")
    if "sha256" in out and not _SHA_RE.fullmatch(str(out["sha256"])):
        raise ValueError("sha256 must be 64 lower-case hex digits")
    if "version" in out and not _VERSION_RE.fullmatch(str(out["version"])):
        raise ValueError(f"version {str(out['version'])[:40]!r} is not a package version")
    if out.get("match", "exact") not in ("exact", "minimum"):
        raise ValueError("match must be exact or minimum")
    for key in out.get("options", {}) or {}:
        if not _OPTION_RE.fullmatch(str(key)):
            raise ValueError(f"{str(key)[:40]!r} is not an option name")
    _check_windows_expected(out)
    return out


def _check_windows_expected(out: dict[str, Any]) -> None:
    if "type" in out and out["type"] not in REGISTRY_TYPES:
        raise ValueError(
            f"registry type {str(out['type'])[:40]!r} is not one of {', '.join(sorted(REGISTRY_TYPES))}"
        )
    if "start_mode" in out and out["start_mode"] not in START_MODES:
        raise ValueError(
            f"start mode {str(out['start_mode'])[:40]!r} is not one of {', '.join(sorted(START_MODES))}"
        )
    if "value" in out and (not isinstance(out["value"], str | int) or len(str(out["value"])) > 4096):
        raise ValueError("a value is text or a number of at most 4096 characters")
    members = out.get("members")
    if members is not None and (
        not isinstance(members, list)
        or len(members) > 200
        or not all(_LOCAL_GROUP_RE.fullmatch(str(m).replace("\\", "")) for m in members)
    ):
        raise ValueError("members is a list of at most 200 account names")
    for key in ("running", "enabled"):
        if key in out and not isinstance(out[key], bool):
            raise ValueError(f"{key} is true or false")


def make_item(kind: str, target: str, expected: Mapping[str, Any], item_id: int = 0) -> BaselineItem:
    """A validated item."""
    return BaselineItem(
        item_id, str(CheckKind(kind)), check_target(kind, target), check_expected(kind, expected)
    )


# -- evaluation ------------------------------------------------------------------------------------


def evaluate(item: BaselineItem, obs: Observation | None, *, fmt: str = "deb") -> ItemResult:
    """Compare what the host said with what ``item`` expects. No answer, or a cut one, is unknown."""
    if obs is None or not obs.complete:
        return ItemResult(item.id, ItemStatus.UNKNOWN, {}, "the check did not answer for this item")
    judge = _JUDGES[CheckKind(item.kind)]
    return judge(item, obs.fields, fmt)


def _result(item: BaselineItem, actual: dict[str, Any], unseen: list[str]) -> ItemResult:
    differs = [k for k, v in item.expected.items() if k in actual and actual[k] != v]
    if differs:
        return ItemResult(item.id, ItemStatus.DRIFTED, actual, "differs: " + ", ".join(sorted(differs)))
    if unseen:
        return ItemResult(item.id, ItemStatus.UNKNOWN, actual, "could not read: " + ", ".join(unseen))
    return ItemResult(item.id, ItemStatus.OK, actual)


def _judge_file(item: BaselineItem, f: Mapping[str, str], _fmt: str) -> ItemResult:
    exp = item.expected
    if f.get("exists") not in ("0", "1"):
        return ItemResult(item.id, ItemStatus.UNKNOWN, {}, "the file's existence could not be seen")
    present = f["exists"] == "1"
    if exp.get("state", "present") == "absent" or not present:
        state = "present" if present else "absent"
        want = exp.get("state", "present")
        status = ItemStatus.OK if state == want else ItemStatus.DRIFTED
        return ItemResult(item.id, status, {"state": state})
    actual: dict[str, Any] = {"state": "present"}
    unseen: list[str] = []
    meta = f.get("meta", "").split(":", 4)
    if len(meta) == 5:
        actual["owner"], actual["group"] = meta[0], meta[1]
        actual["mode"] = meta[2].rjust(4, "0")
        if meta[3].isdigit():
            actual["size"] = int(meta[3])
    for key in ("owner", "group", "mode", "size"):
        if key in exp and key not in actual:
            unseen.append(key)
    if "sha256" in f:
        actual["sha256"] = f["sha256"]
    elif "sha256" in exp:
        unseen.append("sha256")
    if "options" in exp:
        options, missing = _options(exp["options"], f)
        if not missing:  # an unreadable file's options are unseen, not "none set"
            actual["options"] = options
        unseen.extend(missing)
    return _result(item, actual, unseen)


def _options(wanted: Mapping[str, Any], f: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    if f.get("readable") != "1":
        return {}, ["options"]
    found: dict[str, Any] = {}
    for key in wanted:
        value = f.get(f"opt.{key}")
        found[key] = " ".join(value.split()) if value is not None else None
    return found, []


def _judge_package(item: BaselineItem, f: Mapping[str, str], fmt: str) -> ItemResult:
    exp = item.expected
    if "installed" not in f:
        return ItemResult(item.id, ItemStatus.UNKNOWN, {}, "the package database could not be read")
    version = f["installed"] or None
    want_state = exp.get("state", "present")
    actual: dict[str, Any] = {"state": "present" if version else "absent"}
    if version:
        actual["version"] = version
    if want_state == "absent" or not version:
        status = ItemStatus.OK if actual["state"] == want_state else ItemStatus.DRIFTED
        return ItemResult(item.id, status, actual)
    want = exp.get("version")
    if want is None:
        return ItemResult(item.id, ItemStatus.OK, actual)
    cmp = (rpmversion.compare_evr if fmt == "rpm" else debversion.compare)(version, str(want))
    ok = cmp >= 0 if exp.get("match") == "minimum" else cmp == 0
    return ItemResult(item.id, ItemStatus.OK if ok else ItemStatus.DRIFTED, actual)


def _judge_service(item: BaselineItem, f: Mapping[str, str], _fmt: str) -> ItemResult:
    if "enabled" not in f or "active" not in f:
        return ItemResult(item.id, ItemStatus.UNKNOWN, {}, "systemd did not answer (not running it?)")
    actual: dict[str, Any] = {"enabled": f["enabled"] in ENABLED_STATES}
    actual["running"] = f["active"] == "active"
    if f["enabled"] in ("", "not-found"):
        actual["state"] = "absent"
    differs = [k for k, v in item.expected.items() if actual.get(k) != v]
    status = ItemStatus.DRIFTED if differs else ItemStatus.OK
    return ItemResult(item.id, status, actual, "differs: " + ", ".join(differs) if differs else "")


def _judge_sysctl(item: BaselineItem, f: Mapping[str, str], _fmt: str) -> ItemResult:
    if f.get("exists") == "0":
        return ItemResult(item.id, ItemStatus.DRIFTED, {"value": None}, "the key does not exist")
    if "value" not in f:
        return ItemResult(item.id, ItemStatus.UNKNOWN, {}, "the value could not be read")
    value = " ".join(f["value"].split())
    want = " ".join(str(item.expected.get("value", "")).split())
    return ItemResult(item.id, ItemStatus.OK if value == want else ItemStatus.DRIFTED, {"value": value})


def _judge_account(item: BaselineItem, f: Mapping[str, str], _fmt: str) -> ItemResult:
    rc = f.get("rc")
    if rc not in ("0", "2"):
        return ItemResult(item.id, ItemStatus.UNKNOWN, {}, "the account database could not be read")
    state = "present" if rc == "0" else "absent"
    want = item.expected.get("state", "present")
    return ItemResult(item.id, ItemStatus.OK if state == want else ItemStatus.DRIFTED, {"state": state})


def _judge_port(item: BaselineItem, f: Mapping[str, str], _fmt: str) -> ItemResult:
    if "listening" not in f:
        return ItemResult(item.id, ItemStatus.UNKNOWN, {}, "the socket tables could not be read")
    state = "listening" if f["listening"] == "1" else "closed"
    want = item.expected.get("state", "listening")
    return ItemResult(item.id, ItemStatus.OK if state == want else ItemStatus.DRIFTED, {"state": state})


def _judge_registry(item: BaselineItem, f: Mapping[str, str], _fmt: str) -> ItemResult:
    if f.get("exists") not in ("0", "1"):
        return ItemResult(item.id, ItemStatus.UNKNOWN, {}, "the registry could not be read")
    exp = item.expected
    if f["exists"] == "0":
        state = exp.get("state", "present")
        actual: dict[str, Any] = {"state": "absent"}
        return ItemResult(item.id, ItemStatus.OK if state == "absent" else ItemStatus.DRIFTED, actual)
    actual = {"state": "present", "value": f.get("value", ""), "type": f.get("type", "")}
    if exp.get("state") == "absent":
        return ItemResult(item.id, ItemStatus.DRIFTED, actual)
    differs = [k for k in ("value", "type") if k in exp and str(exp[k]) != actual[k]]
    status = ItemStatus.DRIFTED if differs else ItemStatus.OK
    return ItemResult(item.id, status, actual, "differs: " + ", ".join(differs) if differs else "")


def _judge_win_service(item: BaselineItem, f: Mapping[str, str], _fmt: str) -> ItemResult:
    if f.get("exists") not in ("0", "1"):
        return ItemResult(item.id, ItemStatus.UNKNOWN, {}, "the service manager did not answer")
    if f["exists"] == "0":
        return ItemResult(item.id, ItemStatus.DRIFTED, {"state": "absent"}, "no such service")
    actual: dict[str, Any] = {"start_mode": f.get("start_mode", ""), "running": f.get("status") == "Running"}
    differs = [k for k, v in item.expected.items() if actual.get(k) != v]
    status = ItemStatus.DRIFTED if differs else ItemStatus.OK
    return ItemResult(item.id, status, actual, "differs: " + ", ".join(differs) if differs else "")


def _judge_program(item: BaselineItem, f: Mapping[str, str], _fmt: str) -> ItemResult:
    # an installed program is a package whose version compares like a dotted Debian upstream version
    return _judge_package(item, f, "deb")


def _judge_local_group(item: BaselineItem, f: Mapping[str, str], _fmt: str) -> ItemResult:
    if f.get("exists") not in ("0", "1"):
        return ItemResult(item.id, ItemStatus.UNKNOWN, {}, "the group's members could not be read")
    if f["exists"] == "0":
        return ItemResult(item.id, ItemStatus.DRIFTED, {"state": "absent"}, "no such group")
    members = [m for m in f.get("members", "").split("\n") if m]
    have = {m.casefold() for m in members}
    missing = [m for m in item.expected.get("members", []) if str(m).casefold() not in have]
    actual: dict[str, Any] = {"members": members}
    status = ItemStatus.DRIFTED if missing else ItemStatus.OK
    return ItemResult(item.id, status, actual, "missing: " + ", ".join(missing) if missing else "")


def _judge_firewall(item: BaselineItem, f: Mapping[str, str], _fmt: str) -> ItemResult:
    if f.get("enabled") not in ("True", "False"):
        return ItemResult(item.id, ItemStatus.UNKNOWN, {}, "the firewall profile could not be read")
    actual = {"enabled": f["enabled"] == "True"}
    ok = actual["enabled"] == item.expected.get("enabled", True)
    return ItemResult(item.id, ItemStatus.OK if ok else ItemStatus.DRIFTED, actual)


_JUDGES = {
    CheckKind.FILE: _judge_file,
    CheckKind.PACKAGE: _judge_package,
    CheckKind.SERVICE: _judge_service,
    CheckKind.SYSCTL: _judge_sysctl,
    CheckKind.USER: _judge_account,
    CheckKind.GROUP: _judge_account,
    CheckKind.PORT: _judge_port,
    CheckKind.REGISTRY: _judge_registry,
    CheckKind.WIN_SERVICE: _judge_win_service,
    CheckKind.PROGRAM: _judge_program,
    CheckKind.LOCAL_GROUP: _judge_local_group,
    CheckKind.FIREWALL: _judge_firewall,
}


def verdict(statuses: Iterable[str], assigned: int) -> DriftVerdict:
    """One word for a host: any drifted item makes it drifted; otherwise any item unknown (or never
    checked: fewer statuses than ``assigned`` items) makes it unknown, never "no drift"."""
    seen = list(statuses)
    if assigned == 0:
        return DriftVerdict.NO_BASELINE
    if ItemStatus.DRIFTED in seen:
        return DriftVerdict.DRIFTED
    if len(seen) < assigned or any(s != ItemStatus.OK for s in seen):
        return DriftVerdict.UNKNOWN
    return DriftVerdict.NO_DRIFT


def describe_value(kind: str, value: Mapping[str, Any]) -> str:
    """A short human phrase of an expected or actual value (for tables and previews)."""
    if not value:
        return "?"
    parts = []
    for key, v in value.items():
        if key == "match":
            continue  # said with the version
        if isinstance(v, bool):
            parts.append(key if v else f"not {key}")
        elif key == "state":
            parts.append(str(v))
        elif key == "version" and value.get("match") == "minimum":
            parts.append(f"version {v} or newer")
        elif key == "sha256":
            parts.append(f"sha256 {str(v)[:12]}…")
        elif key == "options" and isinstance(v, Mapping):
            parts.extend(f"{k} {vv if vv is not None else '(unset)'}" for k, vv in v.items())
        else:
            parts.append(f"{key} {v}")
    return ", ".join(parts)
