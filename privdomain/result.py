"""The one base of every per-customer result: arrays aligned to the rows of a snapshot.

A strategy's ``apply(snapshot)`` returns one row per customer of the snapshot, in its order
(``customer_ids`` first), so results of several partitions concatenate into the result of
their union and a row selection of a result is the result of the same rows of the snapshot.
Every result shares:

- :meth:`Result.columns`: the per-customer arrays by name, ``customer_id`` first;
- :meth:`Result.explain`: one customer in words, with the numbers;
- :meth:`Result.to_records` with one policy for missing values (NaN and NaT become ``None``,
  numpy scalars plain Python values, datetimes aware UTC :class:`~datetime.datetime`),
  :meth:`Result.to_frame` (pandas, with the ``pandas`` extra) and a notebook display;
- :meth:`Result.take` and indexing (``result[mask]``, ``result[[0, 5]]``, ``result[2:10]``),
  :meth:`Result.concat`, ``len``.

A result class is an attrs class deriving from :class:`Result` that names its per-row fields in
``_row_fields`` (arrays of one entry per customer, or dicts of such arrays) and provides
:meth:`Result.columns`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Self

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain._optional import import_optional
from privdomain.domain.segment import short_repr
from privdomain.errors import UnknownCustomerError, ValidationError

__all__ = ["Result", "plain_column", "readonly", "row_numbers", "shown"]

_PREVIEW_ROWS = 5
_NAT = np.iinfo(np.int64).min


def row_numbers(rows: Any, n: int) -> NDArray[np.intp]:
    """The rows of ``n`` selected by ``rows``: a boolean mask of length ``n``, row numbers or
    a slice.

    Row numbers may be negative (counted from the end, as in numpy) but may not repeat: a
    result has one row per customer, as the snapshot it comes from.

    Raises
    ------
    ValidationError
        A mask of the wrong length, a row number out of range or repeated, or anything that is
        neither a mask, nor integers, nor a slice.
    """
    if isinstance(rows, slice):
        return np.arange(n, dtype=np.intp)[rows]
    if isinstance(rows, str | bytes | Mapping) or rows is None:
        raise _not_rows(rows)
    try:
        index = np.asarray(rows)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(f"rows cannot be read as an array: {exc}") from None
    if index.ndim == 0:
        raise _not_rows(rows)
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
        raise ValidationError(f"rows must be booleans or integers, got dtype {index.dtype}")
    low, high = int(index.min()), int(index.max())
    if low < -n or high >= n:
        bad = low if low < -n else high
        raise ValidationError(f"row {bad} is out of range for {n} rows")
    out = index.astype(np.intp) % max(n, 1)
    if np.unique(out).size != out.size:
        raise ValidationError("rows must not repeat: a result has one row per customer")
    return out


def _not_rows(rows: Any) -> ValidationError:
    return ValidationError(
        "rows must be a boolean mask, an array of row numbers or a slice, got "
        f"{short_repr(rows)}; for one row pass a list: take([i])"
    )


def plain_column(col: NDArray[Any]) -> list[Any]:
    """One column as plain Python values: NaN and NaT become ``None``, numpy scalars Python
    values, datetimes aware UTC :class:`~datetime.datetime`."""
    kind = col.dtype.kind
    if kind == "M":
        from privdomain.domain._time import micros_to_datetime

        micros = col.astype("datetime64[us]").view(np.int64).tolist()
        return [None if v == _NAT else micros_to_datetime(v) for v in micros]
    if kind in "fc":
        return [None if v != v else v for v in col.tolist()]
    if kind == "O":
        return [_plain(v) for v in col.tolist()]
    return list(col.tolist())


def _plain(value: Any) -> Any:
    if isinstance(value, np.datetime64):
        return plain_column(np.array([value]))[0]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def shown(value: Any) -> str:
    """A cell as text: numbers to 4 significant digits (6 from a million), NaN as ``NaN``."""
    if isinstance(value, float | np.floating):
        v = float(value)
        if v != v:
            return "NaN"
        return f"{v:.4g}" if abs(v) < 1e6 else f"{v:.6g}"
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)


def readonly(arr: Any) -> NDArray[Any]:
    """A read-only view of ``arr`` (no copy; the caller's array stays writeable): the converter
    of every result's array fields."""
    out = np.asarray(arr)
    if out.flags.writeable:
        out = out.view()
        out.flags.writeable = False
    return out


def _frozen(arr: NDArray[Any]) -> NDArray[Any]:
    """Mark an array just made by indexing or concatenation as read-only (no copy)."""
    arr.flags.writeable = False
    return arr


class Result:
    """The base of every per-customer result: one row per customer of a snapshot, in order.

    A subclass is an attrs class with a ``customer_ids`` field and ``_row_fields``, the names of
    its fields that hold one entry per row (arrays, or dicts of arrays; ``None`` allowed).
    :meth:`take` and :meth:`concat` select and join those fields and keep every other field.
    """

    __slots__ = ()
    _row_fields: ClassVar[tuple[str, ...]]
    # Indexing selects rows; iterating row by row would be the slow path, so it is not offered:
    # use columns(), to_records() or to_frame().
    __iter__: ClassVar[None] = None

    customer_ids: NDArray[np.object_]

    # ------------------------------------------------------------------ what subclasses give
    def columns(self) -> dict[str, NDArray[Any]]:
        """Every per-customer column by name, ``customer_id`` first."""
        raise NotImplementedError

    def _title(self) -> str:
        return f"{type(self).__name__} ({len(self)} customers)"

    # ------------------------------------------------------------------ rows
    def __len__(self) -> int:
        return int(self.customer_ids.shape[0])

    def row(self, customer_id: str) -> int:
        """The row of ``customer_id``.

        Raises
        ------
        ValidationError
            When ``customer_id`` is not a str.
        UnknownCustomerError
            When the customer is not in this result.
        """
        if not isinstance(customer_id, str):
            raise ValidationError(f"a customer id is a str, not {short_repr(customer_id)}")
        hits = np.flatnonzero(self.customer_ids == customer_id)
        if hits.size == 0:
            raise UnknownCustomerError(f"{customer_id!r} is not in this {type(self).__name__}")
        return int(hits[0])

    def take(self, rows: Any) -> Self:
        """The result of some customers only, in the order given.

        Parameters
        ----------
        rows : array-like of bool or int, or slice
            A boolean mask with one entry per row, or row numbers (``[0, 5]``; negative numbers
            count from the end; no repeats).

        Returns
        -------
        Same type as ``self``
            Every per-row field selected, every other field unchanged: the result the strategy
            gives for the same rows of the snapshot (``snapshot.take(rows)``).

        Raises
        ------
        ValidationError
            A mask of the wrong length, a row number out of range or repeated, or ``rows``
            neither a mask, nor row numbers, nor a slice.
        """
        index = row_numbers(rows, len(self))
        changes: dict[str, Any] = {}
        for name in self._row_fields:
            value = getattr(self, name)
            if value is None:
                changes[name] = None
            elif isinstance(value, Mapping):
                changes[name] = {k: _frozen(np.asarray(v)[index]) for k, v in value.items()}
            else:
                changes[name] = _frozen(np.asarray(value)[index])
        return self._evolve(changes)

    def __getitem__(self, rows: Any) -> Self:
        """``result[mask]``, ``result[[0, 5]]`` or ``result[2:10]``: see :meth:`take`."""
        return self.take(rows)

    @classmethod
    def concat(cls, parts: Iterable[Self]) -> Self:
        """One result of the customers of several results, rows in order.

        The parts are results of disjoint customers (partitions of one snapshot) from one
        strategy, configured and fitted alike: every field that is not per row is taken from
        the first part.

        Raises
        ------
        ValidationError
            When there is no part, a part is of another type or of a strategy configured or
            fitted otherwise, or a customer appears twice.
        """
        items = list(parts) if isinstance(parts, Iterable) else []
        if not items or not all(type(p) is cls for p in items):
            raise ValidationError(f"concat needs at least one {cls.__name__}, and only those")
        first = items[0]
        for other in items[1:]:
            first._check_concat(other)
        changes: dict[str, Any] = {}
        for name in cls._row_fields:
            values = [getattr(p, name) for p in items]
            if any(v is None for v in values):
                changes[name] = None
            elif isinstance(values[0], Mapping):
                keys = list(values[0])
                if any(list(v) != keys for v in values):
                    raise ValidationError(f"the parts' {name.lstrip('_')} have other names")
                changes[name] = {
                    k: _frozen(np.concatenate([np.asarray(v[k]) for v in values])) for k in keys
                }
            else:
                changes[name] = _frozen(np.concatenate([np.asarray(v) for v in values]))
        ids = changes["customer_ids"]
        if np.unique(ids).size != ids.size:
            raise ValidationError("concat needs results of disjoint customers")
        return first._evolve(changes)

    def _check_concat(self, other: Self) -> None:
        """Raise :class:`ValidationError` unless ``other`` comes from a strategy configured and
        fitted as the one that made ``self`` (what a subclass can check)."""

    def _evolve(self, changes: Mapping[str, Any]) -> Self:
        inst: Any = self  # an attrs instance: every subclass is an attrs class
        aliases = {a.name: a.alias for a in attrs.fields(type(inst))}
        out: Self = attrs.evolve(inst, **{aliases[k]: v for k, v in changes.items()})
        return out

    # ------------------------------------------------------------------ explanations
    def explain(self, customer_id: str) -> str:
        """One customer's row in words: every column and its value."""
        i = self.row(customer_id)
        lines = [f"customer {customer_id!r} in {self._title()}"]
        lines += [
            f"  {name} = {shown(col[i])}"
            for name, col in self.columns().items()
            if name != "customer_id"
        ]
        return "\n".join(lines)

    # ------------------------------------------------------------------ export
    def to_records(self) -> list[dict[str, Any]]:
        """One ``dict`` of plain Python values per customer.

        NaN and NaT become ``None``, numpy scalars Python values, datetimes aware UTC
        :class:`~datetime.datetime`.
        """
        plain = {name: plain_column(np.asarray(col)) for name, col in self.columns().items()}
        names = list(plain)
        return [dict(zip(names, row, strict=True)) for row in zip(*plain.values(), strict=True)]

    def to_frame(self) -> Any:
        """A pandas ``DataFrame`` indexed by ``customer_id`` (needs ``privdomain[pandas]``).

        Missing values stay NaN (NaT for datetimes); datetimes are aware UTC.
        """
        pd = import_optional("pandas", extra="pandas")
        cols = self.columns()
        data: dict[str, Any] = {}
        for name, col in cols.items():
            if name == "customer_id":
                continue
            arr = np.asarray(col)
            if arr.dtype.kind == "M":
                data[name] = pd.to_datetime(arr.astype("datetime64[us]"), utc=True)
            else:
                data[name] = arr
        return pd.DataFrame(data, index=pd.Index(cols["customer_id"], name="customer_id"))

    # ------------------------------------------------------------------ display
    def _preview(self) -> tuple[list[str], list[list[str]]]:
        cols = self.columns()
        n = min(len(self), _PREVIEW_ROWS)
        return list(cols), [[shown(col[i]) for col in cols.values()] for i in range(n)]

    def __repr__(self) -> str:
        head, rows = self._preview()
        widths = [max([len(h)] + [len(r[j]) for r in rows]) for j, h in enumerate(head)]
        lines = [self._title(), "  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True))]
        lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        if len(self) > len(rows):
            lines.append(f"... ({len(self) - len(rows)} more rows)")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return f"<div><strong>{html.escape(self._title())}</strong>{self._preview_html()}</div>"

    def _preview_html(self) -> str:
        head, rows = self._preview()
        if not rows:
            return ""
        th = "".join(f"<th>{html.escape(name)}</th>" for name in head)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
        )
        more = f"<p>... {len(self) - len(rows)} more rows</p>" if len(self) > len(rows) else ""
        return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>{more}"
