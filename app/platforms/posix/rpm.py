"""rpm queries and rpm's name and version rules, shared by the dnf and zypper adapters.

Everything read from a host is untrusted: names, versions and arches must match rpm's allowed characters
before they are used at all, and they only ever reach a command as argv elements.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from app.domain.rpmversion import compare_evr

# rpm's own rules (build/parsePreamble.c: ALLOWED_CHARS_NAME ".-_+%{}", ALLOWED_CHARS_VERREL
# "._+%{}~^"), narrowed: "%{}" only exist for unexpanded macros and never appear in a real repository.
# None of the remaining characters means anything to a shell, and none is a space.
_NAME_RE = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9._+-]{0,254}")
_VR_PART = r"[A-Za-z0-9._+~^]{1,128}"
_EVR_RE = re.compile(rf"(?:[0-9]{{1,10}}:)?{_VR_PART}-{_VR_PART}")
_ARCH_RE = re.compile(r"[A-Za-z0-9_]{1,32}")


# -- small helpers ---------------------------------------------------------------------------------


def is_valid_name(name: str) -> bool:
    return bool(_NAME_RE.fullmatch(name))


def is_valid_evr(evr: str) -> bool:
    return bool(_EVR_RE.fullmatch(evr))


def normalize_evr(evr: str) -> str:
    """``0:1.0-1`` → ``1.0-1``: an epoch of 0 is not shown, as dnf does."""
    epoch, sep, rest = evr.partition(":")
    if sep and epoch.isdigit() and int(epoch) == 0:
        return rest
    return evr


def split_name_arch(text: str) -> tuple[str, str] | None:
    """``pd-secfix.noarch`` → (``pd-secfix``, ``noarch``); None when it is not a valid name.arch."""
    name, sep, arch = text.rpartition(".")
    if not sep or not _NAME_RE.fullmatch(name) or not _ARCH_RE.fullmatch(arch):
        return None
    return name, arch


def split_nevra(text: str) -> tuple[str, str, str] | None:
    """``openssl-1:3.0.7-27.el9.x86_64`` → (``openssl``, ``1:3.0.7-27.el9``, ``x86_64``); None if invalid."""
    nevr, sep, arch = text.rpartition(".")
    if not sep or not _ARCH_RE.fullmatch(arch):
        return None
    parts = nevr.rsplit("-", 2)
    if len(parts) != 3:
        return None
    name, ev, release = parts
    evr = normalize_evr(f"{ev}-{release}")
    if not _NAME_RE.fullmatch(name) or not _EVR_RE.fullmatch(evr):
        return None
    return name, evr, arch


#: rpm query format: name, epoch ("(none)" when unset), version-release, arch.
RPM_QUERYFORMAT = "%{NAME}\\t%{EPOCH}\\t%{VERSION}-%{RELEASE}\\t%{ARCH}\\n"


# -- rpm queries -----------------------------------------------------------------------------------


def rpm_query_command(names: Sequence[str]) -> list[str]:
    """``rpm -q`` of ``names`` as an argv list (``--`` so a name cannot be an option)."""
    return ["rpm", "-q", "--qf", RPM_QUERYFORMAT, "--", *names]


def parse_rpm_query(text: str) -> dict[str, tuple[str, str]]:
    """``{name: (version, arch)}`` from :data:`RPM_QUERYFORMAT` lines.

    ``package X is not installed`` lines and anything invalid are skipped. With several installed
    instances of one name (kernels, multilib) the newest version wins.
    """
    result: dict[str, tuple[str, str]] = {}
    for raw in text.splitlines():
        parts = raw.rstrip("\r").split("\t")
        if len(parts) != 4:
            continue
        name, epoch, vr, arch = parts
        if not _NAME_RE.fullmatch(name) or not _ARCH_RE.fullmatch(arch):
            continue
        if epoch in ("(none)", "", "0"):
            evr = vr
        elif epoch.isdigit() and len(epoch) <= 10:
            evr = f"{epoch}:{vr}"
        else:
            continue
        if not _EVR_RE.fullmatch(evr):
            continue
        old = result.get(name)
        if old is None or compare_evr(evr, old[0]) > 0:
            result[name] = (evr, arch)
    return result


__all__ = [
    "parse_rpm_query",
    "rpm_query_command",
    "split_nevra",
]
