"""Data frames in and out: build pools from pandas or polars, read every result back into one.

The frame libraries stay optional. Frames are read and written through `narwhals
<https://narwhals-dev.github.io/narwhals/>`_, a small pure-Python layer (no dependencies of
its own; recent scikit-learn already installs it) that speaks pandas, polars, PyArrow and
Modin alike; install it with ``pip install privdomain[frames]``. Nothing here imports a frame
library at module level, and the core never imports this module.

Going in, every column is handed to the columnar constructors
(:class:`~privdomain.CustomerColumns`, :class:`~privdomain.TouchpointColumns`,
:class:`~privdomain.ProfileChanges`) as numpy: numeric and ``datetime64[us]`` columns without
nulls are taken without a copy where the frame library allows it (polars, pandas with numpy
dtypes), id columns are dictionary-encoded by the frame library itself (a pandas
``Categorical`` as it is, ``pandas.factorize`` otherwise; polars casts to ``Categorical``), so
that the pool looks up each distinct id once. Time-zone-aware columns are converted to UTC.

Coming out, :func:`to_frame` turns anything with ``columns()`` (a
:class:`~privdomain.Snapshot`, every :class:`~privdomain.result.Result`, an
:class:`~privdomain.referral.AttributionLedger`), and :class:`~privdomain.CustomerColumns` or
:class:`~privdomain.TouchpointColumns`, into a flat frame with ``customer_id`` as its first
column; numeric columns are shared with the arrays where the library allows, datetimes become
aware UTC, missing values stay NaN (NaT, null for ids).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from privdomain._optional import import_optional
from privdomain.domain.channels import Channel, TouchKind
from privdomain.errors import ValidationError, short_repr

if TYPE_CHECKING:
    from privdomain.domain.changes import ProfileChanges
    from privdomain.domain.customer_columns import CustomerColumns
    from privdomain.domain.encoded import EncodedIds
    from privdomain.domain.pool import Pool
    from privdomain.domain.report import IngestReport
    from privdomain.domain.touchpoint_columns import TouchpointColumns

__all__ = [
    "BACKENDS",
    "customers_from_frame",
    "pool_from_frames",
    "profile_changes_from_frame",
    "to_frame",
    "touchpoints_from_frame",
]

#: The frame libraries :func:`to_frame` writes.
BACKENDS = ("pandas", "polars", "pyarrow")

_TAG = "tag:"
_ATTR = "attr:"


def _nw() -> Any:
    return import_optional("narwhals", extra="frames")


# ---------------------------------------------------------------------------- reading
class _Frame:
    """One eager frame of any library narwhals knows, read column by column."""

    def __init__(self, frame: Any, what: str) -> None:
        nw = _nw()
        try:
            self.frame = nw.from_native(frame, eager_only=True)
        except TypeError:
            raise ValidationError(
                f"{what} must be an eager data frame (pandas, polars, PyArrow...), got "
                f"{type(frame).__name__}"
            ) from None
        self.nw = nw
        self.what = what
        self.names = [str(c) for c in self.frame.columns]
        self.backend = self.frame.implementation.name.lower()

    def __len__(self) -> int:
        return int(self.frame.shape[0])

    def series(self, name: object, argument: str) -> Any:
        if not isinstance(name, str):
            raise ValidationError(f"{argument} must be a column name (str), got {short_repr(name)}")
        if name not in self.names:
            raise ValidationError(
                f"{argument}={name!r} is not a column of the {self.what} frame; its columns are "
                f"{self.names}"
            )
        return self.frame[name]

    def values(self, name: object, argument: str) -> NDArray[Any]:
        """A column as numpy (no copy where the library allows)."""
        return np.asarray(self.series(name, argument).to_numpy())

    def instants(self, name: object, argument: str) -> NDArray[Any]:
        """A column of instants as numpy ``datetime64`` in UTC (numbers as they are)."""
        nw = self.nw
        s = self.series(name, argument)
        dtype = s.dtype
        if isinstance(dtype, nw.Datetime):
            if dtype.time_zone is not None:
                s = s.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        elif dtype == nw.Date:
            s = s.cast(nw.Datetime("us"))
        return np.asarray(s.to_numpy())

    def ids(self, name: object, argument: str) -> EncodedIds | NDArray[Any]:
        """An id column, dictionary-encoded by the frame library where it can."""
        from privdomain.domain.encoded import EncodedIds

        s = self.series(name, argument)
        native = s.to_native()
        if self.backend == "pandas":
            pd = import_optional("pandas", extra="pandas")
            if isinstance(native.dtype, pd.CategoricalDtype):
                return EncodedIds.encode(native.array, len(self), what=argument)
            if native.dtype.kind in "OUS" or isinstance(native.dtype, pd.StringDtype):
                codes, uniques = pd.factorize(native, use_na_sentinel=True)
                values = np.asarray(uniques, dtype=object)
                return EncodedIds(codes.astype(np.int64, copy=False), values)
        elif self.backend == "polars":
            pl = import_optional("polars", extra="frames")
            if native.dtype in (pl.String, pl.Categorical) or isinstance(native.dtype, pl.Enum):
                return _polars_codes(pl, native)
        elif self.backend == "pyarrow":
            pa = import_optional("pyarrow", extra="frames")
            kind = native.type
            if (
                pa.types.is_dictionary(kind)
                or pa.types.is_string(kind)
                or pa.types.is_large_string(kind)
            ):
                return _arrow_codes(pa, native)
        return np.asarray(s.to_numpy(), dtype=object)

    def enum_codes(
        self, name: object, argument: str, enum_cls: type[Channel] | type[TouchKind]
    ) -> NDArray[Any]:
        """A column of enum names (or codes): each distinct name parsed once, then gathered;
        numbers as they are. Missing and unknown values become 255, as in the core."""
        from privdomain.domain._column_checks import _code_column
        from privdomain.domain.encoded import EncodedIds

        s = self.series(name, argument)
        if s.dtype.is_numeric():
            return np.asarray(s.to_numpy())
        encoded = self.ids(name, argument)
        if not isinstance(encoded, EncodedIds):
            return encoded
        table = _code_column(encoded.values, encoded.values.size, enum_cls, argument)
        lookup = np.append(table, np.uint8(255))  # code -1 (missing) reads the last slot
        return lookup[encoded.codes]

    def objects(self, name: object, argument: str) -> NDArray[np.object_]:
        out: NDArray[np.object_] = np.asarray(self.values(name, argument), dtype=object)
        return out

    def prefixed(self, prefix: str) -> list[str]:
        return [c for c in self.names if c.startswith(prefix) and len(c) > len(prefix)]


def _polars_codes(pl: Any, native: Any) -> EncodedIds:
    """``(codes, values)`` of a polars string column: polars hashes, numpy only gathers."""
    from privdomain.domain.encoded import EncodedIds

    cat = native if native.dtype == pl.Categorical else native.cast(pl.Categorical)
    present = cat.unique().drop_nulls()
    physical = cat.to_physical().fill_null(-1).cast(pl.Int64).to_numpy()
    keys = present.to_physical().cast(pl.Int64).to_numpy()
    values = np.asarray(present.cast(pl.String).to_numpy(), dtype=object)
    if keys.size == 0:
        return EncodedIds(np.full(physical.shape[0], -1, dtype=np.int64), values)
    lookup = np.full(int(keys.max()) + 2, -1, dtype=np.int64)
    lookup[keys] = np.arange(keys.size, dtype=np.int64)
    return EncodedIds(lookup[physical], values)  # physical -1 reads the last slot: -1


def _arrow_codes(pa: Any, native: Any) -> EncodedIds:
    """``(codes, values)`` of an Arrow string or dictionary column: Arrow hashes."""
    from privdomain.domain.encoded import EncodedIds

    pc = import_optional("pyarrow.compute", extra="frames")

    if not pa.types.is_dictionary(native.type):
        native = pc.dictionary_encode(native)
    if isinstance(native, pa.ChunkedArray):
        native = native.unify_dictionaries().combine_chunks()
    codes = pc.fill_null(native.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    values = np.asarray(native.dictionary.to_pylist(), dtype=object)
    return EncodedIds(codes, values)


def _optional(frame: _Frame, name: str | None, argument: str, read: str = "values") -> Any:
    if name is None:
        return None
    return getattr(frame, read)(name, argument)


def _named_columns(
    frame: _Frame, given: Mapping[str, str] | Sequence[str] | None, prefix: str, argument: str
) -> dict[str, str]:
    """``{name: column}``: the columns named ``<prefix><name>`` by default, or as given."""
    if given is None:
        return {c[len(prefix) :]: c for c in frame.prefixed(prefix)}
    if isinstance(given, str):
        raise ValidationError(f"{argument} must be a list or a mapping of columns, not a str")
    if isinstance(given, Mapping):
        return {str(k): v for k, v in given.items()}
    return {str(c).removeprefix(prefix): str(c) for c in given}


def customers_from_frame(
    frame: Any,
    *,
    tenant: str,
    id: str = "customer_id",
    joined_at: str = "joined_at",
    source: str | Channel | None = None,
    consent: str | Mapping[Channel | str, str] | None = None,
    referrer_id: str | None = None,
    agent_id: str | None = None,
    store_id: str | None = None,
    time_zone: str | None = None,
    updated_at: str | None = None,
    tags: Mapping[str, str] | Sequence[str] | None = None,
    attributes: Mapping[str, str] | Sequence[str] | None = None,
    epoch_unit: str | None = None,
) -> CustomerColumns:
    """:class:`~privdomain.CustomerColumns` from a data frame (pandas, polars, PyArrow...).

    Every argument but ``tenant`` and ``epoch_unit`` names a column of ``frame``; optional
    columns left at ``None`` are not read.

    Parameters
    ----------
    frame
        An eager data frame, one row per customer.
    tenant
        The tenant of every row.
    id
        The customer id column.
    joined_at
        The join time column (times as :meth:`CustomerColumns.from_arrays` takes them; aware
        columns are read in UTC, naive ones as UTC).
    source
        The column of channels that brought each customer (names or codes), or one
        :class:`~privdomain.Channel` for all.
    consent
        Either an integer bit-mask column (bit ``c.value`` per owned channel), or a mapping of
        owned channel to a boolean column.
    referrer_id, agent_id, store_id, time_zone, updated_at
        Optional columns (nulls where absent).
    tags, attributes
        Tag columns (boolean) and attribute columns, as ``{name: column}`` or a list of columns;
        by default every column named ``tag:<name>`` or ``attr:<name>`` (the names
        :func:`to_frame` writes).
    epoch_unit
        What integer times count (``"s"``, ``"ms"``, ``"us"``, ``"ns"``).

    Raises
    ------
    ValidationError
        A missing column (the message lists the frame's columns), or a column the constructor
        refuses (see :meth:`~privdomain.CustomerColumns.from_arrays`).
    ImportError
        Without narwhals (``pip install privdomain[frames]``).
    """
    from privdomain.domain.customer_columns import CustomerColumns

    f = _Frame(frame, "customers")
    consent_column: Any = 0
    if isinstance(consent, Mapping):
        mask = np.zeros(len(f), dtype=np.uint32)
        for key, column in consent.items():
            try:
                channel = Channel.parse(key)
            except (ValueError, TypeError) as exc:
                raise ValidationError(f"consent: {exc}") from None
            flags = f.values(column, f"consent[{channel.name}]")
            if flags.dtype != np.bool_:
                raise ValidationError(f"consent column {column!r} must be boolean")
            mask |= flags.astype(np.uint32) << np.uint32(channel.value)
        consent_column = mask
    elif consent is not None:
        consent_column = f.values(consent, "consent")
    tag_columns = _named_columns(f, tags, _TAG, "tags")
    attribute_columns = _named_columns(f, attributes, _ATTR, "attributes")
    return CustomerColumns.from_arrays(
        id=f.objects(id, "id"),
        tenant=tenant,
        joined_at=f.instants(joined_at, "joined_at"),
        source=(
            Channel.OTHER_PUBLIC
            if source is None
            else source
            if isinstance(source, Channel)
            else f.enum_codes(source, "source", Channel)
        ),
        consent=consent_column,
        referrer_id=_optional(f, referrer_id, "referrer_id", "objects"),
        agent_id=_optional(f, agent_id, "agent_id", "objects"),
        store_id=_optional(f, store_id, "store_id", "objects"),
        time_zone=_optional(f, time_zone, "time_zone", "objects"),
        updated_at=_optional(f, updated_at, "updated_at", "instants"),
        tags={name: f.values(column, f"tag {name!r}") for name, column in tag_columns.items()}
        or None,
        attributes={
            name: f.objects(column, f"attribute {name!r}")
            for name, column in attribute_columns.items()
        }
        or None,
        epoch_unit=epoch_unit,
    )


def touchpoints_from_frame(
    frame: Any,
    *,
    tenant: str,
    id: str = "id",
    customer_id: str = "customer_id",
    at: str = "at",
    channel: str | Channel = "channel",
    kind: str | TouchKind = "kind",
    amount: str | None = None,
    minor_units: bool = False,
    currency: str = "CNY",
    currency_column: str | None = None,
    promotion: str | None = None,
    discount: str | None = None,
    related_customer_id: str | None = None,
    agent_id: str | None = None,
    order_id: str | None = None,
    epoch_unit: str | None = None,
) -> TouchpointColumns:
    """:class:`~privdomain.TouchpointColumns` from a data frame (pandas, polars, PyArrow...).

    Column arguments name columns of ``frame``; ``channel`` and ``kind`` may instead be one
    :class:`~privdomain.Channel` or :class:`~privdomain.TouchKind` for every row. The id
    columns (``customer_id``, ``related_customer_id``, ``agent_id``) are dictionary-encoded by
    the frame library, the fast path into a pool.

    Parameters
    ----------
    amount
        The amount column, in major units (yuan), or in minor units (fen) with
        ``minor_units=True``; null or NaN where a row has none.
    minor_units
        Whether ``amount`` counts minor units.
    currency
        The currency of every amount.
    currency_column
        Or the column holding the currency of each row.
    promotion, discount, order_id
        Optional columns (``discount`` in the unit of ``amount``).
    epoch_unit
        What integer times count.

    Raises
    ------
    ValidationError
        A missing column, or one the constructor refuses (see
        :meth:`~privdomain.TouchpointColumns.from_arrays`).
    ImportError
        Without narwhals (``pip install privdomain[frames]``).
    """
    from privdomain.domain.touchpoint_columns import TouchpointColumns

    f = _Frame(frame, "touchpoints")
    ids = f.values(id, "id")
    if ids.dtype.kind not in "iu":
        ids = np.asarray(ids, dtype=object)
    return TouchpointColumns.from_arrays(
        id=ids,
        tenant=tenant,
        customer_id=f.ids(customer_id, "customer_id"),
        at=f.instants(at, "at"),
        channel=channel
        if isinstance(channel, Channel)
        else f.enum_codes(channel, "channel", Channel),
        kind=kind if isinstance(kind, TouchKind) else f.enum_codes(kind, "kind", TouchKind),
        amount=_optional(f, amount, "amount"),
        currency=(
            currency if currency_column is None else list(f.objects(currency_column, "currency"))
        ),
        minor_units=minor_units,
        promotion=False if promotion is None else f.values(promotion, "promotion"),
        discount=_optional(f, discount, "discount"),
        related_customer_id=_optional(f, related_customer_id, "related_customer_id", "ids"),
        agent_id=_optional(f, agent_id, "agent_id", "ids"),
        order_id=_optional(f, order_id, "order_id", "objects"),
        epoch_unit=epoch_unit,
    )


def profile_changes_from_frame(
    frame: Any,
    *,
    tenant: str,
    customer_id: str = "customer_id",
    at: str = "at",
    consent: Mapping[Channel | str, str] | None = None,
    agent_id: str | None = None,
    store_id: str | None = None,
    tags: Mapping[str, str] | Sequence[str] | None = None,
    attributes: Mapping[str, str] | Sequence[str] | None = None,
    epoch_unit: str | None = None,
) -> ProfileChanges:
    """:class:`~privdomain.ProfileChanges` from a data frame: one row per (customer, instant).

    Only the fields given change. ``consent`` maps owned channels to boolean columns;
    ``tags`` and ``attributes`` default to the columns named ``tag:<name>`` and
    ``attr:<name>``.

    Raises
    ------
    ValidationError
        A missing column, or one :meth:`~privdomain.ProfileChanges.from_arrays` refuses.
    ImportError
        Without narwhals (``pip install privdomain[frames]``).
    """
    from privdomain.domain.changes import ProfileChanges

    f = _Frame(frame, "profile changes")
    tag_columns = _named_columns(f, tags, _TAG, "tags")
    attribute_columns = _named_columns(f, attributes, _ATTR, "attributes")
    return ProfileChanges.from_arrays(
        customer_id=f.ids(customer_id, "customer_id"),
        tenant=tenant,
        at=f.instants(at, "at"),
        consent={k: f.values(v, f"consent[{k}]") for k, v in (consent or {}).items()} or None,
        agent_id=_optional(f, agent_id, "agent_id", "objects"),
        store_id=_optional(f, store_id, "store_id", "objects"),
        tags={name: f.values(column, f"tag {name!r}") for name, column in tag_columns.items()},
        attributes={
            name: f.objects(column, f"attribute {name!r}")
            for name, column in attribute_columns.items()
        },
        epoch_unit=epoch_unit,
    )


def pool_from_frames(
    customers: Any,
    touchpoints: Any = None,
    profile_changes: Any = None,
    *,
    tenant: str,
    currency: str = "CNY",
    utc_offset: dt.timedelta = dt.timedelta(0),
    customer_columns: Mapping[str, Any] | None = None,
    touchpoint_columns: Mapping[str, Any] | None = None,
    profile_change_columns: Mapping[str, Any] | None = None,
) -> tuple[Pool, list[IngestReport]]:
    """A new :class:`~privdomain.Pool` with the frames ingested: customers first, then
    touchpoints, then profile changes; what one partition of a cluster does.

    The ``*_columns`` mappings are the keyword arguments of :func:`customers_from_frame`,
    :func:`touchpoints_from_frame` and :func:`profile_changes_from_frame` (column names and
    options).

    Returns
    -------
    (Pool, list of IngestReport)
        The pool, and one report per frame ingested: rejected rows are reported there, never
        dropped silently.
    """
    from privdomain.domain.pool import Pool

    pool = Pool(tenant, currency=currency, utc_offset=utc_offset)
    people = customers_from_frame(customers, tenant=tenant, **(customer_columns or {}))
    reports = [pool.ingest(people)]
    if touchpoints is not None:
        columns = touchpoints_from_frame(touchpoints, tenant=tenant, **(touchpoint_columns or {}))
        reports.append(pool.ingest(columns))
    if profile_changes is not None:
        changes = profile_changes_from_frame(
            profile_changes, tenant=tenant, **(profile_change_columns or {})
        )
        reports.append(pool.ingest(changes))
    return pool, reports


# ---------------------------------------------------------------------------- writing
def to_frame(obj: Any, backend: str = "pandas") -> Any:
    """A flat data frame of ``obj`` in the frame library ``backend``.

    Parameters
    ----------
    obj
        A :class:`~privdomain.Snapshot`, any :class:`~privdomain.result.Result` (layering,
        lifecycle stages, customer value, nudge plans, bindings...), an
        :class:`~privdomain.referral.AttributionLedger`, or anything else with a ``columns()``
        method returning 1-D arrays by name; or :class:`~privdomain.CustomerColumns` /
        :class:`~privdomain.TouchpointColumns` (written in the names
        :func:`customers_from_frame` and :func:`touchpoints_from_frame` read back, amounts in
        minor units as ``amount_minor``).
    backend
        ``"pandas"``, ``"polars"`` or ``"pyarrow"``.

    Returns
    -------
    DataFrame
        One row per row of ``obj``, its columns in order (``customer_id`` first for
        per-customer results). Numeric columns share memory with ``obj`` where the library
        allows (polars, pandas); datetimes are aware UTC; NaN stays NaN, NaT and ``None``
        become nulls. Object columns (ids, names) become text; a column of mixed Python types
        stays objects in pandas and polars and becomes text in PyArrow.

    Raises
    ------
    ValidationError
        An unknown backend, or an object without columns.
    ImportError
        Without narwhals or the backend's library.
    """
    from privdomain.domain.customer_columns import CustomerColumns
    from privdomain.domain.touchpoint_columns import TouchpointColumns

    if backend not in BACKENDS:
        raise ValidationError(f"backend must be one of {BACKENDS}, not {short_repr(backend)}")
    if isinstance(obj, CustomerColumns):
        data = _customer_columns(obj)
    elif isinstance(obj, TouchpointColumns):
        data = _touchpoint_columns(obj)
    elif callable(getattr(obj, "columns", None)):
        data = dict(obj.columns())
    else:
        raise ValidationError(
            f"to_frame takes a snapshot, a result or columns, not {type(obj).__name__}"
        )
    return _write(data, backend)


def _write(data: Mapping[str, Any], backend: str) -> Any:
    nw = _nw()
    columns: dict[str, Any] = {}
    times: list[str] = []
    for name, col in data.items():
        if isinstance(col, _Encoded):
            columns[name] = col
            continue
        arr = np.asarray(col)
        if arr.ndim != 1:
            raise ValidationError(f"column {name!r} is not 1-D (shape {arr.shape})")
        if arr.dtype.kind == "M":
            arr = arr.astype("datetime64[us]", copy=False)
            times.append(name)
        columns[name] = arr
    if backend == "pandas":
        # pandas copies a dict of arrays unless told not to
        pd = import_optional("pandas", extra="pandas")
        plain = {k: v.pandas(pd) if isinstance(v, _Encoded) else v for k, v in columns.items()}
        native: Any = pd.DataFrame(plain, copy=False)
    elif backend == "polars":
        pl = import_optional("polars", extra="frames")
        native = pl.DataFrame(
            [
                v.polars(pl, k) if isinstance(v, _Encoded) else _polars_series(pl, k, v)
                for k, v in columns.items()
            ]
        )
    else:
        pa = import_optional("pyarrow", extra="frames")
        native = pa.table(
            {
                k: v.arrow(pa) if isinstance(v, _Encoded) else _arrow_array(pa, v)
                for k, v in columns.items()
            }
        )
    frame = nw.from_native(native, eager_only=True)
    if times:
        frame = frame.with_columns(nw.col(*times).dt.replace_time_zone("UTC"))
    return frame.to_native()


class _Encoded:
    """A dictionary-encoded column to write: ``values[codes]`` (code -1: null). Written as a
    categorical, without a Python object per row."""

    def __init__(self, codes: NDArray[np.integer[Any]], values: Any) -> None:
        codes = np.asarray(codes, dtype=np.int64)
        values = np.asarray(values, dtype=object)
        # a categorical has no null category: codes of a missing value become -1
        missing = np.fromiter((v is None or v != v for v in values.tolist()), bool, values.size)
        if missing.any():
            remap = np.full(values.size + 1, -1, dtype=np.int64)  # the last slot: code -1
            remap[np.flatnonzero(~missing)] = np.arange(int((~missing).sum()))
            codes, values = remap[codes], values[~missing]
        self.codes, self.values = codes, values

    def pandas(self, pd: Any) -> Any:
        categories = pd.Index(self.values, dtype=object)
        return pd.Categorical.from_codes(self.codes, categories=categories, validate=False)

    def polars(self, pl: Any, name: str) -> Any:
        try:  # a categorical, through Arrow's dictionary array when PyArrow is there
            pa = import_optional("pyarrow", extra="frames")
        except ImportError:
            pa = None
        if pa is not None:
            return pl.from_arrow(self.arrow(pa)).alias(name)
        missing = self.codes < 0
        codes = pl.Series(np.where(missing, 0, self.codes).astype(np.uint32))
        if missing.any():
            codes = codes.set(pl.Series(missing), None)
        return pl.Series(name, self.values.tolist(), dtype=pl.String).gather(codes)

    def arrow(self, pa: Any) -> Any:
        indices = pa.array(self.codes.astype(np.int32), mask=self.codes < 0)
        return pa.DictionaryArray.from_arrays(indices, pa.array(self.values, pa.string()))


def _encoded(codes: NDArray[np.integer[Any]], names: Sequence[str]) -> _Encoded:
    """Codes of an enum (255 and any other code past the names: unknown, null)."""
    codes = np.asarray(codes, dtype=np.int64)
    return _Encoded(np.where(codes < len(names), codes, -1), names)


def _scalar_encoded(value: str | NDArray[np.object_], n: int) -> _Encoded | NDArray[np.object_]:
    if isinstance(value, str):
        return _Encoded(np.zeros(n, dtype=np.int64), [value])
    return value


def _polars_series(pl: Any, name: str, values: NDArray[Any]) -> Any:
    """A polars column: numbers shared with numpy, ids and names as text (polars guesses the
    type of an object array from its first values, so it is told), values of one other type
    (integer attributes) in that type, mixed ones as objects."""
    if values.dtype.kind != "O":
        return pl.Series(name, values)
    items = values.tolist()
    for dtype in (pl.String, None):  # text, else whatever one type polars finds (ints...)
        try:
            return pl.Series(name, items, dtype=dtype, strict=True)
        except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
            continue
    return pl.Series(name, items, dtype=pl.Object)


def _arrow_array(pa: Any, values: NDArray[Any]) -> Any:
    """An Arrow column; a column of mixed Python types (Arrow has none) becomes text."""
    if values.dtype.kind != "O":
        return pa.array(values)
    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return pa.array([None if v is None else str(v) for v in values.tolist()], pa.string())


def _customer_columns(c: CustomerColumns) -> dict[str, Any]:
    n = len(c)
    names = np.array([ch.name.lower() for ch in Channel] + [None] * (256 - len(Channel)), object)
    out: dict[str, Any] = {
        "customer_id": c.id,
        "tenant": _full(c.tenant, n),
        "joined_at": c.joined_at.view("datetime64[us]"),
        "source": names[c.source],
        "consent": c.consent.astype(np.int64),
        "referrer_id": c.referrer_id,
        "agent_id": c.agent_id,
    }
    if c.store_id is not None:
        out["store_id"] = c.store_id
    if c.time_zone is not None:
        out["time_zone"] = c.time_zone
    if c.updated_at is not None:
        updated = c.updated_at.view("datetime64[us]").copy()
        updated[c.updated_at == np.iinfo(np.int64).min] = np.datetime64("NaT")
        out["updated_at"] = updated
    for name, flags in (c.tags or {}).items():
        out[_TAG + name] = flags
    for name, values in (c.attributes or {}).items():
        out[_ATTR + name] = values
    return out


def _touchpoint_columns(t: TouchpointColumns) -> dict[str, Any]:
    n = len(t)
    channels = [ch.name.lower() for ch in Channel]
    kinds = [k.name.lower() for k in TouchKind]
    # integers stay exact; 0 reads back as "no amount" on touches without one, -1 as invalid
    amount = np.where(t.amount_state == 1, t.amount_minor, np.where(t.amount_state == 0, 0, -1))
    out: dict[str, Any] = {
        "id": t.id,
        "tenant": _scalar_encoded(t.tenant, n),
        "customer_id": _Encoded(t.customer_id.codes, t.customer_id.values),
        "at": t.at.view("datetime64[us]"),
        "channel": _encoded(t.channel, channels),
        "kind": _encoded(t.kind, kinds),
        "amount_minor": amount,
        "currency": _scalar_encoded(t.currency, n),
        "promotion": t.promotion,
        "discount_minor": t.discount_minor,
        "related_customer_id": _Encoded(t.related_customer_id.codes, t.related_customer_id.values),
        "agent_id": _Encoded(t.agent_id.codes, t.agent_id.values),
    }
    if t.order_id is not None:
        out["order_id"] = t.order_id
    return out


def _full(value: str | NDArray[np.object_], n: int) -> NDArray[np.object_]:
    if isinstance(value, str):
        out = np.empty(n, dtype=object)
        out[:] = value
        return out
    return value
