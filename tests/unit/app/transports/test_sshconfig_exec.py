"""Patchdesk never executes anything from an SSH config (issue #19 item 1)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app.transports import sshconfig


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config"
    path.write_text(text)
    return path


def test_command_execution_through_match_exec_in_the_ssh_config(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    """paramiko evaluates ``Match exec`` by running the command (with %h from the stored address)."""
    pytest.importorskip("invoke")  # the old code ran it through invoke; without it nothing could run
    marker = tmp_path / "pwned"
    cfg = _config(
        tmp_path,
        f'Match exec "touch {marker}"\n  Port 2222\n\nHost web1\n  HostName 127.0.0.5\n  User admin\n',
    )
    with caplog.at_level(logging.WARNING):
        entry = sshconfig.lookup("web1", cfg)
    assert not marker.exists()
    assert entry.hostname == "127.0.0.5" and entry.user == "admin"
    assert entry.port is None  # the exec block is never applied, whatever the command would say
    assert any("line 1" in r.getMessage() and "Match exec" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("keyword", ["ProxyCommand", "LocalCommand", "KnownHostsCommand"])
def test_command_keywords_are_ignored_with_a_warning(tmp_path: Path, caplog, keyword: str) -> None:  # type: ignore[no-untyped-def]
    cfg = _config(tmp_path, f"Host web1\n  HostName 127.0.0.5\n  {keyword} nc %h %p\n  Port 2200\n")
    with caplog.at_level(logging.WARNING):
        entry = sshconfig.lookup("web1", cfg)
    assert entry.hostname == "127.0.0.5" and entry.port == 2200
    assert any("line 3" in r.getMessage() and keyword in r.getMessage() for r in caplog.records)


def test_negated_and_combined_exec_criteria_never_apply(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    cfg = _config(
        tmp_path,
        f'Match host web1 !exec "touch {marker}"\n  Port 2222\nMatch host web1 EXEC=x\n  User root\n'
        "Host *\n  User admin\n",
    )
    entry = sshconfig.lookup("web1", cfg)
    assert not marker.exists() and entry.port is None and entry.user == "admin"


def test_a_huge_config_is_refused_not_read(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    with cfg.open("wb") as f:
        f.truncate(64 * 1024 * 1024)
    with pytest.raises(sshconfig.ConfigError, match="too large"):
        sshconfig.lookup("web1", cfg)


def test_an_imported_shell_alias_is_refused_per_row(tmp_path: Path) -> None:
    """The reported attack: ``Host $(touch${IFS}$HOME/pwned)`` imported from an ssh_config file."""
    from app.importers.detect import read_inventory

    cfg = _config(tmp_path, "Host $(touch${IFS}$HOME/pwned) `id`\n  User admin\nHost web1\n  Port 2201\n")
    r = read_inventory(cfg)
    assert [h.name for h in r.hosts] == ["web1"]
    assert len(r.problems) == 2 and all("not a host name" in p.message for p in r.problems)
