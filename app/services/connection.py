""" "Test connection": reach a host as a job would, before it is saved, and say what was found.

The dialog's typed passwords are used as they are (nothing is stored), a host key seen for the first
time is shown but not trusted (the first scan trusts it, as its policy says), and the check ends with
the OS, the package managers and whether root works -- or with the sentence of what failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast

from app.domain.errors import PatchdeskError, SudoError
from app.domain.events import Event, HostKeyLearned
from app.domain.models import Host, HostKey, TransportKind
from app.transports.base import Deadline, Transport

if TYPE_CHECKING:
    from app.secrets import SecretStore

_TYPED_LOGIN = "patchdesk-typed:login"
_TYPED_SUDO = "patchdesk-typed:sudo"


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    summary: str  # one sentence
    details: tuple[str, ...] = ()


class _TypedSecrets:
    """The keyring, with the passwords typed into the dialog in front of it."""

    def __init__(self, store: Any, typed: dict[str, str]) -> None:
        self._store = store
        self._typed = typed

    def get(self, ref: str) -> str | None:
        if ref in self._typed:
            return self._typed[ref]
        getter = getattr(self._store, "get", None)
        return getter(ref) if getter is not None else None


def check_connection(
    host: Host,
    *,
    secrets: SecretStore | None = None,
    login_password: str | None = None,
    sudo_password: str | None = None,
    trusted_keys: Sequence[HostKey] = (),
    timeout: float = 20.0,
) -> ConnectionCheck:
    """Log in, read the facts and try root; never raises for a known failure."""
    from app.platforms.family import family_of
    from app.transports.factory import TransportFactory

    typed: dict[str, str] = {}
    if login_password:
        typed[_TYPED_LOGIN] = login_password
        host = replace(host, credential_ref=_TYPED_LOGIN)
    if sudo_password:
        typed[_TYPED_SUDO] = sudo_password
        host = replace(host, sudo_ref=_TYPED_SUDO)
    # the factory keys trusted keys by host id; a host not yet saved gets a stand-in id
    probe = host if host.id is not None else replace(host, id=-1)
    learned: list[HostKey] = []

    def report(ev: Event) -> None:
        if isinstance(ev, HostKeyLearned):
            learned.append(ev.key)

    factory = TransportFactory(
        trusted_keys={probe.id or -1: list(trusted_keys)},
        accept_new_keys=not trusted_keys,
        secrets=cast("SecretStore", _TypedSecrets(secrets, typed)),
        connect_timeout=min(timeout, 15.0),
    )
    details: list[str] = []
    try:
        transport = factory.connect(probe, Deadline(timeout), report, job_id=0)
        try:
            family = family_of(probe)
            facts, managers, _ = family.facts(transport)
            details.append(f"Operating system: {family.describe(facts)}.")
            details.append(
                "Package managers: " + (", ".join(sorted(managers)) if managers else "none found") + "."
            )
            details.append(_root(transport, probe))
        finally:
            transport.close()
    except PatchdeskError as exc:
        return ConnectionCheck(False, str(exc), tuple(details))
    for key in learned:
        details.append(
            f"Host key {key.keytype} {key.fingerprint}: seen for the first time, not trusted yet "
            "(the first scan trusts it)."
        )
    return ConnectionCheck(True, f"Connected to {host.name}.", tuple(details))


def _root(transport: Transport, host: Host) -> str:
    if transport.is_root:
        return "Root: logged in with administrator rights."
    if host.transport == TransportKind.WINRM or not host.use_sudo:
        return "Root: not available (sudo is off for this host); scans work, patching will not."
    try:
        res = transport.run("id -u", sudo=True, timeout=15)
    except SudoError as exc:
        return f"Root: {exc} Scans work; patching will not until then."
    if res.ok and res.out.strip() == "0":
        return "Root: sudo works."
    why = (res.err or res.out).strip().splitlines()
    return "Root: sudo failed" + (f" ({why[-1][:200]})" if why else "") + "; scans work, patching will not."
