"""Changes of customers' profiles, as columns: the vectorised way to update many customers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain._time import epoch_micros_array
from privdomain.domain.batch import EncodedIds
from privdomain.domain.channels import Channel
from privdomain.errors import ValidationError

__all__ = ["ProfileChanges"]


def _length(n: int, what: str, column: NDArray[Any]) -> None:
    if column.ndim != 1 or column.shape[0] != n:
        raise ValidationError(f"{what} has shape {column.shape}, expected ({n},)")


@attrs.frozen(eq=False)
class ProfileChanges:
    """Changes of customers' profiles, one row per (customer, instant).

    Only the fields given change; the others keep their values. ``consent`` maps owned channels
    to boolean columns (``True`` grants, ``False`` withdraws); ``agent_id`` and ``store_id``
    are columns of ids (``None`` in a row unbinds); ``tags`` maps tags to boolean columns
    (``True`` adds the tag, ``False`` removes it); ``attributes`` maps names to columns of values
    (``None`` unsets). Each change takes effect at ``at`` and is seen by every snapshot from
    then on, and by none before. Build one with :meth:`from_arrays`.

    Examples
    --------
    >>> import numpy as np
    >>> from privdomain import ProfileChanges
    >>> changes = ProfileChanges.from_arrays(
    ...     customer_id=["c1", "c2"],
    ...     tenant="brand",
    ...     at=np.array(["2026-03-01", "2026-03-02"], dtype="datetime64[s]"),
    ...     consent={"wecom": [False, True]},
    ...     agent_id=["guide-B", None],
    ... )
    >>> len(changes)
    2
    """

    customer_id: EncodedIds
    tenant: str | NDArray[np.object_]
    at: NDArray[np.int64]
    """Epoch microseconds at which each change takes effect."""
    consent: Mapping[Channel, NDArray[np.bool_]] = attrs.field(factory=dict)
    agent_id: NDArray[np.object_] | None = None
    store_id: NDArray[np.object_] | None = None
    tags: Mapping[str, NDArray[np.bool_]] = attrs.field(factory=dict)
    attributes: Mapping[str, NDArray[np.object_]] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.customer_id, EncodedIds):
            raise ValidationError("customer_id must be EncodedIds (use from_arrays)")
        at = np.asarray(self.at)
        if at.ndim != 1 or at.dtype != np.int64:
            raise ValidationError("at must be a 1-D int64 column of epoch microseconds")
        n = at.shape[0]
        if len(self.customer_id) != n:
            raise ValidationError(f"customer_id has {len(self.customer_id)} rows, expected {n}")
        if not isinstance(self.tenant, str):
            _length(n, "tenant", np.asarray(self.tenant))
        for channel, column in self.consent.items():
            if not isinstance(channel, Channel) or not channel.owned:
                raise ValidationError(f"consent is per owned channel, not {channel!r}")
            _length(n, f"consent[{channel.name}]", column)
            if column.dtype != np.bool_:
                raise ValidationError(f"consent[{channel.name}] must be boolean")
        for what in ("agent_id", "store_id"):
            column = getattr(self, what)
            if column is not None:
                _length(n, what, column)
        for name, column in self.tags.items():
            _length(n, f"tag {name!r}", column)
            if column.dtype != np.bool_:
                raise ValidationError(f"tag {name!r} needs a boolean column")
        for name, values in self.attributes.items():
            _length(n, f"attribute {name!r}", values)

    def __len__(self) -> int:
        return int(self.at.shape[0])

    @classmethod
    def from_arrays(
        cls,
        *,
        customer_id: Any,
        tenant: str | Any,
        at: Any,
        consent: Mapping[Channel | str, Any] | None = None,
        agent_id: Any = None,
        store_id: Any = None,
        tags: Mapping[str, Any] | None = None,
        attributes: Mapping[str, Any] | None = None,
        epoch_unit: str | None = None,
    ) -> ProfileChanges:
        """Profile changes from a host's arrays (``at`` as for touchpoint times; numbers need
        ``epoch_unit``). A field left out (``None``) does not change."""
        at_us = epoch_micros_array(at, epoch_unit=epoch_unit, what="at")
        n = at_us.shape[0]
        consent_columns: dict[Channel, NDArray[np.bool_]] = {}
        for key, column in (consent or {}).items():
            try:
                channel = Channel.parse(key)
            except (ValueError, TypeError) as exc:
                raise ValidationError(f"consent: {exc}") from None
            consent_columns[channel] = _bool_column(column, n, f"consent[{channel.name}]")
        return cls(
            customer_id=EncodedIds.encode(customer_id, n, what="customer_id"),
            tenant=tenant if isinstance(tenant, str) else _objects(tenant, n, "tenant"),
            at=at_us,
            consent=consent_columns,
            agent_id=None if agent_id is None else _objects(agent_id, n, "agent_id"),
            store_id=None if store_id is None else _objects(store_id, n, "store_id"),
            tags={
                str(name): _bool_column(column, n, f"tag {name!r}")
                for name, column in (tags or {}).items()
            },
            attributes={
                str(name): _attribute_column(column, n, name)
                for name, column in (attributes or {}).items()
            },
        )


def _objects(values: Any, n: int, what: str) -> NDArray[np.object_]:
    if isinstance(values, str):
        return np.full(n, values, dtype=object)
    arr = np.asarray(values, dtype=object)
    _length(n, what, arr)
    return arr


def _bool_column(values: Any, n: int, what: str) -> NDArray[np.bool_]:
    arr = np.asarray(values)
    if arr.ndim == 0:
        arr = np.full(n, arr.item())
    if arr.dtype != np.bool_:
        raise ValidationError(f"{what} must be a boolean column, got dtype {arr.dtype}")
    _length(n, what, arr)
    return arr


def _attribute_column(values: Any, n: int, name: str) -> NDArray[np.object_]:
    raw = np.asarray(values)
    column = _objects(values, n, f"attribute {name!r}")
    if raw.dtype.kind == "f":  # NaN means unset, as None does
        column[np.isnan(raw.astype(np.float64))] = None
    return column
