"""A slow, obviously correct reference for :meth:`privdomain.Pool.snapshot`.

Plain loops over :class:`Customer` and :class:`Touchpoint` objects, computing every feature
straight from its definition in the snapshot's docstrings, in the flat format of
:meth:`Snapshot.to_records` (plain Python values, ``None`` for NaN and NaT). No numpy, no
cleverness: if the vectorised snapshot and this disagree, read this one first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from privdomain import OWNED_CHANNELS, Channel, Customer, TouchKind, Touchpoint
from privdomain.domain import CONNECT_KINDS, DISCONNECT_KINDS, minor_unit_exponent

__all__ = ["reference_records"]

DAY = 86_400.0


def _days(start: dt.datetime | None, end: dt.datetime) -> float | None:
    return None if start is None else (end - start).total_seconds() / DAY


def _latest(times: Iterable[dt.datetime]) -> dt.datetime | None:
    return max(times, default=None)


def reference_records(
    customers: Sequence[Customer],
    touchpoints: Iterable[Touchpoint],
    as_of: dt.datetime,
    *,
    utc_offset: dt.timedelta,
    currency: str = "CNY",
) -> list[dict[str, Any]]:
    """What ``pool.snapshot(as_of).to_records()`` must be for a pool that took ``customers``
    (in this order, all accepted) and then ``touchpoints`` (the first of each id wins)."""
    as_of = as_of.astimezone(dt.UTC)
    scale = 10 ** minor_unit_exponent(currency)
    business = dt.timezone(utc_offset)

    first_of_id: dict[str, Touchpoint] = {}
    for tp in touchpoints:
        first_of_id.setdefault(tp.id, tp)
    visible = [tp for tp in first_of_id.values() if tp.at <= as_of]
    members = [c for c in customers if c.joined_at <= as_of]
    # a tag or attribute only customers outside the snapshot carry stays invisible
    tag_names = sorted({t for c in members for t in c.tags})
    attribute_names = sorted(
        {a for c in members for a, value in c.attributes.items() if value is not None}
    )

    records = []
    for c in members:
        mine = [tp for tp in visible if tp.customer_id == c.id]
        purchases = [tp for tp in mine if tp.kind is TouchKind.PURCHASED]
        refunds = [tp for tp in mine if tp.kind is TouchKind.REFUNDED]

        first_purchase = min((p.at for p in purchases), default=None)
        last_purchase = _latest(p.at for p in purchases)
        first_day = None if first_purchase is None else first_purchase.astimezone(business).date()
        purchase_days = {p.at.astimezone(business).date() for p in purchases}
        gross = sum(p.amount.minor for p in purchases if p.amount) / scale
        refunded = sum(r.amount.minor for r in refunds if r.amount) / scale
        first_day_spend = (
            sum(
                p.amount.minor
                for p in purchases
                if p.amount and p.at.astimezone(business).date() == first_day
            )
            / scale
        )
        discounts = [p.discount.minor for p in purchases if p.discount is not None]
        last_active = _latest(tp.at for tp in mine if tp.kind is not TouchKind.SENT)

        record: dict[str, Any] = {
            "customer_id": c.id,
            "joined_at": c.joined_at,
            "source": c.source.name,
            "referrer_id": c.referrer_id,
            "agent_id": c.agent_id,
            "first_purchase": first_purchase,
            "last_purchase": last_purchase,
            "last_active": last_active,
            "orders": len(purchases),
            "purchase_days": len(purchase_days),
            "gross_spend": gross,
            "first_day_spend": first_day_spend,
            "refunds": len(refunds),
            "refunded": refunded,
            "net_spend": gross - refunded,
            "avg_order_value": gross / len(purchases) if purchases else None,
            "promo_orders": sum(1 for p in purchases if p.promotion),
            "discounted_orders": sum(1 for d in discounts if d > 0),
            "full_price_orders": sum(
                1
                for p in purchases
                if not p.promotion and (p.discount is None or not p.discount.minor)
            ),
            "discount_total": sum(discounts) / scale,
            "recency_days": _days(last_purchase, as_of),
            "tenure_days": _days(c.joined_at, as_of),
            "days_since_active": _days(last_active, as_of),
            "referrals": sum(1 for other in members if other.referrer_id == c.id),
            "has_referrer": c.referrer_id is not None,
            "buyers": bool(purchases),
        }
        for ch in Channel:
            record[f"touches_{ch.name.lower()}"] = sum(1 for tp in mine if tp.channel is ch)
        for kind in TouchKind:
            record[f"count_{kind.name.lower()}"] = sum(1 for tp in mine if tp.kind is kind)
        reachable_count = 0
        for ch in OWNED_CHANNELS:
            low = ch.name.lower()
            links = [
                tp
                for tp in mine
                if tp.channel is ch and tp.kind in CONNECT_KINDS | DISCONNECT_KINDS
            ]
            latest = _latest(tp.at for tp in links)
            # the latest connect/disconnect decides; on a tie, a disconnect wins
            connected = latest is None or not any(
                tp.at == latest and tp.kind in DISCONNECT_KINDS for tp in links
            )
            consent = ch in c.consent
            record[f"consent_{low}"] = consent
            record[f"reachable_{low}"] = consent and connected
            reachable_count += consent and connected
            record[f"last_contact_{low}"] = _latest(
                tp.at for tp in mine if tp.channel is ch and tp.kind is TouchKind.SENT
            )
        record["reachable_channels"] = reachable_count
        for t in tag_names:
            record[f"tag:{t}"] = t in c.tags
        for a in attribute_names:
            record[f"attr:{a}"] = c.attributes.get(a)
        records.append(record)
    return records
