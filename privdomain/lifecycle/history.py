"""Stage histories: every customer's stages over a series of dates, in one pass over the log.

:func:`stage_history` reads the purchases of one snapshot (as of the last date, or later) and
the customers' join instants, and sweeps the dates in order: each purchase is added once, when
the sweep passes its instant, to running per-customer counts, spend, last purchase and purchase
days (a second sweep, one window behind, gives the recent-window counts). At each date the
stages are decided by the same code as :meth:`Lifecycle.apply`, so the history at a date equals
the stages of that date's snapshot, without computing 52 snapshots.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain._time import (
    MICROS_PER_DAY,
    epoch_micros,
    epoch_micros_array,
    micros_to_datetime,
)
from privdomain.domain.features import features
from privdomain.domain.money import minor_unit_exponent
from privdomain.domain.segment import short_repr
from privdomain.domain.snapshot import Snapshot
from privdomain.domain.tables import Tables
from privdomain.errors import UnknownCustomerError, ValidationError
from privdomain.lifecycle._compute import (
    Activity,
    Fitted,
    State,
    compute,
    purchase_state,
    update_state,
)
from privdomain.lifecycle.result import LADDERS, check_ladders
from privdomain.result import readonly
from privdomain.strategy import check_fitted

__all__ = ["StageHistory", "stage_history"]

_NAT = np.iinfo(np.int64).min
_NEVER = np.iinfo(np.int64).max


@attrs.frozen(eq=False, repr=False)
class StageHistory:
    """Every customer's stage on each ladder at each of a series of dates.

    Attributes
    ----------
    dates : numpy.ndarray of datetime64[us]
        The as-of instants, strictly increasing.
    customer_ids : numpy.ndarray of object
        The customers (of the snapshot the history was computed from), in its row order.
    index : numpy.ndarray of int64
        Their indices in the pool.
    stage_names : dict of str to tuple of str
        Each ladder's stages, in ladder order.
    codes : dict of str to numpy.ndarray of int8
        Per ladder, a ``(dates, customers)`` matrix of stage codes; -1 where the customer had
        not joined yet.
    """

    dates: NDArray[np.datetime64] = attrs.field(converter=readonly)
    customer_ids: NDArray[np.object_] = attrs.field(converter=readonly)
    index: NDArray[np.int64] = attrs.field(converter=readonly)
    stage_names: dict[str, tuple[str, ...]]
    codes: dict[str, NDArray[np.int8]]

    def __len__(self) -> int:
        return int(self.customer_ids.shape[0])

    @property
    def ladders(self) -> tuple[str, ...]:
        """The ladders this history holds."""
        return tuple(self.codes)

    def _ladder(self, ladder: str) -> str:
        if ladder not in self.codes:
            raise ValidationError(
                f"this history has no ladder {short_repr(ladder)}; it has {list(self.codes)}"
            )
        return ladder

    def _step(self, date: Any) -> int:
        if isinstance(date, int | np.integer) and not isinstance(date, bool):
            if not -len(self.dates) <= date < len(self.dates):
                raise ValidationError(f"date index {date} is out of range")
            return int(date) % len(self.dates)
        micros = epoch_micros_array([date], what="date")[0]
        hits = np.flatnonzero(self.dates.view(np.int64) == micros)
        if hits.size == 0:
            raise ValidationError(f"{date!r} is not one of the history's dates")
        return int(hits[0])

    # ------------------------------------------------------------------ reading
    def stages_at(self, date: Any, ladder: str = "post_purchase") -> NDArray[np.object_]:
        """Every customer's stage name at ``date`` (a date of the history or its position);
        ``None`` for customers who had not joined."""
        names = np.array([*self.stage_names[self._ladder(ladder)], None], dtype=object)
        out: NDArray[np.object_] = names[self.codes[ladder][self._step(date)]]
        return out

    def path(self, customer_id: str, ladder: str = "post_purchase") -> list[str | None]:
        """One customer's stage at every date (``None`` before they joined)."""
        hits = np.flatnonzero(self.customer_ids == customer_id)
        if hits.size == 0:
            raise UnknownCustomerError(f"{customer_id!r} is not in this history")
        names = [*self.stage_names[self._ladder(ladder)], None]
        return [names[c] for c in self.codes[ladder][:, int(hits[0])].tolist()]

    def counts(self, ladder: str = "post_purchase") -> NDArray[np.int64]:
        """Customers per stage at each date: a ``(dates, stages)`` matrix."""
        codes = self.codes[self._ladder(ladder)]
        k = len(self.stage_names[ladder])
        out = np.zeros((codes.shape[0], k), dtype=np.int64)
        for step in range(codes.shape[0]):
            c = codes[step]
            out[step] = np.bincount(c[c >= 0], minlength=k)
        return out

    def transition_matrices(self, ladder: str = "post_purchase") -> NDArray[np.int64]:
        """Moves between consecutive dates: a ``(dates - 1, stages + 1, stages)`` array whose
        entry ``[s, i, j]`` counts the customers in stage ``i`` at date ``s`` and ``j`` at date
        ``s + 1``; row ``stages`` counts those who joined in between."""
        codes = self.codes[self._ladder(ladder)]
        k = len(self.stage_names[ladder])
        steps = max(codes.shape[0] - 1, 0)
        out = np.zeros((steps, k + 1, k), dtype=np.int64)
        for s in range(steps):
            before = codes[s].astype(np.int64)
            after = codes[s + 1].astype(np.int64)
            present = after >= 0
            source = np.where(before[present] < 0, k, before[present])
            out[s] = np.bincount(source * k + after[present], minlength=(k + 1) * k).reshape(
                k + 1, k
            )
        return out

    def flows(self, ladder: str = "post_purchase") -> list[dict[str, Any]]:
        """Every non-empty flow between consecutive dates, as records: ``start``, ``end``,
        ``source`` (``None`` for customers who joined in between), ``target``, ``customers``."""
        matrices = self.transition_matrices(ladder)
        names = [*self.stage_names[ladder], None]
        dates = [micros_to_datetime(int(d)) for d in self.dates.view(np.int64).tolist()]
        out = []
        for s, i, j in zip(*np.nonzero(matrices), strict=True):
            out.append(
                {
                    "start": dates[s],
                    "end": dates[s + 1],
                    "source": names[i],
                    "target": names[j],
                    "customers": int(matrices[s, i, j]),
                }
            )
        return out

    def to_frame(self, ladder: str = "post_purchase") -> Any:
        """A pandas ``DataFrame``: one row per customer, one categorical column per date
        (needs ``privdomain[pandas]``)."""
        from privdomain._optional import import_optional

        pd = import_optional("pandas", extra="pandas")
        names = list(self.stage_names[self._ladder(ladder)])
        dates = pd.to_datetime(self.dates.astype("datetime64[us]"), utc=True)
        data = {
            date: pd.Categorical.from_codes(self.codes[ladder][s], categories=names)
            for s, date in enumerate(dates)
        }
        return pd.DataFrame(data, index=pd.Index(self.customer_ids, name="customer_id"))

    # ------------------------------------------------------------------ charts
    def plot_flow(self, ladder: str = "post_purchase", *, ax: Any = None) -> Any:
        """A stage-flow chart (alluvial): stacked stage sizes at each date, with bands for the
        customers who moved between consecutive dates (needs ``privdomain[plot]``)."""
        from privdomain.lifecycle.plots import plot_stage_flow

        return plot_stage_flow(self, ladder, ax=ax)

    def plot_transitions(
        self, ladder: str = "post_purchase", *, step: int | None = None, ax: Any = None
    ) -> Any:
        """A heatmap of the transition matrix, summed over every step or at one ``step``
        (needs ``privdomain[plot]``)."""
        from privdomain.lifecycle.plots import plot_transition_heatmap

        return plot_transition_heatmap(self, ladder, step=step, ax=ax)

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        first, last = (
            (micros_to_datetime(int(self.dates.view(np.int64)[i])).date() for i in (0, -1))
            if len(self.dates)
            else (None, None)
        )
        lines = [
            f"StageHistory({len(self)} customers, {len(self.dates)} dates from {first} to "
            f"{last}, ladders {list(self.codes)})"
        ]
        for ladder in self.codes:
            last_counts = self.counts(ladder)[-1] if len(self.dates) else []
            shown = ", ".join(
                f"{n} {c}" for n, c in zip(self.stage_names[ladder], last_counts, strict=False)
            )
            lines.append(f"  {ladder} at the last date: {shown}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(repr(self))}</pre>"


# ---------------------------------------------------------------------- the sweep
def stage_history(
    lifecycle: Any,
    source: Any,
    dates: Any,
    *,
    epoch_unit: str | None = None,
    ladders: Any = LADDERS,
) -> StageHistory:
    """The stages of every customer at each of ``dates``, in one pass over the purchases.

    Parameters
    ----------
    lifecycle : Lifecycle
        A fitted :class:`~privdomain.lifecycle.Lifecycle`: the same fit decides every date.
    source : Snapshot, Tables or Pool
        A snapshot as of the last date or later (its purchases and join instants are read),
        or the tables (or pool) to compute that one snapshot from.
    dates : sequence of instants
        Strictly increasing: ``datetime64``, aware datetimes, or numbers with
        ``epoch_unit``.
    epoch_unit : {None, "s", "ms", "us", "ns"}
        What numeric dates count since the epoch (required for numbers).
    ladders : str or sequence of str
        The ladders to record (default all three).

    Returns
    -------
    StageHistory
        Its stages at date ``t`` equal ``lifecycle.apply(pool.snapshot(t))``; customers who had
        not joined by ``t`` have code -1.

    Raises
    ------
    ValidationError
        Dates that go backwards or repeat, numbers without ``epoch_unit``, a snapshot older
        than the last date, a source that is neither a snapshot nor tables.
    NotFittedError
        ``lifecycle`` was not fitted.
    """
    fitted: Fitted = _fitted(lifecycle)
    names = check_ladders(ladders)
    if isinstance(dates, str | bytes) or np.size(dates) == 0:
        raise ValidationError(f"stage_history needs at least one date, got {short_repr(dates)}")
    when = epoch_micros_array(dates, epoch_unit=epoch_unit, what="dates")
    steps = np.diff(when)
    if (steps <= 0).any():
        bad = int(np.flatnonzero(steps <= 0)[0])
        how = "repeats" if steps[bad] == 0 else "goes backwards"
        raise ValidationError(
            f"dates must be strictly increasing: date {bad + 1} "
            f"({micros_to_datetime(int(when[bad + 1])).isoformat()}) {how} after date {bad} "
            f"({micros_to_datetime(int(when[bad])).isoformat()})"
        )
    snapshot = _snapshot(source, int(when[-1]))
    return _sweep(snapshot, fitted, when, names)


def _fitted(lifecycle: Any) -> Fitted:
    fitted_of = getattr(lifecycle, "_fitted", None)
    if not callable(fitted_of):
        raise ValidationError(
            f"stage_history needs a fitted Lifecycle, got {type(lifecycle).__name__}"
        )
    check_fitted(lifecycle, "cadence_log_mean_")
    out: Fitted = fitted_of()
    return out


def _snapshot(source: Any, last: int) -> Snapshot:
    if isinstance(source, Snapshot):
        if epoch_micros(source.as_of) < last:
            raise ValidationError(
                f"the snapshot is as of {source.as_of.isoformat()}, before the last date "
                f"{micros_to_datetime(last).isoformat()}: it cannot see that far"
            )
        return source
    tables = source.tables() if callable(getattr(source, "tables", None)) else source
    if not isinstance(tables, Tables):
        raise ValidationError(
            f"source must be a Snapshot, Tables or a Pool, got {type(source).__name__}"
        )
    return features(tables, np.datetime64(last, "us"))


def _sweep(
    snapshot: Snapshot, fitted: Fitted, when: NDArray[np.int64], names: tuple[str, ...]
) -> StageHistory:
    n = len(snapshot)
    window = round(fitted.relationship.window_days * MICROS_PER_DAY)
    offset = snapshot.utc_offset // dt.timedelta(microseconds=1)
    joined = snapshot.joined_at.astype("datetime64[us]", copy=False).view(np.int64)
    log = snapshot.order_log
    at = log.at.view(np.int64)
    rows = log.row
    gross = log.gross_minor
    day = np.floor_divide(at + offset, MICROS_PER_DAY)
    scale = float(10 ** minor_unit_exponent(snapshot.currency))

    # group purchases by the step of the sweep that first sees them (and by the step at which
    # they leave the recent window): a radix sort of small integers, no sort of the log
    by_step = _grouped(np.searchsorted(when, at, side="left"), when.size)
    by_lag = _grouped(np.searchsorted(when - window, at, side="left"), when.size)

    # the running columns an Activity reads, each updated only where a purchase changed it
    run = _Running(n, scale)
    state: State | None = None
    codes = {name: np.empty((when.size, n), dtype=np.int8) for name in names}
    for step in range(when.size):
        bought = run.add(by_step[step], rows, at, gross, day)
        run.leave_window(by_lag[step], rows, gross)
        act = Activity(
            as_of=int(when[step]),
            utc_offset=offset,
            window=window,
            joined=joined,
            first=run.first,
            last=run.last,
            days=run.days,
            orders=run.orders,
            spend=run.spend_major,
            recent_orders=run.recent_orders,
            recent_spend=run.recent_spend_major,
        )
        if state is None:
            state = purchase_state(act, fitted)
        elif bought.size:
            update_state(state, act, fitted, bought)
        computed = compute(act, fitted, explain=False, state=state, ladders=names)
        for name in names:
            codes[name][step] = getattr(computed, name)
    # customers who had not joined yet: -1, set for every date at once
    join_step = np.searchsorted(when, joined, side="left")
    absent = np.arange(when.size)[:, None] < join_step[None, :]
    for name in names:
        codes[name][absent] = -1
        codes[name].flags.writeable = False
    stage_names = {
        "relationship": _names("relationship"),
        "post_purchase": _names("post_purchase"),
        "milestone": fitted.milestones.names,
    }
    return StageHistory(
        dates=when.view("datetime64[us]"),
        customer_ids=snapshot.customer_ids,
        index=snapshot.index,
        stage_names={name: stage_names[name] for name in names},
        codes=codes,
    )


class _Running:
    """Per-customer running totals of the sweep, in the form an :class:`Activity` takes."""

    def __init__(self, n: int, scale: float) -> None:
        self.scale = scale
        self.orders = np.zeros(n, dtype=np.int64)
        self.spend = np.zeros(n, dtype=np.int64)
        self.spend_major = np.zeros(n, dtype=np.float64)
        self.days = np.zeros(n, dtype=np.int64)
        self.first = np.full(n, _NAT, dtype=np.int64)
        self.last = np.full(n, _NAT, dtype=np.int64)
        self.last_day = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
        self.recent_orders = np.zeros(n, dtype=np.int64)
        self.recent_spend = np.zeros(n, dtype=np.int64)
        self.recent_spend_major = np.zeros(n, dtype=np.float64)

    def add(
        self,
        picked: NDArray[np.intp],
        rows: NDArray[np.int64],
        at: NDArray[np.int64],
        gross: NDArray[np.int64],
        day: NDArray[np.int64],
    ) -> NDArray[np.int64]:
        """Add one step's purchases; return the customers who bought."""
        if picked.size == 0:
            return np.zeros(0, dtype=np.int64)
        r, a, d = rows[picked], at[picked], day[picked]
        customers, inverse, counts = np.unique(r, return_inverse=True, return_counts=True)
        money = np.bincount(inverse, weights=gross[picked], minlength=customers.size)
        self.orders[customers] += counts
        self.recent_orders[customers] += counts
        self.spend[customers] += money.astype(np.int64)
        self.recent_spend[customers] += money.astype(np.int64)
        self.spend_major[customers] = self.spend[customers] / self.scale
        self.recent_spend_major[customers] = self.recent_spend[customers] / self.scale
        earliest = np.full(customers.size, _NEVER, dtype=np.int64)
        np.minimum.at(earliest, inverse, a)
        new = self.first[customers] == _NAT
        self.first[customers[new]] = earliest[new]
        np.maximum.at(self.last, r, a)
        # a purchase day is new when it is later than every day the customer bought on
        # before this step, and the first of its (customer, day) pairs within the step
        _, first_of_pair = np.unique(
            inverse.astype(np.int64) << 32 | (d - d.min()), return_index=True
        )
        fresh = first_of_pair[d[first_of_pair] > self.last_day[r[first_of_pair]]]
        np.add.at(self.days, r[fresh], 1)
        np.maximum.at(self.last_day, r, d)
        return customers

    def leave_window(
        self, picked: NDArray[np.intp], rows: NDArray[np.int64], gross: NDArray[np.int64]
    ) -> NDArray[np.int64]:
        """Take the purchases that left the recent window at this step out of it."""
        if picked.size == 0:
            return np.zeros(0, dtype=np.int64)
        customers, inverse, counts = np.unique(
            rows[picked], return_inverse=True, return_counts=True
        )
        money = np.bincount(inverse, weights=gross[picked], minlength=customers.size)
        self.recent_orders[customers] -= counts
        self.recent_spend[customers] -= money.astype(np.int64)
        self.recent_spend_major[customers] = self.recent_spend[customers] / self.scale
        return customers


def _names(ladder: str) -> tuple[str, ...]:
    from privdomain.lifecycle.ladders import POST_PURCHASE_STAGES, RELATIONSHIP_STAGES

    return RELATIONSHIP_STAGES if ladder == "relationship" else POST_PURCHASE_STAGES


def _grouped(bucket: NDArray[np.intp], steps: int) -> list[NDArray[np.intp]]:
    """The positions of the purchases of each step (those after the last date are dropped)."""
    order = np.argsort(bucket.astype(np.int32), kind="stable")
    bounds = np.searchsorted(bucket[order], np.arange(steps + 1), side="left")
    return [order[bounds[s] : bounds[s + 1]] for s in range(steps)]
