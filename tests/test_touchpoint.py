"""Touchpoints: values validated at construction; money only where money changes hands."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from helpers import T0, TENANT, TZ8, touch

from privdomain import Channel, Money, TouchKind, Touchpoint
from privdomain.errors import (
    InvalidMoneyError,
    InvalidRecordError,
    NaiveDatetimeError,
    ValidationError,
)


def test_a_touchpoint_is_a_value() -> None:
    a = touch("t1", "c1", T0, "purchased", amount="9.90")
    b = touch("t1", "c1", T0, "purchased", amount="9.90")
    assert a == b
    assert hash(a) == hash(b)
    assert a != touch("t1", "c1", T0, "purchased", amount="9.91")


def test_fields_are_parsed() -> None:
    tp = touch("t1", "c1", T0, kind="clicked", channel="official_account", agent_id="store-3")
    assert tp.kind is TouchKind.CLICKED
    assert tp.channel is Channel.OFFICIAL_ACCOUNT
    assert tp.amount is None
    assert tp.discount is None
    assert tp.promotion is False
    assert tp.agent_id == "store-3"


class TestTime:
    def test_the_instant_is_kept_in_utc(self) -> None:
        tp = touch("t1", "c1", dt.datetime(2026, 1, 1, 7, 59, 59, tzinfo=TZ8))
        assert tp.at == dt.datetime(2025, 12, 31, 23, 59, 59, tzinfo=dt.UTC)

    def test_the_same_instant_in_two_zones_is_the_same_touchpoint(self) -> None:
        local = touch("t1", "c1", dt.datetime(2026, 1, 1, 8, tzinfo=TZ8))
        utc = touch("t1", "c1", dt.datetime(2026, 1, 1, 0, tzinfo=dt.UTC))
        assert local == utc

    def test_naive_datetimes_are_refused(self) -> None:
        with pytest.raises(NaiveDatetimeError):
            touch("t1", "c1", dt.datetime(2026, 1, 1, 12))

    def test_datetime64_is_read_as_utc(self) -> None:
        tp = touch("t1", "c1", np.datetime64("2026-01-01T12:00:00"))  # type: ignore[arg-type]
        assert tp.at == dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)

    def test_nat_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="NaT"):
            touch("t1", "c1", np.datetime64("NaT"))  # type: ignore[arg-type]


class TestMoney:
    @pytest.mark.parametrize("kind", [TouchKind.PURCHASED, TouchKind.REFUNDED])
    def test_purchases_and_refunds_need_an_amount(self, kind: TouchKind) -> None:
        with pytest.raises(InvalidMoneyError, match="needs an amount"):
            touch("t1", "c1", T0, kind)

    @pytest.mark.parametrize("kind", [TouchKind.PURCHASED, TouchKind.REFUNDED])
    def test_amounts_are_never_negative(self, kind: TouchKind) -> None:
        # money going back is a REFUNDED touch with a positive amount, not a negative purchase
        with pytest.raises(InvalidMoneyError, match="negative"):
            touch("t1", "c1", T0, kind, amount=Money(-100))

    def test_a_refund_is_its_own_kind(self) -> None:
        tp = touch("t1", "c1", T0, TouchKind.REFUNDED, amount="20.00")
        assert tp.amount == Money(2000)

    def test_zero_is_a_valid_amount(self) -> None:
        assert touch("t1", "c1", T0, "purchased", amount="0").amount == Money(0)

    @pytest.mark.parametrize("amount", [9.9, 990, "9.90", float("nan"), float("inf")])
    def test_amounts_are_money_objects(self, amount: object) -> None:
        with pytest.raises(InvalidMoneyError, match="Money"):
            Touchpoint("t1", TENANT, "c1", T0, "wecom", "purchased", amount=amount)  # type: ignore[arg-type]

    def test_nan_and_inf_cannot_even_become_money(self) -> None:
        with pytest.raises(InvalidMoneyError):
            touch("t1", "c1", T0, "purchased", amount=Money.of(float("nan")))

    @pytest.mark.parametrize("kind", [k for k in TouchKind if not k.monetary])
    def test_other_kinds_carry_no_amount(self, kind: TouchKind) -> None:
        with pytest.raises(InvalidRecordError, match="no amount"):
            touch("t1", "c1", T0, kind, amount="1.00")

    def test_a_discount_belongs_to_a_purchase(self) -> None:
        tp = touch("t1", "c1", T0, "purchased", amount="90.00", discount="10.00", promotion=True)
        assert tp.discount == Money(1000)
        with pytest.raises(InvalidRecordError, match="discount"):
            touch("t1", "c1", T0, "refunded", amount="90.00", discount="10.00")

    def test_a_discount_is_not_negative(self) -> None:
        with pytest.raises(InvalidMoneyError, match="negative"):
            touch("t1", "c1", T0, "purchased", amount="90.00", discount=Money(-1))

    def test_a_discount_is_in_the_amounts_currency(self) -> None:
        with pytest.raises(InvalidMoneyError, match="currency"):
            touch("t1", "c1", T0, "purchased", amount="90.00", discount=Money(100, "USD"))


class TestOtherRules:
    def test_a_customer_cannot_invite_themselves(self) -> None:
        with pytest.raises(InvalidRecordError, match="themselves"):
            touch("t1", "c1", T0, "invited", related_customer_id="c1")

    def test_unicode_ids(self) -> None:
        tp = touch("订单-🧧-1", "张三", T0, "invited", related_customer_id="李四")
        assert (tp.id, tp.customer_id, tp.related_customer_id) == ("订单-🧧-1", "张三", "李四")

    @pytest.mark.parametrize("field", ["id", "customer_id", "tenant"])
    def test_ids_over_256_characters_are_refused(self, field: str) -> None:
        fields = {"id": "t1", "customer_id": "c1", "tenant": TENANT}
        fields[field] = "x" * 257
        with pytest.raises(InvalidRecordError, match="256"):
            Touchpoint(at=T0, channel="wecom", kind="visited", **fields)

    @pytest.mark.parametrize(("field", "value"), [("channel", "fax"), ("kind", "teleported")])
    def test_unknown_channel_or_kind(self, field: str, value: str) -> None:
        with pytest.raises(InvalidRecordError, match=field):
            touch("t1", "c1", T0, **{field: value})


class TestWrongTypes:
    def test_numpy_scalars_are_read_like_python_ones(self) -> None:
        tp = touch("t1", "c1", T0, kind=np.int64(8), channel=np.uint8(1), amount="1.00")  # type: ignore[arg-type]
        assert (tp.kind, tp.channel) == (TouchKind.PURCHASED, Channel.WECOM)
        assert touch("t2", "c1", T0, promotion=np.True_).promotion is True

    @pytest.mark.parametrize("promotion", ["False", "True", 1, 0, None, np.nan])
    def test_promotion_is_true_or_false_never_truthiness(self, promotion: object) -> None:
        with pytest.raises(InvalidRecordError, match="promotion"):
            touch("t1", "c1", T0, promotion=promotion)

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("channel", 10**100),
            ("channel", [1]),
            ("kind", True),
            ("kind", 2.0),
            ("related_customer_id", 5),
            ("agent_id", b"a"),
        ],
    )
    def test_errors_name_the_field(self, field: str, value: object) -> None:
        with pytest.raises(InvalidRecordError, match=field):
            touch("t1", "c1", T0, **{field: value})

    def test_unknown_names_come_with_the_valid_ones(self) -> None:
        with pytest.raises(InvalidRecordError, match="official_account") as info:
            touch("t1", "c1", T0, channel="wechat_official")
        assert "'wechat_official'" in str(info.value)
        with pytest.raises(InvalidRecordError, match="unsubscribed"):
            touch("t1", "c1", T0, kind="unsubscribe")

    def test_a_time_that_is_no_instant_is_an_invalid_record(self) -> None:
        for when in (10**5000, "2026-01-01", 1.5e9):
            with pytest.raises(InvalidRecordError, match="touchpoint time"):
                touch("t1", "c1", when)  # type: ignore[arg-type]
        # outside the supported range, even where only the offset pushes it out
        far = dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
        with pytest.raises(ValidationError, match="range"):
            touch("t1", "c1", far)
