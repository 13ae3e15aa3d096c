"""The zypper adapter: SUSE Linux Enterprise and openSUSE.

The parsers (zypper_parse.py) are tested against recordings written by hand (tests/data/zypper/) from
zypper's own XML writers (src/update.cc: ``xmlPrintOtherUpdateOn``/``xmlPrintPatchUpdateOn``;
src/Summary.cc: the ``install-summary``; src/search-utils: ``search-result``; doc/xmlout.rnc) and the
exit codes of zypper(8); scan, index age, repository errors, locks and patching also run against real
zypper (Debian's zypper 1.14 / libzypp 17 in the rpm test hosts: tests/integration/test_zypper_hosts.py).
A SLES/openSUSE host's own zypper is newer: verify there before trusting it in production.

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
- index age: one short snippet after the scan (zypper_parse.INDEX_COMMAND): the enabled repositories
  of /etc/zypp/repos.d and the time libzypp last refreshed each one's raw cache (repo_index.py).

zypper exit codes (zypper(8)): 0 ok, 1 bug, 2 syntax, 3 invalid arguments, 4 zypp error, 5 privileges,
6 no repositories, 7 zypp locked, 8 commit error; informational 100 update needed, 101 security update
needed, 102 reboot needed, 103 restart of zypper needed, 104 capability not found, 105 signal, 106 some
repositories skipped, 107 an rpm scriptlet failed.

Everything from the host is untrusted: XML with a DOCTYPE (entity tricks) is refused outright, names and
versions must be valid rpm text, and they reach commands only as argv elements.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from app.domain.errors import AdapterError
from app.domain.models import IndexState, InstallPlan, OsFacts, PackageChange, PendingUpdate
from app.platforms.base import Adapter, LogFn, Snapshot, clean_value, emit
from app.platforms.posix.repo_index import unreadable_note
from app.platforms.posix.rpm import is_valid_evr, is_valid_name, parse_rpm_query, rpm_query_command
from app.platforms.posix.zypper_parse import (
    _ARCH_RE,
    _PATCH_RE,
    _REBOOT_PACKAGES,
    EXIT_CAP_NOT_FOUND,
    EXIT_REPOS_SKIPPED,
    EXIT_RESTART_NEEDED,
    EXIT_RPM_SCRIPT_FAILED,
    INDEX_COMMAND,
    MANAGER,
    PATCH_PREFIX,
    SUCCESS_CODES,
    UpdatesParse,
    describe_failure,
    mark_held,
    parse_index,
    parse_install_summary,
    parse_list_patches,
    parse_list_updates,
    parse_locks,
    parse_reboot,
    parse_search_versions,
)
from app.transports.base import CommandResult, OutputCallback, Transport

logger = logging.getLogger(__name__)


# -- commands --------------------------------------------------------------------------------------

_BASE = ["zypper", "--non-interactive", "--xmlout"]


def _base(refresh: bool = False) -> list[str]:
    return [*_BASE] if refresh else [*_BASE, "--no-refresh"]


def list_updates_command(refresh: bool = False) -> list[str]:
    return [*_base(refresh), "list-updates"]


def list_all_updates_command() -> list[str]:
    """Every newer version, installable or not: locked packages too (``list-updates`` hides them)."""
    return [*_base(), "list-updates", "--all"]


def list_patches_command(refresh: bool = False) -> list[str]:
    return [*_base(refresh), "list-patches"]


def refresh_command() -> list[str]:
    """``--xmlout`` so a repository that fails to refresh is named in zypper's error messages."""
    return [*_BASE, "refresh"]


def _answer_notes(exit_status: int, errors: tuple[str, ...]) -> list[str]:
    """Sentences for a listing zypper completed with errors (a repository it could not read)."""
    if not errors and exit_status != EXIT_REPOS_SKIPPED:
        return []
    said = "; ".join(e.rstrip(".") for e in errors[:3]) or "it skipped some repositories"
    return [f"zypper could not read every repository, so updates may be missing from this list: {said}."]


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


def is_suse_family(facts: OsFacts) -> bool:
    words = {facts.id, *facts.id_like, facts.id.split("-", 1)[0]}
    return bool(words & {"suse", "opensuse", "sles", "sled"})


class ZypperAdapter(Adapter):
    """Runs the zypper commands above over a transport (see the module docstring: documented formats)."""

    name = MANAGER

    def __init__(self, host: str | None = None) -> None:
        self.host = host
        self._index: IndexState | None = None

    def probe(self, transport: Transport, facts: OsFacts) -> bool:
        return is_suse_family(facts) and transport.run("command -v zypper >/dev/null 2>&1", timeout=30).ok

    def scan(
        self, transport: Transport, *, refresh: bool = False, log: LogFn | None = None
    ) -> list[PendingUpdate]:
        """The index's age and the host's locks (one short command), package updates and needed
        patches, and where the host has locks, the updates they hide (marked held).

        An answer without zypper's update list (no XML, cut short, refused) fails the scan: it is
        never "nothing pending". zypper's own error messages in an answer it completed (a repository it
        could not read, exit 106) are kept as notes: what it listed is kept, incomplete.
        """
        host = self.host_name(transport)
        env = {"LC_ALL": "C"}
        if refresh:
            r = transport.run(refresh_command(), sudo=True, timeout=900, env=env)
            # 106: some repositories could not be refreshed; their old metadata would pass for new
            if r.exit_status not in SUCCESS_CODES or r.exit_status == EXIT_REPOS_SKIPPED:
                raise describe_failure(r, host, what="refresh the repositories")
        self._index, locks = self._read_index(transport)
        pending: list[PendingUpdate] = []
        notes: list[str] = []
        for command, parse in (
            (list_updates_command(), parse_list_updates),
            (list_patches_command(), parse_list_patches),
        ):
            parsed = self._list(transport, command, parse, notes, log)
            if parsed.blocked:
                emit(
                    log,
                    "info",
                    f"Held back until the package manager is updated: {', '.join(parsed.blocked)}",
                )
            pending.extend(parsed.pending)
        if locks:
            pending.extend(self._held(transport, pending, locks, notes, log))
        self.last_scan_notes = tuple(dict.fromkeys(notes))
        return pending

    def _list(
        self,
        transport: Transport,
        command: list[str],
        parse: Callable[[str], UpdatesParse],
        notes: list[str],
        log: LogFn | None,
    ) -> UpdatesParse:
        host = self.host_name(transport)
        r = transport.run(command, timeout=600, env={"LC_ALL": "C"})
        if r.exit_status not in SUCCESS_CODES:
            raise describe_failure(r, host, what="check for updates")
        parsed = parse(r.out)
        if parsed.unreadable is not None:
            raise AdapterError(
                f"zypper's answer on {host} could not be read ({parsed.unreadable}), so Patchdesk "
                "cannot tell what is pending there."
            )
        notes.extend(_answer_notes(r.exit_status, parsed.errors))
        for w in parsed.warnings:
            emit(log, "warning", w)
        if parsed.warnings:
            notes.append(
                f"zypper listed {len(parsed.warnings)} update(s) Patchdesk could not understand (see "
                "the job log), so an update may be missing from this list."
            )
        return parsed

    def _held(
        self,
        transport: Transport,
        pending: list[PendingUpdate],
        locks: list[tuple[str, str]],
        notes: list[str],
        log: LogFn | None,
    ) -> list[PendingUpdate]:
        """The package updates locks hide (``list-updates --all`` less what ``list-updates`` showed),
        marked held; asked only where the host has locks."""
        shown = {u.name for u in pending}
        everything = self._list(transport, list_all_updates_command(), parse_list_updates, notes, log)
        return [u for u in mark_held(everything.pending, shown, locks) if u.held]

    def held(self, transport: Transport) -> frozenset[str]:
        """Packages with an update that a zypper lock (or zypper's resolver) keeps back."""
        _index, locks = self._read_index(transport)
        if not locks:
            return frozenset()
        shown = self._list(transport, list_updates_command(), parse_list_updates, [], None)
        held = self._held(transport, list(shown.pending), locks, [], None)
        return frozenset(u.name for u in held)

    def index_state(self, transport: Transport, *, refreshed: bool = False) -> IndexState:
        """The age of the repositories' metadata, read with the last scan."""
        return self._index if self._index is not None else self._read_index(transport)[0]

    def _read_index(self, transport: Transport) -> tuple[IndexState, list[tuple[str, str]]]:
        """The index's state and the host's package locks (one short command)."""
        r = transport.run(INDEX_COMMAND, timeout=30)
        if not r.ok:
            return IndexState(notes=(unreadable_note(MANAGER),)), []
        return parse_index(r.out, datetime.now(UTC)), parse_locks(r.out)

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

    def _refuse_locked(self, transport: Transport, names: Sequence[str] | None) -> None:
        """--include-held cannot pass a zypper lock: zypper has no option for it, and the locks are
        the administrator's to change, not Patchdesk's. Say so rather than update nothing quietly."""
        if not self.allow_held or not names:
            return
        locked = sorted(self.held(transport) & set(names))
        if locked:
            raise AdapterError(
                f"zypper on {self.host_name(transport)} will not update {', '.join(locked)} while a lock "
                "holds it; remove the lock on the host (zypper removelock NAME) and patch again. "
                "Patchdesk does not change the host's locks."
            )

    def plan(
        self, transport: Transport, names: Sequence[str] | None, *, log: LogFn | None = None
    ) -> InstallPlan:
        host = self.host_name(transport)
        self._refuse_locked(transport, names)
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
        self._refuse_locked(transport, names)
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
    "install_commands",
    "rollback_commands",
    "search_command",
]
