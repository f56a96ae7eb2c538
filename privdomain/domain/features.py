"""``features(tables, as_of)``: every customer's features as of one instant, in one pass.

A pure function of the read-only :class:`~privdomain.domain.tables.Tables` a pool (or a
partition of one) hands out: nothing here reads a pool, and nothing dated after ``as_of``, an
event or a profile change, can change its result.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from privdomain.domain._profile import field_default, field_dtype
from privdomain.domain._time import MICROS_PER_DAY, Instant, epoch_micros, micros_to_datetime
from privdomain.domain.channels import (
    CONNECT_KINDS,
    DISCONNECT_KINDS,
    IS_MONETARY,
    OWNED_CHANNELS,
    OWNED_COLUMN,
    Channel,
    TouchKind,
    kind_table,
)
from privdomain.domain.money import minor_unit_exponent
from privdomain.domain.snapshot import (
    CONTACT_HISTORY_DAYS,
    Contacts,
    Invitations,
    Orders,
    Snapshot,
)
from privdomain.domain.tables import EventLog, FieldHistory, Tables
from privdomain.errors import ValidationError

__all__ = ["features"]

_N_OWNED = len(OWNED_CHANNELS)
_N_CHANNELS = len(Channel)
_N_KINDS = len(TouchKind)
_NAT = np.iinfo(np.int64).min  # datetime64's NaT as int64
T = TypeVar("T")


def _readonly(arr: NDArray[Any]) -> NDArray[Any]:
    arr.flags.writeable = False
    return arr


_IS_LINK = kind_table(CONNECT_KINDS | DISCONNECT_KINDS)
_IS_OFF = kind_table(DISCONNECT_KINDS)
#: whether a channel code is an owned channel (a bool per event: the int64 column numbers of
#: ``OWNED_COLUMN`` are looked up only for the events that need them)
_IS_OWNED = OWNED_COLUMN >= 0


def _group_max(key: NDArray[np.intp], values: NDArray[np.int64], size: int) -> NDArray[np.int64]:
    """Per-group maximum of ``values`` (NaT as int64 where a group is empty)."""
    out = np.full(size, _NAT, dtype=np.int64)
    np.maximum.at(out, key, values)
    return out


def _key(rows: NDArray[np.integer[Any]], width: int, codes: NDArray[Any]) -> NDArray[np.intp]:
    """``rows * width + codes`` as one new ``intp`` array, computed in place."""
    key = rows.astype(np.intp)
    key *= width
    key += codes
    return key


def _counts(key: NDArray[np.intp], size: int) -> NDArray[np.int32]:
    """Grouped counts as ``int32`` (half what the snapshot keeps); the caller hands ``key``
    over, and it is freed before the counts are narrowed."""
    # bincount is the fastest grouped count numpy has
    counts = np.bincount(key, minlength=size)
    del key
    return _narrowed(counts)


def _narrowed(counts: NDArray[np.intp]) -> NDArray[np.int32]:
    """``counts.astype(np.int32)`` in ``counts``' own buffer, which then shrinks to half: no
    second buffer of the full size at any time (these are the snapshot's largest arrays)."""
    size = counts.size
    if size < 2 or counts.dtype.itemsize != 8 or not counts.flags.owndata:
        return counts.astype(np.int32)
    narrow = counts.view(np.int32)
    # element i moves from bytes [8i, 8i + 8) to [4i, 4i + 4): a block [lo, hi) with
    # hi <= 2 lo writes only over elements already moved (the first block, which overlaps
    # itself, numpy copies through a buffer)
    lo = hi = min(size, 1 << 16)
    narrow[:hi] = counts[:hi]
    while lo < size:
        hi = min(size, 2 * lo)
        narrow[lo:hi] = counts[lo:hi]
        lo = hi
    del narrow
    counts.resize((size + 1) // 2, refcheck=False)  # realloc: gives the second half back
    out: NDArray[np.int32] = counts.view(np.int32)[:size]
    return out


def _last_state_is_off(
    key: NDArray[np.int64], at: NDArray[np.int64], off: NDArray[np.bool_], size: int
) -> NDArray[np.bool_]:
    """For each group, whether its latest event is an "off" one (a tie goes to "off").

    ``at * 2 + off`` orders events by time, and on the same microsecond puts "off" last, so one
    grouped maximum finds each group's deciding event.
    """
    latest = _group_max(key, at * 2 + off, size)
    decided: NDArray[np.bool_] = latest != _NAT
    np.bitwise_and(latest, 1, out=latest)  # in place: no second array of groups
    np.logical_and(decided, latest, out=decided)
    return decided


def features(tables: Tables, as_of: Instant, *, threads: int | None = None) -> Snapshot:
    """The :class:`~privdomain.Snapshot` of ``tables`` as of ``as_of``.

    Customers who joined after ``as_of`` are not in it; events and profile changes after
    ``as_of`` are invisible. The features fall into independent groups (counts, money, contact,
    connection state, profiles); numpy releases the GIL in the grouped reductions, so the groups
    run on ``threads`` threads (default: the machine's cores, at most four; ``threads=1`` keeps
    everything on the calling thread).
    """
    if not isinstance(tables, Tables):
        raise ValidationError(f"features needs Tables, got {type(tables).__name__}")
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ValidationError(f"threads must be a positive int, got {threads!r}")
    as_of_us = epoch_micros(as_of, what="as_of")
    return _features(tables, as_of_us, threads)


def _features(tables: Tables, as_of: int, threads: int | None) -> Snapshot:
    cust = tables.customers
    n_all = len(cust)
    members = np.flatnonzero(cust.joined <= as_of)
    m = members.size
    everyone = m == n_all
    row_of = np.full(n_all, -1, dtype=np.int64)
    row_of[members] = np.arange(m)

    ev = tables.events
    visible_rows = None if everyone else row_of

    def profile(name: str) -> NDArray[Any]:
        history = tables.profile.get(name)
        if history is None:
            return np.full(m, field_default(name), dtype=field_dtype(name))
        return history.as_of(as_of, m, field_default(name), field_dtype(name), visible_rows)

    def _in_schema(tables: Tables, name: str, declared: bool) -> bool:
        # a declared name always has a column; another one once some member has a change of it
        if declared:
            return True
        history = tables.profile.get(name)
        if history is None:
            return False
        seen = history.at <= as_of
        if not everyone:
            seen &= row_of[history.customer] >= 0
        return bool(seen.any())

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
        sent = np.flatnonzero((kind == TouchKind.SENT.value) & _IS_OWNED[channel])
        key = _key(rows[sent], _N_OWNED, OWNED_COLUMN[channel[sent]])
        return _group_max(key, at[sent], m * _N_OWNED)

    def activity() -> NDArray[np.int64]:
        inbound = np.flatnonzero(kind != TouchKind.SENT.value)
        return _group_max(rows[inbound].astype(np.intp), at[inbound], m)

    def reach() -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        link = np.flatnonzero(_IS_LINK[kind] & _IS_OWNED[channel])
        # a removal at the same instant as a (re)connection wins: better miss than spam
        disconnected = _last_state_is_off(
            _key(rows[link], _N_OWNED, OWNED_COLUMN[channel[link]]),
            at[link],
            _IS_OFF[kind[link]],
            m * _N_OWNED,
        ).reshape(m, _N_OWNED)
        consent = np.empty((m, _N_OWNED), dtype=bool)
        for j, owned in enumerate(OWNED_CHANNELS):
            consent[:, j] = profile(f"consent:{owned.name.lower()}")
        return consent, consent & ~disconnected

    def money() -> dict[str, NDArray[Any]]:
        return _money_features(tables, ev, visible, row_of, everyone, m)

    def relations() -> dict[str, Any]:
        return _relations(tables, as_of, sel, visible, rows, kind, channel, at, row_of, m)

    workers = min(4, os.cpu_count() or 1) if threads is None else threads
    with ThreadPoolExecutor(max_workers=workers) if workers > 1 else _Inline() as executor:
        money_f = executor.submit(money)
        kind_f = executor.submit(by_kind)
        channel_f = executor.submit(by_channel)
        contact_f = executor.submit(contact)
        activity_f = executor.submit(activity)
        reach_f = executor.submit(reach)
        relations_f = executor.submit(relations)
    touches_by_kind = kind_f.result()
    consent, reachable = reach_f.result()
    cash = money_f.result()

    referrer = cust.referrer[members].astype(np.int64)
    referrer_row = np.where(referrer >= 0, row_of[np.maximum(referrer, 0)], -1)
    referrals = np.bincount(referrer_row[referrer_row >= 0], minlength=m).astype(np.int64)

    ids = cust.ids
    agent_names = np.array([*tables.agent_ids, None], dtype=object)  # index -1 → None
    store_names = np.array([*tables.store_ids, None], dtype=object)
    agent = profile("agent")
    store = profile("store")
    tag_columns = {
        name: _readonly(profile(f"tag:{name}"))
        for name in tables.tags
        if _in_schema(tables, f"tag:{name}", name in tables.declared_tags)
    }
    attribute_columns = {
        name: _readonly(profile(f"attr:{name}"))
        for name in tables.attributes
        if _in_schema(tables, f"attr:{name}", name in tables.declared_attributes)
    }
    ids_or_none = np.empty(ids.size + 1, dtype=object)  # index -1 → None
    ids_or_none[:-1] = ids

    def instants(values: NDArray[np.int64]) -> NDArray[np.datetime64]:
        return _readonly(values.view("datetime64[us]"))

    return Snapshot(
        as_of=micros_to_datetime(as_of),
        tenant=tables.tenant,
        currency=tables.currency,
        utc_offset=tables.utc_offset,
        customer_ids=_readonly(ids[members]),
        index=_readonly(members.astype(np.int64)),
        joined_at=instants(cust.joined[members].copy()),
        source=_readonly(cust.source[members].copy()),
        # a referrer who had not joined by as_of is as unknown as their events
        referrer_ids=_readonly(ids_or_none[np.where(referrer_row >= 0, referrer, -1)]),
        agent_ids=_readonly(agent_names[agent]),
        store_ids=_readonly(store_names[store]),
        referrer_row=_readonly(referrer_row),
        agent=_readonly(agent),
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
        tags=tag_columns,
        attributes=attribute_columns,
        agent_names=tables.agent_ids,
        time_zone=_readonly(profile("time_zone")),
        time_zones=tables.time_zones,
        **relations_f.result(),
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
    tables: Tables,
    ev: EventLog,
    visible: NDArray[np.bool_],
    row_of: NDArray[np.int64],
    everyone: bool,
    m: int,
) -> dict[str, NDArray[Any]]:
    """Purchase and refund features. Amounts and discounts are kept for monetary events only,
    in log order, so this works on that (small) part of the log."""
    scale = float(10 ** minor_unit_exponent(tables.currency))
    offset = tables.utc_offset // dt.timedelta(microseconds=1)
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


def _sparse_at(
    rows: NDArray[np.int64], values: NDArray[np.int32], events: NDArray[np.intp]
) -> NDArray[np.int32]:
    """The value of sparse (row, value) pairs at event positions ``events`` (-1 where none);
    ``rows`` ascend, as the log appends them."""
    out = np.full(events.size, -1, dtype=np.int32)
    if rows.size == 0 or events.size == 0:
        return out
    pos = np.minimum(np.searchsorted(rows, events), rows.size - 1)
    hit = rows[pos] == events
    out[hit] = values[pos[hit]]
    return out


def _value_at(
    history: FieldHistory | None, customer: NDArray[np.int64], when: NDArray[np.int64]
) -> NDArray[np.int32]:
    """A code field (agent, store) of pool customers ``customer`` at instants ``when``."""
    out = np.full(customer.size, -1, dtype=np.int32)
    if history is None or not len(history) or customer.size == 0:
        return out
    size = int(max(customer.max(), history.customer.max())) + 1
    changes = np.bincount(history.customer, minlength=size)
    # customers with one change: is it in effect yet?
    single_rows = np.flatnonzero(changes[history.customer] == 1)
    first_at = np.full(size, np.iinfo(np.int64).max, dtype=np.int64)
    value = np.full(size, -1, dtype=np.int32)
    first_at[history.customer[single_rows]] = history.at[single_rows]
    value[history.customer[single_rows]] = history.value[single_rows]
    ok = first_at[customer] <= when
    out[ok] = value[customer[ok]]
    if not history.overwrites:
        return out
    # customers with several changes: the last one at or before each instant, found by one
    # search over (customer, time rank) keys of their changes only
    asked = np.flatnonzero(changes[customer] > 1)
    rows = np.flatnonzero(changes[history.customer] > 1)
    if asked.size == 0:
        return out
    h_customer = history.customer[rows].astype(np.int64)
    h_at = history.at[rows]
    q_customer, q_at = customer[asked], when[asked]
    times = np.unique(np.concatenate([h_at, q_at]))
    h_key = (h_customer << 32) | np.searchsorted(times, h_at)
    order = np.argsort(h_key, kind="stable")  # ties keep log order: the later change wins
    h_sorted = h_key[order]
    q_key = (q_customer << 32) | np.searchsorted(times, q_at)
    pos = np.searchsorted(h_sorted, q_key, side="right") - 1
    hit = pos >= 0
    hit[hit] = (h_sorted[pos[hit]] >> 32) == q_customer[hit]
    found = np.full(asked.size, -1, dtype=np.int32)
    found[hit] = history.value[rows[order[pos[hit]]]]
    out[asked] = found
    return out


def _relations(
    tables: Tables,
    as_of: int,
    sel: NDArray[np.intp] | None,
    visible: NDArray[np.bool_],
    rows: NDArray[Any],
    kind: NDArray[np.uint8],
    channel: NDArray[np.uint8],
    at: NDArray[np.int64],
    row_of: NDArray[np.int64],
    m: int,
) -> dict[str, Any]:
    """The snapshot's relational tables, in log order."""
    ev = tables.events
    out: dict[str, Any] = {}

    def positions(events: NDArray[np.intp]) -> NDArray[np.intp]:
        """Log positions of visible events (no ``arange`` of the whole log when all are)."""
        return events if sel is None else sel[events]

    # contacts: owned-channel messages of the recent past
    sent = np.flatnonzero((kind == TouchKind.SENT.value) & _IS_OWNED[channel])
    recent = sent[at[sent] >= as_of - CONTACT_HISTORY_DAYS * MICROS_PER_DAY]
    out["contacts"] = Contacts(
        row=_readonly(rows[recent].astype(np.int64)),
        at=_readonly(at[recent].view("datetime64[us]")),
        channel=_readonly(channel[recent]),
        promotion=_readonly((ev.flags[positions(recent)] & 1).astype(bool)),
    )

    # orders: purchases with their refunds, in exact minor units
    money_rows = np.flatnonzero(IS_MONETARY[ev.kind])  # log positions of monetary events
    money_seen = np.flatnonzero(visible[money_rows])
    m_pos = money_rows[money_seen]
    m_kind = ev.kind[m_pos]
    m_row = row_of[ev.customer[m_pos]]
    m_key = ev.money_order[money_seen]
    p = np.flatnonzero(m_kind == TouchKind.PURCHASED.value)
    r = np.flatnonzero((m_kind == TouchKind.REFUNDED.value) & ev.money_order_named[money_seen])
    p_key, p_row = m_key[p], m_row[p]
    refunded = np.zeros(p.size, dtype=np.int64)
    if r.size and p.size:
        order = np.argsort(p_key, kind="stable")
        found = np.minimum(np.searchsorted(p_key[order], m_key[r]), p.size - 1)
        target = order[found]
        hit = (p_key[target] == m_key[r]) & (p_row[target] == m_row[r])
        np.add.at(refunded, target[hit], ev.money_amount[money_seen[r[hit]]])
    if ev.order_labels:
        labels = ev.order_labels
        order_id: NDArray[Any] = np.array([labels.get(k, k) for k in p_key.tolist()], dtype=object)
    else:
        order_id = p_key.copy()
    p_pos = m_pos[p]
    agent = _sparse_at(ev.agent_rows, ev.agent_values, p_pos)
    unnamed = np.flatnonzero(agent < 0)
    agent[unnamed] = _value_at(
        tables.profile.get("agent"),
        ev.customer[p_pos[unnamed]].astype(np.int64),
        ev.at[p_pos[unnamed]],
    )
    out["order_log"] = Orders(
        order_id=_readonly(order_id),
        row=_readonly(p_row),
        at=_readonly(ev.at[p_pos].view("datetime64[us]")),
        channel=_readonly(ev.channel[p_pos]),
        agent=_readonly(agent),
        gross_minor=_readonly(ev.money_amount[money_seen[p]]),
        refunded_minor=_readonly(refunded),
        discount_minor=_readonly(ev.money_discount[money_seen[p]]),
        promotion=_readonly((ev.flags[p_pos] & 1).astype(bool)),
    )

    # invitations
    invited = np.flatnonzero(kind == TouchKind.INVITED.value)
    i_pos = positions(invited)
    invitee = _sparse_at(ev.related_rows, ev.related_values, i_pos).astype(np.int64)
    # index -1 → None; -2 - k → the k-th referenced id (an invitee who has not joined)
    referenced = ev.referenced_ids
    ids = np.empty(len(tables.customers) + referenced.size + 1, dtype=object)
    ids[: len(tables.customers)] = tables.customers.ids
    ids[len(tables.customers) : -1] = referenced[::-1]
    out["invitations"] = Invitations(
        row=_readonly(rows[invited].astype(np.int64)),
        invitee_row=_readonly(np.where(invitee >= 0, row_of[np.maximum(invitee, 0)], -1)),
        invitee_id=_readonly(ids[invitee]),
        at=_readonly(at[invited].view("datetime64[us]")),
        channel=_readonly(channel[invited]),
        agent=_readonly(_sparse_at(ev.agent_rows, ev.agent_values, i_pos)),
    )
    return out
