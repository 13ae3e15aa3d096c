"""The workstation's bundle-signing key (Ed25519, kept in the OS keyring) and the keys it trusts.

The connected side signs a bundle's manifest; the offline site accepts a bundle only when the key
that signed it is its own or one the administrator trusted (``patchdesk bundle trust``), so a bundle
swapped on the way is refused even when its hashes agree with a manifest written by someone else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from app.domain.bundle import BundleError, Manifest, key_fingerprint
from app.domain.errors import SecretStoreError

if TYPE_CHECKING:
    from app.secrets import SecretStore

logger = logging.getLogger(__name__)

#: the keyring entry (service "patchdesk") of this workstation's signing key
KEY_REF = "bundle-signing-key"


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


class Signer:
    """This workstation's key: created in the keyring on first use, never written anywhere else."""

    def __init__(self, secrets: SecretStore) -> None:
        self._secrets = secrets
        self._key: Ed25519PrivateKey | None = None

    def _load(self, create: bool) -> Ed25519PrivateKey | None:
        if self._key is not None:
            return self._key
        stored = self._secrets.get(KEY_REF)
        if stored is None:
            if not create:
                return None
            key = Ed25519PrivateKey.generate()
            self._secrets.set(KEY_REF, key.private_bytes_raw().hex())
            logger.info("created this workstation's bundle-signing key")
        else:
            try:
                key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(stored))
            except ValueError:
                raise SecretStoreError(
                    "The bundle-signing key in the system keyring is damaged; delete the keyring entry "
                    f"'{KEY_REF}' (service patchdesk) to create a new one."
                ) from None
        self._key = key
        return key

    def public_key(self, *, create: bool = True) -> bytes | None:
        key = self._load(create)
        return None if key is None else _raw_public(key)

    def fingerprint(self, *, create: bool = True) -> str | None:
        raw = self.public_key(create=create)
        return None if raw is None else key_fingerprint(raw)

    def sign(self, data: bytes) -> bytes:
        key = self._load(True)
        assert key is not None
        return key.sign(data)


def signature_checker(own: bytes | None, trusted: dict[str, str]) -> Callable[[Manifest, bytes, bytes], None]:
    """A check for bundle_file.read_manifest: the manifest's key must be this workstation's own
    (``own``) or a trusted one (fingerprint -> public key hex), and the signature must hold."""

    def check(manifest: Manifest, data: bytes, signature: bytes) -> None:
        try:
            public = bytes.fromhex(manifest.public_key)
        except ValueError:
            raise BundleError("The bundle names a signing key that is not a key; it was refused.") from None
        fingerprint = key_fingerprint(public)
        if fingerprint != manifest.signer:
            raise BundleError("The bundle's signer does not match its key; it was refused.")
        if public != own and trusted.get(fingerprint) != manifest.public_key:
            raise BundleError(
                f"The bundle was signed by key {fingerprint[:16]}…, which this workstation does not trust. "
                "If it is the key of the workstation that built it, trust it with `patchdesk bundle trust "
                "KEYFILE` (the file `patchdesk bundle key -o KEYFILE` writes there)."
            )
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(signature, data)
        except (InvalidSignature, ValueError):
            raise BundleError("The bundle's manifest does not match its signature: it was changed.") from None

    return check
