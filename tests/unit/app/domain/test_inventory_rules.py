"""app/domain/inventory.py: what may be stored as a host's address (issue #19 item 1)."""

from __future__ import annotations

import pytest

from app.domain.errors import ConfigError
from app.domain.inventory import validate_address, validate_host
from app.domain.models import Host


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "[::1]",
        "fe80::1%eth0",
        "web-01",
        "web_01.example.invalid",
        "host.example.invalid.",
        "bücher.example.invalid",  # IDNA
        "a" * 63 + ".invalid",
    ],
)
def test_host_names_and_ip_literals_are_addresses(address: str) -> None:
    validate_address(address)
    validate_host(Host(name="h", address=address))


@pytest.mark.parametrize(
    "address",
    [
        "$(touch${IFS}$HOME/pwned)",
        "`id`",
        "a;b",
        "a|b",
        "a&b",
        "host'name",
        'host"name',
        "a/b",
        "%h",
        "-oProxyCommand=x",
        "a..b",
        ".a",
        "-a.invalid",
        "a-.invalid",
        "a" * 64 + ".invalid",
        ("a" * 60 + ".") * 5,
        "[::1",
        "*",
        "web?",
        "a b",
    ],
)
def test_command_execution_through_a_host_address_is_refused(address: str) -> None:
    """Item 1: the address check let $(...) and backticks through to paramiko's Match exec."""
    with pytest.raises(ConfigError, match="not a host name or an IP address"):
        validate_host(Host(name="h", address=address))


def test_the_error_quotes_at_most_80_characters() -> None:
    with pytest.raises(ConfigError) as info:
        validate_address("$" * 5000)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize("text", ["¹", "٣", "9" * 5000, "0", "65536", "-1", "22a"])
def test_a_port_that_is_no_port_is_a_sentence(text: str) -> None:
    from app.domain.inventory import parse_port

    with pytest.raises(ConfigError, match="not a number between 1 and 65535"):
        parse_port(text)
