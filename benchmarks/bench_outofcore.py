"""Out of core: 10M customers / ~100M touchpoints on two workers of a 24 GiB machine.

The input is what a host's warehouse export usually is: Parquet files already partitioned by
customer (one simulated shard of ``BENCH_OOC_SHARD`` customers per file, each with its own seed
and id prefix, so that no process ever holds more than one shard; a shard's referral groups are
inside it). The pipeline snapshot -> value -> tiers -> lifecycle -> nudges -> referral ledger
runs with :class:`privdomain.dask.OutOfCorePool` on a ``LocalCluster`` of two worker processes
(one thread each, ``BENCH_WORKER_MEMORY`` each, default 5 GiB): pass 1 fits every strategy in
one read of the files, pass 2 applies them and writes every result as Parquet, partition by
partition. Reported: time per pass and the peak memory (RSS, sampled every 50 ms) of each worker.

1. **Fair overhead** (``BENCH_OOC_COMPARE`` customers, default 1M, in shards alike): one
   process reading the same files and running the same pipeline in memory, against the
   out-of-core passes on two workers, with the first pass's snapshots spilled to disk and read
   back in pass 2, and without (pass 2 builds every pool again). No shuffle on either side. The
   answers (lifecycle stage counts, ledger size) are checked equal.
2. **Large** (``BENCH_OOC_CUSTOMERS``, default 10M; 0 skips): out of core only, spilled.

One run each (a run takes minutes). Run: ``python -m benchmarks outofcore`` in
``.venv-bench-scale``, with ``nice``; it needs about 1 GiB of disk per million customers under
the temporary folder (inputs, spilled snapshots and results), removed at the end.
"""

from __future__ import annotations

import datetime as dt
import gc
import multiprocessing
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.bench_frames import (
    CUSTOMER_COLUMNS,
    MESSAGES_PER_MONTH,
    TOUCHPOINT_COLUMNS,
    _PeakMemory,
    _strategies,
)

N_CUSTOMERS = int(os.environ.get("BENCH_OOC_CUSTOMERS", 10_000_000))
N_COMPARE = int(os.environ.get("BENCH_OOC_COMPARE", 1_000_000))
SHARD = int(os.environ.get("BENCH_OOC_SHARD", 250_000))
WORKER_MEMORY = os.environ.get("BENCH_WORKER_MEMORY", "5GiB")


# ---------------------------------------------------------------------------- the shards
def _write_shard(folder: Path, i: int, n: int) -> tuple[int, int, dt.datetime, dict[str, Any], str]:
    """Simulate ``n`` customers (seed ``5000 + i``) and write them as Parquet, their ids
    prefixed with the shard so that shards are distinct customers (agents stay shared).

    A seed the simulator refuses (seed 5036 at 250,000 customers: a repeat purchase time
    that is not a number) is replaced by ``seed + 100000``, and said so in the output."""
    from privdomain.errors import ValidationError
    from privdomain.frames import to_frame
    from privdomain.simulate import simulate_pool

    note = ""
    try:
        sim = simulate_pool(n, seed=5000 + i, messages_per_month=MESSAGES_PER_MONTH)
    except ValidationError as error:
        note = f"shard {i}: simulate_pool(seed={5000 + i}) failed ({error}); seed {105000 + i}"
        sim = simulate_pool(n, seed=105000 + i, messages_per_month=MESSAGES_PER_MONTH)
    customers = to_frame(sim.customers, "pandas")
    touchpoints = to_frame(sim.touchpoints, "pandas")
    prefix = f"s{i}-"
    for column in ("customer_id", "referrer_id"):
        ids = customers[column]
        customers[column] = ids.where(ids.isna(), prefix + ids.astype(object)).astype(object)
    for column in ("customer_id", "related_customer_id"):
        touchpoints[column] = touchpoints[column].cat.rename_categories(lambda c: prefix + c)
    touchpoints["id"] += i << 40
    customers.to_parquet(folder / "customers" / f"shard-{i:05d}.parquet")
    touchpoints.to_parquet(folder / "touchpoints" / f"shard-{i:05d}.parquet")
    spec = {
        "tenant": sim.params.tenant,
        "currency": sim.params.currency,
        "utc_offset": sim.params.utc_offset,
    }
    return len(customers), len(touchpoints), sim.as_of, spec, note


def _shards(folder: Path, n_customers: int) -> tuple[int, int, dt.datetime, dict[str, Any], float]:
    """Write ``n_customers`` in shards, two processes at a time (fresh ones, so that memory is
    returned); returns the sizes, the simulation's ``as_of`` and pool arguments, seconds."""
    (folder / "customers").mkdir(parents=True)
    (folder / "touchpoints").mkdir()
    count = max(n_customers // SHARD, 1)
    start = time.perf_counter()
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn, max_tasks_per_child=1) as pool:
        done = list(pool.map(_write_shard, [folder] * count, range(count), [SHARD] * count))
    for note in (d[4] for d in done if d[4]):
        print(note)
    n_c = sum(d[0] for d in done)
    n_t = sum(d[1] for d in done)
    return n_c, n_t, done[0][2], done[0][3], time.perf_counter() - start


def _files(folder: Path, name: str) -> list[str]:
    return sorted(str(p) for p in (folder / name).glob("*.parquet"))


def _size(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**30


# ---------------------------------------------------------------------------- the paths
def _single(folder: Path, as_of: dt.datetime, spec: dict[str, Any]) -> dict[str, Any]:
    """The whole pipeline in one process, in memory (run in a fresh process)."""
    import pandas as pd

    from privdomain.frames import pool_from_frames

    s = _strategies()
    memory = _PeakMemory([os.getpid()])
    start = time.perf_counter()
    customers = pd.concat([pd.read_parquet(f) for f in _files(folder, "customers")])
    touchpoints = pd.concat([pd.read_parquet(f) for f in _files(folder, "touchpoints")])
    pool, _ = pool_from_frames(
        customers,
        touchpoints,
        customer_columns=CUSTOMER_COLUMNS,
        touchpoint_columns=TOUCHPOINT_COLUMNS,
        **spec,
    )
    del customers, touchpoints
    snap = pool.snapshot(as_of)
    fitted = time.perf_counter()
    value = s["value"].fit(snap)
    tiers = s["tiers"].fit(snap)
    lifecycle = s["lifecycle"].fit(snap)
    fitted = time.perf_counter() - fitted
    value.apply(snap)
    layers = tiers.apply(snap)
    stages = lifecycle.apply(snap)
    s["nudges"].plan(snap, stages, at=as_of, layers=[layers])
    s["referral"].apply(snap)
    ledger = s["referral"].attribute(snap)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "fit": fitted,
        "peak": memory.stop()[0],
        "stages": dict(stages.counts()["relationship"]),
        "ledger": len(ledger),
    }


def _out_of_core(
    folder: Path, as_of: dt.datetime, spec: dict[str, Any], spill: bool
) -> dict[str, Any]:
    """The pipeline out of core on two local worker processes; results written as Parquet."""
    import dask
    import pandas as pd
    from distributed import Client, LocalCluster

    from privdomain.dask import Earlier, OutOfCorePool, Step

    s = _strategies()
    work = Path(tempfile.mkdtemp(prefix="run-", dir=folder))
    (work / "spill").mkdir()
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
        pool = OutOfCorePool.from_parquet(
            _files(folder, "customers"),
            _files(folder, "touchpoints"),
            customer_columns=CUSTOMER_COLUMNS,
            touchpoint_columns=TOUCHPOINT_COLUMNS,
            spill=work / "spill" if spill else None,
            **spec,
        )
        start = time.perf_counter()
        value, tiers, lifecycle, referral = pool.fit(
            as_of, [s["value"], s["tiers"], s["lifecycle"], s["referral"]]
        )
        pass1 = time.perf_counter() - start
        peaks1 = list(memory.peaks)
        start = time.perf_counter()
        rows = pool.apply(
            as_of,
            [
                Step("value", value),
                Step("tiers", tiers),
                Step("stages", lifecycle),
                Step(
                    "plan",
                    s["nudges"],
                    "plan",
                    stages=Earlier("stages"),
                    at=as_of,
                    layers=[Earlier("tiers")],
                ),
                Step("bindings", referral),
                Step("ledger", referral, "attribute"),
            ],
            path=work / "out",
        )
        pass2 = time.perf_counter() - start
        peaks = memory.stop()
    stages = pd.read_parquet(work / "out" / "stages", columns=["relationship"])
    spilled = _size(work / "spill")
    written = _size(work / "out")
    shutil.rmtree(work)
    return {
        "pass1": pass1,
        "pass2": pass2,
        "peaks1": peaks1,
        "peaks": peaks,
        "rows": rows,
        "stages": {str(k): int(v) for k, v in stages["relationship"].value_counts().items()},
        "ledger": rows["ledger"],
        "spilled GiB": spilled,
        "written GiB": written,
        "rejected": sum(not r.ok for part in pool.reports for r in part),
    }


def _gib(values: list[float]) -> str:
    return " + ".join(f"{v:.2f}" for v in values) + " GiB"


def compare() -> None:
    if N_COMPARE <= 0:
        return
    with tempfile.TemporaryDirectory(prefix="bench-ooc-") as tmp:
        folder = Path(tmp)
        n_c, n_t, as_of, spec, made = _shards(folder, N_COMPARE)
        print(
            f"\n1. {n_c:,} customers, {n_t:,} touchpoints in {n_c // SHARD} Parquet shards "
            f"partitioned by customer ({_size(folder):.2f} GiB, simulated and written in "
            f"{made:.0f} s); one run each"
        )
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as fresh:
            single = fresh.submit(_single, folder, as_of, spec).result()
        gc.collect()
        spilled = _out_of_core(folder, as_of, spec, spill=True)
        rebuilt = _out_of_core(folder, as_of, spec, spill=False)
    for run in (spilled, rebuilt):
        assert run["stages"] == {str(k): int(v) for k, v in single["stages"].items()}, "stages"
        assert run["ledger"] == single["ledger"], "ledger sizes differ"
    print(f"{'path':<44}  {'pass 1':>7}  {'pass 2':>7}  {'total':>7}  {'ratio':>5}  peak memory")
    base = single["seconds"]
    print(
        f"{'one process, in memory (read, pools, all)':<44}  {'':>7}  {'':>7}  {base:7.1f}  "
        f"{1:5.2f}  {single['peak']:.2f} GiB"
    )
    for label, run in (
        ("out of core, 2 workers, snapshots spilled", spilled),
        ("out of core, 2 workers, pools built again", rebuilt),
    ):
        total = run["pass1"] + run["pass2"]
        print(
            f"{label:<44}  {run['pass1']:7.1f}  {run['pass2']:7.1f}  {total:7.1f}  "
            f"{total / base:5.2f}  {_gib(run['peaks'])}"
        )
    print(
        "answers: lifecycle stage counts and ledger sizes equal on all paths; spilled snapshots "
        f"{spilled['spilled GiB']:.2f} GiB, results written {spilled['written GiB']:.2f} GiB"
    )


def large() -> None:
    if N_CUSTOMERS <= 0:
        return
    with tempfile.TemporaryDirectory(prefix="bench-ooc-large-") as tmp:
        folder = Path(tmp)
        n_c, n_t, as_of, spec, made = _shards(folder, N_CUSTOMERS)
        inputs = _size(folder)
        print(
            f"\n2. out of core: {n_c:,} customers, {n_t:,} touchpoints in {n_c // SHARD} Parquet "
            f"shards partitioned by customer ({inputs:.2f} GiB, simulated and written in "
            f"{made:.0f} s); 2 workers of {WORKER_MEMORY}, snapshots spilled; one run"
        )
        run = _out_of_core(folder, as_of, spec, spill=True)
    total = run["pass1"] + run["pass2"]
    print(f"{'pass':<52}  {'seconds':>8}  peak memory per worker (RSS)")
    print(
        f"{'1: read, pools, snapshots (spilled), summaries, fit':<52}  {run['pass1']:8.1f}  "
        f"{_gib(run['peaks1'])}"
    )
    print(f"{'2: snapshots read back, apply 6 steps, Parquet out':<52}  {run['pass2']:8.1f}  "
          f"{_gib(run['peaks'])}")  # fmt: skip
    print(f"{'total':<52}  {total:8.1f}  ({total / (n_c / 1e6):.1f} s per million customers)")
    rows = ", ".join(f"{k} {v:,}" for k, v in run["rows"].items())
    print(
        f"rows written: {rows}; ingest rejections: {run['rejected']}; spilled snapshots "
        f"{run['spilled GiB']:.1f} GiB, results {run['written GiB']:.1f} GiB on disk"
    )


def main() -> None:
    compare()
    large()


if __name__ == "__main__":
    main()
