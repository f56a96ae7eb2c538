"""Clustering layering: clusters numbered by value, deterministic, order-free."""

from __future__ import annotations

import numpy as np
import pytest
from layering_helpers import build_snapshot, columns_snapshot

from privdomain.errors import EmptyPoolError, NotFittedError, ValidationError
from privdomain.layering import NOT_CLUSTERED, ValueClusters


def _blobs(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    low = np.column_stack(
        [rng.uniform(200, 300, 40), rng.integers(1, 2, 40), rng.uniform(5, 20, 40)]
    )
    mid = np.column_stack(
        [rng.uniform(60, 90, 30), rng.integers(3, 5, 30), rng.uniform(150, 250, 30)]
    )
    top = np.column_stack(
        [rng.uniform(1, 10, 20), rng.integers(9, 13, 20), rng.uniform(2e3, 3e3, 20)]
    )
    return np.vstack([low, mid, top]).astype(float)


def test_cluster_zero_is_the_most_valuable() -> None:
    X = _blobs()
    model = ValueClusters(n_clusters=3).fit(X)
    labels = model.predict(X)
    # the three groups are recovered, numbered by mean spend: top 0, mid 1, low 2
    assert set(labels[70:].tolist()) == {0}
    assert set(labels[40:70].tolist()) == {1}
    assert set(labels[:40].tolist()) == {2}
    assert (np.diff(model.cluster_means_[:, 2]) < 0).all()
    assert model.cluster_sizes_.tolist() == [20, 30, 40]
    np.testing.assert_array_equal(model.labels_, labels)


def test_same_seed_same_clusters_whatever_the_row_order() -> None:
    X = _blobs(1)
    perm = np.random.default_rng(5).permutation(len(X))
    a = ValueClusters(n_clusters=4, random_state=3).fit(X)
    b = ValueClusters(n_clusters=4, random_state=3).fit(X[perm])
    np.testing.assert_array_equal(a.predict(X)[perm], b.predict(X[perm]))
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_)


def test_auto_k_by_silhouette() -> None:
    model = ValueClusters(n_clusters="auto", k_range=(2, 5)).fit(_blobs())
    assert set(model.silhouette_scores_) == {2, 3, 4, 5}
    assert model.n_clusters_ == max(model.silhouette_scores_, key=model.silhouette_scores_.get)


def test_k_never_exceeds_distinct_rows() -> None:
    X = np.array([[1.0, 2, 3]] * 5 + [[4.0, 5, 6]] * 5)
    model = ValueClusters(n_clusters=4).fit(X)
    assert model.n_clusters_ == 2
    identical = ValueClusters(n_clusters="auto").fit(np.ones((6, 3)))
    assert identical.n_clusters_ == 1


def test_layer_a_snapshot(sim_snapshot) -> None:
    model = ValueClusters(n_clusters=3)
    seg = model.fit(sim_snapshot).apply(sim_snapshot)
    assert not hasattr(model, "labels_")  # a snapshot's customers get their labels from apply
    assert seg.names == ("Cluster 0", "Cluster 1", "Cluster 2", NOT_CLUSTERED)
    never = np.isnan(sim_snapshot.recency_days)
    np.testing.assert_array_equal(seg.mask(NOT_CLUSTERED), never)
    for code, segment in enumerate(seg.segments()):
        np.testing.assert_array_equal(segment.mask(seg), seg.labels == code)
    spend = sim_snapshot.net_spend
    means = [spend[seg.labels == i].mean() for i in range(3)]
    assert means == sorted(means, reverse=True)
    cid = str(seg.members("Cluster 0")[0])
    assert "highest value" in seg.explain(cid)
    np.testing.assert_array_equal(model.predict(sim_snapshot), np.where(never, -1, seg.labels))
    distances = model.transform(sim_snapshot)
    assert distances.shape == (len(sim_snapshot), 3)
    assert np.isnan(distances[never]).all()


def test_bad_input() -> None:
    with pytest.raises(EmptyPoolError):
        ValueClusters().fit(build_snapshot({}))
    with pytest.raises(EmptyPoolError, match="nobody bought"):
        ValueClusters().fit(build_snapshot({"a": {}, "b": {}}))
    with pytest.raises(ValidationError, match="n_clusters"):
        ValueClusters(n_clusters=0).fit(_blobs())
    with pytest.raises(ValidationError, match="k_range"):
        ValueClusters(n_clusters="auto", k_range=(1, 3)).fit(_blobs())
    with pytest.raises(ValidationError, match="value_column"):
        ValueClusters(value_column=5).fit(_blobs())
    with pytest.raises(ValueError, match="NaN"):
        ValueClusters().fit(np.array([[1.0, np.nan, 2.0]] * 3))
    with pytest.raises(NotFittedError):
        ValueClusters().predict(_blobs())
    snap = columns_snapshot([1, 2, 3], [1, 2, 3], [10, 20, 30])
    model = ValueClusters(n_clusters=2).fit(snap)
    assert len(model.apply(build_snapshot({}))) == 0
    assert model.apply(snap).counts()[NOT_CLUSTERED] == 0
