"""Debian version comparison, as dpkg does it (``dpkg --compare-versions``).

A version is ``[epoch:]upstream[-revision]``. Epochs compare as integers; upstream and revision
compare with dpkg's ``verrevcmp``: alternating runs of non-digits and digits, where non-digits
compare character by character with letters before non-letters and ``~`` before everything (even
the end of the string), and digit runs compare as integers. OSV's Debian and Ubuntu ranges use this
order, so matching a pending update against a "fixed" version needs it.
"""

from __future__ import annotations

import functools


def _order(c: str) -> int:
    if c.isdigit():
        return 0
    if c.isalpha() and c.isascii():
        return ord(c)
    if c == "~":
        return -1
    if c:
        return ord(c) + 256
    return 0


def _verrevcmp(a: str, b: str) -> int:
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i]) if i < len(a) else 0
            bc = _order(b[j]) if j < len(b) else 0
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


def parse(version: str) -> tuple[int, str, str]:
    """Split into (epoch, upstream, revision); a missing epoch is 0, a missing revision "" (dpkg)."""
    v = version.strip()
    epoch = 0
    if ":" in v:
        head, rest = v.split(":", 1)
        if head.isdigit():
            epoch, v = int(head), rest
        else:
            raise ValueError(f"bad epoch in Debian version {version!r}")
    upstream, sep, revision = v.rpartition("-")
    if not sep:
        upstream, revision = v, ""
    if not upstream:
        raise ValueError(f"empty upstream part in Debian version {version!r}")
    return epoch, upstream, revision


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` sorts before, equal to or after ``b`` in dpkg's order."""
    ea, ua, ra = parse(a)
    eb, ub, rb = parse(b)
    if ea != eb:
        return -1 if ea < eb else 1
    r = _verrevcmp(ua, ub) or _verrevcmp(ra, rb)
    return (r > 0) - (r < 0)


#: ``sorted(versions, key=sort_key)`` orders Debian versions as dpkg does.
sort_key = functools.cmp_to_key(compare)
