"""Referral rate, K-factor, referrers' and agents' results."""

from __future__ import annotations

import math

import pytest
from helpers import at, customer
from referral_helpers import chain_pool, invite, refund, snap

from privdomain import ProfileChanges
from privdomain.errors import ValidationError
from privdomain.referral import agent_stats, k_factor, referral_rate, referrer_stats


def _pool():  # type: ignore[no-untyped-def]
    # f joins at day 20 after a's invitation at day 19; a also invites e (already a customer)
    return chain_pool(
        [
            customer("f", at(20)),
            invite("i1", "a", "f", at(19)),
            invite("i2", "a", "e", at(19)),
            refund("r1", "d", at(6), "10.00", "o1"),
        ]
    )


def test_referral_rate() -> None:
    s = snap(_pool())
    r = referral_rate(s, start=at(0))
    # joined: a b c d e f; b, c, d (registered) and f (invited) were brought by customers
    assert (r.new_customers, r.referred) == (6, 4)
    assert r.rate == pytest.approx(4 / 6)
    assert referral_rate(s, start=at(1), end=at(3)).referred == 2  # b and c
    assert math.isnan(referral_rate(s, start=at(40)).rate)


def test_k_factor() -> None:
    k = k_factor(snap(_pool()), start=at(0))
    assert (k.customers, k.invites, k.converted) == (6, 2, 1)
    assert k.invites_per_customer == pytest.approx(2 / 6)
    assert k.conversion == pytest.approx(0.5)
    assert k.k == pytest.approx(k.invites_per_customer * k.conversion)


def test_per_referrer_and_per_agent() -> None:
    s = snap(_pool())
    stats = referrer_stats(s)
    rows = {r["customer_id"]: r for r in stats.to_records()}
    assert rows["a"]["referred"] == 3  # b, e (invited, not brand new is allowed here), f
    assert rows["c"]["referred"] == 1
    assert rows["c"]["revenue_minor"] == 9000 + 3333  # net of the 10.00 refund
    assert rows["b"]["revenue_minor"] == 0
    agents = agent_stats(s).to_records()
    assert agents == [{"agent_id": "g1", "customers": 0, "revenue_minor": 9000}]


def test_bad_windows() -> None:
    s = snap(_pool())
    with pytest.raises(ValidationError, match="window"):
        referral_rate(s, start=at(10), end=at(5))
    with pytest.raises(ValidationError, match="Snapshot"):
        k_factor("x", start=at(0))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="bindings"):
        referrer_stats(s, bindings="x")  # type: ignore[arg-type]


def test_windows_end_no_later_than_the_snapshot() -> None:
    s = _pool().snapshot(at(10))
    for f in (referral_rate, k_factor):
        with pytest.raises(ValidationError, match="take a snapshot as of"):
            f(s, start=at(0), end=at(30))  # type: ignore[operator]
    assert k_factor(s, start=at(0), end=at(10)) == k_factor(s, start=at(0))


def test_agent_stats_as_of() -> None:
    pool = chain_pool()
    changes = ProfileChanges.from_arrays(
        customer_id=["a"], tenant=pool.tenant, at=[at(20)], agent_id=["g-new"]
    )
    assert pool.ingest(changes).ok
    # as of day 10, g-new is nobody's agent yet; g1 is credited with d's order of day 4
    assert agent_stats(pool.snapshot(at(10))).to_records() == [
        {"agent_id": "g1", "customers": 0, "revenue_minor": 10000}
    ]
    later = {r["agent_id"]: r for r in agent_stats(pool.snapshot(at(30))).to_records()}
    assert later["g-new"] == {"agent_id": "g-new", "customers": 1, "revenue_minor": 0}
    assert agent_stats(pool.snapshot(at(3))).to_records() == []
