"""What became of a plan's customers: who bought within a window after the send time, and for
how much, read exactly from a later snapshot's order log.

The rows are the plan's experiment: the customers planned (treated) and those held out as the
control group (not treated), each with the probability of being treated under the plan's
randomisation. These are the ``(treatment, response, revenue, propensity)`` arrays that uplift
learning and off-policy evaluation need.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain._time import MICROS_PER_DAY, epoch_micros
from privdomain.domain.money import minor_unit_exponent
from privdomain.domain.segment import short_repr
from privdomain.domain.snapshot import Snapshot
from privdomain.errors import ValidationError
from privdomain.nudges._events import EventIndex
from privdomain.result import Result, readonly, shown

__all__ = ["NudgeOutcomes", "outcomes"]


@attrs.frozen(eq=False, repr=False)
class NudgeOutcomes(Result):
    """One row per customer of a plan's experiment (planned or held out), in plan order.

    Attributes
    ----------
    as_of : datetime.datetime
        The instant of the snapshot the outcomes were read from.
    window_days : float
        Length of the response window after each send time.
    currency : str
    customer_ids, index : numpy.ndarray
    treatment : numpy.ndarray of bool
        Sent (``True``) or held out (``False``).
    propensity : numpy.ndarray of float64
        Probability of treatment under the plan's randomisation (``1 − holdout``).
    send_at : numpy.ndarray of datetime64[us]
        The send time (for the held out: when the nudge would have gone out).
    response : numpy.ndarray of bool
        Whether the customer ordered in ``[send_at, send_at + window)``.
    orders : numpy.ndarray of int64
        Orders in the window.
    revenue_minor : numpy.ndarray of int64
        Gross amount of those orders in minor units (exact).
    revenue : numpy.ndarray of float64
        The same in major units.
    channel, offer, period : numpy.ndarray of object
        The nudge (sent or held back) and the customer's post-purchase period at planning.
    """

    as_of: dt.datetime
    window_days: float
    currency: str
    customer_ids: NDArray[np.object_] = attrs.field(converter=readonly)
    index: NDArray[np.int64] = attrs.field(converter=readonly)
    treatment: NDArray[np.bool_] = attrs.field(converter=readonly)
    propensity: NDArray[np.float64] = attrs.field(converter=readonly)
    send_at: NDArray[np.datetime64] = attrs.field(converter=readonly)
    response: NDArray[np.bool_] = attrs.field(converter=readonly)
    orders: NDArray[np.int64] = attrs.field(converter=readonly)
    revenue_minor: NDArray[np.int64] = attrs.field(converter=readonly)
    revenue: NDArray[np.float64] = attrs.field(converter=readonly)
    channel: NDArray[np.object_] = attrs.field(converter=readonly)
    offer: NDArray[np.object_] = attrs.field(converter=readonly)
    period: NDArray[np.object_] = attrs.field(converter=readonly)

    _row_fields: ClassVar[tuple[str, ...]] = (
        "customer_ids", "index", "treatment", "propensity", "send_at", "response", "orders",
        "revenue_minor", "revenue", "channel", "offer", "period",
    )  # fmt: skip

    def columns(self) -> dict[str, NDArray[Any]]:
        """Every per-customer column by name, ``customer_id`` first."""
        names = self._row_fields[1:]
        return {"customer_id": self.customer_ids, **{n: getattr(self, n) for n in names}}

    def _title(self) -> str:
        return (
            f"NudgeOutcomes ({int(self.treatment.sum())} sent, {int((~self.treatment).sum())} "
            f"held out, {self.window_days:g}-day window)"
        )

    def explain(self, customer_id: str) -> str:
        """One customer's treatment and outcome, with the numbers."""
        i = self.row(customer_id)
        arm = "sent" if self.treatment[i] else "held out"
        bought = (
            f"bought {int(self.orders[i])} time(s) for {shown(self.revenue[i])} {self.currency}"
            if self.response[i]
            else "did not buy"
        )
        return (
            f"customer {customer_id!r}: {arm} (propensity {shown(self.propensity[i])}), "
            f"{bought} within {self.window_days:g} days of the send time"
        )

    def summary(self) -> dict[str, float]:
        """Response rates and revenue per customer of both arms and their differences (a
        plain difference of means: unbiased when the holdout was drawn at random)."""
        t, c = self.treatment, ~self.treatment
        out = {
            "treated": float(t.sum()),
            "held_out": float(c.sum()),
            "response_treated": float(self.response[t].mean()) if t.any() else np.nan,
            "response_held_out": float(self.response[c].mean()) if c.any() else np.nan,
            "revenue_treated": float(self.revenue[t].mean()) if t.any() else np.nan,
            "revenue_held_out": float(self.revenue[c].mean()) if c.any() else np.nan,
        }
        out["response_uplift"] = out["response_treated"] - out["response_held_out"]
        out["revenue_uplift"] = out["revenue_treated"] - out["revenue_held_out"]
        return out


def outcomes(plan: Any, snapshot_after: Snapshot, *, window_days: float = 7.0) -> NudgeOutcomes:
    """Who of a plan's experiment bought within ``window_days`` after the send time.

    Parameters
    ----------
    plan : NudgePlan
        A plan; its experiment is the customers planned or held out.
    snapshot_after : Snapshot
        A later snapshot of the same pool, taken when every window is over (its order log is
        the truth; refunds are not subtracted).
    window_days : float
        Length of the window ``[send_at, send_at + window)``.

    Raises
    ------
    ValidationError
        Not a plan or a snapshot, another tenant, a customer of the experiment missing from
        the snapshot, a window that is not over by the snapshot's ``as_of``, a bad window.
    """
    from privdomain.nudges.plan import NudgePlan

    if not isinstance(plan, NudgePlan):
        raise ValidationError(f"outcomes() takes a NudgePlan, not {type(plan).__name__}")
    if not isinstance(snapshot_after, Snapshot):
        raise ValidationError(f"outcomes() needs a Snapshot, not {type(snapshot_after).__name__}")
    if snapshot_after.tenant != plan.tenant:
        raise ValidationError(
            f"the snapshot is of tenant {snapshot_after.tenant!r}, the plan of {plan.tenant!r}"
        )
    if (
        isinstance(window_days, bool)
        or not isinstance(window_days, int | float)
        or not np.isfinite(window_days)
        or window_days <= 0
    ):
        raise ValidationError(f"window_days is a number > 0, not {short_repr(window_days)}")
    rows = np.flatnonzero(plan.planned | (plan.reason == "holdout"))
    send = plan.send_at[rows].astype("datetime64[us]").view(np.int64)
    window = round(float(window_days) * MICROS_PER_DAY)
    as_of = epoch_micros(snapshot_after.as_of)
    if rows.size and int(send.max()) + window > as_of:
        late = int(np.count_nonzero(send + window > as_of))
        raise ValidationError(
            f"the windows of {late} customers are not over by the snapshot's as_of "
            f"({snapshot_after.as_of}): take a later snapshot"
        )
    # plan customers -> rows of the later snapshot, through the pool index
    s_index = np.asarray(snapshot_after.index, dtype=np.int64)
    by_index = np.argsort(s_index, kind="stable")
    p_index = np.asarray(plan.index, dtype=np.int64)[rows]
    pos = np.searchsorted(s_index[by_index], p_index)
    found = pos < s_index.size
    found[found] = s_index[by_index[pos[found]]] == p_index[found]
    target = by_index[np.minimum(pos, max(s_index.size - 1, 0))] if s_index.size else pos
    if not found.all() or not np.array_equal(
        snapshot_after.customer_ids[target], plan.customer_ids[rows]
    ):
        missing = plan.customer_ids[rows][~found][:3].tolist()
        raise ValidationError(
            f"customers of the plan are missing from the snapshot (e.g. {missing}) or it is of "
            "another pool"
        )
    orders = snapshot_after.order_log
    o_at = orders.at.astype("datetime64[us]").view(np.int64)
    index = EventIndex(np.asarray(orders.row), o_at)
    lo, hi = index.positions(target, send, send + window)
    gross = np.asarray(orders.gross_minor, dtype=np.int64)[index.order]
    total = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(gross)])
    revenue_minor = total[hi] - total[lo]
    scale = float(10 ** minor_unit_exponent(snapshot_after.currency))
    return NudgeOutcomes(
        as_of=snapshot_after.as_of,
        window_days=float(window_days),
        currency=snapshot_after.currency,
        customer_ids=plan.customer_ids[rows],
        index=plan.index[rows],
        treatment=plan.planned[rows],
        propensity=plan.propensity[rows],
        send_at=plan.send_at[rows],
        response=hi > lo,
        orders=(hi - lo).astype(np.int64),
        revenue_minor=revenue_minor,
        revenue=revenue_minor / scale,
        channel=plan.channel[rows],
        offer=plan.offer[rows],
        period=plan.period[rows],
    )
