"""OS facts: the snippet, os-release(5) parsing and the nonce markers (tests/data/facts/)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import UnsupportedHostError
from app.domain.models import OsFacts
from app.platforms.posix.facts import (
    FACTS_COMMAND,
    KNOWN_BINARIES,
    MAX_FILE_LINES,
    facts_command,
    first_line,
    gather_facts,
    marker,
    new_nonce,
    parse_facts,
    parse_os_release,
    print_file,
)
from app.transports.base import CommandResult, decode

DATA = Path(__file__).resolve().parents[4] / "data" / "facts"
NONCE = "0123456789abcdef0123456789abcdef"


def read(name: str) -> str:
    return decode((DATA / name).read_bytes())


def output(
    os_release: str,
    *,
    nonce: str = NONCE,
    kernel: str = "6.1.0-21-amd64",
    uptime: str = "12345.67 40000.00",
    hostname: str = "web1",
    binaries: str = "apt-get\ndpkg",
) -> str:
    """What the snippet prints, built the way the shell does (a newline before every marker)."""
    parts = [
        ("os-release", os_release),
        ("kernel", kernel),
        ("uptime", uptime),
        ("hostname", hostname),
        ("binaries", binaries),
        ("end", ""),
    ]
    return "".join(f"\n{marker(nonce, name)}\n{body}" for name, body in parts)


def test_real_debian12_recording() -> None:
    facts, binaries = parse_facts(read("debian12_real.txt"), NONCE)
    assert facts.id == "debian"
    assert facts.id_like == ()
    assert facts.name == "Debian GNU/Linux"
    assert facts.version == "12"
    assert facts.version_codename == "bookworm"
    assert facts.pretty_name == "Debian GNU/Linux 12 (bookworm)"
    assert facts.kernel
    assert facts.hostname
    assert facts.uptime_seconds is not None and facts.uptime_seconds > 0
    assert binaries == frozenset({"apt-get", "dpkg"})


def test_snippet_runs_in_a_real_posix_shell() -> None:
    nonce = new_nonce()
    result = subprocess.run(["sh", "-c", facts_command(nonce)], capture_output=True, check=True)
    facts, binaries = parse_facts(decode(result.stdout), nonce)
    assert facts.kernel == subprocess.run(["uname", "-r"], capture_output=True, text=True).stdout.strip()
    assert facts.uptime_seconds is not None
    assert facts.hostname
    assert binaries <= frozenset(KNOWN_BINARIES)
    if Path("/etc/os-release").exists() or Path("/usr/lib/os-release").exists():
        assert facts.id


SHELLS = [sh for sh in ("/bin/sh", "/bin/dash", "/bin/bash") if Path(sh).exists()]


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"ID=debian\n",
        b"ID=debian\nVERSION_ID=12",  # no newline at the end
        b"\n\n  indented = kept  \nback\\slash \\n and $HOME and `x` and 'q'\n\tTAB\n",
        b"ID=debian\r\nNAME=x\r\n",
        'PRETTY_NAME="Dębian ✓"\n'.encode(),
    ],
)
def test_print_file_copies_like_cat(shell: str, content: bytes, tmp_path: Path) -> None:
    f = tmp_path / "os-release"
    f.write_bytes(content)
    out = subprocess.run([shell, "-c", print_file(str(f))], capture_output=True, check=True, timeout=10)
    expected = content if not content or content.endswith(b"\n") else content + b"\n"
    assert out.stdout == expected
    assert out.stderr == b""


@pytest.mark.parametrize("shell", SHELLS)
def test_print_file_stops_at_its_line_limit_and_is_quiet_without_the_file(shell: str, tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_text("".join(f"LINE{i}=x\n" for i in range(MAX_FILE_LINES * 5)))
    out = subprocess.run([shell, "-c", print_file(str(big))], capture_output=True, check=True, timeout=10)
    assert out.stdout.decode().splitlines() == [f"LINE{i}=x" for i in range(MAX_FILE_LINES)]
    missing = tmp_path / "missing"
    script = f"{print_file(str(missing))}; echo next; {first_line(str(missing))} || echo fallback"
    out = subprocess.run([shell, "-c", script], capture_output=True, check=True, timeout=10)
    assert out.stdout.decode().split() == ["next", "fallback"]
    assert out.stderr == b""


@pytest.mark.parametrize("shell", SHELLS)
def test_the_snippet_reads_proc_itself_and_matches_the_programs(shell: str) -> None:
    """The kernel release and host name come from /proc by the shell's read, as uname/hostname say."""
    nonce = new_nonce()
    result = subprocess.run([shell, "-c", facts_command(nonce)], capture_output=True, check=True, timeout=10)
    facts, _ = parse_facts(decode(result.stdout), nonce)
    assert facts.kernel == subprocess.run(["uname", "-r"], capture_output=True, text=True).stdout.strip()
    assert facts.hostname == subprocess.run(["uname", "-n"], capture_output=True, text=True).stdout.strip()
    with open("/etc/os-release", "rb") as f:
        assert decode(f.read()).strip() in decode(result.stdout)


def test_facts_command_shape() -> None:
    cmd = facts_command(NONCE)
    assert cmd.startswith("LC_ALL=C; export LC_ALL;")
    assert "/usr/lib/os-release" in cmd
    for binary in KNOWN_BINARIES:
        assert binary in cmd
    assert NONCE in cmd
    assert FACTS_COMMAND == facts_command("0" * 32)
    assert new_nonce() != new_nonce()


@pytest.mark.parametrize("nonce", ["", "short", "abc'; reboot; '", "a" * 65, "ünïcödé123", "abc def12345"])
def test_facts_command_refuses_unsafe_nonces(nonce: str) -> None:
    with pytest.raises(ValueError):
        facts_command(nonce)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "debian12_os-release.txt",
            OsFacts(
                id="debian",
                name="Debian GNU/Linux",
                version="12",
                version_codename="bookworm",
                pretty_name="Debian GNU/Linux 12 (bookworm)",
            ),
        ),
        (
            "ubuntu2204_os-release.txt",
            OsFacts(
                id="ubuntu",
                id_like=("debian",),
                name="Ubuntu",
                version="22.04",
                version_codename="jammy",
                pretty_name="Ubuntu 22.04.4 LTS",
            ),
        ),
        (
            "ubuntu2404_os-release.txt",
            OsFacts(
                id="ubuntu",
                id_like=("debian",),
                name="Ubuntu",
                version="24.04",
                version_codename="noble",
                pretty_name="Ubuntu 24.04.1 LTS",
            ),
        ),
        (
            "rocky9_os-release.txt",
            OsFacts(
                id="rocky",
                id_like=("rhel", "centos", "fedora"),
                name="Rocky Linux",
                version="9.4",
                pretty_name="Rocky Linux 9.4 (Blue Onyx)",
            ),
        ),
        (
            "opensuse_leap155_os-release.txt",
            OsFacts(
                id="opensuse-leap",
                id_like=("suse", "opensuse"),
                name="openSUSE Leap",
                version="15.5",
                pretty_name="openSUSE Leap 15.5",
            ),
        ),
    ],
)
def test_os_release_of_known_distributions(name: str, expected: OsFacts) -> None:
    facts, _ = parse_facts(output(read(name), kernel="", uptime="", hostname=""), NONCE)
    assert facts == expected


def test_malformed_os_release() -> None:
    values = parse_os_release(read("malformed_os-release.txt"))
    assert values == {
        "ID": "debian",
        "NAME": 'Single "quoted" $HOME',
        # inside double quotes only \" \\ \$ \` are escapes; "\n" keeps its backslash
        "PRETTY_NAME": 'Escapes: "q" \\ $HOME `cmd` \\n kept',
        "VERSION_CODENAME": "book worm",
        "HOME_URL": "https://example.org/trailingconcat",
        "SUPPORT_URL": "",
        "EMPTY_QUOTED": "",
        "CRLF_VALUE": "crlf",
    }
    # unterminated quotes, no "=", bad keys and unquoted spaces are skipped, not guessed at
    for skipped in ("VERSION_ID", "VERSION", "ID_LIKE", "1BAD", "BAD KEY", ""):
        assert skipped not in values


def test_values_are_cleaned_and_bounded() -> None:
    values = parse_os_release('NAME="a\x01b\x1bc"\nPRETTY_NAME="' + "x" * 10_000 + '"\n')
    assert values["NAME"] == "abc"
    assert len(values["PRETTY_NAME"]) == 256


def test_falls_back_gracefully_without_os_release() -> None:
    facts, binaries = parse_facts(output(""), NONCE)
    assert facts.id == ""
    assert facts.kernel == "6.1.0-21-amd64"
    assert facts.uptime_seconds == 12345.67
    assert facts.hostname == "web1"
    assert binaries == frozenset({"apt-get", "dpkg"})


def test_markers_with_another_nonce_are_content() -> None:
    # A hostile os-release that prints marker lines with a nonce of its own choosing
    other = "f" * 32
    hostile = (
        read("debian12_os-release.txt")
        + f"{marker(other, 'kernel')}\n0.0.0-evil\n{marker(other, 'binaries')}\ndnf\nzypper\n"
        + f"@@PATCHDESK:{NONCE}:kernel@@ trailing\n"  # near-miss of the real marker
        + "ID=ubuntu\n"
    )
    facts, binaries = parse_facts(output(hostile), NONCE)
    assert facts.kernel == "6.1.0-21-amd64"
    assert binaries == frozenset({"apt-get", "dpkg"})
    # lines inside the os-release section are still parsed as os-release (last assignment wins)
    assert facts.id == "ubuntu"


def test_banner_before_the_first_marker_is_ignored() -> None:
    text = "Welcome to web1!\nID=evil\nLast login: yesterday\n" + output(read("debian12_os-release.txt"))
    facts, _ = parse_facts(text, NONCE)
    assert facts.id == "debian"


def test_only_known_binaries_count() -> None:
    _, binaries = parse_facts(
        output("ID=debian", binaries="apt-get\nrm -rf /\nsnap\n dpkg \nfwupdmgr"), NONCE
    )
    assert binaries == frozenset({"apt-get", "dpkg", "fwupdmgr"})


@pytest.mark.parametrize(
    ("uptime", "expected"),
    [("12.5 3.0", 12.5), ("garbage", None), ("nan 1", None), ("inf", None), ("-5 0", None), ("", None)],
)
def test_uptime(uptime: str, expected: float | None) -> None:
    facts, _ = parse_facts(output("ID=debian", uptime=uptime), NONCE)
    assert facts.uptime_seconds == expected


def test_truncated_output() -> None:
    text = output(read("ubuntu2204_os-release.txt"))
    cut = text[: text.index(marker(NONCE, "uptime"))]
    facts, binaries = parse_facts(cut, NONCE)
    assert facts.id == "ubuntu"
    assert facts.kernel == "6.1.0-21-amd64"
    assert facts.uptime_seconds is None
    assert binaries == frozenset()


@settings(max_examples=300, deadline=None)
@given(st.text(), st.text())
def test_parse_facts_never_raises(os_release: str, noise: str) -> None:
    parse_facts(noise + output(os_release) + noise, NONCE)
    parse_facts(noise, NONCE)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="AZ_=\"'\\ $`#\t\r\nab1", max_size=30), max_size=20))
def test_parse_os_release_never_raises(lines: list[str]) -> None:
    for key, value in parse_os_release(lines).items():
        assert "=" not in key


# --- gather_facts: error mapping only (a fake transport replays what a non-POSIX host answers) -----


class ReplayTransport:
    def __init__(self, result: CommandResult) -> None:
        self.result = result
        self.calls: list[tuple[str | Sequence[str], bool]] = []

    def run(
        self, command: str | Sequence[str], *, sudo: bool = False, timeout: float = 120.0
    ) -> CommandResult:
        self.calls.append((command, sudo))
        return self.result


def test_gather_facts_on_a_host_without_a_posix_shell() -> None:
    transport = ReplayTransport(
        CommandResult(1, b"", b"'LC_ALL' is not recognized as an internal or external command,\r\n")
    )
    with pytest.raises(UnsupportedHostError) as info:
        gather_facts(transport)  # type: ignore[arg-type]
    assert "like a POSIX system" in str(info.value)
    assert "exit status 1" in str(info.value)
    assert transport.calls[0][1] is False  # facts never need sudo
