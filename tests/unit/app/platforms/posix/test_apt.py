"""The apt adapter: commands, the one-round-trip scan script and its fingerprint, the reporting install
(the pre-install hook), against recorded real output and replayed transports."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from app.domain.errors import AdapterError, UnsupportedHostError
from app.domain.models import PendingUpdate
from app.platforms.posix.apt import (
    HOLDS_COMMAND,
    AptAdapter,
    installed_versions_command,
    reboot_command,
    refresh_command,
    scan_command,
)
from app.platforms.posix.apt_parse import (
    parse_dpkg_query,
    parse_reboot,
)
from app.transports.base import CommandResult, decode, to_shell

DATA = Path(__file__).resolve().parents[4] / "data" / "apt"


def read(name: str) -> str:
    return decode((DATA / name).read_bytes())


# --- commands ---------------------------------------------------------------------------------------


def test_scan_command_is_a_lock_free_simulation() -> None:
    cmd = scan_command()
    words = shlex.split(cmd)
    assert words[0] == "LC_ALL=C"
    assert words[1] == "apt-get"
    assert "-s" in words
    assert "Debug::NoLocking=true" in words
    assert words[-1] == "dist-upgrade"
    assert "APT::Ignore-Hold=true" in words  # held packages are listed (then marked held), not hidden
    assert AptAdapter().scan_command() == cmd


def test_refresh_command() -> None:
    # a successful update also touches apt's periodic stamp: the lists keep the server's times
    assert refresh_command().startswith("LC_ALL=C apt-get update -q -o ")
    assert "APT::Update::Post-Invoke-Success::=touch /var/lib/apt/periodic/update-success-stamp" in (
        refresh_command()
    )


def test_installed_versions_command_passes_names_as_data() -> None:
    hostile = ["bash", "$(touch /tmp/pwned)", "-rf", "a b", "x;reboot", "`id`", "it's"]
    cmd = installed_versions_command(hostile)
    fmt = "${binary:Package}\\t${Version}\\t${db:Status-Abbrev}\\n"
    assert cmd[:5] == ["dpkg-query", "-W", "-f", fmt, "--"]
    # the transport renders lists with shlex.join: the shell sees every name as one literal word
    assert shlex.split(to_shell(cmd)) == cmd


def test_installed_versions_command_runs_in_a_real_shell() -> None:
    names = ["bash", "$(touch /tmp/pwned)", "no-such-package-xyz"]
    result = subprocess.run(
        ["sh", "-c", to_shell(installed_versions_command(names))], capture_output=True, check=False
    )
    assert not Path("/tmp/pwned").exists()
    versions = parse_dpkg_query(decode(result.stdout))
    if result.returncode == 127:  # no dpkg here
        pytest.skip("dpkg-query is not installed")
    assert set(versions) == {"bash"}


# --- reboot-required --------------------------------------------------------------------------------

NONCE = "0123456789abcdef0123456789abcdef"
FP1, FP2, FP3 = ("1" * 64 + "  -", "2" * 64 + "  -", "3" * 64 + "  -")


def test_reboot_command_runs_in_a_real_shell() -> None:
    result = subprocess.run(["sh", "-c", reboot_command(NONCE)], capture_output=True, check=True)
    required, _ = parse_reboot(decode(result.stdout), NONCE)
    assert required is Path("/var/run/reboot-required").exists()


def test_reboot_command_rejects_bad_nonce() -> None:
    with pytest.raises(ValueError):
        reboot_command("x'; reboot; '")


# --- adapter error mapping (fake transport: only here, to replay recorded failures) ----------------


class ReplayTransport:
    """Answers each run() with the next recorded CommandResult and remembers what it was asked."""

    host = "web1"

    def __init__(self, *results: CommandResult) -> None:
        self.results = list(results)
        self.calls: list[tuple[str | Sequence[str], bool]] = []

    def run(
        self, command: str | Sequence[str], *, sudo: bool = False, timeout: float = 120.0
    ) -> CommandResult:
        self.calls.append((command, sudo))
        return self.results.pop(0)


def _fail(stderr: str, stdout: str = "", status: int = 100) -> CommandResult:
    return CommandResult(status, read(stdout).encode() if stdout else b"", read(stderr).encode())


def _scan(transport: ReplayTransport, *, refresh: bool = False) -> list[PendingUpdate]:
    return AptAdapter().scan(transport, refresh=refresh)  # type: ignore[arg-type]


def test_refresh_lock_error_is_a_plain_sentence() -> None:
    transport = ReplayTransport(_fail("update_lock_held_stderr_real.txt", "update_lock_held_stdout_real.txt"))
    with pytest.raises(AdapterError) as info:
        _scan(transport, refresh=True)
    message = str(info.value)
    assert message.startswith("The package database on web1 is locked by another process (")
    assert "Could not get lock /var/lib/apt/lists/lock" in message
    assert transport.calls == [(refresh_command(), True)]


def test_frontend_lock_error() -> None:
    transport = ReplayTransport(_fail("frontend_lock_held_stderr_real.txt"))
    with pytest.raises(AdapterError, match="locked by another process"):
        _scan(transport)


def test_refresh_without_root() -> None:
    transport = ReplayTransport(_fail("update_as_nonroot_stderr_real.txt"))
    with pytest.raises(AdapterError) as info:
        _scan(transport, refresh=True)
    assert "needs root to refresh the package lists" in str(info.value)
    assert "Permission denied" in str(info.value)


def test_broken_repository() -> None:
    transport = ReplayTransport(
        _fail("update_missing_release_stderr_real.txt", "update_missing_release_stdout_real.txt")
    )
    with pytest.raises(AdapterError) as info:
        _scan(transport, refresh=True)
    assert str(info.value) == (
        "apt could not refresh the package lists on web1: The repository "
        "'file:/nonexistent-repo bookworm Release' does not have a Release file."
    )


def test_malformed_sources_on_simulation() -> None:
    transport = ReplayTransport(_fail("simulate_malformed_sources_stderr_real.txt"))
    with pytest.raises(AdapterError) as info:
        _scan(transport)
    message = str(info.value)
    assert message.startswith("apt could not check for updates on web1: Malformed entry 1 in list file")
    assert message.count(";") == 2  # at most three apt error lines
    assert transport.calls == [(scan_command(), False)]


def test_apt_get_missing_is_unsupported_host() -> None:
    transport = ReplayTransport(_fail("command_not_found_stderr_real.txt", status=127))
    with pytest.raises(UnsupportedHostError, match="apt-get was not found on web1"):
        _scan(transport)


def test_scan_runs_refresh_with_sudo_then_simulation_without() -> None:
    transport = ReplayTransport(
        CommandResult(0, b"Reading package lists...\n", b""),
        CommandResult(0, (DATA / "debian12_install_chrony_removal_real.txt").read_bytes(), b""),
        CommandResult(0, b"chrony\n", b""),  # apt-mark showhold
    )
    logged: list[tuple[str, str]] = []
    pending = AptAdapter().scan(transport, refresh=True, log=lambda level, text: logged.append((level, text)))  # type: ignore[arg-type]
    assert [u.name for u in pending] == ["chrony"]
    assert pending[0].held and "apt-mark hold" in pending[0].held_reason
    # the simulation ignores holds (apt would keep held packages back without a word); the holds are
    # read after it, as the ordinary user
    assert transport.calls[:2] == [(refresh_command(), True), (scan_command(), False)]
    (holds, sudo) = transport.calls[2]  # the holds and the pins in one command, as the ordinary user
    assert holds.startswith(HOLDS_COMMAND) and "apt-cache policy" in holds and not sudo
    assert ("warning", "Upgrading would remove: systemd-timesyncd") in logged


# --- snapshot and reboot check in one session, against this machine's real dpkg ---------------------


def test_snapshot_and_reboot_in_one_command_against_real_dpkg() -> None:
    import os
    import shutil

    from app.transports.local import LocalTransport

    if shutil.which("dpkg-query") is None:
        pytest.skip("dpkg-query is not installed here")
    expected_dpkg = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "dpkg"], capture_output=True, text=True, check=True
    ).stdout
    snap, (needed, pkgs) = AptAdapter().snapshot_and_reboot(LocalTransport(), ["dpkg", "pd-not-installed"])
    assert snap == {"dpkg": expected_dpkg, "pd-not-installed": None}
    assert needed == os.path.exists("/var/run/reboot-required")
    assert isinstance(pkgs, tuple)
    # the same answers as the two separate calls it replaces
    assert snap == AptAdapter().snapshot(LocalTransport(), ["dpkg", "pd-not-installed"])
    assert (needed, pkgs) == AptAdapter().reboot_required(LocalTransport())
    with pytest.raises(AdapterError, match="not a valid Debian package name"):
        AptAdapter().snapshot_and_reboot(LocalTransport(), ["pd; touch /tmp/pwned"])


def test_snapshot_and_reboot_reports_a_failing_dpkg_query(monkeypatch: pytest.MonkeyPatch) -> None:
    """dpkg-query exiting 2 (a broken status file) is an error sentence, not an empty snapshot."""
    import app.platforms.posix.apt as apt_mod

    monkeypatch.setattr(apt_mod, "new_nonce", lambda: "abc")
    out = "\n@@PATCHDESK:abc:queryrc@@\n2\n\n@@PATCHDESK:abc:flag@@\n\n@@PATCHDESK:abc:pkgs@@\n\n"
    err = b"dpkg-query: error: parsing file '/var/lib/dpkg/status' near line 7"
    transport = ReplayTransport(CommandResult(0, out.encode(), err))
    with pytest.raises(AdapterError) as info:
        AptAdapter().snapshot_and_reboot(transport, ["dpkg"])  # type: ignore[arg-type]
    assert "read the installed versions" in str(info.value)
    assert "parsing file" in str(info.value)


# -- the scan script's fingerprint and reuse --------------------------------------------------------

NONCE = "0123456789abcdef0123456789abcdef"
FP1, FP2, FP3 = ("1" * 64 + "  -", "2" * 64 + "  -", "3" * 64 + "  -")


def _answer(*sections: tuple[str, str]) -> str:
    from app.platforms.posix.facts import marker

    body = "".join(f"\n{marker(NONCE, name)}\n{text}\n" for name, text in sections)
    return body + f"\n{marker(NONCE, 'flag')}\n\n{marker(NONCE, 'pkgs')}\n\n{marker(NONCE, 'end')}\n"


def _basis(fp: str = FP1, out: str | None = None) -> object:
    from app.domain.models import ScanBasis

    return ScanBasis("apt", fp, (out if out is not None else read("debian12_dist_upgrade_real.txt")).encode())


def test_scan_script_sends_only_a_checked_fingerprint_and_quotes_it() -> None:
    from app.platforms.posix.apt import scan_script

    script = AptAdapter().scan_script(NONCE, FP1)
    assert script is not None and f"[ \"$pd_fp\" = '{FP1}' ]" in script
    # Text that is not a fingerprint (a damaged or hostile database) is never spliced: no comparison.
    for bad in (FP1 + "'; touch /tmp/x; '", "$(reboot)", "", "123 456", FP1[:63] + "g  -", FP1 + "\n"):
        sent = AptAdapter().scan_script(NONCE, bad)
        assert sent is not None and '"$pd_fp" =' not in sent and "reboot)" not in sent
        with pytest.raises(ValueError):
            scan_script(NONCE, bad)
    # The script parses as shell (no quoting slip), with and without a fingerprint.
    for known in (None, FP1):
        subprocess.run(["sh", "-n", "-c", scan_script(NONCE, known)], check=True, timeout=10)


def test_a_full_simulation_carries_the_basis_for_the_next_scan() -> None:
    sim = read("debian12_dist_upgrade_real.txt")
    found = AptAdapter().parse_scan_script(
        _answer(("fp", FP2), ("sim", sim), ("simrc", "0"), ("simerr", "")), NONCE
    )
    assert found is not None and not found.reused and found.pending
    assert found.basis is not None and found.basis.fingerprint == FP2
    assert found.basis.out.decode().strip() == sim.strip()
    # A fingerprint line that is not ours keeps no basis (the next scan simulates again).
    odd = AptAdapter().parse_scan_script(
        _answer(("fp", FP2 + "; rm -rf /"), ("sim", sim), ("simrc", "0"), ("simerr", "")), NONCE
    )
    assert odd is not None and odd.basis is None and odd.pending == found.pending


def test_same_reuses_the_stored_output_only_when_it_is_the_one_sent() -> None:
    stored = _basis(FP1)
    full = AptAdapter().parse_scan_script(
        _answer(("fp", FP1), ("sim", read("debian12_dist_upgrade_real.txt")), ("simrc", "0"), ("simerr", "")),
        NONCE,
    )
    same = AptAdapter().parse_scan_script(
        _answer(("fp", FP1), ("same", "")),
        NONCE,
        previous=lambda: stored,  # type: ignore[arg-type,return-value]
    )
    assert same is not None and same.reused and same.basis is stored
    assert full is not None and same.pending == full.pending
    # The host claims "same" but nothing was sent, nothing is stored, or a different fingerprint is
    # stored: no answer from the script, so the caller scans in full.
    assert AptAdapter().parse_scan_script(_answer(("fp", FP1), ("same", "")), NONCE) is None
    assert (
        AptAdapter().parse_scan_script(_answer(("fp", FP1), ("same", "")), NONCE, previous=lambda: None)
        is None
    )
    other = _basis(FP3)
    assert (
        AptAdapter().parse_scan_script(
            _answer(("fp", FP1), ("same", "")),
            NONCE,
            previous=lambda: other,  # type: ignore[arg-type,return-value]
        )
        is None
    )


def test_fingerprint_changes_with_every_file_apt_reads(tmp_path: Path) -> None:
    """The real fingerprint command, run here against a copy of the paths it reads."""
    from app.platforms.posix.apt import FINGERPRINT_COMMAND, FINGERPRINT_PATHS

    root = tmp_path / "root"
    for path in ("var/lib/dpkg/updates", "var/lib/apt/lists", "etc/apt/preferences.d", "etc/apt/apt.conf.d"):
        (root / path).mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("Package: a\n")
    (root / "var/lib/apt/lists/x_Packages").write_text("Package: a\n")
    (root / "etc/apt/sources.list").write_text("deb file:/srv/repo bookworm main\n")
    command = FINGERPRINT_COMMAND
    for p in FINGERPRINT_PATHS:
        command = command.replace(f" {p}", f" {root}{p}")

    def fp() -> str:
        return subprocess.run(
            ["sh", "-c", command], capture_output=True, text=True, check=True
        ).stdout.strip()

    first = fp()
    assert first == fp()  # stable while nothing changes
    seen = {first}
    changes = [
        lambda: (root / "var/lib/dpkg/updates/0001").write_text("Package: a\n"),  # dpkg's journal
        lambda: (root / "etc/apt/preferences.d/pin").write_text("Package: a\n"),  # a new pin
        lambda: (root / "etc/apt/preferences.d/pin").write_text("Package: b\n"),  # same size, rewritten
        lambda: (root / "etc/apt/apt.conf.d/99x").write_text("APT::Get::x 1;\n"),
        lambda: (root / "var/lib/apt/lists/x_Packages").write_text("Package: a\nVersion: 2\n"),
        lambda: (root / "var/lib/dpkg/status").write_text("Package: b\n"),  # same size
        lambda: (root / "etc/apt/sources.list").unlink(),
    ]
    for change in changes:
        change()
        now = fp()
        assert now not in seen
        seen.add(now)


# -- the install that reports its own transaction (apt's pre-install hook) ---------------------------

TXN_TAG = "@@PATCHDESK:0123456789abcdef0123456789abcdef:txn@@"


def test_transaction_hook_runs_in_a_real_shell_and_awk() -> None:
    """The option apt hands to /bin/sh, fed protocol-3 input: it prints the architecture and every
    action behind the marker, nothing of the configuration, and an end line."""
    import shutil

    from app.platforms.posix.apt_install import transaction_hook_options

    if shutil.which("awk") is None or not Path("/usr/bin/awk").exists():
        pytest.skip("no /usr/bin/awk here")
    opts = transaction_hook_options(TXN_TAG)
    assert opts[:2] == ["-o", "DPkg::Tools::Options::/usr/bin/awk::Version=3"]
    hook = opts[3].removeprefix("DPkg::Pre-Install-Pkgs::=")
    stdin = (
        "VERSION 3\nAPT::Architecture=amd64\nAPT::Secret=%22x%22 ; rm -rf /\n\n"
        "pd-secfix 1.0-1 all none < 1.0-2 all none /srv/pd-secfix_1.0-2_all.deb\n"
    )
    out = subprocess.run(["/bin/sh", "-c", hook], input=stdin, capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        f"{TXN_TAG} APT::Architecture=amd64",
        f"{TXN_TAG} pd-secfix 1.0-1 all none < 1.0-2 all none /srv/pd-secfix_1.0-2_all.deb",
        f"{TXN_TAG} end",
    ]
    with pytest.raises(ValueError):
        transaction_hook_options("x'; reboot; '")


class StreamTransport(ReplayTransport):
    """Streams the recorded stdout to ``on_output`` in small uneven chunks, as SSH does."""

    def run(  # type: ignore[override]
        self,
        command: str | Sequence[str],
        *,
        sudo: bool = False,
        timeout: float = 120.0,
        on_output=None,
        env=None,
    ) -> CommandResult:
        result = super().run(command, sudo=sudo, timeout=timeout)
        if on_output is not None:
            data = result.stdout
            for i, size in enumerate(range(0, len(data), 37)):
                on_output("stdout", data[size : size + 37])
                if i == 3:
                    on_output("stderr", b"W: a warning\n")
        return result


def test_install_reporting_reports_before_dpkg_and_keeps_the_log_clean(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import app.platforms.posix.apt as apt_mod

    monkeypatch.setattr(apt_mod, "new_nonce", lambda: "0123456789abcdef0123456789abcdef")
    recorded = (DATA / "debian12_install_chain_hook_real.txt").read_bytes()
    transport = StreamTransport(CommandResult(0, recorded, b""))
    events: list[object] = []
    streamed: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def on_output(stream: str, chunk: bytes) -> None:
        streamed[stream] += chunk
        events.append(("output", chunk))

    AptAdapter().install_reporting(
        transport,  # type: ignore[arg-type]
        ["pd-chain", "pd-secfix"],
        on_transaction=lambda plan: events.append(("plan", [c.name for c in plan.changes])),
        on_output=on_output,
    )
    command, sudo = transport.calls[0]
    assert sudo and "DPkg::Tools::Options::/usr/bin/awk::Version=3" in command
    assert list(command)[-3:] == ["--", "pd-chain", "pd-secfix"]
    plans = [e for e in events if e[0] == "plan"]
    assert plans == [("plan", ["pd-chain-lib", "pd-chain-extra", "pd-chain", "pd-secfix"])]
    # reported before any of dpkg's own lines reached the log
    after = b"".join(e[1] for e in events[events.index(plans[0]) :] if e[0] == "output")  # type: ignore[misc]
    assert b"Unpacking pd-chain-lib" in after
    before = b"".join(e[1] for e in events[: events.index(plans[0])] if e[0] == "output")  # type: ignore[misc]
    assert b"Unpacking" not in before
    # every line but the hook's, in order
    assert streamed["stdout"].decode().splitlines() == [
        line for line in recorded.decode().splitlines() if not line.startswith(TXN_TAG)
    ]
    assert streamed["stderr"] == b"W: a warning\n"


def test_install_reporting_stopped_before_its_transaction_reports_nothing() -> None:
    transport = StreamTransport(_fail("frontend_lock_held_stderr_real.txt"))
    seen: list[object] = []
    with pytest.raises(AdapterError):
        AptAdapter().install_reporting(transport, ["pd-secfix"], on_transaction=seen.append)  # type: ignore[arg-type]
    assert seen == []
    with pytest.raises(AdapterError, match="not a valid Debian package name"):
        AptAdapter().install_reporting(transport, ["pd; reboot"], on_transaction=seen.append)  # type: ignore[arg-type]
