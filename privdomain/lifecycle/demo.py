"""The lifecycle section of ``python -m privdomain demo``: a year of stages replayed weekly, the
moves of the last week and a few of them explained."""

from __future__ import annotations

import datetime as dt

import numpy as np
from numpy.typing import NDArray

from privdomain.domain._time import epoch_micros, micros_to_datetime
from privdomain.domain.snapshot import Snapshot
from privdomain.errors import ValidationError
from privdomain.lifecycle.history import StageHistory, stage_history
from privdomain.lifecycle.result import LADDERS
from privdomain.lifecycle.stages import Lifecycle
from privdomain.lifecycle.transitions import Transitions, transitions

__all__ = ["demo_step"]

#: The replayed year: weekly dates ending at the snapshot's instant.
WEEKS = 52
#: Stage counts are shown every this many weeks, and at the last date.
EVERY = 13
_WIDTH = 92
#: Moves shown per ladder, the largest.
_SHOWN = 6
_LADDER_TITLES = {
    "relationship": "relationship",
    "post_purchase": "post-purchase",
    "milestone": "milestones reached",
}


def _day(micros: int, offset: dt.timedelta) -> str:
    """The business day of an instant, in the pool's UTC offset."""
    return str(micros_to_datetime(micros).astimezone(dt.timezone(offset)).date())


def _table(history: StageHistory, ladder: str, steps: list[int], offset: dt.timedelta) -> list[str]:
    """Customers per stage at the chosen steps, one row per date."""
    names = history.stage_names[ladder]
    counts = history.counts(ladder)
    widths = [max(len(name), 7) for name in names]
    dates = history.dates.view(np.int64)
    lines = [
        "    "
        + "date".ljust(12)
        + "  ".join(n.rjust(w) for n, w in zip(names, widths, strict=True))
    ]
    for step in steps:
        cells = "  ".join(f"{int(c):>{w},}" for c, w in zip(counts[step], widths, strict=True))
        lines.append(f"    {_day(int(dates[step]), offset):<12}{cells}")
    return lines


def _year_flows(history: StageHistory) -> str:
    """Over the replayed year: how many returns to active, and slips into lost."""
    names = history.stage_names["post_purchase"]
    moves = history.transition_matrices("post_purchase").sum(axis=0)
    active, lost = names.index("active"), names.index("lost")
    quiet = [names.index(n) for n in ("silent", "sleeping", "lost")]
    back = int(moves[quiet, active].sum())
    slipped = int(moves[: len(names), lost].sum() - moves[lost, lost])
    return (
        f"Over the year: {back:,} returns to active by buying again (from silent, sleeping or\n"
        f"lost), {slipped:,} slips into lost."
    )


def _wrap(head: str, parts: list[str]) -> list[str]:
    """``head`` and ``parts`` joined by commas, in lines of at most ``_WIDTH`` columns, broken
    between parts only."""
    lines = ["    " + head]
    for i, part in enumerate(parts):
        text = part + ("," if i < len(parts) - 1 else "")
        if len(lines[-1]) + 1 + len(text) > _WIDTH and lines[-1].strip() != head.strip():
            lines.append("      " + text)
        else:
            lines[-1] += ("" if lines[-1].endswith(": ") else " ") + text
    return lines


def _move_counts(moves: Transitions) -> list[str]:
    """The moves per ladder, largest first (the few largest, on the relationship ladder)."""
    counts = moves.counts()
    lines = []
    for ladder in LADDERS:
        mine = sorted(
            ((s, t, n) for (lad, s, t), n in counts.items() if lad == ladder),
            key=lambda m: -m[2],
        )
        if not mine:
            continue
        if ladder == "milestone":  # reached from the milestone before: name the new, in order
            order = moves.stage_names[ladder]
            parts = [f"{t} {n:,}" for _, t, n in sorted(mine, key=lambda m: order.index(m[1]))]
        else:
            parts = [f"{s or '(new)'} -> {t} {n:,}" for s, t, n in mine[:_SHOWN]]
            rest = sum(n for _, _, n in mine[_SHOWN:])
            if rest:
                parts.append(f"{rest:,} in {len(mine) - _SHOWN} smaller moves")
        lines += _wrap(f"{_LADDER_TITLES[ladder]}: ", parts)
    return lines


def _examples(moves: Transitions) -> list[str]:
    """Up to three customers, one per kind of move: back to active by a purchase, down the
    post-purchase ladder by time, a milestone reached."""
    picks: list[str] = []
    wanted = (
        (moves.ladder == "post_purchase") & (moves.target == "active"),
        (moves.ladder == "post_purchase") & (moves.trigger == "time"),
        moves.ladder == "milestone",
    )
    for mask in wanted:
        rows: NDArray[np.intp] = np.flatnonzero(mask)
        for i in rows.tolist():
            cid = str(moves.customer_ids[i])
            if cid not in picks:
                picks.append(cid)
                break
    return ["  " + line for cid in picks for line in moves.explain(cid).splitlines()]


def demo_step(snapshot: Snapshot, previous: Snapshot) -> str:
    """Stage ``snapshot``'s customers and describe a year of their stages as text.

    Fits a :class:`~privdomain.lifecycle.Lifecycle` on ``snapshot``, replays the stages at
    52 weekly dates ending at its instant (:func:`~privdomain.lifecycle.stage_history`, one
    pass) and compares the stages of ``previous`` (a snapshot of the same pool, usually a week
    earlier) with those of now (:func:`~privdomain.lifecycle.transitions`). Prints nothing:
    returns the section for the demo to print (stage counts every 13 weeks, the year's flows,
    the moves since ``previous`` and a few of them explained).
    """
    if not isinstance(snapshot, Snapshot) or not isinstance(previous, Snapshot):
        raise ValidationError("demo_step takes two snapshots: now, and an earlier one")
    model = Lifecycle().fit(snapshot)
    end = epoch_micros(snapshot.as_of)
    week = 7 * 86_400_000_000
    dates = (end - np.arange(WEEKS - 1, -1, -1, dtype=np.int64) * week).view("datetime64[us]")
    history = stage_history(model, snapshot, dates)
    now = model.apply(snapshot)
    moves = transitions(model.apply(previous), now)

    offset = snapshot.utc_offset
    steps = sorted({*range(0, WEEKS, EVERY), WEEKS - 1})
    lines = [
        f"The pool's rhythm: {model.pool_cadence_days_:.3g} days between purchases, learned "
        f"from {model.n_repeat_buyers_:,} repeat buyers;\neach customer is judged by their own."
    ]
    lines.append(
        f"Post-purchase period, customers per stage over a year replayed weekly ({WEEKS} dates):"
    )
    lines += _table(history, "post_purchase", steps, offset)
    lines.append("Relationship ladder, customers per stage:")
    lines += _table(history, "relationship", steps, offset)
    lines.append(_year_flows(history))
    stuck = {k: v for k, v in now.progress.counts().items() if k.startswith("stuck") and v}
    if stuck:
        lines.append(
            "Stuck before a milestone: "
            + ", ".join(
                f"{k.removeprefix('stuck_before_').replace('_', ' ')} {v:,}"
                for k, v in stuck.items()
            )
        )
    since = _day(epoch_micros(previous.as_of), offset)
    by = {t: int((moves.trigger == t).sum()) for t in ("purchase", "time", "entered")}
    new = f", {by['entered']:,} new customers" if by["entered"] else ""
    lines.append(
        f"Moves since {since}: {len(moves):,} ({by['purchase']:,} made by a purchase, "
        f"{by['time']:,} by time alone{new})"
    )
    lines += _move_counts(moves)
    lines.append("A few moves, explained:")
    lines += _examples(moves)
    return "\n".join(lines)
