"""apt's side of offline bundles: what an offline host needs, resolved on a connected reference host
of the same release, and the bundle's repository made the offline host's source.

Resolution runs on the reference host as the login user, in a private scratch directory: the
offline host's dpkg status is uploaded there and given to apt with ``-o Dir::State::status=...``, so
the reference host's own state plays no part; ``apt-get download`` then fetches the new versions, the
new dependencies, and the versions installed now (for rollback). The .deb files' control data is read
here, on the workstation, to build the flat repository's ``Packages`` and ``Release`` files.

On the offline host the bundle is a flat repository under /var/lib/patchdesk/bundles/<id>/repo, and
apt is pointed at it on its command line only (apt_install.source_options): nothing under /etc/apt.
"""

from __future__ import annotations

import io
import shlex
import tarfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from app.domain.bundle import (
    HOST_ROOT,
    BundleError,
    Purpose,
    ResolvedPackage,
    apt_sources,
    check_file_name,
    check_id,
    check_package,
    parse_control,
)
from app.domain.models import PendingUpdate
from app.platforms.posix.apt_install import BUNDLE_LISTS, BUNDLE_SOURCES, redate_lists, source_options
from app.platforms.posix.apt_parse import is_security_origin, parse_simulation, split_origins
from app.platforms.posix.bundle_host import bundle_dir, fail
from app.transports.base import Transport

#: the offline host's state as the request carries it, and what the reference host needs to know
STATUS_COMMAND = "cat /var/lib/dpkg/status"
ARCH_COMMAND = "dpkg --print-architecture"
SOURCES_COMMAND = "cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | head -c 65536; true"

#: a control tarball larger than this is not a package's metadata
_MAX_CONTROL = 16 * 1024 * 1024


def simulate_command(scratch: str, names: Sequence[str] | None = None) -> list[str]:
    """The upgrade the offline host would do, simulated on the reference host against the offline
    host's dpkg status (no lock, no root; held packages count too: the offline scan lists them held)."""
    base = [
        "apt-get",
        "-s",
        "-q",
        "-o",
        "Debug::NoLocking=true",
        "-o",
        f"Dir::State::status={scratch}/status",
        "-o",
        "Dir::State::extended_states=/dev/null",
        "-o",
        "APT::Ignore-Hold=true",
        "-o",
        "APT::Get::Show-User-Simulation-Note=false",
    ]
    if names is None:
        return [*base, "dist-upgrade"]
    for name in names:
        check_package(name.split(":", 1)[0])
    return [*base, "install", "--only-upgrade", "--", *names]


def resolve_host(
    transport: Transport,
    scratch: str,
    status: bytes,
    host: str,
    reference: str,
    choose: Callable[[list[PendingUpdate]], Iterable[str] | None] | None = None,
) -> tuple[list[ResolvedPackage], list[tuple[str, str, str]]]:
    """The packages one offline host needs (updates and rollback versions) and its pending updates.

    ``choose`` picks from the pending updates the names to carry (and what they need); None, or a
    choice of None: every update."""
    transport.put(status, f"{scratch}/status", mode=0o600)
    r = transport.run(simulate_command(scratch), timeout=600)
    if not r.ok:
        raise fail(reference, f"resolve the updates of {host}", r.err)
    parsed = parse_simulation(r.out)
    if not parsed.summary or parsed.warnings:
        raise BundleError(
            f"apt's answer on {reference} for {host} could not be read completely, so the bundle could "
            "miss an update; nothing was built."
        )
    pending = list(parsed.pending)
    keep = choose(pending) if choose is not None else None
    if keep is not None:
        wanted = sorted({p.name for p in pending} & set(keep))
        if not wanted:
            return [], []
        r = transport.run(simulate_command(scratch, wanted), timeout=600)
        if not r.ok:
            raise fail(reference, f"resolve the chosen updates of {host}", r.err)
        parsed = parse_simulation(r.out)
        pending = list(parsed.pending)
    out: list[ResolvedPackage] = []
    for p in pending:
        check_package(p.name.split(":", 1)[0], p.available)
        out.append(ResolvedPackage(p.name, p.available, p.arch, Purpose.UPDATE, (host,), _origin(p.source)))
        if p.installed is not None:
            check_package(p.name.split(":", 1)[0], p.installed)
            out.append(ResolvedPackage(p.name, p.installed, p.arch, Purpose.ROLLBACK, (host,)))
    return out, [(p.name, p.installed or "", p.available) for p in pending]


def _origin(source: str) -> str:
    """The origin an update's sub-repository copies: a security one when the version is in one."""
    origins = split_origins(source)
    return next((o for o in origins if is_security_origin(o)), origins[0] if origins else "")


def download_command(directory: str, packages: Sequence[ResolvedPackage], *, print_uris: bool = False) -> str:
    """``apt-get download name=version ...`` inside ``directory`` (names and versions checked);
    ``print_uris``: only list what would be fetched, with sizes (the estimate before downloading)."""
    targets = []
    for p in packages:
        check_package(p.name.split(":", 1)[0], p.version)
        targets.append(f"{p.name}={p.version}")
    argv = ["apt-get", "download", "-q", *(["--print-uris"] if print_uris else []), "--", *targets]
    return f"cd {shlex.quote(directory)} && LC_ALL=C " + shlex.join(argv)


def parse_print_uris(text: str) -> int:
    """The total size of ``'URI' FILE SIZE HASH`` lines; a line without a size is refused."""
    total = 0
    for line in text.splitlines():
        if not line.startswith("'"):
            continue
        fields = line.rsplit("' ", 1)[-1].split()
        if len(fields) < 2 or not fields[1].isdigit():
            raise BundleError(f"apt listed a package without its size: {line[:120]!r}.")
        total += int(fields[1])
    return total


# -- the repository index -----------------------------------------------------------------------------


def _ar_members(data: io.BufferedReader, name: str) -> Iterable[tuple[str, bytes]]:
    if data.read(8) != b"!<arch>\n":
        raise BundleError(f"{name} is not a Debian package (no ar header).")
    while header := data.read(60):
        if len(header) < 60 or header[58:60] != b"`\n":
            raise BundleError(f"{name} is not a readable Debian package (a damaged ar member).")
        member = header[:16].decode("ascii", "replace").strip().rstrip("/")
        size = int(header[48:58].decode("ascii", "replace").strip() or "0")
        if member.startswith("control.tar"):
            if size > _MAX_CONTROL:
                raise BundleError(f"{name} has a control archive larger than any package's.")
            yield member, data.read(size)
            return
        data.seek(size + (size & 1), io.SEEK_CUR)


def deb_control(path: Path) -> dict[str, str]:
    """The control fields of a .deb read on this workstation (ar, then control.tar.gz/.xz)."""
    name = path.name
    with path.open("rb") as f:
        for member, blob in _ar_members(f, name):
            if member.endswith(".zst"):
                raise BundleError(f"{name}: zstd-compressed package metadata is not supported yet.")
            try:
                with tarfile.open(fileobj=io.BytesIO(blob), mode="r:*") as tar:
                    for info in tar:
                        if info.name in ("./control", "control") and info.isfile() and info.size < 1 << 20:
                            handle = tar.extractfile(info)
                            assert handle is not None
                            return parse_control(handle.read().decode("utf-8", "replace"))
            except (tarfile.TarError, EOFError, OSError) as exc:
                raise BundleError(f"{name} has a damaged control archive ({exc}).") from None
    raise BundleError(f"{name} carries no control file.")


# -- the offline host ---------------------------------------------------------------------------------


def install_command(bundle_id: str, created: int) -> str:
    """As root: the checked incoming files become the bundle's repository (root's, world-readable so
    apt's sandbox user can read them), checked again where they now lie; ``created`` (the bundle's
    build time, seconds) is kept as the time of the bundle's ``created`` file (apt_install.redate_lists)."""
    d = shlex.quote(bundle_dir(bundle_id))
    return (
        f"set -e; cd {d}; chown -R 0:0 incoming; chmod 0755 incoming; "
        "find incoming -type f -exec chmod 0644 {} +; find incoming -type d -exec chmod 0755 {} +; "
        f"rm -rf repo; mv incoming repo; touch -d @{int(created)} created; "
        "cd repo; sha256sum --quiet -c SHA256SUMS"
    )


def sources_command(pockets: Sequence[tuple[str, str]]) -> str:
    """As root: write the sources list of the bundles applied on the host ((bundle id, sub-repository)
    pairs, checked), then read them into the bundles' own lists (a file: source: no network)."""
    if not pockets:
        return f"rm -rf -- {BUNDLE_SOURCES} {BUNDLE_LISTS}"
    lines = apt_sources(pockets).splitlines()
    ids = sorted({i for i, _ in pockets})
    opts = shlex.join(["apt-get", *source_options(ids), "-q", "update"])
    return (
        f"set -e; umask 022; install -d -m 0755 {BUNDLE_LISTS}/partial; "
        f"printf '%s\\n' {' '.join(shlex.quote(line) for line in lines)} > {BUNDLE_SOURCES}.new; "
        f"mv -f {BUNDLE_SOURCES}.new {BUNDLE_SOURCES}; LC_ALL=C {opts}; {redate_lists(ids)}"
    )


def remove_command(bundle_id: str) -> list[str]:
    return ["rm", "-rf", "--", f"{HOST_ROOT}/{check_id(bundle_id)}"]


def sums_file(files: Iterable[tuple[str, str]]) -> bytes:
    """``sha256sum -c`` input for (path, sha256) pairs (each part of a path checked: no newline)."""
    return "".join(f"{sha}  {_rel(name)}\n" for name, sha in files).encode()


def _rel(path: str) -> str:
    return "/".join(check_file_name(part) for part in path.split("/", 1))


def apply_update_failed(host: str, err: str) -> BundleError:
    return fail(host, "read the bundle's repository with apt-get update", err)
