"""The health report on a pool small enough to count by hand, and its exports."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from helpers import at, customer, new_pool, purchase, touch

from privdomain import OWNED_CHANNELS, Channel, Pool, TouchKind
from privdomain.errors import ValidationError
from privdomain.metrics import HealthReport, RevenueFactors, decompose, health, shapley


@pytest.fixture
def shop() -> Pool:
    """Six customers over the first six weeks of 2026 (China time).

    - alice (douyin, day 0) buys 100 on day 1 and 50 on day 5 (order o2, 20 refunded on day 6),
      and again on day 35 (after the report's instant);
    - bob (referred by alice, day 10) buys 30 on day 12 and 10 on day 20;
    - carol (taobao, day 11) is on WeCom, never buys, posts a review;
    - eve (douyin, day 2) is on WeCom and deletes the brand's account on day 20;
    - frank (taobao, day 9) buys 40 on day 15 through the mini-program, never added;
    - dave joins on day 40, after the report's instant.
    """
    p = new_pool()
    report = p.ingest(
        [
            customer("alice", at(0), source=Channel.DOUYIN, consent={"wecom", "sms"}),
            customer("bob", at(10), source="referral", referrer_id="alice", consent={"wecom"}),
            customer("carol", at(11), source=Channel.TAOBAO, consent={"wecom"}),
            customer("eve", at(2), source=Channel.DOUYIN, consent={"wecom"}),
            customer("frank", at(9), source=Channel.TAOBAO),
            customer("dave", at(40), source=Channel.JD),
            purchase("t1", "alice", at(1), "100.00", order_id="o1"),
            purchase("t2", "alice", at(5), "50.00", order_id="o2"),
            touch("t3", "alice", at(6), TouchKind.REFUNDED, amount="20.00", order_id="o2"),
            purchase("t4", "alice", at(35), "70.00"),
            purchase("t5", "bob", at(12), "30.00"),
            purchase("t6", "bob", at(20), "10.00"),
            touch("t7", "carol", at(13), TouchKind.POSTED),
            touch("t8", "eve", at(20), TouchKind.DELETED),
            purchase("t9", "frank", at(15), "40.00"),
        ]
    )
    assert report.ok, report.rejected
    return p


AS_OF, START = at(30), at(8)


def test_the_three_core_metrics_by_hand(shop: Pool) -> None:
    r = health(shop.snapshot(AS_OF), previous=shop.snapshot(START))
    # pool: dave joined after as_of and is not there
    assert r.customers == 5
    assert r.inflow == 3  # bob, carol, frank
    assert r.reachable == 3  # alice, bob, carol; eve left, frank was never added
    assert r.outflow == 1  # eve
    assert r.reachable_at_start == 2  # alice, eve
    assert r.sources == {Channel.TAOBAO: 2, Channel.REFERRAL: 1}
    assert r.source_breadth == 1  # referral is the pool feeding itself
    assert r.source_concentration == 1.0
    wecom = OWNED_CHANNELS.index(Channel.WECOM)
    assert r.reachable_share[wecom] == pytest.approx(3 / 5)
    assert r.multi_channel_share == pytest.approx(1 / 5)  # alice: wecom and sms
    # value per customer: window [day 8, day 30] holds bob's two orders and frank's
    assert r.factors == RevenueFactors(traffic=5, buyers=2, orders=3, revenue=80.0)
    assert r.conversion == pytest.approx(2 / 5)
    assert r.order_value == pytest.approx(80 / 3)
    assert r.repurchase_rate == pytest.approx(1 / 2)  # bob bought on two days, frank on one
    assert r.revenue_per_customer == pytest.approx(16.0)
    assert math.isnan(r.expected_clv)
    # previous period [day -14, day 8): alice's two orders, 130 net; alice and eve had joined
    assert r.previous_factors == RevenueFactors(traffic=2, buyers=1, orders=2, revenue=130.0)
    # referral: bob of the three new customers was brought by an existing one
    assert (r.referral.new_customers, r.referral.referred) == (3, 1)
    assert r.referral_rate == pytest.approx(1 / 3)
    # KPIs
    assert r.creators == 1  # carol
    assert r.kocs == 0  # nobody reaches the default score of 10
    assert r.super_users >= 1


def test_funnel_by_hand(shop: Pool) -> None:
    r = health(shop.snapshot(AS_OF), start=START, spend={"taobao": 90, Channel.JD: 10.0})
    f = r.funnel
    assert f.sources == (Channel.TAOBAO, Channel.REFERRAL, Channel.JD)
    counts = {c: row.tolist() for c, row in zip(f.sources, f.counts, strict=True)}
    # taobao: carol and frank arrived; carol added; frank bought but was never added
    assert counts[Channel.TAOBAO] == [2, 1, 0, 0, 0]
    # bob: added, bought, bought again, referred nobody
    assert counts[Channel.REFERRAL] == [1, 1, 1, 1, 0]
    assert counts[Channel.JD] == [0, 0, 0, 0, 0]  # spend that brought nobody
    cost = f.cost_per("arrived")
    assert cost[0] == 45.0
    assert np.isnan(cost[1])
    assert cost[2] == math.inf
    cac = f.cost_per()
    assert cac[0] == math.inf
    assert f.to_records()[0]["spend"] == 90.0
    assert f.totals().tolist() == [3, 2, 1, 1, 0]


def test_cohorts_by_hand(shop: Pool) -> None:
    r = health(shop.snapshot(AS_OF), start=START, cohort_months=2)
    c = r.cohorts
    # the snapshot is as of 31 January 2026 (China): cohorts December 2025 and January 2026
    assert [str(m) for m in c.months] == ["2025-12", "2026-01"]
    assert c.size.sum(axis=0).tolist() == [0, 5]
    # January: alice, bob and frank bought in their join month
    assert c.counts()[1].tolist() == [3, 0]
    retention = c.retention()
    assert retention[1, 0] == pytest.approx(3 / 5)
    assert np.isnan(retention[1, 1])  # February has not come
    assert np.isnan(retention[0]).all()  # nobody joined in December
    douyin = c.retention("douyin")
    assert douyin[1, 0] == pytest.approx(1 / 2)  # alice of alice and eve
    assert np.isnan(c.retention("jd")).all()  # nobody came from JD by as_of
    records = c.to_records()
    assert {"source", "cohort", "months_since_joining", "customers", "active"} <= set(records[0])
    with pytest.raises(ValidationError):
        c.retention("myspace")


def test_decomposition_of_the_report(shop: Pool) -> None:
    r = health(shop.snapshot(AS_OF), start=START)
    d = r.decomposition()
    assert d.change == pytest.approx(80.0 - 130.0)
    assert sum(d.contributions) == pytest.approx(d.change, abs=1e-9)
    # against the Shapley values of the factors written out by hand
    before = [2, 1 / 2, 65.0, 2.0]
    after = [5, 2 / 5, 80 / 3, 3 / 2]
    assert list(d.contributions) == pytest.approx(shapley(before, after))


def test_outflow_needs_the_previous_snapshot(shop: Pool) -> None:
    r = health(shop.snapshot(AS_OF), start=START)
    assert r.outflow is None
    assert r.reachable_at_start is None
    assert "n/a" in repr(r)


def test_value_model_gives_expected_clv() -> None:
    from privdomain.simulate import simulate_pool
    from privdomain.value import LifetimeValue

    sim = simulate_pool(1500, seed=5)
    snap = sim.pool().snapshot(sim.as_of)
    model = LifetimeValue().fit(snap)
    values = model.apply(snap)
    r = health(snap, start=sim.as_of - dt.timedelta(days=30), value=model)
    assert r.expected_clv == pytest.approx(float(np.nanmean(values.clv)))
    again = health(snap, start=sim.as_of - dt.timedelta(days=30), value=values)
    assert again.expected_clv == r.expected_clv
    with pytest.raises(ValidationError, match="CustomerValue of this snapshot"):
        health(snap, start=sim.as_of - dt.timedelta(days=30), value=values.take(slice(0, 10)))


def test_exports_and_display(shop: Pool) -> None:
    r = health(shop.snapshot(AS_OF), previous=shop.snapshot(START))
    assert isinstance(r, HealthReport)
    records = r.to_records()
    assert [row["customer_id"] for row in records] == list(r.customer_ids)
    bob = records[list(r.customer_ids).index("bob")]
    assert bob["orders"] == 2
    assert bob["revenue"] == 40.0
    assert bob["new"] is True
    assert bob["source"] == "referral"
    metrics = {(m["group"], m["metric"]): m["value"] for m in r.metrics()}
    assert metrics[("pool", "outflow")] == 1
    assert metrics[("value", "expected_clv")] is None
    assert metrics[("revenue_change", "change")] == pytest.approx(-50.0)
    assert "customer 'eve'" in r.explain("eve")
    assert "lost = True" in r.explain("eve")
    text = repr(r)
    assert "inflow 3, outflow 1" in text
    assert "<table>" in r._repr_html_()
    pytest.importorskip("pandas")
    frame = r.to_frame()
    assert frame.loc["bob", "orders"] == 2
    assert r.metrics_frame().loc[("pool", "customers"), "value"] == 5
    with pytest.raises(ValidationError, match="whole pool"):
        r.take([0])
    with pytest.raises(ValidationError, match="whole"):
        HealthReport.concat([r])


def test_compare_says_what_changed_and_why(shop: Pool) -> None:
    early = health(shop.snapshot(at(8)), start=at(0))
    late = health(shop.snapshot(AS_OF), start=START)
    comparison = late.compare(early)
    assert comparison.before is early
    assert comparison.after is late
    assert comparison.revenue.before == early.factors
    assert comparison.revenue.after == late.factors
    assert sum(comparison.revenue.contributions) == pytest.approx(
        late.revenue - early.revenue, abs=1e-9
    )
    assert early.compare(late).revenue == comparison.revenue
    changes = {c["metric"]: c for c in comparison.changes()}
    assert changes["customers"]["before"] == 2
    assert changes["customers"]["after"] == 5
    assert changes["customers"]["change"] == 3
    text = repr(comparison)
    assert text.splitlines()[1].startswith("revenue")
    assert "traffic" in text
    assert "conversion" in text
    with pytest.raises(ValidationError, match="two different instants"):
        late.compare(late)
    with pytest.raises(ValidationError, match="HealthReport"):
        late.compare("yesterday")  # type: ignore[arg-type]


def test_decompose_refuses_other_things() -> None:
    with pytest.raises(ValidationError):
        decompose((1, 2, 3, 4), RevenueFactors(1, 1, 1, 1.0))  # type: ignore[arg-type]


def test_cohorts_counted_the_same_past_the_bitmap(
    shop: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import privdomain.metrics._cohorts as cohorts

    snap = shop.snapshot(AS_OF)
    bitmap = health(snap, start=START, cohort_months=3).cohorts
    monkeypatch.setattr(cohorts, "_BITMAP_LIMIT", 0)
    hashed = health(snap, start=START, cohort_months=3).cohorts
    assert np.array_equal(bitmap.active, hashed.active)
    assert np.array_equal(bitmap.size, hashed.size)
    assert bitmap.active.sum() > 0


def test_a_customer_joining_at_as_of_is_in_the_window(shop: Pool) -> None:
    shop.ingest([customer("gina", AS_OF, source="referral", referrer_id="alice")])
    r = health(shop.snapshot(AS_OF), start=START)
    assert r.inflow == 4
    assert (r.referral.new_customers, r.referral.referred) == (4, 2)


def test_previous_must_be_an_earlier_snapshot_of_the_same_pool(shop: Pool) -> None:
    now = shop.snapshot(AS_OF)
    # another pool of the same tenant, with the same customer ids but other join times
    twin = new_pool()
    twins = ("alice", "bob", "carol", "eve", "frank")
    assert twin.ingest([customer(c, at(1)) for c in twins]).ok
    with pytest.raises(ValidationError, match="joined at other times"):
        health(now, previous=twin.snapshot(START))
    # same join times, but a customer of the later snapshot who had joined is missing
    part = new_pool()
    assert part.ingest([customer("alice", at(0))]).ok  # eve, who joined on day 2, is missing
    with pytest.raises(ValidationError, match=r"joined by previous\.as_of"):
        health(now, previous=part.snapshot(START))
    # the same instant, or swapped: the message names previous, not start
    with pytest.raises(ValidationError, match="previous must be the earlier snapshot"):
        health(now, previous=shop.snapshot(AS_OF))
    with pytest.raises(ValidationError, match="previous must be the earlier snapshot"):
        health(shop.snapshot(START), previous=now)
    assert health(now, previous=shop.snapshot(START)).outflow == 1  # eve
