"""The drift check and fix on a Windows host: registry values, services, installed programs, local group
members and firewall profiles.

The scripts are trusted files (ps/windows-drift*.ps1); the items' targets travel as data in ``$P``
(base64 JSON, app/platforms/windows/scripts.py), so nothing stored or read from a host is parsed as
code. The answer is JSON; every value is untrusted and bounded (app/platforms/windows/output.py). An item
the script could not read (it threw, or the answer is missing) has no observation and is unknown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.domain.baseline import BaselineItem, CheckKind, Observation, check_expected, check_target
from app.platforms.windows.output import json_value, text_value
from app.platforms.windows.scripts import render, script_body

#: Most items one check carries, and the longest value read back (a MultiString value, a member list).
MAX_ITEMS = 2000
MAX_FIELD = 4096

_FIELDS = ("exists", "type", "value", "start_mode", "status", "installed", "members", "enabled")


def _split_registry(target: str) -> tuple[str, str]:
    key, _, name = target.rpartition("|")
    return key, name


def _item_data(item: BaselineItem) -> dict[str, Any]:
    data: dict[str, Any] = {"id": item.id, "kind": item.kind, "target": check_target(item.kind, item.target)}
    if item.kind == CheckKind.REGISTRY:
        data["key"], data["name"] = _split_registry(item.target)
    return data


def check_script(items: Sequence[BaselineItem]) -> str:
    """The check of every Windows item in one script."""
    return render(
        "windows-drift", script_body("windows-drift"), {"items": [_item_data(i) for i in items[:MAX_ITEMS]]}
    )


def _field(value: object) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        # a member list or MultiString keeps its line breaks; every other control character goes
        lines = [text_value(line, MAX_FIELD) for line in value.split("\n")[:200]]
        return "\n".join(lines)[:MAX_FIELD]
    return text_value(value, MAX_FIELD)


def parse_answer(out: str, items: Sequence[BaselineItem]) -> dict[int, Observation]:
    """Each item's observation; missing when the script's answer for it is absent or an error."""
    data = json_value(out)
    answers = data.get("Items") if isinstance(data, dict) else None
    if not isinstance(answers, dict):
        return {}
    found: dict[int, Observation] = {}
    for item in items:
        answer = answers.get(str(item.id))
        if not isinstance(answer, dict) or answer.get("end") != "1":
            continue
        fields = {k: _field(answer[k]) for k in _FIELDS if k in answer and answer[k] is not None}
        found[item.id] = Observation(fields, True)
    return found


def fix_script(item: BaselineItem, want: Mapping[str, Any]) -> str:
    """The script that makes ``item`` what ``want`` says (a registry value, a service, a firewall
    profile); ValueError for a kind that cannot be put back."""
    if item.kind not in (CheckKind.REGISTRY, CheckKind.WIN_SERVICE, CheckKind.FIREWALL):
        raise ValueError(f"a {item.kind} item cannot be put back automatically; fix it by hand")
    wanted = check_expected(
        item.kind, {k: v for k, v in want.items() if k != "state" or item.kind == "registry"}
    )
    data = {**_item_data(item), **wanted}
    if item.kind == CheckKind.REGISTRY and data.get("state", "present") != "absent":
        if "value" not in data or "type" not in data:
            raise ValueError("the baseline names no value and type to write")
    return render("windows-drift-fix", script_body("windows-drift-fix"), data)
