"""Offline bundles for Windows hosts: what a request reads from the host, and which files of a local
download directory carry a KB.

The connected side fetches nothing from Windows Update itself: the administrator (or a WSUS export)
puts the .msu/.cab files of the chosen KBs and Microsoft's offline scan catalogue ``wsusscn2.cab`` in
a directory, and ``bundle create --from-dir`` takes them from there (see app/services/bundles_win.py).
The file names are Microsoft's (``windows10.0-kb5034441-x64_<hash>.msu``): the KB number in the name
says which update a file installs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from app.domain.bundle import BundleError, check_arch, check_file_name, check_id
from app.platforms.windows.output import json_value
from app.platforms.windows.scripts import render, script_body

#: Microsoft's offline scan catalogue: WUA searches it when the host has no update service
SCAN_CATALOGUE = "wsusscn2.cab"

_KB_IN_NAME = re.compile(r"(?<![0-9a-z])kb(\d{6,8})(?![0-9])", re.I)
_UPDATE_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+~-]{0,200}\.(msu|cab)", re.I)
#: PROCESSOR_ARCHITECTURE -> the arch Microsoft's file names carry
_ARCH_NAMES = {"amd64": "x64", "x86": "x86", "arm64": "arm64"}


def state_script() -> str:
    return render("bundle-win-state", script_body("bundle-win-state"))


def parse_state(out: str) -> tuple[str, str, str]:
    """(build, build.revision, arch) from bundle-win-state.ps1; anything else is a BundleError."""
    raw = json_value(out)
    if not isinstance(raw, dict):
        raise BundleError("The host's OS build could not be read (no answer Patchdesk understands).")
    build, revision = str(raw.get("Build") or ""), str(raw.get("Revision") or "")
    if not re.fullmatch(r"\d{4,6}", build) or not re.fullmatch(r"\d{0,8}", revision):
        raise BundleError(f"The host reported an OS build Patchdesk cannot read: {build[:20]!r}.")
    arch = check_arch(str(raw.get("Arch") or "").lower())
    return build, f"{build}.{revision}" if revision else build, arch


def kb_of(file_name: str) -> str | None:
    """The KB an update file installs (``KB5034441``), from Microsoft's file name; None if it names
    none or more than one."""
    if not _UPDATE_FILE.fullmatch(file_name) or file_name.lower() == SCAN_CATALOGUE:
        return None
    found = {m.group(1) for m in _KB_IN_NAME.finditer(file_name)}
    return f"KB{found.pop()}" if len(found) == 1 else None


def files_for(names: Iterable[str], kb: str, arch: str) -> list[str]:
    """The update files among ``names`` that install ``kb`` for ``arch``: a name that states another
    architecture (x86, arm64) is left out, one that states none is taken."""
    mine = _ARCH_NAMES.get(arch, arch)
    others = {a for a in _ARCH_NAMES.values() if a != mine}
    out = []
    for name in sorted(names):
        if kb_of(name) != kb.upper():
            continue
        parts = set(re.split(r"[-_.]", name.lower()))
        if parts & others and mine not in parts:
            continue
        out.append(name)
    return out


# -- the offline side: copying a bundle to the host ---------------------------------------------------

#: bytes per chunk script (its stdin goes in several WS-Management Send messages)
CHUNK = 1024 * 1024
#: where a bundle's files lie on the host, below %ProgramData% (for sentences; scripts build it)
HOST_DIR = "%ProgramData%\\Patchdesk\\bundles"


def prepare_script(bundle_id: str) -> str:
    return render("bundle-win-prepare", script_body("bundle-win-prepare"), {"id": check_id(bundle_id)})


def chunk_script(bundle_id: str, name: str, offset: int) -> str:
    return render(
        "bundle-win-chunk",
        script_body("bundle-win-chunk"),
        {"id": check_id(bundle_id), "name": check_file_name(name), "offset": int(offset)},
    )


def hash_script(bundle_id: str, files: Iterable[tuple[str, str]]) -> str:
    listed = [{"name": check_file_name(n), "sha256": s} for n, s in files]
    return render(
        "bundle-win-hash", script_body("bundle-win-hash"), {"id": check_id(bundle_id), "files": listed}
    )


def parse_prepared(out: str) -> tuple[int, dict[str, int]]:
    """(free bytes, file name -> size already there) from bundle-win-prepare.ps1."""
    raw = json_value(out)
    if not isinstance(raw, dict) or raw.get("ok") is not True:
        error = str(raw.get("error", "")) if isinstance(raw, dict) else ""
        raise BundleError(f"The bundle's folder could not be prepared: {error[:300] or 'no answer'}")
    free, have = raw.get("free"), raw.get("have") or {}
    if not isinstance(free, int) or not isinstance(have, dict):
        raise BundleError("The host's answer about its free space could not be read.")
    return free, {str(k): int(v) for k, v in have.items() if isinstance(v, int)}


def parse_hashed(out: str, expected: int) -> list[str]:
    """The files whose copy does not match (bundle-win-hash.ps1); an answer that did not check them
    all is an error, never "all good"."""
    raw = json_value(out)
    if not isinstance(raw, dict) or raw.get("checked") != expected:
        raise BundleError("The host did not say whether the copied files match the bundle.")
    bad = raw.get("bad") or []
    if isinstance(bad, str):  # ConvertTo-Json makes a one-element array a string
        bad = [bad]
    return [str(b)[:200] for b in bad]


def remove_script(bundle_id: str) -> str:
    return render("bundle-win-remove", script_body("bundle-win-remove"), {"id": check_id(bundle_id)})


# -- installing from the bundle -------------------------------------------------------------------------

#: exit codes of wusa.exe and DISM that mean the update is in place
EXIT_OK = 0
EXIT_REBOOT = 3010  # ERROR_SUCCESS_REBOOT_REQUIRED
EXIT_ALREADY = 0x00240006  # WU_S_ALREADY_INSTALLED
EXIT_NOT_APPLICABLE = 0x80240017  # WU_E_NOT_APPLICABLE: not for this Windows, or superseded
_KB = re.compile(r"KB\d{6,8}")


def install_payload(kbs: Iterable[str], bundle_ids: Iterable[str]) -> str:
    """Install ``kbs`` from the files of the applied bundles (searched newest first)."""
    listed = [kb for kb in kbs if _KB.fullmatch(kb)]
    return render(
        "bundle-win-install",
        script_body("bundle-win-install"),
        {"kbs": listed, "bundles": [check_id(i) for i in bundle_ids]},
    )


@dataclass(frozen=True)
class BundleInstall:
    """One KB installed (or not) from a bundle's file."""

    kb: str
    method: str
    exit_code: int
    missing: bool = False

    @property
    def ok(self) -> bool:
        return not self.missing and self.exit_code in (EXIT_OK, EXIT_REBOOT, EXIT_ALREADY)

    def describe(self) -> str:
        if self.missing:
            return f"{self.kb}: no file for it in the bundles applied on this host"
        code = f"0x{self.exit_code & 0xFFFFFFFF:08X}" if self.exit_code < 0 else str(self.exit_code)
        if self.exit_code & 0xFFFFFFFF == EXIT_NOT_APPLICABLE:
            return f"{self.kb}: {self.method} exit code {code}: not applicable to this host"
        if self.exit_code == EXIT_ALREADY:
            return f"{self.kb}: already installed"
        what = {EXIT_OK: "installed", EXIT_REBOOT: "installed, a restart is needed"}.get(
            self.exit_code, "failed"
        )
        return f"{self.kb}: {self.method} exit code {code}: {what}"


def parse_install(result: object) -> list[BundleInstall]:
    """The per-KB results of bundle-win-install.ps1; an answer without them raises."""
    rows = result.get("results") if isinstance(result, dict) else None
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, list):
        raise BundleError("The installation from the bundle gave no answer Patchdesk can read.")
    out = []
    for r in rows:
        if not isinstance(r, dict) or not _KB.fullmatch(str(r.get("KB", ""))):
            raise BundleError("The installation from the bundle gave a result Patchdesk cannot read.")
        code = r.get("ExitCode")
        out.append(
            BundleInstall(
                str(r["KB"]),
                str(r.get("Method", ""))[:10],
                code if isinstance(code, int) and not isinstance(code, bool) else -1,
                bool(r.get("Missing")),
            )
        )
    return out
