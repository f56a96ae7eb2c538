"""Small pools with referral chains, invitations, orders and refunds."""

from __future__ import annotations

import datetime as dt
from typing import Any

from helpers import at, customer, new_pool, purchase, touch

from privdomain import Pool, Snapshot, TouchKind


def chain_pool(extra: list[Any] | None = None) -> Pool:
    """a <- b <- c <- d (each referred by the previous), e on its own; d buys 100.00 (order o1)
    and 33.33 (order o2) through agent g1."""
    p = new_pool()
    report = p.ingest(
        [
            customer("a", at(0)),
            customer("b", at(1), referrer_id="a"),
            customer("c", at(2), referrer_id="b"),
            customer("d", at(3), referrer_id="c"),
            customer("e", at(3)),
            purchase("t1", "d", at(4), "100.00", order_id="o1", agent_id="g1"),
            purchase("t2", "d", at(5), "33.33", order_id="o2"),
            *(extra or []),
        ]
    )
    assert report.ok, report.rejected
    return p


def invite(tid: str, inviter: str, invitee: str, when: dt.datetime) -> Any:
    return touch(tid, inviter, when, TouchKind.INVITED, related_customer_id=invitee)


def refund(tid: str, cid: str, when: dt.datetime, amount: str, order_id: str) -> Any:
    return touch(tid, cid, when, TouchKind.REFUNDED, amount=amount, order_id=order_id)


def snap(pool: Pool, days: float = 60) -> Snapshot:
    return pool.snapshot(at(days))
