"""MBG/NBD: BG/NBD where a customer may also drop out right after the first purchase."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import betaln, digamma, expit, gammaln

from privdomain.value._fitting import FloatArray, RepeatData
from privdomain.value._repeat_model import (
    RepeatPurchaseModel,
    as_horizon,
    shaped,
)
from privdomain.value.beta_geo import purchases_while_alive

__all__ = ["ModifiedBetaGeo"]


class ModifiedBetaGeo(RepeatPurchaseModel):
    """The modified BG/NBD model (Batislam, Denizel & Filiztekin, 2007).

    As :class:`BetaGeo`, except that the dropout coin ``p ~ Beta(a, b)`` is also tossed right
    after the first purchase, so customers without a repeat purchase can be dead too.

    Parameters
    ----------
    penalizer_coef : float
        L2 penalty on the parameters (lifetimes' ``penalizer_coef``); 0 is maximum likelihood.
    max_iter : int
        Iteration cap of the optimiser.
    time_unit : {"D", "h", "W", "M"}
        Unit of recency and ``T`` when the model reads a :class:`~privdomain.Snapshot`
        (``fit(snapshot)``, ``summarize``, ``apply``), default days as lifetimes' ``freq="D"``;
        purchases are counted per business day, as :func:`customer_rfm` counts them.
        Columns and summaries are taken in their own unit.
    horizon : float
        Window of ``expected_purchases`` in :meth:`apply`, in ``time_unit``.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha``, ``a``, ``b``.
    log_likelihood_ : float
        Total log-likelihood at the optimum, in the time unit of the data.
    standard_errors_ : dict
        Asymptotic standard errors of the parameters.
    n_customers_ : float
        Customers (total weight) the model was fitted on.
    time_unit_ : str or None
        Unit of the data the model was fitted on, when the data said (a snapshot, an
        :class:`RFMSummary`); ``None`` for bare columns or a frame. :meth:`apply` refuses to
        read a snapshot in another unit than this.
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    _model_name: ClassVar[str] = "MBG/NBD"

    def _initial_params(self, data: RepeatData) -> FloatArray:
        rate = float(data.weights @ data.x) / float(data.weights @ np.maximum(data.T, 1e-12))
        return np.array([1.0, 1.0 / rate, 1.0, 1.0])

    def _row_loglik(self, theta: FloatArray, data: RepeatData) -> tuple[FloatArray, FloatArray]:
        r, alpha, a, b = theta
        xv, i, x = data.x_values, data.x_index, data.x
        lg = (gammaln(r + xv) - gammaln(r))[i]
        psi_r = (digamma(r + xv) - digamma(r))[i]
        psi_abx = digamma(a + b + xv + 1)
        alive = betaln(a, b + xv + 1)[i]
        alive_a = (digamma(a) - psi_abx)[i]
        alive_b = (digamma(b + xv + 1) - psi_abx)[i]
        gone = betaln(a + 1, b + xv)[i]
        gone_a = (digamma(a + 1) - psi_abx)[i]
        gone_b = (digamma(b + xv) - psi_abx)[i]
        log_t = np.log(alpha + data.T)
        log_tx = np.log(alpha + data.tx)
        u_alive = alive - (r + x) * log_t
        u_gone = gone - (r + x) * log_tx
        mix = np.logaddexp(u_alive, u_gone)
        w_alive = np.exp(u_alive - mix)
        w_gone = np.exp(u_gone - mix)
        ll = lg + r * np.log(alpha) - betaln(a, b) + mix
        grad = np.empty((x.shape[0], 4))
        grad[:, 0] = psi_r + np.log(alpha) - w_alive * log_t - w_gone * log_tx
        grad[:, 1] = r / alpha - (r + x) * (w_alive / (alpha + data.T) + w_gone / (alpha + data.tx))
        grad[:, 2] = -(digamma(a) - digamma(a + b)) + w_alive * alive_a + w_gone * gone_a
        grad[:, 3] = -(digamma(b) - digamma(a + b)) + w_alive * alive_b + w_gone * gone_b
        return ll, grad

    def _draw_customers(
        self, n: int, rng: np.random.Generator
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        r, alpha, a, b = self._theta()
        rate = rng.gamma(r, 1.0 / alpha, n)
        p = rng.beta(a, b, n)
        # The first coin is tossed right after the first purchase: zero repeats are possible.
        cap = rng.geometric(np.maximum(p, 1e-300)).astype(np.float64) - 1
        return rate, cap, np.full(n, np.inf)

    def _p_alive(
        self, theta: FloatArray, x: FloatArray, tx: FloatArray, age: FloatArray
    ) -> FloatArray:
        r, alpha, a, b = theta
        log_odds_dead = (
            np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + age) - np.log(alpha + tx))
        )
        alive: FloatArray = expit(-log_odds_dead)
        return alive

    def _purchases_if_alive(
        self, horizon: FloatArray, x: FloatArray, age: FloatArray
    ) -> FloatArray:
        r, alpha, a, b = self._theta()
        z = horizon / (alpha + age + horizon)
        return purchases_while_alive(float(a), float(b - r), b + x, z)

    def expected_purchases_new_customer(self, t: ArrayLike) -> float | FloatArray:
        """Expected repeat purchases of a new customer in her first ``t`` time units."""
        r, alpha, a, b = self._theta()
        horizon = as_horizon(t)
        z = horizon / (alpha + horizon)
        # Alive after the first purchase with probability b / (a + b), then as any alive customer.
        alive = purchases_while_alive(float(a), float(b - r), np.full_like(z, b), z)
        return shaped(b / (a + b) * alive, np.shape(t))
