"""Ingest and snapshot of a pool of 1M customers and 10M touchpoints, against pandas.

Targets on a 2-core machine: ingest <= 3 s, snapshot (profiles as of, orders, invitations and
contacts included) <= 1.2 s, a vectorised profile update of 200,000 customers <= 0.5 s,
resident memory <= 64 bytes per event, and the snapshot at least 5x faster than the same
features computed with a pandas groupby, measured side by side in this one run.

Timings are the best of ``REPEAT`` runs after the data is generated (the data generation is
not timed). Memory is what the pool holds once built, per event: every allocation it keeps,
traced with ``tracemalloc`` (numpy reports its buffers to it), plus the customer id strings it
shares with the input, counted as if it owned them. The growth of the resident set is not used:
the allocator reuses memory freed by the simulation, so it undercounts.
"""

from __future__ import annotations

import gc
import os
import sys
import time
import tracemalloc
from typing import Any

import numpy as np

from benchmarks._timing import best
from privdomain import Pool, ProfileChanges, TouchKind
from privdomain.domain.snapshot import OWNED_CHANNELS
from privdomain.simulate import SimulatedPool, simulate_pool

N_CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", 1_000_000))
REPEAT = int(os.environ.get("BENCH_REPEAT", 3))
# 0.45 messages a month gives about ten touchpoints per customer with the default simulation
MESSAGES_PER_MONTH = float(os.environ.get("BENCH_MESSAGES", 0.45))


def _held_bytes(sim: SimulatedPool) -> int:
    """Bytes a pool built from ``sim`` keeps allocated (see the module docstring)."""
    tracemalloc.start()
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    pool = _ingest(sim)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del pool
    return held + sum(sys.getsizeof(s) for s in sim.customers.id.tolist())


def _ingest(sim: SimulatedPool) -> Pool:
    prm = sim.params
    pool = Pool(prm.tenant, currency=prm.currency, utc_offset=prm.utc_offset)
    pool.ingest(sim.customers)
    pool.ingest(sim.touchpoints)
    return pool


def _events_frame(sim: SimulatedPool) -> Any:
    """The touchpoints as the DataFrame an analyst would groupby (built outside the timing)."""
    import pandas as pd

    t = sim.touchpoints
    return pd.DataFrame(
        {
            "customer": t.customer_id.codes,
            "at": t.at,
            "kind": t.kind,
            "channel": t.channel,
            "amount": t.amount_minor / 100.0,
            "promotion": t.promotion,
            "discount": t.discount_minor / 100.0,
        }
    )


DAY = 86_400 * 1_000_000  # instants are epoch microseconds


def pandas_features(events: Any, n: int, as_of: int, offset: int) -> dict[str, Any]:
    """The snapshot's per-customer features, computed with pandas groupbys (instants and the
    offset in microseconds)."""
    import pandas as pd

    ev = events[events["at"] <= as_of]
    index = pd.RangeIndex(n)
    out: dict[str, Any] = {}
    buys = ev[ev["kind"] == TouchKind.PURCHASED.value]
    g = buys.groupby("customer")
    out["orders"] = g.size().reindex(index, fill_value=0)
    out["gross_spend"] = g["amount"].sum().reindex(index, fill_value=0.0)
    out["first_purchase"] = g["at"].min().reindex(index)
    out["last_purchase"] = g["at"].max().reindex(index)
    day = (buys["at"] + offset) // DAY
    out["purchase_days"] = (
        buys.assign(day=day).groupby("customer")["day"].nunique().reindex(index, fill_value=0)
    )
    first_day = ((out["first_purchase"] + offset) // DAY).reindex(buys["customer"]).to_numpy()
    on_first = buys[day.to_numpy() == first_day]
    out["first_day_spend"] = (
        on_first.groupby("customer")["amount"].sum().reindex(index, fill_value=0.0)
    )
    out["promo_orders"] = g["promotion"].sum().reindex(index, fill_value=0)
    out["discount_total"] = g["discount"].sum().reindex(index, fill_value=0.0)
    refunds = ev[ev["kind"] == TouchKind.REFUNDED.value]
    out["refunded"] = refunds.groupby("customer")["amount"].sum().reindex(index, fill_value=0.0)
    out["touches_by_kind"] = ev.groupby(["customer", "kind"]).size().unstack(fill_value=0)
    out["touches_by_channel"] = ev.groupby(["customer", "channel"]).size().unstack(fill_value=0)
    sent = ev[(ev["kind"] == TouchKind.SENT.value) & (ev["channel"] < len(OWNED_CHANNELS))]
    out["last_contact"] = sent.groupby(["customer", "channel"])["at"].max().unstack()
    out["last_active"] = (
        ev[ev["kind"] != TouchKind.SENT.value].groupby("customer")["at"].max().reindex(index)
    )
    return out


def main() -> None:
    gen = time.perf_counter()
    sim = simulate_pool(N_CUSTOMERS, seed=2026, messages_per_month=MESSAGES_PER_MONTH)
    n_events = len(sim.touchpoints)
    print(
        f"data: {len(sim.customers):,} customers, {n_events:,} touchpoints "
        f"(simulated in {time.perf_counter() - gen:.1f} s)"
    )

    per_event = _held_bytes(sim) / n_events

    ingest_s, pool = best(lambda: _ingest(sim))
    as_of = sim.as_of
    pool.snapshot(as_of=as_of)  # warm-up
    snapshot_s, snap = best(lambda: pool.snapshot(as_of=as_of))

    # a vectorised profile update: 200,000 customers withdraw WeCom consent and change agent
    ids = sim.customers.id[:200_000]
    changes = ProfileChanges.from_arrays(
        customer_id=ids,
        tenant=sim.params.tenant,
        at=np.full(ids.size, np.datetime64(as_of.replace(tzinfo=None), "us")),
        consent={"wecom": np.zeros(ids.size, dtype=bool)},
        agent_id=np.full(ids.size, "guide-new", dtype=object),
    )
    # measured once: a second ingest of the same changes would change nothing
    gc.collect()
    start = time.perf_counter()
    report = pool.ingest(changes)
    update_s = time.perf_counter() - start
    assert report.customers_updated == ids.size, report
    after_s, _ = best(lambda: pool.snapshot(as_of=as_of))

    events = _events_frame(sim)
    as_of_us = int(as_of.timestamp()) * 1_000_000
    offset = int(sim.params.utc_offset.total_seconds()) * 1_000_000
    pandas_s, feats = best(lambda: pandas_features(events, len(sim.customers), as_of_us, offset))

    # the two computed the same thing
    assert np.array_equal(feats["orders"].to_numpy(), snap.orders)
    assert np.array_equal(feats["purchase_days"].to_numpy(), snap.purchase_days)
    assert np.allclose(feats["gross_spend"].to_numpy(), snap.gross_spend)
    assert np.allclose(feats["first_day_spend"].to_numpy(), snap.first_day_spend)

    rows = [
        ("ingest 1M customers + touchpoints", ingest_s, 3.0, "s"),
        ("snapshot (with profiles and tables)", snapshot_s, 1.2, "s"),
        ("update 200k customers' consent+agent", update_s, 0.5, "s"),
        ("snapshot after that update", after_s, 1.2, "s"),
        ("memory held per event", per_event, 64.0, "B"),
        ("pandas groupby, same features", pandas_s, None, "s"),
    ]
    print(f"{'measure':<36} {'value':>10} {'target':>10}")
    for name, value, target, unit in rows:
        goal = f"<= {target:g} {unit}" if target is not None else ""
        print(f"{name:<36} {value:>8.2f} {unit:<1} {goal:>10}")
    print(f"snapshot speed-up over pandas: {pandas_s / snapshot_s:.1f}x (target >= 5x)")


if __name__ == "__main__":
    main()
