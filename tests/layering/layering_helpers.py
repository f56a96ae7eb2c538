"""Builders of small hand-made pools for the layering tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import hypothesis.strategies as st
import numpy as np
from helpers import T0, at, customer, new_pool, purchase, touch

from privdomain import Channel, Snapshot, TouchKind
from privdomain.domain.batch import CustomerColumns, TouchpointColumns

#: The snapshot instant of every hand-made pool: 100 days after T0.
AS_OF = at(100)


def build_snapshot(customers: Mapping[str, Mapping[str, Any]], *, as_of: Any = AS_OF) -> Snapshot:
    """A snapshot of a pool described per customer.

    Each value may hold ``joined`` (day), ``source``, ``tags``, ``attributes``, ``buys`` (a list
    of ``(day, amount)`` or ``(day, amount, promotion, discount)``) and ``touches`` (a list of
    ``(day, TouchKind)``).
    """
    pool = new_pool()
    records: list[Any] = []
    n = 0
    for cid, spec in customers.items():
        records.append(
            customer(
                cid,
                at(spec.get("joined", 0)),
                source=spec.get("source", Channel.OTHER_PUBLIC),
                tags=spec.get("tags"),
                attributes=spec.get("attributes"),
                referrer_id=spec.get("referrer"),
            )
        )
        for buy in spec.get("buys", ()):
            day, amount, *rest = buy
            promo = bool(rest[0]) if rest else False
            discount = rest[1] if len(rest) > 1 else None
            n += 1
            records.append(
                purchase(f"p{n}", cid, at(day), f"{amount:.2f}", promotion=promo,
                         discount=None if discount is None else f"{discount:.2f}")
            )  # fmt: skip
        for day, kind in spec.get("touches", ()):
            n += 1
            records.append(touch(f"t{n}", cid, at(day), kind))
    report = pool.ingest(records)
    assert report.ok, report.rejected
    return pool.snapshot(as_of)


def columns_snapshot(
    recency_days: Sequence[float],
    orders: Sequence[int],
    spend: Sequence[float],
    *,
    ids: Iterable[str] | None = None,
) -> Snapshot:
    """A snapshot where customer ``i`` bought ``orders[i]`` times, last ``recency_days[i]``
    days before :data:`AS_OF` (NaN: never), for ``spend[i]`` yuan in all (fast, columnar)."""
    rec = np.asarray(recency_days, dtype=float)
    cnt = np.asarray(orders, dtype=int)
    amt = np.asarray(spend, dtype=float)
    n = rec.size
    cids = list(ids) if ids is not None else [f"c{i:05d}" for i in range(n)]
    pool = new_pool()
    joined = np.full(n, np.datetime64(int(T0.timestamp()), "s"))
    pool.ingest(CustomerColumns.from_arrays(id=cids, tenant="brand", joined_at=joined))
    rows = np.repeat(np.arange(n), cnt)
    # the last purchase of each customer is at AS_OF - recency; earlier ones a day before each
    order_in_customer = np.arange(rows.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    from_last = np.repeat(cnt, cnt) - 1 - order_in_customer
    as_of_s = np.datetime64(int(AS_OF.timestamp()), "s")
    seconds = np.rint((rec[rows] + from_last) * 86400).astype("timedelta64[s]")
    when = as_of_s - seconds
    totals = np.rint(amt * 100).astype(np.int64)
    per_order = totals // np.maximum(cnt, 1)
    amount_minor = per_order[rows].copy()
    # the first order takes the remainder (never negative) so totals are exact
    firsts = np.flatnonzero(order_in_customer == 0)
    amount_minor[firsts] += (totals - per_order * cnt)[rows[firsts]]
    tps = TouchpointColumns.from_arrays(
        id=np.arange(rows.size, dtype=np.int64),
        tenant="brand",
        customer_id=np.array(cids, dtype=object)[rows],
        at=when,
        channel=Channel.MINI_PROGRAM,
        kind=TouchKind.PURCHASED,
        amount=amount_minor,
        minor_units=True,
    )
    if rows.size:
        report = pool.ingest(tps)
        assert report.ok, report.rejected
    return pool.snapshot(AS_OF)


# ---------------------------------------------------------------------- random small pools

_buy = st.tuples(st.integers(0, 99), st.sampled_from([0.0, 9.9, 10.0, 120.0, 999.0]), st.booleans())
_customer = st.fixed_dictionaries(
    {
        "joined": st.integers(0, 99),
        "buys": st.lists(_buy, max_size=4),
        "touches": st.lists(
            st.tuples(
                st.integers(0, 99),
                st.sampled_from([TouchKind.SHARED, TouchKind.POSTED, TouchKind.VISITED]),
            ),
            max_size=4,
        ),
        "tags": st.sampled_from([set(), {"vip"}]),
        "source": st.sampled_from([Channel.DOUYIN, Channel.TAOBAO]),
    }
)
#: Up to 10 customers for :func:`build_snapshot`, each passed through :func:`valid_spec`.
pools = st.lists(_customer, min_size=0, max_size=10)


def valid_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with purchases and touches moved to no earlier than joining."""
    spec = dict(spec)
    spec["buys"] = [(max(d, spec["joined"]), a, p) for d, a, p in spec["buys"]]
    spec["touches"] = [(max(d, spec["joined"]), k) for d, k in spec["touches"]]
    return spec
