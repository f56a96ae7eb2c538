"""Money is exact: integer minor units, half-even rounding at the edge, splits that add up."""

from __future__ import annotations

import math
from decimal import Decimal

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privdomain import Money
from privdomain.domain import minor_unit_exponent
from privdomain.domain.money import MAX_MINOR_UNITS
from privdomain.errors import CurrencyMismatchError, InvalidMoneyError, PrivdomainError


class TestConstruction:
    def test_minor_units_and_the_amount_they_stand_for(self) -> None:
        m = Money(1234, "CNY")
        assert m.minor == 1234
        assert m.amount == Decimal("12.34")
        assert str(m) == "12.34 CNY"
        assert float(m) == 12.34

    def test_currency_defaults_to_cny_and_is_normalised(self) -> None:
        assert Money(1).currency == "CNY"
        assert Money(1, " usd ").currency == "USD"
        assert Money(100, "cny") == Money(100, "CNY")

    @pytest.mark.parametrize("code", ["RMB1", "yuan", "", "C1Y", "人民币"])
    def test_a_currency_is_a_three_letter_code(self, code: str) -> None:
        with pytest.raises(InvalidMoneyError, match="ISO 4217"):
            Money(1, code)

    @pytest.mark.parametrize("minor", [1.5, 1.0, "100", True, None])
    def test_minor_units_must_be_an_integer(self, minor: object) -> None:
        with pytest.raises(InvalidMoneyError):
            Money(minor)  # type: ignore[arg-type]

    def test_numpy_integers_become_python_ints(self) -> None:
        m = Money(np.int64(250))
        assert m.minor == 250
        assert type(m.minor) is int

    def test_money_is_a_frozen_value(self) -> None:
        m = Money(100)
        assert m == Money(100)
        assert m != Money(100, "USD")
        assert m != Money(101)
        assert len({Money(100), Money(100), Money(100, "USD")}) == 2
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            m.minor = 5  # type: ignore[misc]

    def test_minor_unit_exponents(self) -> None:
        assert minor_unit_exponent("CNY") == 2
        assert minor_unit_exponent("JPY") == 0
        assert Money(1234, "JPY").amount == Decimal(1234)


class TestOf:
    @pytest.mark.parametrize(
        ("amount", "minor"),
        [
            ("12.34", 1234),
            ("12.345", 1234),  # half to even: 1234.5 -> 1234
            ("12.355", 1236),  # 1235.5 -> 1236
            ("-12.345", -1234),
            ("0.005", 0),
            ("0.015", 2),
            (Decimal("99.995"), 10000),
            (Decimal("1E+2"), 10000),
            (3, 300),
            (0, 0),
        ],
    )
    def test_rounds_half_to_even_from_str_decimal_and_int(self, amount: object, minor: int) -> None:
        assert Money.of(amount).minor == minor  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("amount", "minor"),
        [
            (0.1, 10),
            (12.34, 1234),
            (2.675, 268),  # the float is 2.67499999...; its shortest form "2.675" rounds to even
            (1.015, 102),  # same: 101.5 -> 102, not 101
            (0.125, 12),
            (19.99, 1999),
        ],
    )
    def test_floats_are_read_through_their_shortest_decimal_form(
        self, amount: float, minor: int
    ) -> None:
        assert Money.of(amount).minor == minor

    def test_zero_exponent_currencies_round_to_whole_units(self) -> None:
        assert Money.of("1234.5", "JPY") == Money(1234, "JPY")
        assert Money.of("1235.5", "jpy") == Money(1236, "JPY")

    @pytest.mark.parametrize(
        "amount",
        [
            math.nan,
            math.inf,
            -math.inf,
            Decimal("NaN"),
            Decimal("sNaN"),
            Decimal("Infinity"),
            "nan",
            "-Infinity",
            "twelve",
            "",
            True,
            None,
            [1],
        ],
    )
    def test_refuses_what_is_not_a_finite_number(self, amount: object) -> None:
        with pytest.raises(InvalidMoneyError):
            Money.of(amount)  # type: ignore[arg-type]

    def test_invalid_money_is_a_value_error_of_the_library(self) -> None:
        with pytest.raises(ValueError, match="finite") as info:
            Money.of(math.nan)
        assert isinstance(info.value, PrivdomainError)


class TestArithmetic:
    def test_add_subtract_negate(self) -> None:
        a, b = Money.of("10.05"), Money.of("0.95")
        assert a + b == Money.of("11.00")
        assert a - b == Money.of("9.10")
        assert b - a == Money.of("-9.10")
        assert -a == Money(-1005)

    def test_comparisons_within_a_currency(self) -> None:
        assert Money(1) < Money(2) <= Money(2) < Money(3)
        assert Money(3) > Money(2) >= Money(2)
        assert sorted([Money(3), Money(-1), Money(2)]) == [Money(-1), Money(2), Money(3)]

    @pytest.mark.parametrize(
        "combine",
        [
            lambda a, b: a + b,
            lambda a, b: a - b,
            lambda a, b: a < b,
            lambda a, b: a <= b,
            lambda a, b: a > b,
            lambda a, b: a >= b,
        ],
    )
    def test_different_currencies_never_mix(self, combine) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(CurrencyMismatchError, match="CNY"):
            combine(Money(100, "CNY"), Money(100, "USD"))

    def test_money_does_not_mix_with_bare_numbers(self) -> None:
        with pytest.raises(TypeError):
            Money(100) + 1  # type: ignore[operator]


class TestAllocate:
    def test_even_split_gives_the_leftover_to_the_earlier_parts(self) -> None:
        assert [p.minor for p in Money(100).allocate([1, 1, 1])] == [34, 33, 33]
        assert [p.minor for p in Money(5).allocate([1, 1, 1, 1])] == [2, 1, 1, 1]
        assert [p.minor for p in Money(1).allocate([1, 1])] == [1, 0]

    def test_leftover_goes_to_the_largest_remainder_first(self) -> None:
        # exact shares 33.33 and 66.67: the second part has the larger remainder
        assert [p.minor for p in Money(100).allocate([1, 2])] == [33, 67]
        # exact shares 1.5, 1.5, 7: one unit left, tie between the first two goes to the first
        assert [p.minor for p in Money(10).allocate([0.15, 0.15, 0.7])] == [2, 1, 7]
        # exact shares 0.2, 0.3, 0.5 of one fen: the largest remainder is the last part
        assert [p.minor for p in Money(1).allocate([2, 3, 5])] == [0, 0, 1]

    def test_decimal_weights_split_exactly(self) -> None:
        pot = Money.of("99.99")
        first, second = pot.allocate([Decimal("0.10"), Decimal("0.03")])
        # exact shares 7691.54 and 2307.46 fen: the one leftover fen goes to the first
        assert (first.minor, second.minor) == (7692, 2307)
        assert first + second == pot

    def test_zero_weights_get_nothing(self) -> None:
        assert [p.minor for p in Money(7).allocate([0, 1, 0])] == [0, 7, 0]

    def test_negative_amounts_split_symmetrically(self) -> None:
        assert [p.minor for p in Money(-100).allocate([1, 1, 1])] == [-34, -33, -33]
        assert [p.minor for p in Money(-100).allocate([1, 2])] == [-33, -67]

    def test_parts_keep_the_currency(self) -> None:
        assert {p.currency for p in Money(100, "USD").allocate([1, 3])} == {"USD"}

    @pytest.mark.parametrize("weights", [[], [0, 0], [-1, 2], [math.nan, 1], [math.inf]])
    def test_refuses_weights_that_do_not_define_shares(self, weights: list[float]) -> None:
        with pytest.raises(InvalidMoneyError, match="weights"):
            Money(100).allocate(weights)

    @settings(max_examples=200, deadline=None)
    @given(
        minor=st.integers(-(10**12), 10**12),
        weights=st.lists(
            st.one_of(st.integers(0, 1000), st.decimals(0, 100, places=3)), min_size=1, max_size=8
        ).filter(lambda w: sum(w) > 0),
    )
    def test_parts_always_add_up_and_stay_within_one_unit_of_the_exact_share(
        self, minor: int, weights: list[int | Decimal]
    ) -> None:
        parts = Money(minor).allocate(weights)
        assert len(parts) == len(weights)
        assert sum(p.minor for p in parts) == minor
        total = sum(Decimal(w) for w in weights)
        for part, w in zip(parts, weights, strict=True):
            exact = Decimal(minor) * Decimal(w) / total
            assert abs(Decimal(part.minor) - exact) < 1
        # symmetry: splitting a debt is the mirror image of splitting the same credit
        assert [p.minor for p in Money(-minor).allocate(weights)] == [-p.minor for p in parts]


class TestRange:
    def test_every_amount_lies_below_2_62_minor_units(self) -> None:
        assert MAX_MINOR_UNITS == 2**62
        assert Money(2**62 - 1).minor == 2**62 - 1
        assert Money(-(2**62) + 1).minor == -(2**62) + 1
        for minor in (2**62, -(2**62), 2**63, np.uint64(2**64 - 1)):
            with pytest.raises(InvalidMoneyError, match="2\\*\\*62"):
                Money(minor)

    def test_arithmetic_that_leaves_the_range_is_refused(self) -> None:
        top = Money(2**62 - 1)
        with pytest.raises(InvalidMoneyError):
            top + Money(1)
        with pytest.raises(InvalidMoneyError):
            -top - Money(1)
        assert (top - top).minor == 0

    @pytest.mark.parametrize(
        "amount", ["1e999999", "9" * 5000, "-1e30", 10**40, 1e300, Decimal("1e999999999")]
    )
    def test_huge_amounts_are_invalid_money_not_decimal_errors(self, amount: object) -> None:
        with pytest.raises(InvalidMoneyError, match="range"):
            Money.of(amount)  # type: ignore[arg-type]

    def test_the_largest_amounts_in_range(self) -> None:
        assert Money.of("46116860184273879.03").minor == 2**62 - 1
        assert Money.of("4611686018427387903", "JPY").minor == 2**62 - 1
        with pytest.raises(InvalidMoneyError):
            Money.of("46116860184273879.04")

    def test_tiny_amounts_round_to_zero(self) -> None:
        assert Money.of("1e-999999").minor == 0
        assert Money.of(Decimal("0E+999999")).minor == 0


class TestNumpyNumbers:
    def test_of_takes_numpy_numbers(self) -> None:
        assert Money.of(np.int64(5)).minor == 500
        assert Money.of(np.float32(0.5)).minor == 50
        assert Money.of(np.float64(12.34)).minor == 1234

    def test_allocate_takes_numpy_weights(self) -> None:
        parts = Money(100).allocate(np.array([1, 3], dtype=np.int64))  # type: ignore[arg-type]
        assert [p.minor for p in parts] == [25, 75]

    def test_of_refuses_what_decimal_would_take_but_is_no_amount(self) -> None:
        # Decimal((0, (1,), 0)) is 1; a tuple in an amount column is junk, not one yuan
        with pytest.raises(InvalidMoneyError):
            Money.of((0, (1,), 0))  # type: ignore[arg-type]


class TestForeignOperands:
    def test_operators_leave_other_types_to_python(self) -> None:
        assert Money(1).__add__(1) is NotImplemented  # type: ignore[operator]
        assert Money(1).__lt__(1) is NotImplemented  # type: ignore[operator]
        with pytest.raises(TypeError, match="'<' not supported"):
            Money(1) < 1  # type: ignore[operator]  # noqa: B015

    def test_minor_unit_exponent_reads_codes_like_money(self) -> None:
        assert minor_unit_exponent(" jpy ") == 0
        with pytest.raises(InvalidMoneyError):
            minor_unit_exponent(None)  # type: ignore[arg-type]
