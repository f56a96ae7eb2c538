"""Nudge plans for a pool of 1M customers with three months of contact history.

Target: a plan for 1M customers <= 1 s once the snapshot exists (model training excluded),
with its parts: the plan as the playbook gives it; with a fitted fatigue model; and with
everything on (fatigue, uplift ranking by expected incremental value, a message and a discount
budget, a 10% random holdout). Stages come from ``privdomain.lifecycle`` and are timed on
their own line. ``to_touchpoints`` (what the host ingests after sending) and the outcomes of
the plan read from a snapshot two weeks later are timed too.

There is no peer library that plans contacts under these guarantees, so the baseline is the
obvious per-customer loop (the same rules read one customer at a time, as the tests' slow
reference does), measured on ``BENCH_BASELINE_CUSTOMERS`` customers and scaled to the pool.

Timings are the best of ``BENCH_REPEAT`` runs after the data is generated and ingested (not
timed); fitting the lifecycle and the fatigue model is training (timed, not in the target).

CPU time is printed next to wall-clock time: on shared cores the wall clock measures the
neighbours as much as the plan. The plan's working memory is the peak of what one call
allocates (``tracemalloc``, which sees numpy's arrays), the returned plan included.

Run: ``python -m benchmarks nudges`` (``BENCH_CUSTOMERS=100000`` for a quick look).
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import time
import tracemalloc
import zoneinfo
from collections.abc import Callable
from typing import Any

import numpy as np

from privdomain import Pool
from privdomain.domain._time import local_day_starts
from privdomain.domain.channels import OWNED_COLUMN, Channel
from privdomain.domain.snapshot import CONTACT_HISTORY_DAYS
from privdomain.lifecycle import Lifecycle
from privdomain.nudges import FatigueModel, NudgePolicy, plan
from privdomain.simulate import simulate_pool

N_CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", 1_000_000))
REPEAT = int(os.environ.get("BENCH_REPEAT", 3))
# about 4.5 messages per customer in the last three months (1.5 a month: below the default
# caps of 6 a month, and a 1M pool then stays under 4.5 GB with the later snapshot)
MESSAGES_PER_MONTH = float(os.environ.get("BENCH_MESSAGES", 1.5))
BASELINE_CUSTOMERS = int(os.environ.get("BENCH_BASELINE_CUSTOMERS", 2_000))


def _peak_mb(fn: Callable[[], Any]) -> float:
    """Peak of the memory allocated during one call (numpy's arrays included), in MB."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def _best(fn: Callable[[], Any], repeat: int = REPEAT) -> tuple[tuple[float, float], Any]:
    """Best wall-clock and best CPU seconds of ``repeat`` runs (CPU time says what the work
    costs when other processes share the cores)."""
    best, best_cpu, result = float("inf"), float("inf"), None
    for _ in range(repeat):
        gc.collect()
        start, cpu = time.perf_counter(), time.process_time()
        result = fn()
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return (best, best_cpu), result


def _loop_plan(snap: Any, stages: Any, at: dt.datetime, policy: NudgePolicy, rows: Any) -> int:
    """The obvious way: customer by customer, the caps counted message by message."""
    c_row = snap.contacts.row.tolist()
    c_at = snap.contacts.at.astype("datetime64[us]").view(np.int64).tolist()
    c_ch = snap.contacts.channel.tolist()
    by_customer: dict[int, list[tuple[int, int]]] = {}
    for r, t, c in zip(c_row, c_at, c_ch, strict=True):
        by_customer.setdefault(r, []).append((t, c))
    periods = stages.stages("post_purchase")
    zone = zoneinfo.ZoneInfo(policy.time_zone) if policy.time_zone else dt.timezone(
        snap.utc_offset
    )  # fmt: skip
    at_local = at.astimezone(zone)
    send = at
    for q in policy.quiet_hours:
        t = at_local.time()
        inside = (t >= q.start or t < q.end) if q.start > q.end else (q.start <= t < q.end)
        if inside:
            day = at_local.date() + dt.timedelta(days=1 if q.start > q.end and t >= q.start else 0)
            send = dt.datetime.combine(day, q.end, tzinfo=zone).astimezone(dt.UTC)
    send_us = int(send.timestamp() * 1_000_000)
    starts = local_day_starts(send_us, policy.time_zone or snap.utc_offset)
    planned = 0
    for i in rows.tolist():
        rule = policy.periods[str(periods[i])]
        if rule.only_in_major_sale:
            continue
        history = by_customer.get(i, [])
        for channel in policy.channel_order:
            if not snap.reachable[i, OWNED_COLUMN[channel.value]]:
                continue
            ok = True
            for cap in policy.caps:
                start = starts[("day", "week", "month").index(cap.window)]
                used = sum(
                    1
                    for t, c in history
                    if start <= t <= send_us
                    and (cap.channel is None or Channel(c) is cap.channel)
                    and OWNED_COLUMN[c] >= 0
                )
                if cap.channel not in (None, channel):
                    continue
                ok &= used + 1 <= cap.limit
            if ok:
                planned += 1
                break
    return planned


def main() -> None:
    gen = time.perf_counter()
    sim = simulate_pool(
        N_CUSTOMERS, seed=2026, messages_per_month=MESSAGES_PER_MONTH, referral_share=0.0
    )
    prm = sim.params
    pool = Pool(prm.tenant, currency=prm.currency, utc_offset=prm.utc_offset)
    pool.ingest(sim.customers)
    pool.ingest(sim.touchpoints)
    end = sim.as_of
    del sim
    gc.collect()
    later = pool.snapshot(as_of=end)
    snap = pool.snapshot(as_of=end - dt.timedelta(days=14))
    print(
        f"data: {len(snap):,} customers, {len(snap.contacts):,} messages in the last "
        f"{CONTACT_HISTORY_DAYS} days, {len(snap.order_log):,} purchases (simulated and "
        f"ingested in {time.perf_counter() - gen:.1f} s)"
    )
    at = snap.as_of + dt.timedelta(hours=1)

    lifecycle_fit_s, lifecycle = _best(lambda: Lifecycle().fit(snap), repeat=1)
    stages_s, stages = _best(lambda: lifecycle.apply(snap))
    fatigue_fit_s, fatigue = _best(lambda: FatigueModel().fit(snap), repeat=1)
    rng = np.random.default_rng(0)
    uplift = rng.uniform(-0.02, 0.1, len(snap))

    plain_s, plain = _best(lambda: plan(snap, stages, at=at))
    tired_s, _ = _best(lambda: plan(snap, stages, at=at, fatigue=fatigue))
    everything = {
        "fatigue": fatigue, "uplift": uplift, "value": 120.0, "cost": 0.05,
        "budget": len(snap) // 5, "discount_budget": 50_000_000, "holdout": 0.1, "seed": 7,
    }  # fmt: skip
    full_s, full = _best(lambda: plan(snap, stages, at=at, **everything))
    plain_mb = _peak_mb(lambda: plan(snap, stages, at=at))
    full_mb = _peak_mb(lambda: plan(snap, stages, at=at, **everything))
    touch_s, _ = _best(lambda: full.to_touchpoints(snap.tenant, "n-"))
    outcome_s, result = _best(lambda: full.outcomes(later, window_days=7))

    sample = np.sort(rng.choice(len(snap), size=min(BASELINE_CUSTOMERS, len(snap)), replace=False))
    policy = NudgePolicy()
    (loop_s, loop_cpu), looped = _best(
        lambda: _loop_plan(snap, stages, at, policy, sample), repeat=1
    )
    scale = len(snap) / max(sample.size, 1)
    baseline_s = (loop_s * scale, loop_cpu * scale)
    # the loop follows the first reachable channel with room: it plans the customers the
    # vectorised plan plans (the choice among channels aside)
    vector = int(plain.planned[sample].sum())

    rows = [
        ("lifecycle fit (training)", lifecycle_fit_s, None),
        ("stages: lifecycle apply", stages_s, None),
        ("fatigue fit, maximum likelihood (training)", fatigue_fit_s, None),
        ("plan: the playbook", plain_s, 1.0),
        ("plan: + fatigue", tired_s, 1.0),
        ("plan: + fatigue, uplift, budgets, holdout", full_s, 1.0),
        ("to_touchpoints", touch_s, None),
        ("outcomes from the snapshot 14 days later", outcome_s, None),
        (f"per-customer loop, from {sample.size:,} (scaled)", baseline_s, None),
    ]
    print(f"{'measure':<46} {'wall s':>9} {'CPU s':>9} {'target':>9}")
    for name, (wall, cpu), target in rows:
        goal = f"<= {target:g} s" if target is not None else ""
        print(f"{name:<46} {wall:>9.3f} {cpu:>9.3f} {goal:>9}")
    counts = full.counts()
    print(
        f"planned {int(plain.planned.sum()):,} with the playbook; with everything on "
        f"{counts['planned']:,} sent and {counts['holdout']:,} held out; "
        f"outcomes of {len(result):,} customers"
    )
    print(
        f"plan working memory (peak of the allocations of one call, result included): "
        f"{plain_mb:,.0f} MB with the playbook, {full_mb:,.0f} MB with everything on"
    )
    print(
        f"per-customer loop / vectorised plan: {baseline_s[0] / plain_s[0]:.0f}x (CPU "
        f"{baseline_s[1] / plain_s[1]:.0f}x); on the sample the "
        f"loop plans {looped:,} customers, the plan {vector:,}"
    )


if __name__ == "__main__":
    main()
