"""Targeting policies compared on the simulated world: the default policy and uplift targeting
beat blasting and top propensity on incremental revenue per message, and the off-policy
estimates from one logged round cover the simulated truth."""

from __future__ import annotations

import functools
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.dummy import DummyClassifier

from privdomain.errors import ValidationError
from privdomain.nudges import NudgePolicy, plan
from privdomain.nudges.compare import PolicyComparison, compare_policies, nudge_features
from privdomain.simulate import ResponseWorld, response_world, simulate_pool

POLICIES = ("default policy", "uplift", "top propensity", "blast")


@functools.cache
def _world(n: int, seed: int) -> ResponseWorld:
    sim = simulate_pool(n, seed=seed)
    return response_world(sim, sim.pool().snapshot(sim.as_of), seed=1)


@functools.cache
def _comparison() -> PolicyComparison:
    return compare_policies(_world(5_000, 4), seed=0, n_bootstrap=400)


def test_default_policy_and_uplift_beat_blasting_and_top_propensity() -> None:
    c = _comparison()
    assert [s.name for s in c.scores] == list(POLICIES)
    default, uplift = c["default policy"], c["uplift"]
    # the same message count for the three targeted policies; blasting sends more
    assert default.messages == uplift.messages == c["top propensity"].messages
    assert c["blast"].messages > default.messages
    for better in ("default policy", "uplift"):
        for worse in ("blast", "top propensity"):
            gain, (low, high) = c.difference(better, worse)
            assert low > 0, (better, worse, gain, low, high)  # one-sided: better wins
            assert low <= gain <= high
    # against blasting, even the separate intervals do not overlap
    assert default.truth_ci[0] > c["blast"].truth_ci[1]
    assert uplift.truth_ci[0] > c["blast"].truth_ci[1]


def test_truth_is_what_the_world_says_of_each_plan() -> None:
    """The default policy's truth per message, recomputed from its own plan (an independent
    path through the world), and the realised figure near it."""
    world = _world(5_000, 4)
    nudges = plan(world.snapshot, world.stages, at=world.at)
    r = world.respond(nudges)
    expected = r.expected_incremental[nudges.planned].mean()
    score = _comparison()["default policy"]
    assert score.truth == pytest.approx(expected, rel=1e-12)
    assert score.messages == int(nudges.planned.sum())
    low, high = score.truth_ci
    assert low < score.truth < high
    # one round's realised figure has more noise than the interval over customers
    assert abs(score.realised - score.truth) < 4 * (high - low)


def test_off_policy_intervals_cover_the_truth() -> None:
    c = _comparison()
    for s in c.scores:
        for method in ("ips", "snips", "dr"):
            assert s.covers(method), (s.name, method, getattr(s, f"{method}_ci"), s.truth)


def test_off_policy_estimates_are_unbiased_over_logging_rounds() -> None:
    """Over independent logging rounds (other assignments and folds) the estimates centre on
    the truth and their intervals cover it about as often as they say."""
    world = _world(1_500, 7)
    # blasting needs no model of whom to pick: a constant purchase model keeps this quick
    runs = [
        compare_policies(world, seed=s, n_bootstrap=50, propensity_model=DummyClassifier())
        for s in range(8)
    ]
    truth = runs[0]["blast"].truth
    for method in ("ips", "dr"):
        estimates = np.array([getattr(r["blast"], method) for r in runs])
        spread = estimates.std(ddof=1) / np.sqrt(estimates.size)
        assert abs(estimates.mean() - truth) < 3.5 * spread + 0.1
        covered = np.mean([r["blast"].covers(method) for r in runs])
        assert covered >= 0.75
    # the truth of a policy does not depend on the logging round
    assert all(r["blast"].truth == truth for r in runs)


def test_seeded_and_extra_plans() -> None:
    world = _world(1_500, 7)
    a = compare_policies(world, seed=3, n_bootstrap=60)
    b = compare_policies(world, seed=3, n_bootstrap=60)
    assert a.to_records() == b.to_records()
    small = plan(world.snapshot, world.stages, at=world.at, budget=100)
    c = compare_policies(world, seed=3, n_bootstrap=60, plans={"budget 100": small})
    assert c["budget 100"].messages == 100
    for got, want in zip(c.to_records()[:4], a.to_records(), strict=True):
        assert got.pop("policy") == want.pop("policy")
        assert got == pytest.approx(want, rel=1e-9)
    records = c.to_records()
    assert set(records[0]) >= {"policy", "messages", "truth", "truth_low", "dr_high", "realised"}
    text = c.table()
    assert "budget 100" in text
    assert "truth per message" in text
    assert str(c) == text
    with pytest.raises(KeyError, match="no policy"):
        c["nobody"]
    with pytest.raises(ValidationError, match="estimator"):
        c["blast"].covers("mle")


def test_features_are_finite_and_aligned() -> None:
    world = _world(1_500, 7)
    n = len(world)
    offer = np.full(n, "small_coupon", dtype=object)
    channel = np.full(n, "WECOM", dtype=object)
    X = nudge_features(world.snapshot, world.period, channel, offer)
    assert X.shape[0] == n
    assert np.isfinite(X).all()
    # the period and offer one-hots sum to one per row
    assert np.all(X[:, 11:16].sum(axis=1) == 1)
    assert np.all(X[:, 16:].sum(axis=1) == 1)
    assert np.all(X[:, 10] == pytest.approx(0.40))  # WeCom's reach in the default policy
    with pytest.raises(ValidationError, match="one entry per customer"):
        nudge_features(world.snapshot, world.period[:-1], channel, offer)
    with pytest.raises(ValidationError, match="Snapshot"):
        nudge_features(world, world.period, channel, offer)
    empty = world.snapshot.take(np.zeros(0, dtype=np.int64))
    assert nudge_features(empty, [], [], []).shape == (0, X.shape[1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"logging_share": 0.0}, "logging_share"),
        ({"logging_share": 1.0}, "logging_share"),
        ({"logging_share": True}, "logging_share"),
        ({"level": 1.5}, "level"),
        ({"n_bootstrap": 10}, "n_bootstrap"),
        ({"n_bootstrap": 100.0}, "n_bootstrap"),
        ({"threads": 0}, "threads"),
        ({"policy": "default"}, "NudgePolicy"),
        ({"plans": {"x": "a plan"}}, "not a NudgePlan"),
        ({"budget": 0}, "budget"),
        ({"seed": -3}, "seed"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"seed": 0, **kwargs}
    with pytest.raises(ValidationError, match=message):
        compare_policies(_world(1_500, 7), **arguments)


def test_worlds_too_small_or_not_worlds_are_refused() -> None:
    with pytest.raises(ValidationError, match="ResponseWorld"):
        compare_policies(_world(1_500, 7).snapshot, seed=0)
    world = _world(1_500, 7)
    tiny = response_world(
        simulate_pool(1_500, seed=7),
        world.snapshot.take(np.arange(3)),
        seed=1,
        stages=world.stages.take(np.arange(3)),
    )
    with pytest.raises(ValidationError, match="can be reached"):
        compare_policies(tiny, seed=0)


def test_with_a_budget_every_ranking_beats_blasting_and_top_propensity() -> None:
    """With a message budget the default policy (ranked by the periods' lift priors), uplift
    targeting and the planner ranked by estimated uplift all earn more per message than
    blasting everyone and than the customers most likely to buy (paired lower bounds > 0)."""
    c = compare_policies(_world(5_000, 4), seed=0, n_bootstrap=300, budget=1_000)
    assert [s.name for s in c.scores] == [*POLICIES, "default + uplift budget"]
    assert c["default policy"].messages == 1_000
    assert c["default + uplift budget"].messages <= 1_000
    assert c["uplift"].messages == c["top propensity"].messages == 1_000
    for better in ("default policy", "uplift", "default + uplift budget"):
        for worse in ("blast", "top propensity"):
            _, (low, _) = c.difference(better, worse)
            assert low > 0, (better, worse)
    for s in c.scores:
        assert s.covers("dr"), s.name


def test_budgeted_default_policy_targets_incremental_response() -> None:
    """On another world: the budget goes to the periods of the highest lift prior, not to the
    active customers of the highest response prior, and beats blasting and top propensity;
    ranked by the response prior alone (the lift priors removed) it does not."""
    world = _world(5_000, 11)
    c = compare_policies(world, seed=1, n_bootstrap=300, budget=1_000)
    for worse in ("blast", "top propensity"):
        _, (low, _) = c.difference("default policy", worse)
        assert low > 0, worse
    nudges = plan(world.snapshot, world.stages, at=world.at, budget=1_000)
    planned = nudges.period[nudges.planned]
    assert np.count_nonzero(planned == "silent") > np.count_nonzero(planned == "active")
    defaults = NudgePolicy().periods
    naive = NudgePolicy(periods={k: attrs.evolve(r, lift_prior=None) for k, r in defaults.items()})
    old = compare_policies(world, seed=1, n_bootstrap=300, budget=1_000, policy=naive)
    _, (_, high) = old.difference("default policy", "blast")
    assert high < 0
    gain, (low, _) = c.difference("default policy", "blast")
    assert gain > old["default policy"].truth - old["blast"].truth


@settings(max_examples=4, deadline=None, derandomize=True)
@given(
    n=st.integers(400, 900),
    pool_seed=st.integers(0, 50),
    seed=st.integers(0, 2**32),
    share=st.floats(0.2, 0.8),
    budget=st.none() | st.integers(1, 300),
)
def test_structure_of_any_comparison(
    n: int, pool_seed: int, seed: int, share: float, budget: int | None
) -> None:
    world = _world(n, pool_seed)
    c = compare_policies(
        world,
        seed=seed,
        budget=budget,
        logging_share=share,
        n_bootstrap=50,
        propensity_model=DummyClassifier(),
    )
    k = c["default policy"].messages
    assert c["uplift"].messages == c["top propensity"].messages == k
    assert k <= c["blast"].messages <= c.candidates
    if budget is not None:
        assert k <= budget
        assert c["default + uplift budget"].messages <= budget
    for s in c.scores:
        assert s.truth_ci[0] <= s.truth <= s.truth_ci[1]
        for method in ("ips", "snips", "dr"):
            low, high = getattr(s, f"{method}_ci")
            assert low <= getattr(s, method) <= high
        gain, (low, high) = c.difference(s.name, s.name)
        assert gain == 0
        assert low == high == 0


def test_layers_reach_every_plan_of_the_comparison() -> None:
    """With layers, the default policy's nudges are those of ``plan(..., layers=)``: coupon
    hunters get no coupon, and its truth is the world's figure for that plan."""
    from privdomain.layering import CouponHunters

    world = _world(1_500, 7)
    hunters = CouponHunters().fit(world.snapshot).apply(world.snapshot)
    layered = plan(world.snapshot, world.stages, at=world.at, layers=hunters)
    c = compare_policies(
        world, seed=2, n_bootstrap=60, layers=hunters, propensity_model=DummyClassifier()
    )
    nudged = np.asarray(layered.planned, dtype=bool)
    expected = world.respond(layered, round=0).expected_incremental[nudged].mean()
    assert c["default policy"].messages == int(nudged.sum())
    assert c["default policy"].truth == pytest.approx(expected, rel=1e-12)
    plain = compare_policies(world, seed=2, n_bootstrap=60, propensity_model=DummyClassifier())
    unlayered = plan(world.snapshot, world.stages, at=world.at)
    changed = np.asarray(unlayered.offer != layered.offer, dtype=bool)
    assert changed.any()  # some coupon hunters get content instead of a coupon
    assert np.all(np.asarray(hunters.segment_names == "Coupon hunter", dtype=bool)[changed])
    assert c["default policy"].truth != plain["default policy"].truth
