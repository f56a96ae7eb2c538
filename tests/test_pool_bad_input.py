"""Bad input: every kind a host will send sooner or later, each with what the pool does about it.

Objects refuse bad data when they are built (an exception at the edge); columns cannot, so the
pool reports each bad row with a reason and its index, and takes the rest. A rejected record
never half-applies.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from helpers import (
    T0,
    TENANT,
    TZ8,
    assert_accounted,
    assert_pools_equal,
    assert_snapshots_equal,
    at,
    customer,
    new_pool,
    purchase,
    reasons_by_index,
    touch,
)

from privdomain import (
    CustomerColumns,
    F,
    Money,
    Pool,
    RejectReason,
    Segment,
    TouchKind,
    TouchpointColumns,
)
from privdomain.errors import (
    InvalidMoneyError,
    InvalidRecordError,
    NaiveDatetimeError,
    ValidationError,
)

AS_OF = at(30)


def purchases_in_columns(amounts: list[float], **kwargs: object) -> TouchpointColumns:
    n = len(amounts)
    fields: dict[str, object] = {
        "id": [f"t{i}" for i in range(n)],
        "tenant": TENANT,
        "customer_id": "c1",
        "at": [at(1)] * n,
        "channel": "mini_program",
        "kind": "purchased",
        "amount": np.array(amounts, dtype=np.float64),
    }
    fields.update(kwargs)
    return TouchpointColumns.from_arrays(**fields)  # type: ignore[arg-type]


@pytest.fixture
def c1_pool(pool: Pool) -> Pool:
    pool.ingest([customer("c1"), customer("c2")])
    return pool


class TestAmounts:
    @pytest.mark.parametrize("amount", [math.nan, math.inf, -math.inf])
    def test_non_finite_amounts_never_become_money(self, amount: float) -> None:
        with pytest.raises(InvalidMoneyError):
            purchase("t1", "c1", at(1), Money.of(amount))  # type: ignore[arg-type]

    def test_a_negative_purchase_is_refused_at_construction(self) -> None:
        with pytest.raises(InvalidMoneyError, match="REFUNDED"):
            touch("t1", "c1", at(1), "purchased", amount=Money.of("-9.90"))

    def test_bad_amounts_in_columns_are_reported_row_by_row(self, c1_pool: Pool) -> None:
        report = c1_pool.ingest(
            purchases_in_columns([9.9, math.nan, math.inf, -1.0, 0.0, -math.inf])
        )
        assert reasons_by_index(report) == {
            1: RejectReason.INVALID_AMOUNT,
            2: RejectReason.INVALID_AMOUNT,
            3: RejectReason.INVALID_AMOUNT,
            5: RejectReason.INVALID_AMOUNT,
        }
        assert {r.id for r in report.rejected} == {"t1", "t2", "t3", "t5"}
        assert all(r.detail for r in report.rejected)
        assert report.touchpoints_accepted == 2
        assert_accounted(report, touchpoints=6)
        assert c1_pool.events.amount_minor.tolist() == [990, 0]

    def test_negative_refunds_in_minor_units(self, c1_pool: Pool) -> None:
        report = c1_pool.ingest(
            purchases_in_columns([500, -500], kind="refunded", minor_units=True)
        )
        assert reasons_by_index(report) == {1: RejectReason.INVALID_AMOUNT}
        assert c1_pool.snapshot(AS_OF).refunded.tolist() == [5.0, 0.0]

    def test_an_amount_on_a_touch_that_carries_none(self, c1_pool: Pool) -> None:
        report = c1_pool.ingest(purchases_in_columns([math.nan, 3.0], kind="visited"))
        assert reasons_by_index(report) == {1: RejectReason.INVALID}
        assert report.touchpoints_accepted == 1

    def test_bad_discounts_in_columns(self, c1_pool: Pool) -> None:
        report = c1_pool.ingest(
            purchases_in_columns([10.0, 10.0, 10.0], discount=[1.0, -1.0, math.nan])
        )
        assert reasons_by_index(report) == {1: RejectReason.INVALID_AMOUNT}
        assert c1_pool.snapshot(AS_OF).discount_total.tolist() == [1.0, 0.0]

    def test_another_currency_is_a_mismatch(self, c1_pool: Pool) -> None:
        report = c1_pool.ingest(
            [
                purchase("t1", "c1", at(1), "9.90"),
                touch("t2", "c1", at(1), "purchased", amount=Money.of("9.90", "USD")),
                touch("t3", "c1", at(1), "visited"),  # no amount: currency does not matter
            ]
        )
        assert reasons_by_index(report) == {1: RejectReason.CURRENCY_MISMATCH}
        assert_accounted(report, touchpoints=3)

    def test_another_currency_in_columns(self, c1_pool: Pool) -> None:
        report = c1_pool.ingest(purchases_in_columns([1.0, 2.0], currency="USD"))
        assert reasons_by_index(report) == {
            0: RejectReason.CURRENCY_MISMATCH,
            1: RejectReason.CURRENCY_MISMATCH,
        }
        mixed = c1_pool.ingest(purchases_in_columns([1.0, 2.0], currency=["CNY", "JPY"]))
        assert reasons_by_index(mixed) == {1: RejectReason.CURRENCY_MISMATCH}

    def test_a_currency_code_in_lower_case_is_the_same_currency(self, c1_pool: Pool) -> None:
        report = c1_pool.ingest(purchases_in_columns([1.0], currency="cny"))
        assert report.ok

    def test_per_row_currency_codes_are_normalised_too(self, c1_pool: Pool) -> None:
        report = c1_pool.ingest(purchases_in_columns([1.0, 2.0], currency=["cny", "CNY"]))
        assert report.ok

    def test_a_usd_pool_takes_usd(self) -> None:
        p = Pool(TENANT, currency="USD")
        p.ingest([customer("c1")])
        report = p.ingest(
            [
                touch("t1", "c1", at(1), "purchased", amount=Money.of("9.90", "USD")),
                purchase("t2", "c1", at(1), "9.90"),
            ]
        )
        assert reasons_by_index(report) == {1: RejectReason.CURRENCY_MISMATCH}


class TestUnknownCustomers:
    def test_a_touchpoint_of_an_unknown_customer(self, c1_pool: Pool) -> None:
        report = c1_pool.ingest([touch("t1", "c1", at(1)), touch("t2", "nobody", at(1))])
        assert reasons_by_index(report) == {1: RejectReason.UNKNOWN_CUSTOMER}
        assert report.rejected[0].id == "t2"
        assert_accounted(report, touchpoints=2)

    def test_an_unknown_invitee(self, c1_pool: Pool) -> None:
        report = c1_pool.ingest(
            [
                touch("t1", "c1", at(1), "invited", related_customer_id="c2"),
                touch("t2", "c1", at(1), "invited", related_customer_id="nobody"),
                touch("t3", "c1", at(1), "clicked", related_customer_id="nobody"),
            ]
        )
        # an invitation may name someone who has not joined; other touches may not
        assert reasons_by_index(report) == {2: RejectReason.UNKNOWN_RELATED_CUSTOMER}
        assert report.touchpoints_accepted == 2

    def test_a_self_invitation_in_columns(self, c1_pool: Pool) -> None:
        cols = TouchpointColumns.from_arrays(
            id=["t1"],
            tenant=TENANT,
            customer_id=["c1"],
            at=[at(1)],
            channel="wecom",
            kind="invited",
            related_customer_id=["c1"],
        )
        assert reasons_by_index(c1_pool.ingest(cols)) == {0: RejectReason.INVALID}

    def test_unknown_customers_in_columns(self, c1_pool: Pool) -> None:
        cols = TouchpointColumns.from_arrays(
            id=["t1", "t2", "t3"],
            tenant=TENANT,
            customer_id=["c1", None, "nobody"],
            at=[at(1)] * 3,
            channel="wecom",
            kind="visited",
        )
        report = c1_pool.ingest(cols)
        assert reasons_by_index(report) == {
            1: RejectReason.UNKNOWN_CUSTOMER,
            2: RejectReason.UNKNOWN_CUSTOMER,
        }


class TestTenants:
    def test_a_touchpoint_of_another_tenant(self, c1_pool: Pool) -> None:
        report = c1_pool.ingest([touch("t1", "c1", at(1), tenant="other-brand")])
        assert reasons_by_index(report) == {0: RejectReason.WRONG_TENANT}
        assert c1_pool.n_touchpoints == 0

    def test_a_customer_of_another_tenant(self, pool: Pool) -> None:
        report = pool.ingest(
            [customer("c1"), customer("c2", tenant="other-brand"), touch("t1", "c2", at(1))]
        )
        assert reasons_by_index(report, "customer") == {1: RejectReason.WRONG_TENANT}
        # the customer never entered, so their touchpoint has nobody to belong to
        assert reasons_by_index(report, "touchpoint") == {0: RejectReason.UNKNOWN_CUSTOMER}
        assert_accounted(report, customers=2, touchpoints=1)
        assert pool.customer_ids.tolist() == ["c1"]

    def test_tenants_in_columns(self, c1_pool: Pool) -> None:
        cols = TouchpointColumns.from_arrays(
            id=["t1", "t2"],
            tenant=[TENANT, "other"],
            customer_id="c1",
            at=[at(1)] * 2,
            channel="wecom",
            kind="visited",
        )
        assert reasons_by_index(c1_pool.ingest(cols)) == {1: RejectReason.WRONG_TENANT}
        whole = TouchpointColumns.from_arrays(
            id=["t3"], tenant="other", customer_id="c1", at=[at(1)], channel=1, kind=4
        )
        assert reasons_by_index(c1_pool.ingest(whole)) == {0: RejectReason.WRONG_TENANT}


class TestTime:
    def test_naive_joined_at(self) -> None:
        with pytest.raises(NaiveDatetimeError):
            customer("c1", dt.datetime(2026, 1, 1))

    def test_naive_touchpoint_time(self) -> None:
        with pytest.raises(NaiveDatetimeError):
            touch("t1", "c1", dt.datetime(2026, 1, 1))

    def test_naive_as_of(self, shop: Pool) -> None:
        with pytest.raises(NaiveDatetimeError):
            shop.snapshot(as_of=dt.datetime(2026, 2, 1))

    def test_naive_datetimes_in_columns(self) -> None:
        with pytest.raises(NaiveDatetimeError):
            TouchpointColumns.from_arrays(
                id=["t1"],
                tenant=TENANT,
                customer_id="c1",
                at=[dt.datetime(2026, 1, 1)],
                channel=1,
                kind=4,
            )
        with pytest.raises(NaiveDatetimeError):
            CustomerColumns.from_arrays(
                id=["c1"], tenant=TENANT, joined_at=[dt.datetime(2026, 1, 1)]
            )

    def test_nat_in_columns(self) -> None:
        with pytest.raises(ValidationError, match="NaT"):
            TouchpointColumns.from_arrays(
                id=["t1"],
                tenant=TENANT,
                customer_id="c1",
                at=np.array(["NaT"], dtype="M8[s]"),
                channel=1,
                kind=4,
            )

    def test_datetime64_as_of_is_utc(self, shop: Pool) -> None:
        aware = dt.datetime(2026, 1, 3, 1, 0, tzinfo=dt.UTC)
        assert_snapshots_equal(
            shop.snapshot(np.datetime64("2026-01-03T01:00:00")), shop.snapshot(aware)
        )
        assert_snapshots_equal(shop.snapshot(aware.astimezone(TZ8)), shop.snapshot(aware))

    def test_events_out_of_order_give_the_same_snapshot(self) -> None:
        records = [
            customer("c1"),
            purchase("t1", "c1", at(1), "10.00"),
            touch("t2", "c1", at(2), "deleted"),
            touch("t3", "c1", at(3), "added"),
            purchase("t4", "c1", at(4), "5.00"),
            touch("t5", "c1", at(5), "sent", "sms"),
        ]
        in_order, reversed_ = new_pool(), new_pool()
        in_order.ingest(records)
        reversed_.ingest([records[0], *records[:0:-1]])
        for when in (at(0), at(2), at(3, hours=12), AS_OF):
            assert_snapshots_equal(in_order.snapshot(when), reversed_.snapshot(when))


class TestEarlyAndEmpty:
    def test_an_empty_pool_has_an_empty_snapshot(self, pool: Pool) -> None:
        snap = pool.snapshot(AS_OF)
        assert len(snap) == 0
        assert snap.to_records() == []
        assert snap.touches_by_kind.shape == (0, len(TouchKind))
        assert snap.feature("recency_days").shape == (0,)

    def test_as_of_before_every_event(self, shop: Pool) -> None:
        snap = shop.snapshot(at(1))  # alice and bob had joined; nothing had happened yet
        assert snap.customer_ids.tolist() == ["alice", "bob"]
        assert snap.orders.tolist() == [0, 0]
        assert snap.touches_by_kind.sum() == 0
        assert np.isnat(snap.first_purchase).all()
        assert np.isnat(snap.last_active).all()
        assert np.isnat(snap.last_contact).all()
        assert np.isnan(snap.recency_days).all()
        assert snap.tenure_days.tolist() == [1.0, 0.0]
        assert snap.referrals.tolist() == [1, 0]  # bob joined at that very second

    def test_as_of_before_every_join_is_an_empty_snapshot_that_works(self, shop: Pool) -> None:
        snap = shop.snapshot(at(-1))
        assert len(snap) == 0
        assert snap.to_records() == []
        assert snap.customer_ids.tolist() == []
        for name in snap.feature_names():
            assert snap.feature(name).shape == (0,), name
        assert Segment("buyers", F("orders") >= 1).count(snap) == 0
        assert snap.tags == {}  # tags of customers not yet joined stay invisible
        assert snap.feature("tag:vip").shape == (0,)

    def test_a_customer_without_events(self, shop: Pool) -> None:
        snap = shop.snapshot(AS_OF)
        row = snap.row("carol")
        for name in (
            "orders",
            "purchase_days",
            "refunds",
            "promo_orders",
            "discounted_orders",
            "referrals",
            "reachable_channels",
        ):
            assert snap.feature(name)[row] == 0, name
        for name in ("gross_spend", "first_day_spend", "refunded", "discount_total", "net_spend"):
            assert snap.feature(name)[row] == 0.0, name
        for name in ("avg_order_value", "recency_days", "days_since_active"):
            assert math.isnan(snap.feature(name)[row]), name
        assert snap.tenure_days[row] == 28.0
        assert np.isnat(snap.first_purchase[row])
        assert np.isnat(snap.last_purchase[row])
        assert np.isnat(snap.last_active[row])
        assert np.isnat(snap.last_contact[row]).all()
        assert not snap.buyers[row]


class TestIds:
    def test_unicode_ids_go_all_the_way_through(self, pool: Pool) -> None:
        report = pool.ingest(
            [
                customer("张三"),
                customer("🦊🎉", referrer_id="张三"),
                purchase("订单-😀", "🦊🎉", at(1), "8.88"),
                touch("邀请-1", "张三", at(1), "invited", related_customer_id="🦊🎉"),
            ]
        )
        assert report.ok
        snap = pool.snapshot(AS_OF)
        assert snap.customer_ids.tolist() == ["张三", "🦊🎉"]
        assert snap.gross_spend[snap.row("🦊🎉")] == 8.88
        assert snap.referrer_ids.tolist() == [None, "张三"]
        assert pool.ingest([purchase("订单-😀", "🦊🎉", at(1), "8.88")]).duplicates == 1

    def test_long_ids_are_refused_when_objects_are_built(self) -> None:
        with pytest.raises(InvalidRecordError, match="256"):
            customer("c" * 257)
        with pytest.raises(InvalidRecordError, match="256"):
            touch("t" * 257, "c1", at(1))

    def test_long_touchpoint_ids_in_columns(self, c1_pool: Pool) -> None:
        ids = ["t" * 256, "t" * 257, "🎉" * 300, "", "bad\nid"]
        cols = TouchpointColumns.from_arrays(
            id=ids, tenant=TENANT, customer_id="c1", at=[at(1)] * 5, channel=1, kind=4
        )
        report = c1_pool.ingest(cols)
        assert reasons_by_index(report) == dict.fromkeys([1, 2, 3, 4], RejectReason.INVALID)
        assert report.touchpoints_accepted == 1
        assert_accounted(report, touchpoints=5)

    def test_long_customer_ids_in_columns(self, pool: Pool) -> None:
        cols = CustomerColumns.from_arrays(
            id=["张" * 256, "张" * 257, None, 42, "  "],
            tenant=TENANT,
            joined_at=np.full(5, int(T0.timestamp())),
            epoch_unit="s",
        )
        report = pool.ingest(cols)
        assert reasons_by_index(report, "customer") == dict.fromkeys(
            [1, 2, 3, 4], RejectReason.INVALID
        )
        assert pool.customer_ids.tolist() == ["张" * 256]

    def test_an_overlong_customer_id_on_a_touchpoint_is_nobody(self, c1_pool: Pool) -> None:
        cols = TouchpointColumns.from_arrays(
            id=["t1"], tenant=TENANT, customer_id=["c" * 257], at=[at(1)], channel=1, kind=4
        )
        assert reasons_by_index(c1_pool.ingest(cols)) == {0: RejectReason.UNKNOWN_CUSTOMER}

    def test_unknown_channels_and_kinds_in_columns(self, c1_pool: Pool) -> None:
        cols = TouchpointColumns.from_arrays(
            id=["t1", "t2", "t3", "t4"],
            tenant=TENANT,
            customer_id="c1",
            at=[at(1)] * 4,
            channel=["wecom", "fax", 1, 1],
            kind=["visited", "visited", "teleported", 99],
        )
        report = c1_pool.ingest(cols)
        assert reasons_by_index(report) == dict.fromkeys([1, 2, 3], RejectReason.INVALID)


class TestMixedBatches:
    def test_valid_records_are_taken_and_the_rest_reported(self) -> None:
        """A batch of good and bad records leaves the pool exactly as the good ones alone."""
        good_customers = [customer("c1"), customer("c2", referrer_id="c1")]
        bad_customers = [
            customer("c3", tenant="other"),
            customer("c4", referrer_id="nobody"),
        ]
        good = [
            purchase("t1", "c1", at(1), "10.00"),
            touch("t2", "c2", at(2), "invited", related_customer_id="c1"),
            purchase("t3", "c2", at(3), "7.00", discount="1.00"),
        ]
        bad = [
            touch("t4", "c3", at(1)),  # its customer was rejected
            touch("t5", "c1", at(1), tenant="other"),
            touch("t6", "c1", at(1), "purchased", amount=Money(100, "USD")),
            touch("t7", "c2", at(1), "clicked", related_customer_id="c4"),
        ]
        batch = [
            bad_customers[0],
            *good_customers,
            bad_customers[1],
            bad[0],
            good[0],
            bad[1],
            good[1],
            bad[2],
            bad[3],
            good[2],
        ]
        mixed = new_pool()
        report = mixed.ingest(batch)
        assert reasons_by_index(report, "customer") == {
            0: RejectReason.WRONG_TENANT,
            3: RejectReason.UNKNOWN_REFERRER,
        }
        assert reasons_by_index(report, "touchpoint") == {
            0: RejectReason.UNKNOWN_CUSTOMER,
            2: RejectReason.WRONG_TENANT,
            4: RejectReason.CURRENCY_MISMATCH,
            5: RejectReason.UNKNOWN_RELATED_CUSTOMER,
        }
        assert [r.id for r in report.rejected] == ["c3", "c4", "t4", "t5", "t6", "t7"]
        assert report.reasons()[RejectReason.WRONG_TENANT] == 2
        assert not report.ok
        assert_accounted(report, customers=4, touchpoints=7)

        clean = new_pool()
        clean.ingest([*good_customers, *good])
        assert_pools_equal(mixed, clean)
        assert_snapshots_equal(mixed.snapshot(AS_OF), clean.snapshot(AS_OF))

    def test_the_report_says_what_happened(self, c1_pool: Pool) -> None:
        report = c1_pool.ingest([touch("t1", "c1", at(1)), touch("t2", "nobody", at(1))])
        text = repr(report)
        assert "1 accepted" in text
        assert "unknown_customer=1" in text


class TestReferralProblems:
    def test_an_unknown_referrer(self, pool: Pool) -> None:
        report = pool.ingest([customer("c1", referrer_id="ghost")])
        assert reasons_by_index(report, "customer") == {0: RejectReason.UNKNOWN_REFERRER}
        assert len(pool) == 0

    def test_self_referral_in_columns(self, pool: Pool) -> None:
        cols = CustomerColumns.from_arrays(
            id=["c1", "c2"], tenant=TENANT, joined_at=[T0, T0], referrer_id=["c1", None]
        )
        report = pool.ingest(cols)
        assert reasons_by_index(report, "customer") == {0: RejectReason.INVALID}
        assert pool.customer_ids.tolist() == ["c2"]

    def test_a_cycle_within_a_batch_is_refused_as_a_whole(self, pool: Pool) -> None:
        report = pool.ingest(
            [
                customer("a", referrer_id="c"),
                customer("ok"),
                customer("b", referrer_id="a"),
                customer("c", referrer_id="b"),
                customer("d", referrer_id="a"),  # hangs off the cycle
            ]
        )
        reasons = reasons_by_index(report, "customer")
        assert {reasons[i] for i in (0, 2, 3)} == {RejectReason.REFERRAL_CYCLE}
        assert 4 in reasons  # its referrer was never taken
        assert_accounted(report, customers=5)
        assert pool.customer_ids.tolist() == ["ok"]

    def test_a_two_cycle(self, pool: Pool) -> None:
        report = pool.ingest([customer("a", referrer_id="b"), customer("b", referrer_id="a")])
        assert reasons_by_index(report, "customer") == dict.fromkeys(
            [0, 1], RejectReason.REFERRAL_CYCLE
        )

    def test_a_referee_of_a_rejected_referrer_is_rejected_too(self, pool: Pool) -> None:
        report = pool.ingest(
            [customer("child", referrer_id="parent"), customer("parent", tenant="other")]
        )
        assert reasons_by_index(report, "customer") == {
            0: RejectReason.UNKNOWN_REFERRER,
            1: RejectReason.WRONG_TENANT,
        }

    def test_a_snapshot_names_no_referrer_who_had_not_joined(self, pool: Pool) -> None:
        pool.ingest([customer("early", at(0), referrer_id="late"), customer("late", at(5))])
        snap = pool.snapshot(at(1))
        named = {r for r in snap.referrer_ids.tolist() if r is not None}
        assert named <= set(snap.customer_ids.tolist())

    def test_a_rejected_duplicate_row_does_not_hide_the_good_one(self, pool: Pool) -> None:
        report = pool.ingest(
            [
                customer("x", tenant="other"),
                customer("y", referrer_id="x"),
                customer("x"),
            ]
        )
        assert reasons_by_index(report, "customer") == {0: RejectReason.WRONG_TENANT}
        assert sorted(pool.customer_ids.tolist()) == ["x", "y"]
