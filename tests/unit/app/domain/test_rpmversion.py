"""rpm version ordering, as rpmvercmp.c and dnf see it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.rpmversion import compare_evr


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="0123456789.~^abcXYZ-:", max_size=20),
    st.text(alphabet="0123456789.~^abc-:", max_size=20),
)
def test_compare_evr_is_antisymmetric(a: str, b: str) -> None:
    assert compare_evr(a, b) == -compare_evr(b, a)


@pytest.mark.parametrize(
    ("a", "b", "want"),
    [
        ("1.0-1", "1.0-2", -1),
        ("1.0-10", "1.0-9", 1),
        ("1:1.0-1", "2.0-1", 1),
        ("1.0~rc1-1", "1.0-1", -1),
        ("1.0^git1-1", "1.0-1", 1),
        ("1.0a-1", "1.0-1", 1),
        ("1.0-1.el9", "1.0-1.el9", 0),
        ("5.14.0-427.22.1.el9_4", "5.14.0-427.20.1.el9_4", 1),
        ("2024a-2.el9", "2023c-1.el9", 1),
    ],
)
def test_compare_evr(a: str, b: str, want: int) -> None:
    assert compare_evr(a, b) == want
