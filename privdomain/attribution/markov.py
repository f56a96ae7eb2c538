"""Markov-chain attribution: removal effects, solved exactly as an absorbing chain.

The journeys are read as walks of a Markov chain from a *start* state through channel states to
one of two absorbing states, *conversion* or *null* (the journey ended without converting). In
a chain of order ``k`` a state is the tuple of the last (up to) ``k`` channels touched, so that
the next step may depend on the last ``k`` touches. Transition probabilities are the observed
transition counts, row-normalised.

The probability of ending in *conversion* from *start* is the solution of one sparse linear
system of the absorbing chain, ``(I - Q) x = r`` (``Q``: transitions among the transient states,
``r``: transitions into *conversion*). The **removal effect** of a channel is the relative drop of
that probability when every state that contains the channel leads to *null* instead; the
conversions are split among channels in proportion to their removal effects, so the credits sum
to :attr:`Journeys.conversions`. Everything is exact and deterministic: no walk is simulated.

What it estimates: how much of the observed flow of journeys to conversion passes through each
channel. It follows where channels are *seen* on converting paths; it is not the conversions a
channel *causes* (see :func:`~privdomain.attribution.counterfactual`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.attribution.credit import ChannelCredit
from privdomain.attribution.heuristics import _check_journeys
from privdomain.attribution.journeys import Journeys
from privdomain.errors import ValidationError, short_repr

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = ["Transitions", "markov", "transition_counts"]

#: States are encoded as integers in base ``channels + 1``; codes must stay below this.
_MAX_CODE = 1 << 62
#: Up to this many state pairs, transitions are counted with one ``bincount``.
_DENSE_PAIRS = 1 << 22


@attrs.frozen(eq=False)
class Transitions:
    """Transition counts of the Markov chain of some journeys.

    State 0 is *start*, states ``1 .. len(states)`` the channel states, then *conversion* and
    *null* (the two absorbing states).

    Attributes
    ----------
    order
        How many of the last touches a state remembers.
    channel_names
        The channels the journeys range over.
    states
        The channel codes of every channel state, oldest first (tuples of 1 to ``order``
        codes: journeys start with shorter ones).
    contains
        ``(len(states), channels)``: whether each state contains each channel.
    counts
        ``scipy.sparse.csr_matrix`` of transition counts between all states.
    """

    order: int
    channel_names: tuple[str, ...]
    states: tuple[tuple[int, ...], ...]
    contains: NDArray[np.bool_]
    counts: sp.csr_matrix

    @property
    def conversion_state(self) -> int:
        """Index of the *conversion* state."""
        return len(self.states) + 1

    @property
    def null_state(self) -> int:
        """Index of the *null* state."""
        return len(self.states) + 2

    def state_names(self) -> tuple[str, ...]:
        """Every state's name: ``(start)``, ``A > B`` for channel states, ``(conversion)``,
        ``(null)``."""
        inner = tuple(" > ".join(self.channel_names[c] for c in s) for s in self.states)
        return ("(start)", *inner, "(conversion)", "(null)")

    def probabilities(self) -> sp.csr_matrix:
        """Transition probabilities: the counts, row-normalised (absorbing rows stay 0)."""
        import scipy.sparse as sp  # scipy loads on use, not with the package

        totals = np.asarray(self.counts.sum(axis=1)).ravel()
        scale = np.divide(
            1.0, totals, out=np.zeros_like(totals, dtype=np.float64), where=totals > 0
        )
        return sp.csr_matrix(sp.diags(scale) @ self.counts)

    def conversion_probability(self, removed: Any = None) -> float:
        """Probability that a walk from *start* ends in *conversion*, optionally with the
        channels ``removed`` (names or codes) leading to *null*."""
        keep = np.ones(len(self.states) + 1, dtype=bool)
        if removed is not None:
            codes = [self._code(c) for c in np.atleast_1d(np.asarray(removed, dtype=object))]
            keep[1:] = ~self.contains[:, codes].any(axis=1)
        return float(_absorption(self.probabilities(), keep, self.conversion_state))

    def removal_effects(self) -> NDArray[np.float64]:
        """Per channel: ``1 - P(conversion | channel removed) / P(conversion)`` (0 when nothing
        converts)."""
        p = self.probabilities()
        base = _absorption(p, np.ones(len(self.states) + 1, dtype=bool), self.conversion_state)
        effects = np.zeros(len(self.channel_names))
        if base <= 0:
            return effects
        for c in range(len(self.channel_names)):  # one sparse solve per channel, not per journey
            if not self.contains[:, c].any():
                continue
            keep = np.concatenate([[True], ~self.contains[:, c]])
            effects[c] = 1.0 - _absorption(p, keep, self.conversion_state) / base
        return np.clip(effects, 0.0, 1.0)

    def _code(self, channel: Any) -> int:
        name = getattr(channel, "name", channel)
        if isinstance(name, str) and name in self.channel_names:
            return self.channel_names.index(name)
        if isinstance(name, int | np.integer) and 0 <= name < len(self.channel_names):
            return int(name)
        raise ValidationError(
            f"unknown channel {short_repr(channel)}; the channels are {list(self.channel_names)}"
        )


def _absorption(p: sp.csr_matrix, keep: NDArray[np.bool_], target: int) -> float:
    """P(absorbed in ``target`` from state 0) when only the transient states ``keep`` remain
    (the others lead straight to *null*)."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import spsolve

    kept = np.flatnonzero(keep)
    q = p[kept][:, kept]
    r = np.asarray(p[kept, target].todense()).ravel()
    system = sp.csc_matrix(sp.identity(kept.size) - q)
    x = np.atleast_1d(spsolve(system, r))
    return float(x[0])


def transition_counts(journeys: Journeys, *, order: int = 1) -> Transitions:
    """The transition counts of ``journeys`` as a Markov chain of ``order`` (1 to 6).

    Journeys without touches are left out (they never leave *start* through a channel).
    States are numbered with a lookup table (``numpy.unique`` when there are too many possible
    ones) and transitions counted with ``bincount``, over all touches at once.
    """
    import scipy.sparse as sp

    _check_journeys(journeys)
    if isinstance(order, bool) or not isinstance(order, int | np.integer) or not 1 <= order <= 6:
        raise ValidationError(f"order must be an integer from 1 to 6, got {short_repr(order)}")
    base = journeys.n_channels + 1
    if base ** int(order) >= _MAX_CODE:
        raise ValidationError(f"order {order} over {journeys.n_channels} channels is too large")
    n = journeys.channel.size
    has = journeys.lengths > 0
    first = journeys.offsets[:-1][has]  # first and last touch of every journey with touches
    last = journeys.offsets[1:][has] - 1
    code = journeys.channel.astype(np.int64) + 1
    if order > 1:
        position = np.arange(n, dtype=np.int64) - journeys.offsets[journeys.journey_of_touch]
        newest = code
        code = code.copy()
        for lag in range(1, int(order)):  # a loop over the order, never over journeys
            shifted = np.zeros_like(newest)
            shifted[lag:] = newest[:-lag]
            code += np.where(position >= lag, shifted, 0) * base**lag
    distinct, state = _renumber(code, base ** int(order))
    n_states = distinct.size
    conv_state, null_state = n_states + 1, n_states + 2
    size = n_states + 3
    # start -> first state; state -> next state inside a journey; last state -> conv / null
    end = np.where(journeys.converted[has], conv_state, null_state)
    if size * size <= _DENSE_PAIRS:
        # every consecutive pair of touches, those that cross into the next journey sent to a
        # spare bin: cheaper than selecting the pairs inside journeys
        step = state[:-1] * size
        step += state[1:]
        step[first[1:] - 1] = size * size
        flat = np.bincount(step, minlength=size * size + 1)[:-1]
        flat[: n_states + 1] += np.bincount(state[first], minlength=n_states + 1)
        flat += np.bincount(state[last] * size + end, minlength=size * size)
        counts = sp.csr_matrix(flat.reshape(size, size))
    else:
        inner = np.ones(n, dtype=bool)
        inner[first] = False
        inner = inner[1:]
        pairs = (
            (np.zeros(first.size, dtype=np.int64), state[first]),
            (state[:-1][inner], state[1:][inner]),
            (state[last], end),
        )
        frm = np.concatenate([f for f, _ in pairs])
        to = np.concatenate([t for _, t in pairs])
        counts = sp.csr_matrix(
            sp.coo_matrix((np.ones(frm.size, dtype=np.int64), (frm, to)), shape=(size, size))
        )
    digits = (distinct[:, None] // base ** np.arange(order)[None, :]) % base  # newest first
    states = tuple(tuple(int(d) - 1 for d in row[::-1] if d > 0) for row in digits.tolist())
    contains = np.zeros((n_states, journeys.n_channels), dtype=bool)
    rows, lags = np.nonzero(digits > 0)
    contains[rows, digits[rows, lags] - 1] = True
    return Transitions(
        order=int(order),
        channel_names=journeys.channel_names,
        states=states,
        contains=contains,
        counts=counts,
    )


def _renumber(code: NDArray[np.int64], space: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The distinct codes, ascending, and each code's state (1 + its rank; 0 is *start*): by a
    lookup table while the code space is small, by sorting otherwise."""
    if space <= _DENSE_PAIRS:
        present = np.bincount(code, minlength=space + 1) > 0
        distinct = np.flatnonzero(present).astype(np.int64)
        table = np.cumsum(present, dtype=np.int64)  # 1 + rank of every present code
        return distinct, table[code]
    distinct, inverse = np.unique(code, return_inverse=True)
    return distinct.astype(np.int64), inverse.ravel().astype(np.int64) + 1


def markov(journeys: Journeys, *, order: int = 1) -> ChannelCredit:
    """Conversions credited by Markov removal effects (first order by default).

    Each channel gets the journeys' conversions in proportion to its removal effect; the credits
    sum to :attr:`Journeys.conversions` and the removal effects are in
    :attr:`ChannelCredit.removal_effect`. Exact and deterministic (sparse linear solves).

    Raises
    ------
    ValidationError
        Not journeys, no journeys, or an order outside 1..6.
    """
    transitions = transition_counts(journeys, order=order)
    effects = transitions.removal_effects()
    total = float(effects.sum())
    conversions = journeys.conversions
    credit = effects / total * conversions if total > 0 else np.zeros_like(effects)
    return ChannelCredit(
        method=f"markov(order={order})",
        channels=journeys.channel_names,
        credit=credit,
        conversions=conversions,
        unattributed=journeys.unattributed,
        removal_effect=effects,
    )
