"""Offline patch bundles: the manifest, its checks, and the repository index built for the packages.

A bundle is one file (tar + gzip) holding ``manifest.json``, ``manifest.sig`` (Ed25519 over the
manifest's exact bytes) and ``files/...``. The manifest lists every file with its SHA-256, size, what
it is for (an update or a rollback package of which host) and where it came from. Everything here is
pure: the services read and write the archive, sign and verify; this module decides what is valid.
Names and versions in a manifest came from a host at some point and stay untrusted text: they are
checked against the same patterns the adapters use before anything builds a path or a command.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.domain.errors import PatchdeskError

FORMAT = "patchdesk-bundle/1"
REQUEST_FORMAT = "patchdesk-bundle-request/1"
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
FILES_DIR = "files"

#: Refuse anything larger: a bundle is carried on a stick, not a mirror (and a hostile file cannot
#: make verification read forever). The manifest and a request are small JSON documents.
MAX_BUNDLE_BYTES = 32 * 1024**3
MAX_FILE_BYTES = 4 * 1024**3
MAX_FILES = 20_000
MAX_MANIFEST_BYTES = 16 * 1024**2
MAX_REQUEST_BYTES = 256 * 1024**2
MAX_STATUS_BYTES = 64 * 1024**2

#: What a bundle serves: apt and dnf repositories, and Windows updates (.msu/.cab files and the
#: offline scan catalogue wsusscn2.cab) for WUA
MANAGERS = ("apt", "dnf", "win")

#: Where an applied bundle lives on a host: owned by root, never under /etc.
HOST_ROOT = "/var/lib/patchdesk/bundles"

_ID_RE = re.compile(r"[0-9a-f]{16}")
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9+.-]{0,127}")
_VERSION_RE = re.compile(r"[A-Za-z0-9.+~:_-]{1,128}")
_ARCH_RE = re.compile(r"[a-z0-9_-]{1,32}")
_FILE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9+.~_%-]{0,254}")
_SHA_RE = re.compile(r"[0-9a-f]{64}")


class BundleError(PatchdeskError):
    """A bundle or request is damaged, tampered with, unsigned or does not fit: a sentence naming why."""


class Purpose(StrEnum):
    UPDATE = "update"  # a new version or a new dependency the update pulls in
    ROLLBACK = "rollback"  # the version installed now, kept so rollback works offline
    INDEX = "index"  # the repository index built for the packages


@dataclass(frozen=True)
class BundleFile:
    """One file in the bundle, under ``files/<group>/<name>``."""

    group: str  # "apt-bookworm-amd64": one repository per manager, release and architecture
    name: str  # the file name in the group's repository
    sha256: str
    size: int
    purpose: Purpose
    source: str = ""  # where it came from (the reference host and its repository URI)
    package: str = ""
    version: str = ""
    hosts: tuple[str, ...] = ()  # the hosts that need it
    #: the sub-repository of an index file (one per origin of the updates, see pocket_release)
    pocket: str = ""

    @property
    def rel(self) -> str:
        """The path inside the bundle's repository on the host."""
        return f"{self.pocket}/{self.name}" if self.pocket else self.name

    @property
    def member(self) -> str:
        return f"{FILES_DIR}/{self.group}/{self.rel}"

    def as_json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "name": self.name,
            "sha256": self.sha256,
            "size": self.size,
            "purpose": self.purpose.value,
            "source": self.source,
            "package": self.package,
            "version": self.version,
            "hosts": list(self.hosts),
            "pocket": self.pocket,
        }


@dataclass(frozen=True)
class BundleHost:
    """What one offline host gets: its group (repository) and the updates resolved for it."""

    name: str
    manager: str  # "apt" | "dnf" | "win"
    group: str
    release: str
    arch: str
    #: (package, installed version or "", new version): what the resolution found pending
    updates: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class Manifest:
    id: str
    created: str  # ISO time, UTC
    creator: str  # the workstation and user that built it
    reference: str  # the reference host's name
    signer: str  # the signing key's fingerprint (sha256 of the raw public key, hex)
    public_key: str  # the raw Ed25519 public key, hex
    hosts: tuple[BundleHost, ...]
    files: tuple[BundleFile, ...]
    classifications: tuple[str, ...] = ()
    format: str = FORMAT

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    def files_for(self, host: str) -> list[BundleFile]:
        """The files one host needs: its own index and every package listed for it."""
        group = next((h.group for h in self.hosts if h.name == host), None)
        if group is None:
            return []
        return [f for f in self.files if f.group == group and host in f.hosts]

    def host(self, name: str) -> BundleHost | None:
        return next((h for h in self.hosts if h.name == name), None)

    def to_bytes(self) -> bytes:
        data = {
            "format": self.format,
            "id": self.id,
            "created": self.created,
            "creator": self.creator,
            "reference": self.reference,
            "signer": self.signer,
            "public_key": self.public_key,
            "classifications": list(self.classifications),
            "hosts": [
                {
                    "name": h.name,
                    "manager": h.manager,
                    "group": h.group,
                    "release": h.release,
                    "arch": h.arch,
                    "updates": [list(u) for u in h.updates],
                }
                for h in self.hosts
            ],
            "files": [f.as_json() for f in self.files],
        }
        return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=True).encode()


def key_fingerprint(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()


def check_id(value: str) -> str:
    if not _ID_RE.fullmatch(value):
        raise BundleError(f"{value[:40]!r} is not a bundle id (16 hexadecimal digits).")
    return value


def check_group(value: str) -> str:
    if not re.fullmatch(r"(apt|dnf|win)-[A-Za-z0-9._]{1,40}-[a-z0-9_]{1,32}", value):
        raise BundleError(f"{value[:60]!r} is not a repository group of a bundle.")
    return value


def check_file_name(value: str) -> str:
    """A file name inside a group: no directory part, no leading dot, nothing a shell would expand."""
    if not _FILE_RE.fullmatch(value) or ".." in value:
        raise BundleError(f"{value[:80]!r} is not an acceptable file name in a bundle.")
    return value


def check_pocket(value: str) -> str:
    if value and not re.fullmatch(r"[a-z0-9]{1,16}", value):
        raise BundleError(f"{value[:40]!r} is not a sub-repository of a bundle.")
    return value


def check_package(name: str, version: str = "") -> None:
    if not _NAME_RE.fullmatch(name) or (version and not _VERSION_RE.fullmatch(version)):
        raise BundleError(f"{name[:80]!r} {version[:80]!r} is not a valid package name and version.")


def check_arch(arch: str) -> str:
    if not _ARCH_RE.fullmatch(arch):
        raise BundleError(f"{arch[:40]!r} is not a valid architecture.")
    return arch


def group_name(manager: str, release: str, arch: str) -> str:
    """The repository a host uses: one per manager, release and architecture."""
    safe = re.sub(r"[^A-Za-z0-9._]", "_", release)[:40] or "unknown"
    return check_group(f"{manager}-{safe}-{check_arch(arch)}")


def safe_member(name: str) -> str:
    """A tar member name that may be read: relative, no ``..``, no backslash, one of ours."""
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or any(part in ("", ".", "..") for part in name.split("/"))
        or len(name) > 400
    ):
        raise BundleError(f"The bundle holds a file with an unsafe path: {name[:120]!r}. It was refused.")
    return name


def _str(data: Mapping[str, Any], key: str, limit: int = 400) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or len(value) > limit:
        raise BundleError(f"The bundle manifest's {key!r} is not a short text.")
    return value


def _file(raw: Any) -> BundleFile:
    if not isinstance(raw, dict):
        raise BundleError("The bundle manifest lists a file that is not an object.")
    size = raw.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_FILE_BYTES:
        raise BundleError(f"The bundle manifest gives {_str(raw, 'name')!r} an impossible size.")
    sha = _str(raw, "sha256")
    if not _SHA_RE.fullmatch(sha):
        raise BundleError(f"The bundle manifest gives {_str(raw, 'name')!r} no valid SHA-256.")
    try:
        purpose = Purpose(_str(raw, "purpose"))
    except ValueError:
        raise BundleError(f"The bundle manifest gives {_str(raw, 'name')!r} an unknown purpose.") from None
    hosts = raw.get("hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) and len(h) <= 255 for h in hosts):
        raise BundleError("The bundle manifest lists hosts that are not names.")
    f = BundleFile(
        check_group(_str(raw, "group")),
        check_file_name(_str(raw, "name")),
        sha,
        size,
        purpose,
        _str(raw, "source"),
        _str(raw, "package"),
        _str(raw, "version"),
        tuple(hosts),
        check_pocket(_str(raw, "pocket")),
    )
    if f.pocket and f.purpose is not Purpose.INDEX:
        raise BundleError(f"The bundle manifest puts the package {f.name!r} in a sub-repository.")
    if f.package:
        check_package(f.package, f.version)
    return f


def _host(raw: Any) -> BundleHost:
    if not isinstance(raw, dict):
        raise BundleError("The bundle manifest lists a host that is not an object.")
    updates = raw.get("updates", [])
    if not isinstance(updates, list) or not all(
        isinstance(u, list) and len(u) == 3 and all(isinstance(x, str) and len(x) <= 256 for x in u)
        for u in updates
    ):
        raise BundleError("The bundle manifest lists updates it cannot read.")
    manager = _str(raw, "manager")
    if manager not in MANAGERS:
        raise BundleError(f"The bundle manifest names an unknown package manager {manager[:20]!r}.")
    return BundleHost(
        _str(raw, "name", 255),
        manager,
        check_group(_str(raw, "group")),
        _str(raw, "release"),
        check_arch(_str(raw, "arch")),
        tuple((u[0], u[1], u[2]) for u in updates),
    )


def parse_manifest(data: bytes) -> Manifest:
    """The manifest from its bytes; anything malformed raises BundleError (never a partial manifest)."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise BundleError("The bundle manifest is larger than any Patchdesk writes; it was refused.")
    try:
        raw = json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than any manifest's
        raise BundleError("The bundle manifest is not valid JSON.") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise BundleError("This file is not a Patchdesk bundle of a format this version reads.")
    files, hosts = raw.get("files"), raw.get("hosts")
    if not isinstance(files, list) or not isinstance(hosts, list) or len(files) > MAX_FILES:
        raise BundleError("The bundle manifest's file or host list is missing or too long.")
    classes = raw.get("classifications", [])
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise BundleError("The bundle manifest's classifications are not a list of words.")
    manifest = Manifest(
        check_id(_str(raw, "id")),
        _str(raw, "created"),
        _str(raw, "creator"),
        _str(raw, "reference"),
        _str(raw, "signer"),
        _str(raw, "public_key"),
        tuple(_host(h) for h in hosts),
        tuple(_file(f) for f in files),
        tuple(classes),
    )
    members = [f.member for f in manifest.files]
    if len(set(members)) != len(members):
        raise BundleError("The bundle manifest lists the same file twice.")
    if manifest.total_size > MAX_BUNDLE_BYTES:
        raise BundleError("The bundle manifest adds up to more than any bundle may hold.")
    return manifest


# -- the repository index ---------------------------------------------------------------------------

#: Control fields copied from a .deb into the Packages index, in Debian's usual order; others are
#: left out (the index only has to let apt resolve and fetch).
_INDEX_FIELDS = (
    "Package",
    "Source",
    "Version",
    "Architecture",
    "Multi-Arch",
    "Essential",
    "Priority",
    "Section",
    "Maintainer",
    "Installed-Size",
    "Pre-Depends",
    "Depends",
    "Recommends",
    "Suggests",
    "Breaks",
    "Conflicts",
    "Replaces",
    "Provides",
    "Enhances",
    "Description",
)


def parse_control(text: str) -> dict[str, str]:
    """A deb822 paragraph as a dict (continuation lines kept with their newline)."""
    fields: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if not line.strip():
            break
        if line[0] in " \t" and key:
            fields[key] += "\n" + line
            continue
        k, sep, v = line.partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}", k):
            raise BundleError(f"A package's control data has a line Patchdesk cannot read: {line[:80]!r}.")
        key = k
        fields[key] = v.strip()
    return fields


def packages_stanza(control: Mapping[str, str], filename: str, size: int, sha256: str) -> str:
    """One paragraph of a flat repository's Packages file for a .deb beside it."""
    lines = [f"{k}: {control[k]}" for k in _INDEX_FIELDS if k in control and k != "Description"]
    lines += [f"Filename: ./{check_file_name(filename)}", f"Size: {size}", f"SHA256: {sha256}"]
    if "Description" in control:
        lines.append(f"Description: {control['Description']}")
    return "\n".join(lines) + "\n"


_ORIGIN_PART = re.compile(r"[A-Za-z0-9._+~-]{1,64}")
BUNDLE_LABEL = "Patchdesk-Bundle"


def parse_origin(origin: str) -> tuple[str, str, str] | None:
    """(label, version, archive) of one apt ``Label:Version/Archive`` (or ``Label:Archive``) origin,
    or None when it is not one whose parts can be written into a Release file."""
    label, sep, rest = origin.partition(":")
    version, slash, archive = rest.partition("/")
    if not slash:
        version, archive = "", rest
    if not sep or not _ORIGIN_PART.fullmatch(label) or not _ORIGIN_PART.fullmatch(archive):
        return None
    if version and not _ORIGIN_PART.fullmatch(version):
        return None
    return label, version, archive


def release_file(packages: bytes, date: str, origin: tuple[str, str, str] | None = None) -> str:
    """A flat sub-repository's Release file: the label and archive of the origin its updates came
    from (so the offline host's scan sees a security update as one), its date (the index's age on the
    host) and the index's hash. Without an origin (the rollback packages): Patchdesk's own label."""
    label, version, archive = origin or (BUNDLE_LABEL, "", "patchdesk-bundle")
    digest = hashlib.sha256(packages).hexdigest()
    return (
        f"Origin: {label}\nLabel: {label}\nSuite: {archive}\n"
        + (f"Version: {version}\n" if version else "")
        + f"Date: {date}\nSHA256:\n {digest} {len(packages)} Packages\n"
    )


def apt_sources(pockets: Iterable[tuple[str, str]]) -> str:
    """The sources list of the bundles applied on one host: per (bundle id, sub-repository), a flat
    repository whose package files lie in the bundle's ``repo`` directory.

    ``trusted=yes``: Patchdesk checked the manifest's signature and every file's SHA-256 on the host
    before writing this list, so apt's own signature check has nothing left to add.
    """
    return "".join(
        f"deb [trusted=yes] file:{HOST_ROOT}/{check_id(i)}/repo {check_pocket(p)}/\n"
        for i, p in sorted(set(pockets))
    )


@dataclass(frozen=True)
class ResolvedPackage:
    """One package file the reference host fetched: what it is and whom it serves."""

    name: str
    version: str
    arch: str
    purpose: Purpose
    hosts: tuple[str, ...] = field(default_factory=tuple)
    origin: str = ""  # apt's Label:Version/Archive of an update's candidate


def merge_resolved(items: Sequence[ResolvedPackage]) -> list[ResolvedPackage]:
    """One entry per (name, version, arch): update wins over rollback, hosts are united."""
    merged: dict[tuple[str, str, str], ResolvedPackage] = {}
    for p in items:
        key = (p.name, p.version, p.arch)
        old = merged.get(key)
        if old is None:
            merged[key] = p
            continue
        purpose = Purpose.UPDATE if Purpose.UPDATE in (old.purpose, p.purpose) else p.purpose
        hosts = tuple(sorted(set(old.hosts) | set(p.hosts)))
        merged[key] = ResolvedPackage(p.name, p.version, p.arch, purpose, hosts, old.origin or p.origin)
    return [merged[k] for k in sorted(merged)]
