"""Layering (用户分层): put every customer of a pool into one segment, and say why.

Layering is the precondition of every refined operation: each layer gets different content and
offers (DOMAIN.md §4). Every strategy here follows the :class:`Layering` protocol and returns a
:class:`Segmentation`, a partition of the snapshot's customers into named segments with
per-customer explanations, counts, records, data frames and :class:`~privdomain.Segment` rules.
"""

from __future__ import annotations

from privdomain.layering._base import Layering, features_from_snapshot
from privdomain.layering._result import Segmentation
from privdomain.layering.rfm import RFMLayering, rfm_features
from privdomain.layering.rfm_table import CHINESE_8, CLASSIC_11, NEVER_BOUGHT, OTHER, RFMTable
from privdomain.layering.rule_text import parse_rule
from privdomain.layering.scoring import RFMScorer

__all__ = [
    "CHINESE_8",
    "CLASSIC_11",
    "NEVER_BOUGHT",
    "OTHER",
    "Layering",
    "RFMLayering",
    "RFMScorer",
    "RFMTable",
    "Segmentation",
    "features_from_snapshot",
    "parse_rule",
    "rfm_features",
]
