"""Reading what the Windows scripts print: JSON whose every value is untrusted.

PowerShell 5's ConvertTo-Json has quirks the readers here absorb (a one-element array comes out as a
scalar, a BOM may lead the text); every string is cut to a bound and stripped of control characters.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Caps against a hostile or broken host.
MAX_TEXT = 512
MAX_LIST = 64

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def text_value(value: object, limit: int = MAX_TEXT) -> str:
    """A JSON scalar as clean one-line text, at most ``limit`` characters; "" for anything else."""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return ""
    text = _CONTROL_RE.sub(" ", str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def int_value(value: object, default: int = 0) -> int:
    """A JSON number (or a string of digits) as an int; ``default`` for anything else."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) < 2**63:
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,19}", value.strip()):
        return int(value.strip())
    return default


def str_list(value: object) -> list[str]:
    """A JSON list of strings; PowerShell 5 turns a one-element array into a scalar, so accept that."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items[:MAX_LIST]:
        text = text_value(item)
        if text:
            out.append(text)
    return out


def json_value(text: str) -> Any:
    """The JSON a script printed; None when it printed nothing readable."""
    text = text.strip().lstrip("\ufeff")
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
