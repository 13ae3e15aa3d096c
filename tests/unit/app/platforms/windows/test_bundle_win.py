"""Which downloaded files carry a KB, and what the state script's answer means."""

from __future__ import annotations

import pytest

from app.domain.bundle import BundleError
from app.platforms.windows.bundle_win import files_for, kb_of, parse_state


def test_the_kb_is_read_from_microsofts_file_names() -> None:
    assert kb_of("windows10.0-kb5034441-x64_7a8b9c.msu") == "KB5034441"
    assert kb_of("Windows10.0-KB5034129-x64.cab") == "KB5034129"
    assert kb_of("wsusscn2.cab") is None
    assert kb_of("notes-kb5034441.txt") is None  # not an update file
    assert kb_of("kb5034441-and-kb5034129.msu") is None  # two KBs: which one is it?
    assert kb_of("..kb5034441.msu") is None


def test_files_of_another_architecture_are_left_out() -> None:
    names = [
        "windows10.0-kb5034441-x64_1.msu",
        "windows10.0-kb5034441-x86_1.msu",
        "windows10.0-kb5034441-arm64_1.msu",
        "kb5034441.msu",
        "windows10.0-kb5034129-x64.msu",
    ]
    assert files_for(names, "KB5034441", "amd64") == ["kb5034441.msu", "windows10.0-kb5034441-x64_1.msu"]
    assert files_for(names, "KB5034441", "arm64") == ["kb5034441.msu", "windows10.0-kb5034441-arm64_1.msu"]


def test_a_state_answer_that_is_not_one_is_a_sentence() -> None:
    assert parse_state('{"Build":"20348","Revision":"2227","Arch":"AMD64"}') == (
        "20348",
        "20348.2227",
        "amd64",
    )
    for bad in ("", "nonsense", '{"Build":"20348; rm","Arch":"AMD64"}', '{"Build":"20348","Arch":"x 64"}'):
        with pytest.raises(BundleError):
            parse_state(bad)
