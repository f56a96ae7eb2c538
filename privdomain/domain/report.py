"""The report of what became of every record of a batch."""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs
import numpy as np
from numpy.typing import NDArray

__all__ = ["IngestReport", "RejectReason", "Rejection"]


class RejectReason(enum.Enum):
    """Why a record was not taken into the pool."""

    INVALID = "invalid"
    """A field has a value the domain does not allow (see the detail)."""
    INVALID_AMOUNT = "invalid_amount"
    """NaN, infinite, negative or missing amount."""
    CURRENCY_MISMATCH = "currency_mismatch"
    """Not the pool's currency."""
    WRONG_TENANT = "wrong_tenant"
    """Belongs to another tenant's pool."""
    UNKNOWN_CUSTOMER = "unknown_customer"
    """The customer is not in the pool."""
    UNKNOWN_RELATED_CUSTOMER = "unknown_related_customer"
    """The related customer is not in the pool (only ``INVITED`` and ``SHARED`` touchpoints may
    name someone who has not joined)."""
    UNKNOWN_REFERRER = "unknown_referrer"
    """The referrer is neither in the pool nor the batch."""
    REFERRAL_CYCLE = "referral_cycle"
    """The referrer chain would loop back."""
    CONFLICT = "conflict"
    """Changes a customer's fixed facts (joined_at, source, referrer), or reuses a touchpoint id
    already recorded (in the pool or earlier in the batch) with different content."""
    UNKNOWN_ORDER = "unknown_order"
    """A refund names an order the customer never placed."""
    REFUND_EXCEEDS_ORDER = "refund_exceeds_order"
    """A refund is larger than what is left of the order it names."""
    DUPLICATE_ORDER = "duplicate_order"
    """A purchase reuses an order id that another purchase already has."""


@attrs.frozen
class Rejection:
    """One record that was not taken, and why."""

    record: str
    """``"customer"`` or ``"touchpoint"``."""
    index: int
    """Position of the record in what was given."""
    id: object
    """The record's id as given."""
    reason: RejectReason
    detail: str


@attrs.frozen(eq=False)
class IngestReport:
    """What became of every record of a batch: nothing is dropped silently.

    Every record given is counted in exactly one of ``customers_added``, ``customers_updated``,
    ``customers_unchanged`` or the rejections (customers) and ``touchpoints_accepted``,
    ``duplicate_touchpoints`` or the rejections (touchpoints).
    """

    customers_added: int = 0
    customers_updated: int = 0
    customers_unchanged: int = 0
    touchpoints_accepted: int = 0
    duplicate_touchpoints: NDArray[np.int64] = attrs.field(factory=lambda: np.empty(0, np.int64))
    rejected: tuple[Rejection, ...] = ()

    @property
    def duplicates(self) -> int:
        """How many touchpoints were already in the pool (or repeated in the batch)."""
        return int(self.duplicate_touchpoints.size)

    @property
    def ok(self) -> bool:
        """Whether nothing was rejected."""
        return not self.rejected

    def reasons(self) -> Mapping[RejectReason, int]:
        """Number of rejections per reason."""
        counts: dict[RejectReason, int] = {}
        for r in self.rejected:
            counts[r.reason] = counts.get(r.reason, 0) + 1
        return counts

    def __repr__(self) -> str:
        reasons = ", ".join(f"{k.value}={v}" for k, v in self.reasons().items()) or "none"
        return (
            f"IngestReport(customers: +{self.customers_added} added, {self.customers_updated} "
            f"updated, {self.customers_unchanged} unchanged; touchpoints: "
            f"{self.touchpoints_accepted} accepted, {self.duplicates} duplicates; "
            f"rejected: {len(self.rejected)} ({reasons}))"
        )
