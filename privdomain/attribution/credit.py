"""The result of every attribution method: conversions credited to each channel."""

from __future__ import annotations

import html
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain._optional import import_optional
from privdomain.errors import ValidationError, short_repr
from privdomain.result import shown

__all__ = ["ChannelCredit"]


def _readonly(arr: NDArray[Any]) -> NDArray[Any]:
    arr = np.array(arr, dtype=np.float64)
    arr.flags.writeable = False
    return arr


@attrs.frozen(eq=False, repr=False)
class ChannelCredit:
    """Conversions credited to each channel by one attribution method.

    One entry per channel, in the order of :attr:`channels`. For the path-based methods
    (heuristics, Markov, Shapley) the credits split the journeys' conversions among channels
    and sum to :attr:`conversions`; for the model-based counterfactual method a channel's credit
    is the conversions the fitted model loses without it, which need not sum to anything.

    Attributes
    ----------
    method
        Which method, with its parameters (``"linear"``, ``"markov(order=1)"``, ...).
    channels
        The channel names.
    credit
        Conversions credited to each channel.
    conversions
        Conversions of journeys with at least one touch (what path-based credit splits).
    unattributed
        Conversions of journeys without any touch (credited to no channel).
    lower, upper
        Bootstrap interval of each credit, when the method computes one (else ``None``).
    removal_effect
        Markov: the relative drop of the conversion probability when the channel is removed;
        counterfactual: the conversions lost divided by all conversions (else ``None``).
    lift
        Counterfactual: the conversions the fitted model says the channels add together, the
        sum over the journeys it was fitted on of ``p(x) - p(no channel)`` (else ``None``).
    lift_interval
        Its bootstrap interval, ``(lower, upper)`` (``None`` without resamples).
    notes
        What the reader must know to read the credits (a lift not clearly above zero, journeys
        left out of the fit); :meth:`explain` repeats them.
    """

    method: str
    channels: tuple[str, ...]
    credit: NDArray[np.float64] = attrs.field(converter=_readonly)
    conversions: int
    unattributed: int = 0
    lower: NDArray[np.float64] | None = None
    upper: NDArray[np.float64] | None = None
    removal_effect: NDArray[np.float64] | None = None
    lift: float | None = None
    lift_interval: tuple[float, float] | None = None
    notes: tuple[str, ...] = ()

    @property
    def share(self) -> NDArray[np.float64]:
        """Each channel's share of all credit (zeros when nothing is credited)."""
        total = float(self.credit.sum())
        return self.credit / total if total > 0 else np.zeros_like(self.credit)

    def __getitem__(self, channel: str) -> float:
        return float(self.credit[self._index(channel)])

    def _index(self, channel: Any) -> int:
        name = getattr(channel, "name", channel)
        try:
            return self.channels.index(name)
        except ValueError:
            raise ValidationError(
                f"unknown channel {short_repr(channel)}; the channels are {list(self.channels)}"
            ) from None

    def as_dict(self) -> dict[str, float]:
        """Credit by channel name."""
        return dict(zip(self.channels, self.credit.tolist(), strict=True))

    def ranking(self) -> tuple[str, ...]:
        """Channel names from the most to the least credited (ties by name)."""
        order = sorted(range(len(self.channels)), key=lambda i: (-self.credit[i], self.channels[i]))
        return tuple(self.channels[i] for i in order)

    def columns(self) -> dict[str, NDArray[Any]]:
        """Every per-channel column by name, ``channel`` first."""
        out: dict[str, NDArray[Any]] = {
            "channel": np.array(self.channels, dtype=object),
            "credit": self.credit,
            "share": self.share,
        }
        for name in ("lower", "upper", "removal_effect"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def to_records(self) -> list[dict[str, Any]]:
        """One plain dict per channel."""
        cols = self.columns()
        return [
            {k: (v[i] if k == "channel" else float(v[i])) for k, v in cols.items()}
            for i in range(len(self.channels))
        ]

    def to_frame(self) -> Any:
        """A pandas DataFrame, one row per channel (needs the ``pandas`` extra)."""
        pd = import_optional("pandas", extra="pandas")
        return pd.DataFrame(self.columns())

    def explain(self, channel: Any) -> str:
        """One channel's credit in words."""
        i = self._index(channel)
        text = (
            f"{self.channels[i]}: {shown(float(self.credit[i]))} of {self.conversions} "
            f"conversions ({shown(100 * float(self.share[i]))}% of the credit) by {self.method}"
        )
        if self.lower is not None and self.upper is not None:
            text += f", interval [{shown(float(self.lower[i]))}, {shown(float(self.upper[i]))}]"
        if self.removal_effect is not None:
            text += f", removal effect {shown(float(self.removal_effect[i]))}"
        for note in self.notes:
            text += f"\nNote: {note}"
        return text

    def __repr__(self) -> str:
        rows = ", ".join(
            f"{c}={shown(float(v))}" for c, v in zip(self.channels, self.credit, strict=True)
        )
        return f"ChannelCredit({self.method}: {rows}; conversions={self.conversions})"

    def _repr_html_(self) -> str:
        cols = self.columns()
        head = "".join(f"<th>{html.escape(k)}</th>" for k in cols)
        body = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(v[i]) if k == 'channel' else shown(float(v[i])))}</td>"
                for k, v in cols.items()
            )
            + "</tr>"
            for i in range(len(self.channels))
        )
        title = html.escape(f"ChannelCredit by {self.method}, {self.conversions} conversions")
        return f"<p>{title}</p><table><tr>{head}</tr>{body}</table>"
