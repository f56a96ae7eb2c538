"""The one contract every strategy follows, so that it runs on one machine or partition by
partition with the same answers.

A strategy *learns* only global statistics and *applies* them customer by customer:

``summarize(snapshot) -> Summary``
    The statistics one snapshot (or one partition of customers) contributes: counts, sums,
    histograms, sketches, sufficient statistics. Summaries merge with :func:`merge`, in any
    order and any grouping (a tree reduction on a cluster).
``fit_summary(summary) -> self``
    Learn the fitted attributes (names ending in ``_``) from a merged summary.
``fit(snapshot) -> self``
    ``fit_summary(summarize(snapshot))``: the single-machine shortcut.
``apply(snapshot) -> Result``
    Per customer, using only the fitted attributes: a result aligned to the snapshot's rows
    (every customer, in order; customers a strategy has nothing to say about get a defined
    value, never a missing row).

Because ``apply`` reads nothing global but what ``fit`` learned, applying partition by
partition and concatenating gives exactly what applying once gives; because summaries merge
exactly (or within a stated sketch bound), fitting on partitions gives what fitting once gives.
Rule-only strategies have nothing to learn: their ``fit`` returns ``self``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.errors import ValidationError

if TYPE_CHECKING:
    from privdomain.domain.snapshot import Snapshot

__all__ = [
    "Mergeable",
    "QuantileSketch",
    "Strategy",
    "SummarizingStrategy",
    "check_fitted",
    "fit_partitioned",
    "merge",
]


@runtime_checkable
class Mergeable(Protocol):
    """A summary that merges with another of its kind: ``a.merge(b)`` equals the summary of
    the union of what ``a`` and ``b`` summarise."""

    def merge(self, other: Self) -> Self: ...


@runtime_checkable
class Strategy(Protocol):
    """What the daily pipeline and the scale-out adapters call."""

    def fit(self, snapshot: Snapshot) -> Self: ...

    def apply(self, snapshot: Snapshot) -> Any: ...


@runtime_checkable
class SummarizingStrategy(Strategy, Protocol):
    """A learner whose fit scales out: per-partition summaries, merged, then one fit."""

    def summarize(self, snapshot: Snapshot) -> Mergeable: ...

    def fit_summary(self, summary: Any) -> Self: ...


def merge(summaries: Iterable[Mergeable]) -> Mergeable:
    """Merge summaries pairwise, as a tree (the order and grouping do not matter)."""
    parts = list(summaries)
    if not parts:
        raise ValidationError("merge needs at least one summary")
    while len(parts) > 1:
        parts = [
            parts[i].merge(parts[i + 1]) if i + 1 < len(parts) else parts[i]
            for i in range(0, len(parts), 2)
        ]
    return parts[0]


def fit_partitioned(strategy: SummarizingStrategy, snapshots: Iterable[Snapshot]) -> Any:
    """Fit ``strategy`` on several partitions: summarise each, merge, fit once."""
    return strategy.fit_summary(merge(strategy.summarize(s) for s in snapshots))


def check_fitted(estimator: object, *attributes: str) -> None:
    """Raise :class:`~privdomain.errors.NotFittedError` unless ``estimator`` has every fitted
    attribute named (default: any attribute ending in ``_``)."""
    from privdomain.errors import NotFittedError

    names = attributes or tuple(
        name
        for name in dir(estimator)
        if name.endswith("_") and not name.startswith("_") and not name.endswith("__")
    )
    missing = [name for name in names if not _has(estimator, name)]
    if not names or missing:
        raise NotFittedError(
            f"this {type(estimator).__name__} is not fitted yet: call fit (or fit_summary) "
            "before using it"
        )


def _has(obj: object, name: str) -> bool:
    try:
        getattr(obj, name)
    except AttributeError:
        return False
    return True


# ------------------------------------------------------------------ a mergeable quantile sketch
@attrs.frozen(eq=False)
class QuantileSketch:
    """Counts of values on a fixed logarithmic grid: a mergeable summary of a distribution.

    Positive values fall into buckets ``[g**k, g**(k+1))`` with ``g = (1 + e) / (1 - e)``, so
    that the bucket's midpoint ``2 g**k / (1 + 1/g)`` is within relative error ``e`` of every
    value in it; zero (and values below ``min_value``) has a bucket of its own; negative values
    are refused (the features strategies rank are counts, money and days). A quantile is read
    as the midpoint of the bucket that holds it, so it is within relative error
    :attr:`relative_error` of the exact ``method="inverted_cdf"`` quantile of the values
    summarised, on one machine or merged from any partitions (merging adds the counts).

    Build one with :meth:`of`; merge with :meth:`merge`.
    """

    relative_error: float
    keys: NDArray[np.int64]
    """Bucket index of each non-empty bucket (sorted); ``ZERO`` for the zero bucket."""
    counts: NDArray[np.int64]
    min_value: float = 1e-9

    ZERO = np.iinfo(np.int64).min

    @classmethod
    def of(
        cls, values: Any, *, relative_error: float = 0.005, min_value: float = 1e-9
    ) -> QuantileSketch:
        """The sketch of ``values`` (finite, non-negative; NaN is skipped)."""
        if not 0 < relative_error < 0.5:
            raise ValidationError(f"relative_error must lie in (0, 0.5), got {relative_error!r}")
        x = np.asarray(values, dtype=np.float64).ravel()
        x = x[~np.isnan(x)]
        if not np.isfinite(x).all() or (x < 0).any():
            raise ValidationError("a quantile sketch takes finite, non-negative values")
        gamma = _gamma(relative_error)
        keys = np.full(x.size, cls.ZERO, dtype=np.int64)
        positive = x >= min_value
        keys[positive] = np.floor(np.log(x[positive]) / math.log(gamma)).astype(np.int64)
        unique, counts = np.unique(keys, return_counts=True)
        return cls(relative_error, unique, counts.astype(np.int64), min_value)

    def __len__(self) -> int:
        return int(self.counts.sum())

    def merge(self, other: QuantileSketch) -> QuantileSketch:
        """The sketch of both sketches' values."""
        if (other.relative_error, other.min_value) != (self.relative_error, self.min_value):
            raise ValidationError("only sketches with the same relative_error and min_value merge")
        keys = np.concatenate([self.keys, other.keys])
        counts = np.concatenate([self.counts, other.counts])
        unique, inverse = np.unique(keys, return_inverse=True)
        return QuantileSketch(
            self.relative_error,
            unique,
            np.bincount(inverse, weights=counts, minlength=unique.size).astype(np.int64),
            self.min_value,
        )

    def quantile(self, q: Any) -> NDArray[np.float64]:
        """Quantiles ``q`` (in [0, 1]) of the values summarised, within the relative error."""
        qs = np.atleast_1d(np.asarray(q, dtype=np.float64))
        if not ((qs >= 0) & (qs <= 1)).all():
            raise ValidationError("quantiles must lie in [0, 1]")
        n = len(self)
        if n == 0:
            raise ValidationError("an empty sketch has no quantiles")
        cumulative = np.cumsum(self.counts)
        # the inverted CDF: the smallest value whose cumulative count reaches q * n
        target = np.maximum(np.ceil(qs * n), 1)
        bucket = np.searchsorted(cumulative, target)
        gamma = _gamma(self.relative_error)
        keys = self.keys[bucket]
        midpoint = 2 * gamma ** keys.astype(np.float64) / (1 + 1 / gamma)
        return np.where(keys == self.ZERO, 0.0, midpoint)


@functools.cache
def _gamma(relative_error: float) -> float:
    return (1 + relative_error) / (1 - relative_error)
