"""The snapshot: every customer's features as of one instant, computed in one vectorised pass."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain._optional import import_optional
from privdomain.domain._time import (
    MICROS_PER_DAY,
    epoch_micros,
    local_day_starts,
    micros_to_datetime,
)
from privdomain.domain.channels import OWNED_CHANNELS, OWNED_COLUMN, Channel, TouchKind
from privdomain.errors import UnknownCustomerError, UnknownFeatureError, ValidationError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["OWNED_CHANNELS", "Snapshot"]

_N_OWNED = len(OWNED_CHANNELS)
_N_CHANNELS = len(Channel)
_N_KINDS = len(TouchKind)
_NAT = np.iinfo(np.int64).min
T = TypeVar("T")  # datetime64's NaT as int64


def _readonly(arr: NDArray[Any]) -> NDArray[Any]:
    arr.flags.writeable = False
    return arr


@attrs.frozen(eq=False, repr=False)
class Snapshot:
    """Immutable, columnar features of every customer of a pool *as of* one instant.

    One row per customer who had joined by ``as_of``, in the pool's index order. Events after
    ``as_of`` are invisible. Money is in major units (yuan) as ``float64`` for analytics; exact
    amounts stay in the pool. Per-channel matrices have one column per owned channel, in the
    order of :data:`OWNED_CHANNELS`; touch counts have one column per :class:`Channel` and per
    :class:`TouchKind` (by their integer code).

    Read a single feature by name with :meth:`feature` (what segments and rules do), a whole
    table with :meth:`to_records` or :meth:`to_frame`.
    """

    as_of: dt.datetime
    tenant: str
    currency: str
    utc_offset: dt.timedelta
    customer_ids: NDArray[np.object_]
    index: NDArray[np.int64]
    """The customers' indices in the pool."""
    joined_at: NDArray[np.datetime64]
    source: NDArray[np.uint8]
    """Code of the :class:`Channel` that brought the customer."""
    referrer_ids: NDArray[np.object_]
    """Who referred the customer (``None`` if nobody)."""
    agent_ids: NDArray[np.object_]
    """The customer's agent as of ``as_of`` (``None`` if none)."""
    store_ids: NDArray[np.object_]
    """The customer's store as of ``as_of`` (``None`` if none)."""
    referrer_row: NDArray[np.int64]
    """Row of the referrer in this snapshot (-1 if none, or not joined by ``as_of``)."""
    agent: NDArray[np.int32]
    """Integer code of the customer's agent (-1 if none); codes are shared by every snapshot of
    one pool."""
    first_purchase: NDArray[np.datetime64]
    """NaT when the customer never bought."""
    last_purchase: NDArray[np.datetime64]
    orders: NDArray[np.int64]
    """Number of purchases (orders)."""
    purchase_days: NDArray[np.int64]
    """Distinct business days with a purchase."""
    gross_spend: NDArray[np.float64]
    """Sum of purchase amounts."""
    first_day_spend: NDArray[np.float64]
    """Spend on the first purchase day."""
    refunds: NDArray[np.int64]
    """Number of refunds."""
    refunded: NDArray[np.float64]
    """Sum of refunded amounts."""
    promo_orders: NDArray[np.int64]
    """Purchases flagged as promotion-driven."""
    discounted_orders: NDArray[np.int64]
    """Purchases with a discount."""
    full_price_orders: NDArray[np.int64]
    """Purchases neither promotion-driven nor discounted."""
    discount_total: NDArray[np.float64]
    """Sum of discounts taken off full price."""
    touches_by_channel: NDArray[np.int32]
    """(customers, len(Channel)) counts of every touch."""
    touches_by_kind: NDArray[np.int32]
    """(customers, len(TouchKind)) counts of every touch."""
    last_contact: NDArray[np.datetime64]
    """(customers, owned channels) last outbound message."""
    last_active: NDArray[np.datetime64]
    """Last touch the customer started (not SENT)."""
    referrals: NDArray[np.int64]
    """Customers (joined by ``as_of``) this customer referred."""
    consent: NDArray[np.bool_]
    """(customers, owned channels)."""
    reachable: NDArray[np.bool_]
    """(customers, owned channels): consent and still connected."""
    tags: dict[str, NDArray[np.bool_]] = attrs.field(repr=False)
    attributes: dict[str, NDArray[np.object_]] = attrs.field(repr=False)
    order_log: Orders = attrs.field(repr=False)
    """Every purchase, with order ids, refunds and the agent at the time (see :class:`Orders`)."""
    invitations: Invitations = attrs.field(repr=False)
    """Who invited whom (see :class:`Invitations`)."""
    contacts: Contacts = attrs.field(repr=False)
    """Recent messages the brand sent (see :class:`Contacts`)."""
    agent_names: tuple[str, ...] = attrs.field(repr=False)
    """Agent ids by code (:attr:`agent`, :attr:`Orders.agent`)."""
    time_zone: NDArray[np.int32] = attrs.field(repr=False)
    """Code of each customer's own time zone as of ``as_of`` (-1: the pool's business time
    zone, the fixed :attr:`utc_offset`); names in :attr:`time_zones`."""
    time_zones: tuple[str, ...] = attrs.field(repr=False)
    """IANA time zone names by code."""
    _row_index: dict[str, int] | None = attrs.field(default=None, init=False, repr=False)

    # ------------------------------------------------------------------ derived features
    def __len__(self) -> int:
        return int(self.customer_ids.shape[0])

    @property
    def net_spend(self) -> NDArray[np.float64]:
        """Gross spend minus refunds."""
        return self.gross_spend - self.refunded

    @property
    def avg_order_value(self) -> NDArray[np.float64]:
        """Gross spend per order; NaN for customers without orders."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.orders > 0, self.gross_spend / np.maximum(self.orders, 1), np.nan)

    @property
    def recency_days(self) -> NDArray[np.float64]:
        """Days from the last purchase to ``as_of``; NaN for customers without purchases."""
        return self._days_since(self.last_purchase)

    @property
    def tenure_days(self) -> NDArray[np.float64]:
        """Days from joining the pool to ``as_of``."""
        return self._days_since(self.joined_at)

    @property
    def days_since_active(self) -> NDArray[np.float64]:
        """Days since the customer last started a touch; NaN if never."""
        return self._days_since(self.last_active)

    @property
    def reachable_channels(self) -> NDArray[np.int64]:
        """How many owned channels can reach each customer (multi-point retention, 多点留存)."""
        return np.asarray(self.reachable.sum(axis=1, dtype=np.int64))

    @property
    def has_referrer(self) -> NDArray[np.bool_]:
        """Whether somebody referred the customer (老带新)."""
        return np.asarray(self.referrer_ids != None)  # noqa: E711 - elementwise on objects

    @property
    def buyers(self) -> NDArray[np.bool_]:
        """Customers with at least one purchase."""
        return self.orders > 0

    def _days_since(self, when: NDArray[np.datetime64]) -> NDArray[np.float64]:
        micros = when.astype("datetime64[us]", copy=False).view(np.int64)
        days = (epoch_micros(self.as_of) - micros) / MICROS_PER_DAY
        days[micros == _NAT] = np.nan
        return days

    # ------------------------------------------------------------------ named features
    def feature_names(self) -> tuple[str, ...]:
        """Every 1-D feature :meth:`feature` can return (tags and attributes included)."""
        names = list(_SCALAR_FEATURES)
        for c in Channel:
            names.append(f"touches_{c.name.lower()}")
        for k in TouchKind:
            names.append(f"count_{k.name.lower()}")
        for c in OWNED_CHANNELS:
            low = c.name.lower()
            names += [f"consent_{low}", f"reachable_{low}", f"days_since_contact_{low}"]
        names += [f"tag:{t}" for t in sorted(self.tags)]
        names += [f"attr:{a}" for a in sorted(self.attributes)]
        return tuple(names)

    def feature(self, name: str) -> NDArray[Any]:
        """One feature column by name (see :meth:`feature_names`).

        Raises :class:`~privdomain.errors.UnknownFeatureError` for a name the snapshot lacks, with
        the closest names as a hint. A tag nobody in the snapshot carries is all ``False`` and an
        attribute nobody has is ``None`` for everyone: a snapshot knows nothing of customers
        who had not joined by ``as_of``.
        """
        if name in _SCALAR_FEATURES:
            return np.asarray(getattr(self, name))
        if name.startswith("tag:"):
            tag = name[4:]
            return self.tags.get(tag, np.zeros(len(self), bool))
        if name.startswith("attr:"):
            column = self.attributes.get(name[5:])
            if column is None:  # nobody in the snapshot has it: unset for everyone
                return np.full(len(self), None, dtype=object)
            return _attribute_feature(column)
        try:
            if name.startswith("touches_"):
                return self.touches_by_channel[:, Channel[name[8:].upper()].value]
            if name.startswith("count_"):
                return self.touches_by_kind[:, TouchKind[name[6:].upper()].value]
            for stem, matrix in (("consent_", self.consent), ("reachable_", self.reachable)):
                if name.startswith(stem):
                    return matrix[:, OWNED_CHANNELS.index(Channel[name[len(stem) :].upper()])]
            if name.startswith("days_since_contact_"):
                col = OWNED_CHANNELS.index(Channel[name[19:].upper()])
                return self._days_since(self.last_contact[:, col])
        except (KeyError, ValueError):
            pass
        import difflib

        close = difflib.get_close_matches(name, self.feature_names(), n=3)
        hint = f"; did you mean {close}?" if close else ""
        raise UnknownFeatureError(f"the snapshot has no feature {name!r}{hint}")

    def row(self, customer_id: str) -> int:
        """The row of ``customer_id`` in this snapshot (a dictionary lookup, built once)."""
        index = self._row_index
        if index is None:
            index = dict(zip(self.customer_ids.tolist(), range(len(self)), strict=True))
            object.__setattr__(self, "_row_index", index)
        try:
            return index[customer_id]
        except (KeyError, TypeError):
            raise UnknownCustomerError(
                f"{customer_id!r} is not in the snapshot as of {self.as_of}"
            ) from None

    def rows(self, customer_ids: Any) -> NDArray[np.int64]:
        """The rows of several customers (:class:`UnknownCustomerError` if one is absent)."""
        return np.fromiter((self.row(c) for c in customer_ids), dtype=np.int64)

    def contact_counts(self, window: str = "month") -> NDArray[np.int32]:
        """Messages sent to each customer per owned channel in the calendar ``window``
        (``"day"``, ``"week"`` from Monday, or ``"month"``) that holds ``as_of``, in the
        customer's own time zone (the pool's business time zone unless the customer has one),
        up to ``as_of``: a ``(customers, owned channels)`` matrix counted from :attr:`contacts`.
        What calendar frequency caps count."""
        windows = ("day", "week", "month")
        if window not in windows:
            raise ValidationError(f"window must be 'day', 'week' or 'month', got {window!r}")
        k = windows.index(window)
        as_of = epoch_micros(self.as_of)
        # one start per time zone: the pool's (code -1, last slot) and each customer zone's
        starts = np.array(
            [local_day_starts(as_of, name)[k] for name in self.time_zones]
            + [local_day_starts(as_of, self.utc_offset)[k]],
            dtype=np.int64,
        )
        contacts = self.contacts
        inside = contacts.at.view(np.int64) >= starts[self.time_zone[contacts.row]]
        column = OWNED_COLUMN[contacts.channel[inside]]
        key = contacts.row[inside] * len(OWNED_CHANNELS) + column
        counts = np.bincount(key, minlength=len(self) * len(OWNED_CHANNELS))
        return counts.astype(np.int32).reshape(len(self), len(OWNED_CHANNELS))

    # ------------------------------------------------------------------ partitions
    def take(self, rows: Any) -> Snapshot:
        """The snapshot of the customers at ``rows`` (integer rows or a boolean mask), in that
        order, with the relational tables restricted to them and renumbered. A referrer outside
        the selection keeps their id in :attr:`referrer_ids` and gets ``referrer_row`` -1."""
        n = len(self)
        picked = np.asarray(rows)
        if picked.dtype == np.bool_:
            if picked.shape != (n,):
                raise ValidationError(f"a boolean mask needs {n} values, got shape {picked.shape}")
            picked = np.flatnonzero(picked)
        elif picked.dtype.kind not in "iu" or picked.ndim != 1:
            raise ValidationError("rows must be a 1-D integer array or a boolean mask")
        picked = picked.astype(np.int64)
        if picked.size and (picked.min() < -n or picked.max() >= n):
            raise ValidationError(f"rows must lie in [0, {n})")
        picked = np.where(picked < 0, picked + n, picked)
        if np.unique(picked).size != picked.size:
            raise ValidationError("rows must not repeat")
        new_row = np.full(n, -1, dtype=np.int64)
        new_row[picked] = np.arange(picked.size)
        values: dict[str, Any] = {}
        for f in attrs.fields(Snapshot):
            if not f.init:
                continue
            value = getattr(self, f.name)
            if isinstance(value, _Relation):
                value = value.take(new_row)
            elif f.name == "referrer_row":
                value = _readonly(np.where(value >= 0, new_row[np.maximum(value, 0)], -1)[picked])
            elif isinstance(value, np.ndarray) and value.ndim and value.shape[0] == n:
                value = _readonly(value[picked])
            elif isinstance(value, dict):
                value = {k: _readonly(col[picked]) for k, col in value.items()}
            values[f.name] = value
        return Snapshot(**values)

    @classmethod
    def concat(cls, snapshots: Any) -> Snapshot:
        """One snapshot of the customers of several, disjoint snapshots of one pool as of one
        instant (partitions), rows in order. Columns of tags and attributes missing from a
        part are filled with their defaults; referrer rows are resolved across parts."""
        parts = list(snapshots)
        if not parts or not all(isinstance(p, Snapshot) for p in parts):
            raise ValidationError("concat needs at least one Snapshot")
        first = parts[0]
        for p in parts[1:]:
            if (p.as_of, p.tenant, p.currency, p.utc_offset) != (
                first.as_of,
                first.tenant,
                first.currency,
                first.utc_offset,
            ):
                raise ValidationError("concat needs snapshots of one tenant as of one instant")
            if p.agent_names[: len(first.agent_names)] != first.agent_names[: len(p.agent_names)]:
                raise ValidationError("concat needs snapshots of one pool (agent codes differ)")
        offsets = list(np.cumsum([0, *(len(p) for p in parts[:-1])]).tolist())
        ids = np.concatenate([p.customer_ids for p in parts])
        if np.unique(ids).size != ids.size:
            raise ValidationError("concat needs snapshots of disjoint customers")
        values: dict[str, Any] = {}
        for f in attrs.fields(Snapshot):
            if not f.init:
                continue
            value = getattr(first, f.name)
            if isinstance(value, _Relation):
                values[f.name] = type(value).concat([getattr(p, f.name) for p in parts], offsets)
            elif f.name in ("tags", "attributes"):
                names = sorted(set().union(*(getattr(p, f.name) for p in parts)))
                default: Any = False if f.name == "tags" else None
                dtype: Any = bool if f.name == "tags" else object
                values[f.name] = {
                    name: _readonly(
                        np.concatenate(
                            [
                                getattr(p, f.name).get(name, np.full(len(p), default, dtype))
                                for p in parts
                            ]
                        )
                    )
                    for name in names
                }
            elif isinstance(value, np.ndarray) and value.ndim and value.shape[0] == len(first):
                values[f.name] = _readonly(np.concatenate([getattr(p, f.name) for p in parts]))
            elif f.name in ("agent_names", "time_zones"):
                values[f.name] = max((getattr(p, f.name) for p in parts), key=len)
            else:
                values[f.name] = value
        # referrers may sit in another part: resolve by id
        position = dict(zip(ids.tolist(), range(ids.size), strict=True))
        values["referrer_row"] = _readonly(
            np.fromiter(
                (position.get(r, -1) for r in values["referrer_ids"].tolist()),
                dtype=np.int64,
                count=ids.size,
            )
        )
        return cls(**values)

    # ------------------------------------------------------------------ export
    def columns(self) -> dict[str, NDArray[Any]]:
        """Every feature as a flat column: matrices become one column per channel or kind."""
        out: dict[str, NDArray[Any]] = {
            "customer_id": self.customer_ids,
            "joined_at": self.joined_at,
            "source": np.array([c.name for c in Channel], dtype=object)[self.source],
            "referrer_id": self.referrer_ids,
            "agent_id": self.agent_ids,
            "first_purchase": self.first_purchase,
            "last_purchase": self.last_purchase,
            "last_active": self.last_active,
        }
        for name in _SCALAR_FEATURES:
            if name not in out and name != "source":
                out[name] = np.asarray(getattr(self, name))
        for c in Channel:
            out[f"touches_{c.name.lower()}"] = self.touches_by_channel[:, c.value]
        for k in TouchKind:
            out[f"count_{k.name.lower()}"] = self.touches_by_kind[:, k.value]
        for j, c in enumerate(OWNED_CHANNELS):
            low = c.name.lower()
            out[f"consent_{low}"] = self.consent[:, j]
            out[f"reachable_{low}"] = self.reachable[:, j]
            out[f"last_contact_{low}"] = self.last_contact[:, j]
        for t in sorted(self.tags):
            out[f"tag:{t}"] = self.tags[t]
        for a in sorted(self.attributes):
            out[f"attr:{a}"] = self.attributes[a]
        return out

    def to_records(self) -> list[dict[str, Any]]:
        """One ``dict`` per customer of plain Python values (datetimes aware UTC, NaT → None)."""
        cols = self.columns()
        plain: dict[str, list[Any]] = {}
        for name, col in cols.items():
            if col.dtype.kind == "M":
                us = col.astype("datetime64[us]").astype(np.int64)
                plain[name] = [None if v == _NAT else micros_to_datetime(v) for v in us.tolist()]
            elif col.dtype.kind == "f":
                plain[name] = [None if v != v else v for v in col.tolist()]
            else:
                plain[name] = col.tolist()
        names = list(plain)
        return [
            dict(zip(names, values, strict=True)) for values in zip(*plain.values(), strict=True)
        ]

    def to_frame(self) -> pd.DataFrame:
        """A pandas ``DataFrame`` indexed by customer id (needs ``privdomain[pandas]``)."""
        pd = import_optional("pandas", extra="pandas")
        cols = self.columns()
        frame = pd.DataFrame({k: v for k, v in cols.items() if k != "customer_id"})
        frame.index = pd.Index(cols["customer_id"], name="customer_id")
        for name, col in cols.items():
            if col.dtype.kind == "M":
                frame[name] = pd.to_datetime(col.astype("datetime64[us]"), utc=True)
        return frame

    def __repr__(self) -> str:
        return (
            f"Snapshot(tenant={self.tenant!r}, as_of={self.as_of.isoformat()}, "
            f"customers={len(self)}, buyers={int(self.buyers.sum())}, "
            f"gross_spend={float(self.gross_spend.sum()):.2f} {self.currency})"
        )


_SCALAR_FEATURES = (
    "source",
    "orders",
    "purchase_days",
    "gross_spend",
    "first_day_spend",
    "refunds",
    "refunded",
    "net_spend",
    "avg_order_value",
    "promo_orders",
    "discounted_orders",
    "full_price_orders",
    "discount_total",
    "recency_days",
    "tenure_days",
    "days_since_active",
    "referrals",
    "reachable_channels",
    "has_referrer",
    "buyers",
)


def _attribute_feature(col: NDArray[np.object_]) -> NDArray[Any]:
    """Numeric attributes become float (NaN where unset); others stay objects."""
    values = [v for v in col.tolist() if v is not None]
    if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return np.array([np.nan if v is None else float(v) for v in col.tolist()], dtype=np.float64)
    return col


def _renumber(rows: NDArray[np.int64], new_row: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Which table entries survive a row selection (``new_row`` -1 = dropped)."""
    return np.asarray(new_row[rows] >= 0)


@attrs.frozen(eq=False)
class _Relation:
    """Base of the snapshot's relational tables: columns aligned to each other, with ``row``
    pointing at snapshot rows."""

    def __len__(self) -> int:
        return int(getattr(self, "row").shape[0])  # noqa: B009 - every subclass has one

    def columns(self) -> dict[str, NDArray[Any]]:
        """Every column by name."""
        return {f.name: getattr(self, f.name) for f in attrs.fields(type(self))}

    def _select(self, keep: NDArray[Any], new_row: NDArray[np.int64] | None) -> Any:
        out = {name: col[keep] for name, col in self.columns().items()}
        if new_row is not None:
            out["row"] = new_row[out["row"]]
        for name in _ROW_COLUMNS.get(type(self).__name__, ()):
            if new_row is not None:
                col = out[name]
                out[name] = np.where(col >= 0, new_row[np.maximum(col, 0)], -1)
        return type(self)(**{k: _readonly(v) for k, v in out.items()})

    def take(self, new_row: NDArray[np.int64]) -> Any:
        """The entries of rows kept by ``new_row`` (old row → new row, -1 = dropped)."""
        row: NDArray[np.int64] = getattr(self, "row")  # noqa: B009 - every subclass has one
        return self._select(_renumber(row, new_row), new_row)

    @classmethod
    def concat(cls, parts: list[Any], offsets: list[int]) -> Any:
        """Tables of disjoint snapshots, their rows shifted by ``offsets``."""
        out: dict[str, NDArray[Any]] = {}
        for f in attrs.fields(cls):
            cols = []
            for part, offset in zip(parts, offsets, strict=True):
                col = getattr(part, f.name)
                if f.name == "row" or f.name in _ROW_COLUMNS.get(cls.__name__, ()):
                    col = np.where(col >= 0, col + offset, -1)
                cols.append(col)
            out[f.name] = _readonly(np.concatenate(cols))
        return cls(**out)


@attrs.frozen(eq=False)
class Orders(_Relation):
    """Every purchase as of ``as_of``, one row per order, in log order.

    Amounts are exact integer minor units (fen). ``refunded_minor`` sums the refunds, as of
    ``as_of``, that name the order (a refund that names no order counts only in the customer's
    ``refunded`` total). ``agent`` is the agent who served the order if the touchpoint names one,
    else the agent the customer was bound to at the time of the order (-1 for none); codes index
    :attr:`Snapshot.agent_names`.
    """

    order_id: NDArray[Any]
    """The host's order id (the purchase's touchpoint id when it gave none)."""
    row: NDArray[np.int64]
    """The customer's row in the snapshot."""
    at: NDArray[np.datetime64]
    channel: NDArray[np.uint8]
    agent: NDArray[np.int32]
    gross_minor: NDArray[np.int64]
    refunded_minor: NDArray[np.int64]
    discount_minor: NDArray[np.int64]
    promotion: NDArray[np.bool_]


@attrs.frozen(eq=False)
class Invitations(_Relation):
    """Every invitation (``INVITED`` touchpoint) as of ``as_of``, in log order.

    ``row`` is the inviter's row; ``invitee_row`` the invitee's row, or -1 when the invitee had
    not joined by ``as_of`` (``invitee_id`` still names them).
    """

    row: NDArray[np.int64]
    invitee_row: NDArray[np.int64]
    invitee_id: NDArray[np.object_]
    at: NDArray[np.datetime64]
    channel: NDArray[np.uint8]
    agent: NDArray[np.int32]


@attrs.frozen(eq=False)
class Contacts(_Relation):
    """The messages the brand sent (``SENT`` touchpoints on owned channels) in the
    :data:`CONTACT_HISTORY_DAYS` before ``as_of``, in log order: what frequency caps and
    fatigue read. Contacts are touchpoints like any other: a plan that is sent comes back as
    ``SENT`` touchpoints the host ingests."""

    row: NDArray[np.int64]
    at: NDArray[np.datetime64]
    channel: NDArray[np.uint8]
    promotion: NDArray[np.bool_]


_ROW_COLUMNS = {"Invitations": ("invitee_row",)}

#: How far back the snapshot's :class:`Contacts` table reaches.
CONTACT_HISTORY_DAYS = 92
