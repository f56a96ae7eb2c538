"""KOC detection: customers whose shares, invitations and content stand out."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator

from privdomain.domain.segment import And, Compare, Not, Rule, short_repr
from privdomain.domain.snapshot import Snapshot
from privdomain.errors import ValidationError
from privdomain.layering._base import (
    RELATIVE_ERROR,
    check_snapshot,
    is_integer,
    is_number,
    sketch,
)
from privdomain.layering._result import ColumnSource, Segmentation
from privdomain.strategy import QuantileSketch, check_fitted

__all__ = ["DEFAULT_KOC_WEIGHTS", "KOCDetector", "KOCSummary"]

#: Default weight of each interaction signal in the KOC score: a referral that became a
#: customer counts most, then invitations and content the customer created, then shares.
DEFAULT_KOC_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"count_shared": 1.0, "count_invited": 2.0, "count_posted": 2.0, "referrals": 5.0}
)


def _weights(value: Any) -> dict[str, float]:
    if value is None:
        return dict(DEFAULT_KOC_WEIGHTS)
    if not isinstance(value, Mapping):
        raise ValidationError(
            f"weights map feature names to numbers, not {type(value).__name__}: {short_repr(value)}"
        )
    out: dict[str, float] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not k:
            raise ValidationError(f"weights: a signal is a feature name (str), not {short_repr(k)}")
        if not is_number(v):
            raise ValidationError(f"weights: the weight of {k!r} must be a number, not {v!r}")
        out[k] = float(v)
    if not out:
        raise ValidationError("weights needs at least one signal")
    if any(not np.isfinite(w) or w < 0 for w in out.values()):
        raise ValidationError(f"weights must be finite and >= 0, got {out}")
    return out


@attrs.frozen(eq=False)
class KOCSummary:
    """What :meth:`KOCDetector.summarize` learns from one snapshot (or partition); merges.

    Attributes
    ----------
    weights : tuple of (str, float)
        The signals and their weights.
    positive : QuantileSketch
        The sketch of the positive KOC scores.
    """

    weights: tuple[tuple[str, float], ...]
    positive: QuantileSketch

    def merge(self, other: KOCSummary) -> KOCSummary:
        """The summary of both summaries' customers."""
        if not isinstance(other, KOCSummary) or other.weights != self.weights:
            raise ValidationError("only KOC summaries of the same weights merge")
        return KOCSummary(self.weights, self.positive.merge(other.positive))


class KOCDetector(BaseEstimator):  # type: ignore[misc]
    """Find KOCs (key opinion consumers): customers who share, invite and create content.

    Each customer gets a *KOC score*, the weighted sum of their interaction signals (snapshot
    features; by default shares, invitations, posts and successful referrals, see
    :data:`DEFAULT_KOC_WEIGHTS`). KOCs are the customers whose score reaches ``threshold``, or,
    with ``top_k``, the ``top_k`` highest scores of the fitted pool (every customer tied with
    the ``k``-th is included, so the set never depends on row order). A score of 0 never makes
    a KOC. :meth:`Segmentation.explain` shows each signal and its contribution.

    A learner of the strategy contract (:mod:`privdomain.strategy`): ``fit(snapshot)`` learns
    the cut-off score, :attr:`cutoff_` (``threshold`` itself, or with ``top_k`` the ``k``-th
    highest positive score, from a mergeable :class:`KOCSummary`), and ``apply(snapshot)``
    compares every customer's own score with it. While the fitted pool has at most
    ``EXACT_UP_TO`` distinct positive scores (scores are weighted counts: they tie a lot), the
    cut-off is the exact ``k``-th highest score; past that, it is the lower edge of the sketch
    bucket holding it: at least ``top_k`` customers of the fitted pool reach it, and it lies
    less than 1% (``2 e / (1 + e)``, ``e`` = 0.5%) below the exact ``k``-th score. Partitions
    learn the same cut-off as the whole pool either way.

    The KOC segment is not a rule over single snapshot features (the score is a weighted sum),
    so its rule reads the result's own ``koc_score`` column (``rules_on="result"``).

    Parameters
    ----------
    weights : mapping of str to float or None, default None
        Snapshot feature → weight (e.g. add ``"count_replied": 0.5``); ``None`` is
        :data:`DEFAULT_KOC_WEIGHTS`.
    threshold : float or None, default 10.0
        The score a KOC reaches. Ignored when ``top_k`` is given.
    top_k : int or None, default None
        Take the ``top_k`` highest scores of the fitted pool instead of a threshold.

    Attributes
    ----------
    cutoff_ : float
        The score at or above which a customer is a KOC (``inf`` when ``top_k`` is given and
        nobody in the fitted pool scored above 0).
    weights_ : dict of str to float
        The signals and weights used.
    exact_cutoff_ : bool
        Whether the cut-off is exact (a threshold, or the sketch kept every distinct score).
    """

    def __init__(
        self,
        weights: Mapping[str, float] | None = None,
        threshold: float | None = 10.0,
        top_k: int | None = None,
    ) -> None:
        self.weights = weights
        self.threshold = threshold
        self.top_k = top_k

    def _check_params(self) -> dict[str, float]:
        weights = _weights(self.weights)
        threshold, top_k = self.threshold, self.top_k
        if threshold is not None and (not is_number(threshold) or not 0 < threshold < math.inf):
            raise ValidationError(
                f"threshold must be a finite number > 0, got {short_repr(threshold)}"
            )
        if top_k is not None and (not is_integer(top_k) or top_k < 1):
            raise ValidationError(f"top_k must be an integer >= 1, got {short_repr(top_k)}")
        if threshold is None and top_k is None:
            raise ValidationError("give a threshold or top_k")
        return weights

    def _scores(
        self, snapshot: Snapshot, weights: Mapping[str, float]
    ) -> tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]]:
        """The KOC score of every customer, and the value of every signal."""
        signals: dict[str, NDArray[np.float64]] = {}
        for name in weights:
            col = np.asarray(snapshot.feature(name))
            if col.dtype.kind not in "biuf":
                raise ValidationError(f"KOC signal {name!r} is not numeric (dtype {col.dtype})")
            signals[name] = col.astype(np.float64)
            if not np.isfinite(signals[name]).all():
                raise ValidationError(f"KOC signal {name!r} must be finite")
        score = np.zeros(len(snapshot))
        for name, w in weights.items():
            score += w * signals[name]
        return score, signals

    # ------------------------------------------------------------------ fit
    def summarize(self, snapshot: Snapshot) -> KOCSummary:
        """The sketch of the positive KOC scores of ``snapshot`` (mergeable).

        Raises
        ------
        ValidationError
            When a parameter is invalid, ``snapshot`` is not a Snapshot or a signal is not a
            finite numeric feature.
        UnknownFeatureError
            When the snapshot has no feature of a signal's name.
        """
        weights = self._check_params()
        check_snapshot(snapshot, "summarize")
        score, _ = self._scores(snapshot, weights)
        return KOCSummary(tuple(weights.items()), sketch(score[score > 0]))

    def fit_summary(self, summary: KOCSummary) -> KOCDetector:
        """Learn the cut-off score from a (merged) :class:`KOCSummary`."""
        weights = self._check_params()
        if not isinstance(summary, KOCSummary) or summary.weights != tuple(weights.items()):
            raise ValidationError(
                f"fit_summary() takes the KOCSummary of these weights, not {short_repr(summary)}"
            )
        self.weights_ = weights
        if self.top_k is None:
            assert self.threshold is not None
            self.cutoff_ = float(self.threshold)
            self.exact_cutoff_ = True
        elif len(summary.positive) == 0:
            self.cutoff_ = math.inf
            self.exact_cutoff_ = True
        else:
            self.cutoff_ = summary.positive.top(int(self.top_k))
            self.exact_cutoff_ = summary.positive.is_exact
        return self

    def fit(self, snapshot: Snapshot) -> KOCDetector:
        """``fit_summary(summarize(snapshot))``: learn the cut-off score."""
        return self.fit_summary(self.summarize(snapshot))

    # ------------------------------------------------------------------ apply
    def apply(self, snapshot: Snapshot) -> Segmentation:
        """Split ``snapshot`` into KOCs and everyone else by the fitted cut-off.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        ValidationError
            When ``snapshot`` is not a Snapshot or a signal is not a finite numeric feature.
        UnknownFeatureError
            When the snapshot has no feature of a signal's name.
        """
        check_fitted(self, "cutoff_")
        check_snapshot(snapshot, "apply")
        score, signals = self._scores(snapshot, self.weights_)
        cut = self.cutoff_
        is_koc: Rule = And((Compare("koc_score", ">=", cut), Compare("koc_score", ">", 0.0)))
        rules = (is_koc, Not(is_koc))
        columns: dict[str, NDArray[np.float64]] = {"koc_score": score}
        columns.update(signals)
        mask = is_koc.mask(ColumnSource(columns, len(snapshot)))
        labels = np.where(mask, 0, 1).astype(np.int64)
        formula = " + ".join(f"{w:g}×{name}" for name, w in self.weights_.items())
        how = f"top {self.top_k} scores when fitted" if self.top_k is not None else "threshold"
        notes = [f"KOC score = {formula}; KOCs score at least {cut:g} ({how})"]
        if not self.exact_cutoff_:
            notes.append(
                f"cut-off read from a quantile sketch: less than {2 * RELATIVE_ERROR:.0%} below "
                f"the exact {self.top_k}-th score"
            )
        return Segmentation(
            strategy="KOC detection",
            customer_ids=snapshot.customer_ids,
            labels=labels,
            names=("KOC", "Not a KOC"),
            rules=rules,
            rules_on="result",
            descriptions=(f"KOC score >= {cut:g} ({how})", f"KOC score < {cut:g} or 0"),
            advice=(
                "invite to co-create content, early access, referral rewards; serve personally",
                "",
            ),
            columns=columns,
            column_notes={"koc_score": formula},
            notes=notes,
        )
