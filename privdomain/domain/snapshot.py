"""The snapshot: every customer's features as of one instant, computed in one vectorised pass."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain._optional import import_optional
from privdomain.domain._time import MICROS_PER_DAY, epoch_micros, micros_to_datetime
from privdomain.domain.channels import OWNED_CHANNELS, Channel, TouchKind
from privdomain.errors import UnknownCustomerError, UnknownFeatureError

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
        """The row of ``customer_id`` in this snapshot."""
        hits = np.flatnonzero(self.customer_ids == customer_id)
        if hits.size == 0:
            raise UnknownCustomerError(f"{customer_id!r} is not in the snapshot as of {self.as_of}")
        return int(hits[0])

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


