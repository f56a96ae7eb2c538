"""Value per customer: RFM summaries, buy-till-you-die models, spend, and lifetime value.

A lifetimes-compatible toolkit, exact and fast:

- :func:`rfm_summary`, :func:`rfm_summary_from_snapshot` and :func:`calibration_holdout` turn
  purchases into the (frequency, recency, T, monetary value) summary the models need;
  :func:`customer_rfm` gives the same columns for every customer of a snapshot, in its rows;
- :class:`BetaGeo`, :class:`ModifiedBetaGeo` and :class:`ParetoNBD` model repeat purchases and
  dropout (P(alive), expected purchases);
- :class:`GammaGamma` models spend per purchase;
- :func:`customer_lifetime_value` combines them into discounted value per customer, and
  :class:`LifetimeValue` does it as a strategy.

Wherever columns go, a summary can go instead: an :class:`RFMSummary`, or a pandas or polars
data frame with lifetimes' column names (pandas and polars are never imported by privdomain).

Every model also follows the strategy contract (:mod:`privdomain.strategy`): ``summarize``
(mergeable sufficient statistics: :class:`RepeatSummary`, :class:`SpendSummary`),
``fit_summary``, ``fit(snapshot)`` and ``apply(snapshot)``, a result aligned to the snapshot's
rows (:class:`PurchaseForecast`, :class:`SpendForecast`, :class:`CustomerValue`).
"""

from __future__ import annotations

from privdomain.value._periods import PeriodUnitWarning
from privdomain.value._repeat_model import SimulatedPurchases
from privdomain.value.beta_geo import BetaGeo
from privdomain.value.clv import (
    CustomerValue,
    LifetimeValue,
    SpendModel,
    TransactionModel,
    customer_lifetime_value,
)
from privdomain.value.forecast import PurchaseForecast, SpendForecast
from privdomain.value.gamma_gamma import GammaGamma
from privdomain.value.holdout import CalibrationHoldout, calibration_holdout
from privdomain.value.modified_beta_geo import ModifiedBetaGeo
from privdomain.value.pareto_nbd import ParetoNBD
from privdomain.value.snapshot_rfm import CustomerRFM, customer_rfm
from privdomain.value.sufficient import RepeatSummary, SpendSummary, ValueSummary
from privdomain.value.summary import (
    RFMSummary,
    SnapshotLike,
    rfm_summary,
    rfm_summary_from_snapshot,
)

__all__ = [
    "BetaGeo",
    "CalibrationHoldout",
    "CustomerRFM",
    "CustomerValue",
    "GammaGamma",
    "LifetimeValue",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "PeriodUnitWarning",
    "PurchaseForecast",
    "RFMSummary",
    "RepeatSummary",
    "SimulatedPurchases",
    "SnapshotLike",
    "SpendForecast",
    "SpendModel",
    "SpendSummary",
    "TransactionModel",
    "ValueSummary",
    "calibration_holdout",
    "customer_lifetime_value",
    "customer_rfm",
    "rfm_summary",
    "rfm_summary_from_snapshot",
]
