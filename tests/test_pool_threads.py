"""One pool shared by several threads.

Four threads ingest large touchpoint batches (10,000 rows, so that numpy releases the GIL and
the threads really interleave), disjoint and overlapping (the same touchpoint ids in several
batches, and whole batches sent twice), and take snapshots while they do. Afterwards no
duplicate got in, and the pool equals one that took the same batches on one thread. Batches are
atomic and every read takes the pool's lock, so each snapshot taken during ingestion shows a set
of whole batches: each batch carries one marker purchase of its own customer, which tells which
batches a snapshot saw, and the snapshot equals that of a pool built from exactly those batches.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from helpers import T0, TENANT, new_pool

from privdomain import (
    Channel,
    CustomerColumns,
    Pool,
    ProfileChanges,
    TouchKind,
    TouchpointColumns,
)

THREADS = 4
ROWS = 10_000
N_BATCHES = 12
N_CUSTOMERS = 2_000
SHARED = 3_000  # touchpoint ids that several batches carry
AS_OF = T0 + dt.timedelta(days=400)
CHANNELS = np.array([Channel.WECOM.value, Channel.SMS.value, Channel.MINI_PROGRAM.value])
KINDS = np.array(
    [TouchKind.PURCHASED.value] * 3
    + [TouchKind.REFUNDED.value, TouchKind.SENT.value, TouchKind.VISITED.value]
)
EPOCH_US = (T0 - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
DAY_US = 86_400 * 1_000_000


def marker(b: int) -> str:
    return f"marker-{b}"


def customers() -> CustomerColumns:
    ids = [f"c{i}" for i in range(N_CUSTOMERS)] + [marker(b) for b in range(N_BATCHES)]
    return CustomerColumns.from_arrays(
        id=ids,
        tenant=TENANT,
        joined_at=np.full(len(ids), EPOCH_US, dtype=np.int64),
        epoch_unit="us",
        consent=1 << Channel.WECOM.value,
    )


def rows(numbers: np.ndarray) -> dict[str, Any]:
    """Touchpoint columns for the ids ``numbers``: a pure function of the ids, so that a shared
    id carries the same touchpoint in every batch it appears in."""
    key = (numbers.astype(np.int64) * 7_919) % 1_000_003
    kind = KINDS[key % KINDS.size]
    monetary = (kind == TouchKind.PURCHASED.value) | (kind == TouchKind.REFUNDED.value)
    return {
        "customer_id": np.array([f"c{k}" for k in (key % N_CUSTOMERS).tolist()], dtype=object),
        "at": EPOCH_US + (key % 300) * DAY_US + key % 86_400 * 1_000_000,
        "channel": CHANNELS[key % CHANNELS.size],
        "kind": kind,
        "amount": np.where(monetary, (key % 50_000).astype(np.float64), np.nan),
        "promotion": key % 7 == 0,
    }


def make_batches(int_ids: bool) -> list[TouchpointColumns]:
    """Batches of ROWS rows: each has its own ids, some shared ids, and one marker purchase; the
    last two batches repeat two earlier ones exactly."""
    rng = np.random.default_rng(7)
    out = []
    own = ROWS - 2_000 - 1
    for b in range(N_BATCHES - 2):
        own_ids = np.arange(b * own, (b + 1) * own) + 1_000_000
        shared_ids = rng.choice(SHARED, size=2_000, replace=False)
        numbers = np.concatenate([own_ids, shared_ids])
        ids: np.ndarray = (
            numbers.astype(np.int64)
            if int_ids
            else np.array([f"t{i}" for i in numbers.tolist()], dtype=object)
        )
        cols = rows(numbers)
        mark = -(b + 1) if int_ids else f"mark-{b}"
        columns = TouchpointColumns.from_arrays(
            id=np.concatenate([ids, np.array([mark], dtype=ids.dtype)]),
            tenant=TENANT,
            customer_id=np.concatenate([cols["customer_id"], np.array([marker(b)], object)]),
            at=np.concatenate([cols["at"], [EPOCH_US + DAY_US]]),
            epoch_unit="us",
            channel=np.concatenate([cols["channel"], [Channel.WECOM.value]]),
            kind=np.concatenate([cols["kind"], [TouchKind.PURCHASED.value]]),
            amount=np.concatenate([cols["amount"], [100.0]]),
            minor_units=True,
            promotion=np.concatenate([cols["promotion"], [False]]),
        )
        out.append(columns)
    out += [out[3], out[7]]  # sent twice, from other threads
    return out


def distinct_ids(batches: Sequence[TouchpointColumns]) -> int:
    return len({i for b in batches for i in b.id.tolist()})


def built_from(batches: Sequence[TouchpointColumns]) -> Pool:
    pool = new_pool()
    assert pool.ingest(customers()).ok
    for batch in batches:
        assert pool.ingest(batch).ok
    return pool


def seen_batches(snap: Any) -> frozenset[int]:
    orders = dict(zip(snap.customer_ids.tolist(), snap.orders.tolist(), strict=True))
    return frozenset(b for b in range(N_BATCHES - 2) if orders[marker(b)])


def run_threads(work: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run each callable on its own thread, all released at once; re-raise any error."""
    start = threading.Barrier(len(work))

    def go(task: Callable[[], Any]) -> Any:
        start.wait()
        return task()

    with ThreadPoolExecutor(max_workers=len(work)) as executor:
        futures = [executor.submit(go, task) for task in work]
        return [f.result() for f in futures]


@pytest.mark.parametrize("int_ids", [False, True], ids=["str ids", "int ids"])
def test_threads_ingesting_and_snapshotting_one_pool(int_ids: bool) -> None:
    batches = make_batches(int_ids)
    pool = built_from([])
    snapshots: list[Any] = []
    reports: list[Any] = []
    done = threading.Event()
    errors: list[BaseException] = []

    def ingester(mine: Sequence[TouchpointColumns]) -> Callable[[], None]:
        def run() -> None:
            for batch in mine:
                reports.append(pool.ingest(batch))
                snapshots.append(pool.snapshot(AS_OF, threads=1))
                snapshots.append(pool.snapshot(AS_OF))  # on the snapshot's own threads too

        return run

    def snapshotter() -> None:
        try:
            while not done.is_set():
                snapshots.append(pool.snapshot(AS_OF, threads=2))
        except BaseException as exc:  # re-raised on the test's thread below
            errors.append(exc)

    work = [ingester(batches[k::THREADS]) for k in range(THREADS)]
    watcher = threading.Thread(target=snapshotter)
    watcher.start()
    try:
        run_threads(work)
    finally:
        done.set()
        watcher.join()
    if errors:
        raise errors[0]

    # no duplicate got in, nothing was lost, every row is accounted for
    assert pool.n_touchpoints == distinct_ids(batches)
    assert sum(r.touchpoints_accepted for r in reports) == distinct_ids(batches)
    assert sum(r.touchpoints_accepted + r.duplicates for r in reports) == len(batches) * ROWS
    assert all(r.ok for r in reports)

    # the same pool as one thread builds
    alone = built_from(batches)
    final = pool.snapshot(AS_OF)
    assert final.to_records() == alone.snapshot(AS_OF).to_records()
    assert seen_batches(final) == frozenset(range(N_BATCHES - 2))

    # every snapshot taken meanwhile shows whole batches
    total, n_orders = float(final.gross_spend.sum()), int(final.orders.sum())
    by_subset: dict[frozenset[int], list[Any]] = {}
    for snap in snapshots:
        assert float(snap.gross_spend.sum()) <= total
        assert int(snap.orders.sum()) <= n_orders
        by_subset.setdefault(seen_batches(snap), []).append(snap)
    for subset, snaps in by_subset.items():
        expected = built_from([batches[b] for b in sorted(subset)]).snapshot(AS_OF).to_records()
        for snap in snaps:
            assert snap.to_records() == expected, sorted(subset)


def test_a_view_taken_while_others_ingest_never_changes() -> None:
    """``tables()`` is an immutable view: what it shows stays as it was while other threads
    append to the pool, and ``features`` of it equals the snapshot of the pool at that time."""
    from privdomain.domain.features import features

    batches = make_batches(int_ids=False)[: N_BATCHES - 2]
    pool = built_from([])
    views: list[tuple[Any, Any, list[dict[str, Any]]]] = []

    def ingest(mine: Sequence[TouchpointColumns]) -> Callable[[], None]:
        def run() -> None:
            for batch in mine:
                pool.ingest(batch)

        return run

    def watch() -> None:
        for _ in range(15):
            tables = pool.tables()
            copies = {name: getattr(tables.events, name).copy() for name in ("customer", "at")}
            views.append((tables, copies, features(tables, AS_OF, threads=1).to_records()))

    run_threads([ingest(batches[k::3]) for k in range(3)] + [watch])
    for tables, copies, records in views:
        for name, copy in copies.items():
            np.testing.assert_array_equal(getattr(tables.events, name), copy)
        assert features(tables, AS_OF, threads=1).to_records() == records


def test_threads_updating_profiles_and_reading() -> None:
    """Threads that ingest new customers, change the profiles of their own customers (in time
    order) and read the pool at once end with the pool one thread would build."""
    n = 20_000
    groups = [np.arange(k, n, THREADS) for k in range(THREADS)]

    def new_customers(ids: np.ndarray) -> CustomerColumns:
        return CustomerColumns.from_arrays(
            id=[f"p{i}" for i in ids.tolist()],
            tenant=TENANT,
            joined_at=np.full(ids.size, EPOCH_US, dtype=np.int64),
            epoch_unit="us",
            agent_id="guide-A",
        )

    def changes(ids: np.ndarray, day: int) -> ProfileChanges:
        rng = np.random.default_rng(day)
        return ProfileChanges.from_arrays(
            customer_id=[f"p{i}" for i in ids.tolist()],
            tenant=TENANT,
            at=np.full(ids.size, EPOCH_US + day * DAY_US, dtype=np.int64),
            epoch_unit="us",
            consent={"wecom": rng.random(ids.size) < 0.5, "sms": rng.random(ids.size) < 0.3},
            agent_id=np.where(rng.random(ids.size) < 0.5, "guide-B", None),
            tags={"vip": rng.random(ids.size) < 0.1},
        )

    def script(ids: np.ndarray) -> list[Any]:
        return [new_customers(ids), *(changes(ids, day) for day in (3, 5, 9))]

    def worker(pool: Pool, ids: np.ndarray) -> Callable[[], list[Any]]:
        def run() -> list[Any]:
            out = []
            for batch in script(ids):
                report = pool.ingest(batch)
                assert report.ok, report.rejected[:3]
                out.append(report)
                len(pool)  # reads between writes, from every thread
                pool.tag_names
                pool.agent_ids
            return out

        return run

    shared = new_pool()
    reports = run_threads([worker(shared, ids) for ids in groups])
    assert len(shared) == n
    assert sum(r.customers_added for rs in reports for r in rs) == n

    alone = new_pool()
    for ids in groups:
        for batch in script(ids):
            assert alone.ingest(batch).ok

    def by_id(pool: Pool, day: int) -> list[dict[str, Any]]:
        records = pool.snapshot(T0 + dt.timedelta(days=day)).to_records()
        return sorted(records, key=lambda r: r["customer_id"])

    for day in (0, 3, 4, 5, 9, 30):
        assert by_id(shared, day) == by_id(alone, day)


def test_reads_during_a_batch_see_it_whole_or_not_at_all() -> None:
    """A read made on another thread while a batch is being written waits for the batch: it
    sees the pool before or after it, never a customer without their touchpoint."""
    from unittest import mock

    from privdomain import Customer, Money, Touchpoint
    from privdomain.domain._columns import Column

    pool = new_pool()
    seen: list[tuple[int, int, bool]] = []
    readers: list[threading.Thread] = []
    extend = Column.extend

    def read() -> None:
        seen.append((len(pool), pool.n_touchpoints, "c1" in pool))

    def extend_then_read(self: Column[Any], values: Any) -> None:
        extend(self, values)
        reader = threading.Thread(target=read)
        readers.append(reader)
        reader.start()
        reader.join(timeout=0.05)  # a reader that waits for the lock is left waiting

    batch = [
        Customer("c1", TENANT, T0),
        Touchpoint("t1", TENANT, "c1", T0, "wecom", "purchased", amount=Money(100)),
    ]
    with mock.patch.object(Column, "extend", extend_then_read):
        assert pool.ingest(batch).ok
    for reader in readers:
        reader.join()
    assert readers
    assert set(seen) == {(1, 1, True)}
