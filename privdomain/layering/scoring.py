"""Band scores 1..k per column, learned from quantiles, a centre, or fixed business thresholds."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin

from privdomain.domain.segment import short_repr
from privdomain.errors import EmptyPoolError, InvalidRuleError, ValidationError
from privdomain.layering._bands import bands
from privdomain.layering._base import (
    CollapsedBandsWarning,
    is_collection,
    is_integer,
    is_number,
    sketch,
)
from privdomain.layering._sklearn import validate_X
from privdomain.strategy import QuantileSketch, check_fitted

__all__ = ["BINNINGS", "RFMScorer", "fixed_edges", "learn_edges", "score_columns"]

#: How :class:`RFMScorer` makes band edges.
BINNINGS = ("quantile", "mean", "median", "fixed")


class RFMScorer(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Score every column of ``X`` into bands 1..``levels`` by edges learned in ``fit``.

    The band of a value ``x`` is ``1 + #{edges strictly below x}`` (bins closed on the right,
    as ``pandas.cut``): it depends on the value alone, so equal values always get equal scores,
    whatever the row order and even when edges coincide because many rows share a value (a band
    between equal edges is then empty and its score unused). For the columns listed in
    ``lower_is_better`` the score is reversed (``levels + 1 - band``): a lower value scores
    higher, as recency does. A NaN value scores 0 (no score) and is left out of learning.

    This is the scorer behind :class:`RFMLayering`; on its own it scores any columns, e.g.
    recency, frequency and monetary value of an RFM matrix (the default reverses column 0).

    Parameters
    ----------
    levels : int, default 5
        Scores run from 1 to ``levels``.
    binning : {"quantile", "mean", "median", "fixed"}, default "quantile"
        ``"quantile"``: edges at the ``j/levels`` quantiles of each column (linear
        interpolation between order statistics, numpy's default), exact up to
        :data:`~privdomain.layering._base.EXACT_UP_TO` distinct values per column and within
        0.5% beyond (see :class:`~privdomain.strategy.QuantileSketch`); ``"mean"``: one edge
        at the column's mean (exact, correctly rounded), ``"median"``: at its median (as the
        quantiles); both need ``levels=2``; ``"fixed"``: the thresholds in ``edges``, nothing
        learned.
    edges : sequence of sequences of float or None, default None
        For ``binning="fixed"``: per column, ``levels - 1`` ascending thresholds.
    lower_is_better : sequence of int, default (0,)
        Columns whose score is reversed. Indices beyond the number of columns are ignored.

    Attributes
    ----------
    edges_ : numpy.ndarray, shape (n_features_in_, levels - 1)
        The ascending band edges of every column.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    """

    def __init__(
        self,
        levels: int = 5,
        binning: str = "quantile",
        edges: Sequence[Sequence[float]] | None = None,
        lower_is_better: Sequence[int] = (0,),
    ) -> None:
        self.levels = levels
        self.binning = binning
        self.edges = edges
        self.lower_is_better = lower_is_better

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = []  # scores are integers
        return tags

    def _more_tags(self) -> dict[str, Any]:  # scikit-learn < 1.6
        return {"allow_nan": True, "preserves_dtype": []}

    def _check_params(self) -> int:
        levels = self.levels
        if not isinstance(levels, int | np.integer) or isinstance(levels, bool) or levels < 2:
            raise ValidationError(f"levels must be an integer >= 2, got {short_repr(levels)}")
        if not isinstance(self.binning, str) or self.binning not in BINNINGS:
            raise ValidationError(
                f"binning must be one of {BINNINGS}, not {short_repr(self.binning)}"
            )
        if self.binning != "fixed" and self.edges is not None:
            raise ValidationError(
                f"edges are business thresholds: they need binning='fixed', not {self.binning!r}"
            )
        reverse = self.lower_is_better
        if not is_collection(reverse):
            raise ValidationError(
                f"lower_is_better must be a sequence of column indices, not {short_repr(reverse)}"
            )
        for j in reverse:
            if not is_integer(j) or j < 0:
                raise ValidationError(
                    f"lower_is_better holds column indices (integers >= 0), not {short_repr(j)}"
                )
        if self.binning in ("mean", "median") and levels != 2:
            raise ValidationError(
                f"binning={self.binning!r} splits at one centre, so it needs levels=2, not {levels}"
            )
        return int(levels)

    def fit(self, X: Any, y: Any = None) -> RFMScorer:
        """Learn the band edges of every column (NaN values are left out).

        Raises
        ------
        ValidationError
            When a parameter is invalid or ``X`` is not a 2-D array of numbers without
            infinity.
        EmptyPoolError
            When a column has no value to learn from (all NaN).

        Warns
        -----
        CollapsedBandsWarning
            When quantile edges of a column coincide (fewer distinct edges than bands).
        """
        k = self._check_params()
        arr = validate_X(self, X, reset=True, allow_nan=True)
        n_cols = arr.shape[1]
        if self.binning == "fixed":
            edges = fixed_edges(self.edges, k, n_cols)
        else:
            edges = learn_edges([sketch(arr[:, j]) for j in range(n_cols)], k, self.binning)
        edges.flags.writeable = False
        self.edges_ = edges
        if self.binning == "quantile":
            distinct = [int(np.unique(row).size) for row in edges]
            collapsed = [f"column {j}: {d} distinct" for j, d in enumerate(distinct) if d < k - 1]
            if collapsed:
                warnings.warn(
                    f"quantile bands collapse ({'; '.join(collapsed)} edges for {k - 1}): many "
                    "rows share a value, so bands between equal edges hold nobody",
                    CollapsedBandsWarning,
                    stacklevel=2,
                )
        return self

    def transform(self, X: Any) -> NDArray[np.int64]:
        """Scores 1..levels per column (0 where a value is NaN)."""
        check_fitted(self, "edges_")
        arr = validate_X(self, X, reset=False, allow_nan=True)
        return score_columns(arr, self.edges_, {int(j) for j in self.lower_is_better})

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.object_]:
        """``<input name>_score`` for every column (``x0_score``... without names)."""
        check_fitted(self, "edges_")
        if input_features is None:
            input_features = getattr(self, "feature_names_in_", None)
        if input_features is None:
            input_features = [f"x{j}" for j in range(self.n_features_in_)]
        names = [str(f) for f in input_features]
        if len(names) != self.n_features_in_:
            raise ValidationError(
                f"input_features has {len(names)} names, expected {self.n_features_in_}"
            )
        return np.array([f"{n}_score" for n in names], dtype=object)


def learn_edges(
    sketches: Sequence[QuantileSketch], levels: int, binning: str
) -> NDArray[np.float64]:
    """Band edges of every column from its sketch: quantiles, mean or median.

    Quantiles interpolate linearly between order statistics (numpy's default), made
    non-decreasing; the mean is exact. While a sketch is exact, so are its quantiles; bucketed,
    each order statistic is read within the sketch's relative error.

    Raises
    ------
    EmptyPoolError
        When a column has no value to learn from.
    """
    edges = np.empty((len(sketches), levels - 1), dtype=np.float64)
    for j, column in enumerate(sketches):
        if len(column) == 0:
            raise EmptyPoolError(f"column {j} has no values to learn score edges from")
        if binning == "quantile":
            q = np.arange(1, levels) / levels
            edges[j] = np.maximum.accumulate(column.quantile(q, method="linear"))
        elif binning == "mean":
            edges[j] = column.mean()
        else:
            edges[j] = column.quantile(0.5, method="linear")[0]
    return edges


def score_columns(
    arr: NDArray[np.float64], edges: NDArray[np.float64], reverse: set[int]
) -> NDArray[np.int64]:
    """Band scores of every column against its edges, reversed for the columns in ``reverse``
    (``levels + 1 - band``); 0 where a value is NaN."""
    k = edges.shape[1] + 1
    out = np.empty(arr.shape, dtype=np.int64, order="F")
    for j in range(arr.shape[1]):
        col = arr[:, j]
        band = bands(col, edges[j])
        if j in reverse:
            np.subtract(k + 1, band, out=band)
        present = col == col  # False exactly where NaN
        np.multiply(band, present, out=out[:, j], casting="unsafe")
    return out


def fixed_edges(
    edges: Sequence[Sequence[float]] | None, levels: int, n_cols: int
) -> NDArray[np.float64]:
    """Validate fixed thresholds: ``n_cols`` rows of ``levels - 1`` ascending finite numbers."""
    if edges is None:
        raise ValidationError(
            f"binning='fixed' needs edges: {levels - 1} ascending thresholds per column"
        )
    if not is_collection(edges):
        raise ValidationError(f"edges must be rows of thresholds, not {short_repr(edges)}")
    rows = list(edges)
    for j, row in enumerate(rows):
        if not is_collection(row) or not hasattr(row, "__len__"):
            raise ValidationError(
                f"edges row {j} must be a sequence of numbers, not {short_repr(row)}"
            )
        if len(row) != levels - 1:
            raise ValidationError(f"edges row {j} has {len(row)} thresholds, expected {levels - 1}")
    for row in rows:
        for v in row:
            if not is_number(v):
                raise ValidationError(f"edges must be numbers, not {short_repr(v)}")
    try:
        arr = np.array(rows, dtype=np.float64).reshape(len(rows), levels - 1)
    except (TypeError, ValueError):
        raise ValidationError(f"edges must be numbers, got {short_repr(edges)}") from None
    if arr.shape != (n_cols, levels - 1):
        raise ValidationError(
            f"edges must have {n_cols} rows of {levels - 1} thresholds, got shape {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValidationError("edges must be finite")
    if (np.diff(arr, axis=1) < 0).any():
        raise InvalidRuleError(f"edges must be ascending, got {arr.tolist()}")
    return arr
