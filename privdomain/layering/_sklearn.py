"""Small bridges to scikit-learn's validation helpers across its versions (>= 1.4)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.utils import validation as _validation

__all__ = ["validate_X"]


def validate_X(
    estimator: Any, X: Any, *, reset: bool, allow_nan: bool = False
) -> NDArray[np.float64]:
    """Validate a 2-D float array and set or check ``n_features_in_`` (sklearn's contract)."""
    finite: Any = "allow-nan" if allow_nan else True
    validate_data = getattr(_validation, "validate_data", None)
    if validate_data is not None:  # scikit-learn >= 1.6
        out = validate_data(estimator, X, reset=reset, dtype=np.float64, ensure_all_finite=finite)
    else:  # pragma: no cover - older scikit-learn
        out = estimator._validate_data(X, reset=reset, dtype=np.float64, force_all_finite=finite)
    return np.asarray(out, dtype=np.float64)
