from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import ImportFormatError
from app.domain.models import Criticality, Ring, TransportKind
from app.importers.detect import detect_format, parse_inventory, read_inventory

DATA = Path(__file__).resolve().parents[2] / "data" / "import"


def _by_name(result):  # type: ignore[no-untyped-def]
    return {h.name: h for h in result.hosts}


def test_csv_good_rows_kept_bad_rows_reported_with_lines() -> None:
    r = read_inventory(DATA / "hosts.csv")
    assert r.format == "csv"
    hosts = _by_name(r)
    assert set(hosts) == {"web1", "web2", "db1", "evil$(touch /tmp/pd-pwned)"}
    assert hosts["web1"].ring == Ring.TEST and hosts["web1"].tags == ("frontend", "eu")
    assert hosts["web1"].address == "127.0.9.11"  # the duplicate on line 9 did not win
    assert hosts["db1"].port == 2222 and hosts["db1"].criticality == Criticality.MISSION_CRITICAL
    lines = {p.line: p.message for p in r.problems}
    assert "unknown column 'color'" in lines[1]
    assert "99999" in lines[5]
    assert "canary" in lines[6]
    assert "appears again" in lines[9]
    assert "spaces" in lines[10]
    assert not Path("/tmp/pd-pwned").exists()


def test_ansible_ini() -> None:
    r = read_inventory(DATA / "inventory.ini")
    assert r.format == "ansible-ini"
    hosts = _by_name(r)
    assert {"web01", "web02", "web03", "proxy", "db1", "winbox"} <= set(hosts)
    assert hosts["web02"].user == "deploy" and hosts["web02"].group == "web"
    assert hosts["proxy"].address == "127.0.2.10" and hosts["proxy"].port == 2200
    assert hosts["db1"].user == "dba" and hosts["db1"].key_file == "/keys/prod"  # group + parent vars
    assert hosts["winbox"].transport == TransportKind.WINRM
    messages = " | ".join(str(p) for p in r.problems)
    assert "line 9" in messages and "docker" in messages
    assert "line 19" in messages and "malformed section" in messages
    assert "orphan" not in hosts


def test_ansible_yaml() -> None:
    r = read_inventory(DATA / "inventory.yml")
    assert r.format == "ansible-yaml"
    hosts = _by_name(r)
    assert set(hosts) == {"bastion", "web1", "web2", "me"}
    assert hosts["bastion"].address == "127.0.2.1" and hosts["bastion"].user == "ops"
    assert hosts["web1"].port == 2222 and hosts["web1"].group == "web"
    assert hosts["me"].transport == TransportKind.LOCAL
    assert [p.line for p in r.problems] == [12]


def test_ssh_config() -> None:
    r = read_inventory(DATA / "ssh_config")
    assert r.format == "ssh-config"
    hosts = _by_name(r)
    assert set(hosts) == {"web1", "web2", "jump"}
    assert hosts["web1"].address == "web1"  # resolved through the config at connect time
    assert hosts["web1"].port == 2201 and hosts["web1"].user == "admin"


def test_detection_from_content() -> None:
    assert detect_format("name,address\na,b\n") == "csv"
    assert detect_format("[web]\nhost1\n") == "ansible-ini"
    assert detect_format("all:\n  hosts:\n") == "ansible-yaml"
    assert detect_format("Host a\n  HostName b\n") == "ssh-config"


def test_malformed_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError, match="does not exist"):
        read_inventory(tmp_path / "missing.csv")
    binary = tmp_path / "x.csv"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(ImportFormatError, match="binary"):
        read_inventory(binary)
    bad_yaml = tmp_path / "x.yml"
    bad_yaml.write_text("all:\n  hosts: [unclosed\n")
    with pytest.raises(ImportFormatError, match="line"):
        read_inventory(bad_yaml)
    empty = tmp_path / "e.csv"
    empty.write_text("")
    with pytest.raises(ImportFormatError):
        read_inventory(empty)
    with pytest.raises(ImportFormatError, match="header"):
        parse_inventory("foo,bar\n1,2\n", "x.csv")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400), st.sampled_from(["csv", "ansible-ini", "ansible-yaml", "ssh-config"]))
def test_parsers_never_crash(text: str, fmt: str) -> None:
    try:
        r = parse_inventory(text, fmt=fmt)
    except ImportFormatError:
        return
    for h in r.hosts:
        assert h.name and h.address and not any(c in h.address for c in " \n\r\t")


def test_ansible_ini_error_paths_and_inheritance() -> None:
    from app.importers.ansible import parse_ini

    text = (
        "[all:vars]\nansible_user=root\n"
        "[web]\nweb[01:02] ansible_port=22\nweb01 ansible_port=2200\nbad[5:1]\n"
        'quoted "unclosed\nhostx novalue\n'
        "[web:vars]\njust a line\nansible_host=127.0.9.1\n"
        "[web:weird]\nignored\n"
        "[a:children]\nb\n[b:children]\na\n[b]\ncyc\n[b:vars]\nansible_connection=winrm\n"
    )
    r = parse_ini(text)
    assert [(h.name, h.address, h.port, h.user, h.group, h.transport) for h in r.hosts] == [
        ("web01", "127.0.9.1", 22, "root", "web", TransportKind.SSH),  # the first line of web01 wins
        ("web02", "127.0.9.1", 22, "root", "web", TransportKind.SSH),
        ("cyc", "cyc", None, "root", "b", TransportKind.WINRM),  # the a <-> b cycle ends
    ]
    assert [(p.line, p.message) for p in r.problems] == [
        (6, "the range in 'bad[5:1]' is empty or too large"),
        (7, "cannot parse 'quoted \"unclosed': No closing quotation"),
        (8, "expected key=value after the host name, got 'novalue'"),
        (10, "expected key=value, got 'just a line'"),
        (12, "unknown section type 'weird'"),
    ]


def test_ansible_yaml_error_paths() -> None:
    from app.importers.ansible import parse_yaml

    text = (
        "all:\n  hosts: 5\n  children:\n    g1: 7\n    g2: ~\n    g3:\n      hosts:\n"
        "        h[3:1]:\n        h1: 5\n        h2: {ansible_connection: telnet}\n"
        "        h4:\n        h4b:\n"
        "    g4:\n      hosts:\n        h4:\n          ansible_port: 1\n"
    )
    r = parse_yaml(text)
    assert [(h.name, h.group) for h in r.hosts] == [("h4", "g3"), ("h4b", "g3")]  # h4 again in g4: skipped
    assert [(p.line, p.message) for p in r.problems] == [
        (2, "'hosts' of 'all' is not a mapping"),
        (4, "group 'g1' is not a mapping"),
        (8, "the range in 'h[3:1]' is empty or too large"),
        (9, "host 'h1' must map to its variables"),
        (10, "h2: ansible_connection=telnet is not supported (ssh, winrm or local)"),
    ]
    nested = ["g0:"] + ["  " * (2 * i - 1) + line for i in range(1, 53) for line in ("children:", f"  g{i}:")]
    r = parse_yaml("\n".join(nested) + "\n")
    assert [(p.line, p.message) for p in r.problems] == [(104, "groups nested too deeply")]
    for not_a_mapping in ("", "- a\n- b\n"):
        with pytest.raises(ImportFormatError, match=r"must be a mapping of groups \(e\.g\. 'all:'\)\.$"):
            parse_yaml(not_a_mapping)
    with pytest.raises(ImportFormatError, match=r"^The YAML inventory cannot be read \(line 2\): "):
        parse_yaml("a: [\n")
