"""Transitions: who moved between stages since the stages were last stored, and why.

:func:`transitions` compares the stages a host stored last time (a
:class:`~privdomain.ports.StageStore`, a mapping of customer id to stage key, or an earlier
:class:`~privdomain.lifecycle.LifecycleStages`) with the stages of now, ladder by ladder, as a
diff of two code arrays. Each move is checked against the ladder's :class:`StageMachine`: a
move the machine does not allow is refused with an explanation (or, with ``strict=False``,
reported with ``allowed`` false). Purchase milestones reached show up as moves on the
``milestone`` ladder: the first, third and fifth purchase events.
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
import math
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain._optional import import_optional
from privdomain.domain._time import MICROS_PER_DAY, epoch_micros
from privdomain.domain.segment import short_repr
from privdomain.errors import UnknownCustomerError, UnknownFeatureError, ValidationError
from privdomain.lifecycle.machine import TRIGGERS, StageMachine
from privdomain.lifecycle.result import (
    KEY_SEPARATOR,
    LADDERS,
    LifecycleStages,
    check_ladders,
)
from privdomain.result import Result, readonly, shown

__all__ = ["Transitions", "transitions"]

_NAT = np.iinfo(np.int64).min
#: The numbers that decided a move, per ladder, shown in its reason.
_DECIDING = {
    "post_purchase": ("recency_days", "cadence_days", "cadence_ratio", "p_alive"),
    "relationship": ("purchase_days", "tenure_days", "order_trend", "spend_trend", "lost"),
    "milestone": ("purchase_days",),
}
_NUMBER_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys(c for cs in _DECIDING.values() for c in cs))
_WIDTH = 64  # stage codes fit in 6 bits: key = ladder * 64 * 64 + (source + 1) * 64 + target


@attrs.frozen(eq=False, repr=False)
class Transitions(Result):
    """Every move between stages since the previous run: one row per customer and ladder that
    moved (or entered the store), ordered by customer, then ladder.

    Attributes
    ----------
    as_of : datetime.datetime
        The instant of the current stages.
    previous_as_of : datetime.datetime or None
        The instant of the previous stages, when known (it tells purchases from time).
    customer_ids : numpy.ndarray of object
    ladder : numpy.ndarray of object
        ``"relationship"``, ``"post_purchase"`` or ``"milestone"``.
    source : numpy.ndarray of object
        The stored stage (``None``: the customer had none stored, and *entered*).
    target : numpy.ndarray of object
        The stage now.
    trigger : numpy.ndarray of object
        ``"purchase"`` (the customer bought since the previous run), ``"time"`` (no purchase
        since), ``"entered"`` (nothing stored) or ``"unknown"`` (the previous instant is not
        known; the move is allowed if either could make it).
    at : numpy.ndarray of datetime64[us]
        When the move happened, as far as the rule tells: the last purchase for moves a
        purchase made, the instant a threshold of time was crossed (the cadence ladder, the
        churn and maturity thresholds), else the current instant; NaT for entries.
    allowed : numpy.ndarray of bool
        Whether the stage machine allows the move (always true unless ``strict=False``).
    rule : numpy.ndarray of object
        The edge's rule in words.
    numbers : dict of str to numpy.ndarray
        The numbers that decided the target stage (NaN where a ladder has no such number).
    notes : tuple of str
    """

    _row_fields: ClassVar[tuple[str, ...]] = (
        "customer_ids",
        "ladder",
        "source",
        "target",
        "trigger",
        "at",
        "allowed",
        "rule",
        "numbers",
        "_keys",
    )

    as_of: dt.datetime
    previous_as_of: dt.datetime | None
    customer_ids: NDArray[np.object_] = attrs.field(converter=readonly)
    ladder: NDArray[np.object_] = attrs.field(converter=readonly)
    source: NDArray[np.object_] = attrs.field(converter=readonly)
    target: NDArray[np.object_] = attrs.field(converter=readonly)
    trigger: NDArray[np.object_] = attrs.field(converter=readonly)
    at: NDArray[np.datetime64] = attrs.field(converter=readonly)
    allowed: NDArray[np.bool_] = attrs.field(converter=readonly)
    rule: NDArray[np.object_] = attrs.field(converter=readonly)
    numbers: dict[str, NDArray[np.float64]]
    stage_names: dict[str, tuple[str, ...]]
    """Each ladder's stages, in order (for flow matrices)."""
    _keys: NDArray[np.int32] = attrs.field(converter=readonly, alias="keys")
    notes: tuple[str, ...] = ()

    # ------------------------------------------------------------------ summaries
    def of(self, ladder: str) -> Transitions:
        """The moves on one ladder (``"milestone"``: the purchase milestones reached)."""
        code = LADDERS.index(check_ladders(ladder)[0])
        return self.take(self._keys // (_WIDTH * _WIDTH) == code)

    def counts(self) -> dict[tuple[str, str | None, str], int]:
        """Moves per ``(ladder, source, target)``; ``source`` None for entries."""
        keys, counts = np.unique(self._keys, return_counts=True)
        out: dict[tuple[str, str | None, str], int] = {}
        for key, count in zip(keys.tolist(), counts.tolist(), strict=True):
            ladder = LADDERS[key // (_WIDTH * _WIDTH)]
            source = key // _WIDTH % _WIDTH - 1
            names = self.stage_names[ladder]
            out[(ladder, None if source < 0 else names[source], names[key % _WIDTH])] = count
        return out

    def flow_matrix(self, ladder: str) -> NDArray[np.int64]:
        """Moves on ``ladder`` as a matrix: row ``i`` from stage ``i``, the last row from no
        stored stage (entries); column ``j`` to stage ``j``."""
        name = check_ladders(ladder)[0]
        k = len(self.stage_names[name])
        code = LADDERS.index(name)
        mine = self._keys[self._keys // (_WIDTH * _WIDTH) == code] % (_WIDTH * _WIDTH)
        source = mine // _WIDTH - 1
        source = np.where(source < 0, k, source)
        flat = np.bincount(source * k + mine % _WIDTH, minlength=(k + 1) * k)
        return flat.reshape(k + 1, k).astype(np.int64)

    # ------------------------------------------------------------------ explanations
    def reason(self, i: int) -> str:
        """Why move ``i`` happened: the edge's rule and the numbers that decided."""
        rule = str(self.rule[i])
        numbers = ", ".join(
            f"{name}={shown(col[i])}"
            for name, col in self.numbers.items()
            if not math.isnan(float(col[i]))
        )
        source = self.source[i]
        if source is None:
            rule = f"entered at {self.target[i]} (no stored stage)"
        return f"{rule} ({numbers})" if numbers else rule

    def reasons(self) -> NDArray[np.object_]:
        """Every move's reason (text, built here: an export, not a hot path)."""
        return np.array([self.reason(i) for i in range(len(self))], dtype=object)

    def explain(self, customer_id: str) -> str:
        """Every move of one customer, with the rule and the numbers."""
        if not isinstance(customer_id, str):
            raise ValidationError(f"a customer id is a str, not {short_repr(customer_id)}")
        rows = np.flatnonzero(self.customer_ids == customer_id)
        if rows.size == 0:
            raise UnknownCustomerError(f"{customer_id!r} made no move in these transitions")
        lines = [f"customer {customer_id!r}, moves up to {self.as_of.isoformat()}:"]
        for i in rows.tolist():
            src = self.source[i] if self.source[i] is not None else "(none stored)"
            flag = "" if self.allowed[i] else "  [not an allowed edge]"
            lines.append(
                f"  {self.ladder[i]}: {src} -> {self.target[i]} by {self.trigger[i]}{flag}"
            )
            lines.append(f"    {self.reason(i)}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ export
    def columns(self) -> dict[str, NDArray[Any]]:
        """Every move as columns, the reason in words included."""
        out: dict[str, NDArray[Any]] = {
            "customer_id": self.customer_ids,
            "ladder": self.ladder,
            "source": self.source,
            "target": self.target,
            "trigger": self.trigger,
            "at": self.at,
            "allowed": self.allowed,
            "rule": self.rule,
            "reason": self.reasons(),
        }
        out.update(self.numbers)
        return out

    def _title(self) -> str:
        since = self.previous_as_of.isoformat() if self.previous_as_of else "the stored stages"
        return f"Transitions({len(self)} moves from {since} to {self.as_of.isoformat()})"

    def __repr__(self) -> str:
        lines = [self._title()]
        for (ladder, source, target), count in sorted(
            self.counts().items(), key=lambda kv: (LADDERS.index(kv[0][0]), -kv[1])
        ):
            lines.append(f"  {ladder}: {source or '(entered)'} -> {target}: {count}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(ladder)}</td><td>{html.escape(source or '(entered)')}</td>"
            f"<td>{html.escape(target)}</td><td>{count}</td></tr>"
            for (ladder, source, target), count in self.counts().items()
        )
        return (
            f"<div><strong>{html.escape(self._title())}</strong><table><thead><tr>"
            "<th>ladder</th><th>from</th><th>to</th><th>customers</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>{self._preview_html()}</div>"
        )

    def to_frame(self) -> Any:
        """A pandas ``DataFrame``, one row per move (needs ``privdomain[pandas]``)."""
        import_optional("pandas", extra="pandas")
        return super().to_frame().reset_index()


# ---------------------------------------------------------------------- the diff
def transitions(
    previous: Any,
    current: LifecycleStages,
    *,
    ladders: Any = LADDERS,
    previous_as_of: Any = None,
    machines: Mapping[str, StageMachine] | None = None,
    strict: bool = True,
    unknown_customers: Literal["raise", "ignore"] = "raise",
    entered: bool = True,
) -> Transitions:
    """The moves between stages from ``previous`` to ``current``.

    Parameters
    ----------
    previous : StageStore, mapping of str to str, or LifecycleStages
        The stages stored last time: a :class:`~privdomain.ports.StageStore` (asked for the
        current customers), what one returned (customer id → stage key, as written by
        :meth:`LifecycleStages.record`), or an earlier result.
    current : LifecycleStages
        The stages now.
    ladders : str or sequence of str
        The ladders compared, and stored in each key (default all three, joined by ``"/"``
        in the order relationship, post_purchase, milestone).
    previous_as_of : datetime or datetime64, optional
        The instant of the stored stages; taken from a result, or from a store's ``as_of``
        attribute (the in-memory store has one). Without it a purchase cannot be told from
        time: each move is allowed if either could make it.
    machines : mapping of ladder to StageMachine, optional
        The allowed moves (default: :meth:`StageMachine.default` of each ladder).
    strict : bool, default True
        Refuse a move no machine allows (``ValidationError`` naming examples). With
        ``False`` such moves are returned with ``allowed`` false.
    unknown_customers : {"raise", "ignore"}
        What to do with stored customers who are not among ``current``'s: refuse
        (``UnknownCustomerError``) or leave them out and say so in ``notes``.
    entered : bool, default True
        Return customers with no stored stage as entries (``source`` None).

    Raises
    ------
    ValidationError
        Stages of another tenant or configuration, a stored stage name the ladder does not
        have, previous stages dated after the current ones, a move no machine allows.
    UnknownCustomerError
        Stored customers the current stages do not have (``unknown_customers="raise"``).
    """
    if not isinstance(current, LifecycleStages):
        raise ValidationError(f"current must be LifecycleStages, got {type(current).__name__}")
    names = check_ladders(ladders)
    if unknown_customers not in ("raise", "ignore"):
        raise ValidationError(
            f"unknown_customers must be 'raise' or 'ignore', got {short_repr(unknown_customers)}"
        )
    if not isinstance(strict, bool) or not isinstance(entered, bool):
        raise ValidationError("strict and entered must be bools")
    chosen = _machines(machines, current, names)
    notes: list[str] = []
    if isinstance(previous, LifecycleStages):
        if previous_as_of is not None:
            raise ValidationError("previous_as_of is for stores and mappings; a result knows it")
        prev_at: dt.datetime | None = previous.as_of
        codes, unknown = _codes_from_result(previous, current, names)
    else:
        stored, store_as_of = _stored(previous, current)
        given = previous_as_of if previous_as_of is not None else store_as_of
        prev_at = None if given is None else _instant(given)
        codes, unknown = _codes_from_mapping(stored, current, names)
    if prev_at is not None and prev_at > current.as_of:
        raise ValidationError(
            f"the previous stages are as of {prev_at.isoformat()}, after the current ones "
            f"({current.as_of.isoformat()}): as-of instants must not go backwards"
        )
    if unknown.count:
        shown_ids = ", ".join(short_repr(c) for c in unknown.sample)
        if unknown_customers == "raise":
            raise UnknownCustomerError(
                f"{unknown.count} stored customers are not among the current stages (e.g. "
                f"{shown_ids}): are the stages of another pool or partition? Pass "
                "unknown_customers='ignore' to leave them out"
            )
        notes.append(
            f"{unknown.count} stored customers are not among the current stages (e.g. "
            f"{shown_ids}), left out"
        )
    purchased = None
    if prev_at is not None:
        last = current.last_purchase.astype("datetime64[us]", copy=False).view(np.int64)
        purchased = last > epoch_micros(prev_at)
    parts = [
        _ladder_moves(current, ladder, codes[ladder], chosen[ladder], purchased, entered)
        for ladder in names
    ]
    return _assemble(current, parts, prev_at, strict, notes)


def _machines(
    machines: Mapping[str, StageMachine] | None, current: LifecycleStages, names: tuple[str, ...]
) -> dict[str, StageMachine]:
    given = dict(machines or {})
    for ladder, machine in given.items():
        if ladder not in LADDERS or not isinstance(machine, StageMachine):
            raise ValidationError(
                f"machines maps ladder names to StageMachine, got {short_repr(ladder)}: "
                f"{type(machine).__name__}"
            )
        if machine.ladder != ladder or machine.stages != current.ladder(ladder).names:
            raise ValidationError(
                f"the machine given for {ladder!r} is for the {machine.ladder} ladder with "
                f"stages {list(machine.stages)}; the stages have "
                f"{list(current.ladder(ladder).names)}"
            )
    return {
        ladder: given.get(ladder) or StageMachine.default(ladder, current.ladder(ladder).names)
        for ladder in names
    }


def _instant(value: Any) -> dt.datetime:
    from privdomain.domain._time import micros_to_datetime

    return micros_to_datetime(epoch_micros(value, what="previous_as_of"))


def _stored(previous: Any, current: LifecycleStages) -> tuple[Mapping[Any, Any], Any]:
    get = getattr(previous, "get_stages", None)
    if callable(get):
        stored = get(current.customer_ids.tolist())
        if not isinstance(stored, Mapping):
            raise ValidationError(
                f"the store's get_stages returned {type(stored).__name__}, not a mapping"
            )
        return stored, getattr(previous, "as_of", None)
    if isinstance(previous, Mapping):
        return previous, None
    raise ValidationError(
        "previous must be a StageStore, a mapping of customer id to stage key, or "
        f"LifecycleStages; got {type(previous).__name__}"
    )


def _codes_from_result(
    previous: LifecycleStages, current: LifecycleStages, names: tuple[str, ...]
) -> tuple[dict[str, NDArray[np.int16]], _Unknown]:
    if previous.tenant != current.tenant:
        raise ValidationError(
            f"the previous stages are of tenant {previous.tenant!r}, the current of "
            f"{current.tenant!r}"
        )
    for ladder in names:
        if previous.ladder(ladder).names != current.ladder(ladder).names:
            raise ValidationError(
                f"the {ladder} stages were computed with other stages "
                f"({list(previous.ladder(ladder).names)} then {list(current.ladder(ladder).names)})"
            )
    n = len(current)
    size = int(max(current.index.max(initial=-1), previous.index.max(initial=-1))) + 1
    position = np.full(size, -1, dtype=np.int64)
    position[current.index] = np.arange(n)
    rows = position[previous.index]
    found = rows >= 0
    if not np.array_equal(previous.customer_ids[found], current.customer_ids[rows[found]]):
        raise ValidationError(
            "the previous and current stages number customers differently: are they of one "
            "pool? (pool indices point at other customer ids)"
        )
    codes = {}
    for ladder in names:
        out = np.full(n, -1, dtype=np.int16)
        out[rows[found]] = previous.ladder(ladder).labels[found]
        codes[ladder] = out
    return codes, _Unknown(int((~found).sum()), previous.customer_ids[~found][:5].tolist())


def _codes_from_mapping(
    stored: Mapping[Any, Any], current: LifecycleStages, names: tuple[str, ...]
) -> tuple[dict[str, NDArray[np.int16]], _Unknown]:
    n = len(current)
    codes = {ladder: np.full(n, -1, dtype=np.int16) for ladder in names}
    if not stored:
        return codes, _Unknown(0, [])
    keys = list(stored.keys())
    values = list(stored.values())
    ids = current.customer_ids.tolist()
    if keys == ids:  # a store that answers in the order asked: no lookups at all
        rows = np.arange(n, dtype=np.int64)
    else:
        lookup = current.row_index()
        rows = np.fromiter(
            map(lookup.get, keys, itertools.repeat(-1)), dtype=np.int64, count=len(keys)
        )
    found = rows >= 0
    missing = np.flatnonzero(~found)
    unknown = _Unknown(int(missing.size), [keys[i] for i in missing[:5].tolist()])
    # few distinct stored keys, many customers: parse each distinct key once
    distinct = list(dict.fromkeys(values))
    stage_index = [{s: i for i, s in enumerate(current.ladder(ladder).names)} for ladder in names]
    parsed = np.full((len(distinct), len(names)), -1, dtype=np.int16)
    bad: list[str] = []
    for d, value in enumerate(distinct):
        parts = value.split(KEY_SEPARATOR) if isinstance(value, str) else None
        if parts is None or len(parts) != len(names):
            bad.append(short_repr(value))
            continue
        for j, part in enumerate(parts):
            code = stage_index[j].get(part)
            if code is None:
                bad.append(f"{part!r} in {value!r}")
                break
            parsed[d, j] = code
    if bad:
        raise ValidationError(
            f"the stored stages hold {len(bad)} unknown stage keys, e.g. {bad[:3]}; a key "
            f"names one stage per ladder of {list(names)}, joined by {KEY_SEPARATOR!r} (stages: "
            + "; ".join(f"{ladder}: {list(current.ladder(ladder).names)}" for ladder in names)
            + "). Were they stored with other ladders or settings?"
        )
    value_code = dict(zip(distinct, range(len(distinct)), strict=True))
    which = np.fromiter(map(value_code.__getitem__, values), dtype=np.int64, count=len(values))
    for j, ladder in enumerate(names):
        codes[ladder][rows[found]] = parsed[which[found], j]
    return codes, unknown


@attrs.frozen
class _Unknown:
    """Stored customers the current stages do not have: how many, and a few ids."""

    count: int
    sample: list[Any]


@attrs.frozen(eq=False)
class _Moves:
    ladder: str
    rows: NDArray[np.int64]
    source: NDArray[np.int16]
    target: NDArray[np.int16]
    trigger: NDArray[np.int8]
    allowed: NDArray[np.bool_]
    at: NDArray[np.int64]
    rules: NDArray[np.object_]


_TRIGGER_NAMES = np.array([*TRIGGERS, "entered", "unknown"], dtype=object)
_PURCHASE, _TIME, _ENTERED, _UNKNOWN = range(4)


def _ladder_moves(
    current: LifecycleStages,
    ladder: str,
    previous: NDArray[np.int16],
    machine: StageMachine,
    purchased: NDArray[np.bool_] | None,
    entered: bool,
) -> _Moves:
    now = current.ladder(ladder).labels
    moved = (previous >= 0) & (previous != now)
    if entered:
        moved |= previous < 0
    rows = np.flatnonzero(moved)
    source = previous[rows]
    target = now[rows].astype(np.int16)
    stored = source >= 0
    src = np.maximum(source, 0)
    if purchased is None:
        trigger = np.full(rows.size, _UNKNOWN, dtype=np.int8)
        allowed = machine.allows(src, target, None)
        by_time = machine.allows(src, target, np.zeros(rows.size, dtype=bool))
        rule_trigger = np.where(by_time, _TIME, _PURCHASE)
    else:
        bought = purchased[rows]
        trigger = np.where(bought, _PURCHASE, _TIME).astype(np.int8)
        allowed = machine.allows(src, target, bought)
        rule_trigger = trigger.copy()
    trigger[~stored] = _ENTERED
    allowed = allowed | ~stored
    # rule texts: one per (source, target, trigger) combination, looked up by code
    k = len(machine.stages)
    table = np.array(
        [
            machine.rule(machine.stages[s], machine.stages[t], TRIGGERS[g])
            for g in range(len(TRIGGERS))
            for s in range(k)
            for t in range(k)
        ],
        dtype=object,
    )
    rules = table[(rule_trigger.astype(np.int64) * k + src) * k + target]
    rules[~stored] = "entered (no stored stage)"
    at = _when(current, ladder, rows, target, rule_trigger, stored)
    return _Moves(ladder, rows, source, target, trigger, allowed, at, rules)


def _when(
    current: LifecycleStages,
    ladder: str,
    rows: NDArray[np.int64],
    target: NDArray[np.int16],
    trigger: NDArray[Any],
    stored: NDArray[np.bool_],
) -> NDArray[np.int64]:
    """The instant of each move, as far as the rules tell (see :class:`Transitions`)."""
    as_of = epoch_micros(current.as_of)
    last = current.last_purchase.astype("datetime64[us]", copy=False).view(np.int64)[rows]
    at = np.full(rows.size, as_of, dtype=np.int64)
    # on the cadence ladder the instant a band was entered is exact: the last purchase plus
    # the band's lower threshold times the customer's cadence
    crossing = None
    if current.method == "cadence":
        cuts = np.array([math.nan, 0.0, *current.thresholds])  # by post-purchase code
        cadence = current.post_purchase.feature("cadence_days")[rows]

        def crossing(mask: NDArray[np.bool_], code: int | NDArray[Any]) -> NDArray[np.int64]:
            offset = np.rint(cuts[code] * cadence[mask] * MICROS_PER_DAY)
            return np.asarray(last[mask] + offset.astype(np.int64), dtype=np.int64)

    by_purchase = trigger == _PURCHASE
    if ladder == "post_purchase":
        back = by_purchase & (target == 1)
        at[back] = last[back]
        if crossing is not None:
            down = ~back & (target >= 2)
            at[down] = crossing(down, target[down].astype(np.int64))
    elif ladder == "milestone":
        at[:] = last
    else:
        settings = current.relationship_settings
        churned = target == 5
        if settings.churn_days is not None:
            at[churned] = last[churned] + round(settings.churn_days * MICROS_PER_DAY)
        elif crossing is not None:
            at[churned] = crossing(churned, 4)
        mature = (target == 3) & ~by_purchase
        if mature.any():
            tenure = current.relationship.feature("tenure_days")[rows[mature]]
            since = np.rint((tenure - settings.mature_days) * MICROS_PER_DAY).astype(np.int64)
            at[mature] = as_of - since
        climbed = by_purchase & ~churned
        at[climbed] = last[climbed]
    at[~stored] = _NAT
    return at


def _assemble(
    current: LifecycleStages,
    parts: list[_Moves],
    prev_at: dt.datetime | None,
    strict: bool,
    notes: list[str],
) -> Transitions:
    refused = [(p, np.flatnonzero(~p.allowed)) for p in parts]
    count = sum(r.size for _, r in refused)
    if count and strict:
        examples = []
        for p, bad in refused:
            names = current.ladder(p.ladder).names
            for i in bad[:3].tolist():
                how = _TRIGGER_NAMES[p.trigger[i]]
                examples.append(
                    f"{current.customer_ids[p.rows[i]]!r} {p.ladder}: {names[p.source[i]]} -> "
                    f"{names[p.target[i]]} by {how}"
                )
        raise ValidationError(
            f"{count} moves are not edges of their stage machine, e.g. {examples[:5]}. Were the "
            "stored stages computed with other thresholds or another fit, or is a purchase "
            "missing from the pool? Pass strict=False to get them with allowed=False"
        )
    if count:
        notes.append(f"{count} moves are not allowed edges of their machine (allowed=False)")
    rows = np.concatenate([p.rows for p in parts])
    ladder_code = np.concatenate(
        [np.full(p.rows.size, LADDERS.index(p.ladder), dtype=np.int64) for p in parts]
    )
    order = np.argsort(rows * len(LADDERS) + ladder_code, kind="stable")
    rows = rows[order]
    ladder_code = ladder_code[order]
    source = np.concatenate([p.source for p in parts])[order].astype(np.int64)
    target = np.concatenate([p.target for p in parts])[order].astype(np.int64)
    names_of = {
        p.ladder: np.array([*current.ladder(p.ladder).names, None], dtype=object) for p in parts
    }
    source_names = np.empty(rows.size, dtype=object)
    target_names = np.empty(rows.size, dtype=object)
    for p in parts:
        mine = ladder_code == LADDERS.index(p.ladder)
        source_names[mine] = names_of[p.ladder][source[mine]]
        target_names[mine] = names_of[p.ladder][target[mine]]
    numbers = {}
    for column in _NUMBER_COLUMNS:
        values = np.full(rows.size, np.nan)
        for p in parts:
            seg = current.ladder(p.ladder)
            if column not in _DECIDING[p.ladder]:
                continue
            try:
                col = seg.feature(column)
            except UnknownFeatureError:  # e.g. no P(alive) on the cadence ladder
                continue
            mine = ladder_code == LADDERS.index(p.ladder)
            values[mine] = col[rows[mine]].astype(np.float64)
        if not np.isnan(values).all():
            numbers[column] = readonly(values)
    return Transitions(
        as_of=current.as_of,
        previous_as_of=prev_at,
        customer_ids=current.customer_ids[rows],
        ladder=np.array(LADDERS, dtype=object)[ladder_code],
        source=source_names,
        target=target_names,
        trigger=_TRIGGER_NAMES[np.concatenate([p.trigger for p in parts])[order]],
        at=np.concatenate([p.at for p in parts])[order].view("datetime64[us]"),
        allowed=np.concatenate([p.allowed for p in parts])[order],
        rule=np.concatenate([p.rules for p in parts])[order],
        numbers=numbers,
        stage_names={p.ladder: current.ladder(p.ladder).names for p in parts},
        keys=(ladder_code * _WIDTH * _WIDTH + (source + 1) * _WIDTH + target).astype(np.int32),
        notes=tuple(notes),
    )
