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
results. Both are learned in ``fit``; ``apply`` only applies what was learned.

Partitions
----------
``fit`` learns from a mergeable summary (:meth:`RFMLayering.summarize`): per feature, a
:class:`~privdomain.strategy.QuantileSketch` of the buyers' values (with their exact sum, for
the mean) and one of the repeat buyers' days between purchases. The sketches keep every distinct
value while a feature has at most :data:`~privdomain.layering._base.EXACT_UP_TO` of them in the
whole pool: the edges are then the exact quantiles, mean and median. Past that, quantiles and the
median are read from the sketch's buckets, each order statistic within 0.5% of the exact one;
the mean stays exact. Either way, fitting partition by partition
(:func:`~privdomain.strategy.fit_partitioned`) learns exactly what one fit on the whole pool
learns, and ``apply`` reads one customer's row at a time, so results of partitions concatenate
into the result of the whole.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator

from privdomain.domain.segment import And, Compare, Not, Rule, short_repr
from privdomain.domain.snapshot import Snapshot
from privdomain.errors import EmptyPoolError, ValidationError
from privdomain.layering._bands import boxes_rule, describe_bands, small_bands
from privdomain.layering._base import (
    RELATIVE_ERROR,
    CollapsedBandsWarning,
    RecencyWarning,
    check_snapshot,
    features_from_snapshot,
    is_collection,
    is_number,
    sketch,
)
from privdomain.layering._result import LazyRules, Segmentation
from privdomain.layering.rfm_table import CHINESE_8, CLASSIC_11, OTHER, RFMTable
from privdomain.layering.scoring import BINNINGS, fixed_edges, learn_edges, score_columns
from privdomain.strategy import QuantileSketch, check_fitted

__all__ = ["RFMLayering", "RFMLayeringSummary", "median_interpurchase_days", "rfm_features"]

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
    gaps = _interpurchase_days(snapshot)
    return float(np.median(gaps)) if gaps.size else math.nan


def _interpurchase_days(snapshot: Snapshot) -> NDArray[np.float64]:
    """Per repeat buyer, ``(last - first purchase) / (purchase_days - 1)`` in days."""
    days = snapshot.purchase_days
    repeat = np.flatnonzero(days >= 2)
    # on epoch microseconds: what dividing the timedeltas by one day computes, without
    # numpy's slower datetime loops
    last = _micros(snapshot.last_purchase)[repeat]
    first = _micros(snapshot.first_purchase)[repeat]
    span = (last - first).astype(np.float64)
    span /= _MICROS_PER_DAY
    missing = (last == _NAT) | (first == _NAT)
    if missing.any():
        span[missing] = np.nan
    span /= days[repeat] - 1
    return span


_MICROS_PER_DAY = 86_400_000_000.0
_NAT = np.iinfo(np.int64).min


def _micros(when: NDArray[np.datetime64]) -> NDArray[np.int64]:
    return when.astype("datetime64[us]", copy=False).view(np.int64)


def _upper_half_bands(levels: int) -> int:
    """How many recency bands score in the upper half of R (R > (levels + 1) / 2)."""
    return (levels + 2) // 2 - 1


@attrs.frozen(eq=False)
class RFMLayeringSummary:
    """What :meth:`RFMLayering.summarize` learns from one snapshot (or partition); merges.

    Attributes
    ----------
    features : tuple of str
        Recency, frequency and monetary feature names.
    columns : tuple of QuantileSketch
        Per feature, the sketch of the buyers' values (customers who never bought left out).
    rhythm : QuantileSketch
        The repeat buyers' mean days between purchase days.
    customers : int
        Every customer summarised, buyers or not.
    """

    features: tuple[str, str, str]
    columns: tuple[QuantileSketch, QuantileSketch, QuantileSketch]
    rhythm: QuantileSketch
    customers: int

    @property
    def buyers(self) -> int:
        """Customers with a purchase (with a recency)."""
        return len(self.columns[0])

    def merge(self, other: RFMLayeringSummary) -> RFMLayeringSummary:
        """The summary of both summaries' customers."""
        if not isinstance(other, RFMLayeringSummary) or other.features != self.features:
            raise ValidationError(
                "only RFM summaries of the same features merge, got "
                f"{getattr(other, 'features', type(other).__name__)!r} and {self.features!r}"
            )
        a, b, c = (x.merge(y) for x, y in zip(self.columns, other.columns, strict=True))
        return RFMLayeringSummary(
            self.features,
            (a, b, c),
            self.rhythm.merge(other.rhythm),
            self.customers + other.customers,
        )


class RFMLayering(BaseEstimator):  # type: ignore[misc]
    """Score customers on recency, frequency and monetary value and name their segment.

    A strategy of the contract (:mod:`privdomain.strategy`): ``fit(snapshot)`` learns score
    edges from the buyers (from a mergeable :class:`RFMLayeringSummary`: :meth:`summarize`,
    :meth:`fit_summary`), ``apply(snapshot)`` returns a :class:`Segmentation` aligned to the
    snapshot's rows, with the ``r``, ``f``, ``m`` scores and the values they come from. It
    follows scikit-learn's conventions (parameters stored by ``__init__``, ``get_params``,
    ``clone``, fitted attributes ending in ``_``) on snapshots; the scores of arrays are
    :class:`RFMScorer`'s (a scikit-learn transformer) and their segments
    :meth:`RFMTable.codes`.

    Parameters
    ----------
    table : {"classic", "chinese"} or RFMTable or None, default "classic"
        Named segments: ``"classic"`` is :data:`~privdomain.layering.CLASSIC_11` (5 levels),
        ``"chinese"`` is :data:`~privdomain.layering.CHINESE_8` (2 levels, high/low against a
        centre), or your own :class:`RFMTable`. ``None`` gives one segment per score cell
        (:meth:`RFMTable.cells`).
    binning : {None, "quantile", "mean", "median", "fixed"}
        How edges are made (see the module documentation). ``None``: ``"mean"`` for the
        Chinese table, ``"quantile"`` otherwise.
    levels : int or None, default None
        Score levels. Fixed by a table; with ``table=None`` defaults to 5.
    recency_edges, frequency_edges, monetary_edges : sequence of float or None
        For ``binning="fixed"``: ``levels - 1`` ascending thresholds in the feature's units.
        A value equal to a threshold falls in the band below it (for recency: the better one).
    frequency : str, default "purchase_days"
        The snapshot feature used for F. F counts distinct purchase days by default (two
        orders on one day are one visit); ``"orders"`` counts orders.
    monetary : str, default "net_spend"
        The snapshot feature used for M, e.g. ``"gross_spend"``.
    recent_multiple : float or None, default 3.0
        How many median inter-purchase times still count as recent. When learned recency
        edges let customers silent for longer score in the upper half of R, ``fit`` warns
        (:class:`~privdomain.layering.RecencyWarning`) and every result says so
        (``Segmentation.warnings``, shown by ``explain``). ``None`` turns the check off.
        Checked only for learned edges.

    Attributes
    ----------
    edges_ : numpy.ndarray, shape (3, levels - 1)
        The band edges of recency, frequency and monetary value, in their units.
    levels_ : int
        The number of score levels.
    table_ : RFMTable
        The table used for segments.
    binning_ : str
        The binning used.
    features_ : tuple of str
        The recency, frequency and monetary features scored.
    segment_names_ : tuple of str
        The segment of every code of a result's ``labels``.
    n_buyers_ : int
        How many customers with a purchase the edges were learned from.
    exact_edges_ : bool
        Whether the edges are the exact quantiles (or centres) of the buyers' values, or read
        from bucketed sketches (more than ``EXACT_UP_TO`` distinct values of a feature), each
        order statistic within 0.5% of the exact one.
    median_interpurchase_days_ : float
        The median over repeat buyers of their mean days between purchase days (see
        :func:`median_interpurchase_days`); NaN when nobody bought on two days.
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

    Warns
    -----
    RecencyWarning
        From ``fit``, when learned recency bands reach past ``recent_days_``.
    CollapsedBandsWarning
        From ``fit``, when quantile edges coincide (fewer distinct edges than bands).
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

    # ------------------------------------------------------------------ parameters
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
        if not isinstance(binning, str) or binning not in BINNINGS:
            raise ValidationError(f"binning must be one of {BINNINGS}, not {short_repr(binning)}")
        if binning in ("mean", "median") and resolved.levels != 2:
            raise ValidationError(
                f"binning={binning!r} splits at one centre, so it needs levels=2, not "
                f"{resolved.levels}"
            )
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

    def _fixed_edges(self, table: RFMTable) -> NDArray[np.float64]:
        given = (self.recency_edges, self.frequency_edges, self.monetary_edges)
        missing = [
            n for n, e in zip(("recency", "frequency", "monetary"), given, strict=True) if e is None
        ]
        if missing:
            raise ValidationError(
                f"binning='fixed' needs {', '.join(m + '_edges' for m in missing)} "
                f"({table.levels - 1} ascending thresholds each)"
            )
        for what, e in zip(("recency", "frequency", "monetary"), given, strict=True):
            if not is_collection(e) or not hasattr(e, "__len__"):
                raise ValidationError(
                    f"{what}_edges must be a sequence of {table.levels - 1} numbers, "
                    f"not {short_repr(e)}"
                )
            if len(e) != table.levels - 1:  # type: ignore[arg-type]
                raise ValidationError(
                    f"{what}_edges needs {table.levels - 1} thresholds, got {len(e)}"  # type: ignore[arg-type]
                )
        return fixed_edges(given, table.levels, 3)  # type: ignore[arg-type]

    def _features(self, snapshot: Snapshot, frequency: str, monetary: str) -> NDArray[np.float64]:
        if len(snapshot) == 0:
            return np.empty((0, 3))
        arr = rfm_features(snapshot, frequency=frequency, monetary=monetary)
        if not np.isfinite(arr[:, 1:]).all():
            raise ValidationError(f"{frequency} and {monetary} must be finite for every customer")
        if (arr[:, 1] < 0).any():
            raise ValidationError(f"frequency ({frequency}) must not be negative")
        return arr

    # ------------------------------------------------------------------ fit
    def summarize(self, snapshot: Snapshot) -> RFMLayeringSummary:
        """What ``snapshot`` contributes to the edges: sketches of the buyers' values and of the
        repeat buyers' rhythm (mergeable; see :func:`~privdomain.strategy.fit_partitioned`).

        Raises
        ------
        ValidationError
            When a parameter is invalid, ``snapshot`` is not a Snapshot, or a frequency or
            monetary value is infinite, or a frequency negative.
        """
        self._resolve()
        check_snapshot(snapshot, "summarize")
        arr = self._features(snapshot, self.frequency, self.monetary)
        bought = ~np.isnan(arr[:, 0])
        # one column at a time: a 1-D mask on a contiguous column selects fastest
        a, b, c = (sketch(arr[:, j][bought]) for j in range(3))
        rhythm = sketch(_interpurchase_days(snapshot) if len(snapshot) else np.empty(0))
        features = (_RECENCY, self.frequency, self.monetary)
        return RFMLayeringSummary(features, (a, b, c), rhythm, len(snapshot))

    def fit_summary(self, summary: RFMLayeringSummary) -> RFMLayering:
        """Learn the score edges from a (merged) :class:`RFMLayeringSummary`, and check them.

        Raises
        ------
        EmptyPoolError
            When the summary holds no customer, or no buyer (no recency to learn from) and
            ``binning`` is not ``"fixed"``.
        ValidationError
            When a parameter is invalid or the summary is of other features.

        Warns
        -----
        RecencyWarning
            When learned recency bands reach past ``recent_multiple`` median inter-purchase
            times.
        CollapsedBandsWarning
            When quantile edges coincide.
        """
        self._fit_summary(summary)
        self._warn(stacklevel=3)
        return self

    def fit(self, snapshot: Snapshot, y: Any = None) -> RFMLayering:
        """``fit_summary(summarize(snapshot))``: learn the edges from the snapshot's buyers.

        Raises and warns as :meth:`summarize` and :meth:`fit_summary` do.
        """
        self._fit_summary(self.summarize(snapshot))
        self._warn(stacklevel=3)
        return self

    def _fit_summary(self, summary: RFMLayeringSummary) -> None:
        table, binning = self._resolve()
        if not isinstance(summary, RFMLayeringSummary):
            raise ValidationError(
                f"fit_summary() takes an RFMLayeringSummary, not {type(summary).__name__}"
            )
        features = (_RECENCY, self.frequency, self.monetary)
        if summary.features != features:
            raise ValidationError(
                f"the summary is of {summary.features}, this RFMLayering scores {features}"
            )
        if summary.customers == 0:
            raise EmptyPoolError("the snapshot has no customers to layer")
        if binning == "fixed":
            edges = self._fixed_edges(table)
        elif summary.buyers == 0:
            raise EmptyPoolError(
                "no customer has bought yet: RFM edges are learned from buyers "
                "(use binning='fixed' to score with business thresholds)"
            )
        else:
            edges = learn_edges(summary.columns, table.levels, binning)
        edges.flags.writeable = False
        self.edges_ = edges
        self.levels_ = table.levels
        self.table_ = table
        self.binning_ = binning
        self.segment_names_ = table.names
        self.n_buyers_ = summary.buyers
        self.features_ = features
        self.exact_edges_ = binning in ("fixed", "mean") or all(c.is_exact for c in summary.columns)
        self._check_bands(summary.rhythm)

    def _check_bands(self, rhythm: QuantileSketch) -> None:
        """Learn the pool's rhythm and say where the learned bands mislead."""
        k = self.levels_
        edges = self.edges_
        ipt = float(rhythm.quantile(0.5, method="linear")[0]) if len(rhythm) else math.nan
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

    def _warn(self, stacklevel: int) -> None:
        for message, category in zip(self.fit_warnings_, self._warning_classes, strict=True):
            warnings.warn(message, category, stacklevel=stacklevel + 1)

    # ------------------------------------------------------------------ apply
    def apply(self, snapshot: Snapshot) -> Segmentation:
        """Layer a snapshot with the fitted edges: segments, scores and reasons, one row per
        customer in the snapshot's order.

        Nothing is learned here: the features, edges and warnings are those of ``fit``.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        ValidationError
            When ``snapshot`` is not a Snapshot, or a frequency or monetary value is infinite,
            or a frequency negative.
        """
        check_fitted(self, "edges_")
        check_snapshot(snapshot, "apply")
        _, frequency, monetary = self.features_
        arr = self._features(snapshot, frequency, monetary)
        r, f, m = _scores(arr, self.edges_)
        labels = self.table_._codes_of(r, f, m)
        return self._segmentation(snapshot, arr, (r, f, m), labels)

    def _segmentation(
        self,
        snapshot: Snapshot,
        arr: NDArray[np.float64],
        scores: tuple[NDArray[np.int8], NDArray[np.int8], NDArray[np.int8]],
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
        if not self.exact_edges_:
            notes.append(
                f"edges read from quantile sketches: each order statistic within "
                f"{RELATIVE_ERROR:.1%} of the exact one"
            )
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
            rules=LazyRules(
                functools.partial(_rules, table, self.features_, self.edges_, self.levels_),
                len(table.names),
            ),
            rules_on="snapshot",
            descriptions=texts,
            advice=advice,
            columns=_frozen_columns(
                {
                    "r": scores[0],
                    "f": scores[1],
                    "m": scores[2],
                    _RECENCY: arr[:, 0],
                    frequency: arr[:, 1],
                    monetary: arr[:, 2],
                }
            ),
            column_notes=column_notes,
            notes=notes,
            warnings=self.fit_warnings_,
        )


def _scores(
    arr: NDArray[np.float64], edges: NDArray[np.float64]
) -> tuple[NDArray[np.int8], NDArray[np.int8], NDArray[np.int8]]:
    """The ``r``, ``f``, ``m`` scores of :func:`score_columns` (recency reversed), as ``int8``;
    customers who never bought (NaN recency) score 0, 0, 0."""
    if edges.shape[1] > 16:
        wide = score_columns(arr, edges, {0})
        bought = wide[:, 0] > 0
        r, f, m = (wide[:, j].astype(np.int8) for j in range(3))
    else:
        k = edges.shape[1] + 1
        r = small_bands(arr[:, 0], edges[0])
        np.subtract(k + 1, r, out=r, casting="unsafe")
        bought = arr[:, 0] == arr[:, 0]  # False exactly where recency is NaN
        f = small_bands(arr[:, 1], edges[1])
        m = small_bands(arr[:, 2], edges[2])
    for score in (r, f, m):
        np.multiply(score, bought, out=score, casting="unsafe")
    return r, f, m


def _frozen(arr: NDArray[Any]) -> NDArray[Any]:
    """Mark an array this module just made as read-only, so results need not copy it."""
    arr.flags.writeable = False
    return arr


def _frozen_columns(columns: dict[str, NDArray[Any]]) -> dict[str, NDArray[Any]]:
    return {name: _frozen(col) for name, col in columns.items()}


def _rules(
    table: RFMTable, features: tuple[str, str, str], edges: NDArray[np.float64], levels: int
) -> tuple[Rule, ...]:
    """One rule per segment over snapshot features, reproducing the labels of ``apply``."""
    bought: Rule = Not(Compare(_RECENCY, "isnan", None))
    rules: list[Rule] = []
    n_table = len(table.names) - 1  # every code but "Never bought"
    for code in range(n_table):
        rule = boxes_rule(table.boxes[code], features, edges, levels)
        rules.append(And((bought, rule)))
    rules.append(Compare(_RECENCY, "isnan", None))
    return tuple(rules)
