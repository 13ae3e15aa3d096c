"""What the test hosts are made of: base packages, users, synthetic packages.

Everything here feeds the cache key of the base root filesystem (see ``recipe_hash``): change any of
it and the next run rebuilds the base.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

# Bump when the builder (base.py, the customize script, the init) changes in a way that matters.
BUILDER_VERSION = "1"

SUITE = "bookworm"

#: Debian packages installed into the base root filesystem (mmdebstrap --variant=minbase --include=).
BASE_PACKAGES: tuple[str, ...] = ("openssh-server", "sudo", "python3", "procps", "apt-utils")

#: Users inside every host.  ``None`` password = no usable password ("*").
ROOT_USER = "root"
ADMIN_USER = "admin"
SUDOPW_USER = "sudopw"
SUDO_PASSWORD = "pd-sudo-pass-123"
PWUSER_USER = "pwuser"
PWUSER_PASSWORD = "pd-login-pass-456"

USERS: dict[str, dict[str, object]] = {
    # name: uid, password, sudo ("nopasswd" | "passwd" | None), key login
    ADMIN_USER: {"uid": 1000, "password": None, "sudo": "nopasswd", "key": True},
    SUDOPW_USER: {"uid": 1001, "password": SUDO_PASSWORD, "sudo": "passwd", "key": True},
    PWUSER_USER: {"uid": 1002, "password": PWUSER_PASSWORD, "sudo": None, "key": False},
}
#: Users whose authorized_keys get the cluster's client key.
KEY_USERS: tuple[str, ...] = (ROOT_USER, ADMIN_USER, SUDOPW_USER)

# The three suites of the local repository: (codename, Origin, Label, Suite).
REPO_SUITES: tuple[tuple[str, str, str, str], ...] = (
    ("bookworm", "Patchdesk-Test", "Patchdesk-Test", "stable"),
    ("bookworm-updates", "Patchdesk-Test", "Patchdesk-Test", "stable-updates"),
    ("bookworm-security", "Debian", "Debian-Security", "stable-security"),
)


@dataclass(frozen=True)
class SyntheticDeb:
    """One synthetic .deb in the local repository."""

    name: str
    version: str
    suite: str  # codename of the dist it is published in
    depends: str = ""
    cves: tuple[str, ...] = ()
    changes: str = ""  # changelog bullet text for this version
    conffile: str | None = None  # content of /etc/<name>.conf, listed as a conffile
    postinst: str | None = None  # body of DEBIAN/postinst (sh)
    urgency: str = "medium"
    extra: dict[str, str] = field(default_factory=dict)  # more files: absolute path -> content


_REBOOT_POSTINST = """\
if [ "$1" = configure ]; then
    # what update-notifier's /etc/kernel/postinst.d hook does for real kernels
    touch /run/reboot-required
    echo pd-reboot >> /run/reboot-required.pkgs
fi
"""

SYNTHETIC_DEBS: tuple[SyntheticDeb, ...] = (
    SyntheticDeb("pd-secfix", "1.0-1", "bookworm", changes="Initial release."),
    SyntheticDeb(
        "pd-secfix",
        "1.0-2",
        "bookworm-security",
        cves=("CVE-2099-0001", "CVE-2099-0002"),
        changes="Security update.",
        urgency="high",
    ),
    SyntheticDeb("pd-regular", "2.0-1", "bookworm", changes="Initial release."),
    SyntheticDeb("pd-regular", "2.1-1", "bookworm-updates", changes="New upstream release 2.1."),
    SyntheticDeb("pd-chain-lib", "1.0-1", "bookworm", changes="Initial release."),
    SyntheticDeb("pd-chain-lib", "1.1-1", "bookworm-updates", changes="New upstream release 1.1."),
    SyntheticDeb("pd-chain-extra", "1.0-1", "bookworm-updates", changes="Initial release."),
    SyntheticDeb(
        "pd-chain", "1.0-1", "bookworm", depends="pd-chain-lib (>= 1.0)", changes="Initial release."
    ),
    SyntheticDeb(
        "pd-chain",
        "1.1-1",
        "bookworm-updates",
        depends="pd-chain-lib (>= 1.1), pd-chain-extra",
        changes="New upstream release 1.1; now needs pd-chain-extra.",
    ),
    SyntheticDeb("pd-current", "1.0-1", "bookworm", changes="Initial release."),
    SyntheticDeb(
        "pd-conf",
        "1.0-1",
        "bookworm",
        changes="Initial release.",
        conffile="# pd-conf 1.0-1\nsetting = old\n",
    ),
    SyntheticDeb(
        "pd-conf",
        "1.0-2",
        "bookworm-updates",
        changes="Change the default setting (conffile changed).",
        conffile="# pd-conf 1.0-2\nsetting = new\nadded = yes\n",
    ),
    SyntheticDeb("pd-reboot", "1.0-1", "bookworm", changes="Initial release."),
    SyntheticDeb(
        "pd-reboot",
        "1.0-2",
        "bookworm-security",
        cves=("CVE-2099-0003",),
        changes="Security update; needs a reboot.",
        urgency="high",
        postinst=_REBOOT_POSTINST,
    ),
)


# -- systemd hosts only (sdbase.py): a package whose new version breaks its own service -------------

#: Debian packages the systemd base has on top of BASE_PACKAGES (systemd is PID 1 there; dbus so that
#: systemctl works for a non-root user, as on a real server).
SYSTEMD_BASE_PACKAGES: tuple[str, ...] = ("systemd", "dbus")

# Bump when sdbase.py changes in a way that matters.
SYSTEMD_BUILDER_VERSION = "1"

_SERVICE_UNIT = """\
[Unit]
Description=Patchdesk synthetic test service (pd-service)

[Service]
ExecStart=/usr/sbin/pd-serviced

[Install]
WantedBy=multi-user.target
"""

# What dh_installsystemd writes: enable; restart when systemd runs; a failed start does not fail the
# package (`|| true`), so apt succeeds and only the service's state shows the breakage.
_SERVICE_POSTINST = """\
if [ "$1" = configure ]; then
    systemctl enable pd-service.service >/dev/null 2>&1 || true
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload >/dev/null 2>&1 || true
        systemctl restart pd-service.service >/dev/null 2>&1 || true
    fi
fi
"""

_GOOD_DAEMON = """\
#!/bin/sh
# pd-serviced 1.0-1: starts and stays up
echo "pd-serviced 1.0-1 listening"
exec sleep infinity
"""

# "<3>": stderr line at priority err in the journal (sd-daemon(3) prefix), as a daemon logs a fatal error
_BROKEN_DAEMON = """\
#!/bin/sh
# pd-serviced 1.0-2: exits non-zero at start (a broken update)
echo "<3>pd-serviced 1.0-2: cannot read /etc/pd-service/listen.conf: No such file or directory" >&2
exit 1
"""

SERVICE_PACKAGE = "pd-service"
SERVICE_UNIT_NAME = "pd-service.service"

SYSTEMD_DEBS: tuple[SyntheticDeb, ...] = (
    SyntheticDeb(
        SERVICE_PACKAGE,
        "1.0-1",
        "bookworm",
        changes="Initial release.",
        postinst=_SERVICE_POSTINST,
        extra={
            "/lib/systemd/system/pd-service.service": _SERVICE_UNIT,
            "/usr/sbin/pd-serviced": _GOOD_DAEMON,
        },
    ),
    SyntheticDeb(
        SERVICE_PACKAGE,
        "1.0-2",
        "bookworm-updates",
        changes="New upstream release; the daemon now fails at start (test data: a broken update).",
        postinst=_SERVICE_POSTINST,
        extra={
            "/lib/systemd/system/pd-service.service": _SERVICE_UNIT,
            "/usr/sbin/pd-serviced": _BROKEN_DAEMON,
        },
    ),
)


def _synthetic_packages(debs: tuple[SyntheticDeb, ...] = SYNTHETIC_DEBS) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for deb in debs:
        entry = out.setdefault(deb.name, {"installed": None, "updates": {}})
        if deb.suite == SUITE:
            entry["installed"] = deb.version
        else:
            entry["updates"][deb.suite] = deb.version  # type: ignore[index]
    return out


#: name -> {"installed": "<version>" | None, "updates": {"<suite codename>": "<version>"}}
SYNTHETIC_PACKAGES: dict[str, dict[str, object]] = _synthetic_packages()

#: Like SYNTHETIC_PACKAGES, for the packages only the systemd hosts have (on top of SYNTHETIC_PACKAGES):
#: kept apart so that what every host has pending does not depend on the kind of host.
SYSTEMD_PACKAGES: dict[str, dict[str, object]] = _synthetic_packages(SYSTEMD_DEBS)

#: (name, version) -> CVE ids cited in that version's changelog entry.
SYNTHETIC_CVES: dict[tuple[str, str], tuple[str, ...]] = {
    (d.name, d.version): d.cves for d in SYNTHETIC_DEBS if d.cves
}


def recipe_hash(extra: str = "") -> str:
    """Cache key of the base root filesystem."""
    data = {
        "builder": BUILDER_VERSION,
        "suite": SUITE,
        "packages": BASE_PACKAGES,
        "users": USERS,
        "suites": REPO_SUITES,
        "debs": [asdict(d) for d in SYNTHETIC_DEBS],
        "extra": extra,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
