"""Fraud checks: every flag with its evidence, held credit never paid, bad input refused."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import pytest
from helpers import at, customer, new_pool, purchase
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from referral_helpers import chain_pool, invite, snap

from privdomain import Snapshot
from privdomain.errors import ValidationError
from privdomain.memory import InMemoryCommissionLedger
from privdomain.ports import CommissionStatus
from privdomain.referral import (
    CommissionRule,
    FraudFlag,
    FraudPolicy,
    FraudReport,
    attribute,
    bind,
    check_fraud,
    settle,
)

RULE = CommissionRule(("0.05", "0.02"), agent_rate="0.03")


def _flags(report: FraudReport) -> dict[str, int]:
    return {c: int(f) for c, f in zip(report.customer_ids.tolist(), report.flags, strict=True)}


def test_a_clean_chain_is_not_flagged() -> None:
    report = check_fraud(snap(chain_pool()))
    assert not report.flagged.any()
    assert not report.agent_flags.any()
    assert all(len(e) == 0 for e in report.evidence().values())
    assert report.explain("a") == "customer 'a': not flagged"


def test_rings_are_the_loops_of_the_invitation_graph() -> None:
    # a <- b <- c (registered); c invites a back: a, b, c on one loop. d <-> e invite each other
    p = new_pool()
    report = p.ingest(
        [
            customer("a", at(0)),
            customer("b", at(1), referrer_id="a"),
            customer("c", at(2), referrer_id="b"),
            customer("d", at(2)),
            customer("e", at(2)),
            customer("f", at(2), referrer_id="e"),
            invite("i1", "c", "a", at(3)),
            invite("i2", "d", "e", at(3)),
            invite("i3", "e", "d", at(3)),
        ]
    )
    assert report.ok, report.rejected
    fraud = check_fraud(p.snapshot(at(10)))
    ring = FraudFlag.RING
    assert _flags(fraud) == {"a": ring, "b": ring, "c": ring, "d": ring, "e": ring, "f": 0}
    assert fraud.rings.to_records() == [
        {"customer_id": "a", "ring": 0, "ring_size": 3},
        {"customer_id": "b", "ring": 0, "ring_size": 3},
        {"customer_id": "c", "ring": 0, "ring_size": 3},
        {"customer_id": "d", "ring": 1, "ring_size": 2},
        {"customer_id": "e", "ring": 1, "ring_size": 2},
    ]
    assert "invitation ring" in fraud.explain("d")


def test_self_referral_in_a_snapshot_built_by_a_host() -> None:
    # the pool refuses a customer inviting themself at ingest; a snapshot assembled elsewhere
    # (frames, another store) can still carry one, and the check finds it
    s = snap(chain_pool([invite("i1", "a", "b", at(2))]))
    inv = s.invitations
    self_invite = attrs.evolve(
        inv, invitee_row=np.array([s.row("a")]), invitee_id=np.array(["a"], dtype=object)
    )
    fraud = check_fraud(attrs.evolve(s, invitations=self_invite))
    assert _flags(fraud)["a"] == FraudFlag.SELF_REFERRAL
    rec = fraud.self_referrals.to_records()
    assert [(r["customer_id"], r["source"]) for r in rec] == [("a", "invitation")]
    assert rec[0]["at"] == at(2)


def _burst_pool(sent: int, minutes: float) -> Any:
    p = new_pool()
    records: list[Any] = [customer("a", at(0))]
    for k in range(sent):
        records.append(customer(f"n{k}", at(1)))
        records.append(invite(f"i{k}", "a", f"n{k}", at(1, minutes=k * minutes)))
    assert p.ingest(records).ok
    return p


@pytest.mark.parametrize(
    ("sent", "minutes", "flagged"),
    # a window is half-open, [t, t + 1 h): 15-minute steps put at most 4 in one
    [(5, 10, True), (4, 10, False), (5, 15, False), (6, 10, True), (9, 15, False)],
)
def test_bursts_count_invitations_in_a_sliding_window(
    sent: int, minutes: float, flagged: bool
) -> None:
    policy = FraudPolicy(burst_window_hours=1, burst_invitations=5)
    fraud = check_fraud(_burst_pool(sent, minutes).snapshot(at(5)), policy)
    assert bool(fraud.flags[fraud.row("a")] & FraudFlag.BURST) is flagged
    if flagged:
        (rec,) = fraud.bursts.to_records()
        assert rec["customer_id"] == "a"
        assert rec["window_start"] == at(1)  # the earliest of the busiest windows
        assert rec["invitations"] == sent


def test_referrers_whose_invitees_never_buy() -> None:
    p = new_pool()
    records: list[Any] = [customer("a", at(0)), customer("b", at(0))]
    for k in range(4):
        records.append(customer(f"x{k}", at(1), referrer_id="a"))
        records.append(customer(f"y{k}", at(1), referrer_id="b"))
        records.append(purchase(f"p{k}", f"y{k}", at(5 + k), "10.00", order_id=f"o{k}"))
    records.append(purchase("late", "x0", at(60), "10.00", order_id="late"))  # too late
    assert p.ingest(records).ok
    policy = FraudPolicy(idle_days=30, idle_min_invitees=4, idle_share=1.0)
    fraud = check_fraud(p.snapshot(at(70)), policy)
    assert _flags(fraud)["a"] == FraudFlag.IDLE_INVITEES
    assert _flags(fraud)["b"] == 0
    assert fraud.idle.to_records() == [{"customer_id": "a", "invitees": 4, "idle": 4}]
    # not judged before the window has passed for the invitees
    assert not check_fraud(p.snapshot(at(20)), policy).flagged.any()


def test_agent_bypass_orders_right_after_binding() -> None:
    p = new_pool()
    report = p.ingest(
        [
            customer("c", at(0), agent_id="g1"),
            customer("d", at(0), agent_id="g2"),
            customer("e", at(0), agent_id="g3"),
            # c buys on Taobao two days after being bound to g1, then in the mini-program
            purchase("t1", "c", at(2), "50.00", order_id="o1", channel="taobao"),
            purchase("t2", "c", at(3), "50.00", order_id="o2"),
            # d buys through the mini-program: the order is g2's
            purchase("t3", "d", at(2), "50.00", order_id="o3"),
            # e is served by another agent a day after binding, and on JD after the window
            purchase("t4", "e", at(1), "80.00", order_id="o4", agent_id="g2"),
            purchase("t5", "e", at(20), "80.00", order_id="o5", channel="jd"),
        ]
    )
    assert report.ok, report.rejected
    fraud = check_fraud(p.snapshot(at(30)), FraudPolicy(bypass_days=7, bypass_orders=1))
    flags = dict(zip(fraud.agent_ids, fraud.agent_flags.tolist(), strict=True))
    assert flags == {"g1": FraudFlag.AGENT_BYPASS, "g2": 0, "g3": FraudFlag.AGENT_BYPASS}
    rec = fraud.bypass.to_records()
    assert [(r["agent_id"], r["customer_id"], r["order_id"]) for r in rec] == [
        ("g1", "c", "o1"),
        ("g3", "e", "o4"),
    ]
    assert rec[0]["channel"] == "taobao"
    assert rec[1]["order_agent"] == "g2"
    assert rec[0]["bound_at"] == at(0)
    assert "order 'o1' by 'c'" in fraud.explain("g1")
    assert not fraud.flagged.any()  # agents are flagged, not customers
    # half of g1's watched orders went elsewhere, all of g3's: a share of 0.6 spares g1
    strict = check_fraud(p.snapshot(at(30)), FraudPolicy(bypass_orders=1, bypass_share=0.6))
    assert strict.agent_flags.tolist() == [0, 0, FraudFlag.AGENT_BYPASS]
    assert not check_fraud(p.snapshot(at(30))).agent_flags.any()  # default: 2 orders at least


def _burst_chain() -> Snapshot:
    # c (d's referrer) sends a burst of invitations
    extra = [customer(f"n{k}", at(2)) for k in range(5)]
    extra += [invite(f"i{k}", "c", f"n{k}", at(2, minutes=k)) for k in range(5)]
    return snap(chain_pool(extra))


def test_flagged_credit_is_held_and_never_paid() -> None:
    s = _burst_chain()
    # c's five invitees never buy either: c is flagged twice with the default idle check
    both = check_fraud(s, FraudPolicy(burst_invitations=5))
    assert _flags(both)["c"] == FraudFlag.BURST | FraudFlag.IDLE_INVITEES
    fraud = check_fraud(s, FraudPolicy(burst_invitations=5, idle_min_invitees=100))
    assert _flags(fraud)["c"] == FraudFlag.BURST
    ledger = attribute(s, RULE, hold=fraud)
    plain = attribute(s, RULE)
    assert np.array_equal(ledger.amount_minor, plain.amount_minor)  # same money, held
    held = ledger.beneficiary_id[ledger.held].tolist()
    assert held == ["c", "c"]
    assert (ledger.hold_flags[ledger.held] == FraudFlag.BURST).all()
    assert not ledger.held[ledger.beneficiary_id != "c"].any()
    assert "held (invitation burst)" in ledger.explain("o1")

    store = InMemoryCommissionLedger()
    report = settle(ledger, store)
    assert report.held == 2
    for entry in store.entries():
        expected = CommissionStatus.FROZEN if entry.beneficiary_id == "c" else None
        if expected is not None:
            assert entry.status is expected
        else:
            assert entry.status is CommissionStatus.PAYABLE
    # settling again never pays it; once cleared (a ledger without the hold), it is paid
    settle(ledger, store)
    assert {e.status for e in store.entries("c")} == {CommissionStatus.FROZEN}
    settle(plain, store)
    assert {e.status for e in store.entries("c")} == {CommissionStatus.PAYABLE}


def test_which_flags_hold_is_configurable_and_rings_hold_the_buyers_credit() -> None:
    s = _burst_chain()
    fraud = check_fraud(s, FraudPolicy(burst_invitations=5, hold=FraudFlag.RING))
    assert not attribute(s, RULE, hold=fraud).held.any()
    # d buys; d and c invite each other (a ring): every referrer's credit on d's orders is held
    ring = snap(chain_pool([invite("i1", "d", "c", at(3.5))]))
    fraud = check_fraud(ring)
    ledger = attribute(ring, RULE, hold=fraud)
    referrers = ledger.role == 0
    assert ledger.held[referrers].all()
    assert not ledger.held[~referrers].any()  # the agent is not flagged


def test_an_agents_credit_is_held_when_the_agent_is_flagged() -> None:
    p = new_pool()
    report = p.ingest(
        [
            customer("a", at(0)),
            customer("b", at(1), referrer_id="a", agent_id="g1"),
            purchase("t1", "b", at(2), "20.00", order_id="o1", channel="pinduoduo"),
            purchase("t2", "b", at(20), "100.00", order_id="o2"),  # credited to g1
        ]
    )
    assert report.ok, report.rejected
    s = p.snapshot(at(30))
    fraud = check_fraud(s, FraudPolicy(bypass_orders=1))
    assert fraud.agent_flags.tolist() == [FraudFlag.AGENT_BYPASS]
    ledger = attribute(s, RULE, hold=fraud)
    held = dict(zip(ledger.beneficiary_id.tolist(), ledger.held.tolist(), strict=False))
    assert held == {"a": False, "g1": True}
    assert ledger.total("o2") == attribute(s, RULE).total("o2")


def test_hold_needs_a_fraud_report() -> None:
    s = snap(chain_pool())
    with pytest.raises(ValidationError, match="FraudReport"):
        attribute(s, RULE, hold="burst")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"burst_window_hours": -1},
        {"burst_invitations": 1},
        {"burst_invitations": 2.5},
        {"idle_days": "30"},
        {"idle_share": 0},
        {"idle_share": 1.5},
        {"idle_min_invitees": 0},
        {"bypass_days": float("nan")},
        {"bypass_orders": True},
        {"bypass_share": 0},
        {"hold": 64},
        {"hold": "ring"},
    ],
)
def test_bad_policies(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FraudPolicy(**kwargs)


def test_bad_calls() -> None:
    s = snap(chain_pool())
    with pytest.raises(ValidationError, match="Snapshot"):
        check_fraud("x")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="FraudPolicy"):
        check_fraud(s, {"burst_invitations": 3})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="bindings"):
        check_fraud(s, bindings=bind(s.take([0, 1])))


def test_an_empty_snapshot() -> None:
    s = snap(chain_pool(), days=-1)
    assert len(s) == 0
    fraud = check_fraud(s)
    assert len(fraud) == 0
    assert all(len(e) == 0 for e in fraud.evidence().values())


def test_a_row_selection_keeps_the_flags_of_its_customers() -> None:
    s = _burst_chain()
    fraud = check_fraud(s, FraudPolicy(burst_invitations=5, idle_min_invitees=100))
    part = fraud.take([s.row("c"), s.row("a")])
    assert part.customer_ids.tolist() == ["c", "a"]
    assert part.flags.tolist() == [FraudFlag.BURST, 0]
    assert "invitation burst" in part.explain("c")


# ------------------------------------------------------------------ invariance (hypothesis)
@st.composite
def graphs(draw: Any) -> dict[str, Any]:
    n = draw(st.integers(1, 9))
    referrer = [None] + [draw(st.none() | st.integers(0, i - 1)) for i in range(1, n)]
    invites = draw(
        st.lists(
            st.tuples(
                st.integers(0, n - 1),
                st.integers(0, n + 1),  # n, n + 1: invitees who never join
                st.integers(0, 600),  # minutes
            ),
            max_size=14,
        )
    )
    orders = draw(
        st.lists(
            st.tuples(
                st.integers(0, n - 1),
                st.integers(0, 40),
                st.sampled_from([None, "g0", "g1"]),
                st.sampled_from(["mini_program", "taobao", "wecom"]),
            ),
            max_size=8,
        )
    )
    agents = [draw(st.sampled_from([None, "g0", "g1"])) for _ in range(n)]
    return {"n": n, "referrer": referrer, "invites": invites, "orders": orders, "agents": agents}


def _graph_records(g: dict[str, Any]) -> list[Any]:
    out: list[Any] = [
        customer(f"c{i}", at(i), referrer_id=None if r is None else f"c{r}", agent_id=a)
        for i, (r, a) in enumerate(zip(g["referrer"], g["agents"], strict=True))
    ]
    # invitees who join only after the snapshot
    out += [customer(f"c{g['n'] + k}", at(100)) for k in range(2)]
    for k, (a, b, minutes) in enumerate(g["invites"]):
        if a != b:
            out.append(invite(f"i{k}", f"c{a}", f"c{b}", at(a, minutes=minutes)))
    for k, (who, day, agent, channel) in enumerate(g["orders"]):
        out.append(
            purchase(
                f"p{k}",
                f"c{who}",
                at(who + day, hours=1),
                "12.34",
                order_id=f"o{k}",
                agent_id=agent,
                channel=channel,
            )
        )
    return out


def _canonical(report: FraudReport) -> Any:
    flags = sorted(zip(report.customer_ids.tolist(), report.flags.tolist(), strict=True))
    evidence = {k: e.to_records() for k, e in report.evidence().items()}
    return flags, dict(zip(report.agent_ids, report.agent_flags.tolist(), strict=True)), evidence


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.integers(0, 2**32 - 1))
def test_flags_do_not_depend_on_the_order_records_arrive_in(g: dict[str, Any], seed: int) -> None:
    policy = FraudPolicy(
        burst_window_hours=2, burst_invitations=2, idle_days=5, idle_min_invitees=1
    )
    records = _graph_records(g)
    a, b = new_pool(), new_pool()
    assert a.ingest(records).ok
    shuffled = [records[i] for i in np.random.default_rng(seed).permutation(len(records))]
    # customers first (an invitation names joined customers), each group shuffled
    b_customers = [r for r in shuffled if type(r).__name__ == "Customer"]
    assert b.ingest(b_customers + [r for r in shuffled if r not in b_customers]).ok
    snap = a.snapshot(at(60))
    left, right = check_fraud(snap, policy), check_fraud(b.snapshot(at(60)), policy)
    la, ra = _canonical(left), _canonical(right)
    assert la[0] == ra[0]
    assert la[1] == {k: ra[1].get(k, 0) for k in la[1]}
    assert la[2] == ra[2]
    # and on the rows of the snapshot in another order
    rows = np.random.default_rng(seed).permutation(len(snap))
    assert _canonical(check_fraud(snap.take(rows), policy)) == la


def test_records_after_as_of_change_nothing() -> None:
    # invitations, orders and customers dated after as_of are invisible to the checks and to
    # the held ledger drawn up at as_of
    base = _burst_chain()
    later = [
        customer("late", at(70), referrer_id="c"),
        invite("j1", "c", "late", at(70)),
        invite("j2", "d", "c", at(71)),  # would close a ring after as_of
        purchase("t9", "late", at(72), "10.00", order_id="o9", channel="taobao"),
    ]
    extra = [customer(f"n{k}", at(2)) for k in range(5)]
    extra += [invite(f"i{k}", "c", f"n{k}", at(2, minutes=k)) for k in range(5)]
    grown = chain_pool([*extra, *later]).snapshot(at(60))
    policy = FraudPolicy(burst_invitations=5)
    a, b = check_fraud(base, policy), check_fraud(grown, policy)
    assert _canonical(a) == _canonical(b)
    assert attribute(base, RULE, hold=a).to_records() == attribute(grown, RULE, hold=b).to_records()


def test_integer_order_ids() -> None:
    # a host may key orders by integers: the ledger keeps them, and settles them by text
    s = snap(chain_pool())
    numbered = attrs.evolve(s.order_log, order_id=np.array([101, 102], dtype=np.int64))
    s = attrs.evolve(s, order_log=numbered)
    ledger = attribute(s, RULE, hold=check_fraud(s))
    assert ledger.order_id.dtype == np.int64
    assert ledger.total(101).minor == 1000
    assert ledger.update(ledger).to_records() == ledger.to_records()
    store = InMemoryCommissionLedger()
    assert settle(ledger, store).posted == 5
    assert {e.order_id for e in store.entries()} == {"101", "102"}


def test_reports_of_separate_groups_concatenate() -> None:
    s = _burst_chain()
    policy = FraudPolicy(burst_invitations=5, idle_min_invitees=100)
    whole = check_fraud(s, policy)
    # a..d and the invitees of c form one group; e stands alone
    group = np.flatnonzero(s.customer_ids != "e")
    parts = [check_fraud(s.take(group), policy), check_fraud(s.take([s.row("e")]), policy)]
    joined = FraudReport.concat(parts)
    assert sorted(zip(joined.customer_ids.tolist(), joined.flags.tolist(), strict=True)) == sorted(
        zip(whole.customer_ids.tolist(), whole.flags.tolist(), strict=True)
    )
    assert joined.bursts.to_records() == whole.bursts.to_records()
    assert joined.agent_flags.tolist() == whole.agent_flags.tolist()
    with pytest.raises(ValidationError):
        FraudReport.concat([])
