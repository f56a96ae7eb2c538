"""Properties of ingest and snapshots on random small pools.

The pools are small (at most 15 customers and 60 touchpoints) and their instants lie on a
coarse grid of six hours, give or take a second, starting at midnight in China: ties on the same
second, several purchases a day and purchases one second either side of local midnight happen in
most examples, which is where grouped, vectorised code goes wrong.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import attrs
from helpers import (
    CHINA,
    T0,
    TENANT,
    assert_accounted,
    assert_pools_equal,
    assert_snapshots_equal,
    columns_of,
    new_pool,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import reference_records

from privdomain import Channel, Customer, Money, Pool, RejectReason, TouchKind, Touchpoint

PROPERTY = settings(max_examples=75, deadline=None)

NAMES = ["c0", "c1", "张三", "李四", "🦊", "王-🐼", "c6", "c7", "c8", "c9", "c10", "c11", "c12",
         "c13", "c14", "x" * 256]  # fmt: skip
SOURCES = [Channel.DOUYIN, Channel.TAOBAO, Channel.REFERRAL, Channel.OFFLINE_STORE]
CONSENTS = [Channel.WECOM, Channel.GROUP, Channel.SMS, Channel.WECHAT]
CHANNELS = [Channel.WECOM, Channel.GROUP, Channel.SMS, Channel.MINI_PROGRAM, Channel.TAOBAO]
# weighted towards what the features are made of: purchases, messages, (dis)connections
KINDS = [
    *[TouchKind.PURCHASED] * 4,
    TouchKind.REFUNDED,
    *[TouchKind.SENT] * 2,
    TouchKind.ADDED,
    TouchKind.DELETED,
    TouchKind.JOINED,
    TouchKind.LEFT,
    TouchKind.SUBSCRIBED,
    TouchKind.UNSUBSCRIBED,
    TouchKind.CLICKED,
    TouchKind.INVITED,
    TouchKind.SHARED,
]
STEP = dt.timedelta(hours=6)  # every fourth step is midnight in China


def grid_instants(first: int = 0, last: int = 20) -> st.SearchStrategy[dt.datetime]:
    return st.builds(
        lambda k, jitter: T0 + k * STEP + dt.timedelta(seconds=jitter),
        st.integers(first, last),
        st.sampled_from([0, 0, 0, -1, 1]),
    )


INSTANTS = grid_instants()
AS_OF = grid_instants(-1, 22)  # sometimes before every join, sometimes after every event


@attrs.frozen
class World:
    """What a host sends: customers, then touchpoints (unique ids)."""

    customers: list[Customer]
    touchpoints: list[Touchpoint]

    @property
    def records(self) -> list[Customer | Touchpoint]:
        return [*self.customers, *self.touchpoints]


@st.composite
def worlds(draw: st.DrawFn, max_customers: int = 15, max_touchpoints: int = 60) -> World:
    ids = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=max_customers))
    customers: list[Customer] = []
    for cid in ids:
        joined = draw(INSTANTS)
        # a referrer was in the pool before the customer they brought
        earlier = [c.id for c in customers if c.joined_at <= joined]
        customers.append(
            Customer(
                cid,
                TENANT,
                joined,
                source=draw(st.sampled_from(SOURCES)),
                attributes=draw(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "age": st.integers(18, 70),
                            "region": st.sampled_from(["华东", "华南"]),
                        },
                    )
                ),
                tags=draw(st.sets(st.sampled_from(["vip", "新客", "kol"]))),
                consent=draw(st.sets(st.sampled_from(CONSENTS))),
                referrer_id=draw(st.none() | st.sampled_from(earlier)) if earlier else None,
                agent_id=draw(st.sampled_from([None, None, "导购A", "store-1"])),
            )
        )
    touchpoints: list[Touchpoint] = []
    if customers:
        for i in range(draw(st.integers(0, max_touchpoints))):
            who = draw(st.sampled_from(customers))
            when = draw(INSTANTS)
            kind = draw(st.sampled_from(KINDS))
            amount = discount = related = None
            if kind.monetary:
                amount = Money(draw(st.integers(0, 50_000)))
            if kind is TouchKind.PURCHASED and draw(st.booleans()):
                discount = Money(draw(st.integers(0, 5_000)))
            if kind in (TouchKind.INVITED, TouchKind.SHARED):
                # somebody already in the pool at the time of the touch
                others = [c.id for c in customers if c.id != who.id and c.joined_at <= when]
                related = draw(st.none() | st.sampled_from(others)) if others else None
            touchpoints.append(
                Touchpoint(
                    f"t{i}",
                    TENANT,
                    who.id,
                    when,
                    draw(st.sampled_from(CHANNELS)),
                    kind,
                    amount=amount,
                    promotion=draw(st.booleans()),
                    discount=discount,
                    related_customer_id=related,
                    agent_id=draw(st.sampled_from([None, "导购A"])),
                )
            )
    return World(customers, touchpoints)


@st.composite
def worlds_with_resends(draw: st.DrawFn) -> World:
    """A world whose log also holds later versions of some touchpoint ids (a host retrying
    with changed data); the first version is the one that counts, the later ones are refused
    as conflicts."""
    world = draw(worlds())
    if not world.touchpoints:
        return world
    resends = [
        attrs.evolve(tp, promotion=not tp.promotion, at=draw(INSTANTS))
        for tp in draw(st.lists(st.sampled_from(world.touchpoints), max_size=10))
    ]
    return World(world.customers, [*world.touchpoints, *resends])


def pool_of(*batches: list[Any], conflicts: bool = False) -> Pool:
    """A pool that took ``batches``; only changed resends (``conflicts``) may be refused."""
    pool = new_pool()
    for batch in batches:
        report = pool.ingest(batch)
        assert set(report.reasons()) <= ({RejectReason.CONFLICT} if conflicts else set())
    return pool


# ---------------------------------------------------------------------------------- idempotency
@PROPERTY
@given(world=worlds_with_resends(), as_of=AS_OF)
def test_ingesting_a_batch_twice_is_ingesting_it_once(world: World, as_of: dt.datetime) -> None:
    once = pool_of(world.records, conflicts=True)
    twice = pool_of(world.records, conflicts=True)
    first: dict[str, Touchpoint] = {}
    for tp in world.touchpoints:
        first.setdefault(tp.id, tp)
    exact = sum(tp == first[tp.id] for tp in world.touchpoints)
    again = twice.ingest(world.records)
    assert again.customers_unchanged == len(world.customers)
    assert again.touchpoints_accepted == 0
    assert again.duplicates == exact
    changed = len(world.touchpoints) - exact
    assert again.reasons() == ({RejectReason.CONFLICT: changed} if changed else {})
    assert_accounted(again, customers=len(world.customers), touchpoints=len(world.touchpoints))
    assert_pools_equal(once, twice)
    assert_snapshots_equal(once.snapshot(as_of), twice.snapshot(as_of))


# ---------------------------------------------------------------------------------- order
@PROPERTY
@given(world=worlds(), as_of=AS_OF, data=st.data())
def test_ingest_order_does_not_change_the_snapshot(
    world: World, as_of: dt.datetime, data: st.DataObject
) -> None:
    customers = data.draw(st.permutations(world.customers), label="customers")
    touchpoints: list[Touchpoint] = []
    if world.touchpoints:
        # exact copies may arrive again in any batch: idempotency makes them harmless
        copies = data.draw(st.lists(st.sampled_from(world.touchpoints), max_size=8), label="copies")
        touchpoints = data.draw(st.permutations([*world.touchpoints, *copies]), label="touchpoints")
    cuts = sorted(data.draw(st.lists(st.integers(0, len(touchpoints)), max_size=4), label="cuts"))
    chunks = [touchpoints[a:b] for a, b in zip([0, *cuts], [*cuts, len(touchpoints)], strict=True)]
    shuffled = pool_of([*customers, *chunks[0]], *chunks[1:])
    in_order = pool_of(world.records)
    assert shuffled.n_touchpoints == in_order.n_touchpoints
    assert_snapshots_equal(shuffled.snapshot(as_of), in_order.snapshot(as_of), by_id=True)


# ---------------------------------------------------------------------------------- reference
def assert_records_match(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert [r["customer_id"] for r in actual] == [r["customer_id"] for r in expected]
    for got, want in zip(actual, expected, strict=True):
        assert sorted(got) == sorted(want)
        for name, value in want.items():
            if isinstance(value, float):
                assert isinstance(got[name], float), (got["customer_id"], name, got[name])
                assert math.isclose(got[name], value, rel_tol=1e-12, abs_tol=1e-9), (
                    got["customer_id"],
                    name,
                    got[name],
                    value,
                )
            else:
                assert got[name] == value, (got["customer_id"], name, got[name], value)
                assert type(got[name]) is type(value), (got["customer_id"], name, got[name])


@PROPERTY
@given(world=worlds_with_resends(), as_of=AS_OF, split=st.integers(0, 60))
def test_snapshot_features_match_the_reference(
    world: World, as_of: dt.datetime, split: int
) -> None:
    pool = pool_of(
        [*world.customers, *world.touchpoints[:split]], world.touchpoints[split:], conflicts=True
    )
    expected = reference_records(world.customers, world.touchpoints, as_of, utc_offset=CHINA)
    assert_records_match(pool.snapshot(as_of).to_records(), expected)


@settings(max_examples=25, deadline=None)
@given(world=worlds(), as_of=AS_OF, offset_hours=st.integers(-11, 12))
def test_any_utc_offset_matches_the_reference(
    world: World, as_of: dt.datetime, offset_hours: int
) -> None:
    offset = dt.timedelta(hours=offset_hours)
    pool = Pool(TENANT, utc_offset=offset)
    assert pool.ingest(world.records).ok
    expected = reference_records(world.customers, world.touchpoints, as_of, utc_offset=offset)
    assert_records_match(pool.snapshot(as_of).to_records(), expected)


# ---------------------------------------------------------------------------------- as_of
@PROPERTY
@given(world=worlds(), as_of=AS_OF)
def test_as_of_hides_the_future_exactly(world: World, as_of: dt.datetime) -> None:
    """A snapshot at t equals the snapshot of a pool that only ever saw what existed by t."""
    everything = pool_of(world.records)
    joined = [c for c in world.customers if c.joined_at <= as_of]
    members = {c.id for c in joined}
    happened = [tp for tp in world.touchpoints if tp.at <= as_of and tp.customer_id in members]
    past = pool_of([*joined, *happened])
    assert_snapshots_equal(everything.snapshot(as_of), past.snapshot(as_of), by_id=True)


# ---------------------------------------------------------------------------------- columns
@PROPERTY
@given(world=worlds(), as_of=AS_OF, int_ids=st.booleans())
def test_columns_and_objects_build_the_same_pool(
    world: World, as_of: dt.datetime, int_ids: bool
) -> None:
    objects = pool_of(world.records)
    columns = pool_of(world.customers)
    report = columns.ingest(columns_of(world.touchpoints, int_ids=int_ids))
    assert report.ok
    assert_accounted(report, touchpoints=len(world.touchpoints))
    assert_pools_equal(columns, objects, order_keys=not int_ids)
    assert_snapshots_equal(columns.snapshot(as_of), objects.snapshot(as_of), order_ids=not int_ids)
