"""What the rpm (dnf) test hosts are made of: extra Debian packages, synthetic rpms and advisories.

Everything here feeds the cache key of the rpm base (``rpm_recipe_hash``); change any of it and the
next run rebuilds that base. The Debian part of the recipe (users, sshd, the init) comes from
recipe.py and base.py and is part of the key too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from . import recipe

# Bump when rpmbase.py changes in a way that matters.
RPM_BUILDER_VERSION = "2"

#: Debian packages the rpm base has on top of recipe.BASE_PACKAGES: rpm/dnf themselves, rpmbuild and
#: createrepo_c (the synthetic rpms and the repository are built inside the base, so the machine
#: needs no rpm tooling), dnf-plugins-core for ``dnf needs-restarting``, and what zypper needs (it reads
#: the same rpm database and repository: a host becomes a zypper host by its os-release). zypper itself
#: is installed by rpmbase.py: Debian's dnf-plugins-core Breaks it (both ship needs-restarting).
RPM_EXTRA_PACKAGES: tuple[str, ...] = (
    "rpm",
    "dnf",
    "dnf-plugins-core",
    "createrepo-c",
    "libzypp1722",
    "zypper-common",
    "libaugeas0",
    "libreadline8",
    "libxml2",
)

#: The package that tells rpm what the Debian userland underneath provides; installed first.
SYSTEM_PROVIDES_PACKAGE = "pd-system-base"
SYSTEM_PROVIDES: tuple[str, ...] = (
    "/bin/sh",
    "/usr/bin/sh",
    "/bin/bash",
    "/usr/bin/bash",
    "/usr/bin/env",
    "/usr/bin/python3",
    "/usr/bin/perl",
    "bash",
    "coreutils",
    "glibc",
    "system-release",
    "system-release(releasever) = 9",
)

OS_RELEASE = """\
NAME="Rocky Linux"
VERSION="9.4 (Patchdesk test)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.4 (Patchdesk test)"
ANSI_COLOR="0;32"
HOME_URL="https://patchdesk.invalid/"
"""

REPO_ID = "patchdesk-test"
REPO_DIR = "/srv/rpmrepo"

# gpgcheck=0: the repository is local to the test base and built with it; signing rpms would need a
# key in the rpm keyring and buys the tests nothing (production hosts keep their own gpgcheck=1).
REPO_FILE = f"""\
[{REPO_ID}]
name=Patchdesk synthetic test repository
baseurl=file://{REPO_DIR}
enabled=1
gpgcheck=0
repo_gpgcheck=0
metadata_expire=6h
"""

#: zypper's view of the same repository (libzypp's repo file; its metadata cache is warm in the base).
ZYPPER_REPO_FILE = f"""\
[{REPO_ID}]
name=Patchdesk synthetic test repository
enabled=1
autorefresh=0
baseurl=file://{REPO_DIR}
type=rpm-md
gpgcheck=0
"""

#: What a test writes to /etc/os-release to make a host an openSUSE (zypper) host.
ZYPPER_OS_RELEASE = """\
NAME="openSUSE Leap"
VERSION="15.6 (Patchdesk test)"
ID="opensuse-leap"
ID_LIKE="suse opensuse"
VERSION_ID="15.6"
PRETTY_NAME="openSUSE Leap 15.6 (Patchdesk test)"
HOME_URL="https://patchdesk.invalid/"
"""

#: Packages whose update asks for a reboot (``dnf needs-restarting -r``), as RHEL does for kernels.
NEEDS_RESTARTING = ("pd-reboot",)


@dataclass(frozen=True)
class SyntheticRpm:
    """One synthetic noarch rpm in the local repository."""

    name: str
    version: str
    release: str
    installed: bool  # the version installed in the base
    requires: tuple[str, ...] = ()
    changes: str = ""

    @property
    def evr(self) -> str:
        return f"{self.version}-{self.release}"

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}-{self.release}.noarch.rpm"


@dataclass(frozen=True)
class SyntheticAdvisory:
    """One advisory of the repository's updateinfo.xml."""

    id: str
    type: str  # security | bugfix | enhancement
    severity: str  # "" for none
    title: str
    packages: tuple[tuple[str, str], ...]  # (name, "version-release")
    cves: tuple[str, ...] = ()
    issued: str = "2024-01-15 12:00:00"
    reboot_suggested: bool = False


SYNTHETIC_RPM_LIST: tuple[SyntheticRpm, ...] = (
    SyntheticRpm("pd-secfix", "1.0", "1", True, changes="Initial release."),
    SyntheticRpm("pd-secfix", "1.0", "2", False, changes="Security update: fix CVE-2099-0001."),
    SyntheticRpm("pd-regular", "2.0", "1", True, changes="Initial release."),
    SyntheticRpm("pd-regular", "2.1", "1", False, changes="New upstream release 2.1."),
    SyntheticRpm("pd-chain-lib", "1.0", "1", True, changes="Initial release."),
    SyntheticRpm("pd-chain-lib", "1.1", "1", False, changes="New upstream release 1.1."),
    SyntheticRpm("pd-chain", "1.0", "1", True, requires=("pd-chain-lib >= 1.0",), changes="Initial release."),
    SyntheticRpm(
        "pd-chain", "1.1", "1", False, requires=("pd-chain-lib >= 1.1",), changes="New upstream release 1.1."
    ),
    SyntheticRpm("pd-current", "1.0", "1", True, changes="Initial release."),
    SyntheticRpm("pd-reboot", "1.0", "1", True, changes="Initial release."),
    SyntheticRpm("pd-reboot", "1.0", "2", False, changes="Security update: fix CVE-2099-0003; reboot."),
)

SYNTHETIC_ADVISORIES: tuple[SyntheticAdvisory, ...] = (
    SyntheticAdvisory(
        "PDSA-2099:0001",
        "security",
        "Important",
        "Important: pd-secfix security update",
        (("pd-secfix", "1.0-2"),),
        cves=("CVE-2099-0001",),
    ),
    SyntheticAdvisory(
        "PDBA-2099:0002",
        "bugfix",
        "",
        "pd-regular bug fix update",
        (("pd-regular", "2.1-1"),),
        issued="2024-01-16 12:00:00",
    ),
    SyntheticAdvisory(
        "PDSA-2099:0003",
        "security",
        "Critical",
        "Critical: pd-reboot security update",
        (("pd-reboot", "1.0-2"),),
        cves=("CVE-2099-0003",),
        issued="2024-01-17 12:00:00",
        reboot_suggested=True,
    ),
    SyntheticAdvisory(
        "PDEA-2099:0004",
        "enhancement",
        "",
        "pd-chain and pd-chain-lib enhancement update",
        (("pd-chain", "1.1-1"), ("pd-chain-lib", "1.1-1")),
        issued="2024-01-18 12:00:00",
    ),
)


def _synthetic_rpms() -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for rpm in SYNTHETIC_RPM_LIST:
        entry = out.setdefault(rpm.name, {"installed": None, "updates": [], "versions": []})
        entry["versions"].append(rpm.evr)  # type: ignore[attr-defined]
        if rpm.installed:
            entry["installed"] = rpm.evr
        else:
            entry["updates"].append(rpm.evr)  # type: ignore[attr-defined]
    for adv in SYNTHETIC_ADVISORIES:
        for name, evr in adv.packages:
            out[name].setdefault("advisories", {})[evr] = adv.id  # type: ignore[index]
    return out


#: name -> {"installed": "V-R", "updates": ["V-R", ...], "versions": [every V-R in the repo],
#:          "advisories": {"V-R": advisory id}}  (like recipe.SYNTHETIC_PACKAGES for the Debian hosts)
SYNTHETIC_RPMS: dict[str, dict[str, object]] = _synthetic_rpms()

#: advisory id -> SyntheticAdvisory
ADVISORIES_BY_ID: dict[str, SyntheticAdvisory] = {a.id: a for a in SYNTHETIC_ADVISORIES}


def rpm_recipe_hash(extra: str = "") -> str:
    """Cache key of the rpm base root filesystem (covers the Debian recipe it builds on)."""
    data = {
        "builder": RPM_BUILDER_VERSION,
        "debian": recipe.recipe_hash(),
        "extra_packages": RPM_EXTRA_PACKAGES,
        "provides": SYSTEM_PROVIDES,
        "os_release": OS_RELEASE,
        "repo_file": REPO_FILE,
        "zypper_repo_file": ZYPPER_REPO_FILE,
        "needs_restarting": NEEDS_RESTARTING,
        "rpms": [asdict(r) for r in SYNTHETIC_RPM_LIST],
        "advisories": [asdict(a) for a in SYNTHETIC_ADVISORIES],
        "extra": extra,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
