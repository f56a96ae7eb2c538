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
- :func:`check_fraud` flags self-referral, invitation rings, bursts, idle invitees and agent
  bypass (跑单), each with its evidence, in a :class:`FraudReport`; ``attribute(..., hold=report)``
  holds the credit it flags, and :func:`settle` never pays held credit.
- :func:`referral_rate`, :func:`k_factor`, :func:`referrer_stats`, :func:`agent_stats`,
  :func:`cascades` (depth and structural virality) and :func:`koc_ranking` measure how customers
  bring customers.
"""

from privdomain.referral.binding import BindingMode, BindingPolicy, Bindings, Reason, bind
from privdomain.referral.commission import (
    MAX_TIERS,
    STATUS_NAMES,
    AttributionLedger,
    CommissionRule,
    SettleReport,
    attribute,
    settle,
)
from privdomain.referral.fraud import Evidence, FraudFlag, FraudPolicy, FraudReport, check_fraud
from privdomain.referral.metrics import (
    AgentStats,
    Cascades,
    KFactor,
    KocRanking,
    ReferralRate,
    ReferrerStats,
    agent_stats,
    cascades,
    k_factor,
    koc_ranking,
    referral_rate,
    referrer_stats,
)
from privdomain.referral.strategy import ReferralAttribution, ReferralStrategy

__all__ = [
    "MAX_TIERS",
    "STATUS_NAMES",
    "AgentStats",
    "AttributionLedger",
    "BindingMode",
    "BindingPolicy",
    "Bindings",
    "Cascades",
    "CommissionRule",
    "Evidence",
    "FraudFlag",
    "FraudPolicy",
    "FraudReport",
    "KFactor",
    "KocRanking",
    "Reason",
    "ReferralAttribution",
    "ReferralRate",
    "ReferralStrategy",
    "ReferrerStats",
    "SettleReport",
    "agent_stats",
    "attribute",
    "bind",
    "cascades",
    "check_fraud",
    "k_factor",
    "koc_ranking",
    "referral_rate",
    "referrer_stats",
    "settle",
]
