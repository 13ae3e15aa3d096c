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
    extra: dict[str, str] = field(default_factory=dict)


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


def _synthetic_packages() -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for deb in SYNTHETIC_DEBS:
        entry = out.setdefault(deb.name, {"installed": None, "updates": {}})
        if deb.suite == SUITE:
            entry["installed"] = deb.version
        else:
            entry["updates"][deb.suite] = deb.version  # type: ignore[index]
    return out


#: name -> {"installed": "<version>" | None, "updates": {"<suite codename>": "<version>"}}
SYNTHETIC_PACKAGES: dict[str, dict[str, object]] = _synthetic_packages()

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
