"""The dnf adapter: RHEL, Rocky, Alma, CentOS Stream, Fedora, Oracle and Amazon Linux.

One adapter for dnf 4, dnf 5 (``dnf`` on Fedora 41+) and yum 3 (RHEL/CentOS 7, where there is no dnf):
the ``binary`` differs, the commands and the text they print are the same where it matters. Every
command runs with ``LC_ALL=C`` so the text is English.

Scan (no root, no network): ``dnf -q -C check-update`` lists each pending update as
``name.arch  [epoch:]version-release  repo`` and exits 100 when there are updates (0: none, 1: error);
``dnf -q -C updateinfo list`` adds the advisories (``ID  Label  NEVRA``, the label being
``Critical/Sec.``, ``Important/Sec.``, ``Moderate/Sec.``, ``Low/Sec.``, ``Unknown/Sec.``, ``bugfix``,
``enhancement`` or ``newpackage``: dnf/cli/commands/updateinfo.py) and ``updateinfo list --with-cve``
(yum: ``updateinfo list cves``) the CVE ids, in the same layout with a CVE id in front. All three run in
one round trip, each behind a nonce-bearing marker (see facts.py). ``-C`` reads the system's metadata
cache (kept fresh by dnf-makecache.timer, or by ``refresh``, which runs ``dnf makecache`` with sudo):
without it a non-root dnf downloads every repository's metadata into a per-user cache. When there is
no system cache yet, the scan falls back to that download and says so. The same round trip reads how
current the system cache is (repo_index.py: the oldest enabled repository's refresh time, on the host's
clock), so a stale or unusable index is refreshed or reported.

Patching (root): the plan is the transaction table of ``dnf --assumeno upgrade -- NAMES`` (dnf prints
it, then aborts; ``-q`` would hide it), the from-versions come from ``rpm -q``; install is ``dnf -y
upgrade -- NAMES`` with ``exit_on_lock`` so a held lock is retried here, within ``lock_wait``, instead of
dnf waiting forever; the dnf history id it created is returned; rollback is ``dnf history undo ID`` when
that transaction changed exactly the recorded packages, else explicit ``downgrade``/``install``/
``remove`` of exact versions.

Versions are ``version-release`` with ``epoch:`` in front only when the epoch is not 0, as dnf prints
them. Everything read from a host is untrusted: names, versions and arches must match rpm's allowed
characters before they are used at all, and they only ever reach a command as argv elements.

This module builds the commands and runs them; what they print is read by dnf_parse.py (scan, reboot
check, failures) and dnf_plan.py (plan and history). rpm.py holds the rpm queries shared with zypper.
"""

from __future__ import annotations

import logging
import shlex
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from app.domain.errors import AdapterError, UnsupportedHostError
from app.domain.models import IndexState, InstallPlan, OsFacts, PackageChange, PendingUpdate
from app.domain.rpmversion import compare_evr
from app.platforms.base import (
    Adapter,
    LogFn,
    Snapshot,
    clean_value,
    emit,
    new_nonce,
)
from app.platforms.posix import dnf_sources
from app.platforms.posix.dnf_parse import (
    _NO_CACHE_MARKERS,
    CACHE_FILES,
    MANAGER,
    REBOOT_PACKAGES,
    REBOOT_SECTIONS,
    REPO_FILES,
    SCAN_SECTIONS,
    UPDATES_EXIT,
    VERSIONLOCK_LISTS,
    RebootStatus,
    ScanParse,
    _error_lines,
    describe_failure,
    is_lock_failure,
    lock_holder,
    parse_index,
    parse_list,
    parse_reboot,
    parse_scan,
)
from app.platforms.posix.dnf_plan import parse_history_ids, parse_history_info, parse_plan, plan_changes
from app.platforms.posix.facts import first_line, marker, split_sections
from app.platforms.posix.repo_index import unreadable_note
from app.platforms.posix.rpm import (
    _ARCH_RE,
    _EVR_RE,
    _NAME_RE,
    RPM_QUERYFORMAT,
    parse_rpm_query,
    rpm_query_command,
)
from app.transports.base import CommandResult, OutputCallback, Transport

logger = logging.getLogger(__name__)
BINARIES = ("dnf", "yum", "dnf5")
#: Seconds between attempts while another process holds the package lock.
LOCK_RETRY = 3.0


def _check_binary(binary: str) -> None:
    if binary not in BINARIES:
        raise ValueError(f"not a dnf binary: {binary!r}")


def _check_nonce(nonce: str) -> None:
    if not (nonce.isascii() and nonce.isalnum() and 8 <= len(nonce) <= 64):
        raise ValueError("nonce must be 8-64 ASCII letters or digits")


def _repos_and_cache(sources: Sequence[str]) -> tuple[str, str]:
    """What tells which repositories are enabled, and their cache files: the host's own, or with
    bundle ``sources`` only the bundles' (dnf is given nothing else, dnf_sources.source_options)."""
    if sources:
        return dnf_sources.repos_text(sources), " ".join(dnf_sources.cache_files(sources))
    return f"cat -- {' '.join(REPO_FILES)} 2>/dev/null", " ".join(CACHE_FILES)


def index_command(nonce: str, sources: Sequence[str] = ()) -> str:
    """The repository files (``repos``) and, after the host's clock, the refresh time of every
    repository cache (``cache``; see dnf_parse.parse_index): one ``cat`` and one ``stat``."""
    _check_nonce(nonce)
    repos, cache = _repos_and_cache(sources)
    return (
        f"printf '\\n%s\\n' '{marker(nonce, 'repos')}'; {repos}; "
        f"printf '\\n%s\\n' '{marker(nonce, 'cache')}'; printf 'now %s\\n' \"$(date +%s)\"; "
        f"stat -c '%Y %n' -- {cache} 2>/dev/null; "
        f"printf '\\n%s\\n' '{marker(nonce, 'end')}'"
    )


def scan_command(
    nonce: str, *, binary: str = "dnf", cache_only: bool = True, sources: Sequence[str] = ()
) -> str:
    """One trusted snippet: the index's age (repository files and cache times), check-update, then
    (only when it found updates) the advisories, the CVEs and the installed versions of everything
    (rpm -qa), each behind a nonce marker.

    ``cache_only``: read the system metadata cache (``-C``) instead of downloading into a per-user one;
    without it the check expires that cache first (``--refresh``), so what it read is current.
    """
    _check_binary(binary)
    _check_nonce(nonce)
    m = {s: marker(nonce, s) for s in SCAN_SECTIONS}
    # skip_if_unavailable=False: a repository without metadata must fail the scan, not silently
    # vanish from it (Fedora's and Debian's dnf.conf skip it, which would report "no updates")
    c = (" -C" if cache_only else "") + " --setopt=skip_if_unavailable=False" + dnf_sources.join(sources)
    fresh = "" if cache_only else " --refresh"
    repos, cache = _repos_and_cache(sources)
    cves = "updateinfo list cves" if binary == "yum" else "updateinfo list --with-cve"
    held = _held_check(m, binary, c)
    return (
        "LC_ALL=C; export LC_ALL; "
        f"printf '\\n%s\\n' '{m['repos']}'; {repos}; "
        f"printf '\\n%s\\n' '{m['cache']}'; printf 'now %s\\n' \"$(date +%s)\"; "
        f"stat -c '%Y %n' -- {cache} 2>/dev/null; "
        f"printf '\\n%s\\n' '{m['check']}'; {binary} -q{c}{fresh} check-update; rc=$?; "
        f"printf '\\n%s\\n' '{m['check-rc']}'; echo \"$rc\"; "
        f"{held}"
        f'if [ "$rc" -eq {UPDATES_EXIT} ] || [ "$hrc" -eq {UPDATES_EXIT} ]; then '
        f"printf '\\n%s\\n' '{m['advisories']}'; {binary} -q{c} $pd_h updateinfo list; "
        f"printf '\\n%s\\n' '{m['cves']}'; {binary} -q{c} $pd_h {cves}; "
        f"printf '\\n%s\\n' '{m['installed']}'; rpm -qa --qf '{RPM_QUERYFORMAT}'; "
        "fi; "
        # "no updates" from an rpm database with nothing installed is a user who reads a private one
        f"if [ \"$rc\" -eq 0 ]; then printf '\\n%s\\n' '{m['rpmdb']}'; rpm -qa --qf '.\\n' | head -n 1; fi; "
        f"printf '\\n%s\\n' '{m['end']}'; exit \"$rc\""
    )


#: What makes dnf (and yum) show what versionlock and exclude= hide. dnf 5 has neither option: there
#: the second check fails, and the scan says the held updates could not be listed.
SHOW_HELD = "--disableexcludes=all --disableplugin=versionlock"
_EXCLUDE_SETTING = "'^[[:space:]]*(exclude|excludepkgs)[[:space:]]*='"


def _hold_settings() -> str:
    """A shell test: is there a versionlock list or an exclude= setting (one ``test``, one ``grep``)?"""
    any_list = " || ".join(f"[ -s {path} ]" for path in VERSIONLOCK_LISTS)
    return f"{any_list} || grep -qsiE {_EXCLUDE_SETTING} -- {' '.join(REPO_FILES)}"


def _held_check(m: Mapping[str, str], binary: str, options: str) -> str:
    """Only where a versionlock list or an exclude= setting exists (one ``test``, one ``grep``): the
    versionlock lists, and a second check-update that shows what they hide; sets ``hrc`` and
    ``pd_h`` (the options the advisory lists then need too; empty when that check failed)."""
    lists = " ".join(VERSIONLOCK_LISTS)
    return (
        "hrc=0; pd_h=''; "
        f"if {_hold_settings()}; then "
        f"printf '\\n%s\\n' '{m['locks']}'; cat -- {lists} 2>/dev/null; "
        f"printf '\\n%s\\n' '{m['held']}'; {binary} -q{options} {SHOW_HELD} check-update; hrc=$?; "
        f"printf '\\n%s\\n' '{m['held-rc']}'; echo \"$hrc\"; "
        f'if [ "$hrc" -eq 0 ] || [ "$hrc" -eq {UPDATES_EXIT} ]; then pd_h=\'{SHOW_HELD}\'; fi; '
        "fi; "
    )


def refresh_command(binary: str = "dnf", sources: Sequence[str] = ()) -> list[str] | str:
    """Refresh the system metadata cache; needs root.

    ``--refresh`` checks every repository, not only those past dnf's own ``metadata_expire`` (the
    console's allowance is its own); without ``skip_if_unavailable`` a repository that cannot be
    reached fails the refresh with dnf's sentence instead of being skipped. yum 3 has neither.
    """
    _check_binary(binary)
    opts = dnf_sources.source_options(sources)
    if binary == "yum":
        command = ["env", "LC_ALL=C", binary, "-q", *opts, "makecache"]
    else:
        command = ["env", "LC_ALL=C", binary, "-q", "--refresh", "--setopt=skip_if_unavailable=False", *opts]
        command.append("makecache")
    if not sources:
        return command
    # reading a bundle again does not make it newer: its cache keeps the bundle's build time
    return f"{shlex.join(command)} && {{ {dnf_sources.redate_cache(sources)}; }}"


def list_command(
    names: Sequence[str], *, binary: str = "dnf", cache_only: bool = True, sources: Sequence[str] = ()
) -> list[str]:
    """Every version the repositories offer of ``names`` (argv list)."""
    _check_binary(binary)
    cmd = ["env", "LC_ALL=C", binary, "-q", "--setopt=skip_if_unavailable=False"]
    cmd += dnf_sources.source_options(sources)
    if cache_only:
        cmd.append("-C")
    return [*cmd, "list", "--showduplicates", "--available", "--", *names]


def plan_command(
    names: Sequence[str] | None, *, binary: str = "dnf", allow_held: bool = False, sources: Sequence[str] = ()
) -> list[str]:
    """``dnf --assumeno upgrade -- NAMES``: resolves and prints the transaction, changes nothing.
    ``allow_held``: named packages held by versionlock or exclude= are upgraded too."""
    _check_binary(binary)
    cmd = ["env", "LC_ALL=C", binary, "--assumeno", *_show_held(names, allow_held)]
    cmd += [*dnf_sources.source_options(sources), "upgrade"]
    return [*cmd, "--", *names] if names else cmd


def _show_held(names: Sequence[str] | None, allow_held: bool) -> list[str]:
    # only for named packages: --include-held never unlocks a whole-system upgrade
    return SHOW_HELD.split() if allow_held and names else []


def held_command(nonce: str, *, binary: str = "dnf", sources: Sequence[str] = ()) -> str:
    """check-update with and without what versionlock and exclude= hide (the scan's sections); only
    where a lock list or an exclude setting exists, so a patch elsewhere starts no dnf for it."""
    _check_binary(binary)
    _check_nonce(nonce)
    m = {s: marker(nonce, s) for s in SCAN_SECTIONS}
    c = " -C --setopt=skip_if_unavailable=False" + dnf_sources.join(sources)
    return (
        f"LC_ALL=C; export LC_ALL; if {_hold_settings()}; then "
        f"printf '\\n%s\\n' '{m['check']}'; {binary} -q{c} check-update; rc=$?; "
        f"printf '\\n%s\\n' '{m['check-rc']}'; echo \"$rc\"; "
        f"{_held_check(m, binary, c)}"
        f"fi; printf '\\n%s\\n' '{m['end']}'; exit 0"
    )


# -- install, history, rollback --------------------------------------------------------------------


def install_command(
    names: Sequence[str] | None, *, binary: str = "dnf", allow_held: bool = False, sources: Sequence[str] = ()
) -> list[str]:
    """``dnf -y upgrade -- NAMES`` (None: everything); exits 200 instead of waiting for a held lock.
    ``allow_held``: named packages held by versionlock or exclude= are upgraded too."""
    _check_binary(binary)
    cmd = ["env", "LC_ALL=C", binary, "-y", "--setopt=exit_on_lock=True", *_show_held(names, allow_held)]
    cmd += [*dnf_sources.source_options(sources), "upgrade"]
    return [*cmd, "--", *names] if names else cmd


def history_last_command(binary: str = "dnf") -> list[str]:
    _check_binary(binary)
    return ["env", "LC_ALL=C", binary, "-q", "history", "list"]


def history_info_command(transaction_id: str, *, binary: str = "dnf") -> list[str]:
    _check_binary(binary)
    if not transaction_id.isdigit():
        raise ValueError("transaction id must be digits")
    return ["env", "LC_ALL=C", binary, "-q", "history", "info", transaction_id]


def history_undo_command(
    transaction_id: str, *, binary: str = "dnf", sources: Sequence[str] = ()
) -> list[str]:
    _check_binary(binary)
    if not transaction_id.isdigit():
        raise ValueError("transaction id must be digits")
    base = [
        "env",
        "LC_ALL=C",
        binary,
        "-y",
        "--setopt=exit_on_lock=True",
        *dnf_sources.source_options(sources),
    ]
    return [*base, "history", "undo", transaction_id]


def rollback_commands(
    changes: Sequence[PackageChange], *, binary: str = "dnf", sources: Sequence[str] = ()
) -> list[list[str]]:
    """Explicit commands that put every package of ``changes`` back to its from-version.

    Going back to an older version is ``downgrade NAME-EVR.ARCH``, to a newer one (the change was a
    downgrade) ``install NAME-EVR.ARCH``, a package the change removed is installed again at its old
    version, one it newly installed is removed. Raises ValueError for a name or version that is not
    valid rpm text (a tampered change record must not reach a command).
    """
    _check_binary(binary)
    down: list[str] = []
    up: list[str] = []
    remove: list[str] = []
    for c in changes:
        if not _NAME_RE.fullmatch(c.name) or (c.arch and not _ARCH_RE.fullmatch(c.arch)):
            raise ValueError(f"not a valid rpm package name: {c.name!r}")
        for v in (c.from_version, c.to_version):
            if v is not None and not _EVR_RE.fullmatch(v):
                raise ValueError(f"not a valid rpm version: {v!r}")
        suffix = f".{c.arch}" if c.arch else ""
        if c.from_version is None:
            remove.append(f"{c.name}{suffix}" if c.arch else c.name)
        elif c.to_version is None or compare_evr(c.from_version, c.to_version) > 0:
            up.append(f"{c.name}-{c.from_version}{suffix}")
        elif compare_evr(c.from_version, c.to_version) < 0:
            down.append(f"{c.name}-{c.from_version}{suffix}")
    base = [
        "env",
        "LC_ALL=C",
        binary,
        "-y",
        "--setopt=exit_on_lock=True",
        *dnf_sources.source_options(sources),
    ]
    commands = []
    if down:
        commands.append([*base, "downgrade", "--", *down])
    if up:
        commands.append([*base, "install", "--", *up])
    if remove:
        commands.append([*base, "remove", "--", *remove])
    return commands


def reboot_command(nonce: str, *, binary: str = "dnf") -> str:
    """``dnf needs-restarting -r`` (or yum-utils' ``needs-restarting -r``), the running kernel and the
    installed kernel packages, in one round trip."""
    _check_binary(binary)
    _check_nonce(nonce)
    m = {s: marker(nonce, s) for s in REBOOT_SECTIONS}
    nr = (
        f"if {binary} -q needs-restarting --help >/dev/null 2>&1; then {binary} -q needs-restarting -r 2>&1; "
        "elif command -v needs-restarting >/dev/null 2>&1; then needs-restarting -r 2>&1; "
        "else (exit 127); fi"
    )
    return (
        "LC_ALL=C; export LC_ALL; "
        f"printf '\\n%s\\n' '{m['nr']}'; {nr}; rc=$?; "
        f"printf '\\n%s\\n' '{m['nr-rc']}'; echo \"$rc\"; "
        f"printf '\\n%s\\n' '{m['kernel']}'; {first_line('/proc/sys/kernel/osrelease')} || uname -r; "
        f"printf '\\n%s\\n' '{m['kernels']}'; "
        "rpm -q --qf '%{NAME}\\t%{EPOCH}\\t%{VERSION}-%{RELEASE}\\t%{ARCH}\\n' "
        "kernel kernel-core kernel-uek kernel-uek-core 2>/dev/null; "
        f"printf '\\n%s\\n' '{m['end']}'; exit 0"
    )


# -- the adapter -----------------------------------------------------------------------------------


def _check_names(names: Sequence[str], host: str) -> list[str]:
    bad = [n for n in names if not _NAME_RE.fullmatch(n)]
    if bad:
        shown = ", ".join(repr(clean_value(b)[:60]) for b in bad[:3])
        raise AdapterError(f"Refusing to pass invalid package name(s) to dnf on {host}: {shown}.")
    return list(names)


def is_rpm_family(facts: OsFacts) -> bool:
    ids = {facts.id, *facts.id_like}
    return bool(ids & {"rhel", "fedora", "centos", "rocky", "almalinux", "ol", "amzn"})


_WHICH_BINARY = 'for b in dnf yum; do command -v "$b" >/dev/null 2>&1 && { echo "$b"; exit 0; }; done; exit 1'


class DnfAdapter(Adapter):
    """Runs the dnf commands above over a transport.

    ``binary``: "dnf" (dnf 4, and dnf 5 which installs itself as ``dnf``) or "yum"; None (what the
    registry builds) asks the host once, preferring dnf, so RHEL/CentOS 7 hosts get yum.
    """

    name = MANAGER

    def __init__(self, host: str | None = None, *, binary: str | None = None) -> None:
        if binary is not None:
            _check_binary(binary)
        self.host = host
        self._binary = binary
        #: the index state the last scan read (None: no scan yet)
        self._index: IndexState | None = None

    @property
    def binary(self) -> str:
        return self._binary or "dnf"

    def _resolve(self, transport: Transport) -> str:
        if self._binary is None:
            result = transport.run(_WHICH_BINARY, timeout=30)
            found = result.out.strip()
            if not result.ok or found not in BINARIES:
                host = self.host_name(transport)
                raise UnsupportedHostError(
                    f"Neither dnf nor yum was found on {host}, so Patchdesk cannot use it."
                )
            self._binary = found
        return self._binary

    def probe(self, transport: Transport, facts: OsFacts) -> bool:
        if not is_rpm_family(facts):
            return False
        try:
            self._resolve(transport)
        except UnsupportedHostError:
            return False
        return True

    # -- scan

    def scan_detail(
        self, transport: Transport, *, refresh: bool = False, log: LogFn | None = None
    ) -> ScanParse:
        """Like :meth:`scan`, with obsoletes and warnings."""
        host = self.host_name(transport)
        self._resolve(transport)
        if refresh:
            result = transport.run(refresh_command(self.binary, self.extra_sources), sudo=True, timeout=900)
            if not result.ok:
                raise describe_failure(result, host, what="refresh the package metadata", binary=self.binary)
        nonce = new_nonce()
        result = transport.run(
            scan_command(nonce, binary=self.binary, sources=self.extra_sources), timeout=600
        )
        downloaded = False
        if result.exit_status not in (0, UPDATES_EXIT) and any(m in result.err for m in _NO_CACHE_MARKERS):
            emit(
                log,
                "warning",
                f"No system package metadata cache on {host}; downloaded it for this scan only "
                "(a scan with refresh keeps it).",
            )
            nonce = new_nonce()
            result = transport.run(
                scan_command(nonce, binary=self.binary, cache_only=False, sources=self.extra_sources),
                timeout=900,
            )
            downloaded = True
        parsed = parse_scan(result.out, nonce)
        if result.exit_status not in (0, UPDATES_EXIT) or parsed.exit_status not in (0, UPDATES_EXIT):
            raise describe_failure(result, host, what="check for updates", binary=self.binary)
        if parsed.rpmdb_empty:
            raise AdapterError(
                f"rpm on {host} shows the login user no installed package at all, so {self.binary}'s "
                "'no updates' cannot be trusted: that user reads an empty or private rpm database, not "
                "the system's (check %_dbpath in /etc/rpm/ and the permissions of /var/lib/rpm)."
            )
        if parsed.exit_status == UPDATES_EXIT and not parsed.pending:
            # dnf said updates are pending and not one could be read: never "nothing pending"
            raise AdapterError(
                f"{self.binary} on {host} reported pending updates, but Patchdesk could not read any of "
                "them from its answer."
            )
        # a download just now (--refresh) is current whatever the system cache says
        self._index = IndexState(datetime.now(UTC), measured=True) if downloaded else parsed.index
        self.last_scan_notes = parsed.notes
        for w in parsed.warnings:
            emit(log, "warning", w)
        if parsed.obsoletes:
            emit(log, "info", f"Obsoleting packages: {', '.join(parsed.obsoletes)}")
        return parsed

    def index_state(self, transport: Transport, *, refreshed: bool = False) -> IndexState:
        """The age of the metadata the last scan read (its own sections), else read now."""
        if self._index is not None:
            return self._index
        nonce = new_nonce()
        result = transport.run(index_command(nonce, self.extra_sources), timeout=30)
        sections = split_sections(result.out, nonce, ("repos", "cache", "end"))
        if not result.ok or "end" not in sections:
            return IndexState(notes=(unreadable_note(MANAGER),))
        return parse_index(sections["repos"], sections["cache"], datetime.now(UTC))

    def scan(
        self, transport: Transport, *, refresh: bool = False, log: LogFn | None = None
    ) -> list[PendingUpdate]:
        return list(self.scan_detail(transport, refresh=refresh, log=log).pending)

    def held(self, transport: Transport) -> frozenset[str]:
        """Packages with an update that versionlock or exclude= hides (asked of dnf itself)."""
        self._resolve(transport)
        nonce = new_nonce()
        result = transport.run(
            held_command(nonce, binary=self.binary, sources=self.extra_sources), timeout=300
        )
        return frozenset(u.name for u in parse_scan(result.out, nonce).pending if u.held)

    # -- reboot

    def reboot_status(self, transport: Transport) -> RebootStatus:
        self._resolve(transport)
        nonce = new_nonce()
        result = transport.run(reboot_command(nonce, binary=self.binary), timeout=120)
        return parse_reboot(result.out, nonce)

    def reboot_required(self, transport: Transport) -> tuple[bool, tuple[str, ...]]:
        """From ``needs-restarting -r``, else the kernel comparison. When neither can tell, the answer
        is (False, ()) and the module log says "not available" (the contract has no third value)."""
        status = self.reboot_status(transport)
        if status.required is None:
            logger.info(
                "%s: whether a reboot is required is not available (no needs-restarting, and the running "
                "kernel is not an installed kernel package)",
                self.host_name(transport),
            )
            return False, ()
        return status.required, status.packages

    # -- patching

    def _installed(self, transport: Transport, names: Sequence[str]) -> dict[str, tuple[str, str]]:
        if not names:
            return {}
        result = transport.run(rpm_query_command(names), timeout=120)
        # rpm -q exits with the number of names not installed; stdout still has the rest
        if result.exit_status != 0 and not result.out.strip():
            if "is not installed" not in result.out + result.err:
                raise describe_failure(
                    result, self.host_name(transport), what="read the installed versions", binary="rpm"
                )
        return parse_rpm_query(result.out)

    def snapshot(self, transport: Transport, names: Sequence[str]) -> Snapshot:
        names = _check_names(names, self.host_name(transport))
        found = self._installed(transport, names)
        return {name: found[name][0] if name in found else None for name in names}

    def plan(
        self, transport: Transport, names: Sequence[str] | None, *, log: LogFn | None = None
    ) -> InstallPlan:
        host = self.host_name(transport)
        self._resolve(transport)
        if names is not None:
            names = _check_names(names, host)
            if not names:
                return InstallPlan(())
        result = transport.run(
            plan_command(names, binary=self.binary, allow_held=self.allow_held, sources=self.extra_sources),
            sudo=True,
            timeout=600,
        )
        parsed = parse_plan(result.out)
        aborted = "Operation aborted" in result.out + result.err
        if not (result.ok or aborted) or _error_lines(result.err):
            if not parsed.packages:
                raise describe_failure(result, host, what="plan the update", binary=self.binary)
        for w in parsed.warnings:
            emit(log, "warning", w)
        warnings: list[str] = list(parsed.warnings)
        if parsed.skipped:
            text = f"dnf would skip: {', '.join(parsed.skipped)}"
            warnings.append(text)
            emit(log, "warning", text)
        installed = self._installed(transport, [p.name for p in parsed.packages])
        changes = plan_changes(parsed, installed)
        removed = [c.name for c in changes if c.to_version is None]
        if removed:
            text = f"Updating would remove: {', '.join(removed)}"
            warnings.append(text)
            emit(log, "warning", text)
        reboot = any(c.name in REBOOT_PACKAGES for c in changes)
        return InstallPlan(changes, reboot_expected=reboot, warnings=tuple(warnings))

    def _last_transaction(self, transport: Transport) -> int:
        result = transport.run(history_last_command(self.binary), sudo=True, timeout=120)
        ids = parse_history_ids(result.out)
        return max(ids) if ids else 0

    def _run_locked(
        self,
        transport: Transport,
        command: list[str],
        *,
        what: str,
        log: LogFn | None,
        on_output: OutputCallback | None,
        timeout: float,
        lock_wait: float,
    ) -> CommandResult:
        """Run a dnf command that takes the package lock; retry while another process holds it."""
        host = self.host_name(transport)
        deadline = time.monotonic() + max(0.0, lock_wait)
        told = False
        while True:
            result = transport.run(command, sudo=True, timeout=timeout, on_output=on_output)
            if result.ok or not is_lock_failure(result):
                return result
            if time.monotonic() + LOCK_RETRY > deadline:
                raise describe_failure(result, host, what=what, binary=self.binary)
            if not told:
                pid = lock_holder(result.err + result.out)
                emit(
                    log,
                    "info",
                    f"The package database on {host} is locked"
                    + (f" by process {pid}" if pid else "")
                    + f"; waiting up to {int(lock_wait)} s…",
                )
                told = True
            transport.deadline.check()
            time.sleep(LOCK_RETRY)

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
        host = self.host_name(transport)
        self._resolve(transport)
        if names is not None:
            names = _check_names(names, host)
            if not names:
                return None
        before = self._last_transaction(transport)
        result = self._run_locked(
            transport,
            install_command(
                names, binary=self.binary, allow_held=self.allow_held, sources=self.extra_sources
            ),
            what="install the updates",
            log=log,
            on_output=on_output,
            timeout=timeout,
            lock_wait=lock_wait,
        )
        if not result.ok:
            raise describe_failure(result, host, what="install the updates", binary=self.binary)
        after = self._last_transaction(transport)
        return str(after) if after > before else None

    def available_versions(self, transport: Transport, names: Sequence[str]) -> Mapping[str, frozenset[str]]:
        host = self.host_name(transport)
        self._resolve(transport)
        names = _check_names(names, host)
        if not names:
            return {}
        result = transport.run(
            list_command(names, binary=self.binary, sources=self.extra_sources), timeout=300
        )
        if not result.ok and any(m in result.err for m in _NO_CACHE_MARKERS):
            result = transport.run(
                list_command(names, binary=self.binary, cache_only=False, sources=self.extra_sources),
                timeout=600,
            )
        # "Error: No matching Packages to list" (exit 1) only means none of them is available
        if not result.ok and "No matching Packages" not in result.err + result.out:
            raise describe_failure(result, host, what="list the available versions", binary=self.binary)
        found = parse_list(result.out)
        installed = self._installed(transport, names)
        out: dict[str, frozenset[str]] = {}
        for name in names:
            versions = set(found.get(name, set()))
            if name in installed:
                versions.add(installed[name][0])
            out[name] = frozenset(versions)
        return out

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
        host = self.host_name(transport)
        self._resolve(transport)
        changes = [c for c in changes if c.from_version != c.to_version]
        if not changes:
            return
        try:
            commands = rollback_commands(changes, binary=self.binary, sources=self.extra_sources)
        except ValueError as exc:
            raise AdapterError(f"Refusing to roll back on {host}: {exc}.") from None
        if transaction_id is not None and transaction_id.isdigit():
            info = transport.run(
                history_info_command(transaction_id, binary=self.binary), sudo=True, timeout=120
            )
            altered = parse_history_info(info.out) if info.ok else None
            wanted = {c.name: (c.from_version, c.to_version) for c in changes}
            if altered == wanted:
                emit(log, "info", f"Undoing dnf transaction {transaction_id} on {host}.")
                commands = [
                    history_undo_command(transaction_id, binary=self.binary, sources=self.extra_sources)
                ]
            else:
                emit(
                    log,
                    "info",
                    f"dnf transaction {transaction_id} does not match the recorded changes exactly; "
                    "rolling back package by package.",
                )
        for command in commands:
            result = self._run_locked(
                transport,
                command,
                what="roll back",
                log=log,
                on_output=on_output,
                timeout=timeout,
                lock_wait=lock_wait,
            )
            if not result.ok:
                raise describe_failure(result, host, what="roll back", binary=self.binary)


def yum_adapter(host: str | None = None) -> DnfAdapter:
    """The same adapter, fixed to yum (RHEL/CentOS 7)."""
    return DnfAdapter(host, binary="yum")


__all__ = [
    "DnfAdapter",
    "history_undo_command",
    "install_command",
    "list_command",
    "plan_command",
    "reboot_command",
    "rollback_commands",
    "scan_command",
    "yum_adapter",
]
