"""The SSH config was read and parsed again for every connection: 2-4 ms of CPU per host for a config of
60 hosts, paid by every host of every job (#25). It is parsed once per version of the file now."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.domain.errors import ConfigError
from app.transports import sshconfig
from app.transports.sshlib import paramiko


def test_the_ssh_config_is_parsed_once_per_version_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parses: list[int] = []
    real = paramiko.SSHConfig.from_text

    def spy(cls: type, text: str) -> paramiko.SSHConfig:
        parses.append(len(text))
        return real(text)

    monkeypatch.setattr(paramiko.SSHConfig, "from_text", classmethod(spy))
    cfg = tmp_path / "config"
    blocks = [f"Host web{i}\n    HostName 127.0.9.{i}\n    User admin{i}\n" for i in range(60)]
    cfg.write_text("".join(blocks))
    for i in range(60):
        entry = sshconfig.lookup(f"web{i}", cfg)
        assert (entry.hostname, entry.user) == (f"127.0.9.{i}", f"admin{i}")
    assert len(parses) == 1
    # an edited file is read again: the answer follows it
    cfg.write_text("Host web1\n    HostName 127.0.8.1\n    Port 2201\n")
    st = cfg.stat()
    os.utime(cfg, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    entry = sshconfig.lookup("web1", cfg)
    assert (entry.hostname, entry.port, entry.user) == ("127.0.8.1", 2201, None)
    assert len(parses) == 2
    # a file that went away is the same sentence as before, not the old answer
    cfg.unlink()
    with pytest.raises(ConfigError, match="Could not read the SSH config"):
        sshconfig.lookup("web1", cfg)
