"""Revenue = traffic × conversion × order value × orders per buyer, and who moved it.

The four factors of a period (a window of time, seen as of the snapshot's instant):

``traffic``
    Customers in the pool at the end of the period (joined before it ended): who could buy.
``conversion``
    ``buyers / traffic``: the share of them who bought at least once in the period.
``order_value``
    ``revenue / orders``: net revenue (paid minus refunds naming the order) per order.
``orders_per_buyer``
    ``orders / buyers``: the purchase frequency, 1 when every buyer bought once; what repeat
    purchase adds on top of the first order. (Not the *repurchase rate* of
    :class:`~privdomain.metrics.HealthReport`, which is the share of buyers who bought again.)

Their product is the period's net revenue exactly (``traffic × buyers/traffic × revenue/orders ×
orders/buyers``). Between two periods the change of revenue is split among the factors by the
**Shapley value** of the four-player game whose value for a set ``S`` of factors is the revenue
with the factors in ``S`` at their new values and the others at their old ones:

    contribution_i = Σ_{S ⊆ F∖{i}} |S|! (3 − |S|)! / 4! · (v(S ∪ {i}) − v(S))

The contributions sum to the total change exactly (every ordering of the factors telescopes from
the old revenue to the new), do not depend on the order the factors are listed in, need no
logarithm (so a factor may be zero, unlike the log-mean Divisia index), and with two factors
reduce to the textbook ``Δx · (y₀ + y₁) / 2``.

A factor that is undefined in a period (no buyers: no orders per buyer; no orders: no order
value; an empty pool: no conversion) is taken at its value in the other period, so that the
change is credited to the factors that are defined: a period in which nobody bought owes its
whole loss to conversion (and traffic). When both periods leave a factor undefined, both
revenues are zero and every contribution is zero.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import attrs

from privdomain.errors import ValidationError

__all__ = ["FACTORS", "RevenueDecomposition", "RevenueFactors", "decompose", "shapley"]

#: The factors of revenue, in the order of the identity.
FACTORS: tuple[str, ...] = ("traffic", "conversion", "order_value", "orders_per_buyer")


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


@attrs.frozen
class RevenueFactors:
    """The counts of one period and the four factors of its revenue (see the module)."""

    traffic: int
    """Customers in the pool at the end of the period."""
    buyers: int
    """Customers who bought in the period."""
    orders: int
    """Orders placed in the period."""
    revenue: float
    """Net revenue of those orders (major units)."""

    @property
    def conversion(self) -> float:
        """``buyers / traffic`` (NaN for an empty pool)."""
        return _ratio(self.buyers, self.traffic)

    @property
    def order_value(self) -> float:
        """``revenue / orders`` (NaN without orders)."""
        return _ratio(self.revenue, self.orders)

    @property
    def orders_per_buyer(self) -> float:
        """``orders / buyers``: the purchase frequency (NaN without buyers)."""
        return _ratio(self.orders, self.buyers)

    def factors(self) -> tuple[float, float, float, float]:
        """The four factors, in the order of :data:`FACTORS`."""
        return (float(self.traffic), self.conversion, self.order_value, self.orders_per_buyer)


def shapley(before: Sequence[Any], after: Sequence[Any]) -> list[Any]:
    """The Shapley contributions of each factor to ``prod(after) - prod(before)``.

    Works on any numbers that multiply (floats, ints, :class:`fractions.Fraction`, for exact
    arithmetic); the contributions sum to the change exactly in exact arithmetic and to within
    rounding in floating point. Exponential in the number of factors: meant for a handful.

    Raises
    ------
    ValidationError
        When the two sequences differ in length or are empty.
    """
    old, new = list(before), list(after)
    n = len(old)
    if n == 0 or len(new) != n:
        raise ValidationError(
            f"shapley needs two equally long, non-empty factor lists, got {len(old)} and {len(new)}"
        )
    weights = [math.factorial(k) * math.factorial(n - k - 1) for k in range(n)]
    total = math.factorial(n)
    out: list[Any] = []
    for i in range(n):
        others = [j for j in range(n) if j != i]
        acc: Any = 0
        for k in range(n):
            for subset in itertools.combinations(others, k):
                base = [new[j] if j in subset else old[j] for j in range(n)]
                rest = math.prod(base[j] for j in range(n) if j != i)
                acc += weights[k] * (new[i] - old[i]) * rest
        out.append(acc / total)
    return out


@attrs.frozen
class RevenueDecomposition:
    """How each factor moved revenue from one period (``before``) to another (``after``)."""

    before: RevenueFactors
    after: RevenueFactors
    contributions: tuple[float, float, float, float]
    """Per factor (order of :data:`FACTORS`), its Shapley share of the change."""

    @property
    def change(self) -> float:
        """``after.revenue - before.revenue``: what the contributions add up to."""
        return self.after.revenue - self.before.revenue

    def by_factor(self) -> dict[str, float]:
        """The contributions by factor name."""
        return dict(zip(FACTORS, self.contributions, strict=True))

    def to_records(self) -> list[dict[str, Any]]:
        """One record per factor: its value before and after, and its contribution."""
        old, new = self.before.factors(), self.after.factors()
        return [
            {
                "factor": name,
                "before": None if math.isnan(a) else a,
                "after": None if math.isnan(b) else b,
                "contribution": c,
            }
            for name, a, b, c in zip(FACTORS, old, new, self.contributions, strict=True)
        ]

    def lines(self, currency: str = "") -> list[str]:
        """The decomposition in words, largest contribution first."""
        unit = f" {currency}" if currency else ""
        old, new = self.before.revenue, self.after.revenue
        pct = f" ({self.change / old:+.1%})" if old else ""
        out = [f"revenue {old:,.2f} → {new:,.2f}{unit}: {self.change:+,.2f}{unit}{pct}"]
        order = sorted(range(4), key=lambda i: -abs(self.contributions[i]))
        olds, news = self.before.factors(), self.after.factors()
        for i in order:
            out.append(
                f"  {FACTORS[i].replace('_', ' ')}: {_fmt(olds[i])} → {_fmt(news[i])}, "
                f"{self.contributions[i]:+,.2f}{unit}"
            )
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def decompose(before: RevenueFactors, after: RevenueFactors) -> RevenueDecomposition:
    """Split the change of revenue from ``before`` to ``after`` among the four factors.

    Raises
    ------
    ValidationError
        When either argument is not a :class:`RevenueFactors`.
    """
    if not isinstance(before, RevenueFactors) or not isinstance(after, RevenueFactors):
        raise ValidationError("decompose takes two RevenueFactors")
    old, new = list(before.factors()), list(after.factors())
    for i in range(4):
        if math.isnan(old[i]) and math.isnan(new[i]):
            old[i] = new[i] = 0.0
        elif math.isnan(old[i]):
            old[i] = new[i]
        elif math.isnan(new[i]):
            new[i] = old[i]
    parts = shapley(old, new)
    return RevenueDecomposition(before, after, (parts[0], parts[1], parts[2], parts[3]))
