"""Lifecycle stages, transitions and stage histories of a pool of 1M customers.

Targets: both ladders (and the milestones) plus the transitions since last week's stages for 1M
customers <= 0.5 s once the snapshot exists; the stage history over 52 weekly dates <= 5 s, from
the snapshot of the last date, against the obvious way of computing one snapshot per date and
staging each.

Timings are the best of ``REPEAT`` runs after the data is generated and ingested (not timed).
The baseline of one snapshot per date is measured on ``BENCH_BASELINE_DATES`` of the 52 dates
(spread over the year) and scaled to 52; the history is checked equal to those dates' stages.

Run: ``python -m benchmarks lifecycle`` (``BENCH_CUSTOMERS=100000`` for a quick look).
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import time
from typing import Any

import numpy as np

from benchmarks._timing import best
from privdomain import Pool
from privdomain.lifecycle import LADDERS, Lifecycle, stage_history, transitions
from privdomain.memory import InMemoryStageStore
from privdomain.simulate import simulate_pool

N_CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", 1_000_000))
REPEAT = int(os.environ.get("BENCH_REPEAT", 3))
BASELINE_DATES = int(os.environ.get("BENCH_BASELINE_DATES", 6))
WEEKS = 52
# as in bench_pool: about ten touchpoints per customer with the default simulation
MESSAGES_PER_MONTH = float(os.environ.get("BENCH_MESSAGES", 0.45))


def _ingest(sim: Any) -> Pool:
    prm = sim.params
    pool = Pool(prm.tenant, currency=prm.currency, utc_offset=prm.utc_offset)
    pool.ingest(sim.customers)
    pool.ingest(sim.touchpoints)
    return pool


def main() -> None:
    gen = time.perf_counter()
    # no referrals: the ladders never read them, and resolving a million referrer ids is the
    # slowest part of ingesting a simulated pool, which is not what is measured here
    sim = simulate_pool(
        N_CUSTOMERS, seed=2026, messages_per_month=MESSAGES_PER_MONTH, referral_share=0.0
    )
    pool = _ingest(sim)
    as_of = sim.as_of
    now = pool.snapshot(as_of=as_of)
    last_week = pool.snapshot(as_of=as_of - dt.timedelta(days=7))
    print(
        f"data: {len(sim.customers):,} customers, {len(sim.touchpoints):,} touchpoints, "
        f"{len(now.order_log):,} purchases (simulated and ingested in "
        f"{time.perf_counter() - gen:.1f} s)"
    )

    fit_s, model = best(lambda: Lifecycle().fit(now), repeat=1)
    before = model.apply(last_week)
    store = InMemoryStageStore()
    before.record(store)

    def stage_and_diff() -> Any:
        return transitions(before, model.apply(now))

    apply_s, stages = best(lambda: model.apply(now))
    diff_s, moves = best(lambda: transitions(before, stages))
    both_s, _ = best(stage_and_diff)
    store_s, from_store = best(lambda: transitions(store, stages))
    read_s, _ = best(lambda: store.get_stages(stages.customer_ids.tolist()))
    assert np.array_equal(from_store.target, moves.target)

    end = np.datetime64(int(as_of.timestamp() * 1_000_000), "us")
    dates = end - np.arange(WEEKS - 1, -1, -1) * np.timedelta64(7, "D")
    history_s, history = best(lambda: stage_history(model, now, dates))

    # the baseline: one snapshot per date, staged; a few dates measured, scaled to 52
    picked = np.unique(np.linspace(0, WEEKS - 1, max(BASELINE_DATES, 1)).round().astype(int))
    gc.collect()
    start = time.perf_counter()
    for step in picked:
        snap = pool.snapshot(as_of=dates[step])
        staged = model.apply(snap)
        rows = np.searchsorted(history.index, snap.index)
        for ladder in LADDERS:
            assert np.array_equal(
                history.codes[ladder][step][rows], staged.ladder(ladder).labels
            ), (step, ladder)
    per_date = (time.perf_counter() - start) / picked.size
    baseline_s = per_date * WEEKS

    rows = [
        ("fit (cadence prior, milestone sketches)", fit_s, None, "s"),
        ("apply: three ladders + progress", apply_s, None, "s"),
        ("transitions from last week's stages", diff_s, None, "s"),
        ("apply + transitions", both_s, 0.5, "s"),
        ("transitions from an in-memory store", store_s, None, "s"),
        ("  of which the store's get_stages", read_s, None, "s"),
        (f"stage history, {WEEKS} weekly dates", history_s, 5.0, "s"),
        (f"{WEEKS} snapshots + apply (from {picked.size})", baseline_s, None, "s"),
    ]
    print(f"{'measure':<42} {'value':>9} {'target':>10}")
    for name, value, target, unit in rows:
        goal = f"<= {target:g} {unit}" if target is not None else ""
        print(f"{name:<42} {value:>7.2f} {unit:<1} {goal:>10}")
    print(
        f"moves since last week: {len(moves):,}; history speed-up over one snapshot per date: "
        f"{baseline_s / history_s:.0f}x"
    )


if __name__ == "__main__":
    main()
