"""Multi-touch channel attribution: which owned channels get the credit for conversions.

- :class:`Journeys` holds the touch paths before each purchase (or before ``as_of`` for those
  that have not converted) as compressed sparse rows, built from a snapshot, an event log or
  plain paths.
- Rules: :func:`first_touch`, :func:`last_touch`, :func:`linear`, :func:`time_decay`,
  :func:`position_based`.
- :func:`markov` credits Markov removal effects of any order, solved exactly as an absorbing
  chain (:func:`transition_counts` gives the chain); :func:`shapley` set-based Shapley values.
- :func:`counterfactual` credits each channel with the conversions a fitted conversion model
  loses without it (or its Shapley value on the model), with bootstrap intervals: the only
  method here that estimates what a channel adds rather than where it is seen.

Every method returns a :class:`ChannelCredit`. Channel attribution is about channels, not about
referrers: who earns commission for an order is :mod:`privdomain.referral`.
"""

from privdomain.attribution.counterfactual import (
    MAX_REPEATS,
    MAX_SHAPLEY_CHANNELS,
    counterfactual,
    path_features,
)
from privdomain.attribution.credit import ChannelCredit
from privdomain.attribution.heuristics import (
    first_touch,
    last_touch,
    linear,
    position_based,
    time_decay,
)
from privdomain.attribution.journeys import DEFAULT_LOOKBACK_DAYS, Journeys
from privdomain.attribution.markov import Transitions, markov, transition_counts
from privdomain.attribution.shapley import MAX_RATE_CHANNELS, coalitions, shapley

__all__ = [
    "DEFAULT_LOOKBACK_DAYS",
    "MAX_RATE_CHANNELS",
    "MAX_REPEATS",
    "MAX_SHAPLEY_CHANNELS",
    "ChannelCredit",
    "Journeys",
    "Transitions",
    "coalitions",
    "counterfactual",
    "first_touch",
    "last_touch",
    "linear",
    "markov",
    "path_features",
    "position_based",
    "shapley",
    "time_decay",
    "transition_counts",
]
