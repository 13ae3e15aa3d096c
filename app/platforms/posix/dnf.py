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
no system cache yet, the scan falls back to that download and says so.

Patching (root): the plan is the transaction table of ``dnf --assumeno upgrade -- NAMES`` (dnf prints
it, then aborts; ``-q`` would hide it), the from-versions come from ``rpm -q``; install is ``dnf -y
upgrade -- NAMES`` with ``exit_on_lock`` so a held lock is retried here, within ``lock_wait``, instead of
dnf waiting forever; the dnf history id it created is returned; rollback is ``dnf history undo ID`` when
that transaction changed exactly the recorded packages, else explicit ``downgrade``/``install``/
``remove`` of exact versions.

Versions are ``version-release`` with ``epoch:`` in front only when the epoch is not 0, as dnf prints
them. Everything read from a host is untrusted: names, versions and arches must match rpm's allowed
characters before they are used at all, and they only ever reach a command as argv elements.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.domain.errors import AdapterError, UnsupportedHostError
from app.domain.models import InstallPlan, OsFacts, PackageChange, PendingUpdate, UpdateKind
from app.domain.rpmversion import compare_evr
from app.platforms.base import (
    MAX_WARNINGS,
    Adapter,
    LogFn,
    Snapshot,
    Warnings,
    clean_value,
    emit,
    failure_summary,
    new_nonce,
    quote_line,
)
from app.platforms.posix.facts import first_line, marker, split_sections
from app.transports.base import CommandResult, OutputCallback, Transport

logger = logging.getLogger(__name__)

MANAGER = "dnf"
BINARIES = ("dnf", "yum", "dnf5")

#: dnf's (and yum's) exit status when ``exit_on_lock`` is set and another process holds the lock.
LOCK_EXIT = 200
#: ``check-update`` exits 100 when updates are available.
UPDATES_EXIT = 100
#: Seconds between attempts while another process holds the package lock.
LOCK_RETRY = 3.0


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

# rpm's own rules (build/parsePreamble.c: ALLOWED_CHARS_NAME ".-_+%{}", ALLOWED_CHARS_VERREL
# "._+%{}~^"), narrowed: "%{}" only exist for unexpanded macros and never appear in a real repository.
# None of the remaining characters means anything to a shell, and none is a space.
_NAME_RE = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9._+-]{0,254}")
_VR_PART = r"[A-Za-z0-9._+~^]{1,128}"
_EVR_RE = re.compile(rf"(?:[0-9]{{1,10}}:)?{_VR_PART}-{_VR_PART}")
_ARCH_RE = re.compile(r"[A-Za-z0-9_]{1,32}")
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


# -- small helpers ---------------------------------------------------------------------------------


def is_valid_name(name: str) -> bool:
    return bool(_NAME_RE.fullmatch(name))


def is_valid_evr(evr: str) -> bool:
    return bool(_EVR_RE.fullmatch(evr))


def normalize_evr(evr: str) -> str:
    """``0:1.0-1`` → ``1.0-1``: an epoch of 0 is not shown, as dnf does."""
    epoch, sep, rest = evr.partition(":")
    if sep and epoch.isdigit() and int(epoch) == 0:
        return rest
    return evr


def split_name_arch(text: str) -> tuple[str, str] | None:
    """``pd-secfix.noarch`` → (``pd-secfix``, ``noarch``); None when it is not a valid name.arch."""
    name, sep, arch = text.rpartition(".")
    if not sep or not _NAME_RE.fullmatch(name) or not _ARCH_RE.fullmatch(arch):
        return None
    return name, arch


def split_nevra(text: str) -> tuple[str, str, str] | None:
    """``openssl-1:3.0.7-27.el9.x86_64`` → (``openssl``, ``1:3.0.7-27.el9``, ``x86_64``); None if invalid."""
    nevr, sep, arch = text.rpartition(".")
    if not sep or not _ARCH_RE.fullmatch(arch):
        return None
    parts = nevr.rsplit("-", 2)
    if len(parts) != 3:
        return None
    name, ev, release = parts
    evr = normalize_evr(f"{ev}-{release}")
    if not _NAME_RE.fullmatch(name) or not _EVR_RE.fullmatch(evr):
        return None
    return name, evr, arch


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


SCAN_SECTIONS = ("check", "check-rc", "advisories", "cves", "installed", "end")

#: rpm query format: name, epoch ("(none)" when unset), version-release, arch.
RPM_QUERYFORMAT = "%{NAME}\\t%{EPOCH}\\t%{VERSION}-%{RELEASE}\\t%{ARCH}\\n"


def _check_binary(binary: str) -> None:
    if binary not in BINARIES:
        raise ValueError(f"not a dnf binary: {binary!r}")


def _check_nonce(nonce: str) -> None:
    if not (nonce.isascii() and nonce.isalnum() and 8 <= len(nonce) <= 64):
        raise ValueError("nonce must be 8-64 ASCII letters or digits")


def scan_command(nonce: str, *, binary: str = "dnf", cache_only: bool = True) -> str:
    """One trusted snippet: check-update, then (only when it found updates) the advisories, the CVEs and
    the installed versions of everything (rpm -qa), each behind a nonce marker.

    ``cache_only``: read the system metadata cache (``-C``) instead of downloading into a per-user one.
    """
    _check_binary(binary)
    _check_nonce(nonce)
    m = {s: marker(nonce, s) for s in SCAN_SECTIONS}
    # skip_if_unavailable=False: a repository without metadata must fail the scan, not silently
    # vanish from it (Fedora's and Debian's dnf.conf skip it, which would report "no updates")
    c = (" -C" if cache_only else "") + " --setopt=skip_if_unavailable=False"
    cves = "updateinfo list cves" if binary == "yum" else "updateinfo list --with-cve"
    return (
        "LC_ALL=C; export LC_ALL; "
        f"printf '\\n%s\\n' '{m['check']}'; {binary} -q{c} check-update; rc=$?; "
        f"printf '\\n%s\\n' '{m['check-rc']}'; echo \"$rc\"; "
        f'if [ "$rc" -eq {UPDATES_EXIT} ]; then '
        f"printf '\\n%s\\n' '{m['advisories']}'; {binary} -q{c} updateinfo list; "
        f"printf '\\n%s\\n' '{m['cves']}'; {binary} -q{c} {cves}; "
        f"printf '\\n%s\\n' '{m['installed']}'; rpm -qa --qf '{RPM_QUERYFORMAT}'; "
        "fi; "
        f"printf '\\n%s\\n' '{m['end']}'; exit \"$rc\""
    )


def refresh_command(binary: str = "dnf") -> list[str]:
    """Refresh the system metadata cache; needs root."""
    _check_binary(binary)
    return ["env", "LC_ALL=C", binary, "-q", "makecache"]


@dataclass(frozen=True)
class ScanParse:
    pending: tuple[PendingUpdate, ...] = ()
    exit_status: int | None = None
    obsoletes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def parse_scan(text: str, nonce: str, *, manager: str = MANAGER) -> ScanParse:
    """Parse the output of :func:`scan_command`."""
    sections = split_sections(text, nonce, SCAN_SECTIONS)
    rc_lines = [line.strip() for line in sections.get("check-rc", []) if line.strip()]
    exit_status = int(rc_lines[0]) if rc_lines and rc_lines[0].isdigit() and len(rc_lines[0]) < 5 else None
    check = parse_check_update("\n".join(sections.get("check", [])))
    advisories, w1 = parse_updateinfo_list("\n".join(sections.get("advisories", [])))
    cves, w2 = parse_updateinfo_list("\n".join(sections.get("cves", [])))
    installed = parse_rpm_query("\n".join(sections.get("installed", [])))
    pending = merge_scan(
        check.entries, advisories, cves, {k: v for k, (v, _a) in installed.items()}, manager=manager
    )
    warnings = [*check.warnings, *w1, *w2][: MAX_WARNINGS + 1]
    return ScanParse(tuple(pending), exit_status, check.obsoletes, tuple(warnings))


# -- rpm queries -----------------------------------------------------------------------------------


def rpm_query_command(names: Sequence[str]) -> list[str]:
    """``rpm -q`` of ``names`` as an argv list (``--`` so a name cannot be an option)."""
    return ["rpm", "-q", "--qf", RPM_QUERYFORMAT, "--", *names]


def parse_rpm_query(text: str) -> dict[str, tuple[str, str]]:
    """``{name: (version, arch)}`` from :data:`RPM_QUERYFORMAT` lines.

    ``package X is not installed`` lines and anything invalid are skipped. With several installed
    instances of one name (kernels, multilib) the newest version wins.
    """
    result: dict[str, tuple[str, str]] = {}
    for raw in text.splitlines():
        parts = raw.rstrip("\r").split("\t")
        if len(parts) != 4:
            continue
        name, epoch, vr, arch = parts
        if not _NAME_RE.fullmatch(name) or not _ARCH_RE.fullmatch(arch):
            continue
        if epoch in ("(none)", "", "0"):
            evr = vr
        elif epoch.isdigit() and len(epoch) <= 10:
            evr = f"{epoch}:{vr}"
        else:
            continue
        if not _EVR_RE.fullmatch(evr):
            continue
        old = result.get(name)
        if old is None or compare_evr(evr, old[0]) > 0:
            result[name] = (evr, arch)
    return result


def list_command(names: Sequence[str], *, binary: str = "dnf", cache_only: bool = True) -> list[str]:
    """Every version the repositories offer of ``names`` (argv list)."""
    _check_binary(binary)
    cmd = ["env", "LC_ALL=C", binary, "-q", "--setopt=skip_if_unavailable=False"]
    if cache_only:
        cmd.append("-C")
    return [*cmd, "list", "--showduplicates", "--available", "--", *names]


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


# -- plan ------------------------------------------------------------------------------------------

_PLAN_SECTIONS = {
    "Installing": "install",
    "Installing dependencies": "install",
    "Installing weak dependencies": "install",
    "Installing group/module packages": "install",
    "Installing Groups": None,
    "Upgrading": "upgrade",
    "Upgrading dependencies": "upgrade",
    "Downgrading": "downgrade",
    "Reinstalling": "reinstall",
    "Removing": "remove",
    "Removing dependent packages": "remove",
    "Removing unused dependencies": "remove",
    "Removing dependencies": "remove",
    "Removing unneeded dependencies": "remove",
    "Obsoleting": "obsolete",
    "Replacing": "obsolete",
    "Skipping packages with conflicts": "skip",
    "Skipping packages with broken dependencies": "skip",
    "Skipping": "skip",
}


@dataclass(frozen=True)
class PlannedPackage:
    action: str  # install | upgrade | downgrade | reinstall | remove
    name: str
    arch: str
    version: str


@dataclass(frozen=True)
class PlanParse:
    packages: tuple[PlannedPackage, ...] = ()
    nothing_to_do: bool = False
    skipped: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def plan_command(names: Sequence[str] | None, *, binary: str = "dnf") -> list[str]:
    """``dnf --assumeno upgrade -- NAMES``: resolves and prints the transaction, changes nothing."""
    _check_binary(binary)
    cmd = ["env", "LC_ALL=C", binary, "--assumeno", "upgrade"]
    return [*cmd, "--", *names] if names else cmd


def parse_plan(text: str) -> PlanParse:
    """Parse dnf's (4 and 5) and yum's transaction table.

    dnf 4: section headers like ``Upgrading:`` at column 0, rows `` name arch version repo size``
    (a long name alone on its row, the rest on the next), ``     replacing  old.arch version`` under a row
    (an obsoleted package, removed). dnf5: the same with ``replacing name arch version ...`` rows that,
    for an upgrade, name the old version of the same package. Ends at ``Transaction Summary``.
    """
    packages: list[PlannedPackage] = []
    skipped: list[str] = []
    warnings = Warnings()
    section: str | None = None
    pending_name: str | None = None
    current: str | None = None
    nothing = False
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        stripped = line.strip()
        if stripped in ("Nothing to do.", "Nothing to do", "No packages marked for update"):
            nothing = True
            continue
        if stripped.startswith("Transaction Summary") or stripped.startswith("Transaction Summary:"):
            section = None
            continue
        if not stripped:
            continue
        if stripped.startswith("(") and stripped.endswith(":"):
            continue  # "(add '--best --allowerasing' to command line to force their upgrade):"
        if not line[:1].isspace() and stripped.endswith(":"):
            header = stripped[:-1].strip()
            section = _PLAN_SECTIONS.get(header)
            if section is None and header.startswith("Installing"):
                section = "install"
            pending_name = None
            continue
        if not line[:1].isspace():
            # headers of other kinds, "Package  Arch  Version ..." column titles, "=====" rules
            continue
        if section is None:
            continue
        tokens = stripped.split()
        if tokens[0] == "replacing":
            repl = _parse_replacing(tokens[1:])
            if repl is None:
                warnings.add(f"Could not understand dnf line: {quote_line(line)}")
            elif repl[0] != current:
                packages.append(PlannedPackage("remove", repl[0], repl[1], repl[2]))
            continue
        if len(tokens) == 1:
            pending_name = tokens[0]
            continue
        if pending_name is not None and len(tokens) >= 3 and _ARCH_RE.fullmatch(tokens[0]):
            row = [pending_name, *tokens]
        else:
            row = tokens
        pending_name = None
        if len(row) < 4:
            warnings.add(f"Could not understand dnf line: {quote_line(line)}")
            continue
        name, arch, version = row[0], row[1], normalize_evr(row[2])
        if not (_NAME_RE.fullmatch(name) and _ARCH_RE.fullmatch(arch) and _EVR_RE.fullmatch(version)):
            warnings.add(f"Could not understand dnf line: {quote_line(line)}")
            continue
        if section == "skip":
            skipped.append(name)
            continue
        action = "remove" if section == "obsolete" else section
        packages.append(PlannedPackage(action, name, arch, version))
        current = name
    return PlanParse(tuple(packages), nothing and not packages, tuple(skipped), warnings.result())


def _parse_replacing(tokens: list[str]) -> tuple[str, str, str] | None:
    if len(tokens) >= 3 and _NAME_RE.fullmatch(tokens[0]) and _ARCH_RE.fullmatch(tokens[1]):
        version = normalize_evr(tokens[2])  # dnf5: name arch version repo size
        if _EVR_RE.fullmatch(version):
            return tokens[0], tokens[1], version
    if len(tokens) >= 2:
        na = split_name_arch(tokens[0])  # dnf 4: name.arch version
        version = normalize_evr(tokens[1])
        if na is not None and _EVR_RE.fullmatch(version):
            return na[0], na[1], version
    return None


def plan_changes(
    parsed: PlanParse, installed: Mapping[str, tuple[str, str]], *, manager: str = MANAGER
) -> tuple[PackageChange, ...]:
    """PackageChanges from a parsed plan and the installed versions (``parse_rpm_query``)."""
    changes: list[PackageChange] = []
    seen: set[str] = set()
    for p in parsed.packages:
        if p.name in seen:
            continue
        seen.add(p.name)
        before = installed.get(p.name, (None, ""))[0]
        if p.action == "remove":
            changes.append(PackageChange(manager, p.name, before or p.version, None, p.arch))
        elif p.action == "install" and before is None:
            changes.append(PackageChange(manager, p.name, None, p.version, p.arch))
        else:
            changes.append(PackageChange(manager, p.name, before, p.version, p.arch))
    return tuple(changes)


# -- install, history, rollback --------------------------------------------------------------------


def install_command(names: Sequence[str] | None, *, binary: str = "dnf") -> list[str]:
    """``dnf -y upgrade -- NAMES`` (None: everything); exits 200 instead of waiting for a held lock."""
    _check_binary(binary)
    cmd = ["env", "LC_ALL=C", binary, "-y", "--setopt=exit_on_lock=True", "upgrade"]
    return [*cmd, "--", *names] if names else cmd


def history_last_command(binary: str = "dnf") -> list[str]:
    _check_binary(binary)
    return ["env", "LC_ALL=C", binary, "-q", "history", "list"]


def parse_history_ids(text: str) -> list[int]:
    """Transaction ids from ``dnf history list`` (``ID | Command line | ...`` rows)."""
    ids: list[int] = []
    for raw in text.splitlines():
        head, sep, _ = raw.partition("|")
        head = head.strip()
        if sep and head.isdigit() and len(head) <= 12:
            ids.append(int(head))
    return ids


def history_info_command(transaction_id: str, *, binary: str = "dnf") -> list[str]:
    _check_binary(binary)
    if not transaction_id.isdigit():
        raise ValueError("transaction id must be digits")
    return ["env", "LC_ALL=C", binary, "-q", "history", "info", transaction_id]


_HISTORY_NEW = {"Install", "Upgrade", "Downgrade", "Reinstall", "Dep-Install", "Obsoleting", "Reinstalled"}
_HISTORY_OLD = {"Upgraded", "Downgraded", "Erase", "Removed", "Obsoleted"}


def parse_history_info(text: str) -> dict[str, tuple[str | None, str | None]] | None:
    """``{name: (from, to)}`` a transaction changed, from the ``Packages Altered:`` section of ``dnf
    history info``; None when the section is missing or has a line we do not understand (then the
    transaction cannot be proven to match and rollback does not use ``history undo``)."""
    changes: dict[str, list[str | None]] = {}
    in_section = False
    found = False
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if line.startswith("Packages Altered"):
            in_section, found = True, True
            continue
        if not in_section:
            continue
        if not line.strip():
            continue
        if not line[:1].isspace():
            in_section = False
            continue
        tokens = line.split()
        if tokens[0] == "**":
            tokens = tokens[1:]
        if len(tokens) < 2:
            return None
        action = tokens[0]
        if action == "Reason" and len(tokens) >= 3 and tokens[1] == "Change":
            continue
        nevra = split_nevra(tokens[1])
        if nevra is None:
            return None
        name, evr, _arch = nevra
        entry = changes.setdefault(name, [None, None])
        if action in _HISTORY_NEW:
            entry[1] = evr
            if action == "Reinstall":
                entry[0] = evr
        elif action in _HISTORY_OLD:
            entry[0] = evr
        else:
            return None
    if not found:
        return None
    return {name: (v[0], v[1]) for name, v in changes.items()}


def history_undo_command(transaction_id: str, *, binary: str = "dnf") -> list[str]:
    _check_binary(binary)
    if not transaction_id.isdigit():
        raise ValueError("transaction id must be digits")
    return ["env", "LC_ALL=C", binary, "-y", "--setopt=exit_on_lock=True", "history", "undo", transaction_id]


def rollback_commands(changes: Sequence[PackageChange], *, binary: str = "dnf") -> list[list[str]]:
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
    base = ["env", "LC_ALL=C", binary, "-y", "--setopt=exit_on_lock=True"]
    commands = []
    if down:
        commands.append([*base, "downgrade", "--", *down])
    if up:
        commands.append([*base, "install", "--", *up])
    if remove:
        commands.append([*base, "remove", "--", *remove])
    return commands


# -- reboot ----------------------------------------------------------------------------------------

REBOOT_SECTIONS = ("nr", "nr-rc", "kernel", "kernels", "end")


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
        return AdapterError(
            f"{binary} on {host} needs root to {what}, and the command did not run as root ({summary}). "
            "Check that the login user may use sudo."
        )
    if any(m in both for m in _REPO_MARKERS):
        return AdapterError(
            f"{binary} on {host} could not download repository metadata, so it cannot {what} ({summary}). "
            "Check the host's repository configuration and network access."
        )
    return AdapterError(f"{binary} could not {what} on {host}: {summary}.")


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
            result = transport.run(refresh_command(self.binary), sudo=True, timeout=900)
            if not result.ok:
                raise describe_failure(result, host, what="refresh the package metadata", binary=self.binary)
        nonce = new_nonce()
        result = transport.run(scan_command(nonce, binary=self.binary), timeout=600)
        if result.exit_status not in (0, UPDATES_EXIT) and any(m in result.err for m in _NO_CACHE_MARKERS):
            emit(
                log,
                "warning",
                f"No system package metadata cache on {host}; downloaded it for this scan only "
                "(a scan with refresh keeps it).",
            )
            nonce = new_nonce()
            result = transport.run(scan_command(nonce, binary=self.binary, cache_only=False), timeout=900)
        parsed = parse_scan(result.out, nonce)
        if result.exit_status not in (0, UPDATES_EXIT) or parsed.exit_status not in (0, UPDATES_EXIT):
            raise describe_failure(result, host, what="check for updates", binary=self.binary)
        for w in parsed.warnings:
            emit(log, "warning", w)
        if parsed.obsoletes:
            emit(log, "info", f"Obsoleting packages: {', '.join(parsed.obsoletes)}")
        return parsed

    def scan(
        self, transport: Transport, *, refresh: bool = False, log: LogFn | None = None
    ) -> list[PendingUpdate]:
        return list(self.scan_detail(transport, refresh=refresh, log=log).pending)

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
        result = transport.run(plan_command(names, binary=self.binary), sudo=True, timeout=600)
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
            install_command(names, binary=self.binary),
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
        result = transport.run(list_command(names, binary=self.binary), timeout=300)
        if not result.ok and any(m in result.err for m in _NO_CACHE_MARKERS):
            result = transport.run(list_command(names, binary=self.binary, cache_only=False), timeout=600)
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
            commands = rollback_commands(changes, binary=self.binary)
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
                commands = [history_undo_command(transaction_id, binary=self.binary)]
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
    "AdvisoryEntry",
    "CheckUpdateEntry",
    "DnfAdapter",
    "PlanParse",
    "RebootStatus",
    "ScanParse",
    "describe_failure",
    "history_undo_command",
    "install_command",
    "list_command",
    "merge_scan",
    "parse_check_update",
    "parse_history_ids",
    "parse_history_info",
    "parse_list",
    "parse_plan",
    "parse_reboot",
    "parse_rpm_query",
    "parse_scan",
    "parse_updateinfo_list",
    "plan_changes",
    "plan_command",
    "reboot_command",
    "rollback_commands",
    "rpm_query_command",
    "scan_command",
    "split_nevra",
    "yum_adapter",
]
