"""Customer lifetime value: discounted expected purchases times expected spend."""

from __future__ import annotations

from typing import Any, Protocol

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from privdomain.errors import ValidationError
from privdomain.value._fitting import FloatArray, distinct_rows
from privdomain.value._results import ColumnarResult

__all__ = ["CustomerValue", "SpendModel", "TransactionModel", "customer_lifetime_value"]

_CHUNK = 131_072  # customers per block: bounds peak memory whatever the pool size


class TransactionModel(Protocol):
    """Anything that predicts purchases like :class:`BetaGeo` or :class:`ParetoNBD`."""

    def predict_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> float | FloatArray: ...


class SpendModel(Protocol):
    """Anything that predicts spend per purchase like :class:`GammaGamma`."""

    def expected_spend(
        self, frequency: ArrayLike, monetary_value: ArrayLike
    ) -> float | FloatArray: ...


class SummaryLike(Protocol):
    @property
    def customer_ids(self) -> NDArray[Any]: ...
    @property
    def frequency(self) -> FloatArray: ...
    @property
    def recency(self) -> FloatArray: ...
    @property
    def T(self) -> FloatArray: ...
    @property
    def monetary_value(self) -> FloatArray | None: ...


@attrs.frozen(eq=False, repr=False)  # the shared preview is the repr
class CustomerValue(ColumnarResult):
    """Expected value of each customer over a horizon.

    Attributes
    ----------
    customer_ids : numpy.ndarray
    expected_purchases : numpy.ndarray of float64
        Undiscounted expected purchases over the horizon.
    expected_spend : numpy.ndarray of float64
        Expected spend per purchase.
    clv : numpy.ndarray of float64
        Discounted expected value: ``margin * spend * sum_k purchases_k / (1 + rate)^k``.
    horizon, step, discount_rate, margin : float
        How it was computed (``horizon`` and ``step`` in the summary's time unit).
    """

    customer_ids: NDArray[Any]
    expected_purchases: FloatArray
    expected_spend: FloatArray
    clv: FloatArray
    horizon: float
    step: float
    discount_rate: float
    margin: float

    def __len__(self) -> int:
        return int(self.customer_ids.shape[0])

    def columns(self) -> dict[str, NDArray[Any]]:
        return {
            "customer_id": self.customer_ids,
            "expected_purchases": self.expected_purchases,
            "expected_spend": self.expected_spend,
            "clv": self.clv,
        }

    def _title(self) -> str:
        return (
            f"CustomerValue({len(self)} customers, horizon={self.horizon:g}, "
            f"step={self.step:g}, discount_rate={self.discount_rate:g}, margin={self.margin:g})"
        )


def customer_lifetime_value(
    transaction_model: TransactionModel,
    spend_model: SpendModel,
    summary: SummaryLike,
    horizon: float,
    discount_rate: float,
    margin: float = 1.0,
    *,
    step: float = 1.0,
) -> CustomerValue:
    """Discounted expected value of each customer over the next ``horizon`` time units.

    The horizon is cut into steps of ``step`` time units (the last one may be shorter). Expected
    purchases in step ``k`` (from the transaction model, given each customer's history) times
    expected spend per purchase (from the spend model) times ``margin`` are discounted by
    ``(1 + discount_rate) ** (t_k / step)`` where ``t_k`` is the end of the step, as lifetimes
    does with its monthly steps: lifetimes' ``customer_lifetime_value(..., time=12,
    discount_rate=0.01, freq="D")`` is ``horizon=360, step=30, discount_rate=0.01`` on a daily
    summary.

    Parameters
    ----------
    transaction_model : BetaGeo, ParetoNBD or ModifiedBetaGeo
        A fitted model (anything with ``predict_purchases``).
    spend_model : GammaGamma
        A fitted spend model (anything with ``expected_spend``).
    summary : RFMSummary
        The customers, in the time unit the models were fitted in, with ``monetary_value``.
    horizon : float
        Length of the future to value, in the summary's time unit.
    discount_rate : float
        Discount rate per step (e.g. 0.01 per month).
    margin : float
        Profit margin applied to spend.
    step : float
        Length of a discounting step, in the summary's time unit.

    Returns
    -------
    CustomerValue
    """
    horizon, step, rate, margin = (
        _positive(horizon, "horizon", zero_ok=True),
        _positive(step, "step", zero_ok=False),
        _positive(discount_rate, "discount_rate", zero_ok=True),
        _positive(margin, "margin", zero_ok=True),
    )
    if summary.monetary_value is None:
        raise ValidationError("summary has no monetary_value: build it with amounts")
    n_steps = int(np.ceil(horizon / step - 1e-12)) if horizon > 0 else 0
    edges = np.minimum(np.arange(n_steps + 1) * step, horizon)
    discount = (1.0 + rate) ** -(edges[1:] / step)
    n = len(summary.customer_ids)
    purchases = np.empty(n)
    spend = np.empty(n)
    value = np.empty(n)
    for lo in range(0, n, _CHUNK):
        hi = min(lo + _CHUNK, n)
        x = np.asarray(summary.frequency[lo:hi], dtype=np.float64)
        tx = np.asarray(summary.recency[lo:hi], dtype=np.float64)
        age = np.asarray(summary.T[lo:hi], dtype=np.float64)
        m = np.asarray(summary.monetary_value[lo:hi], dtype=np.float64)
        spend[lo:hi] = spend_model.expected_spend(x, m)
        cumulative = _cumulative(transaction_model, edges[1:], x, tx, age)
        increments = np.diff(cumulative, axis=0, prepend=0.0)
        discounted = np.einsum("k,kn->n", discount, increments)
        previous = cumulative[-1] if n_steps else np.zeros(hi - lo)
        purchases[lo:hi] = previous
        with np.errstate(invalid="ignore"):  # inf spend with zero purchases stays inf, not NaN
            value[lo:hi] = np.where(discounted > 0, margin * spend[lo:hi] * discounted, 0.0)
    return CustomerValue(
        customer_ids=np.asarray(summary.customer_ids),
        expected_purchases=purchases,
        expected_spend=spend,
        clv=value,
        horizon=horizon,
        step=step,
        discount_rate=rate,
        margin=margin,
    )


def _cumulative(
    model: TransactionModel, edges: FloatArray, x: FloatArray, tx: FloatArray, age: FloatArray
) -> FloatArray:
    """Expected purchases up to each edge, once per distinct (frequency, recency, T) row."""
    rows, inverse = distinct_rows((x, tx, age))
    fast = getattr(model, "cumulative_purchases", None)
    if fast is not None:
        unique = np.asarray(fast(edges, *rows), dtype=np.float64)
    else:
        unique = np.array(
            [np.asarray(model.predict_purchases(e, *rows), dtype=np.float64) for e in edges]
        ).reshape(edges.shape[0], -1)
    return unique[:, inverse]


def _positive(value: float, name: str, *, zero_ok: bool) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name} must be a number, got {value!r}") from exc
    if not np.isfinite(number) or number < 0 or (number == 0 and not zero_ok):
        bound = ">= 0" if zero_ok else "> 0"
        raise ValidationError(f"{name} must be finite and {bound}, got {value!r}")
    return number
