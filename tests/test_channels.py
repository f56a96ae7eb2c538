"""Channels and touch kinds: stable codes in the event log, owned versus public, parsing."""

from __future__ import annotations

import pytest

from privdomain import OWNED_CHANNELS, Channel, TouchKind
from privdomain.domain import CONNECT_KINDS, DISCONNECT_KINDS


def test_codes_are_dense_and_fit_the_event_log() -> None:
    # the log stores codes as uint8 with 255 meaning "unknown"
    assert [c.value for c in Channel] == list(range(len(Channel)))
    assert [k.value for k in TouchKind] == list(range(len(TouchKind)))
    assert len(Channel) < 255
    assert len(TouchKind) < 255


@pytest.mark.parametrize(
    ("member", "code"),
    [
        (Channel.WECHAT, 0),
        (Channel.WECOM, 1),
        (Channel.OFFLINE_STORE, 9),
        (Channel.TAOBAO, 10),
        (Channel.OTHER_PUBLIC, 21),
        (Channel.REFERRAL, 22),
        (TouchKind.SENT, 0),
        (TouchKind.PURCHASED, 8),
        (TouchKind.REFUNDED, 9),
        (TouchKind.UNSUBSCRIBED, 15),
    ],
)
def test_codes_never_change(member: Channel | TouchKind, code: int) -> None:
    # codes are persisted by hosts (pickled pools, their own tables): renumbering corrupts data
    assert member.value == code


def test_owned_and_public_channels() -> None:
    owned = {c for c in Channel if c.owned}
    public = {c for c in Channel if c.public}
    assert owned == {
        Channel.WECHAT,
        Channel.WECOM,
        Channel.GROUP,
        Channel.OFFICIAL_ACCOUNT,
        Channel.MINI_PROGRAM,
        Channel.VIDEO_CHANNEL,
        Channel.APP,
        Channel.SMS,
        Channel.EMAIL,
        Channel.WEB_SHOP,
        Channel.PHONE,
        Channel.OFFLINE_STORE,
    }
    assert Channel.DOUYIN in public
    assert Channel.TAOBAO in public
    assert not owned & public
    # a referral is a source, neither a channel the brand owns nor a rented platform
    assert set(Channel) - owned - public == {Channel.REFERRAL}


def test_owned_channels_are_the_snapshot_columns_in_code_order() -> None:
    assert tuple(sorted((c for c in Channel if c.owned), key=lambda c: c.value)) == OWNED_CHANNELS


@pytest.mark.parametrize("enum_cls", [Channel, TouchKind])
def test_parse_reads_members_names_in_any_case_and_codes(
    enum_cls: type[Channel] | type[TouchKind],
) -> None:
    for member in enum_cls:
        assert enum_cls.parse(member) is member
        assert enum_cls.parse(member.name.lower()) is member
        assert enum_cls.parse(f" {member.name} ") is member
        assert enum_cls.parse(member.value) is member


@pytest.mark.parametrize("enum_cls", [Channel, TouchKind])
def test_parse_refuses_unknown_names_and_codes(enum_cls: type[Channel] | type[TouchKind]) -> None:
    with pytest.raises(ValueError, match="unknown"):
        enum_cls.parse("carrier pigeon")
    with pytest.raises(ValueError, match="not a valid"):
        enum_cls.parse(200)


@pytest.mark.parametrize("value", [True, 1.0, None, b"wecom"])
@pytest.mark.parametrize("enum_cls", [Channel, TouchKind])
def test_parse_refuses_other_types(
    enum_cls: type[Channel] | type[TouchKind], value: object
) -> None:
    # True would otherwise silently read as code 1
    with pytest.raises(TypeError):
        enum_cls.parse(value)  # type: ignore[arg-type]


def test_only_purchases_and_refunds_carry_money() -> None:
    assert {k for k in TouchKind if k.monetary} == {TouchKind.PURCHASED, TouchKind.REFUNDED}


def test_only_sent_is_outbound() -> None:
    assert {k for k in TouchKind if k.outbound} == {TouchKind.SENT}


def test_connecting_and_disconnecting_kinds_pair_up() -> None:
    assert {TouchKind.JOINED, TouchKind.ADDED, TouchKind.SUBSCRIBED} == CONNECT_KINDS
    assert {TouchKind.LEFT, TouchKind.DELETED, TouchKind.UNSUBSCRIBED} == DISCONNECT_KINDS
    assert not CONNECT_KINDS & DISCONNECT_KINDS


def test_owned_channels_have_columns_and_consent_bits() -> None:
    from privdomain.domain.channels import CONSENT_BITS, OWNED_CHANNELS, OWNED_COLUMN

    assert [int(OWNED_COLUMN[c.value]) for c in OWNED_CHANNELS] == list(range(len(OWNED_CHANNELS)))
    assert all(OWNED_COLUMN[c.value] == -1 for c in Channel if not c.owned)
    assert sum(1 << c.value for c in Channel if c.owned) == CONSENT_BITS


def test_a_web_shop_purchase_log_files_under_the_web_shop() -> None:
    import datetime as dt

    import numpy as np

    from privdomain import CustomerColumns, Pool, TouchpointColumns

    pool = Pool("shop", currency="USD")
    pool.ingest(
        CustomerColumns.from_arrays(
            id=["00001"],
            tenant="shop",
            joined_at=np.array(["1997-01-01"], dtype="datetime64[D]"),
            source="web_shop",
            consent=1 << Channel.WEB_SHOP.value | 1 << Channel.PHONE.value,
        )
    )
    report = pool.ingest(
        TouchpointColumns.from_arrays(
            id=[1, 2],
            tenant="shop",
            customer_id=["00001", "00001"],
            at=np.array(["1997-01-01", "1997-02-03"], dtype="datetime64[D]"),
            channel="web_shop",
            kind=["purchased", "sent"],
            amount=[11.77, np.nan],
            currency="USD",
        )
    )
    assert report.ok, report.rejected
    snap = pool.snapshot(dt.datetime(1997, 3, 1, tzinfo=dt.UTC))
    assert snap.feature("touches_web_shop").tolist() == [2]
    assert snap.feature("consent_web_shop").tolist() == [True]
    assert snap.feature("consent_phone").tolist() == [True]
    assert snap.feature("days_since_contact_web_shop").tolist() == [26.0]
    assert snap.contact_counts("month")[0].sum() == 0
