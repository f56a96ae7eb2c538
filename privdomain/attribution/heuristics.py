"""Rule-based multi-touch attribution: first, last, linear, time-decay and position-based.

Each rule gives every touch of a converted journey a weight, the weights of one journey summing
to 1, and a channel's credit is the sum of its touches' weights: the conversions are split, so
the credits sum to :attr:`Journeys.conversions`. The rules are conventions, not estimates: they
say how to share a conversion among the touches that preceded it, not which touches caused it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from privdomain.attribution.credit import ChannelCredit
from privdomain.attribution.journeys import Journeys
from privdomain.errors import ValidationError, short_repr

__all__ = ["first_touch", "last_touch", "linear", "position_based", "time_decay"]


def first_touch(journeys: Journeys) -> ChannelCredit:
    """Every conversion to the first touch of its journey."""
    first = _touch_positions(journeys)[0] == 0
    return _credit(journeys, first.astype(np.float64), "first_touch")


def last_touch(journeys: Journeys) -> ChannelCredit:
    """Every conversion to the last touch of its journey."""
    position, length = _touch_positions(journeys)
    return _credit(journeys, (position == length - 1).astype(np.float64), "last_touch")


def linear(journeys: Journeys) -> ChannelCredit:
    """Every conversion split equally among the touches of its journey."""
    _, length = _touch_positions(journeys)
    return _credit(journeys, 1.0 / np.maximum(length, 1), "linear")


def time_decay(journeys: Journeys, *, half_life_days: float = 7.0) -> ChannelCredit:
    """Every conversion split in proportion to ``2 ** (-age / half_life_days)``: a touch
    ``half_life_days`` older than another weighs half as much."""
    _check_journeys(journeys)
    if isinstance(half_life_days, bool) or not isinstance(half_life_days, int | float):
        raise ValidationError(f"half_life_days must be a number, got {short_repr(half_life_days)}")
    if not 0 < half_life_days < np.inf:
        raise ValidationError(f"half_life_days must be a finite number > 0, got {half_life_days}")
    # ages relative to the journey's newest touch, so that old journeys do not underflow
    newest = np.zeros(len(journeys))
    has = journeys.lengths > 0
    newest[has] = np.minimum.reduceat(journeys.age, journeys.offsets[:-1][has])
    raw = np.exp2(-(journeys.age - newest[journeys.journey_of_touch]) / half_life_days)
    total = np.add.reduceat(raw, journeys.offsets[:-1][has]) if raw.size else np.zeros(0)
    per_journey = np.ones(len(journeys))
    per_journey[has] = total
    weight = raw / per_journey[journeys.journey_of_touch]
    return _credit(journeys, weight, f"time_decay(half_life_days={half_life_days:g})")


def position_based(journeys: Journeys, *, first: float = 0.4, last: float = 0.4) -> ChannelCredit:
    """Every conversion split ``first`` to the first touch, ``last`` to the last and the rest
    equally among the touches between them (the "U-shaped" or 40/20/40 rule).

    A journey of one touch gives it everything; a journey of two touches splits the
    conversion in proportion ``first : last`` (evenly when both are 0).
    """
    _check_journeys(journeys)
    for name, value in (("first", first), ("last", last)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ValidationError(f"{name} must be a number in [0, 1], got {short_repr(value)}")
    if first + last > 1:
        raise ValidationError(f"first + last must be at most 1, got {first + last:g}")
    position, length = _touch_positions(journeys)
    is_first, is_last = position == 0, position == length - 1
    middle = 1.0 - first - last
    weight = np.where(is_first, first, 0.0) + np.where(is_last, last, 0.0)
    weight += np.where(~is_first & ~is_last, middle / np.maximum(length - 2, 1), 0.0)
    # one touch takes everything; two share the middle's part in proportion first : last
    two = length == 2
    ends = first + last
    weight = np.where(length == 1, 1.0, weight)
    # the ends' own shares (each at most ``ends``), so that tiny ``first + last`` cannot overflow
    pair = np.where(is_first, first, last) / ends if ends > 0 else np.full(weight.shape, 0.5)
    weight = np.where(two, pair, weight)
    return _credit(journeys, weight, f"position_based(first={first:g}, last={last:g})")


def _check_journeys(journeys: Any) -> None:
    if not isinstance(journeys, Journeys):
        raise ValidationError(f"attribution takes Journeys, got {short_repr(journeys)}")
    if len(journeys) == 0:
        raise ValidationError("no journeys to attribute")


def _touch_positions(journeys: Journeys) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Position of every touch in its journey, and its journey's length."""
    _check_journeys(journeys)
    j = journeys.journey_of_touch
    position = np.arange(journeys.channel.size, dtype=np.int64) - journeys.offsets[j]
    return position, journeys.lengths[j]


def _credit(journeys: Journeys, weight: NDArray[np.float64], method: str) -> ChannelCredit:
    converted = journeys.converted[journeys.journey_of_touch]
    credit = np.bincount(
        journeys.channel, weights=np.where(converted, weight, 0.0), minlength=journeys.n_channels
    )
    return ChannelCredit(
        method=method,
        channels=journeys.channel_names,
        credit=credit,
        conversions=journeys.conversions,
        unattributed=journeys.unattributed,
    )
