"""The bundle file: write it (signed), verify it completely, and extract the files a site needs.

One tar + gzip stream: ``manifest.json`` first, then ``manifest.sig``, then ``files/<group>/<name>``
in manifest order. Python has no zstd module in its standard library before 3.14 and the packages are
compressed already, so gzip at a low level costs little. Verification reads the stream once, in
bounded memory, and refuses anything that is not exactly what the signed manifest says: a changed
byte, a missing or extra member, a link, a path that leaves the bundle, a stream cut short. The error
names the bad file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from app.domain.bundle import (
    MANIFEST_NAME,
    MAX_BUNDLE_BYTES,
    MAX_MANIFEST_BYTES,
    SIGNATURE_NAME,
    BundleError,
    Manifest,
    parse_manifest,
    safe_member,
)

CHUNK = 1024 * 1024
#: Progress callback: (bytes done, bytes in all).
Progress = Callable[[int, int], None]


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def write_bundle(
    path: Path,
    manifest: Manifest,
    signature: bytes,
    files: Mapping[str, Path],
    progress: Progress | None = None,
) -> None:
    """Write the bundle atomically (a temporary file beside it, then a rename). ``files`` maps each
    manifest member to the local file holding it; its size is checked against the manifest again."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent or Path("."))
    total, done = manifest.total_size, 0
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz", compresslevel=3) as tar:
            _add_bytes(tar, MANIFEST_NAME, manifest.to_bytes())
            _add_bytes(tar, SIGNATURE_NAME, signature)
            for f in manifest.files:
                local = files[f.member]
                if local.stat().st_size != f.size:
                    raise BundleError(f"{f.name} changed while the bundle was being written.")
                info = tarfile.TarInfo(f.member)
                info.size, info.mode = f.size, 0o644
                with local.open("rb") as src:
                    tar.addfile(info, src)
                done += f.size
                if progress is not None:
                    progress(done, total)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_small(tar: tarfile.TarFile, member: tarfile.TarInfo, limit: int) -> bytes:
    if not member.isfile() or member.size > limit:
        raise BundleError(f"{member.name} in the bundle is not what Patchdesk writes there; it was refused.")
    handle = tar.extractfile(member)
    assert handle is not None
    data = _read_chunk(handle, member.name, limit + 1)
    if len(data) != member.size:
        raise BundleError(f"The bundle is cut short inside {member.name}.")
    return data


def _next(tar: tarfile.TarFile, after: str) -> tarfile.TarInfo | None:
    try:
        return tar.next()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise BundleError(f"The bundle is damaged or cut short after {after} ({exc}).") from None


@dataclass
class OpenBundle:
    """A bundle being read: its manifest (signature checked), the tar stream after it, and the gzip
    layer under it, whose end is checked once every member was read (a bundle cut short inside its
    final padding has every file but not its gzip trailer, and is refused all the same)."""

    manifest: Manifest
    tar: tarfile.TarFile
    gz: gzip.GzipFile
    raw: BinaryIO

    def finish(self) -> None:
        try:
            while self.gz.read(CHUNK):
                pass
        except (OSError, EOFError, zlib.error) as exc:
            raise BundleError(f"The bundle is damaged or cut short at its end ({exc}).") from None
        finally:
            self.close()

    def close(self) -> None:
        self.tar.close()
        self.gz.close()
        self.raw.close()


def _open(path: Path) -> tuple[tarfile.TarFile, gzip.GzipFile, BinaryIO]:
    try:
        size = path.stat().st_size
        raw = path.open("rb")
    except OSError as exc:
        raise BundleError(f"Cannot read the bundle {path}: {exc.strerror or exc}.") from None
    if size > MAX_BUNDLE_BYTES:
        raw.close()
        raise BundleError(f"{path} is larger than any bundle may be; it was refused.")
    gz = gzip.GzipFile(fileobj=raw, mode="rb")
    try:
        return tarfile.open(fileobj=gz, mode="r|"), gz, raw
    except (EOFError, zlib.error) as exc:
        gz.close()
        raw.close()
        raise BundleError(f"{path} is damaged or cut short ({exc}).") from None
    except (tarfile.TarError, OSError) as exc:
        gz.close()
        raw.close()
        raise BundleError(f"{path} is not a Patchdesk bundle (not a gzip'd tar archive: {exc}).") from None


def read_manifest(path: Path, check_signature: Callable[[Manifest, bytes, bytes], None]) -> OpenBundle:
    """The manifest (its signature checked by ``check_signature(manifest, manifest bytes, sig)``) and
    the open stream positioned after it."""
    tar, gz, raw = _open(Path(path))
    try:
        first = _next(tar, "its start")
        if first is None or first.name != MANIFEST_NAME:
            raise BundleError(f"{path} does not start with a Patchdesk bundle manifest.")
        data = _read_small(tar, first, MAX_MANIFEST_BYTES)
        second = _next(tar, MANIFEST_NAME)
        if second is None or second.name != SIGNATURE_NAME:
            raise BundleError(f"{path} has no signature after its manifest; it was refused.")
        signature = _read_small(tar, second, 1024)
        manifest = parse_manifest(data)
        check_signature(manifest, data, signature)
    except BaseException:
        tar.close()
        gz.close()
        raw.close()
        raise
    return OpenBundle(manifest, tar, gz, raw)


def verify_bundle(
    path: Path,
    check_signature: Callable[[Manifest, bytes, bytes], None],
    *,
    extract_to: Path | None = None,
    wanted: Iterable[str] | None = None,
    progress: Progress | None = None,
) -> Manifest:
    """Check the whole bundle against its signed manifest; optionally keep the ``wanted`` members (all
    when None) under ``extract_to``. Raises BundleError naming the first bad file."""
    opened = read_manifest(Path(path), check_signature)
    manifest, tar = opened.manifest, opened.tar
    expected = {f.member: f for f in manifest.files}
    keep = set(expected) if wanted is None else set(wanted)
    seen: set[str] = set()
    done, total = 0, manifest.total_size
    try:
        last = SIGNATURE_NAME
        while (member := _next(tar, last)) is not None:
            name = safe_member(member.name)
            entry = expected.get(name)
            if entry is None or name in seen:
                raise BundleError(f"The bundle holds {name}, which its signed manifest does not list.")
            if not member.isfile():
                raise BundleError(f"{name} in the bundle is a link or a special file: refused.")
            if member.size != entry.size:
                raise BundleError(f"{name} has {member.size} bytes where the manifest says {entry.size}.")
            target = (extract_to / name) if extract_to is not None and name in keep else None
            _check_member(tar, member, entry.sha256, target)
            seen.add(name)
            last = name
            done += entry.size
            if progress is not None:
                progress(done, total)
    except BaseException:
        opened.close()
        raise
    opened.finish()
    missing = [m for m in expected if m not in seen]
    if missing:
        raise BundleError(f"The bundle is cut short: {missing[0]} (and {len(missing) - 1} more) are missing.")
    return manifest


def _check_member(tar: tarfile.TarFile, member: tarfile.TarInfo, sha256: str, target: Path | None) -> None:
    handle = tar.extractfile(member)
    assert handle is not None
    digest = hashlib.sha256()
    out = None
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        out = target.open("wb")
    read = 0
    try:
        while chunk := _read_chunk(handle, member.name):
            digest.update(chunk)
            read += len(chunk)
            if out is not None:
                out.write(chunk)
    finally:
        if out is not None:
            out.close()
    if read != member.size:
        raise BundleError(f"The bundle is cut short inside {member.name}.")
    if digest.hexdigest() != sha256:
        if target is not None:
            target.unlink(missing_ok=True)
        raise BundleError(
            f"The bundle's {member.name} does not match its SHA-256 in the signed manifest: it was changed."
        )


def _read_chunk(handle: IO[bytes], name: str, size: int = CHUNK) -> bytes:
    try:
        return handle.read(size)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise BundleError(f"The bundle is damaged or cut short inside {name} ({exc}).") from None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
