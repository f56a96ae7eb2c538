"""The pool's store of customer profiles: the current value of every field and its history.

A profile field is one of ``"consent:<channel>"`` (per owned channel), ``"agent"``,
``"store"``, ``"tag:<name>"`` or ``"attr:<name>"``. Each change is appended to the field's
history with the instant it took effect; the current value is kept densely beside it so that
updates compare against it in one vectorised pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from privdomain.domain._columns import Column
from privdomain.domain.tables import FieldHistory

__all__ = ["ProfileStore", "field_default"]


def field_kind(name: str) -> str:
    """``"bool"``, ``"code"`` or ``"object"``: how the field's values are stored."""
    if name.startswith(("consent:", "tag:")):
        return "bool"
    if name in ("agent", "store", "time_zone"):
        return "code"
    if name.startswith("attr:"):
        return "object"
    raise KeyError(name)


_DTYPES = {"bool": np.bool_, "code": np.int32, "object": np.object_}
_DEFAULTS: dict[str, Any] = {"bool": False, "code": -1, "object": None}


def field_default(name: str) -> Any:
    """The value of ``name`` for a customer who never had it set."""
    return _DEFAULTS[field_kind(name)]


def field_dtype(name: str) -> Any:
    return _DTYPES[field_kind(name)]


class _Field:
    __slots__ = ("at", "current", "customer", "overwrites", "value")

    def __init__(self, name: str, size: int) -> None:
        dtype = field_dtype(name)
        self.current: Column[Any] = Column(dtype)
        self.current.extend(np.full(size, field_default(name), dtype=dtype))
        self.customer: Column[np.int32] = Column(np.int32)
        self.at: Column[np.int64] = Column(np.int64)
        self.value: Column[Any] = Column(dtype)
        self.overwrites = False

    def history(self) -> FieldHistory:
        return FieldHistory(
            customer=self.customer.values,
            at=self.at.values,
            value=self.value.values,
            overwrites=self.overwrites,
        )


class ProfileStore:
    """Current profile columns and their histories, for ``size`` customers."""

    def __init__(self) -> None:
        self._fields: dict[str, _Field] = {}
        self._size = 0
        self.changed_at: Column[np.int64] = Column(np.int64)
        """Per customer, the instant of their latest recorded change (of any field)."""

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __contains__(self, name: object) -> bool:
        return name in self._fields

    def current(self, name: str) -> NDArray[Any]:
        """The current value of ``name`` for every customer (read-only)."""
        field = self._fields.get(name)
        if field is None:
            return np.full(self._size, field_default(name), dtype=field_dtype(name))
        return field.current.values

    def histories(self) -> dict[str, FieldHistory]:
        return {name: field.history() for name, field in self._fields.items()}

    # ---------------------------------------------------------------- writes (undoable)
    def checkpoint(self) -> Any:
        """What :meth:`restore` needs to undo every write made after this call."""
        return (
            self._size,
            len(self.changed_at),
            {
                name: (len(f.customer), f.overwrites, len(f.current))
                for name, f in self._fields.items()
            },
        )

    def restore(self, checkpoint: Any, undo: list[tuple[Column[Any], Any, Any]]) -> None:
        size, changed, fields = checkpoint
        for column, index, old in reversed(undo):
            column[index] = old
        for name in list(self._fields):
            if name not in fields:
                del self._fields[name]
                continue
            n_changes, overwrites, n_current = fields[name]
            field = self._fields[name]
            field.customer.truncate(n_changes)
            field.at.truncate(n_changes)
            field.value.truncate(n_changes)
            field.current.truncate(n_current)
            field.overwrites = overwrites
        self.changed_at.truncate(changed)
        self._size = size

    def grow(self, m: int, at: NDArray[np.int64]) -> None:
        """Make room for ``m`` new customers (every field at its default, no change yet)."""
        for name, field in self._fields.items():
            field.current.extend(np.full(m, field_default(name), dtype=field_dtype(name)))
        self.changed_at.extend(at)
        self._size += m

    def differs(
        self, index: NDArray[np.int64], values: Mapping[str, NDArray[Any]]
    ) -> NDArray[np.bool_]:
        """Which rows would change some field (``values`` as for :meth:`write`)."""
        out = np.zeros(index.size, dtype=bool)
        for name, new in values.items():
            out |= _differ(name, self.current(name)[index], new)
        return out

    def write(
        self,
        index: NDArray[np.int64],
        at: NDArray[np.int64],
        values: Mapping[str, NDArray[Any]],
        undo: list[tuple[Column[Any], Any, Any]],
    ) -> NDArray[np.bool_]:
        """Set ``values[name][k]`` for customer ``index[k]`` from instant ``at[k]`` on.

        ``index`` holds each customer at most once. Only real changes are recorded. Returns
        which rows changed something. In-place writes of current values are logged on ``undo``.
        """
        changed = np.zeros(index.size, dtype=bool)
        if index.size == 0:
            return changed
        for name, new in values.items():
            old = self.current(name)[index]
            rows = np.flatnonzero(_differ(name, old, new))
            if rows.size == 0:
                continue
            field = self._fields.get(name)
            if field is None:
                field = _Field(name, self._size)
                self._fields[name] = field
            who = index[rows]
            if not field.overwrites:
                # a customer with an earlier change in this field gets a second one
                field.overwrites = bool(field.customer.values.size) and bool(
                    np.isin(who, field.customer.values).any()
                )
            field.customer.extend(who.astype(np.int32))
            field.at.extend(at[rows])
            field.value.extend(new[rows])
            undo.append((field.current, who, old[rows]))
            field.current[who] = new[rows]
            changed[rows] = True
        hit = np.flatnonzero(changed)
        if hit.size:
            undo.append((self.changed_at, index[hit], self.changed_at.values[index[hit]]))
            self.changed_at[index[hit]] = at[hit]
        return changed


def _differ(name: str, old: NDArray[Any], new: NDArray[Any]) -> NDArray[np.bool_]:
    if field_kind(name) != "object":
        return np.asarray(old != new)
    # unset before (new customers, new attributes): a change wherever a value is given now
    out: NDArray[np.bool_] = np.asarray(new != None)  # noqa: E711 - elementwise on objects
    was_set = np.flatnonzero(old != None)  # noqa: E711
    if was_set.size:
        pairs = zip(old[was_set].tolist(), new[was_set].tolist(), strict=True)
        out[was_set] = np.fromiter(
            (not _same(a, b) for a, b in pairs), dtype=bool, count=was_set.size
        )
    return out


def _same(a: object, b: object) -> bool:
    """Attribute equality that tells ``1`` from ``True`` and ``1.0`` (their types differ)."""
    return type(a) is type(b) and a == b
