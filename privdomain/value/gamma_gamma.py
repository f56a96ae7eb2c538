"""Gamma-Gamma: how much a customer spends per purchase (Fader, Hardie & Lee, 2005)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, gammaln
from sklearn.base import BaseEstimator

from privdomain.errors import ValidationError
from privdomain.value._fitting import (
    FloatArray,
    as_float_array,
    as_weights,
    check_fitted,
    maximize_log_likelihood,
    merged_params,
    params_dict,
    params_from_mapping,
    unique_rows,
)
from privdomain.value._repeat_model import shaped

__all__ = ["GammaGamma"]

_NAMES = ("p", "q", "v")


def _spend_inputs(
    frequency: ArrayLike, monetary_value: ArrayLike
) -> tuple[FloatArray, FloatArray, tuple[int, ...]]:
    try:
        shape = np.broadcast_shapes(np.shape(frequency), np.shape(monetary_value))
    except ValueError as exc:
        raise ValidationError(f"frequency and monetary_value do not broadcast: {exc}") from exc
    x = as_float_array(frequency, "frequency")
    m = as_float_array(monetary_value, "monetary_value")
    x, m = np.broadcast_arrays(x, m)
    if (x < 0).any() or (x != np.round(x)).any():
        raise ValidationError("frequency must hold non-negative whole numbers")
    if (m[x > 0] <= 0).any():
        raise ValidationError(
            "monetary_value must be positive for customers with repeat purchases "
            "(the Gamma-Gamma model describes positive spend)"
        )
    return x, m, shape


def _row_loglik(theta: FloatArray, x: FloatArray, m: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Log-density of the mean ``m`` of ``x`` purchases, and its gradient in (p, q, v)."""
    p, q, v = theta
    px = p * x
    log_xm = np.log(x) + np.log(m)
    log_vxm = np.log(v + x * m)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + px * log_xm
        - np.log(m)
        - (px + q) * log_vxm
    )
    grad = np.empty((x.shape[0], 3))
    psi = digamma(px + q)
    grad[:, 0] = x * (psi - digamma(px) + log_xm - log_vxm)
    grad[:, 1] = psi - digamma(q) + np.log(v) - log_vxm
    grad[:, 2] = q / v - (px + q) / (v + x * m)
    return ll, grad


class GammaGamma(BaseEstimator):  # type: ignore[misc]
    """The Gamma-Gamma model of spend per purchase.

    Each purchase of a customer is ``Gamma(p, ν)`` with ``ν ~ Gamma(q, v)`` across customers, so
    the mean spend of ``x`` repeat purchases identifies ``p, q, v``. Customers without a repeat
    purchase carry no information on spend and are ignored when fitting (not an error).

    Parameters
    ----------
    penalizer_coef : float
        L2 penalty on the parameters (lifetimes' ``penalizer_coef``); 0 is maximum likelihood.
    max_iter : int
        Iteration cap of the optimiser.

    Attributes
    ----------
    params_ : dict
        ``p``, ``q``, ``v``.
    log_likelihood_ : float
        Total log-likelihood of the repeat buyers' mean spends.
    standard_errors_ : dict
        Asymptotic standard errors.
    n_customers_ : float
        Repeat buyers (total weight) the model was fitted on.

    Notes
    -----
    The population mean spend ``p v / (q - 1)`` exists only when ``q > 1``. With ``q <= 1``
    (very heavy-tailed spend), :meth:`expected_spend` returns ``inf`` wherever the posterior mean
    does not exist (``p x + q <= 1``, including customers without a repeat purchase) instead of
    the negative number the bare formula would give; the other customers get their finite,
    positive posterior mean.
    """

    params_: dict[str, float]
    log_likelihood_: float
    standard_errors_: dict[str, float]
    n_customers_: float
    n_iter_: int

    def __init__(self, penalizer_coef: float = 0.0, max_iter: int = 2000) -> None:
        self.penalizer_coef = penalizer_coef
        self.max_iter = max_iter

    def fit(
        self,
        frequency: ArrayLike,
        monetary_value: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> Self:
        """Fit on the repeat buyers' frequency and mean repeat spend.

        Parameters
        ----------
        frequency : array-like, shape (n,)
            Repeat purchases of each customer; rows with 0 are ignored.
        monetary_value : array-like, shape (n,)
            Mean spend of the repeat purchases (positive where ``frequency > 0``).
        weights : array-like, shape (n,), optional
            Number of customers each row stands for.

        Returns
        -------
        self
        """
        if not float(self.penalizer_coef) >= 0:
            raise ValidationError(f"penalizer_coef must be >= 0, got {self.penalizer_coef!r}")
        x, m, _ = _spend_inputs(frequency, monetary_value)
        w = as_weights(weights, x.shape[0])
        buyers = (x > 0) & (w > 0)
        if not buyers.any():
            raise ValidationError("no customer has a repeat purchase: spend cannot be modelled")
        (x, m), w = unique_rows((x[buyers], m[buyers]), w[buyers])
        mean_spend = float(np.einsum("i,i->", w, m)) / float(w.sum())
        result = maximize_log_likelihood(
            lambda theta: _row_loglik(theta, x, m),
            w,
            np.array([1.0, 2.0, mean_spend]),
            names=_NAMES,
            penalizer_coef=float(self.penalizer_coef),
            max_iter=int(self.max_iter),
            model="Gamma-Gamma",
        )
        self.params_ = params_dict(_NAMES, result.params)
        self.log_likelihood_ = result.log_likelihood
        self.standard_errors_ = params_dict(_NAMES, result.standard_errors)
        self.n_customers_ = float(w.sum())
        self.n_iter_ = result.n_iter
        return self

    @classmethod
    def from_params(cls, params: Mapping[str, float] | None = None, **kwargs: float) -> Self:
        """A model with given ``p``, ``q``, ``v``, as if fitted."""
        values = params_from_mapping(_NAMES, merged_params(params, kwargs), cls.__name__)
        model = cls()
        model.params_ = params_dict(_NAMES, values)
        return model

    def log_likelihood(self, frequency: ArrayLike, monetary_value: ArrayLike) -> FloatArray:
        """Log-density of each repeat buyer's mean spend (0 for customers without repeats)."""
        check_fitted(self)
        x, m, _ = _spend_inputs(frequency, monetary_value)
        out = np.zeros(x.shape[0])
        buyers = x > 0
        theta = np.array([self.params_[n] for n in _NAMES])
        out[buyers] = _row_loglik(theta, x[buyers], m[buyers])[0]
        return out

    def expected_spend(self, frequency: ArrayLike, monetary_value: ArrayLike) -> float | FloatArray:
        """Expected spend per purchase of each customer (posterior mean, never negative).

        ``p (v + x m) / (p x + q - 1)``: a credibility-weighted blend of the population mean
        ``p v / (q - 1)`` and the customer's own mean ``m``. See the class notes for ``q <= 1``.
        """
        check_fitted(self)
        p, q, v = (self.params_[n] for n in _NAMES)
        x, m, shape = _spend_inputs(frequency, monetary_value)
        m = np.where(x > 0, m, 0.0)
        denominator = p * x + q - 1
        finite = denominator > 0
        spend = np.full(x.shape, np.inf)
        spend[finite] = p * (v + x[finite] * m[finite]) / denominator[finite]
        return shaped(spend, shape)

    def simulate_spend(
        self, frequency: ArrayLike, *, seed: int | np.random.Generator | None = None
    ) -> FloatArray:
        """Draw each customer's mean repeat spend given her frequency (0 without repeats)."""
        check_fitted(self)
        p, q, v = (self.params_[n] for n in _NAMES)
        x: FloatArray = as_float_array(frequency, "frequency")
        if (x < 0).any() or (x != np.round(x)).any():
            raise ValidationError("frequency must hold non-negative whole numbers")
        rng = np.random.default_rng(seed)
        scale = rng.gamma(np.full(x.shape[0], q), 1.0 / v)  # ν, each customer's spend rate
        buyers = x > 0
        mean = np.zeros(x.shape[0])
        # The mean of x Gamma(p, ν) purchases is Gamma(p x, x ν).
        mean[buyers] = rng.gamma(p * x[buyers], 1.0 / (x[buyers] * scale[buyers]))
        return mean
