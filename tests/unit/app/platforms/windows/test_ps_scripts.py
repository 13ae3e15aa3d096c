"""Every PowerShell script parses with a real PowerShell grammar (tree-sitter-powershell): each file
under app/platforms/windows/ps/ on its own, and the scripts as sent, placeholders filled, for
representative inputs (hostile ones included: they travel as base64 data and must not change the code)."""

from __future__ import annotations

import base64
import inspect
import re
from pathlib import Path

import pytest

from app.platforms.windows import bundle_win, chocolatey, facts, health, history, systask, winget, wua
from app.platforms.windows.scripts import (
    BOOT_PLACEHOLDER,
    PAYLOAD_PLACEHOLDER,
    script_body,
    script_files,
    script_ops,
    script_params,
)
from app.platforms.windows.wua_parse import RemovalCheck
from tests.support.powershell import grammar_problems as _problems

PS_DIR = Path(wua.__file__).resolve().parent / "ps"
GUID = "0b9a6d3e-4c2f-4e8a-9a51-3f1e2d4c5b6a"
HOSTILE = "x'); Remove-Item C:\\ -Recurse #\"$(calc)`n@'"


def test_the_script_files_are_all_there() -> None:
    names = script_files()
    assert names == sorted(p.stem for p in PS_DIR.glob("*.ps1"))
    assert {"wua-scan", "task-wrapper", "windows-health", "choco-upgrade", "winget-update"} <= set(names)


@pytest.mark.parametrize("name", script_files())
def test_every_script_file_parses(name: str) -> None:
    text = (PS_DIR / f"{name}.ps1").read_text(encoding="utf-8")
    assert _problems(text) == []
    assert "\r" not in text  # line ends are chosen when sent (script_body's crlf)


def _sent() -> dict[str, str]:
    checks = [
        RemovalCheck("KB5034441", True, True, None),
        RemovalCheck(
            "KB5034129", True, False, "Package_for_RollupFix~31bf3856ad364e35~amd64~~22621.3007.1.6"
        ),
    ]
    return {
        "wua-scan": wua.scan_payload(),
        "wua-install": wua.install_payload([GUID], ["KB5034441"], all_software=False),
        "wua-install-all": wua.install_payload([], [], all_software=True),
        "wua-installed": wua.installed_script(),
        "reboot-pending": wua.reboot_script(),
        "wua-removal-check": wua.removal_check_payload(["KB5034441", HOSTILE]),
        "wua-uninstall": wua.uninstall_payload(checks),
        "windows-facts": facts.facts_script(),
        "windows-history": history.history_script(),
        "task-wrapper": systask.wrap_payload(wua.scan_payload()),
        "task-start": systask.start_script(
            "0123456789abcdef", wua.install_payload([GUID], [], all_software=False)
        ),
        "task-poll": systask.poll_script("0123456789abcdef"),
        "task-cleanup": systask.cleanup_script("0123456789abcdef"),
        "task-disarm": systask.disarm_script("0123456789abcdef"),
        "task-bootstrap": base64.b64decode(systask.bootstrap_command("0123456789abcdef")).decode("utf-16-le"),
        "windows-health": health.health_script(["wuauserv", "W32Time", "My Service$1"], 1700000000.0),
        "windows-health-none": health.health_script([], None, now=1700003600.0),
        "restart": health.restart_script(),
        "choco-probe": chocolatey.probe_script(),
        "choco-outdated": chocolatey.outdated_script(),
        "choco-list": chocolatey.list_script(),
        "choco-search": chocolatey.search_script("git.install"),
        "choco-upgrade": chocolatey.upgrade_script("git", "2.43.0", downgrade=True),
        "choco-upgrade-latest": chocolatey.upgrade_script("git"),
        "choco-uninstall": chocolatey.uninstall_script("git"),
        "winget-scan": winget.scan_script(),
        "winget-scan-no-refresh": winget.scan_script(refresh=False),
        "winget-list": winget.list_script(),
        "winget-update": winget.update_script(["Git.Git", HOSTILE]),
        "bundle-win-state": bundle_win.state_script(),
        "bundle-win-prepare": bundle_win.prepare_script("0123456789abcdef"),
        "bundle-win-chunk": bundle_win.chunk_script(
            "0123456789abcdef", "windows10.0-kb5034441-x64.msu", 1048576
        ),
        "bundle-win-hash": bundle_win.hash_script("0123456789abcdef", [("wsusscn2.cab", "0" * 64)]),
        "bundle-win-remove": bundle_win.remove_script("0123456789abcdef"),
        "bundle-win-install": bundle_win.install_payload(["KB5034441", HOSTILE], ["0123456789abcdef"]),
        "wua-scan-offline": wua.scan_payload(["0123456789abcdef"]),
        "wua-removal-check-offline": wua.removal_check_payload(["KB5034441"], ["0123456789abcdef"]),
    }


#: the modules whose functions build the scripts Patchdesk sends to a Windows host
BUILDER_MODULES = (bundle_win, chocolatey, facts, health, history, systask, winget, wua)
_BUILDER_NAME = re.compile(r"_(script|payload|command)$")


def _builders() -> dict[str, tuple[object, str]]:
    return {
        f"{mod.__name__}.{name}": (mod, name)
        for mod in BUILDER_MODULES
        for name, fn in vars(mod).items()
        if inspect.isfunction(fn) and fn.__module__ == mod.__name__ and _BUILDER_NAME.search(name)
    }


def test_every_script_builder_is_parsed_as_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new script builder cannot escape the grammar check: each one found in the code must be
    called by _sent() (through its module, so the call is seen here)."""
    called: set[str] = set()
    builders = _builders()
    for key, (mod, name) in builders.items():
        fn = getattr(mod, name)

        def seen(*args: object, _key: str = key, _fn: object = fn, **kw: object) -> object:
            called.add(_key)
            return _fn(*args, **kw)  # type: ignore[operator]

        monkeypatch.setattr(mod, name, seen)
    _sent()
    assert len(builders) >= 20
    assert sorted(set(builders) - called) == []


@pytest.mark.parametrize("name", sorted(_sent()))
def test_every_script_as_sent_parses(name: str) -> None:
    script = _sent()[name]
    assert _problems(script) == []
    assert BOOT_PLACEHOLDER not in script and PAYLOAD_PLACEHOLDER not in script
    assert script_ops(script)  # every script as sent starts with its marker line


def test_hostile_names_travel_as_data_only() -> None:
    script = wua.removal_check_payload([HOSTILE])
    assert HOSTILE not in script and "calc" not in script
    assert script_params(script) == [{"kbs": [HOSTILE]}]
    update = winget.update_script([HOSTILE])
    assert HOSTILE not in update and script_params(update) == [{"ids": [HOSTILE]}]


def test_the_wrapper_runs_the_payload_inside_its_script_block() -> None:
    payload = wua.scan_payload()
    wrapped = systask.wrap_payload(payload)
    assert script_ops(wrapped) == ["task", "wua-scan"]
    assert wrapped.count(payload) == 1
    assert "$PatchdeskResult = & {\n" + payload + "\n  }" in wrapped


def test_chocolatey_scripts_go_out_with_windows_line_ends() -> None:
    body = script_body("choco-prelude", "choco-upgrade", crlf=True)
    assert body.count("\r\n") == body.count("\n") and body.startswith("$choco = 'choco.exe'\r\n")


@pytest.mark.parametrize(
    "broken",
    ["if ($x) { Write-Output 1\n", "$s = 'unterminated\n", "$a = @{ k = 1\n", "$x = @BOOT@\n"],
)
def test_the_grammar_check_catches_broken_scripts(broken: str) -> None:
    assert _problems(broken) != []
