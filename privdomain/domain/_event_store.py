"""The pool's append-only event log and what it remembers to stay idempotent."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from privdomain.domain._checks import first_unseen
from privdomain.domain._columns import Column, canonical
from privdomain.domain._fingerprint import fingerprint_strings
from privdomain.domain.batch import TouchpointColumns
from privdomain.domain.channels import IS_MONETARY, TouchKind
from privdomain.domain.tables import EventLog

__all__ = ["EventStore", "order_keys"]

_PROMOTION = np.uint8(1)


class EventStore:
    """Growable event columns, the seen touchpoint ids (sorted 64-bit keys, exact for integer
    ids, fingerprints for strings) and the labels of string order ids."""

    def __init__(self) -> None:
        self.customer: Column[np.int32] = Column(np.int32)
        self.at: Column[np.int64] = Column(np.int64)
        self.kind: Column[np.uint8] = Column(np.uint8)
        self.channel: Column[np.uint8] = Column(np.uint8)
        self.flags: Column[np.uint8] = Column(np.uint8)
        self.money_amount: Column[np.int64] = Column(np.int64)
        self.money_discount: Column[np.int64] = Column(np.int64)
        self.money_order: Column[np.int64] = Column(np.int64)
        self.money_order_named: Column[np.bool_] = Column(np.bool_)
        self.related_rows: Column[np.int64] = Column(np.int64)
        self.related: Column[np.int32] = Column(np.int32)
        self.agent_rows: Column[np.int64] = Column(np.int64)
        self.agent: Column[np.int32] = Column(np.int32)
        self.order_labels: dict[int, object] = {}
        self.seen_str: NDArray[np.uint64] = np.empty(0, np.uint64)
        self.seen_int: NDArray[np.int64] = np.empty(0, np.int64)

    def __len__(self) -> int:
        return len(self.at)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.seen_str = canonical(self.seen_str)
        self.seen_int = canonical(self.seen_int)

    def _columns(self) -> list[Column[Any]]:
        return [value for value in self.__dict__.values() if isinstance(value, Column)]

    def view(self) -> EventLog:
        """A read-only view of what the log holds now."""
        return EventLog(
            customer=self.customer.values,
            at=self.at.values,
            kind=self.kind.values,
            channel=self.channel.values,
            flags=self.flags.values,
            money_amount=self.money_amount.values,
            money_discount=self.money_discount.values,
            money_order=self.money_order.values,
            money_order_named=self.money_order_named.values,
            order_labels=MappingProxyType(dict(self.order_labels)),
            related_rows=self.related_rows.values,
            related_values=self.related.values,
            agent_rows=self.agent_rows.values,
            agent_values=self.agent.values,
        )

    # ---------------------------------------------------------------- undo
    def checkpoint(self) -> Any:
        """What :meth:`restore` needs to undo every append made after this call."""
        return (
            [len(c) for c in self._columns()],
            dict(self.order_labels),
            self.seen_int,
            self.seen_str,
        )

    def restore(self, checkpoint: Any) -> None:
        sizes, labels, seen_int, seen_str = checkpoint
        for column, size in zip(self._columns(), sizes, strict=True):
            column.truncate(size)
        self.order_labels = labels
        self.seen_int, self.seen_str = seen_int, seen_str

    # ---------------------------------------------------------------- idempotency
    def unseen(
        self, cols: TouchpointColumns, rows: NDArray[np.intp] | None
    ) -> tuple[NDArray[np.bool_] | None, NDArray[Any]]:
        """Which of ``rows`` (``None``: all) carry an id neither seen before nor earlier in the
        batch, and their keys sorted (to :meth:`remember` once the rows are written). The mask
        is ``None`` when every row is new."""
        int_ids = cols.id.dtype.kind in "iu"
        ids = cols.id if rows is None else cols.id[rows]  # rejected ids are never hashed
        keys: NDArray[Any] = ids if int_ids else fingerprint_strings(ids)
        seen = self.seen_int if int_ids else self.seen_str
        return first_unseen(keys.astype(seen.dtype, copy=False), seen)

    def remember(self, cols: TouchpointColumns, sorted_fresh: NDArray[Any]) -> None:
        """Add the sorted keys of newly written touchpoints to the seen ids."""
        int_ids = cols.id.dtype.kind in "iu"
        seen = self.seen_int if int_ids else self.seen_str
        if seen.size:
            merged = np.concatenate([seen, sorted_fresh])
            merged.sort(kind="stable")  # two sorted runs: timsort merges them in linear time
        else:
            # never keep a view of the caller's array
            shared = np.may_share_memory(sorted_fresh, cols.id)
            merged = sorted_fresh.copy() if shared else sorted_fresh
        if int_ids:
            self.seen_int = merged
        else:
            self.seen_str = merged

    # ---------------------------------------------------------------- appends
    def append(
        self,
        cols: TouchpointColumns,
        rows: NDArray[np.intp] | None,
        customer: NDArray[np.int32],
        related: NDArray[np.int32],
        agent: NDArray[np.int32],
    ) -> None:
        """Append rows ``rows`` (``None``: all) of ``cols``, with their customers, related
        customers and agents already resolved to dense indices (-1 for none)."""

        def pick(values: NDArray[Any]) -> NDArray[Any]:
            return values if rows is None else values[rows]

        base = len(self.at)
        kinds = pick(cols.kind)
        money = np.flatnonzero(IS_MONETARY[kinds])
        self.customer.extend(pick(customer))
        self.at.extend(pick(cols.at))
        self.kind.extend(kinds)
        self.channel.extend(pick(cols.channel))
        self.flags.extend(pick(cols.promotion).astype(np.uint8) * _PROMOTION)
        self.money_amount.extend(pick(cols.amount_minor)[money])
        self.money_discount.extend(pick(cols.discount_minor)[money])
        self._append_orders(cols, pick(np.arange(len(cols)))[money], kinds[money])
        related_of = pick(related)
        named = np.flatnonzero(related_of >= 0)
        self.related_rows.extend(base + named)
        self.related.extend(related_of[named])
        agent_of = pick(agent)
        with_agent = np.flatnonzero(agent_of >= 0)
        self.agent_rows.extend(base + with_agent)
        self.agent.extend(agent_of[with_agent])

    def _append_orders(
        self, cols: TouchpointColumns, rows: NDArray[np.intp], kinds: NDArray[np.uint8]
    ) -> None:
        keys, named, labels = order_keys(cols, rows, kinds)
        self.order_labels.update(labels)
        self.money_order.extend(keys)
        self.money_order_named.extend(named)

    def orders_of(self, kind: TouchKind) -> tuple[NDArray[np.intp], NDArray[np.int64]]:
        """Positions among the monetary events (aligned with the money columns) of the ones of
        ``kind`` that name an order, and their order keys."""
        money_kind = self.kind.values[np.flatnonzero(IS_MONETARY[self.kind.values])]
        which = np.flatnonzero((money_kind == kind.value) & self.money_order_named.values)
        return which, self.money_order.values[which]


def order_keys(
    cols: TouchpointColumns, rows: NDArray[np.intp], kinds: NDArray[np.uint8]
) -> tuple[NDArray[np.int64], NDArray[np.bool_], dict[int, object]]:
    """Order keys of the monetary rows ``rows`` of ``cols`` (of kinds ``kinds``): a purchase's
    order is its ``order_id`` or, without one, its touchpoint id; a refund names the order it
    reverses, if any. Integer ids are their own key, string ids are fingerprinted (the labels
    map each fingerprint back to its id). Returns the keys, which rows name an order, and the
    labels."""
    purchase = kinds == TouchKind.PURCHASED.value
    ids: NDArray[Any] = cols.id[rows]
    if cols.order_id is not None:
        named_order = cols.order_id[rows]
        has = named_order != None  # noqa: E711 - elementwise on objects
        ids = np.where(has, named_order, ids.astype(object))
        named = has | purchase
    else:
        named = purchase
    keys = np.zeros(rows.size, dtype=np.int64)
    labels: dict[int, object] = {}
    if ids.dtype.kind in "iu":
        keys[:] = ids
    elif named.any():
        values = ids[named]
        is_str = np.fromiter((isinstance(v, str) for v in values.tolist()), bool, values.size)
        numbers = np.zeros(values.size, dtype=np.int64)
        numbers[~is_str] = values[~is_str].astype(np.int64)
        if is_str.any():
            strings = values[is_str]
            prints = fingerprint_strings(strings).view(np.int64)
            numbers[is_str] = prints
            labels = dict(zip(prints.tolist(), strings.tolist(), strict=True))
        keys[named] = numbers
    return keys, np.asarray(named, dtype=bool), labels
