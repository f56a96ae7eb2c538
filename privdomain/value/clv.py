"""Customer lifetime value: discounted expected purchases times expected spend."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, clone

from privdomain.errors import ValidationError
from privdomain.result import Result
from privdomain.strategy import check_fitted
from privdomain.value._fitting import FloatArray, as_float_array, check_number, distinct_rows
from privdomain.value._frames import frame_column, frame_index, is_frame, summary_columns
from privdomain.value._periods import UNIT_NAMES, check_time_unit
from privdomain.value._repeat_model import check_snapshot, is_snapshot
from privdomain.value._show import shown
from privdomain.value.forecast import spend_text
from privdomain.value.snapshot_rfm import describe_history
from privdomain.value.sufficient import ValueSummary, summary_of
from privdomain.value.summary import row_columns, row_of, snapshot_rows

if TYPE_CHECKING:
    from privdomain.domain.snapshot import Snapshot

__all__ = [
    "CustomerValue",
    "LifetimeValue",
    "SpendModel",
    "TransactionModel",
    "customer_lifetime_value",
]

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
class CustomerValue(Result):
    """Expected value of each customer over a horizon, with the numbers it came from.

    From a summary, one row per customer of the summary, in its order; from a
    :class:`~privdomain.Snapshot` (or :meth:`LifetimeValue.apply`), one row per customer of
    the snapshot, in its row order, customers who never bought included. Select customers
    with a boolean mask or row numbers (``value[value.clv > 100]``, ``value.take([0, 5])``).

    Attributes
    ----------
    customer_ids : numpy.ndarray
    buyer : numpy.ndarray of bool or None
        Whether the customer has a purchase (from a snapshot; ``None`` from a summary, whose
        customers all have one).
    frequency, recency, T, monetary_value : numpy.ndarray of float64
        Each customer's history, as the models read it (in ``time_unit``).
    p_alive : numpy.ndarray of float64 or None
        Probability that the customer is still a customer (``None`` when the transaction model
        has no ``p_alive``).
    expected_purchases : numpy.ndarray of float64
        Undiscounted expected purchases over the horizon.
    expected_spend : numpy.ndarray of float64
        Expected spend per purchase.
    clv : numpy.ndarray of float64
        Discounted expected value: ``margin * spend * sum_k purchases_k / (1 + rate)^k``.
    horizon, step, discount_rate, margin : float
        How it was computed (``horizon`` and ``step`` in the summary's time unit).
    time_unit : str or None
        Unit of recency, ``T``, ``horizon`` and ``step`` when known.
    as_of : datetime.datetime or None
        The snapshot's instant (``None`` from a summary).
    """

    _row_fields: ClassVar[tuple[str, ...]] = (
        "customer_ids",
        "buyer",
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "p_alive",
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
    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    monetary_value: FloatArray
    p_alive: FloatArray | None = None
    buyer: NDArray[np.bool_] | None = None
    time_unit: str | None = None
    as_of: dt.datetime | None = None

    def columns(self) -> dict[str, NDArray[Any]]:
        """Named columns: ``customer_id``, the history, then the value."""
        return row_columns(self)

    def _title(self) -> str:
        when = "" if self.as_of is None else f", as of {self.as_of.isoformat()}"
        return (
            f"CustomerValue({len(self)} customers, horizon={self.horizon:g}, "
            f"step={self.step:g}, discount_rate={self.discount_rate:g}, margin={self.margin:g}"
            f"{when})"
        )

    def row(self, customer_id: Any) -> int:
        """The row of ``customer_id``, an id of any type the summary holds."""
        return row_of(self.customer_ids, customer_id, type(self).__name__)

    def _check_concat(self, other: CustomerValue) -> None:
        settings = ("horizon", "step", "discount_rate", "margin", "time_unit", "as_of")
        if any(getattr(other, name) != getattr(self, name) for name in settings):
            raise ValidationError(
                f"concat needs values computed alike (the same {', '.join(settings)})"
            )

    def explain(self, customer_id: Any) -> str:
        """The customer's history, expected purchases, spend and value, with the numbers."""
        i = self.row(customer_id)
        unit = "time units" if self.time_unit is None else UNIT_NAMES[self.time_unit]
        buyer = True if self.buyer is None else bool(self.buyer[i])
        x, m = float(self.frequency[i]), float(self.monetary_value[i])
        history = describe_history(
            buyer, x, float(self.recency[i]), float(self.T[i]), self.time_unit or "D"
        )
        if self.time_unit is None:  # the summary did not say its unit
            history = history.replace(" days", "")
        when = "" if self.as_of is None else f" as of {self.as_of.isoformat()}"
        lines = [f"customer {shown(customer_id)}{when}", f"  history: {history}"]
        if self.p_alive is not None:
            lines.append(f"  P(alive) = {self.p_alive[i]:.4g}")
        lines += [
            f"  expected purchases in the next {self.horizon:g} {unit} = "
            f"{self.expected_purchases[i]:.4g}",
            f"  spend: {spend_text(buyer, x, m, float(self.expected_spend[i]))}",
            f"  CLV = {self.clv[i]:.2f}: margin {self.margin:g} x spend x expected purchases "
            f"of each step of {self.step:g} {unit}, discounted by {self.discount_rate:g} a step",
        ]
        return "\n".join(lines)


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
    mean. From a snapshot, customers who never bought get one too: their expected purchases
    are the model's for no purchase since the day they joined (see :class:`PurchaseForecast`),
    their spend the population mean.

    Parameters
    ----------
    transaction_model : BetaGeo, ParetoNBD or ModifiedBetaGeo
        A fitted model (anything with ``predict_purchases``).
    spend_model : GammaGamma
        A fitted spend model (anything with ``expected_spend``).
    summary : RFMSummary, data frame or Snapshot
        The customers, in the time unit the models were fitted in, with ``monetary_value``: an
        :class:`RFMSummary`, or a frame with ``frequency``, ``recency``, ``T`` and
        ``monetary_value`` columns (customer ids from a ``customer_id`` column or the index).
        Or a :class:`~privdomain.Snapshot`: every customer of it, in its row order, read as
        :func:`customer_rfm` reads them in the transaction model's ``time_unit``.
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
        check_number(horizon, "horizon", zero_ok=True),
        check_number(step, "step", zero_ok=False),
        check_number(discount_rate, "discount_rate", zero_ok=True),
        check_number(margin, "margin", zero_ok=True),
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
    unit: str | None
    if is_snapshot(summary):
        unit = _snapshot_unit(transaction_model)
        rows = snapshot_rows(summary, time_unit=unit)
        ids, buyer, as_of = rows.customer_ids, rows.buyer, rows.as_of
        frequency, recency, age_all, monetary = (
            rows.frequency,
            rows.recency,
            rows.T,
            rows.monetary_value,
        )
    else:
        ids, frequency, recency, age_all, monetary = _summary_arrays(summary)
        unit, buyer, as_of = _declared_unit(summary), None, None
    n_steps = int(np.ceil(ratio - 1e-12)) if horizon > 0 else 0
    edges = np.minimum(np.arange(n_steps + 1) * step, horizon)
    discount = (1.0 + rate) ** -(edges[1:] / step)
    n = ids.shape[0]
    chunk = max(1, min(_CHUNK, _BLOCK_VALUES // max(n_steps, 1)))
    purchases = np.empty(n)
    spend = np.empty(n)
    value = np.empty(n)
    has_alive = callable(getattr(transaction_model, "p_alive", None))
    alive = np.empty(n) if has_alive else None
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        x, tx, age, m = frequency[lo:hi], recency[lo:hi], age_all[lo:hi], monetary[lo:hi]
        spend[lo:hi] = spend_model.expected_spend(x, m)
        block_alive, cumulative = _cumulative(transaction_model, edges[1:], x, tx, age)
        if alive is not None and block_alive is not None:
            alive[lo:hi] = block_alive
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
        frequency=frequency,
        recency=recency,
        T=age_all,
        monetary_value=monetary,
        p_alive=alive,
        buyer=buyer,
        time_unit=unit,
        as_of=as_of,
    )


def _snapshot_unit(model: Any) -> str:
    """The unit a transaction model reads snapshots in (its ``time_unit``; days by default)."""
    check = getattr(model, "_snapshot_unit", None)
    if callable(check):
        return str(check())
    return check_time_unit(getattr(model, "time_unit", "D"))


def _declared_unit(summary: Any) -> str | None:
    unit = None if is_frame(summary) else getattr(summary, "time_unit", None)
    return unit if isinstance(unit, str) and unit in UNIT_NAMES else None


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
) -> tuple[FloatArray | None, FloatArray]:
    """P(alive) (when the model gives it) and expected purchases up to each edge, once per
    distinct (frequency, recency, T) row."""
    rows, inverse = distinct_rows((x, tx, age))
    both = getattr(model, "_alive_and_cumulative", None)
    if both is not None:
        alive, unique = both(edges, *rows)
        return np.asarray(alive)[inverse], np.asarray(unique)[:, inverse]
    unique = np.array(
        [np.asarray(model.predict_purchases(e, *rows), dtype=np.float64) for e in edges]
    ).reshape(edges.shape[0], -1)
    p_alive = getattr(model, "p_alive", None)
    alive = None if p_alive is None else np.asarray(p_alive(*rows), dtype=np.float64)[inverse]
    return alive, unique[:, inverse]


class LifetimeValue(BaseEstimator):  # type: ignore[misc]
    """Customer lifetime value as a strategy: learn from a snapshot, value every customer.

    Fits a transaction model and a spend model on the buyers of a snapshot (or on summaries
    of its partitions) and values every customer of a snapshot with
    :func:`customer_lifetime_value`, one row per customer in the snapshot's row order.

    Parameters
    ----------
    transaction_model : BetaGeo, ModifiedBetaGeo or ParetoNBD, optional
        The unfitted model to fit (a clone is fitted); its ``time_unit`` is the unit snapshots
        are read in and ``horizon`` and ``step`` are counted in. Default ``BetaGeo()``: days.
    spend_model : GammaGamma, optional
        The unfitted spend model (a clone is fitted). Default ``GammaGamma()``.
    horizon : float
        Length of the future to value, in the transaction model's ``time_unit``. The default,
        with ``step``, is lifetimes' ``customer_lifetime_value`` default: 12 months of 30 days.
    discount_rate : float
        Discount rate per step.
    margin : float
        Profit margin applied to spend.
    step : float
        Length of a discounting step, in the transaction model's ``time_unit``.

    Attributes
    ----------
    transaction_model_, spend_model_
        The fitted models.
    """

    transaction_model_: Any
    spend_model_: Any

    def __init__(
        self,
        transaction_model: Any = None,
        spend_model: Any = None,
        horizon: float = 360.0,
        discount_rate: float = 0.01,
        margin: float = 1.0,
        step: float = 30.0,
    ) -> None:
        self.transaction_model = transaction_model
        self.spend_model = spend_model
        self.horizon = horizon
        self.discount_rate = discount_rate
        self.margin = margin
        self.step = step

    def _models(self) -> tuple[Any, Any]:
        from privdomain.value.beta_geo import BetaGeo
        from privdomain.value.gamma_gamma import GammaGamma

        transaction = BetaGeo() if self.transaction_model is None else self.transaction_model
        spend = GammaGamma() if self.spend_model is None else self.spend_model
        for name, model, needs in (
            ("transaction_model", transaction, ("summarize", "fit_summary", "predict_purchases")),
            ("spend_model", spend, ("summarize", "fit_summary", "expected_spend")),
        ):
            if not all(callable(getattr(model, method, None)) for method in needs):
                raise ValidationError(
                    f"{name} must be a privdomain.value model (with {', '.join(needs)}), got "
                    f"{type(model).__name__}"
                )
        return transaction, spend

    def summarize(self, snapshot: Snapshot) -> ValueSummary:
        """Both models' sufficient statistics of a snapshot, for :meth:`fit_summary`."""
        transaction, spend = self._models()
        return ValueSummary(transaction.summarize(snapshot), spend.summarize(snapshot))

    def fit_summary(self, summary: ValueSummary) -> Self:
        """Fit clones of both models on merged summaries."""
        summary = summary_of(summary, ValueSummary, "fit_summary")
        transaction, spend = self._models()
        self.transaction_model_ = clone(transaction).fit_summary(summary.repeat)
        self.spend_model_ = clone(spend).fit_summary(summary.spend)
        return self

    def fit(self, snapshot: Snapshot) -> Self:
        """``fit_summary(summarize(snapshot))``."""
        return self.fit_summary(self.summarize(snapshot))

    def apply(self, snapshot: Snapshot) -> CustomerValue:
        """The value of every customer of a snapshot, in its row order (see
        :func:`customer_lifetime_value`)."""
        check_fitted(self, "transaction_model_", "spend_model_")
        return customer_lifetime_value(
            self.transaction_model_,
            self.spend_model_,
            check_snapshot(snapshot, "apply"),
            horizon=self.horizon,
            discount_rate=self.discount_rate,
            margin=self.margin,
            step=self.step,
        )
