"""Stage machines: which moves between stages a ladder allows, each with the rule that makes it.

A :class:`StageMachine` is data: the stages of one ladder and the allowed :class:`Edge`\\ s
between them. An edge is made either by a *purchase* (the customer bought since the stages
were last computed) or by *time* alone (no purchase in between). What each ladder can do is
fixed by its rules, and a machine that allows more is refused when it is built:

- post-purchase: time only moves a customer down (active → silent → sleeping → lost); a
  purchase returns them to active, after which time may have moved them down again; nobody
  returns to never-bought.
- relationship: purchases and the time since the first purchase only grow, so nobody returns
  to prospect or new, or from mature to growth; without a purchase a customer can only slide
  (to decline or churned) or mature with time; leaving decline or churned (reactivation)
  needs a purchase.
- milestones: only purchases move a customer, and only up.

A machine may allow fewer moves than the ladder can make (say, to be told when somebody skips
a stage between two runs): :func:`~privdomain.lifecycle.transitions` then reports those moves
as not allowed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain.segment import short_repr
from privdomain.errors import ValidationError
from privdomain.lifecycle.ladders import POST_PURCHASE_STAGES, RELATIONSHIP_STAGES
from privdomain.lifecycle.result import LADDERS

__all__ = ["TRIGGERS", "Edge", "StageMachine", "possible_edges"]

#: What can move a customer between two runs.
TRIGGERS: tuple[str, ...] = ("purchase", "time")

_P, _N, _G, _M, _D, _C = RELATIONSHIP_STAGES
_RELATIONSHIP_TIME = {
    (_N, _C): "no purchase since: gone",
    (_G, _M): "the first purchase is now long enough ago to be mature",
    (_G, _D): "fewer orders or less spend lately than their rhythm expects",
    (_G, _C): "no purchase since: gone",
    (_M, _D): "fewer orders or less spend lately than their rhythm expects",
    (_M, _C): "no purchase since: gone",
    (_D, _C): "no purchase since: gone",
}
_RELATIONSHIP_PURCHASE = {
    **{(_P, t): "first purchase" for t in (_N, _G, _M, _D, _C)},
    (_N, _G): "bought again",
    (_N, _M): "bought again, up to the stickiness milestone",
    (_N, _D): "bought again, then fewer orders than their rhythm expects",
    (_N, _C): "bought again, then no purchase since: gone",
    (_G, _M): "bought up to the stickiness milestone",
    (_G, _D): "bought, but fewer orders or less spend than their rhythm expects",
    (_G, _C): "bought, then no purchase since: gone",
    (_M, _D): "bought, but fewer orders or less spend than their rhythm expects",
    (_M, _C): "bought, then no purchase since: gone",
    (_D, _G): "reactivated: back to their rhythm",
    (_D, _M): "reactivated: back to their rhythm",
    (_D, _C): "bought, then no purchase since: gone",
    (_C, _G): "reactivated: bought again after being gone",
    (_C, _M): "reactivated: bought again after being gone",
    (_C, _D): "reactivated: bought again after being gone, below their old rhythm",
    # with churn thresholds under a day, a second order on the day of the only purchase
    (_C, _N): "bought again on the day of their only purchase",
}


def _post_edges() -> dict[tuple[str, str, str], str]:
    out: dict[tuple[str, str, str], str] = {}
    banded = POST_PURCHASE_STAGES[1:]
    for i, source in enumerate(banded):
        for target in banded[i + 1 :]:
            out[(source, target, "time")] = f"time since the last purchase reached {target}"
    for source in POST_PURCHASE_STAGES:
        for target in banded:
            if source == target:
                continue
            out[(source, target, "purchase")] = (
                "a purchase returns the customer to active"
                if target == "active"
                else f"a purchase, then time since it reached {target}"
            )
    return out


def _milestone_edges(stages: tuple[str, ...]) -> dict[tuple[str, str, str], str]:
    return {
        (source, target, "purchase"): f"purchases reached the {target.replace('_', ' ')}"
        for i, source in enumerate(stages)
        for target in stages[i + 1 :]
    }


def possible_edges(
    ladder: str, stages: tuple[str, ...] | None = None
) -> dict[tuple[str, str, str], str]:
    """Every move ``(source, target, trigger)`` the ladder's rules can make, with the default
    rule text of each. ``stages`` names the milestone stages (default: first, third, fifth)."""
    if ladder == "post_purchase":
        return _post_edges()
    if ladder == "relationship":
        return {
            **{(s, t, "time"): rule for (s, t), rule in _RELATIONSHIP_TIME.items()},
            **{(s, t, "purchase"): rule for (s, t), rule in _RELATIONSHIP_PURCHASE.items()},
        }
    if ladder == "milestone":
        from privdomain.lifecycle.ladders import milestone_names

        return _milestone_edges(stages if stages is not None else milestone_names((1, 3, 5)))
    raise ValidationError(f"no ladder {short_repr(ladder)}; ladders are {list(LADDERS)}")


def _stage_name(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{attribute.name} must be a stage name, got {short_repr(value)}")


def _trigger(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value not in TRIGGERS:
        raise ValidationError(f"trigger must be one of {list(TRIGGERS)}, got {short_repr(value)}")


@attrs.frozen
class Edge:
    """One allowed move: from ``source`` to ``target``, made by a purchase or by time."""

    source: str = attrs.field(validator=_stage_name)
    target: str = attrs.field(validator=_stage_name)
    trigger: str = attrs.field(validator=_trigger)
    rule: str = ""
    """The rule in words (empty: the ladder's default text)."""


def _edges(value: Any) -> tuple[Edge, ...]:
    if isinstance(value, Edge | str) or not isinstance(value, Iterable):
        raise ValidationError(f"edges must be a sequence of Edge, got {short_repr(value)}")
    out = tuple(value)
    for edge in out:
        if not isinstance(edge, Edge):
            raise ValidationError(f"edges must be Edge objects, got {short_repr(edge)}")
    return out


def _stages(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError(f"stages must be a sequence of names, got {short_repr(value)}")
    out = tuple(value)
    if not out or not all(isinstance(s, str) and s for s in out) or len(set(out)) != len(out):
        raise ValidationError(f"stages must be distinct non-empty names, got {short_repr(out)}")
    return out


@attrs.frozen
class StageMachine:
    """The allowed moves of one ladder.

    Attributes
    ----------
    ladder : {"relationship", "post_purchase", "milestone"}
    stages : tuple of str
        The ladder's stages, in order (those of the results it is used with).
    edges : sequence of Edge
        The allowed moves. Build the full machine with :meth:`default`.

    Raises
    ------
    ValidationError
        An edge from or to an unknown stage, a self-loop, the same move twice, or a move the
        ladder's rules can never make (time moving a customer up the post-purchase ladder, a
        purchase taking a mature customer back to growth, ...): the message names the edge
        and why.
    """

    ladder: str = attrs.field()
    stages: tuple[str, ...] = attrs.field(converter=_stages)
    edges: tuple[Edge, ...] = attrs.field(converter=_edges)
    _allowed: NDArray[np.bool_] = attrs.field(init=False, repr=False, eq=False)
    _rules: dict[tuple[str, str, str], str] = attrs.field(init=False, repr=False, eq=False)

    @ladder.validator
    def _check_ladder(self, attribute: attrs.Attribute[str], value: Any) -> None:
        if value not in LADDERS:
            raise ValidationError(f"no ladder {short_repr(value)}; ladders are {list(LADDERS)}")

    def __attrs_post_init__(self) -> None:
        expected = {
            "relationship": RELATIONSHIP_STAGES,
            "post_purchase": POST_PURCHASE_STAGES,
        }.get(self.ladder)
        if expected is not None and self.stages != expected:
            raise ValidationError(
                f"the {self.ladder} ladder's stages are {list(expected)}, got {list(self.stages)}"
            )
        if self.ladder == "milestone" and self.stages[0] != "no_purchase":
            raise ValidationError(
                f"the milestone ladder starts at 'no_purchase', got {list(self.stages)}"
            )
        possible = possible_edges(self.ladder, self.stages)
        index = {s: i for i, s in enumerate(self.stages)}
        k = len(self.stages)
        allowed = np.zeros((len(TRIGGERS), k, k), dtype=bool)
        rules: dict[tuple[str, str, str], str] = {}
        for edge in self.edges:
            move = (edge.source, edge.target, edge.trigger)
            unknown = [s for s in (edge.source, edge.target) if s not in index]
            if unknown:
                raise ValidationError(
                    f"edge {edge.source} -> {edge.target}: no stage {unknown[0]!r} on the "
                    f"{self.ladder} ladder (stages: {list(self.stages)})"
                )
            if edge.source == edge.target:
                raise ValidationError(f"edge {edge.source} -> {edge.target} goes nowhere")
            if move in rules:
                raise ValidationError(
                    f"edge {edge.source} -> {edge.target} on {edge.trigger} is given twice"
                )
            if move not in possible:
                raise ValidationError(
                    f"edge {edge.source} -> {edge.target} on {edge.trigger} is illegal on the "
                    f"{self.ladder} ladder: {_why_illegal(self.ladder, edge)}"
                )
            rules[move] = edge.rule or possible[move]
            allowed[TRIGGERS.index(edge.trigger), index[edge.source], index[edge.target]] = True
        object.__setattr__(self, "_allowed", allowed)
        object.__setattr__(self, "_rules", rules)

    @classmethod
    def default(cls, ladder: str, stages: tuple[str, ...] | None = None) -> StageMachine:
        """The machine that allows every move the ladder's rules can make."""
        if stages is None:
            stages = {
                "relationship": RELATIONSHIP_STAGES,
                "post_purchase": POST_PURCHASE_STAGES,
            }.get(ladder)
            if stages is None:
                from privdomain.lifecycle.ladders import milestone_names

                stages = milestone_names((1, 3, 5))
        edges = [
            Edge(s, t, trig, rule) for (s, t, trig), rule in possible_edges(ladder, stages).items()
        ]
        return cls(ladder, stages, edges)

    def rule(self, source: str, target: str, trigger: str) -> str:
        """The rule text of an allowed edge (``""`` when the edge is not allowed)."""
        return self._rules.get((source, target, trigger), "")

    def allows(
        self,
        source: NDArray[np.integer[Any]],
        target: NDArray[np.integer[Any]],
        purchased: NDArray[np.bool_] | None,
    ) -> NDArray[np.bool_]:
        """Whether each move ``source[i] → target[i]`` (stage codes) is an allowed edge,
        made by a purchase where ``purchased[i]``, by time otherwise (``None``: either)."""
        by_purchase = self._allowed[0][source, target]
        by_time = self._allowed[1][source, target]
        if purchased is None:
            out: NDArray[np.bool_] = by_purchase | by_time
            return out
        chosen: NDArray[np.bool_] = np.where(purchased, by_purchase, by_time)
        return chosen


def _why_illegal(ladder: str, edge: Edge) -> str:
    if ladder == "post_purchase":
        if edge.target == "not_bought":
            return "nobody returns to never-bought"
        if edge.trigger == "time":
            return "without a purchase time only moves a customer down the ladder"
        return "a purchase returns a customer to active, never below not_bought"
    if ladder == "relationship":
        if edge.target == _P:
            return "purchases only add up: nobody returns to prospect"
        if edge.target == _N:
            return "purchases only add up: nobody with two purchase days is new again"
        if edge.trigger == "time":
            return "without a purchase a customer only slides to decline or churned, or matures"
        return "purchases and tenure only grow, so this move cannot happen"
    if edge.trigger == "time":
        return "only purchases move a customer between milestones"
    return "purchases only add up: milestones are never lost"
