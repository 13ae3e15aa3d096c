"""Rules for what makes a valid host, shared by the CLI, the GUI dialogs and the importers."""

from __future__ import annotations

import re

from app.domain.errors import ConfigError
from app.domain.models import Host, StrEnum, TransportKind

_NAME_BAD = re.compile(r"[\x00-\x1f\x7f]")

DEFAULT_PORTS = {TransportKind.SSH: 22, TransportKind.WINRM: 5986, TransportKind.LOCAL: None}


def validate_host(host: Host) -> None:
    """Raise ConfigError with a sentence naming the first problem of ``host``."""
    if not host.name.strip():
        raise ConfigError("A host needs a name.")
    if _NAME_BAD.search(host.name) or len(host.name) > 255:
        raise ConfigError(f"The host name {host.name!r} contains control characters or is too long.")
    addr = host.address
    if not addr.strip() or any(c.isspace() for c in addr) or _NAME_BAD.search(addr) or len(addr) > 255:
        raise ConfigError(
            f"The address {addr!r} of {host.name} is empty or contains spaces or control characters."
        )
    if addr.startswith("-"):
        raise ConfigError(f"The address {addr!r} of {host.name} may not start with '-'.")
    if host.port is not None and not 0 < host.port < 65536:
        raise ConfigError(f"The port {host.port} of {host.name} is not between 1 and 65535.")
    if host.user is not None and (not host.user or _NAME_BAD.search(host.user) or host.user.startswith("-")):
        raise ConfigError(f"The user name {host.user!r} of {host.name} is not valid.")


def parse_choice(enum_type: type[StrEnum], value: str, what: str) -> str:
    """Normalise a user-typed enum value, with a sentence listing the choices when it is wrong."""
    v = value.strip().lower()
    for member in enum_type:
        if member.value == v:
            return str(member.value)
    choices = ", ".join(m.value for m in enum_type)
    raise ConfigError(f"{what} must be one of {choices}, not {value!r}.")


def parse_port(value: str, what: str = "port") -> int | None:
    v = value.strip()
    if not v:
        return None
    if not v.isdigit() or not 0 < int(v) < 65536:
        raise ConfigError(f"The {what} {value!r} is not a number between 1 and 65535.")
    return int(v)
