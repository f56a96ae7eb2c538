"""What BG/NBD, MBG/NBD and Pareto/NBD share: fitting, the fitted state, and simulation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator

from privdomain._optional import import_optional
from privdomain.errors import ValidationError
from privdomain.value._fitting import (
    FloatArray,
    RepeatData,
    as_float_array,
    check_fitted,
    check_repeat_inputs,
    maximize_log_likelihood,
    merged_params,
    params_dict,
    params_from_mapping,
)
from privdomain.value._results import records, text_table
from privdomain.value.summary import RFMSummary

__all__ = ["RepeatPurchaseModel", "SimulatedPurchases"]


@attrs.frozen(eq=False)
class SimulatedPurchases:
    """Purchase times drawn from a fitted process, one row per purchase (first ones included).

    Attributes
    ----------
    customer : numpy.ndarray of int64
        Index of the customer making each purchase, ``0 .. n_customers - 1``.
    time : numpy.ndarray of float64
        Time of the purchase since that customer's first purchase (at ``0``), in the model's
        time unit; rows are sorted by customer, then time.
    n_customers : int
    """

    customer: NDArray[np.int64]
    time: FloatArray
    n_customers: int

    def __len__(self) -> int:
        return int(self.customer.shape[0])

    def columns(self) -> dict[str, NDArray[Any]]:
        return {"customer": self.customer, "time": self.time}

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per purchase."""
        return records(self.columns())

    def to_frame(self) -> Any:
        """A pandas DataFrame with one row per purchase."""
        pd = import_optional("pandas", extra="pandas")
        return pd.DataFrame(self.columns())

    def __repr__(self) -> str:
        title = f"SimulatedPurchases({len(self)} purchases of {self.n_customers} customers)"
        return text_table(title, self.columns())


class RepeatPurchaseModel(BaseEstimator):  # type: ignore[misc]
    """Base of the buy-till-you-die models (not public; see the concrete classes).

    Parameters
    ----------
    penalizer_coef : float
        L2 penalty on the parameters added to the mean negative log-likelihood, as lifetimes'
        ``penalizer_coef``. Leave at 0 for maximum likelihood.
    max_iter : int
        Iteration cap of the optimiser.
    """

    _param_names: ClassVar[tuple[str, ...]]
    _model_name: ClassVar[str]

    params_: dict[str, float]
    log_likelihood_: float
    standard_errors_: dict[str, float]
    n_customers_: float
    n_iter_: int

    def __init__(self, penalizer_coef: float = 0.0, max_iter: int = 2000) -> None:
        self.penalizer_coef = penalizer_coef
        self.max_iter = max_iter

    # -- fitting -------------------------------------------------------------------------
    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> Self:
        """Fit the model by maximum likelihood.

        Parameters
        ----------
        frequency, recency, T : array-like, shape (n,)
            Repeat purchases, time of the last purchase and age of each customer, all measured
            from the first purchase in one time unit (see :func:`rfm_summary`).
        weights : array-like, shape (n,), optional
            Number of customers each row stands for. Identical rows are merged automatically,
            so a million customers cost what their distinct rows cost.

        Returns
        -------
        self
        """
        if not float(self.penalizer_coef) >= 0:
            raise ValidationError(f"penalizer_coef must be >= 0, got {self.penalizer_coef!r}")
        data = RepeatData.build(frequency, recency, T, weights)
        result = maximize_log_likelihood(
            lambda theta: self._row_loglik(theta, data),
            data.weights,
            self._initial_params(data),
            names=self._param_names,
            penalizer_coef=float(self.penalizer_coef),
            max_iter=int(self.max_iter),
            model=self._model_name,
        )
        self.params_ = params_dict(self._param_names, result.params)
        self.log_likelihood_ = result.log_likelihood
        self.standard_errors_ = params_dict(self._param_names, result.standard_errors)
        self.n_customers_ = float(data.weights.sum())
        self.n_iter_ = result.n_iter
        return self

    @classmethod
    def from_params(cls, params: Mapping[str, float] | None = None, **kwargs: float) -> Self:
        """A model with given parameters, as if fitted (to predict or simulate with them).

        Examples
        --------
        >>> from privdomain.value import BetaGeo
        >>> BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426).params_["a"]
        0.793
        """
        values = params_from_mapping(cls._param_names, merged_params(params, kwargs), cls.__name__)
        model = cls()
        model.params_ = params_dict(cls._param_names, values)
        return model

    def log_likelihood(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """Log-likelihood of each customer's (frequency, recency, T) under the fitted model."""
        theta = self._theta()
        x, tx, age = check_repeat_inputs(frequency, recency, T)
        data = RepeatData.of_rows(x, tx, age, np.ones_like(x))
        return self._row_loglik(theta, data)[0]

    def _theta(self) -> FloatArray:
        check_fitted(self)
        return np.array([self.params_[n] for n in self._param_names])

    # -- what each model defines -----------------------------------------------------------
    def _row_loglik(self, theta: FloatArray, data: RepeatData) -> tuple[FloatArray, FloatArray]:
        raise NotImplementedError

    def _initial_params(self, data: RepeatData) -> FloatArray:
        raise NotImplementedError

    def _draw_customers(
        self, n: int, rng: np.random.Generator
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Per customer: purchase rate, cap on repeat purchases, lifetime (inf: none)."""
        raise NotImplementedError

    def _purchases_if_alive(
        self, horizon: FloatArray, x: FloatArray, age: FloatArray
    ) -> FloatArray:
        """Expected purchases in the next ``horizon`` of a customer known to be alive at ``age``."""
        raise NotImplementedError

    # -- predictions ------------------------------------------------------------------------
    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> float | FloatArray:
        """Probability that each customer is still alive at age ``T``."""
        raise NotImplementedError

    def predict_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> float | FloatArray:
        """Expected number of purchases in the next ``t`` time units, given each history.

        Parameters
        ----------
        t : float or array-like
            Length of the future window, in the time unit of the data.
        frequency, recency, T : array-like
            Each customer's history, as for :meth:`fit`. All four broadcast together.

        Returns
        -------
        float or numpy.ndarray
            ``P(alive) * E[purchases in t | alive]``; a scalar for scalar inputs.
        """
        horizon, x, tx, age, shape = broadcast_with_time(t, frequency, recency, T)
        alive = np.asarray(self.p_alive(x, tx, age), dtype=np.float64)
        return shaped(alive * self._purchases_if_alive(horizon, x, age), shape)

    def cumulative_purchases(
        self, horizons: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """Expected purchases up to each of several horizons: shape ``(len(horizons), n)``.

        Equivalent to calling :meth:`predict_purchases` once per horizon, but P(alive) is
        computed once (what :func:`customer_lifetime_value` needs).
        """
        x, tx, age, _ = broadcast_inputs(frequency, recency, T)
        edges = as_horizon(horizons)
        alive = np.asarray(self.p_alive(x, tx, age), dtype=np.float64)
        out = np.empty((edges.shape[0], x.shape[0]))
        for k, edge in enumerate(edges):
            out[k] = alive * self._purchases_if_alive(np.full_like(x, edge), x, age)
        return out

    # -- simulation --------------------------------------------------------------------------
    def simulate(
        self,
        T: ArrayLike,
        *,
        n_customers: int | None = None,
        seed: int | np.random.Generator | None = None,
        time_unit: str = "D",
    ) -> RFMSummary:
        """Draw customers from the fitted process and summarise them after ``T``.

        Parameters
        ----------
        T : float or array-like
            Age of each customer at the end of observation (scalar: the same for all).
        n_customers : int, optional
            Number of customers when ``T`` is a scalar.
        seed : int or numpy.random.Generator, optional
            Source of randomness (the only one used).
        time_unit : str
            Label stored on the summary; the model's own unit is whatever it was fitted in.

        Returns
        -------
        RFMSummary
            ``customer_ids`` are ``0 .. n - 1``; ``monetary_value`` is ``None``.
        """
        age = _ages(T, n_customers)
        rng = np.random.default_rng(seed)
        rate, cap, lifetime = self._draw_customers(age.shape[0], rng)
        window = np.minimum(lifetime, age)
        arrivals = rng.poisson(rate * window)
        x = np.minimum(arrivals, cap).astype(np.int64)
        # The x-th of `arrivals` uniform arrival times in the window is a scaled Beta variate.
        has = x > 0
        tx = np.zeros_like(age)
        tx[has] = window[has] * rng.beta(x[has], arrivals[has] - x[has] + 1)
        return RFMSummary(
            customer_ids=np.arange(age.shape[0]),
            frequency=x.astype(np.float64),
            recency=tx,
            T=age,
            monetary_value=None,
            period="continuous",
            time_unit=time_unit,
        )

    def simulate_purchases(
        self,
        T: ArrayLike,
        *,
        n_customers: int | None = None,
        seed: int | np.random.Generator | None = None,
    ) -> SimulatedPurchases:
        """Draw every purchase of each customer up to age ``T`` (first purchase at time 0).

        Parameters are those of :meth:`simulate`; use this when purchase times are needed, e.g.
        to turn them into timestamps for :func:`calibration_holdout`.
        """
        age = _ages(T, n_customers)
        n = age.shape[0]
        rng = np.random.default_rng(seed)
        rate, cap, lifetime = self._draw_customers(n, rng)
        window = np.minimum(lifetime, age)
        arrivals = rng.poisson(rate * window)
        customer = np.repeat(np.arange(n, dtype=np.int64), arrivals)
        times = rng.random(customer.shape[0]) * window[customer]
        order = np.lexsort((times, customer))
        customer, times = customer[order], times[order]
        starts = np.cumsum(arrivals) - arrivals
        rank = np.arange(customer.shape[0]) - starts[customer]
        kept = rank < cap[customer]
        all_customer = np.concatenate([np.arange(n, dtype=np.int64), customer[kept]])
        all_time = np.concatenate([np.zeros(n), times[kept]])
        order = np.lexsort((all_time, all_customer))
        return SimulatedPurchases(all_customer[order], all_time[order], n)


def _ages(T: ArrayLike, n_customers: int | None) -> FloatArray:
    age = as_float_array(T, "T")
    if np.ndim(T) == 0:
        if n_customers is None:
            raise ValidationError("give n_customers when T is a single number")
        if int(n_customers) < 0:
            raise ValidationError(f"n_customers must be >= 0, got {n_customers}")
        age = np.full(int(n_customers), float(age[0]))
    elif n_customers is not None and int(n_customers) != age.shape[0]:
        raise ValidationError(f"n_customers={n_customers} but T has {age.shape[0]} entries")
    if (age < 0).any():
        raise ValidationError("T must not be negative")
    return age


def broadcast_inputs(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray, tuple[int, ...]]:
    """Validated, broadcast 1-D inputs and the shape to give results back in."""
    shape = np.broadcast_shapes(np.shape(frequency), np.shape(recency), np.shape(T))
    x, tx, age = check_repeat_inputs(frequency, recency, T)
    return x, tx, age, shape


def as_horizon(t: ArrayLike) -> FloatArray:
    horizon = as_float_array(t, "t")
    if (horizon < 0).any():
        raise ValidationError("t must not be negative")
    return horizon


def broadcast_with_time(
    t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, tuple[int, ...]]:
    """Validated ``t`` and customer inputs broadcast together, and the result shape."""
    try:
        shape = np.broadcast_shapes(
            np.shape(t), np.shape(frequency), np.shape(recency), np.shape(T)
        )
    except ValueError as exc:
        raise ValidationError(f"t, frequency, recency and T do not broadcast: {exc}") from exc
    x, tx, age = check_repeat_inputs(frequency, recency, T)
    horizon = as_horizon(t)
    horizon, x, tx, age = np.broadcast_arrays(horizon, x, tx, age)
    return horizon, x, tx, age, shape


def shaped(values: FloatArray, shape: tuple[int, ...]) -> float | FloatArray:
    """Give scalar inputs a scalar (``numpy.float64``) back, arrays an array of their shape."""
    if shape == ():
        return np.float64(values.reshape(-1)[0])
    return values.reshape(shape)
