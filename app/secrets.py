"""The only door to the OS keyring.

Login passwords, sudo passwords and key passphrases live in the system's Secret Service (GNOME
Keyring, KWallet, KeePassXC), macOS Keychain or Windows Credential Manager, under the service name
"patchdesk"; the database keeps only the *reference* (the keyring user name). When no usable keyring
exists -- a headless box, a locked collection, keyring's "fail" backend -- we say so in a sentence and
refuse. There is deliberately no plaintext fallback, not even keyrings.alt's PlaintextKeyring if it
happens to be installed: a patch console's sudo passwords are the keys to every server.

``keyring`` is imported lazily: discovering backends costs noticeable time (entry points, D-Bus) and
CLI commands that never touch a secret should not pay for it.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Literal

from app.domain.errors import SecretStoreError

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

logger = logging.getLogger(__name__)

SERVICE = "patchdesk"

SecretKind = Literal["login", "sudo", "key-passphrase"]
KINDS: tuple[str, ...] = ("login", "sudo", "key-passphrase")

NO_KEYRING = (
    "No system keyring is available: install and unlock GNOME Keyring/KWallet/KeePassXC (Secret Service) "
    "or use key-file or agent authentication; Patchdesk never stores passwords in plain text."
)
LOCKED = (
    "The system keyring is locked: unlock it (log in to the desktop session, or unlock the 'login' "
    "keyring in your keyring manager) and try again."
)

#: Backends that would write secrets where anyone with the file can read them.
_PLAINTEXT_BACKENDS = ("PlaintextKeyring",)


def new_ref(kind: SecretKind, host_name: str) -> str:
    """A fresh keyring reference for one secret of one host: ``host:<name>:<kind>:<short uuid>``.

    The random part keeps references unique when a host is renamed or re-imported, so an old entry
    can never be picked up by a new host of the same name.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown secret kind {kind!r}; expected one of {', '.join(KINDS)}")
    return f"host:{host_name}:{kind}:{uuid.uuid4().hex[:12]}"


class SecretStore:
    """Secrets by reference in the OS keyring; raises SecretStoreError instead of degrading."""

    new_ref = staticmethod(new_ref)

    def __init__(self, keyring_backend: KeyringBackend | None = None) -> None:
        """``keyring_backend``: a specific backend (tests, settings); None asks keyring to pick one."""
        self._backend = keyring_backend

    # -- introspection --------------------------------------------------------------------------------

    def backend(self) -> KeyringBackend:
        if self._backend is None:
            import keyring

            _register_builtin_backends()
            self._backend = keyring.get_keyring()
        return self._backend

    def backend_name(self) -> str:
        """A human name for the backend in use, e.g. "SecretService Keyring" (shown in settings)."""
        backend = self._usable_backend_or_none()
        b = backend if backend is not None else self.backend()
        name = getattr(b, "name", None)
        return str(name) if name else f"{type(b).__module__}.{type(b).__qualname__}"

    def status(self) -> tuple[bool, str]:
        """Whether secrets can be stored now, with a sentence for the settings page either way."""
        backend = self._usable_backend_or_none()
        if backend is None:
            return False, NO_KEYRING
        try:
            backend.get_password(SERVICE, "__patchdesk_probe__")
        except Exception as exc:
            return False, self._error(exc, "reach").message
        return True, f"Secrets are stored in the system keyring ({self.backend_name()})."

    # -- secrets --------------------------------------------------------------------------------------

    def set(self, ref: str, secret: str) -> None:
        backend = self._usable_backend()
        try:
            backend.set_password(SERVICE, ref, secret)
        except Exception as exc:
            raise self._error(exc, "store the secret in") from exc
        logger.info("stored secret %s in %s", ref, self.backend_name())

    def get(self, ref: str) -> str | None:
        """The secret, or None when nothing is stored under ``ref``; an unusable keyring raises."""
        backend = self._usable_backend()
        try:
            value = backend.get_password(SERVICE, ref)
        except Exception as exc:
            raise self._error(exc, "read the secret from") from exc
        return None if value is None else str(value)

    def delete(self, ref: str) -> None:
        """Remove a secret; deleting one that is not there is not an error (idempotent clean-up)."""
        from keyring.errors import PasswordDeleteError

        backend = self._usable_backend()
        try:
            backend.delete_password(SERVICE, ref)
        except PasswordDeleteError:
            if self.get(ref) is not None:
                raise SecretStoreError(f"The system keyring refused to delete the secret {ref}.") from None
        except Exception as exc:
            raise self._error(exc, "delete the secret from") from exc
        logger.info("deleted secret %s", ref)

    # -- internals ------------------------------------------------------------------------------------

    def _usable_backend(self) -> KeyringBackend:
        backend = self._usable_backend_or_none()
        if backend is None:
            raise SecretStoreError(NO_KEYRING)
        return backend

    def _usable_backend_or_none(self) -> KeyringBackend | None:
        """The backend to use, with every fail/null/plaintext backend filtered out."""
        try:
            backend = self.backend()
        except Exception:
            logger.warning("keyring backend discovery failed", exc_info=True)
            return None
        from keyring.backends import chainer

        if isinstance(backend, chainer.ChainerBackend):
            usable = [b for b in backend.backends if _acceptable(b)]
            return usable[0] if usable else None
        return backend if _acceptable(backend) else None

    @staticmethod
    def _error(exc: Exception, doing: str) -> SecretStoreError:
        from keyring import errors

        if isinstance(exc, errors.KeyringLocked):
            return SecretStoreError(LOCKED)
        if isinstance(exc, errors.InitError | errors.NoKeyringError):
            return SecretStoreError(NO_KEYRING)
        # D-Bus errors, a crashed daemon, a refused write: known conditions of the environment, not bugs
        logger.warning("keyring operation failed", exc_info=exc)
        detail = str(exc) or type(exc).__name__
        return SecretStoreError(f"Could not {doing} the system keyring: {detail}")


def _acceptable(backend: KeyringBackend) -> bool:
    module = type(backend).__module__
    name = type(backend).__name__
    if module in ("keyring.backends.fail", "keyring.backends.null"):
        return False
    if name in _PLAINTEXT_BACKENDS:
        logger.warning("refusing plaintext keyring backend %s.%s", module, name)
        return False
    return True


#: keyring's own backends. keyring registers even these through its package's entry points
#: (``keyring.backends`` group), i.e. through the ``keyring-*.dist-info`` metadata.
_BUILTIN_BACKENDS = (
    "keyring.backends.SecretService",
    "keyring.backends.kwallet",
    "keyring.backends.libsecret",
    "keyring.backends.Windows",
    "keyring.backends.macOS",
    "keyring.backends.chainer",
)


def _register_builtin_backends() -> None:
    """In a frozen build, import keyring's backends by name before keyring picks one.

    A PyInstaller bundle carries keyring's metadata (build.spec copies it), but if it ever went
    missing, entry-point discovery would find nothing and keyring would silently settle on its fail
    backend. A backend class registers itself when its module is imported, so importing them here
    keeps the OS keyring reachable either way. From source the entry points already do exactly this.
    """
    import sys

    if not getattr(sys, "frozen", False):
        return
    import importlib

    for name in _BUILTIN_BACKENDS:
        try:
            importlib.import_module(name)
        except Exception:  # a backend whose platform libraries are absent is simply not offered
            logger.debug("keyring backend %s not importable", name, exc_info=True)


def known_backends() -> list[str]:
    """Names of the keyring backends this installation can offer, usable here or not.

    Read from keyring's entry points, the mechanism a frozen build loses when packaging goes wrong;
    the self-test prints it so a bundle without its backends is caught before it reaches a site.
    """
    from importlib.metadata import entry_points

    return sorted({ep.name for ep in entry_points(group="keyring.backends")})
