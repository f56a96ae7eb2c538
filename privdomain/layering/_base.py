"""The one protocol every layering strategy follows, its warnings, and shared helpers."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from privdomain.domain.segment import And, Not, Or, Rule, short_repr
from privdomain.domain.snapshot import Snapshot
from privdomain.errors import ValidationError
from privdomain.layering._result import Segmentation
from privdomain.strategy import QuantileSketch, SummarizingStrategy

__all__ = [
    "EXACT_UP_TO",
    "RELATIVE_ERROR",
    "CollapsedBandsWarning",
    "Layering",
    "LayeringWarning",
    "RecencyWarning",
    "features_from_snapshot",
    "first_match_labels",
    "sketch",
]

#: The relative error of the quantile sketches layering learns from (0.5%).
RELATIVE_ERROR = 0.005
#: Layering's sketches keep every distinct value, and their quantiles are exact, up to this
#: many distinct values (per feature, over the whole pool); beyond, quantiles are read from
#: buckets within :data:`RELATIVE_ERROR`. Either way, partitions give the same answer.
EXACT_UP_TO = 1 << 16


def sketch(values: Any) -> QuantileSketch:
    """The quantile sketch of ``values`` that every layering learns from (NaN left out)."""
    return QuantileSketch.of(values, relative_error=RELATIVE_ERROR, exact_up_to=EXACT_UP_TO)


class LayeringWarning(UserWarning):
    """A layering was computed, but the data make part of it misleading; read the message.

    Every result says the same in its notes and in ``explain``. Filter the class (or one of its
    subclasses) with :mod:`warnings` to silence it once you know.
    """


class RecencyWarning(LayeringWarning):
    """Learned recency bands call customers recent who have been silent for a long time.

    Quantile (or centre) recency edges rank customers against each other, not against time: in
    a lapsed pool, where everybody's last purchase is a year old, the "most recent" fifth is
    still a year silent and would be labelled as having "bought recently". Raised by
    :meth:`RFMLayering.fit` when the recency that still scores in the upper half of R exceeds
    ``recent_multiple`` times the pool's median time between purchases.
    """


class CollapsedBandsWarning(LayeringWarning):
    """Quantile edges coincide, so some score bands can hold nobody.

    When many buyers share a value (most bought on one day only) several quantiles are equal:
    fewer distinct edges than bands were asked for, and the score jumps over the empty bands
    (purchase days 1 → F 1, 2 → F 4).
    """


@runtime_checkable
class Layering(SummarizingStrategy, Protocol):
    """A strategy that puts every customer of a snapshot into exactly one segment.

    It follows the strategy contract (:mod:`privdomain.strategy`): ``fit(snapshot)`` learns
    global statistics only (nothing, for rule-only strategies), from summaries that merge
    across partitions (``summarize`` / ``fit_summary``); ``apply(snapshot)`` returns a
    :class:`Segmentation` aligned to the snapshot's rows. A host can plug in its own strategy
    by implementing these methods.
    """

    def apply(self, snapshot: Snapshot) -> Segmentation:
        """Layer ``snapshot``: one segment per customer, in the snapshot's order, with reasons."""
        ...


def features_from_snapshot(snapshot: Snapshot, names: Sequence[str]) -> NDArray[np.float64]:
    """A ``(customers, len(names))`` float matrix of snapshot features, in ``names`` order.

    Booleans become 0/1; a non-numeric feature (a text attribute) is refused.

    Raises
    ------
    ValidationError
        When ``snapshot`` is not a :class:`~privdomain.Snapshot`, ``names`` is not a non-empty
        sequence of feature names, or a feature is not numeric.
    UnknownFeatureError
        When the snapshot has no feature of a name.
    """
    if not isinstance(snapshot, Snapshot):
        raise ValidationError(f"expected a Snapshot, got {type(snapshot).__name__}")
    names = feature_names(names, "names")
    # column-major: every later step works column by column
    out = np.empty((len(snapshot), len(names)), dtype=np.float64, order="F")
    for j, name in enumerate(names):
        col = np.asarray(snapshot.feature(name))
        if col.dtype.kind not in "biuf":
            raise ValidationError(f"feature {name!r} is not numeric (dtype {col.dtype})")
        out[:, j] = col
    return out


def is_number(value: Any) -> bool:
    """A real number that is not a bool (``True`` is an ``int`` to Python, not to a count)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def is_integer(value: Any) -> bool:
    """An integer that is not a bool."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def is_collection(value: Any) -> bool:
    """Iterable, and not a string (a lone string is a common slip for a list of one)."""
    return isinstance(value, Iterable) and not isinstance(value, str | bytes)


def feature_names(value: Any, what: str) -> tuple[str, ...]:
    """``value`` as a non-empty tuple of non-empty feature names (a lone str is refused)."""
    if not is_collection(value):
        raise ValidationError(
            f"{what} must be a sequence of feature names, not {type(value).__name__} "
            f"{short_repr(value)}"
        )
    out = tuple(value)
    if not out:
        raise ValidationError(f"{what} needs at least one feature")
    for name in out:
        if not isinstance(name, str) or not name:
            raise ValidationError(
                f"{what}: a feature name is a non-empty str, not {short_repr(name)}"
            )
    return out


def numeric_array(value: Any, what: str) -> NDArray[np.float64]:
    """``value`` as a float array, refusing anything that is not numbers (text, objects)."""
    try:
        arr = np.asarray(value)
    except Exception:  # a foreign sequence may fail in any way while being read
        raise ValidationError(f"{what} must be an array of numbers") from None
    if arr.dtype.kind not in "biuf":
        raise ValidationError(f"{what} must be an array of numbers, not dtype {arr.dtype}")
    return arr.astype(np.float64)


def check_snapshot(snapshot: Any, method: str) -> Snapshot:
    """``snapshot`` if it is a :class:`~privdomain.Snapshot`, else a :class:`ValidationError`."""
    if not isinstance(snapshot, Snapshot):
        raise ValidationError(f"{method}() takes a Snapshot, got {type(snapshot).__name__}")
    return snapshot


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
