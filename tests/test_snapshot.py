"""Snapshots: every feature of a small, hand-computed pool, day boundaries in the brand's time
zone, reachability, and the tables a host exports."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from helpers import CHINA, TENANT, at, customer, new_pool, purchase, touch

from privdomain import OWNED_CHANNELS, Channel, Money, Pool, Snapshot, TouchKind
from privdomain.errors import UnknownCustomerError, UnknownFeatureError

AS_OF = at(30)  # 31 January 2026, 00:00 in China


def utc(when: dt.datetime) -> np.datetime64:
    return np.datetime64(int(when.timestamp()), "s")


class TestHandComputedFeatures:
    """The ``shop`` fixture of conftest.py, feature by feature."""

    @pytest.fixture
    def snap(self, shop: Pool) -> Snapshot:
        return shop.snapshot(AS_OF)

    def test_rows_are_the_customers_in_pool_order(self, snap: Snapshot) -> None:
        assert snap.customer_ids.tolist() == ["alice", "bob", "carol"]
        assert snap.index.tolist() == [0, 1, 2]
        assert len(snap) == 3
        assert snap.as_of == AS_OF
        assert (snap.tenant, snap.currency, snap.utc_offset) == (TENANT, "CNY", CHINA)

    def test_purchases(self, snap: Snapshot) -> None:
        assert snap.orders.tolist() == [3, 0, 0]
        assert snap.purchase_days.tolist() == [2, 0, 0]  # 2 Jan twice, 5 Jan once
        assert snap.gross_spend.tolist() == [170.5, 0.0, 0.0]
        assert snap.first_day_spend.tolist() == [150.5, 0.0, 0.0]
        assert snap.promo_orders.tolist() == [1, 0, 0]
        assert snap.discounted_orders.tolist() == [1, 0, 0]
        assert snap.discount_total.tolist() == [5.0, 0.0, 0.0]
        assert snap.first_purchase[0] == utc(at(1, hours=10))
        assert snap.last_purchase[0] == utc(at(4, hours=9))
        assert np.isnat(snap.first_purchase[1:]).all()
        assert snap.buyers.tolist() == [True, False, False]

    def test_refunds_and_derived_money(self, snap: Snapshot) -> None:
        assert snap.refunds.tolist() == [1, 0, 0]
        assert snap.refunded.tolist() == [20.0, 0.0, 0.0]
        assert snap.net_spend.tolist() == [150.5, 0.0, 0.0]
        assert snap.avg_order_value[0] == pytest.approx(170.5 / 3)
        assert np.isnan(snap.avg_order_value[1:]).all()

    def test_days(self, snap: Snapshot) -> None:
        assert snap.recency_days[0] == 25 + 15 / 24  # from 5 Jan 09:00 to 31 Jan 00:00
        assert np.isnan(snap.recency_days[1:]).all()
        assert snap.tenure_days.tolist() == [30.0, 29.0, 28.0]
        assert snap.days_since_active[0] == 25.0  # the refund on 6 Jan
        assert snap.days_since_active[1] == 28 + 11 / 24  # bob's reply on 2 Jan, 13:00
        assert np.isnan(snap.days_since_active[2])

    def test_touch_counts(self, snap: Snapshot) -> None:
        by_channel = snap.touches_by_channel
        assert by_channel.shape == (3, len(Channel))
        assert by_channel[0, Channel.MINI_PROGRAM.value] == 3
        assert by_channel[0, Channel.WECOM.value] == 1
        assert by_channel[1, Channel.WECOM.value] == 2
        assert by_channel.sum(axis=1).tolist() == [4, 2, 0]
        by_kind = snap.touches_by_kind
        assert by_kind.shape == (3, len(TouchKind))
        assert by_kind[1, TouchKind.SENT.value] == 1
        assert by_kind[1, TouchKind.REPLIED.value] == 1
        assert snap.feature("count_purchased").tolist() == [3, 0, 0]
        assert snap.feature("touches_wecom").tolist() == [1, 2, 0]

    def test_contact_and_activity(self, snap: Snapshot) -> None:
        wecom = OWNED_CHANNELS.index(Channel.WECOM)
        assert snap.last_contact.shape == (3, len(OWNED_CHANNELS))
        assert snap.last_contact[1, wecom] == utc(at(1, hours=12))
        others = np.ones(snap.last_contact.shape, dtype=bool)
        others[1, wecom] = False
        assert np.isnat(snap.last_contact[others]).all()
        assert snap.last_active[1] == utc(at(1, hours=13))
        assert snap.feature("days_since_contact_wecom")[1] == 28.5
        assert np.isnan(snap.feature("days_since_contact_wecom")[[0, 2]]).all()

    def test_referrals(self, snap: Snapshot) -> None:
        assert snap.referrals.tolist() == [1, 0, 0]
        assert snap.referrer_ids.tolist() == [None, "alice", None]
        assert snap.has_referrer.tolist() == [False, True, False]
        assert snap.source.tolist() == [
            Channel.DOUYIN.value,
            Channel.REFERRAL.value,
            Channel.OTHER_PUBLIC.value,
        ]

    def test_consent_and_reach(self, snap: Snapshot) -> None:
        consented = {
            cid: {c for c, ok in zip(OWNED_CHANNELS, row, strict=True) if ok}
            for cid, row in zip(snap.customer_ids, snap.consent, strict=True)
        }
        assert consented == {
            "alice": {Channel.WECOM, Channel.SMS},
            "bob": {Channel.WECOM},
            "carol": set(),
        }
        assert (snap.reachable == snap.consent).all()  # nobody disconnected
        assert snap.reachable_channels.tolist() == [2, 1, 0]

    def test_profile(self, snap: Snapshot) -> None:
        assert snap.feature("tag:vip").tolist() == [True, False, False]
        assert snap.feature("attr:age")[[0, 2]].tolist() == [31.0, 24.0]
        assert np.isnan(snap.feature("attr:age")[1])
        assert snap.feature("attr:region").tolist() == ["华东", None, None]
        assert snap.agent_ids.tolist() == [None, None, None]

    def test_feature_names_cover_every_feature(self, snap: Snapshot) -> None:
        names = snap.feature_names()
        assert {
            "orders",
            "recency_days",
            "touches_wecom",
            "count_sent",
            "consent_sms",
            "reachable_sms",
            "days_since_contact_sms",
            "tag:vip",
            "attr:age",
            "attr:region",
        } <= set(names)
        for name in names:
            assert snap.feature(name).shape == (3,), name

    def test_unknown_names(self, snap: Snapshot) -> None:
        with pytest.raises(UnknownFeatureError, match="did you mean"):
            snap.feature("touches_wechatt")
        with pytest.raises(UnknownFeatureError):
            snap.feature("consent_douyin")  # consent is for owned channels only
        with pytest.raises(UnknownCustomerError, match="dave"):
            snap.row("dave")
        assert snap.row("bob") == 1


class TestBusinessDays:
    """Purchase days are cut at midnight in the pool's offset, not in UTC."""

    def _days(self, offset: dt.timedelta, *times: dt.datetime) -> tuple[int, float]:
        p = Pool(TENANT, utc_offset=offset)
        p.ingest([customer("c1", at(-1))])
        p.ingest([purchase(f"t{i}", "c1", t, "1.00") for i, t in enumerate(times)])
        snap = p.snapshot(at(10))
        return int(snap.purchase_days[0]), float(snap.first_day_spend[0])

    def test_one_second_before_and_at_local_midnight_are_two_days(self) -> None:
        times = (at(1, seconds=-1), at(1))
        assert self._days(CHINA, *times) == (2, 1.0)
        assert self._days(dt.timedelta(0), *times) == (1, 2.0)  # both on 1 January in UTC

    def test_utc_midnight_is_no_boundary_in_china(self) -> None:
        times = (at(0, hours=7, minutes=59, seconds=59), at(0, hours=8))
        assert self._days(CHINA, *times) == (1, 2.0)
        assert self._days(dt.timedelta(0), *times) == (2, 1.0)

    def test_a_negative_offset(self) -> None:
        new_york = dt.timedelta(hours=-5)
        local = dt.timezone(new_york)
        times = (
            dt.datetime(2026, 1, 2, 23, 59, 59, tzinfo=local),
            dt.datetime(2026, 1, 3, 0, 0, 0, tzinfo=local),
        )
        assert self._days(new_york, *times) == (2, 1.0)

    def test_several_purchases_on_the_same_day_and_second(self) -> None:
        times = (at(2, hours=1), at(2, hours=1), at(2, hours=23), at(3, hours=1))
        assert self._days(CHINA, *times) == (2, 3.0)


class TestReachability:
    """Reachable means consent and still connected: the latest connect or disconnect touch on a
    channel decides, and a disconnect wins a tie on the same second."""

    def _reachable(
        self,
        *touches: tuple[float, TouchKind, Channel],
        when: float = 30,
        consent: frozenset[Channel] = frozenset(OWNED_CHANNELS),
    ) -> dict[Channel, bool]:
        p = new_pool()
        p.ingest([customer("c1", consent=consent)])
        p.ingest(
            [
                touch(f"t{i}", "c1", at(day), kind, channel)
                for i, (day, kind, channel) in enumerate(touches)
            ]
        )
        snap = p.snapshot(at(when))
        return dict(zip(OWNED_CHANNELS, snap.reachable[0].tolist(), strict=True))

    def test_deleting_the_brand_closes_the_channel(self) -> None:
        reach = self._reachable((1, TouchKind.DELETED, Channel.WECOM))
        assert reach[Channel.WECOM] is False
        assert reach[Channel.WECHAT] is True

    @pytest.mark.parametrize(
        ("connect", "disconnect"),
        [
            (TouchKind.ADDED, TouchKind.DELETED),
            (TouchKind.JOINED, TouchKind.LEFT),
            (TouchKind.SUBSCRIBED, TouchKind.UNSUBSCRIBED),
        ],
    )
    def test_the_latest_connection_touch_decides(
        self, connect: TouchKind, disconnect: TouchKind
    ) -> None:
        ch = Channel.GROUP
        assert self._reachable((1, disconnect, ch), (2, connect, ch))[ch] is True
        assert self._reachable((1, connect, ch), (2, disconnect, ch))[ch] is False
        # in between, the channel was closed
        assert self._reachable((1, disconnect, ch), (2, connect, ch), when=1.5)[ch] is False
        # a connect later than as_of is not seen
        assert self._reachable((1, disconnect, ch), (40, connect, ch))[ch] is False

    def test_a_tie_on_the_same_second_goes_to_disconnect(self) -> None:
        ch = Channel.WECOM
        assert self._reachable((1, TouchKind.ADDED, ch), (1, TouchKind.DELETED, ch))[ch] is False
        assert self._reachable((1, TouchKind.DELETED, ch), (1, TouchKind.ADDED, ch))[ch] is False

    def test_connecting_does_not_replace_consent(self) -> None:
        reach = self._reachable((1, TouchKind.ADDED, Channel.WECOM), consent=frozenset())
        assert not any(reach.values())

    def test_other_touches_do_not_change_connection(self) -> None:
        ch = Channel.SMS
        reach = self._reachable(
            (1, TouchKind.UNSUBSCRIBED, ch), (2, TouchKind.CLICKED, ch), (3, TouchKind.REPLIED, ch)
        )
        assert reach[ch] is False


class TestContactAndActivity:
    def test_only_messages_on_owned_channels_are_contacts(self, pool: Pool) -> None:
        pool.ingest(
            [
                customer("c1"),
                touch("t1", "c1", at(1), "sent", "sms"),
                touch("t2", "c1", at(2), "sent", "sms"),
                touch("t3", "c1", at(3), "sent", "douyin"),  # public: not our channel to count
                touch("t4", "c1", at(1, hours=5), "opened", "sms"),
            ]
        )
        snap = pool.snapshot(AS_OF)
        sms = OWNED_CHANNELS.index(Channel.SMS)
        assert snap.last_contact[0, sms] == utc(at(2))
        assert np.isnat(np.delete(snap.last_contact[0], sms)).all()
        assert snap.touches_by_channel[0, Channel.DOUYIN.value] == 1
        # the brand's messages are not the customer's activity
        assert snap.last_active[0] == utc(at(1, hours=5))

    def test_referrals_count_only_customers_who_had_joined(self, pool: Pool) -> None:
        pool.ingest(
            [
                customer("root", at(0)),
                customer("early", at(1), referrer_id="root"),
                customer("late", at(40), referrer_id="root"),
            ]
        )
        assert pool.snapshot(AS_OF).referrals.tolist() == [1, 0]
        assert pool.snapshot(at(40)).referrals.tolist() == [2, 0, 0]


class TestMoneyUnits:
    def test_zero_exponent_currency(self) -> None:
        p = Pool(TENANT, currency="JPY")
        p.ingest([customer("c1"), touch("t1", "c1", at(1), "purchased", amount=Money(1500, "JPY"))])
        assert p.snapshot(AS_OF).gross_spend.tolist() == [1500.0]


def test_as_of_hides_events_later_within_the_same_second(pool: Pool) -> None:
    pool.ingest([customer("c1"), touch("t1", "c1", at(1, hours=12, seconds=0.7))])
    assert pool.snapshot(at(1, hours=12, seconds=0.3)).touches_by_kind.sum() == 0


class TestExport:
    def test_records_are_plain_python_values(self, shop: Pool) -> None:
        records = shop.snapshot(AS_OF).to_records()
        assert [r["customer_id"] for r in records] == ["alice", "bob", "carol"]
        alice, bob, _ = records
        assert list(alice)[:8] == [
            "customer_id",
            "joined_at",
            "source",
            "referrer_id",
            "agent_id",
            "first_purchase",
            "last_purchase",
            "last_active",
        ]
        for column in (
            "orders",
            "gross_spend",
            "recency_days",
            "touches_wecom",
            "count_sent",
            "consent_sms",
            "reachable_sms",
            "last_contact_wecom",
            "tag:vip",
            "attr:age",
        ):
            assert column in alice, column
        assert alice["source"] == "DOUYIN"
        assert alice["orders"] == 3
        assert alice["gross_spend"] == 170.5
        assert alice["tag:vip"] is True
        assert alice["attr:region"] == "华东"
        assert bob["referrer_id"] == "alice"
        allowed = (str, int, float, bool, dt.datetime, type(None))
        for record in records:
            assert set(record) == set(alice)
            for name, value in record.items():
                assert type(value) in allowed, (name, type(value))

    def test_datetimes_are_aware_utc_and_nat_is_none(self, shop: Pool) -> None:
        alice, bob, carol = shop.snapshot(AS_OF).to_records()
        assert alice["first_purchase"] == at(1, hours=10)
        assert alice["first_purchase"].utcoffset() == dt.timedelta(0)
        assert alice["joined_at"] == at(0)
        assert bob["last_contact_wecom"] == at(1, hours=12)
        assert carol["first_purchase"] is None
        assert carol["last_active"] is None
        assert carol["last_contact_wecom"] is None
        assert carol["recency_days"] is None  # NaN becomes None
        assert carol["avg_order_value"] is None
        assert carol["attr:region"] is None

    def test_frame_is_indexed_by_customer_id(self, shop: Pool) -> None:
        pd = pytest.importorskip("pandas")
        snap = shop.snapshot(AS_OF)
        frame = snap.to_frame()
        assert frame.index.name == "customer_id"
        assert frame.index.tolist() == ["alice", "bob", "carol"]
        assert "customer_id" not in frame.columns
        assert list(frame.columns) == [k for k in snap.to_records()[0] if k != "customer_id"]
        assert frame.loc["alice", "orders"] == 3
        assert frame.loc["bob", "referrer_id"] == "alice"
        assert isinstance(frame["first_purchase"].dtype, pd.DatetimeTZDtype)
        assert str(frame["first_purchase"].dtype.tz) == "UTC"
        assert frame.loc["alice", "first_purchase"] == pd.Timestamp(at(1, hours=10))
        assert frame.loc["carol", "first_purchase"] is pd.NaT
        assert math.isnan(frame.loc["carol", "recency_days"])

    def test_an_empty_frame_has_the_columns(self, pool: Pool) -> None:
        pytest.importorskip("pandas")
        pool.ingest([customer("c1", at(5))])
        frame = pool.snapshot(at(1)).to_frame()
        assert len(frame) == 0
        assert "orders" in frame.columns

    def test_repr_summarises(self, shop: Pool) -> None:
        text = repr(shop.snapshot(AS_OF))
        assert "customers=3" in text
        assert "buyers=1" in text
        assert "170.50 CNY" in text


def test_threads_do_not_change_the_snapshot() -> None:
    from privdomain.simulate import simulate_pool

    sim = simulate_pool(400, seed=11)
    pool = sim.pool()
    one = pool.snapshot(sim.as_of, threads=1).columns()
    four = pool.snapshot(sim.as_of, threads=4).columns()
    assert one.keys() == four.keys()
    for name, column in one.items():
        other = four[name]
        if column.dtype.kind == "M":
            column, other = column.view("i8"), other.view("i8")
        assert np.array_equal(column, other, equal_nan=column.dtype.kind == "f"), name


@pytest.mark.parametrize("threads", [0, -1, True])
def test_threads_must_be_a_positive_int(threads: int) -> None:
    from privdomain.errors import ValidationError
    from privdomain.simulate import simulate_pool

    sim = simulate_pool(10, seed=1)
    with pytest.raises(ValidationError):
        sim.pool().snapshot(sim.as_of, threads=threads)
