"""Frames in and out at 10M rows, and the Dask path against one process for 1M customers.

1. **Copy cost** (``BENCH_ROWS``, default 10M touchpoints of 1M customers): building
   ``TouchpointColumns`` from a pandas, polars or PyArrow frame against building it from the
   same numpy arrays (the floor: every check the pool's columns make), and writing the columns
   and a per-customer result (``BENCH_ROWS`` rows: ids, five numeric columns, a datetime) out to
   each library, with whether the numeric columns were shared or copied. Best of ``REPEAT``.
2. **Dask** (``BENCH_CUSTOMERS``, default 1M customers, about ten touchpoints each): the
   pipeline snapshot -> value -> tiers -> lifecycle -> nudges -> referral ledger, read from
   the same Parquet files, in one process and on a ``LocalCluster`` of two worker processes
   (one thread each, ``BENCH_WORKER_MEMORY`` each, default 5 GiB) with ``BENCH_PARTITIONS``
   partitions (default 8). One run each (a run takes minutes); wall time per step and peak
   memory (RSS) of the process and of each worker. Both paths' answers are checked equal.
3. **Larger, Dask only** (``BENCH_LARGE_CUSTOMERS``, default 2M; 0 skips): generated in
   slices of ``BENCH_SLICE`` customers, one process each, so that no process holds the whole
   pool; time and peak memory per worker, and what 10M customers / 100M touchpoints would take.

Run: ``python -m benchmarks frames`` in ``.venv-bench-scale`` (``BENCH_ROWS=1000000
BENCH_CUSTOMERS=100000`` for a quick look). Heavy: run it with ``nice``.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

N_ROWS = int(os.environ.get("BENCH_ROWS", 10_000_000))
N_CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", 1_000_000))
PARTITIONS = int(os.environ.get("BENCH_PARTITIONS", 8))
WORKER_MEMORY = os.environ.get("BENCH_WORKER_MEMORY", "5GiB")
REPEAT = int(os.environ.get("BENCH_REPEAT", 3))
# about ten touchpoints per customer, as bench_pool and bench_lifecycle
MESSAGES_PER_MONTH = float(os.environ.get("BENCH_MESSAGES", 0.45))

CUSTOMER_COLUMNS = {
    "source": "source",
    "consent": "consent",
    "referrer_id": "referrer_id",
    "agent_id": "agent_id",
}
TOUCHPOINT_COLUMNS = {
    "amount": "amount_minor",
    "minor_units": True,
    "promotion": "promotion",
    "discount": "discount_minor",
    "related_customer_id": "related_customer_id",
    "agent_id": "agent_id",
}


def _best(fn: Callable[[], Any], repeat: int = REPEAT) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        result = None
        gc.collect()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


class _PeakMemory:
    """Samples the resident memory of some processes every 50 ms, in a thread; ``peaks`` in
    GiB per process. (``ru_maxrss`` will not do: a forked worker inherits its parent's.)"""

    def __init__(self, pids: list[int]) -> None:
        import psutil

        self.processes = [psutil.Process(pid) for pid in pids]
        self.peaks = [0.0] * len(pids)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for i, process in enumerate(self.processes):
                try:
                    rss = process.memory_info().rss / 2**30
                except Exception:  # a process that ended
                    continue
                self.peaks[i] = max(self.peaks[i], rss)
            self._stop.wait(0.05)

    def stop(self) -> list[float]:
        self._stop.set()
        self._thread.join()
        return self.peaks


# ---------------------------------------------------------------------------- 1. copy cost
class _ResultColumns:
    """A per-customer result of ``n`` rows, as ``to_frame`` sees one: ``columns()``."""

    def __init__(self, n: int, rng: np.random.Generator) -> None:
        ids = np.array([f"c{i:08d}" for i in range(n)], dtype=object)
        self._columns = {
            "customer_id": ids,
            "p_alive": rng.random(n),
            "expected_purchases": rng.random(n) * 4,
            "clv": rng.gamma(2.0, 300.0, n),
            "orders": rng.integers(0, 20, n),
            "segment_code": rng.integers(0, 8, n).astype(np.int32),
            "last_purchase": np.datetime64("2026-01-01", "us")
            + rng.integers(0, 365 * 86_400 * 10**6, n).astype("timedelta64[us]"),
        }

    def columns(self) -> dict[str, Any]:
        return self._columns


def copy_cost() -> None:
    import pyarrow as pa

    from privdomain import TouchpointColumns
    from privdomain.domain.batch import EncodedIds
    from privdomain.frames import to_frame, touchpoints_from_frame

    rng = np.random.default_rng(2026)
    n, n_customers = N_ROWS, max(N_ROWS // 10, 1)
    names = np.array([f"c{i:08d}" for i in range(n_customers)], dtype=object)
    arrays = {
        "id": np.arange(n, dtype=np.int64),
        "customer_id": EncodedIds(rng.integers(0, n_customers, n), names),
        "at": np.datetime64("2025-01-01", "us")
        + np.sort(rng.integers(0, 500 * 86_400 * 10**6, n)).astype("timedelta64[us]"),
        "channel": rng.integers(0, 10, n).astype(np.uint8),
        "kind": rng.choice(np.array([0, 1, 2, 8], dtype=np.uint8), n),
        "amount": rng.integers(100, 100_000, n),
        "promotion": rng.random(n) < 0.2,
    }
    print(f"\n1. copy cost: {n:,} touchpoints of {n_customers:,} customers (best of {REPEAT})")

    def from_arrays() -> Any:
        return TouchpointColumns.from_arrays(
            tenant="bench", minor_units=True, **arrays
        )  # fmt: skip

    floor, columns = _best(from_arrays)
    frames: dict[str, Any] = {}
    rows: list[tuple[str, float, str]] = []
    for backend in ("pandas", "polars", "pyarrow"):
        seconds, frames[backend] = _best(lambda b=backend: to_frame(columns, b))
        rows.append((f"out: TouchpointColumns -> {backend}", seconds, ""))
    rows.insert(0, ("in: TouchpointColumns.from_arrays (numpy, the floor)", floor, "1.00x"))
    for backend, frame in frames.items():

        def read(f: Any = frame) -> Any:
            return touchpoints_from_frame(
                f, tenant="bench", amount="amount_minor", minor_units=True, promotion="promotion"
            )

        seconds, got = _best(read)
        assert len(got) == n
        assert np.array_equal(got.at, columns.at)
        rows.insert(
            len(rows) - 3,
            (f"in: touchpoints_from_frame({backend})", seconds, f"{seconds / floor:.2f}x"),
        )
    result = _ResultColumns(n, rng)
    cols = result.columns()
    for backend in ("pandas", "polars", "pyarrow"):
        seconds, frame = _best(lambda b=backend: to_frame(result, b))
        if backend == "pyarrow":
            shared = np.shares_memory(frame.column("clv").chunk(0).to_numpy(), cols["clv"])
        else:
            shared = np.shares_memory(frame["clv"].to_numpy(), cols["clv"])
        rows.append(
            (f"out: result ({n:,} rows) -> {backend}", seconds, "shared" if shared else "copied")
        )
    import pandas as pd
    import polars as pl

    seconds, _ = _best(lambda: pd.DataFrame(cols))
    rows.append(("peer: pandas.DataFrame(columns) (copies)", seconds, ""))
    seconds, _ = _best(lambda: pl.DataFrame(cols))
    rows.append(("peer: polars.DataFrame(columns)", seconds, ""))
    seconds, _ = _best(lambda: pa.table(cols))
    rows.append(("peer: pyarrow.table(columns)", seconds, ""))
    width = max(len(r[0]) for r in rows)
    print(f"{'step':<{width}}  {'seconds':>8}  note")
    for label, seconds, note in rows:
        print(f"{label:<{width}}  {seconds:8.2f}  {note}")


# ---------------------------------------------------------------------------- 2. Dask
def _write_parquet(folder: Path) -> tuple[Any, dt.datetime, dict[str, Any]]:
    from privdomain.frames import to_frame
    from privdomain.simulate import simulate_pool

    sim = simulate_pool(N_CUSTOMERS, seed=2026, messages_per_month=MESSAGES_PER_MONTH)
    customers = to_frame(sim.customers, "pandas")
    touchpoints = to_frame(sim.touchpoints, "pandas")
    for name, frame in (("customers", customers), ("touchpoints", touchpoints)):
        (folder / name).mkdir()
        # host exports are not partitioned by customer: slices in the log's order
        for i, part in enumerate(np.array_split(np.arange(len(frame)), PARTITIONS)):
            frame.iloc[part].to_parquet(folder / name / f"part-{i:03d}.parquet")
    spec = {
        "tenant": sim.params.tenant,
        "currency": sim.params.currency,
        "utc_offset": sim.params.utc_offset,
    }
    return (len(customers), len(touchpoints)), sim.as_of, spec


def _strategies() -> dict[str, Any]:
    from privdomain.layering import ValueTiers
    from privdomain.lifecycle import Lifecycle
    from privdomain.nudges import Nudges
    from privdomain.referral import CommissionRule, ReferralAttribution
    from privdomain.value import LifetimeValue

    return {
        "value": LifetimeValue(),
        "tiers": ValueTiers(),
        "lifecycle": Lifecycle(),
        "nudges": Nudges(),
        "referral": ReferralAttribution(rule=CommissionRule(("0.05", "0.02"), agent_rate="0.03")),
    }


def _timed(times: dict[str, float], step: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    out = fn()
    parts = getattr(out, "partitions", None)
    if parts is not None:  # persisted on a cluster: computing in the background until done
        from distributed import wait

        wait(parts)
    times[step] = time.perf_counter() - start
    return out


def _single(folder: Path, as_of: dt.datetime, spec: dict[str, Any]) -> tuple[dict[str, float], Any]:
    import pandas as pd

    from privdomain.frames import pool_from_frames

    s = _strategies()
    t: dict[str, float] = {}
    gc.collect()
    memory = _PeakMemory([os.getpid()])
    customers, touchpoints = _timed(
        t,
        "read Parquet",
        lambda: (pd.read_parquet(folder / "customers"), pd.read_parquet(folder / "touchpoints")),
    )
    pool, _ = _timed(
        t,
        "pools (ingest)",
        lambda: pool_from_frames(
            customers,
            touchpoints,
            customer_columns=CUSTOMER_COLUMNS,
            touchpoint_columns=TOUCHPOINT_COLUMNS,
            **spec,
        ),
    )
    snap = _timed(t, "snapshot", lambda: pool.snapshot(as_of))
    _timed(t, "value fit+apply", lambda: s["value"].fit(snap).apply(snap))
    tiers = _timed(t, "tiers fit+apply", lambda: s["tiers"].fit(snap).apply(snap))
    stages = _timed(t, "lifecycle fit+apply", lambda: s["lifecycle"].fit(snap).apply(snap))
    _timed(t, "nudges plan", lambda: s["nudges"].plan(snap, stages, at=as_of, layers=[tiers]))
    ledger = _timed(t, "referral ledger", lambda: s["referral"].attribute(snap))
    t["total"] = sum(t.values())
    t["peak GiB"] = memory.stop()[0]
    return t, (stages.counts()["relationship"], len(ledger))


def _dask(
    folder: Path, as_of: dt.datetime, spec: dict[str, Any], npartitions: int = PARTITIONS
) -> tuple[dict[str, float], Any, list[float]]:
    import dask
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    from privdomain.dask import PartitionedPool

    s = _strategies()
    t: dict[str, float] = {}
    with (
        dask.config.set({"dataframe.convert-string": False}),
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            memory_limit=WORKER_MEMORY,
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        pids = list(client.run(os.getpid).values())
        memory = _PeakMemory(pids)
        start = time.perf_counter()
        customers = dd.read_parquet(folder / "customers")
        touchpoints = dd.read_parquet(folder / "touchpoints")
        pool = _timed(
            t,
            "pools (read, shuffle, ingest)",
            lambda: PartitionedPool.from_frames(
                customers,
                touchpoints,
                npartitions=npartitions,
                customer_columns=CUSTOMER_COLUMNS,
                touchpoint_columns=TOUCHPOINT_COLUMNS,
                **spec,
            ),
        )
        parts = _timed(t, "snapshot", lambda: pool.snapshot(as_of))
        _timed(t, "value fit+apply", lambda: parts.apply(parts.fit(s["value"])))
        tiers = _timed(t, "tiers fit+apply", lambda: parts.apply(parts.fit(s["tiers"])))
        stages = _timed(t, "lifecycle fit+apply", lambda: parts.apply(parts.fit(s["lifecycle"])))
        _timed(
            t,
            "nudges plan",
            lambda: parts.apply(s["nudges"], "plan", stages=stages, at=as_of, layers=[tiers]),
        )
        ledgers = _timed(t, "referral ledger", lambda: parts.apply(s["referral"], "attribute"))
        t["total"] = time.perf_counter() - start
        counts: dict[str, int] = {}
        for part in stages.parts():
            for name, k in part.counts()["relationship"].items():
                counts[name] = counts.get(name, 0) + k
        n_ledger = sum(len(p) for p in ledgers.parts())
        peaks = memory.stop()
    return t, (counts, n_ledger), peaks


def dask_path() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-frames-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        (n_c, n_t), as_of, spec = _write_parquet(folder)
        gc.collect()
        print(
            f"\n2. Dask: {n_c:,} customers, {n_t:,} touchpoints, Parquet in {PARTITIONS} files "
            f"(simulated and written in {time.perf_counter() - start:.0f} s); one run each"
        )
        # in a fresh process, so that its memory is the pipeline's, not the generator's
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as fresh:
            single, single_answer = fresh.submit(_single, folder, as_of, spec).result()
        single_peak = single.pop("peak GiB")
        gc.collect()
        on_dask, dask_answer, worker_peaks = _dask(folder, as_of, spec)
    assert dict(single_answer[0]) == dask_answer[0], "stages differ between the paths"
    assert single_answer[1] == dask_answer[1], "ledger sizes differ between the paths"
    print(f"{'step':<30}  {'1 process':>10}  {'Dask, 2 workers':>15}  {'ratio':>6}")
    steps = [k for k in single if k not in ("read Parquet", "pools (ingest)")]
    first = single["read Parquet"] + single["pools (ingest)"]
    print(f"{'read + pools':<30}  {first:10.1f}  {on_dask['pools (read, shuffle, ingest)']:15.1f}"
          f"  {on_dask['pools (read, shuffle, ingest)'] / first:6.2f}")  # fmt: skip
    for step in steps:
        a, b = single[step], on_dask[step]
        print(f"{step:<30}  {a:10.1f}  {b:15.1f}  {b / a:6.2f}")
    print(
        f"peak memory (RSS, sampled every 50 ms): one process {single_peak:.2f} GiB; Dask workers "
        + ", ".join(f"{p:.2f} GiB" for p in worker_peaks)
        + " (limit "
        + WORKER_MEMORY
        + ")"
    )
    print("answers: lifecycle stage counts and ledger sizes equal on both paths")


# ---------------------------------------------------------------------------- 3. larger
LARGE_CUSTOMERS = int(os.environ.get("BENCH_LARGE_CUSTOMERS", 2_000_000))
SLICE = int(os.environ.get("BENCH_SLICE", 500_000))


def _write_slice(folder: Path, i: int, n: int) -> tuple[int, int, Any, dict[str, Any]]:
    """Simulate ``n`` customers (seed ``i``) and write them as Parquet, their ids prefixed
    with the slice so that slices are distinct customers (agents stay shared)."""
    from privdomain.frames import to_frame
    from privdomain.simulate import simulate_pool

    sim = simulate_pool(n, seed=1000 + i, messages_per_month=MESSAGES_PER_MONTH)
    customers = to_frame(sim.customers, "pandas")
    touchpoints = to_frame(sim.touchpoints, "pandas")
    prefix = f"s{i}-"
    for column in ("customer_id", "referrer_id"):
        ids = customers[column]
        customers[column] = ids.where(ids.isna(), prefix + ids.astype(str)).astype(object)
    for column in ("customer_id", "related_customer_id"):
        touchpoints[column] = touchpoints[column].cat.rename_categories(lambda c: prefix + c)
    touchpoints["id"] += i << 40
    customers.to_parquet(folder / "customers" / f"slice-{i:03d}.parquet")
    touchpoints.to_parquet(folder / "touchpoints" / f"slice-{i:03d}.parquet")
    spec = {
        "tenant": sim.params.tenant,
        "currency": sim.params.currency,
        "utc_offset": sim.params.utc_offset,
    }
    return len(customers), len(touchpoints), sim.as_of, spec


def larger() -> None:
    """Dask only, at ``BENCH_LARGE_CUSTOMERS``: generated slice by slice (one process per
    slice), so that no process holds the whole pool, then the pipeline on 2 workers."""
    if LARGE_CUSTOMERS <= 0:
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    slices = max(LARGE_CUSTOMERS // SLICE, 1)
    partitions = max(PARTITIONS, round(PARTITIONS * slices * SLICE / 1_000_000))
    with tempfile.TemporaryDirectory(prefix="bench-frames-large-") as tmp:
        folder = Path(tmp)
        (folder / "customers").mkdir()
        (folder / "touchpoints").mkdir()
        start = time.perf_counter()
        spawn = multiprocessing.get_context("spawn")
        n_c = n_t = 0
        as_of, spec = None, {}
        for i in range(slices):
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as fresh:
                c, t, as_of, spec = fresh.submit(_write_slice, folder, i, SLICE).result()
            n_c, n_t = n_c + c, n_t + t
        print(
            f"\n3. larger, Dask only: {n_c:,} customers, {n_t:,} touchpoints in {slices} slices "
            f"(simulated and written in {time.perf_counter() - start:.0f} s), {partitions} "
            "partitions; one run"
        )
        assert as_of is not None
        times, (_, n_ledger), peaks = _dask(folder, as_of, spec, partitions)
    for step, seconds in times.items():
        print(f"{step:<30}  {seconds:8.1f} s")
    print(
        "peak memory per worker (RSS, sampled): "
        + ", ".join(f"{p:.2f} GiB" for p in peaks)
        + f" (limit {WORKER_MEMORY}); {n_ledger:,} ledger entries"
    )
    per_million = times["total"] / (n_c / 1e6)
    print(
        f"extrapolated to 10M customers / 100M touchpoints on the same 2 workers: about "
        f"{per_million * 10 / 60:.0f} min if time stays linear, and "
        f"{max(peaks) * 10e6 / n_c:.0f} GiB per worker, past the {WORKER_MEMORY} limit: "
        "pools and snapshots stay in the workers' memory, so that size needs about "
        f"{int(np.ceil(max(peaks) * 10e6 / n_c / 4))} times the workers, or spilling to disk"
    )


def main() -> None:
    copy_cost()
    dask_path()
    larger()


if __name__ == "__main__":
    main()
