"""Repurchase nudges (复购触达): who gets which message and offer, on which owned channel, and
when, under hard guarantees (consent, frequency caps, quiet hours), with a reason for every
customer not contacted.

- :class:`NudgePolicy` is the playbook as configuration (periods, layers, channels, caps, quiet
  hours); :func:`plan` (or :class:`Nudges`) makes a :class:`NudgePlan` aligned to a snapshot's
  rows, which :meth:`NudgePlan.to_touchpoints` turns into SENT touchpoints for the host.
- :class:`TLearner`, :class:`XLearner` and :class:`ClassTransformation` estimate the uplift of a
  nudge from randomised contacts; :func:`qini_auc_score`, :func:`uplift_auc_score`,
  :func:`uplift_at_k` (scikit-uplift's definitions) and :func:`bootstrap` evaluate a ranking,
  and :func:`off_policy_value` the value of a plan from logged contacts (IPS, SNIPS, DR).
"""

from __future__ import annotations

from privdomain.nudges.compare import (
    PolicyComparison,
    PolicyScore,
    compare_policies,
    nudge_features,
)
from privdomain.nudges.evaluation import (
    OFF_POLICY_METHODS,
    MetricInterval,
    PolicyValue,
    bootstrap,
    off_policy_value,
    perfect_qini_curve,
    perfect_uplift_curve,
    qini_auc_score,
    qini_curve,
    uplift_at_k,
    uplift_auc_score,
    uplift_curve,
)
from privdomain.nudges.fatigue import FatigueModel
from privdomain.nudges.outcomes import NudgeOutcomes, outcomes
from privdomain.nudges.plan import REASONS, NudgePlan, Nudges, plan
from privdomain.nudges.policy import (
    BUSINESS_TYPES,
    COUPONS,
    DISCOUNT_OFFERS,
    OFFERS,
    PERIODS,
    WINDOWS,
    FrequencyCap,
    NudgePolicy,
    PeriodRule,
    QuietHours,
)
from privdomain.nudges.uplift import ClassTransformation, TLearner, XLearner

__all__ = [
    "BUSINESS_TYPES",
    "COUPONS",
    "DISCOUNT_OFFERS",
    "OFFERS",
    "OFF_POLICY_METHODS",
    "PERIODS",
    "REASONS",
    "WINDOWS",
    "ClassTransformation",
    "FatigueModel",
    "FrequencyCap",
    "MetricInterval",
    "NudgeOutcomes",
    "NudgePlan",
    "NudgePolicy",
    "Nudges",
    "PeriodRule",
    "PolicyComparison",
    "PolicyScore",
    "PolicyValue",
    "QuietHours",
    "TLearner",
    "XLearner",
    "bootstrap",
    "compare_policies",
    "nudge_features",
    "off_policy_value",
    "outcomes",
    "perfect_qini_curve",
    "perfect_uplift_curve",
    "plan",
    "qini_auc_score",
    "qini_curve",
    "uplift_at_k",
    "uplift_auc_score",
    "uplift_curve",
]
