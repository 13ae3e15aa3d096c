"""Reading what zypper prints (``--xmlout``), for the zypper adapter (zypper.py): updates and needed
patches, the install summary of a plan, available versions, the reboot check, and failures from
zypper's exit codes (zypper(8)) and XML error messages.

Tested against documented formats only (tests/data/zypper/, written from zypper's own XML writers).
Everything from the host is untrusted: XML with a DOCTYPE (entity tricks) is refused outright, and
names and versions must be valid rpm text.
"""

from __future__ import annotations

import fnmatch
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from datetime import datetime

from app.domain.errors import AdapterError, UnsupportedHostError
from app.domain.models import IndexState, PackageChange, PendingUpdate, UpdateKind
from app.platforms.base import MAX_WARNINGS, clean_value
from app.platforms.posix.repo_index import enabled_repos, index_state, parse_times
from app.platforms.posix.rpm import is_valid_evr, is_valid_name
from app.transports.base import CommandResult

MANAGER = "zypper"
PATCH_PREFIX = "patch:"

EXIT_OK = 0
EXIT_PRIVILEGES = 5
EXIT_NO_REPOS = 6
EXIT_LOCKED = 7
EXIT_COMMIT = 8
EXIT_UPDATE_NEEDED = 100
EXIT_SEC_UPDATE_NEEDED = 101
EXIT_REBOOT_NEEDED = 102
EXIT_RESTART_NEEDED = 103
EXIT_CAP_NOT_FOUND = 104
EXIT_ON_SIGNAL = 105
EXIT_REPOS_SKIPPED = 106
EXIT_RPM_SCRIPT_FAILED = 107
#: exit codes after which the command did its job (some with something to say)
SUCCESS_CODES = frozenset(
    {
        EXIT_OK,
        EXIT_UPDATE_NEEDED,
        EXIT_SEC_UPDATE_NEEDED,
        EXIT_REBOOT_NEEDED,
        EXIT_REPOS_SKIPPED,
        EXIT_RPM_SCRIPT_FAILED,
    }
)

MAX_XML = 64 * 1024 * 1024

_ARCH_RE = re.compile(r"[A-Za-z0-9_]{1,32}")
_PATCH_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,199}")
_ALIAS_RE = re.compile(r"[^\x00-\x1f\x7f]{1,200}")
_CVE_RE = re.compile(r"CVE-[0-9]{4}-[0-9]{4,8}")
_SEVERITIES = {"critical": "Critical", "important": "Important", "moderate": "Moderate", "low": "Low"}
_CATEGORY_KIND = {
    "security": UpdateKind.SECURITY,
    "recommended": UpdateKind.BUGFIX,
    "bugfix": UpdateKind.BUGFIX,
    "optional": UpdateKind.ENHANCEMENT,
    "feature": UpdateKind.ENHANCEMENT,
    "enhancement": UpdateKind.ENHANCEMENT,
    "document": UpdateKind.ENHANCEMENT,
}
_NEEDED = {"needed"}  # patch status; "applied", "not-needed" are not pending
_LOCKED = "unwanted"  # a needed patch the administrator locked: pending, held
LOCK_REASON = "A zypper lock (/etc/zypp/locks, zypper addlock) keeps it from being updated."
NOT_INSTALLABLE_REASON = (
    "zypper would not install it in an update (a vendor change or a dependency it cannot resolve)."
)
_REBOOT_PACKAGES = frozenset({"kernel-default", "kernel-azure", "kernel-rt", "glibc", "systemd", "dbus-1"})


class XmlRefused(ValueError):
    """The host's XML was not something zypper writes (DOCTYPE, unparseable, too big)."""


def _root(text: str) -> ET.Element:
    """Parse zypper's ``--xmlout`` stream safely (no DTDs: nothing zypper writes has one)."""
    if len(text) > MAX_XML:
        raise XmlRefused("XML output too large")
    start = text.find("<")
    if start < 0:
        raise XmlRefused("no XML in the output")
    body = text[start:]
    if "<!DOCTYPE" in body or "<!ENTITY" in body:
        raise XmlRefused("XML with a DOCTYPE refused")
    try:
        return ET.fromstring(body)  # noqa: S314 - DOCTYPE/ENTITY refused above, so no entity tricks
    except ET.ParseError as exc:
        raise XmlRefused(f"unparseable XML: {exc}") from None


def _messages(root: ET.Element, kind: str) -> list[str]:
    return [
        clean_value(m.text or "")
        for m in root.iter("message")
        if m.get("type") == kind and (m.text or "").strip()
    ]


def _evr(edition: str | None) -> str | None:
    if edition is None:
        return None
    e = edition.strip()
    epoch, sep, rest = e.partition(":")
    if sep and epoch == "0":
        e = rest
    return e if is_valid_evr(e) else None


@dataclass(frozen=True)
class UpdatesParse:
    pending: tuple[PendingUpdate, ...] = ()
    warnings: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()  # patches held back because update-stack patches come first
    #: None: the answer was read; else why it could not be (no XML, cut short, refused)
    unreadable: str | None = None
    #: zypper's own error messages in an answer it otherwise completed (a repository it could not read)
    errors: tuple[str, ...] = ()


def _unreadable(what: str, exc: XmlRefused) -> UpdatesParse:
    return UpdatesParse(warnings=(f"Could not read zypper's {what} output: {exc}",), unreadable=str(exc))


def _no_status(root: ET.Element, what: str) -> UpdatesParse | None:
    """zypper writes ``<update-status>`` whenever it got as far as listing; without it nothing was."""
    if root.find("update-status") is None:
        return UpdatesParse(
            warnings=(f"zypper's {what} output has no update list",),
            unreadable="no update list in the answer",
            errors=tuple(_messages(root, "error")),
        )
    return None


def parse_list_updates(text: str) -> UpdatesParse:
    """``zypper --xmlout list-updates``: one bugfix-kind PendingUpdate per ``<update kind="package">``."""
    try:
        root = _root(text)
    except XmlRefused as exc:
        return _unreadable("list-updates", exc)
    missing = _no_status(root, "list-updates")
    if missing is not None:
        return missing
    pending: list[PendingUpdate] = []
    warnings: list[str] = []
    for up in root.iter("update"):
        if up.get("kind", "package") != "package":
            continue
        name = up.get("name") or ""
        available = _evr(up.get("edition"))
        installed = _evr(up.get("edition-old")) if up.get("edition-old") is not None else None
        arch = up.get("arch") or ""
        if not is_valid_name(name) or available is None or (arch and not _ARCH_RE.fullmatch(arch)):
            if len(warnings) < MAX_WARNINGS:
                warnings.append(f"Could not understand zypper update: {clean_value(name)[:80]!r}")
            continue
        src = up.find("source")
        alias = src.get("alias", "") if src is not None else ""
        pending.append(
            PendingUpdate(
                manager=MANAGER,
                name=name,
                available=available,
                installed=installed,
                arch=arch,
                source=alias if _ALIAS_RE.fullmatch(alias or "x") else "",
                kind=UpdateKind.BUGFIX,
                reboot_expected=name in _REBOOT_PACKAGES,
            )
        )
    return UpdatesParse(tuple(pending), tuple(warnings), errors=tuple(_messages(root, "error")))


def parse_list_patches(text: str) -> UpdatesParse:
    """``zypper --xmlout list-patches``: one PendingUpdate named ``patch:<name>`` per needed patch.

    category security → SECURITY (recommended → bugfix, optional/feature → enhancement), severity
    (critical/important/moderate/low, "unspecified" → None), CVEs from ``<issue type="cve">``,
    ``restart="true"`` → reboot expected. Patches in ``<blocked-update-list>`` (waiting for an update of
    the package manager itself) are reported in ``blocked``.
    """
    try:
        root = _root(text)
    except XmlRefused as exc:
        return _unreadable("list-patches", exc)
    missing = _no_status(root, "list-patches")
    if missing is not None:
        return missing
    pending: list[PendingUpdate] = []
    warnings: list[str] = []
    blocked: list[str] = []
    blocked_elems = {id(u) for b in root.iter("blocked-update-list") for u in b.iter("update")}
    for up in root.iter("update"):
        if up.get("kind") != "patch":
            continue
        name = up.get("name") or ""
        edition = (up.get("edition") or "").strip()
        if not _PATCH_RE.fullmatch(name) or not re.fullmatch(r"[0-9A-Za-z.+~_-]{1,64}", edition):
            if len(warnings) < MAX_WARNINGS:
                warnings.append(f"Could not understand zypper patch: {clean_value(name)[:80]!r}")
            continue
        status = up.get("status", "needed")
        if status not in _NEEDED and status != _LOCKED:
            continue
        if id(up) in blocked_elems:
            blocked.append(name)
            continue
        category = (up.get("category") or "").lower()
        kind = _CATEGORY_KIND.get(category, UpdateKind.BUGFIX)
        severity = _SEVERITIES.get((up.get("severity") or "").lower())
        cves = sorted(
            {
                i.get("id", "")
                for i in up.iter("issue")
                if i.get("type") == "cve" and _CVE_RE.fullmatch(i.get("id", ""))
            }
        )
        src = up.find("source")
        alias = src.get("alias", "") if src is not None else ""
        pending.append(
            PendingUpdate(
                manager=MANAGER,
                name=PATCH_PREFIX + name,
                available=edition,
                installed=None,
                arch=up.get("arch") or "noarch",
                source=alias if _ALIAS_RE.fullmatch(alias or "x") else "",
                security=kind == UpdateKind.SECURITY,
                kind=kind,
                severity=severity,
                cves=tuple(cves),
                advisories=(name,),
                reboot_expected=up.get("restart") == "true",
                held=status == _LOCKED,
                held_reason=LOCK_REASON if status == _LOCKED else "",
            )
        )
    return UpdatesParse(
        tuple(pending), tuple(warnings), tuple(blocked), errors=tuple(_messages(root, "error"))
    )


_SUMMARY_GROUPS = {
    "to-install": "install",
    "to-upgrade": "upgrade",
    "to-downgrade": "downgrade",
    "to-reinstall": "reinstall",
    "to-change-arch": "upgrade",
    "to-change-vendor": "upgrade",
    "to-remove": "remove",
}


@dataclass(frozen=True)
class SummaryParse:
    changes: tuple[PackageChange, ...] = ()
    patches: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def parse_install_summary(text: str) -> SummaryParse:
    """The ``<install-summary>`` of a (dry-run) install/update/patch: the package changes, with
    ``edition-old`` as from-version where zypper gives it (callers fill the rest from ``rpm -q``)."""
    try:
        root = _root(text)
    except XmlRefused as exc:
        return SummaryParse(warnings=(f"Could not read zypper's summary: {exc}",))
    changes: dict[str, PackageChange] = {}
    patches: list[str] = []
    warnings: list[str] = []
    for summary in root.iter("install-summary"):
        for group in summary:
            action = _SUMMARY_GROUPS.get(group.tag)
            if action is None:
                continue
            for s in group.iter("solvable"):
                kind = s.get("type") or s.get("kind") or "package"
                name = s.get("name") or ""
                if kind == "patch":
                    if _PATCH_RE.fullmatch(name):
                        patches.append(name)
                    continue
                if kind != "package":
                    continue
                edition = _evr(s.get("edition"))
                arch = s.get("arch") or ""
                if not is_valid_name(name) or edition is None or (arch and not _ARCH_RE.fullmatch(arch)):
                    if len(warnings) < MAX_WARNINGS:
                        warnings.append(f"Could not understand zypper solvable: {clean_value(name)[:80]!r}")
                    continue
                old = _evr(s.get("edition-old"))
                if action == "remove":
                    changes[name] = PackageChange(MANAGER, name, edition, None, arch)
                elif action == "install":
                    changes[name] = PackageChange(MANAGER, name, None, edition, arch)
                else:
                    changes[name] = PackageChange(MANAGER, name, old, edition, arch)
    return SummaryParse(tuple(changes.values()), tuple(patches), tuple(warnings))


def parse_search_versions(text: str) -> dict[str, set[str]]:
    """``zypper --xmlout search -s``: ``{name: {editions}}`` of package solvables (any status)."""
    try:
        root = _root(text)
    except XmlRefused:
        return {}
    out: dict[str, set[str]] = {}
    for s in root.iter("solvable"):
        if (s.get("kind") or "package") != "package":
            continue
        name = s.get("name") or ""
        edition = _evr(s.get("edition"))
        if is_valid_name(name) and edition is not None:
            out.setdefault(name, set()).add(edition)
    return out


#: zypper's repository files, and what dates a repository's last refresh in libzypp's raw metadata
#: cache: a refresh that finds the repository unchanged touches repodata/repomd.xml (RepoManager
#: touchIndexFile; ``content`` for YaST2 repositories, ``cookie`` for plain directories), one that
#: downloads it swaps in a new repodata directory (its files keep the server's times: the directory's
#: own time is the download's). The newest of them, under the default cache /var/cache/zypp.
REPO_FILES = "/etc/zypp/repos.d/*.repo"
RAW_CACHE = "/var/cache/zypp/raw"
_DATING = ("repodata", "repodata/repomd.xml", "content", "cookie")
CACHE_FILES = tuple(f"{RAW_CACHE}/*/{name}" for name in _DATING)
LOCKS_FILE = "/etc/zypp/locks"
INDEX_COMMAND = (
    f"printf 'now %s\\n' \"$(date +%s)\"; stat -c '%Y %n' -- {' '.join(CACHE_FILES)} 2>/dev/null; "
    f"echo '[[locks]]'; cat -- {LOCKS_FILE} 2>/dev/null; "
    f"echo '[[repos]]'; cat -- {REPO_FILES} 2>/dev/null; true"
)
NO_CACHE_FIX = "a scan with refresh (zypper refresh on the host, as root) fills the cache."


def raw_cache_alias(path: str) -> str | None:
    """The (escaped) alias whose raw cache a path of :data:`CACHE_FILES` is in."""
    if not path.startswith(RAW_CACHE + "/"):
        return None
    alias, _, rest = path[len(RAW_CACHE) + 1 :].partition("/")
    return alias if alias and rest in _DATING else None


def parse_index(text: str, now: datetime) -> IndexState:
    """zypper's index state from :data:`INDEX_COMMAND`: the host's clock and cache times, then the
    repository files. libzypp names a cache directory by the alias with "/" made "_"."""
    times_part, sep, repos_part = text.partition("[[repos]]")
    if not sep:
        return index_state(MANAGER, (), None, {}, now, fix=NO_CACHE_FIX)
    times_part = times_part.partition("[[locks]]")[0]
    host_now, times = parse_times(times_part.splitlines(), raw_cache_alias)
    enabled = [alias.replace("/", "_") for alias in enabled_repos(repos_part.splitlines())]
    return index_state(MANAGER, enabled, host_now, times, now, fix=NO_CACHE_FIX)


def parse_locks(text: str) -> list[tuple[str, str]]:
    """``(match_type, name)`` of the package locks in :data:`INDEX_COMMAND`'s answer (libzypp's locks
    file: records of ``key: value`` lines separated by blank lines)."""
    body = text.partition("[[locks]]")[2].partition("[[repos]]")[0]
    locks: list[tuple[str, str]] = []
    for record in re.split(r"\n\s*\n", body):
        fields = {}
        for line in record.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip()] = value.strip()
        name = fields.get("solvable_name", "")
        if name and fields.get("type", "package") == "package" and len(locks) < MAX_WARNINGS * 100:
            locks.append((fields.get("match_type", "exact"), name))
    return locks


def is_locked(name: str, locks: list[tuple[str, str]]) -> bool:
    for match_type, pattern in locks:
        if match_type == "glob" and fnmatch.fnmatchcase(name, pattern):
            return True
        if match_type == "substring" and pattern in name:
            return True
        if name == pattern:
            return True
    return False


def mark_held(
    pending: tuple[PendingUpdate, ...], shown: set[str], locks: list[tuple[str, str]]
) -> list[PendingUpdate]:
    """``list-updates --all`` entries: those ``list-updates`` did not show are held, with why."""
    out = []
    for u in pending:
        if u.name not in shown:
            reason = LOCK_REASON if is_locked(u.name, locks) else NOT_INSTALLABLE_REASON
            u = replace(u, held=True, held_reason=reason)
        out.append(u)
    return out


def zypper_errors(text: str) -> list[str]:
    try:
        return _messages(_root(text), "error")
    except XmlRefused:
        return []


def parse_reboot(text: str) -> bool | None:
    """True/False from ``needs-rebooting`` (102/0) or the flag file; None when neither answers."""
    lines = [line.strip() for line in text.splitlines()]
    rc = next((line[3:] for line in lines if line.startswith("rc=")), "")
    if rc == str(EXIT_REBOOT_NEEDED) or "flag" in lines:
        return True
    if rc == "0":
        return False
    return None


def describe_failure(result: CommandResult, host: str, *, what: str) -> AdapterError:
    """A known error with a sentence naming the host, from zypper's exit code and XML error messages."""
    errors = zypper_errors(result.out) or [
        clean_value(line) for line in result.err.splitlines() if line.strip()
    ]
    summary = (
        "; ".join(e.rstrip(".") for e in errors[:3]) or f"exit status {result.exit_status}, no error text"
    )
    code = result.exit_status
    if code == 127:
        return UnsupportedHostError(f"zypper was not found on {host}, so Patchdesk cannot {what} there.")
    if code == EXIT_LOCKED or "System management is locked" in result.out + result.err:
        return AdapterError(
            f"The package database on {host} is locked by another process ({summary}). Wait for the other "
            "package operation (often PackageKit or a YaST module) to finish and try again."
        )
    if code == EXIT_PRIVILEGES:
        return AdapterError(
            f"zypper on {host} needs root to {what} ({summary}). Check that the login user may use sudo."
        )
    if code == EXIT_NO_REPOS:
        return AdapterError(f"zypper on {host} has no repositories defined, so it cannot {what}.")
    if code == EXIT_CAP_NOT_FOUND:
        return AdapterError(f"zypper on {host} could not {what}: a package was not found ({summary}).")
    return AdapterError(f"zypper could not {what} on {host}: {summary}.")


__all__ = [
    "describe_failure",
    "parse_install_summary",
    "parse_list_patches",
    "parse_list_updates",
    "parse_reboot",
    "parse_search_versions",
]
