"""Pool metrics: the three core metrics of a healthy pool and the figures around them.

- :func:`health` → :class:`HealthReport`: pool (size, inflow, outflow, source breadth and
  concentration, reach per owned channel, multi-point presence), value per customer
  (conversion, repurchase rate, order value, expected CLV), referral rate of existing customers, the
  KPIs (KOCs, content creators, super users' share of revenue), the revenue decomposition
  period over period, cohort retention (:class:`CohortRetention`) and the public → private
  funnel by source (:class:`SourceFunnel`); :meth:`HealthReport.compare` tells what changed
  between two reports and why (:class:`HealthComparison`).
- :func:`decompose` splits a change of revenue = traffic × conversion × order value ×
  orders per buyer among its factors (Shapley values, :func:`shapley`).
- :func:`overview` → :class:`PoolOverview`: headline figures in one look.
"""

from privdomain.metrics._cohorts import FUNNEL_STAGES, CohortRetention, SourceFunnel
from privdomain.metrics._decomposition import (
    FACTORS,
    RevenueDecomposition,
    RevenueFactors,
    decompose,
    shapley,
)
from privdomain.metrics._health import HealthComparison, HealthReport, health
from privdomain.metrics._overview import PoolOverview, overview

__all__ = [
    "FACTORS",
    "FUNNEL_STAGES",
    "CohortRetention",
    "HealthComparison",
    "HealthReport",
    "PoolOverview",
    "RevenueDecomposition",
    "RevenueFactors",
    "SourceFunnel",
    "decompose",
    "health",
    "overview",
    "shapley",
]
