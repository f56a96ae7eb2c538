"""Ground-truth responses to nudges in a simulated pool: both potential outcomes of every customer.

A :class:`ResponseWorld` holds, for every customer of a snapshot of a simulated pool, what the
simulator knows and an operator never sees: whether the customer is still alive (BG/NBD), how
often they buy, what their orders are worth, how susceptible they are to a nudge, whether they
are a "sleeping dog" who reacts badly to being contacted, and how tired they are of the brand's
recent messages. :meth:`ResponseWorld.respond` takes a set of nudges (a
:class:`~privdomain.nudges.NudgePlan` or plain arrays) and returns, for every customer, the
outcome over the response window *without* a nudge and *with* the nudge they were given, drawn
with common random numbers so that the difference is the nudge's own effect. The generative
model is documented on the simulator's reference page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain._time import MICROS_PER_DAY, epoch_micros
from privdomain.domain.channels import OWNED_CHANNELS, OWNED_COLUMN, Channel, TouchKind
from privdomain.domain.frozenmap import FrozenMap
from privdomain.domain.segment import short_repr
from privdomain.domain.snapshot import Snapshot
from privdomain.errors import ValidationError
from privdomain.result import Result, readonly, shown

__all__ = ["ResponseParams", "ResponseWorld", "Responses", "response_world"]

_PERIODS = ("not_bought", "active", "silent", "sleeping", "lost")
_OFFERS = (
    "none", "bestseller", "small_coupon", "targeted_coupon", "win_back_coupon", "bundle",
    "threshold_discount", "sale_invite", "privilege", "referral_invite",
)  # fmt: skip
_NAT = np.iinfo(np.int64).min


def _number_map(keys: tuple[str, ...], defaults: Mapping[str, float], what: str) -> Any:
    def convert(value: Any) -> Mapping[str, float]:
        if not isinstance(value, Mapping):
            raise ValidationError(f"{what} is a mapping of name to number, not {short_repr(value)}")
        out = dict(defaults)
        for key, number in value.items():
            if key not in keys:
                raise ValidationError(f"{what}: unknown name {key!r}; names are {list(keys)}")
            out[key] = _finite(number, f"{what}[{key!r}]")
        return FrozenMap(out)

    return convert


def _finite(value: Any, what: str, *, low: float = 0.0, high: float = np.inf) -> float:
    if (
        isinstance(value, bool | np.bool_)
        or not isinstance(value, int | float | np.integer | np.floating)
        or not np.isfinite(value)
        or not low <= value <= high
    ):
        raise ValidationError(f"{what} must be a finite number in [{low}, {high}], got {value!r}")
    return float(value)


def _reach_map(value: Any) -> Mapping[Channel, float] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValidationError(f"reach is a mapping of channel to probability, not {value!r}")
    out: dict[Channel, float] = {}
    for key, p in value.items():
        try:
            channel = Channel.parse(key)
        except (ValueError, TypeError):
            raise ValidationError(f"reach: unknown channel {key!r}") from None
        if channel not in OWNED_CHANNELS:
            raise ValidationError(f"reach: {channel.name} is not an owned channel")
        out[channel] = _finite(p, f"reach of {channel.name}", high=1.0)
    return FrozenMap(out)


_RESPONSE = {"not_bought": 0.10, "active": 0.06, "silent": 0.12, "sleeping": 0.10, "lost": 0.02}
_LIFT = {
    "none": 1.0, "bestseller": 1.3, "small_coupon": 1.6, "targeted_coupon": 1.9,
    "win_back_coupon": 2.6, "bundle": 1.5, "threshold_discount": 1.7, "sale_invite": 2.2,
    "privilege": 1.4, "referral_invite": 0.6,
}  # fmt: skip
_DISCOUNT = {
    "none": 0.0, "bestseller": 0.0, "small_coupon": 0.05, "targeted_coupon": 0.10,
    "win_back_coupon": 0.20, "bundle": 0.08, "threshold_discount": 0.10, "sale_invite": 0.15,
    "privilege": 0.0, "referral_invite": 0.0,
}  # fmt: skip
_DOGS = {"not_bought": 0.04, "active": 0.20, "silent": 0.08, "sleeping": 0.05, "lost": 0.15}


def _field(
    keys: tuple[str, ...], defaults: Mapping[str, float], what: str
) -> Any:  # an attrs field of a name -> number map with defaults
    return attrs.field(factory=dict, converter=_number_map(keys, defaults, what))


def _unit(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    _finite(value, attribute.name, high=1.0)


def _nonnegative(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    _finite(value, attribute.name)


def _positive(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if _finite(value, attribute.name) <= 0:
        raise ValidationError(f"{attribute.name} must be > 0, got {value!r}")


@attrs.frozen
class ResponseParams:
    """The generative model of responses to a nudge (every number configurable).

    Attributes
    ----------
    window_days : float
        The response window after the nudge (after the world's ``at`` for customers without
        one): a purchase in it counts.
    response : dict of str to float
        The extra purchase hazard over the window a nudge that is seen gives, by post-purchase
        period, before the offer, the customer's susceptibility and fatigue.
    offer_lift : dict of str to float
        The multiplier each offer applies to that hazard (discounts lift more).
    offer_discount : dict of str to float
        The share taken off every order of the window when a discount-led offer was seen: the
        margin it costs, also on orders the customer would have placed anyway.
    reach : dict of Channel to float or None
        The chance that a message on each owned channel is seen; ``None``: the simulation's own
        ``open_rate``. A channel the customer is not reachable on is never seen.
    prospect_rate : float
        Purchase rate of customers who never bought, as a share of their latent rate.
    revive_share : float
        Share of the lift a customer who has already dropped out (BG/NBD) still gets.
    susceptibility_shape : float
        Shape of the Gamma(shape, 1/shape) susceptibility (mean 1) multiplying the lift.
    sleeping_dogs : dict of str to float
        Share of customers in each period who react badly to a nudge they see.
    dog_fatigue : float
        Extra chance of reacting badly, times ``1 - fatigue``: tired customers turn hostile.
    dog_damage : float
        The share by which a sleeping dog's own purchase hazard falls when nudged.
    dog_unsubscribe : float
        Chance that a sleeping dog who saw the nudge leaves the channel.
    hunter_lift : float
        Extra lift multiplier of discount-led offers on coupon hunters.
    hunter_discount : float
        Share coupon hunters take off their orders when they saw a discount-led offer.
    fatigue_half_life_days : float
        Half-life of a past message's weight in the fatigue.
    fatigue_per_message, fatigue_per_promotion : float
        Fatigue is ``exp(-(a · m + b · p))`` with ``m`` and ``p`` the decayed counts of the
        messages and of the promotions of the snapshot's contact history.
    """

    window_days: float = attrs.field(default=14.0, validator=_positive)
    response: Mapping[str, float] = _field(_PERIODS, _RESPONSE, "response")
    offer_lift: Mapping[str, float] = _field(_OFFERS, _LIFT, "offer_lift")
    offer_discount: Mapping[str, float] = _field(_OFFERS, _DISCOUNT, "offer_discount")
    reach: Mapping[Channel, float] | None = attrs.field(default=None, converter=_reach_map)
    prospect_rate: float = attrs.field(default=0.25, validator=_nonnegative)
    revive_share: float = attrs.field(default=0.6, validator=_nonnegative)
    susceptibility_shape: float = attrs.field(default=2.0, validator=_positive)
    sleeping_dogs: Mapping[str, float] = _field(_PERIODS, _DOGS, "sleeping_dogs")
    dog_fatigue: float = attrs.field(default=0.3, validator=_unit)
    dog_damage: float = attrs.field(default=0.5, validator=_unit)
    dog_unsubscribe: float = attrs.field(default=0.3, validator=_unit)
    hunter_lift: float = attrs.field(default=2.0, validator=_nonnegative)
    hunter_discount: float = attrs.field(default=0.45, validator=_unit)
    fatigue_half_life_days: float = attrs.field(default=7.0, validator=_positive)
    fatigue_per_message: float = attrs.field(default=0.08, validator=_nonnegative)
    fatigue_per_promotion: float = attrs.field(default=0.25, validator=_nonnegative)

    def __attrs_post_init__(self) -> None:
        for name in ("offer_discount", "sleeping_dogs"):
            for key, value in getattr(self, name).items():
                _finite(value, f"{name}[{key!r}]", high=1.0)


@attrs.frozen(eq=False, repr=False)
class ResponseWorld:
    """The hidden truth of every customer of a snapshot, ready to answer nudges.

    Made by :func:`response_world`. Arrays are aligned to the snapshot's rows.

    Attributes
    ----------
    snapshot : Snapshot
    stages : LifecycleStages
        The stages of the snapshot the response depends on.
    at : datetime.datetime
        Start of the response window of customers without a nudge (aware UTC).
    params : ResponseParams
    currency : str
    reach : numpy.ndarray of float64
        Chance a message is seen, per owned channel (columns of ``OWNED_CHANNELS``).
    period : numpy.ndarray of object
        Post-purchase period of each customer (as the lifecycle ladder sees it).
    alive : numpy.ndarray of bool
        Whether the customer had not yet dropped out (BG/NBD) at ``at``.
    hazard : numpy.ndarray of float64
        The customer's own purchase hazard over the window (0 once dropped out).
    order_value : numpy.ndarray of float64
        Mean value of the customer's orders (yuan), ``p / ν``.
    order_shape : float
        The simulation's ``p``: an order is ``order_value × Gamma(p, 1/p)``.
    susceptibility : numpy.ndarray of float64
        Hidden multiplier of the nudge's lift (mean 1).
    sleeping_dog : numpy.ndarray of bool
        Customers who react badly to a nudge they see.
    coupon_hunter : numpy.ndarray of bool
    fatigue : numpy.ndarray of float64
        ``exp(-(a · m + b · p))`` from the snapshot's recent messages, in ``(0, 1]``.
    entropy : int
        Seeds the noise of every round (drawn from the world's seed).
    """

    snapshot: Snapshot
    stages: Any
    at: dt.datetime
    params: ResponseParams
    currency: str
    reach: NDArray[np.float64] = attrs.field(converter=readonly)
    period: NDArray[np.object_] = attrs.field(converter=readonly)
    alive: NDArray[np.bool_] = attrs.field(converter=readonly)
    hazard: NDArray[np.float64] = attrs.field(converter=readonly)
    order_value: NDArray[np.float64] = attrs.field(converter=readonly)
    order_shape: float
    susceptibility: NDArray[np.float64] = attrs.field(converter=readonly)
    sleeping_dog: NDArray[np.bool_] = attrs.field(converter=readonly)
    coupon_hunter: NDArray[np.bool_] = attrs.field(converter=readonly)
    fatigue: NDArray[np.float64] = attrs.field(converter=readonly)
    entropy: int

    def __len__(self) -> int:
        return len(self.snapshot)

    @property
    def customer_ids(self) -> NDArray[np.object_]:
        """The customers, in the snapshot's order."""
        return self.snapshot.customer_ids

    def __repr__(self) -> str:
        return f"ResponseWorld({len(self)} customers, window {self.params.window_days:g} days)"

    # ------------------------------------------------------------------ the model
    def lift(self, rows: NDArray[np.int64], offer: NDArray[np.object_]) -> NDArray[np.float64]:
        """The extra purchase hazard a seen nudge with ``offer`` gives each of ``rows`` (before
        the sleeping dogs' reaction)."""
        prm = self.params
        period = self.period[rows]
        base = np.zeros(rows.size)
        for name in _PERIODS:
            base[period == name] = prm.response[name]
        mult, discount = _offer_columns(offer, prm)
        hunter = self.coupon_hunter[rows] & (discount > 0)
        mult = np.where(hunter, mult * prm.hunter_lift, mult)
        revive = np.where(self.alive[rows], 1.0, prm.revive_share)
        return np.asarray(base * mult * self.susceptibility[rows] * self.fatigue[rows] * revive)

    def respond(self, contacts: Any, *, round: int = 0) -> Responses:
        """Both potential outcomes of every customer for these nudges.

        Parameters
        ----------
        contacts : NudgePlan or mapping
            A plan (its planned rows), or a mapping with ``row`` (snapshot rows, no repeats),
            ``channel`` (owned channel names or codes), ``offer`` (offer names) and optionally
            ``send_at`` (``datetime64``; default the world's ``at``). At most one nudge per
            customer.
        round : int
            Which round of sending (>= 0). Each round draws its own noise; in one round the
            outcome without a nudge is the same whatever the contacts, and so is the outcome
            of the same nudge to the same customer.

        Returns
        -------
        Responses

        Raises
        ------
        ValidationError
            Contacts of another snapshot, rows out of range or repeated, unknown channels or
            offers, columns of different lengths, a send time before the world's ``at``.
        """
        if isinstance(round, bool) or not isinstance(round, int | np.integer) or round < 0:
            raise ValidationError(f"round is an int >= 0, not {short_repr(round)}")
        rows, channel_col, offer, send = self._contacts(contacts)
        return self._respond(rows, channel_col, offer, send, int(round))

    def _contacts(
        self, contacts: Any
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.object_], NDArray[np.int64]]:
        from privdomain.nudges.plan import NudgePlan

        n = len(self)
        if isinstance(contacts, NudgePlan):
            if len(contacts) != n or not np.array_equal(contacts.customer_ids, self.customer_ids):
                raise ValidationError("the plan is not aligned to the world's snapshot")
            rows = np.flatnonzero(contacts.planned)
            columns: dict[str, Any] = {
                "row": rows,
                "channel": contacts.channel[rows],
                "offer": contacts.offer[rows],
                "send_at": contacts.send_at[rows],
            }
        elif isinstance(contacts, Mapping):
            unknown = sorted(set(contacts) - {"row", "channel", "offer", "send_at"})
            missing = sorted({"row", "channel", "offer"} - set(contacts))
            if unknown or missing:
                raise ValidationError(
                    f"contacts have the columns row, channel, offer and optionally send_at "
                    f"(unknown: {unknown}, missing: {missing})"
                )
            columns = dict(contacts)
        else:
            raise ValidationError(
                f"contacts are a NudgePlan or a mapping of columns, not {type(contacts).__name__}"
            )
        row = np.asarray(columns["row"])
        if row.ndim != 1 or (row.size and row.dtype.kind not in "iu"):
            raise ValidationError(f"contacts' row is a 1-D array of ints, got {row.dtype}")
        row = row.astype(np.int64)
        if row.size and (row.min() < 0 or row.max() >= n):
            raise ValidationError(f"contacts' rows lie in [0, {n}) for this world")
        if np.unique(row).size != row.size:
            raise ValidationError("at most one nudge per customer: a row repeats")
        lengths = {
            k: np.shape(v)[0] if np.ndim(v) else -1 for k, v in columns.items() if v is not None
        }
        if any(length != row.size for length in lengths.values()):
            raise ValidationError(f"contacts' columns differ in length: {lengths}")
        channel_col = _channel_columns(np.asarray(columns["channel"], dtype=object))
        offer = np.asarray(columns["offer"], dtype=object)
        bad = (
            sorted({str(o) for o in np.unique(offer.astype(str))} - set(_OFFERS))
            if offer.size
            else []
        )
        if bad:
            raise ValidationError(f"unknown offers {bad}; offers are {list(_OFFERS)}")
        at = epoch_micros(self.at)
        if columns.get("send_at") is None:
            send = np.full(row.size, at, dtype=np.int64)
        else:
            raw = np.asarray(columns["send_at"])
            if raw.dtype.kind != "M":
                raise ValidationError(f"send_at is datetime64 (UTC), not {raw.dtype}")
            send = raw.astype("datetime64[us]").view(np.int64)
            if np.any(send == _NAT) or np.any(send < at):
                raise ValidationError(
                    f"send_at must be given and not before the world's at ({self.at})"
                )
        return row, channel_col, offer, send

    def _respond(
        self,
        rows: NDArray[np.int64],
        channel_col: NDArray[np.int64],
        offer: NDArray[np.object_],
        send: NDArray[np.int64],
        round_: int,
    ) -> Responses:
        prm, n = self.params, len(self)
        rng = np.random.default_rng([self.entropy, round_])
        # common random numbers: one draw per customer and purpose, whatever the contacts
        u_buy = rng.random(n)
        u_seen = rng.random(n)
        u_unsub = rng.random(n)
        u_time = rng.random(n)
        value = self.order_value * rng.gamma(self.order_shape, 1.0 / self.order_shape, n)

        treated = np.zeros(n, dtype=bool)
        treated[rows] = True
        reach = np.zeros(n)
        reach[rows] = self.reach[channel_col] * self.snapshot.reachable[rows, channel_col]
        lift = np.zeros(n)
        lift[rows] = self.lift(rows, offer)
        _, discount_of = _offer_columns(offer, prm)
        discount = np.zeros(n)
        discount[rows] = np.where(
            self.coupon_hunter[rows] & (discount_of > 0),
            np.maximum(discount_of, prm.hunter_discount),
            discount_of,
        )
        offers = np.full(n, None, dtype=object)
        offers[rows] = offer
        channels = np.full(n, None, dtype=object)
        names = np.array([c.name for c in OWNED_CHANNELS], dtype=object)
        channels[rows] = names[channel_col]

        h0 = self.hazard
        p0 = -np.expm1(-h0)
        dog = self.sleeping_dog
        h_seen = np.where(dog, h0 * (1 - prm.dog_damage), h0 + lift)
        p_seen = -np.expm1(-h_seen)
        seen = treated & (u_seen < reach)
        p1 = np.where(seen, p_seen, p0)
        bought0 = u_buy < p0
        bought1 = u_buy < p1
        revenue0 = np.where(bought0, value, 0.0)
        revenue1 = np.where(bought1, value * (1 - np.where(seen, discount, 0.0)), 0.0)
        unsubscribed = seen & dog & (u_unsub < prm.dog_unsubscribe)

        m = self.order_value
        expected0 = p0 * m
        expected1 = np.where(
            treated, reach * p_seen * m * (1 - discount) + (1 - reach) * p0 * m, expected0
        )

        start = np.full(n, epoch_micros(self.at), dtype=np.int64)
        start[rows] = send
        bought_at = start + (u_time * prm.window_days * MICROS_PER_DAY).astype(np.int64)
        return Responses(
            at=self.at,
            window_days=prm.window_days,
            round=round_,
            tenant=self.snapshot.tenant,
            currency=self.currency,
            customer_ids=self.customer_ids,
            treated=treated,
            channel=channels,
            offer=offers,
            seen=seen,
            purchased0=bought0,
            revenue0=revenue0,
            purchased1=bought1,
            revenue1=revenue1,
            discount=np.where(seen & bought1, discount, 0.0),
            unsubscribed=unsubscribed,
            purchase_at=np.where(bought1 | bought0, bought_at, _NAT).view("datetime64[us]"),
            send_at=np.where(treated, start, _NAT).view("datetime64[us]"),
            expected_revenue0=expected0,
            expected_revenue1=expected1,
        )


def _offer_columns(
    offer: NDArray[np.object_], prm: ResponseParams
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    names, code = np.unique(offer.astype(str), return_inverse=True)
    code = code.reshape(-1)
    lift = np.array([prm.offer_lift[o] for o in names.tolist()] or [0.0])[code]
    disc = np.array([prm.offer_discount[o] for o in names.tolist()] or [0.0])[code]
    return lift, disc


def _channel_columns(channel: NDArray[np.object_]) -> NDArray[np.int64]:
    if channel.ndim != 1:
        raise ValidationError("contacts' channel is one-dimensional")
    if channel.size == 0:
        return np.zeros(0, dtype=np.int64)
    names, code = np.unique(channel.astype(str), return_inverse=True)
    cols = []
    for name in names.tolist():
        try:
            parsed = Channel.parse(int(name) if name.isdigit() else name)
        except (ValueError, TypeError):
            raise ValidationError(f"contacts: unknown channel {name!r}") from None
        if parsed not in OWNED_CHANNELS:
            raise ValidationError(f"contacts: {parsed.name} is not an owned channel")
        cols.append(int(OWNED_COLUMN[parsed.value]))
    return np.array(cols, dtype=np.int64)[code.reshape(-1)]


@attrs.frozen(eq=False, repr=False)
class Responses(Result):
    """Both potential outcomes of every customer of a world over the response window.

    ``*0`` is the outcome without a nudge, ``*1`` with the customer's nudge (equal to ``*0``
    for customers without one); the outcome that happened is ``*1``. Revenue is net of the
    offer's discount, in yuan.

    Attributes
    ----------
    at : datetime.datetime
    window_days : float
    round : int
    tenant, currency : str
    customer_ids : numpy.ndarray of object
    treated : numpy.ndarray of bool
        Whether the customer was sent a nudge.
    channel, offer : numpy.ndarray of object
        The nudge's channel name and offer (``None`` without one).
    seen : numpy.ndarray of bool
        Whether the nudge reached the customer (reach of the channel).
    purchased0, revenue0, purchased1, revenue1 : numpy.ndarray
        Whether the customer buys in the window and the revenue, without and with the nudge.
    discount : numpy.ndarray of float64
        Share taken off the order bought with a seen discount-led offer.
    unsubscribed : numpy.ndarray of bool
        Sleeping dogs who left the channel after seeing the nudge.
    purchase_at : numpy.ndarray of datetime64[us]
        When the customer buys (NaT if in neither outcome).
    send_at : numpy.ndarray of datetime64[us]
        When the nudge was sent (NaT without one).
    expected_revenue0, expected_revenue1 : numpy.ndarray of float64
        The expectations of ``revenue0`` and ``revenue1`` given the world's hidden state.
    """

    at: dt.datetime
    window_days: float
    round: int
    tenant: str
    currency: str
    customer_ids: NDArray[np.object_] = attrs.field(converter=readonly)
    treated: NDArray[np.bool_] = attrs.field(converter=readonly)
    channel: NDArray[np.object_] = attrs.field(converter=readonly)
    offer: NDArray[np.object_] = attrs.field(converter=readonly)
    seen: NDArray[np.bool_] = attrs.field(converter=readonly)
    purchased0: NDArray[np.bool_] = attrs.field(converter=readonly)
    revenue0: NDArray[np.float64] = attrs.field(converter=readonly)
    purchased1: NDArray[np.bool_] = attrs.field(converter=readonly)
    revenue1: NDArray[np.float64] = attrs.field(converter=readonly)
    discount: NDArray[np.float64] = attrs.field(converter=readonly)
    unsubscribed: NDArray[np.bool_] = attrs.field(converter=readonly)
    purchase_at: NDArray[np.datetime64] = attrs.field(converter=readonly)
    send_at: NDArray[np.datetime64] = attrs.field(converter=readonly)
    expected_revenue0: NDArray[np.float64] = attrs.field(converter=readonly)
    expected_revenue1: NDArray[np.float64] = attrs.field(converter=readonly)

    _row_fields: ClassVar[tuple[str, ...]] = (
        "customer_ids", "treated", "channel", "offer", "seen", "purchased0", "revenue0",
        "purchased1", "revenue1", "discount", "unsubscribed", "purchase_at", "send_at",
        "expected_revenue0", "expected_revenue1",
    )  # fmt: skip

    def columns(self) -> dict[str, NDArray[Any]]:
        """Every per-customer column by name, ``customer_id`` first."""
        names = self._row_fields[1:]
        return {"customer_id": self.customer_ids, **{n: getattr(self, n) for n in names}}

    @property
    def incremental(self) -> NDArray[np.float64]:
        """Realised incremental revenue of each customer's nudge: ``revenue1 - revenue0``."""
        return self.revenue1 - self.revenue0

    @property
    def expected_incremental(self) -> NDArray[np.float64]:
        """Expected incremental revenue of each customer's nudge (0 without one)."""
        return self.expected_revenue1 - self.expected_revenue0

    @property
    def messages(self) -> int:
        """How many nudges were sent."""
        return int(self.treated.sum())

    def _title(self) -> str:
        return f"Responses ({self.messages} nudges to {len(self)} customers, round {self.round})"

    def explain(self, customer_id: str) -> str:
        """The customer's two potential outcomes, in words."""
        i = self.row(customer_id)
        seen = "seen" if self.seen[i] else "not seen"
        nudge = (
            f"nudged with {self.offer[i]} on {self.channel[i]} ({seen})"
            if self.treated[i]
            else "not nudged"
        )
        cur = self.currency
        lines = [f"customer {customer_id!r}: {nudge}"]
        for label, bought, revenue, expected in (
            ("without a nudge", self.purchased0, self.revenue0, self.expected_revenue0),
            ("with it", self.purchased1, self.revenue1, self.expected_revenue1),
        ):
            verb = "buys" if bought[i] else "does not buy"
            lines.append(
                f"  {label}: {verb} ({shown(revenue[i])} {cur}; expected {shown(expected[i])})"
            )
        return "\n".join(lines)

    def to_touchpoints(self, id_prefix: str, *, leaves: bool = True) -> Any:
        """What happened, as touchpoints (:class:`~privdomain.domain.batch.TouchpointColumns`)
        a pool can ingest.

        Purchases (outcome ``*1``) are PURCHASED touchpoints with ids ``id_prefix +
        customer_id``, the amount paid and the discount in minor units, ``promotion`` when a
        seen discount-led offer was used, on the nudge's channel (the mini-program for
        purchases without a nudge). With ``leaves``, the sleeping dogs who left the channel
        follow, an hour after the nudge, with ids ``id_prefix + customer_id + ":left"``:
        DELETED on personal WeChat and WeCom, LEFT for a group, UNSUBSCRIBED elsewhere, so
        that the next snapshot no longer reaches them there.
        """
        from privdomain.domain.batch import TouchpointColumns

        if not isinstance(id_prefix, str):
            raise ValidationError(f"id_prefix is a str, not {short_repr(id_prefix)}")
        if not isinstance(leaves, bool):
            raise ValidationError(f"leaves is a bool, not {short_repr(leaves)}")
        rows = np.flatnonzero(self.purchased1)
        paid = np.maximum(np.rint(self.revenue1[rows] * 100), 1).astype(np.int64)
        share = self.discount[rows]
        off = np.rint(paid * share / (1 - share)).astype(np.int64)
        channel = np.full(rows.size, Channel.MINI_PROGRAM.value, dtype=np.uint8)
        nudged = self.channel[rows] != None  # noqa: E711 - elementwise on objects
        channel[nudged] = _channel_codes(self.channel[rows][nudged])
        kind = np.full(rows.size, TouchKind.PURCHASED.value, dtype=np.uint8)
        ids = np.array(id_prefix, dtype=object) + self.customer_ids[rows].astype(object)
        at = self.purchase_at[rows].astype("datetime64[us]")
        left = np.flatnonzero(self.unsubscribed) if leaves else np.zeros(0, dtype=np.int64)
        left_channel = _channel_codes(self.channel[left])
        left_kind = np.full(left.size, TouchKind.UNSUBSCRIBED.value, dtype=np.uint8)
        left_kind[np.isin(left_channel, [Channel.WECHAT.value, Channel.WECOM.value])] = (
            TouchKind.DELETED.value
        )
        left_kind[left_channel == Channel.GROUP.value] = TouchKind.LEFT.value
        left_ids = (
            np.array(id_prefix, dtype=object) + self.customer_ids[left].astype(object) + ":left"
        )
        left_at = self.send_at[left].astype("datetime64[us]") + np.timedelta64(3600, "s")
        return TouchpointColumns.from_arrays(
            id=np.concatenate([ids, left_ids]).astype(object),
            tenant=self.tenant,
            customer_id=np.concatenate([self.customer_ids[rows], self.customer_ids[left]]),
            at=np.concatenate([at, left_at]),
            channel=np.concatenate([channel, left_channel]),
            kind=np.concatenate([kind, left_kind]),
            amount=np.concatenate([paid.astype(np.float64), np.full(left.size, np.nan)]),
            currency=self.currency,
            minor_units=True,
            promotion=np.concatenate([off > 0, np.zeros(left.size, dtype=bool)]),
            discount=np.concatenate([off.astype(np.float64), np.zeros(left.size)]),
        )


def _channel_codes(names: NDArray[np.object_]) -> NDArray[np.uint8]:
    """Channel codes of channel names (looked up once per distinct name)."""
    if names.size == 0:
        return np.zeros(0, dtype=np.uint8)
    unique, code = np.unique(names.astype(str), return_inverse=True)
    table = np.array([Channel[str(c)].value for c in unique.tolist()], dtype=np.uint8)
    return np.asarray(table[code.reshape(-1)], dtype=np.uint8)


def response_world(
    simulation: Any,
    snapshot: Snapshot,
    *,
    seed: int | np.random.Generator | None,
    stages: Any = None,
    at: dt.datetime | None = None,
    params: ResponseParams | None = None,
) -> ResponseWorld:
    """The ground truth of nudge responses for the customers of ``snapshot``.

    Parameters
    ----------
    simulation : SimulatedPool
        The simulation the snapshot's pool was ingested from (its true per-customer
        parameters drive the responses).
    snapshot : Snapshot
        A snapshot of ``simulation.pool()`` (or of a row selection of it).
    seed : int, numpy.random.Generator or None
        Seeds the hidden traits (susceptibility, sleeping dogs) and the noise of every round.
    stages : LifecycleStages, optional
        The post-purchase periods the response depends on (default: ``Lifecycle()`` fitted on
        the snapshot).
    at : datetime.datetime, optional
        Start of the response window (default: the snapshot's ``as_of``).
    params : ResponseParams, optional

    Raises
    ------
    ValidationError
        A simulation that is not a ``SimulatedPool``, a snapshot of customers it did not make,
        stages not aligned to the snapshot, an ``at`` before the snapshot.
    EmptyPoolError
        Without ``stages``, when the snapshot has no repeat buyer to learn the lifecycle's
        rhythm from (pass stages fitted on a bigger pool).
    """
    from privdomain.lifecycle import Lifecycle, LifecycleStages
    from privdomain.simulate import SimulatedPool, _generator

    if not isinstance(simulation, SimulatedPool):
        raise ValidationError(f"simulation is a SimulatedPool, not {type(simulation).__name__}")
    if not isinstance(snapshot, Snapshot):
        raise ValidationError(f"snapshot is a Snapshot, not {type(snapshot).__name__}")
    params = ResponseParams() if params is None else params
    if not isinstance(params, ResponseParams):
        raise ValidationError(f"params are ResponseParams, not {type(params).__name__}")
    rng = _generator(seed)
    at = snapshot.as_of if at is None else at
    if not isinstance(at, dt.datetime) or at.utcoffset() is None:
        raise ValidationError(f"at is an aware datetime, not {short_repr(at)}")
    at = at.astimezone(dt.UTC)
    if at < snapshot.as_of:
        raise ValidationError(f"at ({at}) is before the snapshot's as_of ({snapshot.as_of})")
    made = simulation.customers.id
    index = np.asarray(snapshot.index, dtype=np.int64)
    if index.size and (
        index.min() < 0
        or index.max() >= len(made)
        or not np.array_equal(made[index], snapshot.customer_ids)
        or not np.array_equal(
            np.asarray(simulation.customers.joined_at)[index],
            snapshot.joined_at.astype("datetime64[us]").view(np.int64),
        )
    ):
        raise ValidationError("the snapshot holds customers this simulation did not make")
    if stages is None:
        stages = Lifecycle().fit(snapshot).apply(snapshot)
    if not isinstance(stages, LifecycleStages):
        raise ValidationError(f"stages are LifecycleStages, not {type(stages).__name__}")
    if len(stages) != len(snapshot) or not np.array_equal(
        stages.customer_ids, snapshot.customer_ids
    ):
        raise ValidationError("the stages are not aligned to the snapshot's rows")
    period = np.asarray(stages.stages("post_purchase"), dtype=object)
    unknown = sorted(set(np.unique(period.astype(str)).tolist()) - set(_PERIODS))
    if unknown:
        raise ValidationError(f"unknown post-purchase periods {unknown}")

    truth = simulation.truth
    n = index.size
    sim_prm = simulation.params
    at_s = epoch_micros(at) // 1_000_000
    alive = np.asarray(truth["dropout_at"])[index] > at_s
    lam = np.asarray(truth["lam"], dtype=np.float64)[index]
    bought = snapshot.orders > 0
    rate = lam * np.where(bought, 1.0, params.prospect_rate)
    hazard = np.where(alive, rate * params.window_days, 0.0)
    order_value = sim_prm.p / np.asarray(truth["nu"], dtype=np.float64)[index]
    hunter = np.asarray(truth["coupon_hunter"], dtype=bool)[index]

    reach_map = params.reach if params.reach is not None else sim_prm.open_rate
    reach = np.array([float(reach_map.get(c, 0.0)) for c in OWNED_CHANNELS])

    # fatigue from the snapshot's recent messages, decayed by age at ``at``
    contacts = snapshot.contacts
    age_days = (epoch_micros(at) - contacts.at.astype("datetime64[us]").view(np.int64)) / (
        MICROS_PER_DAY
    )
    weight = np.exp2(-np.maximum(age_days, 0.0) / params.fatigue_half_life_days)
    c_row = np.asarray(contacts.row, dtype=np.int64)
    messages = np.bincount(c_row, weights=weight, minlength=n)
    promos = np.bincount(c_row, weights=weight * contacts.promotion, minlength=n)
    fatigue = np.exp(
        -(params.fatigue_per_message * messages + params.fatigue_per_promotion * promos)
    )

    # hidden traits: drawn in a fixed order, whatever the history
    k = params.susceptibility_shape
    susceptibility = rng.gamma(k, 1.0 / k, n)
    dog_share = np.zeros(n)
    for name in _PERIODS:
        dog_share[period == name] = params.sleeping_dogs[name]
    dog_p = np.minimum(dog_share + params.dog_fatigue * (1 - fatigue), 1.0)
    sleeping_dog = rng.random(n) < dog_p
    entropy = int(rng.integers(0, 2**63 - 1))
    return ResponseWorld(
        snapshot=snapshot,
        stages=stages,
        at=at,
        params=params,
        currency=snapshot.currency,
        reach=reach,
        period=period,
        alive=alive,
        hazard=hazard,
        order_value=order_value,
        order_shape=float(sim_prm.p),
        susceptibility=susceptibility,
        sleeping_dog=sleeping_dog,
        coupon_hunter=hunter,
        fatigue=fatigue,
        entropy=entropy,
    )
