"""Does the policy work? Targeting policies compared on a simulated world with known truth.

:func:`compare_policies` takes a :class:`~privdomain.simulate.ResponseWorld` (a simulated pool
whose customers' responses to nudges are known) and compares four ways of choosing whom to
nudge, every one sending a customer the same nudge (the playbook's message, offer and channel):

- **default policy**: :func:`~privdomain.nudges.plan` with the policy as configured (consent,
  frequency caps, periods; a message budget ranked by its score, the expected incremental
  response of the periods' lift priors);
- **uplift**: the customers with the highest estimated uplift (a :class:`TLearner` or any
  uplift model trained on one randomised logging round);
- **top propensity**: the customers most likely to buy (a classifier trained on the same round);
- **blast**: everyone reachable, frequency caps ignored and the major sale on.

Uplift and top propensity send as many messages as the default policy. Every policy is
scored twice: by the simulated truth (its expected incremental revenue per message, with a
bootstrap interval over the customers), and by off-policy estimates (IPS, self-normalised IPS,
doubly robust; :func:`~privdomain.nudges.off_policy_value`) computed from the logged randomised
round only, as an analyst without the truth would, with intervals that should cover the truth.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain.channels import Channel
from privdomain.domain.segment import short_repr
from privdomain.errors import ValidationError
from privdomain.nudges.plan import NudgePlan, plan
from privdomain.nudges.policy import OFFERS, PERIODS, NudgePolicy

__all__ = ["PolicyComparison", "PolicyScore", "compare_policies", "nudge_features"]

_NAMES = ("default policy", "uplift", "top propensity", "blast")


@attrs.frozen
class PolicyScore:
    """One targeting policy, scored by the truth and by off-policy estimates.

    Every figure is incremental revenue per message (yuan): the revenue the nudges added over
    what the same customers would have spent without them, net of the offers' discounts,
    divided by the messages sent. ``*_ci`` are ``(low, high)`` intervals: a bootstrap over the
    customers for the truth, the normal intervals of :func:`~privdomain.nudges.off_policy_value`
    for the off-policy estimates.

    Attributes
    ----------
    name : str
    messages : int
        Nudges the policy sends.
    truth, truth_ci : float, tuple of float
        The world's expected incremental revenue per message, and its interval over the
        customers contacted.
    realised : float
        What one round of sending realised per message (both potential outcomes drawn).
    ips, ips_ci, snips, snips_ci, dr, dr_ci : float, tuple of float
        Off-policy estimates from the logged randomised round: inverse propensity weighting,
        self-normalised IPS and doubly robust (cross-fitted outcome models), each the plan's
        gain over contacting nobody, per message.
    """

    name: str
    messages: int
    truth: float
    truth_ci: tuple[float, float]
    realised: float
    ips: float
    ips_ci: tuple[float, float]
    snips: float
    snips_ci: tuple[float, float]
    dr: float
    dr_ci: tuple[float, float]

    def covers(self, estimator: str) -> bool:
        """Whether the interval of ``estimator`` (``"ips"``, ``"snips"``, ``"dr"``) holds the
        truth."""
        if estimator not in ("ips", "snips", "dr"):
            raise ValidationError(f"estimator is 'ips', 'snips' or 'dr', not {estimator!r}")
        low, high = getattr(self, f"{estimator}_ci")
        return bool(low <= self.truth <= high)


@attrs.frozen
class PolicyComparison:
    """The scores of every policy (:func:`compare_policies`).

    Attributes
    ----------
    scores : tuple of PolicyScore
        In the order default policy, uplift, top propensity, blast (then "default + uplift
        budget" when there is a budget, then any extra plans).
    candidates : int
        Customers reachable on an owned channel (those blasting contacts).
    logged : int
        Customers in the logged randomised round (the candidates).
    logging_share : float
        The share of them nudged in that round (the known propensity).
    level : float
        Confidence level of the intervals.
    truth_replicates : dict of str to numpy.ndarray
        Bootstrap replicates of each policy's truth per message, all from the same resamples
        of the candidates (for paired comparisons, :meth:`difference`).
    """

    scores: tuple[PolicyScore, ...]
    candidates: int
    logged: int
    logging_share: float
    level: float
    truth_replicates: dict[str, NDArray[np.float64]] = attrs.field(repr=False)

    def difference(self, better: str, worse: str) -> tuple[float, tuple[float, float]]:
        """How much more incremental revenue per message ``better`` makes than ``worse`` in
        truth, with a paired bootstrap interval (both from the same resamples of the
        customers): a lower bound above 0 says ``better`` wins."""
        a, b = self[better], self[worse]
        diff = self.truth_replicates[better] - self.truth_replicates[worse]
        return (a.truth - b.truth, _interval(diff, self.level))

    def __getitem__(self, name: str) -> PolicyScore:
        for score in self.scores:
            if score.name == name:
                return score
        raise KeyError(f"no policy {name!r}; have {[s.name for s in self.scores]}")

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per policy, intervals as ``*_low`` and ``*_high``."""
        out = []
        for s in self.scores:
            record: dict[str, Any] = {"policy": s.name, "messages": s.messages}
            for key in ("truth", "ips", "snips", "dr"):
                low, high = getattr(s, f"{key}_ci")
                record.update({key: getattr(s, key), f"{key}_low": low, f"{key}_high": high})
            record["realised"] = s.realised
            out.append(record)
        return out

    def table(self) -> str:
        """The comparison as a text table (yuan per message, intervals in brackets)."""

        def cell(value: float, ci: tuple[float, float]) -> str:
            return f"{value:6.2f} [{ci[0]:6.2f}, {ci[1]:6.2f}]"

        head = (
            f"{'policy':<24}{'messages':>9}  {'truth per message':<24}{'IPS':<24}"
            f"{'SNIPS':<24}{'DR':<24}"
        )
        head = head.rstrip()
        lines = [head, "-" * len(head)]
        for s in self.scores:
            lines.append(
                f"{s.name:<24}{s.messages:>9}  {cell(s.truth, s.truth_ci):<24}"
                f"{cell(s.ips, s.ips_ci):<24}{cell(s.snips, s.snips_ci):<24}"
                f"{cell(s.dr, s.dr_ci)}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def nudge_features(
    snapshot: Any, period: Any, channel: Any, offer: Any, reach: Any = None
) -> NDArray[np.float64]:
    """The features an uplift or propensity model reads for each customer's nudge.

    Columns: days since the last purchase, since joining and since last active; orders, gross
    spend, average order value, share of promotional orders; reachable channels; messages in
    the current calendar week and month; the reach of the nudge's channel; the post-purchase
    period and the offer, one-hot. Features that do not exist yet (the days since the last
    purchase of a customer who never bought) are -1, the average order value and promotional
    share of such a customer 0: every feature is finite.

    Parameters
    ----------
    snapshot : Snapshot
    period : array-like of str
        Each customer's post-purchase period (:data:`~privdomain.nudges.PERIODS`).
    channel : array-like
        Each customer's nudge channel (a name, or ``None``).
    offer : array-like of str or None
        Each customer's offer (:data:`~privdomain.nudges.OFFERS`, or ``None``).
    reach : mapping of Channel to float, optional
        Reach per channel (default: :class:`NudgePolicy`'s).
    """
    from privdomain.domain.snapshot import Snapshot

    if not isinstance(snapshot, Snapshot):
        raise ValidationError(f"snapshot is a Snapshot, not {type(snapshot).__name__}")
    n = len(snapshot)
    period = np.asarray(period, dtype=object)
    channel = np.asarray(channel, dtype=object)
    offer = np.asarray(offer, dtype=object)
    for name, col in (("period", period), ("channel", channel), ("offer", offer)):
        if col.shape != (n,):
            raise ValidationError(f"{name} has one entry per customer ({n}), got {col.shape}")
    reach_map = NudgePolicy().reach if reach is None else reach
    reach_col = np.zeros(n)
    names, code = np.unique(channel.astype(str), return_inverse=True)
    per_name = np.array(
        [float(reach_map.get(Channel[c], 0.0)) if c in Channel.__members__ else 0.0 for c in
         names.tolist()] or [0.0]
    )  # fmt: skip
    reach_col = per_name[code.reshape(-1)] if n else reach_col
    with np.errstate(invalid="ignore", divide="ignore"):
        promo_share = np.where(
            snapshot.orders > 0, snapshot.promo_orders / np.maximum(snapshot.orders, 1), np.nan
        )
    columns = [
        snapshot.recency_days,
        snapshot.tenure_days,
        snapshot.days_since_active,
        snapshot.orders.astype(np.float64),
        snapshot.gross_spend,
        snapshot.avg_order_value,
        promo_share,
        snapshot.reachable_channels.astype(np.float64),
        snapshot.contact_counts("week").sum(axis=1).astype(np.float64),
        snapshot.contact_counts("month").sum(axis=1).astype(np.float64),
        reach_col,
    ]
    columns += [(period == p).astype(np.float64) for p in PERIODS]
    columns += [(offer == o).astype(np.float64) for o in OFFERS]
    if not n:
        return np.zeros((0, len(columns)))
    out = np.column_stack(columns)
    out[:, :3] = np.nan_to_num(out[:, :3], nan=-1.0)
    return np.asarray(np.nan_to_num(out, nan=0.0), dtype=np.float64)


def compare_policies(
    world: Any,
    *,
    seed: int | np.random.Generator | None,
    budget: int | None = None,
    policy: NudgePolicy | None = None,
    layers: Any = None,
    plans: dict[str, NudgePlan] | None = None,
    uplift_model: Any = None,
    propensity_model: Any = None,
    logging_share: float = 0.5,
    n_bootstrap: int = 500,
    level: float = 0.95,
    threads: int | None = 1,
) -> PolicyComparison:
    """Compare targeting policies on a simulated world (see the module's description).

    Parameters
    ----------
    world : ResponseWorld
        From :func:`privdomain.simulate.response_world`.
    seed : int, numpy.random.Generator or None
        Seeds the logging round's assignment, the cross-fitting folds and the bootstrap.
    budget : int, optional
        The default policy's message budget (>= 1); uplift and top propensity send as many
        messages as the default policy does. With a budget, a fifth policy, "default + uplift
        budget", is the planner with the same budget ranking by the estimated uplift
        (``plan(..., uplift=, value=)``) instead of its expected-value score.
    policy : NudgePolicy, optional
        The default policy (default: :class:`NudgePolicy` defaults).
    layers : Segmentation or iterable of Segmentation, optional
        The layers every plan is made with (``plan(..., layers=)``): the offers of super users,
        KOCs and coupon hunters, as a daily cycle plans them.
    plans : dict of str to NudgePlan, optional
        Further plans of the world's snapshot to score (their planned customers, each sent the
        same nudge as in the other policies).
    uplift_model : estimator, optional
        An uplift model with ``fit(X, y, treatment, propensity=)``, ``predict(X)`` and
        ``predict_outcomes(X)``, trained on revenue (default: a
        :class:`~privdomain.nudges.TLearner` of standardised ridge regressions; the effect is
        driven by the period, the offer and the reach, which a linear model of the one-hot
        features captures, where boosted trees fitted on a few thousand noisy revenues chase
        the noise).
    propensity_model : scikit-learn classifier, optional
        The purchase model of "top propensity" (default histogram gradient boosting).
    logging_share : float
        The share of candidates nudged at random in the logged round, in (0, 1).
    n_bootstrap : int
        Bootstrap replicates of every interval (>= 50).
    level : float
        Confidence level of the intervals, in (0, 1).
    threads : int or None
        Threads of the models' fits (``None``: the libraries' default, every core). One by
        default: the fits are small, and on a busy machine threads cost more than they save.

    Raises
    ------
    ValidationError
        A world that is not a ``ResponseWorld``, a logging share or level outside (0, 1), too
        few bootstrap replicates, a plan of another snapshot, fewer than two candidates in a
        logged arm of a fold.
    """
    from sklearn.base import clone
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    from privdomain._simulate_responses import ResponseWorld
    from privdomain.nudges.evaluation import off_policy_value
    from privdomain.nudges.uplift import TLearner
    from privdomain.simulate import _generator

    if not isinstance(world, ResponseWorld):
        raise ValidationError(f"world is a ResponseWorld, not {type(world).__name__}")
    for name, value in (("logging_share", logging_share), ("level", level)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
            raise ValidationError(f"{name} is a number in (0, 1), not {short_repr(value)}")
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ValidationError(f"threads is an int >= 1 or None, not {short_repr(threads)}")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 50:
        raise ValidationError(f"n_bootstrap is an int >= 50, not {short_repr(n_bootstrap)}")
    policy = NudgePolicy() if policy is None else policy
    if not isinstance(policy, NudgePolicy):
        raise ValidationError(f"policy is a NudgePolicy, not {type(policy).__name__}")
    extra = dict(plans or {})
    for name, p in extra.items():
        if not isinstance(p, NudgePlan) or not np.array_equal(p.customer_ids, world.customer_ids):
            raise ValidationError(f"plan {name!r} is not a NudgePlan of the world's snapshot")
    rng = _generator(seed)
    snap, stages, at = world.snapshot, world.stages, world.at

    # -- the nudge each customer would get: the default policy's, else the playbook's with
    #    caps lifted and the major sale on (what blasting sends)
    default = plan(snap, stages, at=at, budget=budget, policy=policy, layers=layers)
    unlimited = plan(snap, stages, at=at, policy=policy, layers=layers)
    blast = plan(
        snap, stages, at=at, major_sale=True, layers=layers,
        policy=attrs.evolve(policy, caps=(), min_score=0.0),
    )  # fmt: skip
    own = unlimited.planned
    candidate = blast.planned | own
    channel = np.where(own, unlimited.channel, blast.channel)
    offer = np.where(own, unlimited.offer, blast.offer)
    send_at = np.where(own, unlimited.send_at, blast.send_at)
    rows = np.flatnonzero(candidate)
    m = rows.size
    if m < 4:
        raise ValidationError(f"only {m} customers can be reached: nothing to compare")

    X = nudge_features(snap, world.period, channel, offer, policy.reach)[rows]

    # -- one logged round: each candidate nudged with probability logging_share (round 1)
    treated = rng.random(m) < logging_share
    logged = world.respond(_contacts(rows[treated], channel, offer, send_at), round=1)
    y = np.asarray(logged.revenue1)[rows]
    bought = np.asarray(logged.purchased1)[rows]

    # -- cross-fitted models: each half scored by models fitted on the other half
    fold = rng.permutation(m) % 2
    uplift_hat = np.empty(m)
    mu0 = np.empty(m)
    mu1 = np.empty(m)
    propensity_hat = np.empty(m)
    uplift_template = (
        TLearner(make_pipeline(StandardScaler(), Ridge())) if uplift_model is None
        else uplift_model
    )  # fmt: skip
    classifier = (
        HistGradientBoostingClassifier(random_state=0) if propensity_model is None
        else propensity_model
    )  # fmt: skip
    with threadpool_limits(limits=threads):
        for f in (0, 1):
            train, test = fold != f, fold == f
            for arm in (True, False):
                if int((treated[train] == arm).sum()) < 2:
                    raise ValidationError("a logged arm of a fold has fewer than two customers")
            model = clone(uplift_template).fit(
                X[train], y[train], treated[train], propensity=logging_share
            )
            uplift_hat[test] = model.predict(X[test])
            mu0[test], mu1[test] = model.predict_outcomes(X[test])
            if np.unique(bought[train]).size > 1:
                purchase = clone(classifier).fit(X[train], bought[train])
                propensity_hat[test] = purchase.predict_proba(X[test])[:, 1]
            else:
                propensity_hat[test] = float(bought[train][0])

    # -- the policies, as selections of the candidates
    k = int(default.planned.sum())
    selections: dict[str, NDArray[np.bool_]] = {
        "default policy": np.asarray(default.planned, dtype=bool)[rows],
        "uplift": _top(uplift_hat, k),
        "top propensity": _top(propensity_hat, k),
        "blast": np.asarray(blast.planned, dtype=bool)[rows],
    }
    if budget is not None:
        # the planner's own budget ranked by the estimated uplift (expected incremental value
        # minus costs) instead of its expected-value score: the estimated revenue effect as
        # an effect on the chance to buy, times the mean order value of the logged purchases
        worth = float(y[bought].mean()) if bought.any() else 1.0
        effect = np.zeros(len(snap))
        effect[rows] = np.clip(uplift_hat / worth, -1.0, 1.0)
        by_uplift = plan(
            snap, stages, at=at, budget=budget, policy=policy, uplift=effect, value=worth,
            layers=layers,
        )  # fmt: skip
        selections["default + uplift budget"] = np.asarray(by_uplift.planned, dtype=bool)[rows]
    for name, p in extra.items():
        chosen = np.asarray(p.planned, dtype=bool)
        if np.any(chosen & ~candidate):
            raise ValidationError(f"plan {name!r} contacts customers nobody can reach")
        selections[name] = chosen[rows]

    # -- truth of every candidate's nudge (round 0), then the per-customer terms of each figure
    truth_all = world.respond(_contacts(rows, channel, offer, send_at), round=0)
    tau = np.asarray(truth_all.expected_incremental)[rows]
    realised = np.asarray(truth_all.incremental)[rows]
    e = float(logging_share)
    names = list(selections)
    masks = np.column_stack([selections[name] for name in names]).astype(np.float64)
    # the truth per message, for the data and for every replicate of one bootstrap of the
    # candidates shared by every policy (paired comparisons)
    counts = masks.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        truth_point = (masks.T @ tau) / counts
    parts = []
    for start in range(0, n_bootstrap, _CHUNK):
        w = _bootstrap_weights(rng, m, min(_CHUNK, n_bootstrap - start))
        with np.errstate(invalid="ignore", divide="ignore"):
            parts.append((w @ (masks * tau[:, None])) / (w @ masks))
    truth_reps = np.concatenate(parts)

    scores = []
    for j, name in enumerate(names):
        idx = np.flatnonzero(selections[name])
        # off-policy: the plan's gain over contacting nobody per logged customer, from the
        # logged round only, scaled to per message (the plan's size is fixed)
        estimates = {}
        for method in ("ips", "snips", "dr"):
            if idx.size == 0:
                estimates[method] = (float("nan"), (float("nan"), float("nan")))
                continue
            pv = off_policy_value(
                y, treated, e, selections[name].astype(np.float64), method=method,
                outcomes=(mu0, mu1) if method == "dr" else None, baseline=0.0, level=level,
            )  # fmt: skip
            scale = m / idx.size
            estimates[method] = (pv.value * scale, (pv.low * scale, pv.high * scale))
        scores.append(
            PolicyScore(
                name=name,
                messages=int(idx.size),
                truth=float(truth_point[j]),
                truth_ci=_interval(truth_reps[:, j], level),
                realised=_mean(realised[idx]),
                ips=estimates["ips"][0],
                ips_ci=estimates["ips"][1],
                snips=estimates["snips"][0],
                snips_ci=estimates["snips"][1],
                dr=estimates["dr"][0],
                dr_ci=estimates["dr"][1],
            )
        )
    return PolicyComparison(
        scores=tuple(scores),
        candidates=m,
        logged=m,
        logging_share=e,
        level=float(level),
        truth_replicates={name: truth_reps[:, j] for j, name in enumerate(names)},
    )


#: Bootstrap replicates drawn at once (memory: replicates x candidates floats).
_CHUNK = 25


def _interval(stat: NDArray[np.float64], level: float) -> tuple[float, float]:
    """The percentile interval of bootstrap replicates (NaN where none is finite)."""
    finite = stat[np.isfinite(stat)]
    if finite.size == 0:
        return (float("nan"), float("nan"))
    alpha = (1 - level) / 2
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return (float(low), float(high))


def _mean(values: NDArray[np.float64]) -> float:
    return float(values.mean()) if values.size else float("nan")


def _top(score: NDArray[np.float64], k: int) -> NDArray[np.bool_]:
    """The ``k`` highest scores (ties: the earlier row)."""
    out = np.zeros(score.size, dtype=bool)
    order = np.lexsort((np.arange(score.size), -score))
    out[order[: min(k, score.size)]] = True
    return out


def _bootstrap_weights(rng: np.random.Generator, n: int, replicates: int) -> NDArray[np.float64]:
    """Poisson(1) resampling weights of ``n`` items, one row per replicate (the Poisson
    bootstrap: for a mean, as good as resampling ``n`` items with replacement)."""
    return rng.poisson(1.0, (replicates, n)).astype(np.float64)


def _contacts(
    rows: NDArray[np.int64], channel: NDArray[Any], offer: NDArray[Any], send_at: NDArray[Any]
) -> dict[str, Any]:
    return {
        "row": rows,
        "channel": channel[rows],
        "offer": offer[rows],
        "send_at": send_at[rows],
    }
