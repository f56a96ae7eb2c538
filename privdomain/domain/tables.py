"""The read-only columnar tables under a pool: customers, the event log and profile histories.

A :class:`~privdomain.Pool` validates and appends; :meth:`Pool.tables` hands out an immutable
:class:`Tables` view of what it holds, and :func:`~privdomain.domain.features.features` turns
tables into a :class:`~privdomain.Snapshot` as of any instant. A worker that holds the tables of
one partition of customers needs no pool at all.

Everything here is *as of*: events carry their instant, and so does every change of a
customer's profile (consent per channel, agent and store binding, tags, attributes). Nothing
dated after ``t`` can change what is seen at ``t``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain.channels import IS_MONETARY

__all__ = ["CustomerTable", "EventLog", "FieldHistory", "Tables"]

_PROMOTION = np.uint8(1)


@attrs.frozen(eq=False)
class CustomerTable:
    """Who is in the pool: one row per customer, in order of arrival (the pool index).

    The facts here never change once recorded (a conflicting record is rejected); what does
    change lives in the profile histories of :class:`Tables`.
    """

    ids: NDArray[np.object_]
    """Customer ids (``str``)."""
    joined: NDArray[np.int64]
    """Join instants, epoch microseconds."""
    source: NDArray[np.uint8]
    """:class:`~privdomain.Channel` code of the source."""
    referrer: NDArray[np.int32]
    """Pool index of the referrer (-1 for none)."""

    def __len__(self) -> int:
        return int(self.joined.shape[0])


@attrs.frozen(eq=False)
class FieldHistory:
    """Every change of one profile field, in the order the pool recorded them.

    Row ``i`` says: from instant ``at[i]`` on, customer ``customer[i]`` has ``value[i]``. For one
    customer, changes are recorded in time order (the pool refuses a change dated before the
    customer's latest one), so the latest visible change is the last one in log order. A field
    nobody ever changed reads as its default (no consent, no agent, no tag, unset attribute).
    """

    customer: NDArray[np.int32]
    at: NDArray[np.int64]
    value: NDArray[Any]
    """``bool`` (consent, tags), ``int32`` codes (agent, store; -1 for none) or objects
    (attributes; ``None`` for unset)."""
    overwrites: bool
    """Whether some customer has more than one change (else a plain scatter reads it)."""

    def __len__(self) -> int:
        return int(self.at.shape[0])

    def as_of(
        self, as_of: int, size: int, default: Any, dtype: Any, rows: NDArray[np.int64] | None
    ) -> NDArray[Any]:
        """The field's value for every customer as of ``as_of``.

        ``rows`` maps pool indices to output rows (-1: not in the output); ``None`` means the
        output is indexed by pool index and has ``size`` rows.
        """
        out = np.full(size, default, dtype=dtype)
        if not len(self):
            return out
        visible = np.flatnonzero(self.at <= as_of)
        customer = self.customer[visible].astype(np.intp)
        if rows is not None:
            target = rows[customer]
            inside = target >= 0
            visible, target = visible[inside], target[inside]
        else:
            target = customer
        if not self.overwrites:
            out[target] = self.value[visible]
            return out
        # the latest visible change of each customer is its last one in log order
        last = np.full(size, -1, dtype=np.intp)
        np.maximum.at(last, target, visible)
        has = np.flatnonzero(last >= 0)
        out[has] = self.value[last[has]]
        return out


@attrs.frozen(eq=False)
class EventLog:
    """The columnar event log, one row per accepted touchpoint, in ingest order. Customers,
    related customers and agents are dense indices (-1 for none).

    Every event has a customer, an instant, a kind, a channel and flags. Only purchases and
    refunds carry money, so amounts, discounts and order ids are kept for those *monetary*
    events alone, in log order; related customers and agents, which few events have, are kept
    as (row, value) pairs. The dense properties (:attr:`amount_minor`, :attr:`discount_minor`,
    :attr:`related`, :attr:`agent`) expand them on demand.
    """

    customer: NDArray[np.int32]
    at: NDArray[np.int64]
    """Epoch microseconds."""
    kind: NDArray[np.uint8]
    """:class:`TouchKind` codes."""
    channel: NDArray[np.uint8]
    """:class:`Channel` codes."""
    flags: NDArray[np.uint8]
    """Bit 0: promotion."""
    money_amount: NDArray[np.int64]
    """Amount in minor units of each monetary event (purchase or refund), in log order."""
    money_discount: NDArray[np.int64]
    """Discount in minor units of each monetary event, in log order."""
    money_order: NDArray[np.int64]
    """Order key of each monetary event: the order a purchase creates or a refund reverses
    (the integer id itself, or the fingerprint of a string id; see :attr:`order_labels`)."""
    money_order_named: NDArray[np.bool_]
    """Whether a refund names the order it reverses (purchases always have an order)."""
    order_labels: Mapping[int, object]
    """The host's order id of each order key that is not the id itself (string ids)."""
    related_rows: NDArray[np.int64]
    """Rows of the events that name a related customer."""
    related_values: NDArray[np.int32]
    """The related customer of each of :attr:`related_rows`: a dense index, or ``-2 - k`` for
    an invitee who has not joined the pool (their id is ``referenced_ids[k]``)."""
    agent_rows: NDArray[np.int64]
    """Rows of the events that name an agent."""
    agent_values: NDArray[np.int32]
    """The agent of each of :attr:`agent_rows`."""
    referenced_ids: NDArray[np.object_] = attrs.field(factory=lambda: np.empty(0, dtype=object))
    """Ids named as invitees (of ``INVITED`` or ``SHARED`` touchpoints) that were not
    customers then, by code; see :attr:`related_values`."""

    def __len__(self) -> int:
        return int(self.at.shape[0])

    @property
    def monetary(self) -> NDArray[np.intp]:
        """Rows of the monetary events (purchases and refunds), aligned with the money columns."""
        return np.flatnonzero(IS_MONETARY[self.kind])

    @property
    def amount_minor(self) -> NDArray[np.int64]:
        """Amount of every event in minor units (0 for events without one)."""
        out = np.zeros(len(self), dtype=np.int64)
        out[self.monetary] = self.money_amount
        return out

    @property
    def discount_minor(self) -> NDArray[np.int64]:
        """Discount of every event in minor units (0 for events without one)."""
        out = np.zeros(len(self), dtype=np.int64)
        out[self.monetary] = self.money_discount
        return out

    @property
    def related(self) -> NDArray[np.int32]:
        """Related customer of every event (-1 for none, ``-2 - k`` for an invitee who has not
        joined, see :attr:`related_values`)."""
        out = np.full(len(self), -1, dtype=np.int32)
        out[self.related_rows] = self.related_values
        return out

    @property
    def agent(self) -> NDArray[np.int32]:
        """Agent of every event (-1 for none)."""
        out = np.full(len(self), -1, dtype=np.int32)
        out[self.agent_rows] = self.agent_values
        return out

    @property
    def promotion(self) -> NDArray[np.bool_]:
        """Whether each touch was promotion-driven."""
        return (self.flags & _PROMOTION).astype(bool)


@attrs.frozen(eq=False)
class Tables:
    """An immutable view of everything a pool holds, the only input of
    :func:`~privdomain.domain.features.features`.

    ``profile`` maps each profile field to its :class:`FieldHistory`: ``"consent:<channel>"``
    per owned channel, ``"agent"``, ``"store"``, ``"time_zone"``, ``"tag:<name>"`` and
    ``"attr:<name>"``.
    ``tags`` and ``attributes`` are the declared schema (the pool's declared names plus every
    name that was ever used), in a fixed order.
    """

    tenant: str
    currency: str
    utc_offset: dt.timedelta
    customers: CustomerTable
    events: EventLog
    profile: Mapping[str, FieldHistory]
    agent_ids: tuple[str, ...]
    store_ids: tuple[str, ...]
    time_zones: tuple[str, ...]
    """IANA time zone names by code (profile field ``"time_zone"``)."""
    tags: tuple[str, ...]
    attributes: tuple[str, ...]
    declared_tags: tuple[str, ...] = ()
    declared_attributes: tuple[str, ...] = ()
