"""PowerShell variable names are case-insensitive (issue 18, item 13): ``$p`` *is* ``$P``, the parameter
object every script gets from its prologue (scripts.render), and a payload's ``$patchdeskRuns`` would be
the task wrapper's. Read with the real grammar (tree-sitter-powershell), every script file."""

from __future__ import annotations

from collections import defaultdict

import pytest
import tree_sitter as ts
import tree_sitter_powershell as tsp

from app.platforms.windows.scripts import script_body, script_files

#: what the prologue (render) and the task wrapper define around a payload
PROLOGUE = ("$P", "$PatchdeskStatus", "$PatchdeskRuns", "$PatchdeskResult")
#: PowerShell's own variables, spelt any way
AUTOMATIC = {"_", "true", "false", "null", "args", "input", "this", "psscriptroot", "lastexitcode", "matches"}


def _spellings(text: str) -> dict[str, set[str]]:
    """Every variable of ``text`` by its case-folded name, with the spellings used."""
    parser = ts.Parser(ts.Language(tsp.language()))
    found: dict[str, set[str]] = defaultdict(set)
    stack = [parser.parse(text.encode("utf-8")).root_node]
    while stack:
        node = stack.pop()
        if node.type == "variable" and node.text is not None:
            name = node.text.decode("utf-8").lstrip("$@").strip("{}")
            if not name.lower().startswith("env:") and name.lower() not in AUTOMATIC:
                found[name.lower()].add(name)
        stack.extend(node.children)
    return found


def test_the_grammar_sees_the_collision() -> None:
    assert _spellings("$P = 1\nforeach ($p in @(1)) { $p }")["p"] == {"P", "p"}


@pytest.mark.parametrize("name", script_files())
def test_powershell_variable_names_are_case_insensitive(name: str) -> None:
    text = "\n".join(PROLOGUE) + "\n" + script_body(name)
    clashes = {k: sorted(v) for k, v in _spellings(text).items() if len(v) > 1}
    assert clashes == {}, f"{name}.ps1 spells one PowerShell variable several ways: {clashes}"
