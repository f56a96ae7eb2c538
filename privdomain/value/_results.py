"""Shared presentation of result containers: records, data frames and notebook HTML."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Self

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain._optional import import_optional
from privdomain.errors import UnknownCustomerError, ValidationError
from privdomain.value._show import shown

__all__ = ["ColumnarResult", "frame", "html_table", "records", "row_numbers", "text_table"]

_PREVIEW_ROWS = 5


def records(columns: Mapping[str, NDArray[Any]]) -> list[dict[str, Any]]:
    """One plain-Python dict per row."""
    names = list(columns)
    lists = [np.asarray(columns[name]).tolist() for name in names]
    return [dict(zip(names, row, strict=True)) for row in zip(*lists, strict=True)]


def frame(columns: Mapping[str, NDArray[Any]], index: str) -> Any:
    """A pandas DataFrame indexed by the ``index`` column (pandas imported lazily)."""
    pd = import_optional("pandas", extra="pandas")
    df = pd.DataFrame({name: np.asarray(col) for name, col in columns.items()})
    return df.set_index(index)


def _cell(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{value:.6g}"
    return str(value)


def text_table(title: str, columns: Mapping[str, NDArray[Any]]) -> str:
    """A short plain-text preview: the title, then the first rows."""
    n = len(next(iter(columns.values()))) if columns else 0
    head = list(columns)
    rows = [[_cell(columns[name][i]) for name in head] for i in range(min(n, _PREVIEW_ROWS))]
    widths = [max([len(h)] + [len(r[j]) for r in rows]) for j, h in enumerate(head)]
    lines = [title, "  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    if n > _PREVIEW_ROWS:
        lines.append(f"... ({n - _PREVIEW_ROWS} more rows)")
    return "\n".join(lines)


def html_table(title: str, columns: Mapping[str, NDArray[Any]]) -> str:
    n = len(next(iter(columns.values()))) if columns else 0
    head = "".join(f"<th>{html.escape(name)}</th>" for name in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(_cell(col[i]))}</td>" for col in columns.values())
        + "</tr>"
        for i in range(min(n, _PREVIEW_ROWS))
    )
    more = f"<p>... {n - _PREVIEW_ROWS} more rows</p>" if n > _PREVIEW_ROWS else ""
    return (
        f"<div><strong>{html.escape(title)}</strong><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>{more}</div>"
    )


def row_numbers(rows: object, n: int) -> NDArray[np.intp]:
    """Row numbers selected by ``rows``: a boolean mask of length ``n`` or row numbers.

    Row numbers may be negative (counted from the end, as in numpy) and repeat. A mask of the
    wrong length or a row number out of range raises :class:`ValidationError`; anything that is
    neither a mask nor integers (a str, floats, a single number) raises ``TypeError``.
    """
    if isinstance(rows, slice):
        return np.arange(n)[rows]
    if isinstance(rows, str | bytes | Mapping) or rows is None or np.ndim(rows) == 0:  # type: ignore[arg-type]
        raise TypeError(
            f"rows must be a boolean mask, an array of row numbers or a slice, got {shown(rows)}; "
            "for one row pass a list: take([i])"
        )
    try:
        index = np.asarray(rows)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"rows cannot be read as an array: {exc}") from None
    if index.ndim != 1:
        raise ValidationError(f"rows must be one-dimensional, got shape {index.shape}")
    if index.dtype == np.bool_:
        if index.shape[0] != n:
            raise ValidationError(
                f"a boolean mask must have one entry per row ({n}), got {index.shape[0]}"
            )
        return np.flatnonzero(index)
    if index.size == 0:
        return np.zeros(0, dtype=np.intp)
    if index.dtype.kind not in "iu":
        raise TypeError(f"rows must be booleans or integers, got dtype {index.dtype}")
    low, high = int(index.min()), int(index.max())
    if low < -n or high >= n:
        bad = low if low < -n else high
        raise ValidationError(f"row {bad} is out of range for {n} rows")
    return index.astype(np.intp) % max(n, 1)


class ColumnarResult:
    """What every per-customer result shares: records, a data frame, previews, row selection.

    A subclass is an attrs class that provides :meth:`columns` (with a ``customer_id`` column),
    :meth:`_title`, and ``_row_fields``: the names of its fields that hold one entry per row
    (``None`` allowed), which :meth:`take` selects while the other fields are kept.
    """

    __slots__ = ()
    _row_fields: ClassVar[tuple[str, ...]]
    # Indexing selects rows; iterating row by row would be the slow path, so it is not offered:
    # use columns(), to_records() or to_frame().
    __iter__: ClassVar[None] = None

    def __len__(self) -> int:
        return int(np.shape(getattr(self, self._row_fields[0]))[0])

    def take(self, rows: Any) -> Self:
        """The result for some rows only, in the order given.

        Parameters
        ----------
        rows : array-like of bool or int, or slice
            A boolean mask with one entry per row (``summary.frequency > 0``), or row numbers
            (``[0, 5]``; negative numbers count from the end).

        Returns
        -------
        Same type as ``self``
            Every per-row column selected, every other attribute unchanged.

        Raises
        ------
        ValidationError
            A mask of the wrong length, or a row number out of range.
        TypeError
            ``rows`` is neither a mask nor row numbers.
        """
        index = row_numbers(rows, len(self))
        changes = {}
        for name in self._row_fields:
            value = getattr(self, name)
            changes[name] = None if value is None else np.asarray(value)[index]
        return attrs.evolve(self, **changes)  # type: ignore[misc]

    def __getitem__(self, rows: Any) -> Self:
        """``result[mask]``, ``result[[0, 5]]`` or ``result[2:10]``: see :meth:`take`."""
        return self.take(rows)

    @classmethod
    def concat(cls, parts: Iterable[Self]) -> Self:
        """One result of the customers of several (partitions of one snapshot), rows in order.

        Every attribute that is not per row is taken from the first part.
        """
        items = list(parts)
        if not items or not all(type(p) is cls for p in items):
            raise ValidationError(f"concat needs at least one {cls.__name__}, and only those")
        changes: dict[str, Any] = {}
        for name in cls._row_fields:
            values = [getattr(p, name) for p in items]
            if any(v is None for v in values):
                changes[name] = None
            else:
                changes[name] = np.concatenate([np.asarray(v) for v in values])
        return attrs.evolve(items[0], **changes)  # type: ignore[misc]

    def row(self, customer_id: Any) -> int:
        """The row of ``customer_id`` (:class:`UnknownCustomerError` if it has none)."""
        hits = np.flatnonzero(np.asarray(getattr(self, self._row_fields[0])) == customer_id)
        if hits.size == 0:
            raise UnknownCustomerError(f"{shown(customer_id)} is not in this {type(self).__name__}")
        return int(hits[0])

    def explain(self, customer_id: Any) -> str:
        """One customer's row in words: every column and its value."""
        i = self.row(customer_id)
        lines = [f"customer {shown(customer_id)} in {self._title()}"]
        lines += [
            f"  {name} = {_cell(np.asarray(col)[i])}"
            for name, col in self.columns().items()
            if name != "customer_id"
        ]
        return "\n".join(lines)

    def columns(self) -> dict[str, NDArray[Any]]:
        raise NotImplementedError

    def _title(self) -> str:
        raise NotImplementedError

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per customer."""
        return records(self.columns())

    def to_frame(self) -> Any:
        """A pandas DataFrame indexed by ``customer_id``, shaped like lifetimes' tables."""
        return frame(self.columns(), "customer_id")

    def __repr__(self) -> str:
        return text_table(self._title(), self.columns())

    def _repr_html_(self) -> str:
        return html_table(self._title(), self.columns())
