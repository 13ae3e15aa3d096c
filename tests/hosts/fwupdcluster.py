"""The fwupd flavour: Debian test hosts that also carry fwupd, a D-Bus system bus and gcab, so a real
fwupd daemon with its own test device (the test plugin's fake "Integrated Webcam", GUID
b585990a-003e-5270-89d5-3705a17f9a43, version 1.2.2) can be scanned, approved and updated.

Opt-in: only tests that ask for ``FwupdHostCluster`` build this base (``fwupd-<hash>`` in the cache,
next to the plain one, whose hash does not change). The base is the Debian recipe plus the packages of
:data:`FWUPD_PACKAGES`; everything else is set up per host by :data:`FWUPD_SETUP` (run inside the host
as root by :meth:`FwupdTestHost.start_fwupd`): the daemon's test configuration, a local remote whose
metadata lists releases 1.2.5 (urgency critical, CVE-2099-0100) and 1.2.2 (the shipped version, for
downgrades) with .cab files built there with gcab, lvfs disabled (no network), then the system bus;
fwupd itself starts on its first D-Bus call.

The fake device keeps its version in the daemon's memory: a restarted daemon starts at 1.2.2 again.
"""

from __future__ import annotations

from pathlib import Path

from . import base, recipe
from .cluster import HostCluster, TestHost

FWUPD_PACKAGES: tuple[str, ...] = ("fwupd", "dbus", "gcab")

WEBCAM_GUID = "b585990a-003e-5270-89d5-3705a17f9a43"

#: mmdebstrap options of the fwupd base: the Debian base's, with the extra packages included.
FWUPD_OPTIONS: tuple[str, ...] = tuple(
    f"--include={','.join((*recipe.BASE_PACKAGES, *FWUPD_PACKAGES))}" if o.startswith("--include=") else o
    for o in base.MMDEBSTRAP_OPTIONS
)

_METAINFO = """<?xml version="1.0" encoding="UTF-8"?>
<component type="firmware">
  <id>org.patchdesk.test.webcam.firmware</id>
  <name>Patchdesk test webcam</name>
  <summary>Firmware for fwupd's fake Integrated Webcam</summary>
  <provides><firmware type="flashed">{guid}</firmware></provides>
  <metadata_license>CC0-1.0</metadata_license>
  <project_license>CC0-1.0</project_license>
  <developer_name>Patchdesk tests</developer_name>
  <custom>
    <value key="LVFS::VersionFormat">triplet</value>
    <value key="LVFS::UpdateProtocol">com.acme.test</value>
  </custom>
  <releases>
    <release version="$v" date="2026-01-01" urgency="$u">
      <description><p>Test release $v.</p></description>
    </release>
  </releases>
</component>"""

_METADATA = """<?xml version="1.0" encoding="UTF-8"?>
<components version="0.9" origin="patchdesk-local">
  <component type="firmware">
    <id>org.patchdesk.test.webcam.firmware</id>
    <name>Patchdesk test webcam</name>
    <summary>Firmware for fwupd's fake Integrated Webcam</summary>
    <developer_name>Patchdesk tests</developer_name>
    <project_license>CC0-1.0</project_license>
    <provides><firmware type="flashed">{guid}</firmware></provides>
    <custom>
      <value key="LVFS::VersionFormat">triplet</value>
      <value key="LVFS::UpdateProtocol">com.acme.test</value>
    </custom>
    <releases>
      <release version="1.2.5" timestamp="1767225600" urgency="critical">
        <location>webcam-1.2.5.cab</location>
        <checksum filename="webcam-1.2.5.cab" target="container" type="sha256">$s5</checksum>
        <description><p>Fixes a critical flaw in the flux capacitor.</p></description>
        <issues><issue type="cve">CVE-2099-0100</issue></issues>
      </release>
      <release version="1.2.2" timestamp="1735689600" urgency="low">
        <location>webcam-1.2.2.cab</location>
        <checksum filename="webcam-1.2.2.cab" target="container" type="sha256">$s2</checksum>
        <description><p>The version it shipped with.</p></description>
      </release>
    </releases>
  </component>
</components>"""

#: Run as root inside a host (sh): firmware files, daemon configuration, system bus.
FWUPD_SETUP = f"""set -e
mkdir -p /srv/firmware && cd /srv/firmware
mk() {{
  v=$1; u=$3; d=$(mktemp -d)
  printf '%s\\0' "$2" > "$d/firmware.bin"
  cat > "$d/firmware.metainfo.xml" <<XML
{_METAINFO.format(guid=WEBCAM_GUID)}
XML
  (cd "$d" && gcab -c "/srv/firmware/webcam-$v.cab" firmware.bin firmware.metainfo.xml)
  rm -rf "$d"
}}
# the test plugin sets the version the payload names (0x01020005: 1.2.5)
mk 1.2.5 0x1020005 critical
mk 1.2.2 0x1020002 low
s5=$(sha256sum webcam-1.2.5.cab | cut -d' ' -f1); s2=$(sha256sum webcam-1.2.2.cab | cut -d' ' -f1)
cat > firmware.xml <<XML
{_METADATA.format(guid=WEBCAM_GUID)}
XML
cat > /etc/fwupd/remotes.d/patchdesk-local.conf <<CONF
[fwupd Remote]
Enabled=true
Title=Patchdesk local firmware
MetadataURI=file:///srv/firmware/firmware.xml
CONF
sed -i 's/^Enabled=true/Enabled=false/' /etc/fwupd/remotes.d/lvfs.conf
printf '[fwupd]\\nTestDevices=true\\nOnlyTrusted=false\\n' > /etc/fwupd/fwupd.conf
mkdir -p /run/dbus
dbus-daemon --system --fork
"""


def fwupd_hash() -> str:
    return base.base_hash() + "-" + recipe.recipe_hash("\0".join(FWUPD_OPTIONS))[:8]


def _build(rootfs: Path, *, log=None) -> None:
    base._build(rootfs, log=log, options=FWUPD_OPTIONS)


class FwupdTestHost(TestHost):
    def start_fwupd(self) -> None:
        """Set up the firmware files and configuration and start the system bus (fwupd itself is
        started by the bus on its first call)."""
        self.check(FWUPD_SETUP)


class FwupdHostCluster(HostCluster):
    host_class = FwupdTestHost

    def _ensure_lower(self) -> Path:
        return base.ensure_base(self.cache_dir, flavor="fwupd", recipe_hash=fwupd_hash(), build=_build)
