"""What the value models learn from: their sufficient statistics, mergeable across partitions.

A repeat-purchase model's likelihood is a sum over customers of a function of each customer's
(frequency, recency, T); Gamma-Gamma's, of each repeat buyer's (frequency, mean spend). So the
distinct rows with the number of customers on each (their weights) are all a fit needs, and the
summary of a union of customers is the union of the rows with the weights of equal rows added.
Rows are kept sorted, so the merged summary of any partitioning is *identical* to the summary
of the whole, and a fit on it is the same fit.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
from numpy.typing import ArrayLike

from privdomain.errors import ValidationError
from privdomain.value._fitting import (
    FloatArray,
    as_float_array,
    as_weights,
    check_repeat_inputs,
    unique_rows,
)
from privdomain.value._periods import check_time_unit

__all__ = ["RepeatSummary", "SpendSummary", "ValueSummary"]


def _readonly(values: FloatArray) -> FloatArray:
    values.flags.writeable = False
    return values


@attrs.frozen(eq=False)
class RepeatSummary:
    """Distinct (frequency, recency, T) rows and how many customers share each.

    What :class:`~privdomain.value.BetaGeo`, :class:`~privdomain.value.ModifiedBetaGeo` and
    :class:`~privdomain.value.ParetoNBD` fit on (``summarize`` gives it for a snapshot's
    buyers, ``fit_summary`` fits on it). Build one from columns with :meth:`of`; merge with
    :meth:`merge`.

    Attributes
    ----------
    frequency, recency, T : numpy.ndarray of float64
        The distinct rows, sorted by frequency, then recency, then ``T``.
    weights : numpy.ndarray of float64
        Customers on each row (all positive).
    time_unit : str or None
        Unit of ``recency`` and ``T`` (``None`` when the columns did not say).
    never_bought : float
        Customers of the snapshot without any purchase: not part of the fit (the models
        describe customers from their first purchase on), counted for the record.
    """

    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    weights: FloatArray
    time_unit: str | None
    never_bought: float = 0.0

    @classmethod
    def of(
        cls,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        weights: ArrayLike | None = None,
        *,
        time_unit: str | None = None,
        never_bought: float = 0.0,
    ) -> RepeatSummary:
        """The summary of customers given as columns (validated as :meth:`BetaGeo.fit` does).

        Raises
        ------
        ValidationError
            NaN, infinite or negative values, fractional frequencies, recency after ``T``,
            columns of different lengths, or bad weights.
        """
        x, tx, age = check_repeat_inputs(frequency, recency, T)
        w = np.ones(x.shape[0]) if weights is None else as_weights(weights, x.shape[0])
        unit = None if time_unit is None else check_time_unit(time_unit)
        (x, tx, age), w = unique_rows((x, tx, age), w)
        return cls(
            _readonly(x), _readonly(tx), _readonly(age), _readonly(w), unit, float(never_bought)
        )

    def __len__(self) -> int:
        """Distinct rows."""
        return int(self.frequency.shape[0])

    @property
    def n_customers(self) -> float:
        """Customers summarised (the total weight; non-buyers are not counted)."""
        return float(self.weights.sum())

    def merge(self, other: RepeatSummary) -> RepeatSummary:
        """The summary of the customers of both (equal rows add their weights)."""
        if not isinstance(other, RepeatSummary):
            raise ValidationError(
                f"a RepeatSummary merges with another, not {type(other).__name__}"
            )
        if self.time_unit != other.time_unit:
            raise ValidationError(
                f"summaries in different time units do not merge ({self.time_unit!r} and "
                f"{other.time_unit!r}): summarise every partition in one unit"
            )
        (x, tx, age), w = unique_rows(
            tuple(
                np.concatenate([getattr(self, name), getattr(other, name)])
                for name in ("frequency", "recency", "T")
            ),
            np.concatenate([self.weights, other.weights]),
        )
        return RepeatSummary(
            _readonly(x),
            _readonly(tx),
            _readonly(age),
            _readonly(w),
            self.time_unit,
            self.never_bought + other.never_bought,
        )

    def __repr__(self) -> str:
        unit = "" if self.time_unit is None else f", time_unit={self.time_unit!r}"
        return (
            f"RepeatSummary({self.n_customers:g} customers on {len(self)} distinct rows"
            f"{unit}, {self.never_bought:g} never bought)"
        )


@attrs.frozen(eq=False)
class SpendSummary:
    """Distinct (frequency, mean repeat spend) pairs of repeat buyers, with their weights.

    What :class:`~privdomain.value.GammaGamma` fits on. Only repeat buyers with a positive mean
    spend inform the model; repeat buyers whose repeat purchases cost nothing are counted in
    :attr:`excluded` (the fit reports them as ``n_excluded_``).

    Attributes
    ----------
    frequency, monetary_value : numpy.ndarray of float64
        The distinct pairs, sorted.
    weights : numpy.ndarray of float64
        Customers on each pair.
    excluded : float
        Repeat buyers (total weight) with a mean repeat spend of 0 or less.
    """

    frequency: FloatArray
    monetary_value: FloatArray
    weights: FloatArray
    excluded: float = 0.0

    @classmethod
    def of(
        cls, frequency: ArrayLike, monetary_value: ArrayLike, weights: ArrayLike | None = None
    ) -> SpendSummary:
        """The summary of customers given as columns (rows without a repeat purchase are
        skipped, as :meth:`GammaGamma.fit` skips them).

        Raises
        ------
        ValidationError
            NaN or infinite values, fractional or negative frequencies, columns of different
            lengths, or bad weights.
        """
        x = as_float_array(frequency, "frequency")
        m = as_float_array(monetary_value, "monetary_value")
        if x.shape != m.shape:
            raise ValidationError(
                f"frequency and monetary_value must have matching lengths, got {x.shape[0]} "
                f"and {m.shape[0]}"
            )
        if (x < 0).any() or (x != np.round(x)).any():
            raise ValidationError("frequency must hold non-negative whole numbers")
        w = np.ones(x.shape[0]) if weights is None else as_weights(weights, x.shape[0])
        return cls.of_checked(x, m, w)

    @classmethod
    def of_checked(cls, x: FloatArray, m: FloatArray, w: FloatArray) -> SpendSummary:
        """The summary of columns already validated and of one length."""
        usable = (x > 0) & (m > 0) & (w > 0)
        excluded = float(w[(x > 0) & (m <= 0)].sum())
        (x, m), w = unique_rows((x[usable], m[usable]), w[usable])
        return cls(_readonly(x), _readonly(m), _readonly(w), excluded)

    def __len__(self) -> int:
        """Distinct pairs."""
        return int(self.frequency.shape[0])

    @property
    def n_customers(self) -> float:
        """Repeat buyers with positive spend (the total weight)."""
        return float(self.weights.sum())

    def merge(self, other: SpendSummary) -> SpendSummary:
        """The summary of the customers of both (equal pairs add their weights)."""
        if not isinstance(other, SpendSummary):
            raise ValidationError(f"a SpendSummary merges with another, not {type(other).__name__}")
        (x, m), w = unique_rows(
            (
                np.concatenate([self.frequency, other.frequency]),
                np.concatenate([self.monetary_value, other.monetary_value]),
            ),
            np.concatenate([self.weights, other.weights]),
        )
        return SpendSummary(
            _readonly(x), _readonly(m), _readonly(w), self.excluded + other.excluded
        )

    def __repr__(self) -> str:
        return (
            f"SpendSummary({self.n_customers:g} repeat buyers on {len(self)} distinct pairs, "
            f"{self.excluded:g} excluded)"
        )


def summary_of(value: Any, kind: type[Any], method: str) -> Any:
    """``value`` if it is a ``kind``, else a ValidationError naming what ``method`` takes."""
    if not isinstance(value, kind):
        raise ValidationError(
            f"{method}() takes a {kind.__name__} (from summarize or merge), got "
            f"{type(value).__name__}"
        )
    return value


@attrs.frozen(eq=False)
class ValueSummary:
    """The sufficient statistics of both models of :class:`~privdomain.value.LifetimeValue`."""

    repeat: RepeatSummary
    spend: SpendSummary

    def merge(self, other: ValueSummary) -> ValueSummary:
        """The summary of the customers of both."""
        if not isinstance(other, ValueSummary):
            raise ValidationError(f"a ValueSummary merges with another, not {type(other).__name__}")
        return ValueSummary(self.repeat.merge(other.repeat), self.spend.merge(other.spend))
