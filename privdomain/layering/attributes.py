"""Attribute layers: new, active and paying customers, and those who never bought."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import attrs

from privdomain.domain.segment import And, Compare, Not, Rule, short_repr
from privdomain.domain.snapshot import Snapshot
from privdomain.errors import ValidationError
from privdomain.layering._base import check_snapshot, first_match_labels, is_number
from privdomain.layering._result import Segmentation
from privdomain.strategy import RuleBased

__all__ = ["AttributeLayers"]


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not is_number(value) or not 0 <= float(value) < math.inf:
        raise ValidationError(
            f"{attribute.name} must be a finite number of days >= 0, got {short_repr(value)}"
        )


@attrs.frozen
class AttributeLayers(RuleBased):
    """Layer by attributes (按属性分层): new / active / paying, and never bought.

    A rule-only strategy, and the model of one (:mod:`privdomain.strategy`): its parameters are
    validated when it is built (a frozen attrs class), ``fit`` has nothing to learn and returns
    it unchanged, ``apply(snapshot)`` decides customer by customer from the snapshot's features
    and returns a :class:`Segmentation` aligned to the snapshot's rows, holding every feature
    its rules read.

    The four layers, tested in this order (each customer lands in the first that holds):

    ``"Paying"`` (付费用户)
        bought at least once (``orders >= 1``);
    ``"New"`` (新用户)
        never bought and joined at most ``new_days`` days ago;
    ``"Active"`` (活跃用户)
        never bought, not new, and started a touch (opened, clicked, replied, visited...) at
        most ``active_days`` days ago;
    ``"Never bought"`` (未购用户)
        everybody else: joined a while ago, never bought, quiet lately.

    What fits: new users get bestsellers to trigger a first purchase; active
    non-buyers get a first-purchase reason; paying customers are layered further (RFM, value
    tiers, lifecycle).

    Attributes
    ----------
    new_days : float, default 30
        How long after joining a customer counts as new.
    active_days : float, default 30
        How recent a customer's own touch must be to count as active.

    Raises
    ------
    ValidationError
        When a window is not a finite number of days >= 0.
    """

    new_days: float = attrs.field(default=30.0, validator=_non_negative)
    active_days: float = attrs.field(default=30.0, validator=_non_negative)

    #: The layers, by code.
    names: ClassVar[tuple[str, ...]] = ("Paying", "New", "Active", "Never bought")

    def rules(self) -> tuple[Rule, ...]:
        """One disjoint rule per layer over snapshot features, in the order of :attr:`names`."""
        never = Compare("orders", "==", 0)
        new = Compare("tenure_days", "<=", float(self.new_days))
        active = Compare("days_since_active", "<=", float(self.active_days))
        return (
            Compare("orders", ">=", 1),
            And((never, new)),
            And((never, Not(new), active)),
            And((never, Not(new), Not(active))),
        )

    def apply(self, snapshot: Snapshot) -> Segmentation:
        """Layer ``snapshot`` into paying, new, active and never-bought customers."""
        check_snapshot(snapshot, "apply")
        rules = self.rules()
        masks = [r.mask(snapshot) for r in rules]
        labels, unassigned = first_match_labels(masks, len(snapshot))
        assert not unassigned.any(), "the attribute layers cover every customer"
        return Segmentation(
            strategy="attribute layers",
            customer_ids=snapshot.customer_ids,
            labels=labels,
            names=self.names,
            rules=rules,
            rules_on="snapshot",
            descriptions=_descriptions(self.new_days, self.active_days),
            advice=(
                "layer further by value (RFM, value tiers, lifecycle)",
                "bestsellers to trigger the first purchase",
                "interested but not buying: a first-purchase reason, a small welcome offer",
                "quiet and never bought: light contact; check the source's quality",
            ),
            columns={
                "orders": snapshot.orders,
                "tenure_days": snapshot.tenure_days,
                "days_since_active": snapshot.days_since_active,
            },
            notes=(f"new: joined within {self.new_days:g} days; active: own touch within "
                   f"{self.active_days:g} days",),
        )  # fmt: skip


def _descriptions(new_days: float, active_days: float) -> Sequence[str]:
    return (
        "bought at least once (orders >= 1)",
        f"never bought and joined at most {new_days:g} days ago",
        f"never bought, joined over {new_days:g} days ago, own touch within {active_days:g} days",
        f"never bought, joined over {new_days:g} days ago, no own touch within "
        f"{active_days:g} days",
    )
