"""dpkg's version order, checked against known pairs and against the real dpkg."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.debversion import compare, parse, sort_key


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0-1", "1.0-2", -1),
        ("1.0-2", "1.0-2", 0),
        ("2.0-1", "2.1-1", -1),
        ("1.0~rc1", "1.0", -1),  # ~ sorts before the end
        ("1.0~~", "1.0~", -1),
        ("1.0", "1.0+b1", -1),
        ("1.0a", "1.0+", -1),  # letters before non-letters
        ("1:0.1", "2.0", 1),  # epoch wins
        ("0:1.0", "1.0", 0),
        ("1.10", "1.9", 1),  # digit runs compare as numbers
        ("1.001", "1.1", 0),
        ("1.0", "1.0-0", 0),  # missing revision is an empty one
        ("3.0.11-1~deb12u2", "3.0.15-1~deb12u1", -1),
        ("5.4.1-0.2ubuntu0.1", "5.4.1-0.2", 1),
        ("2.36-9+deb12u4", "2.36-9+deb12u10", -1),
    ],
)
def test_known_pairs(a: str, b: str, expected: int) -> None:
    assert compare(a, b) == expected
    assert compare(b, a) == -expected


def test_parse_and_sort() -> None:
    assert parse("2:1.2-3-4") == (2, "1.2-3", "4")
    assert parse("1.0") == (0, "1.0", "")
    assert sorted(["1.0", "1.0~rc1", "1:0.5", "1.0-1"], key=sort_key) == ["1.0~rc1", "1.0", "1.0-1", "1:0.5"]
    with pytest.raises(ValueError):
        parse("x:1.0")


_part = st.text(alphabet="0123456789.+~ab", min_size=1, max_size=6).filter(lambda s: s[0].isdigit())
_version = st.builds(
    lambda e, u, r: (f"{e}:" if e else "") + u + (f"-{r}" if r else ""),
    st.integers(0, 2),
    _part,
    st.one_of(st.just(""), st.text(alphabet="0123456789.+~a", min_size=1, max_size=4)),
)


@given(_version, _version, _version)
def test_order_is_a_total_preorder(a: str, b: str, c: str) -> None:
    assert compare(a, a) == 0
    assert compare(a, b) == -compare(b, a)
    if compare(a, b) <= 0 and compare(b, c) <= 0:
        assert compare(a, c) <= 0


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg not installed")
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_version, _version), min_size=5, max_size=5))
def test_agrees_with_real_dpkg(pairs: list[tuple[str, str]]) -> None:
    for a, b in pairs:
        real = subprocess.run(["dpkg", "--compare-versions", a, "lt", b], capture_output=True)
        if real.stderr:  # dpkg rejects some generated strings; so must we not crash on them
            continue
        assert (compare(a, b) < 0) == (real.returncode == 0), (a, b)
