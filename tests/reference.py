"""A slow, obviously correct reference for :meth:`privdomain.Pool.snapshot`.

Plain loops over :class:`Customer` and :class:`Touchpoint` objects, computing every feature
straight from its definition in the snapshot's docstrings, in the flat format of
:meth:`Snapshot.to_records` (plain Python values, ``None`` for NaN and NaT). No numpy, no
cleverness: if the vectorised snapshot and this disagree, read this one first.

Profiles are as of: a customer's first record holds from ``updated_at`` (or, without one, from
``joined_at``); every later update, a whole :class:`Customer` record with ``updated_at`` or a
:class:`ProfileUpdate` (one row of :class:`~privdomain.ProfileChanges`), holds from its instant.
The profile seen at ``t`` is the last state whose instant is at most ``t``; before the first
record takes effect a customer has the empty profile (no consent, agent, store, tags or
attributes).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from privdomain import OWNED_CHANNELS, Channel, Customer, TouchKind, Touchpoint
from privdomain.domain import CONNECT_KINDS, DISCONNECT_KINDS, minor_unit_exponent

__all__ = [
    "KEEP",
    "Profile",
    "ProfileUpdate",
    "assert_records_match",
    "profile_as_of",
    "profile_states",
    "reference_records",
]

DAY = 86_400.0


def _days(start: dt.datetime | None, end: dt.datetime) -> float | None:
    return None if start is None else (end - start).total_seconds() / DAY


def _latest(times: Iterable[dt.datetime]) -> dt.datetime | None:
    return max(times, default=None)


# ---------------------------------------------------------------------------------- profiles
class _Keep:
    """A field an update leaves as it was."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


@dataclasses.dataclass(frozen=True)
class Profile:
    """What may change about a customer: consent, agent, store, tags and attributes."""

    consent: frozenset[Channel] = frozenset()
    agent_id: str | None = None
    store_id: str | None = None
    tags: frozenset[str] = frozenset()
    attributes: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, customer: Customer) -> Profile:
        """The whole profile a customer record states."""
        return cls(
            consent=frozenset(customer.consent),
            agent_id=customer.agent_id,
            store_id=customer.store_id,
            tags=frozenset(customer.tags),
            attributes={k: v for k, v in customer.attributes.items() if v is not None},
        )

    def same(self, other: Profile) -> bool:
        """Equal field by field; attribute values must also have the same type (``1`` is not
        ``True`` and not ``1.0``)."""

        def typed(attributes: Mapping[str, Any]) -> dict[str, tuple[type, Any]]:
            return {k: (type(v), v) for k, v in attributes.items()}

        return (
            self.consent == other.consent
            and self.agent_id == other.agent_id
            and self.store_id == other.store_id
            and self.tags == other.tags
            and typed(self.attributes) == typed(other.attributes)
        )


@dataclasses.dataclass(frozen=True)
class ProfileUpdate:
    """A change of some fields of one customer's profile, from ``at`` on: one row of
    :class:`~privdomain.ProfileChanges`. Fields left at :data:`KEEP` (or out of the mappings)
    keep their values; ``None`` unbinds an agent or store, or unsets an attribute."""

    customer_id: str
    at: dt.datetime
    consent: Mapping[Channel, bool] = dataclasses.field(default_factory=dict)
    agent_id: Any = KEEP
    store_id: Any = KEEP
    tags: Mapping[str, bool] = dataclasses.field(default_factory=dict)
    attributes: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def apply(self, profile: Profile) -> Profile:
        consent = set(profile.consent)
        for channel, granted in self.consent.items():
            (consent.add if granted else consent.discard)(channel)
        tags = set(profile.tags)
        for tag, on in self.tags.items():
            (tags.add if on else tags.discard)(tag)
        attributes = dict(profile.attributes)
        for name, value in self.attributes.items():
            if value is None:
                attributes.pop(name, None)
            else:
                attributes[name] = value
        return Profile(
            consent=frozenset(consent),
            agent_id=profile.agent_id if self.agent_id is KEEP else self.agent_id,
            store_id=profile.store_id if self.store_id is KEEP else self.store_id,
            tags=frozenset(tags),
            attributes=attributes,
        )


Update = Customer | ProfileUpdate


def _update_of(update: Update) -> tuple[str, dt.datetime]:
    if isinstance(update, Customer):
        if update.updated_at is None:
            raise ValueError(f"an update of {update.id!r} needs updated_at")
        return update.id, update.updated_at
    return update.customer_id, update.at


def profile_states(
    customer: Customer, updates: Iterable[Update]
) -> list[tuple[dt.datetime, Profile]]:
    """Every state of ``customer``'s profile with the instant it took effect, in order: the
    first record's, then one per update of this customer (``updates`` in the order accepted;
    a :class:`Customer` record replaces the whole profile)."""
    states = [(customer.updated_at or customer.joined_at, Profile.of(customer))]
    for update in updates:
        cid, at = _update_of(update)
        if cid != customer.id:
            continue
        profile = (
            Profile.of(update) if isinstance(update, Customer) else update.apply(states[-1][1])
        )
        states.append((at, profile))
    return states


def profile_as_of(
    customer: Customer, updates: Iterable[Update], as_of: dt.datetime | None = None
) -> Profile:
    """``customer``'s profile as of ``as_of`` (the latest one when ``None``)."""
    seen = Profile()
    for at, profile in profile_states(customer, updates):
        if as_of is None or at <= as_of:
            seen = profile
    return seen


# ---------------------------------------------------------------------------------- records
def reference_records(
    customers: Sequence[Customer],
    touchpoints: Iterable[Touchpoint],
    as_of: dt.datetime,
    *,
    utc_offset: dt.timedelta,
    currency: str = "CNY",
    updates: Sequence[Update] = (),
    tags: Iterable[str] = (),
    attributes: Iterable[str] = (),
    stores: bool = False,
) -> list[dict[str, Any]]:
    """What ``pool.snapshot(as_of).to_records()`` must be for a pool that took ``customers``
    (their first records, in this order, all accepted), the profile ``updates`` (in the order
    accepted) and ``touchpoints`` (the first of each id wins).

    ``tags`` and ``attributes`` are the names the pool declared. With ``stores``, each record
    also holds the customer's ``store_id`` as of ``as_of`` (the snapshot's ``store_ids``,
    which ``to_records`` leaves out).
    """
    as_of = as_of.astimezone(dt.UTC)
    scale = 10 ** minor_unit_exponent(currency)
    business = dt.timezone(utc_offset)

    first_of_id: dict[str, Touchpoint] = {}
    for tp in touchpoints:
        first_of_id.setdefault(tp.id, tp)
    visible = [tp for tp in first_of_id.values() if tp.at <= as_of]
    members = [c for c in customers if c.joined_at <= as_of]
    member_ids = {c.id for c in members}
    states = {c.id: [s for s in profile_states(c, updates) if s[0] <= as_of] for c in members}
    # A tag or attribute has a column once some member has had it by as_of (even if it has
    # been removed since); one that only customers outside the snapshot carry stays invisible.
    tag_names = sorted(set(tags) | {t for c in members for _, p in states[c.id] for t in p.tags})
    attribute_names = sorted(
        set(attributes) | {a for c in members for _, p in states[c.id] for a in p.attributes}
    )

    records = []
    for c in members:
        profile = states[c.id][-1][1] if states[c.id] else Profile()
        # a referrer who had not joined by as_of is as unknown as their events
        referrer = c.referrer_id if c.referrer_id in member_ids else None
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
            "referrer_id": referrer,
            "agent_id": profile.agent_id,
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
            "has_referrer": referrer is not None,
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
            consent = ch in profile.consent
            record[f"consent_{low}"] = consent
            record[f"reachable_{low}"] = consent and connected
            reachable_count += consent and connected
            record[f"last_contact_{low}"] = _latest(
                tp.at for tp in mine if tp.channel is ch and tp.kind is TouchKind.SENT
            )
        record["reachable_channels"] = reachable_count
        for t in tag_names:
            record[f"tag:{t}"] = t in profile.tags
        for a in attribute_names:
            record[f"attr:{a}"] = profile.attributes.get(a)
        if stores:
            record["store_id"] = profile.store_id
        records.append(record)
    return records


def assert_records_match(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    """``actual`` (from ``to_records``) equals ``expected`` (from :func:`reference_records`):
    the same customers in the same order, the same columns, floats equal up to rounding, every
    other value equal and of the same type."""
    assert [r["customer_id"] for r in actual] == [r["customer_id"] for r in expected]
    for got, want in zip(actual, expected, strict=True):
        assert sorted(got) == sorted(want), (got["customer_id"], sorted(got), sorted(want))
        for name, value in want.items():
            where = (got["customer_id"], name, got[name], value)
            if isinstance(value, float):
                assert isinstance(got[name], float), where
                assert math.isclose(got[name], value, rel_tol=1e-12, abs_tol=1e-9), where
            else:
                assert got[name] == value, where
                assert type(got[name]) is type(value), where
