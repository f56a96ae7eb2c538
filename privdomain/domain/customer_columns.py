"""Customers as columns, checked when built."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain._column_checks import (
    _CONSENT_BITS_ALLOWED,
    _code_column,
    _code_column_of_codes,
    _column,
    _flags,
    _id_column,
    _instants,
    _int64_column,
    _is_missing,
    _is_scalar,
    _none_for_missing,
    _object_column,
    _rows,
    _tenant_column,
)
from privdomain.domain._time import check_time_zone, epoch_micros, epoch_micros_array
from privdomain.domain.channels import OWNED_CHANNELS, Channel
from privdomain.domain.customer import Customer
from privdomain.errors import ValidationError, short_repr

__all__ = ["CustomerColumns", "consent_mask"]


def _ids_or_id(values: Any, n: int, what: str) -> NDArray[np.object_]:
    """Ids per row (a str or ``None`` applies to every row); NaN and ``NA`` mean none."""
    if values is None or isinstance(values, str):
        return _object_column(values, n, what)
    return _none_for_missing(_id_column(values, n, what))


def _consent_column(values: Any, n: int) -> NDArray[np.uint32]:
    """Consent bit masks, one per row or one for all; each bit names an owned channel."""
    if isinstance(values, np.ndarray) and values.ndim == 0:
        values = values.item()
    if _is_scalar(values):
        if isinstance(values, bool | np.bool_) or not isinstance(values, int | np.integer):
            raise ValidationError(
                f"consent must be an integer bit mask per customer, got {short_repr(values)}"
            )
        if int(values) < 0 or int(values) & ~_CONSENT_BITS_ALLOWED:
            raise ValidationError(_CONSENT_BITS)
        return np.full(n, int(values), dtype=np.uint32)
    return _consent_masks(values, n)


_CONSENT_BITS = (
    "consent bits name owned channels only (bit c.value of each owned channel c: "
    + ", ".join(f"{c.name.lower()}={c.value}" for c in OWNED_CHANNELS)
    + ")"
)


def _consent_masks(values: Any, n: int) -> NDArray[np.uint32]:
    arr = _column(values, n, "consent")
    if arr.dtype.kind not in "iu":
        raise ValidationError(
            f"consent must be an integer bit mask per customer, got dtype {arr.dtype}"
        )
    if arr.size and (int(arr.min()) < 0 or (arr.astype(np.int64) & ~_CONSENT_BITS_ALLOWED).any()):
        raise ValidationError(_CONSENT_BITS)
    return arr.astype(np.uint32)


def _checked_tags(tags: Any, n: int) -> dict[str, NDArray[np.bool_]] | None:
    if tags is None:
        return None
    if not isinstance(tags, Mapping):
        raise ValidationError(
            f"tags must be a mapping of tag to a boolean column, got {type(tags).__name__}"
        )
    out: dict[str, NDArray[np.bool_]] = {}
    for name, column in tags.items():
        if not isinstance(name, str):
            raise ValidationError(f"tag names are str, got {short_repr(name)}")
        out[name] = _flags(column, n, f"tag {name!r}")
    return out


def _checked_attributes(attributes: Any, n: int) -> dict[str, NDArray[np.object_]] | None:
    if attributes is None:
        return None
    if not isinstance(attributes, Mapping):
        raise ValidationError(
            f"attributes must be a mapping of name to a column, got {type(attributes).__name__}"
        )
    out: dict[str, NDArray[np.object_]] = {}
    for name, column in attributes.items():
        if not isinstance(name, str):
            raise ValidationError(f"attribute names are str, got {short_repr(name)}")
        what = f"attribute {name!r}"
        out[name] = _column(column, n, what, objects=True).astype(object, copy=False)
    return out


@attrs.frozen(eq=False)
class CustomerColumns:
    """Customers as columns: one array per field, one row per customer.

    Build it with :meth:`from_arrays` (from a host's arrays) or :meth:`from_customers`. The
    constructor checks the form of every column (one row per customer, one dimension, the
    dtype below); what each row holds is validated by the pool on ingest, so that a bad row is
    reported rather than raised.

    Attributes
    ----------
    id
        Customer ids, an object array (the pool reports rows whose id is not a valid ``str``).
    tenant
        The tenant of every row (a ``str``) or an object array, one per row.
    joined_at
        ``int64`` microseconds since the epoch (UTC), every one in
        ``[1900-01-01, 2200-01-01)``. Its length is the number of rows.
    source
        ``uint8`` codes of :class:`Channel`; 255 marks an unknown value (any other integer
        that is no code becomes 255 too).
    consent
        ``uint32`` bit mask per row: bit ``c.value`` is set when the customer consents to owned
        channel ``c`` (bits 0-9 only).
    referrer_id, agent_id
        Object arrays of ids, ``None`` where absent.
    tags
        Each tag (a ``str``) to a boolean column, or ``None``.
    attributes
        Each attribute name (a ``str``) to an object column of values (``None`` where unset),
        or ``None``.
    store_id
        An object array of store ids (``None`` where absent), or ``None`` when not given.
    time_zone
        An object array of IANA time zone names (``None``: the pool's), or ``None`` when not
        given.
    updated_at
        Per row, the instant the row's profile took effect (``int64`` epoch microseconds; the
        minimum ``int64`` where a row gives none), or ``None``.

    ``tags=None``, ``attributes=None`` or ``store_id=None`` mean "not given": new customers get
    none, existing customers keep theirs.

    Raises
    ------
    ValidationError
        If a column does not have one row per value of ``joined_at``, is not 1-D, or has a dtype
        of the wrong kind (e.g. float ``joined_at``, a bool id column, consent bits beyond the
        owned channels, a tag column that is not boolean); the message names the column.
    """

    id: NDArray[np.object_]
    tenant: str | NDArray[np.object_]
    joined_at: NDArray[np.int64]
    source: NDArray[np.uint8]
    consent: NDArray[np.uint32]
    referrer_id: NDArray[np.object_]
    agent_id: NDArray[np.object_]
    tags: Mapping[str, NDArray[np.bool_]] | None = None
    attributes: Mapping[str, NDArray[np.object_]] | None = None
    store_id: NDArray[np.object_] | None = None
    updated_at: NDArray[np.int64] | None = None
    time_zone: NDArray[np.object_] | None = None

    def __attrs_post_init__(self) -> None:
        joined = _instants(self.joined_at, "joined_at")
        n = joined.shape[0]
        checked = {
            "id": _id_column(self.id, n, "id"),
            "tenant": _tenant_column(self.tenant, n),
            "joined_at": joined,
            "source": _code_column_of_codes(self.source, n, Channel, "source"),
            "consent": _consent_masks(self.consent, n),
            "referrer_id": _id_column(self.referrer_id, n, "referrer_id"),
            "agent_id": _id_column(self.agent_id, n, "agent_id"),
            "tags": _checked_tags(self.tags, n),
            "attributes": _checked_attributes(self.attributes, n),
            "store_id": None if self.store_id is None else _id_column(self.store_id, n, "store_id"),
            "updated_at": _checked_optional_instants(self.updated_at, n),
            "time_zone": _time_zones(self.time_zone, n),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return int(self.joined_at.shape[0])

    @classmethod
    def from_arrays(
        cls,
        *,
        id: Any,
        tenant: str | Sequence[str],
        joined_at: Any,
        source: Any = Channel.OTHER_PUBLIC,
        consent: Any = 0,
        referrer_id: Any = None,
        agent_id: Any = None,
        tags: Mapping[str, Any] | Sequence[Iterable[str] | None] | None = None,
        attributes: Mapping[str, Any] | Sequence[Mapping[str, Any] | None] | None = None,
        store_id: Any = None,
        updated_at: Any = None,
        time_zone: Any = None,
        epoch_unit: str | None = None,
    ) -> CustomerColumns:
        """Customer columns from a host's arrays.

        Every column has one value per row of ``joined_at`` (a scalar, where allowed, applies
        to every row).

        Parameters
        ----------
        id
            Customer ids (``str``).
        tenant
            One tenant, or one per row.
        joined_at
            As :meth:`TouchpointColumns.from_arrays` takes ``at``.
        source
            A :class:`Channel`, its name (any case) or code, for all rows or one per row;
            anything else becomes 255, which the pool reports as an unknown source.
        consent
            An integer bit mask per customer (or one for all): bit ``c.value`` for each owned
            channel ``c`` the customer consents to.
        referrer_id, agent_id
            Ids per row; ``None``, NaN or pandas ``NA`` where absent.
        tags
            Either a mapping of tag to a boolean column, or one collection of ``str`` tags per
            row (``None`` for none).
        attributes
            Either a mapping of name to a column of values (``None`` or NaN where unset), or one
            mapping per row (``None`` for none).
        store_id
            Store ids per row (``None``, NaN or pandas ``NA`` where absent), or ``None``.
        updated_at
            When each row's profile took effect: instants like ``joined_at``, ``None`` or
            ``NaT`` in a row for none.
        epoch_unit
            What integer or float times count: ``"s"``, ``"ms"``, ``"us"`` or ``"ns"``.

        Raises
        ------
        ValidationError
            If a column has the wrong length, dimension or dtype, ``joined_at`` holds no valid
            instants, or consent names channels that are not owned; the message names the
            argument.
        """
        joined = epoch_micros_array(joined_at, epoch_unit=epoch_unit, what="joined_at")
        n = joined.shape[0]
        return cls(
            id=_ids_or_id(id, n, "id"),
            tenant=_tenant_column(tenant, n),
            joined_at=joined,
            source=_code_column(source, n, Channel, "source"),
            consent=_consent_column(consent, n),
            referrer_id=_ids_or_id(referrer_id, n, "referrer_id"),
            agent_id=_ids_or_id(agent_id, n, "agent_id"),
            tags=_tag_columns(tags, n),
            attributes=_attribute_columns(attributes, n),
            store_id=None if store_id is None else _ids_or_id(store_id, n, "store_id"),
            updated_at=_optional_instants(updated_at, n, epoch_unit),
            time_zone=None if time_zone is None else _ids_or_id(time_zone, n, "time_zone"),
        )

    @classmethod
    def from_customers(cls, customers: Iterable[Customer]) -> CustomerColumns:
        """Columns from validated :class:`Customer` objects."""
        cs = list(customers)
        n = len(cs)
        return cls(
            id=_object_column([c.id for c in cs], n, "id"),
            tenant=_object_column([c.tenant for c in cs], n, "tenant"),
            joined_at=np.fromiter((epoch_micros(c.joined_at) for c in cs), np.int64, n),
            source=np.fromiter((c.source.value for c in cs), np.uint8, n),
            consent=np.fromiter((consent_mask(c.consent) for c in cs), np.uint32, n),
            referrer_id=_object_column([c.referrer_id for c in cs], n, "referrer_id"),
            agent_id=_object_column([c.agent_id for c in cs], n, "agent_id"),
            tags=_tag_columns([c.tags for c in cs], n),
            attributes=_attribute_columns([c.attributes for c in cs], n),
            store_id=_object_column([c.store_id for c in cs], n, "store_id"),
            time_zone=_object_column([c.time_zone for c in cs], n, "time_zone"),
            updated_at=_optional_instants([c.updated_at for c in cs], n, None),
        )

    def row_tags(self, row: int) -> frozenset[str] | None:
        """The tags of one row (``None`` if tags were not given)."""
        if self.tags is None:
            return None
        return frozenset(t for t, col in self.tags.items() if col[row])

    def row_attributes(self, row: int) -> dict[str, Any] | None:
        """The set attributes of one row (``None`` if attributes were not given)."""
        if self.attributes is None:
            return None
        return {k: col[row] for k, col in self.attributes.items() if col[row] is not None}


_NO_INSTANT = np.iinfo(np.int64).min


def _no_instant(value: object) -> bool:
    """Whether one value of an ``updated_at`` column gives no instant."""
    if _is_missing(value) or type(value).__name__ == "NaTType":
        return True
    return isinstance(value, np.datetime64) and bool(np.isnat(value))


def _optional_instants(values: Any, n: int, epoch_unit: str | None) -> NDArray[np.int64] | None:
    """A column of instants where a row may give none (``None`` or ``NaT``)."""
    if values is None:
        return None
    arr = _column(values, n, "updated_at", objects=True)
    if arr.dtype.kind == "M":
        given = ~np.isnat(arr)
    elif arr.dtype.kind == "O":
        given = ~np.fromiter(map(_no_instant, arr.tolist()), dtype=bool, count=n)
    else:
        given = np.ones(n, dtype=bool)
    if not given.any():
        return None
    out = np.full(n, _NO_INSTANT, dtype=np.int64)
    out[given] = epoch_micros_array(arr[given], epoch_unit=epoch_unit, what="updated_at")
    return out


def _checked_optional_instants(values: Any, n: int) -> NDArray[np.int64] | None:
    """The constructor's check of ``updated_at``: epoch microseconds in range, or the minimum
    ``int64`` for none."""
    if values is None:
        return None
    arr = _int64_column(values, n, "updated_at")
    given = arr != _NO_INSTANT
    epoch_micros_array(arr[given], epoch_unit="us", what="updated_at")
    return arr


def _tag_columns(
    tags: Mapping[str, Any] | Sequence[Iterable[str] | None] | None, n: int
) -> Mapping[str, Any] | None:
    """Tags as a mapping of tag to a column (one collection per row is turned around)."""
    if tags is None or isinstance(tags, Mapping):
        return tags
    if _is_scalar(tags):
        raise ValidationError(
            "tags must be a mapping of tag to a boolean column or one collection of tags per "
            f"row, got {type(tags).__name__}"
        )
    rows = _rows(tags, n, "tags")
    columns: dict[str, NDArray[np.bool_]] = {}
    for i, row in enumerate(rows):
        if _is_missing(row):
            continue
        if _is_scalar(row) or isinstance(row, Mapping) or row is None:
            raise ValidationError(
                f"tags of row {i} must be a collection of str, got {short_repr(row)}"
            )
        for t in row:
            if not isinstance(t, str):
                raise ValidationError(f"tags of row {i} must be str, got {short_repr(t)}")
            if t not in columns:
                columns[t] = np.zeros(n, dtype=bool)
            columns[t][i] = True
    return columns


def _attribute_columns(
    attributes: Mapping[str, Any] | Sequence[Mapping[str, Any] | None] | None, n: int
) -> dict[str, NDArray[np.object_]] | None:
    """Attributes as a mapping of name to an object column, ``None`` where unset."""
    if attributes is None:
        return None
    columns: dict[str, NDArray[np.object_]] = {}
    if isinstance(attributes, Mapping):
        for name, col in attributes.items():
            what = f"attribute {name!r}"
            column = _object_column(col, n, what)
            if column is not col:
                column = column.copy() if np.may_share_memory(column, col) else column
            columns[name] = _none_for_missing(column)  # NaN and NA mean unset, as None does
        return columns
    if _is_scalar(attributes):
        raise ValidationError(
            "attributes must be a mapping of name to a column or one mapping per row, "
            f"got {type(attributes).__name__}"
        )
    rows = _rows(attributes, n, "attributes")
    for i, row in enumerate(rows):
        if _is_missing(row):
            continue
        if not isinstance(row, Mapping):
            raise ValidationError(
                f"attributes of row {i} must be a mapping of name to value, got {short_repr(row)}"
            )
        for name, value in row.items():
            if name not in columns:
                columns[name] = np.full(n, None, dtype=object)
            columns[name][i] = value
    return columns


def consent_mask(channels: Iterable[Channel]) -> int:
    """The consent bit mask of a set of owned channels."""
    mask = 0
    for c in channels:
        mask |= 1 << c.value
    return mask


def _time_zones(values: Any, n: int) -> NDArray[np.object_] | None:
    """A column of IANA time zone names (``None`` where a row keeps the pool's), checked once
    per distinct name."""
    if values is None:
        return None
    column = _object_column(values, n, "time_zone")
    for name in set(column.tolist()) - {None}:
        check_time_zone(name)
    return column
