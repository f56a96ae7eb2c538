"""Order ids on purchases and refunds: refunds name the orders they reverse, never more."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import TENANT, at, customer, new_pool, purchase, touch
from hypothesis import given, settings
from hypothesis import strategies as st

from privdomain import Money, Pool, RejectReason, Touchpoint, TouchpointColumns
from privdomain.errors import InvalidRecordError, ValidationError


def refund(tid: str, cid: str, day: float, amount: str, order_id: object) -> Touchpoint:
    return touch(tid, cid, at(day), "refunded", amount=Money.of(amount), order_id=order_id)


@pytest.fixture
def pool() -> Pool:
    p = new_pool()
    assert p.ingest(
        [
            customer("c1"),
            customer("c2"),
            purchase("t1", "c1", at(1), "100.00", order_id="o-1"),
            purchase("t2", "c2", at(1), "50.00"),  # its order is its touchpoint id
        ]
    ).ok
    return p


def test_refunds_reverse_named_orders_wholly_or_in_part(pool: Pool) -> None:
    report = pool.ingest(
        [refund("r1", "c1", 2, "30.00", "o-1"), refund("r2", "c2", 2, "50.00", "t2")]
    )
    assert report.ok, report.rejected
    orders = pool.snapshot(at(3)).order_log
    assert orders.order_id.tolist() == ["o-1", "t2"]
    assert orders.refunded_minor.tolist() == [3_000, 5_000]
    assert orders.gross_minor.tolist() == [10_000, 5_000]
    # as of before the refunds, nothing was refunded
    assert pool.snapshot(at(1, hours=1)).order_log.refunded_minor.tolist() == [0, 0]


@pytest.mark.parametrize(
    ("records", "reason"),
    [
        ([refund("r1", "c1", 2, "1.00", "o-9")], RejectReason.UNKNOWN_ORDER),
        ([refund("r1", "c2", 2, "1.00", "o-1")], RejectReason.UNKNOWN_ORDER),  # not c2's
        ([refund("r1", "c1", 2, "100.01", "o-1")], RejectReason.REFUND_EXCEEDS_ORDER),
        (
            [purchase("t9", "c2", at(2), "5.00", order_id="o-1")],
            RejectReason.DUPLICATE_ORDER,
        ),
    ],
)
def test_refused_orders(pool: Pool, records: list[Touchpoint], reason: RejectReason) -> None:
    before = pool.snapshot(at(5)).order_log.refunded_minor.tolist()
    report = pool.ingest(records)
    assert [r.reason for r in report.rejected] == [reason]
    assert report.touchpoints_accepted == 0
    assert pool.snapshot(at(5)).order_log.refunded_minor.tolist() == before
    # a refused touchpoint is not remembered: corrected, it comes in
    fixed = pool.ingest([refund(records[0].id, "c1", 2, "1.00", "o-1")])
    assert fixed.ok
    assert fixed.touchpoints_accepted == 1


def test_refunds_in_one_batch_take_what_is_left_in_row_order(pool: Pool) -> None:
    report = pool.ingest(
        [
            refund("r1", "c1", 2, "60.00", "o-1"),
            refund("r2", "c1", 2, "50.00", "o-1"),  # only 40 left: refused
            refund("r3", "c1", 2, "40.00", "o-1"),  # fits
            purchase("t3", "c1", at(3), "20.00", order_id="o-2"),
            refund("r4", "c1", 4, "20.00", "o-2"),  # an order of this very batch
        ]
    )
    assert [(r.id, r.reason) for r in report.rejected] == [
        ("r2", RejectReason.REFUND_EXCEEDS_ORDER)
    ]
    orders = pool.snapshot(at(5)).order_log
    refunded = zip(orders.order_id.tolist(), orders.refunded_minor.tolist(), strict=True)
    assert dict(refunded) == {
        "o-1": 10_000,
        "t2": 0,
        "o-2": 2_000,
    }


def test_order_ids_in_columns(pool: Pool) -> None:
    cols = TouchpointColumns.from_arrays(
        id=["r1", "r2"],
        tenant=TENANT,
        customer_id=["c1", "c2"],
        at=[at(2), at(2)],
        channel="app",
        kind="refunded",
        amount=[10.0, 5.0],
        order_id=["o-1", None],  # r2 names no order: a refund of the customer only
    )
    assert pool.ingest(cols).ok
    snap = pool.snapshot(at(3))
    assert snap.order_log.refunded_minor.tolist() == [1_000, 0]
    assert snap.refunded.tolist() == [10.0, 5.0]


@pytest.mark.parametrize("order_id", [[1.5], [b"x"], [[1]], [2**70], np.array([True])])
def test_bad_order_id_columns(order_id: object) -> None:
    with pytest.raises(ValidationError):
        TouchpointColumns.from_arrays(
            id=["t"],
            tenant=TENANT,
            customer_id=["c1"],
            at=[at(1)],
            channel="app",
            kind="purchased",
            amount=[1.0],
            order_id=order_id,
        )


def test_only_money_touches_carry_an_order() -> None:
    with pytest.raises(InvalidRecordError):
        touch("t", "c1", at(1), "visited", order_id="o")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(1, 80)), max_size=12))
def test_refunds_never_exceed_their_orders(refunds: list[tuple[int, int]]) -> None:
    p = new_pool()
    p.ingest([customer("c1")])
    p.ingest([purchase(f"p{k}", "c1", at(1), "50.00", order_id=f"o{k}") for k in range(3)])
    for i, (k, yuan) in enumerate(refunds):
        p.ingest([refund(f"r{i}", "c1", 2, f"{yuan}.00", f"o{k}")])
    orders = p.snapshot(at(3)).order_log
    assert (orders.refunded_minor <= orders.gross_minor).all()
    expected = [0, 0, 0]
    for k, yuan in refunds:
        if expected[k] + yuan <= 50:
            expected[k] += yuan
    assert (orders.refunded_minor // 100).tolist() == expected
