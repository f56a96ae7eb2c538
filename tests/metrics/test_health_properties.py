"""Invariants of the health report, with hypothesis.

- the revenue decomposition sums to the change exactly (exact arithmetic) and to rounding in
  floating point, for any factor values, zeros included;
- every per-customer figure equals a slow reference computed from the ingested records by plain
  loops (orders, net revenue, inflow, traffic, cohort counts);
- retention lies in [0, 1] and exists exactly on the triangle; the funnel never widens;
- nothing dated after ``as_of`` counts: customers who join, purchases, refunds and profile
  updates after it change nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from helpers import TENANT, TZ8, at, customer, new_pool, purchase, touch
from hypothesis import given, settings
from hypothesis import strategies as st

from privdomain import Channel, ProfileChanges, TouchKind
from privdomain.errors import ValidationError
from privdomain.metrics import RevenueFactors, decompose, health, shapley

SOURCES = (Channel.DOUYIN, Channel.TAOBAO, Channel.XIAOHONGSHU, Channel.OFFLINE_STORE)

fractions = st.fractions(min_value=-50, max_value=50, max_denominator=20) | st.just(Fraction(0))
factor_lists = st.integers(1, 5).flatmap(
    lambda n: st.tuples(
        st.lists(fractions, min_size=n, max_size=n), st.lists(fractions, min_size=n, max_size=n)
    )
)


# ---------------------------------------------------------------------------- decomposition
@settings(max_examples=80, deadline=None)
@given(factor_lists)
def test_shapley_parts_sum_exactly(pair: tuple[list[Fraction], list[Fraction]]) -> None:
    before, after = pair
    parts = shapley(before, after)
    assert sum(parts) == math.prod(after) - math.prod(before)
    # a factor that does not move contributes nothing
    for i, (a, b) in enumerate(zip(before, after, strict=True)):
        if a == b:
            assert parts[i] == 0


@settings(max_examples=40, deadline=None)
@given(factor_lists, st.randoms(use_true_random=False))
def test_shapley_does_not_depend_on_the_order_of_factors(pair: Any, rnd: Any) -> None:
    before, after = pair
    order = list(range(len(before)))
    rnd.shuffle(order)
    parts = shapley(before, after)
    shuffled = shapley([before[i] for i in order], [after[i] for i in order])
    assert shuffled == [parts[i] for i in order]


@settings(max_examples=50, deadline=None)
@given(fractions, fractions, fractions, fractions)
def test_two_factors_have_the_textbook_closed_form(x0: Any, x1: Any, y0: Any, y1: Any) -> None:
    assert shapley([x0, y0], [x1, y1]) == [(x1 - x0) * (y0 + y1) / 2, (y1 - y0) * (x0 + x1) / 2]


def test_four_factors_by_hand() -> None:
    # every factor doubles: 1 -> 16, split evenly by symmetry
    assert shapley([1, 1, 1, 1], [2, 2, 2, 2]) == [Fraction(15, 4)] * 4
    # two factors move: x 1 -> 2 and w 1 -> 3, revenue 1 -> 6
    assert shapley([1, 1, 1, 1], [2, 1, 1, 3]) == [2, 0, 0, 3]
    # traffic 100 -> 120 at conversion 0.1, order value 50, one order per buyer
    parts = shapley([100, Fraction(1, 10), 50, 1], [120, Fraction(1, 10), 50, 1])
    assert parts == [100, 0, 0, 0]


def test_zero_revenue_periods() -> None:
    # nobody bought before: conversion explains the whole gain
    d = decompose(RevenueFactors(100, 0, 0, 0.0), RevenueFactors(100, 10, 12, 600.0))
    assert d.contributions == (0.0, 600.0, 0.0, 0.0)
    # an empty pool before: traffic explains it all
    d = decompose(RevenueFactors(0, 0, 0, 0.0), RevenueFactors(50, 5, 5, 100.0))
    assert d.contributions == (100.0, 0.0, 0.0, 0.0)
    # nobody bought in either period: nothing to explain
    d = decompose(RevenueFactors(10, 0, 0, 0.0), RevenueFactors(30, 0, 0, 0.0))
    assert d.contributions == (0.0, 0.0, 0.0, 0.0)
    # nobody bought after: conversion takes the loss
    d = decompose(RevenueFactors(10, 2, 3, 90.0), RevenueFactors(10, 0, 0, 0.0))
    assert d.contributions == (0.0, -90.0, 0.0, 0.0)
    assert d.to_records()[2]["after"] is None


@st.composite
def factors(draw: Any) -> RevenueFactors:
    traffic = draw(st.integers(0, 10**6))
    buyers = draw(st.integers(0, traffic))
    orders = 0 if buyers == 0 else draw(st.integers(buyers, 5 * buyers))
    revenue = 0.0 if orders == 0 else draw(st.floats(-1e4, 1e7, allow_nan=False))
    return RevenueFactors(traffic, buyers, orders, revenue)


@settings(max_examples=120, deadline=None)
@given(factors(), factors())
def test_decomposition_sums_to_the_change(before: RevenueFactors, after: RevenueFactors) -> None:
    d = decompose(before, after)
    assert all(math.isfinite(c) for c in d.contributions)
    scale = max(abs(before.revenue), abs(after.revenue), 1.0)
    assert abs(math.fsum(d.contributions) - d.change) <= 1e-9 * scale


def test_shapley_refuses_mismatched_lists() -> None:
    with pytest.raises(ValidationError):
        shapley([1, 2], [1])
    with pytest.raises(ValidationError):
        shapley([], [])


# ---------------------------------------------------------------------------- random pools
AS_OF_DAY = 40


@st.composite
def shops(draw: Any) -> dict[str, Any]:
    """Customers joining from day -80 to day 60 (some after as_of, day 40), their purchases
    (some after as_of), refunds naming orders, and profile updates after as_of."""
    n = draw(st.integers(0, 12))
    joins = draw(st.lists(st.integers(-80 * 24, 60 * 24), min_size=n, max_size=n))
    sources = draw(st.lists(st.sampled_from(SOURCES), min_size=n, max_size=n))
    consents = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    buys = []
    if n:
        buys = draw(
            st.lists(
                st.tuples(
                    st.integers(0, n - 1),
                    st.integers(0, 50 * 24),  # hours after joining
                    st.integers(1, 50_000),  # fen
                    st.sampled_from([None, 0.5, 1.0]),  # refunded share
                ),
                max_size=25,
            )
        )
    start_day = draw(st.integers(-60, AS_OF_DAY - 1))
    return {
        "joins": joins,
        "sources": sources,
        "consents": consents,
        "buys": buys,
        "start": at(start_day, hours=draw(st.integers(0, 23))),
    }


def build(shop: dict[str, Any], *, only_until: dt.datetime | None = None) -> Any:
    """The pool of ``shop``; with ``only_until``, without anything dated after it."""
    records: list[Any] = []
    late: list[str] = []
    for i, (hours, source, consent) in enumerate(
        zip(shop["joins"], shop["sources"], shop["consents"], strict=True)
    ):
        when = at(hours=hours)
        if only_until is not None and when > only_until:
            continue
        records.append(
            customer(f"c{i}", when, source=source, consent={"wecom"} if consent else set())
        )
        if only_until is None:
            late.append(f"c{i}")
    for k, (i, after, fen, refund) in enumerate(shop["buys"]):
        joined = at(hours=shop["joins"][i])
        when = joined + dt.timedelta(hours=after)
        if only_until is not None and (joined > only_until or when > only_until):
            continue
        amount = f"{fen / 100:.2f}"
        records.append(purchase(f"p{k}", f"c{i}", when, amount, order_id=f"o{k}"))
        if refund is not None:
            back = when + dt.timedelta(days=3)
            if only_until is None or back <= only_until:
                cents = int(fen * refund)
                if cents:
                    records.append(
                        touch(
                            f"r{k}",
                            f"c{i}",
                            back,
                            TouchKind.REFUNDED,
                            amount=f"{cents / 100:.2f}",
                            order_id=f"o{k}",
                        )
                    )
    pool = new_pool()
    report = pool.ingest(records)
    assert report.ok, report.rejected
    if late:  # every customer withdraws consent and is tagged after as_of
        when = max(at(AS_OF_DAY + 1), *(at(hours=h + 1) for h in shop["joins"]))
        report = pool.ingest(
            ProfileChanges.from_arrays(
                customer_id=late,
                tenant=TENANT,
                at=np.full(len(late), np.datetime64(when.replace(tzinfo=None), "s")),
                consent={"wecom": [False] * len(late)},
                tags={"vip": [True] * len(late)},
            )
        )
        assert report.ok, report.rejected
    return pool


def reference(shop: dict[str, Any], as_of: dt.datetime, start: dt.datetime) -> dict[str, Any]:
    """The report's figures from the records, by loops."""
    prev = start - (as_of - start)
    out: dict[str, Any] = {"orders": {}, "revenue": {}, "prev_orders": {}, "prev_revenue": {}}
    joined = {f"c{i}": at(hours=h) for i, h in enumerate(shop["joins"])}
    present = {c for c, when in joined.items() if when <= as_of}
    for i, after, fen, refund in shop["buys"]:
        cid = f"c{i}"
        when = joined[cid] + dt.timedelta(hours=after)
        if cid not in present or when > as_of:
            continue
        net = fen
        if refund is not None and when + dt.timedelta(days=3) <= as_of:
            net -= int(fen * refund)
        key = "" if when >= start else "prev_" if when >= prev else None
        if key is None:
            continue
        out[key + "orders"][cid] = out[key + "orders"].get(cid, 0) + 1
        out[key + "revenue"][cid] = out[key + "revenue"].get(cid, 0) + net
    out["inflow"] = sum(1 for c in present if joined[c] >= start)
    out["traffic"] = len(present)
    out["previous_traffic"] = sum(1 for c in present if joined[c] < start)

    # cohorts: months in China time, the as_of month and the 3 before
    def month(t: dt.datetime) -> int:
        local = t.astimezone(TZ8)
        return local.year * 12 + local.month - 1

    last = month(as_of)
    size: dict[int, int] = {}
    active: dict[tuple[int, int], set[str]] = {}
    for c in present:
        cohort = month(joined[c])
        if last - 3 <= cohort <= last:
            size[cohort - last + 3] = size.get(cohort - last + 3, 0) + 1
    for i, after, _fen, _refund in shop["buys"]:
        cid = f"c{i}"
        when = joined[cid] + dt.timedelta(hours=after)
        cohort = month(joined[cid])
        if cid in present and when <= as_of and last - 3 <= cohort <= last:
            active.setdefault((cohort - last + 3, month(when) - cohort), set()).add(cid)
    out["cohort_size"] = [size.get(c, 0) for c in range(4)]
    out["cohort_active"] = [[len(active.get((c, k), ())) for k in range(4)] for c in range(4)]
    return out


@settings(max_examples=40, deadline=None)
@given(shops())
def test_report_equals_the_slow_reference(shop: dict[str, Any]) -> None:
    as_of = at(AS_OF_DAY)
    pool = build(shop)
    report = health(pool.snapshot(as_of), start=shop["start"], cohort_months=4)
    ref = reference(shop, as_of, shop["start"])
    ids = list(report.customer_ids)
    assert report.customers == ref["traffic"]
    assert report.inflow == ref["inflow"]
    assert report.previous_traffic == ref["previous_traffic"]
    for name, column in (
        ("orders", report.orders),
        ("revenue", report.revenue_minor),
        ("prev_orders", report.previous_orders),
        ("prev_revenue", report.previous_revenue_minor),
    ):
        assert column.tolist() == [ref[name].get(c, 0) for c in ids], name
    assert report.factors.revenue == sum(ref["revenue"].values()) / 100
    # the cohort triangle
    cohorts = report.cohorts
    assert cohorts.size.sum(axis=0).tolist() == ref["cohort_size"]
    counts = cohorts.counts()
    for c in range(4):
        for k in range(4 - c):
            assert counts[c, k] == ref["cohort_active"][c][k]
    retention = cohorts.retention()
    shape = np.add.outer(np.arange(4), np.arange(4)) < 4
    filled = shape & (cohorts.size.sum(axis=0) > 0)[:, None]
    assert np.isnan(retention[~filled]).all()
    assert ((retention[filled] >= 0) & (retention[filled] <= 1)).all()
    # the funnel never widens, and holds exactly the window's arrivals
    counts = report.funnel.counts
    assert (np.diff(counts, axis=1) <= 0).all()
    assert int(counts[:, 0].sum()) == ref["inflow"]
    # the decomposition of the report adds up
    d = report.decomposition()
    assert abs(math.fsum(d.contributions) - d.change) <= 1e-9 * max(
        abs(d.before.revenue), abs(d.after.revenue), 1.0
    )


def _comparable(report: Any) -> Any:
    return (
        report.metrics(),
        report.to_records(),
        report.cohorts.to_records(),
        report.funnel.to_records(),
    )


@settings(max_examples=25, deadline=None)
@given(shops())
def test_nothing_after_as_of_counts(shop: dict[str, Any]) -> None:
    as_of = at(AS_OF_DAY)
    everything = build(shop)
    until = build(shop, only_until=as_of)
    a = health(everything.snapshot(as_of), start=shop["start"], cohort_months=4)
    b = health(until.snapshot(as_of), start=shop["start"], cohort_months=4)
    assert _comparable(a) == _comparable(b)


# ---------------------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def small() -> Any:
    pool = new_pool()
    pool.ingest([customer("a", at(0)), purchase("p", "a", at(1), "10.00")])
    return pool


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give start"),
        ({"start": 1767225600}, "timezone-aware"),
        ({"start": "2026-01-01"}, "timezone-aware"),
        ({"start": dt.datetime(2026, 1, 1)}, "naive"),
        ({"start": at(10)}, "before the snapshot's as_of"),
        ({"start": at(20)}, "before the snapshot's as_of"),
        ({"start": at(0), "spend": {"myspace": 10}}, "unknown channel"),
        ({"start": at(0), "spend": {"douyin": -1}}, ">= 0"),
        ({"start": at(0), "spend": {"douyin": float("nan")}}, ">= 0"),
        ({"start": at(0), "spend": {"douyin": "10"}}, "number"),
        ({"start": at(0), "spend": {"douyin": True}}, "number"),
        ({"start": at(0), "spend": [("douyin", 1)]}, "mapping"),
        ({"start": at(0), "spend": {"douyin": 1, Channel.DOUYIN: 2}}, "twice"),
        ({"start": at(0), "cohort_months": 0}, "cohort_months"),
        ({"start": at(0), "cohort_months": 2.5}, "cohort_months"),
        ({"start": at(0), "cohort_months": True}, "cohort_months"),
        ({"start": at(0), "value": "clv"}, "LifetimeValue"),
        ({"start": at(0), "kocs": "top 10"}, "KOCDetector"),
        ({"start": at(0), "super_users": 0.8}, "ValueTiers"),
        ({"previous": "yesterday"}, "Snapshot as of start"),
    ],
)
def test_bad_input_is_refused(small: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        health(small.snapshot(at(10)), **kwargs)


def test_previous_must_be_the_same_pool_as_of_start(small: Any) -> None:
    snap = small.snapshot(at(10))
    with pytest.raises(ValidationError, match="not start"):
        health(snap, start=at(1), previous=small.snapshot(at(2)))
    other = new_pool()
    other.ingest([customer("z", at(0))])
    with pytest.raises(ValidationError, match="same pool"):
        health(snap, previous=other.snapshot(at(2)))
    with pytest.raises(ValidationError, match="takes a Snapshot"):
        health(snap.to_records(), start=at(1))  # type: ignore[arg-type]


def test_an_empty_pool_has_a_report() -> None:
    pool = new_pool()
    report = health(pool.snapshot(at(10)), start=at(0))
    assert report.customers == 0
    assert report.inflow == 0
    assert math.isnan(report.conversion)
    assert math.isnan(report.source_concentration)
    assert report.decomposition().contributions == (0.0, 0.0, 0.0, 0.0)
    assert report.funnel.counts.shape == (0, 5)
    assert np.isnan(report.cohorts.retention()).all()
    assert "0 customers" in repr(report)


@settings(max_examples=30, deadline=None)
@given(
    joins=st.lists(st.integers(0, 20), min_size=1, max_size=8),
    shift=st.integers(-3, 3),  # the other pool's first join time, shifted (0: the same)
    drop_last=st.booleans(),  # the other pool lacks the last customer
    start=st.integers(0, 25),
)
def test_previous_is_accepted_exactly_when_it_is_this_pool(
    joins: list[int], shift: int, drop_last: bool, start: int
) -> None:
    """An earlier snapshot of the pool itself is accepted; another pool whose records as of
    ``start`` differ (a join time, a customer who had joined) is refused, however the ids line
    up."""
    pool = new_pool()
    assert pool.ingest([customer(f"c{i}", at(d)) for i, d in enumerate(joins)]).ok
    later = pool.snapshot(at(30))
    assert health(later, previous=pool.snapshot(at(start))).outflow == 0  # nobody withdrew
    moved = [d + shift if i == 0 else d for i, d in enumerate(joins)]
    kept = len(joins) - 1 if drop_last and len(joins) > 1 else len(joins)
    other = new_pool()
    assert other.ingest([customer(f"c{i}", at(moved[i])) for i in range(kept)]).ok
    previous = other.snapshot(at(start))
    differs = (shift != 0 and min(joins[0], moved[0]) <= start) or (
        kept < len(joins) and joins[-1] <= start
    )
    if differs:
        with pytest.raises(ValidationError, match="same pool"):
            health(later, previous=previous)
    else:  # the same records as of start (what differs happened later): nothing tells apart
        health(later, previous=previous)
