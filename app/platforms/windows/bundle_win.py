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

from app.domain.bundle import BundleError, check_arch
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
