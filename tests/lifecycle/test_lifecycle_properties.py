"""Properties of the ladders on random pools (hypothesis).

- every customer has exactly one stage per ladder;
- every move between two runs is an allowed edge of its stage machine;
- time passing without a purchase only moves a customer down the post-purchase ladder;
- a purchase returns a customer to active;
- stages are the same computed in one pass, customer by customer, or partition by partition;
- the stage history at a date equals the stages of that date's snapshot.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from helpers import at
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lifecycle_helpers import build_pool

from privdomain import Pool
from privdomain.lifecycle import (
    LADDERS,
    CadenceLadder,
    Lifecycle,
    LifecycleStages,
    PAliveLadder,
    RelationshipLadder,
    stage_history,
    transitions,
)
from privdomain.value import ModifiedBetaGeo

ALL = (*LADDERS, "progress")
END = 200.0  # the last day any test looks at

# a purchase day: mostly whole and half days, sometimes exactly the same instant twice
DAYS = st.one_of(st.integers(0, 199).map(float), st.floats(0, 199.9, allow_nan=False))
CUSTOMER = st.fixed_dictionaries(
    {
        "joined": st.integers(0, 60),
        "buys": st.lists(DAYS, max_size=8).map(sorted),
        "twice": st.booleans(),
    }
)
POOLS = st.lists(CUSTOMER, min_size=1, max_size=12)
LADDER_SETTINGS = st.sampled_from(
    [
        {},
        {"post_purchase": CadenceLadder((0.5, 1.5, 3))},
        {"relationship": RelationshipLadder(window_days=30, churn_days=45)},
        {"post_purchase": PAliveLadder(ModifiedBetaGeo.from_params(r=0.5, alpha=20, a=0.8, b=2))},
    ]
)
PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def make_pool(customers: list[dict[str, Any]]) -> tuple[Pool, dict[str, list[float]]]:
    """The pool of the drawn customers, plus two regulars so that there is a rhythm to learn;
    purchases happen on or after joining."""
    spec: dict[str, dict[str, Any]] = {
        "reg-a": {"buys": [1.0, 11.0, 21.0, 31.0]},
        "reg-b": {"buys": [2.0, 9.0, 30.0]},
    }
    for i, c in enumerate(customers):
        buys = [max(d, float(c["joined"])) for d in c["buys"]]
        if c["twice"] and buys:
            buys.append(buys[-1])  # the same instant twice
        spec[f"c{i:02d}"] = {"joined": c["joined"], "buys": sorted(buys)}
    return build_pool(spec), {k: v.get("buys", []) for k, v in spec.items()}


def codes(stages: LifecycleStages) -> dict[str, Any]:
    return {name: stages.ladder(name).labels for name in ALL}


@PROPERTY
@given(POOLS, LADDER_SETTINGS, st.floats(40, END))
def test_one_stage_per_ladder(customers, kwargs, day) -> None:
    pool, _ = make_pool(customers)
    snap = pool.snapshot(at(day))
    stages = Lifecycle(**kwargs).fit(pool.snapshot(at(END))).apply(snap)
    for name in ALL:
        seg = stages.ladder(name)
        assert seg.labels.shape == (len(snap),)
        assert (seg.labels >= 0).all()
        assert (seg.labels < len(seg.names)).all()
        masks = np.array([s.mask(seg) for s in seg.segments()])
        assert (masks.sum(axis=0) == 1).all()


@PROPERTY
@given(POOLS, LADDER_SETTINGS, st.floats(30, END), st.floats(0, 120))
def test_every_move_is_an_allowed_edge(customers, kwargs, first, gap) -> None:
    pool, _ = make_pool(customers)
    model = Lifecycle(**kwargs).fit(pool.snapshot(at(END)))
    before = model.apply(pool.snapshot(at(first)))
    now = model.apply(pool.snapshot(at(min(first + gap, END + 50))))
    moves = transitions(before, now)  # strict: raises on any move that is not an edge
    assert moves.allowed.all()
    stored = transitions(before.store_values(), now, previous_as_of=before.as_of)
    assert np.array_equal(stored.target, moves.target)


@PROPERTY
@given(POOLS, LADDER_SETTINGS, st.floats(30, END), st.floats(0.01, 150))
def test_time_without_purchases_only_moves_down(customers, kwargs, first, gap) -> None:
    pool, buys = make_pool(customers)
    model = Lifecycle(**kwargs).fit(pool.snapshot(at(END)))
    later = first + gap
    before = model.apply(pool.snapshot(at(first)))
    now = model.apply(pool.snapshot(at(later)))
    rows = np.searchsorted(now.index, before.index)
    quiet = np.array(
        [not any(first < d <= later for d in buys[str(c)]) for c in before.customer_ids]
    )
    was = before.post_purchase.labels[quiet]
    became = now.post_purchase.labels[rows][quiet]
    assert (became >= was).all()
    assert ((was == 0) == (became == 0)).all()
    # and on the relationship ladder nobody leaves decline or churned without buying
    rel_was = before.relationship.labels[quiet]
    rel_now = now.relationship.labels[rows][quiet]
    gone = np.isin(rel_was, (4, 5))
    assert np.isin(rel_now[gone], (4, 5)).all()


@PROPERTY
@given(POOLS, LADDER_SETTINGS, st.data())
def test_a_purchase_returns_the_customer_to_active(customers, kwargs, data) -> None:
    pool, buys = make_pool(customers)
    model = Lifecycle(**kwargs).fit(pool.snapshot(at(END)))
    cid, days = data.draw(st.sampled_from(sorted((c, d) for c, d in buys.items() if d)))
    day = data.draw(st.sampled_from(days))
    stages = model.apply(pool.snapshot(at(day)))
    assert stages.stage_of(cid)["post_purchase"] == "active"
    assert stages.stage_of(cid)["relationship"] != "prospect"


@PROPERTY
@given(POOLS, LADDER_SETTINGS, st.floats(30, END), st.randoms(use_true_random=False))
def test_partitions_and_customers_alone_give_the_same_stages(customers, kwargs, day, rnd) -> None:
    pool, _ = make_pool(customers)
    model = Lifecycle(**kwargs).fit(pool.snapshot(at(END)))
    snap = pool.snapshot(at(day))
    whole = model.apply(snap)
    order = list(range(len(snap)))
    rnd.shuffle(order)
    cut = rnd.randint(0, len(order))
    parts = [np.array(order[:cut], dtype=np.int64), np.array(order[cut:], dtype=np.int64)]
    parts = [p for p in parts if p.size]
    joined = LifecycleStages.concat([model.apply(snap.take(p)) for p in parts])
    alone = LifecycleStages.concat([model.apply(snap.take([i])) for i in order])
    expected = whole.take(np.array(order, dtype=np.int64))
    for result in (joined, alone):
        assert np.array_equal(result.customer_ids, expected.customer_ids)
        for name in ALL:
            got, want = result.ladder(name), expected.ladder(name)
            assert np.array_equal(got.labels, want.labels), name
            for column, values in want.columns().items():
                other = got.columns()[column]
                if values.dtype.kind == "f":
                    assert np.array_equal(other, values, equal_nan=True), column
                else:
                    assert np.array_equal(other, values), column


@PROPERTY
@given(POOLS, LADDER_SETTINGS, st.lists(st.floats(0, END), min_size=1, max_size=6, unique=True))
def test_the_history_equals_each_dates_snapshot(customers, kwargs, days) -> None:
    pool, _ = make_pool(customers)
    model = Lifecycle(**kwargs).fit(pool.snapshot(at(END)))
    dates = np.array(
        [np.datetime64(int(at(d).timestamp() * 1_000_000), "us") for d in sorted(days)]
    )
    dates = np.unique(dates)
    history = stage_history(model, pool, dates)
    for step, date in enumerate(dates):
        snap = pool.snapshot(date)
        stages = model.apply(snap)
        rows = np.searchsorted(history.index, snap.index)
        for name in LADDERS:
            assert np.array_equal(history.codes[name][step][rows], stages.ladder(name).labels)
        assert (history.codes["post_purchase"][step] >= 0).sum() == len(snap)
