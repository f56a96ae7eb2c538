"""Layering (用户分层): put every customer of a pool into one segment, and say why.

Layering is the precondition of every refined operation: each layer gets different content and
offers. Every strategy follows the strategy contract (:mod:`privdomain.strategy`, the
:class:`Layering` protocol): ``fit(snapshot)`` learns global statistics only, from summaries
that merge across partitions (``summarize``, ``fit_summary``; rule-only strategies learn
nothing), and ``apply(snapshot)`` returns a :class:`Segmentation` aligned to the snapshot's rows:
a partition of its customers into named segments, with per-customer explanations, counts,
records, data frames and :class:`~privdomain.Segment` rules.

- :class:`RFMLayering`: recency/frequency (distinct purchase days)/monetary scores (quantile,
  centre or fixed edges) and named segments from :class:`RFMTable`\\ s (:data:`CLASSIC_11`,
  :data:`CHINESE_8`); it warns (:class:`RecencyWarning`, :class:`CollapsedBandsWarning`, both
  :class:`LayeringWarning`) when learned bands would mislead on the data at hand;
  :class:`RFMScorer` scores arrays (a scikit-learn transformer);
- :class:`AttributeLayers`: new / active / paying / never bought;
- :class:`ValueTiers`: super users, the fewest customers bringing 80% of revenue;
- :class:`KOCDetector`: customers whose shares, invitations and content stand out;
- :class:`CouponHunters`: promotion-only buyers (羊毛党);
- :class:`TagLayering`: ordered segments from tags and features, also written as rule text
  (:func:`parse_rule`);
- :class:`ValueClusters`: k-means on scaled features, clusters numbered by value.

Model files for new strategies: ``clustering.py`` for a learner, ``attributes.py`` for a
rule-only strategy.
"""

from __future__ import annotations

from privdomain.layering._base import (
    CollapsedBandsWarning,
    Layering,
    LayeringWarning,
    RecencyWarning,
    features_from_snapshot,
)
from privdomain.layering._result import Segmentation
from privdomain.layering.attributes import AttributeLayers
from privdomain.layering.clustering import NOT_CLUSTERED, ClusterSummary, ValueClusters
from privdomain.layering.coupon_hunters import CouponHunters
from privdomain.layering.demo import demo_step
from privdomain.layering.koc import DEFAULT_KOC_WEIGHTS, KOCDetector, KOCSummary
from privdomain.layering.plots import plot_rfm_grid, plot_segment_sizes
from privdomain.layering.rfm import (
    RFMLayering,
    RFMLayeringSummary,
    median_interpurchase_days,
    rfm_features,
)
from privdomain.layering.rfm_table import CHINESE_8, CLASSIC_11, NEVER_BOUGHT, OTHER, RFMTable
from privdomain.layering.rule_text import parse_rule
from privdomain.layering.scoring import RFMScorer
from privdomain.layering.tags import (
    TagDimension,
    TagLayering,
    attribute_in,
    attribute_is,
    came_from,
    interacted,
    tag_dimension,
    tagged,
)
from privdomain.layering.value_tiers import ValueTiers, ValueTiersSummary, share_from_top

__all__ = [
    "CHINESE_8",
    "CLASSIC_11",
    "DEFAULT_KOC_WEIGHTS",
    "NEVER_BOUGHT",
    "NOT_CLUSTERED",
    "OTHER",
    "AttributeLayers",
    "ClusterSummary",
    "CollapsedBandsWarning",
    "CouponHunters",
    "KOCDetector",
    "KOCSummary",
    "Layering",
    "LayeringWarning",
    "RFMLayering",
    "RFMLayeringSummary",
    "RFMScorer",
    "RFMTable",
    "RecencyWarning",
    "Segmentation",
    "TagDimension",
    "TagLayering",
    "ValueClusters",
    "ValueTiers",
    "ValueTiersSummary",
    "attribute_in",
    "attribute_is",
    "came_from",
    "demo_step",
    "features_from_snapshot",
    "interacted",
    "median_interpurchase_days",
    "parse_rule",
    "plot_rfm_grid",
    "plot_segment_sizes",
    "rfm_features",
    "share_from_top",
    "tag_dimension",
    "tagged",
]
