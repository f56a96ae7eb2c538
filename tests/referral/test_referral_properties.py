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
