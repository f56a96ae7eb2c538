"""The strategy contract: mergeable summaries, the quantile sketch's error bound, check_fitted."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privdomain.errors import NotFittedError, PrivdomainError, ValidationError
from privdomain.strategy import QuantileSketch, check_fitted, merge

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
        lambda: QuantileSketch.of([-1.0]),
        lambda: QuantileSketch.of([np.inf]),
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
