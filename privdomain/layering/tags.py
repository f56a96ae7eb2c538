"""Tag rules: segments from tags and features, over the three dimensions of customer tags.

Customer tags come in three dimensions: **basic attributes** (gender, age, region, and
vertical-specific ones), **source** (which platform or channel brought the customer) and
**interaction behaviour** (who likes to interact and share: KOC candidates). The helpers here
build rules in each dimension; combine them with ``&``, ``|`` and ``~``, or write them as text
(:func:`~privdomain.layering.parse_rule`) and let :class:`TagLayering` turn an ordered list of
segments into a partition of the pool.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import numpy as np

from privdomain.domain.channels import Channel, TouchKind
from privdomain.domain.segment import Compare, F, Rule, Segment, short_repr
from privdomain.domain.snapshot import Snapshot
from privdomain.errors import InvalidRuleError
from privdomain.layering._base import check_snapshot, first_match_labels, first_match_rules
from privdomain.layering._result import Segmentation
from privdomain.layering.rfm_table import OTHER
from privdomain.layering.rule_text import parse_rule
from privdomain.strategy import RuleBased

__all__ = [
    "TagDimension",
    "TagLayering",
    "attribute_in",
    "attribute_is",
    "came_from",
    "interacted",
    "tag_dimension",
    "tagged",
]


class TagDimension(enum.Enum):
    """The three dimensions of customer tags, and everything else."""

    BASIC = "basic attributes"  #: gender, age, region, vertical-specific attributes
    SOURCE = "source"  #: which platform or channel brought the customer, and who referred them
    BEHAVIOUR = "interaction behaviour"  #: touches, shares, invitations, posts, purchases
    OPERATOR = "operator tag"  #: a tag the operator set by hand (``tag:...``)
    OTHER = "other"


_SOURCE_FEATURES = frozenset({"source", "has_referrer"})
_BEHAVIOUR_PREFIXES = ("count_", "touches_", "days_since_")
_BEHAVIOUR_FEATURES = frozenset(
    {
        "orders",
        "purchase_days",
        "gross_spend",
        "first_day_spend",
        "refunds",
        "refunded",
        "net_spend",
        "avg_order_value",
        "promo_orders",
        "discounted_orders",
        "discount_total",
        "recency_days",
        "referrals",
    }
)


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRuleError(f"{what} must be a non-empty str, not {short_repr(value)}")
    return value


def tag_dimension(feature: str) -> TagDimension:
    """Which tag dimension a snapshot feature belongs to."""
    _name(feature, "a feature name")
    if feature.startswith("attr:"):
        return TagDimension.BASIC
    if feature.startswith("tag:"):
        return TagDimension.OPERATOR
    if feature in _SOURCE_FEATURES:
        return TagDimension.SOURCE
    if feature in _BEHAVIOUR_FEATURES or feature.startswith(_BEHAVIOUR_PREFIXES):
        return TagDimension.BEHAVIOUR
    return TagDimension.OTHER


def tagged(tag: str) -> Rule:
    """The customer carries operator tag ``tag``."""
    return Compare(f"tag:{_name(tag, 'a tag')}", "==", True)


def attribute_is(name: str, value: Any) -> Rule:
    """Basic attribute ``name`` equals ``value`` (e.g. ``attribute_is("gender", "F")``)."""
    return Compare(f"attr:{_name(name, 'an attribute name')}", "==", value)


def attribute_in(name: str, values: Iterable[Any]) -> Rule:
    """Basic attribute ``name`` is one of ``values`` (a list, tuple or set)."""
    return F(f"attr:{_name(name, 'an attribute name')}").isin(values)


def came_from(*channels: Channel | str) -> Rule:
    """The customer's source is one of ``channels`` (members or names, e.g. ``"douyin"``)."""
    if not channels:
        raise InvalidRuleError("came_from needs at least one channel")
    try:
        parsed = tuple(Channel.parse(c) for c in channels)
    except (ValueError, TypeError) as exc:
        raise InvalidRuleError(str(exc)) from None
    return Compare("source", "in", parsed)


def interacted(kind: TouchKind | str, *, at_least: int = 1) -> Rule:
    """The customer had at least ``at_least`` touches of ``kind`` (e.g. shared 3 times)."""
    if not isinstance(at_least, int | np.integer) or isinstance(at_least, bool) or at_least < 1:
        raise InvalidRuleError(f"at_least must be an integer >= 1, not {short_repr(at_least)}")
    try:
        k = TouchKind.parse(kind)
    except (ValueError, TypeError) as exc:
        raise InvalidRuleError(str(exc)) from None
    return Compare(f"count_{k.name.lower()}", ">=", int(at_least))


def _segment(value: Segment | tuple[str, Rule | str] | tuple[str, Rule | str, str]) -> Segment:
    if isinstance(value, Segment):
        return value
    if isinstance(value, tuple) and len(value) in (2, 3) and isinstance(value[0], str):
        rule = value[1]
        if isinstance(rule, str):
            rule = parse_rule(rule)
        if not isinstance(rule, Rule):
            raise InvalidRuleError(
                f"segment {value[0]!r}: a Rule or rule text, not {short_repr(rule)}"
            )
        desc = value[2] if len(value) == 3 else repr(rule)
        return Segment(value[0], rule, description=desc)
    raise InvalidRuleError(
        f"a segment is a Segment or (name, rule[, description]), not {short_repr(value)}"
    )


def _segments(values: Sequence[Any]) -> tuple[Segment, ...]:
    if isinstance(values, str | Segment) or not isinstance(values, Iterable):
        raise InvalidRuleError(f"segments is a sequence of segments, not {type(values).__name__}")
    out = tuple(_segment(v) for v in values)
    if not out:
        raise InvalidRuleError("TagLayering needs at least one segment")
    names = [s.name for s in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InvalidRuleError(f"segment names repeat: {dupes}")
    return out


def _other(_: object, attribute: attrs.Attribute[str], value: Any) -> None:
    _name(value, "other (the name of the unmatched customers' segment)")


@attrs.frozen
class TagLayering(RuleBased):
    """Layer a pool by an ordered list of segments; the first segment that matches wins.

    Segments may overlap: a customer goes to the *first* segment whose rule holds, and the
    segments of the result are rewritten to be disjoint (each excludes the ones before it).
    Customers no segment matches go to ``other`` (default ``"Other"``). The result holds every
    feature the rules read, and ``matched``: how many segments' rules hold for the customer.
    A rule-only strategy: ``fit`` has nothing to learn, ``apply`` decides customer by customer.

    Attributes
    ----------
    segments : sequence
        :class:`~privdomain.Segment` objects, or ``(name, rule)`` / ``(name, rule, description)``
        tuples where ``rule`` is a rule object or rule text.
    other : str, default "Other"
        The name of the segment of customers that match nothing.

    Raises
    ------
    InvalidRuleError
        When a segment is malformed (its rule text does not parse, its name is not a
        non-empty string...), names repeat, or ``other`` names one of the segments.

    Examples
    --------
    >>> layering = TagLayering([
    ...     ("VIP", "tag:vip"),
    ...     ("Douyin fans", 'source in ["DOUYIN"] and count_shared >= 1'),
    ... ])
    >>> [s.name for s in layering.segments]
    ['VIP', 'Douyin fans']
    """

    segments: tuple[Segment, ...] = attrs.field(converter=_segments)
    other: str = attrs.field(default=OTHER, validator=_other)

    def __attrs_post_init__(self) -> None:
        if self.other in {s.name for s in self.segments}:
            raise InvalidRuleError(f"{self.other!r} names the unmatched customers; rename it")

    def dimensions(self) -> dict[str, set[TagDimension]]:
        """Which tag dimensions each segment's rule reads."""
        return {s.name: {tag_dimension(f) for f in s.rule.features()} for s in self.segments}

    def apply(self, snapshot: Snapshot) -> Segmentation:
        """Layer ``snapshot``: first matching segment, or ``other``.

        Raises :class:`~privdomain.errors.UnknownFeatureError` (with the closest names) when a
        rule reads a feature the snapshot lacks.
        """
        check_snapshot(snapshot, "apply")
        masks = [s.mask(snapshot) for s in self.segments]
        labels, _ = first_match_labels(masks, len(snapshot))
        disjoint, rest = first_match_rules([s.rule for s in self.segments])
        names = (*(s.name for s in self.segments), self.other)
        matched = np.zeros(len(snapshot), dtype=np.int64)
        for mask in masks:
            matched += mask
        read = dict.fromkeys(f for s in self.segments for f in sorted(s.rule.features()))
        columns = {name: snapshot.feature(name) for name in read}
        columns["matched"] = matched
        return Segmentation(
            strategy="tag rules",
            customer_ids=snapshot.customer_ids,
            labels=labels,
            names=names,
            rules=(*disjoint, rest),
            rules_on="snapshot",
            descriptions=(
                *(s.description or repr(s.rule) for s in self.segments),
                "no segment's rule holds",
            ),
            columns=columns,
            column_notes={"matched": "how many segments' rules hold; the first in order wins"},
            notes=(
                f"segments are tested in order and the first that matches wins; customers "
                f"that match none are in {self.other!r}",
            ),
        )
