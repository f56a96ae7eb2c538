"""What goes into a pool, in columns, and the report of what came of it.

Hosts with objects pass :class:`~privdomain.Customer` and :class:`~privdomain.Touchpoint`
instances; hosts with millions of rows pass :class:`CustomerColumns` and
:class:`TouchpointColumns` built from their own arrays. Both go through one validation path in
the pool.

The column classes check the *form* of what they hold when they are built, whichever way:
every column has one row per record, one dimension and a dtype of the documented kind, or the
constructor raises :class:`~privdomain.errors.ValidationError` naming the column. What a single
row holds (an unknown customer, a negative amount, a foreign currency) is the pool's to judge:
it reports such rows instead of raising.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain._time import epoch_micros, epoch_micros_array
from privdomain.domain.channels import Channel, TouchKind
from privdomain.domain.customer import Customer
from privdomain.domain.money import (
    MAX_MINOR_UNITS,
    Money,
    _currency_code,
    _decimal,
    _minor_of,
    minor_unit_exponent,
)
from privdomain.domain.touchpoint import Touchpoint
from privdomain.errors import InvalidMoneyError, ValidationError, short_repr

__all__ = [
    "Batch",
    "CustomerColumns",
    "EncodedIds",
    "IngestReport",
    "RejectReason",
    "Rejection",
    "TouchpointColumns",
]

_INT64_MAX = int(np.iinfo(np.int64).max)
_UNKNOWN_CODE = 255
_CONSENT_LIMIT = 1 << (Channel.OFFLINE_STORE.value + 1)  # one bit per owned channel


# ---------------------------------------------------------------------------- column helpers
def _array(values: Any, what: str, *, objects: bool = False) -> NDArray[Any]:
    """``values`` as an array, or :class:`ValidationError` instead of numpy's own errors.

    With ``objects``, a list or tuple becomes an object array of its items as given, so that
    numpy does not turn ``[1, "a"]`` into the strings ``"1"`` and ``"a"``.
    """
    try:
        if objects and isinstance(values, list | tuple):
            return np.asarray(values, dtype=object)
        return np.asarray(values)
    except (TypeError, ValueError, OverflowError):
        pass
    try:  # ragged nesting or ints beyond int64 and uint64: keep the items as objects
        return np.asarray(values, dtype=object)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(f"{what} is not a column: {exc}") from None


def _column(values: Any, n: int, what: str, *, objects: bool = False) -> NDArray[Any]:
    """A 1-D array of exactly ``n`` rows."""
    arr = _array(values, what, objects=objects)
    if arr.shape != (n,):
        raise ValidationError(
            f"{what} has shape {arr.shape}, expected ({n},): one value per row, in one dimension"
        )
    return arr


def _is_missing(value: object) -> bool:
    """Whether ``value`` says "nothing here": ``None``, a float NaN or pandas' ``NA``."""
    if value is None:
        return True
    if isinstance(value, float | np.floating):
        return bool(value != value)
    return type(value).__name__ == "NAType"


def _is_nan_or_na(value: object) -> bool:
    return value is not None and _is_missing(value)


def _none_for_missing(arr: NDArray[np.object_]) -> NDArray[np.object_]:
    """``arr`` with NaN and pandas ``NA`` replaced by ``None`` (a copy only if any are there)."""
    items = arr.tolist()
    if set(map(type, items)) <= {str, type(None)}:  # the common case, in one C-level pass
        return arr
    missing = np.fromiter(map(_is_nan_or_na, items), dtype=bool, count=len(items))
    if not missing.any():
        return arr
    out = arr.copy()
    out[missing] = None
    return out


def _object_column(values: Any, n: int, what: str) -> NDArray[np.object_]:
    """A 1-D object column of length ``n`` (a str is repeated; ``None`` means all missing)."""
    if values is None or isinstance(values, str):
        out = np.empty(n, dtype=object)
        out[:] = values
        return out
    arr = _column(values, n, what, objects=True)
    return arr.astype(object, copy=False)


def _id_column(values: Any, n: int, what: str) -> NDArray[np.object_]:
    """A 1-D object column of ids (``None`` where absent).

    Bool columns are refused, and so are bytes, lists, dicts and arrays among the ids: other
    values that are not valid ids (numbers, empty strings) are left for the pool to report.
    """
    arr = _column(values, n, what, objects=True)
    if arr.dtype.kind == "b":
        raise ValidationError(f"{what} holds ids, not a bool column")
    arr = arr.astype(object, copy=False)
    _refuse_non_ids(arr, what)
    return arr


def _is_scalar(values: object) -> bool:
    if isinstance(values, np.ndarray):
        return values.ndim == 0
    return isinstance(values, str | bytes) or not isinstance(values, Iterable)


def _rows(values: Iterable[Any], n: int, what: str) -> list[Any]:
    """One value per row from a collection of ``n`` of them."""
    try:
        rows = list(values)
    except TypeError as exc:  # an iterable that will not iterate after all
        raise ValidationError(f"{what} is not a collection of rows: {exc}") from None
    if len(rows) != n:
        raise ValidationError(f"{what} has {len(rows)} rows, expected {n}")
    return rows


def _tenant_column(values: Any, n: int) -> str | NDArray[np.object_]:
    """One tenant for every row (a ``str``) or one per row."""
    if isinstance(values, str):
        return values
    if _is_scalar(values):
        raise ValidationError(f"tenant must be a str or a column of them, got {short_repr(values)}")
    return _id_column(values, n, "tenant")


def _integers(arr: NDArray[Any], what: str) -> NDArray[Any]:
    """Refuse anything but an integer dtype (bool included: it is not a count or a code)."""
    if arr.dtype.kind not in "iu":
        raise ValidationError(f"{what} must be integers, got dtype {arr.dtype}")
    return arr


def _int64_column(values: Any, n: int, what: str) -> NDArray[np.int64]:
    """An integer column as ``int64``; values beyond ``int64`` are refused, never wrapped."""
    arr = _integers(_column(values, n, what), what)
    if arr.dtype.kind == "u" and arr.size and int(arr.max()) > _INT64_MAX:
        raise ValidationError(f"{what} holds integers of 2**63 or more, beyond int64")
    return arr.astype(np.int64, copy=False)


def _codes(arr: NDArray[Any], enum_cls: type[Channel] | type[TouchKind]) -> NDArray[np.uint8]:
    """Integer codes of ``enum_cls`` as ``uint8``, anything else as 255 (unknown)."""
    valid = (arr >= 0) & (arr < len(enum_cls))
    return np.where(valid, arr, _UNKNOWN_CODE).astype(np.uint8)


def _code_column_of_codes(
    values: Any, n: int, enum_cls: type[Channel] | type[TouchKind], what: str
) -> NDArray[np.uint8]:
    """The constructor's check: integer codes, one per row; unknown ones become 255."""
    return _codes(_integers(_column(values, n, what), what), enum_cls)


def _code_of(value: object, enum_cls: type[Channel] | type[TouchKind]) -> int:
    """The code of one member, name (any case) or integer code; 255 for anything else."""
    if isinstance(value, enum_cls):
        return int(value.value)
    if isinstance(value, np.integer):
        value = int(value)
    if isinstance(value, bool):
        return _UNKNOWN_CODE
    if isinstance(value, int):
        return value if 0 <= value < len(enum_cls) else _UNKNOWN_CODE
    if isinstance(value, str):
        try:
            return int(enum_cls.parse(value).value)
        except (ValueError, TypeError):
            return _UNKNOWN_CODE
    return _UNKNOWN_CODE


def _code_column(
    values: Any, n: int, enum_cls: type[Channel] | type[TouchKind], what: str
) -> NDArray[np.uint8]:
    """Enum members, names (any case) or integer codes to a ``uint8`` column; unknown → 255."""
    arr = _array(values, what, objects=True)
    if arr.ndim == 0:
        return np.full(n, _code_of(arr.item(), enum_cls), dtype=np.uint8)
    if arr.shape != (n,):
        raise ValidationError(f"{what} has shape {arr.shape}, expected ({n},)")
    if arr.dtype.kind in "iu":
        return _codes(arr, enum_cls)
    if arr.dtype.kind not in "OU":
        raise ValidationError(
            f"{what} must be {enum_cls.__name__} members, their names or integer codes, "
            f"got dtype {arr.dtype}"
        )
    items = arr.tolist()
    # each distinct value is parsed once; keyed by type too, since True == 1 == 1.0 as dict keys
    keys = list(zip(map(type, items), items, strict=True))
    try:
        table = {key: _code_of(key[1], enum_cls) for key in dict.fromkeys(keys)}
    except TypeError:  # unhashable values: they are unknown, row by row
        return np.fromiter((_code_of(v, enum_cls) for v in items), dtype=np.uint8, count=n)
    return np.fromiter(map(table.__getitem__, keys), dtype=np.uint8, count=n)


def _flags(values: Any, n: int, what: str) -> NDArray[np.bool_]:
    """A boolean column: ``bool`` values, or the integers 0 and 1, one per row.

    Anything else is refused rather than read by truthiness: the string ``"False"`` is true to
    Python and NaN is true to numpy.
    """
    arr = _column(values, n, what, objects=True)
    kind = arr.dtype.kind
    if kind == "b":
        return arr
    if kind in "iu":
        bad = (arr != 0) & (arr != 1)
    elif kind == "O":
        items = arr.tolist()
        if set(map(type, items)) <= {bool, np.bool_}:
            return np.fromiter(items, dtype=bool, count=n)
        bad = ~np.fromiter(map(_is_flag, items), dtype=bool, count=n)
    else:
        raise ValidationError(
            f"{what} must be bool (or the integers 0 and 1), got dtype {arr.dtype}"
        )
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValidationError(
            f"{what} must be bool (or the integers 0 and 1); row {first} holds "
            f"{short_repr(arr[first])}"
        )
    return arr.astype(bool)


def _is_flag(value: object) -> bool:
    if isinstance(value, bool | np.bool_):
        return True
    return isinstance(value, int | np.integer) and value in (0, 1)


def _flag_or_flags(values: Any, n: int, what: str) -> NDArray[np.bool_]:
    """:func:`_flags`, or one flag for every row."""
    if isinstance(values, np.ndarray) and values.ndim == 0:
        values = values.item()
    if _is_scalar(values):
        if not _is_flag(values):
            raise ValidationError(
                f"{what} must be bool (or the integers 0 and 1), got {short_repr(values)}"
            )
        return np.full(n, bool(values))
    return _flags(values, n, what)


def _currency_column(values: Any, n: int) -> str | NDArray[np.object_]:
    """One currency code for every row, or a column of them (``None`` where no amount)."""
    if isinstance(values, str):
        return values
    if _is_scalar(values):
        raise ValidationError(
            f"currency must be a str code or a column of them, got {short_repr(values)}"
        )
    arr = _none_for_missing(_id_column(values, n, "currency"))
    items = arr.tolist()
    if not set(map(type, items)) <= {str, type(None)}:
        bad = [v for v in items if v is not None and not isinstance(v, str)]
        if bad:
            raise ValidationError(
                "currency codes must be str (None where a row has no amount), "
                f"got {short_repr(bad[0])}"
            )
    return arr


def _exponent(code: object) -> int:
    # a code that is no currency at all gets the default: the pool rejects its rows anyway
    return minor_unit_exponent(code) if isinstance(code, str) else 2


def _exponents(currency: str | NDArray[np.object_], n: int) -> NDArray[np.int64]:
    """Decimal places of each row's currency."""
    if isinstance(currency, str):
        return np.full(n, _exponent(currency), dtype=np.int64)
    items = currency.tolist()
    table = {code: _exponent(code) for code in set(items)}  # a handful of distinct codes
    return np.fromiter(map(table.__getitem__, items), dtype=np.int64, count=n)


def _normal_code(code: object) -> str | None:
    try:
        return _currency_code(code) if isinstance(code, str) else None
    except InvalidMoneyError:
        return None


# ---------------------------------------------------------------------------- amounts
def _amounts(
    values: Any, n: int, exponents: NDArray[np.int64], minor_units: bool, what: str
) -> tuple[NDArray[np.int64], NDArray[np.int8], NDArray[np.object_] | None]:
    """Amounts to ``int64`` minor units, a state per row, and the currency of :class:`Money`.

    The state is 0 where a row has no amount (``None``, NaN), 1 where it has a valid one and -1
    where it has an invalid one: negative, infinite, not a number, or ``|minor| >= 2**62``.
    Integers are checked before they are scaled, so they never wrap. The third result names
    the currency of each row that held a :class:`Money` (``None`` elsewhere), or is ``None``
    when no row did.
    """
    minor = np.zeros(n, dtype=np.int64)
    state = np.zeros(n, dtype=np.int8)
    if values is None:
        return minor, state, None
    arr = _array(values, what, objects=True)
    if arr.ndim == 0:
        item = arr.item()
        arr = np.empty(n, dtype=object)
        arr[:] = [item] * n
    if arr.shape != (n,):
        raise ValidationError(f"{what} has shape {arr.shape}, expected ({n},)")
    kind = arr.dtype.kind
    if kind in "iu":
        minor, state = _integer_amounts(arr, exponents, minor_units)
        return minor, state, None
    if kind == "f":
        minor, state = _float_amounts(arr, exponents, minor_units)
        return minor, state, None
    if kind not in "OU":
        raise ValidationError(f"{what} must be numbers, got dtype {arr.dtype}")
    items = arr.tolist()
    types = set(map(type, items))
    if types <= {float, type(None)}:
        return (*_float_amounts(np.array(items, dtype=np.float64), exponents, minor_units), None)
    if types <= {int} and all(-_INT64_MAX <= v <= _INT64_MAX for v in (min(items), max(items))):
        ints = np.array(items, dtype=np.int64)
        return (*_integer_amounts(ints, exponents, minor_units), None)
    return _object_amounts(items, exponents, minor_units)


def _integer_amounts(
    raw: NDArray[Any], exponents: NDArray[np.int64], minor_units: bool
) -> tuple[NDArray[np.int64], NDArray[np.int8]]:
    factor = np.ones_like(exponents) if minor_units else 10**exponents
    if raw.dtype.kind == "u":  # compare unsigned: a cast to int64 first could wrap
        too_big = raw >= np.uint64(MAX_MINOR_UNITS)
        values = np.where(too_big, 0, raw).astype(np.int64)
    else:
        too_big = np.zeros(raw.shape[0], dtype=bool)
        values = raw.astype(np.int64, copy=False)
    # the largest count that stays below MAX_MINOR_UNITS once scaled
    ok = ~too_big & (values >= 0) & (values <= (MAX_MINOR_UNITS - 1) // factor)
    minor = np.where(ok, values, 0) * factor
    return minor.astype(np.int64, copy=False), np.where(ok, 1, -1).astype(np.int8)


def _float_amounts(
    raw: NDArray[Any], exponents: NDArray[np.int64], minor_units: bool
) -> tuple[NDArray[np.int64], NDArray[np.int8]]:
    n = raw.shape[0]
    raw = raw.astype(np.float64, copy=False)
    minor = np.zeros(n, dtype=np.int64)
    state = np.zeros(n, dtype=np.int8)
    present = ~np.isnan(raw)
    with np.errstate(invalid="ignore", over="ignore"):
        exact = raw if minor_units else raw * (10.0**exponents)
        scaled = np.rint(exact)
        # the sign of the amount as given: -0.001 fen rounds to zero but is still negative
        ok = present & (raw >= 0) & np.isfinite(scaled) & (scaled < float(MAX_MINOR_UNITS))
        if not minor_units:
            # Where the product lands near a half, binary floating point decides the rounding
            # (1.015 * 100 = 101.49999...). Round those few like Money.of: from the float's
            # shortest decimal form, half to even, so both paths give the same fen.
            near_half = ok & (np.abs(exact - np.floor(exact) - 0.5) < 1e-6)
            for i in np.flatnonzero(near_half).tolist():
                value = Decimal(repr(float(raw[i])))
                scaled[i] = _minor_of(value, int(exponents[i]))
    minor[ok] = scaled[ok].astype(np.int64)
    state[present] = -1
    state[ok] = 1
    return minor, state


def _object_amounts(
    items: list[Any], exponents: NDArray[np.int64], minor_units: bool
) -> tuple[NDArray[np.int64], NDArray[np.int8], NDArray[np.object_] | None]:
    """Amounts of an object column, value by value: numbers, decimal strings, :class:`Money`."""
    n = len(items)
    minor = np.zeros(n, dtype=np.int64)
    state = np.zeros(n, dtype=np.int8)
    money_currency: NDArray[np.object_] | None = None
    for i, value in enumerate(items):
        if _is_missing(value):
            continue
        if isinstance(value, Money):
            if money_currency is None:
                money_currency = np.full(n, None, dtype=object)
            money_currency[i] = value.currency
            amount: int | None = value.minor if value.minor >= 0 else None
        else:
            try:
                dec = _decimal(value, "amount")
                negative = dec < 0  # before rounding: -0.001 rounds to zero
                amount = (
                    None if negative else _minor_of(dec, 0 if minor_units else int(exponents[i]))
                )
            except InvalidMoneyError:
                amount = None
        if amount is None or amount < 0:
            state[i] = -1
        else:
            minor[i] = amount
            state[i] = 1
    return minor, state, money_currency


# ---------------------------------------------------------------------------- encoded ids
@attrs.frozen(eq=False)
class EncodedIds:
    """A dictionary-encoded id column: row ``i`` holds ``values[codes[i]]``, or nothing if
    ``codes[i]`` is -1.

    This is how columnar formats (Arrow dictionaries, pandas ``Categorical``) store repeated
    strings, and it is the fast way into a pool: the pool looks up each distinct id once instead
    of once per row. Build one with :meth:`encode`, or pass a pandas ``Categorical`` or
    ``(codes, values)`` from your own storage.

    Parameters
    ----------
    codes
        A 1-D integer array, each in ``[-1, len(values))``; stored as ``int64``.
    values
        A 1-D array of the distinct ids (any objects; the pool reports rows whose id is not a
        valid ``str``); stored as an object array.

    Raises
    ------
    ValidationError
        If ``codes`` is not a 1-D integer array (bool and float included), ``values`` is not
        1-D, or a code lies outside ``[-1, len(values))``.
    """

    codes: NDArray[np.int64]
    values: NDArray[np.object_]

    def __attrs_post_init__(self) -> None:
        codes = _array(self.codes, "codes")
        if codes.ndim != 1 or codes.dtype.kind not in "iu":
            raise ValidationError(
                f"codes must be a 1-D integer array, got shape {codes.shape} and dtype "
                f"{codes.dtype}"
            )
        values = _array(self.values, "values", objects=True)
        if values.ndim != 1:
            raise ValidationError(f"values must be a 1-D array, got shape {values.shape}")
        values = values.astype(object, copy=False)
        # bounds as Python ints: a uint64 code must not wrap into -1 on its way to int64
        if codes.size and (int(codes.min()) < -1 or int(codes.max()) >= values.size):
            raise ValidationError(f"codes must lie in [-1, {values.size}) (len(values))")
        object.__setattr__(self, "codes", codes.astype(np.int64, copy=False))
        object.__setattr__(self, "values", values)

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    @classmethod
    def encode(cls, values: Any, n: int | None = None, *, what: str = "ids") -> EncodedIds:
        """Encode ``values``: a sequence of ids, a scalar repeated ``n`` times, a pandas
        ``Categorical`` (or ``Series`` of one), or an :class:`EncodedIds`.

        ``None``, NaN and pandas ``NA`` mean "no id" (code -1), in a sequence or as the scalar.

        Parameters
        ----------
        values
            The ids.
        n
            The number of rows expected (needed for a scalar).
        what
            The column's name, for error messages.

        Raises
        ------
        ValidationError
            If the ids are not a 1-D column of ``n`` rows, are a bool column, or include
            unhashable values (lists, dicts).
        """
        if isinstance(values, EncodedIds):
            encoded = values
        elif hasattr(values, "cat"):  # a pandas Series of category dtype
            encoded = cls.encode(values.array, n, what=what)
        elif hasattr(values, "codes") and hasattr(values, "categories"):
            encoded = cls(values.codes, values.categories)
        elif isinstance(values, str) or _is_missing(values):
            if n is None:
                raise ValidationError(f"{what}: a single id needs the column length")
            code = 0 if isinstance(values, str) else -1
            encoded = cls(np.full(n, code, dtype=np.int64), np.array([values], dtype=object))
        else:
            arr = _array(values, what, objects=True)
            if arr.ndim != 1:
                raise ValidationError(f"{what} must be 1-D, got shape {arr.shape}")
            if arr.dtype.kind == "b":
                raise ValidationError(f"{what} holds ids, not a bool column")
            arr = arr.astype(object, copy=False)
            items = arr.tolist()
            # one C-level pass: each row's code is the position of its id's first occurrence
            table: dict[Any, int] = {}
            try:
                first = np.fromiter(
                    map(table.setdefault, items, itertools.count()), np.int64, arr.size
                )
            except TypeError:
                bad = next(v for v in items if not _hashable(v))
                raise ValidationError(
                    f"{what} must be hashable ids, got {type(bad).__name__} {short_repr(bad)}"
                ) from None
            missing = (
                [pos for key, pos in table.items() if _is_missing(key)]
                if (set(map(type, table)) - {str})
                else []
            )
            if missing:
                first = np.where(np.isin(first, missing), -1, first)
            encoded = cls(first, arr)
        if n is not None and len(encoded) != n:
            raise ValidationError(f"{what} has {len(encoded)} rows, expected {n}")
        return encoded

    def present(self) -> NDArray[np.bool_]:
        """Which rows hold an id."""
        return self.codes >= 0

    def used(self) -> NDArray[np.intp]:
        """Positions in :attr:`values` that some row refers to."""
        mask = np.zeros(self.values.size, dtype=bool)
        mask[self.codes[self.codes >= 0]] = True
        return np.flatnonzero(mask)

    def decode(self) -> NDArray[np.object_]:
        """The ids row by row (``None`` where absent)."""
        with_none = np.empty(self.values.size + 1, dtype=object)
        with_none[:-1] = self.values  # the last slot stays None, for code -1
        return with_none[self.codes]

    def take(self, rows: NDArray[np.intp]) -> EncodedIds:
        """The rows at ``rows``."""
        return EncodedIds(self.codes[rows], self.values)


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _refuse_non_ids(arr: NDArray[np.object_], what: str) -> None:
    """Refuse bytes, lists, tuples, dicts and arrays among ids: they are no id, not even a bad
    one, and cannot be fingerprinted as text.

    Other values that are not ``str`` (numbers, ``None``) stay, for the pool to report row by
    row.
    """
    items = arr.tolist()
    for kind in set(map(type, items)) - {str}:
        if not issubclass(kind, bytes | Iterable | Mapping) or issubclass(kind, str):
            continue
        bad = next(v for v in items if type(v) is kind)
        raise ValidationError(f"{what} holds a {kind.__name__} ({short_repr(bad)}), not a str")


def _touchpoint_ids(values: Any, n: int) -> NDArray[Any]:
    """Touchpoint ids: ``int64`` integers or an object column of ``str``.

    A list of Python ints is an integer id column; integers beyond ``int64`` (``uint64`` from
    2**63 up, or larger Python ints) are refused rather than wrapped into other ids.
    """
    arr = _column(values, n, "id", objects=True)
    kind = arr.dtype.kind
    if kind == "O" and arr.size:
        types = set(map(type, arr.tolist()))
        if all(issubclass(t, int | np.integer) and not issubclass(t, bool) for t in types):
            items = arr.tolist()
            low, high = min(items), max(items)
            if not -_INT64_MAX - 1 <= low <= high <= _INT64_MAX:
                raise ValidationError("id holds integers beyond int64; integer ids are int64")
            arr = np.array(items, dtype=np.int64)
            kind = "i"
    if kind in "iu":
        return _int64_column(arr, n, "id")
    if kind == "U":
        return arr.astype(object)
    if kind == "O":
        _refuse_non_ids(arr, "id")
        return arr
    raise ValidationError(
        f"id must be int64 integers or str ids, got dtype {arr.dtype}"
        + (" (a float column: ids with NaN for missing ones?)" if kind == "f" else "")
    )


def _instants(values: Any, what: str) -> NDArray[np.int64]:
    """The constructor's check of a time column: ``int64`` epoch microseconds, 1-D, in range."""
    arr = _array(values, what)
    if arr.ndim != 1:
        raise ValidationError(f"{what} must be a 1-D column, got shape {arr.shape}")
    return epoch_micros_array(_integers(arr, what), epoch_unit="us", what=what)


# ---------------------------------------------------------------------------- touchpoints
@attrs.frozen(eq=False)
class TouchpointColumns:
    """Touchpoints as columns: one array per field, one row per touchpoint.

    Build it with :meth:`from_arrays` (from a host's arrays) or :meth:`from_touchpoints`. The
    constructor checks the form of every column (one row per touchpoint, one dimension, the
    dtype below); what each row holds is validated by the pool on ingest, so that a bad row is
    reported rather than raised.

    Attributes
    ----------
    id
        ``int64`` ids, or strings in an object array. Integer and string ids are separate id
        spaces: a host uses one kind consistently. Integer ids are ``int64``: ``uint64`` ids
        from 2**63 up are refused, never wrapped.
    tenant
        The tenant of every row (a ``str``) or an object array, one per row.
    customer_id
        Customer ids, dictionary-encoded (:class:`EncodedIds`).
    at
        ``int64`` microseconds since the epoch (UTC), every one in
        ``[1900-01-01, 2200-01-01)``. Its length is the number of rows.
    channel
        ``uint8`` codes of :class:`Channel`; 255 marks an unknown value (any other integer
        that is no code becomes 255 too).
    kind
        ``uint8`` codes of :class:`TouchKind`; 255 marks an unknown value.
    amount_minor
        ``int64`` minor units (fen); meaningful where ``amount_state`` is 1.
    amount_state
        ``int8`` per row: 0 no amount, 1 a valid amount, -1 an invalid amount (NaN, infinite,
        negative, not a number, or ``|minor| >= 2**62``). A row marked valid whose
        ``amount_minor`` is negative or out of range is marked invalid.
    currency
        The currency of every amount (a ``str``) or an object array of ``str`` codes, one per
        row (``None`` where a row has no amount).
    promotion
        ``bool``.
    discount_minor
        ``int64`` minor units taken off the full price (0 when none); -1 marks an invalid one
        (any negative or out-of-range value is stored as -1).
    related_customer_id
        The invited or reached customer, dictionary-encoded, code -1 where absent.
    agent_id
        The agent behind the touch, dictionary-encoded, code -1 where absent.

    Raises
    ------
    ValidationError
        If a column does not have one row per value of ``at``, is not 1-D, or has a dtype of
        the wrong kind (e.g. float ``at``, float or bool ``id``, a string ``promotion``); the
        message names the column. Id columns that are not :class:`EncodedIds` are encoded with
        :meth:`EncodedIds.encode`.
    """

    id: NDArray[Any]
    tenant: str | NDArray[np.object_]
    customer_id: EncodedIds
    at: NDArray[np.int64]
    channel: NDArray[np.uint8]
    kind: NDArray[np.uint8]
    amount_minor: NDArray[np.int64]
    amount_state: NDArray[np.int8]
    currency: str | NDArray[np.object_]
    promotion: NDArray[np.bool_]
    discount_minor: NDArray[np.int64]
    related_customer_id: EncodedIds
    agent_id: EncodedIds

    def __attrs_post_init__(self) -> None:
        at = _instants(self.at, "at")
        n = at.shape[0]
        amount = _int64_column(self.amount_minor, n, "amount_minor")
        state = _integers(_column(self.amount_state, n, "amount_state"), "amount_state")
        if ((state < -1) | (state > 1)).any():
            raise ValidationError("amount_state must be -1 (invalid), 0 (none) or 1 (valid)")
        state = state.astype(np.int8, copy=False)
        out_of_range = (state == 1) & ((amount < 0) | (amount >= MAX_MINOR_UNITS))
        if out_of_range.any():
            state = np.where(out_of_range, np.int8(-1), state)
        discount = _int64_column(self.discount_minor, n, "discount_minor")
        bad_discount = (discount < -1) | (discount >= MAX_MINOR_UNITS)
        if bad_discount.any():
            discount = np.where(bad_discount, -1, discount)
        checked = {
            "id": _touchpoint_ids(self.id, n),
            "tenant": _tenant_column(self.tenant, n),
            "customer_id": EncodedIds.encode(self.customer_id, n, what="customer_id"),
            "at": at,
            "channel": _code_column_of_codes(self.channel, n, Channel, "channel"),
            "kind": _code_column_of_codes(self.kind, n, TouchKind, "kind"),
            "amount_minor": amount,
            "amount_state": state,
            "currency": _currency_column(self.currency, n),
            "promotion": _flags(self.promotion, n, "promotion"),
            "discount_minor": discount,
            "related_customer_id": EncodedIds.encode(
                self.related_customer_id, n, what="related_customer_id"
            ),
            "agent_id": EncodedIds.encode(self.agent_id, n, what="agent_id"),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return int(self.at.shape[0])

    @classmethod
    def from_arrays(
        cls,
        *,
        id: Any,
        tenant: str | Sequence[str],
        customer_id: Any,
        at: Any,
        channel: Any,
        kind: Any,
        amount: Any = None,
        currency: str | Sequence[str] = "CNY",
        minor_units: bool = False,
        promotion: Any = False,
        discount: Any = None,
        related_customer_id: Any = None,
        agent_id: Any = None,
        epoch_unit: str | None = None,
    ) -> TouchpointColumns:
        """Touchpoint columns from a host's arrays.

        Every column has one value per row of ``at`` (a scalar, where allowed, applies to every
        row).

        Parameters
        ----------
        id
            Integer ids (stored as ``int64``; integers beyond ``int64`` are refused) or string
            ids.
        tenant
            One tenant, or one per row.
        customer_id, related_customer_id, agent_id
            Ids per row: an array of str (``None``, NaN or pandas ``NA`` where absent), a
            pandas ``Categorical``, or :class:`EncodedIds`. Dictionary-encoded ids are the fast
            path for millions of rows: each distinct id is then looked up once. Unhashable ids
            (lists, dicts) and bool columns are refused.
        at
            ``datetime64`` (read as UTC) or aware datetimes; integer or float counts since the
            epoch with ``epoch_unit``. Stored as microseconds since the epoch; every instant
            must lie in ``[1900-01-01, 2200-01-01)`` UTC.
        channel, kind
            Enum members, their names (any case), or their integer codes (a scalar applies to
            every row). Anything else becomes 255, which the pool reports as unknown.
        amount
            Purchase and refund amounts in major units (yuan), or in minor units (fen) with
            ``minor_units=True``; ``None`` or NaN where a row has no amount. Floats are rounded
            to the nearest minor unit (half to even, as :meth:`Money.of`); integers are exact;
            decimal strings and ``Decimal`` are read exactly. A :class:`Money` is taken as it
            is, in its own currency, which replaces ``currency`` for its row. Negative amounts,
            infinities, values that are no number (``"abc"``, ``True``) and amounts of
            ``2**62`` minor units or more are marked invalid: the pool rejects those purchases
            and refunds as ``INVALID_AMOUNT``. Nothing wraps.
        currency
            The ISO 4217 code of every amount, or one per row.
        minor_units
            Whether plain numbers in ``amount`` and ``discount`` count minor units.
        promotion
            ``bool`` (or the integers 0 and 1), one per row or one for all. Strings, NaN and
            other numbers are refused, never read by truthiness.
        discount
            Discounts, in the same unit as ``amount``; ``None``, NaN or 0 where none. A
            :class:`Money` discount must be in its row's currency, or it is marked invalid.
        epoch_unit
            What integer or float times count: ``"s"``, ``"ms"``, ``"us"`` or ``"ns"``.

        Raises
        ------
        ValidationError
            If a column has the wrong length, dimension or dtype, ``at`` holds no valid
            instants, or a scalar is given where a column is needed; the message names the
            argument.
        """
        at_us = epoch_micros_array(at, epoch_unit=epoch_unit, what="touchpoint times")
        n = at_us.shape[0]
        if not isinstance(minor_units, bool | np.bool_):
            raise ValidationError(
                f"minor_units must be True or False, got {short_repr(minor_units)}"
            )
        minor_units = bool(minor_units)
        currency_col = _currency_column(currency, n)
        exponents = _exponents(currency_col, n)
        amount_minor, amount_state, amount_currency = _amounts(
            amount, n, exponents, minor_units, "amount"
        )
        if amount_currency is not None:  # Money amounts bring their own currency
            per_row = np.empty(n, dtype=object)
            per_row[:] = currency_col
            has_money = amount_currency != None  # noqa: E711 - elementwise on objects
            per_row[has_money] = amount_currency[has_money]
            currency_col = per_row
            exponents = _exponents(currency_col, n)
        discount_minor, discount_state, discount_currency = _amounts(
            discount, n, exponents, minor_units, "discount"
        )
        if discount_currency is not None:  # a Money discount must be in its row's currency
            has_money = discount_currency != None  # noqa: E711
            rows = np.flatnonzero(has_money)
            row_codes = (
                [_normal_code(currency_col)] * rows.size
                if isinstance(currency_col, str)
                else [_normal_code(c) for c in currency_col[rows].tolist()]
            )
            foreign = [
                a != b for a, b in zip(discount_currency[rows].tolist(), row_codes, strict=True)
            ]
            discount_state[rows[np.array(foreign, dtype=bool)]] = -1
        discount_minor = np.where(discount_state < 0, -1, discount_minor)
        kinds = _code_column(kind, n, TouchKind, "kind")
        # an integer column cannot say "no amount": a zero on a touch that carries none is none
        monetary = (kinds == TouchKind.PURCHASED.value) | (kinds == TouchKind.REFUNDED.value)
        amount_state[~monetary & (amount_state == 1) & (amount_minor == 0)] = 0
        return cls(
            id=_touchpoint_ids(id, n),
            tenant=_tenant_column(tenant, n),
            customer_id=EncodedIds.encode(customer_id, n, what="customer_id"),
            at=at_us,
            channel=_code_column(channel, n, Channel, "channel"),
            kind=kinds,
            amount_minor=amount_minor,
            amount_state=amount_state,
            currency=currency_col,
            promotion=_flag_or_flags(promotion, n, "promotion"),
            discount_minor=discount_minor,
            related_customer_id=EncodedIds.encode(
                related_customer_id, n, what="related_customer_id"
            ),
            agent_id=EncodedIds.encode(agent_id, n, what="agent_id"),
        )

    @classmethod
    def from_touchpoints(cls, touchpoints: Iterable[Touchpoint]) -> TouchpointColumns:
        """Columns from validated :class:`Touchpoint` objects (one pass at the edge)."""
        tps = list(touchpoints)
        n = len(tps)
        amount = np.zeros(n, dtype=np.int64)
        state = np.zeros(n, dtype=np.int8)
        discount = np.zeros(n, dtype=np.int64)
        currency = np.empty(n, dtype=object)
        for i, tp in enumerate(tps):
            if tp.amount is not None:
                amount[i] = tp.amount.minor
                state[i] = 1
                currency[i] = tp.amount.currency
            if tp.discount is not None:
                discount[i] = tp.discount.minor
        return cls(
            id=np.array([tp.id for tp in tps], dtype=object),
            tenant=np.array([tp.tenant for tp in tps], dtype=object),
            customer_id=EncodedIds.encode([tp.customer_id for tp in tps], n),
            at=np.fromiter((epoch_micros(tp.at) for tp in tps), dtype=np.int64, count=n),
            channel=np.fromiter((tp.channel.value for tp in tps), dtype=np.uint8, count=n),
            kind=np.fromiter((tp.kind.value for tp in tps), dtype=np.uint8, count=n),
            amount_minor=amount,
            amount_state=state,
            currency=currency,
            promotion=np.fromiter((tp.promotion for tp in tps), dtype=bool, count=n),
            discount_minor=discount,
            related_customer_id=EncodedIds.encode([tp.related_customer_id for tp in tps], n),
            agent_id=EncodedIds.encode([tp.agent_id for tp in tps], n),
        )

    def take(self, rows: NDArray[np.intp]) -> TouchpointColumns:
        """The rows at ``rows``, as new columns."""

        def pick(value: Any) -> Any:
            if isinstance(value, EncodedIds):
                return value.take(rows)
            return value if isinstance(value, str) else value[rows]

        return TouchpointColumns(
            **{f.name: pick(getattr(self, f.name)) for f in attrs.fields(TouchpointColumns)}
        )


# ---------------------------------------------------------------------------- customers
def _ids_or_id(values: Any, n: int, what: str) -> NDArray[np.object_]:
    """Ids per row (a str or ``None`` applies to every row); NaN and ``NA`` mean none."""
    if values is None or isinstance(values, str):
        return _object_column(values, n, what)
    return _none_for_missing(_id_column(values, n, what))


def _consent_column(values: Any, n: int) -> NDArray[np.uint16]:
    """Consent bit masks, one per row or one for all; each bit names an owned channel."""
    if isinstance(values, np.ndarray) and values.ndim == 0:
        values = values.item()
    if _is_scalar(values):
        if isinstance(values, bool | np.bool_) or not isinstance(values, int | np.integer):
            raise ValidationError(
                f"consent must be an integer bit mask per customer, got {short_repr(values)}"
            )
        if not 0 <= int(values) < _CONSENT_LIMIT:
            raise ValidationError(_CONSENT_BITS)
        return np.full(n, int(values), dtype=np.uint16)
    return _consent_masks(values, n)


_CONSENT_BITS = "consent bits name owned channels only (bits 0-9)"


def _consent_masks(values: Any, n: int) -> NDArray[np.uint16]:
    arr = _column(values, n, "consent")
    if arr.dtype.kind not in "iu":
        raise ValidationError(
            f"consent must be an integer bit mask per customer, got dtype {arr.dtype}"
        )
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= _CONSENT_LIMIT):
        raise ValidationError(_CONSENT_BITS)
    return arr.astype(np.uint16)


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
        ``uint16`` bit mask per row: bit ``c.value`` is set when the customer consents to owned
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
    consent: NDArray[np.uint16]
    referrer_id: NDArray[np.object_]
    agent_id: NDArray[np.object_]
    tags: Mapping[str, NDArray[np.bool_]] | None = None
    attributes: Mapping[str, NDArray[np.object_]] | None = None
    store_id: NDArray[np.object_] | None = None
    updated_at: NDArray[np.int64] | None = None

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
            consent=np.fromiter((consent_mask(c.consent) for c in cs), np.uint16, n),
            referrer_id=_object_column([c.referrer_id for c in cs], n, "referrer_id"),
            agent_id=_object_column([c.agent_id for c in cs], n, "agent_id"),
            tags=_tag_columns([c.tags for c in cs], n),
            attributes=_attribute_columns([c.attributes for c in cs], n),
            store_id=_object_column([c.store_id for c in cs], n, "store_id"),
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


class RejectReason(enum.Enum):
    """Why a record was not taken into the pool."""

    INVALID = "invalid"
    """A field has a value the domain does not allow (see the detail)."""
    INVALID_AMOUNT = "invalid_amount"
    """NaN, infinite, negative or missing amount."""
    CURRENCY_MISMATCH = "currency_mismatch"
    """Not the pool's currency."""
    WRONG_TENANT = "wrong_tenant"
    """Belongs to another tenant's pool."""
    UNKNOWN_CUSTOMER = "unknown_customer"
    """The customer is not in the pool."""
    UNKNOWN_RELATED_CUSTOMER = "unknown_related_customer"
    """The invitee is not in the pool."""
    UNKNOWN_REFERRER = "unknown_referrer"
    """The referrer is neither in the pool nor the batch."""
    REFERRAL_CYCLE = "referral_cycle"
    """The referrer chain would loop back."""
    CONFLICT = "conflict"
    """Changes a customer's fixed facts (joined_at, source, referrer)."""


@attrs.frozen
class Rejection:
    """One record that was not taken, and why."""

    record: str
    """``"customer"`` or ``"touchpoint"``."""
    index: int
    """Position of the record in what was given."""
    id: object
    """The record's id as given."""
    reason: RejectReason
    detail: str


@attrs.frozen(eq=False)
class IngestReport:
    """What became of every record of a batch: nothing is dropped silently.

    Every record given is counted in exactly one of ``customers_added``, ``customers_updated``,
    ``customers_unchanged`` or the rejections (customers) and ``touchpoints_accepted``,
    ``duplicate_touchpoints`` or the rejections (touchpoints).
    """

    customers_added: int = 0
    customers_updated: int = 0
    customers_unchanged: int = 0
    touchpoints_accepted: int = 0
    duplicate_touchpoints: NDArray[np.int64] = attrs.field(factory=lambda: np.empty(0, np.int64))
    rejected: tuple[Rejection, ...] = ()

    @property
    def duplicates(self) -> int:
        """How many touchpoints were already in the pool (or repeated in the batch)."""
        return int(self.duplicate_touchpoints.size)

    @property
    def ok(self) -> bool:
        """Whether nothing was rejected."""
        return not self.rejected

    def reasons(self) -> Mapping[RejectReason, int]:
        """Number of rejections per reason."""
        counts: dict[RejectReason, int] = {}
        for r in self.rejected:
            counts[r.reason] = counts.get(r.reason, 0) + 1
        return counts

    def __repr__(self) -> str:
        reasons = ", ".join(f"{k.value}={v}" for k, v in self.reasons().items()) or "none"
        return (
            f"IngestReport(customers: +{self.customers_added} added, {self.customers_updated} "
            f"updated, {self.customers_unchanged} unchanged; touchpoints: "
            f"{self.touchpoints_accepted} accepted, {self.duplicates} duplicates; "
            f"rejected: {len(self.rejected)} ({reasons}))"
        )


@attrs.frozen
class Batch:
    """Customers and touchpoints to ingest together (customers first)."""

    customers: CustomerColumns | Sequence[Customer] = ()
    touchpoints: TouchpointColumns | Sequence[Touchpoint] = ()
