"""Reading dnf's transaction table (the plan of an upgrade) and its history (what a transaction changed),
for patching and rollback. Pure functions over untrusted text; dnf.py has the commands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.domain.models import PackageChange
from app.platforms.base import (
    Warnings,
    quote_line,
)
from app.platforms.posix.dnf_parse import MANAGER
from app.platforms.posix.rpm import _ARCH_RE, _EVR_RE, _NAME_RE, normalize_evr, split_name_arch, split_nevra

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


def parse_plan(text: str) -> PlanParse:
    """Parse dnf's (4 and 5) and yum's transaction table.

    dnf 4: section headers like ``Upgrading:`` at column 0, rows `` name arch version repo size``
    (a long name alone on its row, the rest on the next), ``     replacing  old.arch version`` under a row
    (an obsoleted package, removed). dnf5: the same with ``replacing name arch version ...`` rows that,
    for an upgrade, name the old version of the same package. Ends at ``Transaction Summary``.
    """
    reader = _PlanReader()
    for raw in text.splitlines():
        reader.read_line(raw.rstrip("\r"))
    return reader.result()


_NOTHING_TO_DO = ("Nothing to do.", "Nothing to do", "No packages marked for update")


class _PlanReader:
    """The state of one plan parse: the section a row belongs to, and a long name waiting for its row."""

    def __init__(self) -> None:
        self.packages: list[PlannedPackage] = []
        self.skipped: list[str] = []
        self.warnings = Warnings()
        self.section: str | None = None
        self.pending_name: str | None = None
        self.current: str | None = None  # the last package row, which dnf5 "replacing" rows refer to
        self.nothing = False

    def result(self) -> PlanParse:
        return PlanParse(
            tuple(self.packages),
            self.nothing and not self.packages,
            tuple(self.skipped),
            self.warnings.result(),
        )

    def read_line(self, line: str) -> None:
        stripped = line.strip()
        if stripped in _NOTHING_TO_DO:
            self.nothing = True
        elif stripped.startswith("Transaction Summary"):
            self.section = None
        elif not stripped or (stripped.startswith("(") and stripped.endswith(":")):
            pass  # "(add '--best --allowerasing' to command line to force their upgrade):"
        elif not line[:1].isspace():
            # section headers; headers of other kinds, "Package  Arch  Version ..." titles, "=====" rules
            if stripped.endswith(":"):
                self.read_header(stripped[:-1].strip())
        elif self.section is not None:
            self.read_row(self.section, line, stripped.split())

    def read_header(self, header: str) -> None:
        self.section = _PLAN_SECTIONS.get(header)
        if self.section is None and header.startswith("Installing"):
            self.section = "install"
        self.pending_name = None

    def read_row(self, section: str, line: str, tokens: list[str]) -> None:
        if tokens[0] == "replacing":
            self.read_replacing(line, tokens[1:])
            return
        if len(tokens) == 1:
            self.pending_name = tokens[0]
            return
        if self.pending_name is not None and len(tokens) >= 3 and _ARCH_RE.fullmatch(tokens[0]):
            row = [self.pending_name, *tokens]
        else:
            row = tokens
        self.pending_name = None
        package = _parse_row(row)
        if package is None:
            self.warnings.add(f"Could not understand dnf line: {quote_line(line)}")
            return
        name, arch, version = package
        if section == "skip":
            self.skipped.append(name)
            return
        action = "remove" if section == "obsolete" else section
        self.packages.append(PlannedPackage(action, name, arch, version))
        self.current = name

    def read_replacing(self, line: str, tokens: list[str]) -> None:
        repl = _parse_replacing(tokens)
        if repl is None:
            self.warnings.add(f"Could not understand dnf line: {quote_line(line)}")
        elif repl[0] != self.current:
            self.packages.append(PlannedPackage("remove", repl[0], repl[1], repl[2]))


def _parse_row(row: list[str]) -> tuple[str, str, str] | None:
    """Name, arch and version of a ``name arch version repo size`` row; None when it is not one."""
    if len(row) < 4:
        return None
    name, arch, version = row[0], row[1], normalize_evr(row[2])
    if not (_NAME_RE.fullmatch(name) and _ARCH_RE.fullmatch(arch) and _EVR_RE.fullmatch(version)):
        return None
    return name, arch, version


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


def parse_history_ids(text: str) -> list[int]:
    """Transaction ids from ``dnf history list`` (``ID | Command line | ...`` rows)."""
    ids: list[int] = []
    for raw in text.splitlines():
        head, sep, _ = raw.partition("|")
        head = head.strip()
        if sep and head.isdigit() and len(head) <= 12:
            ids.append(int(head))
    return ids


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


__all__ = [
    "PlanParse",
    "parse_history_ids",
    "parse_history_info",
    "parse_plan",
    "plan_changes",
]
