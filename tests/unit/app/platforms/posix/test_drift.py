"""The drift script's answer parsed as untrusted text: forged markers, cut answers, hostile bytes."""

from __future__ import annotations

import base64
import subprocess

from app.domain.baseline import ItemStatus, evaluate, make_item
from app.platforms.posix.drift import check_script, listening_ports, package_format, parse_answer
from app.platforms.posix.drift_fix import MAX_FILE_BYTES, FileState, parse_files, read_files_script

NONCE = "0123456789abcdef0123456789abcdef"


def m(section: str, nonce: str = NONCE) -> str:
    return f"@@PATCHDESK:{nonce}:{section}@@"


def test_targets_are_quoted_in_the_script() -> None:
    item = make_item("file", "/etc/~backup", {"state": "present"}, 3)
    script = check_script([item], NONCE)
    assert "pd_p='/etc/~backup';" in script


def test_an_answer_cut_before_its_end_is_unknown() -> None:
    item = make_item("file", "/etc/x", {"state": "absent"}, 1)
    text = f"{m('item-1')}\nexists=0\n"
    observed = parse_answer(text, NONCE, [item], "deb")
    assert evaluate(item, observed.get(1)).status == ItemStatus.UNKNOWN


def test_a_marker_with_another_nonce_cannot_answer_for_an_item() -> None:
    item = make_item("file", "/etc/x", {"state": "absent"}, 1)
    text = f"{m('item-1', 'f' * 32)}\nexists=0\nend=1\n"
    observed = parse_answer(text, NONCE, [item], "deb")
    assert evaluate(item, observed.get(1)).status == ItemStatus.UNKNOWN


def test_the_first_answer_wins_and_content_cannot_reopen_a_section() -> None:
    item = make_item("sysctl", "net.ipv4.ip_forward", {"value": "0"}, 1)
    text = f"{m('item-1')}\nvalue=1\nvalue=0\nend=1\n{m('item-1')}\nvalue=0\nend=1\n"
    observed = parse_answer(text, NONCE, [item], "deb")
    assert evaluate(item, observed[1]).status == ItemStatus.DRIFTED


def test_packages_failing_dpkg_query_are_unknown_not_absent() -> None:
    item = make_item("package", "p", {"state": "absent"}, 1)
    text = f"{m('packages-deb')}\nfmt=deb\nrc=2\nend=1\n"
    observed = parse_answer(text, NONCE, [item], "deb")
    assert evaluate(item, observed.get(1)).status == ItemStatus.UNKNOWN


def test_a_removed_package_with_config_files_is_absent() -> None:
    item = make_item("package", "p", {"state": "absent"}, 1)
    text = f"{m('packages-deb')}\nfmt=deb\nrc      \tp\t1.0\nrc=0\nend=1\n"
    observed = parse_answer(text, NONCE, [item], "deb")
    assert evaluate(item, observed[1]).status == ItemStatus.OK


def test_hostile_bytes_and_huge_output_stay_bounded() -> None:
    item = make_item("sysctl", "kernel.hostname", {"value": "x"}, 1)
    junk = "\x1b[2J\x00" * 100_000
    text = f"{m('item-1')}\nvalue={junk}\nend=1\n" + "x\n" * 300_000
    observed = parse_answer(text, NONCE, [item], "deb")
    value = observed[1].fields["value"]
    assert len(value) <= 256 and "\x1b" not in value and "\x00" not in value


def test_socket_tables_not_read_make_ports_unknown() -> None:
    assert listening_ports({}) is None
    tcp = [
        "  sl  local_address rem_address   st",
        "   0: 0100007F:0016 00000000:0000 0A 0",
        "   1: 0100007F:0050 0100007F:1234 01 0",
        "end=1",
    ]
    ports = listening_ports({"net-tcp": tcp, "net-udp": ["end=1"]})
    assert ports == {"tcp": {22}, "udp": set()}


def test_the_check_runs_in_a_real_shell(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "conf"
    f.write_text("# c\nPermitRootLogin   no\nUsePAM yes\n")
    items = [
        make_item("file", str(f), {"options": {"PermitRootLogin": "no", "X11Forwarding": "no"}}, 1),
        make_item("file", str(tmp_path / "none"), {"state": "absent"}, 2),
        make_item("user", "root", {"state": "present"}, 3),
    ]
    out = subprocess.run(["sh", "-c", check_script(items, NONCE)], capture_output=True, text=True, timeout=60)
    observed = parse_answer(out.stdout, NONCE, items, "deb")
    first = evaluate(items[0], observed[1])
    assert first.status == ItemStatus.DRIFTED
    assert first.actual["options"] == {"PermitRootLogin": "no", "X11Forwarding": None}
    assert evaluate(items[1], observed[2]).status == ItemStatus.OK
    assert evaluate(items[2], observed[3]).status == ItemStatus.OK


def test_files_are_read_whole_and_a_large_one_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    small, big = tmp_path / "small", tmp_path / "big"
    small.write_bytes(b"\x00\xffbinary\n")
    big.write_bytes(b"x" * (MAX_FILE_BYTES + 10))
    paths = [str(small), str(big), str(tmp_path / "none")]
    out = subprocess.run(
        ["sh", "-c", read_files_script(paths, NONCE)], capture_output=True, text=True, timeout=60
    )
    got = parse_files(out.stdout, NONCE, paths)
    assert isinstance(got[str(small)], FileState) and got[str(small)].content == small.read_bytes()
    assert isinstance(got[str(big)], str) and "larger" in got[str(big)]
    assert got[str(tmp_path / "none")] == FileState(str(tmp_path / "none"), False)


def test_garbled_content_is_an_error_not_an_empty_file() -> None:
    text = f"{m('file-0')}\nexists=1\nmeta=root:root:644:regular file\ncontent=1\n!!notbase64\nend=1\n"
    assert isinstance(parse_files(text, NONCE, ["/etc/x"])["/etc/x"], str)
    good = base64.b64encode(b"hi").decode()
    text = f"{m('file-0')}\nexists=1\nmeta=root:root:644:regular file\ncontent=1\n{good}\nend=1\n"
    assert parse_files(text, NONCE, ["/etc/x"])["/etc/x"] == FileState(
        "/etc/x", True, "root", "root", "0644", b"hi"
    )


def test_the_package_database_is_the_one_the_hosts_manager_keeps() -> None:
    """A Debian-based host carrying rpm (or the reverse) must be read from its own package manager's
    database, chosen from os-release, never from whichever tool answers first."""
    item = make_item("package", "p", {"state": "present", "version": "2.0-1"}, 1)
    text = f"{m('packages-deb')}\nrc=1\nend=1\n{m('packages-rpm')}\nii \tp\t2.0-1\nrc=0\nend=1\n"
    assert evaluate(item, parse_answer(text, NONCE, [item], "rpm")[1], fmt="rpm").status == ItemStatus.OK
    assert evaluate(item, parse_answer(text, NONCE, [item], "deb")[1]).status == ItemStatus.DRIFTED
    assert evaluate(item, parse_answer(text, NONCE, [item], None).get(1)).status == ItemStatus.UNKNOWN
    assert (
        package_format("zypper") == "rpm" and package_format("apt") == "deb" and package_format("wua") is None
    )
