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
Rule-only strategies have nothing to learn: their ``fit`` returns ``self`` (mix in
:class:`RuleBased`). Results share one base, :class:`privdomain.result.Result`.

Model files: ``privdomain/layering/clustering.py`` for a learner, ``privdomain/layering/
attributes.py`` for a rule-only strategy (see the Concepts page "The strategy contract").
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain.segment import short_repr
from privdomain.errors import ValidationError

if TYPE_CHECKING:
    from privdomain.domain.snapshot import Snapshot

__all__ = [
    "Mergeable",
    "NoSummary",
    "QuantileSketch",
    "RuleBased",
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


# ------------------------------------------------------------------ rule-only strategies
@attrs.frozen
class NoSummary:
    """The summary of a strategy with nothing to learn: it merges into itself."""

    def merge(self, other: NoSummary) -> NoSummary:
        """Nothing and nothing is nothing."""
        if not isinstance(other, NoSummary):
            raise ValidationError(
                f"a NoSummary merges only with another, not {type(other).__name__}"
            )
        return self


class RuleBased:
    """What every rule-only strategy shares: nothing to learn, so ``fit`` returns ``self``.

    It still follows the whole contract (:class:`SummarizingStrategy`), so that a pipeline fits
    every strategy the same way, on one machine or with :func:`fit_partitioned`.
    """

    __slots__ = ()

    def summarize(self, snapshot: Snapshot) -> NoSummary:
        """Nothing to summarise: a :class:`NoSummary`."""
        _check_snapshot(snapshot, "summarize")
        return NoSummary()

    def fit_summary(self, summary: NoSummary) -> Self:
        """Nothing to learn: ``self``."""
        if not isinstance(summary, NoSummary):
            raise ValidationError(
                f"fit_summary() of a rule-only strategy takes a NoSummary, not "
                f"{type(summary).__name__}"
            )
        return self

    def fit(self, snapshot: Snapshot) -> Self:
        """Nothing to learn: ``self``."""
        _check_snapshot(snapshot, "fit")
        return self


def _check_snapshot(snapshot: Any, method: str) -> None:
    from privdomain.domain.snapshot import Snapshot

    if not isinstance(snapshot, Snapshot):
        raise ValidationError(f"{method}() takes a Snapshot, got {type(snapshot).__name__}")


# ------------------------------------------------------------------ a mergeable quantile sketch
#: Bucket codes of positive values start here (negative values mirror them below zero), so
#: that codes sort as the values they stand for.
_OFFSET = 1 << 62


@attrs.frozen(eq=False)
class QuantileSketch:
    """Counts of values on a fixed logarithmic grid: a mergeable summary of a distribution.

    Values of magnitude ``m`` fall into buckets ``g**k <= m < g**(k+1)`` with
    ``g = (1 + e) / (1 - e)``, one grid for positive and a mirrored one for negative values, so
    that the bucket's midpoint ``2 g**k / (1 + 1/g)`` is within relative error ``e`` of every
    value in it; values closer to zero than ``min_value`` share a bucket of their own, read as
    0. A quantile is read from the buckets of the order statistics it needs, so it is within
    relative error :attr:`relative_error` of the exact quantile of the values summarised (for
    ``method="linear"``, of each of the two order statistics it interpolates), on one machine or
    merged from any partitions: merging adds the counts, so the merged sketch is identical to
    the sketch of all the values.

    **Exact while small.** With ``exact_up_to=n``, the sketch keeps every distinct value and
    its count while there are at most ``n`` of them, and its quantiles are exact; a merge that
    passes ``n`` distinct values turns into buckets. Whatever the partitioning, the result is
    the same: exact when the whole has at most ``n`` distinct values (then every part has too),
    bucketed otherwise (bucketing commutes with merging).

    The sum of the values is kept exactly (every finite double is an integer multiple of
    ``2**-1074``; the sketch adds those integers), so :meth:`sum` and :meth:`mean` are the
    correctly rounded sum and mean, identical for every partitioning.

    Build one with :meth:`of`; merge with :meth:`merge`.
    """

    relative_error: float
    keys: NDArray[np.int64]
    """Bucket code of each non-empty bucket, ascending as the values (0: the zero bucket);
    empty while the sketch is exact."""
    counts: NDArray[np.int64]
    """How many values each bucket (or each exact value) holds."""
    min_value: float = 1e-9
    exact_values: NDArray[np.float64] | None = None
    """The distinct values, ascending, while the sketch is exact; ``None`` once bucketed."""
    exact_up_to: int = 0
    """How many distinct values the sketch keeps exactly (0: always buckets)."""
    exact_sum: int = 0
    """The sum of the values, in units of ``2**-1074`` (exact)."""

    ZERO = 0

    @classmethod
    def of(
        cls,
        values: Any,
        *,
        relative_error: float = 0.005,
        min_value: float = 1e-9,
        exact_up_to: int = 0,
    ) -> QuantileSketch:
        """The sketch of ``values`` (finite numbers; NaN is skipped).

        Raises
        ------
        ValidationError
            When a value is infinite, ``relative_error`` does not lie in ``[1e-9, 0.5)``,
            ``min_value`` is not a finite number > 0 or ``exact_up_to`` not an integer >= 0.
        """
        _check_grid(relative_error, min_value, exact_up_to)
        x = np.asarray(values, dtype=np.float64).ravel()
        finite = np.isfinite(x)
        if not finite.all():
            nan = np.isnan(x)
            if not (finite | nan).all():
                raise ValidationError("a quantile sketch takes finite values")
            x = x[~nan]
        relative_error, min_value = float(relative_error), float(min_value)
        total = _exact_units(x)
        distinct = _distinct(x, int(exact_up_to))
        if distinct is None:  # more than exact_up_to distinct values: count buckets directly
            keys, counts = _bucket_counts(x, _gamma(relative_error), min_value)
            return cls(relative_error, keys, counts, min_value, None, int(exact_up_to), total)
        unique, counts = distinct
        sketch = cls(
            relative_error,
            np.zeros(0, dtype=np.int64),
            counts,
            min_value,
            unique,
            int(exact_up_to),
            total,
        )
        return sketch if unique.size <= exact_up_to else sketch._bucketed()

    @property
    def is_exact(self) -> bool:
        """Whether the sketch still holds every distinct value (its quantiles are exact)."""
        return self.exact_values is not None

    def __len__(self) -> int:
        return int(self.counts.sum())

    def merge(self, other: QuantileSketch) -> QuantileSketch:
        """The sketch of both sketches' values."""
        if not isinstance(other, QuantileSketch):
            raise ValidationError(f"a QuantileSketch merges with another, not {type(other)}")
        mine = (self.relative_error, self.min_value, self.exact_up_to)
        if (other.relative_error, other.min_value, other.exact_up_to) != mine:
            raise ValidationError(
                "only sketches with the same relative_error, min_value and exact_up_to merge"
            )
        total = self.exact_sum + other.exact_sum
        if self.exact_values is not None and other.exact_values is not None:
            values, counts = _add(
                np.concatenate([self.exact_values, other.exact_values]),
                np.concatenate([self.counts, other.counts]),
            )
            merged = attrs.evolve(self, counts=counts, exact_values=values, exact_sum=total)
            return merged if values.size <= self.exact_up_to else merged._bucketed()
        a, b = self._bucketed(), other._bucketed()
        keys, counts = _add(np.concatenate([a.keys, b.keys]), np.concatenate([a.counts, b.counts]))
        return attrs.evolve(a, keys=keys, counts=counts, exact_sum=total)

    def _bucketed(self) -> QuantileSketch:
        if self.exact_values is None:
            return self
        codes = _codes(self.exact_values, _gamma(self.relative_error), self.min_value)
        # the exact values ascend, so their codes do: equal codes are neighbours
        keys, counts = _add_sorted(codes, self.counts)
        return attrs.evolve(self, keys=keys, counts=counts, exact_values=None)

    # ------------------------------------------------------------------ reading
    def points(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
        """``(lower, value, count)`` of every bucket, ascending.

        ``lower`` bounds the bucket's values from below (every value in it is ``>= lower``),
        ``value`` is what the bucket reads as (its midpoint; 0 for the zero bucket). While the
        sketch is exact, both are the distinct values themselves.
        """
        if self.exact_values is not None:
            return self.exact_values, self.exact_values, self.counts
        gamma = _gamma(self.relative_error)
        codes = self.keys
        k = np.abs(codes) - _OFFSET
        k = np.where(codes == 0, 0, k).astype(np.float64)
        edge = np.power(gamma, k)
        mid = 2 * edge / (1 + 1 / gamma)
        above = np.power(gamma, k + 1)
        lower = np.where(codes > 0, edge, np.where(codes < 0, -above, -self.min_value))
        value = np.where(codes > 0, mid, np.where(codes < 0, -mid, 0.0))
        return lower, value, self.counts

    def quantile(self, q: Any, *, method: str = "inverted_cdf") -> NDArray[np.float64]:
        """Quantiles ``q`` (in [0, 1]) of the values summarised, within the relative error.

        ``method`` is numpy's: ``"inverted_cdf"`` (the smallest value whose cumulative count
        reaches ``q * n``) or ``"linear"`` (numpy's default: interpolated between the order
        statistics ``x[lo]`` and ``x[lo + 1]``, ``lo = floor(h)``, ``h = (n - 1) q``, as
        ``x[lo] + (h - lo) (x[lo + 1] - x[lo])``). While the sketch is exact, both are
        ``numpy.quantile`` of the values (``"linear"`` up to the rounding of that formula).
        """
        qs = np.atleast_1d(np.asarray(q, dtype=np.float64))
        if not ((qs >= 0) & (qs <= 1)).all():
            raise ValidationError("quantiles must lie in [0, 1]")
        if method not in ("inverted_cdf", "linear"):
            raise ValidationError(f"method must be 'inverted_cdf' or 'linear', not {method!r}")
        n = len(self)
        if n == 0:
            raise ValidationError("an empty sketch has no quantiles")
        _, value, counts = self.points()
        cumulative = np.cumsum(counts)
        if method == "inverted_cdf":
            target = np.maximum(np.ceil(qs * n), 1)
            return np.asarray(value[np.searchsorted(cumulative, target)], dtype=np.float64)
        h = (n - 1) * qs
        lo = np.floor(h).astype(np.int64)
        hi = np.minimum(lo + 1, n - 1)
        w = h - lo
        a = value[np.searchsorted(cumulative, lo, side="right")]
        b = value[np.searchsorted(cumulative, hi, side="right")]
        with np.errstate(over="ignore", invalid="ignore"):
            out = a + w * (b - a)
        if not np.isfinite(out).all():  # a gap past the float range: weigh the ends instead
            out = a * (1 - w) + b * w
        return np.asarray(out, dtype=np.float64)

    def top(self, k: int) -> float:
        """The largest ``lower`` (see :meth:`points`) with at least ``k`` values at or above it.

        While the sketch is exact: the ``k``-th largest value (ties with it included). Bucketed:
        the lower edge of the bucket that holds the ``k``-th largest value, so at least ``k``
        values reach it and it lies less than ``2 e / (1 + e)`` below that value (for positive
        values). With fewer than ``k`` values, the lowest ``lower``.
        """
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ValidationError(f"k must be an integer >= 1, not {short_repr(k)}")
        if len(self) == 0:
            raise ValidationError("an empty sketch has no top values")
        lower, _, counts = self.points()
        from_top = np.cumsum(counts[::-1])
        i = min(int(np.searchsorted(from_top, k)), counts.size - 1)
        return float(lower[::-1][i])

    def sum(self) -> float:
        """The sum of the values, correctly rounded (``inf`` past the float range)."""
        return _units_to_float(self.exact_sum, 1)

    def mean(self) -> float:
        """The mean of the values, correctly rounded (NaN when empty)."""
        n = len(self)
        return math.nan if n == 0 else _units_to_float(self.exact_sum, n)


def _check_grid(relative_error: Any, min_value: Any, exact_up_to: Any) -> None:
    if isinstance(relative_error, bool) or not isinstance(relative_error, int | float):
        raise ValidationError(f"relative_error must be a number, got {short_repr(relative_error)}")
    if not 1e-9 <= relative_error < 0.5:
        raise ValidationError(f"relative_error must lie in [1e-9, 0.5), got {relative_error!r}")
    if isinstance(min_value, bool) or not isinstance(min_value, int | float):
        raise ValidationError(f"min_value must be a number, got {short_repr(min_value)}")
    if not 0 < min_value < math.inf:
        raise ValidationError(f"min_value must be a finite number > 0, got {min_value!r}")
    if isinstance(exact_up_to, bool) or not isinstance(exact_up_to, int | np.integer):
        raise ValidationError(f"exact_up_to must be an integer, got {short_repr(exact_up_to)}")
    if exact_up_to < 0:
        raise ValidationError(f"exact_up_to must be >= 0, got {exact_up_to}")


def _add(keys: NDArray[Any], counts: NDArray[np.int64]) -> tuple[NDArray[Any], NDArray[np.int64]]:
    """The distinct keys, ascending, and the total count of each."""
    unique, inverse = np.unique(keys, return_inverse=True)
    total = np.zeros(unique.size, dtype=np.int64)
    np.add.at(total, inverse, counts)
    return unique, total


def _add_sorted(
    keys: NDArray[np.int64], counts: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """:func:`_add` of keys that already ascend (equal keys are neighbours): no sort."""
    if keys.size == 0:
        return keys, counts
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    return keys[starts], np.add.reduceat(counts, starts).astype(np.int64)


def _distinct(
    x: NDArray[np.float64], exact_up_to: int
) -> tuple[NDArray[np.float64], NDArray[np.int64]] | None:
    """``np.unique(x, return_counts=True)``, or ``None`` when ``x`` surely holds more than
    ``exact_up_to`` distinct values (they would only be bucketed: no need to sort them)."""
    if x.size > exact_up_to:
        whole = _distinct_integers(x)
        if whole is not None:
            return whole
        if _distinct_at_least(x, exact_up_to) > exact_up_to:
            return None
    unique, counts = np.unique(x, return_counts=True)
    return unique, counts.astype(np.int64)


def _distinct_integers(
    x: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.int64]] | None:
    """``np.unique(x, return_counts=True)`` by counting, when every value is a whole number in a
    range no wider than ``len(x)`` (counts, purchase days); else ``None``."""
    head = x[:64]
    if x.size == 0 or not (head == np.rint(head)).all():
        return None
    low, high = float(x.min()), float(x.max())
    if not (low > -(2.0**53) and high < 2.0**53 and high - low < x.size):
        return None
    if not (x == np.rint(x)).all():
        return None
    if low <= 0 <= high and np.signbit(x[x == 0]).any():
        return None  # -0.0 and 0.0 are one value to np.unique; leave the choice of sign to it
    offset = int(low)
    counts = np.bincount(x.astype(np.int64) - offset)
    present = np.flatnonzero(counts)
    return (present + offset).astype(np.float64), counts[present].astype(np.int64)


#: Multiplier of the hash that spreads values over the slots of :func:`_distinct_at_least`.
_SPREAD = np.uint64(0x9E3779B97F4A7C15)


def _distinct_at_least(x: NDArray[np.float64], limit: int) -> int:
    """A lower bound of the number of distinct values of ``x`` (NaN-free), without sorting:
    the slots a hash of the values fills (equal values fill one slot), less one for -0.0."""
    bits = max(10, (4 * max(limit, 1) - 1).bit_length())
    word = x.view(np.uint64)
    slots = word >> np.uint64(32)
    slots ^= word
    slots *= _SPREAD
    slots >>= np.uint64(64 - bits)
    filled = np.count_nonzero(np.bincount(slots.view(np.int64), minlength=1 << bits))
    return int(filled) - 1


def _bucket_counts(
    x: NDArray[np.float64], gamma: float, min_value: float
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """``_add(_codes(x, gamma, min_value), ones)`` for a non-empty ``x``: the codes of the
    non-empty buckets, ascending, and how many values each holds, counted rather than sorted."""
    if float(x.min()) >= min_value:  # positive values only, none in the zero bucket
        m, negative, n_big = x, None, x.size
    else:
        magnitude = np.abs(x)
        big = magnitude >= min_value
        n_big = int(np.count_nonzero(big))
        m, signed = (magnitude, x) if n_big == x.size else (magnitude[big], x[big])
        negative = signed < 0
        if not negative.any():
            negative = None
    found = _bucket_index(m, gamma) if n_big else None
    if found is None:
        return _add(_codes(x, gamma, min_value), np.ones(x.size, dtype=np.int64))
    index, base = found
    keys: list[NDArray[np.int64]] = []
    counts: list[NDArray[np.int64]] = []
    if negative is not None:
        below = np.bincount(index[negative])
        present = np.flatnonzero(below)[::-1]  # codes -(OFFSET + k) ascend as k descends
        keys.append(-(_OFFSET + base + present))
        counts.append(below[present])
        index = index[~negative]
    if n_big < x.size:
        keys.append(np.zeros(1, dtype=np.int64))
        counts.append(np.array([x.size - n_big], dtype=np.int64))
    above = np.bincount(index)
    present = np.flatnonzero(above)
    keys.append(_OFFSET + base + present)
    counts.append(above[present])
    return np.concatenate(keys).astype(np.int64), np.concatenate(counts).astype(np.int64)


def _bucket_index(m: NDArray[np.float64], gamma: float) -> tuple[NDArray[np.int64], int] | None:
    """The bucket ``k = index + base`` of every magnitude ``m >= min_value`` (``index >= 0``),
    or ``None`` when the buckets span too many indices to tabulate their edges.

    ``k`` comes from a logarithm, settled against the edges ``gamma**k`` themselves (computed
    once per bucket with ``np.power``), so that bucket ``k`` holds exactly the magnitudes in
    ``[g**k, g**(k+1))``: the logarithm may round across an edge.
    """
    if m.size == 0:
        return None
    k = np.log(m)
    k /= math.log(gamma)
    np.floor(k, out=k)
    low, high = float(k.min()) - 1, float(k.max()) + 2
    if high - low > max(4 * m.size, 1 << 16):
        return None
    base = int(low)
    index = k.astype(np.int64)
    index -= base
    with np.errstate(over="ignore"):
        edge = np.power(gamma, np.arange(base, int(high) + 1, dtype=np.int64).astype(np.float64))
    index -= m < edge[index]
    index += m >= edge[index + 1]
    return index, base


def _codes(x: NDArray[np.float64], gamma: float, min_value: float) -> NDArray[np.int64]:
    """The bucket code of every value: ``±(OFFSET + k)`` for ``g**k <= |x| < g**(k+1)``."""
    magnitude = np.abs(x)
    big = magnitude >= min_value
    m = magnitude[big]
    found = _bucket_index(m, gamma)
    if found is not None:
        k = found[0] + found[1]
    else:
        k = np.floor(np.log(m) / math.log(gamma)).astype(np.int64)
        # the logarithm may round across a bucket's edge: settle it against the edge itself,
        # so that a bucket holds exactly the values in [g**k, g**(k+1)) as computed by np.power
        k -= m < np.power(gamma, k.astype(np.float64))
        with np.errstate(over="ignore"):
            k += m >= np.power(gamma, (k + 1).astype(np.float64))
    codes = np.zeros(x.shape, dtype=np.int64)
    codes[big] = np.where(x[big] > 0, _OFFSET + k, -(_OFFSET + k))
    return codes


#: The low significand bits :func:`_exact_units` splits off each value.
_LOW_BITS = (1 << 26) - 1
#: Values added at once by :func:`_exact_units`: sums of this many halves stay exact doubles.
_CHUNK = 1 << 26


def _exact_units(x: NDArray[np.float64]) -> int:
    """``sum(x)`` exactly, in units of ``2**-1074`` (a Python int).

    Each value splits exactly into its upper 27 and lower 26 significand bits; values of one
    binary exponent are whole multiples of one power of two, so the halves of up to ``2**26``
    of them add up exactly in a double, exponent by exponent (``np.bincount``), and the sums
    turn exactly into units.
    """
    if x.size == 0:
        return 0
    bits = x.view(np.int64)
    exponent = bits >> 52
    exponent &= 0x7FF
    high = (bits & ~_LOW_BITS).view(np.float64)
    low = x - high
    total = 0
    for start in range(0, x.size, _CHUNK):
        group = exponent[start : start + _CHUNK]
        for part in (high[start : start + _CHUNK], low[start : start + _CHUNK]):
            sums = np.bincount(group, weights=part, minlength=2048)
            if not np.isfinite(sums).all():  # past the float range: add them one by one
                return _exact_units_sorted(x)
            for s in sums[sums != 0].tolist():
                numerator, denominator = s.as_integer_ratio()  # a power of two >= 2**-1074
                total += (numerator << 1074) // denominator
    return total


def _exact_units_sorted(x: NDArray[np.float64]) -> int:
    """:func:`_exact_units` by sorting on the exponent, for sums past the float range."""
    if x.size == 0:
        return 0
    mantissa, exponent = np.frexp(x)
    # x = m * 2**(e - 53) with an integer |m| < 2**53: exact in int64
    m = (mantissa * 2.0**53).astype(np.int64)
    shift = exponent.astype(np.int64) + (1074 - 53)
    order = np.argsort(shift, kind="stable")
    shift, m = shift[order], m[order]
    starts = np.flatnonzero(np.concatenate([[True], shift[1:] != shift[:-1]]))
    # halves of 26 bits: their sums stay exact in int64 for up to 2**36 values per exponent
    high = np.add.reduceat(m >> 26, starts).tolist()
    low = np.add.reduceat(m & ((1 << 26) - 1), starts).tolist()
    total = 0
    for s, h, lo in zip(shift[starts].tolist(), high, low, strict=True):
        v = (h << 26) + lo
        # every value is a whole number of units, so a right shift drops only zero bits
        total += v << s if s >= 0 else v >> -s
    return total


def _units_to_float(units: int, divisor: int) -> float:
    try:
        return units / (divisor << 1074)  # int / int is correctly rounded
    except OverflowError:
        return math.inf if units > 0 else -math.inf


@functools.cache
def _gamma(relative_error: float) -> float:
    return (1 + relative_error) / (1 - relative_error)
