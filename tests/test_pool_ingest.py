"""Ingesting into a pool: idempotent by touchpoint id, customers updated in place, every record
reported, and the same pool whichever way (objects, columns, dictionary-encoded ids) it came in."""

from __future__ import annotations

import datetime as dt
import pickle

import numpy as np
import pytest
from helpers import (
    CHINA,
    T0,
    TENANT,
    assert_accounted,
    assert_pools_equal,
    assert_snapshots_equal,
    at,
    columns_of,
    customer,
    new_pool,
    purchase,
    reasons_by_index,
    touch,
)

from privdomain import (
    Batch,
    Channel,
    Customer,
    CustomerColumns,
    Money,
    Pool,
    RejectReason,
    TouchKind,
    Touchpoint,
    TouchpointColumns,
)
from privdomain.domain import consent_mask
from privdomain.domain.batch import EncodedIds
from privdomain.errors import UnknownCustomerError, ValidationError

AS_OF = at(30)


def rich_customers() -> list[Customer]:
    return [
        customer(
            "张三",
            at(0),
            source="douyin",
            tags={"vip"},
            consent={"wecom", "sms"},
            attributes={"age": 31, "region": "华东"},
            agent_id="导购-1",
        ),
        customer(
            "🦊",
            at(0, hours=23, minutes=59, seconds=59),
            source="referral",
            referrer_id="张三",
            consent={"group"},
        ),
        customer("c3", at(2), source="taobao", tags={"新客", "vip"}, agent_id="store-9"),
        customer("c4", at(40)),  # joins after AS_OF
    ]


def rich_touchpoints() -> list[Touchpoint]:
    return [
        purchase("t1", "张三", at(1, hours=10), "100.00", promotion=True, agent_id="导购-1"),
        purchase(
            "t2",
            "张三",
            at(1, hours=23, minutes=59, seconds=59),
            "45.01",
            discount="5.00",
            channel="taobao",
        ),
        purchase("t3", "张三", at(2), "19.99"),
        touch("t4", "张三", at(3), TouchKind.REFUNDED, amount="19.99"),
        touch("t5", "🦊", at(1), TouchKind.SENT, Channel.GROUP, promotion=True),
        touch("t6", "🦊", at(1, seconds=1), TouchKind.CLICKED, Channel.GROUP),
        touch("t7", "张三", at(4), TouchKind.INVITED, related_customer_id="c3"),
        touch("t8", "c3", at(5), TouchKind.DELETED, Channel.WECOM),
        touch("t9", "c3", at(5), TouchKind.ADDED, Channel.WECOM),
        purchase("t10", "c3", at(31), "8.00"),  # after AS_OF
        touch("t11", "c4", at(41), TouchKind.VISITED, Channel.APP),
    ]


def test_pool_properties() -> None:
    p = Pool("brand", currency="usd", utc_offset=CHINA)
    assert (p.tenant, p.currency, p.utc_offset) == ("brand", "USD", CHINA)
    assert len(p) == 0
    assert p.n_touchpoints == 0
    assert "Pool(tenant='brand', customers=0, touchpoints=0" in repr(p)


@pytest.mark.parametrize(
    "offset", [dt.timedelta(days=1), dt.timedelta(hours=-25), dt.timedelta(milliseconds=1), 8]
)
def test_utc_offset_is_whole_seconds_under_a_day(offset: object) -> None:
    with pytest.raises(ValidationError, match="utc_offset"):
        Pool(TENANT, utc_offset=offset)  # type: ignore[arg-type]


def test_customers_are_taken_before_touchpoints_whatever_the_order_in_the_batch(
    pool: Pool,
) -> None:
    report = pool.ingest([purchase("t1", "c1", at(1), "9.90"), customer("c1", at(0))])
    assert report.ok
    assert (report.customers_added, report.touchpoints_accepted) == (1, 1)
    assert_accounted(report, customers=1, touchpoints=1)
    assert len(pool) == 1
    assert pool.n_touchpoints == 1
    assert "c1" in pool
    assert "c2" not in pool
    assert 1 not in pool


def test_a_batch_object_holds_customers_and_touchpoints(pool: Pool) -> None:
    report = pool.ingest(Batch(customers=rich_customers(), touchpoints=rich_touchpoints()))
    assert report.ok
    assert_accounted(report, customers=4, touchpoints=11)
    assert pool.customer_ids.tolist() == ["张三", "🦊", "c3", "c4"]


def test_customers_come_back_out_as_they_went_in(pool: Pool) -> None:
    pool.ingest(rich_customers())
    for original in rich_customers():
        assert pool.customer(original.id).same_data(original)
    assert [c.id for c in pool.customers()] == [c.id for c in rich_customers()]
    assert pool.tag_names == ("vip", "新客")
    assert pool.attribute_names == ("age", "region")
    assert pool.agent_ids == ("导购-1", "store-9")


def test_unknown_customers_raise_a_key_error(pool: Pool) -> None:
    pool.ingest([customer("c1")])
    assert pool.index_of(["c1"]).tolist() == [0]
    with pytest.raises(UnknownCustomerError, match="nobody") as info:
        pool.customer("nobody")
    assert isinstance(info.value, KeyError)


@pytest.mark.parametrize("batch", ["c1", b"c1", {"c1": 1}, [1], [("c1", "brand")]])
def test_only_records_can_be_ingested(pool: Pool, batch: object) -> None:
    with pytest.raises(ValidationError):
        pool.ingest(batch)  # type: ignore[arg-type]


def test_an_empty_batch_changes_nothing(pool: Pool) -> None:
    report = pool.ingest([])
    assert report.ok
    assert_accounted(report)
    assert len(pool) == 0


class TestIdempotency:
    def test_a_repeated_id_within_a_batch_keeps_the_first_version(self, pool: Pool) -> None:
        report = pool.ingest(
            [
                customer("c1"),
                purchase("t1", "c1", at(1), "100.00"),
                purchase("t2", "c1", at(2), "1.00"),
                purchase("t1", "c1", at(1), "100.00"),  # an exact replay: a duplicate
                purchase("t1", "c1", at(3), "999.00"),  # the same id, other content
            ]
        )
        assert report.touchpoints_accepted == 2
        assert report.duplicate_touchpoints.tolist() == [2]  # the position among touchpoints
        assert reasons_by_index(report) == {3: RejectReason.CONFLICT}
        assert "different instant" in report.rejected[0].detail
        assert_accounted(report, customers=1, touchpoints=4)
        snap = pool.snapshot(AS_OF)
        assert snap.gross_spend.tolist() == [101.0]
        assert snap.last_purchase[0] == np.datetime64(at(2).astimezone(dt.UTC).replace(tzinfo=None))

    def test_an_id_seen_in_an_earlier_batch_keeps_the_first_version(self, pool: Pool) -> None:
        pool.ingest([customer("c1"), purchase("t1", "c1", at(1), "100.00")])
        report = pool.ingest(
            [
                purchase("t2", "c1", at(2), "5.00"),
                purchase("t1", "c1", at(1), "999.00"),
                purchase("t1", "c1", at(1), "100.00"),
            ]
        )
        assert report.touchpoints_accepted == 1
        assert report.duplicate_touchpoints.tolist() == [2]
        assert reasons_by_index(report) == {1: RejectReason.CONFLICT}
        assert "different amount" in report.rejected[0].detail
        assert_accounted(report, touchpoints=3)
        assert pool.snapshot(AS_OF).gross_spend.tolist() == [105.0]

    def test_ingesting_a_batch_twice_leaves_the_pool_as_after_once(self) -> None:
        records = [*rich_customers(), *rich_touchpoints()]
        once, twice = new_pool(), new_pool()
        once.ingest(records)
        twice.ingest(records)
        again = twice.ingest(records)
        assert again.ok
        assert again.customers_unchanged == 4
        assert again.touchpoints_accepted == 0
        assert again.duplicates == 11
        assert_accounted(again, customers=4, touchpoints=11)
        assert_pools_equal(once, twice)
        assert_snapshots_equal(once.snapshot(AS_OF), twice.snapshot(AS_OF))

    def test_a_rejected_touchpoint_leaves_no_trace(self, pool: Pool) -> None:
        # sent before its customer existed, then sent again with the same id once it does
        first = pool.ingest([purchase("t1", "c1", at(1), "9.90")])
        assert reasons_by_index(first) == {0: RejectReason.UNKNOWN_CUSTOMER}
        second = pool.ingest([customer("c1"), purchase("t1", "c1", at(1), "9.90")])
        assert second.ok
        assert second.touchpoints_accepted == 1
        assert second.duplicates == 0


class TestCustomerUpdates:
    def test_an_identical_customer_is_unchanged(self, pool: Pool) -> None:
        pool.ingest(rich_customers())
        report = pool.ingest(rich_customers())
        assert report.customers_unchanged == 4
        assert report.customers_added == report.customers_updated == 0
        assert_accounted(report, customers=4)

    def test_new_tags_are_an_update_the_snapshot_shows(self, pool: Pool) -> None:
        pool.ingest([customer("c1", tags={"vip"}), customer("c2", tags={"vip"})])
        report = pool.ingest([customer("c1", tags={"churn-risk"}, updated_at=at(2))])
        assert report.customers_updated == 1
        assert_accounted(report, customers=1)
        snap = pool.snapshot(AS_OF)
        assert snap.feature("tag:vip").tolist() == [False, True]
        assert snap.feature("tag:churn-risk").tolist() == [True, False]
        assert pool.customer("c1").tags == {"churn-risk"}

    def test_consent_can_be_given_and_withdrawn(self, pool: Pool) -> None:
        pool.ingest([customer("c1", consent={"wecom"})])
        report = pool.ingest([customer("c1", consent={"sms"}, updated_at=at(2))])
        assert report.customers_updated == 1
        snap = pool.snapshot(AS_OF)
        assert snap.feature("consent_wecom").tolist() == [False]
        assert snap.feature("consent_sms").tolist() == [True]
        assert snap.feature("reachable_sms").tolist() == [True]

    def test_attributes_and_agent_are_updated(self, pool: Pool) -> None:
        pool.ingest([customer("c1", attributes={"age": 30, "city": "杭州"}, agent_id="a1")])
        report = pool.ingest(
            [customer("c1", attributes={"age": 31}, agent_id="a2", updated_at=at(2))]
        )
        assert report.customers_updated == 1
        updated = pool.customer("c1")
        assert dict(updated.attributes) == {"age": 31}
        assert updated.agent_id == "a2"
        snap = pool.snapshot(AS_OF)
        assert snap.agent_ids.tolist() == ["a2"]
        # an attribute once set keeps its column (the schema only grows), unset now
        assert snap.feature("attr:city").tolist() == [None]
        # and as of before the update, the profile is as it was
        before = pool.snapshot(at(1))
        assert before.agent_ids.tolist() == ["a1"]
        assert before.feature("attr:city").tolist() == ["杭州"]
        assert before.feature("attr:age").tolist() == [30.0]

    @pytest.mark.parametrize(
        "change",
        [
            {"joined": at(1)},
            {"source": Channel.JD},
            {"referrer_id": "c0"},
            {"referrer_id": None},
        ],
        ids=["joined_at", "source", "referrer", "referrer removed"],
    )
    def test_fixed_facts_cannot_change(self, pool: Pool, change: dict[str, object]) -> None:
        original = customer("c1", source=Channel.DOUYIN, referrer_id="c9")
        pool.ingest([customer("c0"), customer("c9"), original])
        report = pool.ingest(
            [customer("c1", **{"source": Channel.DOUYIN, "referrer_id": "c9", **change})]
        )
        assert reasons_by_index(report, "customer") == {0: RejectReason.CONFLICT}
        assert_accounted(report, customers=1)
        assert pool.customer("c1").same_data(original)

    def test_a_conflict_leaves_the_rest_of_the_customer_alone(self, pool: Pool) -> None:
        original = customer("c1", tags={"vip"})
        pool.ingest([original])
        pool.ingest([customer("c1", at(5), tags={"other"})])
        assert pool.customer("c1").same_data(original)

    def test_the_same_new_customer_twice_in_a_batch(self, pool: Pool) -> None:
        report = pool.ingest(
            [
                customer("c1", tags={"a"}),
                customer("c1", tags={"b"}, updated_at=at(1)),
                customer("c1", at(3)),
            ]
        )
        assert report.customers_added == 1
        assert report.customers_updated == 1
        assert reasons_by_index(report, "customer") == {2: RejectReason.CONFLICT}
        assert_accounted(report, customers=3)
        assert pool.customer("c1").tags == {"b"}


class TestReferrals:
    def test_a_referrer_in_the_same_batch_is_found_whatever_the_order(self, pool: Pool) -> None:
        report = pool.ingest(
            [
                customer("grandchild", at(2), referrer_id="child"),
                customer("child", at(1), referrer_id="root"),
                customer("root", at(0)),
            ]
        )
        assert report.ok
        assert report.customers_added == 3
        snap = pool.snapshot(AS_OF)
        assert dict(zip(snap.customer_ids, snap.referrals.tolist(), strict=True)) == {
            "grandchild": 0,
            "child": 1,
            "root": 1,
        }
        assert pool.customer("grandchild").referrer_id == "child"

    def test_a_referrer_from_an_earlier_batch(self, pool: Pool) -> None:
        pool.ingest([customer("root")])
        report = pool.ingest([customer("child", referrer_id="root")])
        assert report.ok
        assert pool.snapshot(AS_OF).referrals.tolist() == [1, 0]


class TestColumnsAndObjectsAgree:
    """Hosts with arrays and hosts with objects get the very same pool."""

    def _object_pool(self) -> Pool:
        p = new_pool()
        assert p.ingest([*rich_customers(), *rich_touchpoints()]).ok
        return p

    def test_touchpoint_columns_with_string_ids(self) -> None:
        p = new_pool()
        p.ingest(rich_customers())
        report = p.ingest(columns_of(rich_touchpoints()))
        assert report.ok
        assert_accounted(report, touchpoints=11)
        expected = self._object_pool()
        assert_pools_equal(p, expected)
        for when in (at(1), AS_OF, at(60)):
            assert_snapshots_equal(p.snapshot(when), expected.snapshot(when))

    def test_from_touchpoints_is_the_same_as_the_objects(self) -> None:
        p = new_pool()
        p.ingest(rich_customers())
        assert p.ingest(TouchpointColumns.from_touchpoints(rich_touchpoints())).ok
        assert_pools_equal(p, self._object_pool())

    def test_integer_ids_deduplicate_across_batches(self) -> None:
        tps = rich_touchpoints()
        p = new_pool()
        p.ingest(rich_customers())
        first = p.ingest(columns_of(tps[:7], int_ids=True))
        second = p.ingest(columns_of(tps[4:], int_ids=True))
        assert first.touchpoints_accepted == 7
        assert second.duplicate_touchpoints.tolist() == [0, 1, 2]
        assert second.touchpoints_accepted == 4
        assert_accounted(second, touchpoints=7)
        assert_pools_equal(p, self._object_pool(), order_keys=False)

    def test_integer_ids_repeated_within_a_batch(self, pool: Pool) -> None:
        pool.ingest([customer("c1")])
        report = pool.ingest(
            TouchpointColumns.from_arrays(
                id=np.array([7, 3, 7, 3, 9, 7]),
                tenant=TENANT,
                customer_id="c1",
                at=np.array([10, 20, 10, 20, 50, 30]) + int(T0.timestamp()),
                epoch_unit="s",
                channel="app",
                kind="visited",
            )
        )
        assert report.touchpoints_accepted == 3
        assert report.duplicate_touchpoints.tolist() == [2, 3]
        assert reasons_by_index(report) == {5: RejectReason.CONFLICT}
        assert pool.events.at.tolist() == [
            (v + int(T0.timestamp())) * 1_000_000 for v in (10, 20, 50)
        ]

    def test_integer_and_string_ids_are_separate_spaces(self, pool: Pool) -> None:
        pool.ingest([customer("c1")])
        common = {"tenant": TENANT, "customer_id": "c1", "at": [T0], "channel": 1, "kind": 4}
        assert pool.ingest(TouchpointColumns.from_arrays(id=np.array([1]), **common)).ok
        report = pool.ingest(TouchpointColumns.from_arrays(id=["1"], **common))
        assert report.touchpoints_accepted == 1

    @pytest.mark.parametrize("encoding", ["encode", "codes and values", "pandas categorical"])
    def test_dictionary_encoded_customer_ids(self, encoding: str) -> None:
        tps = rich_touchpoints()
        plain = [tp.customer_id for tp in tps]
        if encoding == "encode":
            encoded: object = EncodedIds.encode(plain)
        elif encoding == "codes and values":
            values = sorted(set(plain))
            encoded = EncodedIds(np.array([values.index(c) for c in plain]), np.array(values))
        else:
            pd = pytest.importorskip("pandas")
            encoded = pd.Categorical(plain)
        base = columns_of(tps)
        cols = TouchpointColumns.from_arrays(
            id=base.id,
            tenant=TENANT,
            customer_id=encoded,
            at=base.at.view("datetime64[us]"),
            channel=base.channel,
            kind=base.kind,
            amount=np.where(base.amount_state == 1, base.amount_minor, np.nan),
            minor_units=True,
            promotion=base.promotion,
            discount=np.where(base.discount_minor > 0, base.discount_minor, np.nan),
            related_customer_id=base.related_customer_id,
            agent_id=base.agent_id,
        )
        p = new_pool()
        p.ingest(rich_customers())
        assert p.ingest(cols).ok
        assert_pools_equal(p, self._object_pool())

    def test_an_encoded_id_that_no_row_uses_is_never_looked_up(self, pool: Pool) -> None:
        pool.ingest([customer("c1")])
        ids = EncodedIds(np.array([0, 0]), np.array(["c1", "nobody"], dtype=object))
        report = pool.ingest(
            TouchpointColumns.from_arrays(
                id=["t1", "t2"], tenant=TENANT, customer_id=ids, at=[T0, T0], channel=1, kind=4
            )
        )
        assert report.ok

    def test_customer_columns(self) -> None:
        objects = rich_customers()
        cols = CustomerColumns.from_arrays(
            id=[c.id for c in objects],
            tenant=TENANT,
            joined_at=np.array([int(c.joined_at.timestamp()) for c in objects]).astype("M8[s]"),
            source=[c.source.name for c in objects],
            consent=np.array([consent_mask(c.consent) for c in objects]),
            referrer_id=[c.referrer_id for c in objects],
            agent_id=[c.agent_id for c in objects],
            tags=[c.tags for c in objects],
            attributes=[dict(c.attributes) for c in objects],
        )
        p = new_pool()
        report = p.ingest(cols)
        assert report.ok
        assert_accounted(report, customers=4)
        expected = new_pool()
        expected.ingest(objects)
        assert_pools_equal(p, expected)
        assert_snapshots_equal(p.snapshot(AS_OF), expected.snapshot(AS_OF))

    def test_major_unit_float_amounts_are_rounded_to_fen(self, pool: Pool) -> None:
        pool.ingest([customer("c1")])
        amounts = [99.9, 12.34, 0.01, 1e6]
        cols = TouchpointColumns.from_arrays(
            id=["t1", "t2", "t3", "t4"],
            tenant=TENANT,
            customer_id="c1",
            at=[T0] * 4,
            channel="mini_program",
            kind="purchased",
            amount=amounts,
        )
        assert pool.ingest(cols).ok
        assert pool.events.amount_minor.tolist() == [Money.of(a).minor for a in amounts]

    @pytest.mark.parametrize("amount", [1.015, 10.005])
    def test_float_amounts_round_like_money_of(self, pool: Pool, amount: float) -> None:
        pool.ingest([customer("c1")])
        cols = TouchpointColumns.from_arrays(
            id=["t1"],
            tenant=TENANT,
            customer_id="c1",
            at=[T0],
            channel="mini_program",
            kind="purchased",
            amount=[amount],
        )
        assert pool.ingest(cols).ok
        assert pool.events.amount_minor.tolist() == [Money.of(amount).minor]


class TestPickle:
    def test_a_pickled_pool_is_the_same_pool_and_still_deduplicates(self) -> None:
        p = new_pool()
        p.ingest([*rich_customers(), *rich_touchpoints()])
        p.ingest(columns_of(rich_touchpoints()[:3], int_ids=True))
        restored = pickle.loads(pickle.dumps(p))
        assert_pools_equal(restored, p)
        assert_snapshots_equal(restored.snapshot(AS_OF), p.snapshot(AS_OF))
        again = restored.ingest([*rich_customers(), *rich_touchpoints()])
        assert again.duplicates == 11
        assert again.touchpoints_accepted == 0
        assert again.customers_unchanged == 4
        assert restored.ingest(columns_of(rich_touchpoints()[:3], int_ids=True)).duplicates == 3

    def test_a_restored_pool_keeps_growing(self) -> None:
        p = new_pool()
        p.ingest([customer("c1"), purchase("t1", "c1", at(1), "1.00")])
        restored = pickle.loads(pickle.dumps(p))
        report = restored.ingest(
            [customer("c2"), *(purchase(f"n{i}", "c2", at(2), "1.00") for i in range(50))]
        )
        assert report.touchpoints_accepted == 50
        assert restored.n_touchpoints == 51
        assert p.n_touchpoints == 1


class TestSnapshotsAreImmutable:
    def test_a_snapshot_does_not_change_when_the_pool_does(self, pool: Pool) -> None:
        pool.ingest([customer("c1", tags={"vip"}), purchase("t1", "c1", at(1), "10.00")])
        before = pool.snapshot(AS_OF)
        kept = pickle.loads(pickle.dumps(before))
        pool.ingest(
            [
                customer("c1", tags={"lapsed"}, consent={"sms"}),
                customer("c2"),
                purchase("t2", "c1", at(2), "5.00"),
            ]
        )
        assert_snapshots_equal(before, kept)
        assert len(pool.snapshot(AS_OF)) == 2

    def test_snapshot_arrays_are_read_only(self, shop: Pool) -> None:
        snap = shop.snapshot(AS_OF)
        with pytest.raises(ValueError, match="read-only"):
            snap.orders[0] = 99
        with pytest.raises(ValueError, match="read-only"):
            snap.tags["vip"][0] = False

    def test_the_event_log_view_is_read_only(self, shop: Pool) -> None:
        with pytest.raises(ValueError, match="read-only"):
            shop.events.at[0] = 0
