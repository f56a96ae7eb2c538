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
from privdomain.domain.channels import (
    CONNECT_KINDS,
    DISCONNECT_KINDS,
    IS_MONETARY,
    Channel,
    TouchKind,
    kind_table,
)
from privdomain.domain.money import minor_unit_exponent
from privdomain.errors import UnknownCustomerError, UnknownFeatureError

if TYPE_CHECKING:
    import pandas as pd

    from privdomain.domain.pool import EventLog, Pool

__all__ = ["OWNED_CHANNELS", "Snapshot"]

#: The owned channels, in the column order of the snapshot's per-channel matrices.
OWNED_CHANNELS: tuple[Channel, ...] = tuple(c for c in Channel if c.owned)
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
    """The customer's agent (``None`` if none)."""
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


def _any_set(column: NDArray[np.object_]) -> bool:
    """Whether any value is set (stops at the first one: attributes are usually dense)."""
    return any(v is not None for v in column)


def _carried(
    columns: dict[str, NDArray[Any]], members: NDArray[np.intp], used: Any
) -> dict[str, NDArray[Any]]:
    """The profile columns that some member of the snapshot carries, restricted to members.

    A tag or attribute only future customers carry stays invisible, like their events.
    """
    out = {}
    for name, col in columns.items():
        mine = col[members]
        if used(mine):
            out[name] = _readonly(mine)
    return out


_IS_LINK = kind_table(CONNECT_KINDS | DISCONNECT_KINDS)
_IS_OFF = kind_table(DISCONNECT_KINDS)


def _group_max(key: NDArray[np.intp], values: NDArray[np.int64], size: int) -> NDArray[np.int64]:
    """Per-group maximum of ``values`` (NaT as int64 where a group is empty)."""
    out = np.full(size, _NAT, dtype=np.int64)
    np.maximum.at(out, key, values)
    return out


def _key(rows: NDArray[np.integer[Any]], width: int, codes: NDArray[np.uint8]) -> NDArray[np.intp]:
    """``rows * width + codes`` as one new ``intp`` array, computed in place."""
    key = rows.astype(np.intp)
    key *= width
    key += codes
    return key


def _counts(key: NDArray[np.intp], size: int) -> NDArray[np.int32]:
    # bincount is the fastest grouped count numpy has; int32 halves what the snapshot keeps
    return np.bincount(key, minlength=size).astype(np.int32)


def _last_state_is_off(
    key: NDArray[np.int64], at: NDArray[np.int64], off: NDArray[np.bool_], size: int
) -> NDArray[np.bool_]:
    """For each group, whether its latest event is an "off" one (a tie goes to "off").

    ``at * 2 + off`` orders events by time, and on the same microsecond puts "off" last, so one
    grouped maximum finds each group's deciding event.
    """
    latest = _group_max(key, at * 2 + off, size)
    decided: NDArray[np.bool_] = (latest != _NAT) & (latest & 1 == 1)
    return decided


def _bit_matrix(bits: NDArray[np.uint16], width: int) -> NDArray[np.bool_]:
    """Bit ``j`` of every mask as column ``j`` of a boolean matrix."""
    as_bytes = bits.astype("<u2").view(np.uint8).reshape(-1, 2)
    return np.unpackbits(as_bytes, axis=1, bitorder="little")[:, :width].astype(bool)


def compute_snapshot(pool: Pool, as_of: int, *, threads: int | None = None) -> Snapshot:
    """Compute a :class:`Snapshot` of ``pool`` at ``as_of`` (epoch microseconds).

    The features fall into independent groups (counts, money, contact, connection state,
    customer columns); numpy releases the GIL in the grouped reductions, so the groups run on
    ``threads`` threads (default: the machine's cores, at most four).
    """
    cust = pool._customer_columns()
    n_all = len(pool)
    members = np.flatnonzero(cust["joined"] <= as_of)
    m = members.size
    everyone = m == n_all
    row_of = np.full(n_all, -1, dtype=np.int64)
    row_of[members] = np.arange(m)

    ev = pool.events
    visible = ev.at <= as_of
    if not everyone:
        visible &= row_of[ev.customer] >= 0
    sel = None if visible.all() else np.flatnonzero(visible)

    def take(col: NDArray[Any]) -> NDArray[Any]:
        return col if sel is None else col[sel]

    # customer rows as stored (int32) when everyone is in the snapshot: each group widens only
    # what it needs, in place, which keeps memory traffic (the real cost here) low
    rows: NDArray[np.integer[Any]] = take(ev.customer)
    if not everyone:
        rows = row_of[rows]
    kind = take(ev.kind)
    channel = take(ev.channel)
    at = take(ev.at)

    def by_kind() -> NDArray[np.int32]:
        return _counts(_key(rows, _N_KINDS, kind), m * _N_KINDS).reshape(m, _N_KINDS)

    def by_channel() -> NDArray[np.int32]:
        return _counts(_key(rows, _N_CHANNELS, channel), m * _N_CHANNELS).reshape(m, _N_CHANNELS)

    def contact() -> NDArray[np.int64]:
        sent = np.flatnonzero((kind == TouchKind.SENT.value) & (channel < _N_OWNED))
        key = _key(rows[sent], _N_OWNED, channel[sent])
        return _group_max(key, at[sent], m * _N_OWNED)

    def activity() -> NDArray[np.int64]:
        inbound = np.flatnonzero(kind != TouchKind.SENT.value)
        return _group_max(rows[inbound].astype(np.intp), at[inbound], m)

    def reach() -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        link = np.flatnonzero(_IS_LINK[kind] & (channel < _N_OWNED))
        # a removal at the same instant as a (re)connection wins: better miss than spam
        disconnected = _last_state_is_off(
            _key(rows[link], _N_OWNED, channel[link]),
            at[link],
            _IS_OFF[kind[link]],
            m * _N_OWNED,
        ).reshape(m, _N_OWNED)
        consent = _bit_matrix(cust["consent"][members], _N_OWNED)
        return consent, consent & ~disconnected

    def money() -> dict[str, NDArray[Any]]:
        return _money_features(pool, ev, visible, row_of, everyone, m)

    workers = min(4, os.cpu_count() or 1) if threads is None else threads
    with ThreadPoolExecutor(max_workers=workers) if workers > 1 else _Inline() as executor:
        money_f = executor.submit(money)
        kind_f = executor.submit(by_kind)
        channel_f = executor.submit(by_channel)
        contact_f = executor.submit(contact)
        activity_f = executor.submit(activity)
        reach_f = executor.submit(reach)
    touches_by_kind = kind_f.result()
    consent, reachable = reach_f.result()
    cash = money_f.result()

    referrer = cust["referrer"][members].astype(np.int64)
    referrer_row = np.where(referrer >= 0, row_of[np.maximum(referrer, 0)], -1)
    referrals = np.bincount(referrer_row[referrer_row >= 0], minlength=m).astype(np.int64)

    ids = np.array(pool._ids, dtype=object)
    agent_names = np.array([*pool.agent_ids, None], dtype=object)  # index -1 → None
    ids_or_none = np.empty(ids.size + 1, dtype=object)  # index -1 → None
    ids_or_none[:-1] = ids

    def instants(values: NDArray[np.int64]) -> NDArray[np.datetime64]:
        return _readonly(values.view("datetime64[us]"))

    return Snapshot(
        as_of=micros_to_datetime(as_of),
        tenant=pool.tenant,
        currency=pool.currency,
        utc_offset=pool.utc_offset,
        customer_ids=_readonly(ids[members]),
        index=_readonly(members.astype(np.int64)),
        joined_at=instants(cust["joined"][members].copy()),
        source=_readonly(cust["source"][members].copy()),
        # a referrer who had not joined by as_of is as unknown as their events
        referrer_ids=_readonly(ids_or_none[np.where(referrer_row >= 0, referrer, -1)]),
        agent_ids=_readonly(agent_names[cust["agent"][members]]),
        first_purchase=instants(cash["first_purchase"]),
        last_purchase=instants(cash["last_purchase"]),
        orders=_readonly(touches_by_kind[:, TouchKind.PURCHASED.value].astype(np.int64)),
        purchase_days=_readonly(cash["purchase_days"]),
        gross_spend=_readonly(cash["gross_spend"]),
        first_day_spend=_readonly(cash["first_day_spend"]),
        refunds=_readonly(touches_by_kind[:, TouchKind.REFUNDED.value].astype(np.int64)),
        refunded=_readonly(cash["refunded"]),
        promo_orders=_readonly(cash["promo_orders"]),
        discounted_orders=_readonly(cash["discounted_orders"]),
        full_price_orders=_readonly(cash["full_price_orders"]),
        discount_total=_readonly(cash["discount_total"]),
        touches_by_channel=_readonly(channel_f.result()),
        touches_by_kind=_readonly(touches_by_kind),
        last_contact=instants(contact_f.result()).reshape(m, _N_OWNED),
        last_active=instants(activity_f.result()),
        referrals=_readonly(referrals),
        consent=_readonly(consent),
        reachable=_readonly(reachable),
        tags=_carried(pool._tag_columns(), members, lambda col: bool(col.any())),
        attributes=_carried(pool._attribute_columns(), members, _any_set),
    )


class _Inline:
    """An executor that runs each task at once on the calling thread (``threads=1``)."""

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def submit(self, task: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        future.set_result(task())
        return future


def _money_features(
    pool: Pool,
    ev: EventLog,
    visible: NDArray[np.bool_],
    row_of: NDArray[np.int64],
    everyone: bool,
    m: int,
) -> dict[str, NDArray[Any]]:
    """Purchase and refund features. Amounts and discounts are kept for monetary events only,
    in log order, so this works on that (small) part of the log."""
    scale = float(10 ** minor_unit_exponent(pool.currency))
    offset = pool.utc_offset // dt.timedelta(microseconds=1)
    money_rows = np.flatnonzero(IS_MONETARY[ev.kind])
    seen = visible[money_rows]
    money_rows = money_rows[seen]
    money_kind = ev.kind[money_rows]
    money_customer = ev.customer[money_rows].astype(np.int64)
    if not everyone:
        money_customer = row_of[money_customer]
    amount = ev.money_amount[seen]
    discount = ev.money_discount[seen]
    out: dict[str, NDArray[Any]] = {}

    p = np.flatnonzero(money_kind == TouchKind.PURCHASED.value)
    p_rows, p_at = money_customer[p], ev.at[money_rows[p]]
    p_amount = amount[p].astype(np.float64)
    first_purchase = _group_max(p_rows, -p_at, m)
    out["first_purchase"] = np.where(first_purchase == _NAT, _NAT, -first_purchase)
    out["last_purchase"] = _group_max(p_rows, p_at, m)
    p_day = np.floor_divide(p_at + offset, MICROS_PER_DAY)
    # distinct (customer, day) pairs; days fit in 32 bits for any plausible epoch
    day_keys = np.sort((p_rows << 32) + (p_day - (p_day.min() if p_day.size else 0)))
    distinct = np.ones(day_keys.size, dtype=bool)
    distinct[1:] = day_keys[1:] != day_keys[:-1]
    out["purchase_days"] = np.bincount(day_keys[distinct] >> 32, minlength=m).astype(np.int64)
    first_day = np.floor_divide(out["first_purchase"][p_rows] + offset, MICROS_PER_DAY)
    on_first_day = p_day == first_day
    out["first_day_spend"] = (
        np.bincount(p_rows[on_first_day], p_amount[on_first_day], minlength=m) / scale
    )
    out["gross_spend"] = np.bincount(p_rows, p_amount, minlength=m) / scale
    p_discount = discount[p]
    # one count per (promotion, discount) combination gives all three order counts at once
    how = (ev.flags[money_rows[p]] & 1).astype(np.intp) + 2 * (p_discount > 0)
    by_how = np.bincount(p_rows * 4 + how, minlength=4 * m).reshape(m, 4)
    out["promo_orders"] = by_how[:, 1] + by_how[:, 3]
    out["discounted_orders"] = by_how[:, 2] + by_how[:, 3]
    out["full_price_orders"] = np.ascontiguousarray(by_how[:, 0])
    out["discount_total"] = np.bincount(p_rows, p_discount.astype(np.float64), minlength=m) / scale

    refund = np.flatnonzero(money_kind == TouchKind.REFUNDED.value)
    refund_amount = amount[refund].astype(np.float64)
    out["refunded"] = np.bincount(money_customer[refund], refund_amount, minlength=m) / scale
    return out
