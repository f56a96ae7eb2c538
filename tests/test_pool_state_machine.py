"""A pool driven through random sequences of batches agrees, after every step, with a model
that took only what the pool accepted.

The state machine interleaves valid and invalid customers, customer updates (with and without
``updated_at``, back-dated, conflicting), :class:`ProfileChanges`, touchpoints (valid, invalid,
duplicates, replays of earlier batches, objects and columns), snapshots, and batches that fail
in the middle of being written (an internal write made to raise). The model predicts the report
of every batch, record by record, from the rules of :meth:`Pool.ingest`; after every step the
pool's snapshots at a few instants equal the slow reference (``tests/reference.py``) built from
the accepted records, and so do ``len(pool)``, ``n_touchpoints`` and ``customers()``. A batch
that raises leaves every array and table of the pool exactly as it was, and the same batch
ingested again afterwards gives the report the model predicts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from types import MappingProxyType
from typing import Any
from unittest import mock

import attrs
import numpy as np
import pytest
from helpers import CHINA, T0, TENANT, new_pool
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from reference import KEEP, Profile, ProfileUpdate, assert_records_match, reference_records

from privdomain import (
    Channel,
    Customer,
    Money,
    Pool,
    ProfileChanges,
    RejectReason,
    TouchKind,
    Touchpoint,
    TouchpointColumns,
)
from privdomain.domain._columns import Column
from privdomain.domain._profile import ProfileStore

STEP = dt.timedelta(hours=6)
NAMES = ["c0", "c1", "c2", "张三", "🦊", "c5", "c6", "c7"]
GHOST = "ghost"  # never a customer
OTHER = "other-brand"
CONSENTS = [Channel.WECOM, Channel.SMS, Channel.GROUP]
AGENTS = [None, "guide-A", "guide-B"]
STORES = [None, "s1", "s2"]
TAGS = ["vip", "新客"]
AGES = [30, 31, 30.0]  # 30 and 30.0 are different values of an attribute
REGIONS = ["华东", "华南"]
CHECK_AT = [T0 + 2 * STEP, T0 + 9 * STEP, T0 + 17 * STEP, T0 + 60 * STEP]


def instants(first: int = 0, last: int = 24) -> st.SearchStrategy[dt.datetime]:
    """Instants on a coarse grid (many ties), sometimes a second off it."""
    return st.builds(
        lambda k, jitter: T0 + k * STEP + dt.timedelta(seconds=jitter),
        st.integers(first, last),
        st.sampled_from([0, 0, 0, 1, -1]),
    )


# ------------------------------------------------------------------------------------ model
@dataclasses.dataclass
class Expected:
    """The report the model predicts for a batch."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    accepted: int = 0
    duplicates: list[int] = dataclasses.field(default_factory=list)
    rejected: dict[tuple[str, int], RejectReason] = dataclasses.field(default_factory=dict)

    def check(self, report: Any) -> None:
        got = {(r.record, r.index): r.reason for r in report.rejected}
        assert got == self.rejected, (got, self.rejected, report.rejected)
        assert report.customers_added == self.added, report
        assert report.customers_updated == self.updated, report
        assert report.customers_unchanged == self.unchanged, report
        assert report.touchpoints_accepted == self.accepted, report
        assert report.duplicate_touchpoints.tolist() == self.duplicates, report


@dataclasses.dataclass
class Model:
    """What the pool should hold: the accepted records, in the order they were accepted."""

    customers: dict[str, Customer] = dataclasses.field(default_factory=dict)
    profiles: dict[str, Profile] = dataclasses.field(default_factory=dict)
    latest: dict[str, dt.datetime] = dataclasses.field(default_factory=dict)
    updates: list[Customer | ProfileUpdate] = dataclasses.field(default_factory=list)
    touchpoints: list[Touchpoint] = dataclasses.field(default_factory=list)
    seen: dict[str, Touchpoint] = dataclasses.field(default_factory=dict)

    def copy(self) -> Model:
        return Model(
            dict(self.customers),
            dict(self.profiles),
            dict(self.latest),
            list(self.updates),
            list(self.touchpoints),
            dict(self.seen),
        )

    # -- the rules of Pool.ingest, one record at a time ------------------------------------
    def take_customers(self, records: Sequence[Customer], out: Expected) -> None:
        known_before = set(self.customers)
        for i, c in enumerate(records):
            why = self._customer(c, known_before, out)
            if why is not None:
                out.rejected[("customer", i)] = why

    def _customer(self, c: Customer, known_before: set[str], out: Expected) -> RejectReason | None:
        if c.tenant != TENANT:
            return RejectReason.WRONG_TENANT
        if c.updated_at is not None and c.updated_at < c.joined_at:
            return RejectReason.INVALID
        if c.referrer_id is not None and c.referrer_id not in known_before:
            return RejectReason.UNKNOWN_REFERRER  # a referrer found nowhere, new customer or not
        if c.id not in self.customers:
            self.customers[c.id] = c
            self.profiles[c.id] = Profile.of(c)
            self.latest[c.id] = c.updated_at or c.joined_at
            out.added += 1
            return None
        first = self.customers[c.id]
        if (c.joined_at, c.source, c.referrer_id) != (
            first.joined_at,
            first.source,
            first.referrer_id,
        ):
            return RejectReason.CONFLICT
        new = Profile.of(c)
        if new.same(self.profiles[c.id]):
            out.unchanged += 1
            return None
        if c.updated_at is None:
            return RejectReason.INVALID
        if c.updated_at < self.latest[c.id]:
            return RejectReason.CONFLICT
        self.profiles[c.id] = new
        self.latest[c.id] = c.updated_at
        self.updates.append(c)
        out.updated += 1
        return None

    def take_changes(
        self, rows: Sequence[ProfileUpdate], tenants: Sequence[str], out: Expected
    ) -> None:
        for i, (u, tenant) in enumerate(zip(rows, tenants, strict=True)):
            why = self._change(u, tenant, out)
            if why is not None:
                out.rejected[("profile_change", i)] = why

    def _change(self, u: ProfileUpdate, tenant: str, out: Expected) -> RejectReason | None:
        if tenant != TENANT:
            return RejectReason.WRONG_TENANT
        if u.customer_id not in self.customers:
            return RejectReason.UNKNOWN_CUSTOMER
        if u.at < self.customers[u.customer_id].joined_at:
            return RejectReason.INVALID
        new = u.apply(self.profiles[u.customer_id])
        if new.same(self.profiles[u.customer_id]):
            out.unchanged += 1
            return None
        if u.at < self.latest[u.customer_id]:
            return RejectReason.CONFLICT
        self.profiles[u.customer_id] = new
        self.latest[u.customer_id] = u.at
        self.updates.append(u)
        out.updated += 1
        return None

    def take_touchpoints(self, records: Sequence[Touchpoint], out: Expected) -> None:
        for i, tp in enumerate(records):
            why = self._touchpoint_reason(tp)
            if why is not None:
                out.rejected[("touchpoint", i)] = why
            elif tp.id in self.seen:
                if content(tp) == content(self.seen[tp.id]):
                    out.duplicates.append(i)  # an exact replay
                else:
                    out.rejected[("touchpoint", i)] = RejectReason.CONFLICT
            else:
                self.seen[tp.id] = tp
                self.touchpoints.append(tp)
                out.accepted += 1

    def _touchpoint_reason(self, tp: Touchpoint) -> RejectReason | None:
        if tp.tenant != TENANT:
            return RejectReason.WRONG_TENANT
        if tp.amount is not None and tp.amount.currency != "CNY":
            return RejectReason.CURRENCY_MISMATCH
        if tp.customer_id not in self.customers:
            return RejectReason.UNKNOWN_CUSTOMER
        if (
            tp.related_customer_id is not None
            and tp.related_customer_id not in self.customers
            and tp.kind not in (TouchKind.INVITED, TouchKind.SHARED)
        ):
            return RejectReason.UNKNOWN_RELATED_CUSTOMER  # invitees may join later
        return None


def content(tp: Touchpoint) -> tuple[Any, ...]:
    """What a replay of a touchpoint id must repeat to be a duplicate rather than a conflict."""
    return (
        tp.customer_id,
        tp.at,
        tp.channel,
        tp.kind,
        None if tp.amount is None else tp.amount.minor,
        0 if tp.discount is None else tp.discount.minor,
        tp.order_id,
        tp.promotion,
        tp.related_customer_id,
        tp.agent_id,
    )


def changed(draw: st.DrawFn, tp: Touchpoint, customers: Sequence[str]) -> Touchpoint:
    """``tp`` with one field changed: sent again under its id, it is a conflict."""
    what = draw(st.sampled_from(["at", "channel", "promotion", "agent", "amount", "customer"]))
    if what == "at":
        return attrs.evolve(tp, at=tp.at + dt.timedelta(seconds=draw(st.sampled_from([-1, 1]))))
    if what == "channel":
        other = [c for c in (Channel.WECOM, Channel.SMS, Channel.MINI_PROGRAM) if c != tp.channel]
        return attrs.evolve(tp, channel=draw(st.sampled_from(other)))
    if what == "agent":
        return attrs.evolve(tp, agent_id=None if tp.agent_id else "guide-B")
    if what == "amount" and tp.amount is not None:
        return attrs.evolve(tp, amount=Money(tp.amount.minor + 1, tp.amount.currency))
    others = [c for c in customers if c not in (tp.customer_id, tp.related_customer_id)]
    if what == "customer" and others:
        return attrs.evolve(tp, customer_id=draw(st.sampled_from(others)))
    return attrs.evolve(tp, promotion=not tp.promotion)


# ------------------------------------------------------------------------------------ batches
@dataclasses.dataclass
class Planned:
    """A batch to ingest: what to pass to ``Pool.ingest``, and how the model takes it."""

    what: str
    payload: Any
    take: Callable[[Model, Expected], None]


def customer_record(draw: st.DrawFn, model: Model, cid: str, known: Sequence[str]) -> Customer:
    """A record of ``cid``: a new customer, or a re-sent / updated / conflicting record of one
    already in the model."""
    first = model.customers.get(cid)
    attributes: dict[str, Any] = {}
    if draw(st.booleans()):
        attributes["age"] = draw(st.sampled_from(AGES))
    if draw(st.booleans()):
        attributes["region"] = draw(st.sampled_from(REGIONS))
    profile = {
        "consent": draw(st.sets(st.sampled_from(CONSENTS))),
        "agent_id": draw(st.sampled_from(AGENTS)),
        "store_id": draw(st.sampled_from(STORES)),
        "tags": draw(st.sets(st.sampled_from(TAGS))),
        "attributes": attributes,
    }
    tenant = draw(st.sampled_from([TENANT] * 9 + [OTHER]))
    if first is None:
        joined = draw(instants(0, 16))
        referrer = draw(st.sampled_from([None, None, GHOST, *known])) if known else None
        updated = draw(st.none() | st.none() | instants(0, 20))
        return Customer(
            cid,
            tenant,
            joined,
            source=draw(st.sampled_from([Channel.DOUYIN, Channel.TAOBAO])),
            referrer_id=referrer if referrer != cid else None,
            updated_at=updated,
            **profile,
        )
    how = draw(st.sampled_from(["same", "update", "update", "undated", "conflict"]))
    current = model.profiles[cid]
    if how == "same":  # the current profile again, dated or not
        profile = {
            "consent": current.consent,
            "agent_id": current.agent_id,
            "store_id": current.store_id,
            "tags": current.tags,
            "attributes": dict(current.attributes),
        }
    joined, source = first.joined_at, first.source
    if how == "conflict":
        if draw(st.booleans()):
            joined = joined + dt.timedelta(seconds=1)
        else:
            source = Channel.OFFLINE_STORE
    updated = None if how == "undated" else draw(st.none() | instants(0, 30))
    return Customer(
        cid,
        tenant,
        joined,
        source=source,
        referrer_id=first.referrer_id,
        updated_at=updated,
        **profile,
    )


@st.composite
def customer_batches(draw: st.DrawFn, model: Model) -> Planned:
    known = list(model.customers)
    ids = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5))
    scratch = model.copy()  # so that a second record of an id in the batch is a re-send
    records = []
    for cid in ids:
        record = customer_record(draw, scratch, cid, known)
        records.append(record)
        scratch.take_customers([record], Expected())
    records = draw(st.permutations(records)) if draw(st.booleans()) else records

    def take(m: Model, out: Expected) -> None:
        m.take_customers(records, out)

    return Planned("customers", records, take)


def touchpoint(draw: st.DrawFn, model: Model, tid: str, extra: Sequence[str] = ()) -> Touchpoint:
    customers = [*model.customers, *extra]
    kind = draw(
        st.sampled_from(
            [TouchKind.PURCHASED] * 3
            + [TouchKind.REFUNDED, TouchKind.SENT, TouchKind.ADDED, TouchKind.DELETED]
            + [TouchKind.INVITED, TouchKind.CLICKED]
        )
    )
    who = draw(st.sampled_from([*customers] * 4 + [GHOST])) if customers else GHOST
    amount = discount = related = None
    if kind.monetary:
        currency = draw(st.sampled_from(["CNY"] * 9 + ["USD"]))
        amount = Money(draw(st.integers(0, 40_000)), currency)
        if kind is TouchKind.PURCHASED and draw(st.booleans()):
            discount = Money(draw(st.integers(0, 3_000)), currency)
    if kind is TouchKind.INVITED:
        others = [c for c in {*customers, GHOST} if c != who]
        related = draw(st.sampled_from([None, *sorted(others)]))
    return Touchpoint(
        tid,
        draw(st.sampled_from([TENANT] * 9 + [OTHER])),
        who,
        draw(instants(0, 24)),
        draw(st.sampled_from([Channel.WECOM, Channel.SMS, Channel.MINI_PROGRAM])),
        kind,
        amount=amount,
        discount=discount,
        promotion=draw(st.booleans()),
        related_customer_id=related,
        agent_id=draw(st.sampled_from([None, "guide-A"])),
    )


class Machine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.pool: Pool = new_pool()
        self.model = Model()
        self.next_id = 0
        self.sent: list[list[Touchpoint]] = []  # touchpoint batches sent so far, for replays

    def fresh_ids(self, n: int) -> list[str]:
        start = self.next_id
        self.next_id += n
        return [f"t{i}" for i in range(start, start + n)]

    # -- planning ---------------------------------------------------------------------------
    def touchpoint_batch(self, data: st.DataObject, extra: Sequence[str] = ()) -> list[Touchpoint]:
        n = data.draw(st.integers(1, 8), label="touchpoints")
        batch = [touchpoint(data.draw, self.model, tid, extra) for tid in self.fresh_ids(n)]
        seen = [tp for sent in self.sent for tp in sent]
        if seen and data.draw(st.booleans(), label="resend old ids"):
            batch += data.draw(st.lists(st.sampled_from(seen), max_size=3), label="resent")
        if seen and data.draw(st.booleans(), label="resend old ids, changed"):
            old = data.draw(st.lists(st.sampled_from(seen), max_size=2), label="to change")
            customers = [*self.model.customers, *extra]
            batch += [changed(data.draw, tp, customers) for tp in old]
        if data.draw(st.booleans(), label="repeat within batch"):
            batch += data.draw(st.lists(st.sampled_from(batch), max_size=2), label="repeats")
        if data.draw(st.booleans(), label="repeat within batch, changed"):
            again = data.draw(st.lists(st.sampled_from(batch), max_size=2), label="to change")
            customers = [*self.model.customers, *extra]
            batch += [changed(data.draw, tp, customers) for tp in again]
        return data.draw(st.permutations(batch), label="order")

    def plan_touchpoints(self, data: st.DataObject) -> Planned:
        batch = self.touchpoint_batch(data)
        as_columns = data.draw(st.booleans(), label="as columns")
        payload = columns_of(batch) if as_columns else batch

        def take(m: Model, out: Expected) -> None:
            m.take_touchpoints(batch, out)

        self.sent.append(batch)
        return Planned("touchpoints", payload, take)

    def plan_mixed(self, data: st.DataObject) -> Planned:
        customers = data.draw(customer_batches(self.model), label="customers").payload
        batch = self.touchpoint_batch(data, extra=[c.id for c in customers])
        self.sent.append(batch)

        def take(m: Model, out: Expected) -> None:
            m.take_customers(customers, out)
            m.take_touchpoints(batch, out)

        return Planned("mixed", [*customers, *batch], take)

    def plan_changes(self, data: st.DataObject) -> Planned:
        draw = data.draw
        n = draw(st.integers(1, 5), label="changes")
        ids = draw(
            st.lists(st.sampled_from([*self.model.customers, GHOST]), min_size=n, max_size=n),
            label="ids",
        )
        at = [draw(instants(0, 30), label="at") for _ in range(n)]
        channels = draw(st.sets(st.sampled_from(CONSENTS)), label="channels")
        tags = draw(st.sets(st.sampled_from(TAGS)), label="tags")
        attributes = draw(st.sets(st.sampled_from(["age", "region"])), label="attributes")
        with_agent = draw(st.booleans(), label="agent")
        with_store = draw(st.booleans(), label="store")
        consent = {c: [draw(st.booleans()) for _ in range(n)] for c in channels}
        tag_values = {t: [draw(st.booleans()) for _ in range(n)] for t in tags}
        attribute_values = {
            a: [draw(st.sampled_from([None, *(AGES if a == "age" else REGIONS)])) for _ in range(n)]
            for a in attributes
        }
        agents = [draw(st.sampled_from(AGENTS)) for _ in range(n)] if with_agent else None
        stores = [draw(st.sampled_from(STORES)) for _ in range(n)] if with_store else None
        tenants = [draw(st.sampled_from([TENANT] * 9 + [OTHER])) for _ in range(n)]
        rows = [
            ProfileUpdate(
                ids[i],
                at[i],
                consent={c: v[i] for c, v in consent.items()},
                agent_id=KEEP if agents is None else agents[i],
                store_id=KEEP if stores is None else stores[i],
                tags={t: v[i] for t, v in tag_values.items()},
                attributes={a: v[i] for a, v in attribute_values.items()},
            )
            for i in range(n)
        ]
        payload = ProfileChanges.from_arrays(
            customer_id=ids,
            tenant=TENANT if set(tenants) == {TENANT} else tenants,
            at=np.array([epoch_us(t) for t in at], dtype=np.int64),
            epoch_unit="us",
            consent={c.name.lower(): np.array(v, dtype=bool) for c, v in consent.items()},
            agent_id=agents,
            store_id=stores,
            tags={t: np.array(v, dtype=bool) for t, v in tag_values.items()},
            attributes=attribute_values,
        )

        def take(m: Model, out: Expected) -> None:
            m.take_changes(rows, tenants, out)

        return Planned("changes", payload, take)

    def plan(self, data: st.DataObject) -> Planned:
        kind = data.draw(
            st.sampled_from(["customers", "customers", "changes", "touchpoints", "mixed"]),
            label="batch kind",
        )
        if kind == "customers":
            return data.draw(customer_batches(self.model), label="customers")
        if kind == "changes" and self.model.customers:
            return self.plan_changes(data)
        if kind == "mixed":
            return self.plan_mixed(data)
        return self.plan_touchpoints(data)

    def ingest(self, planned: Planned) -> None:
        expected, model = Expected(), self.model.copy()
        planned.take(model, expected)
        report = self.pool.ingest(planned.payload)
        expected.check(report)
        self.model = model
        for reason in {r.reason for r in report.rejected}:
            event(f"{planned.what}: {reason.name}")
        if report.customers_updated:
            event(f"{planned.what}: updated")
        if report.duplicates:
            event(f"{planned.what}: duplicates")

    # -- rules ------------------------------------------------------------------------------
    @initialize(data=st.data())
    def first_customers(self, data: st.DataObject) -> None:
        self.ingest(data.draw(customer_batches(self.model), label="first customers"))

    @rule(data=st.data())
    def ingest_customers(self, data: st.DataObject) -> None:
        self.ingest(data.draw(customer_batches(self.model), label="customers"))

    @precondition(lambda self: bool(self.model.customers))
    @rule(data=st.data())
    def ingest_profile_changes(self, data: st.DataObject) -> None:
        self.ingest(self.plan_changes(data))

    @rule(data=st.data())
    def ingest_touchpoints(self, data: st.DataObject) -> None:
        self.ingest(self.plan_touchpoints(data))

    @rule(data=st.data())
    def ingest_customers_and_touchpoints(self, data: st.DataObject) -> None:
        self.ingest(self.plan_mixed(data))

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data())
    def replay_an_earlier_batch(self, data: st.DataObject) -> None:
        batch = data.draw(st.sampled_from(self.sent), label="replayed")
        report = self.pool.ingest(batch)
        expected, model = Expected(), self.model.copy()
        model.take_touchpoints(batch, expected)
        expected.check(report)
        self.model = model

    @rule(data=st.data(), failure=st.sampled_from(["extend", "extended", "profile", "grow"]))
    def ingest_fails_mid_write(self, data: st.DataObject, failure: str) -> None:
        planned = self.plan(data)
        before = state_of(self.pool)
        tables_before = tables_bytes(self.pool)
        customers_before = [c_state(c) for c in self.pool.customers()]
        k = data.draw(st.integers(1, 3 if failure == "profile" else 24), label="failing call")
        with failing(failure, k) as fired:
            try:
                report = self.pool.ingest(planned.payload)
            except Boom:
                raised = True
            else:
                raised = False
        event(f"failure {failure}: {'raised' if raised else 'never reached'}")
        if not raised:  # the write that was to fail never happened: a normal batch
            assert not fired, failure
            expected, model = Expected(), self.model.copy()
            planned.take(model, expected)
            expected.check(report)
            self.model = model
            return
        assert fired
        # the pool is exactly as before, byte for byte, and works as if nothing happened
        assert tables_bytes(self.pool) == tables_before
        assert state_of(self.pool) == before
        assert [c_state(c) for c in self.pool.customers()] == customers_before
        self.ingest(planned)

    @rule(as_of=instants(-1, 30))
    def snapshot(self, as_of: dt.datetime) -> None:
        self.check_snapshot(as_of)

    # -- invariants -------------------------------------------------------------------------
    def check_snapshot(self, as_of: dt.datetime) -> None:
        snap = self.pool.snapshot(as_of, threads=1)
        got = snap.to_records()
        for record, store in zip(got, snap.store_ids.tolist(), strict=True):
            record["store_id"] = store
        want = reference_records(
            list(self.model.customers.values()),
            self.model.touchpoints,
            as_of,
            utc_offset=CHINA,
            updates=self.model.updates,
            stores=True,
        )
        assert_records_match(got, want)
        # every invitation sent by as_of, also to people who had not joined (row -1) by then
        cut = as_of.timestamp()
        ids = snap.customer_ids.tolist()
        inv = snap.invitations
        got_inv = sorted(
            (ids[r], who or "", ids[w] if w >= 0 else "")
            for r, who, w in zip(
                inv.row.tolist(), inv.invitee_id.tolist(), inv.invitee_row.tolist(), strict=True
            )
        )
        joined = {c.id for c in self.model.customers.values() if c.joined_at.timestamp() <= cut}
        want_inv = sorted(
            (
                tp.customer_id,
                tp.related_customer_id or "",
                tp.related_customer_id if tp.related_customer_id in joined else "",
            )
            for tp in self.model.touchpoints
            if tp.kind is TouchKind.INVITED
            and tp.at.timestamp() <= cut
            and tp.customer_id in joined
        )
        assert got_inv == want_inv

    @invariant()
    def agrees_with_the_model(self) -> None:
        m = self.model
        assert len(self.pool) == len(m.customers)
        assert self.pool.n_touchpoints == len(m.touchpoints)
        assert self.pool.customer_ids.tolist() == list(m.customers)  # in order of arrival
        got = [c_state(c) for c in self.pool.customers()]
        want = [c_state(m.profiles[cid], first=c) for cid, c in m.customers.items()]
        assert got == want
        for as_of in CHECK_AT:
            self.check_snapshot(as_of)


def columns_of(touchpoints: Sequence[Touchpoint]) -> TouchpointColumns:
    """The same touchpoints as a host with arrays passes them (amounts in minor units, each
    in its own currency)."""

    def minor(m: Money | None) -> float:
        return np.nan if m is None else float(m.minor)

    return TouchpointColumns.from_arrays(
        id=[tp.id for tp in touchpoints],
        tenant=[tp.tenant for tp in touchpoints],
        customer_id=[tp.customer_id for tp in touchpoints],
        at=np.array([epoch_us(tp.at) for tp in touchpoints], dtype=np.int64),
        epoch_unit="us",
        channel=[tp.channel.name.lower() for tp in touchpoints],
        kind=[tp.kind for tp in touchpoints],
        amount=np.array([minor(tp.amount) for tp in touchpoints], dtype=np.float64),
        currency=[tp.amount.currency if tp.amount else "CNY" for tp in touchpoints],
        minor_units=True,
        promotion=np.array([tp.promotion for tp in touchpoints], dtype=bool),
        discount=np.array([minor(tp.discount) for tp in touchpoints], dtype=np.float64),
        related_customer_id=[tp.related_customer_id for tp in touchpoints],
        agent_id=[tp.agent_id for tp in touchpoints],
    )


def epoch_us(when: dt.datetime) -> int:
    return (when - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


def c_state(c: Customer | Profile, first: Customer | None = None) -> tuple[Any, ...]:
    """What ``Pool.customers()`` tells of a customer: the facts and the latest profile."""
    if isinstance(c, Customer):
        facts = (c.id, c.joined_at, c.source, c.referrer_id)
        profile = Profile.of(c)
    else:
        assert first is not None
        facts = (first.id, first.joined_at, first.source, first.referrer_id)
        profile = c
    attributes = sorted((k, type(v).__name__, v) for k, v in profile.attributes.items())
    return (*facts, profile.consent, profile.agent_id, profile.store_id, profile.tags, attributes)


# ------------------------------------------------------------------------------------ failures
class Boom(MemoryError):
    """The failure injected into a write."""


@dataclasses.dataclass
class Fired:
    count: int = 0

    def __bool__(self) -> bool:
        return self.count > 0


_extend = Column.extend
_write = ProfileStore.write
_grow = ProfileStore.grow


@contextlib.contextmanager
def failing(where: str, k: int) -> Iterator[Fired]:
    """Make an internal write raise :class:`Boom` part-way through a batch.

    ``extend``: the ``k``-th append to any column raises before it writes anything;
    ``extended``: the ``k``-th append to any column writes, then raises;
    ``profile``: the ``k``-th profile write writes its first field, then raises;
    ``grow``: making room for new customers raises, after their ids and facts were appended.
    """
    fired = Fired()
    calls = 0

    def extend(self: Column[Any], values: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == k and where == "extend":
            fired.count += 1
            raise Boom(f"append #{k}")
        _extend(self, values)
        if calls == k and where == "extended":
            fired.count += 1
            raise Boom(f"after append #{k}")

    def write(self: ProfileStore, index: Any, at: Any, values: Any, undo: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls != k or not values:
            return _write(self, index, at, values, undo)
        first = next(iter(values))
        _write(self, index, at, {first: values[first]}, undo)
        fired.count += 1
        raise Boom(f"profile write #{k} after its field {first!r}")

    def grow(self: ProfileStore, m: int, at: Any) -> None:
        fired.count += 1
        raise Boom("grow")

    patches = {
        "extend": mock.patch.object(Column, "extend", extend),
        "extended": mock.patch.object(Column, "extend", extend),
        "profile": mock.patch.object(ProfileStore, "write", write),
        "grow": mock.patch.object(ProfileStore, "grow", grow),
    }
    with patches[where]:
        yield fired


def _plain(value: Any, depth: int = 0) -> Any:
    """Everything a pool holds, as plain comparable values: the filled part of every column
    and array (raw bytes, or the objects themselves), every dict, list and nested object."""
    if depth > 16:
        raise AssertionError("unexpectedly deep pool state")
    if isinstance(value, Column):
        value = value.values
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "O":
            return ("objects", value.shape, [(type(v), v) for v in value.tolist()])
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, dict | MappingProxyType):
        return {k: _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, str | int | float | bool | type(None) | dt.timedelta):
        return value
    if type(value).__module__.startswith("privdomain"):
        slots = [s for c in type(value).__mro__ for s in getattr(c, "__slots__", ())]
        fields = {s: getattr(value, s) for s in slots if hasattr(value, s)}
        fields.update(getattr(value, "__dict__", {}))
        return (type(value).__name__, _plain(fields, depth + 1))
    return ("other", type(value).__name__)


def state_of(pool: Pool) -> Any:
    """Every attribute of ``pool`` but its lock, as plain values."""
    return _plain({k: v for k, v in vars(pool).items() if k != "_lock"})


def tables_bytes(pool: Pool) -> Any:
    """The arrays of ``pool.tables()`` (customers, event log, profile histories) as bytes."""
    tables = pool.tables()
    out: dict[str, Any] = {
        "ids": tables.customers.ids.tolist(),
        "agents": tables.agent_ids,
        "stores": tables.store_ids,
        "tags": tables.tags,
        "attributes": tables.attributes,
    }
    for part in ("joined", "source", "referrer"):
        out[f"customers.{part}"] = _plain(getattr(tables.customers, part))
    for field in attrs.fields(type(tables.events)):
        out[f"events.{field.name}"] = _plain(getattr(tables.events, field.name))
    for name, history in tables.profile.items():
        out[f"profile[{name}]"] = (
            _plain(history.customer),
            _plain(history.at),
            _plain(history.value),
            history.overwrites,
        )
    return out


TestPoolStateMachine = Machine.TestCase
TestPoolStateMachine.settings = settings(
    max_examples=50,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ------------------------------------------------------------------------------------ regressions
def test_a_customer_keeps_its_place_in_arrival_order() -> None:
    """A customer whose first record in a batch is rejected and a later one accepted takes the
    place of the accepted record among the batch's new customers."""
    pool = new_pool()
    report = pool.ingest(
        [
            Customer("c2", TENANT, T0, referrer_id=GHOST),  # rejected: unknown referrer
            Customer("c2", TENANT, T0),  # accepted: c2 arrives here
            Customer("c1", TENANT, T0),  # and c1 after it
        ]
    )
    assert report.customers_added == 2
    assert [r.index for r in report.rejected] == [0]
    assert pool.customer_ids.tolist() == ["c2", "c1"]


def test_a_failed_batch_can_be_retried() -> None:
    """The plainest case of the machine's rule: a batch of new customers and their
    touchpoints fails on its last append; the pool is as before and the retry goes through."""
    pool = new_pool()
    assert pool.ingest([Customer("c0", TENANT, T0, consent={"wecom"}, tags={"vip"})]).ok
    before, tables = state_of(pool), tables_bytes(pool)
    batch = [
        Customer("c1", TENANT, T0 + STEP, agent_id="guide-A", attributes={"age": 30}),
        Customer("c0", TENANT, T0, tags={"new"}, updated_at=T0 + STEP),
        Touchpoint("t1", TENANT, "c1", T0 + 2 * STEP, "wecom", "purchased", amount=Money(100)),
    ]
    with failing("extended", 30) as fired, pytest.raises(Boom):
        pool.ingest(batch)
    assert fired
    assert state_of(pool) == before
    assert tables_bytes(pool) == tables
    report = pool.ingest(batch)
    assert (report.customers_added, report.customers_updated, report.touchpoints_accepted) == (
        1,
        1,
        1,
    )
