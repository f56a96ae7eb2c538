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
    ids, fingerprints for strings, each with the log row of its touchpoint) and the labels of
    string order ids.

    A related customer is stored as their dense index, or as ``-2 - code`` for an invitee who
    was not a customer when invited (``code`` among the registry's referenced ids)."""

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
        self.seen_str_rows: NDArray[np.int64] = np.empty(0, np.int64)
        self.seen_int_rows: NDArray[np.int64] = np.empty(0, np.int64)

    def __len__(self) -> int:
        return len(self.at)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.seen_str = canonical(self.seen_str)
        self.seen_int = canonical(self.seen_int)
        for name in ("seen_str_rows", "seen_int_rows"):
            keys = self.seen_str if name == "seen_str_rows" else self.seen_int
            # pickled before rows were kept: -1 (unknown row) compares as an exact replay
            rows = state.get(name, np.full(keys.size, -1, dtype=np.int64))
            setattr(self, name, canonical(rows))

    def _columns(self) -> list[Column[Any]]:
        return [value for value in self.__dict__.values() if isinstance(value, Column)]

    def view(
        self, referenced: tuple[NDArray[np.object_], NDArray[np.int32]] | None = None
    ) -> EventLog:
        """A read-only view of what the log holds now; ``referenced`` (the registry's
        referenced ids and the customers they became) resolves invitees who joined since."""
        related = self.related.values
        names: NDArray[np.object_] = np.empty(0, dtype=object)
        if referenced is not None and referenced[0].size:
            names, became = referenced
            pending = np.flatnonzero(related <= -2)
            if pending.size:
                resolved = related.copy()
                now = became[-2 - related[pending]]
                resolved[pending[now >= 0]] = now[now >= 0]
                resolved.flags.writeable = False
                related = resolved
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
            related_values=related,
            agent_rows=self.agent_rows.values,
            agent_values=self.agent.values,
            referenced_ids=names,
        )

    # ---------------------------------------------------------------- undo
    def checkpoint(self) -> Any:
        """What :meth:`restore` needs to undo every append made after this call."""
        return (
            [len(c) for c in self._columns()],
            dict(self.order_labels),
            self.seen_int,
            self.seen_str,
            self.seen_int_rows,
            self.seen_str_rows,
        )

    def restore(self, checkpoint: Any) -> None:
        sizes, labels, seen_int, seen_str, int_rows, str_rows = checkpoint
        for column, size in zip(self._columns(), sizes, strict=True):
            column.truncate(size)
        self.order_labels = labels
        self.seen_int, self.seen_str = seen_int, seen_str
        self.seen_int_rows, self.seen_str_rows = int_rows, str_rows

    # ---------------------------------------------------------------- idempotency
    def keys(self, cols: TouchpointColumns, rows: NDArray[np.intp] | None) -> NDArray[Any]:
        """The 64-bit keys of the ids of rows ``rows`` (``None``: all): integer ids themselves,
        fingerprints of string ids (rejected ids are never hashed)."""
        int_ids = cols.id.dtype.kind in "iu"
        ids = cols.id if rows is None else cols.id[rows]
        keys: NDArray[Any] = ids if int_ids else fingerprint_strings(ids)
        dtype = self.seen_int.dtype if int_ids else self.seen_str.dtype
        return keys.astype(dtype, copy=False)

    def unseen(self, keys: NDArray[Any]) -> NDArray[np.bool_] | None:
        """Which ``keys`` are neither seen before nor earlier among ``keys`` (``None``: all)."""
        seen = self.seen_int if keys.dtype == self.seen_int.dtype else self.seen_str
        fresh, _ = first_unseen(keys, seen)
        return fresh

    def stored_rows(self, keys: NDArray[Any]) -> NDArray[np.int64]:
        """The log row of the touchpoint of each of ``keys`` (-1 where not seen)."""
        int_keys = keys.dtype == self.seen_int.dtype
        seen = self.seen_int if int_keys else self.seen_str
        rows = self.seen_int_rows if int_keys else self.seen_str_rows
        out = np.full(keys.size, -1, dtype=np.int64)
        if seen.size == 0 or keys.size == 0:
            return out
        at = np.minimum(np.searchsorted(seen, keys), seen.size - 1)
        hit = seen[at] == keys
        out[hit] = rows[at[hit]]
        out[hit & (out < 0)] = np.iinfo(np.int64).max  # seen, row unknown (old pickles)
        return out

    def remember(self, keys: NDArray[Any], base: int) -> None:
        """Add the keys of the touchpoints just written at log rows ``base``, ``base + 1``...
        (distinct and unseen) to the seen ids."""
        int_keys = keys.dtype == self.seen_int.dtype
        seen = self.seen_int if int_keys else self.seen_str
        seen_rows = self.seen_int_rows if int_keys else self.seen_str_rows
        rows = np.arange(base, base + keys.size, dtype=np.int64)
        if keys.size > 1 and not bool((keys[1:] > keys[:-1]).all()):
            order = np.argsort(keys, kind="stable")
            keys, rows = keys[order], rows[order]
        if seen.size and keys.size and keys[0] < seen[-1]:
            # merge the two sorted runs: each new key goes where it belongs among the seen ones
            at = np.searchsorted(seen, keys) + np.arange(keys.size)
            new = np.zeros(seen.size + keys.size, dtype=bool)
            new[at] = True
            merged: NDArray[Any] = np.empty(new.size, dtype=seen.dtype)
            merged[at] = keys
            merged[~new] = seen
            merged_rows = np.empty(new.size, dtype=np.int64)
            merged_rows[at] = rows
            merged_rows[~new] = seen_rows
        else:
            # a copy in every case: never keep a view of the caller's array
            merged = np.concatenate([seen, keys])
            merged_rows = np.concatenate([seen_rows, rows])
        if int_keys:
            self.seen_int, self.seen_int_rows = merged, merged_rows
        else:
            self.seen_str, self.seen_str_rows = merged, merged_rows

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
        named = np.flatnonzero(related_of != -1)
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

    def sparse_at(self, which: str, rows: NDArray[np.int64]) -> NDArray[np.int32]:
        """The related customer (``which="related"``) or agent (``"agent"``) of log rows
        ``rows`` (-1 where none)."""
        at: Column[np.int64] = getattr(self, f"{which}_rows")
        values: Column[np.int32] = getattr(self, which)
        out = np.full(rows.size, -1, dtype=np.int32)
        if len(at) == 0 or rows.size == 0:
            return out
        pos = np.minimum(np.searchsorted(at.values, rows), len(at) - 1)
        hit = at.values[pos] == rows
        out[hit] = values.values[pos[hit]]
        return out

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
