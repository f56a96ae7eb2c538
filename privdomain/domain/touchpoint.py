"""A touchpoint: one interaction between the brand and a customer on a channel."""

from __future__ import annotations

import datetime as dt

import attrs
import numpy as np

from privdomain.domain.channels import Channel, TouchKind
from privdomain.domain.customer import (
    check_id,
    check_instant,
    customer_id_converter,
    parse_channel,
    tenant_converter,
)
from privdomain.domain.money import Money
from privdomain.errors import InvalidMoneyError, InvalidRecordError, short_repr

__all__ = ["Touchpoint"]


def _touchpoint_id(value: object) -> str:
    return check_id(value, what="touchpoint id")


def _at(value: object) -> dt.datetime:
    return check_instant(value, what="touchpoint time")


def _related_customer_id(value: object) -> str | None:
    return None if value is None else check_id(value, what="related_customer_id")


def _agent_id(value: object) -> str | None:
    return None if value is None else check_id(value, what="agent_id")


def _order_id(value: object) -> str | int | None:
    if value is None:
        return None
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        if not -(2**63) <= int(value) < 2**63:
            raise InvalidRecordError("order_id: an integer order id must fit in int64")
        return int(value)
    return check_id(value, what="order_id")


def _channel(value: object) -> Channel:
    return parse_channel(value, what="channel")


def _kind(value: object) -> TouchKind:
    if isinstance(value, np.integer):
        value = int(value)
    if isinstance(value, TouchKind):
        return value
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        try:
            return TouchKind.parse(value)
        except (ValueError, TypeError):
            pass
    raise InvalidRecordError(
        f"kind: unknown touch kind {short_repr(value)}; a kind is a TouchKind, one of the names "
        f"{', '.join(k.name.lower() for k in TouchKind)} (any case), or its code "
        f"0-{len(TouchKind) - 1}"
    )


def _promotion(value: object) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise InvalidRecordError(f"promotion must be True or False, got {short_repr(value)}")


def _money(value: Money | None) -> Money | None:
    if value is None or isinstance(value, Money):
        return value
    raise InvalidMoneyError(
        f"amounts are Money (e.g. Money.of('9.90', 'CNY')), got {short_repr(value)}"
    )


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
        When it happened: a timezone-aware ``datetime`` or a ``datetime64`` (UTC), in
        ``[1900-01-01, 2200-01-01)`` UTC.
    channel
        Where it happened (an owned channel, or a public platform for purchases made there): a
        :class:`Channel`, its name (any case) or its code.
    kind
        What happened: a :class:`TouchKind`, its name (any case) or its code.
    amount
        For ``PURCHASED`` and ``REFUNDED`` only: the :class:`Money` paid or refunded, never
        negative (a refund is its own kind, not a negative purchase).
    promotion
        Whether the touch was promotion-driven: a discount message, or a purchase made with a
        coupon or during a promotion (``True`` or ``False``).
    discount
        For ``PURCHASED`` only: the :class:`Money` taken off the full price, in the amount's
        currency.
    related_customer_id
        For ``INVITED`` and ``SHARED``: the customer who was invited or reached, if known.
    agent_id
        The small-B agent (导购, store, partner) behind this touch, if any.
    order_id
        For ``PURCHASED``: the host's order id (default: the touchpoint's own id). For
        ``REFUNDED``: the order the refund reverses, wholly or in part (a refund without one
        counts against the customer only). A ``str`` or an ``int``.

    Raises
    ------
    InvalidRecordError
        If a field has the wrong type or a value the domain does not allow; the message names
        the field. :class:`~privdomain.errors.InvalidMoneyError` for a missing, foreign or
        negative amount or discount, :class:`~privdomain.errors.NaiveDatetimeError` for a naive
        ``at``.
    """

    id: str = attrs.field(converter=_touchpoint_id)
    tenant: str = attrs.field(converter=tenant_converter)
    customer_id: str = attrs.field(converter=customer_id_converter)
    at: dt.datetime = attrs.field(converter=_at)
    channel: Channel = attrs.field(converter=_channel)
    kind: TouchKind = attrs.field(converter=_kind)
    amount: Money | None = attrs.field(default=None, converter=_money)
    promotion: bool = attrs.field(default=False, converter=_promotion)
    discount: Money | None = attrs.field(default=None, converter=_money)
    related_customer_id: str | None = attrs.field(default=None, converter=_related_customer_id)
    agent_id: str | None = attrs.field(default=None, converter=_agent_id)
    order_id: str | int | None = attrs.field(default=None, converter=_order_id)

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
        if self.order_id is not None and not self.kind.monetary:
            raise InvalidRecordError("only purchases and refunds carry an order_id")
