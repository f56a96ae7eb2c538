"""A one-look overview of a pool: breadth, buyers, repeat purchase, revenue and reach."""

from __future__ import annotations

import html
from collections.abc import Mapping

import attrs
import numpy as np

from privdomain.domain.channels import Channel
from privdomain.domain.frozenmap import FrozenMap
from privdomain.domain.snapshot import OWNED_CHANNELS, Snapshot

__all__ = ["PoolOverview", "overview"]


@attrs.frozen
class PoolOverview:
    """Headline figures of a pool as of a snapshot (see :func:`overview`)."""

    as_of: str
    currency: str
    customers: int
    sources: Mapping[Channel, int]
    """Customers per source channel that brought them, largest first."""
    buyers: int
    repeat_buyers: int
    orders: int
    revenue: float
    """Net of refunds."""
    average_order_value: float
    """Gross spend per order (NaN without orders)."""
    referred_share: float
    """Share of customers brought by another customer (老带新)."""
    reachable_share: Mapping[Channel, float]
    """Share of customers reachable on each owned channel."""
    multi_channel_share: float
    """Share reachable on two or more owned channels."""

    @property
    def source_breadth(self) -> int:
        """How many distinct public platforms and stores feed the pool (the breadth of the pool)."""
        return sum(1 for c, k in self.sources.items() if k and c is not Channel.REFERRAL)

    @property
    def repeat_rate(self) -> float:
        """Share of buyers who bought on two or more days."""
        return self.repeat_buyers / self.buyers if self.buyers else float("nan")

    def rows(self) -> list[tuple[str, str]]:
        """The overview as (label, value) rows, in reading order."""
        share = self.customers or 1
        out = [
            ("as of", self.as_of),
            ("customers", f"{self.customers:,}"),
            ("source breadth", f"{self.source_breadth} public platforms and stores"),
        ]
        out += [
            (f"  from {c.name.lower()}", f"{k:,} ({k / share:.1%})")
            for c, k in self.sources.items()
        ]
        out += [
            ("buyers", f"{self.buyers:,} ({self.buyers / share:.1%} of customers)"),
            ("repeat buyers", f"{self.repeat_buyers:,} ({self.repeat_rate:.1%} of buyers)"),
            ("orders", f"{self.orders:,}"),
            ("revenue", f"{self.revenue:,.2f} {self.currency}"),
            ("average order value", f"{self.average_order_value:,.2f} {self.currency}"),
            ("referred by customers", f"{self.referred_share:.1%}"),
            ("reachable on 2+ channels", f"{self.multi_channel_share:.1%}"),
        ]
        out += [
            (f"  reachable on {c.name.lower()}", f"{v:.1%}")
            for c, v in self.reachable_share.items()
        ]
        return out

    def __str__(self) -> str:
        rows = self.rows()
        width = max(len(label) for label, _ in rows)
        return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in self.rows()
        )
        return f"<table>{body}</table>"


def overview(snapshot: Snapshot) -> PoolOverview:
    """Headline figures of the pool in ``snapshot``: one vectorised pass over its columns."""
    n = len(snapshot)
    counts = np.bincount(snapshot.source, minlength=len(Channel))
    order = np.argsort(-counts, kind="stable")
    sources = {Channel(int(c)): int(counts[c]) for c in order if counts[c]}
    orders = int(snapshot.orders.sum())
    gross = float(snapshot.gross_spend.sum())
    reach = snapshot.reachable.mean(axis=0) if n else np.zeros(len(OWNED_CHANNELS))
    return PoolOverview(
        as_of=snapshot.as_of.isoformat(),
        currency=snapshot.currency,
        customers=n,
        sources=FrozenMap(sources),
        buyers=int((snapshot.orders > 0).sum()),
        repeat_buyers=int((snapshot.purchase_days > 1).sum()),
        orders=orders,
        revenue=float(snapshot.net_spend.sum()),
        average_order_value=gross / orders if orders else float("nan"),
        referred_share=float(snapshot.has_referrer.mean()) if n else float("nan"),
        reachable_share=FrozenMap(
            {c: float(v) for c, v in zip(OWNED_CHANNELS, reach, strict=True)}
        ),
        multi_channel_share=float((snapshot.reachable_channels >= 2).mean()) if n else float("nan"),
    )
