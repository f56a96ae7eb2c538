"""privdomain: operate a brand's private-domain customer pool (私域流量) from Python.

Objects at the edges, arrays in the middle: hosts hand in :class:`Customer` and
:class:`Touchpoint` records (or columns of them), a :class:`Pool` keeps them in a columnar log,
and :meth:`Pool.snapshot` gives every customer's features as of any instant for the strategies.
The library does no I/O: storage plugs in through :mod:`privdomain.ports`.
"""

from privdomain.domain import (
    OWNED_CHANNELS,
    Batch,
    Channel,
    Customer,
    CustomerColumns,
    EncodedIds,
    F,
    Feature,
    IngestReport,
    Money,
    Pool,
    ProfileChanges,
    Rejection,
    RejectReason,
    Rule,
    Segment,
    Snapshot,
    Tables,
    TouchKind,
    Touchpoint,
    TouchpointColumns,
    features,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "OWNED_CHANNELS",
    "Batch",
    "Channel",
    "Customer",
    "CustomerColumns",
    "EncodedIds",
    "F",
    "Feature",
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
    "__version__",
    "features",
]
