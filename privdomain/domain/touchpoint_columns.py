"""Touchpoints as columns, checked when built."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain._column_checks import (
    _INT64_MAX,
    _amounts,
    _code_column,
    _code_column_of_codes,
    _column,
    _currency_column,
    _exponents,
    _flag_or_flags,
    _flags,
    _instants,
    _int64_column,
    _integers,
    _normal_code,
    _refuse_non_ids,
    _tenant_column,
)
from privdomain.domain._time import epoch_micros, epoch_micros_array
from privdomain.domain.channels import Channel, TouchKind
from privdomain.domain.encoded import EncodedIds
from privdomain.domain.money import (
    MAX_MINOR_UNITS,
)
from privdomain.domain.touchpoint import Touchpoint
from privdomain.errors import ValidationError, short_repr

__all__ = ["TouchpointColumns"]


def _order_ids(values: Any, n: int) -> NDArray[np.object_] | None:
    """Order ids: ``None`` (none given) or an object column of ``str``, ``int`` or ``None``."""
    if values is None:
        return None
    arr = _column(values, n, "order_id", objects=True)
    if arr.dtype.kind in "iu":
        return _int64_column(arr, n, "order_id").astype(object)
    if arr.dtype.kind == "U":
        return arr.astype(object)
    if arr.dtype.kind != "O":
        raise ValidationError(f"order_id must hold str or int ids, got dtype {arr.dtype}")
    _refuse_non_ids(arr, "order_id")
    out = arr.copy()
    for i, value in enumerate(out.tolist()):
        if value is None or isinstance(value, str):
            continue
        if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
            if not -(2**63) <= int(value) < 2**63:
                raise ValidationError("order_id holds integers beyond int64")
            out[i] = int(value)
            continue
        if isinstance(value, float) and value != value:  # NaN: none given
            out[i] = None
            continue
        raise ValidationError(f"order_id holds {type(value).__name__}, not a str or int id")
    return out


def _touchpoint_ids(values: Any, n: int) -> NDArray[Any]:
    """Touchpoint ids: ``int64`` integers or an object column of ``str``.

    A list of Python ints is an integer id column; integers beyond ``int64`` (``uint64`` from
    2**63 up, or larger Python ints) are refused rather than wrapped into other ids.
    """
    arr = _column(values, n, "id", objects=True)
    kind = arr.dtype.kind
    if kind == "O" and arr.size:
        types = set(map(type, arr.tolist()))
        if all(issubclass(t, int | np.integer) and not issubclass(t, bool) for t in types):
            items = arr.tolist()
            low, high = min(items), max(items)
            if not -_INT64_MAX - 1 <= low <= high <= _INT64_MAX:
                raise ValidationError("id holds integers beyond int64; integer ids are int64")
            arr = np.array(items, dtype=np.int64)
            kind = "i"
    if kind in "iu":
        return _int64_column(arr, n, "id")
    if kind == "U":
        return arr.astype(object)
    if kind == "O":
        _refuse_non_ids(arr, "id")
        return arr
    raise ValidationError(
        f"id must be int64 integers or str ids, got dtype {arr.dtype}"
        + (" (a float column: ids with NaN for missing ones?)" if kind == "f" else "")
    )


# ---------------------------------------------------------------------------- touchpoints


@attrs.frozen(eq=False)
class TouchpointColumns:
    """Touchpoints as columns: one array per field, one row per touchpoint.

    Build it with :meth:`from_arrays` (from a host's arrays) or :meth:`from_touchpoints`. The
    constructor checks the form of every column (one row per touchpoint, one dimension, the
    dtype below); what each row holds is validated by the pool on ingest, so that a bad row is
    reported rather than raised.

    Attributes
    ----------
    id
        ``int64`` ids, or strings in an object array. Integer and string ids are separate id
        spaces: a host uses one kind consistently. Integer ids are ``int64``: ``uint64`` ids
        from 2**63 up are refused, never wrapped.
    tenant
        The tenant of every row (a ``str``) or an object array, one per row.
    customer_id
        Customer ids, dictionary-encoded (:class:`EncodedIds`).
    at
        ``int64`` microseconds since the epoch (UTC), every one in
        ``[1900-01-01, 2200-01-01)``. Its length is the number of rows.
    channel
        ``uint8`` codes of :class:`Channel`; 255 marks an unknown value (any other integer
        that is no code becomes 255 too).
    kind
        ``uint8`` codes of :class:`TouchKind`; 255 marks an unknown value.
    amount_minor
        ``int64`` minor units (fen); meaningful where ``amount_state`` is 1.
    amount_state
        ``int8`` per row: 0 no amount, 1 a valid amount, -1 an invalid amount (NaN, infinite,
        negative, not a number, or ``|minor| >= 2**62``). A row marked valid whose
        ``amount_minor`` is negative or out of range is marked invalid.
    currency
        The currency of every amount (a ``str``) or an object array of ``str`` codes, one per
        row (``None`` where a row has no amount).
    promotion
        ``bool``.
    discount_minor
        ``int64`` minor units taken off the full price (0 when none); -1 marks an invalid one
        (any negative or out-of-range value is stored as -1).
    related_customer_id
        The invited or reached customer, dictionary-encoded, code -1 where absent.
    agent_id
        The agent behind the touch, dictionary-encoded, code -1 where absent.
    order_id
        ``None``, or an object column of order ids (``str`` or ``int``; ``None`` where a row
        names none): a purchase's order (default: its touchpoint id) or the order a refund
        reverses.

    Raises
    ------
    ValidationError
        If a column does not have one row per value of ``at``, is not 1-D, or has a dtype of
        the wrong kind (e.g. float ``at``, float or bool ``id``, a string ``promotion``); the
        message names the column. Id columns that are not :class:`EncodedIds` are encoded with
        :meth:`EncodedIds.encode`.
    """

    id: NDArray[Any]
    tenant: str | NDArray[np.object_]
    customer_id: EncodedIds
    at: NDArray[np.int64]
    channel: NDArray[np.uint8]
    kind: NDArray[np.uint8]
    amount_minor: NDArray[np.int64]
    amount_state: NDArray[np.int8]
    currency: str | NDArray[np.object_]
    promotion: NDArray[np.bool_]
    discount_minor: NDArray[np.int64]
    related_customer_id: EncodedIds
    agent_id: EncodedIds
    order_id: NDArray[np.object_] | None = None

    def __attrs_post_init__(self) -> None:
        at = _instants(self.at, "at")
        n = at.shape[0]
        amount = _int64_column(self.amount_minor, n, "amount_minor")
        state = _integers(_column(self.amount_state, n, "amount_state"), "amount_state")
        if ((state < -1) | (state > 1)).any():
            raise ValidationError("amount_state must be -1 (invalid), 0 (none) or 1 (valid)")
        state = state.astype(np.int8, copy=False)
        out_of_range = (state == 1) & ((amount < 0) | (amount >= MAX_MINOR_UNITS))
        if out_of_range.any():
            state = np.where(out_of_range, np.int8(-1), state)
        discount = _int64_column(self.discount_minor, n, "discount_minor")
        bad_discount = (discount < -1) | (discount >= MAX_MINOR_UNITS)
        if bad_discount.any():
            discount = np.where(bad_discount, -1, discount)
        checked = {
            "id": _touchpoint_ids(self.id, n),
            "tenant": _tenant_column(self.tenant, n),
            "customer_id": EncodedIds.encode(self.customer_id, n, what="customer_id"),
            "at": at,
            "channel": _code_column_of_codes(self.channel, n, Channel, "channel"),
            "kind": _code_column_of_codes(self.kind, n, TouchKind, "kind"),
            "amount_minor": amount,
            "amount_state": state,
            "currency": _currency_column(self.currency, n),
            "promotion": _flags(self.promotion, n, "promotion"),
            "discount_minor": discount,
            "related_customer_id": EncodedIds.encode(
                self.related_customer_id, n, what="related_customer_id"
            ),
            "agent_id": EncodedIds.encode(self.agent_id, n, what="agent_id"),
            "order_id": _order_ids(self.order_id, n),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return int(self.at.shape[0])

    @classmethod
    def from_arrays(
        cls,
        *,
        id: Any,
        tenant: str | Sequence[str],
        customer_id: Any,
        at: Any,
        channel: Any,
        kind: Any,
        amount: Any = None,
        currency: str | Sequence[str] = "CNY",
        minor_units: bool = False,
        promotion: Any = False,
        discount: Any = None,
        related_customer_id: Any = None,
        agent_id: Any = None,
        order_id: Any = None,
        epoch_unit: str | None = None,
    ) -> TouchpointColumns:
        """Touchpoint columns from a host's arrays.

        Every column has one value per row of ``at`` (a scalar, where allowed, applies to every
        row).

        Parameters
        ----------
        id
            Integer ids (stored as ``int64``; integers beyond ``int64`` are refused) or string
            ids.
        tenant
            One tenant, or one per row.
        customer_id
            Ids per row: an array of str (``None``, NaN or pandas ``NA`` where absent), a
            pandas ``Categorical``, or :class:`EncodedIds`. Dictionary-encoded ids are the fast
            path for millions of rows: each distinct id is then looked up once. Unhashable ids
            (lists, dicts) and bool columns are refused.
        related_customer_id, agent_id : array-like, optional
            As ``customer_id``, for the rows that have one.
        at
            ``datetime64`` (read as UTC) or aware datetimes; integer or float counts since the
            epoch with ``epoch_unit``. Stored as microseconds since the epoch; every instant
            must lie in ``[1900-01-01, 2200-01-01)`` UTC.
        channel, kind
            Enum members, their names (any case), or their integer codes (a scalar applies to
            every row). Anything else becomes 255, which the pool reports as unknown.
        amount
            Purchase and refund amounts in major units (yuan), or in minor units (fen) with
            ``minor_units=True``; ``None`` or NaN where a row has no amount. Floats are rounded
            to the nearest minor unit (half to even, as :meth:`Money.of`); integers are exact;
            decimal strings and ``Decimal`` are read exactly. A :class:`Money` is taken as it
            is, in its own currency, which replaces ``currency`` for its row. Negative amounts,
            infinities, values that are no number (``"abc"``, ``True``) and amounts of
            ``2**62`` minor units or more are marked invalid: the pool rejects those purchases
            and refunds as ``INVALID_AMOUNT``. Nothing wraps.
        currency
            The ISO 4217 code of every amount, or one per row.
        minor_units
            Whether plain numbers in ``amount`` and ``discount`` count minor units.
        promotion
            ``bool`` (or the integers 0 and 1), one per row or one for all. Strings, NaN and
            other numbers are refused, never read by truthiness.
        discount
            Discounts, in the same unit as ``amount``; ``None``, NaN or 0 where none. A
            :class:`Money` discount must be in its row's currency, or it is marked invalid.
        epoch_unit
            What integer or float times count: ``"s"``, ``"ms"``, ``"us"`` or ``"ns"``.

        Raises
        ------
        ValidationError
            If a column has the wrong length, dimension or dtype, ``at`` holds no valid
            instants, or a scalar is given where a column is needed; the message names the
            argument.
        """
        at_us = epoch_micros_array(at, epoch_unit=epoch_unit, what="touchpoint times")
        n = at_us.shape[0]
        if not isinstance(minor_units, bool | np.bool_):
            raise ValidationError(
                f"minor_units must be True or False, got {short_repr(minor_units)}"
            )
        minor_units = bool(minor_units)
        currency_col = _currency_column(currency, n)
        exponents = _exponents(currency_col, n)
        amount_minor, amount_state, amount_currency = _amounts(
            amount, n, exponents, minor_units, "amount"
        )
        if amount_currency is not None:  # Money amounts bring their own currency
            per_row = np.empty(n, dtype=object)
            per_row[:] = currency_col
            has_money = amount_currency != None  # noqa: E711 - elementwise on objects
            per_row[has_money] = amount_currency[has_money]
            currency_col = per_row
            exponents = _exponents(currency_col, n)
        discount_minor, discount_state, discount_currency = _amounts(
            discount, n, exponents, minor_units, "discount"
        )
        if discount_currency is not None:  # a Money discount must be in its row's currency
            has_money = discount_currency != None  # noqa: E711
            rows = np.flatnonzero(has_money)
            row_codes = (
                [_normal_code(currency_col)] * rows.size
                if isinstance(currency_col, str)
                else [_normal_code(c) for c in currency_col[rows].tolist()]
            )
            foreign = [
                a != b for a, b in zip(discount_currency[rows].tolist(), row_codes, strict=True)
            ]
            discount_state[rows[np.array(foreign, dtype=bool)]] = -1
        discount_minor = np.where(discount_state < 0, -1, discount_minor)
        kinds = _code_column(kind, n, TouchKind, "kind")
        # an integer column cannot say "no amount": a zero on a touch that carries none is none
        monetary = (kinds == TouchKind.PURCHASED.value) | (kinds == TouchKind.REFUNDED.value)
        amount_state[~monetary & (amount_state == 1) & (amount_minor == 0)] = 0
        return cls(
            id=_touchpoint_ids(id, n),
            tenant=_tenant_column(tenant, n),
            customer_id=EncodedIds.encode(customer_id, n, what="customer_id"),
            at=at_us,
            channel=_code_column(channel, n, Channel, "channel"),
            kind=kinds,
            amount_minor=amount_minor,
            amount_state=amount_state,
            currency=currency_col,
            promotion=_flag_or_flags(promotion, n, "promotion"),
            discount_minor=discount_minor,
            related_customer_id=EncodedIds.encode(
                related_customer_id, n, what="related_customer_id"
            ),
            agent_id=EncodedIds.encode(agent_id, n, what="agent_id"),
            order_id=order_id,
        )

    @classmethod
    def from_touchpoints(cls, touchpoints: Iterable[Touchpoint]) -> TouchpointColumns:
        """Columns from validated :class:`Touchpoint` objects (one pass at the edge)."""
        tps = list(touchpoints)
        n = len(tps)
        amount = np.zeros(n, dtype=np.int64)
        state = np.zeros(n, dtype=np.int8)
        discount = np.zeros(n, dtype=np.int64)
        currency = np.empty(n, dtype=object)
        for i, tp in enumerate(tps):
            if tp.amount is not None:
                amount[i] = tp.amount.minor
                state[i] = 1
                currency[i] = tp.amount.currency
            if tp.discount is not None:
                discount[i] = tp.discount.minor
        return cls(
            id=np.array([tp.id for tp in tps], dtype=object),
            tenant=np.array([tp.tenant for tp in tps], dtype=object),
            customer_id=EncodedIds.encode([tp.customer_id for tp in tps], n),
            at=np.fromiter((epoch_micros(tp.at) for tp in tps), dtype=np.int64, count=n),
            channel=np.fromiter((tp.channel.value for tp in tps), dtype=np.uint8, count=n),
            kind=np.fromiter((tp.kind.value for tp in tps), dtype=np.uint8, count=n),
            amount_minor=amount,
            amount_state=state,
            currency=currency,
            promotion=np.fromiter((tp.promotion for tp in tps), dtype=bool, count=n),
            discount_minor=discount,
            related_customer_id=EncodedIds.encode([tp.related_customer_id for tp in tps], n),
            agent_id=EncodedIds.encode([tp.agent_id for tp in tps], n),
            order_id=(
                np.array([tp.order_id for tp in tps], dtype=object)
                if any(tp.order_id is not None for tp in tps)
                else None
            ),
        )

    def take(self, rows: NDArray[np.intp]) -> TouchpointColumns:
        """The rows at ``rows``, as new columns."""

        def pick(value: Any) -> Any:
            if isinstance(value, EncodedIds):
                return value.take(rows)
            return value if value is None or isinstance(value, str) else value[rows]

        return TouchpointColumns(
            **{f.name: pick(getattr(self, f.name)) for f in attrs.fields(TouchpointColumns)}
        )


# ---------------------------------------------------------------------------- customers
