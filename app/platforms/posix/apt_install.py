"""apt's install, rollback and version-listing commands, and the pre-install hook through which an
install reports its own transaction (the versions apt read under its lock) before dpkg changes anything.

Pure command building and a stream filter; :class:`~app.platforms.posix.apt.AptAdapter` runs them.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping, Sequence

from app.domain.bundle import HOST_ROOT, check_id
from app.domain.errors import AdapterError
from app.domain.models import InstallPlan, PackageChange
from app.platforms.posix.apt_parse import _VERSION_RE, check_names, parse_transaction
from app.transports.base import OutputCallback

#: Non-interactive and keep the administrator's configuration files: a changed conffile must never stop
#: an unattended run at dpkg's prompt, and local edits win over the package's new defaults.
_INSTALL_OPTIONS = (
    "-y",
    "-q",
    "-o",
    "Dpkg::Options::=--force-confdef",
    "-o",
    "Dpkg::Options::=--force-confold",
    "-o",
    "APT::Get::Show-Versions=true",
)
DPKG_INTERRUPTED = "dpkg was interrupted"
CONFIGURE_PENDING = ["dpkg", "--force-confdef", "--force-confold", "--configure", "-a"]
INSTALL_ENV = {"LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive", "APT_LISTCHANGES_FRONTEND": "none"}


#: Where the bundles applied on a host keep apt's view of them (app/domain/bundle.py: apt_sources).
BUNDLE_SOURCES = f"{HOST_ROOT}/sources.list"
BUNDLE_LISTS = f"{HOST_ROOT}/lists"


def source_options(sources: Sequence[str]) -> list[str]:
    """apt options that make the bundles applied on the host (``sources``: their ids) its package
    sources, given on the command line so nothing under /etc/apt changes: their own sources list, no
    sources.list.d, their own lists directory, and no binary cache (which apt would otherwise write
    under /var/cache/apt from these sources and read again without them)."""
    if not sources:
        return []
    for bundle_id in sources:
        check_id(bundle_id)
    return [
        "-o",
        f"Dir::Etc::sourcelist={BUNDLE_SOURCES}",
        "-o",
        "Dir::Etc::sourceparts=-",
        "-o",
        f"Dir::State::Lists={BUNDLE_LISTS}",
        "-o",
        "Dir::Cache::pkgcache=",
        "-o",
        "Dir::Cache::srcpkgcache=",
    ]


def redate_lists(sources: Sequence[str]) -> str:
    """Shell: give the bundles' Release lists the time each bundle was built (its ``created`` file,
    see bundle_apt.install_command). apt dates a list by when it read it, but a bundle's index is only
    as new as the bundle: a scan must not call a months-old bundle fresh."""
    parts = []
    for bundle_id in sources:
        check_id(bundle_id)
        parts.append(
            f"touch -c -r {HOST_ROOT}/{bundle_id}/created -- "
            f"{BUNDLE_LISTS}/_var_lib_patchdesk_bundles_{bundle_id}_repo_*_Release 2>/dev/null"
        )
    return "; ".join(parts) or ":"


#: apt-get's option to change packages that are held (only ever with the named packages)
ALLOW_HELD = "--allow-change-held-packages"


def _targets(names: Sequence[str], versions: Mapping[str, str] | None) -> list[str]:
    """The named packages as apt targets; ``versions`` asks for exact versions (``name=version``: what a
    pin keeps back is only installed by naming its version)."""
    out = []
    for n in check_names(names):
        v = (versions or {}).get(n)
        if v is not None and not _VERSION_RE.fullmatch(v):
            raise AdapterError(f"{v!r} is not a valid version of {n}; nothing was changed.")
        out.append(f"{n}={v}" if v is not None else n)
    return out


def plan_command(
    names: Sequence[str] | None,
    *,
    allow_held: bool = False,
    versions: Mapping[str, str] | None = None,
    sources: Sequence[str] = (),
) -> list[str]:
    """Simulate upgrading ``names`` (None: every upgradable package, new dependencies allowed);
    ``allow_held``: held packages among ``names`` are upgraded too, pinned ones to ``versions``."""
    base = [
        "apt-get",
        *source_options(sources),
        "-s",
        "-q",
        "-o",
        "Debug::NoLocking=true",
        "-o",
        "APT::Get::Show-User-Simulation-Note=false",
    ]
    if allow_held and names is not None:
        base.append(ALLOW_HELD)
    if names is None:
        return [*base, "upgrade", "--with-new-pkgs"]
    return [*base, "install", "--only-upgrade", "--", *_targets(names, versions if allow_held else None)]


#: The pre-install hook that makes apt report its own transaction (apt.conf(5), "Pre-Install-Pkgs",
#: protocol version 3): apt runs it after taking its lock and fetching, before dpkg changes anything,
#: and writes on its standard input "VERSION 3", its configuration (key=value, %-encoded, so never a
#: blank line), a blank line, then one line per package action::
#:
#:     <name> <old-ver> <old-arch> <old-multiarch> <direction> <new-ver> <new-arch> <new-multiarch> <action>
#:
#: with "-" for no version (a new package, a removal); action is the .deb being unpacked,
#: "**CONFIGURE**" or "**REMOVE**". awk is in Debian's required set (mawk); the hook's first word keys
#: its options, so the absolute path keeps ours apart from any other awk hook. It prints apt's native
#: architecture (to qualify names as dpkg-query does) and every action line behind the marker, then
#: an end line.
_HOOK_AWK = "/usr/bin/awk"
_HOOK_PROGRAM = 'p{print m, $0} !p && /^APT::Architecture=/{print m, $0} !p && /^$/{p=1} END{print m, "end"}'


def transaction_hook_options(tag: str) -> list[str]:
    """apt-get options that print the transaction behind ``tag`` (a :func:`marker`) before dpkg runs."""
    if not re.fullmatch(r"[@A-Za-z0-9:]+", tag):
        raise ValueError(f"unsafe marker {tag!r}")
    hook = f"{_HOOK_AWK} -v m={tag} {shlex.quote(_HOOK_PROGRAM)}"
    return [
        "-o",
        f"DPkg::Tools::Options::{_HOOK_AWK}::Version=3",
        "-o",
        f"DPkg::Pre-Install-Pkgs::={hook}",
    ]


class TransactionWatcher:
    """Sits between a streamed apt run and its output callback: takes the hook's lines out of stdout
    and calls ``on_transaction`` as soon as the hook's end line arrives (dpkg starts after it)."""

    def __init__(
        self,
        tag: str,
        on_transaction: Callable[[InstallPlan], None],
        on_output: OutputCallback | None,
    ) -> None:
        self.prefix = tag + " "
        self.on_transaction = on_transaction
        self.on_output = on_output
        self.lines: list[str] = []
        self.reported = False
        self._partial = b""

    def __call__(self, stream: str, chunk: bytes) -> None:
        if stream != "stdout":
            if self.on_output is not None:
                self.on_output(stream, chunk)
            return
        data = self._partial + chunk
        *whole, self._partial = data.split(b"\n")
        passed = []
        for raw in whole:
            text = raw.decode("utf-8", errors="replace").rstrip("\r")
            if text.startswith(self.prefix):
                self._hook_line(text[len(self.prefix) :])
            else:
                passed.append(raw + b"\n")
        if passed and self.on_output is not None:
            self.on_output("stdout", b"".join(passed))

    def _hook_line(self, text: str) -> None:
        if text == "end":
            self.report()
        elif not self.reported:
            self.lines.append(text)

    def report(self) -> None:
        """Once: the first transaction apt reported (a retry after ``dpkg --configure -a`` only runs
        when the first attempt stopped before its transaction)."""
        if self.reported or not self.lines:
            return
        self.reported = True
        self.on_transaction(parse_transaction(self.lines))

    def finish(self) -> None:
        if self._partial:
            rest, self._partial = self._partial, b""
            self("stdout", rest + b"\n")
        self.report()  # lines without their end line: apt stopped inside the hook; report what it said


def install_command(
    names: Sequence[str] | None,
    lock_wait: float,
    report_tag: str | None = None,
    *,
    allow_held: bool = False,
    versions: Mapping[str, str] | None = None,
    sources: Sequence[str] = (),
) -> list[str]:
    """Install exactly ``names`` (upgrades only, plus what they need) — never a blind dist-upgrade.
    ``report_tag``: also print the transaction behind that marker before dpkg runs. ``allow_held``: the
    named packages are installed even when the host holds them (patch --include-held), those a pin
    keeps back at the version ``versions`` names."""
    base = [
        "apt-get",
        *source_options(sources),
        *_INSTALL_OPTIONS,
        "-o",
        f"DPkg::Lock::Timeout={max(0, int(lock_wait))}",
    ]
    if allow_held and names is not None:
        base.append(ALLOW_HELD)
    if report_tag is not None:
        base += transaction_hook_options(report_tag)
    if names is None:
        return [*base, "upgrade", "--with-new-pkgs"]
    return [*base, "install", "--only-upgrade", "--", *_targets(names, versions if allow_held else None)]


def rollback_command(
    changes: Sequence[PackageChange], lock_wait: float, sources: Sequence[str] = ()
) -> list[str]:
    """One apt transaction that puts every package back: ``name=old`` downgrades, ``name-`` removals."""
    targets = []
    for c in changes:
        check_names([c.name])
        if c.from_version is None:
            targets.append(f"{c.name}-")  # installed by the patch: remove it
        else:
            if not _VERSION_RE.fullmatch(c.from_version):
                raise AdapterError(
                    f"{c.from_version!r} is not a valid version of {c.name}; nothing was changed."
                )
            targets.append(f"{c.name}={c.from_version}")
    return [
        "apt-get",
        *source_options(sources),
        *_INSTALL_OPTIONS,
        "-o",
        f"DPkg::Lock::Timeout={max(0, int(lock_wait))}",
        "--allow-downgrades",
        "install",
        "--",
        *targets,
    ]


def madison_command(names: Sequence[str], sources: Sequence[str] = ()) -> list[str]:
    return ["apt-cache", *source_options(sources), "madison", "--", *check_names(names)]
