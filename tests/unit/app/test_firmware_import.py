"""Offline firmware import (app/services/firmware.py): what is refused before anything is sent, and
the root script that puts the files in place. The real path runs on an fwupd test host
(tests/integration/test_firmware_hosts.py::test_offline_import_of_metadata_and_cab)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlite_utils import Database

from app.domain.errors import ConfigError
from app.domain.models import Host
from app.services.firmware import MAX_CABS, import_offline, install_script
from db import hosts as db_hosts


@pytest.fixture
def host(db: Database) -> Host:
    return db_hosts.add_host(db, Host("fw1", "127.0.0.1"))


def test_files_are_checked_before_connecting(db: Database, host: Host, tmp_path: Path) -> None:
    meta = tmp_path / "firmware.xml.gz"
    meta.write_bytes(b"\x1f\x8b")
    cab = tmp_path / "dock.cab"
    cab.write_bytes(b"MSCF")
    copy = tmp_path / "same-dock.cab"
    copy.write_bytes(b"MSCF")
    bad = {
        "metadata": (tmp_path / "notes.txt", []),
        "name": (tmp_path / "firm ware.xml", []),
        "cab": (meta, [tmp_path / "dock.exe"]),
        "missing": (meta, [tmp_path / "gone.cab"]),
        "twice": (meta, [cab, copy]),
        "many": (meta, [cab] * (MAX_CABS + 1)),
    }
    for metadata, cabs in bad.values():
        with pytest.raises(ConfigError):
            import_offline(db, host, metadata, cabs)


def test_install_script_quotes_everything_and_writes_the_remote_atomically() -> None:
    script = install_script("/tmp/tmp.AbC123", "firmware.xml.gz", ["0" * 64 + ".cab"])
    assert script.startswith("set -e; install -d -m 0755 /var/lib/patchdesk/firmware;")
    assert "MetadataURI=file:///var/lib/patchdesk/firmware/firmware.xml.gz" in script
    assert "patchdesk-offline.conf.tmp; mv " in script and script.endswith("rm -rf /tmp/tmp.AbC123")
