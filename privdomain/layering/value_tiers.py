"""Value tiers and super users: the fewest customers that bring a given share of revenue."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator

from privdomain.domain.segment import And, Compare, Not, Rule, Segment, short_repr
from privdomain.domain.snapshot import Snapshot
from privdomain.errors import ValidationError
from privdomain.layering._base import (
    RELATIVE_ERROR,
    check_snapshot,
    is_collection,
    is_number,
    numeric_array,
    sketch,
)
from privdomain.layering._result import Segmentation
from privdomain.strategy import QuantileSketch, check_fitted

__all__ = ["ValueTiers", "ValueTiersSummary", "share_from_top"]


def _shares(value: Sequence[float]) -> tuple[float, ...]:
    if not is_collection(value):
        raise ValidationError(f"shares must be numbers in (0, 1], got {short_repr(value)}")
    items = tuple(value)
    for s in items:
        if not is_number(s):
            raise ValidationError(f"shares must be numbers in (0, 1], got {short_repr(s)}")
    out = tuple(float(s) for s in items)
    if not out:
        raise ValidationError("shares needs at least one share of revenue")
    if any(not 0 < s <= 1 for s in out):
        raise ValidationError(f"every share must lie in (0, 1], got {out}")
    if any(b <= a for a, b in pairwise(out)):
        raise ValidationError(f"shares must increase, got {out}")
    return out


def _pct(share: float) -> str:
    return f"{share * 100:.4g}%"


def _feature_name(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"value must be a feature name (str), not {short_repr(value)}")
    return value


@attrs.frozen(eq=False)
class ValueTiersSummary:
    """What :meth:`ValueTiers.summarize` learns from one snapshot (or partition); merges.

    Attributes
    ----------
    value : str
        The feature summarised.
    positive : QuantileSketch
        The sketch of the positive values (the revenue).
    customers : int
        Every customer summarised.
    """

    value: str
    positive: QuantileSketch
    customers: int

    def merge(self, other: ValueTiersSummary) -> ValueTiersSummary:
        """The summary of both summaries' customers."""
        if not isinstance(other, ValueTiersSummary) or other.value != self.value:
            raise ValidationError("only value summaries of the same feature merge")
        return ValueTiersSummary(
            self.value, self.positive.merge(other.positive), self.customers + other.customers
        )


class ValueTiers(BaseEstimator):  # type: ignore[misc]
    """Tiers of customers by the share of revenue they bring; the last share marks super users.

    The *super users* (超级用户) are the smallest set of customers that brings ``shares[-1]`` of
    the revenue (default 80%): customers are ranked by ``value`` (net spend by
    default) and taken from the top until their revenue reaches the share. The earlier shares
    cut finer tiers above it (default: the customers who bring the first 50%). Customers whose
    value equals the last one taken are all taken (a tie is never split by row order), so a
    tier is exactly "value at or above a threshold" and holds at most a few more customers
    than the strict minimum when values tie at the boundary.

    Segments, in order: one per share (``"Top 50% of revenue"``, ``"50–80% of revenue"``),
    ``"Other buyers"`` (positive value, beyond the last share) and ``"No revenue"`` (value
    zero, negative after refunds, or missing).

    A learner of the strategy contract (:mod:`privdomain.strategy`): ``fit(snapshot)`` learns
    the thresholds from a mergeable :class:`ValueTiersSummary` (a
    :class:`~privdomain.strategy.QuantileSketch` of the positive values), ``apply(snapshot)``
    puts every customer into a tier by their own value. While the pool has at most
    ``EXACT_UP_TO`` distinct positive values, the thresholds are exact; past that, the revenue
    of each sketch bucket is read at its midpoint (within ``e`` = 0.5% of every value in it)
    and a threshold is the lower edge of the bucket where that revenue reaches the share, so
    the tier brings at least ``share × (1 - e) / (1 + e)`` (99% of the share) of the revenue.
    Partitions learn the same thresholds as the whole pool either way.

    Parameters
    ----------
    shares : sequence of float, default (0.5, 0.8)
        Increasing cumulative shares of revenue in (0, 1].
    value : str, default "net_spend"
        The snapshot feature that measures value (e.g. ``"gross_spend"``).

    Attributes
    ----------
    thresholds_ : numpy.ndarray of float
        Per share, the value at or above which a customer is in the top ``share`` (``inf``
        when the fitted pool had no revenue).
    revenue_ : float
        The revenue (sum of positive values) of the fitted pool.
    n_customers_ : int
        Customers in the fitted pool.
    n_super_users_ : int
        Customers of the fitted pool at or above the last threshold.
    exact_thresholds_ : bool
        Whether the thresholds are exact (the sketch kept every distinct value).
    """

    def __init__(self, shares: Sequence[float] = (0.5, 0.8), value: str = "net_spend") -> None:
        self.shares = shares
        self.value = value

    def _params(self) -> tuple[tuple[float, ...], str]:
        return _shares(self.shares), _feature_name(self.value)

    def names(self) -> tuple[str, ...]:
        """The segment names, by code."""
        shares, _ = self._params()
        tiers = [f"Top {_pct(shares[0])} of revenue"]
        tiers += [f"{_pct(a)}–{_pct(b)} of revenue" for a, b in pairwise(shares)]
        return (*tiers, "Other buyers", "No revenue")

    # ------------------------------------------------------------------ fit
    def summarize(self, snapshot: Snapshot) -> ValueTiersSummary:
        """The sketch of the positive values of ``snapshot`` (mergeable).

        Raises
        ------
        ValidationError
            When a parameter is invalid, ``snapshot`` is not a Snapshot or the value feature is
            not numeric or holds infinity.
        UnknownFeatureError
            When the snapshot has no such feature.
        """
        _, value = self._params()
        check_snapshot(snapshot, "summarize")
        v = _values(snapshot, value)
        return ValueTiersSummary(value, sketch(v[v > 0]), len(snapshot))

    def fit_summary(self, summary: ValueTiersSummary) -> ValueTiers:
        """Learn the thresholds from a (merged) :class:`ValueTiersSummary`."""
        shares, value = self._params()
        if not isinstance(summary, ValueTiersSummary) or summary.value != value:
            raise ValidationError(
                f"fit_summary() takes the ValueTiersSummary of {value!r}, not {short_repr(summary)}"
            )
        positive = summary.positive
        self.exact_thresholds_ = positive.is_exact
        self.n_customers_ = summary.customers
        if len(positive) == 0:
            self.thresholds_ = np.full(len(shares), np.inf)
            self.revenue_ = 0.0
            self.n_super_users_ = 0
            return self
        lower, point, counts = positive.points()
        # revenue from the top, bucket by bucket (value by value while the sketch is exact)
        from_top = np.cumsum((point * counts)[::-1])
        total = float(from_top[-1])
        need = np.asarray(shares) * total
        idx = np.searchsorted(from_top, need * (1 - 1e-12), side="left")
        idx = np.minimum(idx, counts.size - 1)
        thresholds = lower[::-1][idx].astype(np.float64)
        thresholds.flags.writeable = False
        self.thresholds_ = thresholds
        self.revenue_ = total
        self.n_super_users_ = int(counts[lower >= thresholds[-1]].sum())
        return self

    def fit(self, snapshot: Snapshot) -> ValueTiers:
        """``fit_summary(summarize(snapshot))``: learn the thresholds from the snapshot."""
        return self.fit_summary(self.summarize(snapshot))

    # ------------------------------------------------------------------ apply
    def _rules(self) -> tuple[Rule, ...]:
        """One disjoint rule per segment for the fitted thresholds (one per share, descending)."""
        f = self.value
        rules: list[Rule] = []
        above: Rule | None = None
        for t in self.thresholds_.tolist():
            at_least = Compare(f, ">=", t)
            rules.append(at_least if above is None else And((at_least, Not(above))))
            above = at_least
        assert above is not None
        positive = Compare(f, ">", 0.0)
        rules.append(And((positive, Not(above))))
        rules.append(Not(positive))
        return tuple(rules)

    def super_users(self) -> Segment:
        """The super users as a segment: value at or above the last fitted threshold.

        A rule over the snapshot's features: evaluate it on any snapshot
        (``segment.members(snapshot)``).
        """
        check_fitted(self, "thresholds_")
        shares, value = self._params()
        t = float(self.thresholds_[-1])
        return Segment(
            f"Super users ({_pct(shares[-1])} of revenue)",
            And((Compare(value, ">", 0.0), Compare(value, ">=", t))),
            description=f"{value} >= {t:.6g}",
        )

    def apply(self, snapshot: Snapshot) -> Segmentation:
        """Put every customer of ``snapshot`` into a value tier by the fitted thresholds.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        ValidationError
            When ``snapshot`` is not a Snapshot or the value feature is not numeric.
        """
        check_fitted(self, "thresholds_")
        shares, value = self._params()
        check_snapshot(snapshot, "apply")
        v = _values(snapshot, value)
        thresholds = self.thresholds_
        k = len(shares)
        # tier = how many thresholds (descending) the value falls below; one pass per threshold
        labels = np.zeros(v.shape, dtype=np.int64)
        for t in thresholds.tolist():
            labels += v < t
        labels[~(v > 0)] = k + 1
        labels.flags.writeable = False
        notes = []
        if self.revenue_ > 0:
            supers = self.n_super_users_
            notes.append(
                f"super users: {supers} customers ({supers / max(self.n_customers_, 1):.1%}) "
                f"of the fitted pool bring {_pct(shares[-1])} of {value} (each at least "
                f"{thresholds[-1]:.6g})"
            )
        else:
            notes.append(f"no revenue in the fitted pool: nobody had a positive {value}")
        if not self.exact_thresholds_:
            notes.append(
                f"thresholds read from a quantile sketch (revenue within {RELATIVE_ERROR:.1%}): "
                "each tier brings at least 99% of its share"
            )
        descriptions = [
            f"{value} >= {t:.6g}" + ("" if i == 0 else f" and < {thresholds[i - 1]:.6g}")
            for i, t in enumerate(thresholds.tolist())
        ]
        descriptions += [
            f"0 < {value} < {thresholds[-1]:.6g}",
            f"{value} <= 0 or missing",
        ]
        advice = ["super users: serve first; personal service, privileges, do not disturb"] * k
        advice += ["grow: repeat-purchase offers, bundles", "convert or win back"]
        return Segmentation(
            strategy=f"value tiers by {value}",
            customer_ids=snapshot.customer_ids,
            labels=labels,
            names=self.names(),
            rules=self._rules(),
            rules_on="snapshot",
            descriptions=descriptions,
            advice=advice,
            columns={value: v},
            notes=notes,
        )


def _values(snapshot: Snapshot, name: str) -> NDArray[np.float64]:
    col = np.asarray(snapshot.feature(name))
    if col.dtype.kind not in "biuf":
        raise ValidationError(f"value feature {name!r} is not numeric")
    out = col.astype(np.float64)  # a copy this result owns
    if np.isinf(out).any():
        raise ValidationError(f"value feature {name!r} must not be infinite")
    out.flags.writeable = False
    return out


def share_from_top(v: NDArray[np.float64]) -> NDArray[np.float64]:
    """For each customer, the revenue share of everyone worth at least as much (NaN if <= 0).

    How deep in the revenue a customer sits: 0.3 means the customers worth at least this one
    bring 30% of all revenue. ``O(n log n)``, over the customers given (not partition by
    partition); computed on demand, not by :meth:`ValueTiers.apply`.

    Raises
    ------
    ValidationError
        When ``v`` is not a 1-D array of numbers.
    """
    v = numeric_array(v, "share_from_top: v")
    if v.ndim != 1:
        raise ValidationError(f"share_from_top takes a 1-D array, got shape {v.shape}")
    if np.isinf(v).any():
        raise ValidationError("share_from_top: values must not be infinite")
    out = np.full(v.shape, np.nan)
    positive = np.sort(v[v > 0])
    if positive.size == 0:
        return out
    total = positive.sum()
    # suffix sums of the ascending values: revenue of everyone at or above position i
    suffix = np.cumsum(positive[::-1])[::-1]
    has = v > 0
    out[has] = suffix[np.searchsorted(positive, v[has], side="left")] / total
    return out
