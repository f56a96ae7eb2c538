"""Clustering layering: k-means on scaled RFM and behaviour features, clusters ordered by value.

How it works
------------
1. Features are log-scaled (``sign(x)·log1p(|x|)``: spend and counts are heavy-tailed, so a few
   big spenders would otherwise make their own clusters) and standardised.
2. k-means (scikit-learn's :class:`~sklearn.cluster.KMeans`, seeded by ``random_state``) runs on
   the rows *sorted by value*, so the fit depends on the set of customers, not on their order.
3. Clusters are numbered by the mean of the value column (net spend by default) of their
   members, highest first: cluster 0 is always the most valuable group, for any run with the
   same data and seed.

Choice of k: ``n_clusters=4`` by default (a top group, two middle groups, a low group is what
operators act on); ``n_clusters="auto"`` tries every k in ``k_range`` and keeps the one with the
best silhouette score on a seeded sample of at most ``sample_size`` customers (ties go to the
smaller k). k never exceeds the number of distinct customers' feature rows.

The model of a learner
----------------------
:class:`ValueClusters` is the model of a learner of the strategy contract
(:mod:`privdomain.strategy`) that is also a scikit-learn estimator:

- ``__init__`` stores the parameters and nothing else; they are validated when used;
- ``summarize(snapshot)`` returns what one snapshot (or partition) contributes, a
  :class:`ClusterSummary` that merges exactly (``merge``), and ``fit_summary(summary)`` learns
  every fitted attribute (names ending in ``_``) from a merged summary and nothing else, so
  ``fit_partitioned`` equals ``fit`` on the whole pool;
- ``fit(X)`` is ``fit_summary(summarize(X))`` for a snapshot; for an array it does the same
  and, as scikit-learn's clusterers do, also labels the rows it was given (``labels_``);
- ``apply(snapshot)`` reads one customer's row at a time and the fitted attributes, and returns
  a :class:`Segmentation` aligned to the snapshot's rows; ``predict`` and ``transform`` are the
  array API;
- every method but ``__init__`` refuses to run before ``fit`` with ``check_fitted``.

The summary is every distinct feature row with its count: it merges exactly, and its size
grows with the distinct rows of the pool (at most its customers), not with the number of
partitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin

from privdomain.domain.segment import Compare, short_repr
from privdomain.domain.snapshot import Snapshot
from privdomain.errors import EmptyPoolError, ValidationError
from privdomain.layering._base import check_snapshot, feature_names, features_from_snapshot
from privdomain.layering._result import Segmentation
from privdomain.layering._sklearn import validate_X
from privdomain.strategy import check_fitted

__all__ = ["ClusterSummary", "ValueClusters"]

#: The segment of customers with a missing feature (e.g. no recency: never bought).
NOT_CLUSTERED = "Not clustered"


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


@attrs.frozen(eq=False)
class ClusterSummary:
    """What :meth:`ValueClusters.summarize` learns from one snapshot (or partition); merges.

    Attributes
    ----------
    rows : numpy.ndarray, shape (distinct rows, features)
        Every distinct complete feature row, in lexicographic order.
    counts : numpy.ndarray of int64
        How many customers have each row.
    customers : int
        Every customer summarised, with a complete row or not.
    """

    rows: NDArray[np.float64]
    counts: NDArray[np.int64]
    customers: int

    @classmethod
    def of(cls, rows: NDArray[np.float64], customers: int) -> ClusterSummary:
        """The summary of complete feature ``rows`` out of ``customers``."""
        unique, counts = np.unique(rows, axis=0, return_counts=True)
        return cls(unique.reshape(-1, rows.shape[1]), counts.astype(np.int64), customers)

    def merge(self, other: ClusterSummary) -> ClusterSummary:
        """The summary of both summaries' customers."""
        if not isinstance(other, ClusterSummary) or other.rows.shape[1] != self.rows.shape[1]:
            raise ValidationError("only cluster summaries of the same features merge")
        rows = np.concatenate([self.rows, other.rows])
        unique, inverse = np.unique(rows, axis=0, return_inverse=True)
        counts = np.zeros(unique.shape[0], dtype=np.int64)
        np.add.at(counts, inverse.ravel(), np.concatenate([self.counts, other.counts]))
        return ClusterSummary(
            unique.reshape(-1, rows.shape[1]), counts, self.customers + other.customers
        )


class ValueClusters(ClusterMixin, TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """k-means layering on scaled features, with clusters numbered by value (0 = best).

    ``X`` is a :class:`~privdomain.Snapshot` (the columns named in ``features``; customers
    with a missing feature, such as the recency of someone who never bought, are left out of
    the fit and land in ``"Not clustered"``) or a 2-D array of finite numbers, one column per
    feature. ``transform`` gives the distance to every (ordered) cluster centre in the scaled
    space, ``predict`` the cluster.

    Parameters
    ----------
    n_clusters : int or "auto", default 4
        The number of clusters, or ``"auto"`` to choose by silhouette score.
    features : sequence of str, default ("recency_days", "orders", "net_spend")
        Snapshot features to cluster on (used when ``X`` is a snapshot).
    value_column : int, default -1
        The column whose cluster mean orders the clusters (highest first).
    log_scale : bool, default True
        Apply ``sign(x)·log1p(|x|)`` before standardising.
    k_range : tuple of int, default (2, 8)
        The k tried by ``n_clusters="auto"`` (inclusive).
    sample_size : int, default 2000
        Customers sampled for the silhouette score.
    n_init : int, default 10
        k-means restarts.
    random_state : int or None, default 0
        Seed of k-means and of the silhouette sample (``None``: not reproducible).

    Attributes
    ----------
    n_clusters_ : int
        The number of clusters used.
    cluster_centers_ : numpy.ndarray, shape (n_clusters_, n_features_in_)
        Centres in the scaled space, in value order.
    cluster_means_ : numpy.ndarray, shape (n_clusters_, n_features_in_)
        Mean feature values of each cluster's members, in the original units.
    cluster_sizes_ : numpy.ndarray
        Members of each cluster in the fitted data.
    labels_ : numpy.ndarray
        After ``fit`` on an array only (scikit-learn's clusterer convention): the cluster of
        every row of it, in its order. A snapshot's customers get theirs from ``apply``.
    silhouette_scores_ : dict of int to float
        The score of every k tried (``n_clusters="auto"`` only; else empty).
    """

    def __init__(
        self,
        n_clusters: int | str = 4,
        features: Sequence[str] = ("recency_days", "orders", "net_spend"),
        value_column: int = -1,
        log_scale: bool = True,
        k_range: tuple[int, int] = (2, 8),
        sample_size: int = 2000,
        n_init: int = 10,
        random_state: int = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.features = features
        self.value_column = value_column
        self.log_scale = log_scale
        self.k_range = k_range
        self.sample_size = sample_size
        self.n_init = n_init
        self.random_state = random_state

    # ------------------------------------------------------------------ helpers
    def _check_params(self) -> None:
        feature_names(self.features, "features")
        for name in ("sample_size", "n_init"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValidationError(f"{name} must be an integer >= 1, not {short_repr(value)}")
        if not _is_int(self.value_column):
            raise ValidationError(
                f"value_column must be an integer, not {short_repr(self.value_column)}"
            )
        if not isinstance(self.log_scale, bool | np.bool_):
            raise ValidationError(f"log_scale must be a bool, not {short_repr(self.log_scale)}")
        seed = self.random_state
        if seed is not None and (not _is_int(seed) or not 0 <= seed < 2**32):
            raise ValidationError(
                f"random_state must be an integer seed in [0, 2**32) or None, not "
                f"{short_repr(seed)}"
            )
        k_range = self.k_range
        if self.n_clusters == "auto" and not (
            isinstance(k_range, tuple | list)
            and len(k_range) == 2
            and all(_is_int(k) for k in k_range)
            and 2 <= k_range[0] <= k_range[1]
        ):
            raise ValidationError(
                f"k_range must be (lo, hi) with 2 <= lo <= hi, not {short_repr(k_range)}"
            )

    def _rows(self, X: Any, *, reset: bool) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        """Validated finite rows, and which input rows they are (all, for arrays)."""
        if isinstance(X, Snapshot):
            if len(X) == 0:
                return np.empty((0, len(self.features))), np.zeros(0, dtype=bool)
            full = features_from_snapshot(X, self.features)
            keep: NDArray[np.bool_] = np.asarray(~np.isnan(full).any(axis=1))
            if not np.isfinite(full[keep]).all():
                raise ValidationError(f"features {list(self.features)} must not be infinite")
            if not reset and full.shape[1] != self.n_features_in_:
                raise ValidationError(
                    f"{full.shape[1]} features, but this ValueClusters was fitted on "
                    f"{self.n_features_in_}"
                )
            return full[keep], keep
        arr = validate_X(self, X, reset=reset)
        return arr, np.ones(arr.shape[0], dtype=bool)

    def _scale(self, arr: NDArray[np.float64]) -> NDArray[np.float64]:
        z = np.sign(arr) * np.log1p(np.abs(arr)) if self.log_scale else arr
        return np.asarray((z - self.mean_) / self.scale_, dtype=np.float64)

    def _k_candidates(self, n_distinct: int) -> list[int]:
        if self.n_clusters == "auto":
            lo, hi = (int(k) for k in self.k_range)
            ks = [k for k in range(lo, hi + 1) if k < n_distinct]
            return ks or [min(lo, n_distinct)]
        k: Any = self.n_clusters
        if not _is_int(k) or k < 1:
            raise ValidationError(
                f"n_clusters must be an integer >= 1 or 'auto', not {short_repr(k)}"
            )
        return [min(int(k), n_distinct)]

    # ------------------------------------------------------------------ fit
    def summarize(self, snapshot: Snapshot) -> ClusterSummary:
        """Every distinct complete feature row of ``snapshot`` with its count (mergeable).

        Customers with a missing feature (e.g. the recency of someone who never bought) are
        left out, and counted.

        Raises
        ------
        ValidationError
            When a parameter is invalid, ``snapshot`` is not a Snapshot, or a feature is not
            numeric or is infinite.
        UnknownFeatureError
            When the snapshot has no feature of a name.
        """
        self._check_params()
        check_snapshot(snapshot, "summarize")
        rows, _ = self._rows(snapshot, reset=True)
        return ClusterSummary.of(rows, len(snapshot))

    def fit(self, X: Any, y: Any = None) -> ValueClusters:
        """Cluster the customers and number the clusters by value.

        ``X`` is a snapshot (``fit_summary(summarize(X))``) or an array of finite numbers, one
        column per feature (the same, and ``labels_`` for its rows).
        """
        if isinstance(X, Snapshot):
            return self.fit_summary(self.summarize(X))
        self._check_params()
        arr = validate_X(self, X, reset=True)
        self._fit_summary(ClusterSummary.of(arr, arr.shape[0]))
        self.labels_ = self._predict(arr)
        return self

    def fit_summary(self, summary: ClusterSummary) -> ValueClusters:
        """Learn the clusters from a (merged) :class:`ClusterSummary`.

        Raises
        ------
        EmptyPoolError
            When the summary holds no customer, or none with every feature.
        ValidationError
            When a parameter is invalid or the summary is of another number of features.
        """
        self._fit_summary(summary)
        # what a fit on an array adds does not describe a fit on a summary
        for stale in ("labels_", "feature_names_in_"):
            if hasattr(self, stale):
                delattr(self, stale)
        return self

    def _fit_summary(self, summary: ClusterSummary) -> None:
        # imported here: k-means pulls in much of scikit-learn, which layering needs only here
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score

        self._check_params()
        if not isinstance(summary, ClusterSummary):
            raise ValidationError(
                f"fit_summary() takes a ClusterSummary, not {type(summary).__name__}"
            )
        if summary.customers == 0:
            raise EmptyPoolError("the snapshot has no customers to cluster")
        if summary.rows.shape[0] == 0:
            raise EmptyPoolError(
                f"no customer has all of {list(self.features)} (e.g. nobody bought)"
            )
        p = summary.rows.shape[1]
        if not -p <= self.value_column < p:
            raise ValidationError(
                f"value_column {self.value_column} is out of range for {p} features"
            )
        self.n_features_in_ = p
        # every customer's row, in lexicographic order: the fit does not depend on the
        # customers' order, nor on how they were partitioned
        canonical = np.repeat(summary.rows, summary.counts, axis=0)
        z = np.sign(canonical) * np.log1p(np.abs(canonical)) if self.log_scale else canonical
        self.mean_ = z.mean(axis=0)
        scale = z.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        zs = (z - self.mean_) / self.scale_
        ks = self._k_candidates(summary.rows.shape[0])
        self.silhouette_scores_: dict[int, float] = {}
        if len(ks) > 1:
            rng = np.random.default_rng(self.random_state)
            n = zs.shape[0]
            idx = np.sort(rng.choice(n, size=min(n, self.sample_size), replace=False))
            sample = zs[idx]
            for k in ks:
                km = KMeans(k, n_init=self.n_init, random_state=self.random_state).fit(sample)
                if len(np.unique(km.labels_)) < 2:
                    continue
                self.silhouette_scores_[k] = float(silhouette_score(sample, km.labels_))
            best = max(
                self.silhouette_scores_.items(), key=lambda kv: (kv[1], -kv[0]), default=None
            )
            k = best[0] if best is not None else ks[0]
        else:
            k = ks[0]
        km = KMeans(k, n_init=self.n_init, random_state=self.random_state).fit(zs)
        raw = km.labels_
        sizes = np.bincount(raw, minlength=k)
        sums = np.zeros((k, p))
        np.add.at(sums, raw, canonical)
        means = sums / np.maximum(sizes, 1)[:, None]
        # order: highest mean value first; then the other columns, then the centres, for ties
        keys = [means[:, j] for j in reversed(range(p))] + [-means[:, self.value_column]]
        order = np.lexsort(keys)
        rank = np.empty(k, dtype=np.int64)
        rank[order] = np.arange(k)
        self.kmeans_ = km
        self._rank = rank
        self.n_clusters_ = k
        self.cluster_centers_ = km.cluster_centers_[order]
        self.cluster_means_ = means[order]
        self.cluster_sizes_ = sizes[order]

    def _predict(self, arr: NDArray[np.float64]) -> NDArray[np.int64]:
        if arr.shape[0] == 0:
            return np.zeros(0, dtype=np.int64)
        raw = self.kmeans_.predict(self._scale(arr))
        return np.asarray(self._rank[raw], dtype=np.int64)

    # ------------------------------------------------------------------ predict, transform
    def predict(self, X: Any) -> NDArray[np.int64]:
        """The cluster of every row (for a snapshot: -1 where a feature is missing)."""
        check_fitted(self, "kmeans_")
        arr, keep = self._rows(X, reset=False)
        out = np.full(keep.shape[0], -1, dtype=np.int64)
        out[keep] = self._predict(arr)
        return out

    def transform(self, X: Any) -> NDArray[np.float64]:
        """Distances to every cluster centre (in value order) in the scaled space."""
        check_fitted(self, "kmeans_")
        arr, keep = self._rows(X, reset=False)
        out = np.full((keep.shape[0], self.n_clusters_), np.nan)
        if arr.shape[0]:
            z = self._scale(arr)
            out[keep] = np.sqrt(((z[:, None, :] - self.cluster_centers_[None]) ** 2).sum(axis=2))
        return out

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.object_]:
        """``distance_to_cluster_0`` ... one per cluster."""
        check_fitted(self, "kmeans_")
        return np.array([f"distance_to_cluster_{i}" for i in range(self.n_clusters_)], dtype=object)

    # ------------------------------------------------------------------ apply
    def apply(self, snapshot: Snapshot) -> Segmentation:
        """Layer ``snapshot`` into the fitted clusters (plus ``"Not clustered"``), one row per
        customer in the snapshot's order."""
        check_fitted(self, "kmeans_")
        check_snapshot(snapshot, "apply")
        arr, keep = self._rows(snapshot, reset=False)
        k = self.n_clusters_
        cluster = np.full(len(snapshot), -1, dtype=np.int64)
        distance = np.full(len(snapshot), np.nan)
        if arr.shape[0]:
            cluster[keep] = self._predict(arr)
            z = self._scale(arr)
            distance[keep] = np.sqrt(((z - self.cluster_centers_[cluster[keep]]) ** 2).sum(axis=1))
        labels = np.where(cluster >= 0, cluster, k)
        feats = list(self.features)
        descriptions = []
        for i in range(k):
            centre = ", ".join(
                f"{name} {self.cluster_means_[i, j]:.4g}" for j, name in enumerate(feats)
            )
            rank = "highest value" if i == 0 else ("lowest value" if i == k - 1 else "by value")
            descriptions.append(f"nearest to centre {i} ({rank}; member means: {centre})")
        descriptions.append(f"a feature is missing ({', '.join(feats)}), e.g. never bought")
        columns: dict[str, NDArray[Any]] = {"cluster": cluster, "distance": distance}
        full = features_from_snapshot(snapshot, self.features) if len(snapshot) else None
        for j, name in enumerate(feats):
            columns[name] = full[:, j] if full is not None else np.zeros(0)
        k_note = (
            f"k={k} chosen by silhouette over {sorted(self.silhouette_scores_)}"
            if self.silhouette_scores_
            else f"k={k}"
        )
        return Segmentation(
            strategy=f"k-means clusters on {', '.join(feats)}",
            customer_ids=snapshot.customer_ids,
            labels=labels,
            names=(*(f"Cluster {i}" for i in range(k)), NOT_CLUSTERED),
            rules=(*(Compare("cluster", "==", i) for i in range(k)), Compare("cluster", "==", -1)),
            rules_on="result",
            descriptions=descriptions,
            columns=columns,
            column_notes={
                "cluster": "numbered by mean value, 0 = highest",
                "distance": "to the cluster's centre, in standardised (log) units",
            },
            notes=(k_note, f"clusters learned from {int(self.cluster_sizes_.sum())} customers"),
        )
