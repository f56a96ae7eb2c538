"""The simulated response world: seeded, both potential outcomes coupled, and behaving as its
generative model says (by customer type, offer, reach and fatigue), plus the bad-input table."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privdomain.domain.batch import TouchpointColumns
from privdomain.domain.channels import OWNED_CHANNELS, Channel, TouchKind
from privdomain.errors import ValidationError
from privdomain.lifecycle import Lifecycle
from privdomain.simulate import (
    ResponseParams,
    Responses,
    ResponseWorld,
    response_world,
    simulate_pool,
)

OFFERS = [
    "none", "bestseller", "small_coupon", "targeted_coupon", "win_back_coupon", "bundle",
    "threshold_discount", "sale_invite", "privilege", "referral_invite",
]  # fmt: skip
MESSAGE_CHANNELS = ["WECOM", "WECHAT", "GROUP", "MINI_PROGRAM", "APP", "SMS"]


@functools.cache
def _sim(n: int, seed: int) -> Any:
    sim = simulate_pool(n, seed=seed)
    return sim, sim.pool()


@functools.cache
def _world(n: int = 1_500, seed: int = 5, world_seed: int = 11) -> ResponseWorld:
    sim, pool = _sim(n, seed)
    return response_world(sim, pool.snapshot(sim.as_of), seed=world_seed)


def _first_reachable(world: ResponseWorld) -> tuple[np.ndarray, np.ndarray]:
    """Rows reachable on some owned channel, and the first such channel's name."""
    reach = world.snapshot.reachable
    rows = np.flatnonzero(reach.any(axis=1))
    names = np.array([c.name for c in OWNED_CHANNELS], dtype=object)
    return rows, names[np.argmax(reach[rows], axis=1)]


def _everyone(world: ResponseWorld, offer: str = "none") -> dict[str, Any]:
    rows, channel = _first_reachable(world)
    return {"row": rows, "channel": channel, "offer": np.full(rows.size, offer, dtype=object)}


# ------------------------------------------------------------------ seeded and coupled
def test_same_seed_same_world_and_outcomes() -> None:
    sim, pool = _sim(800, 2)
    snap = pool.snapshot(sim.as_of)
    a = response_world(sim, snap, seed=3)
    b = response_world(sim, snap, seed=3)
    ra, rb = a.respond(_everyone(a)), b.respond(_everyone(b))
    for name, col in ra.columns().items():
        np.testing.assert_array_equal(col, rb.columns()[name], err_msg=name)
    other = response_world(sim, snap, seed=4).respond(_everyone(a))
    assert not np.array_equal(other.revenue0, ra.revenue0)
    next_round = a.respond(_everyone(a), round=1)
    assert not np.array_equal(next_round.revenue0, ra.revenue0)
    # expectations do not depend on the round's noise
    np.testing.assert_array_equal(next_round.expected_revenue1, ra.expected_revenue1)


def test_no_nudge_outcome_does_not_depend_on_the_contacts() -> None:
    world = _world()
    rows, channel = _first_reachable(world)
    half = rows[::2]
    a = world.respond({"row": rows, "channel": channel, "offer": ["small_coupon"] * rows.size})
    b = world.respond({"row": half, "channel": channel[::2], "offer": ["none"] * half.size})
    c = world.respond({"row": [], "channel": [], "offer": []})
    for r in (b, c):
        np.testing.assert_array_equal(r.revenue0, a.revenue0)
        np.testing.assert_array_equal(r.purchased0, a.purchased0)
        np.testing.assert_array_equal(r.expected_revenue0, a.expected_revenue0)
    # customers without a nudge: the outcome that happens is the one without it
    untreated = ~b.treated
    np.testing.assert_array_equal(b.revenue1[untreated], b.revenue0[untreated])
    assert c.messages == 0
    assert not c.seen.any()
    # the same nudge to the same customer in the same round: the same outcome
    d = world.respond({"row": half, "channel": channel[::2], "offer": ["small_coupon"] * half.size})
    np.testing.assert_array_equal(d.revenue1[half], a.revenue1[half])


def test_expectations_match_the_average_of_many_rounds() -> None:
    """The closed-form expected revenues against a simulation of 400 rounds."""
    world = _world(400, 9, 1)
    contacts = _everyone(world, "win_back_coupon")
    rounds = [world.respond(contacts, round=r) for r in range(400)]
    mean0 = np.mean([r.revenue0 for r in rounds], axis=0)
    mean1 = np.mean([r.revenue1 for r in rounds], axis=0)
    exp0, exp1 = rounds[0].expected_revenue0, rounds[0].expected_revenue1
    # the pool's totals: standard error of a sum of 400-round means is small against it
    assert mean0.sum() == pytest.approx(exp0.sum(), rel=0.05)
    assert mean1.sum() == pytest.approx(exp1.sum(), rel=0.05)
    assert (mean1 - mean0).sum() == pytest.approx((exp1 - exp0).sum(), rel=0.15, abs=20)


# ------------------------------------------------------------------ the model's behaviour
def test_lift_sign_by_customer_type() -> None:
    world = _world()
    r = world.respond(_everyone(world, "bestseller"))
    seen = r.seen
    dog = world.sleeping_dog
    assert (seen & dog).any()
    assert (seen & ~dog).any()
    inc = r.expected_incremental
    can_buy = world.hazard > 0
    # sleeping dogs buy less when nudged; everyone else at least as much (no discount here)
    treated = r.treated
    assert np.all(inc[treated & dog & can_buy] < 0)
    assert np.all(inc[treated & ~dog] > 0)
    # coupled draws: a dog who buys when nudged would have bought anyway; for everyone else a
    # purchase without the nudge is still one with it
    assert not np.any(r.purchased1 & ~r.purchased0 & dog)
    assert not np.any(r.purchased0 & ~r.purchased1 & ~dog)
    # only dogs who saw the nudge leave the channel
    assert not np.any(r.unsubscribed & ~(dog & seen))


def test_discounts_lift_more_but_cost_margin_on_customers_who_buy_anyway() -> None:
    world = _world()
    plain = world.respond(_everyone(world, "bestseller"))
    coupon = world.respond(_everyone(world, "win_back_coupon"))
    ok = plain.treated & ~world.sleeping_dog & plain.seen
    rows = np.arange(len(world))
    big = world.lift(rows, np.full(len(world), "win_back_coupon", dtype=object))
    small = world.lift(rows, np.full(len(world), "bestseller", dtype=object))
    assert np.all(big >= small)
    assert np.any(big > small)
    # ... but the discount costs margin on orders placed anyway: for customers likely to buy
    # anyway (sure things) the coupon is worth less than the plain nudge
    worse = ok & (coupon.expected_incremental < plain.expected_incremental)
    better = ok & (coupon.expected_incremental > plain.expected_incremental)
    assert worse.sum() >= 10
    assert better.sum() >= 10
    p0 = -np.expm1(-world.hazard)
    assert np.median(p0[worse]) > 2 * np.median(p0[better])
    # a seen discount is taken off every order of the window, the one bought anyway included
    took = coupon.seen & coupon.purchased0 & coupon.purchased1
    assert took.any()
    np.testing.assert_allclose(
        coupon.revenue1[took], coupon.revenue0[took] * (1 - coupon.discount[took])
    )
    assert np.all(coupon.discount[took] >= 0.2)


def test_reach_of_the_channel() -> None:
    world = _world()
    rows = np.flatnonzero(world.snapshot.reachable[:, OWNED_CHANNELS.index(Channel.SMS)])
    sms = world.respond(
        {"row": rows, "channel": ["SMS"] * rows.size, "offer": ["none"] * rows.size}
    )
    assert sms.seen.sum() <= 3  # reach 0.3%
    # a channel the customer cannot be reached on is never seen
    col = OWNED_CHANNELS.index(Channel.WECOM)
    cut = np.flatnonzero(~world.snapshot.reachable[:, col])
    r = world.respond({"row": cut, "channel": ["WECOM"] * cut.size, "offer": ["none"] * cut.size})
    assert cut.size
    assert not r.seen.any()
    np.testing.assert_array_equal(r.expected_revenue1, r.expected_revenue0)


def test_fatigue_lowers_the_response() -> None:
    """Messages added to some customers' history lower their fatigue multiplier and their
    expected lift; nobody else changes."""
    sim = simulate_pool(600, seed=21, messages_per_month=0.5)
    pool = sim.pool()
    snap = pool.snapshot(sim.as_of)
    before = response_world(sim, snap, seed=2)
    tired = np.arange(0, len(snap), 3)
    end = sim.as_of
    ids = snap.customer_ids[tired]
    k = 6
    pool.ingest(
        TouchpointColumns.from_arrays(
            id=np.array([f"extra{i}-{c}" for c in ids for i in range(k)], dtype=object),
            tenant=snap.tenant,
            customer_id=np.repeat(ids, k),
            at=np.repeat(
                np.array([end - dt.timedelta(days=d + 1) for d in range(k)], dtype=object)[None],
                ids.size,
                axis=0,
            ).reshape(-1),
            channel=Channel.SMS.value,
            kind=TouchKind.SENT.value,
            promotion=True,
        )
    )
    after_snap = pool.snapshot(sim.as_of)
    after = response_world(sim, after_snap, seed=2, stages=before.stages)
    rest = np.setdiff1d(np.arange(len(snap)), tired)
    assert np.all(after.fatigue[tired] < before.fatigue[tired])
    np.testing.assert_array_equal(after.fatigue[rest], before.fatigue[rest])
    np.testing.assert_array_equal(after.susceptibility, before.susceptibility)
    contacts = _everyone(before, "small_coupon")
    r0, r1 = before.respond(contacts), after.respond(contacts)
    calm = ~before.sleeping_dog & ~after.sleeping_dog
    more = np.zeros(len(snap), bool)
    more[tired] = True
    hit = r0.treated & calm & more & (before.reach[np.argmax(snap.reachable, axis=1)] > 0)
    assert hit.any()
    assert np.all(r1.expected_incremental[hit] < r0.expected_incremental[hit])
    # tired customers also turn into sleeping dogs more often, never less
    assert not np.any(before.sleeping_dog & ~after.sleeping_dog)


def test_purchases_and_leaves_come_back_as_touchpoints_a_pool_ingests() -> None:
    sim = simulate_pool(800, seed=8)
    pool = sim.pool()
    snap = pool.snapshot(sim.as_of)
    world = response_world(sim, snap, seed=1)
    r = world.respond(_everyone(world, "targeted_coupon"))
    bought = int(r.purchased1.sum())
    left = int(r.unsubscribed.sum())
    assert bought > 0
    assert left > 0
    tps = r.to_touchpoints("resp-")
    assert len(tps.at) == bought + left
    assert len(r.to_touchpoints("resp-", leaves=False).at) == bought
    report = pool.ingest(tps)
    assert not report.rejected
    later = pool.snapshot(sim.as_of + dt.timedelta(days=15))
    rows = later.rows(snap.customer_ids)
    assert int((later.orders[rows] - snap.orders).sum()) == bought
    paid = (later.gross_spend[rows] - snap.gross_spend).sum()
    assert paid == pytest.approx(r.revenue1.sum(), abs=0.01 * bought)
    # a sleeping dog who left is no longer reachable on the nudge's channel; nobody else changed
    cols = np.array([OWNED_CHANNELS.index(Channel[str(c)]) for c in r.channel[r.unsubscribed]])
    gone = np.flatnonzero(r.unsubscribed)
    assert not later.reachable[rows[gone], cols].any()
    stayed = np.flatnonzero(~r.unsubscribed)
    np.testing.assert_array_equal(later.reachable[rows[stayed]], snap.reachable[stayed])
    assert "without a nudge" in r.explain(str(r.customer_ids[0]))
    assert isinstance(r, Responses)
    assert r.take(r.treated).messages == r.messages
    with pytest.raises(ValidationError, match="leaves"):
        r.to_touchpoints("x", leaves=1)  # type: ignore[arg-type]


def test_a_plan_is_contacts() -> None:
    from privdomain.nudges import plan

    world = _world()
    nudges = plan(world.snapshot, world.stages, at=world.at)
    r = world.respond(nudges)
    np.testing.assert_array_equal(r.treated, nudges.planned)
    np.testing.assert_array_equal(r.offer[r.treated], nudges.offer[nudges.planned])


# ------------------------------------------------------------------ properties
@functools.cache
def _lifecycle() -> Lifecycle:
    return Lifecycle().fit(_world().snapshot)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(
    n=st.integers(0, 80),
    pool_seed=st.integers(0, 3),
    world_seed=st.integers(0, 2**32),
    as_of_days=st.integers(30, 365),
    share=st.floats(0, 1),
    round_=st.integers(0, 5),
    data=st.data(),
)
def test_properties_of_any_world(
    n: int, pool_seed: int, world_seed: int, as_of_days: int, share: float, round_: int, data: Any
) -> None:
    sim, pool = _sim(n, pool_seed)
    as_of = sim.params.start + dt.timedelta(days=as_of_days)  # customers join after it too
    snap = pool.snapshot(as_of)
    # the rhythm is learned on a bigger pool (a tiny one may have no repeat buyer to learn from)
    stages = _lifecycle().apply(snap)
    world = response_world(sim, snap, seed=world_seed, stages=stages)
    m = len(snap)
    rng = np.random.default_rng(world_seed)
    rows = np.flatnonzero(rng.random(m) < share)
    rng.shuffle(rows)
    channel = data.draw(st.lists(st.sampled_from(MESSAGE_CHANNELS), min_size=rows.size,
                                 max_size=rows.size))  # fmt: skip
    offer = data.draw(st.lists(st.sampled_from(OFFERS), min_size=rows.size, max_size=rows.size))
    later = data.draw(st.integers(0, 3 * 86_400))
    start_at = np.full(rows.size, np.datetime64(world.at.replace(tzinfo=None), "us"))
    send_at = start_at + np.timedelta64(later, "s")
    r = world.respond(
        {"row": rows, "channel": channel, "offer": offer, "send_at": send_at}, round=round_
    )
    none = world.respond({"row": [], "channel": [], "offer": []}, round=round_)
    assert len(r) == m
    assert r.messages == rows.size
    np.testing.assert_array_equal(r.revenue0, none.revenue0)
    np.testing.assert_array_equal(r.revenue1[~r.treated], r.revenue0[~r.treated])
    for col in (r.revenue0, r.revenue1, r.expected_revenue0, r.expected_revenue1):
        assert np.isfinite(col).all()
        assert (col >= 0).all()
    assert not np.any(r.seen & ~r.treated)
    dog = world.sleeping_dog
    assert not np.any(r.purchased1 & ~r.purchased0 & dog)
    assert not np.any(r.purchased0 & ~r.purchased1 & ~dog)
    assert np.all((world.fatigue > 0) & (world.fatigue <= 1))
    bought = r.purchase_at[r.purchased1].astype("datetime64[us]")
    start = np.datetime64(world.at.replace(tzinfo=None), "us")
    assert np.all(bought >= start)
    assert np.all(bought <= start + np.timedelta64(3 * 86_400 + 15 * 86_400, "s"))


# ------------------------------------------------------------------ bad input
def _bad_contacts(world: ResponseWorld) -> list[tuple[Any, str]]:
    n = len(world)
    return [
        ([1, 2], "NudgePlan or a mapping"),
        ({"row": [0], "channel": ["WECOM"]}, "missing"),
        ({"row": [0], "channel": ["WECOM"], "offer": ["none"], "extra": [1]}, "unknown"),
        ({"row": [0, 0], "channel": ["WECOM"] * 2, "offer": ["none"] * 2}, "row repeats"),
        ({"row": [n], "channel": ["WECOM"], "offer": ["none"]}, "rows lie in"),
        ({"row": [-1], "channel": ["WECOM"], "offer": ["none"]}, "rows lie in"),
        ({"row": [0.5], "channel": ["WECOM"], "offer": ["none"]}, "ints"),
        ({"row": [0, 1], "channel": ["WECOM"], "offer": ["none"] * 2}, "differ in length"),
        ({"row": [0], "channel": ["FAX"], "offer": ["none"]}, "unknown channel"),
        ({"row": [0], "channel": ["TAOBAO"], "offer": ["none"]}, "not an owned channel"),
        ({"row": [0], "channel": ["WECOM"], "offer": ["free_car"]}, "unknown offers"),
        (
            {"row": [0], "channel": ["WECOM"], "offer": ["none"], "send_at": ["2020-01-01"]},
            "datetime64",
        ),
        (
            {
                "row": [0],
                "channel": ["WECOM"],
                "offer": ["none"],
                "send_at": np.array(["2000-01-01"], dtype="datetime64[us]"),
            },
            "not before",
        ),
    ]


def test_bad_contacts_are_refused() -> None:
    world = _world()
    for contacts, message in _bad_contacts(world):
        with pytest.raises(ValidationError, match=message):
            world.respond(contacts)
    with pytest.raises(ValidationError, match="round"):
        world.respond(_everyone(world), round=-1)
    with pytest.raises(ValidationError, match="round"):
        world.respond(_everyone(world), round=True)
    with pytest.raises(ValidationError, match="id_prefix"):
        world.respond(_everyone(world)).to_touchpoints(3)  # type: ignore[arg-type]


def test_bad_worlds_are_refused() -> None:
    sim, pool = _sim(300, 1)
    snap = pool.snapshot(sim.as_of)
    other, other_pool = _sim(300, 2)
    with pytest.raises(ValidationError, match="SimulatedPool"):
        response_world(pool, snap, seed=0)
    with pytest.raises(ValidationError, match="Snapshot"):
        response_world(sim, pool, seed=0)
    with pytest.raises(ValidationError, match="did not make"):
        response_world(sim, other_pool.snapshot(other.as_of), seed=0)
    with pytest.raises(ValidationError, match="seed"):
        response_world(sim, snap, seed=-1)
    with pytest.raises(ValidationError, match="before the snapshot"):
        response_world(sim, snap, seed=0, at=sim.as_of - dt.timedelta(days=1))
    with pytest.raises(ValidationError, match="aware"):
        response_world(sim, snap, seed=0, at=dt.datetime(2026, 1, 1))
    stages = Lifecycle().fit(snap.take(np.arange(10))).apply(snap.take(np.arange(10)))
    with pytest.raises(ValidationError, match="aligned"):
        response_world(sim, snap, seed=0, stages=stages)
    with pytest.raises(ValidationError, match="ResponseParams"):
        response_world(sim, snap, seed=0, params={"window_days": 3})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window_days": 0}, "window_days"),
        ({"window_days": float("nan")}, "window_days"),
        ({"response": {"dormant": 0.1}}, "unknown name"),
        ({"response": {"active": -0.1}}, "response"),
        ({"offer_lift": {"none": float("inf")}}, "offer_lift"),
        ({"offer_discount": {"small_coupon": 1.5}}, "offer_discount"),
        ({"sleeping_dogs": {"active": 2}}, "sleeping_dogs"),
        ({"reach": {"FAX": 0.1}}, "unknown channel"),
        ({"reach": {"TAOBAO": 0.1}}, "not an owned channel"),
        ({"reach": {"SMS": 1.1}}, "reach of SMS"),
        ({"dog_damage": True}, "dog_damage"),
        ({"fatigue_half_life_days": 0}, "fatigue_half_life_days"),
        ({"response": [("active", 0.1)]}, "mapping"),
    ],
)
def test_bad_params_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ResponseParams(**kwargs)


def test_params_change_the_world() -> None:
    sim, pool = _sim(400, 3)
    snap = pool.snapshot(sim.as_of)
    base = response_world(sim, snap, seed=1)
    wider = response_world(sim, snap, seed=1, params=ResponseParams(window_days=28))
    np.testing.assert_allclose(wider.hazard, 2 * base.hazard)
    no_dogs = ResponseParams(sleeping_dogs=dict.fromkeys(base.params.sleeping_dogs, 0.0),
                             dog_fatigue=0.0)  # fmt: skip
    assert not response_world(sim, snap, seed=1, params=no_dogs).sleeping_dog.any()
    sms = ResponseParams(reach={"SMS": 1.0})
    assert response_world(sim, snap, seed=1, params=sms).reach[
        OWNED_CHANNELS.index(Channel.SMS)
    ] == pytest.approx(1.0)
