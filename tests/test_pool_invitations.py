"""Invitations to people who have not joined (yet), and replays of a touchpoint id with other
content.

An ``INVITED`` or ``SHARED`` touchpoint may name an invitee who is not a customer: the pool
keeps the invitation under the invitee's id, and from their join on it is an invitation of a
customer, exactly as if it had arrived after them. Loading the same history in one batch or day
by day gives the same snapshots; the K-factor counts invitations to people who never join.
"""

from __future__ import annotations

import datetime as dt
import pickle
from typing import Any

import numpy as np
import pytest
from helpers import T0, TENANT, assert_snapshots_equal, at, customer, new_pool, reasons_by_index
from hypothesis import given, settings
from hypothesis import strategies as st

from privdomain import Customer, Money, Pool, RejectReason, Touchpoint, TouchpointColumns
from privdomain.referral import bind, k_factor


def invite(tid: str, who: str, whom: str | None, when: dt.datetime, **kw: Any) -> Touchpoint:
    return Touchpoint(tid, TENANT, who, when, "wecom", "invited", related_customer_id=whom, **kw)


def invitations(pool: Pool, as_of: dt.datetime) -> list[tuple[str, str | None, str | None]]:
    """(inviter, invitee id, invitee's id through their row or None) of a snapshot, sorted."""
    snap = pool.snapshot(as_of)
    ids = snap.customer_ids
    inv = snap.invitations
    return sorted(
        (
            (ids[r], who, ids[w] if w >= 0 else None)
            for r, who, w in zip(
                inv.row.tolist(), inv.invitee_id.tolist(), inv.invitee_row.tolist(), strict=True
            )
        ),
        key=repr,
    )


# ------------------------------------------------------------------------- invitee joins later
class TestInviteeJoinsLater:
    def test_the_invitation_is_kept_and_resolved_when_the_invitee_joins(self) -> None:
        pool = new_pool()
        assert pool.ingest([customer("a", at(0))]).ok
        report = pool.ingest([invite("t1", "a", "b", at(5))])
        assert report.ok
        assert report.touchpoints_accepted == 1
        assert "b" not in pool
        assert len(pool) == 1
        assert invitations(pool, at(10)) == [("a", "b", None)]
        assert pool.ingest([customer("b", at(6))]).ok
        assert len(pool) == 2
        assert invitations(pool, at(5, hours=12)) == [("a", "b", None)]  # before b joined
        assert invitations(pool, at(6)) == [("a", "b", "b")]
        assert invitations(pool, at(10)) == [("a", "b", "b")]

    def test_shares_may_name_someone_who_has_not_joined(self) -> None:
        pool = new_pool()
        pool.ingest([customer("a")])
        tp = Touchpoint("s1", TENANT, "a", at(1), "wecom", "shared", related_customer_id="x")
        assert pool.ingest([tp]).ok
        assert pool.tables().events.related.tolist() == [-2]
        assert pool.tables().events.referenced_ids.tolist() == ["x"]
        pool.ingest([customer("x", at(2))])
        assert pool.tables().events.related.tolist() == [1]

    def test_other_touches_still_need_a_known_related_customer(self) -> None:
        pool = new_pool()
        pool.ingest([customer("a")])
        tp = Touchpoint("v1", TENANT, "a", at(1), "wecom", "clicked", related_customer_id="x")
        report = pool.ingest([tp])
        assert reasons_by_index(report) == {0: RejectReason.UNKNOWN_RELATED_CUSTOMER}
        assert pool.tables().events.referenced_ids.tolist() == []

    def test_an_invalid_invitee_id_is_rejected(self) -> None:
        pool = new_pool()
        pool.ingest([customer("a")])
        cols = TouchpointColumns.from_arrays(
            id=["t1", "t2"],
            tenant=TENANT,
            customer_id=["a", "a"],
            at=[at(1), at(1)],
            channel="wecom",
            kind="invited",
            related_customer_id=["bad\nid", "ok"],
        )
        report = pool.ingest(cols)
        assert reasons_by_index(report) == {0: RejectReason.INVALID}
        assert "related customer id" in report.rejected[0].detail
        assert pool.tables().events.referenced_ids.tolist() == ["ok"]

    def test_the_snapshot_is_the_same_as_when_the_invitee_came_first(self) -> None:
        late, early = new_pool(), new_pool()
        late.ingest([customer("a"), invite("t1", "a", "b", at(5)), invite("t2", "a", "c", at(5))])
        late.ingest([customer("b", at(6))])
        early.ingest([customer("a"), customer("b", at(6))])
        early.ingest([invite("t1", "a", "b", at(5)), invite("t2", "a", "c", at(5))])
        for as_of in (at(5), at(6), at(9)):
            assert_snapshots_equal(late.snapshot(as_of), early.snapshot(as_of), by_id=True)
        assert invitations(late, at(9)) == [("a", "b", "b"), ("a", "c", None)]

    def test_a_failed_batch_forgets_the_resolution(self) -> None:
        pool = new_pool()
        pool.ingest([customer("a"), invite("t1", "a", "b", at(5))])
        before = pool.tables().events
        with pytest.raises(Exception, match="boom"), _raising_after_add():
            pool.ingest([customer("b", at(6))])
        assert "b" not in pool
        assert pool.tables().events.related.tolist() == before.related.tolist() == [-2]
        assert pool.ingest([customer("b", at(6))]).ok
        assert pool.tables().events.related.tolist() == [1]
        # an earlier view does not change with later batches
        assert before.related.tolist() == [-2]

    def test_a_pickled_pool_keeps_its_referenced_invitees(self) -> None:
        pool = new_pool()
        pool.ingest([customer("a"), invite("t1", "a", "b", at(5))])
        copy = pickle.loads(pickle.dumps(pool))
        copy.ingest([customer("b", at(6))])
        assert invitations(copy, at(9)) == [("a", "b", "b")]
        assert copy.ingest([invite("t1", "a", "b", at(5))]).duplicates == 1

    def test_bindings_follow_an_invitation_sent_before_the_join(self) -> None:
        pool = new_pool()
        pool.ingest([customer("a"), invite("t1", "a", "b", at(5))])
        pool.ingest([customer("b", at(6))])
        bindings = bind(pool.snapshot(at(9)))
        assert bindings.referrer_ids.tolist() == [None, "a"]


class _Boom(Exception):
    pass


class _raising_after_add:
    """Make the customer store raise right after it resolved referenced invitees."""

    def __enter__(self) -> None:
        from privdomain.domain._customer_store import CustomerRegistry

        self._patched = CustomerRegistry
        self._original = CustomerRegistry.resolve_referenced

        def resolve(reg: Any, *args: Any) -> None:
            self._original(reg, *args)
            raise _Boom("boom")

        CustomerRegistry.resolve_referenced = resolve  # type: ignore[method-assign]

    def __exit__(self, *exc: object) -> None:
        self._patched.resolve_referenced = self._original  # type: ignore[method-assign]


# ------------------------------------------------------------------------------------ K-factor
class TestKFactor:
    def test_invitations_to_people_who_never_join_count_as_not_converted(self) -> None:
        pool = new_pool()
        pool.ingest([customer("a"), customer("b")])
        pool.ingest(
            [
                invite("t1", "a", "x", at(1)),
                invite("t2", "a", "y", at(1)),
                invite("t3", "b", "z", at(2)),
                invite("t4", "b", "w", at(2)),
            ]
        )
        pool.ingest([customer("x", at(3))])
        k = k_factor(pool.snapshot(at(9)), start=at(0), end=at(9))
        # 3 customers by the end, 4 invitations, 1 of them converted
        assert (k.customers, k.invites, k.converted) == (3, 4, 1)
        assert k.invites_per_customer == pytest.approx(4 / 3)
        assert k.conversion == pytest.approx(1 / 4)
        assert k.k == pytest.approx(k.invites_per_customer * k.conversion)

    def test_conversion_is_as_of(self) -> None:
        pool = new_pool()
        pool.ingest([customer("a"), invite("t1", "a", "x", at(1))])
        pool.ingest([customer("x", at(3))])
        before = k_factor(pool.snapshot(at(2)), start=at(0))
        after = k_factor(pool.snapshot(at(4)), start=at(0))
        assert (before.invites, before.converted) == (1, 0)
        assert (after.invites, after.converted) == (1, 1)


# --------------------------------------------------------------------- bulk and incremental
@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Customer], list[Touchpoint]]:
    """Customers joining over ten days and invitations between them, or to people who never
    join, at any time (before or after the invitee joins)."""
    names = [f"c{i}" for i in range(draw(st.integers(1, 6)))]
    outsiders = ["x0", "x1"]
    customers = [
        Customer(c, TENANT, T0 + dt.timedelta(hours=draw(st.integers(0, 240)))) for c in names
    ]
    joined = {c.id: c.joined_at for c in customers}
    touchpoints = []
    for k in range(draw(st.integers(0, 12))):
        who = draw(st.sampled_from(names))
        whom = draw(st.sampled_from([None, *[c for c in [*names, *outsiders] if c != who]]))
        when = joined[who] + dt.timedelta(hours=draw(st.integers(0, 120)))
        kind = draw(st.sampled_from(["invited", "invited", "shared"]))
        touchpoints.append(
            Touchpoint(f"t{k}", TENANT, who, when, "wecom", kind, related_customer_id=whom)
        )
    return customers, touchpoints


def as_columns(touchpoints: list[Touchpoint]) -> TouchpointColumns:
    """The same touchpoints as columns (integer epoch seconds: every instant is on the hour)."""
    return TouchpointColumns.from_arrays(
        id=[tp.id for tp in touchpoints],
        tenant=TENANT,
        customer_id=[tp.customer_id for tp in touchpoints],
        at=np.array([int(tp.at.timestamp()) for tp in touchpoints], dtype=np.int64),
        epoch_unit="s",
        channel="wecom",
        kind=[tp.kind for tp in touchpoints],
        related_customer_id=[tp.related_customer_id for tp in touchpoints],
    )


@settings(max_examples=60, deadline=None)
@given(
    history=histories(),
    as_of_hours=st.lists(st.integers(-10, 400), min_size=1, max_size=3),
    columns=st.booleans(),
)
def test_loading_day_by_day_gives_the_snapshots_of_a_bulk_load(
    history: tuple[list[Customer], list[Touchpoint]], as_of_hours: list[int], columns: bool
) -> None:
    customers, touchpoints = history
    bulk = new_pool()
    assert bulk.ingest(customers).ok
    assert bulk.ingest(as_columns(touchpoints) if columns else touchpoints).ok
    daily = new_pool()
    days = sorted(
        {
            (r.joined_at if isinstance(r, Customer) else r.at).date()
            for r in [*customers, *touchpoints]
        }
    )
    for day in days:
        batch = [c for c in customers if c.joined_at.date() == day] + [
            tp for tp in touchpoints if tp.at.date() == day
        ]
        assert daily.ingest(batch).ok
    assert daily.n_touchpoints == bulk.n_touchpoints == len(touchpoints)
    for hours in as_of_hours:
        as_of = T0 + dt.timedelta(hours=hours)
        assert_snapshots_equal(daily.snapshot(as_of), bulk.snapshot(as_of), by_id=True)
        # an invitation is to a customer (invitee row) only once the invitee has joined
        snap = daily.snapshot(as_of)
        inv = snap.invitations
        joined = {c.id for c in customers if c.joined_at <= as_of}
        for who, row in zip(inv.invitee_id.tolist(), inv.invitee_row.tolist(), strict=True):
            assert (row >= 0) == (who in joined)
            if row >= 0:
                assert snap.customer_ids[row] == who
    # replaying everything changes nothing
    again = daily.ingest([*customers, *touchpoints])
    assert again.ok
    assert again.duplicates == len(touchpoints)


# ------------------------------------------------------------------- replays with new content
class TestReplayConflicts:
    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"customer_id": "b"}, "customer"),
            ({"at": at(2)}, "instant"),
            ({"channel": "sms"}, "channel"),
            ({"kind": "refunded"}, "kind"),
            ({"amount": Money.of("10.01")}, "amount"),
            ({"discount": Money.of("1.00")}, "discount"),
            ({"order_id": "o2"}, "order id"),
            ({"promotion": True}, "promotion"),
            ({"agent_id": "guide-B"}, "agent"),
        ],
    )
    @pytest.mark.parametrize("where", ["pool", "batch"])
    def test_a_purchase_replayed_with_other_content_is_a_conflict(
        self, change: dict[str, Any], field: str, where: str
    ) -> None:
        pool = new_pool()
        pool.ingest([customer("a"), customer("b")])
        first = Touchpoint(
            "t1",
            TENANT,
            "a",
            at(1),
            "wecom",
            "purchased",
            amount=Money.of("10.00"),
            order_id="o1",
            agent_id="guide-A",
        )
        fields = {
            name: getattr(first, name)
            for name in ("id", "tenant", "customer_id", "at", "channel", "kind", "amount")
        }
        fields.update(order_id="o1", agent_id="guide-A")
        fields.update(change)
        if fields["kind"] == "refunded":
            fields["order_id"] = "o1"
        second = Touchpoint(**fields)
        if where == "pool":
            assert pool.ingest([first]).ok
            report = pool.ingest([second, first])
            index = 0
        else:
            report = pool.ingest([first, second, first])
            index = 1
        assert reasons_by_index(report) == {index: RejectReason.CONFLICT}
        assert (
            report.rejected[0].detail == f"touchpoint id already recorded with a different {field}"
        )
        assert report.duplicates == 1
        assert pool.n_touchpoints == 1

    @pytest.mark.parametrize("where", ["pool", "batch"])
    def test_an_invitation_replayed_to_someone_else_is_a_conflict(self, where: str) -> None:
        pool = new_pool()
        pool.ingest([customer("a"), customer("b")])
        batches = [
            [invite("t1", "a", "x", at(1)), invite("t2", "a", "b", at(1))],
            [
                invite("t1", "a", "y", at(1)),  # another not-yet-customer
                invite("t1", "a", "b", at(1)),  # a customer
                invite("t1", "a", None, at(1)),  # nobody
                invite("t2", "a", "x", at(1)),
                invite("t1", "a", "x", at(1)),  # the exact replay
            ],
        ]
        if where == "pool":
            pool.ingest(batches[0])
            report = pool.ingest(batches[1])
            conflicts = {0, 1, 2, 3}
        else:
            report = pool.ingest(batches[0] + batches[1])
            conflicts = {2, 3, 4, 5}
        assert reasons_by_index(report) == dict.fromkeys(conflicts, RejectReason.CONFLICT)
        assert {r.detail for r in report.rejected} == {
            "touchpoint id already recorded with a different related customer"
        }
        assert report.duplicates == 1

    def test_an_invitation_replayed_after_the_invitee_joined_is_a_duplicate(self) -> None:
        pool = new_pool()
        pool.ingest([customer("a"), invite("t1", "a", "x", at(1))])
        pool.ingest([customer("x", at(2))])
        report = pool.ingest([invite("t1", "a", "x", at(1))])
        assert report.ok
        assert report.duplicates == 1

    def test_integer_ids_compare_content_too(self) -> None:
        pool = new_pool()
        pool.ingest([customer("a")])

        def cols(ids: list[int], amounts: list[float]) -> TouchpointColumns:
            return TouchpointColumns.from_arrays(
                id=np.array(ids),
                tenant=TENANT,
                customer_id="a",
                at=[at(1)] * len(ids),
                channel="wecom",
                kind="purchased",
                amount=np.array(amounts),
                currency="CNY",
            )

        assert pool.ingest(cols([5, 9], [1.0, 2.0])).ok
        report = pool.ingest(cols([9, 5, 7, 7], [2.0, 3.0, 4.0, 4.5]))
        assert report.duplicate_touchpoints.tolist() == [0]
        assert reasons_by_index(report) == {
            1: RejectReason.CONFLICT,
            3: RejectReason.CONFLICT,
        }
        assert report.touchpoints_accepted == 1
