"""Binding modes, refusals and their reasons."""

from __future__ import annotations

import attrs
import numpy as np
import pytest
from helpers import at, customer
from referral_helpers import chain_pool, invite, snap

from privdomain.errors import ValidationError
from privdomain.referral import BindingMode, BindingPolicy, Reason, bind


def test_registered_referrers_are_parent_pointers() -> None:
    b = bind(snap(chain_pool()))
    assert b.referrer_ids.tolist() == [None, "a", "b", "c", None]
    who, ref, _ = b.history()
    assert who.dtype == np.int64
    assert ref.dtype == np.int64
    assert "bound to 'c'" in b.explain("d")


def _rebinding_pool() -> object:
    # e invites d at day 10 and day 40 (d is bound to c since day 3)
    return chain_pool([invite("i1", "e", "d", at(10)), invite("i2", "e", "d", at(40))])


@pytest.mark.parametrize(
    ("mode", "expected", "reasons"),
    [
        ("permanent", "c", [Reason.BOUND, Reason.LOCKED, Reason.LOCKED]),
        ("expiring", "e", [Reason.BOUND, Reason.PROTECTED, Reason.BOUND]),
        ("last_touch", "e", [Reason.BOUND, Reason.BOUND, Reason.BOUND]),
    ],
)
def test_binding_modes(mode: str, expected: str, reasons: list[Reason]) -> None:
    s = snap(_rebinding_pool())
    b = bind(s, BindingPolicy(mode))
    d = s.row("d")
    assert b.referrer_ids[d] == expected
    assert b.reason[b.candidate_invitee == d].tolist() == reasons
    assert "protection period" in bind(s, BindingPolicy("expiring")).explain("d")


def test_protection_period_is_data() -> None:
    s = snap(_rebinding_pool())
    b = bind(s, BindingPolicy(BindingMode.EXPIRING, protection_days=5))
    d = s.row("d")
    assert b.reason[b.candidate_invitee == d].tolist() == [Reason.BOUND] * 3


def test_self_and_upline_refused() -> None:
    # d invites e (rewritten below into d inviting itself, which ingest never lets through);
    # d invites a (a is d's upline three levels up: a loop)
    s = snap(chain_pool([invite("i1", "d", "e", at(10)), invite("i2", "d", "a", at(11))]))
    invitee = s.invitations.invitee_row.copy()
    invitee[0] = s.row("d")
    s = attrs.evolve(s, invitations=attrs.evolve(s.invitations, invitee_row=invitee))
    b = bind(s, BindingPolicy("last_touch"))
    assert b.reason[b.candidate_invitee == s.row("d")][-1] == Reason.SELF
    assert b.reason[b.candidate_invitee == s.row("a")].tolist() == [Reason.UPLINE]
    assert b.referrer_ids[s.row("a")] is None
    assert "upline" in b.explain("a")
    assert "themself" in b.explain("d")


def test_only_new_customers() -> None:
    # e joined at day 3; an invitation at day 10 finds it no longer brand new
    s = snap(chain_pool([invite("i1", "a", "e", at(10)), customer("f", at(20))]))
    pool_f = chain_pool(
        [customer("f", at(20)), invite("i1", "a", "e", at(10)), invite("i2", "a", "f", at(19))]
    )
    strict = BindingPolicy(new_customers_only=True)
    assert bind(s, strict).referrer_ids[s.row("e")] is None
    assert bind(s).referrer_ids[s.row("e")] == "a"
    s2 = snap(pool_f)
    b2 = bind(s2, strict)
    assert b2.referrer_ids[s2.row("f")] == "a"  # invited before it joined: brand new
    assert b2.reason[b2.candidate_invitee == s2.row("e")].tolist() == [Reason.NOT_NEW]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "sometimes"}, "binding mode"),
        ({"protection_days": -1}, "protection_days"),
        ({"protection_days": True}, "protection_days"),
        ({"new_customers_only": "yes"}, "new_customers_only"),
    ],
)
def test_bad_policy(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        BindingPolicy(**kwargs)  # type: ignore[arg-type]


def test_bind_takes_a_snapshot() -> None:
    with pytest.raises(ValidationError, match="Snapshot"):
        bind("not a snapshot")  # type: ignore[arg-type]


def test_loop_at_one_instant_does_not_depend_on_ingest_order() -> None:
    from helpers import new_pool

    def bound(order: list[int]) -> list[object]:
        records = [
            customer("x", at(0)),
            customer("y", at(0)),
            invite("i1", "x", "y", at(1)),
            invite("i2", "y", "x", at(1)),
        ]
        p = new_pool()
        assert p.ingest([records[i] for i in order]).ok
        s = snap(p)
        b = bind(s)
        return [b.referrer_ids[s.row("x")], b.referrer_ids[s.row("y")]]

    assert (
        bound([0, 1, 2, 3]) == bound([1, 0, 3, 2]) == ["y", None]
    )  # y sorts last: its binding is refused


def test_a_row_selection_still_explains() -> None:
    s = snap(chain_pool())
    b = bind(s)
    part = b[[3, 0]]
    assert part.referrer_ids.tolist() == ["c", None]
    assert part.explain("d") == b.explain("d")
