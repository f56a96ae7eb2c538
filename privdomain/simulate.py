"""A seeded simulator of realistic pools: the embedded default for the demo, benchmarks and docs.

Customers arrive over the observation window from several public sources (or are referred by
existing customers, forming referral trees); they buy again through a heterogeneous
BG/NBD-like process (Fader, Hardie & Lee 2005) with Gamma-Gamma order values; the brand sends
messages on the owned channels each customer consented to, and customers open, click, reply,
share, post and sometimes delete the brand's account. Everything is vectorised: a million
customers and ten million touchpoints take seconds.

The true per-customer parameters are returned alongside the data, so that models can be checked
against what generated it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain._time import (
    SECONDS_PER_DAY,
    as_utc_datetime,
    epoch_seconds,
    micros_to_datetime,
)
from privdomain.domain.batch import CustomerColumns, EncodedIds, TouchpointColumns
from privdomain.domain.channels import Channel, TouchKind
from privdomain.domain.customer import Customer, tenant_converter
from privdomain.domain.frozenmap import FrozenMap
from privdomain.domain.money import Money, _currency_code
from privdomain.domain.pool import Pool
from privdomain.domain.touchpoint import Touchpoint
from privdomain.errors import ValidationError, short_repr

__all__ = [
    "ResponseParams",
    "ResponseWorld",
    "Responses",
    "SimulatedJourneys",
    "SimulatedPool",
    "SimulationParams",
    "response_world",
    "simulate_journeys",
    "simulate_pool",
]

_CHINA = dt.timezone(dt.timedelta(hours=8))


def _frozen_map(value: Mapping[Channel, float]) -> Mapping[Channel, float]:
    if not isinstance(value, Mapping):
        raise ValidationError(
            f"expected a mapping of Channel to a number, got {type(value).__name__}"
        )
    return FrozenMap(dict(value))


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool | np.bool_)
        and math.isfinite(value)
    )


def _positive(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not _is_number(value) or not value > 0:
        raise ValidationError(
            f"{attribute.name} must be a finite number > 0, got {short_repr(value)}"
        )


def _probability(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not _is_number(value) or not 0 <= value <= 1:
        raise ValidationError(
            f"{attribute.name} must be a number in [0, 1], got {short_repr(value)}"
        )


def _whole(_: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"{attribute.name} must be an int >= 0, got {short_repr(value)}")


def _channel_probabilities(
    _: object, attribute: attrs.Attribute[Any], value: Mapping[Channel, float]
) -> None:
    for channel, p in value.items():
        if not isinstance(channel, Channel) or not _is_number(p) or not 0 <= p <= 1:
            raise ValidationError(
                f"{attribute.name}: {short_repr(channel)} → {short_repr(p)} is not a probability"
            )


@attrs.frozen
class SimulationParams:
    """Everything that shapes a simulated pool. Rates are per day unless said otherwise.

    The purchase process is BG/NBD: while alive, customer ``i`` buys at rate
    ``λ_i ~ Gamma(r, rate=alpha)`` per day; after each repeat purchase they drop out with
    probability ``p_i ~ Beta(a, b)``. Order values follow Gamma-Gamma: ``ν_i ~ Gamma(q, rate=v)``
    and each order is ``Gamma(p, rate=ν_i)`` yuan, so the mean order value is ``p·v/(q-1)``.
    """

    tenant: str = attrs.field(default="demo-brand", converter=tenant_converter)
    currency: str = attrs.field(default="CNY", converter=_currency_code)
    start: dt.datetime = dt.datetime(2025, 1, 1, tzinfo=_CHINA)
    days: int = attrs.field(default=365, validator=[_whole, _positive])
    arrival_share: float = attrs.field(default=0.8, validator=_probability)
    """Share of the window during which customers arrive (the rest only observes them)."""
    sources: Mapping[Channel, float] = attrs.field(
        converter=_frozen_map,
        factory=lambda: {
            Channel.DOUYIN: 0.24,
            Channel.TAOBAO: 0.20,
            Channel.XIAOHONGSHU: 0.15,
            Channel.OFFLINE_STORE: 0.15,
            Channel.PINDUODUO: 0.08,
            Channel.JD: 0.07,
            Channel.KUAISHOU: 0.06,
            Channel.WEIBO: 0.05,
        },
    )
    referral_share: float = attrs.field(default=0.15, validator=_probability)
    """Share of customers brought in by an existing customer (老带新)."""
    first_purchase: float = attrs.field(default=0.65, validator=_probability)
    """Chance a new customer buys when joining (their first purchase)."""
    r: float = attrs.field(default=0.6, validator=_positive)
    alpha: float = attrs.field(default=40.0, validator=_positive)
    a: float = attrs.field(default=0.8, validator=_positive)
    b: float = attrs.field(default=2.5, validator=_positive)
    p: float = attrs.field(default=6.0, validator=_positive)
    q: float = attrs.field(default=4.0, validator=_positive)
    v: float = attrs.field(default=75.0, validator=_positive)
    promotion_rate: float = attrs.field(default=0.3, validator=_probability)
    """Chance an ordinary purchase used a coupon or promotion."""
    coupon_hunter_share: float = attrs.field(default=0.04, validator=_probability)
    """Share of coupon hunters (羊毛党): every purchase promotional and deeply discounted."""
    consent: Mapping[Channel, float] = attrs.field(
        converter=_frozen_map,
        validator=_channel_probabilities,
        factory=lambda: {
            Channel.WECHAT: 0.35,
            Channel.WECOM: 0.6,
            Channel.GROUP: 0.4,
            Channel.OFFICIAL_ACCOUNT: 0.5,
            Channel.MINI_PROGRAM: 0.7,
            Channel.VIDEO_CHANNEL: 0.2,
            Channel.APP: 0.15,
            Channel.SMS: 0.8,
            Channel.EMAIL: 0.1,
            Channel.OFFLINE_STORE: 0.1,
        },
    )
    messages_per_month: float = attrs.field(default=4.0, validator=_positive)
    """Outbound messages per customer per 30 days, spread over their consented channels."""
    open_rate: Mapping[Channel, float] = attrs.field(
        converter=_frozen_map,
        validator=_channel_probabilities,
        factory=lambda: {
            Channel.WECHAT: 0.55,
            Channel.WECOM: 0.45,
            Channel.GROUP: 0.25,
            Channel.OFFICIAL_ACCOUNT: 0.15,
            Channel.MINI_PROGRAM: 0.3,
            Channel.VIDEO_CHANNEL: 0.2,
            Channel.APP: 0.1,
            Channel.SMS: 0.003,
            Channel.EMAIL: 0.05,
            Channel.OFFLINE_STORE: 0.5,
        },
    )
    """Chance a message is opened, per channel (reach differs by orders of magnitude: text
    messages are rarely read, messages from a personal contact mostly are)."""
    click_rate: float = attrs.field(default=0.25, validator=_probability)
    reply_rate: float = attrs.field(default=0.05, validator=_probability)
    shares_per_customer: float = attrs.field(default=1.0, validator=_positive)
    """Mean shares per customer over the window; propensities are heavy-tailed (a few KOCs)."""
    posts_per_customer: float = attrs.field(default=0.2, validator=_positive)
    churn_from_channel: float = attrs.field(default=0.08, validator=_probability)
    """Chance a customer deletes the brand's account or leaves a channel at some point."""
    n_agents: int = attrs.field(default=20, validator=_whole)
    agent_share: float = attrs.field(default=0.4, validator=_probability)
    """Share of customers served by a small-B agent (导购)."""

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.start, dt.datetime):
            raise ValidationError(f"start must be an aware datetime, got {short_repr(self.start)}")
        as_utc_datetime(self.start, what="start")  # aware and in the supported range
        try:
            as_utc_datetime(self.end, what="the end of the window (start + days)")
        except OverflowError:
            raise ValidationError("start + days lies beyond the supported range") from None
        weights = list(self.sources.values())
        if not weights or not all(_is_number(p) and p >= 0 for p in weights) or not sum(weights):
            raise ValidationError("sources need finite, non-negative weights, not all zero")
        if not all(isinstance(c, Channel) for c in self.sources):
            raise ValidationError("sources are keyed by Channel")
        if any(c.owned and c is not Channel.OFFLINE_STORE for c in self.sources):
            raise ValidationError("sources are public platforms or offline stores")

    @property
    def end(self) -> dt.datetime:
        """The end of the observation window: the natural ``as_of``."""
        return self.start + dt.timedelta(days=self.days)

    @property
    def utc_offset(self) -> dt.timedelta:
        """The offset of :attr:`start`, used as the pool's business-day offset."""
        offset = self.start.utcoffset()
        assert offset is not None
        return offset


@attrs.frozen(eq=False)
class SimulatedPool:
    """A simulated pool: columns to ingest, the parameters, and the hidden truth per customer."""

    params: SimulationParams
    customers: CustomerColumns
    touchpoints: TouchpointColumns
    truth: Mapping[str, NDArray[Any]]
    """True per-customer parameters: ``lam`` (purchase rate per day), ``p_drop``, ``nu`` (spend
    rate), ``dropout_at`` (epoch seconds; int64 max if still alive at the end),
    ``coupon_hunter`` and ``share_propensity``."""

    @property
    def as_of(self) -> dt.datetime:
        """The end of the observation window."""
        return self.params.end

    def pool(self) -> Pool:
        """A new :class:`Pool` with everything ingested."""
        pool = Pool(
            self.params.tenant, currency=self.params.currency, utc_offset=self.params.utc_offset
        )
        report = pool.ingest(self.customers)
        report_t = pool.ingest(self.touchpoints)
        if report.rejected or report_t.rejected or report_t.duplicates:  # pragma: no cover
            raise AssertionError(f"simulated data must ingest cleanly: {report} {report_t}")
        return pool

    def customer_objects(self) -> list[Customer]:
        """The customers as :class:`Customer` objects (for small pools, examples and adapters)."""
        c = self.customers
        tz = self.params.start.tzinfo
        out = []
        for i in range(len(c)):
            out.append(
                Customer(
                    id=c.id[i],
                    tenant=self.params.tenant,
                    joined_at=micros_to_datetime(int(c.joined_at[i])).astimezone(tz),
                    source=Channel(int(c.source[i])),
                    attributes=c.row_attributes(i),
                    tags=c.row_tags(i),
                    consent=[
                        ch for ch in Channel if ch.owned and int(c.consent[i]) >> ch.value & 1
                    ],
                    referrer_id=c.referrer_id[i],
                    agent_id=c.agent_id[i],
                )
            )
        return out

    def touchpoint_objects(self) -> list[Touchpoint]:
        """The touchpoints as :class:`Touchpoint` objects, ids ``"tp<n>"``."""
        t = self.touchpoints
        customer = t.customer_id.decode()
        related = t.related_customer_id.decode()
        agent = t.agent_id.decode()
        currency = self.params.currency
        tz = self.params.start.tzinfo
        out = []
        for i in range(len(t)):
            kind = TouchKind(int(t.kind[i]))
            out.append(
                Touchpoint(
                    id=f"tp{int(t.id[i])}",
                    tenant=self.params.tenant,
                    customer_id=customer[i],
                    at=micros_to_datetime(int(t.at[i])).astimezone(tz),
                    channel=Channel(int(t.channel[i])),
                    kind=kind,
                    amount=Money(int(t.amount_minor[i]), currency) if kind.monetary else None,
                    promotion=bool(t.promotion[i]),
                    discount=(
                        Money(int(t.discount_minor[i]), currency)
                        if t.discount_minor[i] > 0
                        else None
                    ),
                    related_customer_id=related[i],
                    agent_id=agent[i],
                )
            )
        return out


def simulate_pool(
    n_customers: int = 10_000,
    *,
    seed: int | np.random.Generator | None = None,
    params: SimulationParams | None = None,
    **overrides: Any,
) -> SimulatedPool:
    """Simulate a pool of ``n_customers`` customers.

    Parameters
    ----------
    n_customers
        How many customers join over the window: an int in ``[0, 2**31 - 1]``.
    seed
        An int >= 0, a ``numpy.random.SeedSequence`` or a ``numpy.random.Generator``; the same
        seed gives the same pool. ``None`` means fresh entropy (a new pool each call).
    params
        A :class:`SimulationParams`; keyword ``overrides`` replace single fields of it.

    Raises
    ------
    ValidationError
        If an argument or a parameter is out of its domain (a negative or bool ``n_customers``,
        a negative seed, an unknown or malformed parameter); the message names it.

    Examples
    --------
    >>> sim = simulate_pool(1_000, seed=7)
    >>> pool = sim.pool()
    >>> len(pool)
    1000
    >>> snap = pool.snapshot(as_of=sim.as_of)
    >>> bool((snap.orders > 1).any())
    True
    """
    count: object = n_customers
    if isinstance(count, np.integer):
        count = int(count)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= _MAX_CUSTOMERS:
        raise ValidationError(
            f"n_customers must be an int in [0, 2**31 - 1], got {short_repr(n_customers)}"
        )
    if params is not None and not isinstance(params, SimulationParams):
        raise ValidationError(
            f"params must be a SimulationParams or None, got {type(params).__name__}"
        )
    unknown = sorted(set(overrides) - {f.name for f in attrs.fields(SimulationParams)})
    if unknown:
        raise ValidationError(f"unknown simulation parameters: {', '.join(unknown)}")
    prm = attrs.evolve(params or SimulationParams(), **overrides)
    return _Simulation(prm, _generator(seed), count).run()


#: The most customers one simulation makes: pools index customers with int32.
_MAX_CUSTOMERS = 2**31 - 1


def _generator(seed: object) -> np.random.Generator:
    """A generator from ``seed``: ``None``, an int >= 0, a ``SeedSequence`` or a ``Generator``."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.integer):
        seed = int(seed)
    if not (
        seed is None
        or isinstance(seed, np.random.SeedSequence)
        or (isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0)
    ):
        raise ValidationError(
            "seed must be None, an int >= 0, a numpy SeedSequence or a numpy Generator, "
            f"got {short_repr(seed)}"
        )
    return np.random.default_rng(seed)


class _Simulation:
    """One run of the simulator: each step adds columns of events."""

    def __init__(self, params: SimulationParams, rng: np.random.Generator, n: int) -> None:
        self.prm = params
        self.rng = rng
        self.n = n
        self.t0 = epoch_seconds(params.start)
        self.t_end = self.t0 + params.days * SECONDS_PER_DAY
        self.events: list[dict[str, NDArray[Any]]] = []

    def _emit(
        self,
        customer: NDArray[np.int64],
        at: NDArray[np.int64],
        channel: Any,
        kind: TouchKind,
        **extra: NDArray[Any],
    ) -> None:
        keep = at <= self.t_end
        m = int(keep.sum())
        ch = np.broadcast_to(np.asarray(channel, dtype=np.uint8), customer.shape)
        event: dict[str, NDArray[Any]] = {
            "customer": customer[keep],
            "at": at[keep],
            "channel": ch[keep],
            "kind": np.full(m, kind.value, dtype=np.uint8),
        }
        for name, values in extra.items():
            event[name] = values[keep]
        self.events.append(event)

    def run(self) -> SimulatedPool:
        prm, rng, n = self.prm, self.rng, self.n
        horizon = prm.days * SECONDS_PER_DAY
        joined = np.sort(self.t0 + rng.integers(0, max(1, int(horizon * prm.arrival_share)), n))
        ids = np.array([f"c{i:07d}" for i in range(n)], dtype=object)

        sources = list(prm.sources)
        weights = np.array([prm.sources[s] for s in sources], dtype=np.float64)
        source = np.array([s.value for s in sources], dtype=np.uint8)[
            rng.choice(len(sources), size=n, p=weights / weights.sum())
        ]
        share_propensity = rng.gamma(0.35, 1 / 0.35, n)  # mean 1, heavy tail: a few KOCs
        referrer = self._referral_tree(share_propensity)
        source[referrer >= 0] = Channel.REFERRAL.value

        # the simulator's owned channels: the ten of the first release (the web shop and phone,
        # added later, would change every seeded pool's random stream)
        owned = [c for c in Channel if c.owned and c.value <= Channel.OFFLINE_STORE.value]
        consent_p = np.array([prm.consent.get(c, 0.0) for c in owned])
        consent_bits = rng.random((n, len(owned))) < consent_p
        bits = np.array([1 << c.value for c in owned], dtype=np.int64)
        consent = (consent_bits * bits).sum(axis=1).astype(np.uint32)

        agent = np.where(
            rng.random(n) < prm.agent_share, rng.integers(0, max(prm.n_agents, 1), n), -1
        )
        if prm.n_agents == 0:
            agent[:] = -1
        agent_names = np.array(
            [f"agent{i:03d}" for i in range(max(prm.n_agents, 1))] + [None], dtype=object
        )

        # two tag dimensions as columns: basic attributes and an interest
        attributes = {
            "gender": np.where(rng.random(n) < 0.7, "F", "M").astype(object),
            "age": rng.integers(18, 60, n).astype(object),
            "region": rng.choice(
                ["上海", "北京", "广州", "深圳", "杭州", "成都", "武汉"], n
            ).astype(object),
        }
        interest = rng.integers(0, 4, n)
        tags = {
            f"interest:{name}": interest == k
            for k, name in enumerate(("skincare", "makeup", "fragrance", "bodycare"))
        }
        truth = self._purchases(joined, agent)
        self._connections(joined, consent_bits, owned)
        self._messages(joined, consent_bits, owned)
        self._sharing(joined, share_propensity, referrer)

        customers = CustomerColumns.from_arrays(
            id=ids,
            tenant=prm.tenant,
            joined_at=joined,
            epoch_unit="s",
            source=source,
            consent=consent,
            referrer_id=EncodedIds(referrer, ids).decode(),
            agent_id=agent_names[agent],
            tags=tags,
            attributes=attributes,
        )
        touchpoints = self._touchpoint_columns(ids, agent_names, agent)
        truth.update(share_propensity=share_propensity, referrer=referrer)
        return SimulatedPool(prm, customers, touchpoints, FrozenMap(truth))

    def _referral_tree(self, propensity: NDArray[np.float64]) -> NDArray[np.int64]:
        """Referrers by preferential attachment to earlier customers with high share propensity."""
        n, rng = self.n, self.rng
        referrer = np.full(n, -1, dtype=np.int64)
        referred = np.flatnonzero(rng.random(n) < self.prm.referral_share)
        referred = referred[referred > 0]  # the first customer has nobody to be referred by
        if referred.size == 0:
            return referrer
        cumulative = np.cumsum(propensity)
        # customer j picks among customers 0..j-1 in proportion to their propensity
        target = rng.random(referred.size) * cumulative[referred - 1]
        referrer[referred] = np.minimum(
            np.searchsorted(cumulative, target, side="right"), referred - 1
        )
        return referrer

    def _purchases(
        self, joined: NDArray[np.int64], agent: NDArray[np.int64]
    ) -> dict[str, NDArray[Any]]:
        prm, rng, n = self.prm, self.rng, self.n
        lam = rng.gamma(prm.r, 1 / prm.alpha, n)  # per day
        p_drop = rng.beta(prm.a, prm.b, n)
        nu = rng.gamma(prm.q, 1 / prm.v, n)
        hunter = rng.random(n) < prm.coupon_hunter_share
        buyer = rng.random(n) < prm.first_purchase
        first_at = joined + rng.integers(0, 3 * SECONDS_PER_DAY, n)  # within three days of joining
        remaining_days = np.maximum(self.t_end - first_at, 0) / SECONDS_PER_DAY
        # repeat purchases while alive: at most a Geometric(p) number, cut by the window
        alive_repeats = rng.geometric(np.clip(p_drop, 1e-9, 1.0))
        bound = lam * remaining_days
        cap = np.ceil(bound + 8 * np.sqrt(bound) + 10).astype(np.int64)
        repeats = np.where(buyer, np.minimum(alive_repeats, cap), 0)
        owner = np.repeat(np.arange(n), repeats)
        # a rate of (almost) zero gives gaps of centuries or inf seconds: such a repeat falls
        # after the window's end (and is dropped) whatever its gap, so gaps are cut at ~31,700
        # years, which keeps the running sum below finite and exact to the second
        with np.errstate(divide="ignore", over="ignore"):
            gaps = rng.exponential(1.0, owner.size) / lam[owner] * SECONDS_PER_DAY
        gaps = np.minimum(gaps, 1e12)
        starts = np.cumsum(repeats) - repeats
        cum = np.cumsum(gaps)
        has = repeats > 0
        group_start = starts[has]
        within = cum - np.repeat(cum[group_start] - gaps[group_start], repeats[has])
        repeat_at = first_at[owner] + within.astype(np.int64)
        # a customer whose every potential repeat fits in the window dropped out after the last
        last_at = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        last_at[has] = repeat_at[(starts + repeats - 1)[has]]
        dies = buyer & (alive_repeats <= cap) & (last_at <= self.t_end)
        dropout_at = np.where(dies, last_at, np.iinfo(np.int64).max)

        customer = np.concatenate([np.flatnonzero(buyer), owner])
        at = np.concatenate([first_at[buyer], repeat_at])
        k = customer.size
        amount = rng.gamma(prm.p, 1.0, k) / nu[customer]  # Gamma(p, rate=ν)
        hunting = hunter[customer]
        promo = hunting | (rng.random(k) < prm.promotion_rate)
        discount_rate = np.where(
            hunting, rng.uniform(0.3, 0.6, k), np.where(promo, rng.uniform(0.05, 0.3, k), 0.0)
        )
        amount_minor = np.maximum(np.rint(amount * 100), 1).astype(np.int64)
        discount_minor = np.rint(amount_minor * discount_rate / (1 - discount_rate)).astype(
            np.int64
        )
        channel = rng.choice(
            np.array(
                [
                    Channel.MINI_PROGRAM.value,
                    Channel.WECOM.value,
                    Channel.OFFLINE_STORE.value,
                    Channel.TAOBAO.value,
                    Channel.APP.value,
                ],
                dtype=np.uint8,
            ),
            size=k,
            p=[0.4, 0.2, 0.2, 0.15, 0.05],
        )
        self._emit(
            customer,
            at,
            channel,
            TouchKind.PURCHASED,
            amount_minor=amount_minor,
            discount_minor=discount_minor,
            promotion=promo,
            agent=agent[customer],
        )
        # a few refunds of recent orders
        refund = np.flatnonzero(rng.random(k) < 0.02)
        self._emit(
            customer[refund],
            at[refund] + rng.integers(3600, 7 * SECONDS_PER_DAY, refund.size),
            channel[refund],
            TouchKind.REFUNDED,
            amount_minor=amount_minor[refund],
        )
        return {
            "lam": lam,
            "p_drop": p_drop,
            "nu": nu,
            "dropout_at": dropout_at,
            "coupon_hunter": hunter,
        }

    def _connections(
        self, joined: NDArray[np.int64], consent: NDArray[np.bool_], owned: list[Channel]
    ) -> None:
        rng = self.rng
        connect_kind = {
            Channel.WECHAT: TouchKind.ADDED,
            Channel.WECOM: TouchKind.ADDED,
            Channel.GROUP: TouchKind.JOINED,
            Channel.OFFICIAL_ACCOUNT: TouchKind.SUBSCRIBED,
            Channel.VIDEO_CHANNEL: TouchKind.SUBSCRIBED,
        }
        disconnect_kind = {
            TouchKind.ADDED: TouchKind.DELETED,
            TouchKind.JOINED: TouchKind.LEFT,
            TouchKind.SUBSCRIBED: TouchKind.UNSUBSCRIBED,
        }
        for j, channel in enumerate(owned):
            who = np.flatnonzero(consent[:, j])
            kind = connect_kind.get(channel)
            if kind is None or who.size == 0:
                continue
            at = joined[who] + rng.integers(0, 3600, who.size)
            self._emit(who, at, channel.value, kind)
            leave = rng.random(who.size) < self.prm.churn_from_channel
            left_at = at[leave] + rng.integers(
                SECONDS_PER_DAY, self.prm.days * SECONDS_PER_DAY, int(leave.sum())
            )
            self._emit(who[leave], left_at, channel.value, disconnect_kind[kind])

    def _messages(
        self, joined: NDArray[np.int64], consent: NDArray[np.bool_], owned: list[Channel]
    ) -> None:
        prm, rng = self.prm, self.rng
        n_consented = consent.sum(axis=1)
        months = (self.t_end - joined) / (30 * SECONDS_PER_DAY)
        count = np.where(n_consented > 0, rng.poisson(prm.messages_per_month * months), 0)
        customer = np.repeat(np.arange(self.n), count)
        at = joined[customer] + (
            rng.random(customer.size) * (self.t_end - joined[customer])
        ).astype(np.int64)
        # each message goes out on one of the customer's consented channels, uniformly
        cum = np.cumsum(consent[customer], axis=1)
        pick = (rng.random(customer.size) * n_consented[customer]).astype(np.int64)
        col = (cum <= pick[:, None]).sum(axis=1)
        channel = np.array([c.value for c in owned], dtype=np.uint8)[col]
        self._emit(customer, at, channel, TouchKind.SENT)
        open_p = np.array([prm.open_rate.get(c, 0.0) for c in owned])[col]
        opened = rng.random(customer.size) < open_p
        o_at = at[opened] + rng.integers(60, 2 * SECONDS_PER_DAY, int(opened.sum()))
        self._emit(customer[opened], o_at, channel[opened], TouchKind.OPENED)
        clicked = rng.random(o_at.size) < prm.click_rate
        self._emit(
            customer[opened][clicked],
            o_at[clicked] + 30,
            channel[opened][clicked],
            TouchKind.CLICKED,
        )
        replied = rng.random(o_at.size) < prm.reply_rate
        self._emit(
            customer[opened][replied],
            o_at[replied] + 120,
            channel[opened][replied],
            TouchKind.REPLIED,
        )

    def _sharing(
        self,
        joined: NDArray[np.int64],
        propensity: NDArray[np.float64],
        referrer: NDArray[np.int64],
    ) -> None:
        prm, rng = self.prm, self.rng
        for mean, kind, channel in (
            (prm.shares_per_customer, TouchKind.SHARED, Channel.WECHAT.value),
            (prm.posts_per_customer, TouchKind.POSTED, Channel.MINI_PROGRAM.value),
        ):
            count = rng.poisson(mean * propensity)
            customer = np.repeat(np.arange(self.n), count)
            at = joined[customer] + (
                rng.random(customer.size) * (self.t_end - joined[customer])
            ).astype(np.int64)
            self._emit(customer, at, channel, kind)
        referred = np.flatnonzero(referrer >= 0)
        invite_at = np.maximum(
            joined[referred] - rng.integers(0, 2 * SECONDS_PER_DAY, referred.size),
            joined[referrer[referred]],
        )
        self._emit(
            referrer[referred], invite_at, Channel.WECHAT.value, TouchKind.INVITED, related=referred
        )

    def _touchpoint_columns(
        self, ids: NDArray[np.object_], agent_names: NDArray[np.object_], agent: NDArray[np.int64]
    ) -> TouchpointColumns:
        def gather(name: str, dtype: Any, fill: Any) -> NDArray[Any]:
            parts = [
                e[name] if name in e else np.full(e["at"].size, fill, dtype=dtype)
                for e in self.events
            ]
            return np.concatenate(parts).astype(dtype) if parts else np.empty(0, dtype)

        at = gather("at", np.int64, 0)
        order = np.argsort(at, kind="stable")  # a log arrives in time order
        customer = gather("customer", np.int64, -1)[order]
        related = gather("related", np.int64, -1)[order]
        agent_of = gather("agent", np.int64, -1)[order]
        kind = gather("kind", np.uint8, 0)[order]
        amount = gather("amount_minor", np.int64, 0)[order]
        monetary = (kind == TouchKind.PURCHASED.value) | (kind == TouchKind.REFUNDED.value)
        names_plus_none = np.empty(ids.size + 1, dtype=object)
        names_plus_none[:-1] = ids
        return TouchpointColumns.from_arrays(
            id=np.arange(at.size, dtype=np.int64),
            tenant=self.prm.tenant,
            customer_id=EncodedIds(customer, ids),
            at=at[order],
            epoch_unit="s",
            channel=gather("channel", np.uint8, 0)[order],
            kind=kind,
            amount=np.where(monetary, amount.astype(np.float64), np.nan),
            currency=self.prm.currency,
            minor_units=True,
            promotion=gather("promotion", bool, False)[order],
            discount=gather("discount_minor", np.int64, 0)[order].astype(np.float64),
            related_customer_id=EncodedIds(related, ids),
            agent_id=EncodedIds(agent_of, agent_names[:-1]) if agent_names.size > 1 else None,
        )


# journeys with known channel effects live in their own module (re-exported here)
from privdomain._simulate_journeys import SimulatedJourneys, simulate_journeys  # noqa: E402

# ground-truth responses to nudges live in their own module (re-exported here)
from privdomain._simulate_responses import (  # noqa: E402
    ResponseParams,
    Responses,
    ResponseWorld,
    response_world,
)
