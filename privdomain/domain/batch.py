"""What goes into a pool, in columns, and the report of what came of it.

Hosts with objects pass :class:`~privdomain.Customer` and :class:`~privdomain.Touchpoint`
instances; hosts with millions of rows pass :class:`CustomerColumns` and
:class:`TouchpointColumns` built from their own arrays (and :class:`~privdomain.ProfileChanges`
to change many profiles at once). Both go through one validation path in the pool.

The column classes check the *form* of what they hold when they are built, whichever way:
every column has one row per record, one dimension and a dtype of the documented kind, or the
constructor raises :class:`~privdomain.errors.ValidationError` naming the column. What a single
row holds (an unknown customer, a negative amount, a foreign currency) is the pool's to judge:
it reports such rows instead of raising.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from privdomain.domain.customer import Customer
from privdomain.domain.customer_columns import CustomerColumns, consent_mask
from privdomain.domain.encoded import EncodedIds
from privdomain.domain.report import IngestReport, Rejection, RejectReason
from privdomain.domain.touchpoint import Touchpoint
from privdomain.domain.touchpoint_columns import TouchpointColumns

__all__ = [
    "Batch",
    "CustomerColumns",
    "EncodedIds",
    "IngestReport",
    "RejectReason",
    "Rejection",
    "TouchpointColumns",
    "consent_mask",
]


@attrs.frozen
class Batch:
    """Customers and touchpoints to ingest together (customers first)."""

    customers: CustomerColumns | Sequence[Customer] = ()
    touchpoints: TouchpointColumns | Sequence[Touchpoint] = ()
