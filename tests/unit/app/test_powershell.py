"""The WinRM transport's own PowerShell (ps/*.ps1 beside app/transports/powershell.py) parses with a
real PowerShell grammar, as files and as sent, and a path is data however it is spelt."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.transports import powershell
from app.transports.powershell import bootstrap, env_lines, fill, prologue, ps_quote
from tests.support.powershell import grammar_problems

PS_DIR = Path(powershell.__file__).resolve().parent / "ps"
HOSTILE = "C:\\x'); Remove-Item C:\\ -Recurse #\"$(calc)`n@' ${@OFFSET@}"


def test_the_script_files_are_all_there() -> None:
    assert sorted(p.stem for p in PS_DIR.glob("*.ps1")) == ["bootstrap", "get", "prologue", "put"]


@pytest.mark.parametrize("name", ["bootstrap", "get", "prologue", "put"])
def test_every_script_file_parses(name: str) -> None:
    text = (PS_DIR / f"{name}.ps1").read_text(encoding="utf-8")
    assert grammar_problems(text) == []
    assert "\r" not in text  # line ends are chosen when sent


@pytest.mark.parametrize(
    "script",
    [
        prologue() + bootstrap(),
        prologue() + env_lines({"LC_ALL": "C"}) + "Get-Date",
        fill("put", path=ps_quote(HOSTILE)),
        fill("get", path=ps_quote(HOSTILE), offset="0", count="65536"),
    ],
    ids=["bootstrap", "env", "put", "get"],
)
def test_every_script_as_sent_parses(script: str) -> None:
    assert grammar_problems(script) == []


def test_a_path_is_filled_once_and_never_searched_for_placeholders() -> None:
    script = fill("get", path=ps_quote(HOSTILE), offset="7", count="9")
    assert f"$p = {ps_quote(HOSTILE)}\n" in script
    assert "[void]$fs.Seek(7, 'Begin')" in script and "New-Object byte[] 9" in script
    assert "${@" not in script.replace(ps_quote(HOSTILE), "")


def test_prologue_and_bootstrap_go_out_with_windows_line_ends() -> None:
    for text in (prologue(), bootstrap()):
        assert text.count("\r\n") == text.count("\n") > 0
