"""Channel choice: the reach prior shrunk with the customer's own response history, checked
customer by customer against a slow reading of the documented formula."""

from __future__ import annotations

import functools
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privdomain.domain._time import MICROS_PER_DAY, epoch_micros
from privdomain.domain.channels import OWNED_COLUMN, Channel
from privdomain.lifecycle import Lifecycle
from privdomain.nudges import NudgePolicy, plan
from privdomain.simulate import simulate_pool

CHANNELS = [
    Channel.WECOM, Channel.WECHAT, Channel.GROUP, Channel.MINI_PROGRAM, Channel.APP,
    Channel.OFFICIAL_ACCOUNT, Channel.EMAIL, Channel.SMS,
]  # fmt: skip


@functools.cache
def pool(seed: int) -> tuple[Any, Any]:
    sim = simulate_pool(400, seed=seed, messages_per_month=4.0)
    snap = sim.pool().snapshot(sim.as_of)
    return snap, Lifecycle().fit(snap).apply(snap)


def reference_rates(snap: Any, policy: NudgePolicy, prior: Any) -> Any:
    """(customers, policy channels) response rates, message by message."""
    as_of = epoch_micros(snap.as_of)
    window = round(policy.response_days * MICROS_PER_DAY)
    o_at = snap.order_log.at.astype("datetime64[us]").view(np.int64)
    o_row = np.asarray(snap.order_log.row)
    c_at = snap.contacts.at.astype("datetime64[us]").view(np.int64)
    sent = np.zeros((len(snap), len(policy.channel_order)))
    answered = np.zeros_like(sent)
    for row, at, code in zip(snap.contacts.row.tolist(), c_at.tolist(),
                             snap.contacts.channel.tolist(), strict=True):  # fmt: skip
        channel = Channel(code)
        if channel not in policy.channel_order or at + window > as_of:
            continue
        k = policy.channel_order.index(channel)
        sent[row, k] += 1
        mine = o_at[o_row == row]
        answered[row, k] += bool(np.any((mine >= at) & (mine < at + window)))
    s = policy.channel_prior_strength
    reach = np.array([policy.reach[c] for c in policy.channel_order])
    return (s * reach[None, :] * prior[:, None] + answered) / (s + sent), sent


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2),
    order=st.permutations(CHANNELS),
    k=st.integers(1, len(CHANNELS)),
    strength=st.sampled_from([0.5, 2.0, 20.0, 1e6]),
    days=st.sampled_from([0.5, 3, 7, 30]),
    reach=st.dictionaries(st.sampled_from(CHANNELS), st.floats(0.0, 1.0), max_size=4),
    shares=st.dictionaries(
        st.sampled_from(["not_bought", "active", "silent", "sleeping", "lost"]),
        st.none() | st.floats(0.0, 1.0),
        max_size=5,
    ),
)
def test_channel_choice_matches_the_formula(
    seed: int, order: Any, k: int, strength: float, days: float, reach: Any, shares: Any
) -> None:
    snap, stages = pool(seed)
    defaults = NudgePolicy().periods
    periods = {
        name: attrs.evolve(
            defaults[name],
            lift_prior=None if share is None else share * defaults[name].response_prior,
        )
        for name, share in shares.items()
    }
    policy = NudgePolicy(
        channel_order=tuple(order[:k]), caps=(), quiet_hours=(), channel_prior_strength=strength,
        response_days=days, reach=reach, min_score=0.0, periods=periods,
    )  # fmt: skip
    result = plan(snap, stages, at=snap.as_of, policy=policy, major_sale=True)
    rules = [policy.periods[p] for p in result.period.tolist()]
    prior = np.array([r.response_prior for r in rules])
    # the share of responses the nudge causes: lift / response prior (1 without a lift prior)
    share = np.array(
        [1.0 if r.lift_prior is None else r.lift_prior / r.response_prior for r in rules]
    )
    rates, _ = reference_rates(snap, policy, prior)
    reachable = snap.reachable[:, [OWNED_COLUMN[c.value] for c in policy.channel_order]]
    bonus = 1 + policy.multi_point_bonus * np.maximum(reachable.sum(axis=1) - 1, 0)
    for i in np.flatnonzero(reachable.any(axis=1)):
        masked = np.where(reachable[i], rates[i], -1.0)
        best = int(np.argmax(masked))  # the first of the best, in the channel order
        want = rates[i, best] * share[i] * bonus[i]
        assert np.isclose(result.score[i], want, rtol=1e-12, atol=0)
        if result.planned[i]:
            assert result.channel[i] == policy.channel_order[best].name
    if strength == 1e6:  # history weighs (almost) nothing: a channel of the highest reach
        reach_k = np.array([policy.reach[c] for c in policy.channel_order])
        for i in np.flatnonzero(result.planned):
            chosen = reach_k[policy.channel_order.index(Channel[result.channel[i]])]
            assert chosen == reach_k[reachable[i]].max()


def test_history_moves_customers_off_the_first_channel() -> None:
    """With a weak prior, a customer who answered on a later channel and ignored the first is
    contacted on the later one (the test above is not vacuous)."""
    snap, stages = pool(0)
    weak = NudgePolicy(caps=(), quiet_hours=(), channel_prior_strength=0.5, response_days=30)
    strong = NudgePolicy(caps=(), quiet_hours=(), channel_prior_strength=1e6, response_days=30)
    a = plan(snap, stages, at=snap.as_of, policy=weak, major_sale=True)
    b = plan(snap, stages, at=snap.as_of, policy=strong, major_sale=True)
    assert np.array_equal(a.planned, b.planned)
    moved = a.planned & (a.channel != b.channel)
    assert moved.any()


@pytest.mark.parametrize("cells", [1, 9, 50, 1 << 12])
def test_channel_choice_block_by_block_is_the_whole(monkeypatch: Any, cells: int) -> None:
    """The response rates are computed for blocks of customers at a time (memory); any block
    size gives the plan of one block, history weighing much or little."""
    import sys

    module = sys.modules["privdomain.nudges.plan"]
    snap, stages = pool(1)
    for strength in (0.5, 20.0):
        policy = NudgePolicy(channel_prior_strength=strength, response_days=3)
        whole = plan(snap, stages, at=snap.as_of, policy=policy, budget=150)
        with monkeypatch.context() as m:
            m.setattr(module, "_BLOCK_CELLS", cells)
            blocked = plan(snap, stages, at=snap.as_of, policy=policy, budget=150)
        for name, column in whole.columns().items():
            np.testing.assert_array_equal(
                getattr(blocked, name if name != "customer_id" else "customer_ids"), column
            )
