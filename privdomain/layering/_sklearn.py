"""Small bridges to scikit-learn's validation helpers across its versions (>= 1.4)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.utils import validation as _validation

from privdomain.errors import ValidationError

__all__ = ["validate_X"]


class _NotNumbersError(ValidationError, TypeError):
    """Values that are not numbers: a :class:`ValidationError`, and also the ``TypeError``
    scikit-learn's estimator contract expects for such input."""


def validate_X(
    estimator: Any, X: Any, *, reset: bool, allow_nan: bool = False
) -> NDArray[np.float64]:
    """Validate a 2-D float array and set or check ``n_features_in_`` (sklearn's contract).

    scikit-learn's refusals (infinity, NaN where not allowed, a wrong shape or number of
    features, values that are not numbers) become :class:`~privdomain.errors.ValidationError`
    with scikit-learn's message; it is also a ``ValueError`` as scikit-learn's own (and, for
    objects that are not numbers, a ``TypeError``, as scikit-learn's contract asks).
    """
    finite: Any = "allow-nan" if allow_nan else True
    validate_data = getattr(_validation, "validate_data", None)
    try:
        if validate_data is not None:  # scikit-learn >= 1.6
            out = validate_data(
                estimator, X, reset=reset, dtype=np.float64, ensure_all_finite=finite
            )
        else:  # pragma: no cover - older scikit-learn
            out = estimator._validate_data(
                X, reset=reset, dtype=np.float64, force_all_finite=finite
            )
        return np.asarray(out, dtype=np.float64)
    except ValidationError:
        raise
    except TypeError as exc:
        raise _NotNumbersError(f"{type(estimator).__name__}: {exc}") from None
    except ValueError as exc:
        raise ValidationError(f"{type(estimator).__name__}: {exc}") from None
