"""The layering section of ``python -m privdomain demo``: segment sizes and explained customers."""

from __future__ import annotations

import unicodedata
import warnings

import numpy as np

from privdomain.domain.snapshot import Snapshot
from privdomain.layering._base import LayeringWarning, check_snapshot
from privdomain.layering._result import Segmentation
from privdomain.layering.attributes import AttributeLayers
from privdomain.layering.coupon_hunters import CouponHunters
from privdomain.layering.koc import KOCDetector
from privdomain.layering.rfm import RFMLayering
from privdomain.layering.value_tiers import ValueTiers

__all__ = ["demo_step"]


def _pad(text: str, width: int) -> str:
    """Left-align ``text`` in ``width`` terminal columns (CJK characters take two)."""
    wide = sum(unicodedata.east_asian_width(ch) in "WF" for ch in text)
    return text + " " * max(0, width - len(text) - wide)


def _sizes(seg: Segmentation, *, skip_empty: bool = False) -> list[str]:
    total = max(len(seg), 1)
    return [
        f"    {_pad(name, 22)} {count:>8,}  {count / total:6.1%}"
        for name, count in seg.counts().items()
        if count or not skip_empty
    ]


def _first_in(seg: Segmentation, name: str) -> str | None:
    members = seg.members(name)
    return None if members.size == 0 else str(members[0])


def demo_step(snapshot: Snapshot) -> str:
    """Layer ``snapshot`` every way the package knows and describe the result as text.

    Prints nothing: returns the section for the demo to print (segment sizes per strategy, a
    few customers explained, and what the layerings warned about, as notes).
    """
    check_snapshot(snapshot, "demo_step")
    lines: list[str] = []
    attributes = AttributeLayers().apply(snapshot)
    lines.append("By attributes:")
    lines += _sizes(attributes)

    # the warnings are in each result: shown below the sizes, not on stderr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LayeringWarning)
        rfm = RFMLayering().fit(snapshot).apply(snapshot)
        chinese = RFMLayering(table="chinese").fit(snapshot).apply(snapshot)
    lines.append("RFM, classic 11 segments (quantile scores learned from buyers):")
    lines += _sizes(rfm)
    lines += [f"    warning: {warning}" for warning in rfm.warnings]
    lines.append("RFM, Chinese 8 classes (high/low against the buyers' mean):")
    lines += _sizes(chinese)
    lines += [f"    warning: {warning}" for warning in chinese.warnings]

    tiers = ValueTiers().fit(snapshot).apply(snapshot)
    lines.append("Value tiers:")
    lines += _sizes(tiers)
    lines += [f"    {note}" for note in tiers.notes]

    koc = KOCDetector().fit(snapshot).apply(snapshot)
    hunters = CouponHunters().apply(snapshot)
    n = max(len(snapshot), 1)
    lines.append(
        f"KOCs: {koc.counts()['KOC']:,} ({koc.counts()['KOC'] / n:.1%}); coupon hunters: "
        f"{hunters.counts()['Coupon hunter']:,} ({hunters.counts()['Coupon hunter'] / n:.1%})"
    )

    lines.append("A few customers, explained:")
    shown = 0
    for seg, name in (
        (rfm, "Champions"),
        (rfm, "At Risk"),
        (koc, "KOC"),
        (hunters, "Coupon hunter"),
    ):
        cid = _first_in(seg, name)
        if cid is None or shown >= 4:
            continue
        shown += 1
        lines += ["  " + line for line in seg.explain(cid).splitlines()]
    if not shown and len(snapshot):
        lines += [
            "  " + line
            for line in rfm.explain(str(np.asarray(snapshot.customer_ids)[0])).splitlines()
        ]
    return "\n".join(lines)
