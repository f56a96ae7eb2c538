"""One ingest: validate and stage the records of a batch, then write what passed.

:class:`Ingest` holds the stores of one pool for the duration of one batch; every in-place
write it makes is logged on ``undo`` so that the pool can restore itself if the batch fails.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from privdomain.domain._checks import (
    first_text,
    lookup,
    normal_currency,
    on_or_into_cycle,
    scalar_values,
    valid_id,
    valid_ids,
)
from privdomain.domain._columns import Column
from privdomain.domain._customer_store import CustomerRegistry, consent_field
from privdomain.domain._event_store import EventStore, order_keys
from privdomain.domain._time import micros_to_datetime
from privdomain.domain.batch import (
    CustomerColumns,
    EncodedIds,
    IngestReport,
    Rejection,
    RejectReason,
    TouchpointColumns,
)
from privdomain.domain.changes import ProfileChanges
from privdomain.domain.channels import IS_MONETARY, OWNED_CHANNELS, Channel, TouchKind
from privdomain.domain.customer import MAX_ID_LENGTH

__all__ = ["NO_INSTANT", "Ingest"]

_REASONS = list(RejectReason)
_OK = 255  # reason code of a row that passed every check so far
_CODE = {reason: np.uint8(i) for i, reason in enumerate(_REASONS)}
NO_INSTANT = np.iinfo(np.int64).min  # "no instant given"
_NAT = NO_INSTANT
_NO_IDS: NDArray[np.object_] = np.empty(0, dtype=object)


class Ingest:
    """The validation and writes of one batch into a pool's stores."""

    def __init__(
        self,
        reg: CustomerRegistry,
        events: EventStore,
        *,
        tenant: str,
        currency: str,
        undo: list[tuple[Column[Any], Any, Any]],
    ) -> None:
        self.reg = reg
        self.events = events
        self.tenant = tenant
        self.currency = currency
        self.undo = undo

    # ------------------------------------------------------------------ profiles
    def _profile_values(
        self, cols: CustomerColumns, rows: NDArray[np.int64], *, intern: bool
    ) -> dict[str, NDArray[Any]]:
        """The profile that rows ``rows`` of ``cols`` give, field by field.

        Agents and stores are looked up (``intern=False``: an unknown one reads as -2, which
        differs from every current value) or interned (``intern=True``, to be written).
        """
        values: dict[str, NDArray[Any]] = {}
        consent = cols.consent[rows].astype(np.int64)
        for channel in OWNED_CHANNELS:
            values[consent_field(channel)] = (consent >> channel.value & 1).astype(bool)
        values["agent"] = self.reg.agents.codes(cols.agent_id[rows], intern=intern)
        zone = cols.time_zone
        if zone is not None:
            values["time_zone"] = self.reg.zones.codes(zone[rows], intern=intern)
        store = getattr(cols, "store_id", None)
        if store is not None:
            values["store"] = self.reg.stores.codes(store[rows], intern=intern)
        if cols.tags is not None:
            for name in set(cols.tags) | {f[4:] for f in self.reg.profile if f.startswith("tag:")}:
                given = cols.tags.get(name)
                values[f"tag:{name}"] = np.zeros(rows.size, bool) if given is None else given[rows]
        if cols.attributes is not None:
            for name in set(cols.attributes) | {
                f[5:] for f in self.reg.profile if f.startswith("attr:")
            }:
                column = cols.attributes.get(name)
                values[f"attr:{name}"] = (
                    np.full(rows.size, None, dtype=object) if column is None else column[rows]
                )
        return values

    def _update_profiles(
        self,
        index: NDArray[np.int64],
        at: NDArray[np.int64],
        values_of: Any,
        reject: Any,
    ) -> tuple[int, int]:
        """Apply profile records to existing customers ``index``, in rounds so that each round
        holds a customer at most once (the k-th record of every customer in round k).

        ``values_of(positions, intern)`` gives the fields of the records at ``positions``;
        ``at`` is each record's instant (``_NAT`` when the record gave none). Records that would
        change something without an instant, or before the customer's latest change, are
        rejected through ``reject(position, reason, text)``. Returns (updated, unchanged).
        """
        updated = unchanged = 0
        if index.size == 0:
            return 0, 0
        order = np.argsort(index, kind="stable")
        ordered = index[order]
        starts = np.ones(ordered.size, dtype=bool)
        starts[1:] = ordered[1:] != ordered[:-1]
        position = np.arange(ordered.size)
        first_of_group = np.maximum.accumulate(np.where(starts, position, 0))
        rank = np.empty(index.size, dtype=np.int64)
        rank[order] = position - first_of_group
        for r in range(int(rank.max()) + 1):
            pos = np.flatnonzero(rank == r)
            who = index[pos]
            when = at[pos]
            differ = self.reg.profile.differs(who, values_of(pos, False))
            latest = self.reg.profile.changed_at.values[who]
            undated = differ & (when == _NAT)
            early = differ & ~undated & (when < latest)
            for k in np.flatnonzero(undated).tolist():
                reject(
                    int(pos[k]),
                    RejectReason.INVALID,
                    "changes the customer's profile but gives no updated_at: say when the "
                    "change took effect",
                )
            for k in np.flatnonzero(early).tolist():
                reject(
                    int(pos[k]),
                    RejectReason.CONFLICT,
                    f"dated {micros_to_datetime(int(when[k])).isoformat()}, before the "
                    "customer's latest recorded change at "
                    f"{micros_to_datetime(int(latest[k])).isoformat()}",
                )
            write = np.flatnonzero(differ & ~undated & ~early)
            if write.size:
                self.reg.profile.write(
                    who[write], when[write], values_of(pos[write], True), self.undo
                )
            updated += int(write.size)
            unchanged += int((~differ).sum())
        return updated, unchanged

    # ------------------------------------------------------------------ customers
    def customers(self, cols: CustomerColumns) -> IngestReport:
        n = len(cols)
        ids = cols.id
        reasons: dict[int, tuple[RejectReason, str]] = {}

        def reject(i: int, why: RejectReason, text: str) -> None:
            reasons.setdefault(i, (why, text))

        def flag(mask: NDArray[np.bool_] | bool, why: RejectReason, text: str) -> None:
            for i in np.flatnonzero(np.broadcast_to(mask, (n,))).tolist():
                reject(i, why, text)

        flag(~valid_ids(ids), RejectReason.INVALID, "customer id must be a non-empty printable str")
        flag(
            np.asarray(cols.tenant != self.tenant),
            RejectReason.WRONG_TENANT,
            f"tenant is not this pool's tenant {self.tenant!r}",
        )
        flag(cols.source == 255, RejectReason.INVALID, "unknown source channel")
        has_referrer = cols.referrer_id != None  # noqa: E711 - elementwise on objects
        if has_referrer.any():
            bad = np.zeros(n, bool)
            bad[has_referrer] = ~valid_ids(cols.referrer_id[has_referrer])
            flag(bad, RejectReason.INVALID, "referrer id must be a non-empty printable str")
            flag(
                has_referrer & (cols.referrer_id == ids),
                RejectReason.INVALID,
                "a customer cannot be their own referrer",
            )
        for what in ("agent_id", "store_id"):
            column = getattr(cols, what, None)
            if column is None:
                continue
            given = column != None  # noqa: E711
            if given.any():
                bad = np.zeros(n, bool)
                bad[given] = ~valid_ids(column[given])
                flag(bad, RejectReason.INVALID, f"{what} must be a non-empty printable str")
        for name in cols.tags or {}:
            flag(np.array(not valid_id(name)), RejectReason.INVALID, f"tag {name!r} is not valid")
        for name, column in (cols.attributes or {}).items():
            flag(
                np.array(not valid_id(name)),
                RejectReason.INVALID,
                f"attribute name {name!r} is not valid",
            )
            flag(
                ~scalar_values(column),
                RejectReason.INVALID,
                f"attribute {name!r} must be str, int, float, bool or None",
            )
        updated_at = getattr(cols, "updated_at", None)
        if updated_at is None:
            updated_at = np.full(n, _NAT, dtype=np.int64)
        flag(
            (updated_at != _NAT) & (updated_at < cols.joined_at),
            RejectReason.INVALID,
            "updated_at is before joined_at",
        )

        usable = np.ones(n, bool)
        usable[list(reasons)] = False

        def first_rows() -> tuple[NDArray[Any], dict[Any, int], NDArray[np.int64]]:
            """Ids with unusable rows blanked, each id's first usable row, and per row the
            first row of its id (without repeats a plain dict(zip) says the same)."""
            if usable.all():
                hashable = ids
            else:
                hashable = ids.copy()
                hashable[~usable] = None  # invalid ids may not even be hashable
            table: dict[Any, int] = dict(zip(hashable.tolist(), range(n), strict=True))
            if len(table) == n:
                return hashable, table, np.arange(n)
            table = {}
            first = np.fromiter(
                map(table.setdefault, hashable.tolist(), itertools.count()), np.int64, n
            )
            return hashable, table, first

        hashable, table, first = first_rows()
        # A referrer neither in the pool nor anywhere in the batch is unknown whatever else
        # happens: refuse such rows now, so that a later record of the same customer is the
        # first of its id and the customer takes its place in order of arrival.
        named = np.flatnonzero(usable & (cols.referrer_id != None))  # noqa: E711
        if named.size:
            given = cols.referrer_id[named]
            unresolved = self.reg.lookup(given) < 0
            in_batch = np.fromiter(
                map(table.__contains__, given[unresolved].tolist()),
                dtype=bool,
                count=int(unresolved.sum()),
            )
            nowhere = named[unresolved][~in_batch]
            for i in nowhere.tolist():
                reject(
                    i,
                    RejectReason.UNKNOWN_REFERRER,
                    f"referrer {cols.referrer_id[i]!r} is neither in the pool "
                    "nor accepted in this batch",
                )
            if nowhere.size:
                usable[nowhere] = False
                hashable, table, first = first_rows()
        new = usable & (first == np.arange(n))
        if self.reg.index:
            new &= self.reg.lookup(hashable) < 0
        repeat_rows = np.flatnonzero(usable & ~new).tolist()
        referrers = cols.referrer_id.tolist()
        effective = np.where(updated_at == _NAT, cols.joined_at, updated_at)
        add = functools.partial(
            self._add_new_customers,
            cols,
            referrers=referrers,
            reject=reject,
            batch_index=table,
            effective=effective,
        )
        added = add(np.flatnonzero(new))
        # A repeat whose first row was rejected is, in order, the first of its id: add it.
        while True:
            orphans: dict[str, int] = {}
            for i in repeat_rows:
                if i not in reasons and ids[i] not in self.reg.index:
                    orphans.setdefault(ids[i], i)
            if not orphans:
                break
            repeat_rows = [i for i in repeat_rows if i not in orphans.values()]
            added += add(np.array(sorted(orphans.values()), dtype=np.int64))

        rows = np.array([i for i in repeat_rows if i not in reasons], dtype=np.int64)
        index = self.reg.lookup(ids[rows]) if rows.size else np.empty(0, np.int64)
        # the facts of a customer never change
        conflict = np.zeros(rows.size, dtype=np.int8)
        if rows.size:
            referrer = np.full(rows.size, -1, dtype=np.int64)
            named = np.flatnonzero(cols.referrer_id[rows] != None)  # noqa: E711
            referrer[named] = self.reg.lookup(cols.referrer_id[rows][named])
            referrer[named[referrer[named] < 0]] = -2
            checks = (
                (self.reg.joined.values[index] != cols.joined_at[rows], "joined_at", "join time"),
                (self.reg.source.values[index] != cols.source[rows], "source", "source"),
                (self.reg.referrer.values[index] != referrer, "referrer", "referrer"),
            )
            for k, (mask, _, _) in enumerate(checks, start=1):
                conflict[(conflict == 0) & mask] = k
            for j in np.flatnonzero(conflict).tolist():
                _, field, noun = checks[conflict[j] - 1]
                reject(
                    int(rows[j]),
                    RejectReason.CONFLICT,
                    f"{field} differs from the customer's recorded {noun}",
                )
        keep = conflict == 0
        rows, index = rows[keep], index[keep]

        def values_of(pos: NDArray[np.int64], intern: bool) -> dict[str, NDArray[Any]]:
            return self._profile_values(cols, rows[pos], intern=intern)

        updated, unchanged = self._update_profiles(
            index,
            updated_at[rows],
            values_of,
            lambda k, why, text: reject(int(rows[k]), why, text),
        )
        rejected = tuple(
            Rejection(record="customer", index=i, id=ids[i], reason=why, detail=text)
            for i, (why, text) in sorted(reasons.items())
        )
        return IngestReport(
            customers_added=added,
            customers_updated=updated,
            customers_unchanged=unchanged,
            rejected=rejected,
        )

    def changes(self, changes: ProfileChanges) -> IngestReport:
        n = len(changes)
        reasons: dict[int, tuple[RejectReason, str]] = {}

        def reject(i: int, why: RejectReason, text: str) -> None:
            reasons.setdefault(i, (why, text))

        ids = changes.customer_id.decode()
        wrong_tenant = np.asarray(changes.tenant != self.tenant)
        for i in np.flatnonzero(np.broadcast_to(wrong_tenant, (n,))).tolist():
            reject(
                i, RejectReason.WRONG_TENANT, f"tenant is not this pool's tenant {self.tenant!r}"
            )
        index = self.reg.resolve(changes.customer_id).astype(np.int64)
        for i in np.flatnonzero(index < 0).tolist():
            reject(i, RejectReason.UNKNOWN_CUSTOMER, f"customer {ids[i]!r} is not in the pool")
        known = np.flatnonzero(index >= 0)
        early = known[changes.at[known] < self.reg.joined.values[index[known]]]
        for i in early.tolist():
            reject(i, RejectReason.INVALID, "the change is dated before the customer joined")
        for what in ("agent_id", "store_id"):
            column = getattr(changes, what)
            if column is None:
                continue
            given = np.flatnonzero(column != None)  # noqa: E711
            for i in given[~valid_ids(column[given])].tolist():
                reject(i, RejectReason.INVALID, f"{what} must be a non-empty printable str")
        for name, column in changes.attributes.items():
            for i in np.flatnonzero(~scalar_values(column)).tolist():
                reject(
                    i,
                    RejectReason.INVALID,
                    f"attribute {name!r} must be str, int, float, bool or None",
                )
        rows = np.array([i for i in range(n) if i not in reasons], dtype=np.int64)

        def values_of(pos: NDArray[np.int64], intern: bool) -> dict[str, NDArray[Any]]:
            picked = rows[pos]
            values: dict[str, NDArray[Any]] = {
                consent_field(c): col[picked] for c, col in changes.consent.items()
            }
            if changes.agent_id is not None:
                values["agent"] = self.reg.agents.codes(changes.agent_id[picked], intern=intern)
            if changes.store_id is not None:
                values["store"] = self.reg.stores.codes(changes.store_id[picked], intern=intern)
            values.update({f"tag:{t}": col[picked] for t, col in changes.tags.items()})
            values.update({f"attr:{a}": col[picked] for a, col in changes.attributes.items()})
            return values

        updated, unchanged = self._update_profiles(
            index[rows],
            changes.at[rows],
            values_of,
            lambda k, why, text: reject(int(rows[k]), why, text),
        )
        rejected = tuple(
            Rejection(record="profile_change", index=i, id=ids[i], reason=why, detail=text)
            for i, (why, text) in sorted(reasons.items())
        )
        return IngestReport(
            customers_updated=updated, customers_unchanged=unchanged, rejected=rejected
        )

    def _add_new_customers(
        self,
        cols: CustomerColumns,
        rows: NDArray[np.int64],
        *,
        referrers: list[Any],
        reject: Any,
        batch_index: Mapping[Any, int],
        effective: NDArray[np.int64],
    ) -> int:
        """Append the customers at ``rows`` (new, distinct ids); returns how many were taken."""
        if rows.size == 0:
            return 0
        base = len(self.reg.ids)
        # referrer: an existing customer (its index) or a new one of this batch (base + position)
        ref_ids = cols.referrer_id[rows]
        has_ref = ref_ids != None  # noqa: E711
        ref = np.full(rows.size, -1, dtype=np.int64)
        pending = np.zeros(rows.size, bool)
        if has_ref.any():
            ref[has_ref] = self.reg.lookup(ref_ids[has_ref])
            unresolved = np.flatnonzero(has_ref & (ref < 0))
            if unresolved.size:
                # referrers new in this batch: their row, then their position among ``rows``
                position = np.full(len(cols) + 1, -1, dtype=np.int64)
                position[rows] = np.arange(rows.size)
                batch_row = lookup(batch_index, ref_ids[unresolved])
                k_of = position[batch_row]  # batch_row -1 picks the last slot: -1
                pending[unresolved[k_of < 0]] = True
                ref[unresolved[k_of >= 0]] = base + k_of[k_of >= 0]
        alive = ~pending
        # a referrer row that is rejected takes its referees with it (to a fixpoint)
        while pending.any() and (ref >= base).any():
            internal = ref >= base
            dead = internal & ~alive[np.clip(ref - base, 0, rows.size - 1)]
            newly = dead & alive
            if not newly.any():
                break
            alive &= ~newly
            pending |= newly
        for k in np.flatnonzero(pending).tolist():
            reject(
                int(rows[k]),
                RejectReason.UNKNOWN_REFERRER,
                f"referrer {referrers[int(rows[k])]!r} is neither in the pool "
                "nor accepted in this batch",
            )
        cyclic = on_or_into_cycle(np.where(ref >= base, ref - base, -1)) & alive
        for k in np.flatnonzero(cyclic).tolist():
            reject(
                int(rows[k]),
                RejectReason.REFERRAL_CYCLE,
                "the referrer chain loops back to this customer",
            )
        alive &= ~cyclic
        if not alive.all():
            # renumber: accepted rows get consecutive indices
            kept = np.flatnonzero(alive)
            new_pos = np.full(rows.size, -1, dtype=np.int64)
            new_pos[kept] = np.arange(kept.size)
            internal = ref >= base
            ref = np.where(internal, base + new_pos[np.clip(ref - base, 0, rows.size - 1)], ref)
            rows, ref = rows[kept], ref[kept]
        m = rows.size
        whole = base == 0 and m == len(cols) and len(batch_index) == m
        index = self.reg.add(
            cols.id[rows].tolist(),
            cols.joined_at[rows],
            cols.source[rows],
            ref,
            # a first batch taken whole, without repeats: its row index is the pool's index
            # (nothing else reads the batch index after this)
            index=batch_index if whole and isinstance(batch_index, dict) else None,
        )
        # the profile a new customer arrives with holds from when they joined (or updated_at)
        self.reg.profile.grow(m, effective[rows])
        self.reg.profile.write(
            index, effective[rows], self._profile_values(cols, rows, intern=True), self.undo
        )
        self.reg.resolve_referenced(cols.id[rows], index, self.undo)
        return m

    def touchpoints(
        self, cols: TouchpointColumns, customer_hint: NDArray[np.int64] | None = None
    ) -> IngestReport:
        """Validate and write touchpoint columns. ``customer_hint``, one per value of
        ``cols.customer_id.values``, is where each customer probably is in the pool (e.g. the
        snapshot rows of a plan's contacts): each hint is checked against the stored id, and
        only the ids it misses are looked up, so the outcome is the same as without it."""
        n = len(cols)
        reason = np.full(n, _OK, dtype=np.uint8)
        texts: dict[RejectReason, list[tuple[NDArray[np.bool_], str]]] = {}

        def flag(mask: NDArray[np.bool_] | bool, why: RejectReason, text: str) -> None:
            # the first failing check of a row is its reason
            hit = np.asarray(mask) & (reason == _OK)
            if hit.any():
                reason[hit] = _CODE[why]
                texts.setdefault(why, []).append((hit, text))

        int_ids = cols.id.dtype.kind in "iu"
        if not int_ids:
            flag(
                ~valid_ids(cols.id),
                RejectReason.INVALID,
                f"touchpoint id must be a non-empty printable str of at most {MAX_ID_LENGTH} chars",
            )
        if isinstance(cols.tenant, str):
            flag(
                cols.tenant != self.tenant,
                RejectReason.WRONG_TENANT,
                f"tenant {cols.tenant!r} is not this pool's tenant {self.tenant!r}",
            )
        else:
            flag(
                cols.tenant != self.tenant,
                RejectReason.WRONG_TENANT,
                f"tenant is not this pool's tenant {self.tenant!r}",
            )
        flag(
            cols.channel == 255,
            RejectReason.INVALID,
            "unknown channel; the channels are "
            + ", ".join(c.name.lower() for c in Channel if c is not Channel.REFERRAL),
        )
        flag(
            cols.channel == Channel.REFERRAL.value,
            RejectReason.INVALID,
            "REFERRAL is a source of customers, not a channel to touch them on",
        )
        flag(
            cols.kind == 255,
            RejectReason.INVALID,
            "unknown touch kind; the kinds are " + ", ".join(k.name.lower() for k in TouchKind),
        )
        monetary = (cols.kind == TouchKind.PURCHASED.value) | (
            cols.kind == TouchKind.REFUNDED.value
        )
        flag(
            monetary & (cols.amount_state != 1),
            RejectReason.INVALID_AMOUNT,
            "purchases and refunds need a finite, non-negative amount",
        )
        flag(
            ~monetary & (cols.amount_state != 0),
            RejectReason.INVALID,
            "only purchases and refunds carry an amount",
        )
        flag(
            cols.discount_minor < 0,
            RejectReason.INVALID_AMOUNT,
            "discount must be finite and non-negative",
        )
        flag(
            (cols.discount_minor > 0) & (cols.kind != TouchKind.PURCHASED.value),
            RejectReason.INVALID,
            "only purchases carry a discount",
        )
        with_amount = cols.amount_state == 1
        if isinstance(cols.currency, str):
            if normal_currency(cols.currency) != self.currency:
                flag(
                    with_amount,
                    RejectReason.CURRENCY_MISMATCH,
                    f"currency {cols.currency!r} is not the pool's {self.currency}",
                )
        else:
            codes = cols.currency.tolist()
            normal = {c: normal_currency(c) for c in set(codes)}  # a handful of distinct codes
            normalised = np.fromiter(map(normal.__getitem__, codes), dtype=object, count=n)
            foreign = normalised != self.currency
            flag(
                with_amount & foreign,
                RejectReason.CURRENCY_MISMATCH,
                f"currency is not the pool's {self.currency}",
            )
        customer = self._resolve(cols.customer_id, customer_hint)
        flag(customer < 0, RejectReason.UNKNOWN_CUSTOMER, "customer is not in the pool")
        related = self.reg.resolve(cols.related_customer_id)
        has_related = cols.related_customer_id.present()
        unjoined = has_related & (related < 0)
        if unjoined.any():
            # an invitation or share may name someone who has not joined (yet): kept under a
            # referenced id, it counts as converted once they join
            may_refer = (cols.kind == TouchKind.INVITED.value) | (
                cols.kind == TouchKind.SHARED.value
            )
            flag(
                unjoined & ~may_refer,
                RejectReason.UNKNOWN_RELATED_CUSTOMER,
                "related customer is not in the pool",
            )
            codes = cols.related_customer_id.codes
            named = np.unique(codes[unjoined])
            bad = np.zeros(cols.related_customer_id.values.size + 1, dtype=bool)
            bad[named] = ~valid_ids(cols.related_customer_id.values[named])
            flag(
                unjoined & bad[codes],
                RejectReason.INVALID,
                "related customer id must be a non-empty printable str",
            )
        flag(
            has_related & (related == customer),
            RejectReason.INVALID,
            "a customer cannot invite or reach themselves",
        )
        agents = cols.agent_id
        if agents.present().any():
            bad_agent = ~valid_ids(agents.values)
            if bad_agent.any():
                flag(
                    agents.present() & bad_agent[np.maximum(agents.codes, 0)],
                    RejectReason.INVALID,
                    "agent id must be a non-empty printable str",
                )

        ok = reason == _OK
        everything = bool(ok.all())
        rows = np.arange(0) if everything else np.flatnonzero(ok)  # unused when everything
        # idempotency: first occurrence of an id wins, in the batch and across batches
        keys = self.events.keys(cols, None if everything else rows)
        fresh = self.events.unseen(keys)
        if fresh is not None:
            if everything:
                rows = np.arange(n)
            duplicates = rows[~fresh]
            clash = self._replay_conflicts(
                cols, duplicates, keys[~fresh], rows[fresh], keys[fresh], customer, related
            )
            for field, hit in clash.items():
                mask = np.zeros(n, dtype=bool)
                mask[hit] = True
                reason[hit] = _CODE[RejectReason.CONFLICT]
                texts.setdefault(RejectReason.CONFLICT, []).append(
                    (mask, f"touchpoint id already recorded with a different {field}")
                )
            if clash:
                duplicates = duplicates[reason[duplicates] == _OK]
                ok = reason == _OK
            keys = keys[fresh]
            rows = rows[fresh]
            everything = False
        else:
            duplicates = np.empty(0, dtype=np.int64)

        if cols.order_id is not None:
            checked = np.arange(n) if everything else rows
            bad_orders = self._check_orders(cols, checked, customer)
            if bad_orders:
                for row, (why, text) in bad_orders.items():
                    reason[row] = _CODE[why]
                    texts.setdefault(why, []).append((np.arange(n) == row, text))
                ok = reason == _OK
                # only what is written is remembered: a refused row may come again, corrected
                keys = keys[ok[checked]]
                rows = checked[ok[checked]]
                everything = False

        written = None if everything else rows
        agent_codes = cols.agent_id.codes if written is None else cols.agent_id.codes[written]
        agent = np.full(len(cols), -1, dtype=np.int32)
        has_agent = np.flatnonzero(agent_codes >= 0)
        if has_agent.size:
            target = has_agent if written is None else written[has_agent]
            agent[target] = self.reg.agents.codes(
                cols.agent_id.values[agent_codes[has_agent]], intern=True
            )
        pending = np.flatnonzero(unjoined & ok)
        if pending.size:
            related[pending] = -2 - self.reg.refer(
                cols.related_customer_id.values[cols.related_customer_id.codes[pending]]
            )
        base = len(self.events)
        self.events.append(cols, written, customer, related, agent)
        self.events.remember(keys, base)

        unknown = RejectReason.UNKNOWN_CUSTOMER
        named_ids = cols.customer_id.decode() if (reason == _CODE[unknown]).any() else _NO_IDS
        unknown_related = RejectReason.UNKNOWN_RELATED_CUSTOMER
        related_ids = (
            cols.related_customer_id.decode()
            if (reason == _CODE[unknown_related]).any()
            else _NO_IDS
        )
        rejected = tuple(
            Rejection(
                record="touchpoint",
                index=int(i),
                id=cols.id[i].item() if int_ids else cols.id[i],
                reason=_REASONS[int(reason[i])],
                detail=(
                    f"customer {named_ids[i]!r} is not in the pool"
                    if _REASONS[int(reason[i])] is unknown
                    else f"related customer {related_ids[i]!r} is not in the pool"
                    if _REASONS[int(reason[i])] is unknown_related
                    else first_text(texts, _REASONS[int(reason[i])], int(i))
                ),
            )
            for i in np.flatnonzero(~ok)
        )
        return IngestReport(
            touchpoints_accepted=n if everything else int(rows.size),
            duplicate_touchpoints=duplicates.astype(np.int64),
            rejected=rejected,
        )

    def _resolve(self, ids: EncodedIds, hint: NDArray[np.int64] | None) -> NDArray[np.int32]:
        """Dense indices of ``ids`` (-1 where unknown), as :meth:`CustomerRegistry.resolve`;
        with a ``hint`` per value, a hit is confirmed by comparing the stored id (no hashing)
        and only the misses are looked up."""
        known = len(self.reg.ids)
        if hint is None or hint.shape != ids.values.shape or ids.values.size == 0 or known == 0:
            return self.reg.resolve(ids)
        hint = np.asarray(hint, dtype=np.int64)
        inside = (hint >= 0) & (hint < known)
        stored = np.asarray(self.reg.ids, dtype=object)[np.where(inside, hint, 0)]
        try:
            same = np.asarray(stored == ids.values, dtype=bool)  # elementwise on objects
        except (TypeError, ValueError):  # an id whose == is no plain answer: look all up
            return self.reg.resolve(ids)
        hit = inside & same
        found = np.full(ids.values.size + 1, -1, dtype=np.int32)  # last slot: code -1
        found[:-1][hit] = hint[hit]
        missed = np.flatnonzero(~hit)
        if missed.size:
            used = np.zeros(ids.values.size, dtype=bool)
            used[ids.codes[ids.codes >= 0]] = True
            missed = missed[used[missed]]
            found[missed] = lookup(self.reg.index, ids.values[missed])
        return found[ids.codes]

    def _replay_conflicts(
        self,
        cols: TouchpointColumns,
        dups: NDArray[np.intp],
        dup_keys: NDArray[Any],
        firsts: NDArray[np.intp],
        first_keys: NDArray[Any],
        customer: NDArray[np.int32],
        related: NDArray[np.int32],
    ) -> dict[str, NDArray[np.intp]]:
        """The repeated ids (rows ``dups``, keys ``dup_keys``) whose content differs from the
        touchpoint first recorded under the id: in the pool, or else the batch's first row of
        it (among ``firsts``, keys ``first_keys``). Returns the rows by first differing field;
        exact replays are not in it."""
        if dups.size == 0:
            return {}
        stored = self.events.stored_rows(dup_keys)
        in_pool = stored >= 0
        checks: list[tuple[NDArray[np.intp], dict[str, NDArray[np.bool_]]]] = []
        later = dups[~in_pool]
        if later.size:
            order = np.argsort(first_keys, kind="stable")
            at = np.searchsorted(first_keys[order], dup_keys[~in_pool])
            checks.append((later, self._batch_differences(cols, later, firsts[order[at]])))
        known = in_pool & (stored < len(self.events))  # unknown rows (old pickles) pass
        if known.any():
            checks.append(
                (
                    dups[known],
                    self._pool_differences(cols, dups[known], stored[known], customer, related),
                )
            )
        out: dict[str, list[NDArray[np.intp]]] = {}
        for rows, differ in checks:
            left = np.ones(rows.size, dtype=bool)
            for field, mask in differ.items():
                hit = mask & left
                if hit.any():
                    out.setdefault(field, []).append(rows[hit])
                    left &= ~hit
        return {field: np.concatenate(parts) for field, parts in out.items()}

    def _batch_differences(
        self, cols: TouchpointColumns, rows: NDArray[np.intp], firsts: NDArray[np.intp]
    ) -> dict[str, NDArray[np.bool_]]:
        """Field by field, whether rows ``rows`` differ from rows ``firsts`` of the batch."""
        kinds = cols.kind[rows]
        money = IS_MONETARY[kinds] & (kinds == cols.kind[firsts])
        order = np.zeros(rows.size, dtype=bool)
        if money.any():
            m = np.flatnonzero(money)
            keys, named, _ = order_keys(cols, rows[m], kinds[m])
            first_keys, first_named, _ = order_keys(cols, firsts[m], kinds[m])
            order[m] = (named != first_named) | (named & (keys != first_keys))
        return {
            "customer": cols.customer_id.codes[rows] != cols.customer_id.codes[firsts],
            **_same_facts(cols, rows, cols.at[firsts], cols.channel[firsts], cols.kind[firsts]),
            "amount": money & (cols.amount_minor[rows] != cols.amount_minor[firsts]),
            "discount": cols.discount_minor[rows] != cols.discount_minor[firsts],
            "order id": order,
            "promotion": cols.promotion[rows] != cols.promotion[firsts],
            "related customer": _names(cols.related_customer_id, rows)
            != _names(cols.related_customer_id, firsts),
            "agent": _names(cols.agent_id, rows) != _names(cols.agent_id, firsts),
        }

    def _pool_differences(
        self,
        cols: TouchpointColumns,
        rows: NDArray[np.intp],
        stored: NDArray[np.int64],
        customer: NDArray[np.int32],
        related: NDArray[np.int32],
    ) -> dict[str, NDArray[np.bool_]]:
        """Field by field, whether rows ``rows`` differ from the events at log rows
        ``stored``."""
        ev = self.events
        kinds = cols.kind[rows]
        money = IS_MONETARY[kinds] & (kinds == ev.kind.values[stored])
        amount = np.zeros(rows.size, dtype=bool)
        discount = cols.discount_minor[rows] != 0  # an event without money has no discount
        order = np.zeros(rows.size, dtype=bool)
        if money.any():
            m = np.flatnonzero(money)
            position = np.searchsorted(np.flatnonzero(IS_MONETARY[ev.kind.values]), stored[m])
            amount[m] = cols.amount_minor[rows[m]] != ev.money_amount.values[position]
            discount[m] = cols.discount_minor[rows[m]] != ev.money_discount.values[position]
            keys, named, _ = order_keys(cols, rows[m], kinds[m])
            was_named = ev.money_order_named.values[position]
            order[m] = (named != was_named) | (named & (keys != ev.money_order.values[position]))
        # the related customer: the customer an id is now, else the referenced id it was kept as
        was = ev.sparse_at("related", stored)
        pending = np.flatnonzero(was <= -2)
        became = self.reg.referenced_customer.values[-2 - was[pending]]
        was[pending[became >= 0]] = became[became >= 0]
        now = related[rows].copy()
        unjoined = np.flatnonzero(cols.related_customer_id.present()[rows] & (now < 0))
        if unjoined.size:
            code = self.reg.referenced.codes(
                _names(cols.related_customer_id, rows[unjoined]), intern=False
            )
            now[unjoined] = np.where(code >= 0, -2 - code, np.iinfo(np.int32).min)
        agent = self.reg.agents.codes(_names(cols.agent_id, rows), intern=False)
        return {
            "customer": customer[rows] != ev.customer.values[stored],
            **_same_facts(
                cols,
                rows,
                ev.at.values[stored],
                ev.channel.values[stored],
                ev.kind.values[stored],
            ),
            "amount": amount,
            "discount": discount,
            "order id": order,
            "promotion": cols.promotion[rows] != (ev.flags.values[stored] & 1).astype(bool),
            "related customer": now != was,
            "agent": agent != ev.sparse_at("agent", stored),
        }

    def _check_orders(
        self, cols: TouchpointColumns, rows: NDArray[np.intp], customer: NDArray[np.int32]
    ) -> dict[int, tuple[RejectReason, str]]:
        """Refunds must name an order their customer placed and may not exceed what is left
        of it; a purchase may not reuse another purchase's order id. Rows ``rows`` are the
        batch's new touchpoints, in order; returns the refused ones with their reasons."""
        money = rows[IS_MONETARY[cols.kind[rows]]]
        if money.size == 0:
            return {}
        kinds = cols.kind[money]
        keys, named, _ = order_keys(cols, money, kinds)
        is_purchase = kinds == TouchKind.PURCHASED.value
        is_refund = (kinds == TouchKind.REFUNDED.value) & named
        out: dict[int, tuple[RejectReason, str]] = {}

        def label(k: int) -> object:
            return cols.order_id[money[k]] if cols.order_id is not None else None

        # the pool's orders: key, customer, gross and what was refunded against each
        events = self.events
        money_events = np.flatnonzero(IS_MONETARY[events.kind.values])
        p_pos, p_keys = events.orders_of(TouchKind.PURCHASED)
        r_pos, r_keys = events.orders_of(TouchKind.REFUNDED)
        # purchases: an order id already used (in the pool or earlier in this batch)
        purchases = np.flatnonzero(is_purchase)
        taken = np.isin(keys[purchases], p_keys)
        _, first = np.unique(keys[purchases], return_index=True)
        repeated = np.ones(purchases.size, dtype=bool)
        repeated[first] = False
        for k in purchases[taken | repeated].tolist():
            out[int(money[k])] = (
                RejectReason.DUPLICATE_ORDER,
                f"order {label(k)!r} already has a purchase",
            )
        refunds = np.flatnonzero(is_refund)
        if refunds.size == 0:
            return out
        new_orders = purchases[~(taken | repeated)]
        order_key = np.concatenate([p_keys, keys[new_orders]])
        order_customer = np.concatenate(
            [events.customer.values[money_events[p_pos]], customer[money[new_orders]]]
        ).astype(np.int64)
        gross = np.concatenate(
            [events.money_amount.values[p_pos], cols.amount_minor[money[new_orders]]]
        )
        sort = np.argsort(order_key, kind="stable")
        found = np.minimum(np.searchsorted(order_key[sort], keys[refunds]), max(sort.size - 1, 0))
        target = sort[found] if sort.size else np.zeros(refunds.size, dtype=np.int64)
        known = (
            (order_key[target] == keys[refunds])
            & (order_customer[target] == customer[money[refunds]])
            if sort.size
            else np.zeros(refunds.size, dtype=bool)
        )
        for k in refunds[~known].tolist():
            out[int(money[k])] = (
                RejectReason.UNKNOWN_ORDER,
                f"the refund names order {label(k)!r}, which this customer never placed",
            )
        refunded = np.zeros(order_key.size, dtype=np.int64)
        if r_pos.size and sort.size:
            at = np.minimum(np.searchsorted(order_key[sort], r_keys), sort.size - 1)
            hit = order_key[sort[at]] == r_keys
            np.add.at(refunded, sort[at[hit]], events.money_amount.values[r_pos[hit]])
        matched, orders = refunds[known], target[known]
        if matched.size == 0:
            return out
        amounts = cols.amount_minor[money[matched]]
        # a refund may take what is left of its order; in row order, refused ones take nothing
        left = gross - refunded
        order_of = np.argsort(orders, kind="stable")
        running = np.zeros(matched.size, dtype=np.int64)
        grouped = orders[order_of]
        sums = np.cumsum(amounts[order_of])
        starts = np.r_[0, np.flatnonzero(grouped[1:] != grouped[:-1]) + 1]
        base = np.repeat(
            sums[starts] - amounts[order_of][starts], np.diff(np.r_[starts, grouped.size])
        )
        running[order_of] = sums - base
        over = running > left[orders]
        if over.any():
            # once a refund is refused the running sum overstates what later ones take: settle
            # the (few) orders concerned refund by refund, in row order
            concerned = np.flatnonzero(np.isin(orders, orders[over]))
            remaining = left.copy()
            for j in concerned.tolist():
                if amounts[j] <= remaining[orders[j]]:
                    remaining[orders[j]] -= amounts[j]
                else:
                    k = int(matched[j])
                    out[int(money[k])] = (
                        RejectReason.REFUND_EXCEEDS_ORDER,
                        f"the refund of {int(amounts[j])} minor units exceeds the "
                        f"{int(remaining[orders[j]])} left of order {label(k)!r}",
                    )
        return out


def _same_facts(
    cols: TouchpointColumns,
    rows: NDArray[np.intp],
    at: NDArray[np.int64],
    channel: NDArray[np.uint8],
    kind: NDArray[np.uint8],
) -> dict[str, NDArray[np.bool_]]:
    """Whether rows ``rows`` differ in instant, channel and kind from what is given."""
    return {
        "instant": cols.at[rows] != at,
        "channel": cols.channel[rows] != channel,
        "kind": cols.kind[rows] != kind,
    }


def _names(ids: EncodedIds, rows: NDArray[np.intp]) -> NDArray[np.object_]:
    """The ids of rows ``rows`` of a dictionary-encoded column (``None`` where none)."""
    codes = ids.codes[rows]
    out = np.full(rows.size, None, dtype=object)
    given = codes >= 0
    out[given] = ids.values[codes[given]]
    return out
