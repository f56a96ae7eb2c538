"""The in-memory adapters: they satisfy the ports' protocols and contracts, and a pool reads a
touchpoint log through them incrementally."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from helpers import (
    assert_accounted,
    assert_pools_equal,
    at,
    customer,
    new_pool,
    purchase,
    reasons_by_index,
    touch,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from port_contracts import (
    check_commission_ledger,
    check_customer_store,
    check_stage_store,
    check_touchpoint_log,
)

from privdomain import Channel, Money, RejectReason, TouchKind
from privdomain.errors import InvalidRecordError, NaiveDatetimeError, ValidationError
from privdomain.memory import (
    InMemoryCommissionLedger,
    InMemoryCustomerStore,
    InMemoryStageStore,
    InMemoryTouchpointLog,
)
from privdomain.ports import (
    CommissionEntry,
    CommissionLedger,
    CommissionStatus,
    CustomerStore,
    StageStore,
    TouchpointLog,
    get_entries,
)

_MICRO = dt.timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("check", "make"),
    [
        (check_customer_store, InMemoryCustomerStore),
        (check_touchpoint_log, InMemoryTouchpointLog),
        (check_stage_store, InMemoryStageStore),
        (check_commission_ledger, InMemoryCommissionLedger),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_in_memory_adapters_meet_the_port_contracts(
    check: Callable[[Callable[[], Any]], None], make: Callable[[], Any]
) -> None:
    check(make)


@pytest.mark.parametrize("protocol", [CustomerStore, TouchpointLog, StageStore, CommissionLedger])
def test_something_else_is_not_an_adapter(protocol: type) -> None:
    class HalfAStore:
        def put(self, customers: object) -> None: ...

    assert not isinstance(object(), protocol)
    assert not isinstance(HalfAStore(), protocol)


def test_a_fake_needs_no_inheritance() -> None:
    class DictStages:
        def __init__(self) -> None:
            self.stages: dict[str, str] = {}

        def get_stages(self, customer_ids: Any) -> dict[str, str]:
            return {c: self.stages[c] for c in customer_ids if c in self.stages}

        def put_stages(self, stages: Any, as_of: dt.datetime) -> None:
            if as_of.tzinfo is None:
                raise NaiveDatetimeError("naive")
            self.stages.update(stages)

    check_stage_store(DictStages)


class TestInMemoryDetails:
    def test_stores_can_start_full(self) -> None:
        store = InMemoryCustomerStore([customer("c1"), customer("c2")])
        assert [c.id for c in store] == ["c1", "c2"]
        log = InMemoryTouchpointLog([touch("t1", "c1", at(1))])
        assert len(log) == 1

    def test_iterating_a_store_is_safe_while_putting(self) -> None:
        store = InMemoryCustomerStore([customer("c1")])
        for c in store:
            store.put([customer(c.id + "-friend")])
        assert len(store) == 2

    @pytest.mark.parametrize(("cursor", "limit"), [(-1, None), (5, None), (0, -1)])
    def test_a_log_refuses_cursors_it_never_gave(self, cursor: int, limit: int | None) -> None:
        log = InMemoryTouchpointLog([touch("t1", "c1", at(1))])
        with pytest.raises(ValidationError):
            log.read_since(cursor, limit)

    def test_the_stage_store_remembers_when_it_was_written(self) -> None:
        store = InMemoryStageStore()
        assert store.as_of is None
        store.put_stages({"c1": "new"}, at(3))
        assert store.as_of == at(3)


class TestPortValues:
    def test_a_commission_is_never_negative(self) -> None:
        fields: dict[str, Any] = {
            "id": "e1",
            "order_id": "o1",
            "beneficiary_id": "b1",
            "tier": 1,
            "amount": Money(-1),
            "status": CommissionStatus.FROZEN,
            "at": at(1),
        }
        with pytest.raises(InvalidRecordError, match="reverse"):
            CommissionEntry(**fields)
        with pytest.raises(ValueError, match="tier"):
            CommissionEntry(**{**fields, "amount": Money(1), "tier": 3})
        with pytest.raises(NaiveDatetimeError):
            CommissionEntry(**{**fields, "amount": Money(1), "at": dt.datetime(2026, 1, 1)})


class TestIngestLog:
    """``Pool.ingest_log`` reads a touchpoint log from where it stopped last time."""

    def _pool(self) -> Any:
        pool = new_pool()
        store = InMemoryCustomerStore([customer("c1"), customer("c2")])
        assert pool.ingest(store).customers_added == 2  # a store is an iterable of customers
        return pool

    def test_reads_everything_in_pages_and_moves_the_cursor(self) -> None:
        log = InMemoryTouchpointLog(
            [purchase(f"t{i}", "c1" if i % 2 else "c2", at(i), "1.00") for i in range(7)]
        )
        pool = self._pool()
        assert pool.log_cursor == 0
        report = pool.ingest_log(log, batch_size=3)
        assert report.touchpoints_accepted == 7
        assert_accounted(report, touchpoints=7)
        assert pool.log_cursor == 7
        assert pool.n_touchpoints == 7

    def test_reading_again_is_idempotent(self) -> None:
        log = InMemoryTouchpointLog([touch(f"t{i}", "c1", at(i)) for i in range(3)])
        pool = self._pool()
        pool.ingest_log(log)
        again = pool.ingest_log(log)
        assert again.touchpoints_accepted == again.duplicates == 0
        assert again.ok
        assert pool.n_touchpoints == 3

    def test_only_new_appends_are_read(self) -> None:
        log = InMemoryTouchpointLog([touch("t1", "c1", at(1))])
        pool = self._pool()
        pool.ingest_log(log)
        log.append([touch("t2", "c1", at(2)), touch("t3", "c2", at(3))])
        report = pool.ingest_log(log, batch_size=1)
        assert report.touchpoints_accepted == 2
        assert pool.log_cursor == 3

        in_one_go = self._pool()
        in_one_go.ingest_log(log)
        assert_pools_equal(pool, in_one_go)

    def test_report_indices_are_positions_in_the_log(self) -> None:
        log = InMemoryTouchpointLog(
            [
                touch("t1", "c1", at(1)),
                touch("t2", "c1", at(2)),
                touch("t3", "nobody", at(3)),
                touch("t1", "c1", at(1)),  # an exact retry of t1 (changed content: a conflict)
                touch("t5", "c2", at(5), tenant="other"),
            ]
        )
        pool = self._pool()
        report = pool.ingest_log(log, batch_size=2)
        assert report.duplicate_touchpoints.tolist() == [3]
        assert reasons_by_index(report) == {
            2: RejectReason.UNKNOWN_CUSTOMER,
            4: RejectReason.WRONG_TENANT,
        }
        assert_accounted(report, touchpoints=5)
        assert report.touchpoints_accepted == 2

    def test_the_cursor_moves_past_rejected_touchpoints(self) -> None:
        # the log was read; fixing a rejected record means appending it again
        log = InMemoryTouchpointLog([touch("t1", "late", at(1))])
        pool = self._pool()
        assert not pool.ingest_log(log).ok
        pool.ingest([customer("late")])
        assert pool.ingest_log(log).touchpoints_accepted == 0
        log.append([touch("t1", "late", at(1))])
        assert pool.ingest_log(log).touchpoints_accepted == 1

    def test_batch_size_must_be_positive(self) -> None:
        with pytest.raises(ValidationError, match="batch_size"):
            self._pool().ingest_log(InMemoryTouchpointLog(), batch_size=0)

    def test_messages_sent_come_back_as_the_snapshots_contacts(self) -> None:
        # contacts are touchpoints: a plan that is sent is appended to the log as SENT ones
        log = InMemoryTouchpointLog(
            [
                touch("m1", "c1", at(1), TouchKind.SENT, Channel.WECOM),
                touch("m2", "c1", at(2), TouchKind.SENT, Channel.SMS, promotion=True),
                touch("m3", "c2", at(2, hours=1), TouchKind.SENT, Channel.WECOM),
                touch("v1", "c2", at(2, hours=2)),  # a visit is no contact
            ]
        )
        pool = self._pool()
        assert pool.ingest_log(log).touchpoints_accepted == 4
        snap = pool.snapshot(at(3))
        assert snap.customer_ids[snap.contacts.row].tolist() == ["c1", "c1", "c2"]
        assert snap.contacts.promotion.tolist() == [False, True, False]
        assert snap.contacts.at.astype("datetime64[us]").tolist() == [
            t.astimezone(dt.UTC).replace(tzinfo=None) for t in (at(1), at(2), at(2, hours=1))
        ]
        assert snap.contact_counts("month").sum(axis=1).tolist() == [2, 1]

    def test_an_empty_log(self) -> None:
        pool = self._pool()
        report = pool.ingest_log(InMemoryTouchpointLog())
        assert report.ok
        assert pool.log_cursor == 0


# ------------------------------------------------------------------- the commission ledger
class _ListLedger:
    """A host's ledger port with only the protocol's two methods (no ``get_entries``): a list
    of versions, read by a slow scan. It is also the reference the in-memory ledger must equal:
    the current version of each id, oldest first, ties in the order ids were first posted."""

    def __init__(self) -> None:
        self.versions: list[CommissionEntry] = []

    def post(self, entries: Any) -> None:
        self.versions.extend(entries)

    def entries(self, beneficiary_id: str | None = None) -> list[CommissionEntry]:
        first: dict[str, int] = {}
        current: dict[str, CommissionEntry] = {}
        for k, e in enumerate(self.versions):
            first.setdefault(e.id, k)
            current[e.id] = e
        chosen = [
            e
            for e in current.values()
            if beneficiary_id is None or e.beneficiary_id == beneficiary_id
        ]
        return sorted(chosen, key=lambda e: (e.at, first[e.id]))


_POSTS = st.lists(
    st.lists(
        st.tuples(
            st.integers(0, 7),  # id
            st.sampled_from(["a", "b", "推荐人"]),  # beneficiary (may change on a repost)
            st.one_of(st.integers(0, 4), st.floats(0, 4, allow_nan=False)),  # day: ties likely
            st.sampled_from(list(CommissionStatus)),
            st.integers(0, 10**12),  # fen
        ),
        max_size=6,
    ),
    max_size=8,
)


@settings(max_examples=60, deadline=None)
@given(_POSTS, st.lists(st.integers(0, 9), max_size=5), st.booleans())
def test_in_memory_ledger_equals_a_slow_reference(
    batches: list[list[tuple[int, str, float, CommissionStatus, int]]],
    asked: list[int],
    read_between: bool,
) -> None:
    ledger, reference = InMemoryCommissionLedger(), _ListLedger()
    for batch in batches:
        entries = [
            CommissionEntry(
                id=f"e{i}",
                order_id=f"o{i}",
                beneficiary_id=who,
                tier=1 + i % 2,
                amount=Money(fen),
                status=status,
                at=at(day),
            )
            for i, who, day, status, fen in batch
        ]
        ledger.post(iter(entries))
        reference.post(entries)
        if read_between:  # reads between posts must not disturb the index
            assert ledger.entries() == reference.entries()
    assert ledger.entries() == reference.entries()
    for who in ("a", "b", "推荐人", "nobody"):
        assert ledger.entries(who) == reference.entries(who)
    ids = [f"e{i}" for i in asked]
    expected = {e.id: e for e in reference.entries() if e.id in ids}
    assert ledger.get_entries(ids) == expected
    assert get_entries(ledger, ids) == expected == get_entries(reference, ids)
    assert len(ledger) == len(reference.entries())


class _NoFullReads(InMemoryCommissionLedger):
    """The in-memory ledger, refusing the full read that settling must not need."""

    def entries(self, beneficiary_id: str | None = None) -> list[CommissionEntry]:
        raise AssertionError("settle read every entry of the ledger")


def test_daily_settling_reads_only_its_ids_and_posts_only_changes() -> None:
    from privdomain import Pool
    from privdomain.pipeline import DailyCycle
    from privdomain.referral import CommissionRule, ReferralAttribution
    from privdomain.simulate import simulate_pool

    sim = simulate_pool(500, seed=5)
    day = dt.timedelta(days=1)
    start = sim.as_of - 12 * day
    us = sim.touchpoints.at

    def upto(when: dt.datetime) -> NDArray[np.intp]:
        return np.flatnonzero(us <= (when - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // _MICRO)

    rule = ReferralAttribution(CommissionRule((0.10, 0.03), agent_rate=0.02), refund_window_days=3)
    cycles = []
    for ledger in (_NoFullReads(), _ListLedger()):
        prm = sim.params
        pool = Pool(prm.tenant, currency=prm.currency, utc_offset=prm.utc_offset)
        pool.ingest(sim.customers)
        pool.ingest(sim.touchpoints.take(upto(start)))
        cycles.append(DailyCycle(pool, referral=rule, ledger=ledger))
    indexed, plain = cycles
    posted_days, frozen_kept = 0, 0
    done = upto(start)
    for k in range(12):
        when = start + k * day
        new = sim.touchpoints.take(np.setdiff1d(upto(when), done))
        done = upto(when)
        before = {e.id: e for e in plain.ledger.entries()}
        a = indexed.run(when, new=new)
        b = plain.run(when, new=new)
        assert a.settled == b.settled
        after = {e.id: e for e in plain.ledger.entries()}
        changed = {i for i, e in after.items() if before.get(i) != e}
        assert b.settled.posted == len(changed)  # posted: exactly the new or changed entries
        posted_days += b.settled.posted > 0
        frozen_kept += sum(
            e.status is CommissionStatus.FROZEN and before.get(i) == e for i, e in after.items()
        )
        assert InMemoryCommissionLedger.entries(indexed.ledger) == plain.ledger.entries()
    assert posted_days > 2, "the scenario must post commission on several days"
    assert frozen_kept > 0, "the scenario must keep frozen entries unchanged"
    # a second run of the last day settles nothing (the cycle's repeat), and neither does
    # settling its ledger again by hand
    from privdomain.referral import settle

    assert settle(b.ledger, indexed.ledger).posted == 0
    assert settle(b.ledger, plain.ledger) == settle(b.ledger, indexed.ledger)


def test_sqlite_ledger_looks_up_many_ids_like_the_in_memory_one(tmp_path: Any) -> None:
    import sys
    from pathlib import Path

    examples = str(Path(__file__).resolve().parent.parent / "examples")
    if examples not in sys.path:
        sys.path.insert(0, examples)
    import sqlite_adapter as sa

    rng = np.random.default_rng(3)
    entries = [
        CommissionEntry(
            id=f"o{k}/r1/b{k % 7}",
            order_id=f"o{k}",
            beneficiary_id=f"b{k % 7}",
            tier=1,
            amount=Money(int(rng.integers(0, 10**6))),
            status=CommissionStatus.FROZEN,
            at=at(float(rng.integers(0, 30))),
        )
        for k in range(1_234)  # more ids than one statement binds
    ]
    memory = InMemoryCommissionLedger()
    with sa.SQLiteCommissionLedger(tmp_path / "ledger.db") as stored:
        for ledger in (memory, stored):
            ledger.post(entries[:700])
            ledger.post(entries[600:])
        asked = [f"o{k}/r1/b{k % 7}" for k in rng.permutation(1_300)] + ["o1/r1/b1"]  # repeats
        assert stored.get_entries(asked) == memory.get_entries(asked)
        assert len(memory.get_entries(asked)) == 1_234
        assert stored.entries() == memory.entries()
