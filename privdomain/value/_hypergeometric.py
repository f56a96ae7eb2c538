"""The one hypergeometric series Pareto/NBD needs, summed so that it cannot overflow.

Pareto/NBD's likelihood contains ``2F1(r+s+x, b; r+s+x+1; z)`` with ``b = s+1`` or ``r+x``.
Called directly, ``scipy.special.hyp2f1`` goes through ``Gamma(r+s+x+1)``, which overflows for
customers with more than ~170 purchases, and the term itself grows like ``(1-z)^-(r+x)``. Euler's
transformation turns it into ``(1-z)^(1-b) 2F1(1, B; C; z)`` with ``0 < B < C``, whose series
``sum_n z^n prod_{k<n} (B+k)/(C+k)`` has positive terms, each at most ``z^n``: it is bounded by
``1/(1-z)`` and is summed here directly, in blocks, together with its derivatives in ``z``, ``B``
and ``C`` (so the likelihood's gradient is exact too).
"""

from __future__ import annotations

import attrs
import numpy as np
from numpy.typing import NDArray

__all__ = ["Series", "one_b_c_series"]

FloatArray = NDArray[np.float64]

_REL_TOL = 1e-17
_MAX_TERMS = 200_000


@attrs.frozen
class Series:
    """``S = 2F1(1, B; C; z)`` and its partial derivatives."""

    value: FloatArray
    d_z: FloatArray
    d_b: FloatArray
    d_c: FloatArray


def one_b_c_series(z: FloatArray, b: FloatArray, c: FloatArray) -> Series:
    """Sum ``2F1(1, b; c; z)`` for ``0 <= z < 1`` and ``0 < b < c`` (element-wise)."""
    n = z.shape[0]
    value = np.ones(n)
    d_z = np.zeros(n)  # sum n * tau_n, divided by z at the end
    d_b = np.zeros(n)
    d_c = np.zeros(n)
    tau = np.ones(n)  # the last term summed
    harm_b = np.zeros(n)  # sum_{k<n} 1/(b+k): d log(tau_n) / db
    harm_c = np.zeros(n)
    active = np.flatnonzero(z > 0)
    first = 0
    block = 16
    while active.size and first < _MAX_TERMS:
        za, ba, ca = z[active, None], b[active, None], c[active, None]
        k = np.arange(first, first + block, dtype=np.float64)
        taus = tau[active, None] * np.cumprod(za * (ba + k) / (ca + k), axis=1)
        hb = harm_b[active, None] + np.cumsum(1.0 / (ba + k), axis=1)
        hc = harm_c[active, None] + np.cumsum(1.0 / (ca + k), axis=1)
        value[active] += taus.sum(axis=1)
        d_z[active] += taus @ (k + 1)
        d_b[active] += (taus * hb).sum(axis=1)
        d_c[active] -= (taus * hc).sum(axis=1)
        tau[active] = taus[:, -1]
        harm_b[active] = hb[:, -1]
        harm_c[active] = hc[:, -1]
        first += block
        # Terms shrink at least by z each step, so the tail of every sum is bounded by this.
        zr = z[active]
        tail = tau[active] * (first + 1 / (1 - zr)) * (1 + harm_b[active]) / (1 - zr) ** 2
        active = active[tail > _REL_TOL * value[active]]
        block = min(2 * block, 1024)
    positive = z > 0
    d_z = np.where(positive, d_z / np.where(positive, z, 1.0), b / c)
    return Series(value, d_z, d_b, d_c)
