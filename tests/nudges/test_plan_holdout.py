"""Randomised logging: the holdout (share within binomial bounds, deterministic given the seed,
partition-invariant, propensities) and outcomes read from a later snapshot (exact, against a
slow reference), with their bad input."""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privdomain.domain._time import MICROS_PER_DAY
from privdomain.domain.pool import Pool
from privdomain.errors import ValidationError
from privdomain.lifecycle import Lifecycle
from privdomain.nudges import NudgeOutcomes, NudgePlan, NudgePolicy, outcomes, plan
from privdomain.simulate import simulate_pool


@functools.cache
def world(seed: int = 21) -> tuple[Any, Any, Any, Any]:
    """A pool planned 30 days before its end, and the snapshot at its end."""
    sim = simulate_pool(1_200, seed=seed, messages_per_month=1.0)
    pool = sim.pool()
    early = pool.snapshot(sim.as_of - dt.timedelta(days=30))
    stages = Lifecycle().fit(early).apply(early)
    return early, stages, pool.snapshot(sim.as_of), pool


def same(a: NudgePlan, b: NudgePlan) -> None:
    for name, col in a.columns().items():
        other = b.columns()[name]
        if col.dtype.kind == "M":
            col, other = col.view(np.int64), other.view(np.int64)
        assert np.array_equal(col, other, equal_nan=col.dtype.kind == "f"), name


@settings(max_examples=25, deadline=None)
@given(holdout=st.floats(0.01, 0.9), seed=st.integers(0, 2**32), days=st.integers(0, 20))
def test_holdout_is_a_random_share_with_known_propensity(
    holdout: float, seed: int, days: int
) -> None:
    snap, stages, _, _ = world()
    at = snap.as_of + dt.timedelta(days=days, minutes=7)
    full = plan(snap, stages, at=at)
    result = plan(snap, stages, at=at, holdout=holdout, seed=seed)
    chosen = result.planned | (result.reason == "holdout")
    # the holdout only splits the customers who would be contacted
    assert np.array_equal(chosen, full.planned)
    m, held = int(chosen.sum()), int((result.reason == "holdout").sum())
    assert abs(held - m * holdout) <= 5 * math.sqrt(m * holdout * (1 - holdout)) + 1
    assert np.all(result.propensity[chosen] == 1 - holdout)
    assert np.all(result.propensity[~chosen] == 0)
    # the held out keep the nudge they would have got; nothing of theirs is sent
    held_rows = result.reason == "holdout"
    for name in ("channel", "offer", "message", "send_at"):
        assert np.array_equal(getattr(result, name)[held_rows], getattr(full, name)[held_rows])
    assert len(result.to_touchpoints("t", "x-").at) == int(result.planned.sum())
    # deterministic given the seed, and the same partition by partition
    same(result, plan(snap, stages, at=at, holdout=holdout, seed=seed))
    rows = np.arange(len(snap))[1::2]
    part = plan(snap.take(rows), stages.take(rows), at=at, holdout=holdout, seed=seed)
    same(part, result.take(rows))


def test_holdout_follows_the_customer_not_the_ingest_order() -> None:
    """A customer's draw is a function of their id: a pool that ingested the same customers in
    the reverse order (other pool indices) holds out the same customers."""
    sim = simulate_pool(600, seed=5, messages_per_month=1.0)
    forward = sim.pool()
    backward = Pool(
        sim.params.tenant, currency=sim.params.currency, utc_offset=sim.params.utc_offset
    )
    backward.ingest(list(reversed(sim.customer_objects())))
    backward.ingest(sim.touchpoints)
    held = []
    for pool in (forward, backward):
        snap = pool.snapshot(sim.as_of)
        stages = Lifecycle().fit(snap).apply(snap)
        result = plan(snap, stages, at=sim.as_of + dt.timedelta(hours=12), holdout=0.3, seed=1)
        held.append(set(result.customer_ids[result.reason == "holdout"].tolist()))
    assert held[0]
    assert held[0] == held[1]
    # ... although their pool indices differ
    a, b = forward.snapshot(sim.as_of), backward.snapshot(sim.as_of)
    assert dict(zip(a.customer_ids, a.index, strict=True)) != dict(
        zip(b.customer_ids, b.index, strict=True)
    )


def test_seeds_and_generators() -> None:
    snap, stages, _, _ = world()
    a = plan(snap, stages, at=snap.as_of, holdout=0.5, seed=1)
    b = plan(snap, stages, at=snap.as_of, holdout=0.5, seed=2)
    assert not np.array_equal(a.planned, b.planned)
    g1 = plan(snap, stages, at=snap.as_of, holdout=0.5, seed=np.random.default_rng(9))
    g2 = plan(snap, stages, at=snap.as_of, holdout=0.5, seed=np.random.default_rng(9))
    same(g1, g2)
    assert "holdout" in a.explain(str(a.customer_ids[a.reason == "holdout"][0]))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"holdout": 0.2},
        {"holdout": 1.0, "seed": 1},
        {"holdout": -0.1, "seed": 1},
        {"holdout": True, "seed": 1},
        {"holdout": "0.1", "seed": 1},
        {"holdout": 0.1, "seed": -1},
        {"holdout": 0.1, "seed": 1.5},
        {"seed": "abc"},
    ],
)
def test_bad_holdout(kwargs: dict[str, Any]) -> None:
    snap, stages, _, _ = world()
    with pytest.raises(ValidationError):
        plan(snap, stages, at=snap.as_of, **kwargs)


def reference_outcomes(result: NudgePlan, later: Any, window_days: float) -> list[tuple[Any, ...]]:
    """Customer by customer, order by order."""
    o_at = later.order_log.at.astype("datetime64[us]").view(np.int64).tolist()
    o_row = later.order_log.row.tolist()
    gross = later.order_log.gross_minor.tolist()
    rows = {cid: i for i, cid in enumerate(later.customer_ids.tolist())}
    out = []
    for i in range(len(result)):
        if not (result.planned[i] or result.reason[i] == "holdout"):
            continue
        r = rows[result.customer_ids[i]]
        t = int(result.send_at[i].astype("datetime64[us]").astype(np.int64))
        end = t + round(window_days * MICROS_PER_DAY)
        hits = [g for row, when, g in zip(o_row, o_at, gross, strict=True)
                if row == r and t <= when < end]  # fmt: skip
        out.append((result.customer_ids[i], bool(result.planned[i]), len(hits), sum(hits)))
    return out


@pytest.mark.parametrize("window_days", [1, 7.5, 14])
def test_outcomes_are_exact(window_days: float) -> None:
    snap, stages, later, _ = world()
    result = plan(snap, stages, at=snap.as_of, holdout=0.3, seed=4)
    got = result.outcomes(later, window_days=window_days)
    assert isinstance(got, NudgeOutcomes)
    want = reference_outcomes(result, later, window_days)
    assert len(got) == len(want)
    assert got.customer_ids.tolist() == [w[0] for w in want]
    assert got.treatment.tolist() == [w[1] for w in want]
    assert got.orders.tolist() == [w[2] for w in want]
    assert got.revenue_minor.tolist() == [w[3] for w in want]
    assert np.array_equal(got.response, got.orders > 0)
    np.testing.assert_allclose(got.revenue, got.revenue_minor / 100)
    assert np.all(got.propensity == 0.7)
    assert got.response.any()
    summary = got.summary()
    t = got.treatment
    assert summary["response_uplift"] == pytest.approx(
        got.response[t].mean() - got.response[~t].mean()
    )
    cid = str(got.customer_ids[0])
    assert cid in got.explain(cid)
    # from a shuffled later snapshot: the same outcomes
    order = np.random.default_rng(0).permutation(len(later))
    shuffled = outcomes(result, later.take(order), window_days=window_days)
    assert np.array_equal(shuffled.revenue_minor, got.revenue_minor)


def test_outcomes_bad_input() -> None:
    snap, stages, later, _ = world()
    result = plan(snap, stages, at=snap.as_of, holdout=0.3, seed=4)
    with pytest.raises(ValidationError, match="not over"):
        result.outcomes(later, window_days=60)
    with pytest.raises(ValidationError, match="not over"):
        result.outcomes(snap)
    cid = result.customer_ids[result.planned][0]
    without = later.take(later.customer_ids != cid)
    with pytest.raises(ValidationError, match="missing"):
        result.outcomes(without)
    for bad in (0, -1, float("nan"), True, "7"):
        with pytest.raises(ValidationError):
            result.outcomes(later, window_days=bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        outcomes("plan", later)
    with pytest.raises(ValidationError):
        outcomes(result, "later")  # type: ignore[arg-type]


def test_outcomes_of_a_plan_without_experiment_is_empty() -> None:
    snap, stages, later, _ = world()
    policy = NudgePolicy(min_score=1.0)  # nobody is worth it
    result = plan(snap, stages, at=snap.as_of, policy=policy)
    got = result.outcomes(later)
    assert len(got) == 0
