"""The fatigue model: the load against a slow reference, parameters recovered by maximum
likelihood on simulated logs of known parameters, the fit from a snapshot, bad input, and the
planner skipping fatigued customers."""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2

from privdomain.domain._time import MICROS_PER_DAY, epoch_micros
from privdomain.domain.channels import Channel
from privdomain.errors import NotFittedError, ValidationError
from privdomain.lifecycle import Lifecycle
from privdomain.nudges import FatigueModel, NudgePolicy, plan
from privdomain.nudges.fatigue import fatigue_load, responded_within
from privdomain.simulate import simulate_pool

DAY = MICROS_PER_DAY


def reference_load(
    row: Any, at: Any, promo: Any, when: Any, w: tuple[float, float], tau: float, horizon: float
) -> list[float]:
    """The load customer by customer, contact by contact."""
    out = [0.0] * len(when)
    for r, t, p in zip(row.tolist(), at.tolist(), promo.tolist(), strict=True):
        age = (int(when[r]) - t) / DAY
        if 0 < age <= horizon:
            out[r] += (w[1] if p else w[0]) * math.exp(-age / tau)
    return out


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    customers=st.integers(1, 6),
    contacts=st.integers(0, 30),
    tau=st.floats(0.5, 30),
    horizon=st.floats(1, 60),
)
def test_load_matches_the_reference(
    data: Any, customers: int, contacts: int, tau: float, horizon: float
) -> None:
    row = np.array(data.draw(st.lists(st.integers(0, customers - 1), min_size=contacts,
                                      max_size=contacts)), dtype=np.int64)  # fmt: skip
    # integer instants, some equal to `when` (not counted: strictly before) or far in the past
    at = np.array(data.draw(st.lists(st.integers(0, 90 * DAY), min_size=contacts,
                                     max_size=contacts)), dtype=np.int64)  # fmt: skip
    promo = np.array(data.draw(st.lists(st.booleans(), min_size=contacts, max_size=contacts)),
                     dtype=bool)  # fmt: skip
    when = np.array(data.draw(st.lists(st.integers(0, 90 * DAY), min_size=customers,
                                       max_size=customers)), dtype=np.int64)  # fmt: skip
    if contacts:
        at[0] = when[row[0]]
    got = fatigue_load(row, at, promo, when, weights=(0.3, 1.1), recovery_days=tau,
                       horizon_days=horizon)  # fmt: skip
    want = reference_load(row, at, promo, when, (0.3, 1.1), tau, horizon)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), n=st.integers(0, 40), m=st.integers(0, 40), window=st.integers(1, 10))
def test_responses_match_the_reference(data: Any, n: int, m: int, window: int) -> None:
    ints = functools.partial(st.lists, min_size=n, max_size=n)
    c_row = np.array(data.draw(ints(st.integers(0, 4))), dtype=np.int64)
    c_at = np.array(data.draw(ints(st.integers(0, 30))), dtype=np.int64)
    o_row = np.array(data.draw(st.lists(st.integers(0, 4), min_size=m, max_size=m)), np.int64)
    o_at = np.array(data.draw(st.lists(st.integers(0, 30), min_size=m, max_size=m)), np.int64)
    got = responded_within(c_row, c_at, o_row, o_at, window)
    want = [
        any(r == orow and t <= ot < t + window for orow, ot in zip(o_row, o_at, strict=True))
        for r, t in zip(c_row, c_at, strict=True)
    ]
    assert got.tolist() == want


def simulate_log(
    n_customers: int, p0: float, w: tuple[float, float], tau: float, seed: int
) -> tuple[Any, Any, Any, Any, Any]:
    """Contacts at random instants over 90 days (40% promotions) and responses drawn from the
    model with known parameters, the load computed contact by contact."""
    rng = np.random.default_rng(seed)
    k = rng.poisson(12, n_customers)
    row = np.repeat(np.arange(n_customers), k)
    at = rng.integers(0, 90 * DAY, row.size)
    promo = rng.random(row.size) < 0.4
    order = np.lexsort((at, row))
    row, at, promo = row[order], at[order], promo[order]
    load = np.zeros(row.size)
    rows, ats, promos = row.tolist(), at.tolist(), promo.tolist()
    for i in range(len(rows)):
        j = i - 1
        while j >= 0 and rows[j] == rows[i]:
            age = (ats[i] - ats[j]) / DAY
            if 0 < age <= 28:
                load[i] += (w[1] if promos[j] else w[0]) * math.exp(-age / tau)
            j -= 1
    responded = rng.random(row.size) < p0 * np.exp(-load)
    ids = np.array([f"c{r:05d}" for r in rows], dtype=object)
    shuffle = rng.permutation(row.size)  # log order is not time order
    return ids[shuffle], at[shuffle], promo[shuffle], responded[shuffle], load[shuffle]


@pytest.mark.parametrize(
    ("p0", "w", "tau"),
    [(0.3, (0.15, 0.6), 5.0), (0.12, (0.4, 1.2), 10.0)],
)
def test_parameters_are_recovered(p0: float, w: tuple[float, float], tau: float) -> None:
    ids, at, promo, responded, load = simulate_log(3_000, p0, w, tau, seed=1)
    model = FatigueModel().fit_log(ids, at, promo, responded)
    assert model.n_contacts_ == len(ids)
    assert model.n_responses_ == int(responded.sum())
    # the true parameters lie in the 99.9% likelihood-ratio confidence region of the fit
    # (chi-squared with 4 degrees of freedom), and the estimates are close
    p = p0 * np.exp(-load)
    true_ll = float(np.sum(np.where(responded, np.log(p), np.log1p(-p))))
    assert model.log_likelihood_ >= true_ll  # a maximum
    assert 2 * (model.log_likelihood_ - true_ll) < chi2.ppf(0.999, 4)
    assert model.base_rate_ == pytest.approx(p0, rel=0.1)
    assert model.promotion_weight_ == pytest.approx(w[1], rel=0.25)
    assert model.content_weight_ == pytest.approx(w[0], rel=0.5)
    assert model.recovery_days_ == pytest.approx(tau, rel=0.3)
    assert model.promotion_weight_ > model.content_weight_
    # another start finds the same maximum
    again = FatigueModel(recovery_init=2 * tau).fit_log(ids, at, promo, responded)
    assert again.log_likelihood_ == pytest.approx(model.log_likelihood_, abs=1e-3)


def test_datetime_and_integer_instants_fit_alike() -> None:
    ids, at, promo, responded, _ = simulate_log(500, 0.3, (0.2, 0.8), 5.0, seed=3)
    a = FatigueModel().fit_log(ids, at, promo, responded)
    b = FatigueModel().fit_log(ids, at.astype("datetime64[us]"), promo, responded)
    assert a.base_rate_ == b.base_rate_
    assert a.recovery_days_ == b.recovery_days_


@functools.cache
def snapshot(seed: int = 5) -> Any:
    sim = simulate_pool(1_500, seed=seed, messages_per_month=3.0)
    return sim.pool().snapshot(sim.as_of)


def test_fit_on_a_snapshot_uses_its_contacts_and_orders() -> None:
    snap = snapshot()
    model = FatigueModel().fit(snap)
    # the same fit from arrays built independently (a slow reading of the rules)
    contacts, orders = snap.contacts, snap.order_log
    at = contacts.at.astype("datetime64[us]").view(np.int64)
    o_at = orders.at.astype("datetime64[us]").view(np.int64)
    responded = np.array([
        bool(np.any((orders.row == r) & (o_at >= t) & (o_at < t + 7 * DAY)))
        for r, t in zip(contacts.row.tolist(), at.tolist(), strict=True)
    ])  # fmt: skip
    as_of = epoch_micros(snap.as_of)
    use = (at + 7 * DAY <= as_of) & (at - 28 * DAY >= as_of - 92 * DAY)
    ref = FatigueModel().fit_log(contacts.row, at, contacts.promotion, responded, use=use)
    assert model.n_contacts_ == int(use.sum()) == ref.n_contacts_
    assert model.base_rate_ == pytest.approx(ref.base_rate_)
    assert model.recovery_days_ == pytest.approx(ref.recovery_days_)


def test_planner_skips_the_fatigued_and_scales_scores() -> None:
    snap = snapshot()
    stages = Lifecycle().fit(snap).apply(snap)
    model = FatigueModel().fit(snap)
    # a tiring model: every recent message weighs a lot
    model.content_weight_, model.promotion_weight_, model.recovery_days_ = 0.4, 0.9, 10.0
    policy = NudgePolicy(fatigue_floor=0.6)
    rested = plan(snap, stages, at=snap.as_of, policy=policy)
    result = plan(snap, stages, at=snap.as_of, policy=policy, fatigue=model)
    # the multiplier at each customer's own send time (quiet hours move it)
    when = np.where(result.planned, result.send_at, np.datetime64(epoch_micros(snap.as_of), "us"))
    multiplier = model.multiplier(snap, when.astype("datetime64[us]"))
    assert np.all((multiplier > 0) & (multiplier <= 1))
    np.testing.assert_allclose(result.fatigue[result.planned], multiplier[result.planned])
    fatigued = result.reason == "fatigued"
    assert fatigued.any()
    assert (result.fatigue[fatigued] < 0.6).all()
    assert (result.fatigue[result.planned] >= 0.6).all()
    both = result.planned & rested.planned
    np.testing.assert_allclose(
        result.score[both], rested.score[both] * result.fatigue[both], rtol=1e-12
    )
    assert "fatigue multiplier" in result.explain(str(result.customer_ids[fatigued][0]))
    # customers never contacted are rested
    never = np.bincount(np.asarray(snap.contacts.row), minlength=len(snap)) == 0
    assert (result.fatigue[never] == 1).all()


@pytest.mark.parametrize(
    ("case", "call"),
    [
        ("misaligned", lambda m: m.fit_log([1, 2], [0, 1], [True], [True, False])),
        ("2-D", lambda m: m.fit_log([1, 2], [[0, 1]], [True, False], [True, False])),
        ("flags not bool", lambda m: m.fit_log([1, 2], [0, 1], [1, 0], [True, False])),
        ("text instants", lambda m: m.fit_log([1, 2], ["a", "b"], [True, False], [True, False])),
        (
            "no contacts",
            lambda m: m.fit_log([], np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, bool)),
        ),
        ("all responded", lambda m: m.fit_log([1, 2], [0, 1], [True, False], [True, True])),
        ("none responded", lambda m: m.fit_log([1, 2], [0, 1], [True, False], [False, False])),
        ("not a snapshot", lambda m: m.fit("snapshot")),
        (
            "bad horizon",
            lambda m: FatigueModel(horizon_days=0).fit_log(
                [1, 2], [0, 1], [True, False], [True, False]
            ),
        ),
        (
            "NaN recovery",
            lambda m: FatigueModel(recovery_init=float("nan")).fit_log(
                [1, 2], [0, 1], [True, False], [True, False]
            ),
        ),
    ],
)
def test_bad_input(case: str, call: Any) -> None:
    with pytest.raises(ValidationError):
        call(FatigueModel())


def test_not_fitted_and_bad_plan_arguments() -> None:
    snap = snapshot()
    with pytest.raises(NotFittedError):
        FatigueModel().multiplier(snap)
    stages = Lifecycle().fit(snap).apply(snap)
    with pytest.raises(NotFittedError):
        plan(snap, stages, at=snap.as_of, fatigue=FatigueModel())
    with pytest.raises(ValidationError):
        plan(snap, stages, at=snap.as_of, fatigue="tired")  # type: ignore[arg-type]
    model = FatigueModel().fit(snap)
    with pytest.raises(ValidationError):
        model.multiplier(snap, dt.datetime(2030, 1, 1))
    with pytest.raises(ValidationError):
        model.multiplier(snap, np.zeros(3, dtype="datetime64[us]"))


def test_a_kind_the_log_never_shows_shares_the_other_weight() -> None:
    ids, at, promo, responded, _ = simulate_log(600, 0.3, (0.5, 0.5), 5.0, seed=4)
    content_only = FatigueModel().fit_log(ids, at, np.zeros_like(promo), responded)
    assert content_only.promotion_weight_ == content_only.content_weight_
    assert content_only.content_weight_ == pytest.approx(0.5, rel=0.5)
    promo_only = FatigueModel().fit_log(ids, at, np.ones_like(promo), responded)
    assert promo_only.promotion_weight_ == promo_only.content_weight_
    # nobody contacted twice: no load, the base rate alone
    single = FatigueModel().fit_log(["a", "b", "c"], [0, 1, 2], [True, False, True],
                                    [True, False, False])  # fmt: skip
    assert single.base_rate_ == pytest.approx(1 / 3)
    assert single.content_weight_ == single.promotion_weight_ == 0.0


def test_fit_on_a_pool_recovers_known_fatigue() -> None:
    """End to end: messages and the purchases they cause, drawn from the model with known
    parameters, ingested into a pool; the fit on its snapshot finds the truth in its
    likelihood-ratio region. Messages are at least 7 days apart, so each purchase answers
    exactly one message."""
    from privdomain import Pool
    from privdomain.domain.batch import TouchpointColumns
    from privdomain.domain.channels import TouchKind

    p0, w, tau = 0.35, (0.2, 0.9), 6.0
    sim = simulate_pool(2_500, seed=12)
    prm = sim.params
    pool = Pool(prm.tenant, currency=prm.currency, utc_offset=prm.utc_offset)
    pool.ingest(sim.customers)
    end = epoch_micros(sim.as_of)
    start = end - 92 * DAY
    joined = np.asarray(sim.customers.joined_at, dtype=np.int64)
    early = np.flatnonzero(joined < start)
    rng = np.random.default_rng(12)
    gaps = 7 * DAY + rng.exponential(4 * DAY, size=(early.size, 12)).astype(np.int64)
    times = start + np.cumsum(gaps, axis=1) - 6 * DAY
    keep = times < end - DAY
    row = np.repeat(early, keep.sum(axis=1))
    at = times[keep]
    promo = rng.random(at.size) < 0.4
    load = np.zeros(at.size)  # contacts are grouped by customer and in time order
    for i in range(at.size):
        j = i - 1
        while j >= 0 and row[j] == row[i]:
            age = (at[i] - at[j]) / DAY
            if age <= 28:
                load[i] += (w[1] if promo[j] else w[0]) * math.exp(-age / tau)
            j -= 1
    bought = rng.random(at.size) < p0 * np.exp(-load)
    buy_at = at[bought] + rng.integers(0, 6 * DAY, int(bought.sum()))
    ids = np.asarray(sim.customers.id, dtype=object)
    n_sent, n_buy = at.size, int(bought.sum())
    report = pool.ingest(
        TouchpointColumns.from_arrays(
            id=np.array([f"m{i}" for i in range(n_sent)] + [f"o{i}" for i in range(n_buy)],
                        dtype=object),
            tenant=prm.tenant,
            customer_id=np.concatenate([ids[row], ids[row[bought]]]),
            at=np.concatenate([at, buy_at]).astype("datetime64[us]"),
            channel=np.full(n_sent + n_buy, Channel.WECOM.value, dtype=np.uint8),
            kind=np.concatenate([np.full(n_sent, TouchKind.SENT.value, np.uint8),
                                 np.full(n_buy, TouchKind.PURCHASED.value, np.uint8)]),
            amount=np.concatenate([np.zeros(n_sent), np.full(n_buy, 99.0)]),
            promotion=np.concatenate([promo, np.zeros(n_buy, dtype=bool)]),
        )
    )  # fmt: skip
    assert report.touchpoints_accepted == n_sent + n_buy
    snap = pool.snapshot(sim.as_of)
    model = FatigueModel().fit(snap)
    # the contacts the fit uses (whole history and response window inside the snapshot's)
    used = (at + 7 * DAY <= end) & (at - 28 * DAY >= start)
    assert model.n_contacts_ == int(used.sum())
    p = p0 * np.exp(-load[used])
    true_ll = float(np.sum(np.where(bought[used], np.log(p), np.log1p(-p))))
    assert model.log_likelihood_ >= true_ll
    assert 2 * (model.log_likelihood_ - true_ll) < chi2.ppf(0.999, 4)
    assert model.base_rate_ == pytest.approx(p0, rel=0.2)
    assert model.promotion_weight_ > model.content_weight_
