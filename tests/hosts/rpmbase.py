"""Build (once) and cache the base root filesystem of the rpm (dnf) test hosts.

The same recipe as the Debian base (base.py: ``mmdebstrap --variant=minbase`` against this machine's
own apt sources, users, sudo, sshd, the tiny init), plus Debian's ``rpm``, ``dnf``,
``dnf-plugins-core`` and ``createrepo-c``. A customize hook then, *inside* the new root filesystem
(so the machine itself needs no rpm tooling):

- claims an RPM family in /etc/os-release (Rocky Linux 9.4);
- builds the synthetic noarch rpms of rpmrecipe.py with the base's own ``rpmbuild``, indexes them with
  ``createrepo_c`` at /srv/rpmrepo and adds an ``updateinfo.xml`` (security/bugfix/enhancement
  advisories with severities and CVE references) with ``modifyrepo_c``; every old rpm stays in the
  repository so downgrades and ``dnf history undo`` work;
- points dnf only at that repository (``gpgcheck=0``: see rpmrecipe.REPO_FILE), and zypper too
  (rpmrecipe.ZYPPER_REPO_FILE; a test makes a host a zypper host by writing an openSUSE os-release);
- installs, with dnf, first a package whose ``Provides:`` tell rpm what the Debian userland underneath
  already has (``/bin/sh`` and friends), then the initial synthetic versions, so the rpm database holds
  only synthetic packages; and warms dnf's metadata cache.

apt/dpkg stay underneath (with no repository configured), exactly the situation in which the
package manager must be chosen from os-release and not from the binaries found.

Cached in ``<cache_dir>/rpmbase-<hash>`` through base.ensure_base.
"""

from __future__ import annotations

import datetime
import subprocess
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

from . import rpmrecipe
from ._util import HostsError, safe_rmtree, which_all
from .base import (
    DEFAULT_CACHE_DIR,
    INIT_SCRIPT,
    MMDEBSTRAP_OPTIONS,
    _customize_common_lines,
    ensure_base,
    host_apt_sources,
)
from .rpmrecipe import SYNTHETIC_ADVISORIES, SYNTHETIC_RPM_LIST, SyntheticRpm

FLAVOR = "rpmbase"

# dnf needs-restarting takes the mtime of /proc/1 as the boot time, and a proc inode gets its time
# when first looked up: look it up at boot so "boot time" is the host's start, not the first check.
RPM_INIT_SCRIPT = INIT_SCRIPT.replace(
    ": > /run/utmp\n", ": > /run/utmp\nstat /proc/1 >/dev/null 2>&1 || true\n", 1
)
assert RPM_INIT_SCRIPT != INIT_SCRIPT

RPM_MMDEBSTRAP_OPTIONS: tuple[str, ...] = tuple(
    f"{opt},{','.join(rpmrecipe.RPM_EXTRA_PACKAGES)}" if opt.startswith("--include=") else opt
    for opt in MMDEBSTRAP_OPTIONS
)

# rpmbuild settings for Debian's rpm: no debuginfo, no brp-* post-processing (nothing to strip in a
# noarch shell script), a fixed build host and timestamps clamped for reproducible-ish payloads.
_SPEC_PREAMBLE = """\
%define debug_package %{nil}
%define __os_install_post %{nil}
%define _build_id_links none
%define _buildhost patchdesk-test.invalid
%define source_date_epoch_from_changelog 1
%define clamp_mtime_to_source_date_epoch 1
"""


def _changelog_entries(rpm: SyntheticRpm) -> str:
    history = [r for r in SYNTHETIC_RPM_LIST if r.name == rpm.name]
    history = history[: history.index(rpm) + 1]
    out = []
    for n, r in reversed(list(enumerate(history))):
        day = datetime.date(2024, 1, n + 1).strftime("%a %b %d %Y")  # rpm checks the weekday
        out.append(f"* {day} Patchdesk Test <test@patchdesk.invalid> - {r.evr}\n- {r.changes}\n")
    return "\n".join(out)


def spec_for(rpm: SyntheticRpm) -> str:
    """The spec file of one synthetic rpm: a tiny /bin/sh script in /usr/bin (hence Requires: /bin/sh)."""
    lines = [
        _SPEC_PREAMBLE.rstrip("\n"),
        f"Name: {rpm.name}",
        f"Version: {rpm.version}",
        f"Release: {rpm.release}",
        f"Summary: Patchdesk synthetic test package {rpm.name}",
        "License: MIT",
        "BuildArch: noarch",
        "URL: https://patchdesk.invalid/",
    ]
    lines += [f"Requires: {req}" for req in rpm.requires]
    lines += [
        "",
        "%description",
        "Synthetic package for Patchdesk's integration tests; it does nothing.",
        "",
        "%install",
        "mkdir -p %{buildroot}/usr/bin",
        f"echo '#!/bin/sh' > %{{buildroot}}/usr/bin/{rpm.name}",
        f"echo 'echo {rpm.name} {rpm.evr}' >> %{{buildroot}}/usr/bin/{rpm.name}",
        f"chmod 755 %{{buildroot}}/usr/bin/{rpm.name}",
        "",
        "%files",
        f"/usr/bin/{rpm.name}",
        "",
        "%changelog",
        _changelog_entries(rpm),
    ]
    return "\n".join(lines)


def system_provides_spec() -> str:
    """The package that stands for the Debian userland in the rpm database (no files)."""
    lines = [
        _SPEC_PREAMBLE.rstrip("\n"),
        f"Name: {rpmrecipe.SYSTEM_PROVIDES_PACKAGE}",
        "Version: 9.4",
        "Release: 1",
        "Summary: What the Debian userland of a Patchdesk test host provides",
        "License: MIT",
        "BuildArch: noarch",
    ]
    lines += [f"Provides: {p}" for p in rpmrecipe.SYSTEM_PROVIDES]
    lines += [
        "",
        "%description",
        "Tells rpm that /bin/sh, python3 and friends exist (they come from dpkg underneath).",
        "",
        "%files",
        "",
        "%changelog",
        "* Mon Jan 01 2024 Patchdesk Test <test@patchdesk.invalid> - 9.4-1",
        "- Initial release.",
        "",
    ]
    return "\n".join(lines)


def updateinfo_xml() -> str:
    """updateinfo.xml in the format createrepo_c/modifyrepo_c and libdnf read (as Fedora/RHEL ship it)."""
    by_name: dict[tuple[str, str], SyntheticRpm] = {(r.name, r.evr): r for r in SYNTHETIC_RPM_LIST}
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<updates>"]
    for adv in SYNTHETIC_ADVISORIES:
        out.append(
            f'  <update from="security@patchdesk.invalid" status="final" type="{adv.type}" version="2.0">'
        )
        out.append(f"    <id>{xml_escape(adv.id)}</id>")
        out.append(f"    <title>{xml_escape(adv.title)}</title>")
        if adv.severity:
            out.append(f"    <severity>{xml_escape(adv.severity)}</severity>")
        out.append("    <release>Rocky Linux 9 (Patchdesk test)</release>")
        out.append(f'    <issued date="{adv.issued}"/>')
        out.append(f'    <updated date="{adv.issued}"/>')
        out.append("    <rights>Synthetic test data; not a real advisory.</rights>")
        out.append(f"    <summary>{xml_escape(adv.title)}</summary>")
        description = f"{adv.title} (synthetic, for Patchdesk's tests)."
        out.append(f"    <description>{xml_escape(description)}</description>")
        out.append("    <references>")
        for cve in adv.cves:
            href = f"https://www.cve.org/CVERecord?id={cve}"
            ref = f'href={quoteattr(href)} id={quoteattr(cve)} type="cve" title={quoteattr(cve)}'
            out.append(f"      <reference {ref}/>")
        out.append("    </references>")
        out.append("    <pkglist>")
        out.append('      <collection short="patchdesk-test">')
        out.append("        <name>Patchdesk test</name>")
        for name, evr in adv.packages:
            rpm = by_name[(name, evr)]
            out.append(
                f'        <package name="{rpm.name}" version="{rpm.version}" release="{rpm.release}" '
                'epoch="0" arch="noarch">'
            )
            out.append(f"          <filename>{rpm.filename}</filename>")
            if adv.reboot_suggested:
                out.append("          <reboot_suggested>True</reboot_suggested>")
            out.append("        </package>")
        out.append("      </collection>")
        out.append("    </pkglist>")
        out.append("  </update>")
    out.append("</updates>")
    return "\n".join(out) + "\n"


def _rpm_customize_lines(specs: Path, updateinfo: Path) -> list[str]:
    initial = [f"{r.name}-{r.evr}" for r in SYNTHETIC_RPM_LIST if r.installed]
    repo = rpmrecipe.REPO_DIR
    return [
        # zypper, from the same mirror as everything else (mmdebstrap's own apt configuration, while
        # the lists are there); its needs-restarting stays dnf-plugins-core's, which Breaks zypper
        # for that one file
        '(cd "$T/tmp" && APT_CONFIG="$MMDEBSTRAP_APT_CONFIG" apt-get -q download zypper)',
        (
            'chroot "$T" sh -c "dpkg --force-breaks --path-exclude=/usr/bin/needs-restarting '
            '-i /tmp/zypper_*.deb"'
        ),
        'rm -f "$T"/tmp/zypper_*.deb',
        # apt stays installed but has no source: the machine's mirror must not leak into the hosts
        'rm -f "$T/etc/apt/sources.list" "$T"/etc/apt/sources.list.d/*',
        'rm -rf "$T"/var/lib/apt/lists/* "$T"/var/cache/apt/archives/*.deb "$T"/var/cache/apt/*.bin',
        'mkdir -p "$T/var/lib/apt/lists/partial"',
        # an RPM family in os-release (both places; /etc/os-release is a symlink in Debian)
        'rm -f "$T/etc/os-release" "$T/usr/lib/os-release"',
        "cat > \"$T/usr/lib/os-release\" <<'EOF'",
        rpmrecipe.OS_RELEASE.rstrip("\n"),
        "EOF",
        'cp "$T/usr/lib/os-release" "$T/etc/os-release"',
        # Debian's rpm keeps its database in ~/.rpmdb (per user!); a real rpm host has one system
        # database that every user (and dnf as a non-root user, for scans) reads
        'mkdir -p "$T/etc/rpm"',
        "echo '%_dbpath /var/lib/rpm' > \"$T/etc/rpm/macros.dbpath\"",
        # build the synthetic rpms with the base's own rpmbuild, then the repository
        'rm -rf "$T/tmp/pdrpm"',
        'mkdir -p "$T/tmp/pdrpm/SPECS"',
        f'cp "{specs}"/*.spec "$T/tmp/pdrpm/SPECS/"',
        'for s in "$T"/tmp/pdrpm/SPECS/*.spec; do',
        '    chroot "$T" rpmbuild --quiet --define "_topdir /tmp/pdrpm" -bb "/tmp/pdrpm/SPECS/${s##*/}"',
        "done",
        f'mkdir -p "$T{repo}/Packages"',
        f'cp "$T"/tmp/pdrpm/RPMS/noarch/*.rpm "$T{repo}/Packages/"',
        f'chroot "$T" createrepo_c --quiet {repo}',
        f'cp "{updateinfo}" "$T/tmp/pdrpm/updateinfo.xml"',
        f'chroot "$T" modifyrepo_c --mdtype=updateinfo /tmp/pdrpm/updateinfo.xml {repo}/repodata',
        'rm -rf "$T/tmp/pdrpm"',
        f'chmod -R a+rX "$T{repo}"',
        # dnf sees only that repository
        'mkdir -p "$T/etc/yum.repos.d"',
        'rm -f "$T"/etc/yum.repos.d/*.repo',
        f"cat > \"$T/etc/yum.repos.d/{rpmrecipe.REPO_ID}.repo\" <<'EOF'",
        rpmrecipe.REPO_FILE.rstrip("\n"),
        "EOF",
        # Debian's dnf-plugins-core enables the "local" plugin (a _dnf_local repository of every
        # installed rpm, with gpgcheck); RHEL/Rocky do not ship it: off, like there
        "sed -i 's/^enabled *=.*/enabled = false/' \"$T/etc/dnf/plugins/local.conf\"",
        # ...and show-leaves, which prints "New leaves:" after every transaction
        "printf '[main]\\nenabled = false\\n' > \"$T/etc/dnf/plugins/show-leaves.conf\"",
        'mkdir -p "$T/etc/dnf/plugins/needs-restarting.d"',
        "cat > \"$T/etc/dnf/plugins/needs-restarting.d/patchdesk-test.conf\" <<'EOF'",
        *rpmrecipe.NEEDS_RESTARTING,
        "EOF",
        # the rpm database: what the Debian userland provides first, then the initial versions
        'chroot "$T" rpm --initdb',
        # the release version comes from the system-release(releasever) this very package provides
        f'chroot "$T" dnf -y -q --releasever=9 install {rpmrecipe.SYSTEM_PROVIDES_PACKAGE}',
        f'chroot "$T" dnf -y -q install {" ".join(initial)}',
        'chroot "$T" dnf -q makecache',
        # zypper (installed above) on the same repository and rpm database, its metadata cache warm
        'mkdir -p "$T/etc/zypp/repos.d"',
        'rm -f "$T"/etc/zypp/repos.d/*.repo',
        f"cat > \"$T/etc/zypp/repos.d/{rpmrecipe.REPO_ID}.repo\" <<'EOF'",
        rpmrecipe.ZYPPER_REPO_FILE.rstrip("\n"),
        "EOF",
        'chroot "$T" zypper --non-interactive --quiet refresh',
        'chroot "$T" rpm -qa',
        "",
    ]


def rpm_customize_script(specs: Path, updateinfo: Path, init: Path) -> str:
    """The mmdebstrap customize hook of the rpm base."""
    return "\n".join([*_customize_common_lines(init), *_rpm_customize_lines(specs, updateinfo)])


def rpm_base_hash() -> str:
    script = RPM_INIT_SCRIPT + rpm_customize_script(Path("S"), Path("U"), Path("I"))
    specs = "\0".join(spec_for(r) for r in SYNTHETIC_RPM_LIST) + system_provides_spec()
    return rpmrecipe.rpm_recipe_hash(script + specs + updateinfo_xml() + "\0".join(RPM_MMDEBSTRAP_OPTIONS))


def rpm_build_tools_missing() -> list[str]:
    return which_all(["mmdebstrap", "tar"])


def _build_rpm_base(rootfs: Path, *, log=None) -> None:
    missing = rpm_build_tools_missing()
    if missing:
        raise HostsError(f"cannot build the rpm test-host base, missing tools: {', '.join(missing)}")
    work = Path(tempfile.mkdtemp(prefix="pdrpmbase-"))
    try:
        specs = work / "specs"
        specs.mkdir()
        for rpm in SYNTHETIC_RPM_LIST:
            (specs / f"{rpm.name}-{rpm.evr}.spec").write_text(spec_for(rpm))
        (specs / f"{rpmrecipe.SYSTEM_PROVIDES_PACKAGE}.spec").write_text(system_provides_spec())
        updateinfo = work / "updateinfo.xml"
        updateinfo.write_text(updateinfo_xml())
        init = work / "pd-init"
        init.write_text(RPM_INIT_SCRIPT)
        hook = work / "customize.sh"
        hook.write_text(rpm_customize_script(specs, updateinfo, init))
        hook.chmod(0o755)
        cmd = [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--fork",
            "--kill-child",
            "mmdebstrap",
            *RPM_MMDEBSTRAP_OPTIONS,
            f"--customize-hook={hook}",
            "bookworm",
            str(rootfs),
            *map(str, host_apt_sources()),
        ]
        logfile = work / "mmdebstrap.log"
        with open(logfile, "w") as fh:
            p = subprocess.run(
                cmd, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT, timeout=1200, check=False
            )
        if p.returncode != 0:
            tail = logfile.read_text(errors="replace")[-6000:]
            raise HostsError(f"mmdebstrap (rpm base) failed ({p.returncode}):\n{tail}")
        (rootfs / "etc/apt/apt.conf.d/99mmdebstrap").unlink(missing_ok=True)
        if log:
            log(logfile.read_text(errors="replace"))
    finally:
        safe_rmtree(work)


def ensure_rpm_base(cache_dir: Path | None = None, *, log=None) -> Path:
    """The unpacked rpm base root filesystem, built or unpacked first if needed (cached by recipe)."""
    return ensure_base(
        cache_dir or DEFAULT_CACHE_DIR,
        log=log,
        flavor=FLAVOR,
        recipe_hash=rpm_base_hash(),
        build=_build_rpm_base,
    )
