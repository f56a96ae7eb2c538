"""Lifecycle (生命周期): every customer's stage on three ladders, transitions between runs, and
stage histories.

- :class:`Lifecycle` puts every customer of a snapshot on the relationship ladder (prospect →
  new → growth → mature → decline → churned), the post-purchase ladder (active → silent →
  sleeping → lost, by the customer's own rhythm or by P(alive)) and the purchase milestones
  (first, third, fifth purchase), and says who is stuck before the next milestone; the result
  is a :class:`LifecycleStages`.
"""

from __future__ import annotations

from privdomain.lifecycle.demo import demo_step
from privdomain.lifecycle.history import StageHistory, stage_history
from privdomain.lifecycle.ladders import (
    CadenceLadder,
    MilestoneLadder,
    PAliveLadder,
    PostPurchaseStage,
    RelationshipLadder,
    RelationshipStage,
    milestone_names,
)
from privdomain.lifecycle.machine import TRIGGERS, Edge, StageMachine, possible_edges
from privdomain.lifecycle.result import LADDERS, LifecycleStages
from privdomain.lifecycle.stages import Lifecycle, LifecycleStrategy, LifecycleSummary
from privdomain.lifecycle.transitions import Transitions, transitions

__all__ = [
    "LADDERS",
    "TRIGGERS",
    "CadenceLadder",
    "Edge",
    "Lifecycle",
    "LifecycleStages",
    "LifecycleStrategy",
    "LifecycleSummary",
    "MilestoneLadder",
    "PAliveLadder",
    "PostPurchaseStage",
    "RelationshipLadder",
    "RelationshipStage",
    "StageHistory",
    "StageMachine",
    "Transitions",
    "demo_step",
    "milestone_names",
    "possible_edges",
    "stage_history",
    "transitions",
]
