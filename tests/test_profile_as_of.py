"""Profiles are as of: consent, agent, store, tags and attributes have histories, and nothing
dated after ``t`` changes what a snapshot as of ``t`` shows.

- The as-of property, hypothesis-generated: a snapshot as of ``t`` is the same, every feature
  of it, before and after ingesting any mix of customers who join after ``t``, updates and
  :class:`ProfileChanges` dated after ``t`` and touchpoints after ``t``.
- The profile columns of snapshots equal the slow reference (``tests/reference.py``) for random
  histories of whole-record updates and partial changes, given as objects or columns.
- Regressions: the 10 January snapshot that must not move, updates without ``updated_at``,
  back-dated updates, changes of unknown customers, a vectorised change of 200,000 customers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from helpers import CHINA, T0, TENANT, assert_snapshots_equal, new_pool
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import (
    KEEP,
    Profile,
    ProfileUpdate,
    assert_records_match,
    profile_as_of,
    reference_records,
)

from privdomain import (
    OWNED_CHANNELS,
    Channel,
    Customer,
    CustomerColumns,
    Money,
    Pool,
    ProfileChanges,
    RejectReason,
    TouchKind,
    Touchpoint,
)
from privdomain.errors import PrivdomainError, ValidationError

PROPERTY = settings(max_examples=60, deadline=None)
STEP = dt.timedelta(hours=6)
NAMES = ["c0", "c1", "张三", "🦊", "c4", "c5"]
CONSENTS = [Channel.WECOM, Channel.SMS, Channel.GROUP]
AGENTS = [None, "guide-A", "guide-B", "导购C"]
STORES = [None, "s1", "s2"]
TAGS = ["vip", "新客", "kol"]
ATTRIBUTE_VALUES = {"age": [30, 31, 30.0, True], "region": ["华东", "华南"]}
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def grid(k: int, jitter: int = 0) -> dt.datetime:
    return T0 + k * STEP + dt.timedelta(seconds=jitter)


def instants(first: int, last: int) -> st.SearchStrategy[dt.datetime]:
    return st.builds(grid, st.integers(first, last), st.sampled_from([0, 0, 1, -1]))


def epoch_us(when: dt.datetime) -> int:
    return (when - EPOCH) // dt.timedelta(microseconds=1)


def records_with_stores(pool: Pool, as_of: dt.datetime) -> list[dict[str, Any]]:
    snap = pool.snapshot(as_of)
    records = snap.to_records()
    for record, store in zip(records, snap.store_ids.tolist(), strict=True):
        record["store_id"] = store
    return records


# ------------------------------------------------------------------------------ generators
@st.composite
def profiles(draw: st.DrawFn) -> dict[str, Any]:
    """The profile fields of a :class:`Customer`."""
    attributes = {
        name: draw(st.sampled_from(values))
        for name, values in ATTRIBUTE_VALUES.items()
        if draw(st.booleans())
    }
    return {
        "consent": draw(st.sets(st.sampled_from(CONSENTS))),
        "agent_id": draw(st.sampled_from(AGENTS)),
        "store_id": draw(st.sampled_from(STORES)),
        "tags": draw(st.sets(st.sampled_from(TAGS))),
        "attributes": attributes,
    }


@st.composite
def partial_change(draw: st.DrawFn, cid: str, at: dt.datetime) -> ProfileUpdate:
    """A change of some fields of ``cid``'s profile."""
    return ProfileUpdate(
        cid,
        at,
        consent=draw(st.dictionaries(st.sampled_from(CONSENTS), st.booleans(), max_size=2)),
        agent_id=draw(st.sampled_from([KEEP, KEEP, *AGENTS])),
        store_id=draw(st.sampled_from([KEEP, KEEP, *STORES])),
        tags=draw(st.dictionaries(st.sampled_from(TAGS), st.booleans(), max_size=2)),
        attributes=draw(
            st.dictionaries(
                st.sampled_from(sorted(ATTRIBUTE_VALUES)),
                st.sampled_from([None, *ATTRIBUTE_VALUES["age"]]),
                max_size=1,
            )
        ),
    )


@st.composite
def histories(
    draw: st.DrawFn, last: int = 20
) -> tuple[list[Customer], list[Customer | ProfileUpdate]]:
    """Customers and a history of updates that the pool accepts in full: each customer's
    updates are dated in order (ties included) from when their first record took effect."""
    ids = draw(st.lists(st.sampled_from(NAMES), unique=True, min_size=1, max_size=5))
    customers: list[Customer] = []
    cursor: dict[str, int] = {}
    for cid in ids:
        joined = draw(st.integers(0, last // 2))
        late = draw(st.none() | st.integers(joined, last // 2 + 2))
        customers.append(
            Customer(
                cid,
                TENANT,
                grid(joined),
                source=Channel.DOUYIN,
                updated_at=None if late is None else grid(late),
                **draw(profiles()),
            )
        )
        cursor[cid] = joined if late is None else late
    updates: list[Customer | ProfileUpdate] = []
    for _ in range(draw(st.integers(0, 12))):
        c = draw(st.sampled_from(customers))
        cursor[c.id] = draw(st.integers(cursor[c.id], cursor[c.id] + 4))
        at = grid(cursor[c.id])
        if draw(st.booleans()):
            updates.append(
                Customer(
                    c.id, TENANT, c.joined_at, source=c.source, updated_at=at, **draw(profiles())
                )
            )
        else:
            updates.append(draw(partial_change(c.id, at)))
    return customers, updates


def changes_of(rows: list[ProfileUpdate], *, tenant: Any = TENANT) -> ProfileChanges:
    """Rows with the same fields as one :class:`ProfileChanges` (a field one row leaves alone
    is not given, so every row must name the same fields)."""
    first = rows[0]
    return ProfileChanges.from_arrays(
        customer_id=[r.customer_id for r in rows],
        tenant=tenant,
        at=np.array([epoch_us(r.at) for r in rows], dtype=np.int64),
        epoch_unit="us",
        consent={c.name.lower(): np.array([r.consent[c] for r in rows]) for c in first.consent},
        agent_id=None if first.agent_id is KEEP else [r.agent_id for r in rows],
        store_id=None if first.store_id is KEEP else [r.store_id for r in rows],
        tags={t: np.array([r.tags[t] for r in rows], dtype=bool) for t in first.tags},
        attributes={a: [r.attributes[a] for r in rows] for a in first.attributes},
    )


def shape(u: ProfileUpdate) -> tuple[Any, ...]:
    return (
        frozenset(u.consent),
        u.agent_id is KEEP,
        u.store_id is KEEP,
        frozenset(u.tags),
        frozenset(u.attributes),
    )


def batches_of(updates: list[Customer | ProfileUpdate], columns: bool) -> list[Any]:
    """The updates as the pool takes them, in order: runs of customer records as one batch,
    runs of changes with the same fields as one :class:`ProfileChanges`."""
    out: list[Any] = []
    run: list[Any] = []

    def flush() -> None:
        if not run:
            return
        if isinstance(run[0], Customer):
            out.append(customer_columns(run) if columns else list(run))
        else:
            out.append(changes_of(run))
        run.clear()

    for u in updates:
        if run and (
            type(u) is not type(run[0])
            or (isinstance(u, ProfileUpdate) and shape(u) != shape(run[0]))
        ):
            flush()
        run.append(u)
    flush()
    return out


def customer_columns(records: list[Customer]) -> CustomerColumns:
    """Customer records as a host with arrays passes them (integer times in seconds)."""
    return CustomerColumns.from_arrays(
        id=[c.id for c in records],
        tenant=TENANT,
        joined_at=np.array([int(c.joined_at.timestamp()) for c in records], dtype=np.int64),
        updated_at=np.array(
            [
                np.datetime64(epoch_us(c.updated_at), "us") if c.updated_at else None
                for c in records
            ],
            dtype=object,
        )
        if any(c.updated_at for c in records)
        else None,
        epoch_unit="s",
        source=[c.source for c in records],
        consent=[sum(1 << ch.value for ch in c.consent) for c in records],
        agent_id=[c.agent_id for c in records],
        store_id=[c.store_id for c in records],
        tags=[c.tags for c in records],
        attributes=[dict(c.attributes) for c in records],
    )


@st.composite
def later(draw: st.DrawFn, t: dt.datetime, customers: list[Customer], k: int) -> list[Any]:
    """Batches of records all dated after ``t``: customers who join later, whole-record
    updates and changes of existing customers, touchpoints, and some that are rejected."""
    after = st.builds(
        lambda k, s: t + k * STEP + dt.timedelta(seconds=s),
        st.integers(0, 8),
        st.integers(1, 60),
    )
    existing = [c.id for c in customers]
    out: list[Any] = []
    for j in range(draw(st.integers(1, 4))):
        what = draw(st.sampled_from(["join", "update", "change", "touch", "mixed"]))
        if what in ("join", "mixed"):
            new = []
            for i in range(draw(st.integers(1, 3))):
                profile = draw(profiles())
                # names first used by customers who join after t stay out of the snapshot at t
                if draw(st.booleans()):
                    profile["tags"] = {*profile["tags"], "late-tag"}
                    profile["attributes"] = {**profile["attributes"], "late": "x"}
                    profile["agent_id"], profile["store_id"] = "guide-late", "store-late"
                new.append(
                    Customer(
                        f"late-{k}-{j}-{i}",
                        TENANT,
                        draw(after),
                        source=Channel.TAOBAO,
                        referrer_id=draw(st.sampled_from([None, *existing])),
                        **profile,
                    )
                )
            batch: list[Any] = list(new)
            if what == "mixed":
                batch += [
                    Touchpoint(
                        f"tl-{k}-{j}-{i}",
                        TENANT,
                        draw(st.sampled_from([c.id for c in new] + existing)),
                        draw(after),
                        "mini_program",
                        "purchased",
                        amount=Money(draw(st.integers(1, 9_999))),
                    )
                    for i in range(draw(st.integers(1, 3)))
                ]
            out.append(batch)
        elif what == "update":
            out.append(
                [
                    Customer(
                        c.id,
                        draw(st.sampled_from([TENANT, TENANT, "other"])),
                        c.joined_at,
                        source=c.source,
                        referrer_id=c.referrer_id,
                        updated_at=draw(after),
                        **draw(profiles()),
                    )
                    for c in draw(st.lists(st.sampled_from(customers), min_size=1, max_size=3))
                ]
            )
        elif what == "change":
            ids = draw(st.lists(st.sampled_from([*existing, "ghost"]), min_size=1, max_size=4))
            n = len(ids)
            out.append(
                ProfileChanges.from_arrays(
                    customer_id=ids,
                    tenant=TENANT,
                    at=np.array([epoch_us(draw(after)) for _ in ids], dtype=np.int64),
                    epoch_unit="us",
                    consent={"wecom": draw(st.lists(st.booleans(), min_size=n, max_size=n))},
                    agent_id=draw(
                        st.lists(st.sampled_from([*AGENTS, "guide-new"]), min_size=n, max_size=n)
                    ),
                    store_id=draw(
                        st.lists(st.sampled_from([*STORES, "store-new"]), min_size=n, max_size=n)
                    ),
                    tags={
                        name: draw(st.lists(st.booleans(), min_size=n, max_size=n))
                        for name in ("vip", "tag-new")
                    },
                    attributes={
                        "age": draw(st.lists(st.sampled_from([None, 41]), min_size=n, max_size=n)),
                        "attr-new": draw(
                            st.lists(st.sampled_from([None, "y"]), min_size=n, max_size=n)
                        ),
                    },
                )
            )
        else:
            out.append(
                [
                    Touchpoint(
                        f"tt-{k}-{j}-{i}",
                        TENANT,
                        draw(st.sampled_from(existing)),
                        draw(after),
                        draw(st.sampled_from(["wecom", "group", "sms"])),
                        draw(st.sampled_from(["sent", "added", "deleted", "replied"])),
                    )
                    for i in range(draw(st.integers(1, 4)))
                ]
            )
    return out


# ------------------------------------------------------------------------------ the property
@PROPERTY
@given(history=histories(), k=st.integers(-1, 24), data=st.data())
def test_nothing_dated_after_t_changes_the_snapshot_at_t(
    history: tuple[list[Customer], list[Customer | ProfileUpdate]],
    k: int,
    data: st.DataObject,
) -> None:
    customers, updates = history
    t = grid(k, data.draw(st.sampled_from([0, 1, -1]), label="jitter"))
    pool = new_pool()
    assert pool.ingest(customers).ok
    touchpoints = [
        Touchpoint(f"t{i}-{kind.name}", TENANT, c.id, grid(i % 24), "wecom", kind, amount=amount)
        for i, c in enumerate(customers * 3)
        for kind, amount in [(TouchKind.PURCHASED, Money(100 + i)), (TouchKind.SENT, None)]
    ]
    assert pool.ingest(touchpoints).ok
    for batch in batches_of(updates, columns=False):
        assert pool.ingest(batch).ok
    before = pool.snapshot(t)
    records = records_with_stores(pool, t)
    for n, batch in enumerate(data.draw(later(t, customers, 0), label="later batches")):
        pool.ingest(batch)  # some records may be rejected; none may change the past
        assert records_with_stores(pool, t) == records, n
        assert_snapshots_equal(pool.snapshot(t), before)


# ------------------------------------------------------------------------------ the reference
@PROPERTY
@given(history=histories(), as_of=st.lists(instants(-1, 40), min_size=1, max_size=4))
def test_profiles_match_the_reference(
    history: tuple[list[Customer], list[Customer | ProfileUpdate]], as_of: list[dt.datetime]
) -> None:
    customers, updates = history
    objects, columns = new_pool(), new_pool()
    assert objects.ingest(customers).ok
    assert columns.ingest(customer_columns(customers)).ok
    for batch in batches_of(updates, columns=False):
        report = objects.ingest(batch)
        assert report.ok, report.rejected
    for batch in batches_of(updates, columns=True):
        report = columns.ingest(batch)
        assert report.ok, report.rejected
    for t in as_of:
        expected = reference_records(
            customers, [], t, utc_offset=CHINA, updates=updates, stores=True
        )
        assert_records_match(records_with_stores(objects, t), expected)
        assert_records_match(records_with_stores(columns, t), expected)
    # the latest profile, as pool.customer() tells it
    for c in customers:
        for pool in (objects, columns):
            now = Profile.of(pool.customer(c.id))
            assert now.same(profile_as_of(c, updates)), (c.id, now)


# ------------------------------------------------------------------------------ regressions
def day(n: int, hour: int = 12) -> dt.datetime:
    """Noon (China) of ``n`` January 2026."""
    return T0 + dt.timedelta(days=n - 1, hours=hour)


def as_seen(pool: Pool, when: dt.datetime, cid: str = "c1") -> tuple[Any, ...]:
    snap = pool.snapshot(when)
    row = snap.row(cid)
    tags = {name: bool(col[row]) for name, col in snap.tags.items()}
    wecom = bool(snap.consent[row, OWNED_CHANNELS.index(Channel.WECOM)])
    return wecom, snap.agent_ids[row], snap.store_ids[row], tags


def test_a_later_update_leaves_the_10_january_snapshot_as_it_was() -> None:
    pool = new_pool()
    report = pool.ingest(
        [
            Customer(
                "c1",
                TENANT,
                day(1),
                consent={"wecom"},
                agent_id="guide-A",
                store_id="s1",
                tags={"vip"},
            )
        ]
    )
    assert report.customers_added == 1
    on_the_10th = as_seen(pool, day(10))
    assert on_the_10th == (True, "guide-A", "s1", {"vip": True})

    report = pool.ingest(
        [
            Customer(
                "c1",
                TENANT,
                day(1),
                consent=set(),
                agent_id="guide-B",
                store_id="s2",
                tags=set(),
                updated_at=day(15),
            )
        ]
    )
    assert report.customers_updated == 1
    assert report.ok
    assert pool.ingest(
        ProfileChanges.from_arrays(
            customer_id=["c1"], tenant=TENANT, at=[day(20)], tags={"kol": [True]}
        )
    ).ok

    assert as_seen(pool, day(10)) == on_the_10th  # the same 10 January snapshot
    assert as_seen(pool, day(16)) == (False, "guide-B", "s2", {"vip": False})
    assert as_seen(pool, day(21)) == (False, "guide-B", "s2", {"vip": False, "kol": True})
    # the profile takes effect at that very microsecond, and not one before
    assert as_seen(pool, day(15) - dt.timedelta(microseconds=1))[:3] == (True, "guide-A", "s1")
    assert as_seen(pool, day(15))[:3] == (False, "guide-B", "s2")


def test_an_update_without_updated_at_is_rejected() -> None:
    pool = new_pool()
    assert pool.ingest([Customer("c1", TENANT, day(1), consent={"wecom"}, tags={"vip"})]).ok
    tables = pool.tables()
    report = pool.ingest([Customer("c1", TENANT, day(1), consent={"sms"}, tags={"vip"})])
    assert report.customers_updated == 0
    [rejection] = report.rejected
    assert (rejection.record, rejection.index, rejection.id) == ("customer", 0, "c1")
    assert rejection.reason is RejectReason.INVALID
    assert "updated_at" in rejection.detail
    assert as_seen(pool, day(30))[0] is True  # still WeCom consent
    # no history grew
    assert {n: len(h) for n, h in pool.tables().profile.items()} == {
        n: len(h) for n, h in tables.profile.items()
    }
    # the same record again, undated, changes nothing and is no error
    same = pool.ingest([Customer("c1", TENANT, day(1), consent={"wecom"}, tags={"vip"})])
    assert same.ok
    assert same.customers_unchanged == 1


def test_a_back_dated_update_is_rejected() -> None:
    pool = new_pool()
    assert pool.ingest([Customer("c1", TENANT, day(1), agent_id="guide-A")]).ok
    assert pool.ingest([Customer("c1", TENANT, day(1), agent_id="guide-B", updated_at=day(10))]).ok
    # a whole record dated before the latest change
    report = pool.ingest([Customer("c1", TENANT, day(1), agent_id="guide-C", updated_at=day(5))])
    [rejection] = report.rejected
    assert rejection.reason is RejectReason.CONFLICT
    assert "before the customer's latest recorded change" in rejection.detail
    # a change dated before it
    report = pool.ingest(
        ProfileChanges.from_arrays(
            customer_id=["c1"], tenant=TENANT, at=[day(9)], agent_id=["guide-C"]
        )
    )
    assert [r.reason for r in report.rejected] == [RejectReason.CONFLICT]
    assert as_seen(pool, day(12))[1] == "guide-B"
    assert as_seen(pool, day(7))[1] == "guide-A"
    # dated at the latest change itself, it is taken (history is not rewritten: it grows)
    report = pool.ingest(
        ProfileChanges.from_arrays(
            customer_id=["c1"], tenant=TENANT, at=[day(10)], agent_id=["guide-C"]
        )
    )
    assert report.ok
    assert report.customers_updated == 1
    assert as_seen(pool, day(12))[1] == "guide-C"
    # a back-dated record that changes nothing is unchanged, not a conflict
    same = pool.ingest([Customer("c1", TENANT, day(1), agent_id="guide-C", updated_at=day(2))])
    assert same.ok
    assert same.customers_unchanged == 1
    # and a change dated before the customer joined is invalid
    early = pool.ingest(
        ProfileChanges.from_arrays(
            customer_id=["c1"], tenant=TENANT, at=[T0 - STEP], agent_id=["guide-D"]
        )
    )
    assert [r.reason for r in early.rejected] == [RejectReason.INVALID]


def test_changes_of_unknown_customers_are_rejected_by_name() -> None:
    pool = new_pool()
    assert pool.ingest([Customer("c1", TENANT, day(1)), Customer("张三", TENANT, day(1))]).ok
    report = pool.ingest(
        ProfileChanges.from_arrays(
            customer_id=["c1", "nobody-42", "张三", "李四"],
            tenant=TENANT,
            at=[day(3)] * 4,
            consent={"sms": [True, True, True, True]},
        )
    )
    assert report.customers_updated == 2
    assert [(r.record, r.index, r.id, r.reason) for r in report.rejected] == [
        ("profile_change", 1, "nobody-42", RejectReason.UNKNOWN_CUSTOMER),
        ("profile_change", 3, "李四", RejectReason.UNKNOWN_CUSTOMER),
    ]
    assert "'nobody-42'" in report.rejected[0].detail
    assert "'李四'" in report.rejected[1].detail
    assert len(pool) == 2  # a change never creates a customer


def test_a_change_of_another_tenant_is_rejected() -> None:
    pool = new_pool()
    assert pool.ingest([Customer("c1", TENANT, day(1))]).ok
    report = pool.ingest(
        ProfileChanges.from_arrays(
            customer_id=["c1", "c1"],
            tenant=[TENANT, "other"],
            at=[day(2), day(3)],
            tags={"vip": [True, False]},
        )
    )
    assert [(r.index, r.reason) for r in report.rejected] == [(1, RejectReason.WRONG_TENANT)]
    assert pool.snapshot(day(5)).tags["vip"].tolist() == [True]


def test_integer_times_need_an_epoch_unit() -> None:
    seconds = np.array([1_767_225_600], dtype=np.int64)  # 2026-01-01 UTC
    with pytest.raises(ValidationError, match="epoch_unit"):
        ProfileChanges.from_arrays(customer_id=["c1"], tenant=TENANT, at=seconds)
    with pytest.raises(ValidationError, match="epoch_unit"):
        CustomerColumns.from_arrays(id=["c1"], tenant=TENANT, joined_at=seconds)
    with pytest.raises(ValidationError):
        CustomerColumns.from_arrays(
            id=["c1"],
            tenant=TENANT,
            joined_at=np.array(["2026-01-01"], "M8[s]"),
            updated_at=seconds,
        )
    changes = ProfileChanges.from_arrays(
        customer_id=["c1"], tenant=TENANT, at=seconds, epoch_unit="s"
    )
    assert changes.at.tolist() == [1_767_225_600 * 1_000_000]
    with pytest.raises(PrivdomainError):  # outside [1900, 2200)
        ProfileChanges.from_arrays(
            customer_id=["c1"], tenant=TENANT, at=np.array([7_258_118_400]), epoch_unit="s"
        )


def test_a_vectorised_consent_change_of_200000_customers() -> None:
    n = 200_000
    rng = np.random.default_rng(3)
    ids = np.array([f"u{i}" for i in range(n)], dtype=object)
    before = rng.random(n) < 0.5
    pool = new_pool()
    report = pool.ingest(
        CustomerColumns.from_arrays(
            id=ids,
            tenant=TENANT,
            joined_at=np.full(n, epoch_us(day(1)), dtype=np.int64),
            epoch_unit="us",
            consent=np.where(before, 1 << Channel.WECOM.value, 0),
            tags={"vip": rng.random(n) < 0.1},
        )
    )
    assert report.customers_added == n
    assert report.ok
    after = rng.random(n) < 0.5
    report = pool.ingest(
        ProfileChanges.from_arrays(
            customer_id=ids,
            tenant=TENANT,
            at=np.full(n, np.datetime64(epoch_us(day(10)), "us")),
            consent={"wecom": after},
        )
    )
    assert report.ok
    assert report.customers_updated == int((before != after).sum())
    assert report.customers_unchanged == int((before == after).sum())
    wecom = OWNED_CHANNELS.index(Channel.WECOM)
    np.testing.assert_array_equal(pool.snapshot(day(9)).consent[:, wecom], before)
    np.testing.assert_array_equal(pool.snapshot(day(10)).consent[:, wecom], after)
    # only consent on WeCom changed
    assert pool.snapshot(day(10)).tags["vip"].sum() == pool.snapshot(day(9)).tags["vip"].sum()
    assert not pool.snapshot(day(10)).consent[:, OWNED_CHANNELS.index(Channel.SMS)].any()
    history = pool.tables().profile["consent:wecom"]
    assert len(history) == int(before.sum()) + int((before != after).sum())


def test_customer_keeps_the_store_binding() -> None:
    """``Pool.customer`` gives the latest profile, store included, so that re-sending what the
    pool holds changes nothing."""
    pool = new_pool()
    assert pool.ingest([Customer("c1", TENANT, day(1), store_id="s1", agent_id="guide-A")]).ok
    assert pool.customer("c1").store_id == "s1"
    again = pool.ingest(pool.customers())
    assert again.ok
    assert again.customers_unchanged == 1
