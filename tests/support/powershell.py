"""A real PowerShell grammar (tree-sitter-powershell) for the tests: where a script does not parse."""

from __future__ import annotations

import tree_sitter as ts
import tree_sitter_powershell as tsp


def grammar_problems(text: str) -> list[str]:
    """Every ERROR or MISSING node of ``text``'s parse tree, with its line; [] when it parses."""
    parser = ts.Parser(ts.Language(tsp.language()))
    tree = parser.parse(text.encode("utf-8"))
    found: list[str] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            row, col = node.start_point
            kind = "MISSING" if node.is_missing else "ERROR"
            found.append(f"{kind} at {row + 1}:{col + 1}: {text.splitlines()[row][:100]!r}")
        stack.extend(node.children)
    return found
