"""Bad input at every public entry point of columns, money, records and the simulator.

Each table lists inputs a host will send sooner or later and the exact privdomain error each one
raises: never numpy's ``ValueError``, a ``TypeError`` from deep inside, an ``OverflowError`` or a
``RecursionError``. Inputs that are bad in a single row are not raised but reported by the pool;
the classes below the tables check that those rows are refused, never misread.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import numpy as np
import pytest
from helpers import T0, TENANT, assert_accounted, at, customer, new_pool, reasons_by_index

from privdomain import (
    Channel,
    Customer,
    CustomerColumns,
    EncodedIds,
    Money,
    Pool,
    RejectReason,
    Touchpoint,
    TouchpointColumns,
)
from privdomain.errors import (
    CurrencyMismatchError,
    InvalidMoneyError,
    InvalidRecordError,
    NaiveDatetimeError,
    PrivdomainError,
    ValidationError,
)
from privdomain.simulate import simulate_pool

AS_OF = at(30)


def _deeply_nested() -> list[Any]:
    value: list[Any] = []
    for _ in range(100_000):
        value = [value]
    return value


DEEP = _deeply_nested()  # repr() of it raises RecursionError
HUGE = 10**5000  # repr() of it raises ValueError (more than 4300 digits)


def raises_exactly(error: type[PrivdomainError], call: Callable[[], object]) -> PrivdomainError:
    """``call()`` raises ``error`` itself (not a subclass), which is a privdomain error."""
    with pytest.raises(PrivdomainError) as info:
        call()
    assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"
    assert str(info.value)
    return info.value


# ---------------------------------------------------------------------------- builders
def touchpoint_arrays(n: int = 3, **overrides: Any) -> dict[str, Any]:
    """Valid arguments of ``TouchpointColumns.from_arrays``: ``n`` purchases of customer c1."""
    fields: dict[str, Any] = {
        "id": [f"t{i}" for i in range(n)],
        "tenant": TENANT,
        "customer_id": "c1",
        "at": [at(1)] * n,
        "channel": "mini_program",
        "kind": "purchased",
        "amount": np.full(n, 9.9),
    }
    fields.update(overrides)
    return fields


def touchpoint_fields(n: int = 3, **overrides: Any) -> dict[str, Any]:
    """Valid arguments of the ``TouchpointColumns`` constructor."""
    cols = TouchpointColumns.from_arrays(**touchpoint_arrays(n))
    fields = {f.name: getattr(cols, f.name) for f in attrs.fields(TouchpointColumns)}
    fields.update(overrides)
    return fields


def customer_arrays(n: int = 3, **overrides: Any) -> dict[str, Any]:
    """Valid arguments of ``CustomerColumns.from_arrays``."""
    fields: dict[str, Any] = {
        "id": [f"c{i}" for i in range(n)],
        "tenant": TENANT,
        "joined_at": [T0] * n,
    }
    fields.update(overrides)
    return fields


def customer_fields(n: int = 3, **overrides: Any) -> dict[str, Any]:
    """Valid arguments of the ``CustomerColumns`` constructor (without the optional ones)."""
    cols = CustomerColumns.from_arrays(
        **customer_arrays(n, tags={"vip": np.ones(n, bool)}, attributes={"age": [30] * n})
    )
    names = ("id", "tenant", "joined_at", "source", "consent", "referrer_id", "agent_id")
    fields = {name: getattr(cols, name) for name in (*names, "tags", "attributes")}
    fields.update(overrides)
    return fields


# ---------------------------------------------------------------------------- TouchpointColumns
TOUCHPOINT_FROM_ARRAYS = [
    # lengths, dimensions, scalars where a column is needed
    ({"id": ["t0", "t1"]}, ValidationError, "id too short"),
    ({"id": "t0"}, ValidationError, "id scalar"),
    ({"id": [["t0", "t1", "t2"]]}, ValidationError, "id 2-D"),
    ({"at": np.datetime64("2026-01-02")}, ValidationError, "at scalar"),
    ({"at": np.zeros((3, 1), dtype="datetime64[s]")}, ValidationError, "at 2-D"),
    ({"at": [1_767_225_600] * 3}, ValidationError, "at numbers without a unit"),
    ({"at": [dt.datetime(2026, 1, 1)] * 3}, NaiveDatetimeError, "at naive"),
    ({"at": ["2026-01-01"] * 3}, ValidationError, "at strings"),
    ({"promotion": [True]}, ValidationError, "promotion too short"),
    ({"promotion": [True] * 4}, ValidationError, "promotion too long"),
    ({"promotion": np.ones((3, 1), bool)}, ValidationError, "promotion 2-D"),
    ({"promotion": ["False", "True", "False"]}, ValidationError, "promotion strings"),
    ({"promotion": np.array(["False", "True", "False"])}, ValidationError, "promotion <U"),
    ({"promotion": [math.nan, 1.0, 0.0]}, ValidationError, "promotion NaN"),
    ({"promotion": np.array([1.0, 0.0, 1.0])}, ValidationError, "promotion floats"),
    ({"promotion": np.array([0, 1, 2])}, ValidationError, "promotion int 2"),
    ({"promotion": [None, True, False]}, ValidationError, "promotion None"),
    ({"promotion": "yes"}, ValidationError, "promotion scalar str"),
    ({"promotion": math.nan}, ValidationError, "promotion scalar NaN"),
    ({"amount": [9.9, 9.9]}, ValidationError, "amount too short"),
    ({"amount": np.ones((3, 2))}, ValidationError, "amount 2-D"),
    ({"amount": np.ones(3, dtype=bool)}, ValidationError, "amount bool column"),
    ({"amount": np.ones(3, dtype=complex)}, ValidationError, "amount complex"),
    ({"amount": np.zeros(3, dtype="datetime64[s]")}, ValidationError, "amount datetime64"),
    ({"discount": [1.0]}, ValidationError, "discount too short"),
    ({"currency": ["CNY", "CNY"]}, ValidationError, "currency too short"),
    ({"currency": ["CNY"] * 4}, ValidationError, "currency too long"),
    ({"currency": None}, ValidationError, "currency None"),
    ({"currency": 156}, ValidationError, "currency number"),
    ({"currency": [156, "CNY", "CNY"]}, ValidationError, "currency column of numbers"),
    ({"currency": [["CNY"], "CNY", "CNY"]}, ValidationError, "currency unhashable"),
    ({"tenant": 5}, ValidationError, "tenant number"),
    ({"tenant": [TENANT] * 2}, ValidationError, "tenant too short"),
    ({"customer_id": [["c1"], "c1", "c1"]}, ValidationError, "customer_id unhashable"),
    ({"customer_id": [{"id": "c1"}, "c1", "c1"]}, ValidationError, "customer_id dict"),
    ({"customer_id": np.ones(3, bool)}, ValidationError, "customer_id bool"),
    ({"customer_id": ["c1"] * 2}, ValidationError, "customer_id too short"),
    ({"customer_id": 5}, ValidationError, "customer_id number"),
    ({"related_customer_id": [[1], None, None]}, ValidationError, "related unhashable"),
    ({"agent_id": ["a"] * 4}, ValidationError, "agent_id too long"),
    ({"id": np.array([2**63, 1, 2], dtype=np.uint64)}, ValidationError, "uint64 id >= 2**63"),
    ({"id": np.array([2**64 - 1, 1, 2], dtype=np.uint64)}, ValidationError, "uint64 id max"),
    ({"id": [1, 2, 2**64]}, ValidationError, "Python int id beyond int64"),
    ({"id": np.array([True, False, True])}, ValidationError, "bool ids"),
    ({"id": np.array([1.0, 2.0, math.nan])}, ValidationError, "float ids"),
    ({"id": np.array([b"t0", b"t1", b"t2"])}, ValidationError, "bytes ids"),
    ({"id": [["t0"], "t1", "t2"]}, ValidationError, "id unhashable list"),
    ({"id": [{"t": 0}, "t1", "t2"]}, ValidationError, "id dict"),
    ({"id": [("t", 0), "t1", "t2"]}, ValidationError, "id tuple"),
    ({"id": [np.arange(2), "t1", "t2"]}, ValidationError, "id array"),
    ({"id": [b"\x80", "t1", "t2"]}, ValidationError, "id bytes among str"),
    ({"channel": np.ones(3)}, ValidationError, "channel floats"),
    ({"channel": np.ones(3, bool)}, ValidationError, "channel bool"),
    ({"channel": [1, 1]}, ValidationError, "channel too short"),
    ({"kind": np.ones((3, 1), int)}, ValidationError, "kind 2-D"),
    ({"minor_units": "yes"}, ValidationError, "minor_units str"),
    ({"epoch_unit": "days", "at": [1] * 3}, ValidationError, "epoch_unit unknown"),
]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [pytest.param(o, e, id=i) for o, e, i in TOUCHPOINT_FROM_ARRAYS],
)
def test_touchpoint_columns_from_arrays_refuses(
    overrides: dict[str, Any], error: type[PrivdomainError]
) -> None:
    raises_exactly(error, lambda: TouchpointColumns.from_arrays(**touchpoint_arrays(**overrides)))


TOUCHPOINT_CONSTRUCTOR = [
    ({"at": np.zeros(3)}, ValidationError, "at floats"),
    ({"at": np.zeros((3, 1), np.int64)}, ValidationError, "at 2-D"),
    ({"at": np.int64(0)}, ValidationError, "at scalar"),
    ({"at": np.full(3, 2**62, np.int64)}, ValidationError, "at after 2200"),
    ({"at": np.full(3, -(2**62), np.int64)}, ValidationError, "at before 1900"),
    ({"at": np.zeros(3, "datetime64[us]")}, ValidationError, "at datetime64"),
    ({"at": np.array(["x"] * 3, dtype=object)}, ValidationError, "at objects"),
    ({"id": np.arange(2)}, ValidationError, "id too short"),
    ({"id": np.arange(4)}, ValidationError, "id too long"),
    ({"id": np.ones(3, bool)}, ValidationError, "id bool"),
    ({"id": np.ones(3)}, ValidationError, "id float"),
    ({"id": np.full(3, 2**63, np.uint64)}, ValidationError, "id uint64 beyond int64"),
    ({"id": np.arange(3).reshape(3, 1)}, ValidationError, "id 2-D"),
    ({"tenant": None}, ValidationError, "tenant None"),
    ({"tenant": np.array([TENANT] * 2, object)}, ValidationError, "tenant too short"),
    ({"customer_id": EncodedIds.encode(["c1"] * 2)}, ValidationError, "customer_id short"),
    ({"customer_id": np.ones(3, bool)}, ValidationError, "customer_id bool"),
    ({"related_customer_id": EncodedIds.encode([None] * 4)}, ValidationError, "related long"),
    ({"agent_id": [["a"], None, None]}, ValidationError, "agent_id unhashable"),
    ({"channel": np.zeros(2, np.uint8)}, ValidationError, "channel too short"),
    ({"channel": np.zeros(3)}, ValidationError, "channel floats"),
    ({"channel": np.array(["wecom"] * 3, object)}, ValidationError, "channel names"),
    ({"kind": np.zeros((3, 1), np.uint8)}, ValidationError, "kind 2-D"),
    ({"kind": np.zeros(3, bool)}, ValidationError, "kind bool"),
    ({"amount_minor": np.zeros(3)}, ValidationError, "amount_minor floats"),
    ({"amount_minor": np.zeros(2, np.int64)}, ValidationError, "amount_minor too short"),
    ({"amount_minor": np.full(3, 2**64 - 1, np.uint64)}, ValidationError, "amount uint64"),
    ({"amount_state": np.full(3, 2, np.int8)}, ValidationError, "amount_state 2"),
    ({"amount_state": np.ones(3)}, ValidationError, "amount_state floats"),
    ({"amount_state": np.ones(4, np.int8)}, ValidationError, "amount_state too long"),
    ({"currency": None}, ValidationError, "currency None"),
    ({"currency": np.array(["CNY"] * 2, object)}, ValidationError, "currency too short"),
    ({"currency": np.array([1, 2, 3], object)}, ValidationError, "currency numbers"),
    ({"promotion": np.zeros(2, bool)}, ValidationError, "promotion too short"),
    ({"promotion": np.array(["False"] * 3, object)}, ValidationError, "promotion strings"),
    ({"promotion": np.full(3, np.nan)}, ValidationError, "promotion NaN"),
    ({"promotion": np.zeros((3, 1), bool)}, ValidationError, "promotion 2-D"),
    ({"discount_minor": np.zeros(3)}, ValidationError, "discount_minor floats"),
    ({"discount_minor": np.zeros(4, np.int64)}, ValidationError, "discount_minor too long"),
]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [pytest.param(o, e, id=i) for o, e, i in TOUCHPOINT_CONSTRUCTOR],
)
def test_touchpoint_columns_constructor_refuses(
    overrides: dict[str, Any], error: type[PrivdomainError]
) -> None:
    raises_exactly(error, lambda: TouchpointColumns(**touchpoint_fields(**overrides)))


def test_touchpoint_columns_errors_name_the_column() -> None:
    error = raises_exactly(
        ValidationError, lambda: TouchpointColumns(**touchpoint_fields(promotion=np.zeros(2)))
    )
    assert "promotion" in str(error)
    error = raises_exactly(
        ValidationError,
        lambda: TouchpointColumns.from_arrays(**touchpoint_arrays(currency=["CNY"])),
    )
    assert "currency" in str(error)


# ---------------------------------------------------------------------------- CustomerColumns
CUSTOMER_FROM_ARRAYS = [
    ({"id": ["c0", "c1"]}, ValidationError, "id too short"),
    ({"id": np.ones(3, bool)}, ValidationError, "id bool"),
    ({"id": [["c0"] * 3]}, ValidationError, "id 2-D"),
    ({"tenant": 5}, ValidationError, "tenant number"),
    ({"joined_at": np.datetime64("2026-01-01")}, ValidationError, "joined_at scalar"),
    ({"joined_at": [1_767_225_600] * 3}, ValidationError, "joined_at numbers without a unit"),
    ({"joined_at": np.array(["1899-12-31"] * 3, "M8[D]")}, ValidationError, "joined before 1900"),
    ({"consent": "abc"}, ValidationError, "consent str"),
    ({"consent": None}, ValidationError, "consent None"),
    ({"consent": 1.5}, ValidationError, "consent float"),
    ({"consent": True}, ValidationError, "consent bool"),
    ({"consent": -1}, ValidationError, "consent negative"),
    ({"consent": 1 << 10}, ValidationError, "consent public channel bit"),
    ({"consent": 10**30}, ValidationError, "consent huge"),
    ({"consent": [1, 2]}, ValidationError, "consent too short"),
    ({"consent": np.ones(3)}, ValidationError, "consent floats"),
    ({"consent": np.full(3, 2**64 - 1, np.uint64)}, ValidationError, "consent uint64"),
    ({"source": np.ones(3)}, ValidationError, "source floats"),
    ({"source": ["douyin"] * 2}, ValidationError, "source too short"),
    ({"referrer_id": ["c0"] * 4}, ValidationError, "referrer_id too long"),
    ({"agent_id": np.ones(3, bool)}, ValidationError, "agent_id bool"),
    ({"tags": "vip"}, ValidationError, "tags str"),
    ({"tags": 5}, ValidationError, "tags number"),
    ({"tags": [5, None, None]}, ValidationError, "tags row number"),
    ({"tags": ["vip", None, None]}, ValidationError, "tags row str"),
    ({"tags": [[1], None, None]}, ValidationError, "tags row of numbers"),
    ({"tags": [[["vip"]], None, None]}, ValidationError, "tags row unhashable"),
    ({"tags": [None, None]}, ValidationError, "tags too few rows"),
    ({"tags": {"vip": [1.0, 0.0, 1.0]}}, ValidationError, "tag column floats"),
    ({"tags": {"vip": ["yes", "no", "no"]}}, ValidationError, "tag column strings"),
    ({"tags": {"vip": [True]}}, ValidationError, "tag column too short"),
    ({"tags": {1: [True] * 3}}, ValidationError, "tag name number"),
    ({"attributes": [5, None, None]}, ValidationError, "attributes row number"),
    ({"attributes": [["age", 3], None, None]}, ValidationError, "attributes row list"),
    ({"attributes": [None]}, ValidationError, "attributes too few rows"),
    ({"attributes": {"age": [1, 2]}}, ValidationError, "attribute column too short"),
    ({"attributes": {"age": np.ones((3, 2))}}, ValidationError, "attribute column 2-D"),
    ({"attributes": {("a",): [1, 2, 3]}}, ValidationError, "attribute name tuple"),
    ({"attributes": 7}, ValidationError, "attributes number"),
]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [pytest.param(o, e, id=i) for o, e, i in CUSTOMER_FROM_ARRAYS],
)
def test_customer_columns_from_arrays_refuses(
    overrides: dict[str, Any], error: type[PrivdomainError]
) -> None:
    raises_exactly(error, lambda: CustomerColumns.from_arrays(**customer_arrays(**overrides)))


CUSTOMER_CONSTRUCTOR = [
    ({"joined_at": np.zeros(3)}, ValidationError, "joined_at floats"),
    ({"joined_at": np.zeros((3, 1), np.int64)}, ValidationError, "joined_at 2-D"),
    ({"joined_at": np.int64(0)}, ValidationError, "joined_at scalar"),
    ({"joined_at": np.full(3, 2**62, np.int64)}, ValidationError, "joined_at after 2200"),
    ({"id": np.array(["c0", "c1"], object)}, ValidationError, "id too short"),
    ({"id": np.ones(3, bool)}, ValidationError, "id bool"),
    ({"tenant": 5}, ValidationError, "tenant number"),
    ({"source": np.zeros(3)}, ValidationError, "source floats"),
    ({"source": np.zeros(4, np.uint8)}, ValidationError, "source too long"),
    ({"consent": np.full(3, 1 << 10)}, ValidationError, "consent public channel bit"),
    ({"consent": np.full(3, -1)}, ValidationError, "consent negative"),
    ({"consent": np.ones(3)}, ValidationError, "consent floats"),
    ({"consent": np.ones(3, bool)}, ValidationError, "consent bool"),
    ({"referrer_id": np.array([None] * 2, object)}, ValidationError, "referrer_id too short"),
    ({"agent_id": np.array([[None]] * 3, object)}, ValidationError, "agent_id 2-D"),
    ({"tags": [np.ones(3, bool)]}, ValidationError, "tags not a mapping"),
    ({"tags": {"vip": np.ones(3)}}, ValidationError, "tag column floats"),
    ({"tags": {"vip": np.ones(2, bool)}}, ValidationError, "tag column too short"),
    ({"tags": {5: np.ones(3, bool)}}, ValidationError, "tag name number"),
    ({"attributes": [np.ones(3)]}, ValidationError, "attributes not a mapping"),
    ({"attributes": {"age": np.ones(4)}}, ValidationError, "attribute column too long"),
    ({"attributes": {None: np.ones(3)}}, ValidationError, "attribute name None"),
]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [pytest.param(o, e, id=i) for o, e, i in CUSTOMER_CONSTRUCTOR],
)
def test_customer_columns_constructor_refuses(
    overrides: dict[str, Any], error: type[PrivdomainError]
) -> None:
    raises_exactly(error, lambda: CustomerColumns(**customer_fields(**overrides)))


# ---------------------------------------------------------------------------- EncodedIds
ENCODED_IDS = [
    ((np.zeros(2), ["a"]), ValidationError, "float codes"),
    ((np.zeros(2, bool), ["a"]), ValidationError, "bool codes"),
    ((np.zeros((2, 1), np.int64), ["a"]), ValidationError, "2-D codes"),
    ((np.int64(0), ["a"]), ValidationError, "scalar code"),
    ((np.array([0, 1]), ["a"]), ValidationError, "code past the values"),
    ((np.array([0, -2]), ["a"]), ValidationError, "code below -1"),
    ((np.array([2**64 - 1], np.uint64), ["a"]), ValidationError, "uint64 code that wraps to -1"),
    ((np.array([0]), np.array([["a"], ["b"]], object)), ValidationError, "2-D values"),
    ((np.array([0]), "a"), ValidationError, "scalar values"),
    ((["x"], ["a"]), ValidationError, "string codes"),
]


@pytest.mark.parametrize(
    ("args", "error"),
    [pytest.param(a, e, id=i) for a, e, i in ENCODED_IDS],
)
def test_encoded_ids_refuses(args: tuple[Any, Any], error: type[PrivdomainError]) -> None:
    raises_exactly(error, lambda: EncodedIds(*args))


ENCODE = [
    (([["c1"], "c2"],), ValidationError, "unhashable list"),
    (([{"a": 1}],), ValidationError, "unhashable dict"),
    ((np.ones(3, bool),), ValidationError, "bool column"),
    ((np.array([["a", "b"]], object),), ValidationError, "2-D"),
    (("c1",), ValidationError, "a single id without a length"),
    ((5, 3), ValidationError, "a number"),
    ((["a", "b"], 3), ValidationError, "wrong length"),
]


@pytest.mark.parametrize(
    ("args", "error"),
    [pytest.param(a, e, id=i) for a, e, i in ENCODE],
)
def test_encoded_ids_encode_refuses(args: tuple[Any, ...], error: type[PrivdomainError]) -> None:
    raises_exactly(error, lambda: EncodedIds.encode(*args))


# ---------------------------------------------------------------------------- Money
MONEY = [
    ((2**63,), InvalidMoneyError, "2**63"),
    ((2**62,), InvalidMoneyError, "2**62"),
    ((-(2**62),), InvalidMoneyError, "-2**62"),
    ((np.uint64(2**64 - 1),), InvalidMoneyError, "uint64 max"),
    ((HUGE,), InvalidMoneyError, "an int of 5000 digits"),
    ((1.5,), InvalidMoneyError, "float"),
    (("100",), InvalidMoneyError, "str"),
    ((True,), InvalidMoneyError, "bool"),
    ((np.bool_(True),), InvalidMoneyError, "numpy bool"),
    ((None,), InvalidMoneyError, "None"),
    ((DEEP,), InvalidMoneyError, "deeply nested list"),
    ((1, "US"), InvalidMoneyError, "two-letter currency"),
    ((1, 156), InvalidMoneyError, "numeric currency"),
    ((1, None), InvalidMoneyError, "None currency"),
    ((1, b"CNY"), InvalidMoneyError, "bytes currency"),
]


@pytest.mark.parametrize(("args", "error"), [pytest.param(a, e, id=i) for a, e, i in MONEY])
def test_money_refuses(args: tuple[Any, ...], error: type[PrivdomainError]) -> None:
    raises_exactly(error, lambda: Money(*args))


MONEY_OF = [
    (("1e999999",), InvalidMoneyError, "1e999999"),
    (("9" * 5000,), InvalidMoneyError, "5000 nines"),
    (("-" + "9" * 5000,), InvalidMoneyError, "minus 5000 nines"),
    (("1e99999999999999999999",), InvalidMoneyError, "an exponent past Decimal's range"),
    ((Decimal("9e999999999"),), InvalidMoneyError, "huge Decimal"),
    ((10**30,), InvalidMoneyError, "10**30"),
    ((HUGE,), InvalidMoneyError, "an int of 5000 digits"),
    ((1e300,), InvalidMoneyError, "1e300"),
    ((np.float64(1e300),), InvalidMoneyError, "numpy 1e300"),
    ((46116860184273879.04,), InvalidMoneyError, "just past 2**62 fen"),
    ((math.nan,), InvalidMoneyError, "NaN"),
    ((np.float32("nan"),), InvalidMoneyError, "numpy float32 NaN"),
    ((Decimal("sNaN"),), InvalidMoneyError, "signalling NaN"),
    (("abc",), InvalidMoneyError, "abc"),
    (("",), InvalidMoneyError, "empty"),
    ((b"1",), InvalidMoneyError, "bytes"),
    ((None,), InvalidMoneyError, "None"),
    ((np.bool_(False),), InvalidMoneyError, "numpy bool"),
    ((Money(100),), InvalidMoneyError, "Money"),
    ((DEEP,), InvalidMoneyError, "deeply nested list"),
    (("1", "yuan"), InvalidMoneyError, "currency name"),
    (("1", 156), InvalidMoneyError, "numeric currency"),
]


@pytest.mark.parametrize(("args", "error"), [pytest.param(a, e, id=i) for a, e, i in MONEY_OF])
def test_money_of_refuses(args: tuple[Any, ...], error: type[PrivdomainError]) -> None:
    raises_exactly(error, lambda: Money.of(*args))


TOP = Money(2**62 - 1)
MONEY_OPERATORS: list[tuple[Callable[[], object], type[PrivdomainError], str]] = [
    (lambda: Money(1) + Money(1, "USD"), CurrencyMismatchError, "add across currencies"),
    (lambda: Money(1) - Money(1, "JPY"), CurrencyMismatchError, "subtract across currencies"),
    (lambda: Money(1) < Money(1, "USD"), CurrencyMismatchError, "< across currencies"),
    (lambda: Money(1) <= Money(1, "USD"), CurrencyMismatchError, "<= across currencies"),
    (lambda: Money(1) > Money(1, "USD"), CurrencyMismatchError, "> across currencies"),
    (lambda: Money(1) >= Money(1, "USD"), CurrencyMismatchError, ">= across currencies"),
    (lambda: TOP + Money(1), InvalidMoneyError, "sum out of range"),
    (lambda: -TOP - Money(1), InvalidMoneyError, "difference out of range"),
    (lambda: Money(100).allocate([]), InvalidMoneyError, "no weights"),
    (lambda: Money(100).allocate([0, 0]), InvalidMoneyError, "zero weights"),
    (lambda: Money(100).allocate([-1, 2]), InvalidMoneyError, "negative weight"),
    (lambda: Money(100).allocate([math.nan]), InvalidMoneyError, "NaN weight"),
    (lambda: Money(100).allocate([math.inf, 1]), InvalidMoneyError, "infinite weight"),
    (lambda: Money(100).allocate(["1", "2"]), InvalidMoneyError, "string weights"),
    (lambda: Money(100).allocate("12"), InvalidMoneyError, "a string of weights"),
    (lambda: Money(100).allocate([True, False]), InvalidMoneyError, "bool weights"),
    (lambda: Money(100).allocate([None, 1]), InvalidMoneyError, "None weight"),
    (lambda: Money(100).allocate([[1], 1]), InvalidMoneyError, "nested weight"),
    (lambda: Money(100).allocate(5), InvalidMoneyError, "a number, not weights"),
    (lambda: Money(100).allocate(None), InvalidMoneyError, "None weights"),  # type: ignore[arg-type]
    (lambda: Money(100).allocate({"a": 1}), InvalidMoneyError, "a mapping of weights"),
    (
        lambda: Money(100).allocate([Decimal("9e999999999999999999")] * 2),
        InvalidMoneyError,
        "weights at the end of Decimal's range",
    ),
]


@pytest.mark.parametrize(
    ("call", "error"), [pytest.param(c, e, id=i) for c, e, i in MONEY_OPERATORS]
)
def test_money_operators_refuse(call: Callable[[], object], error: type[PrivdomainError]) -> None:
    raises_exactly(error, call)


@pytest.mark.parametrize(
    "combine",
    [
        lambda m: m + 1,
        lambda m: 1 + m,
        lambda m: m - 1.5,
        lambda m: m < 5,
        lambda m: m >= Decimal(1),
        lambda m: m > "a",
        lambda m: sum([m, m]),
    ],
    ids=["+ int", "int +", "- float", "< int", ">= Decimal", "> str", "sum() from 0"],
)
def test_money_with_a_bare_number_is_pythons_type_error(
    combine: Callable[[Money], object],
) -> None:
    # the operators return NotImplemented, so Python raises its own TypeError, naming both types
    with pytest.raises(TypeError, match="Money"):
        combine(Money(100))
    assert (Money(100) == 100) is False


# ---------------------------------------------------------------------------- Customer, Touchpoint
def _customer(**overrides: Any) -> Customer:
    fields: dict[str, Any] = {"id": "c1", "tenant": TENANT, "joined_at": T0}
    fields.update(overrides)
    return Customer(**fields)


CUSTOMER = [
    ({"id": HUGE}, InvalidRecordError, "id an int of 5000 digits"),
    ({"id": DEEP}, InvalidRecordError, "id deeply nested"),
    ({"id": ["c1"]}, InvalidRecordError, "id list"),
    ({"tenant": None}, InvalidRecordError, "tenant None"),
    ({"joined_at": HUGE}, InvalidRecordError, "joined_at huge int"),
    ({"joined_at": DEEP}, InvalidRecordError, "joined_at deeply nested"),
    ({"joined_at": 1_767_225_600}, InvalidRecordError, "joined_at epoch seconds"),
    ({"joined_at": "2026-01-01"}, InvalidRecordError, "joined_at str"),
    ({"joined_at": dt.date(2026, 1, 1)}, InvalidRecordError, "joined_at date"),
    ({"joined_at": dt.datetime(2026, 1, 1)}, NaiveDatetimeError, "joined_at naive"),
    (
        {"joined_at": dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))},
        ValidationError,
        "joined_at year 1 with an offset",
    ),
    (
        {"joined_at": dt.datetime(9999, 12, 31, 23, tzinfo=dt.timezone(dt.timedelta(hours=-8)))},
        ValidationError,
        "joined_at year 9999 with an offset",
    ),
    ({"joined_at": np.datetime64("NaT")}, ValidationError, "joined_at NaT"),
    ({"joined_at": np.datetime64("2300-01-01")}, ValidationError, "joined_at 2300"),
    ({"source": HUGE}, InvalidRecordError, "source huge int"),
    ({"source": 10**100}, InvalidRecordError, "source 10**100"),
    ({"source": True}, InvalidRecordError, "source bool"),
    ({"source": 1.0}, InvalidRecordError, "source float"),
    ({"source": DEEP}, InvalidRecordError, "source deeply nested"),
    ({"source": "fax"}, InvalidRecordError, "source unknown name"),
    ({"attributes": 5}, InvalidRecordError, "attributes number"),
    ({"attributes": [("age", 3)]}, InvalidRecordError, "attributes pairs"),
    ({"attributes": ["ab"]}, InvalidRecordError, "attributes list"),
    ({"attributes": {1: 2}}, InvalidRecordError, "attribute name number"),
    ({"attributes": {"x": DEEP}}, InvalidRecordError, "attribute value nested"),
    ({"tags": 5}, InvalidRecordError, "tags number"),
    ({"tags": b"vip"}, InvalidRecordError, "tags bytes"),
    ({"tags": [1]}, InvalidRecordError, "tag number"),
    ({"tags": [DEEP]}, InvalidRecordError, "tag deeply nested"),
    ({"consent": 5}, InvalidRecordError, "consent number"),
    ({"consent": [5.5]}, InvalidRecordError, "consent float"),
    ({"consent": [DEEP]}, InvalidRecordError, "consent deeply nested"),
    ({"consent": [["wecom"]]}, InvalidRecordError, "consent unhashable"),
    ({"consent": ["douyin"]}, InvalidRecordError, "consent public channel"),
    ({"referrer_id": 5}, InvalidRecordError, "referrer_id number"),
    ({"agent_id": []}, InvalidRecordError, "agent_id list"),
]


@pytest.mark.parametrize(("overrides", "error"), [pytest.param(o, e, id=i) for o, e, i in CUSTOMER])
def test_customer_refuses(overrides: dict[str, Any], error: type[PrivdomainError]) -> None:
    raises_exactly(error, lambda: _customer(**overrides))


def _touchpoint(**overrides: Any) -> Touchpoint:
    fields: dict[str, Any] = {
        "id": "t1",
        "tenant": TENANT,
        "customer_id": "c1",
        "at": T0,
        "channel": "mini_program",
        "kind": "purchased",
        "amount": Money(990),
    }
    fields.update(overrides)
    return Touchpoint(**fields)


TOUCHPOINT = [
    ({"id": None}, InvalidRecordError, "id None"),
    ({"id": 7}, InvalidRecordError, "id number"),
    ({"customer_id": HUGE}, InvalidRecordError, "customer_id huge int"),
    ({"at": HUGE}, InvalidRecordError, "at huge int"),
    ({"at": DEEP}, InvalidRecordError, "at deeply nested"),
    ({"at": 1.5}, InvalidRecordError, "at float"),
    ({"at": dt.datetime(2026, 1, 1)}, NaiveDatetimeError, "at naive"),
    (
        {"at": dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=14)))},
        ValidationError,
        "at year 1 with an offset",
    ),
    ({"at": dt.datetime(1899, 12, 31, tzinfo=dt.UTC)}, ValidationError, "at 1899"),
    ({"channel": 10**100}, InvalidRecordError, "channel 10**100"),
    ({"channel": HUGE}, InvalidRecordError, "channel huge int"),
    ({"channel": DEEP}, InvalidRecordError, "channel deeply nested"),
    ({"channel": -1}, InvalidRecordError, "channel -1"),
    ({"channel": 2.0}, InvalidRecordError, "channel float"),
    ({"channel": "fax"}, InvalidRecordError, "channel unknown name"),
    ({"kind": True}, InvalidRecordError, "kind bool"),
    ({"kind": 1.5}, InvalidRecordError, "kind float"),
    ({"kind": 99}, InvalidRecordError, "kind unknown code"),
    ({"kind": HUGE}, InvalidRecordError, "kind huge int"),
    ({"kind": Channel.WECOM}, InvalidRecordError, "kind a channel"),
    ({"amount": 990}, InvalidMoneyError, "amount number"),
    ({"amount": "9.90"}, InvalidMoneyError, "amount str"),
    ({"amount": DEEP}, InvalidMoneyError, "amount deeply nested"),
    ({"amount": Money(-1)}, InvalidMoneyError, "amount negative"),
    ({"amount": None}, InvalidMoneyError, "purchase without an amount"),
    ({"discount": Money(100, "USD")}, InvalidMoneyError, "discount in another currency"),
    ({"discount": 1}, InvalidMoneyError, "discount number"),
    ({"promotion": "False"}, InvalidRecordError, "promotion str"),
    ({"promotion": 1}, InvalidRecordError, "promotion int"),
    ({"promotion": None}, InvalidRecordError, "promotion None"),
    ({"promotion": math.nan}, InvalidRecordError, "promotion NaN"),
    ({"related_customer_id": 5}, InvalidRecordError, "related_customer_id number"),
    ({"agent_id": ["a"]}, InvalidRecordError, "agent_id list"),
]


@pytest.mark.parametrize(
    ("overrides", "error"), [pytest.param(o, e, id=i) for o, e, i in TOUCHPOINT]
)
def test_touchpoint_refuses(overrides: dict[str, Any], error: type[PrivdomainError]) -> None:
    raises_exactly(error, lambda: _touchpoint(**overrides))


def test_record_errors_name_the_field() -> None:
    assert "related_customer_id" in str(
        raises_exactly(InvalidRecordError, lambda: _touchpoint(related_customer_id=5))
    )
    assert "agent_id" in str(raises_exactly(InvalidRecordError, lambda: _customer(agent_id=5)))
    assert "referrer_id" in str(
        raises_exactly(InvalidRecordError, lambda: _customer(referrer_id=5))
    )


def test_unknown_channel_names_list_the_valid_ones() -> None:
    error = raises_exactly(InvalidRecordError, lambda: _touchpoint(channel="fax"))
    assert "'fax'" in str(error)
    assert "wecom" in str(error)
    assert "mini_program" in str(error)
    error = raises_exactly(InvalidRecordError, lambda: _touchpoint(kind="teleported"))
    assert "purchased" in str(error)


# ---------------------------------------------------------------------------- simulate_pool
SIMULATE = [
    ({"seed": -1}, ValidationError, "negative seed"),
    ({"seed": 1.5}, ValidationError, "float seed"),
    ({"seed": True}, ValidationError, "bool seed"),
    ({"seed": "7"}, ValidationError, "str seed"),
    ({"n_customers": -1}, ValidationError, "negative n"),
    ({"n_customers": 1.0}, ValidationError, "float n"),
    ({"n_customers": "10"}, ValidationError, "str n"),
    ({"n_customers": True}, ValidationError, "bool n"),
    ({"n_customers": 2**40}, ValidationError, "n beyond int32 indices"),
    ({"params": {"days": 3}}, ValidationError, "params not SimulationParams"),
    ({"no_such_parameter": 1}, ValidationError, "unknown parameter"),
    ({"days": "30"}, ValidationError, "days str"),
    ({"days": 0}, ValidationError, "days zero"),
    ({"days": 1.5}, ValidationError, "days float"),
    ({"days": 10**10}, ValidationError, "days beyond datetime"),
    ({"days": 100_000}, ValidationError, "days beyond 2200"),
    ({"r": math.nan}, ValidationError, "NaN rate"),
    ({"r": math.inf}, ValidationError, "infinite rate"),
    ({"alpha": "x"}, ValidationError, "str rate"),
    ({"referral_share": "x"}, ValidationError, "str probability"),
    ({"referral_share": 1.5}, ValidationError, "probability above 1"),
    ({"n_agents": "x"}, ValidationError, "str n_agents"),
    ({"n_agents": -1}, ValidationError, "negative n_agents"),
    ({"sources": 5}, ValidationError, "sources number"),
    ({"sources": {Channel.JD: 0}}, ValidationError, "sources all zero"),
    ({"sources": {Channel.JD: "x"}}, ValidationError, "sources str weight"),
    ({"sources": {"jd": 1.0}}, ValidationError, "sources keyed by name"),
    ({"open_rate": {Channel.SMS: "x"}}, ValidationError, "open rate str"),
    ({"start": "2025-01-01"}, ValidationError, "start str"),
    ({"start": dt.datetime(2025, 1, 1)}, NaiveDatetimeError, "start naive"),
    ({"tenant": 5}, InvalidRecordError, "tenant number"),
    ({"currency": "yuan"}, InvalidMoneyError, "currency name"),
]


@pytest.mark.parametrize(("overrides", "error"), [pytest.param(o, e, id=i) for o, e, i in SIMULATE])
def test_simulate_pool_refuses(overrides: dict[str, Any], error: type[PrivdomainError]) -> None:
    kwargs: dict[str, Any] = {"n_customers": 10, "seed": 1}
    kwargs.update(overrides)
    raises_exactly(error, lambda: simulate_pool(**kwargs))


def test_simulate_pool_takes_numpy_integers() -> None:
    sim = simulate_pool(np.int64(20), seed=np.int64(3))  # type: ignore[arg-type]
    assert len(sim.pool()) == 20


# ---------------------------------------------------------------------------- rows, not errors
@pytest.fixture
def c1_pool(pool: Pool) -> Pool:
    pool.ingest([customer("c1"), customer("c2")])
    return pool


def purchases(amount: Any, **kwargs: Any) -> TouchpointColumns:
    return TouchpointColumns.from_arrays(**touchpoint_arrays(len(amount), amount=amount, **kwargs))


class TestAmountsNeverWrap:
    def test_whole_yuan_int64_whose_fen_overflow_are_invalid(self, c1_pool: Pool) -> None:
        cols = purchases(np.array([10**17, 5, 2**62], dtype=np.int64))
        assert cols.amount_state.tolist() == [-1, 1, -1]
        report = c1_pool.ingest(cols)
        assert reasons_by_index(report) == {
            0: RejectReason.INVALID_AMOUNT,
            2: RejectReason.INVALID_AMOUNT,
        }
        assert c1_pool.events.amount_minor.tolist() == [500]

    def test_uint64_minor_units_beyond_the_range_are_invalid(self, c1_pool: Pool) -> None:
        amount = np.array([2**64 - 1, 2**63, 2**62, 2**62 - 1, 7], dtype=np.uint64)
        cols = purchases(amount, minor_units=True)
        assert cols.amount_state.tolist() == [-1, -1, -1, 1, 1]
        assert cols.amount_minor[3:].tolist() == [2**62 - 1, 7]
        report = c1_pool.ingest(cols)
        assert set(reasons_by_index(report)) == {0, 1, 2}
        assert_accounted(report, touchpoints=5)

    def test_the_int_bound_is_the_float_bound(self) -> None:
        ints = purchases(np.array([2**62 - 1, 2**62], dtype=np.int64), minor_units=True)
        floats = purchases(np.array([2.0**61, 2.0**62]), minor_units=True)
        assert ints.amount_state.tolist() == floats.amount_state.tolist() == [1, -1]

    def test_huge_python_ints_in_an_object_column_are_invalid(self) -> None:
        cols = purchases([10**30, -(10**30), 2**64, 3], minor_units=True)
        assert cols.amount_state.tolist() == [-1, -1, -1, 1]
        assert cols.amount_minor[3] == 3

    @pytest.mark.parametrize(
        "amount",
        [
            np.array([-1, 5], dtype=np.int64),
            np.array([-1, 5], dtype=np.int8),
            np.array([-0.01, 0.05]),
            np.array([-1, 5], dtype=object),
            np.array([Money(-1), Money(5)], dtype=object),
            np.array(["-1", "5"]),
            [Decimal("-1"), Decimal("5")],
        ],
        ids=["int64", "int8", "float", "object ints", "Money", "strings", "Decimal"],
    )
    def test_negative_purchases_are_invalid_on_every_path(self, c1_pool: Pool, amount: Any) -> None:
        cols = purchases(amount, minor_units=True)
        assert cols.amount_state.tolist() == [-1, 1]
        report = c1_pool.ingest(cols)
        assert reasons_by_index(report) == {0: RejectReason.INVALID_AMOUNT}

    def test_a_direct_constructor_cannot_mark_a_negative_or_huge_amount_valid(
        self, c1_pool: Pool
    ) -> None:
        cols = TouchpointColumns(
            **touchpoint_fields(
                amount_minor=np.array([-500, 2**62, 500]),
                amount_state=np.ones(3, np.int8),
                discount_minor=np.array([-7, 2**62, 0]),
            )
        )
        assert cols.amount_state.tolist() == [-1, -1, 1]
        assert cols.discount_minor.tolist() == [-1, -1, 0]
        report = c1_pool.ingest(cols)
        assert reasons_by_index(report) == {
            0: RejectReason.INVALID_AMOUNT,
            1: RejectReason.INVALID_AMOUNT,
        }
        assert c1_pool.events.amount_minor.tolist() == [500]

    def test_the_constructor_does_not_change_the_callers_arrays(self) -> None:
        state = np.ones(3, np.int8)
        minor = np.array([-500, 1, 2])
        TouchpointColumns(**touchpoint_fields(amount_minor=minor, amount_state=state))
        assert state.tolist() == [1, 1, 1]
        assert minor.tolist() == [-500, 1, 2]


class TestMoneyInColumns:
    def test_money_keeps_its_currency(self, c1_pool: Pool) -> None:
        cols = purchases([Money(500, "JPY"), Money(990, "CNY"), Money.of("1.00", "cny")])
        assert cols.amount_minor.tolist() == [500, 990, 100]
        assert list(cols.currency) == ["JPY", "CNY", "CNY"]
        report = c1_pool.ingest(cols)
        # never 500 JPY read as 5.00 CNY: the yen purchase is another currency
        assert reasons_by_index(report) == {0: RejectReason.CURRENCY_MISMATCH}
        assert c1_pool.snapshot(AS_OF).gross_spend.tolist() == pytest.approx([10.9, 0.0])

    def test_a_yen_pool_takes_yen_money_from_columns(self) -> None:
        pool = Pool(TENANT, currency="JPY")
        pool.ingest([customer("c1")])
        cols = purchases([Money(500, "JPY"), 500.0], currency="JPY")
        assert cols.amount_minor.tolist() == [500, 500]
        report = pool.ingest(cols)
        assert report.ok
        assert pool.events.amount_minor.tolist() == [500, 500]

    def test_money_overrides_the_currency_argument_for_its_row_only(self) -> None:
        cols = purchases([Money(500, "JPY"), 5.0], currency="USD")
        assert list(cols.currency) == ["JPY", "USD"]
        assert cols.amount_minor.tolist() == [500, 500]

    def test_a_money_discount_in_another_currency_is_invalid(self, c1_pool: Pool) -> None:
        cols = purchases(
            [Money(1000), Money(1000)], discount=[Money(100, "USD"), Money(100, "CNY")]
        )
        assert cols.discount_minor.tolist() == [-1, 100]
        report = c1_pool.ingest(cols)
        assert reasons_by_index(report) == {0: RejectReason.INVALID_AMOUNT}

    def test_a_plain_discount_is_scaled_by_its_rows_currency(self) -> None:
        cols = purchases([Money(1000, "JPY")], discount=[100.0])
        assert cols.discount_minor.tolist() == [100]  # 100 yen, not 10000

    @pytest.mark.parametrize(
        "junk",
        ["abc", "", "1,000", "nan", "inf", b"1", [1], {"a": 1}, True, Decimal("NaN"), object()],
        ids=repr,
    )
    def test_junk_in_an_object_amount_column_is_an_invalid_amount(
        self, c1_pool: Pool, junk: object
    ) -> None:
        amount = np.empty(2, dtype=object)
        amount[:] = [junk, 9.9]
        cols = purchases(amount)
        assert cols.amount_state.tolist() == [-1, 1]
        report = c1_pool.ingest(cols)
        assert reasons_by_index(report) == {0: RejectReason.INVALID_AMOUNT}

    def test_decimal_strings_are_read_exactly(self) -> None:
        cols = purchases(np.array(["12.345", " 1.015 ", "0.1"], dtype=object))
        assert cols.amount_minor.tolist() == [Money.of(a).minor for a in ("12.345", "1.015", "0.1")]

    def test_missing_values_are_no_amount(self) -> None:
        cols = purchases([None, math.nan, np.float32("nan"), 1.5], kind="visited")
        assert cols.amount_state.tolist() == [0, 0, 0, 1]  # the pool refuses the last one


class TestIdsNeverCollide:
    def test_int64_ids_round_trip(self, c1_pool: Pool) -> None:
        ids = np.array([2**63 - 1, -(2**63), 0], dtype=np.int64)
        cols = TouchpointColumns.from_arrays(**touchpoint_arrays(id=ids))
        assert cols.id.tolist() == ids.tolist()
        assert c1_pool.ingest(cols).touchpoints_accepted == 3

    def test_uint64_ids_below_2_63_are_taken(self) -> None:
        ids = np.array([2**63 - 1, 1, 2], dtype=np.uint64)
        cols = TouchpointColumns.from_arrays(**touchpoint_arrays(id=ids))
        assert cols.id.dtype == np.int64
        assert cols.id.tolist() == [2**63 - 1, 1, 2]

    def test_a_list_of_python_ints_is_an_integer_id_column(self) -> None:
        cols = TouchpointColumns.from_arrays(**touchpoint_arrays(id=[1, 2, 3]))
        assert cols.id.dtype == np.int64

    def test_mixed_ids_are_never_turned_into_strings(self, c1_pool: Pool) -> None:
        # numpy would make ["t0", 1] the strings "t0" and "1"; the 1 is not a valid id
        cols = TouchpointColumns.from_arrays(**touchpoint_arrays(id=["t0", 1, "t2"]))
        assert cols.id.tolist() == ["t0", 1, "t2"]
        assert reasons_by_index(c1_pool.ingest(cols)) == {1: RejectReason.INVALID}

    def test_missing_markers_in_id_columns_mean_none(self, c1_pool: Pool) -> None:
        cols = TouchpointColumns.from_arrays(
            **touchpoint_arrays(
                kind="invited",
                amount=None,
                related_customer_id=[math.nan, None, "c2"],
                agent_id=np.array([math.nan, "a1", None], dtype=object),
            )
        )
        assert cols.related_customer_id.codes.tolist()[:2] == [-1, -1]
        assert cols.agent_id.present().tolist() == [False, True, False]
        assert c1_pool.ingest(cols).ok


class TestOtherColumns:
    def test_promotion_takes_bools_and_zeros_and_ones(self) -> None:
        for promotion in ([True, False, True], np.array([1, 0, 1]), [1, False, np.True_]):
            cols = TouchpointColumns.from_arrays(**touchpoint_arrays(promotion=promotion))
            assert cols.promotion.tolist() == [True, False, True]
        scalar = TouchpointColumns.from_arrays(**touchpoint_arrays(promotion=np.int64(1)))
        assert scalar.promotion.tolist() == [True] * 3

    def test_channel_names_any_case_and_codes_in_object_columns(self) -> None:
        cols = TouchpointColumns.from_arrays(
            **touchpoint_arrays(channel=["WeCom", 1, np.int64(1)], kind="PURCHASED")
        )
        assert cols.channel.tolist() == [1, 1, 1]

    @pytest.mark.parametrize(
        "channel", [True, 1.0, None, [1], "fax", -1, 2**64, max(c.value for c in Channel) + 1]
    )
    def test_what_is_no_channel_becomes_the_unknown_code(
        self, c1_pool: Pool, channel: object
    ) -> None:
        values = np.empty(2, dtype=object)
        values[:] = [channel, "wecom"]
        cols = TouchpointColumns.from_arrays(**touchpoint_arrays(2, channel=values))
        assert cols.channel.tolist() == [255, Channel.WECOM.value]
        report = c1_pool.ingest(cols)
        assert reasons_by_index(report) == {0: RejectReason.INVALID}
        assert "channel" in report.rejected[0].detail

    def test_codes_in_the_constructor_outside_the_enum_are_unknown(self) -> None:
        cols = TouchpointColumns(
            **touchpoint_fields(channel=np.array([1, 100, -1]), kind=np.array([8, 8, 99]))
        )
        assert cols.channel.tolist() == [1, 255, 255]
        assert cols.kind.tolist() == [8, 8, 255]

    def test_currency_codes_are_read_like_money_reads_them(self) -> None:
        # " jpy " is yen: 500 of them, not 50000
        cols = purchases([500.0, 500.0], currency=[" jpy ", "JPY"])
        assert cols.amount_minor.tolist() == [500, 500]

    def test_customer_columns_read_missing_ids_as_none(self) -> None:
        cols = CustomerColumns.from_arrays(
            **customer_arrays(referrer_id=[math.nan, None, "c0"], agent_id=np.full(3, np.nan))
        )
        assert cols.referrer_id.tolist() == [None, None, "c0"]
        assert cols.agent_id.tolist() == [None, None, None]
        pool = new_pool()
        assert_accounted(pool.ingest(cols), customers=3)
        assert len(pool) == 3
