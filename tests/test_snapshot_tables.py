"""The snapshot's relational tables (orders, invitations, contacts), calendar contact counts,
row lookups and partitions (take / concat)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from helpers import TENANT, at, customer, new_pool, purchase, touch
from hypothesis import given, settings
from hypothesis import strategies as st

from privdomain import Pool, ProfileChanges, Snapshot
from privdomain.domain.features import _value_at
from privdomain.domain.tables import FieldHistory
from privdomain.errors import UnknownCustomerError, ValidationError
from privdomain.simulate import simulate_pool


@pytest.fixture
def pool() -> Pool:
    p = new_pool()
    report = p.ingest(
        [
            customer("c1", agent_id="guide-A"),
            customer("c2", at(1), referrer_id="c1"),
            customer("c3", at(20)),
            purchase("t1", "c1", at(2), "100.00"),
            purchase("t2", "c2", at(3), "50.00", agent_id="guide-B"),
            purchase("t3", "c1", at(25), "30.00"),
            touch("i1", "c1", at(4), "invited", related_customer_id="c3"),
            touch("s1", "c1", at(9, hours=1), "sent", channel="wecom"),
            touch("s2", "c1", at(9, hours=2), "sent", channel="wecom", promotion=True),
            touch("s3", "c2", at(5), "sent", channel="sms"),
            touch("s4", "c2", at(-200), "sent", channel="sms"),
        ]
    )
    assert report.ok, report.rejected
    # c1 is bound to another agent from day 10 on
    changes = ProfileChanges.from_arrays(
        customer_id=["c1"], tenant=TENANT, at=[at(10)], agent_id=["guide-C"]
    )
    assert pool_ingest_ok(p, changes)
    return p


def pool_ingest_ok(pool: Pool, batch: object) -> bool:
    return pool.ingest(batch).ok  # type: ignore[arg-type]


def test_orders_are_exact_and_as_of(pool: Pool) -> None:
    snap = pool.snapshot(at(10, hours=12))
    orders = snap.order_log
    assert orders.order_id.tolist() == ["t1", "t2"]  # t3 is later than as_of
    assert snap.customer_ids[orders.row].tolist() == ["c1", "c2"]
    assert orders.gross_minor.tolist() == [10_000, 5_000]
    assert orders.gross_minor.dtype == np.int64
    # the order of c1 (day 2) falls under guide-A, bound then; c2's names its own agent
    names = np.array([*snap.agent_names, None], dtype=object)
    assert names[orders.agent].tolist() == ["guide-A", "guide-B"]
    later = pool.snapshot(at(30))
    assert later.order_log.order_id.tolist() == ["t1", "t2", "t3"]  # in log order
    names = np.array([*later.agent_names, None], dtype=object)
    assert names[later.order_log.agent].tolist() == ["guide-A", "guide-B", "guide-C"]


def test_the_agent_binding_is_as_of(pool: Pool) -> None:
    assert pool.snapshot(at(9)).agent_ids[0] == "guide-A"
    assert pool.snapshot(at(11)).agent_ids[0] == "guide-C"


def test_invitations_name_invitees_before_they_join(pool: Pool) -> None:
    early = pool.snapshot(at(5)).invitations
    assert early.invitee_id.tolist() == ["c3"]
    assert early.invitee_row.tolist() == [-1]  # c3 joins on day 20
    late = pool.snapshot(at(21))
    assert late.invitations.invitee_row.tolist() == [late.row("c3")]


def test_contacts_in_calendar_windows_and_recent_history(pool: Pool) -> None:
    snap = pool.snapshot(at(9, hours=3))  # 9 January 2026, 03:00 in UTC+8, a Friday
    wecom, sms = 1, 7
    today, week, month = (snap.contact_counts(w) for w in ("day", "week", "month"))
    assert today[snap.row("c1"), wecom] == 2
    assert week[snap.row("c1"), wecom] == 2
    assert month[snap.row("c2"), sms] == 1  # s4 was months ago
    assert today[snap.row("c2"), sms] == 0
    with pytest.raises(ValidationError):
        snap.contact_counts("year")
    # the recent history lists the last 92 days only, with the promotion flag
    assert snap.customer_ids[snap.contacts.row].tolist() == ["c1", "c1", "c2"]
    assert snap.contacts.promotion.tolist() == [False, True, False]


def test_a_week_starts_on_monday() -> None:
    p = new_pool()
    p.ingest([customer("c1", at(-30))])
    # 2026-01-05 is a Monday; in UTC+8 its midnight is 2026-01-04 16:00 UTC
    monday = dt.datetime(2026, 1, 5, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    p.ingest(
        [
            touch("a", "c1", monday - dt.timedelta(seconds=1), "sent"),
            touch("b", "c1", monday, "sent"),
        ]
    )
    snap = p.snapshot(monday + dt.timedelta(days=2))
    assert snap.contact_counts("week")[0].sum() == 1
    assert snap.contact_counts("month")[0].sum() == 2


def test_row_is_a_lookup(pool: Pool) -> None:
    snap = pool.snapshot(at(30))
    assert [snap.row(c) for c in ("c3", "c1")] == [2, 0]
    assert snap.rows(["c2", "c1"]).tolist() == [1, 0]
    with pytest.raises(UnknownCustomerError):
        snap.row("nobody")
    with pytest.raises(UnknownCustomerError):
        snap.row(["unhashable"])  # type: ignore[arg-type]


def test_take_and_concat_give_back_the_snapshot() -> None:
    sim = simulate_pool(400, seed=3)
    snap = sim.pool().snapshot(sim.as_of)
    rng = np.random.default_rng(0)
    rows = rng.permutation(len(snap))
    parts = [snap.take(np.sort(chunk)) for chunk in np.array_split(rows, 3)]
    whole = Snapshot.concat(parts)
    order = np.argsort(whole.index)
    again = whole.take(order)
    for name in ("customer_ids", "orders", "gross_spend", "referrer_row"):
        assert np.array_equal(getattr(again, name), getattr(snap, name)), name
    assert np.array_equal(again.contact_counts("month"), snap.contact_counts("month"))
    assert again.order_log.gross_minor.sum() == snap.order_log.gross_minor.sum()

    def orders(s: Snapshot) -> list[tuple[str, int, int]]:
        table = s.order_log
        who = s.customer_ids[table.row].tolist()
        return sorted(zip(who, table.order_id.tolist(), table.gross_minor.tolist(), strict=True))

    assert orders(again) == orders(snap)
    # a part's tables only hold its own customers' entries
    for part in parts:
        assert set(part.customer_ids[part.order_log.row]) <= set(part.customer_ids)


def test_take_and_concat_refuse_bad_input() -> None:
    sim = simulate_pool(50, seed=4)
    snap = sim.pool().snapshot(sim.as_of)
    with pytest.raises(ValidationError):
        snap.take(np.ones(3, dtype=bool))
    with pytest.raises(ValidationError):
        snap.take([0, 0])
    with pytest.raises(ValidationError):
        snap.take([len(snap)])
    with pytest.raises(ValidationError):
        Snapshot.concat([snap, snap])  # not disjoint
    with pytest.raises(ValidationError):
        Snapshot.concat([])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 20), st.integers(-1, 3)), max_size=30),
    st.lists(st.tuples(st.integers(0, 6), st.integers(-1, 22)), min_size=1, max_size=20),
)
def test_the_agent_at_an_instant_is_the_latest_change_before_it(
    changes: list[tuple[int, int, int]], queries: list[tuple[int, int]]
) -> None:
    # a customer's changes are recorded in time order, as the pool records them
    changes = sorted(changes, key=lambda c: (c[0], c[1]))
    order = np.random.default_rng(len(changes)).permutation(len(changes))
    log = [changes[i] for i in order]
    log.sort(key=lambda c: c[1])  # log order: by time across customers, stable per customer
    customer = np.array([c for c, _, _ in log], dtype=np.int32)
    history = FieldHistory(
        customer=customer,
        at=np.array([t for _, t, _ in log], dtype=np.int64),
        value=np.array([v for _, _, v in log], dtype=np.int32),
        overwrites=bool(len(set(customer.tolist())) < customer.size),
    )
    asked = np.array([c for c, _ in queries], dtype=np.int64)
    when = np.array([t for _, t in queries], dtype=np.int64)
    got = _value_at(history, asked, when)
    for k, (c, t) in enumerate(queries):
        seen = [v for cc, tt, v in log if cc == c and tt <= t]
        assert got[k] == (seen[-1] if seen else -1), (k, c, t, log)


def test_calendar_windows_are_the_customers_own() -> None:
    from privdomain import Customer

    p = new_pool()  # business days in UTC+8
    utc8 = dt.timezone(dt.timedelta(hours=8))
    joined = dt.datetime(2026, 3, 1, tzinfo=utc8)
    assert p.ingest(
        [
            Customer("cn", TENANT, joined),
            Customer("la", TENANT, joined, time_zone="America/Los_Angeles"),
        ]
    ).ok
    # 2026-03-10 06:00 UTC: already 14:00 on the 10th in China, still 23:00 on the 9th in LA
    sent = dt.datetime(2026, 3, 10, 6, tzinfo=dt.UTC)
    assert p.ingest(
        [
            touch("m1", "cn", sent - dt.timedelta(hours=7), "sent"),  # 07:00 on the 10th in China
            touch("m2", "la", sent - dt.timedelta(hours=7), "sent"),  # 16:00 on the 9th in LA
        ]
    ).ok
    snap = p.snapshot(sent)
    today = snap.contact_counts("day").sum(axis=1)
    assert today.tolist() == [1, 1]
    later = p.snapshot(sent + dt.timedelta(hours=2))  # 01:00 on the 10th in LA: a new day
    assert later.contact_counts("day").sum(axis=1).tolist() == [1, 0]
    names = np.array([*later.time_zones, None], dtype=object)
    assert names[later.time_zone].tolist() == [None, "America/Los_Angeles"]
    assert p.customer("la").time_zone == "America/Los_Angeles"


def test_a_time_zone_that_does_not_exist_is_refused() -> None:
    from privdomain import Customer, CustomerColumns
    from privdomain.errors import InvalidRecordError

    with pytest.raises(InvalidRecordError):
        Customer("x", TENANT, at(0), time_zone="Mars/Olympus_Mons")
    with pytest.raises(ValidationError):
        CustomerColumns.from_arrays(
            id=["x"], tenant=TENANT, joined_at=[at(0)], time_zone=["Asia/Nowhere"]
        )
