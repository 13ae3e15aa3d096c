"""zypper adapter: commands keep untrusted text as argv data; detection and the adapter over replayed
output (crafted from zypper's documented formats: no real zypper host can run here)."""

from __future__ import annotations

import pytest

from app.domain.models import OsFacts, PackageChange
from app.platforms.posix import zypper
from app.platforms.registry import detect


def test_commands_keep_names_as_data() -> None:
    cmds = zypper.install_commands(["pd-secfix", "patch:SUSE-SLE-Module-Basesystem-15-SP6-2024-2891"])
    assert cmds[0][-2:] == ["--", "pd-secfix"] and "update" in cmds[0]
    assert cmds[1][-4:] == ["-t", "patch", "--", "SUSE-SLE-Module-Basesystem-15-SP6-2024-2891"]
    assert "--dry-run" in zypper.install_commands(None, dry_run=True)[0]
    with pytest.raises(ValueError):
        zypper.install_commands(["x; reboot"])
    with pytest.raises(ValueError):
        zypper.install_commands(["patch:$(id)"])
    rb = zypper.rollback_commands(
        [
            PackageChange("zypper", "pd-secfix", "1.0-1", "1.0-2"),
            PackageChange("zypper", "pd-new", None, "1.0-1"),
        ]
    )
    assert rb[0][-2:] == ["--", "pd-secfix=1.0-1"] and "--oldpackage" in rb[0]
    assert rb[1][-3:] == ["remove", "--", "pd-new"]
    with pytest.raises(ValueError):
        zypper.rollback_commands([PackageChange("zypper", "pd-x", "1.0-1;id", "1.0-2")])


def test_registry_builds_zypper_for_suse() -> None:
    facts = OsFacts(id="opensuse-leap", id_like=("suse", "opensuse"), pretty_name="openSUSE Leap 15.6")
    assert isinstance(detect(facts, frozenset({"zypper", "rpm"}), host="leap01"), zypper.ZypperAdapter)
