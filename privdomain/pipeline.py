"""The daily cycle: one entry point for the job a host runs every day (or week).

:class:`DailyCycle` is configured once, with the pool, the ports that outlive a run and the
strategies, and called with ``as_of``. One call walks the closed loop:

1. **ingest**: what the touchpoint log holds beyond the pool's cursor, and any records passed in;
2. **snapshot** of the pool as of ``as_of``;
3. **fit** the learners (on the first run, or when asked);
4. **layering**: every configured layering applied;
5. **lifecycle**: stages now, and the transitions since the stages stored last time;
6. **nudges**: the contact plan, made with the stages and layers;
7. **referral**: bindings and the commission ledger of every order;
8. **health**: the pool's health report;
9. **persist**: commission settled into the ledger port, the planned contacts recorded as
   ``SENT`` touchpoints (when asked), the stages stored (the last write: it marks the run done).

Everything comes back in one :class:`CycleResult`. A call for an ``as_of`` the stage store
already holds is a *repeat*: it writes no second set of contacts, its transitions are empty
(nobody moved since the stages of that very instant), and settling commission again posts
nothing new, so running the job twice for one day changes nothing. An ``as_of`` before the
stored one is refused: the cycle runs forward in time.
"""

from __future__ import annotations

import datetime as dt
import html
import threading
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import numpy as np

from privdomain._optional import import_optional
from privdomain.domain._time import as_utc_datetime, micros_to_datetime
from privdomain.domain.channels import Channel, TouchKind
from privdomain.domain.pool import Pool
from privdomain.domain.report import IngestReport
from privdomain.domain.snapshot import Snapshot
from privdomain.domain.touchpoint import Touchpoint
from privdomain.errors import EmptyPoolError, ValidationError
from privdomain.ports import CommissionLedger, StageStore, TouchpointLog

__all__ = [
    "STAGES",
    "CycleResult",
    "DailyCycle",
    "Progress",
    "default_layerings",
    "stamp",
    "tqdm_progress",
]

#: The stages of one run, in order: what the progress callback names.
STAGES: tuple[str, ...] = (
    "ingest",
    "snapshot",
    "fit",
    "layering",
    "lifecycle",
    "nudges",
    "referral",
    "health",
    "persist",
)

#: ``progress(stage, done, total)``: called as each stage starts (``done`` stages finished
#: of ``total``) and once more at the end with ``("done", total, total)``.
Progress = Callable[[str, int, int], None]


def default_layerings() -> dict[str, Any]:
    """The layerings a cycle applies unless told otherwise: RFM (classic 11 segments), value
    tiers (super users), KOCs and coupon hunters, by name."""
    from privdomain.layering import CouponHunters, KOCDetector, RFMLayering, ValueTiers

    return {
        "rfm": RFMLayering(),
        "value_tiers": ValueTiers(),
        "koc": KOCDetector(),
        "coupon_hunters": CouponHunters(),
    }


def tqdm_progress(**options: Any) -> Progress:
    """A progress callback drawing a tqdm bar (needs ``privdomain[progress]``); ``options`` go
    to ``tqdm.tqdm`` (``file=``, ``disable=``, ...). The bar closes when the run is done."""
    tqdm = import_optional("tqdm", extra="progress")
    bar: list[Any] = []

    def progress(stage: str, done: int, total: int) -> None:
        if not bar:
            bar.append(tqdm.tqdm(total=total, unit="stage", **options))
        current = bar[0]
        current.set_description(stage)
        current.update(done - current.n)
        if stage == "done":
            current.close()
            bar.clear()

    return progress


def stamp(when: dt.datetime) -> str:
    """``when`` (aware) in UTC as a compact id part: ``20260105T020000Z`` (microseconds only
    when it has some). Recorded contacts are ``<contact_prefix><stamp(as_of)>-<customer id>``."""
    utc = as_utc_datetime(when, what="when")
    micro = f".{utc.microsecond:06d}" if utc.microsecond else ""
    return f"{utc.strftime('%Y%m%dT%H%M%S')}{micro}Z"


def _check_progress(progress: Any) -> Progress | None:
    if progress is not None and not callable(progress):
        raise ValidationError(
            "progress must be a callable(stage, done, total) or None, got "
            f"{type(progress).__name__}"
        )
    return progress  # type: ignore[no-any-return]


@attrs.frozen(eq=False, repr=False)
class CycleResult:
    """Everything one run of :class:`DailyCycle` produced.

    Attributes
    ----------
    as_of : datetime.datetime
        The instant the cycle ran for (aware UTC).
    repeated : bool
        The stage store already held the stages of ``as_of``: this run wrote no contacts, and
        its transitions are empty. The plan is the plan of the first run (send it only once).
    ingested : IngestReport
        What the ingest stage took in (the log beyond the pool's cursor and the records
        passed in).
    snapshot : Snapshot
        The pool as of ``as_of``.
    layers : dict of str to Segmentation
        Each configured layering's result, by name.
    stages : LifecycleStages
        Every customer's lifecycle stages.
    transitions : Transitions
        The moves since the stages stored last time (entries on the first run).
    plan : NudgePlan
        The contact plan.
    contacts : TouchpointColumns
        The planned contacts as ``SENT`` touchpoints (ids
        ``<contact_prefix><stamp(as_of)>-<customer id>``, see :func:`stamp`).
    contacts_recorded : int
        How many of them this run recorded (0 on a repeat, or when not recording).
    bindings : Bindings or None
        Every customer's referral binding (``None`` without a referral strategy).
    ledger : AttributionLedger or None
        The commission of every order.
    settled : SettleReport or None
        What settling posted into the ledger port (``None`` without a referral strategy, and
        on a repeat, which settles nothing: the first run did).
    health : HealthReport
        The pool's health report over the cycle's ``health_window``
        (:func:`privdomain.metrics.health`).
    notes : tuple of str
        What the run noticed (layering warnings, a repeated run).
    """

    as_of: dt.datetime
    repeated: bool
    ingested: IngestReport
    snapshot: Snapshot
    layers: dict[str, Any]
    stages: Any
    transitions: Any
    plan: Any
    contacts: Any
    contacts_recorded: int
    bindings: Any
    ledger: Any
    settled: Any
    health: Any
    notes: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        """The run in plain values (ints, floats, strings, dicts): what a service returns as
        JSON or a scheduler logs."""
        plan = self.plan
        planned = np.asarray(plan.planned, dtype=bool)
        out: dict[str, Any] = {
            "as_of": self.as_of.isoformat(),
            "repeated": self.repeated,
            "ingested": {
                "customers_added": self.ingested.customers_added,
                "touchpoints_accepted": self.ingested.touchpoints_accepted,
                "duplicates": self.ingested.duplicates,
                "rejected": len(self.ingested.rejected),
            },
            "customers": len(self.snapshot),
            "layers": {name: seg.counts() for name, seg in self.layers.items()},
            "stages": self.stages.counts(),
            "transitions": _transition_counts(self.transitions),
            "plan": {
                "reasons": plan.counts(),
                "by_channel": _value_counts(plan.channel[planned]),
                "by_offer": _value_counts(plan.offer[planned]),
                "by_period": _value_counts(plan.period[planned]),
            },
            "contacts_recorded": self.contacts_recorded,
            "health": _health_rows(self.health),
            "notes": list(self.notes),
        }
        if self.ledger is not None:
            out["commission"] = {
                "entries": len(self.ledger),
                "total_minor": int(self.ledger.total().minor),
                "currency": self.ledger.currency,
                "posted": self.settled.posted if self.settled is not None else 0,
            }
        return out

    def __repr__(self) -> str:
        plan = self.plan
        lines = [
            f"CycleResult(as of {self.as_of.isoformat()}{', repeated' if self.repeated else ''})",
            f"  ingested: {self.ingested.touchpoints_accepted:,} touchpoints, "
            f"{self.ingested.customers_added:,} new customers",
            f"  customers: {len(self.snapshot):,}",
            f"  layers: {', '.join(self.layers) or 'none'}",
            f"  transitions: {len(self.transitions):,} moves",
            f"  plan: {int(np.count_nonzero(plan.planned)):,} nudges planned, "
            f"{self.contacts_recorded:,} recorded",
        ]
        if self.ledger is not None:
            lines.append(f"  commission: {len(self.ledger):,} entries, {self.ledger.total()}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in (line.strip().split(": ", 1) for line in repr(self).splitlines()[1:])
        )
        title = html.escape(repr(self).splitlines()[0])
        return f"<div><strong>{title}</strong><table>{rows}</table></div>"


def _value_counts(values: Any) -> dict[str, int]:
    names, counts = np.unique(np.asarray(values).astype(str), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return {str(names[i]): int(counts[i]) for i in order}


def _transition_counts(moves: Any) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (ladder, source, target), count in moves.counts().items():
        out.setdefault(ladder, {})[f"{source or '(entered)'} -> {target}"] = count
    return out


def _health_rows(health: Any) -> dict[str, Any]:
    return {f"{r['group']}.{r['metric']}": r["value"] for r in health.metrics()}


class DailyCycle:
    """The daily job, configured once: ``DailyCycle(pool, stages=..., ledger=...).run(as_of)``.

    Parameters
    ----------
    pool : Pool
        The pool the cycle works on. Customers reach it through the host (``pool.ingest``);
        touchpoints through ``touchpoints`` or :meth:`run`'s ``new``.
    touchpoints : TouchpointLog, optional
        The host's touchpoint log: each run ingests what it holds beyond the pool's cursor,
        and appends the contacts it records.
    stages : StageStore, optional
        Where each customer's lifecycle stage is kept between runs (default: a new
        :class:`~privdomain.memory.InMemoryStageStore`). Its ``as_of`` attribute, when it has
        one, tells a repeated run from a new one.
    ledger : CommissionLedger, optional
        Where commission is settled (default: a new
        :class:`~privdomain.memory.InMemoryCommissionLedger`).
    layering : mapping of str to Layering, optional
        The layerings to apply, by name (default: :func:`default_layerings`). Their segment
        names are the layers the nudge policy reads (``"KOC"``, ``"Coupon hunter"``, ...).
    lifecycle : LifecycleStrategy, optional
        Default :class:`~privdomain.lifecycle.Lifecycle`.
    nudges : Nudges or NudgePolicy, optional
        The nudge planner or its policy (default: :class:`~privdomain.nudges.Nudges`).
    referral : ReferralAttribution, optional
        Binding policy and commission rule; without one the cycle keeps no ledger.
    value : LifetimeValue, optional
        A :class:`~privdomain.value.LifetimeValue`, fitted with the other learners: the health
        report then gives the expected CLV per customer.
    record_contacts : bool, default True
        Record the planned contacts as ``SENT`` touchpoints (in the log, when there is one, and
        in the pool), as a host does once it has sent them. ``False`` leaves that to the host.
    send_after : datetime.timedelta, optional
        How long after ``as_of`` the nudges go out (before quiet hours move them); more than
        zero, so that a run's own contacts are never in its snapshot and a repeated run plans
        exactly as the first.
    contact_prefix : str, default "nudge-"
        Start of the ids of recorded contacts.
    health_window : datetime.timedelta, optional
        The window the health report covers, ending at ``as_of`` (default 30 days); the
        revenue decomposition compares it with the window as long before it.
    progress : callable, optional
        ``progress(stage, done, total)`` for every run (see :data:`Progress`,
        :func:`tqdm_progress`).

    Examples
    --------
    >>> from privdomain.simulate import simulate_pool
    >>> sim = simulate_pool(500, seed=1)
    >>> cycle = DailyCycle(sim.pool())
    >>> first = cycle.run(sim.as_of)
    >>> again = cycle.run(sim.as_of)
    >>> again.repeated, len(again.transitions), again.contacts_recorded
    (True, 0, 0)
    """

    def __init__(
        self,
        pool: Pool,
        *,
        touchpoints: TouchpointLog | None = None,
        stages: StageStore | None = None,
        ledger: CommissionLedger | None = None,
        layering: Mapping[str, Any] | None = None,
        lifecycle: Any = None,
        nudges: Any = None,
        referral: Any = None,
        value: Any = None,
        record_contacts: bool = True,
        send_after: dt.timedelta = dt.timedelta(hours=1),
        contact_prefix: str = "nudge-",
        health_window: dt.timedelta = dt.timedelta(days=30),
        progress: Progress | None = None,
    ) -> None:
        from privdomain.lifecycle import Lifecycle
        from privdomain.memory import InMemoryCommissionLedger, InMemoryStageStore
        from privdomain.nudges import NudgePolicy, Nudges
        from privdomain.referral import ReferralAttribution

        if not isinstance(pool, Pool):
            raise ValidationError(f"a DailyCycle runs on a Pool, not {type(pool).__name__}")
        self.pool = pool
        if touchpoints is not None and not isinstance(touchpoints, TouchpointLog):
            raise ValidationError(
                f"touchpoints must be a TouchpointLog, got {type(touchpoints).__name__}"
            )
        self.touchpoints = touchpoints
        self.stages = InMemoryStageStore() if stages is None else stages
        if not isinstance(self.stages, StageStore):
            raise ValidationError(f"stages must be a StageStore, got {type(stages).__name__}")
        self.ledger = InMemoryCommissionLedger() if ledger is None else ledger
        if not isinstance(self.ledger, CommissionLedger):
            raise ValidationError(f"ledger must be a CommissionLedger, got {type(ledger).__name__}")
        chosen = default_layerings() if layering is None else layering
        if not isinstance(chosen, Mapping):
            raise ValidationError(
                f"layering maps names to layering strategies, got {type(chosen).__name__}"
            )
        for name, strategy in chosen.items():
            if not isinstance(name, str) or not name:
                raise ValidationError(f"layering names are non-empty strs, got {name!r}")
            if not (callable(getattr(strategy, "fit", None)) and callable(
                getattr(strategy, "apply", None)
            )):  # fmt: skip
                raise ValidationError(
                    f"layering {name!r} has no fit and apply: got {type(strategy).__name__}"
                )
        self.layering = dict(chosen)
        self.lifecycle = Lifecycle() if lifecycle is None else lifecycle
        if not (callable(getattr(self.lifecycle, "fit", None)) and callable(
            getattr(self.lifecycle, "apply", None)
        )):  # fmt: skip
            raise ValidationError(
                f"lifecycle must have fit and apply, got {type(lifecycle).__name__}"
            )
        if nudges is None:
            nudges = Nudges()
        elif isinstance(nudges, NudgePolicy):
            nudges = Nudges(nudges)
        if not isinstance(nudges, Nudges):
            raise ValidationError(
                f"nudges must be Nudges or a NudgePolicy, got {type(nudges).__name__}"
            )
        self.nudges = nudges
        if referral is not None and not isinstance(referral, ReferralAttribution):
            raise ValidationError(
                f"referral must be a ReferralAttribution or None, got {type(referral).__name__}"
            )
        self.referral = referral
        if value is not None and not (
            callable(getattr(value, "fit", None)) and callable(getattr(value, "apply", None))
        ):
            raise ValidationError(
                f"value must be a LifetimeValue or None, got {type(value).__name__}"
            )
        self.value = value
        if not isinstance(record_contacts, bool):
            raise ValidationError(f"record_contacts is a bool, got {record_contacts!r}")
        self.record_contacts = record_contacts
        if not isinstance(send_after, dt.timedelta) or send_after <= dt.timedelta(0):
            raise ValidationError(f"send_after must be a timedelta above zero, got {send_after!r}")
        self.send_after = send_after
        if not isinstance(contact_prefix, str):
            raise ValidationError(f"contact_prefix is a str, got {contact_prefix!r}")
        self.contact_prefix = contact_prefix
        if not isinstance(health_window, dt.timedelta) or health_window <= dt.timedelta(0):
            raise ValidationError(
                f"health_window must be a timedelta above zero, got {health_window!r}"
            )
        self.health_window = health_window
        self.progress = _check_progress(progress)
        self.fitted_as_of: dt.datetime | None = None
        # the stages this cycle stored last: while the store still holds them, the next diff
        # reads them here, as arrays, instead of asking the store customer by customer
        self._stored: Any = None
        """When the learners were last fitted (``None``: not yet)."""
        # one run (or fit) at a time: a second caller waits, then sees a repeated as_of
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        fitted = self.fitted_as_of.isoformat() if self.fitted_as_of else "not yet"
        return (
            f"DailyCycle({self.pool!r}, layering={list(self.layering)}, "
            f"referral={'yes' if self.referral is not None else 'no'}, fitted {fitted})"
        )

    # ------------------------------------------------------------------ fitting
    def fit(self, snapshot: Snapshot) -> DailyCycle:
        """Fit every learner (layerings, lifecycle, referral) on ``snapshot``; returns ``self``.

        :meth:`run` fits on its first call by itself; call this to refit (say weekly) or to fit
        on another snapshot than the run's."""
        with self._lock:
            return self._fit(snapshot)

    def _fit(self, snapshot: Snapshot) -> DailyCycle:
        from privdomain.layering import LayeringWarning

        if not isinstance(snapshot, Snapshot):
            raise ValidationError(f"fit takes a Snapshot, not {type(snapshot).__name__}")
        if len(snapshot) == 0:
            raise EmptyPoolError(
                f"the pool has no customers as of {snapshot.as_of.isoformat()}: the learners "
                "have nothing to learn from (ingest customers first, or fit on a later as_of)"
            )
        # the warnings are kept in each layering's result and in the cycle's notes
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LayeringWarning)
            for strategy in self.layering.values():
                strategy.fit(snapshot)
        self.lifecycle.fit(snapshot)
        if self.referral is not None:
            self.referral.fit(snapshot)
        if self.value is not None:
            self.value.fit(snapshot)
        self.fitted_as_of = snapshot.as_of
        return self

    # ------------------------------------------------------------------ one run
    def run(
        self,
        as_of: Any,
        *,
        new: Any = None,
        refit: bool = False,
        major_sale: bool = False,
        budget: int | None = None,
        progress: Progress | None = None,
    ) -> CycleResult:
        """Run the cycle for ``as_of``.

        Parameters
        ----------
        as_of : datetime.datetime or numpy.datetime64
            The instant of the run (aware, or ``datetime64`` in UTC); not before the instant
            of the stages stored last time.
        new : optional
            Records to ingest first, anything :meth:`Pool.ingest` takes (the day's new
            customers and touchpoints when there is no log), or a list of such batches of
            columns (:class:`~privdomain.TouchpointColumns`, :class:`~privdomain.Batch`, ...),
            ingested in order.
        refit : bool, default False
            Fit the learners on this run's snapshot even if they were fitted before.
        major_sale : bool, default False
            Whether a major sale is on (lost customers are contacted only then).
        budget : int, optional
            At most this many nudges (see :func:`privdomain.nudges.plan`).
        progress : callable, optional
            A progress callback for this run (instead of the cycle's).

        Raises
        ------
        ValidationError
            A bad argument, or an ``as_of`` before the stored stages'.
        EmptyPoolError
            The learners are not fitted yet and the pool has no customers as of ``as_of``.

        Notes
        -----
        Runs of one cycle take turns: a call made while another thread runs the cycle waits
        for it, so two calls for the same ``as_of`` make one run and one repeat (nothing is
        recorded or settled twice). Run one cycle per pool.
        """
        with self._lock:
            return self._run(
                as_of,
                new=new,
                refit=refit,
                major_sale=major_sale,
                budget=budget,
                progress=progress,
            )

    def _run(
        self,
        as_of: Any,
        *,
        new: Any,
        refit: bool,
        major_sale: bool,
        budget: int | None,
        progress: Progress | None,
    ) -> CycleResult:
        from privdomain.layering import LayeringWarning
        from privdomain.lifecycle import transitions

        when = as_utc_datetime(as_of, what="as_of")
        if not isinstance(refit, bool):
            raise ValidationError(f"refit is a bool, got {refit!r}")
        if not isinstance(major_sale, bool):
            raise ValidationError(f"major_sale is a bool, got {major_sale!r}")
        if budget is not None and (
            isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < 1
        ):
            raise ValidationError(f"budget is an int >= 1 (or None), got {budget!r}")
        report = _check_progress(progress) or self.progress
        total = len(STAGES)

        def step(i: int) -> None:
            if report is not None:
                report(STAGES[i], i, total)

        stored_as_of = getattr(self.stages, "as_of", None)
        if stored_as_of is not None and as_utc_datetime(stored_as_of, what="stored as_of") > when:
            raise ValidationError(
                f"the stage store holds stages as of {stored_as_of.isoformat()}, after as_of "
                f"{when.isoformat()}: the daily cycle runs forward in time"
            )
        repeated = stored_as_of is not None and as_utc_datetime(stored_as_of, what="as_of") == when
        notes: list[str] = []
        if repeated:
            notes.append(
                "the stages of this as_of were stored already: a repeated run records no "
                "contacts, and its plan is the one of the first run"
            )

        step(0)
        ingested = IngestReport()
        for batch in _batches(new):
            ingested = _combined(ingested, self.pool.ingest(batch))
        if self.touchpoints is not None:
            ingested = _combined(ingested, self.pool.ingest_log(self.touchpoints))

        step(1)
        snapshot = self.pool.snapshot(when)

        step(2)
        if refit or self.fitted_as_of is None:
            self._fit(snapshot)

        step(3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LayeringWarning)
            layers = {name: s.apply(snapshot) for name, s in self.layering.items()}
        for name, seg in layers.items():
            notes += [f"{name}: {w}" for w in getattr(seg, "warnings", ())]

        step(4)
        stages = self.lifecycle.apply(snapshot)
        previous = self._stored
        if previous is None or stored_as_of is None or previous.as_of != stored_as_of:
            previous = None  # the store changed hands (or this is the first run): ask it
        moves = transitions(self.stages if previous is None else previous, stages)

        step(5)
        # only layers with a segment the policy names can change a nudge: hand on those
        policy = self.nudges.policy
        named = set(policy.layer_offers) | set(policy.no_coupon_layers)
        used = [seg for seg in layers.values() if named & set(getattr(seg, "names", ()))]
        plan = self.nudges.plan(
            snapshot,
            stages,
            at=when + self.send_after,
            layers=used or None,
            major_sale=major_sale,
            budget=budget,
        )
        prefix = f"{self.contact_prefix}{stamp(when)}-"
        contacts = plan.to_touchpoints(snapshot.tenant, prefix)

        step(6)
        bindings = ledger = None
        if self.referral is not None:
            from privdomain.referral import attribute

            bindings = self.referral.apply(snapshot)
            ledger = attribute(  # with the bindings just made: binding once is enough
                snapshot,
                self.referral.rule,
                refund_window_days=self.referral.refund_window_days,
                bindings=bindings,
            )

        step(7)
        health = self._health(snapshot, bindings)

        step(8)
        settled = None
        if ledger is not None and not repeated:  # a repeat: the first run settled it all
            from privdomain.referral import settle

            settled = settle(_unsettled(ledger, stored_as_of, self.referral), self.ledger)
        recorded = 0
        if self.record_contacts and not repeated and len(contacts):
            recorded = self._record(plan, contacts, prefix)
        self.stages.put_stages(_changed(stages, previous), when)
        self._stored = stages
        if report is not None:
            report("done", total, total)
        return CycleResult(
            as_of=when,
            repeated=repeated,
            ingested=ingested,
            snapshot=snapshot,
            layers=layers,
            stages=stages,
            transitions=moves,
            plan=plan,
            contacts=contacts,
            contacts_recorded=recorded,
            bindings=bindings,
            ledger=ledger,
            settled=settled,
            health=health,
            notes=tuple(notes),
        )

    def _health(self, snapshot: Snapshot, bindings: Any) -> Any:
        """The health report over ``health_window``, counting KOCs and super users with the
        cycle's own fitted layerings when it has them."""
        from privdomain.layering import KOCDetector, ValueTiers
        from privdomain.metrics import health

        kocs = next((s for s in self.layering.values() if isinstance(s, KOCDetector)), None)
        tiers = next((s for s in self.layering.values() if isinstance(s, ValueTiers)), None)
        return health(
            snapshot,
            start=snapshot.as_of - self.health_window,
            value=self.value,
            kocs=kocs,
            super_users=tiers,
            bindings=bindings,
        )

    def _record(self, plan: Any, contacts: Any, prefix: str) -> int:
        """Record the contacts: in the log (and from there in the pool), or in the pool."""
        if self.touchpoints is None:
            # the plan knows each contact's pool row: the pool checks it instead of hashing ids
            rows = plan.index[np.flatnonzero(plan.planned)]
            report = self.pool._ingest_touchpoints(contacts, rows)
            return report.touchpoints_accepted
        objects = _touchpoint_objects(plan, self.pool.tenant, prefix)
        self.touchpoints.append(objects)
        report = self.pool.ingest_log(self.touchpoints)
        return report.touchpoints_accepted


def _changed(stages: Any, previous: Any) -> dict[str, str]:
    """``{customer id: stage key}`` to store: every customer, or (when the stored stages are
    ``previous``) only those whose key changed, which leaves the store the same."""
    keys = stages.stage_keys()
    ids = stages.customer_ids
    if previous is not None:
        size = int(max(stages.index.max(initial=-1), previous.index.max(initial=-1))) + 1
        before = np.full(size, None, dtype=object)
        before[previous.index] = previous.stage_keys()
        changed = keys != before[stages.index]
        keys, ids = keys[changed], ids[changed]
    return dict(zip(ids.tolist(), keys.tolist(), strict=True))


def _batches(new: Any) -> list[Any]:
    """``new`` as a list of what :meth:`Pool.ingest` takes: one batch, or several."""
    from privdomain.domain.batch import Batch, CustomerColumns, TouchpointColumns
    from privdomain.domain.changes import ProfileChanges

    if new is None:
        return []
    columns = (Batch, CustomerColumns, TouchpointColumns, ProfileChanges)
    if isinstance(new, list | tuple) and new and all(isinstance(b, columns) for b in new):
        return list(new)
    return [new]


def _combined(first: IngestReport, second: IngestReport) -> IngestReport:
    if not (first.customers_added or first.touchpoints_accepted or len(first.rejected)) and not (
        first.duplicates
    ):
        return second
    return IngestReport(
        customers_added=first.customers_added + second.customers_added,
        customers_updated=first.customers_updated + second.customers_updated,
        customers_unchanged=first.customers_unchanged + second.customers_unchanged,
        touchpoints_accepted=first.touchpoints_accepted + second.touchpoints_accepted,
        duplicate_touchpoints=np.concatenate(
            [first.duplicate_touchpoints, second.duplicate_touchpoints]
        ),
        rejected=first.rejected + second.rejected,
    )


def _unsettled(ledger: Any, stored_as_of: Any, referral: Any) -> Any:
    """The ledger's entries of orders the last run may have left frozen: settling the others
    again would only skip them (orders past their refund window were settled for good)."""
    take = getattr(ledger, "take", None)
    if stored_as_of is None or len(ledger) == 0 or not callable(take):
        return ledger
    since = as_utc_datetime(stored_as_of, what="as_of") - dt.timedelta(
        days=float(referral.refund_window_days)
    )
    keep = ledger.at.astype("datetime64[us]") > np.datetime64(since.replace(tzinfo=None), "us")
    return ledger if keep.all() else take(np.flatnonzero(keep))


def _touchpoint_objects(plan: Any, tenant: str, prefix: str) -> list[Touchpoint]:
    """The planned nudges as SENT touchpoint objects, for a log port (an edge: one object per
    contact, with the ids, times and flags of :meth:`NudgePlan.to_touchpoints`)."""
    rows = np.flatnonzero(plan.planned)
    channels = {name: Channel[name] for name in set(plan.channel[rows].tolist())}
    return [
        Touchpoint(
            id=prefix + cid,
            tenant=tenant,
            customer_id=cid,
            at=micros_to_datetime(us),
            channel=channels[name],
            kind=TouchKind.SENT,
            promotion=promo,
        )
        for cid, us, name, promo in zip(
            plan.customer_ids[rows].tolist(),
            plan.send_at[rows].astype("datetime64[us]").view(np.int64).tolist(),
            plan.channel[rows].tolist(),
            plan.promotion[rows].tolist(),
            strict=True,
        )
    ]
