"""Cascade depth and structural virality against an all-pairs reference; KOC ranking."""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any

import numpy as np
import pytest
from helpers import at, customer, new_pool, purchase
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from referral_helpers import chain_pool, refund, snap

from privdomain.errors import ValidationError
from privdomain.referral import BindingPolicy, bind, cascades, koc_ranking


def _pool(parents: list[int | None]) -> Any:
    p = new_pool()
    assert p.ingest(
        [
            customer(f"c{i:02d}", at(i), referrer_id=None if r is None else f"c{r:02d}")
            for i, r in enumerate(parents)
        ]
    ).ok
    return p


def _reference(parents: list[int | None]) -> dict[str, tuple[int, int, float]]:
    """(size, depth, mean pairwise distance) per tree, by breadth-first search from every
    customer over the undirected tree: the definition, in O(n^2)."""
    n = len(parents)
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for i, r in enumerate(parents):
        if r is not None:
            nbrs[i].append(r)
            nbrs[r].append(i)

    def dist_from(s: int) -> dict[int, int]:
        seen, queue = {s: 0}, deque([s])
        while queue:
            u = queue.popleft()
            for v in nbrs[u]:
                if v not in seen:
                    seen[v] = seen[u] + 1
                    queue.append(v)
        return seen

    out = {}
    for root in (i for i, r in enumerate(parents) if r is None):
        d = dist_from(root)
        members = sorted(d)
        pairs = [dist_from(a)[b] for a, b in itertools.combinations(members, 2)]
        mean = sum(pairs) / len(pairs) if pairs else float("nan")
        out[f"c{root:02d}"] = (len(members), max(d.values()), mean)
    return out


def test_a_broadcast_and_a_chain() -> None:
    # c00 invites five (a broadcast); c06 -> c07 -> c08 -> c09 (a chain)
    parents = [None, 0, 0, 0, 0, 0, None, 6, 7, 8, None]
    result = cascades(_pool(parents).snapshot(at(20)))
    rec = result.to_records()
    assert [(r["root_id"], r["size"], r["depth"]) for r in rec] == [
        ("c00", 6, 1),
        ("c06", 4, 3),
    ]
    # a star of n: 2 (n - 1) / n; a path of n: (n + 1) / 3
    assert rec[0]["structural_virality"] == pytest.approx(2 * 5 / 6)
    assert rec[1]["structural_virality"] == pytest.approx(5 / 3)
    assert rec[1]["wiener_index"] == 10
    lone = cascades(_pool(parents).snapshot(at(20)), min_size=1)
    assert len(lone) == 3
    assert np.isnan(lone.structural_virality[-1])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 14).flatmap(
        lambda n: st.tuples(*[st.none()] + [st.none() | st.integers(0, i - 1) for i in range(1, n)])
    )
)
def test_structural_virality_equals_the_mean_of_all_pairwise_distances(parents: Any) -> None:
    parents = list(parents)
    result = cascades(_pool(parents).snapshot(at(40)), min_size=1)
    expected = _reference(parents)
    got = {
        r["root_id"]: (r["size"], r["depth"], r["structural_virality"]) for r in result.to_records()
    }
    assert got.keys() == expected.keys()
    for root, (size, depth, mean) in expected.items():
        assert got[root][:2] == (size, depth)
        if size == 1:
            assert got[root][2] is None
        else:
            assert got[root][2] == pytest.approx(mean, rel=1e-12)
    assert result.size.tolist() == sorted(result.size.tolist(), reverse=True)


def test_cascades_follow_the_bindings_in_force() -> None:
    # last-touch: e's invitation rebinds d, moving d out of a's tree
    from referral_helpers import invite

    s = snap(chain_pool([invite("i1", "e", "d", at(10))]))
    perm = cascades(s)
    assert perm.to_records()[0]["size"] == 4
    moved = cascades(s, BindingPolicy("last_touch"))
    assert [(r["root_id"], r["size"]) for r in moved.to_records()] == [("a", 3), ("e", 2)]
    assert cascades(s, bind(s, BindingPolicy("last_touch"))).size.tolist() == [3, 2]


def test_koc_ranking_by_referred_value() -> None:
    extra = [
        customer("f", at(3), referrer_id="a"),
        purchase("t3", "f", at(6), "500.00", order_id="o3"),
        purchase("t4", "c", at(6), "80.00", order_id="o4"),
        refund("r4", "c", at(7), "80.00", "o4"),
    ]
    ranking = koc_ranking(snap(chain_pool(extra)))
    assert ranking.to_records() == [
        # a: f's 500.00 directly; b's and c's orders go to b (c's refunded: 0)
        {
            "rank": 1,
            "customer_id": "a",
            "referred": 2,
            "revenue_minor": 50000,
            "second_tier_revenue_minor": 0,
        },
        {
            "rank": 2,
            "customer_id": "c",
            "referred": 1,
            "revenue_minor": 13333,
            "second_tier_revenue_minor": 0,
        },
        {
            "rank": 3,
            "customer_id": "b",
            "referred": 1,
            "revenue_minor": 0,
            "second_tier_revenue_minor": 13333,
        },
    ]
    assert len(koc_ranking(snap(chain_pool(extra)), top=1)) == 1


@pytest.mark.parametrize("kwargs", [{"top": 0}, {"top": 2.5}, {"top": True}])
def test_bad_koc_calls(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        koc_ranking(snap(chain_pool()), **kwargs)


@pytest.mark.parametrize("min_size", [0, 1.5, False])
def test_bad_cascade_calls(min_size: Any) -> None:
    with pytest.raises(ValidationError):
        cascades(snap(chain_pool()), min_size=min_size)
    with pytest.raises(ValidationError, match="Snapshot"):
        cascades("x")  # type: ignore[arg-type]


def test_empty_snapshot() -> None:
    s = snap(chain_pool(), days=-1)
    assert len(cascades(s)) == 0
    assert len(koc_ranking(s)) == 0
