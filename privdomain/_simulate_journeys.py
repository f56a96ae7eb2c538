"""Journeys whose channel effects are known: a test bed for channel attribution.

Channels differ in *exposure* (how often a journey touches them: mass messages are everywhere,
one-to-one service is rare) and in *effect* (how much touching them raises the chance to buy),
and the two disagree: which channels add the most conversions is drawn apart from how popular
they are. A journey touches ``1 + Poisson(mean_touches - 1)`` channels drawn by popularity,
spaced by exponential gaps in time, and converts with probability

    sigmoid(base_log_odds + sum of the effects of the distinct channels touched)

so every channel's true incremental conversions are known exactly: for each journey that
touched it, the drop in conversion probability without it.
"""

from __future__ import annotations

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.attribution.journeys import Journeys
from privdomain.domain.channels import OWNED_CHANNELS
from privdomain.errors import ValidationError, short_repr

__all__ = ["MAX_EFFECT", "SimulatedJourneys", "simulate_journeys"]

#: The largest channel effect, in log-odds of converting.
MAX_EFFECT = 1.5


@attrs.frozen(eq=False)
class SimulatedJourneys:
    """Simulated journeys and the truth that generated them.

    Attributes
    ----------
    journeys
        The journeys (converted or not).
    exposure
        Per channel, the probability that a touch is on it (its popularity).
    effect
        Per channel, the log-odds a journey gains by touching it.
    base_log_odds
        Log-odds of converting without any channel.
    true_incremental
        Per channel, the expected conversions it adds: the sum over journeys that touched it of
        P(convert) minus P(convert without it).
    conversion_probability
        Per journey, the true probability to convert.
    """

    journeys: Journeys
    exposure: NDArray[np.float64]
    effect: NDArray[np.float64]
    base_log_odds: float
    true_incremental: NDArray[np.float64]
    conversion_probability: NDArray[np.float64] = attrs.field(repr=False)


def _sigmoid(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float64)


#: Rounds that scale the effects until the channels' true totals follow their levels.
_CALIBRATION_STEPS = 6


def _truth(
    base: float, touched: NDArray[np.bool_], effect: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each journey's conversion probability, and each channel's expected conversions lost
    without it (over the journeys that touched it)."""
    eta = base + touched @ effect
    p = _sigmoid(eta)
    without = _sigmoid(eta[:, None] - effect[None, :])
    return p, ((p[:, None] - without) * touched).sum(axis=0)


def simulate_journeys(
    n_journeys: int = 50_000,
    *,
    n_channels: int = 10,
    mean_touches: float = 3.0,
    base_rate: float = 0.03,
    seed: int | np.random.Generator | None = 0,
) -> SimulatedJourneys:
    """Simulate ``n_journeys`` journeys over the first ``n_channels`` owned channels.

    Popularity falls geometrically with the channel's rank (by 0.8 a step). Each channel's
    total contribution is drawn apart from its popularity, as evenly spaced levels (1 to 3) in a
    seeded random order, and its effect set to about that level divided by its exposure (the
    largest effect :data:`MAX_EFFECT`): rare channels act strongly on the few they reach, popular
    ones weakly on many, and a channel's exposure says nothing about the conversions it adds.
    The effects are then scaled, channel by channel over a few rounds, until the true
    incremental conversions of the journeys drawn follow the levels.

    Raises
    ------
    ValidationError
        ``n_journeys`` not an integer >= 1, ``n_channels`` not in 2..12, ``mean_touches`` < 1,
        ``base_rate`` not in (0, 1).
    """
    if isinstance(n_journeys, bool) or not isinstance(n_journeys, int) or n_journeys < 1:
        raise ValidationError(f"n_journeys must be an integer >= 1, got {short_repr(n_journeys)}")
    if (
        isinstance(n_channels, bool)
        or not isinstance(n_channels, int)
        or not 2 <= n_channels <= len(OWNED_CHANNELS)
    ):
        raise ValidationError(
            f"n_channels must be an integer from 2 to {len(OWNED_CHANNELS)}, "
            f"got {short_repr(n_channels)}"
        )
    if not isinstance(mean_touches, int | float) or not 1 <= mean_touches < 100:
        raise ValidationError(f"mean_touches must be a number in [1, 100), got {mean_touches!r}")
    if not isinstance(base_rate, int | float) or not 0 < base_rate < 1:
        raise ValidationError(f"base_rate must be a number in (0, 1), got {base_rate!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    rank = np.arange(n_channels, dtype=np.float64)
    popularity = 0.8**rank
    exposure = popularity / popularity.sum()
    # how much each channel adds in all is drawn apart from its popularity: evenly spaced
    # levels in a random order; a rare channel reaches that level with a larger effect
    level = rng.permutation(np.linspace(1.0, 3.0, n_channels))
    effect = level * exposure.max() / exposure
    effect *= MAX_EFFECT / effect.max()
    base = float(np.log(base_rate / (1 - base_rate)))

    lengths = 1 + rng.poisson(mean_touches - 1, n_journeys)
    offsets = np.zeros(n_journeys + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    channel = rng.choice(n_channels, size=int(offsets[-1]), p=exposure).astype(np.int32)
    j = np.repeat(np.arange(n_journeys), lengths)
    counts = np.bincount(j * n_channels + channel, minlength=n_journeys * n_channels)
    touched = counts.reshape(n_journeys, n_channels) > 0
    for _ in range(_CALIBRATION_STEPS):  # bring each channel's total in line with its level
        p, true_incremental = _truth(base, touched, effect)
        effect *= (level / level.mean()) / (true_incremental / true_incremental.mean())
        effect *= MAX_EFFECT / effect.max()
    p, true_incremental = _truth(base, touched, effect)
    converted = rng.random(n_journeys) < p
    # gaps between touches: the last touch some hours before the end, earlier ones days before
    gap = rng.exponential(2.0, int(offsets[-1]))
    from_end = np.cumsum(gap[::-1])[::-1]  # suffix sums over all touches ...
    end_of_journey = np.append(from_end, 0.0)[offsets[1:]]
    age = from_end - end_of_journey[j]  # ... minus those of later journeys
    names = tuple(c.name for c in OWNED_CHANNELS[:n_channels])
    journeys = Journeys.from_csr(
        offsets, channel, converted, channels=names, age=age, customer=np.arange(n_journeys)
    )
    return SimulatedJourneys(
        journeys=journeys,
        exposure=exposure,
        effect=effect,
        base_log_odds=base,
        true_incremental=true_incremental,
        conversion_probability=p,
    )
