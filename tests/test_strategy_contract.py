"""The strategy contract: mergeable summaries, the quantile sketch's error bound and exact mode,
rule-only strategies, check_fitted."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privdomain.errors import NotFittedError, PrivdomainError, ValidationError
from privdomain.strategy import (
    NoSummary,
    QuantileSketch,
    RuleBased,
    check_fitted,
    fit_partitioned,
    merge,
)

VALUES = st.lists(
    st.one_of(
        st.just(0.0),
        st.floats(1e-6, 1e7, allow_nan=False),
        st.integers(0, 400).map(float),
    ),
    min_size=1,
    max_size=300,
)
QS = st.lists(st.floats(0, 1), min_size=1, max_size=5)


@settings(max_examples=200, deadline=None)
@given(VALUES, QS, st.sampled_from([0.001, 0.01, 0.05]))
def test_quantiles_are_within_the_relative_error(values: list[float], qs: list[float], e: float):
    sketch = QuantileSketch.of(values, relative_error=e)
    exact = np.quantile(np.array(values), qs, method="inverted_cdf")
    got = sketch.quantile(qs)
    tolerance = e * (1 + 1e-9) * exact + 1e-9  # the zero bucket is exact
    assert (np.abs(got - exact) <= tolerance).all(), (got, exact)


@settings(max_examples=100, deadline=None)
@given(VALUES, st.integers(1, 6), st.randoms(use_true_random=False))
def test_merging_partitions_is_the_sketch_of_the_whole(values, k, rnd):
    shuffled = list(values)
    rnd.shuffle(shuffled)
    parts = [QuantileSketch.of(shuffled[i::k]) for i in range(k) if shuffled[i::k]]
    merged = merge(parts)
    whole = QuantileSketch.of(values)
    assert np.array_equal(merged.keys, whole.keys)
    assert np.array_equal(merged.counts, whole.counts)
    # and merging is commutative
    flipped = merge(reversed(parts))
    assert np.array_equal(flipped.counts, whole.counts)


@pytest.mark.parametrize(
    "call",
    [
        lambda: QuantileSketch.of([-np.inf]),
        lambda: QuantileSketch.of([np.inf]),
        lambda: QuantileSketch.of([1.0], relative_error=1e-12),
        lambda: QuantileSketch.of([1.0], min_value=0.0),
        lambda: QuantileSketch.of([1.0], exact_up_to=-1),
        lambda: QuantileSketch.of([1.0], exact_up_to=True),
        lambda: QuantileSketch.of([1.0]).quantile(0.5, method="nearest"),
        lambda: QuantileSketch.of([1.0]).top(0),
        lambda: QuantileSketch.of([]).top(1),
        lambda: QuantileSketch.of([1.0]).merge(QuantileSketch.of([1.0], exact_up_to=5)),
        lambda: QuantileSketch.of([1.0]).merge(NoSummary()),
        lambda: NoSummary().merge(QuantileSketch.of([1.0])),
        lambda: QuantileSketch.of([1.0], relative_error=0.0),
        lambda: QuantileSketch.of([1.0], relative_error=0.7),
        lambda: QuantileSketch.of([1.0]).quantile(1.5),
        lambda: QuantileSketch.of([]).quantile(0.5),
        lambda: QuantileSketch.of([1.0]).merge(QuantileSketch.of([1.0], relative_error=0.1)),
        lambda: merge([]),
    ],
)
def test_bad_input_is_refused(call) -> None:
    with pytest.raises(ValidationError) as info:
        call()
    assert isinstance(info.value, PrivdomainError)


def test_check_fitted() -> None:
    class Learner:
        def __init__(self) -> None:
            self.level = 3

    learner = Learner()
    with pytest.raises(NotFittedError):
        check_fitted(learner)
    with pytest.raises(NotFittedError):
        check_fitted(learner, "edges_")
    learner.edges_ = [1, 2]  # type: ignore[attr-defined]
    check_fitted(learner)
    check_fitted(learner, "edges_")


SIGNED = st.lists(
    st.one_of(
        st.just(0.0),
        st.floats(-1e7, 1e7, allow_nan=False),
        st.integers(-400, 400).map(float),
    ),
    min_size=1,
    max_size=300,
)


@settings(max_examples=200, deadline=None)
@given(SIGNED, QS, st.sampled_from([0.001, 0.01, 0.05]))
def test_negative_values_mirror_the_grid(values: list[float], qs: list[float], e: float):
    sketch = QuantileSketch.of(values, relative_error=e)
    exact = np.quantile(np.array(values), qs, method="inverted_cdf")
    got = sketch.quantile(qs)
    assert (np.abs(got - exact) <= e * (1 + 1e-9) * np.abs(exact) + 1e-9).all(), (got, exact)


@settings(max_examples=200, deadline=None)
@given(SIGNED, st.sampled_from([0.001, 0.01, 0.05]))
def test_every_bucket_bounds_its_values_from_below(values: list[float], e: float):
    x = np.array(values)
    sketch = QuantileSketch.of(x, relative_error=e)
    lower, _, counts = sketch.points()
    assert (np.diff(lower) > 0).all()
    # a value reaches the lower edge of its own bucket and of every bucket below, no other:
    # so "at least t" for a lower edge t counts exactly the values of the buckets from it up
    for t, at_or_above in zip(lower.tolist(), np.cumsum(counts[::-1])[::-1].tolist(), strict=True):
        assert int((x >= t).sum()) == at_or_above


@settings(max_examples=200, deadline=None)
@given(SIGNED, QS)
def test_exact_sketches_are_numpy_quantiles(values: list[float], qs: list[float]) -> None:
    x = np.array(values)
    sketch = QuantileSketch.of(x, exact_up_to=len(values))
    assert sketch.is_exact
    np.testing.assert_array_equal(sketch.quantile(qs), np.quantile(x, qs, method="inverted_cdf"))
    # numpy interpolates from either end; the sketch from the lower order statistic
    np.testing.assert_allclose(
        sketch.quantile(qs, method="linear"), np.quantile(x, qs), rtol=1e-12, atol=1e-9
    )
    assert sketch.mean() == pytest.approx(float(np.mean(x)), rel=1e-12, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(SIGNED, st.integers(1, 6), st.integers(0, 400), st.randoms(use_true_random=False))
def test_partitions_merge_to_the_whole_in_both_modes(values, k, limit, rnd) -> None:
    """Exact while the whole has at most ``limit`` distinct values, bucketed otherwise: the
    merged sketch is the sketch of the whole either way, and so are its sum and mean."""
    shuffled = list(values)
    rnd.shuffle(shuffled)
    parts = [QuantileSketch.of(shuffled[i::k], exact_up_to=limit) for i in range(k)]
    merged = merge(parts)
    whole = QuantileSketch.of(values, exact_up_to=limit)
    assert merged.is_exact == whole.is_exact == (len(set(values)) <= limit)
    if whole.is_exact:
        assert np.array_equal(merged.exact_values, whole.exact_values)
    assert np.array_equal(merged.keys, whole.keys)
    assert np.array_equal(merged.counts, whole.counts)
    assert merged.exact_sum == whole.exact_sum
    assert merged.mean() == whole.mean()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-1e300, 1e300), min_size=1, max_size=50))
def test_sum_and_mean_are_exact(values: list[float]) -> None:
    from fractions import Fraction

    sketch = QuantileSketch.of(values)
    exact = sum(Fraction(v) for v in values)
    try:
        expected = float(exact)
    except OverflowError:
        expected = math.inf if exact > 0 else -math.inf
    assert sketch.sum() == expected
    assert sketch.mean() == float(exact / len(values))


def test_top_values() -> None:
    exact = QuantileSketch.of([5, 3, 3, 1, 0, 0], exact_up_to=10)
    assert [exact.top(k) for k in (1, 2, 3, 4, 10)] == [5.0, 3.0, 3.0, 1.0, 0.0]
    rng = np.random.default_rng(0)
    x = rng.exponential(10, 5000)
    bucketed = QuantileSketch.of(x, relative_error=0.005)
    for k in (1, 10, 500):
        t = bucketed.top(k)
        kth = np.sort(x)[-k]
        assert (x >= t).sum() >= k
        assert kth * (1 - 2 * 0.005 / 1.005) <= t <= kth


def test_rule_based_strategies_learn_nothing() -> None:
    from privdomain.simulate import simulate_pool

    class Everyone(RuleBased):
        def apply(self, snapshot):
            return np.ones(len(snapshot), dtype=bool)

    snap = simulate_pool(50, seed=1).pool().snapshot(np.datetime64("2026-06-30"))
    strategy = Everyone()
    assert strategy.fit(snap) is strategy
    assert strategy.summarize(snap) == NoSummary()
    assert fit_partitioned(strategy, [snap.take([0, 1]), snap.take([2])]) is strategy
    with pytest.raises(ValidationError, match="takes a Snapshot"):
        strategy.fit([1, 2])
    with pytest.raises(ValidationError, match="NoSummary"):
        strategy.fit_summary(QuantileSketch.of([1.0]))


def _sorted_sketch(x: np.ndarray, e: float, min_value: float, limit: int) -> QuantileSketch:
    """The sketch by its definition: every distinct value with its count, bucketed past
    ``limit`` distinct values."""
    unique, counts = np.unique(x, return_counts=True)
    exact = QuantileSketch(e, np.zeros(0, dtype=np.int64), counts, min_value, unique, limit)
    return exact if unique.size <= limit else exact._bucketed()


@pytest.mark.parametrize(
    "x",
    [
        np.arange(70_000, dtype=float) % 9 + 1,  # whole numbers: counted, exact
        np.arange(200_000, dtype=float) % 70_000 - 35_000,  # whole numbers past the limit
        np.round(np.random.default_rng(1).lognormal(5, 1, 200_000), 2),  # amounts: hashed
        np.random.default_rng(2).normal(0, 1, 200_000),  # both signs and the zero bucket
        np.concatenate([np.random.default_rng(3).normal(0, 1e-8, 100_000), [0.0, -0.0]]),
        np.concatenate([np.arange(66_000, dtype=float), [-0.0, 0.0]]),
        np.random.default_rng(4).normal(size=100_000)
        * 10.0 ** np.random.default_rng(5).integers(-300, 300, 100_000),  # a wide range
        np.full(200_000, 1.5e308),  # a sum past the float range
        np.array([0.0] * 100_000 + [5e-324] * 3),
    ],
)
@pytest.mark.parametrize("limit", [0, 10, 1 << 16])
def test_fast_paths_build_the_sketch_of_its_definition(x: np.ndarray, limit: int) -> None:
    """Counting whole numbers, bounding the distinct values by hashing and counting buckets
    directly give the sketch that sorting the values gives, bit for bit."""
    for e, min_value in [(0.005, 1e-9), (0.2, 1e-300), (1e-6, 0.5)]:
        got = QuantileSketch.of(x, relative_error=e, min_value=min_value, exact_up_to=limit)
        want = _sorted_sketch(x, e, min_value, limit)
        assert got.is_exact == want.is_exact
        assert np.array_equal(got.keys, want.keys)
        assert got.keys.dtype == np.int64
        assert np.array_equal(got.counts, want.counts)
        assert got.counts.dtype == np.int64
        if want.exact_values is not None:
            assert got.exact_values is not None
            assert np.array_equal(got.exact_values, want.exact_values)
    if limit == 0:  # the exact sum, on every 10th value (a Fraction per value is slow)
        from fractions import Fraction

        part = x[::10]
        values, counts = np.unique(part, return_counts=True)
        exact = sum((Fraction(v) * int(c) for v, c in zip(values, counts, strict=True)), Fraction())
        assert QuantileSketch.of(part).exact_sum == exact * 2**1074
