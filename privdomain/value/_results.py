"""Shared presentation of result containers: records, data frames and notebook HTML."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from privdomain._optional import import_optional

__all__ = ["ColumnarResult", "frame", "html_table", "records", "text_table"]

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


class ColumnarResult:
    """What every per-customer result shares: records, a data frame and previews.

    A subclass provides :meth:`columns` (with a ``customer_id`` column) and :meth:`_title`.
    """

    __slots__ = ()

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
