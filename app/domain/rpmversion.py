"""rpm's version comparison (rpmio/rpmvercmp.c) and ``[epoch:]version-release`` ordering.

Rollback needs it to know whether going back to a version is a downgrade or an upgrade, and advisory
matching to know whether a fix is already installed.
"""

from __future__ import annotations

import itertools
import re

_SEGMENT_RE = re.compile(r"~|\^|[0-9]+|[A-Za-z]+")


def rpmvercmp(a: str, b: str) -> int:
    """rpm's version-segment comparison: -1, 0 or 1."""
    if a == b:
        return 0
    sa = _SEGMENT_RE.findall(a)
    sb = _SEGMENT_RE.findall(b)
    for i in itertools.count():
        order = _compare_segments(sa[i] if i < len(sa) else None, sb[i] if i < len(sb) else None)
        if order is not None:
            return order
    raise AssertionError("unreachable: the segments run out")


def _compare_segments(xa: str | None, xb: str | None) -> int | None:
    """One step of rpmvercmp: the order of two segments (None: the end), or None to go on."""
    # tilde sorts before everything, even the end of the string
    if xa == "~" or xb == "~":
        return None if xa == xb else (-1 if xa == "~" else 1)
    # caret sorts after the end of the string but before anything else
    if xa == "^" or xb == "^":
        if xa is None or xb is None:
            return -1 if xa is None else 1
        return None if xa == xb else (-1 if xa == "^" else 1)
    if xa is None or xb is None:
        return 0 if xa == xb else (-1 if xa is None else 1)
    a_num, b_num = xa.isdigit(), xb.isdigit()
    if a_num != b_num:
        return 1 if a_num else -1  # numeric segments are newer than alpha ones
    if a_num:
        ia, ib = int(xa), int(xb)
        return None if ia == ib else (1 if ia > ib else -1)
    return None if xa == xb else (1 if xa > xb else -1)


def _split_evr(evr: str) -> tuple[int, str, str]:
    epoch_s, sep, vr = evr.partition(":")
    if not sep:
        epoch_s, vr = "0", evr
    version, _, release = vr.rpartition("-")
    if not version:
        version, release = release, ""
    return (int(epoch_s) if epoch_s.isdigit() else 0), version, release


def compare_evr(a: str, b: str) -> int:
    """Compare two ``[epoch:]version-release`` strings the way rpm does: -1, 0 or 1."""
    ea, va, ra = _split_evr(a)
    eb, vb, rb = _split_evr(b)
    if ea != eb:
        return 1 if ea > eb else -1
    return rpmvercmp(va, vb) or rpmvercmp(ra, rb)
