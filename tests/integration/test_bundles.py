"""Offline bundles on real Debian test hosts: a reference host that reaches the test repository, two
hosts whose only source is a repository that does not exist. Request, create, verify, apply; then
scan, patch and roll back from the bundle alone, with /etc/apt byte-identical at every step."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_scan_cli import ROOT, add_hosts
from tests.support import keyring_service

pytestmark = [
    pytest.mark.hosts,
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <socket\.socket .*/keyring/run/bus>"
        ":pytest.PytestUnraisableExceptionWarning"
    ),
]

#: every file, directory and link under /etc/apt with its mode, size, mtime and content hash
ETC_APT_STATE = (
    "find /etc/apt -printf '%p %y %m %s %T@ %l\\n' | LC_ALL=C sort; "
    "find /etc/apt -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum"
)
OFFLINE_SOURCES = "deb [trusted=yes] file:/srv/nowhere bookworm main\n"


@pytest.fixture
def keyring_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    with keyring_service.running(tmp_path / "keyring") as service:
        yield {**service.env(), "PYTHON_KEYRING_BACKEND": "keyring.backends.SecretService.Keyring"}


def run(
    db_path: Path, env: dict[str, str], *args: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in {**os.environ, **env}.items() if k != "SSH_AUTH_SOCK"}
    return subprocess.run(
        [sys.executable, "-m", "ui.main", "--db", str(db_path), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full,
    )


def run_json(db_path: Path, env: dict[str, str], *args: str) -> tuple[int, dict[str, Any], str]:
    r = run(db_path, env, *args, "--json")
    try:
        return r.returncode, json.loads(r.stdout), r.stderr
    except json.JSONDecodeError:
        raise AssertionError(f"not JSON (exit {r.returncode}): {r.stdout!r} {r.stderr!r}") from None


def make_offline(host: Any) -> None:
    """Sources that point at a repository that does not exist, no prebuilt lists, no local repo."""
    host.check(
        "rm -f /etc/apt/sources.list.d/*; "
        f"printf '%s' '{OFFLINE_SOURCES}' > /etc/apt/sources.list; "
        "rm -rf /var/lib/apt/lists/*_* /var/cache/apt/*.bin /srv/repo"
    )


def etc_apt(host: Any) -> str:
    return str(host.check(ETC_APT_STATE))


def pending_of(report: dict[str, Any], name: str) -> dict[str, str]:
    entry = next(h for h in report["hosts"] if h["name"] == name)
    assert entry["status"] == "ok", entry
    return {p["name"]: p["available"] for p in entry["pending"]}


def flip_byte(src: Path, dst: Path, at: int) -> None:
    data = bytearray(src.read_bytes())
    data[at] ^= 0x01
    dst.write_bytes(bytes(data))


def repack_with_changed_member(src: Path, dst: Path, suffix: str) -> str:
    """The same bundle with one byte of one .deb changed (a valid gzip'd tar: only the hash shows it)."""
    changed = ""
    with tarfile.open(src, "r:gz") as tin, tarfile.open(dst, "w:gz") as tout:
        for member in tin:
            data = tin.extractfile(member).read() if member.isfile() else b""  # type: ignore[union-attr]
            if not changed and member.name.endswith(suffix):
                buf = bytearray(data)
                buf[len(buf) // 2] ^= 0x01
                data, changed = bytes(buf), member.name
            import io

            tout.addfile(member, io.BytesIO(data))
    return changed


def test_bundle_round_trip_offline_apt_hosts(
    hosts, host_pool, db_path: Path, tmp_path: Path, keyring_env
) -> None:  # type: ignore[no-untyped-def]
    from tests.hosts import SYNTHETIC_PACKAGES

    ref, off = hosts[0], hosts[1:3]
    for h in off:
        make_offline(h)
    add_hosts(db_path, [ref, *off], host_pool.client_key)
    code, report, err = run_json(
        db_path, keyring_env, "scan", "--no-refresh", ref.name, *[h.name for h in off]
    )
    for h in off:  # offline: nothing to see (and the scan says it could not see it)
        entry = next(e for e in report["hosts"] if e["name"] == h.name)
        assert entry["pending"] == [], entry
    before = {h.name: etc_apt(h) for h in off}

    def same_etc_apt(step: str) -> None:
        for h in off:
            assert etc_apt(h) == before[h.name], f"/etc/apt of {h.name} changed at {step}"

    request = tmp_path / "request.json"
    r = run(db_path, keyring_env, "bundle", "request", *[h.name for h in off], "-o", str(request))
    assert r.returncode == 0, r.stderr
    same_etc_apt("request")

    code, est, err = run_json(
        db_path,
        keyring_env,
        "bundle",
        "create",
        "--reference",
        ref.name,
        "--request",
        str(request),
        "--estimate",
    )
    assert code == 0 and est["estimate_bytes"] > 0, (est, err)

    bundle = tmp_path / "site.pdbundle"
    code, made, err = run_json(
        db_path,
        keyring_env,
        "bundle",
        "create",
        "--reference",
        ref.name,
        "--request",
        str(request),
        "-o",
        str(bundle),
    )
    assert code == 0, err
    expected = {n: max(spec["updates"].values()) for n, spec in SYNTHETIC_PACKAGES.items() if spec["updates"]}
    for entry in made["hosts"]:
        assert {u[0]: u[2] for u in entry["updates"]} == expected
    with tarfile.open(bundle, "r:gz") as tar:
        names = [m.name for m in tar.getmembers()]
    assert names[:2] == ["manifest.json", "manifest.sig"]
    # the rollback versions travel too
    for name, spec in SYNTHETIC_PACKAGES.items():
        if spec["updates"] and spec["installed"]:
            assert any(n.endswith(f"/{name}_{spec['installed']}_all.deb") for n in names), name

    code, checked, err = run_json(db_path, keyring_env, "bundle", "verify", str(bundle))
    assert code == 0 and checked["ok"] and checked["id"] == made["id"], err
    made_at = checked["created"]

    # damaged bundles are refused by verify and by apply, naming what is wrong; nothing reaches a host
    flipped = tmp_path / "flipped.pdbundle"
    flip_byte(bundle, flipped, bundle.stat().st_size // 2)
    cut = tmp_path / "cut.pdbundle"
    cut.write_bytes(bundle.read_bytes()[: bundle.stat().st_size * 2 // 3])
    changed = tmp_path / "changed.pdbundle"
    member = repack_with_changed_member(bundle, changed, "_all.deb")
    for bad in (flipped, cut, changed):
        for args in (("verify", str(bad)), ("apply", str(bad), "--all")):
            r = run(db_path, keyring_env, "bundle", *args)
            assert r.returncode != 0, (bad, args, r.stdout)
            assert "Traceback" not in r.stderr and "bundle" in r.stderr.lower(), r.stderr
    r = run(db_path, keyring_env, "bundle", "verify", str(changed))
    assert member in r.stderr and "SHA-256" in r.stderr, r.stderr
    for h in off:
        assert h.run("test -e /var/lib/patchdesk").returncode != 0
    same_etc_apt("refused bundles")

    code, applied, err = run_json(db_path, keyring_env, "bundle", "apply", str(bundle), "--all")
    assert code == 0 and all(o["ok"] for o in applied["hosts"]), (applied, err)
    assert {o["name"] for o in applied["hosts"]} == {h.name for h in off}
    same_etc_apt("apply")

    ref.drop_packets()  # from here on nothing reaches the connected side
    code, report, err = run_json(db_path, keyring_env, "scan", *[h.name for h in off])
    assert code == 0, err
    for h in off:
        assert pending_of(report, h.name) == expected
        entry = next(e for e in report["hosts"] if e["name"] == h.name)
        assert entry["complete"] is True and entry["notes"] == [], entry
        secfix = next(p for p in entry["pending"] if p["name"] == "pd-secfix")
        assert secfix["security"] is True and "security" in secfix["source"], secfix  # the origin travelled
        assert secfix["classification"] == "important", secfix
        # the index is as new as the bundle, not as the moment it was read
        built = datetime.fromisoformat(made_at)
        assert abs((datetime.fromisoformat(entry["index_updated"]) - built).total_seconds()) < 5, entry
    same_etc_apt("scan")

    code, report, err = run_json(db_path, keyring_env, "patch", *[h.name for h in off], "--reboot", "never")
    assert code in (0, 1), err
    for h in off:
        entry = next(e for e in report["hosts"] if e["name"] == h.name)
        assert entry["status"] == "ok", entry
        for name, version in expected.items():
            assert h.installed_version(name) == version, name
    same_etc_apt("patch")

    code, report, err = run_json(db_path, keyring_env, "rollback", *[h.name for h in off])
    assert code in (0, 1), (report, err)
    for h in off:
        for name, spec in SYNTHETIC_PACKAGES.items():
            assert h.installed_version(name) == spec["installed"], (h.name, name)
    same_etc_apt("rollback")

    # a bundle built long ago: the scan still shows what it carries, and says its index is old
    stale = off[0]
    stale.check(  # as if three days had passed since the bundle was built and applied
        f"touch -d '3 days ago' /var/lib/patchdesk/bundles/{made['id']}/created "
        "/var/lib/patchdesk/bundles/lists/*_Release"
    )
    code, report, err = run_json(db_path, keyring_env, "scan", "--full", stale.name)
    entry = report["hosts"][0]
    assert pending_of(report, stale.name) == expected
    # the scan refreshed the index (the policy allows 24 hours), which reads the bundle again: still old
    assert entry["complete"] is False and entry["notes"], entry
    same_etc_apt("stale scan")

    code, removed, err = run_json(db_path, keyring_env, "bundle", "remove", made["id"])
    assert code == 0 and all(o["ok"] for o in removed["hosts"]), removed
    for h in off:
        assert h.run(f"test -e /var/lib/patchdesk/bundles/{made['id']}").returncode != 0
        assert h.run("test -e /var/lib/patchdesk/bundles/sources.list").returncode != 0
    same_etc_apt("remove")


def _member(bundle: Path, suffix: str) -> tuple[str, bytes]:
    with tarfile.open(bundle, "r:gz") as tar:
        for m in tar:
            if m.name.endswith(suffix):
                return m.name.rsplit("/", 1)[-1], tar.extractfile(m).read()  # type: ignore[union-attr]
    raise AssertionError(suffix)


def test_bundle_apply_resumes_a_cut_copy_and_names_a_bad_one(
    hosts, host_pool, db_path: Path, tmp_path: Path, keyring_env
) -> None:  # type: ignore[no-untyped-def]
    from db import settings as db_settings
    from db.database import open_database

    ref, off = hosts[0], hosts[1]
    make_offline(off)
    add_hosts(db_path, [ref, off], host_pool.client_key)
    run_json(db_path, keyring_env, "scan", "--no-refresh", ref.name, off.name)
    bundle = tmp_path / "site.pdbundle"
    code, made, err = run_json(
        db_path,
        keyring_env,
        "bundle",
        "create",
        "--reference",
        ref.name,
        "--hosts",
        off.name,
        "-o",
        str(bundle),
    )
    assert code == 0, err

    db = open_database(db_path)
    db_settings.set_setting(db, "bundles.max_host_mb", "0.01")
    code, applied, err = run_json(db_path, keyring_env, "bundle", "apply", str(bundle), off.name)
    assert code == 1 and "bundles.max_host_mb" in applied["hosts"][0]["message"], applied
    assert off.run("test -e /var/lib/patchdesk").returncode != 0
    db_settings.set_setting(db, "bundles.max_host_mb", None)
    db.conn.close()

    # an earlier apply stopped half-way through one file, and left another whole but wrong
    cut_name, cut = _member(bundle, "pd-secfix_1.0-2_all.deb")
    bad_name, good = _member(bundle, "pd-regular_2.1-1_all.deb")
    incoming = f"/var/lib/patchdesk/bundles/{made['id']}/incoming"
    off.check(f"mkdir -p {incoming} && chown admin {incoming}")
    (tmp_path / "cut").write_bytes(cut[: len(cut) // 2])
    (tmp_path / "bad").write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    for local, name in ((tmp_path / "cut", cut_name), (tmp_path / "bad", bad_name)):
        data = base64.b64encode(local.read_bytes()).decode()
        off.check(f"echo {data} | base64 -d > {incoming}/{name} && chown admin {incoming}/{name}")
    code, applied, err = run_json(db_path, keyring_env, "bundle", "apply", str(bundle), off.name)
    assert code == 1, applied
    message = applied["hosts"][0]["message"]
    assert bad_name in message and cut_name not in message, message  # the cut one was completed
    code, applied, err = run_json(db_path, keyring_env, "bundle", "apply", str(bundle), off.name)
    assert code == 0, applied
    assert off.check(f"sha256sum < /var/lib/patchdesk/bundles/{made['id']}/repo/{cut_name}").split()[0] == (
        hashlib.sha256(cut).hexdigest()
    )
