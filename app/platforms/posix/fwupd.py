"""fwupd (LVFS firmware) beside the system's package manager on a Linux host.

Scan-only by default: a scan reads the devices, the firmware releases offered for them and the age of
the firmware metadata in one command. Nothing here decides *whether* to install: firmware is of kind
``firmware``, and the selection (app/jobs/selection.py) only ever hands this adapter a release an
administrator approved for the host's ring, named ``GUID=VERSION``. It then installs exactly that
release (``fwupdmgr install GUID VERSION``; never ``fwupdmgr update``, which takes everything), and a
rollback installs the version before with ``--allow-older`` where the device allows downgrades.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from app.domain.errors import AdapterError
from app.domain.models import IndexState, InstallPlan, OsFacts, PackageChange, PendingUpdate
from app.platforms.base import Adapter, LogFn, Snapshot, clean_value, emit, new_nonce
from app.platforms.posix.facts import marker, split_sections
from app.platforms.posix.fwupd_parse import (
    FwDevice,
    RemotesState,
    error_message,
    parse_devices,
    parse_releases,
    parse_remotes,
    parse_text_urgencies,
    pending_updates,
    read_updates,
)
from app.transports.base import CommandResult, OutputCallback, Transport

_SECTIONS = (
    "devices",
    "devices-rc",
    "updates",
    "updates-rc",
    "updates-text",
    "updates-text-rc",
    "remotes",
    "remotes-rc",
    "end",
)
#: the reads of one scan: section, fwupdmgr command (the text tree only for the urgencies, see
#: fwupd_parse.parse_text_urgencies)
_READS = (
    ("devices", "get-devices --json"),
    ("updates", "get-updates --json"),
    ("updates-text", "get-updates"),
    ("remotes", "get-remotes --json"),
)
_GUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+~_:-]{0,63}\Z")

#: No prompt may wait for an answer (stdin is closed too): no upload of old reports, no offer to
#: refresh old metadata -- its age is judged by Patchdesk.
_QUIET = "--no-unreported-check --no-metadata-check"
#: where app/services/firmware.py puts .cab files carried in to an offline site
CARRIED_DIR = "/var/lib/patchdesk/firmware"
_PRELUDE = 'LC_ALL=C; export LC_ALL; PATH="$PATH:/usr/sbin:/sbin"; export PATH; '


def scan_command(nonce: str) -> str:
    """The three reads, each after a nonce marker and followed by its exit status."""
    m = {s: marker(nonce, s) for s in _SECTIONS}
    parts = [_PRELUDE]
    for what, cmd in _READS:
        parts.append(
            f"printf '\\n%s\\n' '{m[what]}'; fwupdmgr {cmd} {_QUIET} </dev/null; "
            f"pd_rc=$?; printf '\\n%s\\n%s\\n' '{m[what + '-rc']}' \"$pd_rc\"; "
        )
    parts.append(f"printf '\\n%s\\n' '{m['end']}'")
    return "".join(parts)


def split_name(name: str) -> tuple[str, str | None]:
    """``GUID=VERSION`` (or a bare GUID) -> its parts; refuses anything else, since both are put on a
    command line (quoted as well)."""
    guid, sep, version = name.partition("=")
    guid = guid.strip().lower()
    if not _GUID_RE.match(guid) or (sep and not _VERSION_RE.match(version)):
        raise AdapterError(f"{name!r} does not name a firmware release (GUID=VERSION).")
    return guid, version if sep else None


def _rc(lines: list[str]) -> int | None:
    for line in lines:
        text = line.strip()
        if text:
            return int(text) if text.isdigit() and len(text) <= 3 else None
    return None


class FwupdAdapter(Adapter):
    name = "fwupd"

    def __init__(self, host: str | None = None) -> None:
        self.host = host
        self._remotes: RemotesState | None = None
        self._devices: list[FwDevice] = []

    def probe(self, transport: Transport, facts: OsFacts) -> bool:
        return False  # never the system's package manager: it runs beside one

    def scan_phase(self) -> str:
        return "scanning firmware (fwupd)"

    # -- scan ------------------------------------------------------------------------------------------

    def scan(
        self, transport: Transport, *, refresh: bool = False, log: LogFn | None = None
    ) -> list[PendingUpdate]:
        nonce = new_nonce()
        result = transport.run(scan_command(nonce), timeout=180)
        return self.parse_scan(result, nonce, log=log)

    def parse_scan(
        self, result: CommandResult, nonce: str, *, log: LogFn | None = None
    ) -> list[PendingUpdate]:
        """The scan command's output -> pending firmware updates; raises when any part could not see."""
        self._remotes = None
        sections = split_sections(result.out, nonce, _SECTIONS)
        if "end" not in sections:
            raise AdapterError(
                f"The fwupd scan on {self.host or 'the host'} ended early (exit status {result.exit_status})."
            )
        rc = {s: _rc(sections.get(s + "-rc", [])) for s in ("devices", "updates", "remotes")}
        for what in ("devices", "remotes"):
            if rc[what] != 0:
                said = error_message("\n".join(sections.get(what, [])), result.err) or "no message"
                raise AdapterError(
                    f"fwupdmgr get-{what} failed on {self.host or 'the host'} (exit status {rc[what]}): "
                    f"{said}. Is the fwupd daemon running?"
                )
        self._devices = parse_devices("\n".join(sections.get("devices", [])))
        updates = read_updates(
            rc["updates"] if rc["updates"] is not None else -1,
            "\n".join(sections.get("updates", [])),
            result.err,
        )
        self._remotes = parse_remotes("\n".join(sections.get("remotes", [])))
        updatable = sum(1 for d in self._devices if "updatable" in d.flags)
        text_ok = _rc(sections.get("updates-text-rc", [])) == 0
        urgencies = parse_text_urgencies("\n".join(sections.get("updates-text", []))) if text_ok else {}
        pending = pending_updates(updates, urgencies)
        emit(
            log,
            "info",
            f"fwupd: {len(self._devices)} device(s), {updatable} updatable, "
            f"{len(pending)} firmware update(s) offered",
        )
        return pending

    def index_state(self, transport: Transport, *, refreshed: bool = False) -> IndexState:
        """The LVFS (or imported) metadata's age: older than ``index_max_age``, never refreshed, or no
        remote enabled at all, and the scan cannot vouch that every firmware update was seen."""
        state = self._remotes
        if state is None:
            return IndexState.unknown("fwupd")
        if not state.enabled:
            return IndexState(
                notes=(
                    "No firmware metadata source (fwupd remote) is enabled on the host, so no firmware "
                    "update can be seen; enable lvfs or import metadata.",
                )
            )
        if state.updated is None:
            return IndexState(
                notes=(
                    f"The firmware metadata ({', '.join(state.enabled)}) was never refreshed on the host; "
                    "run fwupdmgr refresh there (or import metadata offline).",
                )
            )
        age = datetime.now(UTC) - state.updated
        if age > self.index_max_age:
            return IndexState(
                state.updated,
                notes=(
                    f"The firmware metadata is {_days(age)} old, more than the {_days(self.index_max_age)} "
                    "allowed (policy index_max_age_hours): run fwupdmgr refresh on the host.",
                ),
            )
        return IndexState(state.updated, measured=True)

    def reboot_required(self, transport: Transport) -> tuple[bool, tuple[str, ...]]:
        return False, ()

    # -- install and rollback -------------------------------------------------------------------------

    def _offered(self, transport: Transport) -> list[FwDevice]:
        nonce = new_nonce()
        result = transport.run(scan_command(nonce), timeout=180)
        self.parse_scan(result, nonce)
        sections = split_sections(result.out, nonce, _SECTIONS)
        rc = _rc(sections.get("updates-rc", []))
        return read_updates(rc if rc is not None else -1, "\n".join(sections.get("updates", [])), result.err)

    def plan(
        self, transport: Transport, names: Sequence[str] | None, *, log: LogFn | None = None
    ) -> InstallPlan:
        if names is None:
            raise AdapterError("Firmware is only installed release by release, never all at once.")
        offered = self._offered(transport)
        changes = []
        reboot = False
        for name in names:
            guid, version = split_name(name)
            device = _device_offering(offered, guid, version)
            if device is None:
                raise AdapterError(
                    f"The approved firmware {version or '?'} for {guid} is not offered on "
                    f"{self.host or 'the host'} any more (metadata changed since the scan); scan again."
                )
            reboot = reboot or "needs-reboot" in device.flags
            changes.append(PackageChange(self.name, name, device.version or None, version))
        return InstallPlan(tuple(changes), reboot_expected=reboot)

    def snapshot(self, transport: Transport, names: Sequence[str]) -> Snapshot:
        nonce = new_nonce()
        result = transport.run(scan_command(nonce), timeout=180)
        self.parse_scan(result, nonce)
        out: dict[str, str | None] = {}
        for name in names:
            guid, _ = split_name(name)
            device = next((d for d in self._devices if d.guid == guid), None)
            out[name] = device.version if device is not None else None
        return out

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
        if names is None:
            raise AdapterError("Firmware is only installed release by release, never all at once.")
        offered = self._offered(transport)
        for name in names:
            guid, version = split_name(name)
            if version is None:
                raise AdapterError(f"No approved version named for the firmware of {guid}.")
            device = _device_offering(offered, guid, version)
            release = next((r for r in device.releases if r.version == version), None) if device else None
            carried = self._carried(transport, release.sha256) if release is not None else None
            self._run_install(transport, guid, version, (), log, on_output, timeout, carried)
        return None

    def _carried(self, transport: Transport, sums: Sequence[str]) -> str | None:
        """The path of a .cab carried in for an offline site (app/services/firmware.py stores each as
        ``<sha256>.cab``) whose checksum is the release's, or None."""
        if not sums:
            return None
        paths = " ".join(shlex.quote(f"{CARRIED_DIR}/{s}.cab") for s in sums)
        result = transport.run(f'for f in {paths}; do [ -f "$f" ] && echo "$f"; done; true', timeout=30)
        found = [line.strip() for line in result.out.splitlines()]
        return next((f for f in found if f in {f"{CARRIED_DIR}/{s}.cab" for s in sums}), None)

    def _run_install(
        self,
        transport: Transport,
        guid: str,
        version: str,
        extra: Sequence[str],
        log: LogFn | None,
        on_output: OutputCallback | None,
        timeout: float,
        carried: str | None = None,
    ) -> None:
        # a carried .cab is installed as the file it is (its checksum is the approved release's);
        # otherwise fwupd fetches the release its metadata names
        target = (carried, guid) if carried else (guid, version)
        args = " ".join(shlex.quote(a) for a in (*extra, *target))
        command = f"{_PRELUDE}fwupdmgr install --assume-yes --no-reboot-check {_QUIET} {args} </dev/null"
        emit(log, "info", f"fwupd: installing firmware {version} on the device(s) with GUID {guid}")
        result = transport.run(command, sudo=True, timeout=timeout, on_output=on_output)
        if result.exit_status != 0:
            said = _first_error(f"{result.out}\n{result.err}")
            raise AdapterError(
                f"fwupdmgr install {guid} {version} failed on {self.host or 'the host'} "
                f"(exit status {result.exit_status}): {said}."
            )

    def available_versions(self, transport: Transport, names: Sequence[str]) -> Mapping[str, frozenset[str]]:
        """The versions each device could go back to: its current one and, where the device allows a
        downgrade, those fwupd's metadata offers (``get-releases``)."""
        snap = self.snapshot(transport, names)
        out: dict[str, frozenset[str]] = {}
        for name in names:
            guid, _ = split_name(name)
            device = next((d for d in self._devices if d.guid == guid), None)
            if device is None or not device.can_downgrade:
                out[name] = frozenset(v for v in (snap.get(name),) if v)
                continue
            result = transport.run(
                f"{_PRELUDE}fwupdmgr get-releases --json {_QUIET} {shlex.quote(guid)} </dev/null", timeout=120
            )
            versions = set()
            if result.exit_status == 0:
                versions = {r.version for r in parse_releases(result.out)}
            out[name] = frozenset(versions | {v for v in (snap.get(name),) if v})
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
        self.snapshot(transport, [c.name for c in changes])
        for c in changes:
            guid, _ = split_name(c.name)
            device = next((d for d in self._devices if d.guid == guid), None)
            if c.from_version is None:
                raise AdapterError(f"Firmware of {guid} has no version to go back to.")
            if device is None or not device.can_downgrade:
                raise AdapterError(
                    f"The device with GUID {guid} does not allow a firmware downgrade "
                    "(fwupd: only-version-upgrade, or not updatable)."
                )
            self._run_install(
                transport,
                guid,
                c.from_version,
                ("--allow-older", "--allow-reinstall"),
                log,
                on_output,
                timeout,
            )


def _device_offering(offered: list[FwDevice], guid: str, version: str | None) -> FwDevice | None:
    for d in offered:
        if d.guid == guid and any(r.version == version for r in d.releases):
            return d
    return None


_PROGRESS_RE = re.compile(r".{0,40}: *\d{1,3}%\s*\Z")


def _first_error(text: str) -> str:
    """fwupdmgr's message: its progress lines ("Writing…: 3%", "Idle?: 0%" in the C locale) and the
    ESP warning are noise; the error is the last other line."""
    lines = [
        clean_value(line)
        for line in text.splitlines()[-200:]
        if line.strip()
        and not _PROGRESS_RE.match(line.strip())
        and "esp-not-found" not in line
        and "UEFI ESP partition" not in line
    ]
    return lines[-1] if lines else "no message"


def _days(delta: timedelta) -> str:
    days = delta.total_seconds() / 86400
    return f"{days:.0f} days" if days >= 2 else f"{delta.total_seconds() / 3600:.0f} h"
