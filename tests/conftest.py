"""Fixtures of the foundation tests: a small pool in China's time zone that everyone knows."""

from __future__ import annotations

import pytest
from helpers import at, customer, new_pool, purchase, touch

from privdomain import Channel, Pool, TouchKind


@pytest.fixture
def pool() -> Pool:
    """An empty pool of tenant ``"brand"``, business days cut at midnight in China."""
    return new_pool()


@pytest.fixture
def shop() -> Pool:
    """A pool of three customers and a handful of touchpoints in the first week of 2026.

    - ``alice`` (from Douyin, vip, age 31) buys twice on 2 Jan and once on 5 Jan, refunds once;
    - ``bob`` (referred by alice) gets a WeCom message and replies, never buys;
    - ``carol`` (joined 3 Jan) has no touchpoints at all.
    """
    p = new_pool()
    report = p.ingest(
        [
            customer(
                "alice",
                at(0),
                source=Channel.DOUYIN,
                tags={"vip"},
                attributes={"age": 31, "region": "华东"},
                consent={Channel.WECOM, Channel.SMS},
            ),
            customer("bob", at(1), source="referral", referrer_id="alice", consent={"wecom"}),
            customer("carol", at(2), attributes={"age": 24}),
            purchase("t1", "alice", at(1, hours=10), "100.00", promotion=True),
            purchase("t2", "alice", at(1, hours=20), "50.50", discount="5.00"),
            purchase("t3", "alice", at(4, hours=9), "20.00"),
            touch("t4", "alice", at(5), TouchKind.REFUNDED, amount="20.00"),
            touch("t5", "bob", at(1, hours=12), TouchKind.SENT),
            touch("t6", "bob", at(1, hours=13), TouchKind.REPLIED),
        ]
    )
    assert report.ok, report.rejected
    return p
