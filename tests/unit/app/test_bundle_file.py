"""The bundle file: written signed, verified completely, and every kind of damage refused by name."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from app.domain.bundle import (
    BundleError,
    BundleFile,
    BundleHost,
    Manifest,
    Purpose,
    key_fingerprint,
    parse_manifest,
    safe_member,
)
from app.services.bundle_file import verify_bundle, write_bundle
from app.services.bundle_keys import signature_checker

GROUP = "apt-bookworm-amd64"


class Key:
    def __init__(self) -> None:
        self.private = Ed25519PrivateKey.generate()
        self.public = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def check(self, trusted: bool = True):  # type: ignore[no-untyped-def]
        return signature_checker(self.public if trusted else None, {})


def build(tmp_path: Path, key: Key, contents: dict[str, bytes] | None = None) -> tuple[Path, Manifest]:
    contents = contents or {"pd-x_2_all.deb": b"new" * 1000, "pd-x_1_all.deb": b"old" * 900}
    files, local = [], {}
    for name, data in contents.items():
        path = tmp_path / name
        path.write_bytes(data)
        purpose = Purpose.UPDATE if "_2_" in name else Purpose.ROLLBACK
        f = BundleFile(GROUP, name, hashlib.sha256(data).hexdigest(), len(data), purpose, hosts=("web1",))
        files.append(f)
        local[f.member] = path
    manifest = Manifest(
        "0123456789abcdef",
        "2026-12-06T10:00:00+00:00",
        "admin@ws",
        "ref",
        key_fingerprint(key.public),
        key.public.hex(),
        (BundleHost("web1", "apt", GROUP, "bookworm", "amd64", (("pd-x", "1", "2"),)),),
        tuple(files),
    )
    out = tmp_path / "site.pdbundle"
    write_bundle(out, manifest, key.private.sign(manifest.to_bytes()), local)
    return out, manifest


def members(path: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(path, "r:gz") as tar:
        return [(m, tar.extractfile(m).read() if m.isfile() else b"") for m in tar]  # type: ignore[union-attr]


def rewrite(path: Path, items: list[tuple[tarfile.TarInfo, bytes]]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in items:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)


def test_a_written_bundle_verifies_and_extracts_what_is_asked(tmp_path: Path) -> None:
    key = Key()
    path, manifest = build(tmp_path, key)
    out = tmp_path / "out"
    got = verify_bundle(path, key.check(), extract_to=out, wanted=[manifest.files[0].member])
    assert got == manifest
    assert (out / manifest.files[0].member).read_bytes() == b"new" * 1000
    assert not (out / manifest.files[1].member).exists()


def test_one_changed_byte_in_a_package_is_refused_naming_it(tmp_path: Path) -> None:
    key = Key()
    path, _ = build(tmp_path, key)
    items = members(path)
    info, data = items[2]
    items[2] = (info, data[:10] + bytes([data[10] ^ 1]) + data[11:])
    rewrite(path, items)
    with pytest.raises(BundleError, match=f"{info.name} does not match its SHA-256"):
        verify_bundle(path, key.check())


def test_a_cut_short_bundle_is_refused(tmp_path: Path) -> None:
    key = Key()
    path, _ = build(tmp_path, key)
    data = path.read_bytes()
    for cut in (len(data) // 3, len(data) - 30):
        path.write_bytes(data[:cut])
        with pytest.raises(BundleError, match=r"cut short|damaged"):
            verify_bundle(path, key.check())


def test_a_missing_member_is_refused_naming_it(tmp_path: Path) -> None:
    key = Key()
    path, manifest = build(tmp_path, key)
    rewrite(path, members(path)[:-1])
    with pytest.raises(BundleError, match=f"cut short: {manifest.files[-1].member}"):
        verify_bundle(path, key.check())


def test_a_changed_manifest_or_a_stranger_key_is_refused(tmp_path: Path) -> None:
    key = Key()
    path, _ = build(tmp_path, key)
    items = members(path)
    info, data = items[0]
    items[0] = (info, data.replace(b'"admin@ws"', b'"evil@ws!"'))
    rewrite(path, items)
    with pytest.raises(BundleError, match="does not match its signature"):
        verify_bundle(path, key.check())
    path, _ = build(tmp_path, key)
    with pytest.raises(BundleError, match="does not trust"):
        verify_bundle(path, key.check(trusted=False))
    trusted = signature_checker(None, {key_fingerprint(key.public): key.public.hex()})
    verify_bundle(path, trusted)  # a key trusted with `bundle trust`


@pytest.mark.parametrize("kind", ["symlink", "traversal", "extra", "absolute"])
def test_links_paths_out_of_the_bundle_and_unlisted_members_are_refused(tmp_path: Path, kind: str) -> None:
    key = Key()
    path, manifest = build(tmp_path, key)
    items = members(path)
    if kind == "symlink":
        info = tarfile.TarInfo(manifest.files[0].member)
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/shadow"
        items[2] = (info, b"")
    else:
        name = {"traversal": "files/../../etc/cron.d/x", "extra": "files/x/evil.deb", "absolute": "/etc/x"}[
            kind
        ]
        items.insert(2, (tarfile.TarInfo(name), b"* * * * * root sh"))
    rewrite(path, items)
    with pytest.raises(BundleError, match=r"link or a special file|unsafe path|does not list"):
        verify_bundle(path, key.check())


def test_a_manifest_claiming_absurd_sizes_or_paths_is_refused() -> None:
    key = Key()
    good = BundleFile(GROUP, "a.deb", "0" * 64, 1, Purpose.UPDATE)
    m = Manifest("0123456789abcdef", "t", "c", "r", "s", key.public.hex(), (), (good,))
    assert parse_manifest(m.to_bytes()) == m
    for bad in (
        m.to_bytes().replace(b'"size": 1', b'"size": 99999999999999'),
        m.to_bytes().replace(b'"a.deb"', b'"../a.deb"'),
        m.to_bytes().replace(b'"a.deb"', b'"a.deb\\nb"'),
        m.to_bytes().replace(b'"0123456789abcdef"', b'"../../x"'),
        b"[" * 100_000,
        b"{}",
    ):
        with pytest.raises(BundleError):
            parse_manifest(bad)
    with pytest.raises(BundleError):
        safe_member("files/./a")


def test_not_a_bundle_is_refused_in_a_sentence(tmp_path: Path) -> None:
    path = tmp_path / "x.pdbundle"
    path.write_bytes(b"hello")
    with pytest.raises(BundleError, match=r"not a Patchdesk bundle|damaged"):
        verify_bundle(path, Key().check())
    with pytest.raises(BundleError, match="Cannot read"):
        verify_bundle(tmp_path / "missing.pdbundle", Key().check())


def test_a_site_without_a_keyring_verifies_a_bundle_signed_by_a_trusted_key(tmp_path: Path, db) -> None:  # type: ignore[no-untyped-def]
    from keyring.backends.fail import Keyring

    from app.secrets import SecretStore
    from app.services import bundle_apply
    from db import bundles as db_bundles

    key = Key()
    path, manifest = build(tmp_path, key)
    no_keyring = SecretStore(Keyring())
    with pytest.raises(BundleError, match="does not trust"):
        bundle_apply.verify(db, path, no_keyring)
    db_bundles.trust_key(db, key_fingerprint(key.public), key.public.hex(), "builder")
    assert bundle_apply.verify(db, path, no_keyring) == manifest
    stored = db_bundles.get_bundle(db, manifest.id)
    assert stored is not None and stored.verified_at is not None
