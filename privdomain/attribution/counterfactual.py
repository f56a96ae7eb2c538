"""Model-based counterfactual attribution (data-driven attribution).

Fit the probability that a journey converts given the channels it touched (whether, and how
often), with a scikit-learn classifier; then credit each channel with the conversions the fitted
model loses when that channel is removed from every path:

    credit(c) = sum over journeys j that touched c of  p(x_j) - p(x_j without c)

What it estimates: the conversions each channel *adds*, under the fitted model. That is a causal
quantity only when the model's inputs are as good as randomly assigned: channels sent in a
randomised holdout (some customers randomly not messaged on a channel) or a log where who gets
which channel depends on nothing that also drives buying. On an observational log it is still a
correlation — better adjusted for co-exposure than the path-based methods (it compares journeys
with and without the channel, rather than following where the channel is seen), but biased if
the brand messages customers who were about to buy anyway. The credits do not split the
conversions: they need not sum to :attr:`Journeys.conversions` (channels may overlap, and part
of the conversions happen without any channel).

What a careful reader checks first is the **lift**: the conversions the model says the channels
add together (``sum over journeys of p(x) - p(no channel)``), with its bootstrap interval. When
it is not clearly above zero the model found no conversions that the channels add, and the
per-channel credits are noise around nothing (on a log where buying does not depend on the
channels they scatter around zero, some of them negative): the result says so in its
:attr:`~ChannelCredit.notes`.

Journeys without any touch are left out of the fit when they all end the same way. Journeys cut
from an event log (:meth:`Journeys.from_events`, :meth:`Journeys.from_snapshot`) have exactly
that shape: a purchase with no touch before it is a journey, but a customer with no touch and no
purchase is none, so every journey without a channel converts. Fitted on them, the model's
"no channel" would convert for certain, and removing any channel would look like it *adds*
conversions: every credit large and negative. Without them the model extrapolates "no channel"
from the journeys that touched some (the logistic intercept). A log with a randomised holdout,
journeys without touches that did and did not convert, keeps them: then "no channel" is
observed.

The model is fitted on the distinct touch patterns (with how many journeys of each converted
and did not) rather than on every journey, so a million journeys cost what a few thousand
patterns cost. Bootstrap intervals resample journeys with replacement — drawn as multinomial
counts of the (pattern, outcome) cells, the same distribution — refit and recompute (seeded).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from privdomain.attribution.credit import ChannelCredit
from privdomain.attribution.heuristics import _check_journeys
from privdomain.attribution.journeys import Journeys
from privdomain.errors import ValidationError, short_repr

__all__ = ["MAX_REPEATS", "MAX_SHAPLEY_CHANNELS", "counterfactual", "path_features"]

#: Shapley values on the model evaluate every subset of a journey's channels: at most this many.
MAX_SHAPLEY_CHANNELS = 12
#: Rows predicted at once when evaluating subsets for Shapley values on the model.
_SHAPLEY_ROWS = 1 << 18


#: Repeated touches of one channel count up to this many (more say little and multiply the
#: distinct patterns the model is fitted on).
MAX_REPEATS = 3


def path_features(touches: NDArray[np.int64]) -> NDArray[np.float64]:
    """The model's inputs from ``(journeys, channels)`` touch counts
    (:meth:`Journeys.touched`): whether each channel was touched, then ``log1p`` of how often
    (counted up to :data:`MAX_REPEATS`)."""
    counts = np.minimum(np.asarray(touches, dtype=np.float64), MAX_REPEATS)
    return np.hstack([(counts > 0).astype(np.float64), np.log1p(counts)])


def _default_model() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=10.0, max_iter=2000)


def counterfactual(
    journeys: Journeys,
    *,
    model: Any = None,
    credit: Literal["removal", "shapley"] = "removal",
    n_bootstrap: int = 50,
    confidence: float = 0.9,
    seed: int | np.random.Generator | None = 0,
) -> ChannelCredit:
    """Conversions each channel adds under a fitted conversion model, with bootstrap intervals.

    Parameters
    ----------
    journeys
        Converted and open journeys (both are needed: the model learns from the difference).
    model
        An unfitted scikit-learn classifier with ``predict_proba`` (cloned for every fit);
        default a logistic regression on :func:`path_features`.
    credit
        ``"removal"``: the conversions lost when the channel alone is removed from every path.
        ``"shapley"``: each journey's predicted lift over no channel at all, ``p(x) - p(∅)``,
        split among the channels it touched by their Shapley values on the model (every
        subset of its channels evaluated; at most :data:`MAX_SHAPLEY_CHANNELS` per journey),
        so the credits sum to the lift the model predicts from the channels.
    n_bootstrap
        Bootstrap resamples for the interval (0: no interval).
    confidence
        Coverage of the interval (percentiles of the bootstrap credits).
    seed
        Seed or generator of the resampling.

    Returns
    -------
    ChannelCredit
        ``credit`` per channel, ``lower``/``upper`` (NaN without resamples),
        ``removal_effect`` = credit / all conversions, the ``lift`` of all channels together
        with its ``lift_interval``, and ``notes`` when the lift is not clearly positive or
        journeys without touches were left out of the fit (see the module).

    Raises
    ------
    ValidationError
        No journeys, journeys that all convert or none of which converts, a model without
        ``predict_proba``, bad ``credit``, ``n_bootstrap`` or ``confidence``, or (Shapley) a
        journey with more than :data:`MAX_SHAPLEY_CHANNELS` channels.
    """
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits

    _check_journeys(journeys)
    if credit not in ("removal", "shapley"):
        raise ValidationError(f"credit must be 'removal' or 'shapley', got {short_repr(credit)}")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 0:
        raise ValidationError(f"n_bootstrap must be an integer >= 0, got {short_repr(n_bootstrap)}")
    if isinstance(confidence, bool) or not isinstance(confidence, float) or not 0 < confidence < 1:
        raise ValidationError(f"confidence must be a float in (0, 1), got {short_repr(confidence)}")
    estimator = _default_model() if model is None else model
    if not hasattr(estimator, "predict_proba"):
        raise ValidationError(f"model must have predict_proba, got {short_repr(estimator)}")
    total = int(journeys.converted.sum())
    conversions, unattributed = journeys.conversions, journeys.unattributed
    notes: list[str] = []
    empty = journeys.lengths == 0
    empty_converted = int(np.count_nonzero(journeys.converted[empty]))
    if empty.any() and empty_converted in (0, int(empty.sum())):
        outcome = "converted" if empty_converted else "did not convert"
        notes.append(
            f"{int(empty.sum())} journeys without any touch were left out of the fit: they all "
            f"{outcome}, which is how journeys are cut from an event log, not evidence of what "
            "happens without a channel; 'no channel' is extrapolated from the other journeys"
        )
        journeys = journeys.take(~empty)
    y = journeys.converted
    if y.all() or not y.any():
        raise ValidationError(
            "counterfactual attribution needs converted and unconverted journeys alike"
            " (among journeys with a touch)"
        )
    patterns, cell = _distinct_patterns(np.minimum(journeys.touched(), MAX_REPEATS))
    widest = int((patterns > 0).sum(axis=1).max())
    if credit == "shapley" and widest > MAX_SHAPLEY_CHANNELS:
        raise ValidationError(
            f"Shapley values on the model evaluate every subset of a journey's channels: at "
            f"most {MAX_SHAPLEY_CHANNELS} channels per journey, got {widest}"
        )
    cell = cell * 2 + y  # (pattern, outcome) cells: 2 k + converted
    counts = np.bincount(cell, minlength=2 * patterns.shape[0]).astype(np.float64)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    draws = []
    n = len(journeys)
    # the fits are small (one row per distinct pattern): BLAS threads cost more than they save
    lifts = []
    with threadpool_limits(limits=1, user_api="blas"):
        lost, lift = _lost_conversions(clone(estimator), patterns, counts, credit)
        for _ in range(n_bootstrap):  # a loop over resamples, each fully vectorised
            resampled = rng.multinomial(n, counts / n).astype(np.float64)
            if not resampled[1::2].any() or not resampled[0::2].any():
                continue
            drawn, drawn_lift = _lost_conversions(clone(estimator), patterns, resampled, credit)
            draws.append(drawn)
            lifts.append(drawn_lift)
    lift_interval: tuple[float, float] | None = None
    if draws:
        tail = (1 - confidence) / 2
        lower, upper = np.quantile(np.array(draws), [tail, 1 - tail], axis=0)
        lo, hi = np.quantile(np.array(lifts), [tail, 1 - tail])
        lift_interval = (float(lo), float(hi))
    else:
        lower = upper = np.full(journeys.n_channels, np.nan)
    if lift <= 0:
        notes.append(
            f"the model finds no conversions the channels add together (lift {lift:.4g} is not "
            "positive): read the per-channel credits as noise, not effects"
        )
    elif lift_interval is not None and lift_interval[0] <= 0:
        notes.append(
            f"the model finds no clear lift from the channels together (lift {lift:.4g}, "
            f"{confidence:.0%} interval [{lift_interval[0]:.4g}, {lift_interval[1]:.4g}] "
            "reaches zero): read the per-channel credits as noise, not effects"
        )
    return ChannelCredit(
        method=(
            f"counterfactual({type(estimator).__name__}, credit={credit!r}, "
            f"n_bootstrap={n_bootstrap})"
        ),
        channels=journeys.channel_names,
        credit=lost,
        conversions=conversions,
        unattributed=unattributed,
        lower=np.asarray(lower, dtype=np.float64),
        upper=np.asarray(upper, dtype=np.float64),
        removal_effect=lost / total,
        lift=lift,
        lift_interval=lift_interval,
        notes=tuple(notes),
    )


def _distinct_patterns(
    touches: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The distinct rows of capped touch counts, and each journey's row among them."""
    base = MAX_REPEATS + 1
    if base ** touches.shape[1] < 1 << 62:  # one integer per row: a 1-D unique is much faster
        code = touches @ (base ** np.arange(touches.shape[1], dtype=np.int64))
        distinct, inverse = np.unique(code, return_inverse=True)
        patterns = (distinct[:, None] // base ** np.arange(touches.shape[1])[None, :]) % base
        return patterns.astype(np.int64), inverse.ravel().astype(np.int64)
    patterns, inverse = np.unique(touches, axis=0, return_inverse=True)
    return patterns.astype(np.int64), inverse.ravel().astype(np.int64)


def _lost_conversions(
    estimator: Any, patterns: NDArray[np.int64], counts: NDArray[np.float64], credit: str
) -> tuple[NDArray[np.float64], float]:
    """Fit on the (pattern, outcome) cells weighted by their journeys; the credit per channel,
    summed over the journeys of every pattern that touched it, and the lift of all channels
    (``p(x) - p(no channel)`` summed over the journeys)."""
    from sklearn.utils.validation import has_fit_parameter

    k = patterns.shape[0]
    features = path_features(patterns)
    x = np.repeat(features, 2, axis=0)
    outcome = np.tile([False, True], k)
    used = counts > 0
    if has_fit_parameter(estimator, "sample_weight"):
        estimator.fit(x[used], outcome[used], sample_weight=counts[used])
    else:  # a model without weights sees every journey
        times = counts.astype(np.int64)
        estimator.fit(np.repeat(x, times, axis=0), np.repeat(outcome, times))
    positive = list(estimator.classes_).index(True)

    def predict(rows: NDArray[np.int64]) -> NDArray[np.float64]:
        return np.asarray(estimator.predict_proba(path_features(rows))[:, positive], np.float64)

    journeys_of = counts[0::2] + counts[1::2]
    full = predict(patterns)
    nothing = predict(np.zeros((1, patterns.shape[1]), dtype=np.int64))[0]
    lift = float(((full - nothing) * journeys_of).sum())
    if credit == "shapley":
        return _model_shapley(predict, patterns, journeys_of), lift
    lost = np.zeros(patterns.shape[1])
    for c in range(patterns.shape[1]):  # one prediction per channel, over all patterns at once
        hit = patterns[:, c] > 0
        if not hit.any():
            continue
        without = patterns[hit].copy()
        without[:, c] = 0
        lost[c] = float(((full[hit] - predict(without)) * journeys_of[hit]).sum())
    return lost, lift


def _model_shapley(
    predict: Any, patterns: NDArray[np.int64], journeys_of: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Per channel, the sum over journeys of its Shapley value in the game
    ``v(S) = p(the journey's touches of the channels in S)``, every subset evaluated."""
    n_channels = patterns.shape[1]
    out = np.zeros(n_channels)
    size = (patterns > 0).sum(axis=1)
    for m in range(1, int(size.max(initial=0)) + 1):  # by number of channels, not by journey
        subsets = (np.arange(1 << m)[:, None] >> np.arange(m)[None, :]) & 1  # (2^m, m)
        popcount = subsets.sum(axis=1)
        weight = np.array(
            [math.factorial(t) * math.factorial(m - t - 1) / math.factorial(m) for t in range(m)]
        )
        same_size = np.flatnonzero(size == m)
        step = max(1, _SHAPLEY_ROWS >> m)  # patterns per chunk, to bound the rows predicted
        for start in range(0, same_size.size, step):
            group = same_size[start : start + step]
            members = np.nonzero(patterns[group] > 0)[1].reshape(group.size, m)
            rows = np.repeat(patterns[group], 1 << m, axis=0).reshape(group.size, 1 << m, -1)
            left_out = np.broadcast_to(subsets == 0, (group.size, 1 << m, m))
            gi, si, ci = np.nonzero(left_out)
            rows[gi, si, members[gi, ci]] = 0
            value = predict(rows.reshape(-1, n_channels)).reshape(group.size, 1 << m)
            for i in range(m):  # one pass per member position
                without = np.flatnonzero(subsets[:, i] == 0)
                gain = value[:, without | (1 << i)] - value[:, without]
                phi = gain @ weight[popcount[without]]
                np.add.at(out, members[:, i], phi * journeys_of[group])
    return out
