"""Exact money: an integer count of a currency's minor unit (fen, cents)."""

from __future__ import annotations

import decimal
import math
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal

import attrs
import numpy as np

from privdomain.errors import CurrencyMismatchError, InvalidMoneyError, short_repr

__all__ = ["MAX_MINOR_UNITS", "Money", "minor_unit_exponent"]

#: Every amount privdomain holds lies strictly between ``-MAX_MINOR_UNITS`` and
#: ``MAX_MINOR_UNITS`` minor units (2**62 fen is about 46 thousand trillion yuan). The bound leaves
#: room for sums and differences of two amounts in ``int64`` columns without wrapping.
MAX_MINOR_UNITS = 2**62

# ISO 4217 exponents of the currencies a Chinese brand meets most; anything else defaults to 2.
_EXPONENTS: dict[str, int] = {
    "CNY": 2, "HKD": 2, "MOP": 2, "TWD": 2, "USD": 2, "EUR": 2, "GBP": 2, "SGD": 2, "AUD": 2,
    "CAD": 2, "CHF": 2, "MYR": 2, "THB": 2, "JPY": 0, "KRW": 0, "VND": 0, "IDR": 2,
}  # fmt: skip

# Decimal arithmetic that neither rounds an in-range amount nor overflows on an absurd one: the
# digits of any amount below MAX_MINOR_UNITS fit in 40, and the exponent range is the widest.
_EXACT = decimal.Context(
    prec=40, rounding=ROUND_HALF_EVEN, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN
)
# A decimal amount with more integer digits than this is out of range in any currency.
_MAX_DIGITS = 20


def minor_unit_exponent(currency: str) -> int:
    """Decimal places of ``currency``'s minor unit (2 for CNY: 1 yuan = 100 fen; 0 for JPY).

    The code is read as :class:`Money` reads it (surrounding spaces and case do not matter);
    currencies privdomain does not list have 2.

    Raises
    ------
    InvalidMoneyError
        If ``currency`` is not a ``str``.
    """
    if not isinstance(currency, str):
        raise InvalidMoneyError(f"a currency is a str code, got {short_repr(currency)}")
    return _EXPONENTS.get(currency.strip().upper(), 2)


def _currency_code(value: str) -> str:
    code = value.strip().upper() if isinstance(value, str) else ""
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise InvalidMoneyError(
            f"currency must be a three-letter ISO 4217 code, got {short_repr(value)}"
        )
    return code


def _check_minor(value: int, what: str = "minor units") -> int:
    """``value`` as an ``int`` in the supported range, or :class:`InvalidMoneyError`."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise InvalidMoneyError(f"{what} must be an integer, got {short_repr(value)}")
    minor = int(value)
    if not -MAX_MINOR_UNITS < minor < MAX_MINOR_UNITS:
        raise InvalidMoneyError(
            f"{what} {short_repr(minor)} are out of range: |minor units| must be below 2**62"
        )
    return minor


def _decimal(value: object, what: str) -> Decimal:
    """A finite ``Decimal`` from an int, float, ``Decimal`` or decimal string (numpy numbers too);
    nothing else, not even the tuples ``Decimal`` itself would take."""
    if isinstance(value, bool | np.bool_):
        raise InvalidMoneyError(f"{what} must be a number, got {value!r}")
    if isinstance(value, np.integer):
        value = int(value)
    elif isinstance(value, np.floating):
        value = float(value)
    if not isinstance(value, int | float | Decimal | str):
        raise InvalidMoneyError(
            f"{what} must be a number or a decimal string, got {type(value).__name__}: "
            f"{short_repr(value)}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidMoneyError(f"{what} must be finite, got {value!r}")
    try:
        # floats through their shortest decimal form: 0.1 is 0.1, not 0.1000000000000000055...
        dec = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (decimal.DecimalException, TypeError, ValueError):
        raise InvalidMoneyError(f"{what} must be a number, got {short_repr(value)}") from None
    if not dec.is_finite():
        raise InvalidMoneyError(f"{what} must be finite, got {short_repr(value)}")
    return dec


def _minor_of(amount: Decimal, exponent: int) -> int:
    """``amount`` (finite) times ``10**exponent``, rounded half-to-even, checked for range."""
    if amount and amount.adjusted() >= _MAX_DIGITS:
        raise InvalidMoneyError(
            f"amount {short_repr(amount)} is out of range: |minor units| must be below 2**62"
        )
    try:
        scaled = amount.scaleb(exponent, _EXACT).quantize(Decimal(1), context=_EXACT)
    except decimal.DecimalException:  # e.g. an exponent at the end of Decimal's range
        raise InvalidMoneyError(f"amount {short_repr(amount)} is out of range") from None
    return _check_minor(int(scaled), "amount in minor units")


@attrs.frozen(order=False)
class Money:
    """An exact amount: ``minor`` units (fen, cents) of ``currency``.

    Build one from a decimal amount with :meth:`of` (``Money.of("12.34", "CNY")``) or directly from
    minor units (``Money(1234, "CNY")``). Arithmetic between different currencies raises
    :class:`~privdomain.errors.CurrencyMismatchError`; splitting uses the largest-remainder method
    so that the parts always add up to the whole.

    Attributes
    ----------
    minor
        The amount in minor units: an ``int`` (or numpy integer) with
        ``|minor| < 2**62`` (:data:`MAX_MINOR_UNITS`), the range of every amount in privdomain.
        Anything else, including a result of ``+`` or ``-`` outside that range, raises
        :class:`~privdomain.errors.InvalidMoneyError`.
    currency
        A three-letter ISO 4217 code, in any case (default ``"CNY"``).

    Notes
    -----
    ``+``, ``-`` and the ordering comparisons take another :class:`Money` of the same currency.
    With any other operand they return ``NotImplemented``, so Python raises its usual
    ``TypeError`` (``Money(1) + 1`` is an error, never 1 fen plus one of something).
    """

    minor: int = attrs.field(converter=_check_minor)
    currency: str = attrs.field(default="CNY", converter=_currency_code)

    @classmethod
    def of(cls, amount: str | int | float | Decimal, currency: str = "CNY") -> Money:
        """Money from an amount in major units (yuan), rounded half-to-even to the minor unit.

        Parameters
        ----------
        amount
            A decimal string, an ``int``, a ``float`` or a ``Decimal`` (numpy numbers too).
            Floats are read through their shortest decimal form (``0.1`` is 10 fen, not
            0.1000000000000000055 yuan).
        currency
            A three-letter ISO 4217 code.

        Raises
        ------
        InvalidMoneyError
            If ``amount`` is not a finite number (NaN, infinities, ``"abc"``, ``True``) or lies
            outside the supported range (see :class:`Money`).
        """
        code = _currency_code(currency)
        return cls(_minor_of(_decimal(amount, "amount"), minor_unit_exponent(code)), code)

    @property
    def amount(self) -> Decimal:
        """The exact amount in major units."""
        return Decimal(self.minor).scaleb(-minor_unit_exponent(self.currency), _EXACT)

    def __float__(self) -> float:
        return float(self.amount)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatchError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor >= other.minor

    def allocate(self, weights: Iterable[float | int | Decimal]) -> tuple[Money, ...]:
        """Split into parts proportional to ``weights`` that add up exactly to this amount.

        Largest-remainder method: every part gets the floor of its exact share, and the minor
        units left over go one each to the parts with the largest remainders (ties to the
        earlier part).

        Parameters
        ----------
        weights
            ``int``, ``float`` or ``Decimal`` weights (numpy numbers too): finite, non-negative
            and not all zero.

        Raises
        ------
        InvalidMoneyError
            If ``weights`` is not a collection of such numbers.
        """
        if isinstance(weights, str | bytes) or not isinstance(weights, Iterable):
            raise InvalidMoneyError(f"weights must be a collection of numbers, got {weights!r}")
        exact = [_weight(w, weights) for w in weights]
        if not exact or any(w < 0 for w in exact) or all(w == 0 for w in exact):
            raise InvalidMoneyError(
                f"weights must be finite, >= 0 and not all zero: {short_repr(weights)}"
            )
        sign = -1 if self.minor < 0 else 1
        whole = abs(self.minor)
        try:
            total = _EXACT.create_decimal(0)
            for w in exact:
                total = _EXACT.add(total, w)
            shares = [_EXACT.divide(_EXACT.multiply(Decimal(whole), w), total) for w in exact]
        except decimal.DecimalException:  # weights near the end of Decimal's exponent range
            raise InvalidMoneyError(
                f"weights are too large to split by: {short_repr(weights)}"
            ) from None
        floors = [min(int(s), whole) for s in shares]
        left = whole - sum(floors)
        order = sorted(range(len(shares)), key=lambda i: (-(shares[i] - floors[i]), i))
        for i in order[:left]:
            floors[i] += 1
        return tuple(Money(sign * f, self.currency) for f in floors)


def _weight(value: object, weights: object) -> Decimal:
    if isinstance(value, str | bytes):  # Decimal("1") would take it; a weight is a number
        raise InvalidMoneyError(f"weights must be numbers, got {short_repr(weights)}")
    try:
        return _decimal(value, "weight")
    except InvalidMoneyError:
        raise InvalidMoneyError(
            f"weights must be finite, >= 0 and not all zero: {short_repr(weights)}"
        ) from None
