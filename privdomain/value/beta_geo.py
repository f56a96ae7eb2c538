"""BG/NBD: Poisson purchases while alive, dropout after any repeat purchase (Fader et al. 2005)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import betaln, digamma, expit, gammaln

from privdomain.value._fitting import FloatArray, RepeatData
from privdomain.value._hypergeometric import hyp2f1_large_c
from privdomain.value._repeat_model import (
    RepeatPurchaseModel,
    as_horizon,
    shaped,
)

__all__ = ["BetaGeo"]


class BetaGeo(RepeatPurchaseModel):
    """The beta-geometric/NBD model of repeat purchases (Fader, Hardie & Lee, 2005).

    While alive a customer buys as a Poisson process of rate ``λ ~ Gamma(r, α)``; after each
    repeat purchase she drops out with probability ``p ~ Beta(a, b)``.

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
        Asymptotic standard errors of the parameters (inverse observed information).
    n_customers_ : float
        Customers (total weight) the model was fitted on.
    time_unit_ : str or None
        Unit of the data the model was fitted on, when the data said (a snapshot, an
        :class:`RFMSummary`); ``None`` for bare columns or a frame. :meth:`apply` refuses to
        read a snapshot in another unit than this.

    Examples
    --------
    >>> from privdomain.value import BetaGeo
    >>> truth = BetaGeo.from_params(r=0.25, alpha=4.0, a=0.8, b=2.5)
    >>> data = truth.simulate(39.0, n_customers=20_000, seed=1)
    >>> model = BetaGeo().fit(data.frequency, data.recency, data.T)
    >>> sorted(model.params_)
    ['a', 'alpha', 'b', 'r']
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    _model_name: ClassVar[str] = "BG/NBD"

    def _initial_params(self, data: RepeatData) -> FloatArray:
        rate = float(data.weights @ data.x) / float(data.weights @ np.maximum(data.T, 1e-12))
        return np.array([1.0, 1.0 / rate, 1.0, 1.0])

    def _row_loglik(self, theta: FloatArray, data: RepeatData) -> tuple[FloatArray, FloatArray]:
        r, alpha, a, b = theta
        xv, i, x = data.x_values, data.x_index, data.x
        repeat = xv > 0
        xs = np.where(repeat, xv, 1.0)  # the dropout term exists only after a repeat purchase
        # Special functions depend on the frequency only: evaluate once per distinct value.
        lg = (gammaln(r + xv) - gammaln(r))[i]
        psi_r = (digamma(r + xv) - digamma(r))[i]
        psi_abx = digamma(a + b + xv)
        alive = betaln(a, b + xv)[i]
        alive_a = (digamma(a) - psi_abx)[i]
        alive_b = (digamma(b + xv) - psi_abx)[i]
        gone = np.where(repeat, betaln(a + 1, b + xs - 1), -np.inf)[i]
        gone_a = (digamma(a + 1) - digamma(a + b + xs))[i]
        gone_b = (digamma(b + xs - 1) - digamma(a + b + xs))[i]
        log_t = np.log(alpha + data.T)
        log_tx = np.log(alpha + data.tx)
        u_alive = alive - (r + x) * log_t
        u_gone = gone - (r + x) * log_tx
        mix = np.logaddexp(u_alive, u_gone)
        w_alive = np.exp(u_alive - mix)
        w_gone = np.exp(u_gone - mix)
        base = betaln(a, b)
        ll = lg + r * np.log(alpha) - base + mix
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
        # Dropout follows a repeat purchase, so at least one repeat is possible.
        cap = rng.geometric(np.maximum(p, 1e-300)).astype(np.float64)
        return rate, cap, np.full(n, np.inf)

    # -- predictions -------------------------------------------------------------------------
    def p_alive(
        self,
        frequency: ArrayLike | Any,
        recency: ArrayLike | None = None,
        T: ArrayLike | None = None,
    ) -> float | FloatArray:
        """Probability that each customer is still alive at age ``T``.

        Customers without a repeat purchase are alive with certainty under BG/NBD (dropout
        happens only after a repeat purchase). The columns, or one summary, as for :meth:`fit`.
        """
        return super().p_alive(frequency, recency, T)

    def _p_alive(
        self, theta: FloatArray, x: FloatArray, tx: FloatArray, age: FloatArray
    ) -> FloatArray:
        r, alpha, a, b = theta
        log_odds_dead = (
            np.log(a)
            - np.log(np.maximum(b + x - 1, 1e-300))
            + (r + x) * (np.log(alpha + age) - np.log(alpha + tx))
        )
        alive: FloatArray = np.where(x > 0, expit(-log_odds_dead), 1.0)
        return alive

    def _purchases_if_alive(
        self, horizon: FloatArray, x: FloatArray, age: FloatArray
    ) -> FloatArray:
        r, alpha, a, b = self._theta()
        z = horizon / (alpha + age + horizon)
        return purchases_while_alive(float(a), float(b - 1 - r), b + x - 1, z)

    def expected_purchases_new_customer(self, t: ArrayLike) -> float | FloatArray:
        """Expected repeat purchases of a new customer in her first ``t`` time units."""
        r, alpha, a, b = self._theta()
        horizon = as_horizon(t)
        z = horizon / (alpha + horizon)
        expected = purchases_while_alive(float(a), float(b - 1 - r), np.full_like(z, b - 1), z)
        return shaped(expected, np.shape(t))


_NEAR_ONE = 1e-4
_SWAP_GROWTH = 200.0  # -(a-1) log(1-z) above which the transformed series nears overflow


def purchases_while_alive(
    a: float, top_offset: float, bottom_offset: FloatArray, z: FloatArray
) -> FloatArray:
    """``c/(a-1) (1 - (1-z)^(a-1) 2F1(a + top_offset, a-1; c; z))`` with ``c = a + bottom_offset``.

    The expected purchases of an alive BG/NBD or MBG/NBD customer: the Gauss hypergeometric term
    of Fader et al. after Euler's transformation, which keeps it bounded for any frequency (no
    overflow for customers with thousands of purchases). At ``a = 1`` the formula is 0/0 though
    the expectation is smooth; within 1e-4 of it, it is interpolated between ``1 ± 1e-4``
    (error ~1e-8 relative).
    """

    def at(shape: float) -> FloatArray:
        c, z_ = np.broadcast_arrays(np.asarray(shape + bottom_offset, dtype=np.float64), z)
        # (1-z)^(a-1) 2F1(a + top, a-1; c; z) = (1-z)^e 2F1(e, c-a+1; c; z), e = bottom - top
        # (Euler's transformation): the first series is about (1-z)^-(a-1) before the decay
        # cancels it, which overflows for a concentrated Beta (a of thousands); the second grows
        # with e (the frequency), so each customer gets the form with the smaller growth
        e = c - shape - top_offset
        log_scale = -np.log1p(-z_)  # each series is about (1-z)^-(its growth parameter)
        swap = ((shape - 1) * log_scale > _SWAP_GROWTH) & (e < shape - 1)
        bracket = np.empty_like(c)
        keep = ~swap
        decay = np.exp((shape - 1) * np.log1p(-z_[keep]))
        bracket[keep] = 1 - decay * hyp2f1_large_c(shape + top_offset, shape - 1, c[keep], z_[keep])
        if swap.any():
            e_s, z_s, c_s = e[swap], z_[swap], c[swap]
            bracket[swap] = 1 - np.exp(e_s * np.log1p(-z_s)) * hyp2f1_large_c(
                e_s, c_s - shape + 1, c_s, z_s
            )
        result: FloatArray = c / (shape - 1) * bracket
        return result

    if abs(a - 1) >= _NEAR_ONE:
        return at(a)
    low, high = at(1 - _NEAR_ONE), at(1 + _NEAR_ONE)
    return low + (a - 1 + _NEAR_ONE) / (2 * _NEAR_ONE) * (high - low)
