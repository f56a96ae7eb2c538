"""Maximum likelihood on log-parameters: validation, weighting, optimisation, standard errors.

Every model here has positive parameters, so the optimiser works on their logarithms (no bounds
needed in practice, natural scaling) with the model's analytic gradient. L-BFGS-B does the
search; a few Newton steps on a finite-difference Hessian of the analytic gradient then polish
the optimum to machine precision, and the same Hessian gives the standard errors. Nothing is
random: the starting point is computed from the data.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize
from threadpoolctl import ThreadpoolController

from privdomain.errors import ConvergenceError, ValidationError
from privdomain.value._show import shown

__all__ = [
    "FitResult",
    "RepeatData",
    "as_float_array",
    "check_max_iter",
    "check_number",
    "check_penalizer",
    "maximize_log_likelihood",
    "unique_rows",
]

FloatArray = NDArray[np.float64]
# Returns the per-row log-likelihood and its gradient in the *natural* parameters (n, k).
RowLogLik = Callable[[FloatArray], tuple[FloatArray, FloatArray]]

#: Largest magnitude of any data value (counts, times, spend, weights): far beyond real data,
#: small enough that the models' arithmetic cannot overflow.
MAX_MAGNITUDE = 1e15
_LOG_BOUND = 30.0  # parameters stay within e^-30 .. e^30, far beyond any meaningful fit
_GRAD_TOL = 1e-6  # per-customer gradient norm (log-parameters) accepted as an optimum
# L-BFGS-B stops close to the optimum; the Newton polish below takes it the rest of the way.
_OPTS = {"ftol": 1e-11, "gtol": 1e-7, "maxcor": 20}


def as_float_array(values: ArrayLike, name: str) -> FloatArray:
    if values is None or isinstance(values, str | bytes):
        raise ValidationError(f"{name} must be numbers, got {shown(values)}")
    try:
        raw = np.asarray(values)
        if raw.dtype.kind not in "biufO":
            raise ValidationError(f"{name} must be numbers, got dtype {raw.dtype}")
        arr = raw.astype(np.float64, copy=False)  # read only: never written to
    except (TypeError, ValueError, OverflowError) as exc:
        if isinstance(exc, ValidationError):
            raise
        raise ValidationError(f"{name} must be numbers: {exc}") from None
    if arr.ndim > 1:
        raise ValidationError(f"{name} must be a scalar or one-dimensional, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValidationError(f"{name} contains NaN or infinite values")
    if arr.size and np.abs(arr).max() > MAX_MAGNITUDE:
        raise ValidationError(
            f"{name} has values beyond {MAX_MAGNITUDE:.0e}: no customer's counts, times or "
            "spend are that large (the numbers overflow the models' arithmetic)"
        )
    return np.atleast_1d(arr)


def check_repeat_inputs(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validate (frequency, recency, T) as the repeat-purchase models need them; broadcast."""
    x = as_float_array(frequency, "frequency")
    tx = as_float_array(recency, "recency")
    age = as_float_array(T, "T")
    try:
        x, tx, age = np.broadcast_arrays(x, tx, age)
    except ValueError as exc:
        raise ValidationError(
            f"frequency, recency and T must have matching lengths, got "
            f"{x.shape[0]}, {tx.shape[0]} and {age.shape[0]}"
        ) from exc
    if (x < 0).any() or (tx < 0).any() or (age < 0).any():
        raise ValidationError("frequency, recency and T must not be negative")
    if (x != np.round(x)).any():
        raise ValidationError("frequency must hold whole numbers of repeat purchases")
    # Unit conversions (days to weeks...) may leave recency a rounding error above T.
    slack = 1e-9 * np.maximum(age, 1.0)
    late = tx > age + slack
    if late.any():
        i = int(np.argmax(late))
        raise ValidationError(
            f"recency > T for {int(late.sum())} customers (first: recency={tx[i]!r}, "
            f"T={age[i]!r}); the last purchase cannot come after the end of observation"
        )
    if (tx[x == 0] != 0).any():
        raise ValidationError("recency must be 0 where frequency is 0 (no repeat purchase)")
    return x, np.minimum(tx, age), age


def as_weights(weights: ArrayLike | None, n: int) -> FloatArray:
    if weights is None:
        return np.ones(n)
    w = as_float_array(weights, "weights")
    if w.shape[0] != n:
        raise ValidationError(f"weights must have one entry per customer ({n}), got {w.shape[0]}")
    if (w < 0).any():
        raise ValidationError("weights must not be negative")
    if not w.sum() > 0:
        raise ValidationError("weights must not all be zero")
    return w


def unique_rows(
    columns: tuple[FloatArray, ...], weights: FloatArray
) -> tuple[tuple[FloatArray, ...], FloatArray]:
    """Collapse identical rows, summing their weights: a fit then costs its distinct rows."""
    rows, index = distinct_rows(columns)
    w = np.bincount(index, weights=weights, minlength=rows[0].shape[0]).astype(np.float64)
    keep = w > 0
    return tuple(c[keep] for c in rows), w[keep]


@attrs.frozen
class RepeatData:
    """Distinct (frequency, recency, T) rows with weights, and the distinct frequencies."""

    x: FloatArray
    tx: FloatArray
    T: FloatArray
    weights: FloatArray
    x_values: FloatArray  # distinct frequencies: special functions are evaluated once each
    x_index: NDArray[np.intp]
    # Distinct (frequency, time) pairs among the rows' (x, t_x) and (x, T): Pareto/NBD's
    # hypergeometric terms depend on nothing else, so each is summed once.
    pair_x: FloatArray
    pair_t: FloatArray
    pair_index: NDArray[np.intp]  # rows [0, n) at t_x, [n, 2n) at T

    @classmethod
    def of_rows(cls, x: FloatArray, tx: FloatArray, T: FloatArray, w: FloatArray) -> RepeatData:
        x_values, x_index = np.unique(x, return_inverse=True)
        (pair_x, pair_t), pair_index = distinct_rows(
            (np.concatenate([x, x]), np.concatenate([tx, T]))
        )
        return cls(x, tx, T, w, x_values, x_index.reshape(-1), pair_x, pair_t, pair_index)


def distinct_rows(
    columns: tuple[FloatArray, ...],
) -> tuple[tuple[FloatArray, ...], NDArray[np.intp]]:
    """Distinct rows of the columns and, for each input row, the index of its distinct row."""
    order = np.lexsort(columns[::-1])
    sorted_cols = tuple(c[order] for c in columns)
    new = np.ones(order.shape[0], dtype=bool)
    if order.shape[0] > 1:
        new[1:] = np.any([np.diff(c) != 0 for c in sorted_cols], axis=0)
    index = np.empty(order.shape[0], dtype=np.intp)
    index[order] = np.cumsum(new) - 1
    return tuple(c[new] for c in sorted_cols), index


@attrs.frozen
class FitResult:
    params: FloatArray
    log_likelihood: float
    standard_errors: FloatArray
    n_iter: int


def _hessian(
    grad: Callable[[FloatArray], FloatArray], theta: FloatArray, g0: FloatArray
) -> FloatArray:
    """Forward differences of the analytic gradient (accurate to ~1e-7 relative)."""
    k = theta.shape[0]
    h = 1e-6 * np.maximum(1.0, np.abs(theta))
    hess = np.empty((k, k))
    for j in range(k):
        step = np.zeros(k)
        step[j] = h[j]
        hess[:, j] = (grad(theta + step) - g0) / h[j]
    return 0.5 * (hess + hess.T)


def maximize_log_likelihood(
    row_loglik: RowLogLik,
    weights: FloatArray,
    initial: FloatArray,
    *,
    names: tuple[str, ...],
    penalizer_coef: float,
    max_iter: int,
    model: str,
) -> FitResult:
    """Maximise ``sum(weights * loglik)`` over positive parameters, starting at ``initial``."""
    # The linear algebra here is 3x3 or 4x4. numpy and scipy each load their own OpenBLAS, and
    # the idle workers of one spin against the other's calls (measured: 4-10x slower fits).
    with _blas_controller().limit(limits=1, user_api="blas"):
        return _maximize(
            row_loglik,
            weights,
            initial,
            names=names,
            penalizer_coef=penalizer_coef,
            max_iter=max_iter,
            model=model,
        )


@functools.cache
def _blas_controller() -> ThreadpoolController:
    # Discovering the loaded BLAS libraries costs milliseconds; limiting them afterwards, µs.
    return ThreadpoolController()


def _maximize(
    row_loglik: RowLogLik,
    weights: FloatArray,
    initial: FloatArray,
    *,
    names: tuple[str, ...],
    penalizer_coef: float,
    max_iter: int,
    model: str,
) -> FitResult:
    total = float(weights.sum())

    def objective(log_theta: FloatArray) -> tuple[float, FloatArray]:
        theta = np.exp(log_theta)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            ll, grad = row_loglik(theta)
            # einsum, not `@`: BLAS threads woken here would fight L-BFGS-B's own BLAS for
            # the cores and make every iteration milliseconds slower.
            value = -float(np.einsum("i,i->", weights, ll)) / total
            g = -np.einsum("i,ij->j", weights, grad) * theta / total
        if penalizer_coef:
            value += penalizer_coef * float(theta @ theta)
            g = g + 2.0 * penalizer_coef * theta * theta
        if not np.isfinite(value) or not np.isfinite(g).all():
            # Steer the line search away from parameters where the likelihood breaks down.
            return np.inf, np.zeros_like(log_theta)
        return value, g

    def gradient(log_theta: FloatArray) -> FloatArray:
        return objective(log_theta)[1]

    start = np.log(initial)
    res = optimize.minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_LOG_BOUND, _LOG_BOUND)] * start.shape[0],
        options=_OPTS | {"maxiter": max_iter},
    )
    log_theta = np.asarray(res.x, dtype=np.float64)
    value, g = float(res.fun), np.asarray(res.jac, dtype=np.float64)
    n_iter = int(res.nit)
    # Newton polish: L-BFGS-B stops a little short of the optimum; Newton steps on one Hessian
    # (which also gives the standard errors) converge fast from there.
    hess = _hessian(gradient, log_theta, g)
    for _ in range(6):
        if np.max(np.abs(g)) < 1e-11:
            break
        try:
            step = -np.linalg.solve(hess, g)
        except np.linalg.LinAlgError:
            break
        candidate = np.clip(log_theta + step, -_LOG_BOUND, _LOG_BOUND)
        cand_value, cand_g = objective(candidate)
        if not (cand_value <= value and np.max(np.abs(cand_g)) < np.max(np.abs(g))):
            break
        log_theta, value, g = candidate, cand_value, cand_g
        n_iter += 1
    if not np.isfinite(value) or np.max(np.abs(g)) > _GRAD_TOL:
        where = ", ".join(f"{n}={v:.4g}" for n, v in zip(names, np.exp(log_theta), strict=True))
        raise ConvergenceError(
            f"{model} fit did not converge (gradient {np.max(np.abs(g)):.2e} after {n_iter} "
            f"iterations, at {where}: {res.message}). Parameters drifting to very large or "
            f"small values mean the data do not identify the model; set penalizer_coef"
        )
    at_bound = np.abs(log_theta) >= _LOG_BOUND - 1e-6
    if at_bound.any():
        bad = ", ".join(n for n, b in zip(names, at_bound, strict=True) if b)
        raise ConvergenceError(
            f"{model} fit ran off to the edge of the parameter space ({bad}); the data do not "
            f"identify the model: set penalizer_coef or use a simpler model"
        )
    theta = np.exp(log_theta)
    if penalizer_coef:
        log_likelihood = float(np.einsum("i,i->", weights, row_loglik(theta)[0]))
    else:
        log_likelihood = -value * total
    # Covariance of the log-parameters is the inverse observed information; delta method after.
    with np.errstate(invalid="ignore"):
        try:
            cov = np.linalg.inv(hess * total)
            se = theta * np.sqrt(np.diag(cov))
        except np.linalg.LinAlgError:
            se = np.full_like(theta, np.nan)
    return FitResult(theta, log_likelihood, se, n_iter)


def params_dict(names: tuple[str, ...], values: FloatArray) -> dict[str, float]:
    return {n: float(v) for n, v in zip(names, values, strict=True)}


def merged_params(
    params: Mapping[str, float] | None, kwargs: Mapping[str, float]
) -> dict[str, float]:
    """``params`` (a dict, or lifetimes' ``params_`` Series) updated with keyword values."""
    if params is not None and not hasattr(params, "items"):
        raise ValidationError(
            f"params must be a mapping of parameter names to values, got {shown(params)}"
        )
    try:
        merged = {} if params is None else {str(k): float(v) for k, v in params.items()}
        merged.update({k: float(v) for k, v in kwargs.items()})
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(f"parameters must be numbers: {exc}") from None
    return merged


def _as_float(value: object, refusal: str) -> float:
    """A real number (not a bool) as a float, an int beyond float64 as ``inf``; anything else
    a ValidationError saying ``refusal`` and what was given."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValidationError(f"{refusal}, got {shown(value)}")
    try:
        return float(value)
    except OverflowError:  # an int beyond float64
        return float("inf")


def check_penalizer(value: object) -> float:
    """``penalizer_coef`` as a finite number >= 0."""
    number = _as_float(value, "penalizer_coef must be a number >= 0")
    if not (np.isfinite(number) and number >= 0):
        raise ValidationError(f"penalizer_coef must be finite and >= 0, got {shown(value)}")
    return number


def check_number(value: object, name: str, *, zero_ok: bool) -> float:
    """A setting (horizon, rate, margin...) as a finite number ``>= 0`` (``> 0`` unless
    ``zero_ok``), at most :data:`MAX_MAGNITUDE`."""
    number = _as_float(value, f"{name} must be a number")
    if not np.isfinite(number) or number < 0 or (number == 0 and not zero_ok):
        bound = ">= 0" if zero_ok else "> 0"
        raise ValidationError(f"{name} must be finite and {bound}, got {shown(value)}")
    if number > MAX_MAGNITUDE:
        raise ValidationError(f"{name} must be at most {MAX_MAGNITUDE:.0e}, got {shown(value)}")
    return number


def check_max_iter(value: object) -> int:
    """``max_iter`` as a whole number >= 1."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValidationError(f"max_iter must be a whole number >= 1, got {shown(value)}")
    if int(value) < 1:
        raise ValidationError(f"max_iter must be >= 1, got {shown(value)}")
    return int(value)


def params_from_mapping(
    names: tuple[str, ...], params: Mapping[str, float], model: str
) -> FloatArray:
    missing = sorted(set(names) - set(params))
    extra = sorted(set(params) - set(names))
    if missing or extra:
        raise ValidationError(
            f"{model} parameters are {names}; "
            f"missing {missing or 'none'}, unknown {extra or 'none'}"
        )
    try:
        values = np.array([float(params[n]) for n in names])
    except (TypeError, ValueError, OverflowError):
        raise ValidationError(
            f"{model} parameters must be numbers, got {shown(dict(params))}"
        ) from None
    if not (np.isfinite(values) & (values > 0)).all():
        raise ValidationError(
            f"{model} parameters must be positive and finite, got {shown(dict(params))}"
        )
    return values
