"""Two-tier commission: exact amounts, freezing, reversal, idempotence, settlement."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from helpers import at
from referral_helpers import chain_pool, refund, snap

from privdomain import Customer, Money, Pool, Touchpoint
from privdomain.errors import CurrencyMismatchError, InvalidRuleError, ValidationError
from privdomain.memory import InMemoryCommissionLedger
from privdomain.ports import CommissionStatus
from privdomain.referral import CommissionRule, ReferralAttribution, attribute, bind, settle

RULE = CommissionRule(("0.05", "0.02"), agent_rate="0.03")


def _by(ledger, order_id):  # type: ignore[no-untyped-def]
    m = ledger.order_id == order_id
    return sorted(
        zip(
            ledger.beneficiary_id[m].tolist(),
            ledger.tier[m].tolist(),
            ledger.amount_minor[m].tolist(),
            strict=False,
        )
    )


def test_two_tiers_and_the_agent() -> None:
    ledger = attribute(snap(chain_pool()), RULE, refund_window_days=7)
    # o1: 100.00 paid; pool floor(10000 * 10%) = 1000 fen: c 500, b 200, agent g1 300
    assert _by(ledger, "o1") == [("b", 2, 200), ("c", 1, 500), ("g1", 1, 300)]
    # o2: 33.33 paid, no agent; pool floor(3333 * 7%) = 233 split 5:2 -> 166.4, 66.6 -> 166, 67
    assert _by(ledger, "o2") == [("b", 2, 67), ("c", 1, 166)]
    assert "a" not in ledger.beneficiary_id.tolist()  # three tiers up: never
    assert ledger.total() == Money(1233)
    text = ledger.explain("o1")
    assert "commission pool 10.00 CNY" in text
    assert "'g1'" in text
    assert "no commission" in ledger.explain("nope")


def test_frozen_through_the_refund_window() -> None:
    s = snap(chain_pool(), days=10)  # o1 on day 4, o2 on day 5
    ledger = attribute(s, RULE, refund_window_days=5.5)
    status = {o: set(ledger.status[ledger.order_id == o].tolist()) for o in ("o1", "o2")}
    assert status == {"o1": {1}, "o2": {0}}
    later = attribute(snap(chain_pool(), days=30), RULE)
    assert set(later.status.tolist()) == {1}


def test_as_of_later_than_the_snapshot_is_refused() -> None:
    # the snapshot of day 5 cannot see the refund of day 6: no settling as of day 20 from it
    pool = chain_pool([refund("r1", "d", at(6), "100.00", "o1")])
    early = pool.snapshot(at(5))
    with pytest.raises(ValidationError, match="take a snapshot as of"):
        attribute(early, RULE, as_of=at(20))
    with pytest.raises(ValidationError, match="take a snapshot as of"):
        ReferralAttribution(RULE).attribute(early, as_of=at(20))
    assert attribute(early, RULE, as_of=at(5)).to_records() == attribute(early, RULE).to_records()
    assert attribute(pool.snapshot(at(20)), RULE).total("o1") == Money(0)


def test_whole_refund_reverses_and_re_attribution_nets_to_zero() -> None:
    pool = chain_pool()
    first = attribute(snap(pool, 6), RULE)
    assert first.update(attribute(snap(pool, 6), RULE)).to_records() == first.to_records()
    pool.ingest([refund("r1", "d", at(7), "100.00", "o1")])
    second = first.update(attribute(snap(pool, 8), RULE))
    assert second.total("o1") == Money(0)
    assert second.total("o2") == first.total("o2")
    rev = second.status == 2
    assert (second.amount_minor[rev] < 0).all()
    assert set(second.order_id[rev]) == {"o1"}


def test_partial_refund() -> None:
    pool = chain_pool([refund("r1", "d", at(6), "40.00", "o1")])
    ledger = attribute(snap(pool), RULE)
    # net 60.00: pool 600 fen: c 300, b 120, g1 180
    assert ledger.total("o1") == Money(600)


def test_caps() -> None:
    per_order = CommissionRule(("0.05", "0.02"), agent_rate="0.03", per_order_cap=500)
    ledger = attribute(snap(chain_pool()), per_order)
    assert _by(ledger, "o1") == [("b", 2, 100), ("c", 1, 250), ("g1", 1, 150)]
    per_month = CommissionRule.of(("0.05", "0.02"), per_period_cap=Money(600))
    ledger = attribute(snap(chain_pool()), per_month)
    # c earns 500 on o1, then only 100 of 166 on o2 (same month)
    assert _by(ledger, "o2") == [("b", 2, 67), ("c", 1, 100)]


def test_settle_posts_once() -> None:
    pool = chain_pool()
    store = InMemoryCommissionLedger()
    ledger = attribute(snap(pool, 60), RULE)
    report = settle(ledger, store)
    assert report.posted == 5
    assert report.skipped_orders == ()
    assert {e.status for e in store.entries()} == {CommissionStatus.PAYABLE}
    again = settle(ledger, store)
    assert again.posted == 0
    assert again.skipped_orders == ("o1", "o2")
    assert sum(e.amount.minor for e in store.entries()) == 1233


def _other_tenant(day: float, currency: str = "CNY") -> Pool:
    """Another brand whose ids collide with :func:`chain_pool`'s: c refers d, d buys o1."""
    p = Pool("brand-y", currency=currency)
    joined = [Customer("c", "brand-y", at(0)), Customer("d", "brand-y", at(1), referrer_id="c")]
    order = Touchpoint(
        "y1", "brand-y", "d", at(day), "mini_program", "purchased",
        amount=Money.of("500.00", currency), order_id="o1",
    )  # fmt: skip
    assert p.ingest([*joined, order]).ok
    return p


@pytest.mark.parametrize(("day", "currency"), [(9.5, "CNY"), (4, "HKD")])
def test_settle_refuses_a_store_holding_another_tenants_orders(day: float, currency: str) -> None:
    store = InMemoryCommissionLedger()
    assert settle(attribute(snap(chain_pool(), 60), RULE), store).posted == 5
    before = store.entries()
    other = attribute(_other_tenant(day, currency).snapshot(at(60)), CommissionRule(("0.1",)))
    # o1 -> c is also an id of the first tenant: its entry is not this order's (other instant
    # or currency), so it must not be skipped as settled
    with pytest.raises(ValidationError, match="one store per tenant"):
        settle(other, store)
    assert store.entries() == before
    assert settle(other, InMemoryCommissionLedger()).posted == 1  # a store of its own


def test_settle_updates_frozen_and_reverses() -> None:
    pool = chain_pool()
    store = InMemoryCommissionLedger()
    settle(attribute(snap(pool, 6), RULE), store)
    assert {e.status for e in store.entries()} == {CommissionStatus.FROZEN}
    pool.ingest([refund("r1", "d", at(7), "100.00", "o1")])
    settle(attribute(snap(pool, 30), RULE), store)
    o1 = [e for e in store.entries() if e.order_id == "o1"]
    assert {e.status for e in o1} == {CommissionStatus.REVERSED}
    assert all(e.amount.minor == 0 for e in o1)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: CommissionRule(-0.1), InvalidRuleError, "tier-1 rate"),
        (lambda: CommissionRule((0.5, 0.3), agent_rate=0.3), InvalidRuleError, "above 100%"),
        (lambda: CommissionRule((0.1, 0.05, 0.01)), InvalidRuleError, "DOMAIN §6"),
        (lambda: CommissionRule((0.1, 0.05, 0.01, 0.01)), InvalidRuleError, "4 tiers"),
        (lambda: CommissionRule(()), InvalidRuleError, "tier-1"),
        (lambda: CommissionRule("abc"), InvalidRuleError, "tier-1"),
        (lambda: CommissionRule(True), InvalidRuleError, "tier-1"),
        (lambda: CommissionRule(Decimal("0.0000001")), InvalidRuleError, "millionth"),
        (lambda: CommissionRule(0.1, agent_rate=2), InvalidRuleError, "agent_rate"),
        (lambda: CommissionRule(0.1, per_order_cap=-1), InvalidRuleError, "cap"),
        (lambda: CommissionRule(0.1, per_period_cap=1.5), InvalidRuleError, "cap"),
        (
            lambda: CommissionRule.of(0.1, per_order_cap=Money(1), per_period_cap=Money(1, "USD")),
            CurrencyMismatchError,
            "currencies",
        ),
    ],
)
def test_bad_rules(make, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        make()


def test_bad_attribute_calls() -> None:
    s = snap(chain_pool())
    with pytest.raises(CurrencyMismatchError, match="USD"):
        attribute(s, CommissionRule.of(0.1, per_order_cap=Money(100, "USD")))
    with pytest.raises(ValidationError, match="Snapshot"):
        attribute("x", RULE)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="CommissionRule"):
        attribute(s, 0.1)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="refund_window_days"):
        attribute(s, RULE, refund_window_days=-1)
    with pytest.raises(ValidationError, match="bindings"):
        attribute(s, RULE, bindings="permanent")  # type: ignore[arg-type]
    usd = attribute(s, RULE)
    object.__setattr__(usd, "currency", "USD")
    with pytest.raises(CurrencyMismatchError):
        attribute(s, RULE).update(usd)
    with pytest.raises(ValidationError, match="AttributionLedger"):
        settle("x", InMemoryCommissionLedger())  # type: ignore[arg-type]


def test_unknown_customers_get_no_credit() -> None:
    # a referrer who joins after the snapshot is unknown to it: nobody is credited
    s = snap(chain_pool(), days=2.5)  # c joined at day 2, d (the buyer) not yet
    assert len(attribute(s, RULE)) == 0
    assert len(s.order_log) == 0
    ledger = attribute(snap(chain_pool()), RULE)
    assert np.isin(ledger.beneficiary_id[ledger.role == 0], snap(chain_pool()).customer_ids).all()


def test_referrers_outside_a_partition_come_from_the_global_bindings() -> None:
    s = snap(chain_pool())
    part = s.take([s.row("d"), s.row("e")])  # d's referrer c is not in this partition
    assert part.referrer_row.tolist() == [-1, -1]
    ledger = attribute(part, RULE)
    assert ledger.beneficiary_id.tolist() == ["g1"]  # alone, only the agent is known
    # with the bindings of the whole snapshot, the partition credits as the whole does
    whole = attribute(s, RULE)
    assert attribute(part, RULE, bindings=bind(s)).to_records() == whole.to_records()
    # bindings that do not know the partition's customers are refused
    other = s.take([s.row("a"), s.row("b")])
    with pytest.raises(ValidationError, match="bindings"):
        attribute(part, RULE, bindings=bind(other))


def test_rates_may_sum_to_exactly_the_whole_order() -> None:
    ledger = attribute(snap(chain_pool()), CommissionRule(("0.5", "0.3"), agent_rate="0.2"))
    assert ledger.total("o1") == Money.of("100.00")


def test_chunks_on_threads_give_the_same_ledger(monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    import attrs

    from privdomain.referral import commission
    from privdomain.simulate import simulate_pool

    s = (
        simulate_pool(1_500, seed=11, referral_share=0.4)
        .pool()
        .snapshot(as_of=dt.datetime(2026, 6, 30, tzinfo=dt.UTC))
    )
    log = s.order_log  # refund half of every seventh order
    back = np.where(np.arange(len(log)) % 7 == 0, log.gross_minor // 2, 0)
    s = attrs.evolve(s, order_log=attrs.evolve(log, refunded_minor=back))
    rule = CommissionRule(("0.05", "0.02"), agent_rate="0.03", per_period_cap=30_000)
    whole = attribute(s, rule, threads=1)
    assert len(s.order_log) > 300
    assert (whole.status == 2).any()  # refunds reversed
    monkeypatch.setattr(commission, "_CHUNK_ORDERS", 97)
    for threads in (1, 2, 3):
        chunked = attribute(s, rule, threads=threads)
        assert chunked.to_records() == whole.to_records()
    with pytest.raises(ValidationError, match="threads"):
        attribute(s, rule, threads=0)
