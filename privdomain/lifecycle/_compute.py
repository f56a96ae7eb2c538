"""The stage arithmetic shared by ``Lifecycle.apply`` and the stage history.

Both read the same few per-customer columns (:class:`Activity`) and call :func:`compute`, so
the history at a date and the stages of that date's snapshot agree by construction: the
history only gathers the columns differently (from the purchases grouped by date), never decides
differently.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray
from scipy.special import digamma, polygamma

from privdomain.domain._time import MICROS_PER_DAY, epoch_micros
from privdomain.domain.money import minor_unit_exponent
from privdomain.domain.snapshot import Snapshot
from privdomain.lifecycle.ladders import (
    UNIT_DAYS,
    CadenceLadder,
    MilestoneLadder,
    PAliveLadder,
    RelationshipLadder,
)

_NAT = np.iinfo(np.int64).min
DAY = float(MICROS_PER_DAY)

# stage codes, in ladder order
PROSPECT, NEW, GROWTH, MATURE, DECLINE, CHURNED = range(6)
NOT_BOUGHT, ACTIVE, SILENT, SLEEPING, LOST = range(5)
REACHED_ALL, ON_TRACK = 0, 1


@attrs.frozen(eq=False)
class Activity:
    """What the ladders read of each customer as of one instant, aligned to rows.

    Instants are epoch microseconds (``first`` and ``last`` are NaT as int64 for customers
    who never bought); money is in major units, computed from exact minor units.
    """

    as_of: int
    utc_offset: int
    window: int
    """The relationship ladder's recent window, in microseconds."""
    joined: NDArray[np.int64]
    first: NDArray[np.int64]
    last: NDArray[np.int64]
    days: NDArray[np.int64]
    """Distinct business days with a purchase."""
    orders: NDArray[np.int64]
    spend: NDArray[np.float64]
    recent_orders: NDArray[np.int64]
    recent_spend: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.joined.shape[0])


def snapshot_activity(snapshot: Snapshot, window_days: float) -> Activity:
    """The activity columns of a snapshot: its purchase columns plus two bincounts over its
    order log for the recent window."""
    n = len(snapshot)
    as_of = _micros(snapshot.as_of)
    window = round(window_days * MICROS_PER_DAY)
    log = snapshot.order_log
    recent = np.flatnonzero(log.at.view(np.int64) > as_of - window)
    rows = log.row[recent]
    scale = float(10 ** minor_unit_exponent(snapshot.currency))
    return Activity(
        as_of=as_of,
        utc_offset=snapshot.utc_offset // _ONE_MICRO,
        window=window,
        joined=snapshot.joined_at.astype("datetime64[us]", copy=False).view(np.int64),
        first=snapshot.first_purchase.astype("datetime64[us]", copy=False).view(np.int64),
        last=snapshot.last_purchase.astype("datetime64[us]", copy=False).view(np.int64),
        days=np.asarray(snapshot.purchase_days, dtype=np.int64),
        orders=np.asarray(snapshot.orders, dtype=np.int64),
        spend=np.asarray(snapshot.gross_spend, dtype=np.float64),
        recent_orders=np.bincount(rows, minlength=n).astype(np.int64),
        recent_spend=np.bincount(
            rows, weights=log.gross_minor[recent].astype(np.float64), minlength=n
        )
        / scale,
    )


def _micros(when: Any) -> int:
    return epoch_micros(when, what="as_of")


_ONE_MICRO = dt.timedelta(microseconds=1)


@functools.lru_cache(maxsize=8)
def _psi_tables(size: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """ψ(k) and ψ'(k) for k = 0 .. size - 1 (NaN at 0), looked up instead of evaluated per
    customer: trigamma of a million values costs far more than a table of the few distinct k."""
    k = np.arange(size, dtype=np.float64)
    k[0] = np.nan
    return digamma(k), polygamma(1, k)


def _table_size(kmax: int) -> int:
    # round up to a power of two so that the cached tables are reused across calls
    return 1 << max(6, int(kmax).bit_length())


@attrs.frozen(eq=False)
class Cadence:
    """Each customer's cadence (days), and what it was estimated from."""

    days: NDArray[np.float64]
    """NaN for customers who never bought."""
    own_weight: NDArray[np.float64]
    """How much the customer's own intervals weigh against the pool's (0 with one purchase)."""


def cadence_statistics(
    days: NDArray[np.int64], first_day: NDArray[np.int64], last_day: NDArray[np.int64]
) -> tuple[NDArray[np.bool_], NDArray[np.float64], NDArray[np.float64]]:
    """Which customers have a rhythm of their own (two purchase days or more), and for them
    ``y = log S - ψ(k)`` (an unbiased estimate of the log mean interval) and its variance
    ``ψ'(k)``, with ``k`` intervals spanning ``S`` days."""
    repeat = days >= 2
    k = days[repeat] - 1
    span = (last_day[repeat] - first_day[repeat]).astype(np.float64)
    psi, trigamma = _psi_tables(_table_size(int(k.max()) if k.size else 1))
    return repeat, np.log(span) - psi[k], trigamma[k]


def cadence(
    days: NDArray[np.int64],
    first_day: NDArray[np.int64],
    last_day: NDArray[np.int64],
    mu: float,
    tau2: float,
) -> Cadence:
    """Each customer's cadence: their log mean interval shrunk towards the pool's ``mu`` by
    the empirical-Bayes weight ``tau2 / (tau2 + ψ'(k))``."""
    n = days.shape[0]
    out = np.full(n, np.nan)
    weight = np.zeros(n)
    out[days >= 1] = np.exp(mu)
    repeat, y, v = cadence_statistics(days, first_day, last_day)
    w = tau2 / (tau2 + v)
    weight[repeat] = w
    out[repeat] = np.exp(mu + w * (y - mu))
    return Cadence(out, weight)


@attrs.frozen(eq=False)
class Fitted:
    """Everything :func:`compute` needs besides the activity: the settings and what was
    learned."""

    post_purchase: CadenceLadder | PAliveLadder
    relationship: RelationshipLadder
    milestones: MilestoneLadder
    mu: float
    tau2: float
    usual_days: tuple[float, ...]
    """Per milestone: the usual days to reach it (inf when nobody has)."""


@attrs.frozen(eq=False)
class Computed:
    """Stage codes per ladder, and (when asked for) the numbers behind them."""

    post_purchase: NDArray[np.int8]
    relationship: NDArray[np.int8]
    milestone: NDArray[np.int8]
    progress: NDArray[np.int8]
    columns: dict[str, dict[str, NDArray[Any]]]


def _day(micros: NDArray[np.int64], offset: int, valid: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Business-day index of instants (0 where not ``valid``: NaT must not overflow)."""
    out: NDArray[np.int64] = np.floor_divide(np.where(valid, micros, 0) + offset, MICROS_PER_DAY)
    return out


@attrs.frozen(eq=False)
class State:
    """What the ladders derive from a customer's purchases alone: it changes only when they
    buy, so the stage history updates it for the customers who bought and nobody else."""

    nonbuyer: NDArray[np.bool_]
    first_day: NDArray[np.int64]
    last_day: NDArray[np.int64]
    joined_day: NDArray[np.int64]
    rhythm: Cadence
    expected: NDArray[np.float64]
    """Orders the cadence expects in the relationship ladder's window."""
    expected_spend: NDArray[np.float64]
    """Spend the cadence expects in the window: expected orders x average order value."""
    judged: NDArray[np.bool_]
    """Whether the order trend is judged (two purchase days, enough orders expected)."""
    spend_judged: NDArray[np.bool_]
    """Whether the spend trend is judged (judged, and money was spent)."""
    count_stage: NDArray[np.int8]
    """The relationship stage purchases alone give: prospect, new or growth."""
    enough_for_mature: NDArray[np.bool_]
    reached: NDArray[np.int8]
    """Milestones reached."""


_STATE_ARRAYS = (
    "nonbuyer",
    "first_day",
    "last_day",
    "joined_day",
    "expected",
    "expected_spend",
    "judged",
    "spend_judged",
    "count_stage",
    "enough_for_mature",
    "reached",
)


def purchase_state(act: Activity, fit: Fitted, rows: NDArray[np.int64] | None = None) -> State:
    """The :class:`State` of every customer of ``act`` (or of ``rows`` only)."""
    pick: Any = slice(None) if rows is None else rows
    days = act.days[pick]
    buyer = days > 0
    off = act.utc_offset
    first_day = _day(act.first[pick], off, buyer)
    last_day = _day(act.last[pick], off, buyer)
    rhythm = cadence(days, first_day, last_day, fit.mu, fit.tau2)
    rel = fit.relationship
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = rel.window_days / rhythm.days
        aov = act.spend[pick] / act.orders[pick]
    judged = (days >= 2) & (expected >= rel.min_expected)
    marks = np.asarray(fit.milestones.milestones, dtype=np.int64)
    return State(
        nonbuyer=~buyer,
        first_day=first_day,
        last_day=last_day,
        joined_day=np.floor_divide(act.joined[pick] + off, MICROS_PER_DAY),
        rhythm=rhythm,
        expected=expected,
        expected_spend=expected * aov,
        judged=judged,
        spend_judged=judged & (aov > 0),
        count_stage=np.minimum(days, GROWTH).astype(np.int8),
        enough_for_mature=days >= rel.mature_purchases,
        reached=np.searchsorted(marks, days, side="right").astype(np.int8),
    )


def update_state(state: State, act: Activity, fit: Fitted, rows: NDArray[np.int64]) -> None:
    """Recompute ``state`` in place for the customers at ``rows`` (who bought)."""
    part = purchase_state(act, fit, rows)
    for name in _STATE_ARRAYS:
        getattr(state, name)[rows] = getattr(part, name)
    state.rhythm.days[rows] = part.rhythm.days
    state.rhythm.own_weight[rows] = part.rhythm.own_weight


def compute(
    act: Activity,
    fit: Fitted,
    *,
    explain: bool = True,
    state: State | None = None,
    ladders: tuple[str, ...] = ("post_purchase", "relationship", "milestone", "progress"),
) -> Computed:
    """Every ladder's stage for every customer of ``act``.

    ``state`` is the customers' :class:`State` when the caller keeps it up to date (the stage
    history does, for the customers who bought); it must be what :func:`purchase_state`
    gives for ``act``. ``ladders`` limits the work to some ladders (the others come back
    empty).
    """
    n = len(act)
    st = purchase_state(act, fit) if state is None else state
    buyer = ~st.nonbuyer
    off = act.utc_offset
    end_day = (act.as_of + off) // MICROS_PER_DAY
    rhythm = st.rhythm
    columns: dict[str, dict[str, NDArray[Any]]] = {}
    empty = np.zeros(0, dtype=np.int8)
    # NaT as int64 gives a garbage recency for non-buyers: their stages are set apart below
    recency = (act.as_of - act.last) / DAY

    # ---- post-purchase period
    ladder = fit.post_purchase
    post = np.ones(n, dtype=np.int8)
    if isinstance(ladder, CadenceLadder):
        with np.errstate(invalid="ignore"):
            ratio = recency / rhythm.days
        for cut in ladder.thresholds:
            post += ratio >= cut
        if explain:
            columns["post_purchase"] = {
                "purchase_days": act.days,
                "recency_days": np.where(buyer, recency, np.nan),
                "cadence_days": rhythm.days,
                "own_weight": np.where(buyer, rhythm.own_weight, np.nan),
                "cadence_ratio": np.where(buyer, ratio, np.nan),
            }
    else:
        alive = p_alive(ladder, act.days, st.first_day, st.last_day, end_day, buyer)
        since_day = np.where(buyer, (end_day - st.last_day).astype(np.float64), np.nan)
        for cut in ladder.thresholds:
            post += alive < cut
        post[since_day == 0] = ACTIVE
        if explain:
            columns["post_purchase"] = {
                "purchase_days": act.days,
                "recency_days": np.where(buyer, recency, np.nan),
                "days_since_purchase_day": since_day,
                "p_alive": alive,
            }
    post[st.nonbuyer] = NOT_BOUGHT

    # ---- relationship: first match of churned, decline, mature, then what counts give
    rel = empty
    if "relationship" in ladders:
        settings = fit.relationship
        cut = settings.decline_ratio
        with np.errstate(invalid="ignore", divide="ignore"):
            order_trend = act.recent_orders / st.expected
            spend_trend = act.recent_spend / st.expected_spend
            decline = (st.judged & (order_trend < cut)) | (st.spend_judged & (spend_trend < cut))
        tenure = (act.as_of - act.first) / DAY
        mature = st.enough_for_mature & (tenure >= settings.mature_days)
        if settings.churn_days is None:
            gone = post == LOST
        else:
            gone = buyer & (recency > settings.churn_days)
        rel = np.where(mature, np.int8(MATURE), st.count_stage)
        rel = np.where(decline, np.int8(DECLINE), rel)
        rel = np.where(gone, np.int8(CHURNED), rel)
        if explain:
            rel_columns: dict[str, NDArray[Any]] = {
                "purchase_days": act.days,
                "tenure_days": np.where(buyer, tenure, np.nan),
                "recent_orders": act.recent_orders,
                "expected_orders": np.where(buyer, st.expected, np.nan),
                "order_trend": np.where(st.judged, order_trend, np.nan),
                "recent_spend": act.recent_spend,
                "spend_trend": np.where(st.spend_judged, spend_trend, np.nan),
            }
            if settings.churn_days is None:
                rel_columns["lost"] = gone
            else:
                rel_columns["recency_days"] = np.where(buyer, recency, np.nan)
            columns["relationship"] = rel_columns

    # ---- milestones, and progress towards the next one
    reached = st.reached
    progress = empty
    if "progress" in ladders:
        marks = np.asarray(fit.milestones.milestones, dtype=np.int64)
        usual = np.append(np.asarray(fit.usual_days, dtype=np.float64), np.nan)[reached]
        waiting = (end_day - np.where(buyer, st.first_day, st.joined_day)).astype(np.float64)
        overdue = np.where(reached < marks.size, waiting - usual, np.nan)
        with np.errstate(invalid="ignore"):
            stuck = overdue > 0
        progress = np.where(stuck, 2 + reached, ON_TRACK).astype(np.int8)
        progress[reached == marks.size] = REACHED_ALL
        if explain:
            columns["progress"] = {
                "purchase_days": act.days,
                "waiting_days": np.where(reached < marks.size, waiting, np.nan),
                "usual_days": usual,
                "overdue_days": overdue,
            }
    if explain:
        columns["milestone"] = {"purchase_days": act.days}
    return Computed(post, rel, reached, progress, columns)


def repeat_summary(
    ladder: PAliveLadder,
    days: NDArray[np.int64],
    first_day: NDArray[np.int64],
    last_day: NDArray[np.int64],
    end_day: int | NDArray[np.int64],
    unit_days: float | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Frequency, recency and age of buyers in daily periods, in the model's unit (or
    ``unit_days``): what :func:`~privdomain.value.rfm_summary_from_snapshot` computes."""
    scale = UNIT_DAYS[ladder.time_unit] if unit_days is None else unit_days
    frequency = (days - 1).astype(np.float64)
    recency = (last_day - first_day) / scale
    age = (end_day - first_day) / scale
    return frequency, np.asarray(recency, np.float64), np.asarray(age, np.float64)


def p_alive(
    ladder: PAliveLadder,
    days: NDArray[np.int64],
    first_day: NDArray[np.int64],
    last_day: NDArray[np.int64],
    end_day: int,
    buyer: NDArray[np.bool_],
) -> NDArray[np.float64]:
    """P(alive) of every buyer under the ladder's model (NaN for customers who never bought)."""
    out = np.full(days.shape[0], np.nan)
    if buyer.any():
        x, tx, age = repeat_summary(ladder, days[buyer], first_day[buyer], last_day[buyer], end_day)
        out[buyer] = np.asarray(ladder.model.p_alive(x, tx, age), dtype=np.float64)
    return out
