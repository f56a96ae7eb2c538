"""Memory of the daily cycle's largest step, the snapshot: grouped counts narrowed to int32 in
their own buffer, connection state decided in place; the same numbers as the plain numpy
expressions they replace."""

from __future__ import annotations

import importlib
import tracemalloc

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

features_module = importlib.import_module("privdomain.domain.features")

NAT = np.iinfo(np.int64).min


@settings(max_examples=40, deadline=None)
@given(
    st.one_of(st.integers(0, 70), st.integers(65_530, 65_540), st.integers(131_000, 270_000)),
    st.integers(0, 3),
    st.integers(0, 2**32 - 1),
)
def test_counts_are_bincount_narrowed(size: int, per_group: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    key = rng.integers(0, max(size, 1), size=per_group * size).astype(np.intp)
    expected = np.bincount(key, minlength=size).astype(np.int32)
    got = features_module._counts(key.copy(), size)
    assert got.dtype == np.int32
    assert got.shape == (size,)
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 200_000), st.integers(0, 2**32 - 1))
def test_narrowing_wraps_exactly_like_astype(size: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    wide = rng.integers(-(2**40), 2**40, size=size)
    np.testing.assert_array_equal(features_module._narrowed(wide.copy()), wide.astype(np.int32))
    # an array that does not own its buffer is copied, never changed
    view = wide[::2]
    before = view.copy()
    np.testing.assert_array_equal(features_module._narrowed(view), before.astype(np.int32))
    np.testing.assert_array_equal(view, before)


def test_narrowing_needs_no_second_buffer() -> None:
    size = 4_000_000
    key = np.arange(size, dtype=np.intp)
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        counts = features_module._counts(key, size)
        now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(counts, np.ones(size, dtype=np.int32))
    # bincount's int64 counts, then only the int32 half of them kept (astype: 12 bytes a group)
    assert peak - base <= 8 * size + 2**20
    assert now - base <= 4 * size + 2**16


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(-3, 3), st.booleans()), min_size=0, max_size=40
    )
)
def test_last_state_is_off_against_a_slow_reference(events: list[tuple[int, int, bool]]) -> None:
    size = 6
    key = np.array([g for g, _, _ in events], dtype=np.intp)
    at = np.array([t for _, t, _ in events], dtype=np.int64)
    off = np.array([o for _, _, o in events], dtype=bool)
    expected = []
    for group in range(size):
        mine = [(t, o) for g, t, o in events if g == group]
        expected.append(bool(mine) and max(mine)[1])  # the latest; a tie goes to "off"
    got = features_module._last_state_is_off(key, at, off, size)
    assert got.tolist() == expected
