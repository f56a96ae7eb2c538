"""Hard guarantees of nudge plans (consent, caps, quiet hours, partition, determinism) over
random simulated pools and random policies, and the bad-input table."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privdomain.domain._time import local_day_starts
from privdomain.domain.channels import OWNED_CHANNELS, OWNED_COLUMN, Channel
from privdomain.errors import ValidationError
from privdomain.layering import CouponHunters, Segmentation
from privdomain.lifecycle import Lifecycle
from privdomain.nudges import (
    REASONS,
    WINDOWS,
    FrequencyCap,
    NudgePlan,
    NudgePolicy,
    Nudges,
    PeriodRule,
    QuietHours,
    plan,
)
from privdomain.simulate import simulate_pool

ZONES = [None, "Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Lord_Howe"]
MESSAGE_CHANNELS = [
    Channel.WECOM, Channel.WECHAT, Channel.GROUP, Channel.MINI_PROGRAM, Channel.APP,
    Channel.OFFICIAL_ACCOUNT, Channel.EMAIL, Channel.SMS,
]  # fmt: skip


@functools.cache
def pool(seed: int, n: int = 300) -> tuple[Any, Any]:
    sim = simulate_pool(n, seed=seed)
    snap = sim.pool().snapshot(sim.as_of)
    return snap, Lifecycle().fit(snap).apply(snap)


def _zone(policy: NudgePolicy, snap: Any, i: int) -> str | dt.timedelta:
    code = int(snap.time_zone[i])
    if code >= 0:
        return str(snap.time_zones[code])
    return policy.time_zone or snap.utc_offset


def _tz(zone: str | dt.timedelta) -> dt.tzinfo:
    return dt.timezone(zone) if isinstance(zone, dt.timedelta) else zoneinfo.ZoneInfo(zone)


def with_own_zones(snap: Any, seed: int) -> Any:
    """The snapshot with some customers in their own time zones (as a pool gives them)."""
    names = ("America/Los_Angeles", "Europe/Berlin", "Asia/Kolkata", "Pacific/Chatham")
    rng = np.random.default_rng(seed)
    codes = rng.integers(-1, len(names), size=len(snap)).astype(np.int32)
    return attrs.evolve(snap, time_zone=codes, time_zones=names)


def check_guarantees(result: NudgePlan, snap: Any, policy: NudgePolicy) -> None:
    """The hard guarantees, checked customer by customer (slow on purpose: an independent
    reading of the rules)."""
    assert len(result) == len(snap)
    assert set(result.reason.tolist()) <= set(REASONS)
    assert np.array_equal(result.planned, result.reason == "planned")
    c_row = np.asarray(snap.contacts.row)
    c_at = snap.contacts.at.astype("datetime64[us]").view(np.int64)
    c_col = OWNED_COLUMN[snap.contacts.channel]
    for i in np.flatnonzero(result.planned):
        channel = Channel[result.channel[i]]
        col = OWNED_COLUMN[channel.value]
        assert channel in policy.channel_order
        # consent (and still connected) as of the plan
        assert snap.reachable[i, col]
        send = int(result.send_at[i].astype(np.int64))
        assert send >= int(np.datetime64(result.at.replace(tzinfo=None), "us").astype(np.int64))
        # quiet hours in the customer's zone
        local = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=send)
        zone = _zone(policy, snap, int(i))
        local = local.astimezone(_tz(zone))
        tod = local.hour * 60 + local.minute + local.second / 60
        for q in policy.quiet_hours:
            for a, b in q.minutes():
                assert not (a <= tod < b), (local, q)
        # caps: history in the send time's calendar windows plus this message
        starts = local_day_starts(send, zone)
        mine = c_row == i
        for cap in policy.caps:
            w = WINDOWS.index(cap.window)
            inside = mine & (c_at >= starts[w]) & (c_col >= 0)
            if cap.channel is not None:
                if cap.channel is not channel:
                    continue  # the plan adds nothing to another channel's count
                inside &= c_col == OWNED_COLUMN[cap.channel.value]
            used = int(inside.sum()) + 1
            assert used <= cap.limit, (i, cap, used)
    # skipped customers with no reachable channel are reported as such
    order_cols = [OWNED_COLUMN[c.value] for c in policy.channel_order]
    none = ~snap.reachable[:, order_cols].any(axis=1)
    assert (result.reason[none] == "no_consent").all()
    assert (~result.planned[none]).all()


@st.composite
def policies(draw: Any) -> NudgePolicy:
    order = draw(st.permutations(MESSAGE_CHANNELS))[: draw(st.integers(1, len(MESSAGE_CHANNELS)))]
    caps = []
    for window in WINDOWS:
        if draw(st.booleans()):
            caps.append(FrequencyCap(window, draw(st.integers(1, 8))))
        if draw(st.booleans()):
            caps.append(FrequencyCap(window, draw(st.integers(1, 5)), draw(st.sampled_from(order))))
    start = draw(st.integers(0, 23 * 60 + 59))
    length = draw(st.integers(1, 23 * 60))
    end = (start + length) % (24 * 60)
    quiet = QuietHours(dt.time(start // 60, start % 60), dt.time(end // 60, end % 60))
    return NudgePolicy(
        channel_order=tuple(order),
        caps=tuple(caps),
        quiet_hours=(quiet,),
        time_zone=draw(st.sampled_from(ZONES)),
        min_score=draw(st.sampled_from([0.0, 0.001, 0.01])),
        multi_point_bonus=draw(st.sampled_from([0.0, 0.1, 0.5])),
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 5),
    policy=policies(),
    minutes=st.integers(0, 60 * 24 * 40),
    major_sale=st.booleans(),
    budget=st.one_of(st.none(), st.integers(1, 400)),
    own_zones=st.booleans(),
)
def test_guarantees_hold(
    seed: int,
    policy: NudgePolicy,
    minutes: int,
    major_sale: bool,
    budget: int | None,
    own_zones: bool,
) -> None:
    snap, stages = pool(seed)
    if own_zones:
        snap = with_own_zones(snap, seed)
    at = snap.as_of + dt.timedelta(minutes=minutes)
    result = plan(snap, stages, at=at, major_sale=major_sale, budget=budget, policy=policy)
    check_guarantees(result, snap, policy)
    if budget is not None:
        assert result.planned.sum() <= budget
    if not major_sale:
        lost = result.period == "lost"
        assert not result.planned[lost].any()
    # deterministic
    again = plan(snap, stages, at=at, major_sale=major_sale, budget=budget, policy=policy)
    for name, col in result.columns().items():
        other = again.columns()[name]
        if col.dtype.kind == "M":
            col, other = col.view(np.int64), other.view(np.int64)
        assert np.array_equal(col, other, equal_nan=col.dtype.kind == "f"), name


def test_plan_of_history_plus_plan_never_exceeds_caps_when_replanned() -> None:
    """Ingesting a plan's touchpoints and planning again keeps every cap (the plan counts)."""
    sim = simulate_pool(300, seed=11)
    pool_ = sim.pool()
    snap = pool_.snapshot(sim.as_of)
    stages = Lifecycle().fit(snap).apply(snap)
    policy = NudgePolicy(caps=(FrequencyCap("week", 1),), quiet_hours=())
    first = plan(snap, stages, at=snap.as_of, policy=policy)
    assert first.planned.any()
    report = pool_.ingest(first.to_touchpoints(snap.tenant, "n1-"))
    assert report.touchpoints_accepted == int(first.planned.sum())
    later = snap.as_of + dt.timedelta(minutes=1)
    snap2 = pool_.snapshot(later)
    second = plan(snap2, Lifecycle().fit(snap2).apply(snap2), at=later, policy=policy)
    assert not (first.planned & second.planned).any()
    check_guarantees(second, snap2, policy)


def test_quiet_hours_reschedule_to_their_end() -> None:
    snap, stages = pool(0)
    as_of_local = snap.as_of.astimezone(dt.timezone(snap.utc_offset))
    start = (as_of_local - dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (as_of_local + dt.timedelta(hours=2)).time().replace(second=0, microsecond=0)
    policy = NudgePolicy(quiet_hours=(QuietHours(start, end),))
    result = plan(snap, stages, at=snap.as_of, policy=policy)
    assert result.planned.any()
    assert result.rescheduled[result.planned].all()
    expected = as_of_local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if expected < as_of_local:
        expected += dt.timedelta(days=1)
    got = result.to_records()[int(np.flatnonzero(result.planned)[0])]["send_at"]
    assert got == expected


def test_playbook_offers() -> None:
    snap, stages = pool(1, 600)
    result = plan(snap, stages, at=snap.as_of, major_sale=True)
    planned = result.planned
    active = planned & (result.period == "active")
    assert not result.promotion[active].any()
    sleeping = planned & (result.period == "sleeping")
    assert (result.offer[sleeping] == "win_back_coupon").all()
    lost = planned & (result.period == "lost")
    assert lost.any()
    assert (result.offer[lost] == "sale_invite").all()
    silent_growth = planned & (result.period == "silent") & (result.relationship == "growth")
    assert (result.offer[silent_growth] == "targeted_coupon").all()


def test_layers_privileges_and_coupon_hunters() -> None:
    snap, stages = pool(1, 600)
    n = len(snap)
    labels = np.arange(n) % 3
    layers = _segmentation(snap, labels)
    result = plan(snap, stages, at=snap.as_of, layers=layers, major_sale=True)
    supers = result.planned & (labels == 0)
    assert supers.any()
    assert (result.offer[supers] == "privilege").all()
    hunters = result.planned & (labels == 1)
    assert not np.isin(result.offer[hunters], ["small_coupon", "targeted_coupon",
                                                 "win_back_coupon"]).any()  # fmt: skip
    # a real layering works too
    hunters_seg = CouponHunters().fit(snap).apply(snap)
    plan(snap, stages, at=snap.as_of, layers=[hunters_seg])


def _segmentation(snap: Any, labels: Any) -> Segmentation:
    from privdomain.domain.segment import Compare

    return Segmentation(
        strategy="test layers",
        customer_ids=snap.customer_ids,
        labels=labels,
        names=("Super user", "Coupon hunter", "Other"),
        rules=(Compare("orders", ">=", 0),) * 3,
        rules_on="result",
        columns={"orders": np.zeros(len(snap))},
    )


def test_budget_takes_the_highest_scores() -> None:
    snap, stages = pool(2)
    full = plan(snap, stages, at=snap.as_of)
    cut = plan(snap, stages, at=snap.as_of, budget=10)
    assert cut.planned.sum() == min(10, full.planned.sum())
    assert cut.counts()["over_budget"] == full.planned.sum() - cut.planned.sum()
    assert cut.score[cut.planned].min() >= cut.score[cut.reason == "over_budget"].max()


def test_no_consented_channel_is_no_consent() -> None:
    snap, stages = pool(2)
    policy = NudgePolicy(channel_order=(Channel.EMAIL,))
    result = plan(snap, stages, at=snap.as_of, policy=policy)
    unreachable = ~snap.reachable[:, OWNED_COLUMN[Channel.EMAIL.value]]
    assert unreachable.any()
    assert (result.reason[unreachable] == "no_consent").all()
    assert "no_consent" in result.explain(str(snap.customer_ids[unreachable][0]))


def test_result_contract_and_touchpoints() -> None:
    snap, stages = pool(3)
    planner = Nudges().fit(snap)
    result = planner.plan(snap, stages, at=snap.as_of)
    part = result.take(np.arange(10))
    assert len(part) == 10
    joined = NudgePlan.concat([result[:150], result[150:]])
    assert np.array_equal(joined.reason, result.reason)
    tp = result.to_touchpoints("brand", "n-")
    assert len(tp.at) == int(result.planned.sum())
    skipped = result.skipped()
    assert sum(len(v) for v in skipped.values()) == int((~result.planned).sum())
    assert result.to_records()[0]["customer_id"] == snap.customer_ids[0]


# ------------------------------------------------------------------ bad input
BAD_POLICIES: list[tuple[str, Any]] = [
    ("unknown offer", lambda: NudgePolicy(stage_offers={"new": "free_lunch"})),
    ("unknown layer offer", lambda: NudgePolicy(layer_offers={"KOC": "cash"})),
    ("unknown channel", lambda: NudgePolicy(channel_order=("CARRIER_PIGEON",))),
    ("public channel", lambda: NudgePolicy(channel_order=(Channel.TAOBAO,))),
    ("repeated channel", lambda: NudgePolicy(channel_order=("SMS", "sms"))),
    ("no channel", lambda: NudgePolicy(channel_order=())),
    ("unknown reach channel", lambda: NudgePolicy(reach={"FAX": 0.1})),
    ("reach above one", lambda: NudgePolicy(reach={"SMS": 2.0})),
    ("cap of zero", lambda: FrequencyCap("day", 0)),
    ("negative cap", lambda: FrequencyCap("week", -1)),
    ("cap window", lambda: FrequencyCap("year", 1)),
    ("cap channel", lambda: FrequencyCap("day", 1, "NOPE")),
    ("empty quiet hours", lambda: QuietHours(dt.time(9), dt.time(9))),
    ("aware quiet hours", lambda: QuietHours(dt.time(9, tzinfo=dt.UTC), dt.time(10))),
    ("quiet hours not times", lambda: QuietHours(9, 10)),
    (
        "overlapping quiet hours",
        lambda: NudgePolicy(
            quiet_hours=(QuietHours(dt.time(21), dt.time(8)), QuietHours(dt.time(7), dt.time(9)))
        ),
    ),
    (
        "touching quiet hours",
        lambda: NudgePolicy(
            quiet_hours=(QuietHours(dt.time(12), dt.time(13)), QuietHours(dt.time(13), dt.time(14)))
        ),
    ),
    ("no such time zone", lambda: NudgePolicy(time_zone="Mars/Olympus_Mons")),
    ("time zone not a str", lambda: NudgePolicy(time_zone=8)),
    (
        "unknown period",
        lambda: NudgePolicy(periods={"dormant": PeriodRule("x", "none", False, False, 0.1)}),
    ),
    ("discount in a no-discount period", lambda: PeriodRule("x", "small_coupon", False, True, 0.1)),
    ("prior above one", lambda: PeriodRule("x", "none", False, True, 1.5)),
    ("lift above the response", lambda: PeriodRule("x", "none", False, True, 0.1, lift_prior=0.2)),
    ("negative lift", lambda: PeriodRule("x", "none", False, True, 0.1, lift_prior=-0.01)),
    ("NaN lift", lambda: PeriodRule("x", "none", False, True, 0.1, lift_prior=float("nan"))),
    ("lift not a number", lambda: PeriodRule("x", "none", False, True, 0.1, lift_prior="0.1")),
    ("negative min score", lambda: NudgePolicy(min_score=-1.0)),
]


@pytest.mark.parametrize(("case", "make"), BAD_POLICIES, ids=[c for c, _ in BAD_POLICIES])
def test_bad_policies(case: str, make: Any) -> None:
    with pytest.raises(ValidationError):
        make()


@pytest.mark.parametrize(
    ("case", "kwargs"),
    [
        ("budget of zero", {"budget": 0}),
        ("negative budget", {"budget": -3}),
        ("bool budget", {"budget": True}),
        ("naive at", {"at": dt.datetime(2030, 1, 1)}),
        ("at before the snapshot", {"at": dt.datetime(2000, 1, 1, tzinfo=dt.UTC)}),
        ("major_sale not a bool", {"major_sale": "yes"}),
        ("layers not segmentations", {"layers": ["KOC"]}),
        ("policy not a policy", {"policy": {"caps": ()}}),
    ],
)
def test_bad_plan_arguments(case: str, kwargs: dict[str, Any]) -> None:
    snap, stages = pool(0)
    args: dict[str, Any] = {"at": snap.as_of, **kwargs}
    with pytest.raises(ValidationError):
        plan(snap, stages, **args)


def test_misaligned_stages_are_refused() -> None:
    snap, stages = pool(0)
    with pytest.raises(ValidationError):
        plan(snap, stages.take(np.arange(10)), at=snap.as_of)
    with pytest.raises(ValidationError):
        plan(snap, "stages", at=snap.as_of)
    with pytest.raises(ValidationError):
        plan("snapshot", stages, at=snap.as_of)


def test_owned_channels_cover_the_defaults() -> None:
    assert set(NudgePolicy().channel_order) <= set(OWNED_CHANNELS)


def test_partitions_plan_as_the_whole_without_a_budget() -> None:
    snap, stages = pool(4)
    whole = plan(snap, stages, at=snap.as_of)
    rows = np.arange(len(snap))[::3]
    part = plan(snap.take(rows), stages.take(rows), at=snap.as_of)
    expected = whole.take(rows)
    for name, col in part.columns().items():
        other = expected.columns()[name]
        if col.dtype.kind == "M":
            col, other = col.view(np.int64), other.view(np.int64)
        assert np.array_equal(col, other, equal_nan=col.dtype.kind == "f"), name


def test_an_empty_snapshot_plans_nothing() -> None:
    snap, stages = pool(4)
    empty = np.zeros(0, dtype=np.int64)
    result = plan(snap.take(empty), stages.take(empty), at=snap.as_of, budget=5)
    assert len(result) == 0
    assert len(result.to_touchpoints("brand", "n-").at) == 0
    assert result.counts()["planned"] == 0


# ------------------------------------------------------------------ with the intelligence on
@functools.cache
def fatigue_model(seed: int) -> Any:
    from privdomain.nudges import FatigueModel

    snap, _ = pool(seed)
    model = FatigueModel().fit(snap)
    model.content_weight_, model.promotion_weight_ = 0.3, 0.8  # a tiring world
    return model


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 5),
    policy=policies(),
    minutes=st.integers(0, 60 * 24 * 40),
    major_sale=st.booleans(),
    budget=st.one_of(st.none(), st.integers(1, 400)),
    discount_budget=st.one_of(st.none(), st.integers(1, 100_000)),
    holdout=st.sampled_from([0.0, 0.1, 0.5]),
    draw_seed=st.integers(0, 2**31),
    use_fatigue=st.booleans(),
    use_uplift=st.booleans(),
    members=st.booleans(),
    own_zones=st.booleans(),
)
def test_guarantees_hold_with_everything_on(
    seed: int,
    policy: NudgePolicy,
    minutes: int,
    major_sale: bool,
    budget: int | None,
    discount_budget: int | None,
    holdout: float,
    draw_seed: int,
    use_fatigue: bool,
    use_uplift: bool,
    members: bool,
    own_zones: bool,
) -> None:
    snap, stages = pool(seed)
    if own_zones:
        snap = with_own_zones(snap, seed)
    n = len(snap)
    rng = np.random.default_rng(draw_seed)
    if members:
        balance = np.where(rng.random(n) < 0.3, rng.uniform(0, 200, n), None).astype(object)
        snap = attrs.evolve(
            snap,
            tags={**snap.tags, "member": rng.random(n) < 0.4},
            attributes={**snap.attributes, "stored_value": balance},
        )
    options: dict[str, Any] = {
        "at": snap.as_of + dt.timedelta(minutes=minutes),
        "major_sale": major_sale,
        "budget": budget,
        "discount_budget": discount_budget,
        "policy": policy,
        "holdout": holdout,
        "seed": draw_seed,
        "fatigue": fatigue_model(seed) if use_fatigue else None,
    }
    if use_uplift:
        options.update(uplift=rng.uniform(-0.1, 0.3, n), value=80.0, cost=0.05)
    result = plan(snap, stages, **options)
    check_guarantees(result, snap, policy)
    # every customer not contacted has a reason; the held out are the only chosen not sent
    assert np.all(result.reason[~result.planned] != "planned")
    chosen = result.planned | (result.reason == "holdout")
    assert np.array_equal(result.propensity > 0, chosen)
    if budget is not None:
        assert chosen.sum() <= budget
    if discount_budget is not None:
        assert int(result.discount_minor[chosen].sum()) <= discount_budget
    if use_fatigue:
        assert np.all(result.fatigue[chosen] >= policy.fatigue_floor)
    if use_uplift:
        assert np.all(result.net_value[chosen] > 0)
    if members:
        members_ = np.asarray(snap.tags["member"]) | np.array(
            [b is not None and b > 0 for b in snap.attributes["stored_value"].tolist()]
        )
        assert not result.promotion[chosen & members_].any()
    m, held = int(chosen.sum()), int((result.reason == "holdout").sum())
    assert abs(held - m * holdout) <= 5 * np.sqrt(m * holdout * (1 - holdout)) + 1
    again = plan(snap, stages, **options)
    for name, col in result.columns().items():
        other = again.columns()[name]
        if col.dtype.kind == "M":
            col, other = col.view(np.int64), other.view(np.int64)
        assert np.array_equal(col, other, equal_nan=col.dtype.kind == "f"), name


def test_default_lift_priors_follow_the_playbook() -> None:
    """The default ranking's order of the periods (silent, sleeping, never bought, active,
    lost), each lift at most its response, and the score of a customer without history
    ``reach × lift × bonus``; with a zero lift a period is not worth a message."""
    periods = NudgePolicy().periods
    lift = {name: rule.lift_prior for name, rule in periods.items()}
    assert all(v is not None for v in lift.values())
    order = sorted(lift, key=lambda name: -float(lift[name] or 0))
    assert order == ["silent", "sleeping", "not_bought", "active", "lost"]
    for rule in periods.values():
        assert rule.lift_prior is not None
        assert rule.lift_prior <= rule.response_prior
        assert rule.incremental_share == pytest.approx(rule.lift_prior / rule.response_prior)
    assert PeriodRule("x", "none", False, True, 0.1).incremental_share == 1.0
    assert PeriodRule("x", "none", False, True, 0.0, lift_prior=0.0).incremental_share == 0.0
    for kind in ("high_end", "high_frequency"):
        for rule in NudgePolicy.for_business(kind).periods.values():
            assert rule.lift_prior is not None
            assert rule.lift_prior <= rule.response_prior


def test_a_period_without_lift_is_not_worth_a_message() -> None:
    sim = simulate_pool(300, seed=5)
    snap = sim.pool().snapshot(sim.as_of)
    stages = Lifecycle().fit(snap).apply(snap)
    silent = NudgePolicy().periods["silent"]
    policy = NudgePolicy(periods={"silent": attrs.evolve(silent, lift_prior=0.0)}, caps=())
    result = plan(snap, stages, at=snap.as_of, policy=policy)
    rows = (result.period == "silent") & ~np.isnan(result.score)
    assert rows.any()
    assert np.all(result.score[rows] == 0)
    assert np.all(result.reason[rows] == "not_worth_it")
