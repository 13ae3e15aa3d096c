"""Facts of a Windows host, in one WinRM round trip (the POSIX facts snippet cannot run there)."""

from __future__ import annotations

from app.domain.errors import AdapterError
from app.domain.models import OsFacts
from app.platforms.windows.output import json_value, text_value
from app.platforms.windows.scripts import render, script_body
from app.transports.base import Transport


def facts_script() -> str:
    return render("windows-facts", script_body("windows-facts"))


def parse_windows_facts(text: str) -> tuple[OsFacts, frozenset[str]]:
    """The facts script's JSON -> OsFacts (id "windows") and the managers found ("wua", "choco",
    "winget")."""
    obj = json_value(text)
    if not isinstance(obj, dict):
        raise AdapterError("The host did not answer the Windows facts script with JSON.")
    caption = text_value(obj.get("Caption"), 128)
    version = text_value(obj.get("Version"), 32)
    build = text_value(obj.get("Build"), 32)
    uptime = obj.get("UptimeSeconds")
    facts = OsFacts(
        id="windows",
        id_like=(),
        name=caption or "Microsoft Windows",
        version=version,
        version_codename=text_value(obj.get("DisplayVersion"), 16),
        pretty_name=caption
        + (f" ({text_value(obj.get('DisplayVersion'), 16)})" if obj.get("DisplayVersion") else ""),
        kernel=build or version,
        uptime_seconds=float(uptime)
        if isinstance(uptime, int | float) and not isinstance(uptime, bool)
        else None,
        hostname=text_value(obj.get("Hostname"), 64),
    )
    managers = {"wua"}
    if obj.get("Choco") is True:
        managers.add("choco")
    if obj.get("WinGet") is True:
        managers.add("winget")
    return facts, frozenset(managers)


def is_windows(facts: OsFacts) -> bool:
    return facts.id == "windows"


def gather_windows_facts(transport: Transport) -> tuple[OsFacts, frozenset[str]]:
    """Facts of a Windows host and the package managers found on it."""
    res = transport.run(facts_script(), timeout=60)
    if not res.ok:
        raise AdapterError(f"Could not read the Windows version: {res.err.strip()[:300] or res.exit_status}")
    return parse_windows_facts(res.out)
