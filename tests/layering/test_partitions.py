"""Every layering strategy gives the same answers partition by partition as on the whole pool.

- **fit**: summarising each partition, merging and fitting once
  (:func:`~privdomain.strategy.fit_partitioned`) learns exactly the fitted attributes one fit on
  the whole snapshot learns, with exact sketches (few distinct values) and with bucketed ones;
- **apply**: the results of the partitions, concatenated (:meth:`Segmentation.concat`), equal
  the result of the whole, row for row, and a row selection of a result is the result of the
  same rows of the snapshot.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any
from unittest import mock

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from layering_helpers import build_snapshot, pools, valid_spec

from privdomain.errors import EmptyPoolError
from privdomain.layering import (
    AttributeLayers,
    CouponHunters,
    KOCDetector,
    Layering,
    LayeringWarning,
    RFMLayering,
    RFMTable,
    Segmentation,
    TagLayering,
    ValueClusters,
    ValueTiers,
)
from privdomain.layering import _base as layering_base
from privdomain.strategy import SummarizingStrategy, fit_partitioned

pytestmark = pytest.mark.filterwarnings("ignore::privdomain.layering.LayeringWarning")

FIXED = {
    "binning": "fixed",
    "recency_edges": [7, 30, 60, 90],
    "frequency_edges": [1, 2, 3, 4],
    "monetary_edges": [10, 50, 100, 500],
}

#: A fresh strategy of every kind and configuration, by name.
STRATEGIES: dict[str, Callable[[], Any]] = {
    "attributes": AttributeLayers,
    "coupon hunters": lambda: CouponHunters(min_orders=1),
    "tags": lambda: TagLayering([("vip", "tag:vip"), ("douyin", 'source in ["DOUYIN"]')]),
    "value tiers": ValueTiers,
    "value tiers, gross": lambda: ValueTiers(shares=(0.3, 0.6, 0.9), value="gross_spend"),
    "koc threshold": lambda: KOCDetector(threshold=2),
    "koc top 2": lambda: KOCDetector(top_k=2),
    "rfm classic": RFMLayering,
    "rfm chinese": lambda: RFMLayering(table="chinese"),
    "rfm median": lambda: RFMLayering(table="chinese", binning="median"),
    "rfm cells by orders": lambda: RFMLayering(table=None, levels=3, frequency="orders"),
    "rfm fixed": lambda: RFMLayering(**FIXED),
    "clusters": lambda: ValueClusters(n_clusters=2, n_init=1),
}


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_every_strategy_follows_the_contract(name) -> None:
    strategy = STRATEGIES[name]()
    assert isinstance(strategy, Layering)
    assert isinstance(strategy, SummarizingStrategy)


# ---------------------------------------------------------------------- comparisons


def fitted(estimator: Any) -> dict[str, Any]:
    """The public fitted attributes (names ending in ``_``); none for a rule-only strategy
    (a frozen attrs class, without a ``__dict__``)."""
    state = getattr(estimator, "__dict__", {})
    return {k: v for k, v in state.items() if k.endswith("_") and not k.startswith("_")}


def same(a: Any, b: Any) -> bool:
    """Equal, bit for bit, with NaN equal to NaN."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.dtype.kind in "fc":
            return bool(np.array_equal(a, b, equal_nan=True))
        return bool(np.array_equal(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, tuple | list):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, RFMTable):
        return isinstance(b, RFMTable) and a.names == b.names and same(a.grid, b.grid)
    if hasattr(a, "get_params"):  # a fitted estimator inside (k-means)
        return type(a) is type(b) and same(fitted(a), fitted(b))
    return bool(a == b)


def same_result(a: Segmentation, b: Segmentation) -> None:
    """Two results are the same, row for row."""
    assert a.names == b.names
    np.testing.assert_array_equal(a.customer_ids, b.customer_ids)
    np.testing.assert_array_equal(a.labels, b.labels)
    cols_a, cols_b = a.columns(), b.columns()
    assert list(cols_a) == list(cols_b)
    for name in cols_a:
        assert same(cols_a[name], cols_b[name]), name
    assert (a.notes, a.warnings, a.descriptions) == (b.notes, b.warnings, b.descriptions)


# ---------------------------------------------------------------------- the property


def check_partitions(make: Callable[[], Any], snap: Any, part_of: np.ndarray) -> None:
    """Fit and apply ``make()`` on the whole ``snap`` and on its partitions ``part_of``."""
    parts = [np.flatnonzero(part_of == j) for j in range(int(part_of.max(initial=0)) + 1)]
    snaps = [snap.take(rows) for rows in parts]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LayeringWarning)
        try:
            whole = make().fit(snap)
        except EmptyPoolError:
            with pytest.raises(EmptyPoolError):
                fit_partitioned(make(), snaps)
            return
        by_parts = fit_partitioned(make(), snaps)
    mine, theirs = fitted(whole), fitted(by_parts)
    assert mine.keys() == theirs.keys()
    assert mine or by_parts == make()  # rule-only: nothing learned, nothing changed
    for name in mine:
        assert same(mine[name], theirs[name]), name

    result = whole.apply(snap)
    assert len(result) == len(snap)
    order = np.concatenate(parts)
    joined = Segmentation.concat([by_parts.apply(s) for s in snaps])
    same_result(joined, result.take(order))
    # a row selection of the result is the result of those rows of the snapshot
    some = order[: max(1, len(order) // 2)]
    same_result(result.take(some), whole.apply(snap.take(some)))


@pytest.fixture(params=["exact", "bucketed"])
def sketches(request: pytest.FixtureRequest) -> Any:
    """Layering's sketches exact (the default for small pools) or bucketed from the start."""
    limit = layering_base.EXACT_UP_TO if request.param == "exact" else 0
    with mock.patch.object(layering_base, "EXACT_UP_TO", limit):
        yield request.param


@pytest.mark.parametrize("name", list(STRATEGIES))
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    specs=pools.filter(lambda s: len(s) >= 1),
    k=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_partitions_fit_and_apply_as_the_whole(sketches, name, specs, k, seed) -> None:
    snap = build_snapshot({f"c{i}": valid_spec(s) for i, s in enumerate(specs)})
    part_of = np.random.default_rng(seed).integers(0, k, len(snap))
    check_partitions(STRATEGIES[name], snap, part_of)


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_a_simulated_pool_in_five_partitions(sketches, sim_snapshot, name) -> None:
    part_of = np.random.default_rng(11).integers(0, 5, len(sim_snapshot))
    check_partitions(STRATEGIES[name], sim_snapshot, part_of)


def test_bucketed_edges_are_within_the_relative_error(sim_snapshot) -> None:
    exact = RFMLayering(table=None, levels=5).fit(sim_snapshot)
    assert exact.exact_edges_
    with mock.patch.object(layering_base, "EXACT_UP_TO", 0):
        sketched = RFMLayering(table=None, levels=5).fit(sim_snapshot)
        tiers = ValueTiers().fit(sim_snapshot)
        result = sketched.apply(sim_snapshot)
    assert not sketched.exact_edges_
    assert not tiers.exact_thresholds_
    # every value is >= 0 and each order statistic is read within 0.5%
    bound = layering_base.RELATIVE_ERROR * (1 + 1e-12)
    assert (np.abs(sketched.edges_ - exact.edges_) <= bound * exact.edges_).all()
    assert any("quantile sketches" in note for note in result.notes)
    # the tiers still bring (nearly) their share of the revenue
    value = sim_snapshot.net_spend
    revenue = value[value > 0].sum()
    for share, t in zip((0.5, 0.8), tiers.thresholds_.tolist(), strict=True):
        assert value[value >= t].sum() >= share * revenue * (1 - 2 * layering_base.RELATIVE_ERROR)
