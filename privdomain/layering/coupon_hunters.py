"""Coupon hunters (羊毛党): promotion-only buyers, flagged so pools stop courting them."""

from __future__ import annotations

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain.segment import And, Compare, Not, Or, Rule, short_repr
from privdomain.domain.snapshot import Snapshot
from privdomain.errors import ValidationError
from privdomain.layering._base import check_snapshot, is_integer, is_number
from privdomain.layering._result import ColumnSource, Segmentation
from privdomain.strategy import RuleBased

__all__ = ["CouponHunters"]


def _share(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not is_number(value) or not 0 < float(value) <= 1:
        raise ValidationError(f"{attribute.name} must lie in (0, 1], got {short_repr(value)}")


def _min_orders(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not is_integer(value) or value < 1:
        raise ValidationError(f"min_orders must be an integer >= 1, got {short_repr(value)}")


@attrs.frozen
class CouponHunters(RuleBased):
    """Flag coupon hunters (羊毛党): promotion-only buyers who never pay full price.

    A customer is a coupon hunter when all of these hold:

    1. at least ``min_orders`` orders (one promotional purchase is a trial, not a habit);
    2. almost every order was promotional — the share of orders flagged as promotion-driven or
       discounted is at least ``promo_share`` — **or** their discounts are deep: the average
       discount off the full price is at least ``margin_floor`` (what is left of the margin
       after such a discount is below what the brand accepts);
    3. never a full-price order: ``full_price_orders == 0`` (an order is at full price when it
       was neither promotion-driven nor discounted).

    The promotional share is ``(orders - full_price_orders) / orders``: the orders that were
    promotion-driven, discounted or both.

    The segment depends on ratios, not on single snapshot features, so its rule reads the
    result's own columns (``rules_on="result"``). A rule-only strategy: ``fit`` has nothing to
    learn, ``apply`` decides customer by customer.

    Attributes
    ----------
    min_orders : int, default 2
    promo_share : float, default 0.9
    margin_floor : float, default 0.3
        An average discount of at least this share of the full price.

    Raises
    ------
    ValidationError
        When ``min_orders`` is not an integer >= 1, or a share does not lie in (0, 1].
    """

    min_orders: int = attrs.field(default=2, validator=_min_orders)
    promo_share: float = attrs.field(default=0.9, validator=_share)
    margin_floor: float = attrs.field(default=0.3, validator=_share)

    def rule(self) -> Rule:
        """The coupon-hunter rule over the result's columns."""
        return And(
            (
                Compare("orders", ">=", self.min_orders),
                Or(
                    (
                        Compare("promo_share", ">=", float(self.promo_share)),
                        Compare("discount_rate", ">=", float(self.margin_floor)),
                    )
                ),
                Compare("full_price_orders", "==", 0),
            )
        )

    def apply(self, snapshot: Snapshot) -> Segmentation:
        """Split ``snapshot`` into coupon hunters and everyone else."""
        check_snapshot(snapshot, "apply")
        orders = snapshot.orders.astype(np.float64)
        promo = snapshot.promo_orders.astype(np.float64)
        discounted = snapshot.discounted_orders.astype(np.float64)
        full_price_orders = snapshot.full_price_orders.astype(np.float64)
        full_price_paid = snapshot.gross_spend + snapshot.discount_total
        with np.errstate(invalid="ignore", divide="ignore"):
            promo_share = np.where(orders > 0, (orders - full_price_orders) / orders, np.nan)
            discount_rate = np.where(
                full_price_paid > 0, snapshot.discount_total / full_price_paid, np.nan
            )
        columns: dict[str, NDArray[np.float64]] = {
            "orders": orders,
            "promo_orders": promo,
            "discounted_orders": discounted,
            "promo_share": promo_share,
            "discount_rate": discount_rate,
            "full_price_orders": full_price_orders,
        }
        hunter = self.rule()
        mask = hunter.mask(ColumnSource(columns, len(snapshot)))
        labels = np.where(mask, 0, 1).astype(np.int64)
        condition = (
            f"orders >= {self.min_orders}, promotional share >= {self.promo_share:g} or average "
            f"discount >= {self.margin_floor:g}, and no full-price order"
        )
        return Segmentation(
            strategy="coupon hunters",
            customer_ids=snapshot.customer_ids,
            labels=labels,
            names=("Coupon hunter", "Not a coupon hunter"),
            rules=(hunter, Not(hunter)),
            rules_on="result",
            descriptions=(condition, f"not all of: {condition}"),
            advice=(
                "stop courting: no acquisition spend or exclusive coupons; major sales only",
                "",
            ),
            columns=columns,
            column_notes={
                "promo_share": "(orders - full_price_orders) / orders",
                "discount_rate": "discount_total / (gross_spend + discount_total)",
                "full_price_orders": "orders neither promotion-driven nor discounted",
            },
        )
