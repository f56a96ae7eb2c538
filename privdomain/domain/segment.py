"""Segments: named, composable rules over snapshot features, evaluated to boolean masks.

A rule is a small tree of comparisons joined by ``&`` (and), ``|`` (or) and ``~`` (not); it is
built from Python objects, never from ``eval`` of strings::

    from privdomain import F, Segment
    loyal = Segment("loyal", (F("orders") >= 3) & (F("recency_days") <= 60))
    at_risk = Segment("at risk", (F("orders") >= 3) & ~(F("recency_days") <= 60))
    loyal.mask(snapshot)        # one bool per customer of the snapshot

Missing values (NaN) compare false, so ``F("recency_days") <= 60`` excludes customers who never
bought, and so does ``F("recency_days") > 60``; ask for them with ``F("recency_days").isnan()``.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain.channels import Channel
from privdomain.errors import InvalidRuleError

__all__ = ["All", "And", "Compare", "F", "Feature", "FeatureSource", "Not", "Or", "Rule", "Segment"]


class FeatureSource(Protocol):
    """Anything with named 1-D feature columns, such as a :class:`~privdomain.Snapshot`."""

    def feature(self, name: str) -> NDArray[Any]: ...

    def __len__(self) -> int: ...


_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _plain(value: Any) -> Any:
    """Enum members compare by their code, as snapshot columns store them."""
    return value.value if isinstance(value, enum.Enum) else value


def _plain_value(value: Any) -> Any:
    return tuple(map(_plain, value)) if isinstance(value, tuple) else _plain(value)


def _rules(value: Iterable[Rule]) -> tuple[Rule, ...]:
    return tuple(value)


class Rule:
    """A boolean condition over features. Combine with ``&``, ``|`` and ``~``."""

    def mask(self, source: FeatureSource) -> NDArray[np.bool_]:
        """One ``bool`` per row of ``source``."""
        raise NotImplementedError

    def features(self) -> frozenset[str]:
        """The feature names this rule reads."""
        raise NotImplementedError

    def explain(self, source: FeatureSource, row: int) -> str:
        """Why row ``row`` does or does not satisfy the rule, with the numbers."""
        raise NotImplementedError

    def __and__(self, other: Rule) -> Rule:
        return And((self, _rule(other)))

    def __or__(self, other: Rule) -> Rule:
        return Or((self, _rule(other)))

    def __invert__(self) -> Rule:
        return Not(self)


def _rule(value: object) -> Rule:
    if isinstance(value, Rule):
        return value
    if isinstance(value, Segment):
        return value.rule
    raise InvalidRuleError(f"cannot combine a rule with {type(value).__name__}")


def _mark(ok: bool) -> str:
    return "yes" if ok else "no"


@attrs.frozen
class Compare(Rule):
    """``feature <op> value``, or membership (``op="in"``) in a set of values."""

    feature: str
    op: str = attrs.field(validator=attrs.validators.in_([*_OPS, "in", "isnan"]))
    value: Any = attrs.field(converter=_plain_value)

    def mask(self, source: FeatureSource) -> NDArray[np.bool_]:
        col = source.feature(self.feature)
        if self.op == "isnan":
            return np.isnan(col.astype(np.float64)) if col.dtype.kind in "fiub" else col == None  # noqa: E711
        if self.op == "in":
            return np.isin(
                col, np.array(self.value, dtype=col.dtype if col.dtype.kind != "O" else object)
            )
        try:
            result = _OPS[self.op](col, self.value)
        except TypeError as exc:
            raise InvalidRuleError(
                f"cannot compare feature {self.feature!r} with {self.value!r}: {exc}"
            ) from None
        mask = np.asarray(result, dtype=bool)
        if self.op == "!=":  # missing values compare false, for != too (IEEE says true)
            if col.dtype.kind == "f":
                mask &= ~np.isnan(col)
            elif col.dtype.kind == "O":
                mask &= col != None  # noqa: E711 - elementwise on objects
            elif col.dtype.kind == "M":
                mask &= ~np.isnat(col)
        return mask

    def features(self) -> frozenset[str]:
        return frozenset({self.feature})

    def explain(self, source: FeatureSource, row: int) -> str:
        value = source.feature(self.feature)[row]
        ok = bool(self.mask(source)[row])
        if self.feature == "source":  # channel codes read better as names
            shown, target = _channel_name(value), _channel_names(self.value)
        else:
            shown, target = _show(value), repr(self.value)
        if self.op == "isnan":
            return f"{self.feature}={shown} is NaN: {_mark(ok)}"
        return f"{self.feature}={shown} {self.op} {target}: {_mark(ok)}"

    def __repr__(self) -> str:
        if self.op == "isnan":
            return f"F({self.feature!r}).isnan()"
        if self.op == "in":
            return f"F({self.feature!r}).isin({list(self.value)!r})"
        return f"(F({self.feature!r}) {self.op} {self.value!r})"


def _channel_name(code: Any) -> str:
    try:
        return Channel(int(code)).name
    except (TypeError, ValueError):
        return _show(code)


def _channel_names(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_channel_name(v) for v in value) + "]"
    return _channel_name(value)


def _show(value: Any) -> str:
    if isinstance(value, np.floating):
        return f"{float(value):.4g}"
    if isinstance(value, np.generic):
        return str(value.item())
    return repr(value)


@attrs.frozen
class And(Rule):
    """All of ``rules`` hold."""

    rules: tuple[Rule, ...] = attrs.field(converter=_rules)

    def mask(self, source: FeatureSource) -> NDArray[np.bool_]:
        out = np.ones(len(source), dtype=bool)
        for r in self.rules:
            out &= r.mask(source)
        return out

    def features(self) -> frozenset[str]:
        return frozenset().union(*(r.features() for r in self.rules))

    def explain(self, source: FeatureSource, row: int) -> str:
        return "(" + " and ".join(r.explain(source, row) for r in self.rules) + ")"

    def __and__(self, other: Rule) -> Rule:
        return And((*self.rules, _rule(other)))

    def __repr__(self) -> str:
        return "(" + " & ".join(map(repr, self.rules)) + ")"


@attrs.frozen
class Or(Rule):
    """At least one of ``rules`` holds."""

    rules: tuple[Rule, ...] = attrs.field(converter=_rules)

    def mask(self, source: FeatureSource) -> NDArray[np.bool_]:
        out = np.zeros(len(source), dtype=bool)
        for r in self.rules:
            out |= r.mask(source)
        return out

    def features(self) -> frozenset[str]:
        return frozenset().union(*(r.features() for r in self.rules))

    def explain(self, source: FeatureSource, row: int) -> str:
        return "(" + " or ".join(r.explain(source, row) for r in self.rules) + ")"

    def __or__(self, other: Rule) -> Rule:
        return Or((*self.rules, _rule(other)))

    def __repr__(self) -> str:
        return "(" + " | ".join(map(repr, self.rules)) + ")"


@attrs.frozen
class Not(Rule):
    """``rule`` does not hold."""

    rule: Rule

    def mask(self, source: FeatureSource) -> NDArray[np.bool_]:
        return ~self.rule.mask(source)

    def features(self) -> frozenset[str]:
        return self.rule.features()

    def explain(self, source: FeatureSource, row: int) -> str:
        return f"not {self.rule.explain(source, row)}"

    def __invert__(self) -> Rule:
        return self.rule

    def __repr__(self) -> str:
        return f"~{self.rule!r}"


@attrs.frozen
class All(Rule):
    """Every customer (the neutral rule of ``&``)."""

    def mask(self, source: FeatureSource) -> NDArray[np.bool_]:
        return np.ones(len(source), dtype=bool)

    def features(self) -> frozenset[str]:
        return frozenset()

    def explain(self, source: FeatureSource, row: int) -> str:
        return "everyone: yes"

    def __repr__(self) -> str:
        return "All()"


@attrs.frozen
class Feature:
    """A named feature, to build rules with comparison operators: ``F("orders") >= 3``."""

    name: str

    def __eq__(self, value: object) -> Compare:  # type: ignore[override]
        return Compare(self.name, "==", value)

    def __ne__(self, value: object) -> Compare:  # type: ignore[override]
        return Compare(self.name, "!=", value)

    def __lt__(self, value: object) -> Compare:
        return Compare(self.name, "<", value)

    def __le__(self, value: object) -> Compare:
        return Compare(self.name, "<=", value)

    def __gt__(self, value: object) -> Compare:
        return Compare(self.name, ">", value)

    def __ge__(self, value: object) -> Compare:
        return Compare(self.name, ">=", value)

    __hash__ = None  # type: ignore[assignment]  # == builds a rule, so features are unhashable

    def isin(self, values: Iterable[Any]) -> Compare:
        """The feature is one of ``values``."""
        return Compare(self.name, "in", tuple(values))

    def between(self, low: Any, high: Any) -> Rule:
        """``low <= feature <= high``."""
        return And((Compare(self.name, ">=", low), Compare(self.name, "<=", high)))

    def isnan(self) -> Compare:
        """The feature is missing (NaN, or ``None`` for attributes)."""
        return Compare(self.name, "isnan", None)

    def is_true(self) -> Compare:
        """A boolean feature (a tag, ``has_referrer``...) is true."""
        return Compare(self.name, "==", True)


#: Short name for :class:`Feature`.
F = Feature


@attrs.frozen
class Segment:
    """A named rule: which customers of a snapshot belong to it.

    Segments compose like their rules: ``a & b``, ``a | b`` and ``~a`` are segments named after
    their parts. :meth:`mask` checks that every feature the rule reads exists before evaluating,
    so a typo raises :class:`~privdomain.errors.UnknownFeatureError` instead of a wrong answer.
    """

    name: str = attrs.field(validator=attrs.validators.instance_of(str))
    rule: Rule = attrs.field(validator=attrs.validators.instance_of(Rule))
    description: str = ""

    def mask(self, source: FeatureSource) -> NDArray[np.bool_]:
        """Membership of every row of ``source`` as a boolean mask."""
        for name in sorted(self.rule.features()):
            source.feature(name)  # raises UnknownFeatureError with a hint
        return self.rule.mask(source)

    def members(self, snapshot: Any) -> NDArray[np.object_]:
        """The ids of the customers of ``snapshot`` in this segment."""
        return np.asarray(snapshot.customer_ids)[self.mask(snapshot)]

    def count(self, source: FeatureSource) -> int:
        """How many rows belong."""
        return int(self.mask(source).sum())

    def explain(self, source: FeatureSource, row: int) -> str:
        """Why row ``row`` is in the segment or not."""
        return f"{self.name}: {self.rule.explain(source, row)}"

    def __and__(self, other: Segment | Rule) -> Segment:
        name = other.name if isinstance(other, Segment) else repr(other)
        return Segment(f"{self.name} & {name}", self.rule & _rule(other))

    def __or__(self, other: Segment | Rule) -> Segment:
        name = other.name if isinstance(other, Segment) else repr(other)
        return Segment(f"{self.name} | {name}", self.rule | _rule(other))

    def __invert__(self) -> Segment:
        return Segment(f"not {self.name}", ~self.rule)
