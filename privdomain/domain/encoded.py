"""Dictionary-encoded id columns: the fast way into a pool."""

from __future__ import annotations

import itertools
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain._column_checks import (
    _array,
    _hashable,
    _is_missing,
)
from privdomain.errors import ValidationError, short_repr

__all__ = ["EncodedIds"]


@attrs.frozen(eq=False)
class EncodedIds:
    """A dictionary-encoded id column: row ``i`` holds ``values[codes[i]]``, or nothing if
    ``codes[i]`` is -1.

    This is how columnar formats (Arrow dictionaries, pandas ``Categorical``) store repeated
    strings, and it is the fast way into a pool: the pool looks up each distinct id once instead
    of once per row. Build one with :meth:`encode`, or pass a pandas ``Categorical`` or
    ``(codes, values)`` from your own storage.

    Attributes
    ----------
    codes
        A 1-D integer array, each in ``[-1, len(values))``; stored as ``int64``.
    values
        A 1-D array of the distinct ids (any objects; the pool reports rows whose id is not a
        valid ``str``); stored as an object array.

    Raises
    ------
    ValidationError
        If ``codes`` is not a 1-D integer array (bool and float included), ``values`` is not
        1-D, or a code lies outside ``[-1, len(values))``.
    """

    codes: NDArray[np.int64]
    values: NDArray[np.object_]

    def __attrs_post_init__(self) -> None:
        codes = _array(self.codes, "codes")
        if codes.ndim != 1 or codes.dtype.kind not in "iu":
            raise ValidationError(
                f"codes must be a 1-D integer array, got shape {codes.shape} and dtype "
                f"{codes.dtype}"
            )
        values = _array(self.values, "values", objects=True)
        if values.ndim != 1:
            raise ValidationError(f"values must be a 1-D array, got shape {values.shape}")
        values = values.astype(object, copy=False)
        # bounds as Python ints: a uint64 code must not wrap into -1 on its way to int64
        if codes.size and (int(codes.min()) < -1 or int(codes.max()) >= values.size):
            raise ValidationError(f"codes must lie in [-1, {values.size}) (len(values))")
        object.__setattr__(self, "codes", codes.astype(np.int64, copy=False))
        object.__setattr__(self, "values", values)

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    @classmethod
    def encode(cls, values: Any, n: int | None = None, *, what: str = "ids") -> EncodedIds:
        """Encode ``values``: a sequence of ids, a scalar repeated ``n`` times, a pandas
        ``Categorical`` (or ``Series`` of one), or an :class:`EncodedIds`.

        ``None``, NaN and pandas ``NA`` mean "no id" (code -1), in a sequence or as the scalar.

        Parameters
        ----------
        values
            The ids.
        n
            The number of rows expected (needed for a scalar).
        what
            The column's name, for error messages.

        Raises
        ------
        ValidationError
            If the ids are not a 1-D column of ``n`` rows, are a bool column, or include
            unhashable values (lists, dicts).
        """
        if isinstance(values, EncodedIds):
            encoded = values
        elif hasattr(values, "cat"):  # a pandas Series of category dtype
            encoded = cls.encode(values.array, n, what=what)
        elif hasattr(values, "codes") and hasattr(values, "categories"):
            encoded = cls(values.codes, values.categories)
        elif isinstance(values, str) or _is_missing(values):
            if n is None:
                raise ValidationError(f"{what}: a single id needs the column length")
            code = 0 if isinstance(values, str) else -1
            encoded = cls(np.full(n, code, dtype=np.int64), np.array([values], dtype=object))
        else:
            arr = _array(values, what, objects=True)
            if arr.ndim != 1:
                raise ValidationError(f"{what} must be 1-D, got shape {arr.shape}")
            if arr.dtype.kind == "b":
                raise ValidationError(f"{what} holds ids, not a bool column")
            arr = arr.astype(object, copy=False)
            items = arr.tolist()
            # one C-level pass: each row's code is the position of its id's first occurrence
            table: dict[Any, int] = {}
            try:
                first = np.fromiter(
                    map(table.setdefault, items, itertools.count()), np.int64, arr.size
                )
            except TypeError:
                bad = next(v for v in items if not _hashable(v))
                raise ValidationError(
                    f"{what} must be hashable ids, got {type(bad).__name__} {short_repr(bad)}"
                ) from None
            missing = (
                [pos for key, pos in table.items() if _is_missing(key)]
                if (set(map(type, table)) - {str})
                else []
            )
            if missing:
                first = np.where(np.isin(first, missing), -1, first)
            encoded = cls(first, arr)
        if n is not None and len(encoded) != n:
            raise ValidationError(f"{what} has {len(encoded)} rows, expected {n}")
        return encoded

    def present(self) -> NDArray[np.bool_]:
        """Which rows hold an id."""
        return self.codes >= 0

    def used(self) -> NDArray[np.intp]:
        """Positions in :attr:`values` that some row refers to."""
        mask = np.zeros(self.values.size, dtype=bool)
        mask[self.codes[self.codes >= 0]] = True
        return np.flatnonzero(mask)

    def decode(self) -> NDArray[np.object_]:
        """The ids row by row (``None`` where absent)."""
        with_none = np.empty(self.values.size + 1, dtype=object)
        with_none[:-1] = self.values  # the last slot stays None, for code -1
        return with_none[self.codes]

    def take(self, rows: NDArray[np.intp]) -> EncodedIds:
        """The rows at ``rows``."""
        return EncodedIds(self.codes[rows], self.values)
