"""Gamma-Gamma: how much a customer spends per purchase (Fader, Hardie & Lee, 2005)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import digamma, gammaln
from sklearn.base import BaseEstimator

from privdomain.errors import ValidationError
from privdomain.strategy import check_fitted
from privdomain.value._fitting import (
    FloatArray,
    as_float_array,
    as_weights,
    check_max_iter,
    check_penalizer,
    maximize_log_likelihood,
    merged_params,
    params_dict,
    params_from_mapping,
)
from privdomain.value._frames import summary_columns
from privdomain.value._repeat_model import as_rng, check_snapshot, is_snapshot, shaped
from privdomain.value.forecast import SpendForecast
from privdomain.value.sufficient import SpendSummary, summary_of
from privdomain.value.summary import snapshot_rows

if TYPE_CHECKING:
    from privdomain.domain.snapshot import Snapshot

__all__ = ["GammaGamma"]

_NAMES = ("p", "q", "v")


def _spend_inputs(
    frequency: ArrayLike | Any, monetary_value: ArrayLike | None
) -> tuple[FloatArray, FloatArray, tuple[int, ...]]:
    """Validated, broadcast frequency and mean spend (given as columns or as one summary)."""
    if monetary_value is None:
        frequency, monetary_value = summary_columns(
            frequency, ("frequency", "monetary_value"), argument="frequency"
        )
    x = as_float_array(frequency, "frequency")
    m = as_float_array(monetary_value, "monetary_value")
    try:
        shape = np.broadcast_shapes(np.shape(frequency), np.shape(monetary_value))
        x, m = np.broadcast_arrays(x, m)
    except ValueError:
        raise ValidationError(
            f"frequency and monetary_value must have matching lengths, got {x.shape[0]} and "
            f"{m.shape[0]}"
        ) from None
    if (x < 0).any() or (x != np.round(x)).any():
        raise ValidationError("frequency must hold non-negative whole numbers")
    return x, m, shape


def _informative(x: FloatArray, m: FloatArray) -> NDArray[np.bool_]:
    """Which customers tell the model something about spend: repeat buyers who spent."""
    result: NDArray[np.bool_] = (x > 0) & (m > 0)
    return result


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
    purchase carry no information on spend and are ignored when fitting (not an error). Nor do
    customers whose repeat purchases cost nothing (free items, fully discounted orders: real
    logs have them), whom the model cannot describe: the fit leaves them out and counts them
    in ``n_excluded_``, and :meth:`expected_spend` gives them, like every customer without
    usable spend, the population mean.

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
    n_excluded_ : float
        Customers (total weight) with repeat purchases but a mean spend of 0 or less, left out
        of the fit (also shown in the repr).

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
    n_excluded_: float
    n_iter_: int

    def __init__(self, penalizer_coef: float = 0.0, max_iter: int = 2000) -> None:
        self.penalizer_coef = penalizer_coef
        self.max_iter = max_iter

    def fit(
        self,
        frequency: ArrayLike | Snapshot | Any,
        monetary_value: ArrayLike | None = None,
        weights: ArrayLike | None = None,
    ) -> Self:
        """Fit on the repeat buyers' frequency and mean repeat spend.

        Parameters
        ----------
        frequency : array-like, shape (n,)
            Repeat purchases of each customer; rows with 0 are ignored. Or one summary alone:
            an :class:`RFMSummary` built with amounts, or a frame with ``frequency`` and
            ``monetary_value`` columns. Or a :class:`~privdomain.Snapshot` alone
            (``fit_summary(summarize(snapshot))``).
        monetary_value : array-like, shape (n,)
            Mean spend of the repeat purchases. Repeat buyers with 0 (or less) are left out
            and counted in ``n_excluded_``.
        weights : array-like, shape (n,), optional
            Number of customers each row stands for.

        Returns
        -------
        self

        Raises
        ------
        ValidationError
            NaN or infinite values, fractional or negative frequencies, columns of different
            lengths, or no repeat buyer with positive spend at all.
        """
        if is_snapshot(frequency):
            if monetary_value is not None or weights is not None:
                raise ValidationError(
                    "fit(snapshot) takes the snapshot alone: its customers are the rows"
                )
            return self.fit_summary(self.summarize(frequency))
        check_penalizer(self.penalizer_coef)
        check_max_iter(self.max_iter)
        x, m, _ = _spend_inputs(frequency, monetary_value)
        w = as_weights(weights, x.shape[0])
        return self.fit_summary(SpendSummary.of_checked(x, m, w))

    def summarize(self, snapshot: Snapshot) -> SpendSummary:
        """The sufficient statistics of a snapshot: its repeat buyers' (frequency, mean repeat
        spend) pairs with their weights, for :meth:`fit_summary`.

        Summaries of partitions of the customers merge (:meth:`SpendSummary.merge`) into the
        summary of the whole, exactly.
        """
        rows = snapshot_rows(check_snapshot(snapshot, "summarize"), time_unit="D")
        return SpendSummary.of_checked(
            rows.frequency, rows.monetary_value, np.ones(rows.frequency.shape[0])
        )

    def fit_summary(self, summary: SpendSummary) -> Self:
        """Fit on sufficient statistics: a :class:`SpendSummary`, merged from any partitions."""
        summary = summary_of(summary, SpendSummary, "fit_summary")
        penalizer = check_penalizer(self.penalizer_coef)
        max_iter = check_max_iter(self.max_iter)
        if len(summary) == 0:
            raise ValidationError(
                "no customer has a repeat purchase with positive spend: spend cannot be "
                f"modelled ({summary.excluded:g} repeat buyers spent nothing)"
            )
        x, m, w = summary.frequency, summary.monetary_value, summary.weights
        mean_spend = float(np.einsum("i,i->", w, m)) / float(w.sum())
        result = maximize_log_likelihood(
            lambda theta: _row_loglik(theta, x, m),
            w,
            np.array([1.0, 2.0, mean_spend]),
            names=_NAMES,
            penalizer_coef=penalizer,
            max_iter=max_iter,
            model="Gamma-Gamma",
        )
        self.params_ = params_dict(_NAMES, result.params)
        self.log_likelihood_ = result.log_likelihood
        self.standard_errors_ = params_dict(_NAMES, result.standard_errors)
        self.n_customers_ = summary.n_customers
        self.n_excluded_ = summary.excluded
        self.n_iter_ = result.n_iter
        return self

    def apply(self, snapshot: Snapshot) -> SpendForecast:
        """Expected spend per purchase of every customer of a snapshot, in its row order.

        Customers without usable spend (never bought, no repeat purchase, or repeat purchases
        that cost nothing) get the population mean. Each row depends on that customer and the
        fitted parameters only.
        """
        check_fitted(self, "params_")
        rows = snapshot_rows(check_snapshot(snapshot, "apply"), time_unit="D")
        spend = np.asarray(self.expected_spend(rows.frequency, rows.monetary_value))
        return SpendForecast(
            customer_ids=rows.customer_ids,
            buyer=rows.buyer,
            frequency=rows.frequency,
            monetary_value=rows.monetary_value,
            expected_spend=spend.astype(np.float64).reshape(-1),
            params=dict(self.params_),
            as_of=rows.as_of,
        )

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        # scikit-learn's repr (the parameters), then what the fit saw, as lifetimes shows it
        text: str = super().__repr__(N_CHAR_MAX)
        if not hasattr(self, "params_"):
            return text
        params = ", ".join(f"{n}={self.params_[n]:.4g}" for n in _NAMES)
        if not hasattr(self, "n_customers_"):  # from_params: no data seen
            return f"{text}: {params}"
        left_out = (
            f" ({self.n_excluded_:g} left out: repeat purchases, no positive spend)"
            if self.n_excluded_
            else ""
        )
        return f"{text} fitted on {self.n_customers_:g} repeat buyers{left_out}: {params}"

    @classmethod
    def from_params(cls, params: Mapping[str, float] | None = None, **kwargs: float) -> Self:
        """A model with given ``p``, ``q``, ``v``, as if fitted."""
        values = params_from_mapping(_NAMES, merged_params(params, kwargs), cls.__name__)
        model = cls()
        model.params_ = params_dict(_NAMES, values)
        return model

    def log_likelihood(
        self, frequency: ArrayLike | Any, monetary_value: ArrayLike | None = None
    ) -> FloatArray:
        """Log-density of each repeat buyer's mean spend.

        0 for the customers a fit leaves out (no repeat purchase, or no positive spend).
        """
        check_fitted(self, "params_")
        x, m, _ = _spend_inputs(frequency, monetary_value)
        out = np.zeros(x.shape[0])
        buyers = _informative(x, m)
        theta = np.array([self.params_[n] for n in _NAMES])
        out[buyers] = _row_loglik(theta, x[buyers], m[buyers])[0]
        return out

    def expected_spend(
        self, frequency: ArrayLike | Any, monetary_value: ArrayLike | None = None
    ) -> float | FloatArray:
        """Expected spend per purchase of each customer (posterior mean, never negative).

        ``p (v + x m) / (p x + q - 1)``: a credibility-weighted blend of the population mean
        ``p v / (q - 1)`` and the customer's own mean ``m``. Customers without usable spend (no
        repeat purchase, or repeat purchases that cost nothing) get the population mean, the
        posterior with ``x = 0``. See the class notes for ``q <= 1``.

        Parameters
        ----------
        frequency : array-like
            As for :meth:`fit`, or one summary alone.
        monetary_value : array-like, optional
            As for :meth:`fit` (not given with one summary).
        """
        check_fitted(self, "params_")
        p, q, v = (self.params_[n] for n in _NAMES)
        x, m, shape = _spend_inputs(frequency, monetary_value)
        usable = _informative(x, m)
        x = np.where(usable, x, 0.0)
        m = np.where(usable, m, 0.0)
        denominator = p * x + q - 1
        finite = denominator > 0
        spend = np.full(x.shape, np.inf)
        spend[finite] = p * (v + x[finite] * m[finite]) / denominator[finite]
        return shaped(spend, shape)

    def simulate_spend(
        self, frequency: ArrayLike, *, seed: int | np.random.Generator | None = None
    ) -> FloatArray:
        """Draw each customer's mean repeat spend given her frequency (0 without repeats)."""
        check_fitted(self, "params_")
        p, q, v = (self.params_[n] for n in _NAMES)
        x: FloatArray = as_float_array(frequency, "frequency")
        if (x < 0).any() or (x != np.round(x)).any():
            raise ValidationError("frequency must hold non-negative whole numbers")
        rng = as_rng(seed)
        scale = rng.gamma(np.full(x.shape[0], q), 1.0 / v)  # ν, each customer's spend rate
        buyers = x > 0
        mean = np.zeros(x.shape[0])
        # The mean of x Gamma(p, ν) purchases is Gamma(p x, x ν).
        mean[buyers] = rng.gamma(p * x[buyers], 1.0 / (x[buyers] * scale[buyers]))
        return mean
