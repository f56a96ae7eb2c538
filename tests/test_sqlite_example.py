"""The SQLite adapter of ``examples/``: every port behaves like its in-memory reference, and a
pool survives a round trip through a real database file."""

from __future__ import annotations

import datetime as dt
import importlib
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, TypeVar

import attrs
import numpy as np
import pytest

from privdomain import Channel, Customer, Money, Pool, Snapshot, TouchKind, Touchpoint
from privdomain.errors import NaiveDatetimeError, ValidationError
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
)
from privdomain.simulate import SimulatedPool, simulate_pool

# The example is a script, not part of the library: import it from its directory.
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

import sqlite_adapter as sa  # noqa: E402


def _shared_contracts() -> ModuleType | None:
    """``tests/port_contracts.py``, the contract checks every adapter must pass, once written."""
    try:
        return importlib.import_module("port_contracts")
    except ModuleNotFoundError as exc:
        if exc.name != "port_contracts":
            raise
        return None


port_contracts = _shared_contracts()


class Adapter(Protocol):
    """What every SQLite adapter of the example has besides its port."""

    def __init__(self, database: sa.Database) -> None: ...

    @property
    def connection(self) -> sqlite3.Connection: ...

    def close(self) -> None: ...


A = TypeVar("A", bound=Adapter)


class Opener(Protocol):
    def __call__(self, cls: type[A]) -> A: ...


TENANT = "brand"
TZ8 = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 1, 1, tzinfo=TZ8)
LONG_ID = "长" * 200 + "🙂" * 56  # 256 characters, most of them outside ASCII and the BMP


def at(days: float = 0, **kwargs: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days, **kwargs)


def customer(cid: str, joined: dt.datetime = T0, **kwargs: Any) -> Customer:
    return Customer(cid, TENANT, joined, **kwargs)


def touch(
    tid: str, cid: str, when: dt.datetime, kind: TouchKind = TouchKind.VISITED, **kwargs: Any
) -> Touchpoint:
    kwargs.setdefault("channel", Channel.WECOM)
    return Touchpoint(tid, TENANT, cid, when, kind=kind, **kwargs)


def purchase(tid: str, cid: str, when: dt.datetime, yuan: str, **kwargs: Any) -> Touchpoint:
    return touch(tid, cid, when, TouchKind.PURCHASED, amount=Money.of(yuan), **kwargs)


def entry(eid: str, when: dt.datetime, **kwargs: Any) -> CommissionEntry:
    kwargs.setdefault("order_id", "o1")
    kwargs.setdefault("beneficiary_id", "alice")
    kwargs.setdefault("tier", 1)
    kwargs.setdefault("amount", Money.of("1.00"))
    kwargs.setdefault("status", CommissionStatus.FROZEN)
    return CommissionEntry(eid, at=when, **kwargs)


@pytest.fixture
def open_on_new_file(tmp_path: Path) -> Iterator[Opener]:
    """Open an adapter class on a fresh database file; every adapter is closed at teardown."""
    opened: list[Adapter] = []

    def open_(cls: type[A]) -> A:
        adapter = cls(tmp_path / f"port{len(opened)}.sqlite3")
        opened.append(adapter)
        return adapter

    yield open_
    for adapter in opened:
        adapter.close()


def reopened(adapter: A) -> A:
    """The same adapter class on the same database file, through a new connection."""
    ((_, _, path),) = adapter.connection.execute("PRAGMA database_list").fetchall()
    adapter.close()
    return type(adapter)(path)


# ---------------------------------------------------------------------------- snapshot equality
def assert_columns_equal(name: str, left: Any, right: Any) -> None:
    if not isinstance(left, np.ndarray):
        assert left == right, f"{name}: {left!r} != {right!r}"
        return
    assert isinstance(right, np.ndarray), name
    assert (left.dtype, left.shape) == (right.dtype, right.shape), name
    if left.dtype.kind == "M":
        assert np.array_equal(left.view("i8"), right.view("i8")), name
    elif left.dtype.kind == "f":
        assert np.array_equal(left, right, equal_nan=True), name
    else:
        assert np.array_equal(left, right), name


def assert_snapshots_equal(left: Snapshot, right: Snapshot) -> None:
    for field in attrs.fields(Snapshot):
        if not field.init:
            continue
        lv, rv = getattr(left, field.name), getattr(right, field.name)
        if hasattr(lv, "columns") and not isinstance(lv, np.ndarray):  # a relational table
            lc, rc = lv.columns(), rv.columns()
            assert list(lc) == list(rc), field.name
            for key in lc:
                if key == "order_id" and lc[key].dtype != rc[key].dtype:
                    continue  # integer ids on one side, their string form on the other
                assert_columns_equal(f"{field.name}.{key}", lc[key], rc[key])
        elif isinstance(lv, dict):
            assert sorted(lv) == sorted(rv), field.name
            for key in lv:
                assert_columns_equal(f"{field.name}[{key!r}]", lv[key], rv[key])
        else:
            assert_columns_equal(field.name, lv, rv)
    lc, rc = left.columns(), right.columns()
    assert list(lc) == list(rc)
    for name in lc:
        assert_columns_equal(name, lc[name], rc[name])


def assert_same_customers(left: list[Customer], right: list[Customer]) -> None:
    assert [c.id for c in left] == [c.id for c in right]
    for a, b in zip(left, right, strict=True):
        assert a.same_data(b), (a, b)


# ---------------------------------------------------------------------------- port contracts
ADAPTERS = [
    (sa.SQLiteCustomerStore, CustomerStore),
    (sa.SQLiteTouchpointLog, TouchpointLog),
    (sa.SQLiteStageStore, StageStore),
    (sa.SQLiteCommissionLedger, CommissionLedger),
]


@pytest.mark.parametrize(("cls", "port"), ADAPTERS, ids=lambda p: getattr(p, "__name__", ""))
def test_every_adapter_implements_its_port(
    open_on_new_file: Opener, cls: type[Any], port: type[Any]
) -> None:
    assert isinstance(open_on_new_file(cls), port)


@pytest.mark.skipif(port_contracts is None, reason="tests/port_contracts.py is not written yet")
@pytest.mark.parametrize(
    ("check", "cls"),
    [
        ("check_customer_store", sa.SQLiteCustomerStore),
        ("check_touchpoint_log", sa.SQLiteTouchpointLog),
        ("check_stage_store", sa.SQLiteStageStore),
        ("check_commission_ledger", sa.SQLiteCommissionLedger),
    ],
)
def test_shared_port_contracts(open_on_new_file: Opener, check: str, cls: type[Any]) -> None:
    getattr(port_contracts, check)(lambda: open_on_new_file(cls))


def test_storage_exposes_every_port_on_one_connection(tmp_path: Path) -> None:
    with sa.SQLiteStorage(tmp_path / "pool.sqlite3") as storage:
        ports: list[Adapter] = [storage.customers, storage.touchpoints, storage.stages]
        ports.append(storage.ledger)
        for adapter, (cls, port) in zip(ports, ADAPTERS, strict=True):
            assert isinstance(adapter, cls)
            assert isinstance(adapter, port)
            assert adapter.connection is storage.connection
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        storage.connection.execute("SELECT 1")


def test_a_connection_passed_in_stays_open_for_its_owner(tmp_path: Path) -> None:
    with closing(sqlite3.connect(tmp_path / "host.sqlite3")) as connection:
        with sa.SQLiteStorage(connection) as storage:
            storage.customers.put([customer("alice")])
        with sa.SQLiteCustomerStore(connection) as store:
            assert [c.id for c in store] == ["alice"]
        assert connection.execute("SELECT count(*) FROM customers").fetchone() == (1,)


def test_opening_something_that_is_not_a_database_closes_the_connection(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"not a database, " * 100)
    with pytest.raises(sqlite3.DatabaseError):
        sa.SQLiteStorage(path)
    with pytest.raises(sqlite3.DatabaseError):
        sa.SQLiteCustomerStore(path)
    # A connection left open would surface here as an unraisable ResourceWarning (an error).


class TestCustomerStore:
    def test_empty(self, open_on_new_file: Opener) -> None:
        store = open_on_new_file(sa.SQLiteCustomerStore)
        assert len(store) == 0
        assert list(store) == []
        assert store.get("nobody") is None

    def test_like_the_in_memory_store(self, open_on_new_file: Opener) -> None:
        store, memory = open_on_new_file(sa.SQLiteCustomerStore), InMemoryCustomerStore()
        first = [
            customer(
                "alice",
                source=Channel.DOUYIN,
                attributes={"age": 31, "vip": True, "score": 0.1, "region": "华东", "pet": None},
                tags={"vip", "koc"},
                consent={Channel.WECOM, Channel.SMS},
                agent_id="guide-7",
            ),
            customer("bob", at(1), source="referral", referrer_id="alice"),
            customer("carol", at(2)),
        ]
        # bob is put again with new tags and consent: he is replaced where he stands.
        bob_again = attrs.evolve(first[1], tags={"new"}, consent=["app"])
        for target in (store, memory):
            target.put(first)
            target.put(iter([bob_again]))
        assert len(store) == len(memory) == 3
        assert_same_customers(list(store), list(memory))
        for cid in ("alice", "bob", "carol", "dave"):
            got, want = store.get(cid), memory.get(cid)
            assert (got is None) == (want is None)
            if got is not None and want is not None:
                assert got.same_data(want)
        bob = store.get("bob")
        assert bob is not None
        assert (bob.tags, bob.consent) == (frozenset({"new"}), frozenset({Channel.APP}))

    def test_attributes_keep_their_types(self, open_on_new_file: Opener) -> None:
        values = {"i": 1, "f": 1.0, "b": True, "s": "1", "big": 2**70, "x": 1e-300}
        store = open_on_new_file(sa.SQLiteCustomerStore)
        store.put([customer("alice", attributes=values)])
        got = store.get("alice")
        assert got is not None
        assert dict(got.attributes) == values
        assert {k: type(v) for k, v in got.attributes.items()} == {
            k: type(v) for k, v in values.items()
        }

    def test_iteration_reads_a_copy(self, open_on_new_file: Opener) -> None:
        store = open_on_new_file(sa.SQLiteCustomerStore)
        store.put([customer("alice"), customer("bob")])
        seen = []
        for c in store:
            seen.append(c.id)
            store.put([customer(c.id + "'s friend")])
        assert seen == ["alice", "bob"]
        assert len(store) == 4

    def test_a_failed_put_changes_nothing(self, open_on_new_file: Opener) -> None:
        store = open_on_new_file(sa.SQLiteCustomerStore)

        def customers() -> Iterator[Customer]:
            yield customer("alice")
            raise RuntimeError("the host's source failed")

        with pytest.raises(RuntimeError):
            store.put(customers())
        assert len(store) == 0

    def test_survives_reopening(self, open_on_new_file: Opener) -> None:
        store = open_on_new_file(sa.SQLiteCustomerStore)
        customers = [customer(f"c{i}", at(i), tags={f"t{i % 3}"}) for i in range(50)]
        store.put(customers)
        with reopened(store) as again:
            assert_same_customers(list(again), customers)


class TestTouchpointLog:
    def test_empty(self, open_on_new_file: Opener) -> None:
        log = open_on_new_file(sa.SQLiteTouchpointLog)
        assert len(log) == 0
        assert log.read_since() == ([], 0)
        assert log.read_since(0, 10) == ([], 0)
        assert log.append([]) == 0

    def test_like_the_in_memory_log(self, open_on_new_file: Opener) -> None:
        log, memory = open_on_new_file(sa.SQLiteTouchpointLog), InMemoryTouchpointLog()
        batches = [
            [purchase("t1", "alice", at(1), "100.00", promotion=True, discount=Money.of("5"))],
            [
                touch("t2", "bob", at(1, hours=2), TouchKind.SENT, channel=Channel.SMS),
                touch("t3", "alice", at(2), TouchKind.INVITED, related_customer_id="bob"),
                touch("t4", "alice", at(3), TouchKind.REFUNDED, amount=Money.of("20.00")),
                touch("t1", "alice", at(4), agent_id="guide-7"),  # a repeated id is kept
            ],
            [],
            [purchase("t5", "carol", at(0), "0.01", channel=Channel.TAOBAO)],
        ]
        for batch in batches:
            assert log.append(iter(batch)) == memory.append(batch)
        assert len(log) == len(memory) == 6
        for cursor in range(7):
            for limit in (None, 0, 1, 2, 10):
                assert log.read_since(cursor, limit) == memory.read_since(cursor, limit)

    def test_reading_on_from_the_cursor(self, open_on_new_file: Opener) -> None:
        log = open_on_new_file(sa.SQLiteTouchpointLog)
        touchpoints = [touch(f"t{i}", "alice", at(i)) for i in range(7)]
        log.append(touchpoints[:5])
        read: list[Touchpoint] = []
        cursor = 0
        while True:
            part, cursor = log.read_since(cursor, 2)
            if not part:
                break
            read.extend(part)
        assert (read, cursor) == (touchpoints[:5], 5)
        assert log.append(touchpoints[5:]) == 7
        assert log.read_since(cursor) == (touchpoints[5:], 7)

    @pytest.mark.parametrize(("cursor", "limit"), [(-1, None), (4, None), (0, -1)])
    def test_refuses_a_cursor_or_limit_out_of_range(
        self, open_on_new_file: Opener, cursor: int, limit: int | None
    ) -> None:
        log = open_on_new_file(sa.SQLiteTouchpointLog)
        log.append([touch(f"t{i}", "alice", at(i)) for i in range(3)])
        memory = InMemoryTouchpointLog(log.read_since(0)[0])
        with pytest.raises(ValidationError):
            memory.read_since(cursor, limit)
        with pytest.raises(ValidationError):
            log.read_since(cursor, limit)

    def test_survives_reopening(self, open_on_new_file: Opener) -> None:
        log = open_on_new_file(sa.SQLiteTouchpointLog)
        touchpoints = [purchase(f"t{i}", "alice", at(i), f"{i}.99") for i in range(20)]
        log.append(touchpoints[:12])
        with reopened(log) as again:
            assert again.append(touchpoints[12:]) == 20
            assert again.read_since(0) == (touchpoints, 20)
            assert again.read_since(12, 3) == (touchpoints[12:15], 15)


class TestStageStore:
    def test_like_the_in_memory_store(self, open_on_new_file: Opener) -> None:
        store, memory = open_on_new_file(sa.SQLiteStageStore), InMemoryStageStore()
        assert store.as_of is None
        assert store.get_stages(["alice"]) == {}
        for target in (store, memory):
            target.put_stages({"alice": "new", "bob": "active", "carol": "sleeping"}, at(1))
            target.put_stages({"bob": "sleeping", "dave": "new"}, at(2))  # alice, carol stay
        ids = ["dave", "carol", "nobody", "bob", "alice", "bob"]
        assert store.get_stages(iter(ids)) == memory.get_stages(ids)
        assert list(store.get_stages(ids)) == list(memory.get_stages(ids)) == [
            "dave", "carol", "bob", "alice"
        ]  # fmt: skip
        assert store.get_stages(ids)["bob"] == "sleeping"
        assert store.as_of == memory.as_of == at(2)

    def test_many_ids_in_one_call(self, open_on_new_file: Opener) -> None:
        store = open_on_new_file(sa.SQLiteStageStore)
        stages = {f"c{i}": "active" if i % 2 else "sleeping" for i in range(50_000)}
        store.put_stages(stages, at(1))
        assert store.get_stages(reversed(list(stages))) == dict(reversed(list(stages.items())))

    def test_refuses_a_naive_as_of(self, open_on_new_file: Opener) -> None:
        store = open_on_new_file(sa.SQLiteStageStore)
        with pytest.raises(NaiveDatetimeError):
            store.put_stages({"alice": "new"}, dt.datetime(2026, 1, 1))
        with pytest.raises(NaiveDatetimeError):
            InMemoryStageStore().put_stages({"alice": "new"}, dt.datetime(2026, 1, 1))
        assert store.get_stages(["alice"]) == {}
        assert store.as_of is None

    def test_survives_reopening(self, open_on_new_file: Opener) -> None:
        store = open_on_new_file(sa.SQLiteStageStore)
        store.put_stages({"alice": "new", LONG_ID: "沉睡"}, at(1, microseconds=7))
        with reopened(store) as again:
            assert again.get_stages(["alice", LONG_ID]) == {"alice": "new", LONG_ID: "沉睡"}
            assert again.as_of == at(1, microseconds=7)


class TestContacts:
    """The messages the brand sent are ``SENT`` touchpoints in the log: no table of their own."""

    def sent(self) -> list[Touchpoint]:
        return [
            touch("m1", "bob", at(2), TouchKind.SENT, channel=Channel.SMS, promotion=True),
            touch("m2", "alice", at(1), TouchKind.SENT),
            touch("m3", "carol", at(2), TouchKind.SENT),  # same instant as bob's: after it
            touch("m4", "alice", at(3, microseconds=7), TouchKind.SENT, channel=Channel.APP),
            touch("m5", "dave", at(2), TouchKind.SENT, channel=Channel.DOUYIN),  # not owned
        ]

    def test_read_back_as_the_snapshots_contacts(self, open_on_new_file: Opener) -> None:
        log = open_on_new_file(sa.SQLiteTouchpointLog)
        log.append(self.sent())
        snapshots = []
        for source in (reopened(log), InMemoryTouchpointLog(self.sent())):
            pool = Pool(TENANT, utc_offset=dt.timedelta(hours=8))
            pool.ingest([customer(c) for c in ("alice", "bob", "carol", "dave")])
            assert pool.ingest_log(source).touchpoints_accepted == 5
            snapshots.append(pool.snapshot(at(4)))
            if isinstance(source, sa.SQLiteTouchpointLog):
                source.close()
        stored, memory = snapshots
        assert_snapshots_equal(stored, memory)
        contacts = stored.contacts
        assert stored.customer_ids[contacts.row].tolist() == ["bob", "alice", "carol", "alice"]
        assert contacts.promotion.tolist() == [True, False, False, False]
        assert stored.contact_counts("month").sum(axis=1).tolist() == [2, 1, 1, 0]


class TestCommissionLedger:
    def test_like_the_in_memory_ledger(self, open_on_new_file: Opener) -> None:
        ledger, memory = open_on_new_file(sa.SQLiteCommissionLedger), InMemoryCommissionLedger()
        assert ledger.entries() == []
        first = [
            entry("e1", at(2), amount=Money.of("10.00")),
            entry("e2", at(1), beneficiary_id="bob", tier=2, amount=Money.of("3.00")),
            entry("e3", at(2), order_id="o2", amount=Money.of("0.01")),
        ]
        # e1 becomes payable, then paid; e4 arrives at the same instant as e1 and e3.
        later = [
            attrs.evolve(first[0], status=CommissionStatus.PAYABLE),
            entry("e4", at(2), beneficiary_id="bob", order_id="o3"),
            attrs.evolve(first[0], status=CommissionStatus.PAID),
        ]
        for target in (ledger, memory):
            target.post(first)
            target.post(iter(later))
        for beneficiary in (None, "alice", "bob", "nobody"):
            assert ledger.entries(beneficiary) == memory.entries(beneficiary)
        assert [e.id for e in ledger.entries()] == ["e2", "e1", "e3", "e4"]
        assert ledger.entries("alice")[0].status is CommissionStatus.PAID

    def test_survives_reopening(self, open_on_new_file: Opener) -> None:
        ledger = open_on_new_file(sa.SQLiteCommissionLedger)
        entries = [
            entry(f"e{i}", at(i), amount=Money.of("0.1") + Money.of("0.2"), status=status)
            for i, status in enumerate(CommissionStatus)
        ]
        ledger.post(entries)
        with reopened(ledger) as again:
            assert again.entries() == entries
            assert sum((e.amount for e in again.entries()), Money(0)) == Money.of("1.20")


# ---------------------------------------------------------------------------- round trips
@pytest.fixture(scope="module")
def simulated() -> SimulatedPool:
    return simulate_pool(300, seed=11)


def new_pool(sim: SimulatedPool) -> Pool:
    p = sim.params
    return Pool(p.tenant, currency=p.currency, utc_offset=p.utc_offset)


def test_a_simulated_pool_round_trips_through_a_file(
    simulated: SimulatedPool, tmp_path: Path
) -> None:
    customers, touchpoints = simulated.customer_objects(), simulated.touchpoint_objects()
    # the data exercises every field a host stores
    assert any(c.referrer_id for c in customers)
    assert any(c.agent_id for c in customers)
    assert any(c.tags for c in customers)
    assert any(c.attributes for c in customers)
    assert any(c.consent for c in customers)
    assert any(t.promotion for t in touchpoints)
    assert any(t.discount for t in touchpoints)
    assert any(t.agent_id for t in touchpoints)
    kinds = {t.kind for t in touchpoints}
    assert {TouchKind.PURCHASED, TouchKind.REFUNDED, TouchKind.INVITED} <= kinds
    assert any(t.related_customer_id for t in touchpoints)

    path = tmp_path / "pool.sqlite3"
    with sa.SQLiteStorage(path) as storage:
        storage.customers.put(customers)
        for start in range(0, len(touchpoints), 5_000):  # as a host would, in batches
            storage.touchpoints.append(touchpoints[start : start + 5_000])

    direct = simulated.pool()
    with sa.SQLiteStorage(path) as storage:
        assert_same_customers(list(storage.customers), customers)
        assert storage.touchpoints.read_since(0) == (touchpoints, len(touchpoints))
        rebuilt = new_pool(simulated)
        report = rebuilt.ingest(storage.customers)
        assert (report.customers_added, report.rejected) == (len(customers), ())
        log_report = rebuilt.ingest_log(storage.touchpoints, batch_size=997)
    assert log_report.touchpoints_accepted == len(touchpoints)
    assert (log_report.duplicate_touchpoints.size, log_report.rejected) == (0, ())
    assert rebuilt.log_cursor == len(touchpoints)

    assert_same_customers(rebuilt.customers(), direct.customers())
    for name in ("customer", "at", "kind", "channel", "flags", "amount_minor", "discount_minor",
                 "related", "agent"):  # fmt: skip
        assert_columns_equal(
            f"events.{name}", getattr(rebuilt.events, name), getattr(direct.events, name)
        )
    for as_of in (simulated.as_of, simulated.params.start + dt.timedelta(days=100)):
        assert_snapshots_equal(rebuilt.snapshot(as_of), direct.snapshot(as_of))
    as_of = simulated.as_of
    assert sa.snapshot_differences(rebuilt.snapshot(as_of), direct.snapshot(as_of)) == []


def test_unicode_long_ids_exact_money_and_aware_times(tmp_path: Path) -> None:
    joined = dt.datetime(2026, 1, 1, 23, 59, 59, 999_999, tzinfo=TZ8)  # 15:59:59 UTC
    emoji = "顾客🙂👩 ñ"
    customers = [
        Customer(
            LONG_ID,
            "品牌🌸",
            joined,
            source="xiaohongshu",
            attributes={"城市": "上海", "年龄": 28, "🎂": "0101"},
            tags={"会员", "🔥koc", "a" * 256},
            consent=["wechat", "mini_program"],
            agent_id="导购-" + "店" * 253,
        ),
        Customer(emoji, "品牌🌸", joined, referrer_id=LONG_ID),
    ]
    touchpoints = [
        Touchpoint("单" * 256, "品牌🌸", emoji, joined, "mini_program", "purchased",
                   amount=Money.of(0.1), related_customer_id=None),
        Touchpoint("💳", "品牌🌸", emoji, joined + dt.timedelta(microseconds=1), "wecom",
                   "purchased", amount=Money.of(0.2), discount=Money.of(0.3)),
        Touchpoint("¥", "品牌🌸", LONG_ID, joined, "taobao", "purchased",
                   amount=Money(2**53 + 1, "CNY")),
        Touchpoint("円", "品牌🌸", LONG_ID, joined, "taobao", "purchased",
                   amount=Money.of("1234", "JPY")),
        Touchpoint("消息📨", "品牌🌸", emoji, joined, "wechat", "sent", promotion=True),
    ]  # fmt: skip
    path = tmp_path / "统一码 🙂.sqlite3"
    with sa.SQLiteStorage(path) as storage:
        storage.customers.put(customers)
        storage.touchpoints.append(touchpoints)
        storage.stages.put_stages({emoji: "新客"}, joined)
        storage.ledger.post([entry("佣金🙂", joined, beneficiary_id=LONG_ID,
                                   amount=Money.of(0.1) + Money.of(0.2))])  # fmt: skip

    with sa.SQLiteStorage(path) as storage:
        assert_same_customers(list(storage.customers), customers)
        back, _ = storage.touchpoints.read_since(0)
        (commission,) = storage.ledger.entries(LONG_ID)
        assert storage.stages.get_stages([emoji]) == {emoji: "新客"}
        stages_as_of = storage.stages.as_of
    assert back == touchpoints
    assert (back[4].kind, back[4].promotion) == (TouchKind.SENT, True)
    # money is exact: 0.1 + 0.2 yuan is 0.3 yuan, and 2**53 + 1 fen survives (a float would not)
    assert back[0].amount is not None
    assert back[1].amount is not None
    assert back[0].amount + back[1].amount == Money.of("0.3") == back[1].discount
    assert back[2].amount == Money(2**53 + 1, "CNY")
    assert back[3].amount == Money(1234, "JPY")
    assert commission.amount == Money(30, "CNY")
    # instants come back aware, equal as instants, to the microsecond
    for when in (customers[0].joined_at, back[0].at, back[4].at, commission.at, stages_as_of):
        assert when is not None
        assert when.utcoffset() == dt.timedelta(0)
        assert when == joined
        assert when.astimezone(TZ8).isoformat() == "2026-01-01T23:59:59.999999+08:00"
    assert back[1].at - back[0].at == dt.timedelta(microseconds=1)


# ---------------------------------------------------------------------------- incremental reads
def test_ingest_log_reads_only_what_was_appended_since(
    simulated: SimulatedPool, tmp_path: Path
) -> None:
    customers, touchpoints = simulated.customer_objects(), simulated.touchpoint_objects()
    half = len(touchpoints) // 2
    path = tmp_path / "pool.sqlite3"
    pool, reference, memory = new_pool(simulated), new_pool(simulated), InMemoryTouchpointLog()
    with sa.SQLiteStorage(path) as storage:
        storage.customers.put(customers)
        storage.touchpoints.append(touchpoints[:half])
        memory.append(touchpoints[:half])
        pool.ingest(storage.customers)
        reference.ingest(customers)
        first = pool.ingest_log(storage.touchpoints, batch_size=1_000)
    assert first.touchpoints_accepted == half
    assert pool.log_cursor == half

    # The host appends more, including a touchpoint seen before and one of an unknown customer;
    # the pool reads on from its cursor through a new connection.
    late = [*touchpoints[half:], touchpoints[3], touch("stray", "nobody", at(0))]
    with sa.SQLiteStorage(path) as storage:
        storage.touchpoints.append(late)
        memory.append(late)
        second = pool.ingest_log(storage.touchpoints, batch_size=1_000)
        third = pool.ingest_log(storage.touchpoints)
    assert second.touchpoints_accepted == len(touchpoints) - half
    # positions among the touchpoints this call read
    assert second.duplicate_touchpoints.tolist() == [len(touchpoints) - half]
    assert [r.index for r in second.rejected] == [len(touchpoints) - half + 1]
    assert [r.id for r in second.rejected] == ["stray"]
    assert third.touchpoints_accepted == 0
    assert (third.duplicate_touchpoints.size, third.rejected) == (0, ())
    assert pool.log_cursor == len(touchpoints) + 2

    # what one read of the whole in-memory log reports, its positions counted from the start
    want = reference.ingest_log(memory, batch_size=1_000)
    assert want.touchpoints_accepted == len(touchpoints)
    assert (want.duplicate_touchpoints - half).tolist() == second.duplicate_touchpoints.tolist()
    assert [r.index - half for r in want.rejected] == [r.index for r in second.rejected]
    assert reference.log_cursor == pool.log_cursor
    assert_snapshots_equal(
        pool.snapshot(simulated.as_of), simulated.pool().snapshot(simulated.as_of)
    )


def test_ingest_log_reports_like_the_in_memory_log(tmp_path: Path) -> None:
    batches = [
        [purchase("t1", "alice", at(1), "9.90"), touch("t2", "bob", at(1))],
        [touch("t1", "alice", at(2)), touch("t3", "nobody", at(2)), touch("t4", "alice", at(3))],
        [],
        [touch("t4", "alice", at(3)), purchase("t5", "bob", at(4), "0.10")],
    ]
    with sa.SQLiteTouchpointLog(tmp_path / "log.sqlite3") as log:
        memory = InMemoryTouchpointLog()
        pools = [Pool(TENANT), Pool(TENANT)]
        for p in pools:
            p.ingest([customer("alice"), customer("bob")])
        for batch in batches:
            log.append(batch)
            memory.append(batch)
            got = pools[0].ingest_log(log, batch_size=2)
            want = pools[1].ingest_log(memory, batch_size=2)
            assert got.touchpoints_accepted == want.touchpoints_accepted
            assert got.duplicate_touchpoints.tolist() == want.duplicate_touchpoints.tolist()
            assert got.rejected == want.rejected
            assert pools[0].log_cursor == pools[1].log_cursor
    assert_snapshots_equal(pools[0].snapshot(at(9)), pools[1].snapshot(at(9)))


# ---------------------------------------------------------------------------- the script
def test_main_round_trips_a_simulated_pool(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "pool.sqlite3"
    assert sa.main([str(path), "--customers", "200"]) == 0
    out = capsys.readouterr().out
    assert "customers:   200 added, 0 rejected" in out
    assert "the snapshots are equal in all" in out
    with sa.SQLiteStorage(path) as storage:
        assert len(storage.customers) == 200

    # an existing file is kept unless --replace says otherwise
    assert sa.main([str(path), "--customers", "50"]) == 2
    assert "--replace" in capsys.readouterr().err
    assert sa.main([str(path), "--customers", "50", "--replace"]) == 0
    with sa.SQLiteStorage(path) as storage:
        assert len(storage.customers) == 50


def test_main_writes_pool_sqlite3_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert sa.main(["--customers", "30"]) == 0
    assert (tmp_path / "pool.sqlite3").is_file()
    assert "the snapshots are equal" in capsys.readouterr().out
