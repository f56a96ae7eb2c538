"""The lifecycle strategy: learn the pool's rhythm once, then put every customer on each ladder.

:class:`Lifecycle` follows the strategy contract (:mod:`privdomain.strategy`): ``summarize``
gives mergeable statistics of a snapshot (fixed-point sums of log intervals for the cadence
prior, quantile sketches of the time to each purchase milestone, and for a P(alive) ladder the
likelihood of the purchases in each time unit), ``fit_summary`` learns from them, and ``apply``
decides per customer from the snapshot's columns and two bincounts over its order log.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Protocol, Self, runtime_checkable

import attrs
import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator

from privdomain.domain._time import epoch_micros
from privdomain.domain.segment import And, Compare, Not, Or, Rule, short_repr
from privdomain.domain.snapshot import Snapshot
from privdomain.errors import EmptyPoolError, ValidationError
from privdomain.layering._result import Segmentation
from privdomain.lifecycle._compute import (
    Activity,
    Computed,
    Fitted,
    cadence_statistics,
    compute,
    repeat_summary,
    snapshot_activity,
)
from privdomain.lifecycle.ladders import (
    POST_PURCHASE_STAGES,
    RELATIONSHIP_STAGES,
    UNIT_DAYS,
    CadenceLadder,
    MilestoneLadder,
    PAliveLadder,
    RelationshipLadder,
)
from privdomain.lifecycle.result import LifecycleStages
from privdomain.result import readonly
from privdomain.strategy import QuantileSketch, check_fitted

__all__ = ["Lifecycle", "LifecycleStrategy", "LifecycleSummary"]

#: Fixed-point resolution of the summary's sums: per-customer values are rounded to 2**-20
#: before summing as integers, so that sums merge exactly in any order and grouping.
_FIXED = 2**20
#: The smallest spread of log cadences the pool prior may have (a pool of identical rhythms
#: would otherwise divide by zero); 0.001 means rhythms within ~3% of each other.
_TAU2_FLOOR = 1e-3


def _fixed_sum(values: NDArray[np.float64]) -> int:
    return int(np.rint(values * _FIXED).astype(np.int64).sum(dtype=np.int64))


@attrs.frozen(eq=False)
class LifecycleSummary:
    """What one snapshot (or partition) contributes to a :class:`Lifecycle` fit.

    Sums are fixed-point integers and sketches merge by adding counts, so
    ``a.merge(b)`` is exactly the summary of both partitions' customers.
    """

    setting: tuple[Any, ...]
    """The settings the summary was computed for: only equal ones merge."""
    customers: int
    repeat_buyers: int
    sum_log_interval: int
    sum_log_interval_squared: int
    sum_variance: int
    milestone_days: tuple[QuantileSketch, ...]
    """Per milestone: days the customers who reached it took (from joining for the first
    purchase, from the first purchase for later ones)."""
    unit_log_likelihood: tuple[int, ...] = ()
    """For a P(alive) ladder: the purchases' log-likelihood with the model read in each unit
    of ``UNIT_DAYS`` (in daily measure, so comparable), fixed-point."""
    likelihood_customers: int = 0

    def merge(self, other: LifecycleSummary) -> LifecycleSummary:
        """The summary of both partitions."""
        if not isinstance(other, LifecycleSummary) or other.setting != self.setting:
            raise ValidationError("only lifecycle summaries of one setting merge")
        return LifecycleSummary(
            setting=self.setting,
            customers=self.customers + other.customers,
            repeat_buyers=self.repeat_buyers + other.repeat_buyers,
            sum_log_interval=self.sum_log_interval + other.sum_log_interval,
            sum_log_interval_squared=self.sum_log_interval_squared + other.sum_log_interval_squared,
            sum_variance=self.sum_variance + other.sum_variance,
            milestone_days=tuple(
                a.merge(b) for a, b in zip(self.milestone_days, other.milestone_days, strict=True)
            ),
            unit_log_likelihood=tuple(
                a + b
                for a, b in zip(self.unit_log_likelihood, other.unit_log_likelihood, strict=True)
            ),
            likelihood_customers=self.likelihood_customers + other.likelihood_customers,
        )


@runtime_checkable
class LifecycleStrategy(Protocol):
    """What a lifecycle strategy offers: fit on a snapshot, then stage any snapshot."""

    def fit(self, snapshot: Snapshot) -> Self: ...

    def apply(self, snapshot: Snapshot) -> LifecycleStages: ...


def _setting(value: Any, kind: type, what: str) -> Any:
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise ValidationError(f"{what} must be a {kind.__name__} or None, got {short_repr(value)}")
    return value


class Lifecycle(BaseEstimator):  # type: ignore[misc]
    """Every customer's relationship stage, post-purchase period and purchase milestone.

    Parameters
    ----------
    post_purchase : CadenceLadder or PAliveLadder, optional
        How the post-purchase period is decided (default: :class:`CadenceLadder`, the time
        since the last purchase in multiples of the customer's own rhythm).
    relationship : RelationshipLadder, optional
        The relationship ladder's settings.
    milestones : MilestoneLadder, optional
        The purchase milestones (default first, third, fifth) and when a customer is stuck.

    Attributes
    ----------
    cadence_log_mean_ : float
        The pool's mean log interval between purchase days (the prior's centre).
    cadence_log_var_ : float
        The spread of customers' true log intervals around it (the prior's variance).
    pool_cadence_days_ : float
        ``exp(cadence_log_mean_)``: the rhythm given to customers with a single purchase.
    usual_days_ : dict of int to float
        Per milestone, the days within which ``usual_quantile`` of the customers who reached
        it did (``inf`` when nobody has).
    n_customers_, n_repeat_buyers_ : int
        Customers, and customers with two purchase days or more, the fit saw.
    unit_log_likelihoods_ : dict of str to float
        For a P(alive) ladder: the log-likelihood of the snapshot's purchases with the model
        read in each time unit (the model's own unit is the most likely).
    fit_notes_ : tuple of str
        What the fit learned, in words.

    Examples
    --------
    >>> from privdomain.simulate import simulate_pool
    >>> sim = simulate_pool(2_000, seed=3)
    >>> snap = sim.pool().snapshot(sim.as_of)
    >>> stages = Lifecycle().fit(snap).apply(snap)
    >>> stages.post_purchase.names
    ('not_bought', 'active', 'silent', 'sleeping', 'lost')
    >>> sum(stages.counts()["relationship"].values()) == len(snap)
    True
    """

    def __init__(
        self,
        post_purchase: CadenceLadder | PAliveLadder | None = None,
        relationship: RelationshipLadder | None = None,
        milestones: MilestoneLadder | None = None,
    ) -> None:
        self.post_purchase = post_purchase
        self.relationship = relationship
        self.milestones = milestones

    # ------------------------------------------------------------------ settings
    def _ladders(self) -> tuple[CadenceLadder | PAliveLadder, RelationshipLadder, MilestoneLadder]:
        post = self.post_purchase
        if post is None:
            post = CadenceLadder()
        elif not isinstance(post, CadenceLadder | PAliveLadder):
            raise ValidationError(
                f"post_purchase must be a CadenceLadder, a PAliveLadder or None, got "
                f"{short_repr(post)}"
            )
        return (
            post,
            _setting(self.relationship, RelationshipLadder, "relationship"),
            _setting(self.milestones, MilestoneLadder, "milestones"),
        )

    def _setting_key(self) -> tuple[Any, ...]:
        post, _, marks = self._ladders()
        unit = post.time_unit if isinstance(post, PAliveLadder) else None
        model = getattr(post, "model", None)
        # the model by its class and parameters, so that copies on other workers agree
        fitted = tuple(sorted(getattr(model, "params_", {}).items()))
        return (post.method, unit, type(model).__name__, fitted, marks.milestones)

    # ------------------------------------------------------------------ the contract
    def summarize(self, snapshot: Snapshot) -> LifecycleSummary:
        """The mergeable statistics ``snapshot`` contributes to a fit."""
        _check_snapshot(snapshot, "summarize")
        post, _, marks = self._ladders()
        off = snapshot.utc_offset // _MICRO
        buyer = snapshot.purchase_days > 0
        first_day = _days(snapshot.first_purchase, off, buyer)
        last_day = _days(snapshot.last_purchase, off, buyer)
        days = np.asarray(snapshot.purchase_days, dtype=np.int64)
        repeat, y, v = cadence_statistics(days, first_day, last_day)
        sketches = _milestone_sketches(snapshot, marks.milestones, off, buyer, first_day)
        unit_ll: tuple[int, ...] = ()
        n_ll = 0
        if isinstance(post, PAliveLadder):
            end_day = (_micros(snapshot) + off) // _DAY
            x, tx, age = repeat_summary(
                post, days[buyer], first_day[buyer], last_day[buyer], end_day, unit_days=1.0
            )
            unit_ll = tuple(
                _fixed_sum(_unit_log_likelihood(post.model, x, tx, age, scale))
                for scale in UNIT_DAYS.values()
            )
            n_ll = int(x.shape[0])
        return LifecycleSummary(
            setting=self._setting_key(),
            customers=len(snapshot),
            repeat_buyers=int(repeat.sum()),
            sum_log_interval=_fixed_sum(y),
            sum_log_interval_squared=_fixed_sum(y * y),
            sum_variance=_fixed_sum(v),
            milestone_days=sketches,
            unit_log_likelihood=unit_ll,
            likelihood_customers=n_ll,
        )

    def fit_summary(self, summary: LifecycleSummary) -> Self:
        """Learn the cadence prior, the usual time to each milestone and (for P(alive)) check
        the model's time unit, from a merged summary."""
        if not isinstance(summary, LifecycleSummary):
            raise ValidationError(
                f"fit_summary takes a LifecycleSummary, got {type(summary).__name__}"
            )
        if summary.setting != self._setting_key():
            raise ValidationError("the summary was computed with other settings than these")
        post, _, marks = self._ladders()
        n = summary.repeat_buyers
        if n == 0:
            raise EmptyPoolError(
                "cannot learn the pool's rhythm: no customer bought on two different days yet"
            )
        mu = summary.sum_log_interval / _FIXED / n
        spread = summary.sum_log_interval_squared / _FIXED / n - mu * mu
        noise = summary.sum_variance / _FIXED / n
        tau2 = max(spread - noise, _TAU2_FLOOR)
        usual = {
            k: (float(s.quantile(marks.usual_quantile)[0]) if len(s) else math.inf)
            for k, s in zip(marks.milestones, summary.milestone_days, strict=True)
        }
        notes = [
            f"the pool's rhythm: {math.exp(mu):.3g} days between purchases (log spread "
            f"{math.sqrt(tau2):.2g}), learned from {n} repeat buyers",
        ]
        if n < 30:
            notes.append(
                f"only {n} customers bought on two different days: the pool's rhythm is rough"
            )
        for k, days in usual.items():
            if math.isinf(days):
                notes.append(
                    f"nobody has reached purchase {k} yet: nobody is called stuck before it"
                )
        unit_ll: dict[str, float] = {}
        if isinstance(post, PAliveLadder):
            unit_ll = {
                unit: ll / _FIXED
                for unit, ll in zip(UNIT_DAYS, summary.unit_log_likelihood, strict=True)
            }
            _check_unit(post, unit_ll, summary.likelihood_customers)
        self.cadence_log_mean_ = float(mu)
        self.cadence_log_var_ = float(tau2)
        self.pool_cadence_days_ = float(math.exp(mu))
        self.usual_days_ = usual
        self.n_customers_ = summary.customers
        self.n_repeat_buyers_ = n
        self.unit_log_likelihoods_ = unit_ll
        self.fit_notes_ = tuple(notes)
        return self

    def fit(self, snapshot: Snapshot, y: Any = None) -> Self:
        """``fit_summary(summarize(snapshot))``."""
        return self.fit_summary(self.summarize(snapshot))

    def apply(self, snapshot: Snapshot) -> LifecycleStages:
        """Every customer's stages as of ``snapshot``, aligned to its rows."""
        check_fitted(self, "cadence_log_mean_")
        _check_snapshot(snapshot, "apply")
        fitted = self._fitted()
        act = snapshot_activity(snapshot, fitted.relationship.window_days)
        return build_stages(snapshot, act, compute(act, fitted), fitted, self._apply_notes(act))

    def fit_apply(self, snapshot: Snapshot) -> LifecycleStages:
        """Fit on ``snapshot`` and stage it."""
        return self.fit(snapshot).apply(snapshot)

    # ------------------------------------------------------------------ helpers
    def _fitted(self) -> Fitted:
        post, rel, marks = self._ladders()
        return Fitted(
            post_purchase=post,
            relationship=rel,
            milestones=marks,
            mu=self.cadence_log_mean_,
            tau2=self.cadence_log_var_,
            usual_days=tuple(self.usual_days_[k] for k in marks.milestones),
        )

    def _apply_notes(self, act: Activity) -> tuple[str, ...]:
        notes = list(self.fit_notes_)
        one = int((act.days == 1).sum())
        post = self._ladders()[0]
        if one and isinstance(post, CadenceLadder):
            notes.append(
                f"{one} customers have one purchase and no rhythm of their own yet: their "
                f"cadence is the pool's, {self.pool_cadence_days_:.3g} days"
            )
        if one and isinstance(post, PAliveLadder) and type(post.model).__name__ == "BetaGeo":
            notes.append(
                f"BG/NBD calls every customer without a repeat purchase alive (P(alive) = 1): "
                f"{one} one-time buyers stay active however long ago they bought; "
                "ModifiedBetaGeo or ParetoNBD do not"
            )
        return tuple(notes)


_MICRO = np.timedelta64(1, "us").item()
_DAY = 86_400_000_000


def _micros(snapshot: Snapshot) -> int:
    return epoch_micros(snapshot.as_of, what="as_of")


def _days(when: NDArray[np.datetime64], offset: int, valid: NDArray[np.bool_]) -> NDArray[np.int64]:
    micros = when.astype("datetime64[us]", copy=False).view(np.int64)
    out: NDArray[np.int64] = np.floor_divide(np.where(valid, micros, 0) + offset, _DAY)
    return out


def _check_snapshot(snapshot: Any, what: str) -> None:
    if not isinstance(snapshot, Snapshot):
        raise ValidationError(f"{what} takes a Snapshot, got {type(snapshot).__name__}")


def _unit_log_likelihood(
    model: Any,
    x: NDArray[np.float64],
    tx_days: NDArray[np.float64],
    age_days: NDArray[np.float64],
    unit_days: float,
) -> NDArray[np.float64]:
    """Each buyer's log-likelihood with the model read in a unit of ``unit_days`` days, in
    daily measure: the density of ``x`` purchase times gains ``-x log(unit_days)`` when the
    times are counted in days, which makes units comparable."""
    ll = np.asarray(model.log_likelihood(x, tx_days / unit_days, age_days / unit_days))
    out: NDArray[np.float64] = ll - x * math.log(unit_days)
    return out


def _check_unit(ladder: PAliveLadder, unit_ll: dict[str, float], n: int) -> None:
    """Refuse a model whose parameters fit another time unit far better than the one named."""
    if n == 0:
        return
    best = max(unit_ll, key=lambda u: unit_ll[u])
    gap = unit_ll[best] - unit_ll[ladder.time_unit]
    # a model read in its own unit is the likeliest by a wide margin; a small gap is noise
    if best != ladder.time_unit and gap > max(10.0, 0.05 * n):
        shown = ", ".join(f"{u}: {ll:.1f}" for u, ll in unit_ll.items())
        raise ValidationError(
            f"the P(alive) model does not look fitted in time_unit={ladder.time_unit!r}: the "
            f"snapshot's purchases are far likelier with it read in {best!r} (log-likelihood "
            f"by unit: {shown}); pass PAliveLadder(model, time_unit={best!r}) or refit the "
            "model on rfm_summary_from_snapshot(snapshot, time_unit=...)"
        )


def _milestone_sketches(
    snapshot: Snapshot,
    milestones: tuple[int, ...],
    offset: int,
    buyer: NDArray[np.bool_],
    first_day: NDArray[np.int64],
) -> tuple[QuantileSketch, ...]:
    """Per milestone, a sketch of the business days the customers who reached it took."""
    joined_day = np.floor_divide(
        snapshot.joined_at.astype("datetime64[us]", copy=False).view(np.int64) + offset, _DAY
    )
    out = []
    later = [k for k in milestones if k >= 2]
    nth_days: dict[int, NDArray[np.float64]] = {}
    if later:
        nth_days = _days_to_nth_purchase(snapshot, later, offset, first_day)
    for k in milestones:
        if k == 1:
            took = np.maximum(first_day[buyer] - joined_day[buyer], 0).astype(np.float64)
        else:
            took = nth_days[k]
        out.append(QuantileSketch.of(took))
    return tuple(out)


def _days_to_nth_purchase(
    snapshot: Snapshot, ks: list[int], offset: int, first_day: NDArray[np.int64]
) -> dict[int, NDArray[np.float64]]:
    """For each ``k``: days from the first purchase day to the k-th purchase day, of the
    customers who had one. Distinct (customer, day) pairs come from one sort of an integer key."""
    log = snapshot.order_log
    keep = np.flatnonzero(snapshot.purchase_days[log.row] >= min(ks))
    rows = log.row[keep]
    day = np.floor_divide(log.at.view(np.int64)[keep] + offset, _DAY)
    if rows.size == 0:
        return {k: np.zeros(0) for k in ks}
    low = int(day.min())
    width = int(day.max()) - low + 1
    if len(snapshot) * width < 2**62:
        pairs = np.unique(rows * width + (day - low))
        p_row, p_day = pairs // width, pairs % width + low
    else:  # pragma: no cover - a span of days no calendar reaches
        order = np.lexsort((day, rows))
        p_row, p_day = rows[order], day[order]
        fresh = np.ones(p_row.size, dtype=bool)
        fresh[1:] = (p_row[1:] != p_row[:-1]) | (p_day[1:] != p_day[:-1])
        p_row, p_day = p_row[fresh], p_day[fresh]
    start = np.ones(p_row.size, dtype=bool)
    start[1:] = p_row[1:] != p_row[:-1]
    begins = np.flatnonzero(start)
    rank = np.arange(p_row.size) - np.repeat(begins, np.diff(np.append(begins, p_row.size)))
    return {
        k: (p_day[rank == k - 1] - first_day[p_row[rank == k - 1]]).astype(np.float64) for k in ks
    }


# ---------------------------------------------------------------------- result building
_POST_ADVICE = (
    "no purchase yet: bestsellers to trigger the first purchase",
    "keep a steady rhythm of contact; convey product value, not discounts",
    "keep some contact; start small promotions",
    "limited contact, high churn risk: bigger promotions to win them back",
    "reduce contact; reach out only during major sales",
)
_RELATIONSHIP_ADVICE = (
    "bestsellers and a reason for the first purchase",
    "bring the second and third purchase: the first three purchases matter most",
    "targeted coupons to add repeat purchases",
    "bundles or large threshold discounts (满减) to raise the order value",
    "find out what changed; a personal reason to come back before they lapse",
    "win back only during major sales; reduce contact",
)


def _first_match(conditions: list[Rule]) -> tuple[Rule, ...]:
    """Disjoint rules from conditions tested in order: each holds where its condition does
    and no earlier one."""
    out = []
    for i, cond in enumerate(conditions):
        earlier = [Not(c) for c in conditions[:i]]
        out.append(And((cond, *earlier)) if earlier else cond)
    return tuple(out)


def _band_rules(column: str, cuts: tuple[float, ...], descending: bool) -> list[Rule]:
    """One rule per banded stage over ``column``, in ladder order."""
    rules: list[Rule] = []
    if descending:
        edges = (math.inf, *cuts, -math.inf)
        for hi, lo in itertools.pairwise(edges):
            parts = []
            if lo != -math.inf:
                parts.append(Compare(column, ">=", lo))
            if hi != math.inf:
                parts.append(Compare(column, "<", hi))
            rules.append(And(tuple(parts)) if len(parts) > 1 else parts[0])
        return rules
    edges = (-math.inf, *cuts, math.inf)
    for lo, hi in itertools.pairwise(edges):
        parts = []
        if lo != -math.inf:
            parts.append(Compare(column, ">=", lo))
        if hi != math.inf:
            parts.append(Compare(column, "<", hi))
        rules.append(And(tuple(parts)) if len(parts) > 1 else parts[0])
    return rules


def _post_segmentation(
    ids: NDArray[np.object_], computed: Computed, fitted: Fitted
) -> Segmentation:
    ladder = fitted.post_purchase
    bought = Compare("purchase_days", ">=", 1)
    texts = ladder.band_texts()
    if isinstance(ladder, CadenceLadder):
        bands = _band_rules("cadence_ratio", ladder.thresholds, descending=False)
        rules: list[Rule] = [Compare("purchase_days", "==", 0)]
        rules += [And((bought, bands[0])), *bands[1:]]
        strategy = "post-purchase period by cadence"
        how = "days since the last purchase / the customer's cadence"
        notes = {
            "cadence_days": "typical days between the customer's purchase days, shrunk "
            "towards the pool's",
            "own_weight": "weight of the customer's own intervals (0: one purchase, the "
            "pool's rhythm)",
            "cadence_ratio": "recency_days / cadence_days",
        }
    else:
        bands = _band_rules("p_alive", ladder.thresholds, descending=True)
        today = Compare("days_since_purchase_day", "==", 0)
        later = Compare("days_since_purchase_day", ">", 0)
        rules = [
            Compare("purchase_days", "==", 0),
            And((bought, Or((bands[0], today)))),
            *(And((band, later)) for band in bands[1:]),
        ]
        strategy = f"post-purchase period by P(alive) ({type(ladder.model).__name__})"
        how = "P(alive) of the fitted model"
        texts = {**texts, "active": texts["active"] + ", or bought on the as-of business day"}
        notes = {"p_alive": f"{type(ladder.model).__name__}, time unit {ladder.time_unit!r}"}
    descriptions = ("never bought", *(f"{texts[s]} ({how})" for s in POST_PURCHASE_STAGES[1:]))
    return Segmentation(
        strategy=strategy,
        customer_ids=ids,
        labels=readonly(computed.post_purchase),
        names=POST_PURCHASE_STAGES,
        rules=tuple(rules),
        rules_on="result",
        descriptions=descriptions,
        advice=_POST_ADVICE,
        columns=_readonly_columns(computed.columns["post_purchase"]),
        column_notes=notes,
    )


def _relationship_segmentation(
    ids: NDArray[np.object_], computed: Computed, fitted: Fitted
) -> Segmentation:
    rel = fitted.relationship
    if rel.churn_days is None:
        gone: Rule = Compare("lost", "==", True)
        gone_text = "lost on the post-purchase ladder"
    else:
        gone = Compare("recency_days", ">", float(rel.churn_days))
        gone_text = f"no purchase for more than {rel.churn_days:g} days"
    ratio = float(rel.decline_ratio)
    conditions: list[Rule] = [
        Compare("purchase_days", "==", 0),
        gone,
        Or((Compare("order_trend", "<", ratio), Compare("spend_trend", "<", ratio))),
        And(
            (
                Compare("purchase_days", ">=", rel.mature_purchases),
                Compare("tenure_days", ">=", float(rel.mature_days)),
            )
        ),
        Compare("purchase_days", ">=", 2),
        Compare("purchase_days", ">=", 1),
    ]
    rules = _first_match(conditions)
    # labels are in ladder order, the rules in the order they are tested
    test_order = (0, 5, 4, 3, 2, 1)
    by_stage = [rules[test_order.index(code)] for code in range(len(RELATIONSHIP_STAGES))]
    descriptions = (
        "in the pool, never bought",
        "one purchase",
        "two purchases or more",
        f"at least {rel.mature_purchases} purchases, the first at least {rel.mature_days:g} "
        "days ago",
        f"in the last {rel.window_days:g} days fewer than {ratio:g}x the orders their rhythm "
        f"expects (at least {rel.min_expected:g}), or under {ratio:g}x the spend",
        gone_text,
    )
    return Segmentation(
        strategy="relationship stage",
        customer_ids=ids,
        labels=readonly(computed.relationship),
        names=RELATIONSHIP_STAGES,
        rules=tuple(by_stage),
        rules_on="result",
        descriptions=descriptions,
        advice=_RELATIONSHIP_ADVICE,
        columns=_readonly_columns(computed.columns["relationship"]),
        column_notes={
            "expected_orders": f"orders the customer's cadence expects in {rel.window_days:g} days",
            "order_trend": "recent_orders / expected_orders (NaN: too few purchases to judge)",
            "spend_trend": "recent_spend / (expected_orders x average order value)",
            "tenure_days": "days since the first purchase",
        },
        notes=("tested in order: prospect, churned, decline, mature, growth, new",),
    )


def _milestone_segmentations(
    ids: NDArray[np.object_], computed: Computed, fitted: Fitted
) -> tuple[Segmentation, Segmentation]:
    marks = fitted.milestones
    ks = marks.milestones
    bounds = (0, *ks, None)
    rules: list[Rule] = []
    for lo, hi in itertools.pairwise(bounds):
        parts: list[Rule] = []
        if lo:
            parts.append(Compare("purchase_days", ">=", lo))
        if hi is not None:
            parts.append(Compare("purchase_days", "<", hi))
        rules.append(And(tuple(parts)) if len(parts) > 1 else parts[0])
    descriptions = (
        f"fewer than {ks[0]} purchases",
        *(
            f"{k} purchases or more" + (f", fewer than {nxt}" if nxt else "")
            for k, nxt in zip(ks, (*ks[1:], None), strict=True)
        ),
    )
    milestone = Segmentation(
        strategy="purchase milestones",
        customer_ids=ids,
        labels=readonly(computed.milestone),
        names=marks.names,
        rules=tuple(rules),
        rules_on="result",
        descriptions=descriptions,
        advice=(
            "the first purchase",
            *(
                "stickiness forms around the fifth purchase; the first three matter most"
                for _ in ks
            ),
        ),
        columns=_readonly_columns(computed.columns["milestone"]),
    )
    overdue = Compare("overdue_days", ">", 0.0)
    progress_rules: list[Rule] = [
        Compare("purchase_days", ">=", ks[-1]),
        And((Compare("purchase_days", "<", ks[-1]), Not(overdue))),
    ]
    for lo, hi in zip((0, *ks[:-1]), ks, strict=True):
        parts = [Compare("purchase_days", "<", hi), overdue]
        if lo:
            parts.insert(0, Compare("purchase_days", ">=", lo))
        progress_rules.append(And(tuple(parts)))
    usual = ", ".join(f"{k}: {d:.4g} d" for k, d in zip(ks, fitted.usual_days, strict=True))
    progress = Segmentation(
        strategy=f"progress towards the next milestone (usual = {marks.usual_quantile:g} "
        "quantile of those who reached it)",
        customer_ids=ids,
        labels=readonly(computed.progress),
        names=marks.progress_names,
        rules=tuple(progress_rules),
        rules_on="result",
        descriptions=(
            f"reached purchase {ks[-1]}",
            "waiting for the next milestone no longer than usual",
            *(
                f"waiting for purchase {k} longer than those who reached it usually took"
                for k in ks
            ),
        ),
        advice=(
            "",
            "",
            *("a nudge towards the next purchase, before the habit fades" for _ in ks),
        ),
        columns=_readonly_columns(computed.columns["progress"]),
        column_notes={
            "waiting_days": "business days since joining (first milestone) or since the first "
            "purchase",
            "usual_days": "learned per milestone",
        },
        notes=(f"usual days to each milestone: {usual}",),
    )
    return milestone, progress


def _readonly_columns(columns: dict[str, NDArray[Any]]) -> dict[str, NDArray[Any]]:
    return {k: readonly(v) for k, v in columns.items()}


def build_stages(
    snapshot: Snapshot,
    act: Activity,
    computed: Computed,
    fitted: Fitted,
    notes: tuple[str, ...],
) -> LifecycleStages:
    """The result of :meth:`Lifecycle.apply`."""
    ids = readonly(snapshot.customer_ids)
    milestone, progress = _milestone_segmentations(ids, computed, fitted)
    return LifecycleStages(
        as_of=snapshot.as_of,
        tenant=snapshot.tenant,
        customer_ids=ids,
        index=snapshot.index,
        last_purchase=snapshot.last_purchase,
        relationship=_relationship_segmentation(ids, computed, fitted),
        post_purchase=_post_segmentation(ids, computed, fitted),
        milestone=milestone,
        progress=progress,
        thresholds=fitted.post_purchase.thresholds,
        method=fitted.post_purchase.method,
        relationship_settings=fitted.relationship,
        notes=notes,
    )
