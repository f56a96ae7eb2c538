"""Invariants of every layering, on random small pools (hypothesis).

- each layering partitions the pool: one segment per customer, and the segments' rules,
  evaluated on their source, reproduce the labels exactly;
- permuting the customers permutes the result.
"""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
from hypothesis import HealthCheck, given, settings
from layering_helpers import build_snapshot

from privdomain import Channel, TouchKind
from privdomain.errors import EmptyPoolError
from privdomain.layering import (
    AttributeLayers,
    CouponHunters,
    KOCDetector,
    RFMLayering,
    TagLayering,
    ValueClusters,
    ValueTiers,
)

buy = st.tuples(st.integers(0, 99), st.sampled_from([0.0, 9.9, 10.0, 120.0, 999.0]), st.booleans())
customer = st.fixed_dictionaries(
    {
        "joined": st.integers(0, 99),
        "buys": st.lists(buy, max_size=4),
        "touches": st.lists(
            st.tuples(
                st.integers(0, 99),
                st.sampled_from([TouchKind.SHARED, TouchKind.POSTED, TouchKind.VISITED]),
            ),
            max_size=4,
        ),
        "tags": st.sampled_from([set(), {"vip"}]),
        "source": st.sampled_from([Channel.DOUYIN, Channel.TAOBAO]),
    }
)
pools = st.lists(customer, min_size=0, max_size=10)


def _valid(spec: dict) -> dict:
    # purchases and touches cannot happen before joining
    spec = dict(spec)
    spec["buys"] = [(max(d, spec["joined"]), a, p) for d, a, p in spec["buys"]]
    spec["touches"] = [(max(d, spec["joined"]), k) for d, k in spec["touches"]]
    return spec


def _strategies():
    return [
        AttributeLayers(),
        ValueTiers(),
        KOCDetector(threshold=2),
        KOCDetector(top_k=2),
        CouponHunters(min_orders=1),
        TagLayering([("vip", "tag:vip"), ("douyin", 'source in ["DOUYIN"]')]),
        RFMLayering(),
        RFMLayering(table="chinese"),
        RFMLayering(
            binning="fixed",
            recency_edges=[7, 30, 60, 90],
            frequency_edges=[1, 2, 3, 4],
            monetary_edges=[10, 50, 100, 500],
        ),
        ValueClusters(n_clusters=2, n_init=1),
    ]


def _layer(strategy, snap):
    try:
        fit = getattr(strategy, "fit_layer", None)
        return fit(snap) if fit is not None else strategy.layer(snap)
    except EmptyPoolError:
        return None  # learners need buyers; nothing to partition


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=pools)
def test_each_layering_partitions_the_pool(specs) -> None:
    snap = build_snapshot({f"c{i}": _valid(s) for i, s in enumerate(specs)})
    for strategy in _strategies():
        seg = _layer(strategy, snap)
        if seg is None:
            assert not snap.buyers.any()
            continue
        assert len(seg) == len(snap)
        assert sum(seg.counts().values()) == len(snap)
        source = seg if seg.rules_on == "result" else snap
        hits = np.zeros(len(snap), dtype=int)
        for code, segment in enumerate(seg.segments()):
            mask = segment.mask(source)
            np.testing.assert_array_equal(mask, seg.labels == code, err_msg=segment.name)
            hits += mask
        assert (hits == 1).all(), type(strategy).__name__


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=pools.filter(lambda s: len(s) >= 2), seed=st.integers(0, 2**16))
def test_permuting_customers_permutes_every_layering(specs, seed) -> None:
    named = {f"c{i}": _valid(s) for i, s in enumerate(specs)}
    order = np.random.default_rng(seed).permutation(len(named))
    keys = list(named)
    a = build_snapshot(named)
    b = build_snapshot({keys[i]: named[keys[i]] for i in order})
    for strategy in _strategies():
        sa, sb = _layer(strategy, a), _layer(strategy, b)
        if sa is None:
            assert sb is None
            continue
        by_id_a = dict(zip(sa.customer_ids.tolist(), sa.segment_names.tolist(), strict=True))
        by_id_b = dict(zip(sb.customer_ids.tolist(), sb.segment_names.tolist(), strict=True))
        assert by_id_a == by_id_b, type(strategy).__name__
