"""Reading what a baseline is captured from, and putting an item back, on a POSIX host.

Capture and the snapshot before a fix read whole files (bounded by MAX_FILE_BYTES) as base64 after a
nonce marker; the parser decodes strictly and refuses anything over the bound. A fix writes a file
atomically: the new content arrives on standard input (never in the command), goes to a temporary file
in the same directory, gets its owner and mode, and is renamed over the old one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from app.domain.baseline import MAX_FILE_BYTES, check_expected, check_target
from app.platforms.base import clean_value
from app.platforms.posix.drift import RPM_FORMAT, split_answer, sysctl_path
from app.platforms.posix.facts import _check_nonce

#: Most packages a capture of the whole package set keeps.
MAX_PACKAGES = 20_000


@dataclass(frozen=True)
class FileState:
    """A file as read from a host: absent, or present with its metadata and (when small enough and
    readable) its content."""

    path: str
    exists: bool
    owner: str = ""
    group: str = ""
    mode: str = ""
    content: bytes | None = None
    note: str = ""

    @property
    def sha256(self) -> str | None:
        return hashlib.sha256(self.content).hexdigest() if self.content is not None else None

    def expected(self) -> dict[str, object]:
        """What a baseline expects of this file, as captured."""
        if not self.exists:
            return {"state": "absent"}
        out: dict[str, object] = {"state": "present", "owner": self.owner, "group": self.group}
        out["mode"] = self.mode
        if self.content is not None:
            out["sha256"] = self.sha256
        return check_expected("file", out)


def _prelude(nonce: str) -> str:
    _check_nonce(nonce)
    return (
        'LC_ALL=C; export LC_ALL; PATH="$PATH:/usr/sbin:/sbin"; export PATH; '
        f"pd_m() {{ printf '\\n%s\\n' \"@@PATCHDESK:{nonce}:$1@@\"; }}; "
    )


def read_files_script(paths: Sequence[str], nonce: str) -> str:
    """Print each file's existence, owner:group:mode:type and base64 content (at most one byte over
    MAX_FILE_BYTES, so the parser can tell a file that is too large)."""
    parts = [_prelude(nonce)]
    for n, path in enumerate(paths):
        q = shlex.quote(check_target("file", path))
        parts.append(
            f'pd_m file-{n}; pd_p={q}; if [ -L "$pd_p" ] || [ -e "$pd_p" ]; then echo exists=1; '
            "stat -c 'meta=%U:%G:%a:%F' -- \"$pd_p\"; "
            f'if [ -f "$pd_p" ] && [ -r "$pd_p" ]; then echo content=1; '
            f'head -c {MAX_FILE_BYTES + 1} -- "$pd_p" | base64; fi; '
            "else echo exists=0; fi; echo end=1; "
        )
    parts.append("pd_m done; exit 0")
    return "".join(parts)


def parse_files(text: str, nonce: str, paths: Sequence[str]) -> dict[str, FileState | str]:
    """Each path's FileState, or the sentence saying why it could not be read."""
    sections = split_answer(text, nonce)
    out: dict[str, FileState | str] = {}
    for n, path in enumerate(paths):
        lines = sections.get(f"file-{n}")
        if lines is None or "end=1" not in lines:
            out[path] = f"{path}: the host's answer was cut short"
            continue
        out[path] = _file_state(path, lines[: lines.index("end=1")])
    return out


def _file_state(path: str, lines: list[str]) -> FileState | str:
    if "exists=0" in lines:
        return FileState(path, False)
    meta = next((ln[5:] for ln in lines if ln.startswith("meta=")), "").split(":", 3)
    if len(meta) != 4:
        return f"{path}: its owner and mode could not be read"
    if meta[3] != "regular file":
        return f"{path} is a {clean_value(meta[3])}, not a regular file"
    owner, group, mode = meta[0], meta[1], meta[2].rjust(4, "0")
    if "content=1" not in lines:
        return f"{path} could not be read (permission?)"
    body = "".join(lines[lines.index("content=1") + 1 :])
    try:
        content = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return f"{path}: its content came back garbled"
    if len(content) > MAX_FILE_BYTES:
        return f"{path} is larger than {MAX_FILE_BYTES // 1024} KiB; a baseline keeps configuration files"
    try:
        check_expected("file", {"owner": owner, "group": group, "mode": mode})
    except ValueError as exc:
        return f"{path}: {exc}"
    return FileState(path, True, owner, group, mode, content)


def package_set_script(nonce: str) -> str:
    """Every installed package with its version, from dpkg and from rpm (each where it exists, in its
    own section: the caller picks the host's own by its package manager)."""
    return (
        _prelude(nonce) + "if command -v dpkg-query >/dev/null; then pd_m packages-deb; "
        "dpkg-query -W -f='${db:Status-Abbrev}\\t${Package}\\t${Version}\\n' && echo end=1; fi; "
        f"if command -v rpm >/dev/null; then pd_m packages-rpm; rpm -qa --qf {RPM_FORMAT} && echo end=1; fi; "
        "pd_m done; exit 0"
    )


def parse_package_set(text: str, nonce: str, fmt: str | None) -> dict[str, str] | None:
    """``{name: version}`` of installed packages; None when the list did not come back whole (or the
    host's package database is not known)."""
    lines = split_answer(text, nonce).get(f"packages-{fmt}") if fmt else None
    if lines is None or "end=1" not in lines:
        return None
    found: dict[str, str] = {}
    for line in lines:
        parts = line.split("\t")
        if len(parts) != 3 or len(parts[0]) < 2 or parts[0][1] != "i":
            continue
        try:
            name = check_target("package", parts[1])
            version = check_expected("package", {"version": parts[2]})["version"]
        except ValueError:
            continue  # a name or version we would refuse to check
        found.setdefault(name, version)
        if len(found) >= MAX_PACKAGES:
            break
    return found


def services_script(names: Sequence[str], nonce: str) -> str:
    parts = [_prelude(nonce)]
    for n, name in enumerate(names):
        q = shlex.quote(check_target("service", name))
        parts.append(
            f"pd_m svc-{n}; if [ -d /run/systemd/system ]; then "
            f'echo "enabled=$(systemctl is-enabled -- {q})"; echo "active=$(systemctl is-active -- {q})"; '
            "echo end=1; fi; "
        )
    parts.append("pd_m done; exit 0")
    return "".join(parts)


# -- putting items back ------------------------------------------------------------------------------


def write_file_command(path: str, owner: str, group: str, mode: str) -> str:
    """Shell (run as root, the content on stdin): write ``path`` atomically with owner and mode.

    The temporary file is made in the target's directory, so the rename cannot cross file systems and
    a reader sees the old file or the new one, never a half-written one."""
    q = shlex.quote(check_target("file", path))
    check_expected("file", {"owner": owner, "group": group, "mode": mode})
    return (
        f'set -e; pd_p={q}; pd_t=$(mktemp "$(dirname -- "$pd_p")/.patchdesk.XXXXXX"); '
        'trap \'rm -f -- "$pd_t"\' EXIT; cat > "$pd_t"; '
        f'chown -- {shlex.quote(owner + ":" + group)} "$pd_t"; chmod -- {int(mode, 8):o} "$pd_t"; '
        'mv -f -- "$pd_t" "$pd_p"; trap - EXIT'
    )


def set_metadata_command(path: str, owner: str | None, group: str | None, mode: str | None) -> str:
    q = shlex.quote(check_target("file", path))
    check_expected("file", {k: v for k, v in (("owner", owner), ("group", group), ("mode", mode)) if v})
    parts = ["set -e"]
    if owner or group:
        parts.append(f"chown -- {shlex.quote((owner or '') + ':' + (group or ''))} {q}")
    if mode:
        parts.append(f"chmod -- {int(mode, 8):o} {q}")
    return "; ".join(parts)


def remove_file_command(path: str) -> str:
    return f"rm -f -- {shlex.quote(check_target('file', path))}"


def service_command(name: str, enabled: bool | None, running: bool | None) -> str:
    q = shlex.quote(check_target("service", name))
    parts = ["set -e"]
    if enabled is not None:
        parts.append(f"systemctl {'enable' if enabled else 'disable'} -- {q}")
    if running is not None:
        parts.append(f"systemctl {'start' if running else 'stop'} -- {q}")
    return "; ".join(parts)


def sysctl_command(key: str) -> str:
    """Shell (as root, the value on stdin): set a sysctl at run time."""
    return f"cat > {shlex.quote(sysctl_path(check_target('sysctl', key)))}"
