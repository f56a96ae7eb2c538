"""How a host's arrays become checked columns: shapes, dtypes, codes, flags, currencies and
exact amounts, refused with a :class:`~privdomain.errors.ValidationError` that names the column."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import numpy as np
from numpy.typing import NDArray

from privdomain.domain._time import epoch_micros_array
from privdomain.domain.channels import CONSENT_BITS, Channel, TouchKind
from privdomain.domain.money import (
    MAX_MINOR_UNITS,
    Money,
    _currency_code,
    _decimal,
    _minor_of,
    minor_unit_exponent,
)
from privdomain.errors import InvalidMoneyError, ValidationError, short_repr

_INT64_MAX = int(np.iinfo(np.int64).max)


_UNKNOWN_CODE = 255
_CONSENT_BITS_ALLOWED = CONSENT_BITS  # one bit per owned channel, bit = the channel's code


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


def _instants(values: Any, what: str) -> NDArray[np.int64]:
    """The constructor's check of a time column: ``int64`` epoch microseconds, 1-D, in range."""
    arr = _array(values, what)
    if arr.ndim != 1:
        raise ValidationError(f"{what} must be a 1-D column, got shape {arr.shape}")
    return epoch_micros_array(_integers(arr, what), epoch_unit="us", what=what)
