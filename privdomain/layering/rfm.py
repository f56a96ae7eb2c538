"""RFM layering: recency, frequency and monetary scores, and named segments from score tables.

How scores are made
-------------------
``fit`` learns, from the customers who have bought, ``levels - 1`` ascending *edges* per
feature; ``transform`` turns each value into a *band* ``1 + #{edges strictly below the value}``
(bins closed on the right, as ``pandas.cut``). F and M scores are the band; the R score is
``levels + 1 - band`` of recency (days since the last purchase), so a more recent purchase
scores higher. The score depends on the value alone, never on row order or ranks: equal values
always get equal scores, even when quantile edges collapse because many customers share a value
(e.g. most customers bought once: their F is 1, and the next score used may be 4, since
F says which quantile band the value falls in).

Edges come from ``binning``:

- ``"quantile"``: the ``j/levels`` quantiles (linear interpolation) of the buyers' values;
- ``"mean"`` / ``"median"``: one edge at the buyers' mean or median (two levels: high/low,
  the centre of the Chinese 8-class table);
- ``"fixed"``: business thresholds you pass in ``recency_edges``, ``frequency_edges`` and
  ``monetary_edges`` (nothing is learned, so adding customers never moves anyone else).

Customers who never bought have no recency: they get the scores 0, 0, 0, the segment
``"Never bought"`` (always present, last), and they do not take part in learning edges.

Frequency is counted in distinct purchase days (``purchase_days``) by default: two orders on
one day are one visit, and splitting a basket must not make a customer look loyal. Pass
``frequency="orders"`` to count orders.

Honest on real data
-------------------
Learned edges rank buyers against each other, not against time. In a lapsed cohort (everybody's
last purchase a year or more ago) the "most recent" quantiles are still a year silent, and the
classic table would call those customers Champions ("bought recently"). So ``fit`` also learns
the pool's rhythm, :attr:`RFMLayering.median_interpurchase_days_`: the median over repeat
buyers of ``(last - first purchase) / (purchase_days - 1)`` in days. When the recency that still
scores in the upper half of R runs past ``recent_multiple`` times that rhythm, ``fit`` emits a
:class:`~privdomain.layering.RecencyWarning` and says so in every result (its
``warnings``, shown by ``explain``). When many buyers share a value, quantile edges coincide
and bands collapse: :class:`~privdomain.layering.CollapsedBandsWarning`, also repeated in the
results. Both are learned in ``fit``; ``transform``, ``predict`` and ``layer`` only apply what
was learned.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin

from privdomain.domain.segment import And, Compare, Not, Rule, short_repr
from privdomain.domain.snapshot import Snapshot
from privdomain.errors import EmptyPoolError, ValidationError
from privdomain.layering._bands import boxes_rule, describe_bands
from privdomain.layering._base import (
    CollapsedBandsWarning,
    RecencyWarning,
    check_snapshot,
    features_from_snapshot,
    is_collection,
    is_number,
)
from privdomain.layering._result import LazyRules, Segmentation
from privdomain.layering._sklearn import validate_X
from privdomain.layering.rfm_table import CHINESE_8, CLASSIC_11, OTHER, RFMTable
from privdomain.layering.scoring import RFMScorer, check_fitted, fixed_edges, learn_edges

__all__ = ["RFMLayering", "rfm_features"]

_TABLES = {"classic": CLASSIC_11, "chinese": CHINESE_8}
_DEFAULT_BINNING = {"classic": "quantile", "chinese": "mean"}
_RECENCY = "recency_days"


def rfm_features(
    snapshot: Snapshot, *, frequency: str = "purchase_days", monetary: str = "net_spend"
) -> NDArray[np.float64]:
    """The ``(customers, 3)`` matrix ``[recency_days, frequency, monetary]`` of a snapshot.

    Recency is NaN for customers who never bought. Frequency defaults to distinct purchase
    days (two orders on one day are one visit).
    """
    return features_from_snapshot(snapshot, (_RECENCY, frequency, monetary))


def median_interpurchase_days(snapshot: Snapshot) -> float:
    """The pool's rhythm: the median over repeat buyers of the mean days between purchase days.

    For each customer with purchases on at least two days, ``(last purchase - first purchase)
    / (purchase_days - 1)`` in days; the median of these. NaN when nobody bought on two days.
    """
    check_snapshot(snapshot, "median_interpurchase_days")
    days = snapshot.purchase_days
    repeat = days >= 2
    if not repeat.any():
        return math.nan
    span = (snapshot.last_purchase[repeat] - snapshot.first_purchase[repeat]) / np.timedelta64(
        1, "D"
    )
    return float(np.median(span / (days[repeat] - 1)))


def _upper_half_bands(levels: int) -> int:
    """How many recency bands score in the upper half of R (R > (levels + 1) / 2)."""
    return (levels + 2) // 2 - 1


class RFMLayering(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Score customers on recency, frequency and monetary value and name their segment.

    A scikit-learn transformer: ``fit`` learns score edges, ``transform`` returns the
    ``(r, f, m)`` scores, ``predict`` the segment code, :meth:`layer` a full
    :class:`Segmentation` with reasons. ``X`` is either a :class:`~privdomain.Snapshot` or a
    2-D array with three columns in this order: **recency** (days since the last purchase,
    NaN for customers who never bought), **frequency** (e.g. orders) and **monetary** value
    (e.g. net spend).

    Parameters
    ----------
    table : {"classic", "chinese"} or RFMTable or None, default "classic"
        Named segments: ``"classic"`` is :data:`~privdomain.layering.CLASSIC_11` (5 levels),
        ``"chinese"`` is :data:`~privdomain.layering.CHINESE_8` (2 levels, high/low against a
        centre), or your own :class:`RFMTable`. ``None`` gives one segment per score cell
        (:meth:`RFMTable.cells`).
    binning : {"quantile", "mean", "median", "fixed"} or None, default None
        How edges are made (see the module documentation). ``None``: ``"mean"`` for the
        Chinese table, ``"quantile"`` otherwise.
    levels : int or None, default None
        Score levels. Fixed by a table; with ``table=None`` defaults to 5.
    recency_edges, frequency_edges, monetary_edges : sequence of float or None
        For ``binning="fixed"``: ``levels - 1`` ascending thresholds in the feature's units.
        A value equal to a threshold falls in the band below it (for recency: the better one).
    frequency, monetary : str, default "purchase_days" and "net_spend"
        The snapshot features used for F and M. F counts distinct purchase days by default
        (two orders on one day are one visit); ``"orders"`` counts orders. M may be e.g.
        ``"gross_spend"``.
    recent_multiple : float or None, default 3.0
        How many median inter-purchase times still count as recent. When learned recency
        edges let customers silent for longer score in the upper half of R, ``fit`` warns
        (:class:`~privdomain.layering.RecencyWarning`) and every result says so
        (``Segmentation.warnings``, shown by ``explain``). ``None`` turns the check off.
        Checked only when fitting on a snapshot (an array has no purchase dates) and only
        for learned edges.

    Attributes
    ----------
    scorer_ : RFMScorer
        The fitted scorer (edges learned from buyers).
    edges_ : numpy.ndarray, shape (3, levels - 1)
        The band edges of recency, frequency and monetary value, in their units.
    levels_ : int
        The number of score levels.
    table_ : RFMTable
        The table used for segments.
    segment_names_ : tuple of str
        The segment of every code returned by :meth:`predict`.
    n_buyers_ : int
        How many customers with a purchase the edges were learned from.
    median_interpurchase_days_ : float
        The median over repeat buyers of their mean days between purchase days (see
        :func:`median_interpurchase_days`); NaN when fitted on an array or when nobody bought
        on two days.
    recent_days_ : float
        ``recent_multiple * median_interpurchase_days_``: the longest silence called recent
        (NaN when unknown or when the check is off).
    recent_reach_days_ : float
        The longest recency that still scores in the upper half of R (the edge of the lowest
        upper-half band).
    empty_bands_ : numpy.ndarray of int, shape (3,)
        Per feature, how many bands hold nobody because their edges coincide.
    fit_warnings_ : tuple of str
        What ``fit`` warned about (also in every result's ``warnings``, shown by ``explain``).
    n_features_in_ : int
        Always 3.

    Warns
    -----
    RecencyWarning
        From ``fit``, when learned recency bands reach past ``recent_days_``.
    CollapsedBandsWarning
        From ``fit``, when quantile edges coincide (fewer distinct edges than bands).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[3, 5, 900.0], [40, 1, 50.0], [200, 2, 120.0], [np.nan, 0, 0.0]])
    >>> rfm = RFMLayering(table="chinese").fit(X)
    >>> rfm.transform(X).tolist()
    [[2, 2, 2], [2, 1, 1], [1, 1, 1], [0, 0, 0]]
    >>> [rfm.segment_names_[c] for c in rfm.predict(X)]
    ['重要价值客户', '一般发展客户', '一般挽留客户', 'Never bought']
    """

    def __init__(
        self,
        table: str | RFMTable | None = "classic",
        binning: str | None = None,
        levels: int | None = None,
        recency_edges: Sequence[float] | None = None,
        frequency_edges: Sequence[float] | None = None,
        monetary_edges: Sequence[float] | None = None,
        frequency: str = "purchase_days",
        monetary: str = "net_spend",
        recent_multiple: float | None = 3.0,
    ) -> None:
        self.table = table
        self.binning = binning
        self.levels = levels
        self.recency_edges = recency_edges
        self.frequency_edges = frequency_edges
        self.monetary_edges = monetary_edges
        self.frequency = frequency
        self.monetary = monetary
        self.recent_multiple = recent_multiple

    # ------------------------------------------------------------------ sklearn plumbing
    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        # recency and frequency are never negative (a negative spend after refunds is fine,
        # but scikit-learn's tag is per estimator, and its generic checks only need data)
        tags.input_tags.positive_only = True
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = []  # scores are integers
        return tags

    def _more_tags(self) -> dict[str, Any]:  # scikit-learn < 1.6
        return {"allow_nan": True, "preserves_dtype": [], "requires_positive_X": True}

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.object_]:
        """``["r_score", "f_score", "m_score"]``."""
        self._check_fitted()
        return np.array(["r_score", "f_score", "m_score"], dtype=object)

    # ------------------------------------------------------------------ fit
    def _resolve(self) -> tuple[RFMTable, str]:
        table = self.table
        if table is None:
            levels = 5 if self.levels is None else self.levels
            resolved = RFMTable.cells(levels)
            default_binning = "quantile"
        elif isinstance(table, RFMTable):
            resolved, default_binning = table, "quantile"
        elif isinstance(table, str) and table in _TABLES:
            resolved, default_binning = _TABLES[table], _DEFAULT_BINNING[table]
        else:
            raise ValidationError(
                f"table must be 'classic', 'chinese', an RFMTable or None, not {table!r}"
            )
        if self.levels is not None and self.levels != resolved.levels:
            raise ValidationError(
                f"table {resolved.name!r} has {resolved.levels} levels; got levels={self.levels}"
            )
        binning = default_binning if self.binning is None else self.binning
        for what in ("frequency", "monetary"):
            name = getattr(self, what)
            if not isinstance(name, str) or not name:
                raise ValidationError(f"{what} must be a feature name (str), not {name!r}")
        multiple = self.recent_multiple
        if multiple is not None and (not is_number(multiple) or not 0 < float(multiple) < math.inf):
            raise ValidationError(
                f"recent_multiple must be a finite number > 0 or None, not {short_repr(multiple)}"
            )
        if binning != "fixed":
            given = [
                n
                for n in ("recency_edges", "frequency_edges", "monetary_edges")
                if getattr(self, n) is not None
            ]
            if given:
                raise ValidationError(
                    f"{', '.join(given)} are business thresholds: they need binning='fixed' "
                    f"(binning is {binning!r}, which learns the edges)"
                )
        return resolved, binning

    def _matrix(
        self, X: Any, *, reset: bool, features: tuple[str, str] | None = None
    ) -> NDArray[np.float64]:
        if isinstance(X, Snapshot):
            # a snapshot's columns are typed and shaped already: skip sklearn's generic checks
            if reset:
                self.n_features_in_ = 3
                if hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
            if len(X) == 0:
                if reset:
                    raise EmptyPoolError("the snapshot has no customers to layer")
                return np.empty((0, 3))
            frequency, monetary = features or (self.frequency, self.monetary)
            arr = rfm_features(X, frequency=frequency, monetary=monetary)
            if not np.isfinite(arr[:, 1:]).all():
                raise ValidationError(
                    f"{frequency} and {monetary} must be finite for every customer"
                )
            if (arr[:, 1] < 0).any():
                raise ValidationError(f"frequency ({frequency}) must not be negative")
            return arr
        arr = validate_X(self, X, reset=reset, allow_nan=True)
        if arr.shape[1] != 3:
            raise ValidationError(
                f"RFM needs 3 columns (recency, frequency, monetary); got {arr.shape[1]} feature(s)"
            )
        if np.isnan(arr[:, 1:]).any():
            buyers = ~np.isnan(arr[:, 0])
            if np.isnan(arr[buyers, 1:]).any():
                raise ValidationError(
                    "frequency and monetary value must not be NaN for a customer with a recency "
                    "(NaN recency marks a customer who never bought)"
                )
        if (arr[:, 0] < 0).any():  # NaN compares false: customers who never bought pass
            raise ValidationError("recency (days since the last purchase) must not be negative")
        if (arr[:, 1] < 0).any():
            raise ValidationError("frequency must not be negative")
        return arr

    def fit(self, X: Any, y: Any = None) -> RFMLayering:
        """Learn the score edges from the customers who have bought, and check them.

        Parameters
        ----------
        X : Snapshot or array-like of shape (n_customers, 3)
            Recency, frequency, monetary (see the class documentation).
        y : ignored

        Raises
        ------
        EmptyPoolError
            When the snapshot is empty, or no customer has bought (no recency to learn from)
            and ``binning`` is not ``"fixed"``.
        ValidationError
            When a parameter is invalid, or ``X`` holds infinity, a NaN frequency or spend for
            a buyer, or a negative recency or frequency.

        Warns
        -----
        RecencyWarning
            When learned recency bands reach past ``recent_multiple`` median inter-purchase
            times (a snapshot only).
        CollapsedBandsWarning
            When quantile edges coincide.
        """
        table, binning = self._resolve()
        arr = self._matrix(X, reset=True)
        self._fit_matrix(arr, X, table, binning)
        self._warn()
        return self

    def _fit_matrix(
        self, arr: NDArray[np.float64], X: Any, table: RFMTable, binning: str
    ) -> RFMLayering:
        bought = ~np.isnan(arr[:, 0])
        n_buyers = int(bought.sum())
        fixed: list[Sequence[float]] | None = None
        if binning == "fixed":
            given = (self.recency_edges, self.frequency_edges, self.monetary_edges)
            fixed = [e for e in given if e is not None]
            missing = [
                n
                for n, e in zip(("recency", "frequency", "monetary"), given, strict=True)
                if e is None
            ]
            if missing:
                raise ValidationError(
                    f"binning='fixed' needs {', '.join(m + '_edges' for m in missing)} "
                    f"({table.levels - 1} ascending thresholds each)"
                )
            for what, e in zip(("recency", "frequency", "monetary"), fixed, strict=True):
                if not is_collection(e) or not hasattr(e, "__len__"):
                    raise ValidationError(
                        f"{what}_edges must be a sequence of {table.levels - 1} numbers, "
                        f"not {short_repr(e)}"
                    )
                if len(e) != table.levels - 1:
                    raise ValidationError(
                        f"{what}_edges needs {table.levels - 1} thresholds, got {len(e)}"
                    )
        elif n_buyers == 0:
            raise EmptyPoolError(
                "no customer has bought yet: RFM edges are learned from buyers "
                "(use binning='fixed' to score with business thresholds)"
            )
        scorer = RFMScorer(levels=table.levels, binning=binning, edges=fixed, lower_is_better=(0,))
        scorer._check_params()
        if fixed is not None:
            edges = fixed_edges(fixed, table.levels, 3)
        else:  # learned from buyers only, column by column
            everyone = n_buyers == arr.shape[0]
            # customers who never bought are masked as NaN, which learn_edges leaves out
            cols = [
                arr[:, j] if everyone else np.where(bought, arr[:, j], np.nan) for j in range(3)
            ]
            edges = learn_edges(cols, table.levels, binning)
        edges.flags.writeable = False
        scorer.edges_ = edges
        scorer.n_features_in_ = 3
        self.scorer_ = scorer
        self.edges_ = scorer.edges_
        self.levels_ = table.levels
        self.table_ = table
        self.binning_ = binning
        self.segment_names_ = table.names
        self.n_buyers_ = n_buyers
        self.features_ = (_RECENCY, self.frequency, self.monetary)
        self._check_bands(X)
        return self

    def _check_bands(self, X: Any) -> None:
        """Learn the pool's rhythm and say where the learned bands mislead."""
        k = self.levels_
        edges = self.edges_
        ipt = median_interpurchase_days(X) if isinstance(X, Snapshot) else math.nan
        multiple = self.recent_multiple
        recent = math.nan if multiple is None else float(multiple) * ipt
        upper = _upper_half_bands(k)
        reach = float(edges[0, upper - 1])
        self.median_interpurchase_days_ = ipt
        self.recent_days_ = recent
        self.recent_reach_days_ = reach
        distinct = np.array([np.unique(row).size for row in edges], dtype=np.int64)
        self.empty_bands_ = (k - 1) - distinct
        messages: list[tuple[str, type[Warning]]] = []
        if self.binning_ != "fixed" and recent == recent and reach > recent:
            assert multiple is not None
            messages.append(
                (
                    f"recency bands reach past recent: a last purchase up to {reach:.0f} days "
                    f"ago still scores R >= {k + 1 - upper} of {k}, but repeat buyers of this "
                    f"pool buy every {ipt:.1f} days (median), and {float(multiple):g} x "
                    f"{ipt:.1f} = {recent:.0f} days is the longest silence called recent; "
                    "learned edges rank buyers against each other, not against time, so "
                    "customers silent for longer are scored as recent (a lapsed pool looks like "
                    "this). Score recency with business thresholds (binning='fixed', "
                    "recency_edges in days) or raise recent_multiple",
                    RecencyWarning,
                )
            )
        if self.binning_ == "quantile" and self.empty_bands_.any():
            parts = [
                f"{name} has {int(d)} distinct edges for {k - 1} ({int(e)} of {k} bands empty)"
                for name, d, e in zip(self.features_, distinct, self.empty_bands_, strict=True)
                if e
            ]
            messages.append(
                (
                    "quantile bands collapse: "
                    + "; ".join(parts)
                    + ". Many buyers share a value, so equal edges leave bands nobody can "
                    "fall in and the score jumps over them; use binning='fixed' or fewer levels",
                    CollapsedBandsWarning,
                )
            )
        self.fit_warnings_ = tuple(m for m, _ in messages)
        self._warning_classes = tuple(c for _, c in messages)

    def _warn(self) -> None:
        for message, category in zip(self.fit_warnings_, self._warning_classes, strict=True):
            warnings.warn(message, category, stacklevel=3)

    # ------------------------------------------------------------------ transform
    def _check_fitted(self) -> None:
        check_fitted(self, "edges_")

    def _scores(self, arr: NDArray[np.float64]) -> NDArray[np.int64]:
        # NaN recency scores 0 in the scorer; never-bought customers get no F and M either
        out = self.scorer_.score_array(arr)
        bought = out[:, 0] > 0
        for j in (1, 2):
            np.multiply(out[:, j], bought, out=out[:, j])
        return out

    def transform(self, X: Any) -> NDArray[np.int64]:
        """The ``(r, f, m)`` scores, 1..levels (0, 0, 0 for customers who never bought)."""
        self._check_fitted()
        return self._scores(self._matrix(X, reset=False, features=self._fitted_features()))

    def _labels(self, scores: NDArray[np.int64]) -> NDArray[np.int64]:
        k = self.levels_
        never = len(self.segment_names_) - 1
        # one flat lookup in the (k+1)^3 grid; index 0 of each axis (no score) → never bought
        lookup = np.full((k + 1, k + 1, k + 1), never, dtype=np.int64)
        lookup[1:, 1:, 1:] = self.table_.grid
        flat = (scores[:, 0] * (k + 1) + scores[:, 1]) * (k + 1) + scores[:, 2]
        return np.asarray(lookup.ravel().take(flat), dtype=np.int64)

    def predict(self, X: Any) -> NDArray[np.int64]:
        """The segment code of every customer (names in :attr:`segment_names_`)."""
        self._check_fitted()
        return self._labels(self.transform(X))

    # ------------------------------------------------------------------ layering
    def layer(self, snapshot: Snapshot) -> Segmentation:
        """Layer a snapshot with the fitted edges: segments, scores and reasons.

        Nothing is learned here: the features, edges and warnings are those of ``fit``.
        """
        self._check_fitted()
        check_snapshot(snapshot, "layer")
        arr = self._matrix(snapshot, reset=False, features=self._fitted_features())
        return self._layer_matrix(snapshot, arr)

    def _fitted_features(self) -> tuple[str, str]:
        return self.features_[1], self.features_[2]

    def _layer_matrix(self, snapshot: Snapshot, arr: NDArray[np.float64]) -> Segmentation:
        scores = self._scores(arr)
        labels = self._labels(scores)
        return self._segmentation(snapshot, arr, scores, labels)

    def fit_layer(self, snapshot: Snapshot) -> Segmentation:
        """Fit on ``snapshot`` and layer it (the features are read once).

        Warns as :meth:`fit` does.
        """
        check_snapshot(snapshot, "fit_layer")
        table, binning = self._resolve()
        arr = self._matrix(snapshot, reset=True)
        self._fit_matrix(arr, snapshot, table, binning)
        self._warn()
        return self._layer_matrix(snapshot, arr)

    def segments(self) -> tuple[Rule, ...]:
        """One rule per segment over snapshot features, reproducing :meth:`predict`."""
        self._check_fitted()
        table = self.table_
        feats = self.features_
        bought: Rule = Not(Compare(_RECENCY, "isnan", None))
        rules: list[Rule] = []
        n_table = len(table.names) - 1  # every code but "Never bought"
        for code in range(n_table):
            rule = boxes_rule(table.boxes[code], feats, self.edges_, self.levels_)
            rules.append(And((bought, rule)))
        rules.append(Compare(_RECENCY, "isnan", None))
        return tuple(rules)

    def _segmentation(
        self,
        snapshot: Snapshot,
        arr: NDArray[np.float64],
        scores: NDArray[np.int64],
        labels: NDArray[np.int64],
    ) -> Segmentation:
        table = self.table_
        texts = [f"{t} (scores r, f, m; fm is the mean of f and m)" for t in table.texts]
        if table.gaps:
            texts.append(f"the score cell is not covered by table {table.name!r}")
        texts.append("no purchase yet, so no recency and no RFM scores")
        advice = list(table.advice)
        if table.gaps:
            advice.append("")
        advice.append("convert: bestsellers and a first-purchase reason")
        notes = [
            f"{self.binning_} edges learned from {self.n_buyers_} buyers"
            if self.binning_ != "fixed"
            else "fixed business thresholds"
        ]
        if table.gaps:
            notes.append(
                f"table {table.name!r} leaves {len(table.gaps)} score cells uncovered; "
                f"their customers are in {OTHER!r}"
            )
        e = self.edges_
        _, frequency, monetary = self.features_
        r_note = "R " + describe_bands(_RECENCY, e[0].tolist(), reverse=True)
        if any(c is RecencyWarning for c in self._warning_classes):
            k = self.levels_
            r_note += (
                f"; not recent: R >= {k + 1 - _upper_half_bands(k)} reaches "
                f"{self.recent_reach_days_:.0f} days, past the {self.recent_days_:.0f} days "
                f"called recent ({self.recent_multiple:g} x the median "
                f"{self.median_interpurchase_days_:.1f} days between purchases)"
            )
        column_notes = {
            "r": r_note,
            "f": "F " + describe_bands(frequency, e[1].tolist(), reverse=False),
            "m": "M " + describe_bands(monetary, e[2].tolist(), reverse=False),
        }
        if self.binning_ == "quantile":
            for key, empty in zip("rfm", self.empty_bands_.tolist(), strict=True):
                if empty:
                    column_notes[key] += (
                        f"; {empty} of {self.levels_} bands empty (quantile edges coincide)"
                    )
        return Segmentation(
            strategy=f"RFM, {table.name}",
            customer_ids=snapshot.customer_ids,
            labels=_frozen(labels),
            names=table.names,
            rules=LazyRules(self.segments, len(table.names)),
            rules_on="snapshot",
            descriptions=texts,
            advice=advice,
            columns=_frozen_columns(
                {
                    "r": scores[:, 0].astype(np.int8),
                    "f": scores[:, 1].astype(np.int8),
                    "m": scores[:, 2].astype(np.int8),
                    _RECENCY: arr[:, 0],
                    frequency: arr[:, 1],
                    monetary: arr[:, 2],
                }
            ),
            column_notes=column_notes,
            notes=notes,
            warnings=self.fit_warnings_,
        )


def _frozen(arr: NDArray[Any]) -> NDArray[Any]:
    """Mark an array this module just made as read-only, so results need not copy it."""
    arr.flags.writeable = False
    return arr


def _frozen_columns(columns: dict[str, NDArray[Any]]) -> dict[str, NDArray[Any]]:
    return {name: _frozen(col) for name, col in columns.items()}
