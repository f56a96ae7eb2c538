"""The domain model: customers, touchpoints, channels, money, segments, the pool and snapshots."""

from privdomain.domain.batch import (
    Batch,
    CustomerColumns,
    EncodedIds,
    IngestReport,
    Rejection,
    RejectReason,
    TouchpointColumns,
    consent_mask,
)
from privdomain.domain.channels import CONNECT_KINDS, DISCONNECT_KINDS, Channel, TouchKind
from privdomain.domain.customer import AttributeValue, Customer
from privdomain.domain.money import Money, minor_unit_exponent
from privdomain.domain.pool import EventLog, Pool
from privdomain.domain.segment import F, Feature, Rule, Segment
from privdomain.domain.snapshot import OWNED_CHANNELS, Snapshot
from privdomain.domain.touchpoint import Touchpoint

__all__ = [
    "CONNECT_KINDS",
    "DISCONNECT_KINDS",
    "OWNED_CHANNELS",
    "AttributeValue",
    "Batch",
    "Channel",
    "Customer",
    "CustomerColumns",
    "EncodedIds",
    "EventLog",
    "F",
    "Feature",
    "IngestReport",
    "Money",
    "Pool",
    "RejectReason",
    "Rejection",
    "Rule",
    "Segment",
    "Snapshot",
    "TouchKind",
    "Touchpoint",
    "TouchpointColumns",
    "consent_mask",
    "minor_unit_exponent",
]
