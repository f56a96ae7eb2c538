"""Scale out on Dask: the same strategies, partition by partition, with the same answers.

A pool too large for one machine is split into partitions of customers, each with all of its
customers' touchpoints and profile changes. Every partition becomes a :class:`~privdomain.Pool`
on a worker, and a :class:`~privdomain.Snapshot` as of one instant; strategies then run on the
strategy contract (see the Concepts page "The strategy contract"):

1. ``fit``: every partition's ``summarize`` on its worker, the summaries merged as a binary
   tree of ``merge`` tasks, one ``fit_summary`` of the merged summary on the client;
2. ``apply``: the fitted strategy shipped to the workers and applied to each partition, the
   results kept there (:class:`PartitionedResult`) for the next strategy, for a data frame
   (:meth:`PartitionedResult.to_dask_frame`) or, when small, one result on the client.

**Referral chains cross customers.** A customer's features read their referrer (the referrer's
row) and their invitees (``referrals``), and attribution credits two tiers up the chain. So
:func:`partition_by_customer` makes a first, global pass over the small referral graph only
(each customer's registered referrer and every touchpoint that names another customer, such as
an invitation) and keeps every connected group of that graph in one partition; any other
customer goes to a partition by a hash of their id. Within a partition the graph is then whole:
bindings and the commission of referrers are exactly those of one machine. What still spans
partitions is refused with a :class:`~privdomain.errors.ValidationError` rather than answered
differently: a per-period commission cap when agents earn commission (an agent's orders lie
in every partition), and a nudge ``budget`` (the top scores of the whole pool).

**Memory.** Pools, snapshots and results of :class:`PartitionedPool` are persisted: they stay
on the workers that made them, so that every strategy reuses them without reading the frames
again. The workers together hold the pool, then (about as much again) its snapshot; past their
memory limits Dask spills to disk, which is slow. Size the cluster, or the partitions, for that.

**Out of core.** :class:`OutOfCorePool` keeps nothing: a first pass builds each partition's
pool and snapshot, takes every strategy's summary and frees them (or writes the snapshot to a
``spill`` folder); a second builds each partition again (or reads it back) and runs a list of
:class:`Step` objects on it, writing the results as Parquet partition by partition. A worker holds
one partition at a time, so the pool may be many times the workers' memory. Reading and writing
files is the adapter's doing, at the edge; the core still touches none.

Nothing in the core imports this module or Dask; install ``privdomain[dask]``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from privdomain._optional import import_optional
from privdomain.errors import ValidationError, short_repr

if TYPE_CHECKING:
    from privdomain.domain.pool import Pool
    from privdomain.domain.report import IngestReport
    from privdomain.domain.snapshot import Snapshot

__all__ = [
    "INDEX_BITS",
    "PARTITION",
    "Earlier",
    "OutOfCorePool",
    "PartitionedPool",
    "PartitionedResult",
    "PartitionedSnapshot",
    "Step",
    "partition_by_customer",
    "referral_groups",
    "tree_merge",
]

#: The column :func:`partition_by_customer` adds: the partition of each row's customer.
PARTITION = "_partition"


def _dask() -> Any:
    return import_optional("dask", extra="dask")


def _dd() -> Any:
    return import_optional("dask.dataframe", extra="dask")


def _pd() -> Any:
    return import_optional("pandas", extra="dask")


# ---------------------------------------------------------------------------- partitioning
def _hashes(ids: Any) -> NDArray[np.uint64]:
    """A stable 64-bit hash of every id: the same on every worker and in every run."""
    pd = _pd()
    values = np.asarray(ids, dtype=object)
    hashed: NDArray[np.uint64] = pd.util.hash_array(values, categorize=True)
    return hashed


def referral_groups(source: Any, target: Any) -> tuple[NDArray[np.object_], NDArray[np.uint64]]:
    """Every customer linked to another, and the key of their group.

    ``source[i]`` and ``target[i]`` are linked (a customer and their referrer, a touchpoint's
    customer and the customer it names). Customers are grouped by the connected components of
    the links; a group's key is the smallest id hash in it, so it depends on who is in the
    group, never on the order of the links.

    Returns
    -------
    (ids, keys)
        The distinct linked ids, and the key of each one's group.
    """
    pd = _pd()
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    src = np.asarray(source, dtype=object)
    dst = np.asarray(target, dtype=object)
    if src.shape != dst.shape or src.ndim != 1:
        raise ValidationError("referral links need two 1-D columns of the same length")
    if src.size == 0:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=np.uint64)
    codes, uniques = pd.factorize(np.concatenate([src, dst]), use_na_sentinel=True)
    if (codes < 0).any():
        raise ValidationError("referral links must name a customer on both ends (no nulls)")
    ids = np.asarray(uniques, dtype=object)
    n, m = ids.size, src.size
    graph = coo_matrix((np.ones(m, dtype=np.int8), (codes[:m], codes[m:])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    hashes = _hashes(ids)
    smallest = np.full(int(label.max()) + 1, np.iinfo(np.uint64).max, dtype=np.uint64)
    np.minimum.at(smallest, label, hashes)
    return ids, smallest[label]


def _plain_categoricals(frame: Any) -> Any:
    """Categorical columns as plain objects: Dask's shuffle joins the categories of every
    partition into one dictionary, which fails once they outgrow the smallest partition's code
    type (pandas picks int8 or int16 codes for few categories); each pool encodes again."""
    pd = _pd()
    names = [c for c, dtype in frame.dtypes.items() if isinstance(dtype, pd.CategoricalDtype)]
    return frame.astype(dict.fromkeys(names, object)) if names else frame


def _assign(
    frame: Any, column: str, linked: Any, npartitions: int
) -> Any:  # a pandas partition in, the same with PARTITION out
    frame = _plain_categoricals(frame)
    ids = frame[column].to_numpy(dtype=object)
    keys = _hashes(ids)
    if len(linked):  # customers in a referral group go with their group
        hit = linked.index.get_indexer(ids)
        found = hit >= 0
        keys[found] = linked.to_numpy()[hit[found]]
    return frame.assign(**{PARTITION: (keys % np.uint64(npartitions)).astype(np.int64)})


def _shared(value: Any) -> Any:
    """One copy of ``value`` for every task: scattered to the workers when a distributed
    client is connected, else one node of the graph."""
    dask = _dask()
    if dask.config.get("scheduler", None) not in (None, "dask.distributed", "distributed"):
        return dask.delayed(value)  # another scheduler chosen, a client connected or not
    try:
        from distributed import get_client

        client: Any = get_client()
    except (ImportError, ValueError):
        return dask.delayed(value)
    return client.scatter(value, broadcast=True)


def partition_by_customer(
    customers: Any,
    touchpoints: Any,
    npartitions: int,
    *,
    profile_changes: Any = None,
    customer_id: str = "customer_id",
    referrer_id: str | None = "referrer_id",
    touchpoint_customer_id: str = "customer_id",
    related_customer_id: str | None = "related_customer_id",
    change_customer_id: str = "customer_id",
) -> tuple[Any, ...]:
    """Shuffle Dask DataFrames of customers and touchpoints (and profile changes) so that
    partition ``i`` of each holds the same customers, whole referral groups together.

    A first pass computes the referral graph (rows with a ``referrer_id``, touchpoints with a
    ``related_customer_id``: usually a small share of the data) and its connected groups (see
    :func:`referral_groups`); then every row goes to the partition of its customer's group key
    (a hash of the id for customers linked to nobody), modulo ``npartitions``.

    Parameters
    ----------
    customers, touchpoints
        Dask DataFrames.
    profile_changes
        A Dask DataFrame too, optional.
    npartitions
        How many partitions (>= 1).
    customer_id
        The id column of ``customers``.
    referrer_id
        The referrer column of ``customers`` (``None``: no referrer column).
    touchpoint_customer_id
        The customer column of ``touchpoints``.
    related_customer_id
        The related customer column of ``touchpoints`` (``None``: none).
    change_customer_id
        The customer column of ``profile_changes``.

    Returns
    -------
    tuple of Dask DataFrames
        ``(customers, touchpoints)``, or ``(customers, touchpoints, profile_changes)``, each
        with ``npartitions`` partitions indexed by :data:`PARTITION`.
    """
    dask = _dask()
    pd = _pd()
    if isinstance(npartitions, bool) or not isinstance(npartitions, int) or npartitions < 1:
        raise ValidationError(f"npartitions must be an integer >= 1, got {short_repr(npartitions)}")
    links: list[Any] = []
    if referrer_id is not None:
        edges = customers[[customer_id, referrer_id]]
        links.append(edges[edges[referrer_id].notnull()])
    if related_customer_id is not None:
        edges = touchpoints[[touchpoint_customer_id, related_customer_id]]
        links.append(edges[edges[related_customer_id].notnull()])
    computed = dask.compute(*links) if links else ()
    source = [np.asarray(f.iloc[:, 0].to_numpy(dtype=object)) for f in computed]
    target = [np.asarray(f.iloc[:, 1].to_numpy(dtype=object)) for f in computed]
    ids, keys = referral_groups(
        np.concatenate(source) if source else np.zeros(0, dtype=object),
        np.concatenate(target) if target else np.zeros(0, dtype=object),
    )
    linked = _shared(pd.Series(keys, index=pd.Index(ids, dtype=object), dtype=np.uint64))
    divisions = [*range(npartitions), npartitions - 1]
    out = []
    for frame, column in (
        (customers, customer_id),
        (touchpoints, touchpoint_customer_id),
        (profile_changes, change_customer_id),
    ):
        if frame is None:
            continue
        meta = _plain_categoricals(frame._meta).assign(**{PARTITION: np.zeros(0, dtype=np.int64)})
        keyed = frame.map_partitions(_assign, column, linked, npartitions, meta=meta)
        out.append(keyed.set_index(PARTITION, divisions=divisions, sorted=False))
    return tuple(out)


# ---------------------------------------------------------------------------- tree merge
def _merge_two(a: Any, b: Any) -> Any:
    return a.merge(b)


def tree_merge(parts: Sequence[Any], combine: Callable[[Any, Any], Any] = _merge_two) -> Any:
    """Merge delayed summaries as a binary tree of Dask tasks (depth ``log2(len(parts))``);
    the order of the leaves is kept, though a summary's ``merge`` does not depend on it."""
    dask = _dask()
    level = list(parts)
    if not level:
        raise ValidationError("tree_merge needs at least one summary")
    task = dask.delayed(combine, pure=True)
    while len(level) > 1:
        level = [
            task(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
            for i in range(0, len(level), 2)
        ]
    return level[0]


# ---------------------------------------------------------------------------- per partition
def _pool_of(
    customers: Any, touchpoints: Any, changes: Any, spec: Mapping[str, Any]
) -> tuple[Pool, list[IngestReport]]:
    from privdomain.frames import pool_from_frames

    return pool_from_frames(
        customers.reset_index(drop=True),
        touchpoints.reset_index(drop=True),
        None if changes is None else changes.reset_index(drop=True),
        tenant=spec["tenant"],
        currency=spec["currency"],
        utc_offset=spec["utc_offset"],
        customer_columns=spec["customers"],
        touchpoint_columns=spec["touchpoints"],
        profile_change_columns=spec["profile_changes"],
    )


def _first(pair: tuple[Any, Any]) -> Any:
    return pair[0]


def _second(pair: tuple[Any, Any]) -> Any:
    return pair[1]


def _snapshot(pool: Pool, as_of: Any) -> Snapshot:
    return pool.snapshot(as_of)


def _code_names(snapshot: Snapshot) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return snapshot.agent_names, snapshot.time_zones


def _lookup(local: Sequence[str], shared: Sequence[str]) -> NDArray[np.int32]:
    """Local code -> shared code, with a last slot -1 so that code -1 stays -1."""
    where = {name: i for i, name in enumerate(shared)}
    return np.asarray([where[name] for name in local] + [-1], dtype=np.int32)


#: ``Snapshot.index`` on a cluster: the partition in the bits from here up, the customer's
#: index in the partition's pool below, so that it stays unique and stable from date to date.
INDEX_BITS = 40


def _recoded(
    snapshot: Snapshot, partition: int, agents: tuple[str, ...], zones: tuple[str, ...]
) -> Snapshot:
    import attrs

    index = _frozen(snapshot.index + (np.int64(partition) << np.int64(INDEX_BITS)))
    agent = _lookup(snapshot.agent_names, agents)
    zone = _lookup(snapshot.time_zones, zones)
    return attrs.evolve(
        snapshot,
        index=index,
        agent=_frozen(agent[snapshot.agent]),
        agent_names=agents,
        time_zone=_frozen(zone[snapshot.time_zone]),
        time_zones=zones,
        order_log=attrs.evolve(snapshot.order_log, agent=_frozen(agent[snapshot.order_log.agent])),
        invitations=attrs.evolve(
            snapshot.invitations, agent=_frozen(agent[snapshot.invitations.agent])
        ),
    )


def _frozen(values: NDArray[Any]) -> NDArray[Any]:
    values.flags.writeable = False
    return values


def _summarize(strategy: Any, snapshot: Snapshot) -> Any:
    return strategy.summarize(snapshot)


def _call(strategy: Any, method: str, snapshot: Snapshot, kwargs: Mapping[str, Any]) -> Any:
    return getattr(strategy, method)(snapshot, **kwargs)


def _frame_of(result: Any, backend: str) -> Any:
    from privdomain.frames import to_frame

    return to_frame(result, backend)


class PartitionedPool:
    """One :class:`~privdomain.Pool` per partition of customers, held by the Dask workers.

    Build one with :meth:`from_frames`; take snapshots with :meth:`snapshot`.

    Attributes
    ----------
    partitions : list of dask.delayed.Delayed
        The pools (persisted: each stays on the worker that built it).
    """

    def __init__(self, partitions: Sequence[Any], reports: Sequence[Any]) -> None:
        self.partitions = list(partitions)
        self._reports = list(reports)

    def __len__(self) -> int:
        return len(self.partitions)

    @classmethod
    def from_frames(
        cls,
        customers: Any,
        touchpoints: Any,
        *,
        tenant: str,
        currency: str = "CNY",
        utc_offset: dt.timedelta = dt.timedelta(hours=8),
        profile_changes: Any = None,
        npartitions: int | None = None,
        customer_columns: Mapping[str, Any] | None = None,
        touchpoint_columns: Mapping[str, Any] | None = None,
        profile_change_columns: Mapping[str, Any] | None = None,
    ) -> PartitionedPool:
        """Pools from Dask DataFrames of customers and touchpoints (and profile changes).

        Parameters
        ----------
        customers, touchpoints
            Dask DataFrames. With ``npartitions``, they are first shuffled by
            :func:`partition_by_customer`; without, they must already be partitioned by
            customer alike (partition ``i`` of each holds the same customers, whole referral
            groups together), as :func:`partition_by_customer` leaves them.
        profile_changes
            A Dask DataFrame partitioned alike, optional.
        tenant
            As :class:`~privdomain.Pool` takes it.
        currency
            As :class:`~privdomain.Pool` takes it.
        utc_offset
            As :class:`~privdomain.Pool` takes it.
        npartitions
            Shuffle into this many partitions first.
        customer_columns, touchpoint_columns, profile_change_columns
            Keyword arguments of :func:`~privdomain.frames.customers_from_frame`,
            :func:`~privdomain.frames.touchpoints_from_frame` and
            :func:`~privdomain.frames.profile_changes_from_frame` (the column names).

        Raises
        ------
        ValidationError
            When the frames have different numbers of partitions.
        """
        dask = _dask()
        spec: dict[str, Any] = {
            "tenant": tenant,
            "currency": currency,
            "utc_offset": utc_offset,
            "customers": dict(customer_columns or {}),
            "touchpoints": dict(touchpoint_columns or {}),
            "profile_changes": dict(profile_change_columns or {}),
        }
        if npartitions is not None:
            keys = {
                "customer_id": spec["customers"].get("id", "customer_id"),
                "referrer_id": spec["customers"].get("referrer_id"),
                "touchpoint_customer_id": spec["touchpoints"].get("customer_id", "customer_id"),
                "related_customer_id": spec["touchpoints"].get("related_customer_id"),
                "change_customer_id": spec["profile_changes"].get("customer_id", "customer_id"),
            }
            shuffled = partition_by_customer(
                customers, touchpoints, npartitions, profile_changes=profile_changes, **keys
            )
            customers, touchpoints = shuffled[0], shuffled[1]
            profile_changes = shuffled[2] if profile_changes is not None else None
        frames = [customers, touchpoints] + (
            [profile_changes] if profile_changes is not None else []
        )
        counts = {f.npartitions for f in frames}
        if len(counts) != 1:
            raise ValidationError(
                "customers, touchpoints and profile changes must have as many partitions "
                f"(partitioned by customer alike), got {sorted(counts)}; pass npartitions= to "
                "shuffle them"
            )
        c_parts = customers.to_delayed()
        t_parts = touchpoints.to_delayed()
        p_parts = (
            profile_changes.to_delayed() if profile_changes is not None else [None] * len(c_parts)
        )
        build = dask.delayed(_pool_of, pure=True, nout=None)
        built = [build(c, t, p, spec) for c, t, p in zip(c_parts, t_parts, p_parts, strict=True)]
        built = list(dask.persist(*built))
        pools = [dask.delayed(_first, pure=True)(b) for b in built]
        reports = [dask.delayed(_second, pure=True)(b) for b in built]
        return cls(list(dask.persist(*pools)), reports)

    def reports(self) -> list[list[IngestReport]]:
        """The ingest reports of every partition (customers, touchpoints[, changes]): rows a
        pool rejected are reported there, as on one machine, never dropped silently."""
        dask = _dask()
        return [list(r) for r in dask.compute(*self._reports)]

    def snapshot(self, as_of: Any) -> PartitionedSnapshot:
        """Every partition's snapshot as of one instant, persisted on the workers.

        Each pool numbers agents and time zones in the order it met them; the snapshots are
        renumbered to one dictionary of all partitions (sorted names), so that codes mean the
        same in every partition and the partitions join with ``Snapshot.concat``. A
        customer's ``index`` becomes ``partition << INDEX_BITS | index in the partition's
        pool``: unique over the partitions, and the same in snapshots of later dates.
        """
        dask = _dask()
        task = dask.delayed(_snapshot, pure=True)
        local = list(dask.persist(*[task(p, as_of) for p in self.partitions]))
        names = dask.compute(*[dask.delayed(_code_names, pure=True)(s) for s in local])
        agents = tuple(sorted({a for pair in names for a in pair[0]}))
        zones = tuple(sorted({z for pair in names for z in pair[1]}))
        recode = dask.delayed(_recoded, pure=True)
        parts = [recode(s, i, agents, zones) for i, s in enumerate(local)]
        return PartitionedSnapshot(list(dask.persist(*parts)))


class PartitionedSnapshot:
    """The snapshots of every partition as of one instant, held by the Dask workers.

    Attributes
    ----------
    partitions : list of dask.delayed.Delayed
        One :class:`~privdomain.Snapshot` per partition, in partition order.
    """

    def __init__(self, partitions: Sequence[Any]) -> None:
        if not partitions:
            raise ValidationError("a partitioned snapshot needs at least one partition")
        self.partitions = list(partitions)

    def sizes(self) -> list[int]:
        """How many customers each partition holds."""
        dask = _dask()
        return [int(n) for n in dask.compute(*[dask.delayed(len)(p) for p in self.partitions])]

    def summarize(self, strategy: Any) -> Any:
        """The strategy's summaries of every partition, merged as a tree: one delayed summary."""
        dask = _dask()
        if not callable(getattr(strategy, "summarize", None)):
            raise ValidationError(
                f"{type(strategy).__name__} has no summarize(): only strategies of the contract "
                "(summarize, merge, fit_summary) fit partition by partition"
            )
        task = dask.delayed(_summarize, pure=True)
        return tree_merge([task(strategy, p) for p in self.partitions])

    def fit(self, strategy: Any) -> Any:
        """Fit ``strategy`` on every partition: summaries merged as a tree, one
        ``fit_summary`` here. Returns the strategy (fitted), as ``fit`` does."""
        summary = self.summarize(strategy).compute()
        return strategy.fit_summary(summary)

    def apply(self, strategy: Any, method: str = "apply", **kwargs: Any) -> PartitionedResult:
        """``getattr(strategy, method)(snapshot, **kwargs)`` on every partition.

        A keyword argument that is a :class:`PartitionedResult` (or a list of them) is handed
        to each partition as that partition's result: ``stages=`` and ``layers=`` of
        :meth:`privdomain.nudges.Nudges.plan`. Anything else goes to every partition as is.

        Raises
        ------
        ValidationError
            When the method would need the whole pool: a nudge ``budget``, or a per-period
            commission cap while agents earn commission.
        """
        dask = _dask()
        if not callable(getattr(strategy, method, None)):
            raise ValidationError(f"{type(strategy).__name__} has no method {method!r}")
        _refuse_global(strategy, method, kwargs)
        n = len(self.partitions)
        per_part: list[dict[str, Any]] = [{} for _ in range(n)]
        for name, value in kwargs.items():
            for i in range(n):
                per_part[i][name] = _part_of(value, i, n)
        task = dask.delayed(_call, pure=True)
        parts = [
            task(strategy, method, p, kw) for p, kw in zip(self.partitions, per_part, strict=True)
        ]
        return PartitionedResult(list(dask.persist(*parts)))

    def compute(self) -> Snapshot:
        """All partitions in one snapshot on the client (for pools that fit in memory)."""
        from privdomain.domain.snapshot import Snapshot

        dask = _dask()
        return Snapshot.concat(list(dask.compute(*self.partitions)))


def _part_of(value: Any, i: int, n: int) -> Any:
    if isinstance(value, PartitionedResult):
        if len(value.partitions) != n:
            raise ValidationError(
                f"a partitioned result of {len(value.partitions)} partitions cannot go with a "
                f"snapshot of {n}"
            )
        return value.partitions[i]
    if isinstance(value, list | tuple) and any(isinstance(v, PartitionedResult) for v in value):
        return [_part_of(v, i, n) for v in value]
    return value


def _refuse_global(strategy: Any, method: str, kwargs: Mapping[str, Any]) -> None:
    if method == "plan" and kwargs.get("budget") is not None:
        raise ValidationError(
            "a nudge budget goes to the highest scores of the whole pool, which no partition "
            "knows: plan without a budget partition by partition, then keep the top scores of "
            "the joined plan"
        )
    rule = getattr(strategy, "rule", None)
    if method == "attribute" and getattr(rule, "per_period_cap", None) is not None:
        weights = getattr(rule, "weights", (0, 0, 0))
        if len(weights) > 2 and weights[2] > 0:
            raise ValidationError(
                "a per-period commission cap counts an agent's orders in every partition: "
                "attribute with an agent rate and a per-period cap on one machine"
            )


class PartitionedResult:
    """A strategy's result per partition, held by the Dask workers.

    Attributes
    ----------
    partitions : list of dask.delayed.Delayed
        One result per partition, in partition order.
    """

    def __init__(self, partitions: Sequence[Any]) -> None:
        self.partitions = list(partitions)

    def compute(self) -> Any:
        """One result of every customer, the partitions' results joined in partition order
        (``concat`` of the result type; for results that fit in memory)."""
        dask = _dask()
        parts = list(dask.compute(*self.partitions))
        concat = getattr(type(parts[0]), "concat", None)
        if concat is None:
            raise ValidationError(
                f"{type(parts[0]).__name__} has no concat: use parts() or to_dask_frame()"
            )
        return concat(parts)

    def parts(self) -> list[Any]:
        """Every partition's result, on the client."""
        dask = _dask()
        return list(dask.compute(*self.partitions))

    def to_dask_frame(self) -> Any:
        """A Dask DataFrame of the results' columns (pandas partitions), one partition per
        partition: for results too large for the client, written out with ``to_parquet``."""
        dask = _dask()
        dd = _dd()
        task = dask.delayed(_frame_of, pure=True)
        frames = [task(p, "pandas") for p in self.partitions]
        return dd.from_delayed(frames, verify_meta=False)


# ---------------------------------------------------------------------------- out of core
class Earlier:
    """A keyword argument of a :class:`Step`: the result of an earlier step, of the same
    partition (``stages=Earlier("stages")`` for :meth:`privdomain.nudges.Nudges.plan`).

    Parameters
    ----------
    name
        The name of the earlier step.
    """

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValidationError(f"Earlier needs the name of a step, got {short_repr(name)}")
        self.name = name

    def __repr__(self) -> str:
        return f"Earlier({self.name!r})"


class Step:
    """One step of :meth:`OutOfCorePool.apply`: ``getattr(strategy, method)(snapshot,
    **kwargs)`` on every partition's snapshot, its result written out under ``name``.

    Parameters
    ----------
    name
        The name of the result (a folder of Parquet files, or a key of the returned frames).
    strategy
        A strategy (fitted, if it learns: see :meth:`OutOfCorePool.fit`).
    method
        The method to call: ``"apply"`` (default), ``"plan"``, ``"attribute"``...
    **kwargs
        Its keyword arguments; an :class:`Earlier` (or a list of them) stands for the result of
        an earlier step on the same partition.

    Raises
    ------
    ValidationError
        When the name is empty, the strategy has no such method, or the call would need the
        whole pool (a nudge ``budget``, a per-period commission cap while agents earn
        commission).
    """

    def __init__(self, name: str, strategy: Any, method: str = "apply", **kwargs: Any) -> None:
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            raise ValidationError(f"a step needs a plain name, got {short_repr(name)}")
        if not isinstance(method, str) or not callable(getattr(strategy, method, None)):
            raise ValidationError(f"{type(strategy).__name__} has no method {method!r}")
        _refuse_global(strategy, method, kwargs)
        self.name = name
        self.strategy = strategy
        self.method = method
        self.kwargs = dict(kwargs)

    def needs(self) -> list[str]:
        """The names of the earlier steps this one reads."""
        found: list[str] = []
        for value in self.kwargs.values():
            values = value if isinstance(value, list | tuple) else [value]
            found += [v.name for v in values if isinstance(v, Earlier)]
        return found


def _resolve(value: Any, done: Mapping[str, Any]) -> Any:
    if isinstance(value, Earlier):
        return done[value.name]
    if isinstance(value, list | tuple) and any(isinstance(v, Earlier) for v in value):
        return [_resolve(v, done) for v in value]
    return value


def _read(source: Any) -> Any:
    """A partition's frame: as it is, or read from a Parquet file (host side: the adapter)."""
    if source is None or not isinstance(source, str):
        return source
    frame = _pd().read_parquet(source)
    return _plain_categoricals(frame)


def _stray_links(customers: Any, touchpoints: Any, spec: Mapping[str, Any]) -> int:
    """How many referrers or related customers of a partition's rows are not its customers."""
    pd = _pd()
    ids = pd.Index(customers[spec["customers"].get("id", "customer_id")].to_numpy(dtype=object))
    stray = 0
    referrer = spec["customers"].get("referrer_id")
    if referrer is not None:
        named = customers[referrer].dropna().to_numpy(dtype=object)
        stray += int((ids.get_indexer(named) < 0).sum())
    related = spec["touchpoints"].get("related_customer_id")
    if related is not None:
        named = touchpoints[related].dropna().to_numpy(dtype=object)
        stray += int((ids.get_indexer(named) < 0).sum())
    return stray


def _built_snapshot(
    customers: Any, touchpoints: Any, changes: Any, spec: Mapping[str, Any], as_of: Any
) -> tuple[Snapshot, list[IngestReport], int]:
    customers, touchpoints, changes = _read(customers), _read(touchpoints), _read(changes)
    stray = _stray_links(customers, touchpoints, spec)
    pool, reports = _pool_of(customers, touchpoints, changes, spec)
    del customers, touchpoints, changes
    return pool.snapshot(as_of), reports, stray


def _first_pass(
    customers: Any,
    touchpoints: Any,
    changes: Any,
    spec: Mapping[str, Any],
    as_of: Any,
    strategies: Sequence[Any],
    spill: str | None,
) -> dict[str, Any]:
    """Pass 1 on one partition: pool, snapshot, the strategies' summaries; nothing kept (but
    the snapshot written to ``spill`` when given)."""
    snapshot, reports, stray = _built_snapshot(customers, touchpoints, changes, spec, as_of)
    summaries = [strategy.summarize(snapshot) for strategy in strategies]
    if spill is not None:
        import pickle

        with open(spill, "wb") as file:
            pickle.dump(snapshot, file, protocol=5)
    return {
        "agents": set(snapshot.agent_names),
        "zones": set(snapshot.time_zones),
        "summaries": summaries,
        "reports": [list(reports)],
        "sizes": [len(snapshot)],
        "stray": [stray],
    }


def _merge_passes(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "agents": a["agents"] | b["agents"],
        "zones": a["zones"] | b["zones"],
        "summaries": [x.merge(y) for x, y in zip(a["summaries"], b["summaries"], strict=True)],
        "reports": a["reports"] + b["reports"],
        "sizes": a["sizes"] + b["sizes"],
        "stray": a["stray"] + b["stray"],
    }


def _second_pass(
    customers: Any,
    touchpoints: Any,
    changes: Any,
    spec: Mapping[str, Any],
    as_of: Any,
    partition: int,
    codes: tuple[tuple[str, ...], tuple[str, ...]],
    steps: Sequence[Step],
    spilled: str | None,
    out: str | None,
) -> dict[str, Any]:
    """Pass 2 on one partition: its snapshot (rebuilt, or read back from the spill), every
    step, every result as a pandas frame (written to ``out`` when given: then its length)."""
    from privdomain.frames import to_frame

    if spilled is not None:
        import pickle

        with open(spilled, "rb") as file:
            local: Snapshot = pickle.load(file)  # written by the first pass
    else:
        local = _built_snapshot(customers, touchpoints, changes, spec, as_of)[0]
    snapshot = _recoded(local, partition, codes[0], codes[1])
    del local
    done: dict[str, Any] = {}
    for step in steps:
        kwargs = {k: _resolve(v, done) for k, v in step.kwargs.items()}
        done[step.name] = getattr(step.strategy, step.method)(snapshot, **kwargs)
    frames = {name: to_frame(result, "pandas") for name, result in done.items()}
    del done, snapshot
    if out is None:
        return frames
    import os

    written: dict[str, Any] = {}
    for name, frame in frames.items():
        folder = os.path.join(out, name)
        os.makedirs(folder, exist_ok=True)
        frame.to_parquet(os.path.join(folder, f"part-{partition:05d}.parquet"), index=False)
        written[name] = len(frame)
    return written


def _unify_schemas(folder: str) -> None:
    """Give every Parquet file of ``folder`` one schema: a column that is empty or all null in
    a partition was written with Arrow's null type, which readers of the folder refuse to
    merge with the column's type in other partitions. Only the files that differ (usually the
    small ones) are read and written again."""
    pa = import_optional("pyarrow", extra="dask")
    pq = import_optional("pyarrow.parquet", extra="dask")

    files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".parquet"))
    schemas = [pq.read_schema(f) for f in files]
    if not schemas:
        return
    unified = pa.unify_schemas(schemas, promote_options="permissive")
    for file, schema in zip(files, schemas, strict=True):
        if not schema.equals(unified, check_metadata=False):
            table = pq.read_table(file).cast(unified)
            pq.write_table(table, file)


def _pick(frames: Mapping[str, Any], name: str) -> Any:
    return frames[name]


class OutOfCorePool:
    """A pool partitioned by customer that is never held in memory as a whole: strategies run
    in two passes over the partitions, each partition's pool built, used and freed in turn.

    1. :meth:`fit`: every partition's pool and snapshot are built, the strategies' summaries
       taken and the pool and snapshot freed (or the snapshot written to the ``spill`` folder);
       the summaries are merged as a tree and fitted on the client.
    2. :meth:`apply`: every partition's snapshot is built again (or read back from the spill),
       the fitted steps (:class:`Step`) run on it, and the results written out partition by
       partition (Parquet files, or a Dask DataFrame per step).

    A worker holds one partition's pool and snapshot per thread at a time, so the pool may be
    many times the workers' memory: size the partitions, not the cluster. The answers are those
    of :class:`PartitionedPool` and of one machine (same partitions, same ``index``).

    Build one with :meth:`from_parquet` (files already partitioned by customer, the usual
    warehouse export) or :meth:`from_frames` (Dask DataFrames, shuffled by customer with
    ``npartitions``).

    Attributes
    ----------
    sizes : list of int
        The customers of every partition in the snapshot of the last :meth:`fit`.
    reports : list of list of IngestReport
        The ingest reports of every partition, from the last :meth:`fit`: rows a pool rejected
        are reported there, never dropped silently.
    """

    def __init__(
        self,
        sources: Sequence[tuple[Any, Any, Any]],
        spec: Mapping[str, Any],
        *,
        spill: str | os.PathLike[str] | None = None,
        check_groups: bool = True,
    ) -> None:
        if not sources:
            raise ValidationError("an out-of-core pool needs at least one partition")
        self._sources = list(sources)
        self._spec = dict(spec)
        self._spill = None if spill is None else os.fspath(spill)
        if self._spill is not None and not os.path.isdir(self._spill):
            raise ValidationError(f"spill must be an existing folder, got {short_repr(spill)}")
        self._check = check_groups
        self._codes: dict[Any, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._spilled: dict[Any, list[str]] = {}
        self.sizes: list[int] = []
        self.reports: list[list[IngestReport]] = []

    def __len__(self) -> int:
        return len(self._sources)

    @classmethod
    def from_parquet(
        cls,
        customers: Sequence[str | os.PathLike[str]],
        touchpoints: Sequence[str | os.PathLike[str]],
        *,
        tenant: str,
        currency: str = "CNY",
        utc_offset: dt.timedelta = dt.timedelta(hours=8),
        profile_changes: Sequence[str | os.PathLike[str]] | None = None,
        customer_columns: Mapping[str, Any] | None = None,
        touchpoint_columns: Mapping[str, Any] | None = None,
        profile_change_columns: Mapping[str, Any] | None = None,
        spill: str | os.PathLike[str] | None = None,
        check_groups: bool = True,
    ) -> OutOfCorePool:
        """An out-of-core pool of Parquet files partitioned by customer: file ``i`` of each
        list holds the same customers (whole referral groups together), each file one
        partition, read by the task that uses it. No shuffle.

        Parameters
        ----------
        customers, touchpoints
            Paths of Parquet files, one per partition, in the same order.
        profile_changes
            Paths of Parquet files partitioned alike, optional.
        tenant : str
            As :class:`~privdomain.Pool` takes it.
        currency : str, default "CNY"
            As :class:`~privdomain.Pool` takes it.
        utc_offset : datetime.timedelta, default dt.timedelta(hours=8)
            As :class:`~privdomain.Pool` takes it.
        customer_columns, touchpoint_columns, profile_change_columns
            The column names, as :meth:`PartitionedPool.from_frames` takes them.
        spill
            An existing folder: :meth:`fit` writes every partition's snapshot there (pickled,
            one file per partition and date) and :meth:`apply` reads it back instead of
            building the pool again. The folder must be reachable by every worker.
        check_groups
            Refuse partitions in which a referrer or a related customer is not a customer of
            the partition (referral groups split across files would be answered differently).

        Raises
        ------
        ValidationError
            When the lists differ in length or are empty.
        """
        files = [list(customers), list(touchpoints)]
        if profile_changes is not None:
            files.append(list(profile_changes))
        if len({len(f) for f in files}) != 1:
            raise ValidationError(
                "customers, touchpoints and profile changes need one file per partition each, "
                f"got {[len(f) for f in files]}"
            )
        paths = [[os.fspath(p) for p in f] for f in files]
        if profile_changes is None:
            paths.append([None] * len(paths[0]))  # type: ignore[list-item]
        sources = list(zip(*paths, strict=True))
        return cls(
            sources,
            _spec(
                tenant,
                currency,
                utc_offset,
                customer_columns,
                touchpoint_columns,
                profile_change_columns,
            ),
            spill=spill,
            check_groups=check_groups,
        )

    @classmethod
    def from_frames(
        cls,
        customers: Any,
        touchpoints: Any,
        *,
        tenant: str,
        currency: str = "CNY",
        utc_offset: dt.timedelta = dt.timedelta(hours=8),
        profile_changes: Any = None,
        npartitions: int | None = None,
        customer_columns: Mapping[str, Any] | None = None,
        touchpoint_columns: Mapping[str, Any] | None = None,
        profile_change_columns: Mapping[str, Any] | None = None,
        spill: str | os.PathLike[str] | None = None,
        check_groups: bool = True,
    ) -> OutOfCorePool:
        """An out-of-core pool of Dask DataFrames, as :meth:`PartitionedPool.from_frames` takes
        them (with ``npartitions``: shuffled by :func:`partition_by_customer`).

        Nothing is persisted: every pass computes the frames' partitions again (reads them,
        and shuffles them when ``npartitions`` is given), unless ``spill`` keeps the
        snapshots of the first pass for the second. Write shuffled frames to Parquet once
        and use :meth:`from_parquet` when they are read many times.

        Raises
        ------
        ValidationError
            When the frames have different numbers of partitions.
        """
        spec = _spec(
            tenant,
            currency,
            utc_offset,
            customer_columns,
            touchpoint_columns,
            profile_change_columns,
        )
        if npartitions is not None:
            shuffled = partition_by_customer(
                customers,
                touchpoints,
                npartitions,
                profile_changes=profile_changes,
                **_keys(spec),
            )
            customers, touchpoints = shuffled[0], shuffled[1]
            profile_changes = shuffled[2] if profile_changes is not None else None
        frames = [customers, touchpoints] + (
            [profile_changes] if profile_changes is not None else []
        )
        counts = {f.npartitions for f in frames}
        if len(counts) != 1:
            raise ValidationError(
                "customers, touchpoints and profile changes must have as many partitions "
                f"(partitioned by customer alike), got {sorted(counts)}; pass npartitions= to "
                "shuffle them"
            )
        parts = [f.to_delayed() for f in frames]
        if profile_changes is None:
            parts.append([None] * len(parts[0]))
        return cls(list(zip(*parts, strict=True)), spec, spill=spill, check_groups=check_groups)

    def fit(self, as_of: Any, strategies: Sequence[Any]) -> list[Any]:
        """Pass 1: fit every strategy on the partitions' summaries, in one pass over them.

        Every partition's pool and snapshot as of ``as_of`` are built on a worker, each
        strategy's ``summarize`` taken, and both freed; the summaries are merged as a binary
        tree of tasks and each strategy's ``fit_summary`` called here. The agents and time
        zones of all partitions are kept for :meth:`apply` at the same ``as_of``.

        The summaries are taken of each partition's own snapshot, before its agent and time-zone
        codes are renumbered to those of all partitions (which only this pass finds) and its
        ``index`` moved to the partition's range: no summary of this library reads them; a
        strategy of the host's whose summary does would need a pass of its own.

        Returns
        -------
        list
            The strategies, fitted, in order (as their ``fit`` returns them).

        Raises
        ------
        ValidationError
            When a strategy has no ``summarize``, or (``check_groups``) a partition names a
            referrer or related customer it does not hold.
        """
        dask = _dask()
        strategies = list(strategies)
        for strategy in strategies:
            if not callable(getattr(strategy, "summarize", None)):
                raise ValidationError(
                    f"{type(strategy).__name__} has no summarize(): only strategies of the "
                    "contract (summarize, merge, fit_summary) fit out of core"
                )
        spills = self._spill_paths(as_of)
        task = dask.delayed(_first_pass, pure=False)
        passes = [
            task(c, t, p, self._spec, as_of, strategies, spill)
            for (c, t, p), spill in zip(self._sources, spills, strict=True)
        ]
        merged = tree_merge(passes, _merge_passes).compute()
        if self._check and any(merged["stray"]):
            bad = [i for i, n in enumerate(merged["stray"]) if n]
            raise ValidationError(
                f"{sum(merged['stray'])} referrers or related customers are not in their "
                f"customer's partition (partitions {short_repr(bad)}): keep every referral "
                "group in one partition (partition_by_customer, or the keys of "
                "referral_groups), or pass check_groups=False"
            )
        self._codes[as_of] = (tuple(sorted(merged["agents"])), tuple(sorted(merged["zones"])))
        self._spilled[as_of] = [s for s in spills if s is not None]
        self.sizes = [int(n) for n in merged["sizes"]]
        self.reports = merged["reports"]
        return [s.fit_summary(m) for s, m in zip(strategies, merged["summaries"], strict=True)]

    def _spill_paths(self, as_of: Any) -> list[str | None]:
        if self._spill is None:
            return [None] * len(self._sources)
        tag = _dask().base.tokenize(as_of)[:12]
        return [
            os.path.join(self._spill, f"snapshot-{tag}-{i:05d}.pkl")
            for i in range(len(self._sources))
        ]

    def apply(
        self,
        as_of: Any,
        steps: Sequence[Step],
        *,
        path: str | os.PathLike[str] | None = None,
    ) -> dict[str, Any]:
        """Pass 2: run ``steps`` on every partition's snapshot as of ``as_of``, in order.

        Parameters
        ----------
        as_of
            The instant of the snapshots; a first pass at this instant (:meth:`fit`, with no
            strategies if none learns) is run first when none was.
        steps
            The steps (:class:`Step`), in order; a step reads earlier ones through
            :class:`Earlier`.
        path
            A folder: every step's results are written to ``path/<step name>/part-<i>.parquet``
            partition by partition (the adapter writes, on the workers) and this returns the
            number of rows of each step. Without: one Dask DataFrame per step, lazily (compute
            them together, ``dask.compute(*frames.values())``, to run the pass once).

        Raises
        ------
        ValidationError
            When steps repeat a name or read a step that does not come before them.
        """
        dask = _dask()
        steps = list(steps)
        seen: set[str] = set()
        for step in steps:
            if not isinstance(step, Step):
                raise ValidationError(f"steps must be Step objects, got {short_repr(step)}")
            if step.name in seen:
                raise ValidationError(f"two steps are named {step.name!r}")
            missing = [n for n in step.needs() if n not in seen]
            if missing:
                raise ValidationError(f"step {step.name!r} reads {missing} before they are run")
            seen.add(step.name)
        if not steps:
            raise ValidationError("apply needs at least one step")
        if as_of not in self._codes:
            self.fit(as_of, [])
        codes = self._codes[as_of]
        spilled: list[str | None] = [None] * len(self)
        if self._spilled.get(as_of):
            spilled = list(self._spilled[as_of])
        out = None if path is None else os.fspath(path)
        task = dask.delayed(_second_pass, pure=False)
        parts = [
            task(c, t, p, self._spec, as_of, i, codes, steps, spill, out)
            for i, ((c, t, p), spill) in enumerate(zip(self._sources, spilled, strict=True))
        ]
        if out is not None:
            os.makedirs(out, exist_ok=True)
            counts = dask.compute(*parts)
            for step in steps:
                _unify_schemas(os.path.join(out, step.name))
            return {s.name: sum(int(c[s.name]) for c in counts) for s in steps}
        dd = _dd()
        pick = dask.delayed(_pick, pure=True)
        return {
            s.name: dd.from_delayed([pick(p, s.name) for p in parts], verify_meta=False)
            for s in steps
        }


def _spec(
    tenant: str,
    currency: str,
    utc_offset: dt.timedelta,
    customer_columns: Mapping[str, Any] | None,
    touchpoint_columns: Mapping[str, Any] | None,
    profile_change_columns: Mapping[str, Any] | None,
) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "currency": currency,
        "utc_offset": utc_offset,
        "customers": dict(customer_columns or {}),
        "touchpoints": dict(touchpoint_columns or {}),
        "profile_changes": dict(profile_change_columns or {}),
    }


def _keys(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "customer_id": spec["customers"].get("id", "customer_id"),
        "referrer_id": spec["customers"].get("referrer_id"),
        "touchpoint_customer_id": spec["touchpoints"].get("customer_id", "customer_id"),
        "related_customer_id": spec["touchpoints"].get("related_customer_id"),
        "change_customer_id": spec["profile_changes"].get("customer_id", "customer_id"),
    }
