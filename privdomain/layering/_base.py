"""The one protocol every layering strategy follows, and shared helpers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from privdomain.domain.segment import And, Not, Or, Rule
from privdomain.domain.snapshot import Snapshot
from privdomain.errors import ValidationError
from privdomain.layering._result import Segmentation

__all__ = ["Layering", "features_from_snapshot", "first_match_labels"]


@runtime_checkable
class Layering(Protocol):
    """A strategy that puts every customer of a snapshot into exactly one segment.

    Rule-based strategies layer directly; learners (:class:`RFMLayering`,
    :class:`ValueClusters`) are fitted first (``fit(snapshot)``) and then layer any snapshot
    with what they learned. A host can plug in its own strategy by implementing this method.
    """

    def layer(self, snapshot: Snapshot) -> Segmentation:
        """Layer ``snapshot``: one segment per customer, with the reasons."""
        ...


def features_from_snapshot(snapshot: Snapshot, names: Sequence[str]) -> NDArray[np.float64]:
    """A ``(customers, len(names))`` float matrix of snapshot features, in ``names`` order.

    Booleans become 0/1; a non-numeric feature (a text attribute) is refused.
    """
    if not isinstance(snapshot, Snapshot):
        raise ValidationError(f"expected a Snapshot, got {type(snapshot).__name__}")
    if not names:
        raise ValidationError("need at least one feature")
    # column-major: every later step works column by column
    out = np.empty((len(snapshot), len(names)), dtype=np.float64, order="F")
    for j, name in enumerate(names):
        col = np.asarray(snapshot.feature(name))
        if col.dtype.kind not in "biuf":
            raise ValidationError(f"feature {name!r} is not numeric (dtype {col.dtype})")
        out[:, j] = col
    return out


def first_match_labels(
    masks: Sequence[NDArray[np.bool_]], n: int
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Label each row with the first mask that holds; rows matching none get ``len(masks)``.

    Returns the labels and whether any row matched no mask.
    """
    labels = np.full(n, len(masks), dtype=np.int64)
    unassigned = np.ones(n, dtype=bool)
    for code, mask in enumerate(masks):
        hit = unassigned & mask
        labels[hit] = code
        unassigned &= ~mask
    return labels, unassigned


def first_match_rules(rules: Sequence[Rule]) -> tuple[list[Rule], Rule]:
    """Disjoint rules under "first match wins", and the rule of rows no rule matches."""
    out: list[Rule] = []
    for i, rule in enumerate(rules):
        out.append(rule if i == 0 else And((rule, *(Not(r) for r in rules[:i]))))
    rest: Rule = Not(Or(tuple(rules))) if rules else Not(Or(()))
    return out, rest
