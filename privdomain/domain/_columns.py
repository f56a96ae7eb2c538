"""A growable numpy column: amortised O(1) appends, a zero-copy view of the filled part."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

__all__ = ["Column", "canonical"]

T = TypeVar("T", bound=np.generic)


class Column(Generic[T]):
    """An append-only column. Capacity grows by half each time, so appends are amortised O(1);
    pages that were reserved but never written are not resident (``np.empty``)."""

    __slots__ = ("_data", "_size")

    def __init__(self, dtype: Any) -> None:
        self._data: NDArray[T] = np.empty(0, dtype=dtype)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def values(self) -> NDArray[T]:
        """The filled part (a read-only view)."""
        view = self._data[: self._size]
        view.flags.writeable = False
        return view

    def reserve(self, extra: int) -> None:
        need = self._size + extra
        if need <= self._data.shape[0]:
            return
        grown = np.empty(max(need, self._data.shape[0] * 3 // 2), dtype=self._data.dtype)
        grown[: self._size] = self._data[: self._size]
        self._data = grown

    def extend(self, values: Any) -> None:
        arr = np.asarray(values)
        self.reserve(arr.shape[0])
        self._data[self._size : self._size + arr.shape[0]] = arr
        self._size += arr.shape[0]

    def truncate(self, size: int) -> None:
        """Forget everything after the first ``size`` values (undoes appends)."""
        self._size = min(self._size, size)

    def __setitem__(self, index: Any, value: Any) -> None:
        self._data[: self._size][index] = value

    def __getstate__(self) -> tuple[NDArray[T], int]:
        return self._data[: self._size].copy(), self._size

    def __setstate__(self, state: tuple[NDArray[T], int]) -> None:
        data, self._size = state
        self._data = canonical(data)


def canonical(arr: NDArray[T]) -> NDArray[T]:
    """``arr`` with numpy's own descriptor for its dtype.

    Unpickled arrays carry a fresh but equal dtype object, and numpy's ``ufunc.at`` fast path
    only recognises the built-in one: ``np.maximum.at`` on an unpickled int64 array is 20x
    slower. A view with the canonical descriptor costs nothing.
    """
    return arr.view(np.dtype(arr.dtype.str)) if arr.dtype.kind != "O" else arr
