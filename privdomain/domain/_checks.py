"""Column-wise checks shared by the ingest paths: ids, lookups, attribute values, graphs."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from privdomain.domain.batch import RejectReason
from privdomain.domain.customer import MAX_ID_LENGTH
from privdomain.domain.money import _currency_code
from privdomain.errors import ValidationError

__all__ = [
    "first_text",
    "first_unseen",
    "lookup",
    "normal_currency",
    "on_or_into_cycle",
    "scalar_values",
    "valid_id",
    "valid_ids",
]


def normal_currency(code: object) -> str | None:
    """The ISO code ``code`` stands for, or ``None`` if it is no currency code at all."""
    try:
        return _currency_code(str(code))
    except ValidationError:
        return None


def valid_ids(values: NDArray[np.object_]) -> NDArray[np.bool_]:
    """The rule of :func:`~privdomain.domain.customer.check_id` on a column, in C-level passes."""
    items = values.tolist()
    if set(map(type, items)) - {str}:
        return np.fromiter(map(valid_id, items), dtype=bool, count=len(items))
    lengths = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
    printable = np.fromiter(map(str.isprintable, items), dtype=bool, count=len(items))
    blank = np.fromiter(map(str.isspace, items), dtype=bool, count=len(items))
    valid: NDArray[np.bool_] = (lengths > 0) & (lengths <= MAX_ID_LENGTH) & printable & ~blank
    return valid


def valid_id(value: object) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_ID_LENGTH
        and value.isprintable()
        and not value.isspace()
    )


def lookup(index: Mapping[str, int], keys: NDArray[np.object_]) -> NDArray[np.int64]:
    """Dense indices of ``keys`` in ``index``; -1 where absent (or not a valid key at all)."""
    items = keys.tolist()
    try:
        found = map(index.get, items, itertools.repeat(-1))
        return np.fromiter(found, dtype=np.int64, count=len(items))
    except TypeError:  # an unhashable key: fall back to checking each one
        return np.fromiter(
            (index.get(k, -1) if isinstance(k, str) else -1 for k in items), np.int64, len(items)
        )


def first_text(
    texts: Mapping[RejectReason, list[tuple[NDArray[np.bool_], str]]], why: RejectReason, i: int
) -> str:
    for mask, text in texts.get(why, ()):
        if mask[i]:
            return text
    return why.value


def first_unseen(
    keys: NDArray[Any], seen: NDArray[Any]
) -> tuple[NDArray[np.bool_] | None, NDArray[Any]]:
    """Which keys are new (first occurrence in the batch, absent from sorted ``seen``), and the
    new keys sorted. The mask is ``None`` when every key is new."""
    if keys.size == 0:
        return None, keys
    increasing = bool((keys[1:] > keys[:-1]).all())  # e.g. auto-increment ids: no sort needed
    sk = keys if increasing else np.sort(keys)
    repeated = np.zeros(0, bool) if increasing else sk[1:] == sk[:-1]
    if seen.size and sk[0] <= seen[-1] and sk[-1] >= seen[0]:
        known = seen[np.minimum(np.searchsorted(seen, sk), seen.size - 1)] == sk
    else:
        known = np.zeros(0, bool)
    if not repeated.any() and not known.any():  # the common case: all new, no argsort needed
        return None, sk
    if known.size == 0:
        known = np.zeros(sk.size, bool)
    order = np.argsort(keys, kind="stable")  # np.sort(keys) == keys[order], value for value
    first = ~known
    if repeated.size:
        first[1:] &= ~repeated
    fresh = np.empty(keys.size, bool)
    fresh[order] = first
    return fresh, sk[first]


def on_or_into_cycle(parent: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Nodes of a functional graph (``parent`` -1 = root) whose chain never reaches a root."""
    # After k rounds of pointer jumping, jump[i] is i's ancestor 2**k steps up (or -1). A chain
    # that ends does so within parent.size steps; one that never ends is on or into a cycle.
    jump = parent.copy()
    for _ in range(int(parent.size).bit_length() + 1):
        up = jump >= 0
        jump[up] = jump[jump[up]]
    return jump >= 0


def scalar_values(column: NDArray[Any]) -> NDArray[np.bool_]:
    """Which values of an attribute column are allowed (str, int, float, bool or None)."""
    if column.dtype.kind in "biufU":
        return np.ones(column.shape[0], dtype=bool)
    items = column.tolist()
    allowed = {str, int, float, bool, type(None)}
    if set(map(type, items)) <= allowed:
        return np.ones(len(items), dtype=bool)
    ok = (v is None or isinstance(v, str | int | float | bool) for v in items)
    return np.fromiter(ok, dtype=bool, count=len(items))
