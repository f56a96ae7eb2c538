"""Customer lifetime value: discounted expected purchases times expected spend."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from privdomain.errors import ValidationError
from privdomain.value._fitting import MAX_MAGNITUDE, FloatArray, as_float_array, distinct_rows
from privdomain.value._frames import frame_column, frame_index, is_frame, summary_columns
from privdomain.value._results import ColumnarResult
from privdomain.value._show import shown

__all__ = ["CustomerValue", "SpendModel", "TransactionModel", "customer_lifetime_value"]

_CHUNK = 131_072  # customers per block at most
# Values per (step, customer) matrix in one block: the block shrinks as the steps grow, so
# peak memory stays near a few of these (64 MB each) whatever the pool and the horizon.
_BLOCK_VALUES = 2**23
#: Most discounting steps a horizon may be cut into (daily steps over 27 years).
MAX_STEPS = 10_000


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

    Select customers with a boolean mask or row numbers (``value[value.clv > 100]``,
    ``value.take([0, 5])``).

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

    _row_fields: ClassVar[tuple[str, ...]] = (
        "customer_ids",
        "expected_purchases",
        "expected_spend",
        "clv",
    )

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
    summary: SummaryLike | Any,
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
    does with its monthly steps. lifetimes counts a month as 30 days or 4.345 weeks, so its
    ``customer_lifetime_value(..., time=12, discount_rate=0.01, freq="D")`` is ``horizon=360,
    step=30, discount_rate=0.01`` on a daily summary, and with ``freq="W"`` it is
    ``horizon=12 * 4.345, step=4.345`` on a weekly one.

    Every customer of the summary gets a value: customers without usable spend (no repeat
    purchase, or repeat purchases that cost nothing) are valued at the spend model's population
    mean.

    Parameters
    ----------
    transaction_model : BetaGeo, ParetoNBD or ModifiedBetaGeo
        A fitted model (anything with ``predict_purchases``).
    spend_model : GammaGamma
        A fitted spend model (anything with ``expected_spend``).
    summary : RFMSummary or data frame
        The customers, in the time unit the models were fitted in, with ``monetary_value``: an
        :class:`RFMSummary`, or a frame with ``frequency``, ``recency``, ``T`` and
        ``monetary_value`` columns (customer ids from a ``customer_id`` column or the index).
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

    Raises
    ------
    ValidationError
        A negative, NaN or infinite ``horizon``, ``step``, ``discount_rate`` or ``margin``; a
        horizon of more than :data:`MAX_STEPS` steps (refused before any work); a summary
        without ``monetary_value`` or with columns of different lengths; models without
        ``predict_purchases`` / ``expected_spend``.
    NotFittedError
        A model that was not fitted.
    """
    horizon, step, rate, margin = (
        _positive(horizon, "horizon", zero_ok=True),
        _positive(step, "step", zero_ok=False),
        _positive(discount_rate, "discount_rate", zero_ok=True),
        _positive(margin, "margin", zero_ok=True),
    )
    ratio = horizon / step
    if not ratio <= MAX_STEPS:
        raise ValidationError(
            f"horizon={horizon:g} in steps of {step:g} is {ratio:.4g} steps; at most "
            f"{MAX_STEPS:,} are computed: use a longer step (e.g. a month)"
        )
    if not callable(getattr(transaction_model, "predict_purchases", None)):
        raise ValidationError(
            "transaction_model must be a fitted BetaGeo, ModifiedBetaGeo or ParetoNBD (with "
            f"predict_purchases), got {type(transaction_model).__name__}"
        )
    if not callable(getattr(spend_model, "expected_spend", None)):
        raise ValidationError(
            "spend_model must be a fitted GammaGamma (with expected_spend), got "
            f"{type(spend_model).__name__}"
        )
    ids, frequency, recency, age_all, monetary = _summary_arrays(summary)
    n_steps = int(np.ceil(ratio - 1e-12)) if horizon > 0 else 0
    edges = np.minimum(np.arange(n_steps + 1) * step, horizon)
    discount = (1.0 + rate) ** -(edges[1:] / step)
    n = ids.shape[0]
    chunk = max(1, min(_CHUNK, _BLOCK_VALUES // max(n_steps, 1)))
    purchases = np.empty(n)
    spend = np.empty(n)
    value = np.empty(n)
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        x, tx, age, m = frequency[lo:hi], recency[lo:hi], age_all[lo:hi], monetary[lo:hi]
        spend[lo:hi] = spend_model.expected_spend(x, m)
        cumulative = _cumulative(transaction_model, edges[1:], x, tx, age)
        increments = np.diff(cumulative, axis=0, prepend=0.0)
        discounted = np.einsum("k,kn->n", discount, increments)
        previous = cumulative[-1] if n_steps else np.zeros(hi - lo)
        purchases[lo:hi] = previous
        with np.errstate(invalid="ignore"):  # inf spend with zero purchases stays inf, not NaN
            value[lo:hi] = np.where(discounted > 0, margin * spend[lo:hi] * discounted, 0.0)
    return CustomerValue(
        customer_ids=ids,
        expected_purchases=purchases,
        expected_spend=spend,
        clv=value,
        horizon=horizon,
        step=step,
        discount_rate=rate,
        margin=margin,
    )


def _summary_arrays(
    summary: Any,
) -> tuple[NDArray[Any], FloatArray, FloatArray, FloatArray, FloatArray]:
    """Customer ids and the four columns of a summary object or frame, checked for length."""
    if is_frame(summary):
        names = [str(c) for c in list(summary.columns)]
        if "customer_id" in names:
            ids = frame_column(summary, "customer_id", argument="summary")
        else:
            index = frame_index(summary)
            ids = np.arange(len(summary)) if index is None else index
    elif hasattr(summary, "customer_ids"):
        ids = np.asarray(summary.customer_ids)
    else:
        ids = None
    columns = summary_columns(
        summary, ("frequency", "recency", "T", "monetary_value"), argument="summary"
    )
    if ids is None:
        raise ValidationError(
            f"summary must be an RFMSummary or a frame, got {type(summary).__name__} "
            "without customer_ids"
        )
    if ids.ndim != 1:
        raise ValidationError(f"summary customer ids must be one-dimensional, got {ids.shape}")
    arrays = [
        as_float_array(col, name)
        for col, name in zip(columns, ("frequency", "recency", "T", "monetary_value"), strict=True)
    ]
    lengths = {ids.shape[0], *(a.shape[0] for a in arrays)}
    if len(lengths) > 1:
        raise ValidationError(
            "summary columns must have one entry per customer, got lengths "
            f"{[ids.shape[0], *(a.shape[0] for a in arrays)]} (customer ids, frequency, "
            "recency, T, monetary_value)"
        )
    return ids, arrays[0], arrays[1], arrays[2], arrays[3]


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


def _positive(value: object, name: str, *, zero_ok: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValidationError(f"{name} must be a number, got {shown(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float64
        number = float("inf")
    if not np.isfinite(number) or number < 0 or (number == 0 and not zero_ok):
        bound = ">= 0" if zero_ok else "> 0"
        raise ValidationError(f"{name} must be finite and {bound}, got {shown(value)}")
    if number > MAX_MAGNITUDE:
        raise ValidationError(f"{name} must be at most {MAX_MAGNITUDE:.0e}, got {shown(value)}")
    return number
