"""Referral attribution as a strategy of the one contract (rule-only: nothing to learn)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

import attrs

from privdomain.errors import ValidationError
from privdomain.referral.binding import BindingPolicy, Bindings, bind
from privdomain.referral.commission import AttributionLedger, CommissionRule, attribute
from privdomain.strategy import RuleBased

if TYPE_CHECKING:
    from privdomain.domain.snapshot import Snapshot
    from privdomain.referral.fraud import FraudReport

__all__ = ["ReferralAttribution", "ReferralStrategy"]


@runtime_checkable
class ReferralStrategy(Protocol):
    """What a host's own referral strategy provides: bindings per customer (``apply``) and a
    commission ledger (``attribute``)."""

    def fit(self, snapshot: Snapshot) -> Self: ...

    def apply(self, snapshot: Snapshot) -> Bindings: ...

    def attribute(
        self, snapshot: Snapshot, *, as_of: dt.datetime | None = None
    ) -> AttributionLedger: ...


def _of(kind: type) -> Any:
    def check(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, kind):
            raise ValidationError(
                f"{attribute.name} must be a {kind.__name__}, got {type(value).__name__}"
            )

    return check


def _window(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValidationError(f"{attribute.name} must be a number of days >= 0, got {value!r}")


@attrs.frozen
class ReferralAttribution(RuleBased):
    """A binding policy and a commission rule, applied to snapshots.

    ``fit`` learns nothing (rule-only); ``apply(snapshot)`` gives the :class:`Bindings`, one row
    per customer; ``attribute(snapshot)`` the :class:`AttributionLedger` of its orders.

    Attributes
    ----------
    rule
        The :class:`CommissionRule`.
    policy
        The :class:`BindingPolicy` (default: permanent binding).
    refund_window_days
        How long commission stays frozen (default 7 days).
    """

    rule: CommissionRule = attrs.field(validator=_of(CommissionRule))
    policy: BindingPolicy = attrs.field(factory=BindingPolicy, validator=_of(BindingPolicy))
    refund_window_days: float = attrs.field(default=7, validator=_window)

    def apply(self, snapshot: Snapshot) -> Bindings:
        """Every customer's binding, with the decisions behind it."""
        return bind(snapshot, self.policy)

    def attribute(
        self,
        snapshot: Snapshot,
        *,
        as_of: dt.datetime | None = None,
        categories: Any = None,
        hold: FraudReport | None = None,
    ) -> AttributionLedger:
        """The commission ledger of the snapshot's orders (see :func:`attribute`: ``categories``
        for a rule with category rates, ``hold`` a :class:`FraudReport` whose flagged credit
        is held)."""
        return attribute(
            snapshot,
            self.rule,
            as_of=as_of,
            refund_window_days=self.refund_window_days,
            bindings=self.apply(snapshot),
            categories=categories,
            hold=hold,
        )
