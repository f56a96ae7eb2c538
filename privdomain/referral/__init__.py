"""Referral attribution: who owns a referred customer, and who earns commission on an order.

- :func:`bind` decides the invitation graph under a :class:`BindingPolicy` (permanent,
  expiring or last-touch; optionally brand-new customers only), every decision with its
  :class:`Reason`.
- :func:`attribute` credits every order, in exact minor units, to the buyer's referrer (tier 1),
  that referrer's referrer (tier 2) and the order's agent under a :class:`CommissionRule`, frozen
  through the refund window and reversed on refund, in an :class:`AttributionLedger`;
  :func:`settle` posts it into a :class:`~privdomain.ports.CommissionLedger`.
- :class:`ReferralAttribution` bundles a policy and a rule as a rule-only strategy of the one
  contract (:class:`ReferralStrategy` is the protocol a host's own strategy meets).
- :func:`referral_rate`, :func:`k_factor`, :func:`referrer_stats` and :func:`agent_stats` measure
  how customers bring customers.
"""

from privdomain.referral.binding import BindingMode, BindingPolicy, Bindings, Reason, bind
from privdomain.referral.commission import (
    MAX_TIERS,
    AttributionLedger,
    CommissionRule,
    SettleReport,
    attribute,
    settle,
)
from privdomain.referral.metrics import (
    AgentStats,
    KFactor,
    ReferralRate,
    ReferrerStats,
    agent_stats,
    k_factor,
    referral_rate,
    referrer_stats,
)
from privdomain.referral.strategy import ReferralAttribution, ReferralStrategy

__all__ = [
    "MAX_TIERS",
    "AgentStats",
    "AttributionLedger",
    "BindingMode",
    "BindingPolicy",
    "Bindings",
    "CommissionRule",
    "KFactor",
    "Reason",
    "ReferralAttribution",
    "ReferralRate",
    "ReferralStrategy",
    "ReferrerStats",
    "SettleReport",
    "agent_stats",
    "attribute",
    "bind",
    "k_factor",
    "referral_rate",
    "referrer_stats",
    "settle",
]
