"""Exact money: an integer count of a currency's minor unit (fen, cents)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

import attrs
import numpy as np

from privdomain.errors import CurrencyMismatchError, InvalidMoneyError

__all__ = ["Money", "minor_unit_exponent"]

# ISO 4217 exponents of the currencies a Chinese brand meets most; anything else defaults to 2.
_EXPONENTS: dict[str, int] = {
    "CNY": 2, "HKD": 2, "MOP": 2, "TWD": 2, "USD": 2, "EUR": 2, "GBP": 2, "SGD": 2, "AUD": 2,
    "CAD": 2, "CHF": 2, "MYR": 2, "THB": 2, "JPY": 0, "KRW": 0, "VND": 0, "IDR": 2,
}  # fmt: skip


def minor_unit_exponent(currency: str) -> int:
    """Decimal places of ``currency``'s minor unit (2 for CNY: 1 yuan = 100 fen; 0 for JPY)."""
    return _EXPONENTS.get(currency, 2)


def _currency_code(value: str) -> str:
    code = str(value).strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise InvalidMoneyError(f"currency must be a three-letter ISO 4217 code, got {value!r}")
    return code


@attrs.frozen(order=False)
class Money:
    """An exact amount: ``minor`` units (fen, cents) of ``currency``.

    Build one from a decimal amount with :meth:`of` (``Money.of("12.34", "CNY")``) or directly from
    minor units (``Money(1234, "CNY")``). Arithmetic between different currencies raises
    :class:`~privdomain.errors.CurrencyMismatchError`; splitting uses the largest-remainder method
    so that the parts always add up to the whole.
    """

    minor: int = attrs.field()
    currency: str = attrs.field(default="CNY", converter=_currency_code)

    @minor.validator
    def _check_minor(self, _: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise InvalidMoneyError(f"minor units must be an integer, got {value!r}")

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "minor", int(self.minor))

    @classmethod
    def of(cls, amount: str | int | float | Decimal, currency: str = "CNY") -> Money:
        """Money from an amount in major units (yuan), rounded half-to-even to the minor unit.

        Floats are read through their shortest decimal form (``0.1`` is 10 fen, not
        0.1000000000000000055 yuan). NaN and infinities raise
        :class:`~privdomain.errors.InvalidMoneyError`.
        """
        code = _currency_code(currency)
        if isinstance(amount, bool):
            raise InvalidMoneyError(f"amount must be a number, got {amount!r}")
        if isinstance(amount, float) and not math.isfinite(amount):
            raise InvalidMoneyError(f"amount must be finite, got {amount!r}")
        try:
            dec = Decimal(str(amount)) if isinstance(amount, float) else Decimal(amount)
        except (InvalidOperation, TypeError, ValueError):
            raise InvalidMoneyError(f"amount must be a number, got {amount!r}") from None
        if not dec.is_finite():
            raise InvalidMoneyError(f"amount must be finite, got {amount!r}")
        exp = minor_unit_exponent(code)
        minor = dec.scaleb(exp).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
        return cls(int(minor), code)

    @property
    def amount(self) -> Decimal:
        """The exact amount in major units."""
        return Decimal(self.minor).scaleb(-minor_unit_exponent(self.currency))

    def __float__(self) -> float:
        return float(self.amount)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.minor >= other.minor

    def allocate(self, weights: Sequence[float | int | Decimal]) -> tuple[Money, ...]:
        """Split into parts proportional to ``weights`` that add up exactly to this amount.

        Largest-remainder method: every part gets the floor of its exact share, and the minor
        units left over go one each to the parts with the largest remainders (ties to the
        earlier part). Weights must be finite, non-negative and not all zero.
        """
        exact = [Decimal(str(w)) if isinstance(w, float) else Decimal(w) for w in weights]
        if not exact or any(not w.is_finite() or w < 0 for w in exact) or sum(exact) == 0:
            raise InvalidMoneyError(f"weights must be finite, >= 0 and not all zero: {weights!r}")
        total = sum(exact)
        sign = -1 if self.minor < 0 else 1
        whole = abs(self.minor)
        shares = [Decimal(whole) * w / total for w in exact]
        floors = [int(s) for s in shares]
        left = whole - sum(floors)
        order = sorted(range(len(shares)), key=lambda i: (-(shares[i] - floors[i]), i))
        for i in order[:left]:
            floors[i] += 1
        return tuple(Money(sign * f, self.currency) for f in floors)
