"""The layering learners keep scikit-learn's estimator contract."""

from __future__ import annotations

from typing import Any

from sklearn.utils.estimator_checks import parametrize_with_checks

from privdomain.layering import RFMLayering, RFMScorer, ValueClusters

#: RFMLayering reads exactly three columns (recency, frequency, monetary value) and refuses a
#: NaN frequency or spend for a customer with a recency; these generic checks fit it on other
#: widths or put NaN anywhere. Its scorer, RFMScorer, takes any width and passes them all.
_FIXED_WIDTH = "RFMLayering reads exactly three columns: recency, frequency, monetary"
_RFM_EXPECTED_FAILURES = {
    "check_estimators_dtypes": _FIXED_WIDTH,
    "check_estimators_fit_returns_self": _FIXED_WIDTH,
    "check_dtype_object": _FIXED_WIDTH,
    "check_estimators_overwrite_params": _FIXED_WIDTH,
    "check_readonly_memmap_input": _FIXED_WIDTH,
    "check_n_features_in_after_fitting": _FIXED_WIDTH,
    "check_positive_only_tag_during_fit": _FIXED_WIDTH,
    "check_fit2d_1sample": _FIXED_WIDTH,
    "check_fit_idempotent": _FIXED_WIDTH,
    "check_fit_check_is_fitted": _FIXED_WIDTH,
    "check_n_features_in": _FIXED_WIDTH,
    "check_estimators_pickle": "NaN frequency or spend for a buyer is refused on purpose",
}


def _expected_failures(estimator: Any) -> dict[str, str]:
    return _RFM_EXPECTED_FAILURES if isinstance(estimator, RFMLayering) else {}


@parametrize_with_checks(
    [
        RFMScorer(),
        RFMScorer(levels=2, binning="median"),
        RFMScorer(levels=3, lower_is_better=()),
        RFMLayering(),
        ValueClusters(n_init=2),
        ValueClusters(n_clusters="auto", k_range=(2, 3), n_init=1, log_scale=False),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_contract(estimator, check) -> None:
    check(estimator)
