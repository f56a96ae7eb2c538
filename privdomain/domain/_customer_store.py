"""The pool's customers: ids interned to dense indices, their fixed facts, agents and stores
interned to codes, and their profiles with history."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from privdomain.domain._checks import lookup
from privdomain.domain._columns import Column
from privdomain.domain._profile import ProfileStore
from privdomain.domain._time import micros_to_datetime
from privdomain.domain.batch import EncodedIds
from privdomain.domain.channels import OWNED_CHANNELS, Channel
from privdomain.domain.customer import Customer
from privdomain.domain.tables import CustomerTable

__all__ = ["CustomerRegistry", "consent_field"]


def consent_field(channel: Channel) -> str:
    """The profile field of consent on owned channel ``channel``."""
    return f"consent:{channel.name.lower()}"


class _Codes:
    """Ids interned to dense codes in order of first appearance (agents, stores)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.index: dict[str, int] = {}

    def codes(self, names: NDArray[np.object_], *, intern: bool) -> NDArray[np.int32]:
        """The code of every name (-1 for ``None``). With ``intern=False`` an unknown name reads
        as -2, which differs from every code; with ``intern=True`` it is added."""
        out = np.full(names.size, -1, dtype=np.int32)
        given = np.flatnonzero(names != None)  # noqa: E711 - elementwise on objects
        if given.size == 0:
            return out
        if intern:
            for name in dict.fromkeys(names[given].tolist()):
                if name not in self.index:
                    self.index[name] = len(self.names)
                    self.names.append(name)
        found = lookup(self.index, names[given])
        out[given] = np.where(found < 0, -2, found)
        return out

    def checkpoint(self) -> int:
        return len(self.names)

    def restore(self, size: int) -> None:
        for name in self.names[size:]:
            del self.index[name]
        del self.names[size:]


class CustomerRegistry:
    """Who is in the pool and what is known of them."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.index: dict[str, int] = {}
        self.joined: Column[np.int64] = Column(np.int64)
        self.source: Column[np.uint8] = Column(np.uint8)
        self.referrer: Column[np.int32] = Column(np.int32)
        self.profile = ProfileStore()
        self.agents = _Codes()
        self.stores = _Codes()
        self.zones = _Codes()
        # ids named as the invitee of an INVITED or SHARED touchpoint before they were
        # customers: interned to codes, each with the customer it became (-1 until they join)
        self.referenced = _Codes()
        self.referenced_customer: Column[np.int32] = Column(np.int32)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "referenced" not in state:  # pickled before invitees could be referenced
            self.referenced = _Codes()
            self.referenced_customer = Column(np.int32)

    def __len__(self) -> int:
        return len(self.ids)

    # ---------------------------------------------------------------- reads
    def lookup(self, keys: NDArray[np.object_]) -> NDArray[np.int64]:
        """Dense indices of ``keys`` (-1 where absent)."""
        return lookup(self.index, keys)

    def resolve(self, ids: EncodedIds) -> NDArray[np.int32]:
        """Dense indices of dictionary-encoded customer ids (-1 where absent or unknown)."""
        used = ids.used()
        found = np.full(ids.values.size + 1, -1, dtype=np.int32)  # last slot: code -1
        found[used] = lookup(self.index, ids.values[used])
        return found[ids.codes]

    def referenced_view(self) -> tuple[NDArray[np.object_], NDArray[np.int32]]:
        """The referenced ids (by code) and the customer each became (-1: not yet), as copies
        that later batches do not change."""
        return (
            np.array(self.referenced.names, dtype=object),
            self.referenced_customer.values.copy(),
        )

    def table(self) -> CustomerTable:
        return CustomerTable(
            ids=np.array(self.ids, dtype=object),
            joined=self.joined.values,
            source=self.source.values,
            referrer=self.referrer.values,
        )

    def names(self, prefix: str, declared: Iterable[str]) -> tuple[str, ...]:
        """Tag (``"tag:"``) or attribute (``"attr:"``) names used or declared, sorted."""
        used = {name[len(prefix) :] for name in self.profile if name.startswith(prefix)}
        return tuple(sorted(used | set(declared)))

    def customer(self, i: int, tenant: str) -> Customer:
        """Customer ``i`` as the pool knows them now (latest profile)."""
        profile = self.profile
        referrer = int(self.referrer.values[i])
        agent = int(profile.current("agent")[i])
        store = int(profile.current("store")[i])
        zone = int(profile.current("time_zone")[i])
        fields = list(profile)
        return Customer(
            id=self.ids[i],
            tenant=tenant,
            joined_at=micros_to_datetime(int(self.joined.values[i])),
            source=Channel(int(self.source.values[i])),
            attributes={
                name[5:]: profile.current(name)[i]
                for name in fields
                if name.startswith("attr:") and profile.current(name)[i] is not None
            },
            tags=frozenset(
                name[4:] for name in fields if name.startswith("tag:") and profile.current(name)[i]
            ),
            consent=frozenset(c for c in OWNED_CHANNELS if profile.current(consent_field(c))[i]),
            referrer_id=self.ids[referrer] if referrer >= 0 else None,
            agent_id=self.agents.names[agent] if agent >= 0 else None,
            store_id=self.stores.names[store] if store >= 0 else None,
            time_zone=self.zones.names[zone] if zone >= 0 else None,
        )

    # ---------------------------------------------------------------- writes
    def add(
        self,
        ids: list[str],
        joined: NDArray[np.int64],
        source: NDArray[np.uint8],
        referrer: NDArray[np.int64],
        *,
        index: dict[str, int] | None = None,
    ) -> NDArray[np.int64]:
        """Append new customers (their profiles start empty); returns their indices.
        ``index`` may be handed over as the whole id index when the pool was empty."""
        base = len(self.ids)
        self.ids.extend(ids)
        if index is not None and base == 0:
            self.index = index
        else:
            self.index.update(zip(ids, range(base, base + len(ids)), strict=True))
        self.joined.extend(joined)
        self.source.extend(source)
        self.referrer.extend(referrer.astype(np.int32))
        return np.arange(base, base + len(ids))

    def refer(self, names: NDArray[np.object_]) -> NDArray[np.int32]:
        """Codes of ids named as invitees that are not customers (interned if new)."""
        codes = self.referenced.codes(names, intern=True)
        grown = len(self.referenced.names) - len(self.referenced_customer)
        if grown:
            self.referenced_customer.extend(np.full(grown, -1, dtype=np.int32))
        return codes

    def resolve_referenced(
        self,
        ids: NDArray[np.object_],
        index: NDArray[np.int64],
        undo: list[tuple[Column[Any], Any, Any]],
    ) -> None:
        """New customers ``ids`` (at ``index``) who had been referenced become those customers
        (the in-place write is logged on ``undo``)."""
        if not self.referenced.names or ids.size == 0:
            return
        code = lookup(self.referenced.index, ids)
        hit = np.flatnonzero(code >= 0)
        if hit.size:
            undo.append(
                (self.referenced_customer, code[hit], self.referenced_customer.values[code[hit]])
            )
            self.referenced_customer[code[hit]] = index[hit]

    def checkpoint(self) -> Any:
        return (
            len(self.ids),
            self.index,
            [len(c) for c in (self.joined, self.source, self.referrer)],
            self.profile.checkpoint(),
            self.agents.checkpoint(),
            self.stores.checkpoint(),
            self.zones.checkpoint(),
            self.referenced.checkpoint(),
        )

    def restore(self, checkpoint: Any, undo: list[tuple[Column[Any], Any, Any]]) -> None:
        n_ids, index, sizes, profile, agents, stores, zones, referenced = checkpoint
        for name in self.ids[n_ids:]:
            if index.get(name, -1) >= n_ids:
                del index[name]
        self.index = index
        del self.ids[n_ids:]
        self.joined.truncate(sizes[0])
        self.source.truncate(sizes[1])
        self.referrer.truncate(sizes[2])
        self.profile.restore(profile, undo)
        self.agents.restore(agents)
        self.stores.restore(stores)
        self.zones.restore(zones)
        # after the undo log was replayed (it may hold writes of referenced customers)
        self.referenced.restore(referenced)
        self.referenced_customer.truncate(referenced)
