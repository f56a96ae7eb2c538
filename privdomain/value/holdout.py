"""Calibration/holdout split of a transaction log, to check a model on purchases it never saw."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from privdomain.domain._time import MICROS_PER_SECOND, EpochUnit
from privdomain.errors import ValidationError
from privdomain.result import Result
from privdomain.value._periods import (
    Period,
    TimeUnit,
    check_period_and_unit,
    durations,
    period_index,
)
from privdomain.value._transactions import instant_micros, offset_seconds
from privdomain.value.summary import (
    RFMSummary,
    _summarise,
    read_transactions,
    row_columns,
    row_of,
)

__all__ = ["CalibrationHoldout", "calibration_holdout"]

_UTC = dt.timedelta(0)


@attrs.frozen(eq=False, repr=False)  # the shared preview is the repr
class CalibrationHoldout(Result):
    """Calibration summary and holdout outcomes, one row per customer seen in calibration.

    Select customers with a boolean mask or row numbers (``split[split.frequency_cal > 0]``,
    ``split.take([0, 5])``).

    Attributes
    ----------
    customer_ids : numpy.ndarray
        Customers with a purchase up to ``calibration_end``, sorted.
    frequency_cal, recency_cal, T_cal, monetary_value_cal : numpy.ndarray
        The :class:`RFMSummary` columns over the calibration window.
    frequency_holdout : numpy.ndarray of float64
        Distinct purchase periods in the holdout window.
    monetary_value_holdout : numpy.ndarray of float64 or None
        Mean amount of the holdout *transactions* (lifetimes' definition), 0 without any.
    duration_holdout : float
        Length of the holdout window in ``time_unit`` (between the two ends' periods).
    """

    _row_fields: ClassVar[tuple[str, ...]] = (
        "customer_ids",
        "frequency_cal",
        "recency_cal",
        "T_cal",
        "monetary_value_cal",
        "frequency_holdout",
        "monetary_value_holdout",
    )

    customer_ids: NDArray[Any]
    frequency_cal: NDArray[np.float64]
    recency_cal: NDArray[np.float64]
    T_cal: NDArray[np.float64]
    monetary_value_cal: NDArray[np.float64] | None
    frequency_holdout: NDArray[np.float64]
    monetary_value_holdout: NDArray[np.float64] | None
    duration_holdout: float
    period: str
    time_unit: str

    @property
    def calibration(self) -> RFMSummary:
        """The calibration columns as an :class:`RFMSummary`, ready to fit a model on."""
        return RFMSummary(
            customer_ids=self.customer_ids,
            frequency=self.frequency_cal,
            recency=self.recency_cal,
            T=self.T_cal,
            monetary_value=self.monetary_value_cal,
            period=self.period,
            time_unit=self.time_unit,
        )

    def columns(self) -> dict[str, NDArray[Any]]:
        """Named columns, in lifetimes' order."""
        cols = row_columns(self)
        cols["duration_holdout"] = np.full(len(self), self.duration_holdout)
        return cols

    def row(self, customer_id: Any) -> int:
        """The row of ``customer_id``, an id of any type the log holds."""
        return row_of(self.customer_ids, customer_id, type(self).__name__)

    def _check_concat(self, other: CalibrationHoldout) -> None:
        mine = (self.duration_holdout, self.period, self.time_unit)
        if (other.duration_holdout, other.period, other.time_unit) != mine:
            raise ValidationError("concat needs splits of one holdout, period and time unit")

    def _title(self) -> str:
        return (
            f"CalibrationHoldout({len(self)} customers, holdout {self.duration_holdout:g} "
            f"{self.time_unit})"
        )


def calibration_holdout(
    customer_ids: Any,
    timestamps: Any = None,
    amounts: ArrayLike | None = None,
    *,
    calibration_end: dt.datetime | np.datetime64,
    observation_end: dt.datetime | np.datetime64,
    period: Period = "D",
    time_unit: TimeUnit | None = None,
    utc_offset: dt.timedelta = _UTC,
    epoch_unit: EpochUnit | None = None,
    customer_id_col: str | None = None,
    datetime_col: str | None = None,
    monetary_value_col: str | None = None,
) -> CalibrationHoldout:
    """Split a transaction log at ``calibration_end`` into a calibration summary and holdout counts.

    Semantics of lifetimes' ``calibration_and_holdout_data``: transactions at or before
    ``calibration_end`` form the calibration :func:`rfm_summary` (observed up to
    ``calibration_end``); transactions after it and at or before ``observation_end`` form the
    holdout, where ``frequency_holdout`` counts distinct purchase periods and
    ``monetary_value_holdout`` is the mean transaction amount. Customers first seen in the holdout
    are left out: a model fitted on the calibration window knows nothing about them.

    Both ends are instants: a purchase after ``calibration_end`` is in the holdout even on the
    same day (as in lifetimes, which compares the raw times here), one after
    ``observation_end`` is in neither.

    Parameters
    ----------
    customer_ids
        The transaction log, as for :func:`rfm_summary` (or a data frame and column names).
    timestamps, amounts : array-like, optional
        As for :func:`rfm_summary`.
    calibration_end, observation_end : datetime or numpy.datetime64
        Ends of the two windows (inclusive); ``calibration_end`` must come first.
    period
        As for :func:`rfm_summary`.
    time_unit
        As for :func:`rfm_summary` (follows ``period`` unless given).
    utc_offset
        As for :func:`rfm_summary`.
    epoch_unit
        As for :func:`rfm_summary`.
    customer_id_col, datetime_col, monetary_value_col : str, optional
        Column names when ``customer_ids`` is a data frame.

    Returns
    -------
    CalibrationHoldout
    """
    period, time_unit = check_period_and_unit(period, time_unit)
    offset = offset_seconds(utc_offset)
    cal_micros = instant_micros(calibration_end, "calibration_end")
    obs_micros = instant_micros(observation_end, "observation_end")
    if cal_micros >= obs_micros:
        raise ValidationError(
            f"calibration_end must be before observation_end, got {calibration_end} "
            f"and {observation_end}"
        )
    tx = read_transactions(
        customer_ids,
        timestamps,
        amounts,
        utc_offset=utc_offset,
        epoch_unit=epoch_unit,
        customer_id_col=customer_id_col,
        datetime_col=datetime_col,
        monetary_value_col=monetary_value_col,
    )
    local_ends = np.array([cal_micros, obs_micros], dtype=np.int64) // MICROS_PER_SECOND + offset
    ends = period_index(local_ends, period)
    periods = period_index(tx.seconds, period)

    in_cal = tx.micros <= cal_micros
    calibration = _summarise(tx.select(in_cal), periods[in_cal], ends[0], period, time_unit)

    in_hold = ~in_cal & (tx.micros <= obs_micros)
    n = len(calibration)
    # Holdout customers are looked up among the calibration ids; unseen ones are dropped.
    hold_ids = tx.customer_ids[in_hold]
    pos = np.searchsorted(calibration.customer_ids, hold_ids) if n else np.zeros(0, np.int64)
    pos = np.minimum(pos, max(n - 1, 0))
    known = (calibration.customer_ids[pos] == hold_ids) if n else np.zeros(0, bool)
    codes = pos[known].astype(np.int64)
    hold_periods = periods[in_hold][known]
    frequency_holdout = np.zeros(n)
    if codes.size:
        low = int(hold_periods.min())
        span = int(hold_periods.max()) - low + 1
        pairs = np.unique(codes * span + (hold_periods - low))
        frequency_holdout = np.bincount(pairs // span, minlength=n).astype(np.float64)
    monetary_holdout = None
    if tx.amounts is not None:
        sums = np.bincount(codes, weights=tx.amounts[in_hold][known], minlength=n)
        counts = np.bincount(codes, minlength=n)
        monetary_holdout = np.divide(sums, counts, out=np.zeros(n), where=counts > 0)
    duration = float(durations(ends[1:], ends[:1], period, time_unit)[0])
    return CalibrationHoldout(
        customer_ids=calibration.customer_ids,
        frequency_cal=calibration.frequency,
        recency_cal=calibration.recency,
        T_cal=calibration.T,
        monetary_value_cal=calibration.monetary_value,
        frequency_holdout=frequency_holdout,
        monetary_value_holdout=monetary_holdout,
        duration_holdout=duration,
        period=period,
        time_unit=time_unit,
    )
