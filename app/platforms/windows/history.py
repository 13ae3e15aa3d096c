"""What changed on a Windows host: the Windows Update history (IUpdateSearcher.QueryHistory) and the
installed programs (the Uninstall keys), read by one script (ps/windows-history.ps1) during a scan.

Parsing is pure and bounded: the JSON is untrusted, entries that do not read as one are skipped, and a
history the script could not read is UNKNOWN. Installed programs have no history of their own: the
list is handed on (``HistoryRead.inventory``) and compared with the one the previous scan stored
(db/outside_changes.py).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from app.domain.errors import AdapterError
from app.domain.outside_changes import MAX_ENTRIES, HistoryEntry, HistoryRead, HistoryStatus
from app.platforms.windows.output import int_value, json_value, str_list, text_value
from app.platforms.windows.scripts import render, script_body
from app.platforms.windows.wua_parse import MANAGER, RESULT_OK, is_update_id
from app.transports.base import Transport

#: QueryHistory's entries and installed programs read at most.
MAX_ITEMS = 1000

_KB_RE = re.compile(r"\bKB([0-9]{4,8})\b", re.I)
#: WUA's UpdateOperation: 1 installation, 2 uninstallation
_INSTALL, _UNINSTALL = 1, 2
#: what Patchdesk's change records say of an installed update (app/platforms/windows/wua_parse.py)
_INSTALLED = "installed"


def history_script() -> str:
    return render("windows-history", script_body("innermost-error", "windows-history"), {"max": MAX_ITEMS})


def _when(raw: object) -> datetime | None:
    text = text_value(raw, 40)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(UTC) if when.tzinfo else None


def _update_entry(item: object) -> HistoryEntry | None:
    if not isinstance(item, dict) or int_value(item.get("ResultCode")) not in RESULT_OK:
        return None
    op = int_value(item.get("Operation"))
    when = _when(item.get("Date"))
    title = text_value(item.get("Title"), 200)
    if op not in (_INSTALL, _UNINSTALL) or when is None:
        return None
    m = _KB_RE.search(title)
    uid = text_value(item.get("UpdateID"), 64).lower()
    name = f"KB{m.group(1)}" if m else (uid if is_update_id(uid) else "")
    if not name:
        return None
    if op == _INSTALL:
        return HistoryEntry(MANAGER, "install", name, when, None, _INSTALLED)
    return HistoryEntry(MANAGER, "remove", name, when, _INSTALLED, None)


def _programs(obj: dict[str, object]) -> tuple[tuple[str, str], ...] | None:
    if obj.get("programsRead") is not True:
        return None
    raw = obj.get("programs")
    found = set()
    for item in (raw if isinstance(raw, list) else [raw])[:MAX_ITEMS]:
        if isinstance(item, dict):
            name = text_value(item.get("Name"), 200)
            if name:
                found.add((name, text_value(item.get("Version"), 64)))
    return tuple(sorted(found))


def parse_windows_history(text: str) -> HistoryRead:
    """The script's JSON -> the Windows Update entries (oldest first) and the installed programs."""
    obj = json_value(text)
    if not isinstance(obj, dict):
        return HistoryRead.unknown(MANAGER, "the host did not answer the history script with JSON")
    errors = str_list(obj.get("errors"))
    total = int_value(obj.get("total"), -1)
    if total < 0:
        reason = errors[0] if errors else "the Windows Update history could not be read"
        return HistoryRead.unknown(MANAGER, text_value(reason, 300))
    raw = obj.get("history")
    items = (raw if isinstance(raw, list) else [raw])[:MAX_ITEMS]
    entries = sorted((e for e in map(_update_entry, items) if e is not None), key=lambda e: e.when)
    covered = None
    if total > len(items):  # the oldest entries were not sent
        covered = min((_w for _w in map(_when_of, items) if _w is not None), default=None)
    note = "; ".join(text_value(e, 300) for e in errors[:2])
    return HistoryRead(
        MANAGER, HistoryStatus.OK, tuple(entries[-MAX_ENTRIES:]), covered, note, inventory=_programs(obj)
    )


def _when_of(item: object) -> datetime | None:
    return _when(item.get("Date")) if isinstance(item, dict) else None


def read_windows_history(transport: Transport, timeout: float = 120) -> HistoryRead:
    """Run the history script; a refusal or an unreadable answer is an unknown history."""
    res = transport.run(history_script(), timeout=timeout)
    if not res.ok:
        detail = " ".join(res.err.split())[:300]
        raise AdapterError(
            f"the history script failed (exit status {res.exit_status}): {detail or 'no error text'}"
        )
    return parse_windows_history(res.out)
