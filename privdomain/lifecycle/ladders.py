"""The ladders a customer climbs and slides down, and how each one is configured.

Three ladders, each with exactly one stage per customer at any instant [003]:

**Relationship** (:class:`RelationshipStage`): prospect (in the pool, never bought) → new →
growth → mature → decline → churned, with reactivation from decline and churned. Set by
:class:`RelationshipLadder` from the number of purchases, how long ago the first one was, and
the trend of the customer's frequency and spend in a recent window against their own rhythm.

**Post-purchase period** (:class:`PostPurchaseStage`): after each purchase a customer is active,
then silent, sleeping and finally lost (活跃期 → 沉默期 → 睡眠期 → 流失期); a purchase returns
them to active. Decided either by the time since the last purchase relative to the customer's
own rhythm (:class:`CadenceLadder`) or by P(alive) from a fitted repeat-purchase model
(:class:`PAliveLadder`).

**Purchase milestones**: the first, third and fifth purchase (by default) are the milestones
that build stickiness [003]; the stage is the last milestone reached (:func:`milestone_names`).

A *purchase* is a business day with at least one order (days cut in the pool's UTC offset),
as in the value models: several orders on one day, or at one instant, are one purchase.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from privdomain.domain.segment import short_repr
from privdomain.errors import ValidationError

__all__ = [
    "CadenceLadder",
    "MilestoneLadder",
    "PAliveLadder",
    "PostPurchaseStage",
    "RelationshipLadder",
    "RelationshipStage",
    "milestone_names",
]

#: Days in each time unit a repeat-purchase model may be fitted in.
UNIT_DAYS: dict[str, float] = {"h": 1 / 24, "D": 1.0, "W": 7.0, "M": 30.436875}


class RelationshipStage(enum.StrEnum):
    """Where a customer stands in their relationship with the brand (生命周期分层)."""

    PROSPECT = "prospect"
    """In the pool, never bought."""
    NEW = "new"
    """Made a first purchase (新用户)."""
    GROWTH = "growth"
    """Bought again (成长期)."""
    MATURE = "mature"
    """Reached the stickiness milestone and has been a customer a while (成熟期)."""
    DECLINE = "decline"
    """Still buying, but less often or for less than their own rhythm says (衰退期)."""
    CHURNED = "churned"
    """Gone: lost on the post-purchase ladder, or silent past a fixed number of days (流失期)."""


class PostPurchaseStage(enum.StrEnum):
    """The period after the last purchase (购买后的四个阶段), plus never bought."""

    NOT_BOUGHT = "not_bought"
    ACTIVE = "active"
    """活跃期: keep a steady rhythm, convey product value, not discount-led."""
    SILENT = "silent"
    """沉默期: keep some contact, start small promotions."""
    SLEEPING = "sleeping"
    """睡眠期: limited contact, bigger promotions to win back; high churn risk."""
    LOST = "lost"
    """流失期: reduce contact, only during major sales."""


RELATIONSHIP_STAGES: tuple[str, ...] = tuple(s.value for s in RelationshipStage)
POST_PURCHASE_STAGES: tuple[str, ...] = tuple(s.value for s in PostPurchaseStage)
#: The post-purchase stages set by a band of a number (all but never bought), in ladder order.
BANDED_STAGES: tuple[str, ...] = POST_PURCHASE_STAGES[1:]

_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
             "ninth", "tenth")  # fmt: skip


def _ordinal(k: int) -> str:
    return _ORDINALS[k - 1] if k <= len(_ORDINALS) else f"{k}th"


def milestone_names(milestones: Sequence[int]) -> tuple[str, ...]:
    """The stages of the milestone ladder: ``"no_purchase"``, then ``"<ordinal>_purchase"``
    per milestone (``(1, 3, 5)`` → first, third and fifth purchase)."""
    return ("no_purchase", *(f"{_ordinal(k)}_purchase" for k in milestones))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _number(value: Any, what: str) -> float:
    if not _is_number(value) or math.isnan(float(value)):
        raise ValidationError(f"{what} must be a number, got {short_repr(value)}")
    return float(value)


# ---------------------------------------------------------------------- thresholds as bands
def _cuts_from_bands(
    value: Any, *, what: str, low: float, high: float, descending: bool
) -> tuple[float, ...]:
    """Three cut points between the four banded post-purchase stages.

    ``value`` is either the cut points themselves, or a mapping of each stage to its
    ``(low, high)`` band. Bands must tile ``[low, high]`` in ladder order (ascending for a
    ratio of time, descending for a probability): no gap, no overlap.
    """
    stages = BANDED_STAGES
    if isinstance(value, Mapping):
        unknown = sorted(str(k) for k in value if k not in stages)
        missing = [s for s in stages if s not in value]
        if unknown or missing:
            raise ValidationError(
                f"{what} needs one band per stage {list(stages)}"
                + (f"; unknown stages {unknown}" if unknown else "")
                + (f"; missing {missing}" if missing else "")
            )
        bands = []
        for stage in stages:
            band = value[stage]
            if (
                not isinstance(band, tuple | list)
                or len(band) != 2
                or not all(_is_number(b) for b in band)
                or any(math.isnan(float(b)) for b in band)
            ):
                raise ValidationError(
                    f"{what}: the band of {stage!r} must be (low, high), got {short_repr(band)}"
                )
            lo, hi = float(band[0]), float(band[1])
            if not lo < hi:
                raise ValidationError(f"{what}: the band of {stage!r} is empty: {lo:g} >= {hi:g}")
            bands.append((lo, hi))
        # ladder order: the first stage holds the low end of a ratio, the high end of a probability
        ordered = bands[::-1] if descending else bands
        names = stages[::-1] if descending else stages
        if ordered[0][0] != low:
            raise ValidationError(
                f"{what}: the bands leave a gap: nothing covers [{low:g}, {ordered[0][0]:g})"
            )
        if ordered[-1][1] != high:
            raise ValidationError(
                f"{what}: the bands leave a gap: nothing covers [{ordered[-1][1]:g}, {high:g}]"
            )
        for (_, a_hi), (b_lo, _), a, b in zip(ordered, ordered[1:], names, names[1:], strict=False):
            if a_hi < b_lo:
                raise ValidationError(
                    f"{what}: the bands leave a gap between {a!r} and {b!r}: "
                    f"nothing covers [{a_hi:g}, {b_lo:g})"
                )
            if a_hi > b_lo:
                raise ValidationError(
                    f"{what}: the bands of {a!r} and {b!r} overlap on [{b_lo:g}, {a_hi:g})"
                )
        cuts = [hi for _, hi in ordered[:-1]]
        return tuple(cuts[::-1] if descending else cuts)
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValidationError(
            f"{what} must be three cut points or a mapping of stage to (low, high), "
            f"got {short_repr(value)}"
        )
    cuts_list = [_number(c, what) for c in value]
    if len(cuts_list) != len(stages) - 1:
        raise ValidationError(
            f"{what} needs {len(stages) - 1} cut points between {list(stages)}, "
            f"got {len(cuts_list)}"
        )
    inside = all(low < c < high for c in cuts_list)
    ordered_ok = all((a > b) if descending else (a < b) for a, b in itertools.pairwise(cuts_list))
    if not inside or not ordered_ok:
        order = "decreasing" if descending else "increasing"
        raise ValidationError(
            f"{what} must be strictly {order} and inside ({low:g}, {high:g}) so that every "
            f"stage has a band of its own (no overlap, no gap), got {cuts_list}"
        )
    return tuple(cuts_list)


def _ratio_cuts(value: Any) -> tuple[float, ...]:
    return _cuts_from_bands(value, what="thresholds", low=0.0, high=math.inf, descending=False)


def _probability_cuts(value: Any) -> tuple[float, ...]:
    return _cuts_from_bands(value, what="thresholds", low=0.0, high=1.0, descending=True)


def _positive(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not _is_number(value) or not 0 < float(value) < math.inf:
        raise ValidationError(
            f"{attribute.name} must be a finite number > 0, got {short_repr(value)}"
        )


def _non_negative(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not _is_number(value) or not 0 <= float(value) < math.inf:
        raise ValidationError(
            f"{attribute.name} must be a finite number >= 0, got {short_repr(value)}"
        )


def _fraction(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not _is_number(value) or not 0 < float(value) < 1:
        raise ValidationError(f"{attribute.name} must lie in (0, 1), got {short_repr(value)}")


def _count(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 2:
        raise ValidationError(f"{attribute.name} must be an int >= 2, got {short_repr(value)}")


def _bands_text(cuts: tuple[float, ...], *, unit: str, descending: bool) -> dict[str, str]:
    """The band of each stage in words, for explanations."""
    if descending:
        edges = (1.0, *cuts, 0.0)
        return {
            s: (f"{unit} >= {edges[i + 1]:g}" if i == 0 else
                f"{unit} < {edges[i]:g}" if i == len(BANDED_STAGES) - 1 else
                f"{edges[i + 1]:g} <= {unit} < {edges[i]:g}")
            for i, s in enumerate(BANDED_STAGES)
        }  # fmt: skip
    edges = (0.0, *cuts, math.inf)
    return {
        s: (f"{unit} < {edges[i + 1]:g}" if i == 0 else
            f"{unit} >= {edges[i]:g}" if i == len(BANDED_STAGES) - 1 else
            f"{edges[i]:g} <= {unit} < {edges[i + 1]:g}")
        for i, s in enumerate(BANDED_STAGES)
    }  # fmt: skip


# ---------------------------------------------------------------------- the ladders' settings
@attrs.frozen
class CadenceLadder:
    """The post-purchase period from the time since the last purchase, in multiples of the
    customer's own rhythm.

    A customer's *cadence* is their typical time between purchases: the mean interval of
    their purchase days, estimated on the log scale and shrunk towards the pool's (empirical
    Bayes). With ``k`` intervals spanning ``S`` days, ``log S - ψ(k)`` estimates the log of the
    mean interval with variance ``ψ'(k)`` (exact for purchases at a steady random rate); the
    pool's prior ``N(μ, τ²)`` over it is learned in ``fit`` from sums over the repeat buyers
    (mergeable across partitions), and each customer's estimate is pulled towards ``μ`` by
    ``ψ'(k) / (ψ'(k) + τ²)``: a lot with two purchases, little with twenty. Customers with a
    single purchase have no rhythm of their own yet and get the pool's, ``exp(μ)`` days.

    The stage follows from ``ratio = days since the last purchase / cadence``.

    Attributes
    ----------
    thresholds : three increasing numbers, or a mapping of stage to (low, high)
        Cut points of the ratio between active | silent | sleeping | lost; the default
        ``(1, 2, 4)`` reads: active until one cadence has passed, silent until two, sleeping
        until four, lost after. Or the bands themselves, e.g. ``{"active": (0, 1), "silent":
        (1, 2), "sleeping": (2, 4), "lost": (4, math.inf)}``; bands must cover ``[0, ∞)``
        without gaps or overlaps.

    Raises
    ------
    ValidationError
        Thresholds that are not increasing, overlap, or leave a gap.
    """

    thresholds: tuple[float, ...] = attrs.field(default=(1.0, 2.0, 4.0), converter=_ratio_cuts)

    method = "cadence"

    def band_texts(self) -> dict[str, str]:
        """Each stage's band of the ratio, in words."""
        return _bands_text(self.thresholds, unit="cadence_ratio", descending=False)


def _time_unit(value: Any) -> str:
    if not isinstance(value, str) or value not in UNIT_DAYS:
        raise ValidationError(
            f"time_unit must be one of {sorted(UNIT_DAYS)} (the unit the model was fitted in), "
            f"got {short_repr(value)}"
        )
    return value


def _model(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not callable(getattr(value, "p_alive", None)):
        raise ValidationError(
            f"model must be a fitted repeat-purchase model with p_alive (BetaGeo, "
            f"ModifiedBetaGeo, ParetoNBD from privdomain.value), got {type(value).__name__}"
        )


@attrs.frozen
class PAliveLadder:
    """The post-purchase period from P(alive) of a fitted repeat-purchase model.

    The model (:class:`~privdomain.value.BetaGeo`, :class:`~privdomain.value.ModifiedBetaGeo`
    or :class:`~privdomain.value.ParetoNBD`) gets each buyer's frequency, recency and age in
    daily purchase periods, expressed in ``time_unit`` (exactly what
    :func:`~privdomain.value.rfm_summary_from_snapshot` gives). On the business day of a
    purchase a customer is active whatever the model says: BG/NBD-type models let a customer
    drop out *at* a purchase, which would make a purchase fail to return them to active.

    ``fit`` checks that the model was fitted in ``time_unit``: it compares the likelihood of
    the snapshot's purchases with the model read in every unit, and refuses a model that fits
    another unit far better (a model fitted in weeks applied to days calls everybody lost).

    Attributes
    ----------
    model : fitted BetaGeo, ModifiedBetaGeo or ParetoNBD
    time_unit : {"h", "D", "W", "M"}, default "D"
        The unit of ``recency`` and ``T`` the model was fitted in.
    thresholds : three decreasing probabilities, or a mapping of stage to (low, high)
        Cut points between active | silent | sleeping | lost, default ``(0.6, 0.35, 0.2)``:
        active at P(alive) >= 60%, silent from 35% to 60% (cooling and at risk), sleeping from
        20% to 35% (highly at risk), lost below 20%. Bands must cover ``[0, 1]``.
    """

    model: Any = attrs.field(validator=_model)
    time_unit: str = attrs.field(default="D", converter=_time_unit)
    thresholds: tuple[float, ...] = attrs.field(
        default=(0.6, 0.35, 0.2), converter=_probability_cuts
    )

    method = "p_alive"

    def band_texts(self) -> dict[str, str]:
        """Each stage's band of P(alive), in words."""
        return _bands_text(self.thresholds, unit="p_alive", descending=True)


@attrs.frozen
class RelationshipLadder:
    """The relationship stage (新用户 → 成长期 → 成熟期 → 衰退期 → 流失期), first match wins:

    ``prospect``
        never bought;
    ``churned``
        lost on the post-purchase ladder (default), or no purchase for more than
        ``churn_days`` days when that is set;
    ``decline``
        at least two purchases, the customer's rhythm says they would make at least
        ``min_expected`` orders in the last ``window_days`` (``expected = window_days /
        cadence``), and they made fewer than ``decline_ratio`` times that, or spent less than
        ``decline_ratio`` times ``expected × their average order value``;
    ``mature``
        at least ``mature_purchases`` purchases (stickiness forms around the fifth [003]) and
        a first purchase at least ``mature_days`` ago;
    ``growth``
        at least two purchases;
    ``new``
        one purchase.

    A customer returns from decline or churned (reactivation) by buying again.

    Raises
    ------
    ValidationError
        A parameter out of its domain.
    """

    mature_purchases: int = attrs.field(default=5, validator=_count)
    mature_days: float = attrs.field(default=60.0, validator=_non_negative)
    window_days: float = attrs.field(default=90.0, validator=_positive)
    decline_ratio: float = attrs.field(default=0.5, validator=_fraction)
    min_expected: float = attrs.field(default=1.0, validator=_positive)
    churn_days: float | None = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        if self.churn_days is not None:
            _positive(self, attrs.fields(RelationshipLadder).churn_days, self.churn_days)


def _milestones(value: Any) -> tuple[int, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise ValidationError(f"milestones must be a non-empty sequence of ints, got {value!r}")
    out = []
    for k in value:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ValidationError(f"milestones must be ints >= 1, got {short_repr(k)}")
        out.append(int(k))
    if any(a >= b for a, b in itertools.pairwise(out)):
        raise ValidationError(f"milestones must be strictly increasing, got {out}")
    return tuple(out)


@attrs.frozen
class MilestoneLadder:
    """Purchase milestones and when a customer counts as stuck before the next one.

    Attributes
    ----------
    milestones : increasing ints, default (1, 3, 5)
        The purchases that are milestones; the stage is the last one reached.
    usual_quantile : float in (0, 1), default 0.8
        A customer is *stuck before milestone k* when the time since their reference day
        (joining, for the first purchase; their first purchase, for later ones) exceeds this
        quantile of the time the customers who reached milestone k took (learned in ``fit``
        with a mergeable sketch).
    """

    milestones: tuple[int, ...] = attrs.field(default=(1, 3, 5), converter=_milestones)
    usual_quantile: float = attrs.field(default=0.8, validator=_fraction)

    @property
    def names(self) -> tuple[str, ...]:
        """The milestone stages, in ladder order."""
        return milestone_names(self.milestones)

    @property
    def progress_names(self) -> tuple[str, ...]:
        """The stages of progress towards the next milestone."""
        return (
            "reached_all",
            "on_track",
            *(f"stuck_before_{_ordinal(k)}_purchase" for k in self.milestones),
        )
