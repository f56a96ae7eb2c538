"""Builders of small hand-made pools for the lifecycle tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from helpers import at, customer, new_pool, purchase

from privdomain import Pool

#: The instant hand-made pools are looked at: 100 days after T0.
AS_OF = at(100)


def build_pool(customers: Mapping[str, Mapping[str, Any]]) -> Pool:
    """A pool described per customer: ``joined`` (day) and ``buys`` (a list of days, or of
    ``(day, amount)``)."""
    pool = new_pool()
    records: list[Any] = []
    n = 0
    for cid, spec in customers.items():
        records.append(customer(cid, at(spec.get("joined", 0))))
        for buy in spec.get("buys", ()):
            day, amount = buy if isinstance(buy, tuple) else (buy, 50.0)
            n += 1
            records.append(purchase(f"p{n}", cid, at(day), f"{amount:.2f}"))
    report = pool.ingest(records)
    assert report.ok, report.rejected
    return pool


def regulars(k: int = 40, every: float = 10.0, start: float = 0.0) -> dict[str, dict[str, Any]]:
    """``k`` customers who buy every ``every`` days from ``start`` up to day 90, customer i
    starting i/4 days later (so that the pool has a rhythm to learn)."""
    out: dict[str, dict[str, Any]] = {}
    for i in range(k):
        first = start + i / 4
        days = []
        day = first
        while day <= 90:
            days.append(day)
            day += every
        out[f"r{i:02d}"] = {"joined": 0, "buys": days}
    return out
