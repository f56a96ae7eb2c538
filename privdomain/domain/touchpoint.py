"""A touchpoint: one interaction between the brand and a customer on a channel."""

from __future__ import annotations

import datetime as dt

import attrs

from privdomain.domain._time import as_utc_datetime
from privdomain.domain.channels import Channel, TouchKind
from privdomain.domain.customer import (
    check_id,
    customer_id_converter,
    optional_id_converter,
    tenant_converter,
)
from privdomain.domain.money import Money
from privdomain.errors import InvalidMoneyError, InvalidRecordError

__all__ = ["Touchpoint"]


def _touchpoint_id(value: object) -> str:
    return check_id(value, what="touchpoint id")


def _at(value: object) -> dt.datetime:
    return as_utc_datetime(value, what="touchpoint time")


def _channel(value: Channel | str) -> Channel:
    try:
        return Channel.parse(value)
    except (ValueError, TypeError) as exc:
        raise InvalidRecordError(f"channel: {exc}") from None


def _kind(value: TouchKind | str) -> TouchKind:
    try:
        return TouchKind.parse(value)
    except (ValueError, TypeError) as exc:
        raise InvalidRecordError(f"kind: {exc}") from None


def _is_bool(_: object, attribute: attrs.Attribute[bool], value: object) -> None:
    if not isinstance(value, bool):
        raise InvalidRecordError(f"{attribute.name} must be True or False, got {value!r}")


def _money(value: Money | None) -> Money | None:
    if value is None or isinstance(value, Money):
        return value
    raise InvalidMoneyError(f"amounts are Money (e.g. Money.of('9.90', 'CNY')), got {value!r}")


@attrs.frozen
class Touchpoint:
    """One interaction on a channel (a *value*: equal when all its data is equal).

    Parameters
    ----------
    id
        The host's unique id of this event; ingesting the same id twice is idempotent.
    tenant
        The brand whose pool this event belongs to.
    customer_id
        The customer involved.
    at
        When it happened; must be timezone-aware.
    channel
        Where it happened (an owned channel, or a public platform for purchases made there).
    kind
        What happened (:class:`TouchKind`).
    amount
        For ``PURCHASED`` and ``REFUNDED`` only: the amount paid or refunded, never negative
        (a refund is its own kind, not a negative purchase).
    promotion
        Whether the touch was promotion-driven: a discount message, or a purchase made with a
        coupon or during a promotion.
    discount
        For ``PURCHASED`` only: how much was taken off the full price.
    related_customer_id
        For ``INVITED`` and ``SHARED``: the customer who was invited or reached, if known.
    agent_id
        The small-B agent (导购, store, partner) behind this touch, if any.
    """

    id: str = attrs.field(converter=_touchpoint_id)
    tenant: str = attrs.field(converter=tenant_converter)
    customer_id: str = attrs.field(converter=customer_id_converter)
    at: dt.datetime = attrs.field(converter=_at)
    channel: Channel = attrs.field(converter=_channel)
    kind: TouchKind = attrs.field(converter=_kind)
    amount: Money | None = attrs.field(default=None, converter=_money)
    promotion: bool = attrs.field(default=False, validator=_is_bool)
    discount: Money | None = attrs.field(default=None, converter=_money)
    related_customer_id: str | None = attrs.field(default=None, converter=optional_id_converter)
    agent_id: str | None = attrs.field(default=None, converter=optional_id_converter)

    def __attrs_post_init__(self) -> None:
        if self.kind.monetary:
            if self.amount is None:
                raise InvalidMoneyError(f"a {self.kind.name} touchpoint needs an amount")
            if self.amount.minor < 0:
                raise InvalidMoneyError(
                    f"amount {self.amount} is negative; record money going back as REFUNDED"
                )
        elif self.amount is not None:
            raise InvalidRecordError(f"a {self.kind.name} touchpoint carries no amount")
        if self.discount is not None:
            if self.kind is not TouchKind.PURCHASED:
                raise InvalidRecordError("only a PURCHASED touchpoint carries a discount")
            if self.discount.minor < 0:
                raise InvalidMoneyError(f"discount {self.discount} is negative")
            assert self.amount is not None
            if self.discount.currency != self.amount.currency:
                raise InvalidMoneyError("discount and amount must share one currency")
        if self.related_customer_id == self.customer_id:
            raise InvalidRecordError("a customer cannot invite or reach themselves")
