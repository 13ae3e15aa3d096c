"""Rules for what makes a valid host, shared by the CLI, the GUI dialogs and the importers."""

from __future__ import annotations

import ipaddress
import re

from app.domain.errors import ConfigError
from app.domain.models import Host, StrEnum, TransportKind

_NAME_BAD = re.compile(r"[\x00-\x1f\x7f]")

# One DNS label as it goes on the wire (after IDNA); underscores are common in internal names and ssh
# aliases, so they are allowed too.
_LABEL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")
MAX_QUOTED = 80
_TAG = re.compile(r"^[\w.:/-](?:[\w .:/-]{0,62}[\w.:/-])?$")
# Service names reach health-check commands as arguments; shell syntax never passes.
_SERVICE = re.compile(r"^[A-Za-z0-9@._:+-]{1,128}$")
_COMMAND_BAD = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # tabs are fine in a command, newlines are not

DEFAULT_PORTS = {TransportKind.SSH: 22, TransportKind.WINRM: 5986, TransportKind.LOCAL: None}


def validate_host(host: Host) -> None:
    """Raise ConfigError with a sentence naming the first problem of ``host``."""
    if not host.name.strip():
        raise ConfigError("A host needs a name.")
    if _NAME_BAD.search(host.name) or len(host.name) > 255:
        raise ConfigError(f"The host name {quoted(host.name)} contains control characters or is too long.")
    validate_address(host.address, host.name)
    if host.port is not None and not 0 < host.port < 65536:
        raise ConfigError(f"The port {host.port} of {host.name} is not between 1 and 65535.")
    if host.user is not None and (not host.user or _NAME_BAD.search(host.user) or host.user.startswith("-")):
        raise ConfigError(f"The user name {host.user!r} of {host.name} is not valid.")
    for tag in host.tags:
        if not _TAG.match(tag):
            raise ConfigError(
                f"The tag {quoted(tag)} of {host.name} is not valid: letters, digits, spaces and . _ - : / "
                "only, at most 64 characters."
            )
    for service in host.services:
        if not _SERVICE.match(service):
            raise ConfigError(
                f"The service name {quoted(service)} of {host.name} is not valid: a systemd unit or Windows "
                "service name (letters, digits and @ . _ : + -)."
            )
    for what, command in (
        ("pre-command", host.pre_command),
        ("post-command", host.post_command),
        ("check command", host.check_command),
    ):
        validate_command(command, f"The {what} of {host.name}")


def validate_command(command: str | None, what: str) -> None:
    """A stored command (pre/post, health check): one line, no control characters, bounded."""
    if command is not None and (not command.strip() or _COMMAND_BAD.search(command) or len(command) > 4096):
        raise ConfigError(f"{what} must be one line of at most 4096 characters, without control characters.")


def validate_services(services: tuple[str, ...], what: str) -> None:
    for service in services:
        if not _SERVICE.match(service):
            raise ConfigError(
                f"The service name {quoted(service)} of {what} is not valid: a systemd unit or Windows "
                "service name (letters, digits and @ . _ : + -)."
            )


def validate_address(addr: str, host_name: str | None = None) -> None:
    """A host name (IDNA allowed) or an IP literal, by syntax; anything else raises ConfigError.

    The address reaches ssh_config token expansion (``%h``) and command lines, so shell syntax, spaces,
    wildcards and option-like values never pass.
    """
    # host names first: most addresses are names, and the name test is the cheaper one
    if not _is_host_name(addr) and not _is_ip_literal(addr):
        whose = f" of {host_name}" if host_name else ""
        raise ConfigError(f"The address {quoted(addr)}{whose} is not a host name or an IP address.")


def quoted(text: str) -> str:
    """``text`` for an error message: repr'd, at most MAX_QUOTED characters of it."""
    if len(text) <= MAX_QUOTED:
        return repr(text)
    return repr(text[:MAX_QUOTED]) + f" (… {len(text)} characters)"


def _is_ip_literal(addr: str) -> bool:
    text = addr[1:-1] if addr.startswith("[") and addr.endswith("]") else addr
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_host_name(addr: str) -> bool:
    name = addr[:-1] if addr.endswith(".") else addr
    if not name or len(name) > 253:
        return False
    for label in name.split("."):
        try:
            ascii_label = label.encode("idna").decode("ascii") if not label.isascii() else label
        except UnicodeError:
            return False
        if not _LABEL.match(ascii_label):
            return False
    return True


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
    # isdigit() is true for "¹" and other digits int() refuses; and long digit strings raise in int()
    if not (v.isascii() and v.isdigit() and len(v) <= 5) or not 0 < int(v) < 65536:
        raise ConfigError(f"The {what} {quoted(value)} is not a number between 1 and 65535.")
    return int(v)
