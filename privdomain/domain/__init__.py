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
from privdomain.domain.changes import ProfileChanges
from privdomain.domain.channels import (
    CONNECT_KINDS,
    DISCONNECT_KINDS,
    OWNED_CHANNELS,
    Channel,
    TouchKind,
)
from privdomain.domain.customer import AttributeValue, Customer
from privdomain.domain.features import features
from privdomain.domain.money import Money, minor_unit_exponent
from privdomain.domain.pool import Pool
from privdomain.domain.segment import F, Feature, Rule, Segment
from privdomain.domain.snapshot import Snapshot
from privdomain.domain.tables import CustomerTable, EventLog, FieldHistory, Tables
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
    "CustomerTable",
    "EncodedIds",
    "EventLog",
    "F",
    "Feature",
    "FieldHistory",
    "IngestReport",
    "Money",
    "Pool",
    "ProfileChanges",
    "RejectReason",
    "Rejection",
    "Rule",
    "Segment",
    "Snapshot",
    "Tables",
    "TouchKind",
    "Touchpoint",
    "TouchpointColumns",
    "consent_mask",
    "features",
    "minor_unit_exponent",
]
