"""The Windows Update adapter's payloads: names travel as data."""

from __future__ import annotations

from app.platforms.windows.scripts import script_ops, script_params
from app.platforms.windows.wua import install_payload, scan_payload
from app.platforms.windows.wua_parse import (
    DRIVER_CRITERIA,
    SOFTWARE_CRITERIA,
)


def test_scripts_carry_untrusted_values_as_data() -> None:
    script = install_payload(["9f3d2f2c-6b0c-4b8e-9c55-2a3b1d6e7f01"], ["KB1'; calc; '"], all_software=False)
    assert "calc" not in script  # base64 JSON, never spliced
    assert script_ops(script) == ["wua-install"]
    assert script_params(script) == [
        {"ids": ["9f3d2f2c-6b0c-4b8e-9c55-2a3b1d6e7f01"], "kbs": ["KB1'; calc; '"], "all": False}
    ]
    scan = scan_payload()
    assert script_params(scan) == [{"software": SOFTWARE_CRITERIA, "driver": DRIVER_CRITERIA}]
    assert SOFTWARE_CRITERIA == "IsInstalled=0 and Type='Software' and IsHidden=0"
    assert "Microsoft.Update.Session" in scan and "InstallationBehavior.RebootBehavior" in scan
