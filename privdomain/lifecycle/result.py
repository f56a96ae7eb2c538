"""The stages of every customer as of one snapshot: one :class:`Segmentation` per ladder."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain._optional import import_optional
from privdomain.domain.segment import short_repr
from privdomain.errors import UnknownCustomerError, ValidationError
from privdomain.layering._result import Segmentation
from privdomain.lifecycle.ladders import RelationshipLadder
from privdomain.result import Result, readonly, row_numbers

__all__ = ["LADDERS", "LifecycleStages"]

#: The ladders whose stages are stored and compared between runs, in the order their stage
#: names are joined in a stored stage key (``"growth/active/third_purchase"``).
LADDERS: tuple[str, ...] = ("relationship", "post_purchase", "milestone")
#: What joins the stages of several ladders in one stored value.
KEY_SEPARATOR = "/"
_ALL: tuple[str, ...] = (*LADDERS, "progress")


def check_ladders(value: Any) -> tuple[str, ...]:
    """``value`` as a non-empty tuple of distinct ladder names, in :data:`LADDERS` order."""
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, Iterable):
        raise ValidationError(
            f"ladders must be names from {list(LADDERS)}, got {short_repr(value)}"
        )
    names = tuple(value)
    unknown = [n for n in names if n not in LADDERS]
    if unknown or not names or len(set(names)) != len(names):
        raise ValidationError(
            f"ladders must be distinct names from {list(LADDERS)}, got {short_repr(names)}"
        )
    return tuple(n for n in LADDERS if n in names)


@attrs.frozen(eq=False, repr=False)
class LifecycleStages(Result):
    """Every customer's stage on each ladder as of one snapshot, aligned to its rows.

    Each ladder is a :class:`~privdomain.layering.Segmentation` (counts, masks, members, rules
    over the numbers that decided, ``explain``); :meth:`explain` tells all of them at once.

    Attributes
    ----------
    as_of : datetime.datetime
        The snapshot's instant.
    tenant : str
    customer_ids : numpy.ndarray of object
        The customers, in the snapshot's row order.
    index : numpy.ndarray of int64
        The customers' indices in the pool (what lines up results of two dates).
    last_purchase : numpy.ndarray of datetime64[us]
        Each customer's last purchase (NaT if none): when a purchase moved them.
    relationship, post_purchase, milestone, progress : Segmentation
        The relationship stage, the post-purchase period, the last purchase milestone
        reached, and progress towards the next milestone (on track or stuck).
    thresholds : tuple of float
        The post-purchase cut points the stages were decided with.
    method : {"cadence", "p_alive"}
        How the post-purchase period was decided.
    relationship_settings : RelationshipLadder
        The relationship ladder's settings.
    notes : tuple of str
        What was learned, and outcomes worth knowing (one-time buyers, units).
    """

    as_of: dt.datetime
    tenant: str
    customer_ids: NDArray[np.object_] = attrs.field(converter=readonly)
    index: NDArray[np.int64] = attrs.field(converter=readonly)
    last_purchase: NDArray[np.datetime64] = attrs.field(converter=readonly)
    relationship: Segmentation
    post_purchase: Segmentation
    milestone: Segmentation
    progress: Segmentation
    thresholds: tuple[float, ...]
    method: str
    relationship_settings: RelationshipLadder
    notes: tuple[str, ...] = ()
    _rows: dict[str, int] | None = attrs.field(default=None, init=False)

    _row_fields: ClassVar[tuple[str, ...]] = ("customer_ids", "index", "last_purchase")

    def __attrs_post_init__(self) -> None:
        n = self.customer_ids.shape[0]
        for name in _ALL:
            if len(self.ladder(name)) != n:
                raise ValidationError(
                    f"the {name} ladder has {len(self.ladder(name))} rows, not {n}"
                )

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return int(self.customer_ids.shape[0])

    def ladder(self, name: str) -> Segmentation:
        """The segmentation of one ladder (``"relationship"``, ``"post_purchase"``,
        ``"milestone"``) or of ``"progress"``."""
        if name not in _ALL:
            raise ValidationError(
                f"no ladder {short_repr(name)}; ladders are {[*LADDERS, 'progress']}"
            )
        seg: Segmentation = getattr(self, name)
        return seg

    def stages(self, ladder: str) -> NDArray[np.object_]:
        """Each customer's stage name on ``ladder``."""
        return self.ladder(ladder).segment_names

    def counts(self) -> dict[str, dict[str, int]]:
        """Customers per stage, per ladder (every stage, empty ones included)."""
        return {name: self.ladder(name).counts() for name in _ALL}

    def row_index(self) -> dict[str, int]:
        """``{customer_id: row}`` of every customer (built once, then shared: do not change
        it)."""
        rows = self._rows
        if rows is None:
            rows = dict(zip(self.customer_ids.tolist(), range(len(self)), strict=True))
            object.__setattr__(self, "_rows", rows)
        return rows

    def row(self, customer_id: str) -> int:
        """The row of ``customer_id`` (a dictionary lookup, built once)."""
        rows = self.row_index()
        try:
            return rows[customer_id]
        except (KeyError, TypeError):
            raise UnknownCustomerError(
                f"{customer_id!r} is not among these stages (as of {self.as_of.isoformat()})"
            ) from None

    def stage_of(self, customer_id: str) -> dict[str, str]:
        """One customer's stage on every ladder, and their progress."""
        i = self.row(customer_id)
        return {name: self.ladder(name).names[int(self.ladder(name).labels[i])] for name in _ALL}

    def explain(self, customer_id: str) -> str:
        """Every ladder's stage of ``customer_id`` and why, with the numbers."""
        i = self.row(customer_id)
        head = f"customer {customer_id!r} as of {self.as_of.isoformat()}:"
        parts = [head]
        for name in _ALL:
            seg = self.ladder(name)
            stage = seg.names[int(seg.labels[i])]
            parts.append(f"[{name}] {stage!r} ({seg.strategy})")
            # the segmentation's own explanation, after its first line (which names the stage)
            parts += seg.explain(str(self.customer_ids[i])).split("\n")[1:]
        parts += [f"note: {note}" for note in self.notes]
        return "\n".join(parts)

    # ------------------------------------------------------------------ store
    def stage_keys(self, ladders: Any = LADDERS) -> NDArray[np.object_]:
        """Each customer's stages on ``ladders`` joined by ``"/"``: what a
        :class:`~privdomain.ports.StageStore` keeps (``"growth/active/third_purchase"``)."""
        names = check_ladders(ladders)
        if len(names) == 1:
            return self.stages(names[0])
        # one key per combination of codes, built once: few combinations, many customers
        codes = np.zeros(len(self), dtype=np.int64)
        sizes = [len(self.ladder(n).names) for n in names]
        for n, size in zip(names, sizes, strict=True):
            codes = codes * size + self.ladder(n).labels
        grid = np.array(
            [
                KEY_SEPARATOR.join(parts)
                for parts in _product([self.ladder(n).names for n in names])
            ],
            dtype=object,
        )
        out: NDArray[np.object_] = grid[codes]
        return out

    def store_values(self, ladders: Any = LADDERS) -> dict[str, str]:
        """``{customer_id: stage key}`` for :meth:`StageStore.put_stages`."""
        return dict(zip(self.customer_ids.tolist(), self.stage_keys(ladders).tolist(), strict=True))

    def record(self, store: Any, ladders: Any = LADDERS) -> None:
        """Store every customer's stage key as of :attr:`as_of` in ``store`` (a
        :class:`~privdomain.ports.StageStore`), for the next run's :func:`transitions`."""
        put = getattr(store, "put_stages", None)
        if not callable(put):
            raise ValidationError(f"store must be a StageStore, got {type(store).__name__}")
        put(self.store_values(ladders), self.as_of)

    # ------------------------------------------------------------------ partitions
    def take(self, rows: Any) -> LifecycleStages:
        """The stages of the customers at ``rows`` (a boolean mask, row numbers or a slice),
        in that order: what :meth:`Lifecycle.apply` gives for ``snapshot.take(rows)``."""
        picked = row_numbers(rows, len(self))
        changes: dict[str, Any] = {n: self.ladder(n).take(picked) for n in _ALL}
        return attrs.evolve(
            self,
            customer_ids=self.customer_ids[picked],
            index=self.index[picked],
            last_purchase=self.last_purchase[picked],
            **changes,
        )

    @classmethod
    def concat(cls, parts: Iterable[LifecycleStages]) -> LifecycleStages:
        """The stages of several disjoint parts of one pool as of one instant, rows in order:
        what :meth:`Lifecycle.apply` gives for ``Snapshot.concat`` of their snapshots."""
        items = list(parts) if isinstance(parts, Iterable) else []
        if not items or not all(isinstance(p, LifecycleStages) for p in items):
            raise ValidationError("concat needs at least one LifecycleStages, and only those")
        first = items[0]
        for p in items[1:]:
            if (p.as_of, p.tenant, p.thresholds, p.method, p.relationship_settings) != (
                first.as_of,
                first.tenant,
                first.thresholds,
                first.method,
                first.relationship_settings,
            ):
                raise ValidationError(
                    "concat needs stages of one tenant as of one instant, decided alike"
                )
        changes: dict[str, Any] = {
            n: Segmentation.concat([p.ladder(n) for p in items]) for n in _ALL
        }
        return attrs.evolve(
            first,
            customer_ids=np.concatenate([p.customer_ids for p in items]),
            index=np.concatenate([p.index for p in items]),
            last_purchase=np.concatenate([p.last_purchase for p in items]),
            **changes,
        )

    # ------------------------------------------------------------------ export
    def columns(self) -> dict[str, NDArray[Any]]:
        """Per-customer columns: id, each ladder's stage, then the numbers behind them."""
        out: dict[str, NDArray[Any]] = {"customer_id": self.customer_ids}
        for name in _ALL:
            out[name] = self.stages(name)
        for name in _ALL:
            for column, values in self.ladder(name).columns().items():
                if column not in ("customer_id", "segment_code", "segment"):
                    out.setdefault(column, values)
        return out

    def to_frame(self) -> Any:
        """A pandas ``DataFrame`` indexed by ``customer_id`` (needs ``privdomain[pandas]``)."""
        pd = import_optional("pandas", extra="pandas")
        frame = super().to_frame()
        for name in _ALL:
            frame[name] = pd.Categorical(
                self.stages(name), categories=list(self.ladder(name).names)
            )
        return frame

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        lines = [
            f"LifecycleStages({len(self)} customers as of {self.as_of.isoformat()}, "
            f"post-purchase by {self.method})"
        ]
        total = max(len(self), 1)
        for name in _ALL:
            counts = self.ladder(name).counts()
            shown = ", ".join(f"{k} {v} ({v / total:.0%})" for k, v in counts.items())
            lines.append(f"  {name}: {shown}")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        total = max(len(self), 1)
        blocks = []
        for name in _ALL:
            rows = "".join(
                f"<tr><td>{html.escape(k)}</td><td>{v}</td><td>{v / total:.1%}</td></tr>"
                for k, v in self.ladder(name).counts().items()
            )
            blocks.append(
                f"<table><caption>{html.escape(name)}</caption><thead><tr><th>stage</th>"
                f"<th>customers</th><th>share</th></tr></thead><tbody>{rows}</tbody></table>"
            )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (
            f"<div><strong>LifecycleStages</strong> ({len(self)} customers as of "
            f"{html.escape(self.as_of.isoformat())}, post-purchase by {html.escape(self.method)})"
            + "".join(blocks)
            + (f"<ul>{notes}</ul>" if notes else "")
            + "</div>"
        )


def _product(lists: Sequence[Sequence[str]]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = [()]
    for names in lists:
        out = [(*prefix, name) for prefix in out for name in names]
    return out
