"""Customers: entities validated at construction, aware timestamps, any Unicode id."""

from __future__ import annotations

import datetime as dt

import attrs
import numpy as np
import pytest
from helpers import T0, TENANT, TZ8, customer

from privdomain import Channel, Customer
from privdomain.errors import InvalidRecordError, NaiveDatetimeError, PrivdomainError


def test_fields_are_parsed_and_normalised() -> None:
    c = customer(
        "c1",
        source="douyin",
        tags=["vip", "vip", "新客"],
        consent=["wecom", Channel.SMS],
        attributes={"age": 31, "region": "华东", "member": True, "score": 0.5, "note": None},
        referrer_id="c0",
        agent_id="导购-07",
    )
    assert c.source is Channel.DOUYIN
    assert c.tags == frozenset({"vip", "新客"})
    assert c.consent == frozenset({Channel.WECOM, Channel.SMS})
    assert dict(c.attributes) == {
        "age": 31,
        "region": "华东",
        "member": True,
        "score": 0.5,
    }  # None means unset: "note" is not kept
    assert c.referrer_id == "c0"
    assert c.agent_id == "导购-07"


def test_defaults() -> None:
    c = Customer("c1", TENANT, T0)
    assert c.source is Channel.OTHER_PUBLIC
    assert c.tags == frozenset()
    assert c.consent == frozenset()
    assert dict(c.attributes) == {}
    assert c.referrer_id is None
    assert c.agent_id is None


def test_joined_at_is_the_same_instant_in_utc() -> None:
    c = customer("c1", dt.datetime(2026, 1, 1, 0, 30, tzinfo=TZ8))
    assert c.joined_at == dt.datetime(2025, 12, 31, 16, 30, tzinfo=dt.UTC)
    assert c.joined_at.utcoffset() == dt.timedelta(0)


def test_naive_joined_at_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError, match="naive"):
        Customer("c1", TENANT, dt.datetime(2026, 1, 1))


def test_datetime64_joined_at_is_read_as_utc() -> None:
    c = Customer("c1", TENANT, np.datetime64("2026-01-01T08:00:00"))
    assert c.joined_at == dt.datetime(2026, 1, 1, 8, tzinfo=dt.UTC)


@pytest.mark.parametrize("when", ["2026-01-01", 1767225600, dt.date(2026, 1, 1)])
def test_joined_at_must_be_an_instant(when: object) -> None:
    with pytest.raises(PrivdomainError):
        Customer("c1", TENANT, when)  # type: ignore[arg-type]


class TestIdentity:
    def test_customers_are_equal_when_tenant_and_id_are(self) -> None:
        a = customer("c1", tags={"vip"})
        b = customer("c1", T0 + dt.timedelta(days=3), source="jd")
        assert a == b
        assert hash(a) == hash(b)
        assert not a.same_data(b)
        assert a.same_data(customer("c1", tags={"vip"}))

    def test_same_id_in_another_tenant_is_another_customer(self) -> None:
        assert customer("c1") != customer("c1", tenant="other-brand")
        assert len({customer("c1"), customer("c1", tenant="other-brand")}) == 2

    def test_a_customer_is_not_equal_to_its_id(self) -> None:
        assert customer("c1") != "c1"

    def test_changes_go_through_evolve_and_are_validated_again(self) -> None:
        c = customer("c1")
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            c.tags = frozenset({"x"})  # type: ignore[misc]
        assert attrs.evolve(c, tags={"x"}).tags == frozenset({"x"})
        with pytest.raises(InvalidRecordError, match="own referrer"):
            attrs.evolve(c, referrer_id="c1")

    def test_attributes_cannot_be_changed_behind_the_customers_back(self) -> None:
        given = {"age": 30}
        c = customer("c1", attributes=given)
        given["age"] = 99
        assert c.attributes["age"] == 30
        with pytest.raises(TypeError):
            c.attributes["age"] = 40  # type: ignore[index]


class TestIds:
    @pytest.mark.parametrize(
        "cid", ["张三", "🦊🎉", "user@example.com", "王-🐼-007", "x" * 256, "a b"]
    )
    def test_any_printable_unicode_up_to_256_characters(self, cid: str) -> None:
        assert customer(cid).id == cid

    @pytest.mark.parametrize(
        "cid", ["x" * 257, "😀" * 257, "", "   ", "line\nbreak", "tab\there", "nul\x00"]
    )
    def test_overlong_blank_and_control_characters_are_refused(self, cid: str) -> None:
        with pytest.raises(InvalidRecordError):
            customer(cid)

    @pytest.mark.parametrize("cid", [42, None, b"c1"])
    def test_ids_are_strings(self, cid: object) -> None:
        with pytest.raises(InvalidRecordError, match="str"):
            customer(cid)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "field", ["tenant", "referrer_id", "agent_id"], ids=lambda f: f"{f} follows the id rule"
    )
    def test_other_ids_follow_the_same_rule(self, field: str) -> None:
        with pytest.raises(InvalidRecordError):
            customer("c1", **{field: "y" * 257})

    def test_self_referral_is_refused(self) -> None:
        with pytest.raises(InvalidRecordError, match="own referrer"):
            customer("c1", referrer_id="c1")


class TestProfile:
    def test_a_single_string_is_not_a_set_of_tags(self) -> None:
        # frozenset("vip") would silently be {"v", "i", "p"}
        with pytest.raises(InvalidRecordError, match="single str"):
            customer("c1", tags="vip")  # type: ignore[arg-type]

    def test_tags_follow_the_id_rule(self) -> None:
        with pytest.raises(InvalidRecordError):
            customer("c1", tags={""})

    def test_consent_is_for_owned_channels_only(self) -> None:
        with pytest.raises(InvalidRecordError, match="owned"):
            customer("c1", consent={Channel.WECOM, Channel.DOUYIN})

    def test_consent_to_one_channel_may_be_given_bare(self) -> None:
        assert customer("c1", consent=Channel.SMS).consent == {Channel.SMS}
        assert customer("c1", consent="sms").consent == {Channel.SMS}

    def test_unknown_channels_are_invalid_records(self) -> None:
        with pytest.raises(InvalidRecordError, match="consent"):
            customer("c1", consent={"fax"})
        with pytest.raises(InvalidRecordError, match="source"):
            customer("c1", source="fax")

    @pytest.mark.parametrize("value", [[1, 2], {"a": 1}, dt.date(2026, 1, 1), np.array([1])])
    def test_attributes_are_scalars(self, value: object) -> None:
        with pytest.raises(InvalidRecordError, match="attribute"):
            customer("c1", attributes={"x": value})

    def test_attribute_names_follow_the_id_rule(self) -> None:
        with pytest.raises(InvalidRecordError):
            customer("c1", attributes={"": 1})


class TestWrongTypes:
    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("attributes", 5),
            ("attributes", [("age", 30)]),
            ("tags", 5),
            ("tags", b"vip"),
            ("consent", 3),
            ("consent", [2.0]),
            ("source", 10**100),
            ("source", True),
            ("referrer_id", 7),
            ("agent_id", ["a"]),
        ],
    )
    def test_errors_name_the_field(self, field: str, value: object) -> None:
        with pytest.raises(InvalidRecordError, match=field):
            customer("c1", **{field: value})

    def test_huge_and_deeply_nested_values_still_give_a_short_message(self) -> None:
        nested: list[object] = []
        for _ in range(50_000):
            nested = [nested]
        for value in (10**5000, nested):
            with pytest.raises(InvalidRecordError) as info:
                customer(value)  # type: ignore[arg-type]
            assert len(str(info.value)) < 300

    def test_numpy_integer_codes_are_channels(self) -> None:
        assert customer("c1", source=np.int64(14)).source is Channel.DOUYIN
        assert customer("c1", consent=[np.uint8(1)]).consent == {Channel.WECOM}

    def test_joined_at_must_be_an_instant_in_range(self) -> None:
        with pytest.raises(InvalidRecordError, match="joined_at"):
            Customer("c1", TENANT, 10**5000)  # type: ignore[arg-type]
        late = dt.datetime(9999, 12, 31, 23, tzinfo=dt.timezone(dt.timedelta(hours=-8)))
        with pytest.raises(PrivdomainError, match="range"):
            Customer("c1", TENANT, late)
