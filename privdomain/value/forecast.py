"""What the value models say about every customer of a snapshot, aligned to its rows."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.errors import ValidationError
from privdomain.result import Result
from privdomain.value._periods import UNIT_NAMES
from privdomain.value._show import shown
from privdomain.value.snapshot_rfm import row_history
from privdomain.value.summary import row_columns

__all__ = ["PurchaseForecast", "SpendForecast", "params_text"]


def params_text(params: dict[str, float]) -> str:
    return ", ".join(f"{name}={value:.4g}" for name, value in params.items())


@attrs.frozen(eq=False, repr=False)  # the shared preview is the repr
class PurchaseForecast(Result):
    """P(alive) and expected purchases of every customer of a snapshot, in its row order.

    What ``apply(snapshot)`` of :class:`BetaGeo`, :class:`ModifiedBetaGeo` and
    :class:`ParetoNBD` returns. Each customer's history is read as
    :func:`customer_rfm` reads it; customers who never bought are read as a customer with no
    purchase since the day they joined (frequency 0, recency 0, ``T`` the time since joining),
    which is the model's formula for ``x = 0``: under BG/NBD they are alive with certainty
    (it lets customers drop out only after a repeat purchase), under MBG/NBD and Pareto/NBD
    the longer the silence, the less likely alive.

    Attributes
    ----------
    customer_ids : numpy.ndarray
        The snapshot's customers, in its row order.
    buyer : numpy.ndarray of bool
    frequency, recency, T : numpy.ndarray of float64
        The history the model read, in ``time_unit``.
    p_alive : numpy.ndarray of float64
        Probability that the customer is still a customer at ``as_of``.
    expected_purchases : numpy.ndarray of float64
        Expected repeat purchase days in the next ``horizon`` time units.
    model : str
        ``"BG/NBD"``, ``"MBG/NBD"`` or ``"Pareto/NBD"``.
    params : dict
        The fitted parameters.
    horizon : float
    time_unit : str
    as_of : datetime.datetime
    """

    _row_fields: ClassVar[tuple[str, ...]] = (
        "customer_ids",
        "buyer",
        "frequency",
        "recency",
        "T",
        "p_alive",
        "expected_purchases",
    )

    customer_ids: NDArray[Any]
    buyer: NDArray[np.bool_]
    frequency: NDArray[np.float64]
    recency: NDArray[np.float64]
    T: NDArray[np.float64]
    p_alive: NDArray[np.float64]
    expected_purchases: NDArray[np.float64]
    model: str
    params: dict[str, float]
    horizon: float
    time_unit: str
    as_of: dt.datetime

    def columns(self) -> dict[str, NDArray[Any]]:
        """Named columns (``customer_id`` first)."""
        return row_columns(self)

    def _title(self) -> str:
        return (
            f"PurchaseForecast({len(self)} customers, {self.model}, next {self.horizon:g} "
            f"{UNIT_NAMES[self.time_unit]}, as of {self.as_of.isoformat()})"
        )

    def _check_concat(self, other: PurchaseForecast) -> None:
        settings = ("model", "params", "horizon", "time_unit", "as_of")
        if any(getattr(other, name) != getattr(self, name) for name in settings):
            raise ValidationError(
                "concat needs forecasts of one fitted model, horizon, time unit and instant"
            )

    def explain(self, customer_id: str) -> str:
        """The customer's history and what the model makes of it, with the numbers."""
        i = self.row(customer_id)
        history = row_history(self, i)
        unit = UNIT_NAMES[self.time_unit]
        return "\n".join(
            [
                f"customer {shown(customer_id)} as of {self.as_of.isoformat()}, "
                f"{self.model} ({params_text(self.params)}), time in {unit}",
                f"  history: {history}",
                f"  P(alive) = {self.p_alive[i]:.4g}",
                f"  expected purchases in the next {self.horizon:g} {unit} = "
                f"{self.expected_purchases[i]:.4g}",
            ]
        )


@attrs.frozen(eq=False, repr=False)  # the shared preview is the repr
class SpendForecast(Result):
    """Expected spend per purchase of every customer of a snapshot, in its row order.

    What :meth:`GammaGamma.apply` returns. Customers whose own spend tells the model nothing
    (no repeat purchase, never bought, or repeat purchases that cost nothing) get the
    population mean ``p v / (q - 1)``.

    Attributes
    ----------
    customer_ids : numpy.ndarray
        The snapshot's customers, in its row order.
    buyer : numpy.ndarray of bool
    frequency : numpy.ndarray of float64
        Repeat purchase days.
    monetary_value : numpy.ndarray of float64
        Mean spend of the repeat purchase days (0 without one).
    expected_spend : numpy.ndarray of float64
        Expected spend per purchase (posterior mean).
    params : dict
        The fitted ``p``, ``q``, ``v``.
    as_of : datetime.datetime
    """

    _row_fields: ClassVar[tuple[str, ...]] = (
        "customer_ids",
        "buyer",
        "frequency",
        "monetary_value",
        "expected_spend",
    )

    customer_ids: NDArray[Any]
    buyer: NDArray[np.bool_]
    frequency: NDArray[np.float64]
    monetary_value: NDArray[np.float64]
    expected_spend: NDArray[np.float64]
    params: dict[str, float]
    as_of: dt.datetime

    def columns(self) -> dict[str, NDArray[Any]]:
        """Named columns (``customer_id`` first)."""
        return row_columns(self)

    def _title(self) -> str:
        return f"SpendForecast({len(self)} customers, as of {self.as_of.isoformat()})"

    def _check_concat(self, other: SpendForecast) -> None:
        if (other.params, other.as_of) != (self.params, self.as_of):
            raise ValidationError("concat needs forecasts of one fitted model and instant")

    def explain(self, customer_id: str) -> str:
        """The customer's spend and the model's estimate, with the numbers."""
        i = self.row(customer_id)
        head = (
            f"customer {shown(customer_id)} as of {self.as_of.isoformat()}, Gamma-Gamma "
            f"({params_text(self.params)})"
        )
        return "\n".join(
            [
                head,
                "  "
                + spend_text(
                    bool(self.buyer[i]),
                    float(self.frequency[i]),
                    float(self.monetary_value[i]),
                    float(self.expected_spend[i]),
                ),
            ]
        )


def spend_text(buyer: bool, x: float, m: float, spend: float) -> str:
    """How the spend model arrived at a customer's expected spend per purchase."""
    if x > 0 and m > 0:
        return (
            f"{x:.0f} repeat purchase day{'s' if x != 1 else ''} at a mean of {m:.2f}: expected "
            f"spend per purchase {spend:.2f} (the mean, shrunk towards the population's)"
        )
    why = (
        "never bought"
        if not buyer
        else "no repeat purchase"
        if x == 0
        else "repeat purchases that cost nothing"
    )
    return f"{why}: expected spend per purchase {spend:.2f}, the population mean"
