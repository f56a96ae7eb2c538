"""Columns out of data frames and summaries, for the notebook user who holds one.

pandas and polars are never imported here: a frame is recognised by its ``columns`` attribute
(a list-like of names, not a method) and read column by column, so the core keeps needing only
numpy, and any frame library with the same shape works.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from privdomain.errors import ValidationError
from privdomain.value._show import shown

__all__ = [
    "column_names",
    "frame_column",
    "frame_index",
    "is_frame",
    "summary_columns",
    "utc_datetimes",
]


def is_frame(value: object) -> bool:
    """Whether ``value`` looks like a data frame (pandas, polars, ...): named columns."""
    names = getattr(value, "columns", None)
    return names is not None and not callable(names) and not isinstance(value, np.ndarray)


def column_names(frame: Any) -> list[str]:
    return [str(name) for name in list(frame.columns)]


def _index_name(frame: Any) -> str | None:
    index = getattr(frame, "index", None)
    name = getattr(index, "name", None)
    return None if name is None else str(name)


def frame_column(frame: Any, name: object, *, argument: str, raw: bool = False) -> Any:
    """The column ``name`` of ``frame`` (its index when the index has that name).

    ``raw`` keeps the frame library's own column (for time-zone-aware datetimes, which
    :func:`privdomain.domain._time.epoch_micros_array` reads itself); otherwise a numpy array.
    """
    if not isinstance(name, str):
        raise ValidationError(f"{argument} must be a column name (str), got {shown(name)}")
    names = column_names(frame)
    if name in names:
        column = frame[name]
    elif _index_name(frame) == name:
        column = frame.index
    else:
        raise ValidationError(
            f"{argument}={shown(name)} is not a column of the frame; its columns are {names}"
        )
    if raw:
        return column
    try:
        return np.asarray(column)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(f"column {shown(name)} cannot be read as an array: {exc}") from None


def utc_datetimes(values: Any) -> Any:
    """A timezone-aware pandas column (or index) as UTC ``datetime64``; anything else as is."""
    if getattr(getattr(values, "dtype", None), "tz", None) is None:
        return values
    if hasattr(values, "dt"):  # a Series
        return values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    return values.tz_convert("UTC").tz_localize(None).to_numpy()  # an Index


def frame_index(frame: Any) -> NDArray[Any] | None:
    """The row labels of a frame that has them (pandas), else ``None`` (polars)."""
    index = getattr(frame, "index", None)
    if index is None:
        return None
    return np.asarray(index)


def summary_columns(source: Any, names: tuple[str, ...], *, argument: str) -> list[NDArray[Any]]:
    """The columns ``names`` of a summary given as one object: a frame or a result object.

    Accepts a data frame with those columns (lifetimes' summary tables, ``to_frame()`` of a
    privdomain result) or any object with those attributes (an :class:`RFMSummary`).
    """
    if is_frame(source):
        return [frame_column(source, name, argument=argument) for name in names]
    missing = [name for name in names if not hasattr(source, name)]
    if missing:
        hint = ""
        if hasattr(source, "frequency_cal"):
            hint = "; for a calibration/holdout split, pass its .calibration summary"
        raise ValidationError(
            f"{argument} must be array-like with the other columns given separately, or one "
            f"summary (an RFMSummary or a frame with columns {list(names)}); got "
            f"{type(source).__name__} without {missing}{hint}"
        )
    values = [getattr(source, name) for name in names]
    if any(value is None for value in values):
        empty = [name for name, value in zip(names, values, strict=True) if value is None]
        raise ValidationError(
            f"{argument} has no {empty}: build the summary with amounts to model spend"
        )
    return [np.asarray(value) for value in values]
