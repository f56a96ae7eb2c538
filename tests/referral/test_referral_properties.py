"""Hard invariants of the commission ledger, on random pools (hypothesis)."""

from __future__ import annotations

from typing import Any

import numpy as np
from helpers import at, customer, new_pool, touch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privdomain import Money, Pool, TouchKind
from privdomain.referral import BindingPolicy, CommissionRule, attribute, bind

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def scenarios(draw: Any) -> dict[str, Any]:
    n = draw(st.integers(2, 8))
    referrer = [None] + [draw(st.one_of(st.none(), st.integers(0, i - 1))) for i in range(1, n)]
    invites = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.integers(0, 6)),
            max_size=8,
        )
    )
    orders = draw(
        st.lists(
            st.tuples(
                st.integers(0, n - 1),
                st.integers(0, 50),
                st.integers(1, 10_000_000),
                st.one_of(st.none(), st.sampled_from(["g0", "g1"])),
                st.one_of(st.none(), st.floats(0.0, 1.0)),
            ),
            min_size=1,
            max_size=8,
        )
    )
    r1 = draw(st.integers(0, 400_000))
    r2 = draw(st.integers(0, 300_000))
    ra = draw(st.integers(0, 300_000))
    caps = draw(
        st.tuples(st.one_of(st.none(), st.integers(0, 50_000)), st.none() | st.integers(0, 100_000))
    )
    rule = CommissionRule(
        (r1 / 1_000_000, r2 / 1_000_000),
        agent_rate=ra / 1_000_000,
        per_order_cap=caps[0],
        per_period_cap=caps[1],
    )
    mode = draw(st.sampled_from(["permanent", "expiring", "last_touch"]))
    return {
        "n": n,
        "referrer": referrer,
        "invites": invites,
        "orders": orders,
        "rule": rule,
        "mode": mode,
    }


def _records(sc: dict[str, Any], *, refunds: bool) -> tuple[list[Any], list[Any]]:
    customers = [
        customer(f"c{i}", at(i), referrer_id=None if r is None else f"c{r}")
        for i, r in enumerate(sc["referrer"])
    ]
    tps = []
    for k, (a, b, day) in enumerate(sc["invites"]):
        if a != b:
            tps.append(
                touch(f"i{k}", f"c{a}", at(day), TouchKind.INVITED, related_customer_id=f"c{b}")
            )
    for k, (who, day, minor, agent, share) in enumerate(sc["orders"]):
        when = at(who + day, hours=1)
        tps.append(
            touch(
                f"p{k}",
                f"c{who}",
                when,
                TouchKind.PURCHASED,
                amount=Money(minor),
                order_id=f"o{k}",
                agent_id=agent,
            )
        )
        if refunds and share is not None:
            back = int(minor * share)
            if back:
                tps.append(
                    touch(
                        f"r{k}",
                        f"c{who}",
                        when,
                        TouchKind.REFUNDED,
                        amount=Money(back),
                        order_id=f"o{k}",
                    )
                )
    return customers, tps


def _pool(sc: dict[str, Any], *, refunds: bool = True, perm: Any = None) -> Pool:
    customers, tps = _records(sc, refunds=refunds)
    if perm is not None:
        customers = [customers[i] for i in perm.permutation(len(customers))]
        tps = [tps[i] for i in perm.permutation(len(tps))]
    p = new_pool()
    report = p.ingest([*customers, *tps])
    assert report.ok, report.rejected
    return p


def _sorted_records(ledger: Any) -> list[Any]:
    return sorted(repr(sorted(r.items())) for r in ledger.to_records())


@SETTINGS
@given(scenarios())
def test_orders_never_pay_more_than_their_pool_and_credits_sum_exactly(sc: dict[str, Any]) -> None:
    snap = _pool(sc).snapshot(at(200))
    ledger = attribute(snap, sc["rule"], bindings=BindingPolicy(sc["mode"]))
    log = snap.order_log
    for oid, gross in zip(log.order_id.tolist(), log.gross_minor.tolist(), strict=True):
        m = ledger.order_id == oid
        if not m.any():
            continue
        credit = m & (ledger.status != 2)
        pool = int(ledger.pool_minor[credit][0])
        assert pool <= gross
        if sc["rule"].per_order_cap is not None:
            assert pool <= sc["rule"].per_order_cap
        paid = int(ledger.amount_minor[credit].sum())
        assert paid <= pool
        if sc["rule"].per_period_cap is None:
            assert paid == pool
        assert 0 <= int(ledger.amount_minor[m].sum()) <= paid
        assert (ledger.amount_minor[credit] >= 0).all()


@SETTINGS
@given(scenarios())
def test_no_credit_more_than_two_tiers_up(sc: dict[str, Any]) -> None:
    snap = _pool(sc).snapshot(at(200))
    b = bind(snap, BindingPolicy(sc["mode"]))
    ledger = attribute(snap, sc["rule"], bindings=b)
    assert set(ledger.tier.tolist()) <= {1, 2}
    who, ref, since = b.history()
    t = since.view(np.int64)
    # the tier-k beneficiary is reached from the buyer by exactly k bindings in force
    for i in np.flatnonzero(ledger.role == 0):
        buyer = int(ledger.order_row[i])
        when = int(ledger.at[i].view(np.int64))
        node = buyer
        for _ in range(int(ledger.tier[i])):
            ok = np.flatnonzero((who == node) & (t <= when))
            assert ok.size
            node = int(ref[ok[-1]])
        assert snap.customer_ids[node] == ledger.beneficiary_id[i]
    # and a referral forest: no loops among the current bindings
    parent = np.full(len(snap), -1)
    has = b.referrer_ids != None  # noqa: E711
    parent[has] = snap.rows(b.referrer_ids[has]) if has.any() else parent[has]
    for start in range(len(snap)):
        seen, node = set(), start
        while node >= 0:
            assert node not in seen
            seen.add(node)
            node = parent[node]


@SETTINGS
@given(scenarios())
def test_refund_then_re_attribution_nets_to_zero(sc: dict[str, Any]) -> None:
    pool = _pool(sc, refunds=False)
    rule, policy = sc["rule"], BindingPolicy(sc["mode"])
    before = attribute(pool.snapshot(at(200)), rule, bindings=policy)
    again = before.update(attribute(pool.snapshot(at(200)), rule, bindings=policy))
    assert _sorted_records(again) == _sorted_records(before)  # idempotent by order id
    log = pool.snapshot(at(200)).order_log
    pool.ingest(
        [
            touch(
                f"x{k}",
                str(pool.snapshot(at(200)).customer_ids[r]),
                at(300),
                TouchKind.REFUNDED,
                amount=Money(int(g)),
                order_id=str(o),
            )
            for k, (o, r, g) in enumerate(zip(log.order_id, log.row, log.gross_minor, strict=True))
        ]
    )
    after = before.update(attribute(pool.snapshot(at(301)), rule, bindings=policy))
    assert after.total() == Money(0)
    assert set(after.order_id.tolist()) == set(before.order_id.tolist())


@SETTINGS
@given(scenarios(), st.integers(0, 2**32 - 1))
def test_invariant_to_ingest_order(sc: dict[str, Any], seed: int) -> None:
    rule, policy = sc["rule"], BindingPolicy(sc["mode"])
    a = attribute(_pool(sc).snapshot(at(200)), rule, bindings=policy, as_of=at(30))
    perm = np.random.default_rng(seed)
    b = attribute(_pool(sc, perm=perm).snapshot(at(200)), rule, bindings=policy, as_of=at(30))
    assert _sorted_records(a) == _sorted_records(b)


@SETTINGS
@given(scenarios())
def test_period_cap_is_never_exceeded(sc: dict[str, Any]) -> None:
    cap = sc["rule"].per_period_cap
    snap = _pool(sc).snapshot(at(200))
    ledger = attribute(snap, sc["rule"], bindings=BindingPolicy(sc["mode"]))
    order_ids, totals = ledger.totals_by_order()
    assert len(set(order_ids.tolist())) == len(order_ids)
    assert sum(totals.tolist()) == ledger.total().minor
    if cap is None:
        return
    credit = ledger.status != 2
    month = (ledger.at + np.timedelta64(8, "h")).astype("datetime64[M]")
    earned: dict[tuple[Any, ...], int] = {}
    for key, amount in zip(
        zip(
            ledger.role[credit].tolist(),
            ledger.beneficiary_id[credit].tolist(),
            month[credit].tolist(),
            strict=True,
        ),
        ledger.amount_minor[credit].tolist(),
        strict=True,
    ):
        earned[key] = earned.get(key, 0) + amount
    assert all(v <= cap for v in earned.values())


# ------------------------------------------------------------------ exact split, categories
@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 10**9), st.lists(st.integers(0, 1_000_000), min_size=3, max_size=3)
        ),
        min_size=1,
        max_size=30,
    )
)
def test_split_is_the_largest_remainder_method(cases: list[Any]) -> None:
    from fractions import Fraction

    from privdomain.referral.commission import _split

    pool = np.array([p for p, _ in cases], dtype=np.int64)
    weights = np.array([w for _, w in cases], dtype=np.int64).T
    got = _split(pool, weights)
    for k, (p, w) in enumerate(cases):
        if sum(w) == 0:
            assert got[:, k].tolist() == [0, 0, 0]
            continue
        exact = [Fraction(p * x, sum(w)) for x in w]
        floor = [int(e) for e in exact]
        # one unit each to the largest remainders, the earlier slot first on a tie
        by = sorted(range(3), key=lambda j: (-(exact[j] - floor[j]), j))
        for j in by[: p - sum(floor)]:
            floor[j] += 1
        assert got[:, k].tolist() == floor
        assert sum(floor) == p


@SETTINGS
@given(scenarios(), st.lists(st.sampled_from([None, "baby", "food"]), min_size=8, max_size=8))
def test_category_rates_keep_the_pool_bound(sc: dict[str, Any], cats: list[Any]) -> None:
    rule = CommissionRule(
        sc["rule"].rates[0] / 1_000_000,
        per_order_cap=sc["rule"].per_order_cap,
        category_rates={"baby": ("0.5", "0.5"), "food": "0.01"},
        category_agent_rates={"food": "0.2"},
    )
    snap = _pool(sc).snapshot(at(200))
    given_cats = cats[: len(snap.order_log)]
    ledger = attribute(snap, rule, bindings=BindingPolicy(sc["mode"]), categories=given_cats)
    table = rule.weight_table()
    code = {c: k for k, c in enumerate(rule.categories)}
    log = snap.order_log
    for oid, gross, cat in zip(
        log.order_id.tolist(), log.gross_minor.tolist(), given_cats, strict=True
    ):
        credit = (ledger.order_id == oid) & (ledger.status != 2)
        if not credit.any():
            continue
        paid = int(ledger.amount_minor[credit].sum())
        assert paid == int(ledger.pool_minor[credit][0])
        assert paid <= gross * int(table[code[cat]].sum()) // 1_000_000
        tiers = ledger.tier[credit & (ledger.role == 0)]
        if table[code[cat]][1] == 0:
            assert (tiers == 1).all()


# ------------------------------------------------------------------ held credit
@SETTINGS
@given(scenarios(), st.integers(2, 3), st.integers(1, 3))
def test_held_credit_is_never_settled(sc: dict[str, Any], burst: int, idle: int) -> None:
    from privdomain.memory import InMemoryCommissionLedger
    from privdomain.ports import CommissionStatus
    from privdomain.referral import FraudPolicy, check_fraud, settle

    snap = _pool(sc).snapshot(at(200))
    policy = FraudPolicy(
        burst_window_hours=48,
        burst_invitations=burst,
        idle_min_invitees=idle,
        bypass_days=30,
        bypass_orders=1,
    )
    fraud = check_fraud(snap, policy, bindings=BindingPolicy(sc["mode"]))
    b = bind(snap, BindingPolicy(sc["mode"]))
    held = attribute(snap, sc["rule"], bindings=b, hold=fraud)
    plain = attribute(snap, sc["rule"], bindings=b)
    assert np.array_equal(held.amount_minor, plain.amount_minor)  # holding moves no money
    flagged = set(snap.customer_ids[fraud.flagged].tolist())
    flagged |= {a for a, f in zip(fraud.agent_ids, fraud.agent_flags, strict=True) if f}
    on_flagged = np.isin(held.beneficiary_id.astype(str), sorted(flagged))
    credit = held.status != 2
    assert held.held[credit & on_flagged].all()
    store = InMemoryCommissionLedger()
    settle(held, store)
    settle(held, store)
    ids = {
        f"{o}/{'ra'[r]}{t}/{b_}"
        for o, r, t, b_, h in zip(
            held.order_id.tolist(),
            held.role.tolist(),
            held.tier.tolist(),
            held.beneficiary_id.tolist(),
            held.held.tolist(),
            strict=True,
        )
        if h
    }
    for entry in store.entries():
        if entry.id in ids:
            assert entry.status in (CommissionStatus.FROZEN, CommissionStatus.REVERSED)


# ------------------------------------------------------------------ partitions
@SETTINGS
@given(scenarios(), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_partition_by_partition_with_global_bindings_is_the_whole(
    sc: dict[str, Any], parts: int, seed: int
) -> None:
    from privdomain.referral import AttributionLedger

    snap = _pool(sc).snapshot(at(200))
    # period caps count a beneficiary's earnings across every partition: a global pass
    rule = CommissionRule(
        (sc["rule"].rates[0] / 1e6, sc["rule"].weights[1] / 1e6),
        agent_rate=sc["rule"].agent_rate / 1e6,
        per_order_cap=sc["rule"].per_order_cap,
    )
    b = bind(snap, BindingPolicy(sc["mode"]))  # one pass over the (small) invitation graph
    rng = np.random.default_rng(seed)
    label = rng.integers(0, parts, len(snap))
    ledgers = [
        attribute(snap.take(np.flatnonzero(label == k)), rule, bindings=b, as_of=at(30))
        for k in range(parts)
    ]
    joined = AttributionLedger.concat(ledgers)
    whole = attribute(snap, rule, bindings=b, as_of=at(30))
    assert _sorted_records(joined) == _sorted_records(whole)
    assert joined.total() == whole.total()


@settings(max_examples=40, deadline=None)
@given(
    snapshot_day=st.integers(0, 12),
    offset=st.one_of(
        st.integers(-5, 5).map(float),
        st.floats(-5, 5, allow_nan=False),
        st.just(1e-6 / 86_400),  # one microsecond
    ),
)
def test_nothing_is_drawn_up_later_than_the_snapshot(snapshot_day: int, offset: float) -> None:
    import datetime as dt

    import pytest
    from referral_helpers import chain_pool, refund

    from privdomain.errors import ValidationError
    from privdomain.referral import ReferralAttribution, k_factor, referral_rate

    pool = chain_pool([refund("r1", "d", at(6), "100.00", "o1")])
    snapshot = pool.snapshot(at(snapshot_day))
    when = snapshot.as_of + dt.timedelta(days=offset)
    rule = CommissionRule(("0.05",))
    if when > snapshot.as_of:
        with pytest.raises(ValidationError, match="take a snapshot as of"):
            attribute(snapshot, rule, as_of=when)
        with pytest.raises(ValidationError, match="take a snapshot as of"):
            ReferralAttribution(rule).attribute(snapshot, as_of=when)
    else:  # as of an earlier instant: a ledger, never one that settles a refunded order
        ledger = attribute(snapshot, rule, as_of=when)
        assert ledger.as_of == when
        if snapshot_day >= 6:
            assert ledger.total("o1") == Money(0)
    end = snapshot.as_of + dt.timedelta(days=offset, microseconds=1)
    start = at(-1)
    if end > snapshot.as_of + dt.timedelta(microseconds=1):
        for metric in (referral_rate, k_factor):
            with pytest.raises(ValidationError, match="take a snapshot as of"):
                metric(snapshot, start=start, end=end)
    elif end > start:
        assert k_factor(snapshot, start=start, end=end).customers >= 0
