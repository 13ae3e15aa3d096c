"""Moving bundle files to and from a POSIX host in bounded memory: a scratch directory on the
reference host, files read back in chunks, files copied to an offline host resumably, free space.

Every path in a command is built here from constants, a checked bundle id and checked file names
(app/domain/bundle.py), and quoted; nothing a host printed is ever part of a command.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path

from app.domain.bundle import HOST_ROOT, BundleError, check_file_name, check_id
from app.transports.base import Transport

#: bytes per command when reading or writing a file through the shell (bounded memory both ways)
CHUNK = 4 * 1024 * 1024
#: what ``mktemp -d -t`` makes of our template (in $TMPDIR, else /tmp); checked before any use
_SCRATCH_RE = re.compile(r"(/[A-Za-z0-9._-]+)*/patchdesk-bundle\.[A-Za-z0-9]{10}")

Progress = Callable[[int], None]  # bytes just moved


def fail(host: str, what: str, err: str) -> BundleError:
    lines = [line.strip() for line in err.splitlines() if line.strip()][-3:]
    tail = (": " + " / ".join(line[:200] for line in lines)) if lines else ""
    return BundleError(f"Could not {what} on {host}{tail}.")


def make_scratch(transport: Transport, host: str) -> str:
    """A private scratch directory on the reference host (mktemp -d: mode 0700, a fresh name)."""
    r = transport.run("mktemp -d -t patchdesk-bundle.XXXXXXXXXX", timeout=30)
    path = r.out.strip()
    if not r.ok or not _SCRATCH_RE.fullmatch(path):
        raise fail(host, "create a scratch directory", r.err or r.out)
    return path


def remove_scratch(transport: Transport, path: str) -> None:
    if _SCRATCH_RE.fullmatch(path):
        transport.run(["rm", "-rf", "--", path], timeout=120)


def list_files(transport: Transport, directory: str, host: str, suffix: str) -> dict[str, int]:
    """``name -> size`` of the regular files ending in ``suffix`` in ``directory`` (names checked)."""
    r = transport.run(
        f"cd {shlex.quote(directory)} && find . -maxdepth 1 -type f -name {shlex.quote('*' + suffix)} "
        "-printf '%s %f\\n'",
        timeout=60,
    )
    if not r.ok:
        raise fail(host, "list the downloaded packages", r.err)
    out: dict[str, int] = {}
    for line in r.out.splitlines():
        size, _, name = line.partition(" ")
        if not size.isdigit():
            raise BundleError(f"{host} listed a file Patchdesk cannot read: {line[:80]!r}.")
        out[check_file_name(name)] = int(size)
    return out


def fetch_file(
    transport: Transport, remote: str, size: int, local: Path, host: str, progress: Progress | None = None
) -> None:
    """Copy ``remote`` (``size`` bytes) to ``local`` in chunks of CHUNK bytes."""
    with local.open("wb") as out:
        done = 0
        while done < size:
            block = done // CHUNK
            r = transport.run(
                ["dd", f"if={remote}", f"bs={CHUNK}", f"skip={block}", "count=1", "status=none"], timeout=300
            )
            if not r.ok or not r.stdout:
                raise fail(host, f"read {Path(remote).name}", r.err)
            out.write(r.stdout)
            done += len(r.stdout)
            if progress is not None:
                progress(len(r.stdout))
    if local.stat().st_size != size:
        raise BundleError(f"{Path(remote).name} changed size on {host} while it was copied.")


def bundle_dir(bundle_id: str) -> str:
    return f"{HOST_ROOT}/{check_id(bundle_id)}"


def prepare_incoming(transport: Transport, bundle_id: str, host: str) -> str:
    """The bundle's incoming directory, owned by the login user so SFTP and ``cat`` can write it;
    kept across attempts so an interrupted copy resumes. Returns its path."""
    r = transport.run("id -u", timeout=30)
    uid = r.out.strip()
    if not r.ok or not uid.isdigit():
        raise fail(host, "learn the login user's id", r.err)
    incoming = f"{bundle_dir(bundle_id)}/incoming"
    r = transport.run(["install", "-d", "-m", "0700", "-o", uid, "--", incoming], sudo=True, timeout=60)
    if not r.ok:
        raise fail(host, f"create {incoming}", r.err)
    return incoming


def free_bytes(transport: Transport, host: str) -> int:
    """Free space where the bundles go (the nearest existing directory above HOST_ROOT)."""
    r = transport.run(f"df -Pk {HOST_ROOT} 2>/dev/null || df -Pk /var/lib", timeout=30)
    lines = r.out.strip().splitlines()
    fields = lines[-1].split() if len(lines) >= 2 else []
    if not r.ok or len(fields) < 4 or not fields[3].isdigit():
        raise fail(host, "measure the free space", r.err or r.out)
    return int(fields[3]) * 1024


def remote_sizes(transport: Transport, directory: str, host: str) -> dict[str, int]:
    """What an earlier, maybe interrupted, copy left in ``directory``."""
    r = transport.run(
        f"cd {shlex.quote(directory)} 2>/dev/null && find . -maxdepth 2 -type f -printf '%s %P\\n'; true",
        timeout=60,
    )
    out: dict[str, int] = {}
    for line in r.out.splitlines():
        size, _, name = line.partition(" ")
        if size.isdigit() and name:
            out[name] = int(size)
    return out


def push_file(
    transport: Transport,
    local: Path,
    remote_dir: str,
    name: str,
    have: int,
    host: str,
    progress: Progress | None = None,
) -> None:
    """Append ``local`` to ``remote_dir/name`` from byte ``have`` on (0: a fresh copy), one chunk per
    command, so a copy cut short resumes where it stopped."""
    parts = [check_file_name(part) for part in name.split("/", 1)]
    if len(parts) == 2:  # an index in its sub-repository: its directory first
        r = transport.run(["mkdir", "-p", "--", f"{remote_dir}/{parts[0]}"], timeout=60)
        if not r.ok:
            raise fail(host, f"create {parts[0]}", r.err)
    target = shlex.quote(f"{remote_dir}/{'/'.join(parts)}")
    size = local.stat().st_size
    if have > size:
        have = 0  # not ours (or another version): start again
    if have == 0:
        r = transport.run(f": > {target}", timeout=60)
        if not r.ok:
            raise fail(host, f"write {name}", r.err)
    with local.open("rb") as src:
        src.seek(have)
        while chunk := src.read(CHUNK):
            r = transport.run(f"cat >> {target}", stdin=chunk, timeout=600)
            if not r.ok:
                raise fail(host, f"write {name}", r.err)
            if progress is not None:
                progress(len(chunk))
