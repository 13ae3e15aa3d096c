"""Known error conditions.

Every exception here is a *known* condition: it carries a sentence a user can act on, and the UI shows
that sentence instead of a traceback. Anything that is not a PatchdeskError is a bug and goes to the
crash dialog with its traceback.
"""

from __future__ import annotations


class PatchdeskError(Exception):
    """Base of known errors. ``str(err)`` is the user-facing sentence."""

    #: Step state a host ends in when this error stops it ("failed" or "unreachable").
    host_state = "failed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(PatchdeskError):
    """Bad input from the user: a malformed option, an unknown host name."""


class DatabaseError(PatchdeskError):
    """The database cannot be opened or written (locked, full disk, corrupt)."""


class SchemaTooNewError(DatabaseError):
    """The database was written by a newer Patchdesk."""


class SecretStoreError(PatchdeskError):
    """The OS keyring is missing, locked or refused the operation."""


class ImportFormatError(PatchdeskError):
    """An inventory file could not be read at all (a bad row is reported, not raised)."""


class TransportError(PatchdeskError):
    """Talking to a host failed."""


class UnreachableError(TransportError):
    """The host could not be reached: refused, timed out, no route, DNS failure."""

    host_state = "unreachable"


class AuthenticationError(TransportError):
    """The host answered but refused our credentials."""


class HostKeyError(TransportError):
    """Base for host-key problems."""

    def __init__(self, message: str, *, host: str, keytype: str, key_b64: str, fingerprint: str) -> None:
        super().__init__(message)
        self.host = host
        self.keytype = keytype
        self.key_b64 = key_b64
        self.fingerprint = fingerprint


class HostKeyUnknownError(HostKeyError):
    """First contact: the key must be confirmed before we log in."""


class HostKeyChangedError(HostKeyError):
    """The host presented a key different from the trusted one: possible interception."""

    def __init__(
        self, message: str, *, host: str, keytype: str, key_b64: str, fingerprint: str, old_fingerprint: str
    ) -> None:
        super().__init__(message, host=host, keytype=keytype, key_b64=key_b64, fingerprint=fingerprint)
        self.old_fingerprint = old_fingerprint


class CommandTimeoutError(TransportError):
    """A command on the host did not finish within its timeout."""


class DeadlineExceededError(TransportError):
    """The overall per-host deadline of a job ran out."""


class SudoError(TransportError):
    """sudo refused: a password is needed and none is stored, or it was wrong."""


class CancelledError(PatchdeskError):
    """The user cancelled the job."""


class AdapterError(PatchdeskError):
    """A package manager reported a failure (locked database, broken repository, bad output)."""


class UnsupportedHostError(AdapterError):
    """No known package manager was found on the host."""


class AdvisoryFormatError(PatchdeskError):
    """An advisory file is malformed or not a known format; nothing of it was imported."""


class AdvisorySourceError(PatchdeskError):
    """An online advisory source could not be reached or answered nonsense."""
