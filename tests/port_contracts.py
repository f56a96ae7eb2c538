"""Contract tests of the ports, for any adapter.

Each ``check_*`` function takes a factory that returns a new, empty adapter and asserts the
behaviour privdomain relies on. The in-memory adapters pass them (tests/test_ports_memory.py);
a host adapter proves it can stand in for them by passing them too::

    from port_contracts import check_touchpoint_log

    def test_sqlite_log(tmp_path):
        check_touchpoint_log(lambda: SqliteTouchpointLog(tmp_path / f"{uuid4()}.db"))

The factory is called several times per check; each call must give an adapter that shares no
state with the others.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from privdomain import Channel, Customer, Money, TouchKind, Touchpoint
from privdomain.errors import NaiveDatetimeError
from privdomain.ports import (
    CommissionEntry,
    CommissionLedger,
    CommissionStatus,
    CustomerStore,
    StageStore,
    TouchpointLog,
    get_entries,
)

__all__ = [
    "check_commission_ledger",
    "check_customer_store",
    "check_stage_store",
    "check_touchpoint_log",
]

TENANT = "brand"
TZ8 = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 1, 1, tzinfo=TZ8)


def _at(days: float = 0, **kwargs: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days, **kwargs)


def _customer(cid: str, **kwargs: Any) -> Customer:
    return Customer(cid, TENANT, kwargs.pop("joined_at", T0), **kwargs)


def _touch(
    tid: str, cid: str = "c1", days: float = 0, *, seconds: float = 0, **kwargs: Any
) -> Touchpoint:
    kwargs.setdefault("channel", Channel.WECOM)
    kwargs.setdefault("kind", TouchKind.VISITED)
    return Touchpoint(tid, TENANT, cid, _at(days, seconds=seconds), **kwargs)


# ---------------------------------------------------------------------------------- customers
def check_customer_store(make: Callable[[], CustomerStore]) -> None:
    """Put inserts or replaces by id; get and iteration give back exactly what was put."""
    store = make()
    assert isinstance(store, CustomerStore)
    assert len(store) == 0
    assert list(store) == []
    assert store.get("c1") is None

    rich = _customer(
        "张三-🦊",
        joined_at=dt.datetime(2026, 1, 1, 12, 30, 15, 123456, tzinfo=TZ8),
        source=Channel.DOUYIN,
        attributes={"age": 31, "region": "华东", "vip": True, "score": 0.25},
        tags={"vip", "新客"},
        consent={Channel.WECOM, Channel.SMS},
        referrer_id="c1",
        agent_id="导购-1",
    )
    long_id = _customer("x" * 256)
    plain = _customer("c1")
    store.put([plain, rich])
    store.put(iter([long_id]))  # any iterable
    assert len(store) == 3
    assert [c.id for c in store] == ["c1", "张三-🦊", "x" * 256]  # insertion order
    for original in (plain, rich, long_id):
        got = store.get(original.id)
        assert got is not None
        assert got.same_data(original), (got, original)

    changed = _customer("c1", tags={"lapsed"}, consent={Channel.GROUP})
    store.put([changed])
    assert len(store) == 3
    assert {c.id for c in store} == {"c1", "张三-🦊", "x" * 256}
    got = store.get("c1")
    assert got is not None
    assert got.same_data(changed)

    store.put([])
    assert len(store) == 3
    assert len(make()) == 0, "a new store must not share state with an earlier one"


# ---------------------------------------------------------------------------------- touchpoints
def check_touchpoint_log(make: Callable[[], TouchpointLog]) -> None:
    """Append-only, in order; read_since(cursor, limit) reads on from any cursor it returned."""
    log = make()
    assert isinstance(log, TouchpointLog)
    nothing, start = log.read_since(0)
    assert list(nothing) == []
    assert list(log.read_since(start)[0]) == []

    first = [
        _touch("t1", days=1, kind=TouchKind.PURCHASED, amount=Money.of("99.90"),
               discount=Money.of("10.00"), promotion=True, channel=Channel.MINI_PROGRAM),
        _touch("订单-😀", "张三", days=1, seconds=0.25),
        _touch("t3", days=2, kind=TouchKind.INVITED, related_customer_id="张三",
               agent_id="导购-1"),
    ]  # fmt: skip
    after_first = log.append(first)
    read, cursor = log.read_since(0)
    assert list(read) == first
    assert cursor == after_first
    assert list(log.read_since(after_first)[0]) == []
    assert log.read_since(after_first)[1] == after_first

    # in pages
    page, cursor = log.read_since(0, 2)
    assert list(page) == first[:2]
    page, cursor = log.read_since(cursor, 2)
    assert list(page) == first[2:]
    assert cursor == after_first
    page, cursor = log.read_since(cursor, 2)
    assert (list(page), cursor) == ([], after_first)
    page, cursor = log.read_since(0, 0)
    assert (list(page), cursor) == ([], 0)

    # appending moves the end on; a reader continues where it stopped
    again = _touch("t1", days=9)  # the log keeps repeats: deduplication is the pool's job
    # a message the brand sent is a touchpoint like any other: the contacts caps read
    sent = _touch("t4", days=3, kind=TouchKind.SENT, channel=Channel.SMS, promotion=True)
    later = [sent, again]
    after_later = log.append(iter(later))
    assert after_later > after_first
    read, cursor = log.read_since(after_first)
    assert list(read) == later
    assert cursor == after_later
    assert log.append([]) == after_later
    assert list(log.read_since(0)[0]) == [*first, *later]

    assert list(make().read_since(0)[0]) == [], "a new log must not share state"


# ---------------------------------------------------------------------------------- stages
def check_stage_store(make: Callable[[], StageStore]) -> None:
    """The latest stage of each customer, replaced by id; customers without one are left out."""
    store = make()
    assert isinstance(store, StageStore)
    assert store.get_stages(["c1"]) == {}
    assert store.get_stages([]) == {}

    store.put_stages({"c1": "new", "张三": "active"}, _at(1))
    assert store.get_stages(["c1", "张三", "nobody"]) == {"c1": "new", "张三": "active"}
    assert store.get_stages(iter(["张三"])) == {"张三": "active"}

    store.put_stages({"c1": "sleeping"}, _at(2))
    assert store.get_stages(["c1", "张三"]) == {"c1": "sleeping", "张三": "active"}
    store.put_stages({}, _at(3))
    assert store.get_stages(["c1", "张三"]) == {"c1": "sleeping", "张三": "active"}

    with pytest.raises(NaiveDatetimeError):
        store.put_stages({"c1": "lost"}, dt.datetime(2026, 1, 4))
    assert make().get_stages(["c1"]) == {}, "a new store must not share state"


# ---------------------------------------------------------------------------------- commissions
def check_commission_ledger(make: Callable[[], CommissionLedger]) -> None:
    """Entries by id; posting an id again replaces it; read oldest first, exact to the fen."""
    ledger = make()
    assert isinstance(ledger, CommissionLedger)
    assert ledger.entries() == []

    def entry(eid: str, who: str, days: float, status: CommissionStatus, fen: int = 999) -> Any:
        return CommissionEntry(
            id=eid,
            order_id=f"order-{eid}",
            beneficiary_id=who,
            tier=1 if who == "agent-1" else 2,
            amount=Money(fen),
            status=status,
            at=_at(days),
        )

    first = entry("e1", "agent-1", 2, CommissionStatus.FROZEN, fen=1)
    second = entry("e2", "推荐人", 1, CommissionStatus.FROZEN, fen=12_345_678_901)
    ledger.post([first, second])
    assert ledger.entries() == [second, first]
    assert ledger.entries("agent-1") == [first]
    assert ledger.entries("nobody") == []

    payable = entry("e1", "agent-1", 2, CommissionStatus.PAYABLE, fen=1)
    ledger.post(iter([payable]))
    assert ledger.entries() == [second, payable]
    assert ledger.entries("agent-1")[0].status is CommissionStatus.PAYABLE

    third = entry("e3", "agent-1", 3, CommissionStatus.REVERSED)
    ledger.post([third])
    assert ledger.entries("agent-1") == [payable, third]
    assert sum(e.amount.minor for e in ledger.entries()) == 1 + 12_345_678_901 + 999

    # looked up by id: through the port's own get_entries if it has one, else through entries()
    assert get_entries(ledger, ["e3", "e1", "nobody"]) == {"e1": payable, "e3": third}
    assert get_entries(ledger, iter(["e2"])) == {"e2": second}
    assert get_entries(ledger, []) == {}
    own = getattr(ledger, "get_entries", None)
    if own is not None:
        assert dict(own(["e1", "e2", "nobody"])) == {"e1": payable, "e2": second}
        assert dict(own([])) == {}

    # posted out of time order, re-dated, moved to another beneficiary: read oldest first,
    # entries of the same instant in the order their ids were first posted
    early = entry("e4", "agent-1", 0.5, CommissionStatus.FROZEN, fen=7)
    tie = entry("e5", "推荐人", 0.5, CommissionStatus.FROZEN, fen=8)
    ledger.post([early, tie])
    assert ledger.entries() == [early, tie, second, payable, third]
    moved = attrs.evolve(second, beneficiary_id="agent-1", at=_at(4))
    ledger.post([moved])
    assert ledger.entries() == [early, tie, payable, third, moved]
    assert ledger.entries("agent-1") == [early, payable, third, moved]
    assert ledger.entries("推荐人") == [tie]
    assert get_entries(ledger, ["e2"]) == {"e2": moved}
    assert make().entries() == [], "a new ledger must not share state"
