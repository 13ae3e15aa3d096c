"""The zypper adapter: SUSE Linux Enterprise and openSUSE.

**Tested against documented formats only.** No zypper host can run on the Debian machines the tests
use, so the parsers here are tested against recordings written by hand (tests/data/zypper/) from
zypper's own XML writers (src/update.cc: ``xmlPrintOtherUpdateOn``/``xmlPrintPatchUpdateOn``;
src/Summary.cc: the ``install-summary``; src/search-utils: ``search-result``; doc/xmlout.rnc) and the
exit codes of zypper(8). Verify against a real SLES/openSUSE host before trusting it in production.

What it runs (every command with ``--non-interactive --xmlout``; ``--no-refresh`` unless asked to
refresh, so a scan never touches the network as an ordinary user):

- scan: ``list-updates`` (package updates: ``<update kind="package" name edition edition-old arch>``
  with a ``<source alias>``) and ``list-patches`` (needed patches: ``<update kind="patch" name edition
  status category severity restart>`` with an ``<issue-list>`` of ``<issue type="cve" id>``). SUSE ships
  security fixes as *patches* and ``list-patches`` does not say which packages a patch contains, so a
  needed patch becomes its own pending update named ``patch:<name>`` (kind from its category, vendor
  severity, CVEs, the patch name as advisory id); package updates are plain bugfix updates.
- plan: ``update --dry-run`` (packages) / ``install --dry-run -t patch`` (patches), read from the
  ``<install-summary>`` (``to-install``, ``to-upgrade``, ``to-downgrade``, ``to-reinstall``,
  ``to-remove`` groups of ``<solvable>``).
- install: the same without ``--dry-run``; ``ZYPP_LOCK_TIMEOUT`` makes zypper itself wait for a held lock
  (exit 7 after it); exit 103 (zypper updated itself) runs the command once more.
- versions: ``search -s --match-exact -t package``; snapshots: ``rpm -q`` (as for dnf).
- rollback: ``install --oldpackage NAME=VERSION…`` / ``remove``.
- reboot: ``zypper needs-rebooting`` (exit 102: needed), else /run/reboot-needed (libzypp's flag).

zypper exit codes (zypper(8)): 0 ok, 1 bug, 2 syntax, 3 invalid arguments, 4 zypp error, 5 privileges,
6 no repositories, 7 zypp locked, 8 commit error; informational 100 update needed, 101 security update
needed, 102 reboot needed, 103 restart of zypper needed, 104 capability not found, 105 signal, 106 some
repositories skipped, 107 an rpm scriptlet failed.

Everything from the host is untrusted: XML with a DOCTYPE (entity tricks) is refused outright, names and
versions must be valid rpm text, and they reach commands only as argv elements.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.domain.errors import AdapterError, UnsupportedHostError
from app.domain.models import InstallPlan, OsFacts, PackageChange, PendingUpdate, UpdateKind
from app.domain.rpmversion import compare_evr
from app.platforms.base import MAX_WARNINGS, Adapter, LogFn, Snapshot, clean_value, emit
from app.platforms.posix.rpm import is_valid_evr, is_valid_name, parse_rpm_query, rpm_query_command
from app.transports.base import CommandResult, OutputCallback, Transport

logger = logging.getLogger(__name__)

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
_NEEDED = {"needed"}  # patch status; "applied", "not-needed", "unwanted" (locked) are not pending
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


def parse_list_updates(text: str) -> UpdatesParse:
    """``zypper --xmlout list-updates``: one bugfix-kind PendingUpdate per ``<update kind="package">``."""
    try:
        root = _root(text)
    except XmlRefused as exc:
        return UpdatesParse(warnings=(f"Could not read zypper's list-updates output: {exc}",))
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
    return UpdatesParse(tuple(pending), tuple(warnings))


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
        return UpdatesParse(warnings=(f"Could not read zypper's list-patches output: {exc}",))
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
        if status not in _NEEDED:
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
            )
        )
    return UpdatesParse(tuple(pending), tuple(warnings), tuple(blocked))


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


def zypper_errors(text: str) -> list[str]:
    try:
        return _messages(_root(text), "error")
    except XmlRefused:
        return []


# -- commands --------------------------------------------------------------------------------------

_BASE = ["zypper", "--non-interactive", "--xmlout"]


def _base(refresh: bool = False) -> list[str]:
    return [*_BASE] if refresh else [*_BASE, "--no-refresh"]


def list_updates_command(refresh: bool = False) -> list[str]:
    return [*_base(refresh), "list-updates"]


def list_patches_command(refresh: bool = False) -> list[str]:
    return [*_base(refresh), "list-patches"]


def refresh_command() -> list[str]:
    return ["zypper", "--non-interactive", "refresh"]


def _split(names: Sequence[str]) -> tuple[list[str], list[str]]:
    packages: list[str] = []
    patches: list[str] = []
    for n in names:
        if n.startswith(PATCH_PREFIX):
            p = n[len(PATCH_PREFIX) :]
            if not _PATCH_RE.fullmatch(p):
                raise ValueError(f"not a valid patch name: {clean_value(n)[:60]!r}")
            patches.append(p)
        elif is_valid_name(n):
            packages.append(n)
        else:
            raise ValueError(f"not a valid package name: {clean_value(n)[:60]!r}")
    return packages, patches


def install_commands(names: Sequence[str] | None, *, dry_run: bool = False) -> list[list[str]]:
    """``update -- PACKAGES`` and ``install -t patch -- PATCHES`` (None: ``update`` everything);
    ``--dry-run`` for plans. Raises ValueError for an invalid name."""
    dry = ["--dry-run"] if dry_run else []
    if names is None:
        return [[*_base(), "update", *dry, "--auto-agree-with-licenses"]]
    packages, patches = _split(names)
    cmds = []
    if packages:
        cmds.append([*_base(), "update", *dry, "--auto-agree-with-licenses", "--", *packages])
    if patches:
        cmds.append([*_base(), "install", *dry, "--auto-agree-with-licenses", "-t", "patch", "--", *patches])
    return cmds


def search_command(names: Sequence[str]) -> list[str]:
    return [*_base(), "search", "-s", "--match-exact", "-t", "package", "--", *names]


def rollback_commands(changes: Sequence[PackageChange]) -> list[list[str]]:
    """``install --oldpackage NAME=VERSION…`` for every package going back to a version (older or newer),
    ``remove`` for those the change installed. Raises ValueError for invalid names or versions."""
    install: list[str] = []
    remove: list[str] = []
    for c in changes:
        if not is_valid_name(c.name) or (c.arch and not _ARCH_RE.fullmatch(c.arch)):
            raise ValueError(f"not a valid package name: {clean_value(c.name)[:60]!r}")
        for v in (c.from_version, c.to_version):
            if v is not None and not is_valid_evr(v):
                raise ValueError(f"not a valid version: {clean_value(v)[:60]!r}")
        if c.from_version is None:
            remove.append(c.name)
        elif c.from_version != c.to_version:
            install.append(f"{c.name}={c.from_version}")
    cmds = []
    if install:
        cmds.append([*_base(), "install", "--oldpackage", "--auto-agree-with-licenses", "--", *install])
    if remove:
        cmds.append([*_base(), "remove", "--", *remove])
    return cmds


REBOOT_COMMAND = (
    "LC_ALL=C; export LC_ALL; zypper --non-interactive needs-rebooting >/dev/null 2>&1; rc=$?; "
    'echo "rc=$rc"; if [ -e /run/reboot-needed ] || [ -e /var/run/reboot-needed ]; then echo flag; fi; exit 0'
)


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


def is_suse_family(facts: OsFacts) -> bool:
    words = {facts.id, *facts.id_like, facts.id.split("-", 1)[0]}
    return bool(words & {"suse", "opensuse", "sles", "sled"})


class ZypperAdapter(Adapter):
    """Runs the zypper commands above over a transport (see the module docstring: documented formats)."""

    name = MANAGER

    def __init__(self, host: str | None = None) -> None:
        self.host = host

    def probe(self, transport: Transport, facts: OsFacts) -> bool:
        return is_suse_family(facts) and transport.run("command -v zypper >/dev/null 2>&1", timeout=30).ok

    def scan(
        self, transport: Transport, *, refresh: bool = False, log: LogFn | None = None
    ) -> list[PendingUpdate]:
        host = self.host_name(transport)
        env = {"LC_ALL": "C"}
        if refresh:
            r = transport.run(refresh_command(), sudo=True, timeout=900, env=env)
            if r.exit_status not in SUCCESS_CODES:
                raise describe_failure(r, host, what="refresh the repositories")
        pending: list[PendingUpdate] = []
        for command, parse in (
            (list_updates_command(), parse_list_updates),
            (list_patches_command(), parse_list_patches),
        ):
            r = transport.run(command, timeout=600, env=env)
            if r.exit_status not in SUCCESS_CODES:
                raise describe_failure(r, host, what="check for updates")
            parsed = parse(r.out)
            for w in parsed.warnings:
                emit(log, "warning", w)
            if parsed.blocked:
                emit(
                    log,
                    "info",
                    f"Held back until the package manager is updated: {', '.join(parsed.blocked)}",
                )
            pending.extend(parsed.pending)
        return pending

    def reboot_required(self, transport: Transport) -> tuple[bool, tuple[str, ...]]:
        answer = parse_reboot(transport.run(REBOOT_COMMAND, timeout=120).out)
        if answer is None:
            logger.info("%s: whether a reboot is required is not available", self.host_name(transport))
        return bool(answer), ()

    def _installed(self, transport: Transport, names: Sequence[str]) -> dict[str, tuple[str, str]]:
        if not names:
            return {}
        return parse_rpm_query(transport.run(rpm_query_command(names), timeout=120).out)

    def snapshot(self, transport: Transport, names: Sequence[str]) -> Snapshot:
        try:
            packages, _patches = _split(names)
        except ValueError as exc:
            raise AdapterError(f"Refusing to query {self.host_name(transport)}: {exc}.") from None
        found = self._installed(transport, packages)
        return {n: found[n][0] if n in found else None for n in packages}

    def plan(
        self, transport: Transport, names: Sequence[str] | None, *, log: LogFn | None = None
    ) -> InstallPlan:
        host = self.host_name(transport)
        try:
            commands = install_commands(names, dry_run=True)
        except ValueError as exc:
            raise AdapterError(f"Refusing to plan on {host}: {exc}.") from None
        changes: dict[str, PackageChange] = {}
        warnings: list[str] = []
        for command in commands:
            r = transport.run(command, sudo=True, timeout=900, env={"LC_ALL": "C"})
            if r.exit_status not in SUCCESS_CODES:
                raise describe_failure(r, host, what="plan the update")
            parsed = parse_install_summary(r.out)
            warnings.extend(parsed.warnings)
            for c in parsed.changes:
                changes.setdefault(c.name, c)
        installed = self._installed(transport, [n for n, c in changes.items() if c.from_version is None])
        final = tuple(
            PackageChange(MANAGER, c.name, installed[c.name][0], c.to_version, c.arch)
            if c.from_version is None and c.name in installed
            else c
            for c in changes.values()
        )
        for w in warnings:
            emit(log, "warning", w)
        return InstallPlan(
            final, reboot_expected=any(c.name in _REBOOT_PACKAGES for c in final), warnings=tuple(warnings)
        )

    def _run(
        self,
        transport: Transport,
        command: list[str],
        *,
        what: str,
        on_output: OutputCallback | None,
        timeout: float,
        lock_wait: float,
        log: LogFn | None,
    ) -> CommandResult:
        env = {"LC_ALL": "C", "ZYPP_LOCK_TIMEOUT": str(max(0, int(lock_wait)))}
        for _attempt in range(2):
            r = transport.run(command, sudo=True, timeout=timeout + lock_wait, on_output=on_output, env=env)
            if r.exit_status != EXIT_RESTART_NEEDED:
                break
            emit(log, "info", "zypper updated itself; running the command again.")
        if r.exit_status not in SUCCESS_CODES:
            raise describe_failure(r, self.host_name(transport), what=what)
        if r.exit_status == EXIT_RPM_SCRIPT_FAILED:
            emit(
                log, "warning", "An rpm scriptlet failed during the zypper transaction; check the host's log."
            )
        if r.exit_status == EXIT_REPOS_SKIPPED:
            emit(log, "warning", "zypper skipped some repositories it could not refresh.")
        return r

    def install(
        self,
        transport: Transport,
        names: Sequence[str] | None,
        *,
        log: LogFn | None = None,
        on_output: OutputCallback | None = None,
        timeout: float = 3600,
        lock_wait: float = 120,
    ) -> str | None:
        try:
            commands = install_commands(names)
        except ValueError as exc:
            raise AdapterError(f"Refusing to install on {self.host_name(transport)}: {exc}.") from None
        for command in commands:
            self._run(
                transport,
                command,
                what="install the updates",
                on_output=on_output,
                timeout=timeout,
                lock_wait=lock_wait,
                log=log,
            )
        return None  # zypper has no transaction ids (its history log is not addressable)

    def available_versions(self, transport: Transport, names: Sequence[str]) -> Mapping[str, frozenset[str]]:
        try:
            packages, _ = _split(names)
        except ValueError as exc:
            raise AdapterError(f"Refusing to search on {self.host_name(transport)}: {exc}.") from None
        if not packages:
            return {}
        r = transport.run(search_command(packages), timeout=300, env={"LC_ALL": "C"})
        if r.exit_status not in SUCCESS_CODES and r.exit_status != EXIT_CAP_NOT_FOUND:
            raise describe_failure(r, self.host_name(transport), what="list the available versions")
        found = parse_search_versions(r.out)
        return {n: frozenset(found.get(n, set())) for n in packages}

    def rollback(
        self,
        transport: Transport,
        changes: Sequence[PackageChange],
        *,
        transaction_id: str | None = None,
        log: LogFn | None = None,
        on_output: OutputCallback | None = None,
        timeout: float = 3600,
        lock_wait: float = 120,
    ) -> None:
        try:
            commands = rollback_commands([c for c in changes if c.from_version != c.to_version])
        except ValueError as exc:
            raise AdapterError(f"Refusing to roll back on {self.host_name(transport)}: {exc}.") from None
        for command in commands:
            self._run(
                transport,
                command,
                what="roll back",
                on_output=on_output,
                timeout=timeout,
                lock_wait=lock_wait,
                log=log,
            )


__all__ = [
    "ZypperAdapter",
    "compare_evr",
    "describe_failure",
    "install_commands",
    "parse_install_summary",
    "parse_list_patches",
    "parse_list_updates",
    "parse_reboot",
    "parse_search_versions",
    "rollback_commands",
    "search_command",
]
