"""Set-based Shapley attribution: channels as players, journeys' channel sets as coalitions.

Each journey's *coalition* is the set of channels it touched (order and repeats ignored). The
value of a set of channels ``S`` is read from the journeys whose coalition lies inside ``S``:

- ``value="conversions"``: how many of them converted (an additive game: its Shapley value is
  exact in closed form, each converting coalition's conversions shared equally among its
  members — the Harsanyi dividends of the game);
- ``value="rate"``: their conversion rate (computed over every subset of the channels with a
  subset-sum transform, so at most :data:`MAX_RATE_CHANNELS` channels).

The Shapley values are then scaled to the journeys' conversions, so the credits sum to
:attr:`Journeys.conversions`: both games give the whole set of channels a positive value as
soon as one journey with a touch converted (and every credit is zero when none did). In the
rate game a single channel's credit can be negative: journeys that add it convert less often
than journeys without it. ``max_coalition_size`` caps coalitions as the open tools do: a
journey that touched more channels keeps only its most recent ``max_coalition_size`` distinct
ones.

What it estimates: a fair split of the observed conversions among channels that appear together
— correlational, like every path-based method: a channel that is everywhere on converting
journeys gets credit whether or not it made anyone buy.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from privdomain.attribution.credit import ChannelCredit
from privdomain.attribution.heuristics import _check_journeys
from privdomain.attribution.journeys import Journeys
from privdomain.errors import ValidationError, short_repr

__all__ = ["MAX_RATE_CHANNELS", "coalitions", "shapley"]

#: ``value="rate"`` evaluates all 2**n sets of channels; n is at most this.
MAX_RATE_CHANNELS = 20


def coalitions(journeys: Journeys, *, max_coalition_size: int | None = None) -> NDArray[np.int64]:
    """The set of channels of every journey as a bit mask (bit ``c`` for channel code ``c``),
    keeping the most recent ``max_coalition_size`` distinct channels when capped."""
    _check_journeys(journeys)
    if journeys.n_channels > 62:
        raise ValidationError("set-based Shapley handles at most 62 channels")
    if max_coalition_size is not None and (
        isinstance(max_coalition_size, bool)
        or not isinstance(max_coalition_size, int)
        or max_coalition_size < 1
    ):
        raise ValidationError(
            f"max_coalition_size must be an integer >= 1 or None, got "
            f"{short_repr(max_coalition_size)}"
        )
    channel = journeys.channel.astype(np.int64)
    j = journeys.journey_of_touch
    keep = np.ones(channel.size, dtype=bool)
    if max_coalition_size is not None and channel.size:
        # rank each (journey, channel) by its last touch, newest first; keep the first k
        last = np.zeros(channel.size, dtype=bool)
        key = j * journeys.n_channels + channel
        order = np.lexsort((-np.arange(channel.size), key))  # per key, the newest touch first
        first_of_key = np.ones(order.size, dtype=bool)
        first_of_key[1:] = key[order][1:] != key[order][:-1]
        last[order[first_of_key]] = True
        idx = np.flatnonzero(last)
        # among the newest touches of each distinct channel: count from the journey's end
        rev = idx[::-1]
        jr = j[rev]
        start = np.ones(rev.size, dtype=bool)
        start[1:] = jr[1:] != jr[:-1]
        rank = np.arange(rev.size) - np.maximum.accumulate(np.where(start, np.arange(rev.size), 0))
        keep[:] = False
        keep[rev[rank < max_coalition_size]] = True
    mask = np.zeros(len(journeys), dtype=np.int64)
    np.bitwise_or.at(mask, j[keep], np.left_shift(np.int64(1), channel[keep]))
    return mask


def shapley(
    journeys: Journeys,
    *,
    value: Literal["conversions", "rate"] = "conversions",
    max_coalition_size: int | None = None,
) -> ChannelCredit:
    """Conversions credited by set-based Shapley values (see the module for the two games).

    Raises
    ------
    ValidationError
        Not journeys, no journeys, an unknown ``value``, a bad cap, or more than
        :data:`MAX_RATE_CHANNELS` channels for ``value="rate"``.
    """
    if value not in ("conversions", "rate"):
        raise ValidationError(f"value must be 'conversions' or 'rate', got {short_repr(value)}")
    mask = coalitions(journeys, max_coalition_size=max_coalition_size)
    n = journeys.n_channels
    conversions = journeys.conversions
    has = mask != 0
    if value == "conversions":
        phi = _dividend_shares(mask[has & journeys.converted], n)
    else:
        if n > MAX_RATE_CHANNELS:
            raise ValidationError(
                f"value='rate' evaluates every set of channels: at most {MAX_RATE_CHANNELS} "
                f"channels, got {n}"
            )
        phi = _rate_shapley(mask[has], journeys.converted[has], n)
    # efficiency: phi sums to v(all channels) - v(no channel), which is > 0 exactly when some
    # journey with a touch converted (conversions > 0)
    total = float(phi.sum())
    credit = phi / total * conversions if total > 0 else np.zeros(n)
    cap = "" if max_coalition_size is None else f", max_coalition_size={max_coalition_size}"
    return ChannelCredit(
        method=f"shapley(value={value!r}{cap})",
        channels=journeys.channel_names,
        credit=credit,
        conversions=conversions,
        unattributed=journeys.unattributed,
    )


def _bits(mask: NDArray[np.int64], n: int) -> NDArray[np.bool_]:
    return ((mask[:, None] >> np.arange(n, dtype=np.int64)[None, :]) & 1).astype(bool)


def _dividend_shares(converted_masks: NDArray[np.int64], n: int) -> NDArray[np.float64]:
    """Shapley value of the game v(S) = #converted coalitions inside S: each coalition's
    conversions split equally among its members."""
    distinct, count = np.unique(converted_masks, return_counts=True)
    bits = _bits(distinct, n)
    size = bits.sum(axis=1)
    return np.asarray((bits * (count / size)[:, None]).sum(axis=0), dtype=np.float64)


def _rate_shapley(
    masks: NDArray[np.int64], converted: NDArray[np.bool_], n: int
) -> NDArray[np.float64]:
    """Shapley value of v(S) = conversion rate of the journeys whose coalition lies in S."""
    full = 1 << n
    journeys = np.bincount(masks, minlength=full).astype(np.float64)
    wins = np.bincount(masks, weights=converted.astype(np.float64), minlength=full)
    for i in range(n):  # subset-sum (zeta) transform, one pass per channel
        for table in (journeys, wins):
            view = table.reshape(-1, 2, 1 << i)
            view[:, 1, :] += view[:, 0, :]
    v = np.divide(wins, journeys, out=np.zeros(full), where=journeys > 0)
    sizes = np.bitwise_count(np.arange(full, dtype=np.int64)) if full else np.zeros(0)
    weight = np.array(
        [math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)]
    )
    phi = np.zeros(n)
    for i in range(n):
        without = v.reshape(-1, 2, 1 << i)[:, 0, :].ravel()
        with_i = v.reshape(-1, 2, 1 << i)[:, 1, :].ravel()
        s = sizes.reshape(-1, 2, 1 << i)[:, 0, :].ravel()
        phi[i] = float((weight[s] * (with_i - without)).sum())
    return phi
