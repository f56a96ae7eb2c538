"""Planning repurchase nudges: :func:`plan` and its result, :class:`NudgePlan`.

One nudge at most per customer per plan. The hard guarantees hold for every customer, whatever
the configuration: a message only on a channel the customer is reachable on (consent, still
connected) as of the plan; no frequency cap exceeded, counting the messages already sent in the
calendar window of the send time (the customer's own time zone) plus the plan; no message inside
quiet hours (a nudge that falls in them is sent when they end). Every customer not planned is
reported with the reason.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any, ClassVar

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain._time import epoch_micros, local_day_starts, micros_to_datetime
from privdomain.domain.channels import OWNED_CHANNELS, OWNED_COLUMN, Channel, TouchKind
from privdomain.domain.segment import short_repr
from privdomain.domain.snapshot import Snapshot
from privdomain.errors import ValidationError
from privdomain.nudges.policy import (
    COUPONS,
    DISCOUNT_OFFERS,
    PERIODS,
    WINDOWS,
    NudgePolicy,
    QuietHours,
)
from privdomain.result import Result, shown
from privdomain.strategy import RuleBased

__all__ = ["REASONS", "NudgePlan", "Nudges", "plan"]

#: Why a customer is (not) contacted: ``planned`` or a skip reason, in the order they are
#: checked (the first that applies is reported).
REASONS: tuple[str, ...] = (
    "planned",
    "no_consent",
    "lost_outside_sale",
    "capped",
    "not_worth_it",
    "over_budget",
)
_REASON_TEXT = {
    "planned": "planned",
    "no_consent": "no channel of the policy on which the customer is reachable (consent and "
    "still connected)",
    "lost_outside_sale": "lost customers are contacted only during a major sale",
    "capped": "every reachable channel is at a frequency cap (history plus plan)",
    "not_worth_it": "expected-value score not above the policy's min_score",
    "over_budget": "outside the message budget (lower expected-value score)",
}
_NAT = np.datetime64("NaT", "us")


def _readonly(arr: Any) -> NDArray[Any]:
    out = np.asarray(arr)
    if out.flags.writeable:
        out = out.view()
        out.flags.writeable = False
    return out


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
    customer_ids, index : numpy.ndarray
        The customers and their indices in the pool, in the snapshot's order.
    planned : numpy.ndarray of bool
        Whether the customer gets a nudge.
    send_at : numpy.ndarray of datetime64[us]
        When to send it (UTC; NaT when not planned).
    channel, message, offer : numpy.ndarray of object
        Channel name, message type and offer (``None`` when not planned).
    promotion : numpy.ndarray of bool
        Whether the offer leads with a discount.
    score : numpy.ndarray of float64
        Expected-value score: reach of the channel × response prior of the period × (1 +
        multi-point bonus × further reachable channels); NaN without a usable channel.
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
    customer_ids: NDArray[np.object_] = attrs.field(converter=_readonly)
    index: NDArray[np.int64] = attrs.field(converter=_readonly)
    planned: NDArray[np.bool_] = attrs.field(converter=_readonly)
    send_at: NDArray[np.datetime64] = attrs.field(converter=_readonly)
    channel: NDArray[np.object_] = attrs.field(converter=_readonly)
    message: NDArray[np.object_] = attrs.field(converter=_readonly)
    offer: NDArray[np.object_] = attrs.field(converter=_readonly)
    promotion: NDArray[np.bool_] = attrs.field(converter=_readonly)
    score: NDArray[np.float64] = attrs.field(converter=_readonly)
    rescheduled: NDArray[np.bool_] = attrs.field(converter=_readonly)
    reason: NDArray[np.object_] = attrs.field(converter=_readonly)
    period: NDArray[np.object_] = attrs.field(converter=_readonly)
    relationship: NDArray[np.object_] = attrs.field(converter=_readonly)
    layer: NDArray[np.object_] = attrs.field(converter=_readonly)

    _row_fields: ClassVar[tuple[str, ...]] = (
        "customer_ids", "index", "planned", "send_at", "channel", "message", "offer",
        "promotion", "score", "rescheduled", "reason", "period", "relationship", "layer",
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
        if self.planned[i]:
            when = micros_to_datetime(int(self.send_at[i].astype(np.int64)))
            moved = " (moved to the end of quiet hours)" if self.rescheduled[i] else ""
            body = (
                f"  nudge: {self.message[i]} with offer {self.offer[i]} on {self.channel[i]} at "
                f"{when.isoformat()}{moved}; score {shown(self.score[i])}"
            )
        else:
            body = f"  not contacted: {self.reason[i]} ({_REASON_TEXT[str(self.reason[i])]})"
        return f"{head}\n{body}"

    def to_touchpoints(self, tenant: str, id_prefix: str) -> Any:
        """The planned nudges as SENT touchpoints (:class:`TouchpointColumns`), for the host to
        ingest once it has sent them; ids are ``id_prefix + customer_id``. Discount-led offers
        are marked ``promotion``. The library sends nothing."""
        from privdomain.domain.touchpoint_columns import TouchpointColumns

        if not isinstance(tenant, str) or not tenant:
            raise ValidationError(f"tenant is a non-empty str, not {short_repr(tenant)}")
        if not isinstance(id_prefix, str):
            raise ValidationError(f"id_prefix is a str, not {short_repr(id_prefix)}")
        rows = np.flatnonzero(self.planned)
        ids = np.array(id_prefix, dtype=object) + self.customer_ids[rows].astype(object)
        names, inverse = np.unique(self.channel[rows].astype(str), return_inverse=True)
        table = np.array([Channel[str(c)].value for c in names.tolist()], dtype=np.uint8)
        codes = table[inverse.reshape(-1)] if rows.size else np.zeros(0, dtype=np.uint8)
        return TouchpointColumns.from_arrays(
            id=np.asarray(ids, dtype=object),
            tenant=tenant,
            customer_id=self.customer_ids[rows],
            at=self.send_at[rows],
            channel=codes,
            kind=np.full(rows.size, TouchKind.SENT.value, dtype=np.uint8),
            promotion=self.promotion[rows],
        )


# ------------------------------------------------------------------ planning
def _layer_names(layers: Any, n: int, ids: NDArray[np.object_]) -> list[NDArray[np.object_]]:
    from privdomain.layering import Segmentation

    if layers is None:
        return []
    items = [layers] if isinstance(layers, Segmentation) else list(layers)
    out = []
    for seg in items:
        if not isinstance(seg, Segmentation):
            raise ValidationError(f"layers are Segmentations, not {type(seg).__name__}")
        if len(seg) != n or not np.array_equal(seg.customer_ids, ids):
            raise ValidationError("a layer Segmentation is not aligned to the snapshot's rows")
        out.append(seg.segment_names)
    return out


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


def plan(
    snapshot: Snapshot,
    stages: Any,
    *,
    at: dt.datetime,
    layers: Any = None,
    major_sale: bool = False,
    budget: int | None = None,
    policy: NudgePolicy | None = None,
) -> NudgePlan:
    """Plan at most one nudge per customer of ``snapshot``.

    Parameters
    ----------
    snapshot : Snapshot
        The pool as of some instant (consent, reachability and recent contacts).
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
        At most this many messages (>= 1), given to the customers with the highest
        expected-value score (ties: snapshot order).
    policy : NudgePolicy, optional
        The playbook (default: :class:`NudgePolicy` defaults).

    Raises
    ------
    ValidationError
        Bad arguments: not a snapshot, stages or layers not aligned to it, a naive or early
        ``at``, a budget that is not an int >= 1, a period name the policy has no rule for.
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
    if budget is not None and (
        isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < 1
    ):
        raise ValidationError(f"budget is an int >= 1 (or None), not {short_repr(budget)}")
    layer_cols = _layer_names(layers, n, snapshot.customer_ids)

    # -- stages -> period rules and offers (codes over the few distinct names)
    period_names = np.asarray(stages.stages("post_purchase"), dtype=object)
    rel_names = np.asarray(stages.stages("relationship"), dtype=object)
    p_unique, p_code = np.unique(period_names.astype(str), return_inverse=True)
    unknown = [p for p in p_unique.tolist() if p not in policy.periods]
    if unknown:
        raise ValidationError(f"the policy has no rule for periods {unknown}; periods {PERIODS}")
    rules = [policy.periods[p] for p in p_unique.tolist()]
    message = np.array([r.message for r in rules] or [""], dtype=object)[p_code]
    offer = np.array([r.offer for r in rules] or [""], dtype=object)[p_code]
    discounts = np.array([r.discounts for r in rules] or [False])[p_code]
    use_stage = np.array([r.layer_offers for r in rules] or [False])[p_code]
    prior = np.array([r.response_prior for r in rules] or [0.0])[p_code]
    sale_only = np.array([r.only_in_major_sale for r in rules] or [False])[p_code]

    r_unique, r_code = np.unique(rel_names.astype(str), return_inverse=True)
    stage_offer = np.array(
        [policy.stage_offers.get(r) for r in r_unique.tolist()] or [None], dtype=object
    )[r_code]
    stage_discount = np.isin(stage_offer, list(DISCOUNT_OFFERS))
    take_stage = use_stage & (stage_offer != None) & (discounts | ~stage_discount)  # noqa: E711
    offer = np.where(take_stage, stage_offer, offer)

    layer = np.full(n, None, dtype=object)
    has_layer = np.zeros(n, dtype=bool)
    for name, layer_offer in reversed(list(policy.layer_offers.items())):
        member = np.zeros(n, dtype=bool)
        for col in layer_cols:
            member |= col == name
        if layer_offer in DISCOUNT_OFFERS:
            member &= discounts
        offer = np.where(member, layer_offer, offer)
        layer = np.where(member, name, layer)
        has_layer |= member
    hunter = np.zeros(n, dtype=bool)
    for name in policy.no_coupon_layers:
        member = np.zeros(n, dtype=bool)
        for col in layer_cols:
            member |= col == name
        layer = np.where(member & ~hunter & ~has_layer, name, layer)
        hunter |= member
    withheld = hunter & np.isin(offer, list(COUPONS))
    offer = np.where(withheld, "none", offer)

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

    # -- history in the send time's windows: (windows, customers, owned channels)
    contacts = snapshot.contacts
    c_row = np.asarray(contacts.row, dtype=np.int64)
    c_at = contacts.at.astype("datetime64[us]").view(np.int64)
    c_col = OWNED_COLUMN[contacts.channel]
    n_owned = len(OWNED_CHANNELS)
    history = np.zeros((len(WINDOWS), n, n_owned), dtype=np.int64)
    for w in range(len(WINDOWS)):
        inside = (c_at >= starts[w, zone_code[c_row]]) & (c_at <= send[c_row]) & (c_col >= 0)
        key = c_row[inside] * n_owned + c_col[inside]
        history[w] = np.bincount(key, minlength=n * n_owned).reshape(n, n_owned)

    # -- channels with room: reachable, and every cap still below its limit after one more
    order_cols = np.array([OWNED_COLUMN[c.value] for c in policy.channel_order], dtype=np.int64)
    reachable = np.asarray(snapshot.reachable, dtype=bool)[:, order_cols]
    room_all = np.ones(n, dtype=bool)
    room = np.ones((n, order_cols.size), dtype=bool)
    for cap in policy.caps:
        w = WINDOWS.index(cap.window)
        if cap.channel is None:
            room_all &= history[w].sum(axis=1) + 1 <= cap.limit
        elif cap.channel in policy.channel_order:
            k = policy.channel_order.index(cap.channel)
            room[:, k] &= history[w][:, order_cols[k]] + 1 <= cap.limit
    usable = reachable & room & room_all[:, None]
    has_reach = reachable.any(axis=1)
    has_room = usable.any(axis=1)
    pick = np.argmax(usable, axis=1)

    reach = np.array([policy.reach[c] for c in policy.channel_order])
    n_reach = reachable.sum(axis=1)
    score = np.where(
        has_room,
        reach[pick] * prior * (1 + policy.multi_point_bonus * np.maximum(n_reach - 1, 0)),
        np.nan,
    )

    reason = np.full(n, "planned", dtype=object)
    pending = np.ones(n, dtype=bool)
    for name, hit in (
        ("no_consent", ~has_reach),
        ("lost_outside_sale", sale_only & (not major_sale)),
        ("capped", ~has_room),
        ("not_worth_it", ~(score > policy.min_score)),
    ):
        now = pending & hit
        reason[now] = name
        pending &= ~now
    if budget is not None:
        candidates = np.flatnonzero(pending)
        ranked = candidates[np.lexsort((candidates, -score[candidates]))]
        over = ranked[int(budget) :]
        reason[over] = "over_budget"
        pending[over] = False

    names = np.array([c.name for c in policy.channel_order], dtype=object)
    none = np.full(n, None, dtype=object)
    return NudgePlan(
        at=at,
        tenant=snapshot.tenant,
        major_sale=major_sale,
        budget=None if budget is None else int(budget),
        customer_ids=snapshot.customer_ids,
        index=snapshot.index,
        planned=pending,
        send_at=np.where(pending, send, np.iinfo(np.int64).min).view("datetime64[us]"),
        channel=np.where(pending, names[pick], none),
        message=np.where(pending, message, none),
        offer=np.where(pending, offer, none),
        promotion=pending & np.isin(offer, list(DISCOUNT_OFFERS)),
        score=score,
        rescheduled=pending & rescheduled,
        reason=reason,
        period=period_names,
        relationship=rel_names,
        layer=layer,
    )


class Nudges(RuleBased):
    """The nudge planner as a rule-only strategy: nothing to learn (``fit`` returns ``self``);
    :meth:`plan` plans with the configured :class:`NudgePolicy`."""

    def __init__(self, policy: NudgePolicy | None = None) -> None:
        self.policy = NudgePolicy() if policy is None else policy
        if not isinstance(self.policy, NudgePolicy):
            raise ValidationError(f"policy is a NudgePolicy, not {type(policy).__name__}")

    def plan(
        self,
        snapshot: Snapshot,
        stages: Any,
        *,
        at: dt.datetime,
        layers: Any = None,
        major_sale: bool = False,
        budget: int | None = None,
    ) -> NudgePlan:
        """:func:`plan` with this planner's policy."""
        return plan(
            snapshot, stages, at=at, layers=layers, major_sale=major_sale, budget=budget,
            policy=self.policy,
        )  # fmt: skip
