"""apt and offline bundles: the extra sources on every apt command line, the commands built for the
reference host and the offline host, the repository index read from real .deb files."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from app.domain.bundle import BundleError, Purpose, ResolvedPackage, apt_sources, parse_origin, release_file
from app.domain.models import PackageChange
from app.platforms.posix import apt, apt_install, bundle_apt

BUNDLE = "0123456789abcdef"
OPTIONS = apt_install.source_options([BUNDLE])


def test_without_bundles_apt_commands_are_unchanged() -> None:
    assert apt.scan_command() == apt.SCAN_COMMAND
    assert apt.refresh_command() == apt.REFRESH_COMMAND
    assert apt.index_command() == apt.INDEX_COMMAND
    assert apt.fingerprint_command() == apt.FINGERPRINT_COMMAND
    assert apt_install.source_options([]) == []
    assert "Dir::Etc::sourcelist" not in " ".join(apt_install.install_command(["pd-x"], 60))


def test_every_apt_command_names_the_bundles_as_sources_and_nothing_under_etc() -> None:
    joined = " ".join(OPTIONS)
    assert "Dir::Etc::sourcelist=/var/lib/patchdesk/bundles/sources.list" in joined
    assert (
        "Dir::Etc::sourceparts=-" in joined and "Dir::State::Lists=/var/lib/patchdesk/bundles/lists" in joined
    )
    change = PackageChange("apt", "pd-x", "1", "2")
    argvs = [
        apt_install.plan_command(["pd-x"], sources=[BUNDLE]),
        apt_install.install_command(["pd-x"], 60, "pd@tag:txn", sources=[BUNDLE]),
        apt_install.rollback_command([change], 60, [BUNDLE]),
        apt_install.madison_command(["pd-x"], [BUNDLE]),
    ]
    for argv in argvs:
        assert argv[1 : 1 + len(OPTIONS)] == OPTIONS, argv
    for text in (apt.scan_command([BUNDLE]), apt.refresh_command([BUNDLE]), apt.index_command([BUNDLE])):
        assert " ".join(OPTIONS) in text
    script = apt.scan_script("ab" * 16, None, [BUNDLE])
    assert apt.scan_command([BUNDLE]) in script and "/var/lib/patchdesk/bundles/lists/*_Release" in script
    adapter = apt.AptAdapter("web1")
    adapter.extra_sources = (BUNDLE,)
    assert adapter.scan_command() == apt.scan_command([BUNDLE])
    assert "/etc/apt" not in joined


def test_a_bundle_applied_or_removed_changes_the_fingerprint_command() -> None:
    assert apt.fingerprint_command([BUNDLE]) != apt.FINGERPRINT_COMMAND
    assert apt.fingerprint_command([BUNDLE]) != apt.fingerprint_command(["fedcba9876543210"])


def test_a_bundle_id_that_is_not_ours_never_reaches_a_command() -> None:
    with pytest.raises(BundleError):
        apt_install.source_options(["x; rm -rf /"])


def test_the_offline_hosts_status_is_given_to_apt_on_the_reference_host() -> None:
    argv = bundle_apt.simulate_command("/tmp/patchdesk-bundle.AbCdEfGhIj")
    assert "Dir::State::status=/tmp/patchdesk-bundle.AbCdEfGhIj/status" in argv and argv[-1] == "dist-upgrade"
    assert bundle_apt.simulate_command("/t", ["pd-x"])[-3:] == ["--only-upgrade", "--", "pd-x"]
    with pytest.raises(BundleError):
        bundle_apt.simulate_command("/t", ["-o=evil"])


def test_download_and_sources_commands_quote_everything() -> None:
    pkgs = [ResolvedPackage("pd-x", "1:2.0-1", "all", Purpose.UPDATE)]
    cmd = bundle_apt.download_command("/tmp/patchdesk-bundle.AbCdEfGhIj/debs", pkgs)
    assert cmd.endswith("apt-get download -q -- pd-x=1:2.0-1")
    with pytest.raises(BundleError):
        bundle_apt.download_command("/d", [ResolvedPackage("pd-x", "1;reboot", "all", Purpose.UPDATE)])
    sources = bundle_apt.sources_command([(BUNDLE, "h0u0"), (BUNDLE, "h0r")])
    assert f"'deb [trusted=yes] file:/var/lib/patchdesk/bundles/{BUNDLE}/repo h0u0/'" in sources
    assert bundle_apt.sources_command([]) == (
        "rm -rf -- /var/lib/patchdesk/bundles/sources.list /var/lib/patchdesk/bundles/lists"
    )
    assert apt_sources([(BUNDLE, "h0r")]).count("\n") == 1
    with pytest.raises(BundleError):
        bundle_apt.sums_file([("../etc/passwd", "0" * 64)])


def test_print_uris_sizes_add_up_and_a_line_without_a_size_is_refused() -> None:
    out = (
        "'file:/srv/repo/pool/main/p/pd-x_2_all.deb' pd-x_2_all.deb 1054 SHA256:ab\n"
        "'file:/srv/repo/pool/main/p/pd-y_1_all.deb' pd-y_1_all.deb 958 SHA256:cd\n"
    )
    assert bundle_apt.parse_print_uris(out) == 2012
    with pytest.raises(BundleError):
        bundle_apt.parse_print_uris("'file:/x' x.deb\n")


def test_a_security_origin_keeps_its_label_and_archive() -> None:
    assert parse_origin("Debian-Security:12/stable-security") == ("Debian-Security", "12", "stable-security")
    assert parse_origin("Patchdesk-Test:stable-updates") == ("Patchdesk-Test", "", "stable-updates")
    assert parse_origin("localhost") is None and parse_origin("a:b/c d") is None
    text = release_file(b"x", "Sat, 06 Dec 2026 10:00:00 GMT", ("Debian-Security", "12", "stable-security"))
    assert "Label: Debian-Security\nSuite: stable-security\nVersion: 12\n" in text


def _deb(tmp_path: Path, control: str, compression: str = "gz") -> Path:
    """A .deb built by hand (ar of debian-binary, control.tar.*, data.tar.gz)."""
    ctl = io.BytesIO()
    with tarfile.open(fileobj=ctl, mode=f"w:{compression}") as tar:
        data = control.encode()
        info = tarfile.TarInfo("./control")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    members = [
        ("debian-binary", b"2.0\n"),
        (f"control.tar.{compression}", ctl.getvalue()),
        ("data.tar.gz", b""),
    ]
    out = io.BytesIO()
    out.write(b"!<arch>\n")
    for name, blob in members:
        out.write(f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(blob):<10}`\n".encode())
        out.write(blob + (b"\n" if len(blob) % 2 else b""))
    path = tmp_path / "pd-x_2_all.deb"
    path.write_bytes(out.getvalue())
    return path


@pytest.mark.parametrize("compression", ["gz", "xz"])
def test_control_fields_are_read_from_the_deb(tmp_path: Path, compression: str) -> None:
    control = "Package: pd-x\nVersion: 2\nArchitecture: all\nDepends: pd-y (>= 1)\nDescription: x\n more\n"
    fields = bundle_apt.deb_control(_deb(tmp_path, control, compression))
    assert fields["Package"] == "pd-x" and fields["Depends"] == "pd-y (>= 1)"
    assert fields["Description"] == "x\n more"
    if shutil.which("dpkg-deb"):  # the real tool agrees that our hand-made package is one
        out = subprocess.run(
            ["dpkg-deb", "-f", str(tmp_path / "pd-x_2_all.deb"), "Package"], capture_output=True
        )
        assert out.stdout.strip() == b"pd-x"


def test_a_file_that_is_not_a_deb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.deb"
    path.write_bytes(b"!<arch>\nshort")
    with pytest.raises(BundleError):
        bundle_apt.deb_control(path)
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(BundleError):
        bundle_apt.deb_control(path)


class _Reference:
    """The reference host's answers, recorded: a put is remembered, each run answers in turn."""

    def __init__(self, *results: object) -> None:
        from app.transports.base import CommandResult

        self.results = [CommandResult(*r) if isinstance(r, tuple) else r for r in results]
        self.puts: list[str] = []

    def put(self, data: bytes, path: str, *, mode: int = 0o644) -> None:
        self.puts.append(path)

    def run(self, command: object, **_kw: object) -> object:
        return self.results.pop(0)


SIMULATION = (
    b"Reading package lists...\n"
    b"1 upgraded, 1 newly installed, 0 to remove and 0 not upgraded.\n"
    b"Inst pd-secfix [1.0-1] (1.0-2 Debian-Security:12/stable-security [all])\n"
    b"Inst pd-chain-extra (1.0-1 Patchdesk-Test:stable-updates [all])\n"
)


def test_the_reference_hosts_answer_gives_updates_and_rollback_versions() -> None:
    ref = _Reference((0, SIMULATION, b""))
    found, updates = bundle_apt.resolve_host(ref, "/s", b"status", "web1", "ref1")  # type: ignore[arg-type]
    assert ref.puts == ["/s/status"]
    assert [(p.name, p.version, p.purpose.value, p.origin) for p in found] == [
        ("pd-secfix", "1.0-2", "update", "Debian-Security:12/stable-security"),
        ("pd-secfix", "1.0-1", "rollback", ""),
        ("pd-chain-extra", "1.0-1", "update", "Patchdesk-Test:stable-updates"),
    ]
    assert updates == [("pd-secfix", "1.0-1", "1.0-2"), ("pd-chain-extra", "", "1.0-1")]


@pytest.mark.parametrize(
    "answer",
    [
        (100, b"", b"E: Could not open lock file"),  # apt failed
        (0, b"", b""),  # nothing at all: not even the summary line
        (0, SIMULATION + b"Inst pd-x [1] (\xff\xfe garbage\n", b""),  # a line it could not read
    ],
)
def test_a_reference_answer_that_could_not_be_read_builds_nothing(answer: tuple[int, bytes, bytes]) -> None:
    with pytest.raises(BundleError):
        bundle_apt.resolve_host(_Reference(answer), "/s", b"status", "web1", "ref1")  # type: ignore[arg-type]


def test_a_bundles_index_is_dated_by_the_bundle_not_by_the_last_read() -> None:
    assert "update-success-stamp" in apt.index_command() and "update-success-stamp" not in apt.index_command(
        [BUNDLE]
    )
    refresh = apt.refresh_command([BUNDLE])
    assert "update-success-stamp" not in refresh
    assert f"touch -c -r /var/lib/patchdesk/bundles/{BUNDLE}/created" in refresh
    assert "touch -d @1765015200 created" in bundle_apt.install_command(BUNDLE, 1765015200)
    assert apt_install.redate_lists([BUNDLE]) in bundle_apt.sources_command([(BUNDLE, "h0r")])
