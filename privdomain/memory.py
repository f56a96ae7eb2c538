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
    """Commission entries by id; posting an id again replaces it (a status change)."""

    def __init__(self) -> None:
        self._entries: dict[str, CommissionEntry] = {}

    def post(self, entries: Iterable[CommissionEntry]) -> None:
        for e in entries:
            self._entries[e.id] = e

    def entries(self, beneficiary_id: str | None = None) -> list[CommissionEntry]:
        chosen = [
            e
            for e in self._entries.values()
            if beneficiary_id is None or e.beneficiary_id == beneficiary_id
        ]
        return sorted(chosen, key=lambda e: e.at)
