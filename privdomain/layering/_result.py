"""The result of every layering: a partition of the pool into named, self-explaining segments."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Literal, overload

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain._optional import import_optional
from privdomain.domain.segment import Compare, Rule, Segment, short_repr
from privdomain.errors import UnknownFeatureError, ValidationError
from privdomain.result import Result, shown

__all__ = ["ColumnSource", "LazyRules", "Segmentation"]


#: What a segment rule of a :class:`Segmentation` is evaluated on.
RulesOn = Literal["snapshot", "result"]


def _tuple_of_str(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError(f"expected a sequence of str, not {short_repr(value)}")
    out = tuple(value)
    for v in out:
        if not isinstance(v, str):
            raise ValidationError(f"expected a sequence of str, but it holds {short_repr(v)}")
    return out


class LazyRules(Sequence[Rule]):
    """The rules of a result, built on first use (building them costs more than layering)."""

    def __init__(self, build: Callable[[], Sequence[Rule]], n: int) -> None:
        self._build = build
        self._n = n
        self._rules: tuple[Rule, ...] | None = None

    def _all(self) -> tuple[Rule, ...]:
        if self._rules is None:
            self._rules = tuple(self._build())
            if len(self._rules) != self._n:
                raise ValidationError(f"built {len(self._rules)} rules, expected {self._n}")
        return self._rules

    @overload
    def __getitem__(self, index: int) -> Rule: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Rule]: ...

    def __getitem__(self, index: int | slice) -> Rule | Sequence[Rule]:
        return self._all()[index]

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return repr(self._all())


def _tuple_of_rules(value: Iterable[Rule]) -> Sequence[Rule]:
    if isinstance(value, LazyRules):
        return value
    if isinstance(value, Rule | str) or not isinstance(value, Iterable):
        raise ValidationError(f"rules must be a sequence of Rule, not {short_repr(value)}")
    out = tuple(value)
    for r in out:
        if not isinstance(r, Rule):
            raise ValidationError(f"rules must be a sequence of Rule, but it holds {short_repr(r)}")
    return out


def _notes(value: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValidationError(f"column_notes must map column names to str, not {short_repr(value)}")
    return {str(k): str(v) for k, v in value.items()}


def _readonly(arr: Any) -> NDArray[Any]:
    out = np.asarray(arr)
    if out.flags.writeable:
        out = out.copy()
        out.flags.writeable = False
    return out


def _columns(value: Mapping[str, Any]) -> dict[str, NDArray[Any]]:
    if not isinstance(value, Mapping):
        raise ValidationError(f"columns must map names to arrays, not {short_repr(value)}")
    return {str(k): _readonly(v) for k, v in value.items()}


def _strategy(_: object, attribute: attrs.Attribute[str], value: Any) -> None:
    if not isinstance(value, str):
        raise ValidationError(f"strategy must be a str, not {short_repr(value)}")


@attrs.frozen(eq=False, repr=False)
class Segmentation(Result):
    """A layering of a pool: every customer in exactly one named segment, with the reasons.

    Segment ``k`` is ``names[k]``; ``labels[i]`` is the segment of customer ``customer_ids[i]``.
    Segment codes are stable for a given strategy and configuration: a segment that nobody falls
    into keeps its code and shows a count of 0, so results of different days line up.

    A :class:`~privdomain.result.Result`: one row per customer of the snapshot, in its order;
    :meth:`columns` (``customer_id``, ``segment_code``, ``segment``, then the numbers behind
    the decision), :meth:`explain`, :meth:`to_records`, :meth:`to_frame`, :meth:`take` and
    :meth:`concat` (results of partitions join into the result of their union).

    Attributes
    ----------
    strategy : str
        Which layering produced this (e.g. ``"RFM, classic 11 segments"``).
    customer_ids : numpy.ndarray of object
        The customers, in the order of the snapshot they came from.
    labels : numpy.ndarray of int64
        The segment code of every customer.
    names : tuple of str
        The segment names, by code.
    rules : sequence of Rule
        One rule per segment (some strategies build them on first use). Evaluated on the
        source named by :attr:`rules_on`, rule ``k`` holds exactly for the customers labelled
        ``k``.
    rules_on : {"snapshot", "result"}
        ``"snapshot"``: the rules read snapshot features, so :meth:`segments` can be evaluated on
        the snapshot (or another one, to apply the same thresholds to new data); the result
        holds every feature they read as a column, so they evaluate on the result too.
        ``"result"``: the segment depends on something that is not a snapshot feature (a learned
        cluster, a weighted score): the rules read this result's own columns, which
        :meth:`feature` serves, so ``segment.mask(segmentation)`` works.
    descriptions : tuple of str
        Why a customer is in each segment, in words (the condition).
    advice : tuple of str
        What fits each segment (the operating playbook); empty strings where none.
    columns : dict of str to numpy.ndarray
        Constructor argument: the per-customer numbers behind the decision (scores, the values
        they come from, every feature a rule reads). Read them back with :meth:`columns`.
    column_notes : dict of str to str
        How a column was computed (learned edges, thresholds), shown by :meth:`explain`.
    notes : tuple of str
        Global remarks: learned thresholds, gaps of a rule table, ... They depend on the
        strategy and what it learned, never on the customers of this result, so the results of
        partitions carry the same notes.
    warnings : tuple of str
        Where the data make the result misleading (what the strategy warned about while
        learning, e.g. recency bands that call long-silent customers recent). Shown by
        :meth:`explain`, ``repr`` and the notebook display.
    """

    _row_fields: ClassVar[tuple[str, ...]] = ("customer_ids", "labels", "_numbers")

    strategy: str = attrs.field(validator=_strategy)
    customer_ids: NDArray[np.object_] = attrs.field(converter=_readonly)
    labels: NDArray[np.int64] = attrs.field(converter=_readonly)
    names: tuple[str, ...] = attrs.field(converter=_tuple_of_str)
    rules: Sequence[Rule] = attrs.field(converter=_tuple_of_rules)
    rules_on: RulesOn = "snapshot"
    descriptions: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    advice: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    _numbers: dict[str, NDArray[Any]] = attrs.field(
        factory=dict, converter=_columns, alias="columns"
    )
    column_notes: dict[str, str] = attrs.field(factory=dict, converter=_notes)
    notes: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    warnings: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)

    def __attrs_post_init__(self) -> None:
        if self.customer_ids.ndim != 1:
            raise ValidationError(f"customer_ids must be 1-D, got shape {self.customer_ids.shape}")
        n = self.customer_ids.shape[0]
        k = len(self.names)
        if self.labels.shape != (n,) or self.labels.dtype.kind not in "iu":
            raise ValidationError(f"labels must be {n} integer codes, got {self.labels.shape}")
        if n and (int(self.labels.min()) < 0 or int(self.labels.max()) >= k):
            raise ValidationError(f"labels must lie in [0, {k})")
        if len(set(self.names)) != k:
            raise ValidationError(f"segment names must be unique, got {self.names}")
        if len(self.rules) != k:
            raise ValidationError(f"need one rule per segment: {len(self.rules)} rules, {k} names")
        if not isinstance(self.rules_on, str) or self.rules_on not in ("snapshot", "result"):
            raise ValidationError(
                f"rules_on must be 'snapshot' or 'result', not {short_repr(self.rules_on)}"
            )
        for name, col in self._numbers.items():
            if col.shape[:1] != (n,):
                raise ValidationError(f"column {name!r} has {col.shape[:1]} rows, expected {n}")
            if name in _RESERVED:
                raise ValidationError(f"column name {name!r} is reserved")
        object.__setattr__(self, "descriptions", _pad(self.descriptions, k))
        object.__setattr__(self, "advice", _pad(self.advice, k))

    # ------------------------------------------------------------------ sizes and members
    def counts(self) -> dict[str, int]:
        """How many customers each segment holds (every segment, empty ones included)."""
        sizes = np.bincount(self.labels, minlength=len(self.names))
        return {name: int(c) for name, c in zip(self.names, sizes.tolist(), strict=True)}

    def code(self, name: str) -> int:
        """The code of segment ``name``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ValidationError(
                f"no segment {short_repr(name)}; segments are {list(self.names)}"
            ) from None

    def mask(self, name: str) -> NDArray[np.bool_]:
        """Which customers are in segment ``name``."""
        return np.asarray(self.labels == self.code(name))

    def masks(self) -> dict[str, NDArray[np.bool_]]:
        """One membership mask per segment."""
        return {name: np.asarray(self.labels == k) for k, name in enumerate(self.names)}

    def members(self, name: str) -> NDArray[np.object_]:
        """The ids of the customers in segment ``name``."""
        return self.customer_ids[self.mask(name)]

    @property
    def segment_names(self) -> NDArray[np.object_]:
        """The segment name of every customer."""
        return np.array(self.names, dtype=object)[self.labels]

    def segment_of(self, customer_id: str) -> str:
        """The segment of one customer."""
        return self.names[int(self.labels[self.row(customer_id)])]

    # ------------------------------------------------------------------ rules
    def segments(self) -> tuple[Segment, ...]:
        """Every segment as a :class:`~privdomain.Segment`.

        Evaluated on the snapshot (when :attr:`rules_on` is ``"snapshot"``) or on this result,
        the masks of the segments reproduce :attr:`labels` exactly.
        """
        return tuple(
            Segment(name, rule, description=desc)
            for name, rule, desc in zip(self.names, self.rules, self.descriptions, strict=True)
        )

    def segment(self, name: str) -> Segment:
        """One segment as a :class:`~privdomain.Segment`."""
        return self.segments()[self.code(name)]

    def feature(self, name: str) -> NDArray[Any]:
        """A per-customer column of this result (``"segment"`` is the code), for rules."""
        if name == "segment":
            return self.labels
        if name in self._numbers:
            return self._numbers[name]
        raise UnknownFeatureError(
            f"this segmentation has no column {name!r}; it has {['segment', *self._numbers]}"
        )

    # ------------------------------------------------------------------ explanations
    def explain(self, customer_id: str) -> str:
        """Which segment ``customer_id`` is in and why: the rule with the numbers it read."""
        i = self.row(customer_id)
        k = int(self.labels[i])
        lines = [f"customer {customer_id!r} is in segment {self.names[k]!r} ({self.strategy})"]
        if self.descriptions[k]:
            lines.append(f"  because: {self.descriptions[k]}")
        lines += [f"  warning: {warning}" for warning in self.warnings]
        lines.append(f"  rule: {self.rules[k].explain(self, i)}")
        for name, col in self._numbers.items():
            note = self.column_notes.get(name)
            value = f"  {name} = {shown(col[i])}"
            lines.append(f"{value}   [{note}]" if note else value)
        if self.advice[k]:
            lines.append(f"  what fits: {self.advice[k]}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ export
    def columns(self) -> dict[str, NDArray[Any]]:
        """Per-customer columns: id, segment code and name, then the numbers behind them."""
        out: dict[str, NDArray[Any]] = {
            "customer_id": self.customer_ids,
            "segment_code": self.labels,
            "segment": self.segment_names,
        }
        out.update(self._numbers)
        return out

    def to_frame(self) -> Any:
        """A pandas ``DataFrame`` indexed by ``customer_id``, the segment as a categorical with
        every segment (needs ``privdomain[pandas]``)."""
        pd = import_optional("pandas", extra="pandas")
        frame = super().to_frame()
        frame["segment"] = pd.Categorical(self.segment_names, categories=list(self.names))
        return frame

    def counts_frame(self) -> Any:
        """Segment sizes as a pandas ``DataFrame`` (``customers``, ``share``)."""
        pd = import_optional("pandas", extra="pandas")
        counts = self.counts()
        total = max(len(self), 1)
        return pd.DataFrame(
            {
                "customers": list(counts.values()),
                "share": [c / total for c in counts.values()],
            },
            index=pd.Index(list(counts), name="segment"),
        )

    # ------------------------------------------------------------------ partitions
    def _check_concat(self, other: Segmentation) -> None:
        mine = (
            self.strategy,
            self.names,
            self.rules_on,
            self.descriptions,
            list(self._numbers),
            self.column_notes,
            self.notes,
            self.warnings,
        )
        theirs = (
            other.strategy,
            other.names,
            other.rules_on,
            other.descriptions,
            list(other._numbers),
            other.column_notes,
            other.notes,
            other.warnings,
        )
        if mine != theirs:
            raise ValidationError(
                "only segmentations of one strategy, configured and fitted alike, concatenate "
                f"({self.strategy!r} and {other.strategy!r} differ in their segments, columns, "
                "thresholds or notes)"
            )

    # ------------------------------------------------------------------ display
    def _title(self) -> str:
        return f"Segmentation({self.strategy}: {len(self)} customers, {len(self.names)} segments)"

    def _summary_rows(self) -> list[tuple[str, int, str]]:
        total = max(len(self), 1)
        return [(name, c, f"{c / total:.1%}") for name, c in self.counts().items()]

    def __repr__(self) -> str:
        rows = self._summary_rows()
        width = max([len("segment")] + [len(r[0]) for r in rows])
        lines = [self._title(), f"  {'segment'.ljust(width)}  {'customers':>9}  {'share':>6}"]
        lines += [f"  {n.ljust(width)}  {c:>9}  {s:>6}" for n, c, s in rows]
        lines += [f"  note: {note}" for note in self.notes]
        lines += [f"  warning: {warning}" for warning in self.warnings]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><td>{html.escape(n)}</td><td>{c}</td><td>{s}</td></tr>"
            for n, c, s in self._summary_rows()
        )
        notes = "".join(f"<li>{html.escape(note)}</li>" for note in self.notes) + "".join(
            f"<li><strong>warning:</strong> {html.escape(w)}</li>" for w in self.warnings
        )
        return (
            f"<div><strong>Segmentation</strong> ({html.escape(self.strategy)}: {len(self)} "
            f"customers, {len(self.names)} segments)"
            "<table><thead><tr><th>segment</th><th>customers</th><th>share</th></tr></thead>"
            f"<tbody>{body}</tbody></table>"
            + (f"<ul>{notes}</ul>" if notes else "")
            + self._preview_html()
            + "</div>"
        )

    def _preview(self) -> tuple[list[str], list[list[str]]]:
        head, rows = super()._preview()
        drop = head.index("segment_code")
        return head[:drop] + head[drop + 1 :], [r[:drop] + r[drop + 1 :] for r in rows]


#: Column names a result uses for itself.
_RESERVED = frozenset({"customer_id", "segment_code", "segment"})


def _pad(values: tuple[str, ...], k: int) -> tuple[str, ...]:
    if len(values) > k:
        raise ValidationError(f"got {len(values)} texts for {k} segments")
    return values + ("",) * (k - len(values))


class ColumnSource:
    """Named columns as a feature source, to evaluate rules over a result's own numbers."""

    def __init__(self, columns: Mapping[str, NDArray[Any]], n: int) -> None:
        self._columns = dict(columns)
        self._n = n

    def feature(self, name: str) -> NDArray[Any]:
        try:
            return self._columns[name]
        except KeyError:
            raise UnknownFeatureError(f"no column {name!r}; have {sorted(self._columns)}") from None

    def __len__(self) -> int:
        return self._n


def code_rules(k: int) -> tuple[Rule, ...]:
    """Rules ``segment == code`` for results whose segments are not snapshot rules."""
    return tuple(Compare("segment", "==", code) for code in range(k))
