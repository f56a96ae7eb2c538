"""What goes into a pool, in columns, and the report of what came of it.

Hosts with objects pass :class:`~privdomain.Customer` and :class:`~privdomain.Touchpoint`
instances; hosts with millions of rows pass :class:`CustomerColumns` and
:class:`TouchpointColumns` built from their own arrays. Both go through one validation path in
the pool.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain._time import epoch_micros, epoch_micros_array
from privdomain.domain.channels import Channel, TouchKind
from privdomain.domain.customer import Customer
from privdomain.domain.money import Money, minor_unit_exponent
from privdomain.domain.touchpoint import Touchpoint
from privdomain.errors import ValidationError

__all__ = [
    "Batch",
    "CustomerColumns",
    "EncodedIds",
    "IngestReport",
    "RejectReason",
    "Rejection",
    "TouchpointColumns",
]


@attrs.frozen(eq=False)
class EncodedIds:
    """A dictionary-encoded id column: row ``i`` holds ``values[codes[i]]``, or nothing if
    ``codes[i]`` is -1.

    This is how columnar formats (Arrow dictionaries, pandas ``Categorical``) store repeated
    strings, and it is the fast way into a pool: the pool looks up each distinct id once instead
    of once per row. Build one with :meth:`encode`, or pass a pandas ``Categorical`` or
    ``(codes, values)`` from your own storage.
    """

    codes: NDArray[np.int64]
    values: NDArray[np.object_]

    def __attrs_post_init__(self) -> None:
        codes = np.asarray(self.codes)
        if codes.ndim != 1 or codes.dtype.kind not in "iu":
            raise ValidationError("codes must be a 1-D integer array")
        object.__setattr__(self, "codes", codes.astype(np.int64, copy=False))
        object.__setattr__(self, "values", np.asarray(self.values, dtype=object).ravel())
        if codes.size and (codes.min() < -1 or codes.max() >= self.values.size):
            raise ValidationError("codes must lie in [-1, len(values))")

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    @classmethod
    def encode(cls, values: Any, n: int | None = None, *, what: str = "ids") -> EncodedIds:
        """Encode ``values``: a sequence of ids (``None`` for none), a scalar repeated ``n``
        times, a pandas ``Categorical`` (or ``Series`` of one), or an :class:`EncodedIds`."""
        if isinstance(values, EncodedIds):
            encoded = values
        elif hasattr(values, "cat"):  # a pandas Series of category dtype
            encoded = cls.encode(values.array, n, what=what)
        elif hasattr(values, "codes") and hasattr(values, "categories"):
            encoded = cls(np.asarray(values.codes), np.asarray(values.categories, dtype=object))
        elif values is None or isinstance(values, str):
            if n is None:
                raise ValidationError(f"{what}: a single id needs the column length")
            code = -1 if values is None else 0
            encoded = cls(np.full(n, code, dtype=np.int64), np.array([values], dtype=object))
        else:
            arr = np.asarray(values, dtype=object)
            if arr.ndim != 1:
                raise ValidationError(f"{what} must be 1-D, got shape {arr.shape}")
            # one C-level pass: each row's code is the position of its id's first occurrence
            table: dict[Any, int] = {}
            try:
                first = np.fromiter(
                    map(table.setdefault, arr.tolist(), itertools.count()), np.int64, arr.size
                )
            except TypeError:
                raise ValidationError(f"{what} must be hashable ids") from None
            encoded = cls(first, arr)
            none = arr == None  # noqa: E711 - elementwise on objects
            if none.any():
                encoded = cls(np.where(none, -1, first), arr)
        if n is not None and len(encoded) != n:
            raise ValidationError(f"{what} has {len(encoded)} rows, expected {n}")
        return encoded

    def present(self) -> NDArray[np.bool_]:
        """Which rows hold an id."""
        return self.codes >= 0

    def used(self) -> NDArray[np.intp]:
        """Positions in :attr:`values` that some row refers to."""
        mask = np.zeros(self.values.size, dtype=bool)
        mask[self.codes[self.codes >= 0]] = True
        return np.flatnonzero(mask)

    def decode(self) -> NDArray[np.object_]:
        """The ids row by row (``None`` where absent)."""
        with_none = np.empty(self.values.size + 1, dtype=object)
        with_none[:-1] = self.values  # the last slot stays None, for code -1
        return with_none[self.codes]

    def take(self, rows: NDArray[np.intp]) -> EncodedIds:
        """The rows at ``rows``."""
        return EncodedIds(self.codes[rows], self.values)


def _object_column(values: Any, n: int, what: str) -> NDArray[np.object_]:
    """A 1-D object column of length ``n`` (a scalar is repeated; ``None`` means all missing)."""
    if values is None or isinstance(values, str):
        out = np.empty(n, dtype=object)
        out[:] = values
        return out
    arr = np.asarray(values, dtype=object)
    if arr.shape != (n,):
        raise ValidationError(f"{what} has shape {arr.shape}, expected ({n},)")
    return arr


def _code_column(
    values: Any, n: int, enum_cls: type[Channel] | type[TouchKind], what: str
) -> NDArray[np.uint8]:
    """Enum members, names or integer codes to a ``uint8`` code column; unknown → 255."""
    arr = np.asarray(values)
    if arr.ndim == 0:
        arr = np.full(n, arr.item(), dtype=arr.dtype if arr.dtype.kind in "iu" else object)
    if arr.shape != (n,):
        raise ValidationError(f"{what} has shape {arr.shape}, expected ({n},)")
    if arr.dtype.kind in "iu":
        valid = (arr >= 0) & (arr < len(enum_cls))
        return np.where(valid, arr, 255).astype(np.uint8)
    lookup: dict[Any, int] = {}
    for member in enum_cls:
        lookup[member] = member.value
        lookup[member.name] = member.value
        lookup[member.name.lower()] = member.value
    return np.fromiter((lookup.get(v, 255) for v in arr.tolist()), dtype=np.uint8, count=n)


@attrs.frozen(eq=False)
class TouchpointColumns:
    """Touchpoints as columns: one array per field, one row per touchpoint.

    Build it with :meth:`from_arrays` (from a host's arrays) or :meth:`from_touchpoints`. Rows are
    validated by the pool on ingest, not here, so that a bad row is reported rather than raised.

    Attributes
    ----------
    id
        ``int64`` ids, or strings in an object array. Integer and string ids are separate id
        spaces: a host uses one kind consistently.
    tenant
        The tenant of every row (a ``str``) or an object array, one per row.
    customer_id
        Customer ids, dictionary-encoded (:class:`EncodedIds`).
    at
        ``int64`` microseconds since the epoch (UTC).
    channel
        ``uint8`` codes of :class:`Channel`; 255 marks an unknown value.
    kind
        ``uint8`` codes of :class:`TouchKind`; 255 marks an unknown value.
    amount_minor
        ``int64`` minor units (fen); meaningful where ``amount_valid``.
    amount_state
        ``int8`` per row: 0 no amount, 1 a valid amount, -1 an invalid amount (NaN, infinite or
        negative).
    currency
        The currency of every amount (a ``str``) or an object array, one per row.
    promotion
        ``bool``.
    discount_minor
        ``int64`` minor units taken off the full price (0 when none); -1 marks an invalid one.
    related_customer_id
        The invited or reached customer, dictionary-encoded, code -1 where absent.
    agent_id
        The agent behind the touch, dictionary-encoded, code -1 where absent.
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
        epoch_unit: str | None = None,
    ) -> TouchpointColumns:
        """Touchpoint columns from a host's arrays.

        Parameters
        ----------
        id
            Integer or string ids.
        customer_id, related_customer_id, agent_id
            Ids per row: an array of str (``None`` where absent), a pandas ``Categorical``, or
            :class:`EncodedIds`. Dictionary-encoded ids are the fast path for millions of rows:
            each distinct id is then looked up once.
        at
            ``datetime64`` (read as UTC), integer epoch seconds, or aware datetimes; stored as
            microseconds since the epoch.
        channel, kind
            Enum members, their names, or their integer codes (a scalar applies to every row).
        amount
            Purchase and refund amounts in major units (yuan), or in minor units (fen) with
            ``minor_units=True``; ``NaN`` where a row has no amount. Floats are rounded to the
            nearest minor unit.
        discount
            Discounts, in the same unit as ``amount``; ``NaN`` or 0 where none.
        """
        at_s = epoch_micros_array(at, epoch_unit=epoch_unit, what="touchpoint times")
        n = at_s.shape[0]
        ids = np.asarray(id)
        if ids.shape != (n,):
            raise ValidationError(f"id has shape {ids.shape}, expected ({n},)")
        if ids.dtype.kind in "iu":
            ids = ids.astype(np.int64, copy=False)
        elif ids.dtype.kind != "O":
            ids = ids.astype(object)
        scale = 1 if minor_units else None
        amount_minor, amount_state = _minor_units(amount, n, currency, scale, "amount")
        discount_minor, discount_state = _minor_units(discount, n, currency, scale, "discount")
        discount_minor = np.where(discount_state < 0, -1, discount_minor)
        promo = np.asarray(promotion)
        promo = np.full(n, bool(promo.item())) if promo.ndim == 0 else promo.astype(bool)
        kinds = _code_column(kind, n, TouchKind, "kind")
        # an integer column cannot say "no amount": a zero on a touch that carries none is none
        monetary = (kinds == TouchKind.PURCHASED.value) | (kinds == TouchKind.REFUNDED.value)
        amount_state[~monetary & (amount_state == 1) & (amount_minor == 0)] = 0
        return cls(
            id=ids,
            tenant=tenant if isinstance(tenant, str) else _object_column(tenant, n, "tenant"),
            customer_id=EncodedIds.encode(customer_id, n, what="customer_id"),
            at=at_s,
            channel=_code_column(channel, n, Channel, "channel"),
            kind=kinds,
            amount_minor=amount_minor,
            amount_state=amount_state,
            currency=currency
            if isinstance(currency, str)
            else _object_column(currency, n, "currency"),
            promotion=promo,
            discount_minor=discount_minor,
            related_customer_id=EncodedIds.encode(
                related_customer_id, n, what="related_customer_id"
            ),
            agent_id=EncodedIds.encode(agent_id, n, what="agent_id"),
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
        )

    def take(self, rows: NDArray[np.intp]) -> TouchpointColumns:
        """The rows at ``rows``, as new columns."""

        def pick(value: Any) -> Any:
            if isinstance(value, EncodedIds):
                return value.take(rows)
            return value if isinstance(value, str) else value[rows]

        return TouchpointColumns(
            **{f.name: pick(getattr(self, f.name)) for f in attrs.fields(TouchpointColumns)}
        )


def _minor_units(
    values: Any, n: int, currency: str | Sequence[str], scale: int | None, what: str
) -> tuple[NDArray[np.int64], NDArray[np.int8]]:
    """Amounts to ``int64`` minor units and a state per row (0 none, 1 valid, -1 invalid)."""
    minor = np.zeros(n, dtype=np.int64)
    state = np.zeros(n, dtype=np.int8)
    if values is None:
        return minor, state
    raw = np.asarray(values)
    if raw.ndim == 0:
        raw = np.full(n, raw.item())
    if raw.shape != (n,):
        raise ValidationError(f"{what} has shape {raw.shape}, expected ({n},)")
    if raw.dtype.kind == "O":
        raw = np.array([np.nan if v is None else v for v in raw.tolist()], dtype=np.float64)
    if raw.dtype.kind in "iu":
        if scale is None:
            minor[:] = raw * _scale_column(currency, n)
        else:
            minor[:] = raw
        state[:] = np.where(raw < 0, -1, 1)
        return minor, state
    if raw.dtype.kind not in "f":
        raise ValidationError(f"{what} must be numeric, got dtype {raw.dtype}")
    raw = raw.astype(np.float64, copy=False)
    present = ~np.isnan(raw)
    factor: float | NDArray[np.float64] = (
        1.0 if scale is not None else _scale_column(currency, n).astype(np.float64)
    )
    with np.errstate(invalid="ignore", over="ignore"):
        exact = raw * factor
        scaled = np.rint(exact)
        ok = present & np.isfinite(scaled) & (scaled >= 0) & (np.abs(scaled) < 2.0**62)
        if scale is None:
            # Where the product lands near a half, binary floating point decides the rounding
            # (1.015 * 100 = 101.49999...). Round those few like Money.of: from the float's
            # shortest decimal form, half to even, so both paths give the same fen.
            near_half = ok & (np.abs(exact - np.floor(exact) - 0.5) < 1e-6)
            for i in np.flatnonzero(near_half).tolist():
                currency_i = currency if isinstance(currency, str) else str(currency[i])
                scaled[i] = Money.of(float(raw[i]), currency_i.upper()).minor
    minor[ok] = scaled[ok].astype(np.int64)
    state[present] = -1
    state[ok] = 1
    return minor, state


def _scale_column(currency: str | Sequence[str], n: int) -> NDArray[np.int64]:
    if isinstance(currency, str):
        return np.full(n, 10 ** minor_unit_exponent(currency.upper()), dtype=np.int64)
    codes = np.asarray(currency, dtype=object)
    return np.fromiter((10 ** minor_unit_exponent(str(c).upper()) for c in codes), np.int64, n)


@attrs.frozen(eq=False)
class CustomerColumns:
    """Customers as columns: one array per field, one row per customer.

    ``consent`` is a bit mask per row (bit ``c.value`` set when the customer consents to owned
    channel ``c``). ``tags`` maps each tag to a boolean column; ``attributes`` maps each attribute
    to a column of values (``None`` where unset). ``tags=None`` or ``attributes=None`` mean "not
    given": new customers get none, existing customers keep theirs.
    """

    id: NDArray[np.object_]
    tenant: str | NDArray[np.object_]
    joined_at: NDArray[np.int64]
    source: NDArray[np.uint8]
    consent: NDArray[np.uint16]
    referrer_id: NDArray[np.object_]
    agent_id: NDArray[np.object_]
    tags: Mapping[str, NDArray[np.bool_]] | None = None
    attributes: Mapping[str, NDArray[np.object_]] | None = None

    def __len__(self) -> int:
        return int(self.joined_at.shape[0])

    @classmethod
    def from_arrays(
        cls,
        *,
        id: Any,
        tenant: str | Sequence[str],
        joined_at: Any,
        source: Any = Channel.OTHER_PUBLIC,
        consent: Any = 0,
        referrer_id: Any = None,
        agent_id: Any = None,
        tags: Mapping[str, Any] | Sequence[Iterable[str] | None] | None = None,
        attributes: Mapping[str, Any] | Sequence[Mapping[str, Any] | None] | None = None,
        epoch_unit: str | None = None,
    ) -> CustomerColumns:
        """Customer columns from a host's arrays (``joined_at`` as for touchpoint times).

        ``tags`` is either a mapping of tag to a boolean column, or one collection of tags per
        row; ``attributes`` a mapping of name to a column, or one mapping per row.
        """
        joined = epoch_micros_array(joined_at, epoch_unit=epoch_unit, what="joined_at")
        n = joined.shape[0]
        mask = np.asarray(consent)
        mask = np.full(n, int(mask.item())) if mask.ndim == 0 else mask
        if mask.dtype.kind not in "iu" or mask.shape != (n,):
            raise ValidationError("consent must be an integer bit mask per customer")
        if ((mask < 0) | (mask >= 1 << (Channel.OFFLINE_STORE.value + 1))).any():
            raise ValidationError("consent bits name owned channels only (bits 0-9)")
        return cls(
            id=_object_column(id, n, "id"),
            tenant=tenant if isinstance(tenant, str) else _object_column(tenant, n, "tenant"),
            joined_at=joined,
            source=_code_column(source, n, Channel, "source"),
            consent=mask.astype(np.uint16),
            referrer_id=_object_column(referrer_id, n, "referrer_id"),
            agent_id=_object_column(agent_id, n, "agent_id"),
            tags=_tag_columns(tags, n),
            attributes=_attribute_columns(attributes, n),
        )

    @classmethod
    def from_customers(cls, customers: Iterable[Customer]) -> CustomerColumns:
        """Columns from validated :class:`Customer` objects."""
        cs = list(customers)
        n = len(cs)
        return cls(
            id=_object_column([c.id for c in cs], n, "id"),
            tenant=_object_column([c.tenant for c in cs], n, "tenant"),
            joined_at=np.fromiter((epoch_micros(c.joined_at) for c in cs), np.int64, n),
            source=np.fromiter((c.source.value for c in cs), np.uint8, n),
            consent=np.fromiter((consent_mask(c.consent) for c in cs), np.uint16, n),
            referrer_id=_object_column([c.referrer_id for c in cs], n, "referrer_id"),
            agent_id=_object_column([c.agent_id for c in cs], n, "agent_id"),
            tags=_tag_columns([c.tags for c in cs], n),
            attributes=_attribute_columns([c.attributes for c in cs], n),
        )

    def row_tags(self, row: int) -> frozenset[str] | None:
        """The tags of one row (``None`` if tags were not given)."""
        if self.tags is None:
            return None
        return frozenset(t for t, col in self.tags.items() if col[row])

    def row_attributes(self, row: int) -> dict[str, Any] | None:
        """The set attributes of one row (``None`` if attributes were not given)."""
        if self.attributes is None:
            return None
        return {k: col[row] for k, col in self.attributes.items() if col[row] is not None}


def _tag_columns(
    tags: Mapping[str, Any] | Sequence[Iterable[str] | None] | None, n: int
) -> dict[str, NDArray[np.bool_]] | None:
    if tags is None:
        return None
    if isinstance(tags, Mapping):
        out = {}
        for name, col in tags.items():
            arr = np.asarray(col)
            if arr.shape != (n,) or arr.dtype != np.bool_:
                raise ValidationError(f"tag {name!r} needs a boolean column of length {n}")
            out[name] = arr
        return out
    rows = list(tags)
    if len(rows) != n:
        raise ValidationError(f"tags has {len(rows)} rows, expected {n}")
    columns: dict[str, NDArray[np.bool_]] = {}
    for i, row in enumerate(rows):
        if row is None:
            continue
        if isinstance(row, str):
            raise ValidationError(f"tags of row {i} must be a collection of str, not a str")
        for t in row:
            if t not in columns:
                columns[t] = np.zeros(n, dtype=bool)
            columns[t][i] = True
    return columns


def _attribute_columns(
    attributes: Mapping[str, Any] | Sequence[Mapping[str, Any] | None] | None, n: int
) -> dict[str, NDArray[np.object_]] | None:
    if attributes is None:
        return None
    columns: dict[str, NDArray[np.object_]] = {}
    if isinstance(attributes, Mapping):
        for name, col in attributes.items():
            column = _object_column(col, n, f"attribute {name!r}")
            if np.asarray(col).dtype.kind == "f":  # NaN means unset, as None does
                column[np.isnan(np.asarray(col, dtype=np.float64))] = None
            columns[name] = column
        return columns
    rows = list(attributes)
    if len(rows) != n:
        raise ValidationError(f"attributes has {len(rows)} rows, expected {n}")
    for i, row in enumerate(rows):
        for name, value in (row or {}).items():
            if name not in columns:
                columns[name] = np.full(n, None, dtype=object)
            columns[name][i] = value
    return columns


def consent_mask(channels: Iterable[Channel]) -> int:
    """The consent bit mask of a set of owned channels."""
    mask = 0
    for c in channels:
        mask |= 1 << c.value
    return mask


class RejectReason(enum.Enum):
    """Why a record was not taken into the pool."""

    INVALID = "invalid"
    """A field has a value the domain does not allow (see the detail)."""
    INVALID_AMOUNT = "invalid_amount"
    """NaN, infinite, negative or missing amount."""
    CURRENCY_MISMATCH = "currency_mismatch"
    """Not the pool's currency."""
    WRONG_TENANT = "wrong_tenant"
    """Belongs to another tenant's pool."""
    UNKNOWN_CUSTOMER = "unknown_customer"
    """The customer is not in the pool."""
    UNKNOWN_RELATED_CUSTOMER = "unknown_related_customer"
    """The invitee is not in the pool."""
    UNKNOWN_REFERRER = "unknown_referrer"
    """The referrer is neither in the pool nor the batch."""
    REFERRAL_CYCLE = "referral_cycle"
    """The referrer chain would loop back."""
    CONFLICT = "conflict"
    """Changes a customer's fixed facts (joined_at, source, referrer)."""


@attrs.frozen
class Rejection:
    """One record that was not taken, and why."""

    record: str
    """``"customer"`` or ``"touchpoint"``."""
    index: int
    """Position of the record in what was given."""
    id: object
    """The record's id as given."""
    reason: RejectReason
    detail: str


@attrs.frozen(eq=False)
class IngestReport:
    """What became of every record of a batch: nothing is dropped silently.

    Every record given is counted in exactly one of ``customers_added``, ``customers_updated``,
    ``customers_unchanged`` or the rejections (customers) and ``touchpoints_accepted``,
    ``duplicate_touchpoints`` or the rejections (touchpoints).
    """

    customers_added: int = 0
    customers_updated: int = 0
    customers_unchanged: int = 0
    touchpoints_accepted: int = 0
    duplicate_touchpoints: NDArray[np.int64] = attrs.field(factory=lambda: np.empty(0, np.int64))
    rejected: tuple[Rejection, ...] = ()

    @property
    def duplicates(self) -> int:
        """How many touchpoints were already in the pool (or repeated in the batch)."""
        return int(self.duplicate_touchpoints.size)

    @property
    def ok(self) -> bool:
        """Whether nothing was rejected."""
        return not self.rejected

    def reasons(self) -> Mapping[RejectReason, int]:
        """Number of rejections per reason."""
        counts: dict[RejectReason, int] = {}
        for r in self.rejected:
            counts[r.reason] = counts.get(r.reason, 0) + 1
        return counts

    def __repr__(self) -> str:
        reasons = ", ".join(f"{k.value}={v}" for k, v in self.reasons().items()) or "none"
        return (
            f"IngestReport(customers: +{self.customers_added} added, {self.customers_updated} "
            f"updated, {self.customers_unchanged} unchanged; touchpoints: "
            f"{self.touchpoints_accepted} accepted, {self.duplicates} duplicates; "
            f"rejected: {len(self.rejected)} ({reasons}))"
        )


@attrs.frozen
class Batch:
    """Customers and touchpoints to ingest together (customers first)."""

    customers: CustomerColumns | Sequence[Customer] = ()
    touchpoints: TouchpointColumns | Sequence[Touchpoint] = ()
