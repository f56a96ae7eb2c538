"""In-memory implementations of every port: the embedded default, and the reference that any
host adapter must behave like (the same contract tests run against both)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence

from privdomain.domain._time import as_utc_datetime
from privdomain.domain.customer import Customer
from privdomain.domain.touchpoint import Touchpoint
from privdomain.errors import ValidationError
from privdomain.ports import CommissionEntry, Cursor

__all__ = [
    "InMemoryCommissionLedger",
    "InMemoryCustomerStore",
    "InMemoryStageStore",
    "InMemoryTouchpointLog",
]


class InMemoryCustomerStore:
    """Customers in a ``dict``, in insertion order."""

    def __init__(self, customers: Iterable[Customer] = ()) -> None:
        self._customers: dict[str, Customer] = {}
        self.put(customers)

    def put(self, customers: Iterable[Customer]) -> None:
        for c in customers:
            self._customers[c.id] = c

    def get(self, customer_id: str) -> Customer | None:
        return self._customers.get(customer_id)

    def __iter__(self) -> Iterator[Customer]:
        return iter(list(self._customers.values()))

    def __len__(self) -> int:
        return len(self._customers)


class InMemoryTouchpointLog:
    """Touchpoints in a ``list``; the cursor is the number of touchpoints read."""

    def __init__(self, touchpoints: Iterable[Touchpoint] = ()) -> None:
        self._log: list[Touchpoint] = []
        self.append(touchpoints)

    def append(self, touchpoints: Iterable[Touchpoint]) -> Cursor:
        self._log.extend(touchpoints)
        return len(self._log)

    def read_since(
        self, cursor: Cursor = 0, limit: int | None = None
    ) -> tuple[Sequence[Touchpoint], Cursor]:
        if cursor < 0 or cursor > len(self._log):
            raise ValidationError(f"cursor {cursor} is outside the log (0..{len(self._log)})")
        if limit is not None and limit < 0:
            raise ValidationError("limit must be >= 0")
        end = len(self._log) if limit is None else min(len(self._log), cursor + limit)
        return self._log[cursor:end], end

    def __len__(self) -> int:
        return len(self._log)


class InMemoryStageStore:
    """The latest stage of each customer, with the instant it was computed for."""

    def __init__(self) -> None:
        self._stages: dict[str, str] = {}
        self.as_of: dt.datetime | None = None

    def get_stages(self, customer_ids: Iterable[str]) -> dict[str, str]:
        return {c: self._stages[c] for c in customer_ids if c in self._stages}

    def put_stages(self, stages: Mapping[str, str], as_of: dt.datetime) -> None:
        self.as_of = as_utc_datetime(as_of, what="as_of")
        self._stages.update(stages)


class InMemoryCommissionLedger:
    """Commission entries by id; posting an id again replaces it (a status change).

    The entries are kept indexed: by id (a ``dict`` in the order ids were first posted), by
    beneficiary, and in reading order (oldest first), which entries posted in time order
    extend at the end. :meth:`get_entries` therefore costs in proportion to the ids asked for,
    and :meth:`entries` sorts again only after an entry was posted out of time order.
    """

    def __init__(self) -> None:
        self._entries: dict[str, CommissionEntry] = {}
        self._rank: dict[str, int] = {}  # the order ids were first posted in
        self._by_beneficiary: dict[str, dict[str, None]] = {}
        self._order: list[str] = []  # ids oldest first, while _sorted
        self._sorted = True
        self._last: dt.datetime | None = None

    def post(self, entries: Iterable[CommissionEntry]) -> None:
        for e in entries:
            old = self._entries.get(e.id)
            if old is None:
                self._rank[e.id] = len(self._rank)
                if self._sorted and (self._last is None or e.at >= self._last):
                    self._order.append(e.id)
                    self._last = e.at
                else:
                    self._sorted = False
            else:
                if old.at != e.at:
                    self._sorted = False
                if old.beneficiary_id != e.beneficiary_id:
                    del self._by_beneficiary[old.beneficiary_id][e.id]
            self._entries[e.id] = e
            self._by_beneficiary.setdefault(e.beneficiary_id, {})[e.id] = None

    def get_entries(self, ids: Iterable[str]) -> dict[str, CommissionEntry]:
        """The current version of the entries with these ids, by id (ids not held left out)."""
        found = self._entries
        return {i: found[i] for i in ids if i in found}

    def entries(self, beneficiary_id: str | None = None) -> list[CommissionEntry]:
        found = self._entries
        if beneficiary_id is not None:
            rank = self._rank
            ids = sorted(
                self._by_beneficiary.get(beneficiary_id, ()), key=lambda i: (found[i].at, rank[i])
            )
            return [found[i] for i in ids]
        if not self._sorted:
            self._order = sorted(found, key=lambda i: found[i].at)
            self._sorted = True
            self._last = found[self._order[-1]].at if self._order else None
        return [found[i] for i in self._order]

    def __len__(self) -> int:
        return len(self._entries)
