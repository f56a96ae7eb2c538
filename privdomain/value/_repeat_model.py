"""What BG/NBD, MBG/NBD and Pareto/NBD share: fitting, the fitted state, and simulation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeGuard

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator

from privdomain._optional import import_optional
from privdomain.errors import EmptyPoolError, ValidationError
from privdomain.result import plain_column
from privdomain.result import shown as cell
from privdomain.strategy import check_fitted
from privdomain.value._fitting import (
    FloatArray,
    RepeatData,
    as_float_array,
    check_max_iter,
    check_number,
    check_penalizer,
    check_repeat_inputs,
    distinct_rows,
    maximize_log_likelihood,
    merged_params,
    params_dict,
    params_from_mapping,
)
from privdomain.value._frames import is_frame, summary_columns
from privdomain.value._periods import UNIT_NAMES, check_time_unit
from privdomain.value._show import shown
from privdomain.value.forecast import PurchaseForecast
from privdomain.value.sufficient import RepeatSummary, summary_of
from privdomain.value.summary import RFMSummary, snapshot_rows

if TYPE_CHECKING:
    from privdomain.domain.snapshot import Snapshot

__all__ = ["RepeatPurchaseModel", "SimulatedPurchases", "repeat_columns"]

#: More simulated customers than this is a mistake, not a study (and would exhaust memory).
_MAX_SIMULATED = 10**9
_PREVIEW = 5  # purchases shown by the repr


def repeat_columns(frequency: Any, recency: Any, T: Any) -> tuple[Any, Any, Any]:
    """(frequency, recency, T) given as three columns, or as one summary in ``frequency``.

    The summary may be an :class:`RFMSummary` or a data frame with ``frequency``, ``recency``
    and ``T`` columns (lifetimes' summary tables, ``RFMSummary.to_frame()``).
    """
    if recency is None and T is None:
        x, tx, age = summary_columns(frequency, ("frequency", "recency", "T"), argument="frequency")
        return x, tx, age
    if recency is None or T is None:
        missing = "recency" if recency is None else "T"
        raise TypeError(
            f"{missing} is missing: pass frequency, recency and T, or one summary "
            "(an RFMSummary or a frame with those columns) as the only argument"
        )
    return frequency, recency, T


def is_snapshot(value: object) -> TypeGuard[Snapshot]:
    """Whether ``value`` is a :class:`~privdomain.Snapshot` (what ``fit`` dispatches on)."""
    from privdomain.domain.snapshot import Snapshot

    return isinstance(value, Snapshot)


def check_snapshot(value: Any, method: str) -> Snapshot:
    """``value`` if it is a :class:`~privdomain.Snapshot`, else a ValidationError."""
    if not is_snapshot(value):
        raise ValidationError(
            f"{method}() takes a Snapshot, got {type(value).__name__}; for columns or an "
            "RFMSummary use fit(...) and the predictions"
        )
    return value


def _unit_of(summary: object) -> str | None:
    """The time unit a summary object declares (an RFMSummary does; columns and frames not)."""
    unit = None if is_frame(summary) else getattr(summary, "time_unit", None)
    return unit if isinstance(unit, str) else None


def as_rng(seed: object) -> np.random.Generator:
    """``numpy.random.default_rng(seed)``, refusing what is not a seed with ValidationError."""
    if isinstance(seed, bool | float | str | bytes):
        raise ValidationError(
            f"seed must be an int >= 0, a numpy.random.Generator or None, got {shown(seed)}"
        )
    try:
        return np.random.default_rng(seed)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(
            f"seed must be an int >= 0, a numpy.random.Generator or None, got {shown(seed)}: {exc}"
        ) from None


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
        """One dict of plain Python values per purchase."""
        customer, time = plain_column(self.customer), plain_column(self.time)
        return [{"customer": c, "time": t} for c, t in zip(customer, time, strict=True)]

    def to_frame(self) -> Any:
        """A pandas DataFrame with one row per purchase."""
        pd = import_optional("pandas", extra="pandas")
        return pd.DataFrame(self.columns())

    def __repr__(self) -> str:
        lines = [f"SimulatedPurchases({len(self)} purchases of {self.n_customers} customers)"]
        lines += [
            f"customer {cell(c)} at {cell(t)}"
            for c, t in zip(self.customer[:_PREVIEW], self.time[:_PREVIEW], strict=True)
        ]
        if len(self) > _PREVIEW:
            lines.append(f"... ({len(self) - _PREVIEW} more purchases)")
        return "\n".join(lines)


class RepeatPurchaseModel(BaseEstimator):  # type: ignore[misc]
    """Base of the buy-till-you-die models (not public; see the concrete classes).

    Parameters
    ----------
    penalizer_coef : float
        L2 penalty on the parameters added to the mean negative log-likelihood, as lifetimes'
        ``penalizer_coef``. Leave at 0 for maximum likelihood.
    max_iter : int
        Iteration cap of the optimiser.
    time_unit : {"D", "h", "W", "M"}
        Unit of recency and ``T`` when the model reads a snapshot (``summarize``,
        ``fit(snapshot)``, ``apply``): purchases are counted per business day, as
        :func:`customer_rfm` counts them, and measured in this unit. Columns and summaries
        passed to ``fit`` and the predictions are taken in their own unit.
    horizon : float
        Length of the future window of ``expected_purchases`` in ``apply``, in ``time_unit``.
    """

    _param_names: ClassVar[tuple[str, ...]]
    _model_name: ClassVar[str]

    params_: dict[str, float]
    log_likelihood_: float
    standard_errors_: dict[str, float]
    n_customers_: float
    n_iter_: int
    time_unit_: str | None

    def __init__(
        self,
        penalizer_coef: float = 0.0,
        max_iter: int = 2000,
        time_unit: str = "D",
        horizon: float = 30.0,
    ) -> None:
        self.penalizer_coef = penalizer_coef
        self.max_iter = max_iter
        self.time_unit = time_unit
        self.horizon = horizon

    # -- fitting -------------------------------------------------------------------------
    def fit(
        self,
        frequency: ArrayLike | Snapshot | Any,
        recency: ArrayLike | None = None,
        T: ArrayLike | None = None,
        weights: ArrayLike | None = None,
    ) -> Self:
        """Fit the model by maximum likelihood.

        Parameters
        ----------
        frequency : array-like, shape (n,)
            Repeat purchases of each customer; with ``recency`` and ``T`` (time of the last
            purchase and age of each customer), all measured from the first purchase in one
            time unit (see :func:`rfm_summary`). Or pass one
            summary as ``frequency`` alone: an :class:`RFMSummary`, or a pandas or polars
            frame with ``frequency``, ``recency`` and ``T`` columns (as lifetimes' tables).
            Or pass a :class:`~privdomain.Snapshot` alone: the model is fitted on its buyers,
            summarised in ``time_unit`` (``fit_summary(summarize(snapshot))``).
        recency, T : array-like, shape (n,), optional
            Not given with one summary or a snapshot.
        weights : array-like, shape (n,), optional
            Number of customers each row stands for. Identical rows are merged automatically,
            so a million customers cost what their distinct rows cost.

        Returns
        -------
        self

        Raises
        ------
        ValidationError
            NaN, infinite or negative values, fractional frequencies, recency after ``T``,
            columns of different lengths, or no repeat purchase at all.
        EmptyPoolError
            Zero customers.
        ConvergenceError
            The data do not identify the model (set ``penalizer_coef``).
        """
        if is_snapshot(frequency):
            if recency is not None or T is not None or weights is not None:
                raise ValidationError(
                    "fit(snapshot) takes the snapshot alone: its customers are the rows"
                )
            return self.fit_summary(self.summarize(frequency))
        check_penalizer(self.penalizer_coef)
        check_max_iter(self.max_iter)
        unit = _unit_of(frequency) if recency is None and T is None else None
        x, tx, age = check_repeat_inputs(*repeat_columns(frequency, recency, T))
        if x.shape[0] == 0:
            raise EmptyPoolError("cannot fit a model on zero customers")
        return self.fit_summary(RepeatSummary.of(x, tx, age, weights, time_unit=unit))

    def summarize(self, snapshot: Snapshot) -> RepeatSummary:
        """The sufficient statistics of a snapshot's buyers, for :meth:`fit_summary`.

        Every buyer's (frequency, recency, T) in ``time_unit``, as distinct rows with the
        number of customers on each. Summaries of partitions of the customers merge
        (:meth:`RepeatSummary.merge`) into the summary of the whole, exactly.
        """
        rows = snapshot_rows(check_snapshot(snapshot, "summarize"), time_unit=self.time_unit)
        b = rows.buyer
        return RepeatSummary.of(
            rows.frequency[b],
            rows.recency[b],
            rows.T[b],
            time_unit=rows.time_unit,
            never_bought=float(np.count_nonzero(~b)),
        )

    def fit_summary(self, summary: RepeatSummary) -> Self:
        """Fit on sufficient statistics: a :class:`RepeatSummary`, merged from any partitions.

        The fit reads nothing else, so fitting on merged summaries of partitions gives the
        same parameters as fitting on the whole.
        """
        summary = summary_of(summary, RepeatSummary, "fit_summary")
        penalizer = check_penalizer(self.penalizer_coef)
        max_iter = check_max_iter(self.max_iter)
        if len(summary) == 0:
            raise EmptyPoolError("cannot fit a model on zero customers")
        if not float(summary.weights @ summary.frequency) > 0:
            raise ValidationError(
                "no customer has a repeat purchase (all frequencies are 0): the purchase "
                "and dropout rates cannot be told apart"
            )
        data = RepeatData.of_rows(summary.frequency, summary.recency, summary.T, summary.weights)
        result = maximize_log_likelihood(
            lambda theta: self._row_loglik(theta, data),
            data.weights,
            self._initial_params(data),
            names=self._param_names,
            penalizer_coef=penalizer,
            max_iter=max_iter,
            model=self._model_name,
        )
        self.params_ = params_dict(self._param_names, result.params)
        self.log_likelihood_ = result.log_likelihood
        self.standard_errors_ = params_dict(self._param_names, result.standard_errors)
        self.n_customers_ = summary.n_customers
        self.n_iter_ = result.n_iter
        self.time_unit_ = summary.time_unit
        return self

    def apply(self, snapshot: Snapshot) -> PurchaseForecast:
        """P(alive) and expected purchases of every customer of a snapshot, in its row order.

        Histories are read in ``time_unit``; customers who never bought are read as no
        purchase since joining (see :class:`PurchaseForecast`). Each row depends on that
        customer and the fitted parameters only, so applying partition by partition and
        concatenating gives what applying once gives.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        ValidationError
            When the model was fitted on a summary in another unit than ``time_unit``.
        """
        check_fitted(self, "params_")
        unit = self._snapshot_unit()
        horizon = check_number(self.horizon, "horizon", zero_ok=True)
        rows = snapshot_rows(check_snapshot(snapshot, "apply"), time_unit=unit)
        n = rows.customer_ids.shape[0]
        alive = np.ones(n)
        purchases = np.zeros(n)
        if n:
            # Each distinct history once: many customers share one (all who never bought and
            # joined on one day, every one-time buyer of one day).
            (x, tx, age), inverse = distinct_rows((rows.frequency, rows.recency, rows.T))
            horizons = np.full(x.shape[0], horizon)
            alive = np.asarray(self.p_alive(x, tx, age), dtype=np.float64)[inverse]
            purchases = np.asarray(self.predict_purchases(horizons, x, tx, age), dtype=np.float64)[
                inverse
            ]
        return PurchaseForecast(
            customer_ids=rows.customer_ids,
            buyer=rows.buyer,
            frequency=rows.frequency,
            recency=rows.recency,
            T=rows.T,
            p_alive=alive,
            expected_purchases=purchases,
            model=self._model_name,
            params=dict(self.params_),
            horizon=horizon,
            time_unit=unit,
            as_of=rows.as_of,
        )

    def _snapshot_unit(self) -> str:
        """``time_unit``, checked against the unit of the data the model was fitted on."""
        unit = check_time_unit(self.time_unit)
        fitted = getattr(self, "time_unit_", None)
        if fitted is not None and fitted != unit:
            raise ValidationError(
                f"this {type(self).__name__} was fitted on recency and T in "
                f"{UNIT_NAMES[fitted]} but reads snapshots in {UNIT_NAMES[unit]} "
                f"(time_unit={unit!r}): set time_unit={fitted!r}"
            )
        return unit

    @classmethod
    def from_params(cls, params: Mapping[str, float] | None = None, **kwargs: float) -> Self:
        """A model with given parameters, as if fitted (to predict or simulate with them).

        The model's settings are the defaults; to read snapshots in another unit, set it:
        ``BetaGeo.from_params(...).set_params(time_unit="W")``.

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

    def log_likelihood(
        self,
        frequency: ArrayLike | Any,
        recency: ArrayLike | None = None,
        T: ArrayLike | None = None,
    ) -> FloatArray:
        """Log-likelihood of each customer's (frequency, recency, T) under the fitted model.

        The columns, or one summary, as for :meth:`fit`.
        """
        theta = self._theta()
        x, tx, age = check_repeat_inputs(*repeat_columns(frequency, recency, T))
        data = RepeatData.of_rows(x, tx, age, np.ones_like(x))
        return self._row_loglik(theta, data)[0]

    def _theta(self) -> FloatArray:
        check_fitted(self, "params_")
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

    def _p_alive(
        self, theta: FloatArray, x: FloatArray, tx: FloatArray, age: FloatArray
    ) -> FloatArray:
        """P(alive) of validated 1-D histories under the parameters ``theta``."""
        raise NotImplementedError

    # -- predictions ------------------------------------------------------------------------
    def p_alive(
        self,
        frequency: ArrayLike | Any,
        recency: ArrayLike | None = None,
        T: ArrayLike | None = None,
    ) -> float | FloatArray:
        """Probability that each customer is still alive at age ``T``.

        The columns, or one summary, as for :meth:`fit`.
        """
        theta = self._theta()
        x, tx, age, shape = broadcast_inputs(frequency, recency, T)
        return shaped(self._p_alive(theta, x, tx, age), shape)

    def predict_purchases(
        self,
        t: ArrayLike,
        frequency: ArrayLike | Any,
        recency: ArrayLike | None = None,
        T: ArrayLike | None = None,
    ) -> float | FloatArray:
        """Expected number of purchases in the next ``t`` time units, given each history.

        Parameters
        ----------
        t : float or array-like
            Length of the future window, in the time unit of the data.
        frequency : array-like
            Each customer's history, as for :meth:`fit` (or one summary). ``t`` and the
            history columns broadcast together.
        recency, T : array-like, optional
            As for :meth:`fit`.

        Returns
        -------
        float or numpy.ndarray
            ``P(alive) * E[purchases in t | alive]``; a scalar for scalar inputs.
        """
        horizon, x, tx, age, shape = broadcast_with_time(t, frequency, recency, T)
        alive = np.asarray(self.p_alive(x, tx, age), dtype=np.float64)
        return shaped(alive * self._purchases_if_alive(horizon, x, age), shape)

    def cumulative_purchases(
        self,
        horizons: ArrayLike,
        frequency: ArrayLike | Any,
        recency: ArrayLike | None = None,
        T: ArrayLike | None = None,
    ) -> FloatArray:
        """Expected purchases up to each of several horizons: shape ``(len(horizons), n)``.

        Equivalent to calling :meth:`predict_purchases` once per horizon, but P(alive) is
        computed once (what :func:`customer_lifetime_value` needs).
        """
        x, tx, age, _ = broadcast_inputs(frequency, recency, T)
        return self._alive_and_cumulative(as_horizon(horizons), x, tx, age)[1]

    def _alive_and_cumulative(
        self, edges: FloatArray, x: FloatArray, tx: FloatArray, age: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """P(alive) and the expected purchases up to each edge, of validated 1-D inputs."""
        alive = np.asarray(self.p_alive(x, tx, age), dtype=np.float64)
        out = np.empty((edges.shape[0], x.shape[0]))
        for k, edge in enumerate(edges):
            out[k] = alive * self._purchases_if_alive(np.full_like(x, edge), x, age)
        return alive, out

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
        time_unit = check_time_unit(time_unit)
        age = _ages(T, n_customers)
        rng = as_rng(seed)
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
        rng = as_rng(seed)
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


def _ages(T: ArrayLike, n_customers: object) -> FloatArray:
    age = as_float_array(T, "T")
    count: int | None = None
    if n_customers is not None:
        if isinstance(n_customers, bool) or not isinstance(n_customers, int | np.integer):
            raise ValidationError(f"n_customers must be a whole number, got {shown(n_customers)}")
        count = int(n_customers)
        if not 0 <= count <= _MAX_SIMULATED:
            raise ValidationError(
                f"n_customers must be between 0 and {_MAX_SIMULATED:,}, got {shown(n_customers)}"
            )
    if np.ndim(T) == 0:
        if count is None:
            raise ValidationError("give n_customers when T is a single number")
        age = np.full(count, float(age[0]))
    elif count is not None and count != age.shape[0]:
        raise ValidationError(f"n_customers={shown(n_customers)} but T has {age.shape[0]} entries")
    if (age < 0).any():
        raise ValidationError("T must not be negative")
    return age


def broadcast_inputs(
    frequency: ArrayLike | Any, recency: ArrayLike | None = None, T: ArrayLike | None = None
) -> tuple[FloatArray, FloatArray, FloatArray, tuple[int, ...]]:
    """Validated, broadcast 1-D inputs (or one summary) and the shape to give results back in."""
    frequency, recency, T = repeat_columns(frequency, recency, T)
    x, tx, age = check_repeat_inputs(frequency, recency, T)
    shape = _result_shape(frequency, recency, T)
    return x, tx, age, shape


def _result_shape(*values: Any) -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(*(np.shape(v) for v in values))
    except ValueError as exc:
        raise ValidationError(f"the inputs do not broadcast together: {exc}") from None


def as_horizon(t: ArrayLike) -> FloatArray:
    horizon = as_float_array(t, "t")
    if (horizon < 0).any():
        raise ValidationError("t must not be negative")
    return horizon


def broadcast_with_time(
    t: ArrayLike, frequency: ArrayLike | Any, recency: ArrayLike | None, T: ArrayLike | None
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, tuple[int, ...]]:
    """Validated ``t`` and customer inputs broadcast together, and the result shape."""
    frequency, recency, T = repeat_columns(frequency, recency, T)
    horizon = as_horizon(t)
    x, tx, age = check_repeat_inputs(frequency, recency, T)
    try:
        shape = np.broadcast_shapes(
            np.shape(t), np.shape(frequency), np.shape(recency), np.shape(T)
        )
        horizon, x, tx, age = np.broadcast_arrays(horizon, x, tx, age)
    except ValueError as exc:
        raise ValidationError(f"t, frequency, recency and T do not broadcast: {exc}") from None
    return horizon, x, tx, age, shape


def shaped(values: FloatArray, shape: tuple[int, ...]) -> float | FloatArray:
    """Give scalar inputs a scalar (``numpy.float64``) back, arrays an array of their shape."""
    if shape == ():
        return np.float64(values.reshape(-1)[0])
    return values.reshape(shape)
