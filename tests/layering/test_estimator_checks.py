"""The layering learners that read arrays keep scikit-learn's estimator contract, with no
expected failure.

:class:`RFMLayering` reads snapshots (three named features, buyers only); the array side of RFM
is :class:`RFMScorer`, which scores any number of columns and passes every check. The segment
of a row of scores is :meth:`RFMTable.codes`.
"""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from privdomain.layering import RFMScorer, ValueClusters


@parametrize_with_checks(
    [
        RFMScorer(),
        RFMScorer(levels=2, binning="mean"),
        RFMScorer(levels=2, binning="median"),
        RFMScorer(levels=3, lower_is_better=()),
        ValueClusters(n_init=2),
        ValueClusters(n_clusters="auto", k_range=(2, 3), n_init=1, log_scale=False),
    ]
)
def test_sklearn_contract(estimator, check) -> None:
    check(estimator)
