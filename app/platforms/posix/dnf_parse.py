"""Reading what dnf and yum print when scanning: pending updates, advisories and CVEs, the versions a
repository offers, the reboot check, and failures turned into sentences. Pure functions over
untrusted text; dnf.py has the commands that produce it.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from app.domain.errors import AdapterError, UnsupportedHostError
from app.domain.models import IndexState, PendingUpdate, UpdateKind
from app.domain.rpmversion import compare_evr
from app.platforms.base import (
    MAX_WARNINGS,
    Warnings,
    clean_value,
    failure_summary,
    needs_root,
    quote_line,
)
from app.platforms.posix.facts import split_sections
from app.platforms.posix.repo_index import enabled_repos, index_state, parse_times
from app.platforms.posix.rpm import (
    _ARCH_RE,
    _EVR_RE,
    _NAME_RE,
    normalize_evr,
    parse_rpm_query,
    split_name_arch,
    split_nevra,
)
from app.transports.base import CommandResult

MANAGER = "dnf"

#: ``check-update`` exits 100 when updates are available.
UPDATES_EXIT = 100
#: dnf's (and yum's) exit status when ``exit_on_lock`` is set and another process holds the lock.
LOCK_EXIT = 200


#: Packages whose update asks for a reboot (dnf-plugins-core needs_restarting.NEED_REBOOT, which
#: follows https://access.redhat.com/solutions/27943), plus the RHEL 8+ kernel sub-packages.
REBOOT_PACKAGES = frozenset(
    {
        "kernel",
        "kernel-core",
        "kernel-rt",
        "kernel-rt-core",
        "kernel-uek",
        "kernel-uek-core",
        "glibc",
        "linux-firmware",
        "systemd",
        "dbus",
        "dbus-broker",
        "dbus-daemon",
    }
)
_REPO_RE = re.compile(r"@?@?[A-Za-z0-9._:+-]{1,200}")
_ADVISORY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_CVE_RE = re.compile(r"CVE-[0-9]{4}-[0-9]{4,8}")

_SEVERITIES = ("Critical", "Important", "Moderate", "Low")
_SECURITY_LABELS = {f"{s}/Sec.": s for s in _SEVERITIES}
_SECURITY_LABELS["Unknown/Sec."] = ""
_SECURITY_LABELS["security"] = ""
_OTHER_LABELS = {"bugfix": UpdateKind.BUGFIX, "enhancement": UpdateKind.ENHANCEMENT, "newpackage": None}
# dnf5's ``advisory list`` has Type and Severity columns instead of one label
_DNF5_TYPES = {"security", "bugfix", "enhancement", "newpackage", "unspecified", "unknown"}

_LOCK_MARKERS = (
    "already locked by",
    "Waiting for process with pid",
    "Existing lock /var/run/yum.pid",
    "another copy is running as pid",
    "Failed to obtain rpm transaction lock",
    "waiting for transaction lock on",
    "Another app is currently holding the yum lock",
)
_ROOT_MARKERS = ("has to be run with superuser privileges", "You need to be root", "Permission denied")
_NO_CACHE_MARKERS = ("Cache-only enabled but no cache for", "Cache-only enabled but no cache")
_REPO_MARKERS = ("Failed to download metadata for repo", "Cannot download repomd.xml", "Curl error")


# -- scan ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckUpdateEntry:
    name: str
    arch: str
    version: str
    repo: str


@dataclass(frozen=True)
class AdvisoryEntry:
    """One line of ``updateinfo list``: an advisory (or CVE) id and the package version it fixes."""

    id: str
    kind: UpdateKind | None  # None: newpackage/unknown, says nothing about the update's kind
    severity: str  # "" when none
    name: str
    version: str
    arch: str

    @property
    def security(self) -> bool:
        return self.kind == UpdateKind.SECURITY


#: Lines of check-update output that are not entries: notes, dnf5's and yum's headers.
_CHECK_UPDATE_NOISE = (
    "Security:",
    "Last metadata expiration check",
    "Available upgrades",
    "Available Upgrades",
    "Upgrades",
    "Updating and loading repositories",
    "Repositories loaded",
    "Loaded plugins",
)


@dataclass(frozen=True)
class CheckUpdateParse:
    entries: tuple[CheckUpdateEntry, ...] = ()
    obsoletes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def parse_check_update(text: str) -> CheckUpdateParse:
    """Parse ``dnf -q check-update`` (or ``yum``'s, or dnf5's ``check-upgrade``) output.

    Lines are ``name.arch  version  repo``; a name.arch too long for its column may stand alone with
    the rest on the next line. The ``Obsoleting Packages`` section that may follow lists replacements
    (their names are returned as ``obsoletes``, not as updates). ``Security: ... is an installed security
    update`` notes and blank lines are skipped. Never raises; lines that look like entries but are not
    valid become warnings.
    """
    entries: list[CheckUpdateEntry] = []
    obsoletes: list[str] = []
    warnings = Warnings()
    pending_name: tuple[str, str] | None = None
    in_obsoletes = False
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        stripped = line.strip()
        if not stripped:
            pending_name = None
            continue
        if stripped.startswith("Obsoleting Packages") or stripped.startswith("Obsoleting packages"):
            in_obsoletes = True
            pending_name = None
            continue
        if stripped.startswith(_CHECK_UPDATE_NOISE):
            continue
        tokens = stripped.split()
        if in_obsoletes:
            # "new.arch  version  repo" then indented "    old.arch  version  @System"
            if not line[:1].isspace() and tokens:
                na = split_name_arch(tokens[0])
                if na is not None and na[0] not in obsoletes:
                    obsoletes.append(na[0])
            continue
        if len(tokens) == 1 and not line[:1].isspace():
            pending_name = split_name_arch(tokens[0])
            if pending_name is None:
                warnings.add(f"Could not understand dnf line: {quote_line(line)}")
            continue
        if len(tokens) == 2 and pending_name is not None and line[:1].isspace():
            name, arch = pending_name
            version, repo = tokens
            pending_name = None
        elif len(tokens) == 3:
            na = split_name_arch(tokens[0])
            if na is None:
                warnings.add(f"Could not understand dnf line: {quote_line(line)}")
                continue
            name, arch = na
            version, repo = tokens[1], tokens[2]
        else:
            warnings.add(f"Could not understand dnf line: {quote_line(line)}")
            pending_name = None
            continue
        version = normalize_evr(version)
        if not _EVR_RE.fullmatch(version) or not _REPO_RE.fullmatch(repo):
            warnings.add(f"Could not understand dnf line: {quote_line(line)}")
            continue
        entries.append(CheckUpdateEntry(name, arch, version, repo))
    return CheckUpdateParse(tuple(entries), tuple(obsoletes), warnings.result())


def _label_kind(label: str) -> tuple[UpdateKind | None, str] | None:
    if label in _SECURITY_LABELS:
        return UpdateKind.SECURITY, _SECURITY_LABELS[label]
    if label in _OTHER_LABELS:
        return _OTHER_LABELS[label], ""
    return None


def parse_updateinfo_list(text: str) -> tuple[list[AdvisoryEntry], tuple[str, ...]]:
    """Parse ``dnf updateinfo list`` (also ``--with-cve`` and yum's ``list cves``) and dnf5's
    ``advisory list`` table.

    dnf 4 / yum: ``ID  LABEL  NEVRA [date time]`` (``i `` in front with ``--all``); dnf5: a header
    ``Name Type Severity Package Issued`` and rows ``ID TYPE SEVERITY NEVRA DATE TIME``. Returns the
    entries and warnings; never raises.
    """
    out: list[AdvisoryEntry] = []
    warnings = Warnings()
    for raw in text.splitlines():
        line = raw.rstrip("\r").strip()
        if not line:
            continue
        tokens = line.split()
        if tokens[0] in ("i", ">") and len(tokens) > 3:
            tokens = tokens[1:]
        if tokens[:3] == ["Name", "Type", "Severity"] or tokens[0] in _ADVISORY_NOISE:
            continue
        entry = _parse_advisory_tokens(tokens)
        if entry is None:
            warnings.add(f"Could not understand dnf advisory line: {quote_line(raw)}")
            continue
        out.append(entry)
    return out, warnings.result()


def _parse_advisory_tokens(tokens: list[str]) -> AdvisoryEntry | None:
    if len(tokens) < 3 or not _ADVISORY_RE.fullmatch(tokens[0]):
        return None
    # dnf5: ID TYPE SEVERITY NEVRA DATE TIME
    if len(tokens) >= 4 and tokens[1] in _DNF5_TYPES:
        nevra = split_nevra(tokens[3])
        if nevra is not None:
            kind = {
                "security": UpdateKind.SECURITY,
                "bugfix": UpdateKind.BUGFIX,
                "enhancement": UpdateKind.ENHANCEMENT,
            }.get(tokens[1])
            sev = tokens[2].capitalize()
            return AdvisoryEntry(tokens[0], kind, sev if sev in _SEVERITIES else "", *nevra)
    # dnf 4 / yum: ID LABEL NEVRA [DATE TIME]
    label = _label_kind(tokens[1])
    if label is None:
        return None
    nevra = split_nevra(tokens[2])
    if nevra is None:
        return None
    kind, severity = label
    return AdvisoryEntry(tokens[0], kind, severity, *nevra)


_ADVISORY_NOISE = frozenset(
    {"Last", "Updates", "Available", "Loaded", "updateinfo", "Updating", "Repositories"}
)

_KIND_RANK = {UpdateKind.SECURITY: 3, UpdateKind.BUGFIX: 2, UpdateKind.ENHANCEMENT: 1}


def _severity_rank(sev: str | None) -> int:
    return len(_SEVERITIES) - _SEVERITIES.index(sev) if sev in _SEVERITIES else 0


def merge_scan(
    updates: Sequence[CheckUpdateEntry],
    advisories: Sequence[AdvisoryEntry],
    cves: Sequence[AdvisoryEntry],
    installed: Mapping[str, str] | None = None,
    *,
    manager: str = MANAGER,
) -> list[PendingUpdate]:
    """PendingUpdates from check-update entries, with the advisories and CVEs that name each package.

    An advisory belongs to an update when it names the same package and arch at a version not newer
    than the candidate (``updateinfo list`` only lists advisories newer than what is installed, so one
    update can close several). kind: security if any advisory is, else the most significant other kind,
    else bugfix (no advisory: a repository without updateinfo). severity: the highest one.
    """
    adv_by_key: dict[tuple[str, str], list[AdvisoryEntry]] = {}
    for a in advisories:
        adv_by_key.setdefault((a.name, a.arch), []).append(a)
    cve_by_key: dict[tuple[str, str], list[AdvisoryEntry]] = {}
    for c in cves:
        if _CVE_RE.fullmatch(c.id):
            cve_by_key.setdefault((c.name, c.arch), []).append(c)
    result: list[PendingUpdate] = []
    seen: set[tuple[str, str]] = set()
    for u in updates:
        key = (u.name, u.arch)
        if key in seen:
            continue
        seen.add(key)
        advs = [a for a in adv_by_key.get(key, []) if compare_evr(a.version, u.version) <= 0]
        kinds = [a.kind for a in advs if a.kind is not None]
        kind = max(kinds, key=lambda k: _KIND_RANK.get(k, 0)) if kinds else UpdateKind.BUGFIX
        security = kind == UpdateKind.SECURITY
        sevs = [a.severity for a in advs if a.severity and (a.security or not security)]
        severity = max(sevs, key=_severity_rank) if sevs else None
        ids = tuple(sorted({a.id for a in advs}))
        cve_ids = tuple(
            sorted({c.id for c in cve_by_key.get(key, []) if compare_evr(c.version, u.version) <= 0})
        )
        result.append(
            PendingUpdate(
                manager=manager,
                name=u.name,
                available=u.version,
                installed=(installed or {}).get(u.name),
                arch=u.arch,
                source=u.repo,
                security=security,
                kind=kind,
                severity=severity,
                cves=cve_ids,
                advisories=ids,
                reboot_expected=u.name in REBOOT_PACKAGES,
            )
        )
    return result


SCAN_SECTIONS = (
    "repos",
    "cache",
    "check",
    "check-rc",
    "locks",
    "held",
    "held-rc",
    "advisories",
    "cves",
    "installed",
    "rpmdb",
    "end",
)

#: The versionlock plugin's lists (dnf 4, yum 3): ``[!]name-epoch:version-release.arch`` patterns.
VERSIONLOCK_LISTS = ("/etc/dnf/plugins/versionlock.list", "/etc/yum/pluginconf.d/versionlock.list")
VERSIONLOCK_REASON = "dnf versionlock keeps it at its installed version (the versionlock plugin's list)."
EXCLUDE_REASON = "An exclude= (excludepkgs=) setting in dnf's configuration hides it from upgrades."

#: Where dnf, yum and dnf5 read repositories from (dnf's own list, and dnf5's vendor directory).
REPO_FILES = (
    "/etc/dnf/dnf.conf",
    "/etc/yum.conf",
    "/etc/yum.repos.d/*.repo",
    "/etc/yum/repos.d/*.repo",
    "/etc/distro.repos.d/*.repo",
    "/usr/share/dnf5/repos.d/*.repo",
)
#: The file each refresh touches, per repository cache: libdnf's primary metadata (dnf 4 in
#: /var/cache/dnf/<id>-<hash>/, dnf 5 in /var/cache/libdnf5/<id>-<hash>/), yum 3's cachecookie.
CACHE_FILES = (
    "/var/cache/dnf/*/repodata/*primary*",
    "/var/cache/libdnf5/*/repodata/*primary*",
    "/var/cache/yum/*/*/*/cachecookie",
)
_CACHE_DIR_RE = re.compile(r"(.{1,200})-[0-9a-f]{16}")
NO_CACHE_FIX = "a scan with refresh (dnf makecache on the host, as root) fills the cache."


def cache_repo(path: str) -> str | None:
    """The repository a cache file of :data:`CACHE_FILES` belongs to."""
    parts = path.split("/")
    if parts[:3] != ["", "var", "cache"]:
        return None
    if len(parts) == 7 and parts[3] in ("dnf", "libdnf5") and parts[5] == "repodata":
        match = _CACHE_DIR_RE.fullmatch(parts[4])
        return match.group(1) if match else None
    if len(parts) == 8 and parts[3] == "yum" and parts[7] == "cachecookie":
        return parts[6]
    return None


def parse_index(repos: Iterable[str], cache: Iterable[str], now: datetime) -> IndexState:
    """The dnf index's state from the ``repos`` section (the repository files) and the ``cache``
    section (the host's clock and the refresh time of each repository's cache)."""
    host_now, times = parse_times(cache, cache_repo)
    return index_state(MANAGER, enabled_repos(repos), host_now, times, now, fix=NO_CACHE_FIX)


@dataclass(frozen=True)
class ScanParse:
    pending: tuple[PendingUpdate, ...] = ()
    exit_status: int | None = None
    obsoletes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    #: the metadata the scan read (None: the answer had no index sections)
    index: IndexState | None = None
    #: what limited the scan: lines not understood, an answer cut short (they make it incomplete)
    notes: tuple[str, ...] = ()
    #: "no updates", and rpm showed the login user no installed package at all (a private database)
    rpmdb_empty: bool = False


def parse_scan(text: str, nonce: str, *, manager: str = MANAGER, now: datetime | None = None) -> ScanParse:
    """Parse the output of :func:`scan_command`.

    Updates the host holds back (versionlock, exclude=) are listed by a second check-update that
    disables both (the ``held`` section); they are pending, marked held.
    """
    sections = split_sections(text, nonce, SCAN_SECTIONS)
    exit_status = _rc(sections.get("check-rc", []))
    check = parse_check_update("\n".join(sections.get("check", [])))
    advisories, w1 = parse_updateinfo_list("\n".join(sections.get("advisories", [])))
    cves, w2 = parse_updateinfo_list("\n".join(sections.get("cves", [])))
    installed = parse_rpm_query("\n".join(sections.get("installed", [])))
    held_notes: tuple[str, ...] = ()
    extra: list[CheckUpdateEntry] = []
    if "held-rc" in sections:
        held_rc = _rc(sections["held-rc"])
        if held_rc in (0, UPDATES_EXIT):
            shown = {(e.name, e.arch) for e in check.entries}
            everything = parse_check_update("\n".join(sections.get("held", [])))
            extra = [e for e in everything.entries if (e.name, e.arch) not in shown]
        else:
            held_notes = (
                "dnf hides the updates of packages held by versionlock or exclude= on this host, and "
                "listing them failed, so held updates may be missing from this list.",
            )
    pending = merge_scan(
        [*check.entries, *extra],
        advisories,
        cves,
        {k: v for k, (v, _a) in installed.items()},
        manager=manager,
    )
    if extra:
        pending = mark_held(pending, {e.name for e in extra}, lock_names(sections.get("locks", [])))
    warnings = [*check.warnings, *w1, *w2][: MAX_WARNINGS + 1]
    index = None
    if "cache" in sections:
        index = parse_index(sections.get("repos", []), sections["cache"], now or datetime.now(UTC))
    return ScanParse(
        tuple(pending),
        exit_status,
        check.obsoletes,
        tuple(warnings),
        index,
        (*_scan_notes(sections, check), *held_notes),
        "rpmdb" in sections and not any(line.strip() for line in sections["rpmdb"]),
    )


def _rc(lines: Sequence[str]) -> int | None:
    found = [line.strip() for line in lines if line.strip()]
    return int(found[0]) if found and found[0].isdigit() and len(found[0]) < 5 else None


def lock_names(lines: Iterable[str]) -> list[str]:
    """The name patterns of versionlock entries (``pd-regular-0:2.0-1.*`` → ``pd-regular``; a
    hand-written bare name or glob stays as it is); exclusion entries (``!``) hide versions too."""
    names = []
    for raw in lines:
        line = raw.strip().lstrip("!")
        if not line or line.startswith("#"):
            continue
        parts = line.rsplit("-", 2)
        names.append(parts[0] if len(parts) == 3 and ":" in parts[1] else line)
    return names[: MAX_WARNINGS * 100]


def mark_held(pending: Sequence[PendingUpdate], held: set[str], locks: Sequence[str]) -> list[PendingUpdate]:
    """``pending`` with the updates of ``held`` packages marked held, with why."""
    out = []
    for u in pending:
        if u.name in held:
            locked = any(fnmatch.fnmatchcase(u.name, pattern) for pattern in locks)
            u = replace(u, held=True, held_reason=VERSIONLOCK_REASON if locked else EXCLUDE_REASON)
        out.append(u)
    return out


def _scan_notes(sections: Mapping[str, list[str]], check: CheckUpdateParse) -> tuple[str, ...]:
    notes = []
    if "end" not in sections:
        notes.append(
            "dnf's answer was cut short (the end of the scan never arrived), so updates, advisories or "
            "CVEs may be missing from this list."
        )
    if check.warnings:
        notes.append(
            f"dnf printed {len(check.warnings)} line(s) Patchdesk could not understand (see the job log), "
            "so an update may be missing from this list."
        )
    return tuple(notes)


def parse_list(text: str) -> dict[str, set[str]]:
    """``{name: {versions}}`` from ``dnf list`` output (``Installed Packages``/``Available Packages``)."""
    result: dict[str, set[str]] = {}
    entries = parse_check_update(
        "\n".join(
            line
            for line in text.splitlines()
            if not line.strip().endswith(" Packages") and line.strip() not in ("Installed", "Available")
        )
    ).entries
    for e in entries:
        result.setdefault(e.name, set()).add(e.version)
    return result


# -- reboot ----------------------------------------------------------------------------------------

REBOOT_SECTIONS = ("nr", "nr-rc", "kernel", "kernels", "end")


@dataclass(frozen=True)
class RebootStatus:
    """Whether a reboot is needed: ``required`` None means it could not be determined."""

    required: bool | None
    packages: tuple[str, ...] = ()
    method: str = ""  # "needs-restarting" | "kernel" | ""


def parse_reboot(text: str, nonce: str) -> RebootStatus:
    """needs-restarting's answer when it gave one (exit 1 + "Reboot is required": yes; exit 0 + "should
    not be necessary": no), else the running kernel against the newest installed kernel package."""
    sections = split_sections(text, nonce, REBOOT_SECTIONS)
    rc_text = "".join(line.strip() for line in sections.get("nr-rc", []))
    rc = int(rc_text) if rc_text.isdigit() and len(rc_text) < 5 else None
    nr = sections.get("nr", [])
    joined = "\n".join(nr)
    if rc == 1 and "Reboot is required" in joined:
        pkgs: list[str] = []
        for line in nr:
            s = line.strip()
            if s.startswith("* "):
                name = s[2:].strip()
                if _NAME_RE.fullmatch(name) and name not in pkgs:
                    pkgs.append(name)
        return RebootStatus(True, tuple(pkgs), "needs-restarting")
    if rc == 0 and "should not be necessary" in joined:
        return RebootStatus(False, (), "needs-restarting")
    running = "".join(line.strip() for line in sections.get("kernel", [])[:2])
    kernels: list[tuple[str, str, str]] = []
    for raw in sections.get("kernels", []):
        parts = raw.split("\t")
        if len(parts) != 4:
            continue
        name, _epoch, vr, arch = parts
        if _NAME_RE.fullmatch(name) and _EVR_RE.fullmatch(vr) and _ARCH_RE.fullmatch(arch):
            kernels.append((name, vr, arch))
    if not kernels or not running:
        return RebootStatus(None)
    newest = max(kernels, key=lambda k: _KernelKey(k[1]))
    running_ok = any(running in (f"{vr}.{arch}", vr) for _n, vr, arch in kernels)
    if not running_ok:
        # a kernel not from a package (self-built, or a container sharing its host's kernel)
        return RebootStatus(None)
    if running in (f"{newest[1]}.{newest[2]}", newest[1]):
        return RebootStatus(False, (), "kernel")
    return RebootStatus(True, (newest[0],), "kernel")


class _KernelKey:
    def __init__(self, evr: str) -> None:
        self.evr = evr

    def __lt__(self, other: _KernelKey) -> bool:
        return compare_evr(self.evr, other.evr) < 0


# -- failures --------------------------------------------------------------------------------------


def _error_lines(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith(("Error:", "error:")):
            s = clean_value(s.split(":", 1)[1].strip())
            if s:
                lines.append(s)
    return lines


def lock_holder(text: str) -> int | None:
    """The pid dnf/yum names as the lock holder, if any."""
    match = re.search(
        r"(?:already locked by|Waiting for process with pid|another copy is running as pid) (\d{1,10})", text
    )
    return int(match.group(1)) if match else None


def is_lock_failure(result: CommandResult) -> bool:
    both = result.err + "\n" + result.out
    return result.exit_status == LOCK_EXIT or any(m in both for m in _LOCK_MARKERS)


def describe_failure(result: CommandResult, host: str, *, what: str, binary: str = "dnf") -> AdapterError:
    """Turn a failed dnf/yum/rpm command into a known error with a sentence naming the host."""
    both = result.err + "\n" + result.out
    summary = failure_summary(result, _error_lines)
    if result.exit_status == 127 and not _error_lines(both):
        return UnsupportedHostError(f"{binary} was not found on {host}, so Patchdesk cannot {what} there.")
    if is_lock_failure(result):
        pid = lock_holder(both)
        who = f" (process {pid})" if pid else ""
        return AdapterError(
            f"The package database on {host} is locked by another process{who}. Wait for the other "
            "package operation (often dnf-automatic or a makecache timer) to finish and try again."
        )
    if any(m in both for m in _ROOT_MARKERS):
        return needs_root(binary, host, what, summary)
    if any(m in both for m in _REPO_MARKERS):
        return AdapterError(
            f"{binary} on {host} could not download repository metadata, so it cannot {what} ({summary}). "
            "Check the host's repository configuration and network access."
        )
    return AdapterError(f"{binary} could not {what} on {host}: {summary}.")


__all__ = [
    "AdvisoryEntry",
    "CheckUpdateEntry",
    "RebootStatus",
    "ScanParse",
    "describe_failure",
    "merge_scan",
    "parse_check_update",
    "parse_list",
    "parse_reboot",
    "parse_scan",
    "parse_updateinfo_list",
]
