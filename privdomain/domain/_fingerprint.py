"""Stable 64-bit fingerprints of string ids, computed column-wise.

The pool remembers which touchpoint ids it has seen as sorted ``uint64`` fingerprints instead of
the strings themselves (8 bytes per event instead of ~60). The hash is FNV-1a over the id's code
points followed by the SplitMix64 finaliser: stable across processes and platforms (unlike
Python's salted ``hash``), so a pickled pool keeps deduplicating correctly. For ``n`` distinct
ids the chance that any two share a fingerprint is about ``n**2 / 2**65`` (3e-6 for ten million).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["fingerprint_strings"]

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_CHUNK = 1 << 16


def _mix(h: NDArray[np.uint64]) -> NDArray[np.uint64]:
    # SplitMix64 finaliser: spreads FNV's weak low bits over the whole word.
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def fingerprint_strings(ids: NDArray[np.object_] | NDArray[np.str_]) -> NDArray[np.uint64]:
    """Fingerprint each string of ``ids`` (object or ``<U`` array) to a ``uint64``.

    Works in chunks so that one very long id does not widen the whole column in memory.
    Ids must not contain NUL characters (privdomain's id rule forbids control characters).
    """
    flat = np.asarray(ids).ravel()
    out = np.empty(flat.size, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for start in range(0, flat.size, _CHUNK):
            chunk = np.asarray(flat[start : start + _CHUNK], dtype=np.str_)
            width = chunk.dtype.itemsize // 4
            codes = chunk.view(np.uint32).reshape(chunk.size, width).astype(np.uint64)
            h = np.full(chunk.size, _FNV_OFFSET, dtype=np.uint64)
            for j in range(width):
                c = codes[:, j]
                # Padding code points are zero; skipping them keeps the hash independent of the
                # chunk's width.
                h = np.where(c != 0, (h ^ c) * _FNV_PRIME, h)
            out[start : start + chunk.size] = _mix(h)
    return out
