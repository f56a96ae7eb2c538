"""The RFM columns of every customer of a snapshot, aligned to its rows."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.errors import ValidationError
from privdomain.result import Result
from privdomain.value._periods import UNIT_NAMES, TimeUnit
from privdomain.value._show import shown
from privdomain.value.summary import SnapshotLike, SnapshotRows, row_columns, snapshot_rows

if TYPE_CHECKING:
    from privdomain.value.forecast import PurchaseForecast

__all__ = ["CustomerRFM", "customer_rfm", "describe_history"]


@attrs.frozen(eq=False, repr=False)  # the shared preview is the repr
class CustomerRFM(Result):
    """Frequency, recency, age and mean repeat spend of every customer of a snapshot.

    One row per customer of the snapshot, in its row order, customers who never bought
    included: this is the table to line up with the snapshot and with the results of other
    strategies. :func:`rfm_summary_from_snapshot` gives the same numbers for the buyers only,
    sorted by customer id, as lifetimes' summary table.

    Customers who never bought have ``buyer`` False, ``frequency``, ``recency`` and
    ``monetary_value`` 0, and ``T`` counted from the day they joined: the history the
    value models read for them (no purchase since joining). Fit models on the buyers
    (``rfm[rfm.buyer]``), as :meth:`BetaGeo.fit` on a snapshot does.

    Attributes
    ----------
    customer_ids : numpy.ndarray
        The snapshot's customers, in its row order.
    buyer : numpy.ndarray of bool
        Whether the customer has a purchase.
    frequency : numpy.ndarray of float64
        Repeat purchase days: distinct purchase days minus one (0 without a purchase).
    recency : numpy.ndarray of float64
        From the first to the last purchase day, in ``time_unit``.
    T : numpy.ndarray of float64
        From the first purchase day (or, never bought, the day of joining) to the day of
        ``as_of``, in ``time_unit``.
    monetary_value : numpy.ndarray of float64
        Mean spend of the repeat purchase days (0 without one).
    as_of : datetime.datetime
        The snapshot's instant.
    time_unit : str
        Unit of ``recency`` and ``T``.
    """

    _row_fields: ClassVar[tuple[str, ...]] = (
        "customer_ids",
        "buyer",
        "frequency",
        "recency",
        "T",
        "monetary_value",
    )

    customer_ids: NDArray[Any]
    buyer: NDArray[np.bool_]
    frequency: NDArray[np.float64]
    recency: NDArray[np.float64]
    T: NDArray[np.float64]
    monetary_value: NDArray[np.float64]
    as_of: dt.datetime
    time_unit: str

    @classmethod
    def of_rows(cls, rows: SnapshotRows) -> CustomerRFM:
        return cls(
            customer_ids=rows.customer_ids,
            buyer=rows.buyer,
            frequency=rows.frequency,
            recency=rows.recency,
            T=rows.T,
            monetary_value=rows.monetary_value,
            as_of=rows.as_of,
            time_unit=rows.time_unit,
        )

    def columns(self) -> dict[str, NDArray[Any]]:
        """The table as named columns (``customer_id`` first)."""
        return row_columns(self)

    def _title(self) -> str:
        return (
            f"CustomerRFM({len(self)} customers, {int(np.sum(self.buyer))} buyers, "
            f"as of {self.as_of.isoformat()}, unit={self.time_unit!r})"
        )

    def _check_concat(self, other: CustomerRFM) -> None:
        if (other.as_of, other.time_unit) != (self.as_of, self.time_unit):
            raise ValidationError("concat needs tables of one instant and time unit")

    def explain(self, customer_id: str) -> str:
        """One customer's frequency, recency, age and spend, in words."""
        i = self.row(customer_id)
        history = row_history(self, i)
        spend = (
            f"; mean spend of the repeat purchase days {self.monetary_value[i]:.2f}"
            if self.frequency[i] > 0
            else ""
        )
        return f"customer {shown(customer_id)} as of {self.as_of.isoformat()}: {history}{spend}"


def describe_history(buyer: bool, x: float, tx: float, age: float, time_unit: str) -> str:
    """A customer's (frequency, recency, T) in words."""
    unit = UNIT_NAMES[time_unit]
    if not buyer:
        return (
            f"never bought; joined {age:.4g} {unit} before as_of (read as frequency 0, "
            f"recency 0, T {age:.4g})"
        )
    if x == 0:
        return f"one purchase day, {age:.4g} {unit} before as_of (frequency 0, T {age:.4g})"
    return (
        f"{x:.0f} repeat purchase day{'s' if x != 1 else ''}; first purchase {age:.4g} {unit} "
        f"before as_of, last {tx:.4g} {unit} after the first (frequency {x:.0f}, recency "
        f"{tx:.4g}, T {age:.4g})"
    )


def row_history(table: CustomerRFM | PurchaseForecast, i: int) -> str:
    """Row ``i``'s history in words (:func:`describe_history`)."""
    return describe_history(
        bool(table.buyer[i]),
        float(table.frequency[i]),
        float(table.recency[i]),
        float(table.T[i]),
        table.time_unit,
    )


def customer_rfm(
    snapshot: SnapshotLike | Any,
    *,
    time_unit: TimeUnit = "D",
    as_of: dt.datetime | np.datetime64 | None = None,
    utc_offset: dt.timedelta | None = None,
) -> CustomerRFM:
    """The RFM columns of every customer of a snapshot, in its row order.

    Purchases are counted per business day in the pool's time zone, exactly as
    :func:`rfm_summary_from_snapshot` counts them (lifetimes' ``freq="D"``); that function
    gives the buyers' rows, sorted by customer id.

    Parameters
    ----------
    snapshot : Snapshot or data frame
        A :class:`~privdomain.Snapshot`, or the frame of ``Snapshot.to_frame()`` (then give
        ``as_of`` and ``utc_offset``).
    time_unit : {"D", "h", "W", "M"}
        Unit of ``recency`` and ``T`` (lifetimes' default: days).
    as_of : datetime or numpy.datetime64, optional
        The snapshot's instant, for a frame only.
    utc_offset : datetime.timedelta, optional
        The pool's UTC offset, for a frame only.

    Returns
    -------
    CustomerRFM
    """
    return CustomerRFM.of_rows(
        snapshot_rows(snapshot, time_unit=time_unit, as_of=as_of, utc_offset=utc_offset)
    )
