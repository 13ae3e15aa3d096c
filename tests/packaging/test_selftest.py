"""``patchdesk --self-test`` from source and on the packaged build (STYLE.md: frozen smoke test).

Any stderr line that is not in bundle.EXPECTED_STDERR fails the check: a Qt plugin that cannot load,
a Python warning, a log warning of our own all show up there first.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.packaging.bundle import ROOT, bundle_or_skip, clean_env, unexpected_stderr
from tests.support import keyring_service

KEYRING_WARNING = re.compile(r"^\s+keyring\s+WARNING: .*No system keyring is available", re.M)


def source_self_test(cwd: Path = ROOT, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run(
        [sys.executable, "-m", "ui.main", "--self-test", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def bundle_self_test(exe: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(exe), "--self-test"], capture_output=True, text=True, timeout=120, env=env, cwd=env["HOME"]
    )


def assert_passed(r: subprocess.CompletedProcess[str]) -> None:
    assert r.returncode == 0, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert "self-test passed" in r.stdout
    assert unexpected_stderr(r.stderr) == [], f"unexpected stderr:\n{r.stderr}"
    for what in ("database", "icons", "window", "cold start", "modules"):
        assert re.search(rf"^\s+{what}\s", r.stdout, re.M), f"no {what} line in:\n{r.stdout}"


def test_self_test_from_source_passes_and_warns_about_the_fail_keyring() -> None:
    # tests/conftest.py pins keyring's fail backend: a warning in the report, not a failure
    r = source_self_test()
    assert_passed(r)
    assert "from source" in r.stdout
    assert KEYRING_WARNING.search(r.stdout), r.stdout
    assert "SecretService" in r.stdout  # the backends keyring knows, from its entry points


def test_self_test_fails_on_a_broken_icon(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for package in ("app", "db", "ui", "resources"):
        shutil.copytree(ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__"))
    (tree / "resources" / "icons" / "scan.svg").write_text("<svg this is not")
    r = source_self_test(tree)
    assert r.returncode == 1, r.stdout
    assert "FAILED: icon scan.svg does not load" in r.stdout
    assert "self-test passed" not in r.stdout


def test_self_test_takes_no_other_arguments() -> None:
    r = source_self_test(ROOT, "--verbose")
    assert r.returncode == 2 and "--self-test takes no other arguments" in r.stderr


def test_bundle_self_test_passes_in_a_clean_environment(tmp_path: Path) -> None:
    exe = bundle_or_skip()
    r = bundle_self_test(exe, clean_env(tmp_path / "home"))
    assert_passed(r)
    assert "frozen (PyInstaller)" in r.stdout
    # keyring's backends survived freezing; with no session bus here the fail backend is a warning
    backends = re.search(r"backends in this build: (.*)", r.stdout)
    assert backends and "SecretService" in backends.group(1), r.stdout
    assert KEYRING_WARNING.search(r.stdout), r.stdout
    # nothing was written outside the self-test's temporary data dir
    assert not (tmp_path / "home" / ".local").exists()
    cold = re.search(r"cold start\s+([\d.]+) s", r.stdout)
    assert cold is not None
    print(f"bundle cold start to the rendered window: {cold.group(1)} s")


@pytest.mark.keyring_service
def test_bundle_finds_a_real_secret_service(tmp_path: Path) -> None:
    """Frozen, keyring still discovers the Secret Service backend and reaches a real gnome-keyring."""
    exe = bundle_or_skip()
    with keyring_service.running(tmp_path / "keyring") as service:
        env = clean_env(tmp_path / "home")
        env.update(service.env())
        r = bundle_self_test(exe, env)
    assert_passed(r)
    assert re.search(r"^\s+keyring\s+in use: SecretService Keyring", r.stdout, re.M), r.stdout
    assert not KEYRING_WARNING.search(r.stdout)


def test_archive_extracts_anywhere_and_passes_its_self_test(tmp_path: Path) -> None:
    """What an offline site does: copy the archive, extract it somewhere else, run ./patchdesk."""
    exe = bundle_or_skip()
    archives = sorted(exe.parent.parent.glob("patchdesk-*-linux-*.tar.gz"))
    assert archives, f"no archive next to {exe.parent} (build.spec writes it after the bundle)"
    site = tmp_path / "opt"
    with tarfile.open(archives[-1]) as tf:
        tf.extractall(site, filter="tar")
    extracted = site / "patchdesk" / "patchdesk"
    assert extracted.is_file() and os.access(extracted, os.X_OK)
    r = bundle_self_test(extracted, clean_env(tmp_path / "home"))
    assert_passed(r)
    assert f"plugins under {site}" in r.stdout  # its own Qt, not the build tree's
