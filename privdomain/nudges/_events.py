"""Per-customer event searches, vectorised: which events of the same customer fall in a time
window, for many customers and windows at once.

Events are sorted by (customer row, instant); a query (row, instant) is located by one
``searchsorted`` over combined keys ``row * K + rank(instant)``, where the rank of an instant is
the number of event instants strictly before it, so the keys stay small integers (no overflow,
and exact: no rounding of instants).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["EventIndex"]


class EventIndex:
    """Events of many customers sorted by (row, instant), searchable by (row, instant).

    Parameters
    ----------
    row : numpy.ndarray of int
        The customer row of each event.
    at : numpy.ndarray of int64
        The instant of each event (epoch microseconds).
    """

    def __init__(self, row: NDArray[Any], at: NDArray[np.int64]) -> None:
        row = np.asarray(row, dtype=np.int64)
        at = np.asarray(at, dtype=np.int64)
        self.order: NDArray[np.intp] = np.lexsort((at, row))
        self.row: NDArray[np.int64] = row[self.order]
        self.at: NDArray[np.int64] = at[self.order]

    def __len__(self) -> int:
        return int(self.row.shape[0])

    def positions(self, q_row: NDArray[Any], *q_ats: NDArray[np.int64]) -> list[NDArray[np.intp]]:
        """For each query instant array, the number of events that sort before
        ``(q_row, q_at)``: those of earlier rows and those of the same row strictly before
        ``q_at``. The events of a customer in ``[t0, t1)`` are the sorted ones from
        ``positions(row, t0)`` to ``positions(row, t1)``."""
        q_row = np.asarray(q_row, dtype=np.int64)
        # rank = how many event instants are strictly earlier: monotone in the instant and
        # exact, so comparing (row, rank) compares (row, instant)
        times = np.sort(self.at)
        k = np.int64(times.size + 1)
        keys = self.row * k + np.searchsorted(times, self.at)
        out = []
        for q_at in q_ats:
            q_keys = q_row * k + np.searchsorted(times, np.asarray(q_at, dtype=np.int64))
            out.append(np.searchsorted(keys, q_keys))
        return out

    def pairs(self, horizon: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """Every (later, earlier) pair of events of one customer with the earlier strictly
        before the later and at most ``horizon`` microseconds before it, as sorted positions."""
        lo, hi = self.positions(self.row, self.at - horizon, self.at)
        count = hi - lo
        total = int(count.sum())
        later = np.repeat(np.arange(len(self), dtype=np.intp), count)
        first = np.repeat(lo - np.cumsum(count) + count, count)
        earlier = first + np.arange(total, dtype=np.intp)
        return later, earlier
