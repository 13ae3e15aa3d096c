"""Windows facts, against Windows-format data in tests/data/windows/."""

from __future__ import annotations

from pathlib import Path

from app.platforms.windows.facts import parse_windows_facts

DATA = Path(__file__).resolve().parents[4] / "data" / "windows"


def test_facts() -> None:
    facts, managers = parse_windows_facts((DATA / "facts_server2022.json").read_text())
    assert (
        facts.pretty_name == "Microsoft Windows Server 2022 Standard (21H2)"
        and facts.uptime_seconds == 86400.0
    )
    assert managers == {"wua", "choco"}
