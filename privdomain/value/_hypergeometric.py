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
from scipy.special import hyp2f1

__all__ = ["Series", "hyp2f1_large_c", "one_b_c_series"]

FloatArray = NDArray[np.float64]

_REL_TOL = 1e-17
_MAX_TERMS = 200_000
_FIRST_BLOCK_CAP = 64


@attrs.frozen
class Series:
    """``S = 2F1(1, B; C; z)`` and its partial derivatives."""

    value: FloatArray
    d_z: FloatArray
    d_b: FloatArray
    d_c: FloatArray


def one_b_c_series(
    z: FloatArray, b: FloatArray | float, c: FloatArray, *, with_grad: bool = True
) -> Series:
    """Sum ``2F1(1, b; c; z)`` for ``0 <= z < 1`` and ``0 < b < c`` (element-wise).

    ``b`` may be a scalar shared by all rows (cheaper). Without ``with_grad`` only ``value`` is
    computed and the derivatives are returned as zeros.
    """
    shared_b = np.ndim(b) == 0
    # One block sized for the largest z when that is short; otherwise size it for most rows
    # (the largest z belong to the few rows with t near 0) and let the others continue.
    z_max = float(np.max(z, initial=0.0))
    longest = _terms_needed(z_max)
    block = longest if longest <= _FIRST_BLOCK_CAP else _terms_needed(float(np.quantile(z, 0.8)))
    block = min(block, _FIRST_BLOCK_CAP)
    # Terms run along axis 0 so that cumulative products are vector operations over rows.
    k = np.arange(block, dtype=np.float64)[:, None]
    bk = b + k
    inv_c = 1.0 / (c + k)
    taus = _running(np.multiply, z * bk * inv_c)
    value = 1.0 + taus.sum(axis=0)
    zeros = np.zeros_like(value)
    d_z, d_b, d_c = zeros, zeros.copy(), zeros.copy()
    # d log(tau_n) / db = sum_{k<n} 1/(b+k), likewise for c.
    harm_b = _running(np.add, 1.0 / bk)
    harm_c = _running(np.add, inv_c.copy()) if with_grad else inv_c
    if with_grad:
        d_z = np.einsum("i,ij->j", k[:, 0] + 1, taus)  # sum n tau_n; divided by z at the end
        d_b = (
            np.einsum("i,ij->j", harm_b[:, 0], taus)
            if shared_b
            else np.einsum("ij,ij->j", taus, harm_b)
        )
        d_c = -np.einsum("ij,ij->j", taus, harm_c)
    if longest > block:
        b_rows = np.broadcast_to(np.asarray(b, dtype=np.float64), z.shape)
        last_hb = np.broadcast_to(harm_b[-1], z.shape).copy()
        _continue(z, b_rows, c, block, taus[-1], last_hb, harm_c[-1], value, d_z, d_b, d_c)
    if with_grad:
        positive = z > 0
        d_z = np.where(positive, d_z / np.where(positive, z, 1.0), b / c)
    return Series(value, d_z, d_b, d_c)


def _continue(
    z: FloatArray,
    b: FloatArray,
    c: FloatArray,
    first: int,
    tau: FloatArray,
    harm_b: FloatArray,
    harm_c: FloatArray,
    value: FloatArray,
    d_z: FloatArray,
    d_b: FloatArray,
    d_c: FloatArray,
) -> None:
    """Sum the remaining terms in place, for the rows whose first block was not enough."""
    block = _FIRST_BLOCK_CAP
    active = np.arange(z.shape[0])
    while first < _MAX_TERMS:
        # Terms shrink at least by z each step, so the tail of every sum is bounded by this.
        za = z[active]
        tail = tau[active] * (first + 1 / (1 - za)) * (1 + harm_b[active]) / (1 - za) ** 2
        active = active[tail > _REL_TOL * value[active]]
        if not active.size:
            return
        k = np.arange(first, first + block, dtype=np.float64)
        bk = b[active, None] + k
        ck = c[active, None] + k
        inv_c = 1.0 / ck
        step = z[active, None] * bk * inv_c
        step[:, 0] *= tau[active]
        taus = np.cumprod(step, axis=1)
        hb = harm_b[active, None] + np.cumsum(1.0 / bk, axis=1)
        hc = harm_c[active, None] + np.cumsum(inv_c, axis=1)
        value[active] += taus.sum(axis=1)
        d_z[active] += np.einsum("ij,j->i", taus, k + 1)
        d_b[active] += np.einsum("ij,ij->i", taus, hb)
        d_c[active] -= np.einsum("ij,ij->i", taus, hc)
        tau[active] = taus[:, -1]
        harm_b[active] = hb[:, -1]
        harm_c[active] = hc[:, -1]
        first += block
        block = min(2 * block, 4096)


def _running(op: np.ufunc, terms: FloatArray) -> FloatArray:
    """Running product or sum down axis 0, in place: a few long vector operations, which for
    tens of terms over thousands of rows beats ``cumprod``'s strided loop by about two."""
    for j in range(1, terms.shape[0]):
        op(terms[j], terms[j - 1], out=terms[j])
    return terms


def _terms_needed(z: float) -> int:
    """Terms after which z^n is below the tolerance."""
    if z <= 0:
        return 1
    return int(min(_MAX_TERMS, max(4, np.ceil(np.log(_REL_TOL) / np.log(z)) + 2)))


_SCIPY_MAX_C = 30.0  # above this, scipy's hyp2f1 overflows near z = 1 through Gamma(c)


def hyp2f1_large_c(
    a: float | FloatArray, b: float | FloatArray, c: FloatArray, z: FloatArray
) -> FloatArray:
    """Gauss's ``2F1(a, b; c; z)`` for ``0 <= z < 1``, robust for large ``c``.

    BG/NBD's conditional expectation needs ``2F1(., a-1; a+b+x-1; z)``: ``c`` grows with the
    frequency, and ``scipy.special.hyp2f1`` returns ``inf`` or ``nan`` for ``c`` above ~100 when
    ``z`` is near 1. There the series itself converges fast (each term shrinks by about
    ``z (a+n)/(c+n)``), so it is summed directly; small ``c`` goes to scipy.
    """
    out = np.empty(np.broadcast(a, b, c, z).shape)
    a_b, b_b, c_b, z_b = np.broadcast_arrays(
        np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), c, z
    )
    small = c_b < _SCIPY_MAX_C
    out[small] = hyp2f1(a_b[small], b_b[small], c_b[small], z_b[small])
    direct = ~small | ~np.isfinite(out)
    if direct.any():
        out[direct] = _gauss_series(a_b[direct], b_b[direct], c_b[direct], z_b[direct])
    return out


def _gauss_series(a: FloatArray, b: FloatArray, c: FloatArray, z: FloatArray) -> FloatArray:
    total = np.ones_like(z)
    term = np.ones_like(z)
    active = np.arange(z.shape[0])
    first = 0
    block = 32
    while active.size and first < _MAX_TERMS:
        n = np.arange(first, first + block, dtype=np.float64)[:, None]
        a_act, b_act = a[active], b[active]
        ratios = (a_act + n) * (b_act + n) / ((c[active] + n) * (n + 1)) * z[active]
        ratios[0] *= term[active]
        terms = _running(np.multiply, ratios)
        total[active] += terms.sum(axis=0)
        term[active] = terms[-1]
        first += block
        # Once (a+n)(b+n) < (c+n)(n+1) the ratio stays below z: bound the tail geometrically.
        k = float(first)
        shrinking = (a[active] + k) * (b[active] + k) <= (c[active] + k) * (k + 1)
        tail = np.abs(term[active]) * z[active] / (1 - z[active])
        done = shrinking & (tail <= _REL_TOL * np.abs(total[active]))
        active = active[~done]
        block = min(2 * block, 4096)
    return total
