"""Segments: named, composable rules over snapshot features, evaluated to boolean masks.

A rule is a small tree of comparisons joined by ``&`` (and), ``|`` (or) and ``~`` (not); it is
built from Python objects, never from ``eval`` of strings::

    from privdomain import F, Segment
    loyal = Segment("loyal", (F("orders") >= 3) & (F("recency_days") <= 60))
    at_risk = Segment("at risk", (F("orders") >= 3) & ~(F("recency_days") <= 60))
    loyal.mask(snapshot)        # one bool per customer of the snapshot

Missing values (NaN) compare false, so ``F("recency_days") <= 60`` excludes customers who never
bought, and so does ``F("recency_days") > 60``; ask for them with ``F("recency_days").isnan()``.

Types are never mixed silently. A comparison's value is a bool, a number, a string or a time
(never ``None`` or NaN: missing values are asked for with ``isnan()``), and it must fit the
feature's column when the rule is evaluated: a number for a numeric feature, a string for a
text attribute, ``True``/``False`` for a boolean feature (a tag, ``has_referrer``...). A
boolean feature is used on its own (``F("tag:vip").is_true()``) or with ``==``/``!=``; a
numeric feature is never read as a boolean (``F("orders").is_true()`` is refused rather than
meaning ``orders == 1``). Anything else raises :class:`~privdomain.errors.InvalidRuleError`.

A rule nests at most :data:`MAX_RULE_DEPTH` levels of and/or/not; a deeper tree is refused
when it is built (:class:`~privdomain.errors.InvalidRuleError`), so no rule can exhaust
Python's recursion limit when it is evaluated, compared, printed or pickled. ``a & (b & c)``
is flattened to one level, so chains built in a loop stay shallow.
"""

from __future__ import annotations

import datetime as dt
import enum
import numbers
import operator
import reprlib
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain.channels import Channel
from privdomain.errors import InvalidRuleError, NaiveDatetimeError, ValidationError

__all__ = [
    "MAX_RULE_DEPTH",
    "All",
    "And",
    "Compare",
    "F",
    "Feature",
    "FeatureSource",
    "Not",
    "Or",
    "Rule",
    "Segment",
]

#: The deepest nesting of and/or/not a rule may have (a comparison alone has depth 1).
#: Real segment rules nest a handful of levels; the cap keeps every recursive walk of a rule
#: (evaluation, ``==``, ``repr``, pickling, ``copy.deepcopy``) far from Python's recursion limit.
MAX_RULE_DEPTH = 100


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
_ORDERING = frozenset({"<", "<=", ">", ">="})
_ALL_OPS = (*_OPS, "in", "isnan")
_TIME_TYPES = (dt.datetime, dt.date, dt.timedelta, np.datetime64, np.timedelta64)
_NONE_TYPE = type(None)
#: Integers a comparison may hold: those of int64 and uint64 columns.
_INT_RANGE = (-(2**63), 2**64 - 1)

_SHORT = reprlib.Repr()
_SHORT.maxstring = 60
_SHORT.maxother = 60
_SHORT.maxlong = 30


def short_repr(value: Any) -> str:
    """``repr(value)`` cut short for messages: never long, never raising (a huge int or a
    broken ``__repr__`` must not replace the error being reported)."""
    try:
        return _SHORT.repr(value)
    except Exception:  # a foreign __repr__ may raise anything
        return f"<{type(value).__name__} object>"


# ---------------------------------------------------------------------- values and columns


def _plain(value: Any) -> Any:
    """Enum members compare by their code, as snapshot columns store them; numpy scalars as
    the Python values they hold (times stay numpy: ``.item()`` of nanoseconds is an int)."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, np.timedelta64):
        return value
    if isinstance(value, np.bool_ | np.integer | np.floating | np.str_):
        return value.item()
    return value


def _plain_value(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return tuple(map(_plain, value))
    return _plain(value)


def _literal_kind(value: Any) -> str:
    """``"bool"``, ``"number"``, ``"text"``, ``"time"``, or ``""`` for anything else."""
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, _TIME_TYPES):  # before numbers: np.timedelta64 is an integer type
        return "time"
    if isinstance(value, numbers.Real):
        return "number"
    if isinstance(value, str):
        return "text"
    return ""


def _check_literal(feature: str, value: Any) -> None:
    if value is None:
        raise InvalidRuleError(
            f"cannot compare feature {feature!r} with None: ask for missing values with "
            f"F({feature!r}).isnan() (rule text: '{feature} is missing')"
        )
    kind = _literal_kind(value)
    if not kind:
        raise InvalidRuleError(
            f"cannot compare feature {feature!r} with {short_repr(value)} "
            f"({type(value).__name__}): a value is a bool, a number, a string or a time"
        )
    if kind == "number" and value != value:
        raise InvalidRuleError(
            f"cannot compare feature {feature!r} with NaN (nothing equals NaN): ask for missing "
            f"values with F({feature!r}).isnan()"
        )
    if isinstance(value, dt.datetime) and value.utcoffset() is None:
        raise NaiveDatetimeError(
            f"cannot compare feature {feature!r} with the naive datetime {value!r}: "
            "give it a time zone"
        )
    if isinstance(value, numbers.Integral) and not _INT_RANGE[0] <= int(value) <= _INT_RANGE[1]:
        raise InvalidRuleError(
            f"cannot compare feature {feature!r} with {short_repr(value)}: integers in rules "
            "fit 64 bits"
        )


def _check_name(feature: Any, what: str = "a feature name") -> None:
    if not isinstance(feature, str):
        raise InvalidRuleError(
            f"{what} must be a str, not {type(feature).__name__}: {short_repr(feature)}"
        )
    if not feature:
        raise InvalidRuleError(f"{what} must not be empty")


_KIND_WORDS = {
    "bool": "boolean",
    "number": "numeric",
    "text": "text",
    "time": "a time",
    "mixed": "of mixed types",
}


def _column_kind(col: NDArray[Any]) -> str:
    """What a feature column holds: ``bool``, ``number``, ``text``, ``time``, ``unset`` (an
    object column where nothing is set), ``mixed`` or ``other``."""
    k = col.dtype.kind
    if k == "b":
        return "bool"
    if k in "iuf":
        return "number"
    if k in "US":
        return "text"
    if k in "Mm":
        return "time"
    if k != "O":
        return "other"
    # object columns (attributes that are not all numbers): look at the set values' types
    kinds = {_type_kind(t) for t in set(map(type, col.tolist())) - {_NONE_TYPE}}
    if not kinds:
        return "unset"
    if len(kinds) == 1 and "" not in kinds:
        return kinds.pop()
    return "mixed"


def _type_kind(t: type) -> str:
    """:func:`_literal_kind` of the values of type ``t``."""
    if issubclass(t, bool | np.bool_):
        return "bool"
    if issubclass(t, _TIME_TYPES):
        return "time"
    if issubclass(t, numbers.Real):
        return "number"
    if issubclass(t, str):
        return "text"
    return ""


def _source_hint(feature: str) -> str:
    return " (channels: F('source') == Channel.DOUYIN)" if feature == "source" else ""


def _check_fits(feature: str, op: str, column: str, values: tuple[Any, ...]) -> None:
    """Refuse a comparison whose value does not fit the column it is evaluated on."""
    if column in ("unset", "other"):
        return
    if column == "bool":
        if op in _ORDERING:
            raise InvalidRuleError(
                f"feature {feature!r} is boolean and has no order: use it on its own "
                f"(F({feature!r}).is_true()) or compare it with == / != true or false"
            )
        wrong = [v for v in values if _literal_kind(v) != "bool"]
        if wrong:
            raise InvalidRuleError(
                f"feature {feature!r} is boolean: compare it with true or false, "
                f"not {short_repr(wrong[0])}"
            )
        return
    bools = [v for v in values if _literal_kind(v) == "bool"]
    if bools:
        example = {"number": f"{feature} >= 1", "text": f'{feature} == "..."'}.get(column)
        hint = f"write a comparison such as {example} instead" if example else "compare it"
        raise InvalidRuleError(
            f"feature {feature!r} is {_KIND_WORDS[column]}, not boolean: a feature on its own, "
            f"or compared with true or false, must be boolean (a tag, has_referrer...); {hint}"
        )
    if column == "mixed":
        return
    wrong = [v for v in values if _literal_kind(v) != column]
    if wrong:
        want = {"number": "a number", "text": "a string", "time": "a time"}[column]
        raise InvalidRuleError(
            f"feature {feature!r} is {_KIND_WORDS[column]}: compare it with {want}, not "
            f"{short_repr(wrong[0])}{_source_hint(feature)}"
        )


def _present(col: NDArray[Any]) -> NDArray[np.bool_]:
    """Where an object column holds a value (not ``None``)."""
    return np.asarray(col != None, dtype=bool)  # noqa: E711 - elementwise on objects


def _check_source(source: Any) -> None:
    if not (callable(getattr(source, "feature", None)) and hasattr(source, "__len__")):
        raise ValidationError(
            "rules evaluate on a feature source (a Snapshot, a Segmentation, or any object with "
            f"feature(name) and len()), not {type(source).__name__}"
        )


def _check_row(source: FeatureSource, row: Any) -> int:
    _check_source(source)
    n = len(source)
    if not isinstance(row, int | np.integer) or isinstance(row, bool | np.bool_):
        raise ValidationError(
            f"row must be an integer, not {type(row).__name__}: {short_repr(row)}"
        )
    if not 0 <= row < n:
        raise ValidationError(f"row {row} is out of range: the source has {n} rows")
    return int(row)


# ---------------------------------------------------------------------- rules


def _rules(value: Any) -> tuple[Rule, ...]:
    if isinstance(value, Rule | str) or not isinstance(value, Iterable):
        raise InvalidRuleError(f"rules must be a sequence of rules, not {type(value).__name__}")
    out = tuple(value)
    for r in out:
        if not isinstance(r, Rule):
            raise InvalidRuleError(f"every part of a rule must be a Rule, not {short_repr(r)}")
    return out


def _is_rule(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, Rule):
        hint = (
            " (parse rule text with privdomain.layering.parse_rule)"
            if isinstance(value, str)
            else ""
        )
        raise InvalidRuleError(f"{attribute.name} must be a Rule, not {short_repr(value)}{hint}")


def _nested(children: Iterable[Rule]) -> int:
    depth = 1 + max((c.depth for c in children), default=0)
    if depth > MAX_RULE_DEPTH:
        raise InvalidRuleError(
            f"the rule nests {depth} levels of and/or/not; at most {MAX_RULE_DEPTH} are allowed"
        )
    return depth


class Rule:
    """A boolean condition over features. Combine with ``&``, ``|`` and ``~``."""

    @property
    def depth(self) -> int:
        """Levels of and/or/not nesting (1 for a comparison); at most :data:`MAX_RULE_DEPTH`."""
        return 1

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
        other = _rule(other)
        return And((self, *other.rules)) if isinstance(other, And) else And((self, other))

    def __or__(self, other: Rule) -> Rule:
        other = _rule(other)
        return Or((self, *other.rules)) if isinstance(other, Or) else Or((self, other))

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


def _op(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or value not in _ALL_OPS:
        raise InvalidRuleError(f"op must be one of {list(_ALL_OPS)}, not {short_repr(value)}")


def _feature(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    _check_name(value)


@attrs.frozen
class Compare(Rule):
    """``feature <op> value``, membership (``op="in"``) in a tuple of values, or ``isnan``.

    The value is checked when the rule is built (a bool, a number, a string or a time; never
    ``None`` or NaN) and against the feature's column when the rule is evaluated (see the module
    documentation); a mismatch raises :class:`~privdomain.errors.InvalidRuleError`.
    """

    feature: str = attrs.field(validator=_feature)
    op: str = attrs.field(validator=_op)
    value: Any = attrs.field(converter=_plain_value)

    def __attrs_post_init__(self) -> None:
        if self.op == "isnan":
            if self.value is not None:
                raise InvalidRuleError(f"isnan takes no value, got {short_repr(self.value)}")
            return
        if self.op == "in":
            if not isinstance(self.value, tuple):
                raise InvalidRuleError(
                    f"'in' needs a list of values for feature {self.feature!r}, "
                    f"not {short_repr(self.value)}"
                )
            for v in self.value:
                _check_literal(self.feature, v)
            return
        if isinstance(self.value, tuple):
            raise InvalidRuleError(
                f"cannot compare feature {self.feature!r} {self.op} a list "
                f"{short_repr(list(self.value))}: use F({self.feature!r}).isin([...])"
            )
        _check_literal(self.feature, self.value)

    def _column(self, source: FeatureSource) -> NDArray[Any]:
        _check_source(source)
        col = np.asarray(source.feature(self.feature))
        n = len(source)
        if col.shape != (n,):
            raise ValidationError(
                f"feature {self.feature!r} has shape {col.shape}; a feature has one value per "
                f"row, shape ({n},)"
            )
        return col

    def mask(self, source: FeatureSource) -> NDArray[np.bool_]:
        col = self._column(source)
        kind = col.dtype.kind
        if self.op == "isnan":
            if kind in "fiub":
                return np.isnan(col.astype(np.float64))
            if kind in "Mm":
                return np.asarray(np.isnat(col), dtype=bool)
            if kind == "O":
                return ~_present(col)
            return np.zeros(col.shape, dtype=bool)
        values = self.value if self.op == "in" else (self.value,)
        _check_fits(self.feature, self.op, _column_kind(col), values)
        try:
            if self.op == "in":
                return self._isin(col)
            return self._compare(col)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidRuleError(
                f"cannot compare feature {self.feature!r} {self.op} {short_repr(self.value)}: {exc}"
            ) from None

    def _isin(self, col: NDArray[Any]) -> NDArray[np.bool_]:
        if not self.value:
            return np.zeros(col.shape, dtype=bool)
        if col.dtype.kind == "O":  # no sorting of objects: one comparison per listed value
            out = np.zeros(col.shape, dtype=bool)
            for v in self.value:
                out |= np.asarray(col == v, dtype=bool)
            return out
        # numpy promotes the values to a common type: 2.5 stays 2.5 against an integer column
        return np.asarray(np.isin(col, np.asarray(self.value)), dtype=bool)

    def _compare(self, col: NDArray[Any]) -> NDArray[np.bool_]:
        op = _OPS[self.op]
        value = _time_literal(self.value) if col.dtype.kind in "Mm" else self.value
        if col.dtype.kind == "O":
            present = _present(col)
            mask = np.zeros(col.shape, dtype=bool)
            if self.op in _ORDERING:  # None has no order: compare the set values only
                mask[present] = np.asarray(op(col[present], value), dtype=bool)
            else:
                mask[:] = np.asarray(op(col, value), dtype=bool)
                mask &= present  # missing values compare false, for != too
            return mask
        mask = np.asarray(op(col, value), dtype=bool)
        if self.op == "!=":  # missing values compare false, for != too (IEEE says true)
            if col.dtype.kind == "f":
                mask &= ~np.isnan(col)
            elif col.dtype.kind in "Mm":
                mask &= ~np.isnat(col)
        return mask

    def features(self) -> frozenset[str]:
        return frozenset({self.feature})

    def explain(self, source: FeatureSource, row: int) -> str:
        row = _check_row(source, row)
        value = self._column(source)[row]
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


def _time_literal(value: Any) -> Any:
    """A Python time as numpy's, so a datetime64 column compares with it (aware → UTC)."""
    if isinstance(value, dt.datetime):
        utc = value.astimezone(dt.UTC).replace(tzinfo=None)
        return np.datetime64(utc, "us")
    if isinstance(value, dt.date):
        return np.datetime64(value, "D")
    if isinstance(value, dt.timedelta):
        return np.timedelta64(value)
    return value


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
    """All of ``rules`` hold (everyone, when there are none)."""

    rules: tuple[Rule, ...] = attrs.field(converter=_rules)
    _depth: int = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_depth", _nested(self.rules))

    @property
    def depth(self) -> int:
        return self._depth

    def __copy__(self) -> Rule:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Rule:
        return self  # immutable all the way down: a copy would only cost recursion

    def mask(self, source: FeatureSource) -> NDArray[np.bool_]:
        _check_source(source)
        out = np.ones(len(source), dtype=bool)
        for r in self.rules:
            out &= r.mask(source)
        return out

    def features(self) -> frozenset[str]:
        return frozenset().union(*(r.features() for r in self.rules))

    def explain(self, source: FeatureSource, row: int) -> str:
        _check_row(source, row)
        return "(" + " and ".join(r.explain(source, row) for r in self.rules) + ")"

    def __and__(self, other: Rule) -> Rule:
        other = _rule(other)
        extra = other.rules if isinstance(other, And) else (other,)
        return And((*self.rules, *extra))

    def __repr__(self) -> str:
        return "(" + " & ".join(map(repr, self.rules)) + ")"


@attrs.frozen
class Or(Rule):
    """At least one of ``rules`` holds (nobody, when there are none)."""

    rules: tuple[Rule, ...] = attrs.field(converter=_rules)
    _depth: int = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_depth", _nested(self.rules))

    @property
    def depth(self) -> int:
        return self._depth

    def __copy__(self) -> Rule:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Rule:
        return self  # immutable all the way down: a copy would only cost recursion

    def mask(self, source: FeatureSource) -> NDArray[np.bool_]:
        _check_source(source)
        out = np.zeros(len(source), dtype=bool)
        for r in self.rules:
            out |= r.mask(source)
        return out

    def features(self) -> frozenset[str]:
        return frozenset().union(*(r.features() for r in self.rules))

    def explain(self, source: FeatureSource, row: int) -> str:
        _check_row(source, row)
        return "(" + " or ".join(r.explain(source, row) for r in self.rules) + ")"

    def __or__(self, other: Rule) -> Rule:
        other = _rule(other)
        extra = other.rules if isinstance(other, Or) else (other,)
        return Or((*self.rules, *extra))

    def __repr__(self) -> str:
        return "(" + " | ".join(map(repr, self.rules)) + ")"


@attrs.frozen
class Not(Rule):
    """``rule`` does not hold."""

    rule: Rule = attrs.field(validator=_is_rule)
    _depth: int = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_depth", _nested((self.rule,)))

    @property
    def depth(self) -> int:
        return self._depth

    def __copy__(self) -> Rule:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Rule:
        return self  # immutable all the way down: a copy would only cost recursion

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
        _check_source(source)
        return np.ones(len(source), dtype=bool)

    def features(self) -> frozenset[str]:
        return frozenset()

    def explain(self, source: FeatureSource, row: int) -> str:
        _check_row(source, row)
        return "everyone: yes"

    def __repr__(self) -> str:
        return "All()"


def _values(values: Any) -> tuple[Any, ...]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise InvalidRuleError(
            f"isin takes a list of values, not {type(values).__name__}: {short_repr(values)}"
        )
    if isinstance(values, set | frozenset):  # a set has no order: sort it for a stable rule
        try:
            return tuple(sorted(values))
        except TypeError:
            return tuple(values)
    return tuple(values)


@attrs.frozen
class Feature:
    """A named feature, to build rules with comparison operators: ``F("orders") >= 3``."""

    name: str = attrs.field(validator=_feature)

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
        """The feature is one of ``values`` (a list, tuple or set; not a single string)."""
        return Compare(self.name, "in", _values(values))

    def between(self, low: Any, high: Any) -> Rule:
        """``low <= feature <= high``; ``low`` must not exceed ``high``."""
        rule = And((Compare(self.name, ">=", low), Compare(self.name, "<=", high)))
        try:
            reversed_bounds = bool(low > high)
        except TypeError:
            raise InvalidRuleError(
                f"between needs bounds of one type, got {short_repr(low)} and {short_repr(high)}"
            ) from None
        if reversed_bounds:
            raise InvalidRuleError(
                f"between({short_repr(low)}, {short_repr(high)}): the low bound exceeds the high"
            )
        return rule

    def isnan(self) -> Compare:
        """The feature is missing (NaN, or ``None`` for attributes)."""
        return Compare(self.name, "isnan", None)

    def is_true(self) -> Compare:
        """A boolean feature (a tag, ``has_referrer``...) is true.

        Evaluating it on a feature that is not boolean (``orders``) raises
        :class:`~privdomain.errors.InvalidRuleError`, never reads the number as a boolean.
        """
        return Compare(self.name, "==", True)


#: Short name for :class:`Feature`.
F = Feature


def _segment_name(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    _check_name(value, "a segment name")


def _description(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str):
        raise InvalidRuleError(f"a description must be a str, not {type(value).__name__}")


@attrs.frozen
class Segment:
    """A named rule: which customers of a snapshot belong to it.

    Segments compose like their rules: ``a & b``, ``a | b`` and ``~a`` are segments named after
    their parts. :meth:`mask` checks that every feature the rule reads exists before evaluating,
    so a typo raises :class:`~privdomain.errors.UnknownFeatureError` instead of a wrong answer.

    Attributes
    ----------
    name : str
        A non-empty name.
    rule : Rule
        The condition (rule objects; parse rule text with
        :func:`privdomain.layering.parse_rule` first).
    description : str, default ""
        The condition in words.

    Raises
    ------
    InvalidRuleError
        When the name is not a non-empty string, the rule not a :class:`Rule` or the
        description not a string.
    """

    name: str = attrs.field(validator=_segment_name)
    rule: Rule = attrs.field(validator=_is_rule)
    description: str = attrs.field(default="", validator=_description)

    def mask(self, source: FeatureSource) -> NDArray[np.bool_]:
        """Membership of every row of ``source`` as a boolean mask.

        Raises
        ------
        UnknownFeatureError
            When the rule reads a feature ``source`` lacks.
        InvalidRuleError
            When a comparison does not fit its feature's type.
        ValidationError
            When ``source`` is not a feature source.
        """
        _check_source(source)
        for name in sorted(self.rule.features()):
            source.feature(name)  # raises UnknownFeatureError with a hint
        return self.rule.mask(source)

    def members(self, snapshot: Any) -> NDArray[np.object_]:
        """The ids of the customers of ``snapshot`` in this segment."""
        ids = getattr(snapshot, "customer_ids", None)
        if ids is None:
            raise ValidationError(
                f"members() needs a Snapshot (or a source with customer_ids), "
                f"not {type(snapshot).__name__}"
            )
        return np.asarray(ids)[self.mask(snapshot)]

    def count(self, source: FeatureSource) -> int:
        """How many rows belong."""
        return int(self.mask(source).sum())

    def explain(self, source: FeatureSource, row: int) -> str:
        """Why row ``row`` (``0 <= row < len(source)``) is in the segment or not."""
        _check_source(source)
        _check_row(source, row)
        return f"{self.name}: {self.rule.explain(source, row)}"

    def __and__(self, other: Segment | Rule) -> Segment:
        rule = self.rule & _rule(other)
        name = other.name if isinstance(other, Segment) else repr(other)
        return Segment(f"{self.name} & {name}", rule)

    def __or__(self, other: Segment | Rule) -> Segment:
        rule = self.rule | _rule(other)
        name = other.name if isinstance(other, Segment) else repr(other)
        return Segment(f"{self.name} | {name}", rule)

    def __invert__(self) -> Segment:
        return Segment(f"not {self.name}", ~self.rule)
