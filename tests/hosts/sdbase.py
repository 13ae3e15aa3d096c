"""Build (once) and cache the base root filesystem of the systemd test hosts.

The Debian base's recipe (base.py) plus Debian's ``systemd`` and ``dbus``, and the systemd-only
synthetic package ``pd-service`` (recipe.SYSTEMD_DEBS: 1.0-1 runs a service, 1.0-2's daemon exits
non-zero at start) in the same local apt repository. systemd is PID 1 of these hosts (sdhost.py), so
failed units, ``systemctl is-system-running`` and the journal are real.

Also in this base: ``admin`` is in the ``systemd-journal`` group (it reads the whole journal without
sudo, as an administrator's account usually can; ``sudopw`` cannot), and ``pd-ttl.service`` powers the
host off after its time-to-live (what pd-init's loop does on the other hosts).

Cached in ``<cache_dir>/sdbase-<hash>`` through base.ensure_base.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from . import recipe
from .base import (
    DEFAULT_CACHE_DIR,
    INIT_SCRIPT,
    MMDEBSTRAP_OPTIONS,
    SOURCES,
    SSHD_DROPIN,
    _build,
    _customize_script,
    ensure_base,
)
from .recipe import SYNTHETIC_DEBS, SYSTEMD_DEBS

FLAVOR = "sdbase"

SD_MMDEBSTRAP_OPTIONS: tuple[str, ...] = tuple(
    f"{opt},{','.join(recipe.SYSTEMD_BASE_PACKAGES)}" if opt.startswith("--include=") else opt
    for opt in MMDEBSTRAP_OPTIONS
)

#: The file the host's setup script writes the time-to-live (seconds) to, read by pd-ttl.service.
TTL_FILE = "/run/pd-ttl"

TTL_UNIT = f"""\
[Unit]
Description=Patchdesk test host: power off after the time-to-live

[Service]
ExecStart=/bin/sh -c 'sleep "$(cat {TTL_FILE} 2>/dev/null || echo 7200)"; exec systemctl poweroff'

[Install]
WantedBy=multi-user.target
"""

SD_EXTRA_LINES: tuple[str, ...] = (
    f'chroot "$T" usermod -a -G systemd-journal {recipe.ADMIN_USER}',
    "cat > \"$T/etc/systemd/system/pd-ttl.service\" <<'EOF'",
    TTL_UNIT.rstrip("\n"),
    "EOF",
    'chroot "$T" systemctl enable pd-ttl.service',
    # pam_env (sshd, su, sudo) logs an error to the journal at every session without this file, which
    # a real Debian system has from its installer
    "echo 'LANG=C.UTF-8' > \"$T/etc/default/locale\"",
    # sshd is ssh.service here (enabled by its package); pd-init is not PID 1 and stays unused
    'chroot "$T" systemctl is-enabled ssh.service',
)

SD_DEBS = SYNTHETIC_DEBS + SYSTEMD_DEBS


def _script() -> str:
    return _customize_script(Path("R"), Path("K"), Path("I"), SD_DEBS, SD_EXTRA_LINES)


def sd_base_hash() -> str:
    data = {
        "builder": recipe.SYSTEMD_BUILDER_VERSION,
        "debian": recipe.recipe_hash(),
        "packages": recipe.SYSTEMD_BASE_PACKAGES,
        "debs": [asdict(d) for d in SYSTEMD_DEBS],
        "script": INIT_SCRIPT + SSHD_DROPIN + SOURCES + _script(),
        "options": SD_MMDEBSTRAP_OPTIONS,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _build_sd_base(rootfs: Path, *, log=None) -> None:
    _build(rootfs, log=log, options=SD_MMDEBSTRAP_OPTIONS, debs=SD_DEBS, extra_lines=SD_EXTRA_LINES)


def ensure_systemd_base(cache_dir: Path | None = None, *, log=None) -> Path:
    """The unpacked systemd base root filesystem, built or unpacked first if needed (cached by recipe)."""
    return ensure_base(
        cache_dir or DEFAULT_CACHE_DIR,
        log=log,
        flavor=FLAVOR,
        recipe_hash=sd_base_hash(),
        build=_build_sd_base,
    )
