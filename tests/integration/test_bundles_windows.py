"""Offline bundles for a Windows host, through the CLI in its own process: the real pywinrm client
against the loopback WS-Management server (FakeWindows plays the host), the signing key in a real
Secret Service, the update files from a local directory of fake .msu/.cab files (never the internet).

Request (the host's build, architecture and the updates its last scan found) -> create from the
directory -> verify (a tampered bundle is refused naming the file) -> apply (free space checked first,
a copy damaged on the host named by Get-FileHash) -> an offline scan against wsusscn2.cab -> patch
through wusa -> remove."""

from __future__ import annotations

import base64
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_bundles import repack_with_changed_member, run, run_json
from tests.integration.test_credentials import keyring_env  # noqa: F401  (fixture)
from tests.integration.test_windows_cli import PASSWORD, add_host
from tests.support.wsman_server import FakeWindows, WSManServer, fake_windows

pytestmark = [
    pytest.mark.hosts,
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <socket\.socket .*/keyring/run/bus>"
        ":pytest.PytestUnraisableExceptionWarning"
    ),
]

CU, NET = "KB5034129", "KB5033914"


@pytest.fixture
def win(tmp_path: Path) -> Iterator[tuple[WSManServer, FakeWindows]]:
    with fake_windows(tmp_path, PASSWORD, task_step=0.1) as (server, fake):
        yield server, fake


def downloads(root: Path) -> Path:
    """What an administrator downloaded where there is a connection: the KBs' files (with an x86
    build of one that must stay out of an x64 host's bundle) and the offline scan catalogue."""
    d = root / "downloads"
    d.mkdir()
    (d / f"windows10.0-{CU.lower()}-x64_0a1b2c.msu").write_bytes(b"MSU " + CU.encode() * 4000)
    (d / f"windows10.0-{CU.lower()}-x86_0a1b2c.msu").write_bytes(b"MSU x86 " + CU.encode() * 100)
    (d / f"windows10.0-{NET.lower()}-x64.cab").write_bytes(b"MSCF " + NET.encode() * 3000)
    (d / "wsusscn2.cab").write_bytes(b"MSCF catalogue " * 5000)
    (d / "readme.txt").write_text("not an update\n")
    return d


def test_windows_bundle_request_create_verify_and_a_tampered_one_refused(
    win: tuple[WSManServer, FakeWindows],
    tmp_path: Path,
    keyring_env: dict[str, str],  # noqa: F811
) -> None:
    server, fake = win
    db = tmp_path / "pd.sqlite3"
    add_host(db, keyring_env, server)
    request = tmp_path / "request.json"

    # never scanned: its updates are unknown, not "none"
    r = run(db, keyring_env, "bundle", "request", "win01", "-o", str(request))
    assert r.returncode != 0 and "scan it first" in r.stderr, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr

    code, report, err = run_json(db, keyring_env, "scan", "win01")
    assert code == 0 and report["hosts"][0]["status"] == "ok", (report, err)
    r = run(db, keyring_env, "bundle", "request", "win01", "-o", str(request))
    assert r.returncode == 0, (r.stdout, r.stderr)
    host = json.loads(request.read_text())["hosts"][0]
    assert (host["name"], host["manager"], host["release"], host["version"], host["arch"]) == (
        "win01",
        "win",
        "20348",
        "20348.2227",
        "amd64",
    )
    listed = {u["name"]: u for u in json.loads(base64.b64decode(host["status"]))}
    assert {CU, NET} <= set(listed) and listed[CU]["title"].startswith("2024-01 Cumulative Update")

    d = downloads(tmp_path)
    bundle = tmp_path / "win.bundle"
    # every pending update is asked for, and the directory lacks most of them: refused, named
    r = run(
        db,
        keyring_env,
        "bundle",
        "create",
        "--request",
        str(request),
        "--from-dir",
        str(d),
        "-o",
        str(bundle),
    )
    assert r.returncode != 0 and "has no update file for" in r.stderr and "KB890830" in r.stderr, r.stderr
    assert CU not in r.stderr.split("has no update file for", 1)[1] and not bundle.exists()

    code, made, err = run_json(
        db,
        keyring_env,
        "bundle",
        "create",
        "--request",
        str(request),
        "--from-dir",
        str(d),
        "--classification",
        "urgent",
        "-o",
        str(bundle),
    )
    assert code == 0, (made, err)
    kbs = [u[0] for u in made["hosts"][0]["updates"]]
    assert CU in kbs, made

    code, verified, err = run_json(db, keyring_env, "bundle", "verify", str(bundle))
    assert code == 0, (verified, err)
    with tarfile.open(bundle) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    files = {f["name"]: f for f in manifest["files"]}
    assert f"windows10.0-{CU.lower()}-x64_0a1b2c.msu" in files
    assert f"windows10.0-{CU.lower()}-x86_0a1b2c.msu" not in files  # another architecture's build
    assert files["wsusscn2.cab"]["purpose"] == "index" and files["wsusscn2.cab"]["hosts"] == ["win01"]
    assert files[f"windows10.0-{CU.lower()}-x64_0a1b2c.msu"]["package"] == CU.lower()
    assert manifest["hosts"][0]["group"] == "win-20348-amd64"

    bad = tmp_path / "tampered.bundle"
    changed = repack_with_changed_member(bundle, bad, ".msu")
    assert changed.endswith(".msu")
    r = run(db, keyring_env, "bundle", "verify", str(bad))
    assert r.returncode != 0 and Path(changed).name in r.stderr and "was changed" in r.stderr, r.stderr

    # not enough room on the host's drive: refused before anything is copied
    fake.bundle_free = 100 * 2**20
    r = run(db, keyring_env, "bundle", "apply", str(bundle), "win01")
    assert r.returncode != 0 and "MB free" in r.stdout + r.stderr, (r.stdout, r.stderr)
    assert not server.scripts("bundle-win-chunk")
    fake.bundle_free = 20 * 2**30

    # a copy that arrives damaged on the host: Get-FileHash names it, it is deleted, not applied
    msu = f"windows10.0-{CU.lower()}-x64_0a1b2c.msu"
    fake.bundle_corrupt = frozenset({msu})
    r = run(db, keyring_env, "bundle", "apply", str(bundle), "win01")
    assert r.returncode != 0 and f"does not match the bundle: {msu}" in r.stdout + r.stderr, (
        r.stdout,
        r.stderr,
    )
    bundle_id = made["id"]
    assert msu not in fake.bundle_files(bundle_id) and "wsusscn2.cab" in fake.bundle_files(bundle_id)

    # again: only the damaged file is copied anew, and every hash matches on the host
    chunks_before = len(server.scripts("bundle-win-chunk"))
    r = run(db, keyring_env, "bundle", "apply", str(bundle), "win01")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert len(server.scripts("bundle-win-chunk")) - chunks_before == 1
    assert fake.bundle_files(bundle_id)[msu] == (d / msu).read_bytes()

    # the scan now searches the bundle's wsusscn2.cab, offline, and says so
    code, report, err = run_json(db, keyring_env, "scan", "win01")
    entry = report["hosts"][0]
    assert code in (0, 2) and entry["status"] == "ok", (report, err)
    assert fake.offline_scans == 1
    pending = {p["name"] for p in entry["pending"]}
    assert set(kbs) <= pending and "KB890830" not in pending, pending
    assert "wsusscn2.cab" in json.dumps(entry), entry

    # wusa says the update is not applicable here (0x80240017): reported, the patch is not green
    fake.bundle_exit_codes = {CU: -2145124329}
    code, report, err = run_json(db, keyring_env, "patch", "win01", "--packages", CU, "--reboot", "never")
    assert code != 0 and CU not in fake.installed_kbs, (report, err)
    assert "0x80240017: not applicable to this host" in json.dumps(report) + err, (report, err)
    fake.bundle_exit_codes = {}

    # patch installs from the bundle's .msu through the SYSTEM task (wusa), not from Windows Update
    code, report, err = run_json(db, keyring_env, "patch", "win01", "--packages", CU, "--reboot", "never")
    assert CU in fake.installed_kbs, (report, err)
    assert not [t for t in server.scripts("task-start") if "wua-install" in str(t)]
    changes = report["hosts"][0]["changes"]
    assert [(c["name"], c["to"]) for c in changes] == [(CU, "installed")], report

    # rollback: wusa /uninstall, its check asking the bundle's catalogue, not Windows Update
    code, report, err = run_json(db, keyring_env, "rollback", "win01")
    assert code == 0 and CU not in fake.installed_kbs, (report, err)
    assert fake.removal_checks_offline == ((bundle_id,),)

    # removing the bundle deletes its folder on the host
    r = run(db, keyring_env, "bundle", "remove", bundle_id)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert fake.bundle_files(bundle_id) == {}


def test_an_offline_host_without_the_catalogue_or_the_file_is_never_green(tmp_path: Path) -> None:
    """The adapter on its own: a bundle folder without wsusscn2.cab fails the scan (never "nothing
    pending"), and a KB the bundle has no file for fails the install naming it."""
    from app.domain.errors import AdapterError
    from app.platforms.windows.wua import WindowsUpdateAdapter
    from tests.support.wsman_server import winrm_to

    bundle_id = "0123456789abcdef"
    with fake_windows(tmp_path, PASSWORD, task_step=0.05) as (server, fake):
        folder = f"C:\\ProgramData\\Patchdesk\\bundles\\{bundle_id}\\"
        fake.files[folder + f"windows10.0-{CU.lower()}-x64.msu"] = b"MSU"
        adapter = WindowsUpdateAdapter("win01", poll_interval=0.1)
        adapter.extra_sources = (bundle_id,)
        with winrm_to(server, PASSWORD, name="win01") as transport:
            with pytest.raises(AdapterError, match=r"wsusscn2\.cab"):
                adapter.scan(transport)
            fake.files[folder + "wsusscn2.cab"] = b"MSCF"
            assert [u.name for u in adapter.scan(transport)] == [CU]
            assert adapter.index_state(transport).notes and adapter.index_state(transport).updated is None
            with pytest.raises(AdapterError, match=f"{NET}: no file for it in the bundles"):
                adapter.install(transport, [NET])
            assert NET not in fake.installed_kbs
            adapter.install(transport, None)
            assert CU in fake.installed_kbs
