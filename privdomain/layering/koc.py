"""KOC detection: customers whose shares, invitations and content stand out."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain.segment import And, Compare, Not, Rule, short_repr
from privdomain.domain.snapshot import Snapshot
from privdomain.errors import ValidationError
from privdomain.layering._base import check_snapshot, is_integer, is_number, numeric_array
from privdomain.layering._result import ColumnSource, Segmentation

__all__ = ["DEFAULT_KOC_WEIGHTS", "KOCDetector"]

#: Default weight of each interaction signal in the KOC score: a referral that became a
#: customer counts most, then invitations and content the customer created, then shares.
DEFAULT_KOC_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"count_shared": 1.0, "count_invited": 2.0, "count_posted": 2.0, "referrals": 5.0}
)


def _weights(value: Mapping[str, float]) -> Mapping[str, float]:
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
    return MappingProxyType(out)


def _threshold(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not is_number(value) or not 0 < float(value) < math.inf):
        raise ValidationError(f"threshold must be a finite number > 0, got {short_repr(value)}")


def _top_k(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not is_integer(value) or value < 1):
        raise ValidationError(f"top_k must be an integer >= 1, got {short_repr(value)}")


@attrs.frozen
class KOCDetector:
    """Find KOCs (key opinion consumers): customers who share, invite and create content.

    Each customer gets a *KOC score*, the weighted sum of their interaction signals (snapshot
    features; by default shares, invitations, posts and successful referrals, see
    :data:`DEFAULT_KOC_WEIGHTS`). KOCs are the customers whose score reaches ``threshold``, or,
    with ``top_k``, the ``top_k`` highest scores (every customer tied with the ``k``-th is
    included, so the set never depends on row order). A score of 0 never makes a KOC.
    :meth:`Segmentation.explain` shows each signal and its contribution.

    The KOC segment is not a rule over single snapshot features (the score is a weighted sum),
    so its rule reads the result's own ``koc_score`` column (``rules_on="result"``).

    Attributes
    ----------
    weights : mapping of str to float, default DEFAULT_KOC_WEIGHTS
        Snapshot feature → weight (e.g. add ``"count_replied": 0.5``).
    threshold : float or None, default 10.0
        The score a KOC reaches. Ignored when ``top_k`` is given.
    top_k : int or None, default None
        Take the ``top_k`` highest scores instead of a threshold.

    Raises
    ------
    ValidationError
        When a weight is not a finite number >= 0 keyed by a feature name, the threshold not a
        finite number > 0, ``top_k`` not an integer >= 1, or neither is given.
    """

    weights: Mapping[str, float] = attrs.field(
        default=DEFAULT_KOC_WEIGHTS, converter=_weights, repr=lambda w: repr(dict(w))
    )
    threshold: float | None = attrs.field(default=10.0, validator=_threshold)
    top_k: int | None = attrs.field(default=None, validator=_top_k)

    def __attrs_post_init__(self) -> None:
        if self.threshold is None and self.top_k is None:
            raise ValidationError("give a threshold or top_k")

    def scores(
        self, snapshot: Snapshot
    ) -> tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]]:
        """The KOC score of every customer, and the value of every signal.

        Raises
        ------
        ValidationError
            When ``snapshot`` is not a Snapshot or a signal is not a numeric feature.
        UnknownFeatureError
            When the snapshot has no feature of a signal's name.
        """
        check_snapshot(snapshot, "scores")
        signals: dict[str, NDArray[np.float64]] = {}
        for name in self.weights:
            col = np.asarray(snapshot.feature(name))
            if col.dtype.kind not in "biuf":
                raise ValidationError(f"KOC signal {name!r} is not numeric (dtype {col.dtype})")
            signals[name] = col.astype(np.float64)
        score = np.zeros(len(snapshot))
        for name, w in self.weights.items():
            score += w * signals[name]
        return score, signals

    def cutoff(self, score: NDArray[np.float64]) -> float:
        """The score at or above which a customer is a KOC (always above 0).

        ``score`` is the 1-D array of KOC scores from :meth:`scores`.
        """
        score = numeric_array(score, "score")
        if score.ndim != 1:
            raise ValidationError(f"score must be a 1-D array, got shape {score.shape}")
        if self.top_k is None:
            assert self.threshold is not None
            return float(self.threshold)
        positive = score[score > 0]
        if positive.size == 0:
            return float("inf")
        k = min(self.top_k, positive.size)
        return float(np.partition(positive, positive.size - k)[positive.size - k])

    def layer(self, snapshot: Snapshot) -> Segmentation:
        """Split ``snapshot`` into KOCs and everyone else."""
        check_snapshot(snapshot, "layer")
        score, signals = self.scores(snapshot)
        cut = self.cutoff(score)
        is_koc: Rule = And((Compare("koc_score", ">=", cut), Compare("koc_score", ">", 0.0)))
        rules = (is_koc, Not(is_koc))
        columns: dict[str, NDArray[np.float64]] = {"koc_score": score}
        columns.update(signals)
        mask = is_koc.mask(ColumnSource(columns, len(snapshot)))
        labels = np.where(mask, 0, 1).astype(np.int64)
        formula = " + ".join(f"{w:g}×{name}" for name, w in self.weights.items())
        how = f"top {self.top_k} scores" if self.top_k is not None else "threshold"
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
            notes=(f"KOC score = {formula}; KOCs score at least {cut:g} ({how})",),
        )
