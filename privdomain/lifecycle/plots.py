"""Charts of a stage history (needs ``privdomain[plot]``): stage flows and transition heatmaps.

Both functions draw on the ``ax`` you give, or on a new figure that is *not* registered with
pyplot (nothing is shown, no global state is touched), and return the Axes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from privdomain._optional import import_optional
from privdomain._plotting import use_chart_fonts
from privdomain.errors import ValidationError

if TYPE_CHECKING:
    from privdomain.lifecycle.history import StageHistory

__all__ = ["plot_stage_flow", "plot_transition_heatmap"]

#: Colours of the stages, in ladder order (a colour-blind-safe palette).
_COLOURS = ("#bbbbbb", "#4477aa", "#66ccee", "#ccbb44", "#ee6677", "#aa3377", "#228833")


def _axes(ax: Any, figsize: tuple[float, float]) -> Any:
    if ax is not None:
        axes = import_optional("matplotlib.axes", extra="plot")
        if not isinstance(ax, axes.Axes):
            raise ValidationError(f"ax must be a matplotlib Axes, not {type(ax).__name__}")
        return ax
    figure = import_optional("matplotlib.figure", extra="plot")
    return figure.Figure(figsize=figsize).add_subplot()


def _check(history: Any, ladder: str) -> StageHistory:
    from privdomain.lifecycle.history import StageHistory

    if not isinstance(history, StageHistory):
        raise ValidationError(f"expected a StageHistory, got {type(history).__name__}")
    if ladder not in history.codes:
        raise ValidationError(f"the history has no ladder {ladder!r}; it has {list(history.codes)}")
    return history


def plot_stage_flow(history: StageHistory, ladder: str = "post_purchase", *, ax: Any = None) -> Any:
    """Stage sizes at each date as stacked bars, joined by bands whose width is the number of
    customers who moved from one stage to another between consecutive dates (an alluvial
    chart). Customers who joined in between appear in the next bar only.

    Raises
    ------
    ValidationError
        When ``history`` is not a :class:`StageHistory`, has no ``ladder``, or ``ax`` is not a
        matplotlib Axes.
    """
    history = _check(history, ladder)
    patches = import_optional("matplotlib.patches", extra="plot")
    ax = _axes(ax, (max(6.0, 0.25 * len(history.dates)), 4.0))
    names = history.stage_names[ladder]
    k = len(names)
    counts = history.counts(ladder)
    moves = history.transition_matrices(ladder)
    total = max(int(counts.sum(axis=1).max(initial=0)), 1)
    gap = 0.02 * total
    width = 0.3
    # bottom of each stage's bar at each date
    bottoms = np.zeros_like(counts, dtype=np.float64)
    bottoms[:, 1:] = np.cumsum(counts[:, :-1] + gap, axis=1)
    for s in range(counts.shape[0]):
        for i in range(k):
            if counts[s, i]:
                ax.add_patch(
                    patches.Rectangle(
                        (s - width / 2, bottoms[s, i]),
                        width,
                        counts[s, i],
                        color=_COLOURS[i % len(_COLOURS)],
                        label=names[i] if s == 0 else None,
                    )
                )
    for s in range(moves.shape[0]):
        out_at = bottoms[s].copy()
        in_at = bottoms[s + 1].copy()
        in_at += moves[s, k]  # those who joined sit at the bottom of each bar
        for i in range(k):
            for j in range(k):
                n = moves[s, i, j]
                if not n:
                    continue
                x0, x1 = s + width / 2, s + 1 - width / 2
                ax.add_patch(
                    patches.Polygon(
                        [(x0, out_at[i]), (x1, in_at[j]), (x1, in_at[j] + n), (x0, out_at[i] + n)],
                        closed=True,
                        color=_COLOURS[j % len(_COLOURS)],
                        alpha=0.35,
                        linewidth=0,
                    )
                )
                out_at[i] += n
                in_at[j] += n
    ax.set_xlim(-0.5, counts.shape[0] - 0.5)
    ax.set_ylim(0, total + gap * k)
    step = max(1, counts.shape[0] // 8)
    ticks = np.arange(0, counts.shape[0], step)
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(history.dates[t].astype("datetime64[D]")) for t in ticks], rotation=30)
    ax.set_ylabel("customers")
    ax.set_title(f"{ladder.replace('_', '-')} stages over time")
    ax.legend(loc="upper left", fontsize="small", frameon=False)
    return use_chart_fonts(ax)


def plot_transition_heatmap(
    history: StageHistory,
    ladder: str = "post_purchase",
    *,
    step: int | None = None,
    ax: Any = None,
) -> Any:
    """The transition matrix as a heatmap: the share of each stage's customers (rows, plus
    those who joined) found in each stage (columns) at the next date, summed over every step
    or at ``step``; cells are annotated with the share.

    Raises
    ------
    ValidationError
        When ``history`` is not a :class:`StageHistory`, has no ``ladder``, ``step`` is out
        of range, or ``ax`` is not a matplotlib Axes.
    """
    history = _check(history, ladder)
    moves = history.transition_matrices(ladder)
    if step is None:
        matrix = moves.sum(axis=0)
    else:
        if isinstance(step, bool) or not isinstance(step, int | np.integer):
            raise ValidationError(f"step must be an int or None, got {step!r}")
        if not 0 <= step < moves.shape[0]:
            raise ValidationError(f"step must lie in [0, {moves.shape[0]}), got {step}")
        matrix = moves[step]
    names = list(history.stage_names[ladder])
    with np.errstate(invalid="ignore", divide="ignore"):
        share = matrix / matrix.sum(axis=1, keepdims=True)
    ax = _axes(ax, (1.2 * len(names) + 2, 1.0 * len(names) + 1.5))
    image = ax.imshow(np.nan_to_num(share), cmap="Blues", vmin=0, vmax=1)
    for i in range(share.shape[0]):
        for j in range(share.shape[1]):
            if matrix[i, j]:
                colour = "white" if share[i, j] > 0.6 else "black"
                ax.text(j, i, f"{share[i, j]:.0%}", ha="center", va="center", color=colour)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30)
    ax.set_yticks(range(len(names) + 1))
    ax.set_yticklabels([*names, "(joined)"])
    ax.set_xlabel("stage at the next date")
    ax.set_ylabel("stage at a date")
    ax.set_title(f"{ladder.replace('_', '-')} transitions")
    ax.figure.colorbar(image, ax=ax, label="share of the row")
    return use_chart_fonts(ax)
