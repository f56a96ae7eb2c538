"""Planning repurchase nudges: :func:`plan` and its result, :class:`NudgePlan`.

One nudge at most per customer per plan. The hard guarantees hold for every customer, whatever
the configuration: a message only on a channel the customer is reachable on (consent, still
connected) as of the plan; no frequency cap exceeded, counting the messages already sent in the
calendar window of the send time (the customer's own time zone) plus the plan; no message inside
quiet hours (a nudge that falls in them is sent when they end). Every customer not planned is
reported with the reason.

On top of the rules, the plan can use what was learned from earlier contacts: the customer's
own response history per channel (always, from the snapshot), a fitted
:class:`~privdomain.nudges.FatigueModel`, and estimated uplift with the value of a conversion
and the costs of a message and of the offer (ranked by expected incremental value minus cost).
A random share of the customers who would be contacted can be held out as a control group
(``holdout`` with a ``seed``), so that later outcomes (:meth:`NudgePlan.outcomes`) measure the
effect of the nudges.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any, ClassVar

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain._time import (
    MICROS_PER_DAY,
    epoch_micros,
    local_day_starts,
    micros_to_datetime,
)
from privdomain.domain.channels import OWNED_COLUMN, Channel, TouchKind
from privdomain.domain.money import minor_unit_exponent
from privdomain.domain.segment import short_repr
from privdomain.domain.snapshot import Snapshot
from privdomain.errors import ValidationError
from privdomain.nudges.fatigue import FatigueModel, responded_within
from privdomain.nudges.policy import (
    COUPONS,
    DISCOUNT_OFFERS,
    OFFERS,
    PERIODS,
    WINDOWS,
    NudgePolicy,
    QuietHours,
)
from privdomain.result import Result, readonly, shown
from privdomain.strategy import RuleBased, check_fitted

__all__ = ["REASONS", "NudgePlan", "Nudges", "plan"]

#: Why a customer is (not) contacted: ``planned`` or a skip reason, in the order they are
#: checked (the first that applies is reported).
REASONS: tuple[str, ...] = (
    "planned",
    "no_consent",
    "lost_outside_sale",
    "capped",
    "fatigued",
    "not_worth_it",
    "over_budget",
    "holdout",
)
_REASON_TEXT = {
    "planned": "planned",
    "no_consent": "no channel of the policy on which the customer is reachable (consent and "
    "still connected)",
    "lost_outside_sale": "lost customers are contacted only during a major sale",
    "capped": "every reachable channel is at a frequency cap (history plus plan)",
    "fatigued": "fatigue multiplier below the policy's fatigue_floor (too many recent contacts)",
    "not_worth_it": "score (expected incremental response) not above the policy's min_score, "
    "or expected incremental value not above the costs",
    "over_budget": "outside the message or discount budget (lower expected value)",
    "holdout": "held out at random as the control group (not sent)",
}
_NAT = np.datetime64("NaT", "us")
_REASON_NAMES = np.array(REASONS, dtype=object)
_CODE = {name: i for i, name in enumerate(OFFERS)}
_OFFER_NAMES = np.array([*OFFERS, None], dtype=object)  # code -1: no offer
_IS_DISCOUNT = np.array([o in DISCOUNT_OFFERS for o in OFFERS] + [False])
_IS_COUPON = np.array([o in COUPONS for o in OFFERS] + [False])
_IS_OWNED = OWNED_COLUMN >= 0  # by channel code


@attrs.frozen(eq=False, repr=False)
class NudgePlan(Result):
    """The nudges planned for every customer of a snapshot, aligned to its rows.

    Attributes
    ----------
    at : datetime.datetime
        When the plan was made (aware UTC).
    tenant : str
    major_sale : bool
        Whether the plan was made for a major sale.
    budget : int or None
        The message budget, if one was given.
    discount_budget : int or None
        The discount budget in minor units, if one was given.
    holdout : float
        The share of the customers who would be contacted held out at random.
    customer_ids, index : numpy.ndarray
        The customers and their indices in the pool, in the snapshot's order.
    planned : numpy.ndarray of bool
        Whether the customer gets a nudge.
    send_at : numpy.ndarray of datetime64[us]
        When to send it (UTC; NaT when not planned; for a held-out customer, when it would
        have been sent).
    channel, message, offer : numpy.ndarray of object
        Channel name, message type and offer (``None`` when not planned; a held-out customer
        keeps the nudge it would have got).
    promotion : numpy.ndarray of bool
        Whether the offer leads with a discount.
    score : numpy.ndarray of float64
        Expected incremental response: the customer's response rate on the channel (the reach
        prior × the period's response prior, shrunk with their own response history) × the
        period's incremental share (``lift_prior / response_prior``) × the fatigue multiplier ×
        (1 + multi-point bonus × further reachable channels); NaN without a usable channel.
        Without history it is reach × lift prior × fatigue × bonus.
    fatigue : numpy.ndarray of float64
        The fatigue multiplier ``exp(−load)`` at the send time (1 without a fatigue model).
    net_value : numpy.ndarray of float64
        Expected incremental value minus costs (with ``uplift``; NaN otherwise).
    discount_minor : numpy.ndarray of int64
        Face value of the offer in minor units (0 for offers without a discount).
    propensity : numpy.ndarray of float64
        Probability that the customer is contacted under the plan's randomisation:
        ``1 − holdout`` for the customers planned or held out, 0 for everyone else.
    rescheduled : numpy.ndarray of bool
        Whether the send time was moved to the end of quiet hours.
    reason : numpy.ndarray of object
        ``"planned"`` or why not (:data:`REASONS`).
    period, relationship, layer : numpy.ndarray of object
        The stages and the layer (of the policy's layers, ``None`` if none) the decision used.
    """

    at: dt.datetime
    tenant: str
    major_sale: bool
    budget: int | None
    discount_budget: int | None
    holdout: float
    customer_ids: NDArray[np.object_] = attrs.field(converter=readonly)
    index: NDArray[np.int64] = attrs.field(converter=readonly)
    planned: NDArray[np.bool_] = attrs.field(converter=readonly)
    send_at: NDArray[np.datetime64] = attrs.field(converter=readonly)
    channel: NDArray[np.object_] = attrs.field(converter=readonly)
    message: NDArray[np.object_] = attrs.field(converter=readonly)
    offer: NDArray[np.object_] = attrs.field(converter=readonly)
    promotion: NDArray[np.bool_] = attrs.field(converter=readonly)
    score: NDArray[np.float64] = attrs.field(converter=readonly)
    rescheduled: NDArray[np.bool_] = attrs.field(converter=readonly)
    reason: NDArray[np.object_] = attrs.field(converter=readonly)
    period: NDArray[np.object_] = attrs.field(converter=readonly)
    relationship: NDArray[np.object_] = attrs.field(converter=readonly)
    layer: NDArray[np.object_] = attrs.field(converter=readonly)
    fatigue: NDArray[np.float64] = attrs.field(converter=readonly)
    net_value: NDArray[np.float64] = attrs.field(converter=readonly)
    discount_minor: NDArray[np.int64] = attrs.field(converter=readonly)
    propensity: NDArray[np.float64] = attrs.field(converter=readonly)

    _row_fields: ClassVar[tuple[str, ...]] = (
        "customer_ids", "index", "planned", "send_at", "channel", "message", "offer",
        "promotion", "score", "rescheduled", "reason", "period", "relationship", "layer",
        "fatigue", "net_value", "discount_minor", "propensity",
    )  # fmt: skip

    def columns(self) -> dict[str, NDArray[Any]]:
        """Every per-customer column by name, ``customer_id`` first."""
        names = self._row_fields[1:]
        return {"customer_id": self.customer_ids, **{n: getattr(self, n) for n in names}}

    def _title(self) -> str:
        return f"NudgePlan ({int(self.planned.sum())} of {len(self)} customers planned)"

    def counts(self) -> dict[str, int]:
        """Customers per reason (every reason, zero ones included)."""
        return {r: int(np.count_nonzero(self.reason == r)) for r in REASONS}

    def skipped(self) -> dict[str, NDArray[np.object_]]:
        """The customers not planned, by reason (only reasons that occur)."""
        return {
            r: self.customer_ids[self.reason == r] for r in REASONS[1:] if np.any(self.reason == r)
        }

    def explain(self, customer_id: str) -> str:
        """Why this customer gets (or does not get) a nudge, with the numbers."""
        i = self.row(customer_id)
        layer = f", layer {self.layer[i]}" if self.layer[i] is not None else ""
        head = (
            f"customer {customer_id!r}: period {self.period[i]}, relationship "
            f"{self.relationship[i]}{layer}"
        )
        extra = ""
        if self.fatigue[i] != 1:
            extra += f", fatigue multiplier {shown(self.fatigue[i])}"
        if self.net_value[i] == self.net_value[i]:
            extra += f", expected incremental value minus cost {shown(self.net_value[i])}"
        if self.planned[i] or self.reason[i] == "holdout":
            when = micros_to_datetime(int(self.send_at[i].astype(np.int64)))
            moved = " (moved to the end of quiet hours)" if self.rescheduled[i] else ""
            body = (
                f"  nudge: {self.message[i]} with offer {self.offer[i]} on {self.channel[i]} at "
                f"{when.isoformat()}{moved}; score {shown(self.score[i])}{extra}"
            )
            if not self.planned[i]:
                body += f"\n  not sent: holdout ({_REASON_TEXT['holdout']})"
        else:
            body = f"  not contacted: {self.reason[i]} ({_REASON_TEXT[str(self.reason[i])]})"
            if extra:
                body += f"; score {shown(self.score[i])}{extra}"
        return f"{head}\n{body}"

    def outcomes(self, snapshot_after: Snapshot, *, window_days: float = 7.0) -> Any:
        """What became of the customers planned or held out: see
        :func:`privdomain.nudges.outcomes`."""
        from privdomain.nudges.outcomes import outcomes

        return outcomes(self, snapshot_after, window_days=window_days)

    def to_touchpoints(self, tenant: str, id_prefix: str) -> Any:
        """The planned nudges as SENT touchpoints (:class:`TouchpointColumns`), for the host to
        ingest once it has sent them; ids are ``id_prefix + customer_id``. Discount-led offers
        are marked ``promotion``. The library sends nothing."""
        from privdomain.domain.encoded import EncodedIds
        from privdomain.domain.touchpoint_columns import TouchpointColumns

        if not isinstance(tenant, str) or not tenant:
            raise ValidationError(f"tenant is a non-empty str, not {short_repr(tenant)}")
        if not isinstance(id_prefix, str):
            raise ValidationError(f"id_prefix is a str, not {short_repr(id_prefix)}")
        rows = np.flatnonzero(self.planned)
        customers = self.customer_ids[rows].tolist()
        # one C-level pass each: the ids, and the channel codes by name (a KeyError for a name
        # that is no channel, as Channel[name])
        ids = np.fromiter(map(id_prefix.__add__, customers), dtype=object, count=rows.size)
        by_name = {c.name: c.value for c in Channel}
        names = self.channel[rows].tolist()
        codes = np.fromiter(map(by_name.__getitem__, names), dtype=np.uint8, count=rows.size)
        return TouchpointColumns.from_arrays(
            id=ids,
            tenant=tenant,
            # already dictionary-encoded: row i is customer i of the plan's rows (the pool
            # then looks each one up once, with no encoding pass over the column first)
            customer_id=EncodedIds(np.arange(rows.size, dtype=np.int64), self.customer_ids[rows]),
            at=self.send_at[rows],
            channel=codes,
            kind=np.full(rows.size, TouchKind.SENT.value, dtype=np.uint8),
            promotion=self.promotion[rows],
        )


# ------------------------------------------------------------------ planning
def _layer_names(layers: Any, n: int, ids: NDArray[np.object_]) -> list[Any]:
    from privdomain.layering import Segmentation

    if layers is None:
        return []
    items = [layers] if isinstance(layers, Segmentation) else list(layers)
    for seg in items:
        if not isinstance(seg, Segmentation):
            raise ValidationError(f"layers are Segmentations, not {type(seg).__name__}")
        if len(seg) != n or not np.array_equal(seg.customer_ids, ids):
            raise ValidationError("a layer Segmentation is not aligned to the snapshot's rows")
    return items


def _members(layers: list[Any], name: str, n: int) -> NDArray[np.bool_]:
    """Customers in a segment called ``name`` of any of the layers."""
    member = np.zeros(n, dtype=bool)
    for seg in layers:
        if name in seg.names:
            member |= np.asarray(seg.labels) == seg.names.index(name)
    return member


def _quiet_shift(at: dt.datetime, tz: dt.tzinfo, quiet: tuple[QuietHours, ...]) -> dt.datetime:
    """``at``, or the end of the quiet hours it falls in (local wall-clock time of ``tz``)."""
    local = at.astimezone(tz)
    tod = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
    for q in quiet:
        a = q.start.hour * 60 + q.start.minute
        b = q.end.hour * 60 + q.end.minute
        wrap = a > b
        inside = (tod >= a or tod < b) if wrap else (a <= tod < b)
        if inside:
            day = local.date() + dt.timedelta(days=1 if wrap and tod >= a else 0)
            end = dt.datetime.combine(day, q.end).replace(tzinfo=tz)
            return end.astimezone(dt.UTC)
    return at


def _id_hash(customer_ids: NDArray[np.object_]) -> NDArray[np.uint64]:
    """FNV-1a over the code points of each customer id: a fixed function of the id alone (not
    of the pool index, the ingest order or the partition), computed one character position at a
    time for all ids at once."""
    text = np.asarray(customer_ids, dtype=str)
    width = text.dtype.itemsize // 4
    h = np.full(text.shape[0], 0xCBF29CE484222325, dtype=np.uint64)
    if width == 0 or text.shape[0] == 0:
        return h
    points = text.view(np.uint32).reshape(text.shape[0], width)
    prime = np.uint64(0x100000001B3)
    for j in range(width):  # a loop over character positions, never over customers
        h = (h ^ points[:, j].astype(np.uint64)) * prime
    return h


def _uniform(customer_ids: NDArray[np.object_], key: int) -> NDArray[np.float64]:
    """One uniform number in [0, 1) per customer, a fixed function of (customer id, key)
    (FNV-1a of the id, then SplitMix64): a customer's draw depends neither on the other
    customers of the snapshot nor on the order they were ingested in, so partitions, a
    partitioned cluster and one machine all draw the same holdout."""
    # arrays wrap around silently (numpy scalars would warn): the offset is mixed in Python
    z = _id_hash(customer_ids) + np.uint64((key * 0x9E3779B97F4A7C15) % 2**64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return np.asarray((z >> np.uint64(11)).astype(np.float64) * 2.0**-53)


def _seed_key(seed: Any) -> int:
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**63))
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValidationError(
            f"seed is an int >= 0 or a numpy.random.Generator, not {short_repr(seed)}"
        )
    return int(seed) % 2**64


def _per_customer(value: Any, n: int, name: str, *, low: float, high: float) -> Any:
    """A finite number in [low, high], or an array of them aligned to the snapshot's rows."""
    if isinstance(value, bool):
        raise ValidationError(f"{name} is a number or an array of numbers, not a bool")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} is a number or an array of numbers") from None
    if arr.ndim == 1 and arr.shape[0] != n:
        raise ValidationError(
            f"{name} has {arr.shape[0]} entries but the snapshot has {n} rows: align it to them"
        )
    if arr.ndim > 1:
        raise ValidationError(f"{name} is a number or a 1-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValidationError(f"{name} must be finite (no NaN or infinity)")
    if np.any(arr < low) or np.any(arr > high):
        raise ValidationError(f"{name} must lie in [{low}, {high}]")
    return np.broadcast_to(arr, (n,))


def _balance(snapshot: Snapshot, name: str | None) -> NDArray[np.bool_]:
    """Customers whose numeric attribute ``name`` is positive (nobody if no one has it)."""
    n = len(snapshot)
    col = snapshot.attributes.get(name) if name is not None else None
    if col is None:
        return np.zeros(n, dtype=bool)
    has = np.asarray(col != None, dtype=bool)  # noqa: E711 - elementwise on objects
    out = np.zeros(n, dtype=bool)
    try:
        values = np.asarray(col[has]).astype(np.float64)
    except (TypeError, ValueError):
        raise ValidationError(f"the balance attribute {name!r} is not numeric") from None
    out[has] = values > 0
    return out


#: Cells (customers x channels) of the response-rate block the channel choice works on at once:
#: the history counts and rates of a block, never of the whole pool (memory).
_BLOCK_CELLS = 1 << 17


def _history(
    snapshot: Snapshot,
    c_row: NDArray[np.int64],
    c_at: NDArray[np.int64],
    c_k: NDArray[np.int8],
    window_days: float,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """The messages on the policy's channels whose response window is over: their customer
    rows, channel positions (``c_k``, -1 off the policy) and whether each got a response (an
    order within the window), from the snapshot's contacts and order log."""
    window = round(window_days * MICROS_PER_DAY)
    done = np.flatnonzero((c_k >= 0) & (c_at + window <= epoch_micros(snapshot.as_of)))
    row, at, col = c_row[done], c_at[done], c_k[done].astype(np.int64)
    del done
    orders = snapshot.order_log
    o_at = np.asarray(orders.at, dtype="datetime64[us]").view(np.int64)
    o_row = np.asarray(orders.row, dtype=np.int64)
    if at.size:
        relevant = o_at >= at.min()  # older orders answer no message
        o_at, o_row = o_at[relevant], o_row[relevant]
    hit = responded_within(row, at, o_row, o_at, window)
    return row, col, hit


def _choose_channels(
    history: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]],
    usable: NDArray[np.bool_],
    reach: NDArray[np.float64],
    prior: NDArray[np.float64],
    strength: float,
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Each customer's usable channel of the highest response rate (ties: the channel order)
    and that rate, ``(s × reach × prior + answered) / (s + sent)``, block by block of rows: the
    per-channel counts and rates of one block at a time, whatever the pool's size."""
    n, k = usable.shape
    row, col, hit = history
    pick = np.zeros(n, dtype=np.intp)
    chosen = np.zeros(n)
    if n == 0 or k == 0:
        return pick, chosen
    block = max(1, _BLOCK_CELLS // k)
    key = row * k + col
    edges = np.array([0, key.size])
    if n > block:  # the messages grouped by block of rows (a radix sort of small block numbers)
        group = (row // block).astype(np.uint16 if n // block < 2**16 else np.int64)
        order = np.argsort(group, kind="stable")
        key, hit = key[order], hit[order]
        edges = np.concatenate(([0], np.cumsum(np.bincount(group, minlength=-(-n // block)))))
        del group, order
    weight = strength * reach[None, :]
    for i, a in enumerate(range(0, n, block)):
        b = min(n, a + block)
        mine = key[edges[i] : edges[i + 1]] - a * k
        sent = np.bincount(mine, minlength=(b - a) * k).reshape(b - a, k)
        answered = np.bincount(mine[hit[edges[i] : edges[i + 1]]], minlength=(b - a) * k)
        rate = (weight * prior[a:b, None] + answered.reshape(b - a, k)) / (strength + sent)
        del sent, answered
        best = np.argmax(np.where(usable[a:b], rate, -1.0), axis=1)
        pick[a:b] = best
        chosen[a:b] = np.take_along_axis(rate, best[:, None], axis=1)[:, 0]
    return pick, chosen


def plan(
    snapshot: Snapshot,
    stages: Any,
    *,
    at: dt.datetime,
    layers: Any = None,
    major_sale: bool = False,
    budget: int | None = None,
    policy: NudgePolicy | None = None,
    fatigue: FatigueModel | None = None,
    uplift: Any = None,
    value: Any = None,
    cost: Any = 0.0,
    discount_budget: int | None = None,
    holdout: float = 0.0,
    seed: Any = None,
) -> NudgePlan:
    """Plan at most one nudge per customer of ``snapshot``.

    Parameters
    ----------
    snapshot : Snapshot
        The pool as of some instant (consent, reachability, recent contacts and orders).
    stages : LifecycleStages
        ``Lifecycle().fit(snapshot).apply(snapshot)``, aligned to the snapshot's rows.
    at : datetime.datetime
        When the nudges are to go out (aware, not before ``snapshot.as_of``). Caps count the
        messages the snapshot saw (sent up to its ``as_of``): plan from a fresh snapshot.
    layers : Segmentation or iterable of Segmentation, optional
        Layers whose segment names the policy's ``layer_offers`` and ``no_coupon_layers`` name.
    major_sale : bool
        Whether a major sale is on (lost customers are contacted only then).
    budget : int, optional
        At most this many messages (>= 1), to the customers ranked highest (by ``net_value``
        with ``uplift``, else by ``score``, the expected incremental response from the
        periods' lift priors; ties in snapshot order).
    policy : NudgePolicy, optional
        The playbook (default: :class:`NudgePolicy` defaults).
    fatigue : FatigueModel, optional
        A fitted fatigue model: its multiplier at the send time scales the score (and the
        uplift), and customers below the policy's ``fatigue_floor`` are skipped as fatigued.
    uplift : array-like of float, optional
        Estimated effect of a nudge on each customer's chance to buy (one entry per snapshot
        row, in [-1, 1]), e.g. from an uplift model. With it, customers are ranked by
        ``net_value = uplift × fatigue × value − cost − face value of the offer`` and skipped
        as ``not_worth_it`` when that is not positive.
    value : float or array-like of float, optional
        Value of one conversion in major units (required with ``uplift``; >= 0).
    cost : float or array-like of float
        Cost of one message in major units (>= 0).
    discount_budget : int, optional
        At most this much face value of discount-led offers, in minor units (>= 1), given in
        rank order; offers that do not fit are skipped as ``over_budget``.
    holdout : float
        Share (in [0, 1)) of the customers who would be contacted held out at random as a
        control group (reason ``holdout``, not sent); needs ``seed``. It is drawn from the
        customers within the budgets, so the held out count towards them (an experiment of
        ``budget`` customers; their coupons are reserved from the discount budget too).
    seed : int or numpy.random.Generator, optional
        Seed of the holdout draw. A customer's draw depends only on the seed and their pool
        index, so a plan is the same for the same seed, partition by partition.

    Raises
    ------
    ValidationError
        Bad arguments: not a snapshot, stages, layers or arrays not aligned to it, a naive or
        early ``at``, budgets that are not ints >= 1, NaN uplift, ``uplift`` without ``value``,
        a holdout outside [0, 1) or without a seed, a period name the policy has no rule for.
    """
    from privdomain.lifecycle import LifecycleStages

    policy = NudgePolicy() if policy is None else policy
    if not isinstance(policy, NudgePolicy):
        raise ValidationError(f"policy is a NudgePolicy, not {type(policy).__name__}")
    if not isinstance(snapshot, Snapshot):
        raise ValidationError(f"plan() takes a Snapshot, not {type(snapshot).__name__}")
    if not isinstance(stages, LifecycleStages):
        raise ValidationError(f"stages are LifecycleStages, not {type(stages).__name__}")
    n = len(snapshot)
    if len(stages) != n or not np.array_equal(stages.customer_ids, snapshot.customer_ids):
        raise ValidationError("the stages are not aligned to the snapshot's rows")
    if not isinstance(at, dt.datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise ValidationError(f"at is an aware datetime, not {short_repr(at)}")
    at = at.astimezone(dt.UTC)
    if at < snapshot.as_of:
        raise ValidationError(f"at ({at}) is before the snapshot's as_of ({snapshot.as_of})")
    if not isinstance(major_sale, bool):
        raise ValidationError(f"major_sale is a bool, not {short_repr(major_sale)}")
    for name, amount in (("budget", budget), ("discount_budget", discount_budget)):
        if amount is not None and (
            isinstance(amount, bool) or not isinstance(amount, int | np.integer) or amount < 1
        ):
            raise ValidationError(f"{name} is an int >= 1 (or None), not {short_repr(amount)}")
    if fatigue is not None:
        if not isinstance(fatigue, FatigueModel):
            raise ValidationError(f"fatigue is a FatigueModel, not {type(fatigue).__name__}")
        check_fitted(fatigue, "base_rate_")
    if isinstance(holdout, bool) or not isinstance(holdout, int | float) or not (
        0 <= holdout < 1
    ):  # fmt: skip
        raise ValidationError(f"holdout is a share in [0, 1), not {short_repr(holdout)}")
    key = None
    if holdout > 0:
        if seed is None:
            raise ValidationError("a holdout needs a seed (an int or a numpy.random.Generator)")
        key = _seed_key(seed)
    elif seed is not None:
        _seed_key(seed)
    gain = None
    if uplift is not None:
        if value is None:
            raise ValidationError("uplift needs the value of a conversion (value=...)")
        lift = np.asarray(uplift)
        if lift.ndim != 1:
            raise ValidationError(f"uplift is one number per snapshot row, got shape {lift.shape}")
        gain = _per_customer(lift, n, "uplift", low=-1.0, high=1.0)
        worth = _per_customer(value, n, "value", low=0.0, high=np.inf)
    elif value is not None:
        raise ValidationError("value is used with uplift only")
    message_cost = _per_customer(cost, n, "cost", low=0.0, high=np.inf)
    layer_cols = _layer_names(layers, n, snapshot.customer_ids)

    # -- stages -> period rules and offers, as integer codes (offers index OFFERS)
    periods_seg = stages.ladder("post_purchase")
    rel_seg = stages.ladder("relationship")
    p_code = np.asarray(periods_seg.labels, dtype=np.intp)
    used = np.flatnonzero(np.bincount(p_code, minlength=len(periods_seg.names)))
    unknown = [periods_seg.names[i] for i in used if periods_seg.names[i] not in policy.periods]
    if unknown:
        raise ValidationError(f"the policy has no rule for periods {unknown}; periods {PERIODS}")
    default = policy.periods["active"]
    rules = [policy.periods.get(name, default) for name in periods_seg.names]
    message_code = p_code
    offer = np.array([_CODE[r.offer] for r in rules], dtype=np.intp)[p_code]
    discounts = np.array([r.discounts for r in rules])[p_code]
    use_stage = np.array([r.layer_offers for r in rules])[p_code]
    prior = np.array([r.response_prior for r in rules])[p_code]
    share = np.array([r.incremental_share for r in rules])[p_code]
    sale_only = np.array([r.only_in_major_sale for r in rules])[p_code]

    stage_offer = np.array(
        [_CODE[policy.stage_offers[r]] if r in policy.stage_offers else -1 for r in rel_seg.names]
        + [-1],
        dtype=np.intp,
    )[np.asarray(rel_seg.labels, dtype=np.intp)]
    stage_discount = _IS_DISCOUNT[stage_offer]
    take_stage = use_stage & (stage_offer >= 0) & (discounts | ~stage_discount)
    offer = np.where(take_stage, stage_offer, offer)

    layer_code = np.full(n, -1, dtype=np.intp)
    layer_names: list[str] = [*policy.layer_offers, *policy.no_coupon_layers]
    has_layer = np.zeros(n, dtype=bool)
    for name, layer_offer in reversed(list(policy.layer_offers.items())):
        member = _members(layer_cols, name, n)
        if layer_offer in DISCOUNT_OFFERS:
            member &= discounts
        offer = np.where(member, _CODE[layer_offer], offer)
        layer_code = np.where(member, layer_names.index(name), layer_code)
        has_layer |= member
    hunter = np.zeros(n, dtype=bool)
    for name in policy.no_coupon_layers:
        member = _members(layer_cols, name, n)
        layer_code = np.where(
            member & ~hunter & ~has_layer, len(policy.layer_offers) + list(
                policy.no_coupon_layers).index(name), layer_code
        )  # fmt: skip
        hunter |= member
    withheld = hunter & _IS_COUPON[offer]
    offer = np.where(withheld, _CODE["none"], offer)
    # members and stored value: a reminder instead of a discount (the balance first)
    is_discount = _IS_DISCOUNT[offer]
    member_tag = snapshot.tags.get(policy.member_tag) if policy.member_tag is not None else None
    members = np.zeros(n, dtype=bool) if member_tag is None else np.asarray(member_tag, bool)
    balance = _balance(snapshot, policy.balance_attribute)
    offer = np.where(is_discount & members, _CODE["member_day"], offer)
    offer = np.where(is_discount & balance, _CODE["balance_reminder"], offer)

    # -- send time per time zone (quiet hours), then calendar windows of that send time
    zone_code = np.asarray(snapshot.time_zone, dtype=np.int64)
    pool_zone: str | dt.timedelta = (
        policy.time_zone if policy.time_zone is not None else snapshot.utc_offset
    )
    zones: list[str | dt.timedelta] = [*snapshot.time_zones, pool_zone]
    send_by_zone = np.empty(len(zones), dtype=np.int64)
    starts = np.empty((len(WINDOWS), len(zones)), dtype=np.int64)
    at_micros = epoch_micros(at)
    for z, zone in enumerate(zones):
        tz: dt.tzinfo = dt.timezone(zone) if isinstance(zone, dt.timedelta) else (
            zoneinfo.ZoneInfo(zone)
        )  # fmt: skip
        send_by_zone[z] = epoch_micros(_quiet_shift(at, tz, policy.quiet_hours))
        starts[:, z] = local_day_starts(int(send_by_zone[z]), zone)
    send = send_by_zone[zone_code]  # -1 picks the pool's zone, the last entry
    rescheduled = send != at_micros

    # -- messages in the send time's calendar windows: only those since the earliest month
    # start can count; each cap counts its own (one bincount per cap, not per channel)
    contacts = snapshot.contacts
    c_row = np.asarray(contacts.row, dtype=np.int64)
    c_at = np.asarray(contacts.at, dtype="datetime64[us]").view(np.int64)  # no copy
    # each message's position in the channel order (-1: not a channel of the policy), int8
    order_cols = np.array([OWNED_COLUMN[c.value] for c in policy.channel_order], dtype=np.int64)
    position = np.full(256, -1, dtype=np.int8)
    position[[c.value for c in policy.channel_order]] = np.arange(order_cols.size)
    c_k = position[contacts.channel]
    recent = np.flatnonzero((c_at >= starts.min()) & _IS_OWNED[contacts.channel])
    r_row, r_at = c_row[recent], c_at[recent]
    r_before = r_at <= send[r_row]
    r_zone = zone_code[r_row]

    # -- channels with room: reachable, and every cap still below its limit after one more
    # (history plus the plan's one message: the count so far must be below the limit)
    reachable = np.asarray(snapshot.reachable, dtype=bool)[:, order_cols]
    room_all = np.ones(n, dtype=bool)
    room = np.ones((n, order_cols.size), dtype=bool)
    for w, window in enumerate(WINDOWS):
        caps = [cap for cap in policy.caps if cap.window == window]
        if not caps:
            continue
        inside = np.flatnonzero((r_at >= starts[w][r_zone]) & r_before)
        w_row, w_k = r_row[inside], c_k[recent[inside]]
        del inside
        for cap in caps:
            if cap.channel is None:
                room_all &= np.bincount(w_row, minlength=n) < cap.limit
            elif cap.channel in policy.channel_order:
                k = policy.channel_order.index(cap.channel)
                room[:, k] &= np.bincount(w_row[w_k == k], minlength=n) < cap.limit
        del w_row, w_k
    del r_row, r_at, r_before, r_zone, recent
    usable = reachable & room & room_all[:, None]
    del room, room_all
    has_reach = reachable.any(axis=1)
    has_room = usable.any(axis=1)

    # -- channel choice: the reach prior shrunk with the customer's own response history
    history = _history(snapshot, c_row, c_at, c_k, policy.response_days)
    del c_row, c_at, c_k
    reach = np.array([policy.reach[c] for c in policy.channel_order])
    pick, chosen_rate = _choose_channels(
        history, usable, reach, prior, float(policy.channel_prior_strength)
    )
    del history
    n_reach = reachable.sum(axis=1)
    del reachable, usable
    multi = 1 + policy.multi_point_bonus * np.maximum(n_reach - 1, 0)
    tired = np.ones(n) if fatigue is None else fatigue._multiplier(snapshot, send)
    score = np.where(has_room, chosen_rate * share * tired * multi, np.nan)

    face_table = np.array([policy.offer_cost.get(o, 0) for o in OFFERS], dtype=np.int64)
    face = face_table[offer]
    net = np.full(n, np.nan)
    if gain is not None:
        scale = float(10 ** minor_unit_exponent(snapshot.currency))
        net = np.where(has_room, gain * tired * worth - message_cost - face / scale, np.nan)

    reason = np.zeros(n, dtype=np.int8)  # codes into REASONS; 0 is "planned"
    pending = np.ones(n, dtype=bool)
    worthless = ~(score > policy.min_score)
    if gain is not None:
        worthless |= ~(net > 0)
    for name, hit in (
        ("no_consent", ~has_reach),
        ("lost_outside_sale", sale_only & (not major_sale)),
        ("capped", ~has_room),
        ("fatigued", tired < policy.fatigue_floor),
        ("not_worth_it", worthless),
    ):
        now = pending & hit
        reason[now] = REASONS.index(name)
        pending &= ~now
    if budget is not None or discount_budget is not None:
        rank_by = net if gain is not None else score
        candidates = np.flatnonzero(pending)
        # best first; a stable sort keeps ties in snapshot order
        ranked = candidates[np.argsort(-rank_by[candidates], kind="stable")]
        if discount_budget is not None:
            spent = np.cumsum(face[ranked])
            over = ranked[(face[ranked] > 0) & (spent > int(discount_budget))]
            reason[over] = REASONS.index("over_budget")
            pending[over] = False
            ranked = ranked[pending[ranked]]
        if budget is not None:
            over = ranked[int(budget) :]
            reason[over] = REASONS.index("over_budget")
            pending[over] = False
    chosen = pending.copy()
    propensity = np.where(chosen, 1.0 - float(holdout), 0.0)
    if key is not None:
        held = np.zeros(n, dtype=bool)
        rows = np.flatnonzero(chosen)
        held[rows] = _uniform(snapshot.customer_ids[rows], key) < holdout
        reason[held] = REASONS.index("holdout")
        pending &= ~held

    names = np.array([c.name for c in policy.channel_order], dtype=object)
    none = np.full(n, None, dtype=object)
    messages = np.array([r.message for r in rules] + [None], dtype=object)
    layers_out = np.array([*layer_names, None], dtype=object)
    return NudgePlan(
        at=at,
        tenant=snapshot.tenant,
        major_sale=major_sale,
        budget=None if budget is None else int(budget),
        discount_budget=None if discount_budget is None else int(discount_budget),
        holdout=float(holdout),
        customer_ids=snapshot.customer_ids,
        index=snapshot.index,
        planned=pending,
        send_at=np.where(chosen, send, np.iinfo(np.int64).min).view("datetime64[us]"),
        channel=np.where(chosen, names[pick], none),
        message=messages[np.where(chosen, message_code, -1)],
        offer=_OFFER_NAMES[np.where(chosen, offer, -1)],
        promotion=chosen & _IS_DISCOUNT[offer],
        score=score,
        rescheduled=chosen & rescheduled,
        reason=_REASON_NAMES[reason],
        period=periods_seg.segment_names,
        relationship=rel_seg.segment_names,
        layer=layers_out[layer_code],
        fatigue=tired,
        net_value=net,
        discount_minor=np.where(chosen, face, 0),
        propensity=propensity,
    )


class Nudges(RuleBased):
    """The nudge planner as a rule-only strategy: nothing to learn (``fit`` returns ``self``);
    :meth:`plan` plans with the configured :class:`NudgePolicy` (and, optionally, a fitted
    :class:`~privdomain.nudges.FatigueModel`)."""

    def __init__(self, policy: NudgePolicy | None = None, fatigue: FatigueModel | None = None):
        self.policy = NudgePolicy() if policy is None else policy
        if not isinstance(self.policy, NudgePolicy):
            raise ValidationError(f"policy is a NudgePolicy, not {type(policy).__name__}")
        self.fatigue = fatigue

    def plan(
        self, snapshot: Snapshot, stages: Any, *, at: dt.datetime, **options: Any
    ) -> NudgePlan:
        """:func:`plan` with this planner's policy and fatigue model; ``options`` are the other
        keyword arguments of :func:`plan`."""
        return plan(snapshot, stages, at=at, policy=self.policy, fatigue=self.fatigue, **options)
