"""Charts of a layering (needs ``privdomain[plot]``): the RFM grid and segment sizes.

Both functions draw on the ``ax`` you give, or on a new figure that is *not* registered with
pyplot (nothing is shown, no global state is touched), and return the Axes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from privdomain._optional import import_optional
from privdomain._plotting import use_chart_fonts
from privdomain.domain.segment import short_repr
from privdomain.errors import ValidationError
from privdomain.layering._result import Segmentation

__all__ = ["plot_rfm_grid", "plot_segment_sizes"]


def _axes(ax: Any, figsize: tuple[float, float]) -> Any:
    if ax is not None:
        axes = import_optional("matplotlib.axes", extra="plot")
        if not isinstance(ax, axes.Axes):
            raise ValidationError(f"ax must be a matplotlib Axes, not {type(ax).__name__}")
        return ax
    figure = import_optional("matplotlib.figure", extra="plot")
    return figure.Figure(figsize=figsize).add_subplot()


def _check(segmentation: Any, function: str) -> Segmentation:
    if not isinstance(segmentation, Segmentation):
        raise ValidationError(
            f"{function}() takes a Segmentation (the result of a layering), "
            f"not {type(segmentation).__name__}"
        )
    return segmentation


def plot_rfm_grid(segmentation: Segmentation, *, value: str | None = None, ax: Any = None) -> Any:
    """Heatmap of the R × F score grid: customers per cell, or the mean of ``value``.

    Parameters
    ----------
    segmentation
        An RFM result (it has the ``r`` and ``f`` columns).
    value
        A column of the result to average per cell (e.g. ``"net_spend"``); default: counts.
    ax
        A matplotlib Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValidationError
        When ``segmentation`` is not an RFM result, ``value`` not one of its numeric columns,
        or ``ax`` not a matplotlib Axes.
    """
    cols = _check(segmentation, "plot_rfm_grid").columns()
    if "r" not in cols or "f" not in cols:
        raise ValidationError("plot_rfm_grid needs an RFM segmentation (columns 'r' and 'f')")
    if value is not None:
        if not isinstance(value, str) or value not in cols:
            raise ValidationError(f"no column {short_repr(value)}; have {sorted(cols)}")
        if cols[value].dtype.kind not in "biuf":
            raise ValidationError(f"column {value!r} is not numeric: it has no mean")
    r = cols["r"].astype(np.int64)
    f = cols["f"].astype(np.int64)
    scored = (r > 0) & (f > 0)
    k = int(max(r.max(initial=1), f.max(initial=1)))
    flat = (r[scored] - 1) * k + (f[scored] - 1)
    counts = np.bincount(flat, minlength=k * k).reshape(k, k).astype(np.float64)
    if value is None:
        grid, label = counts, "customers"
    else:
        sums = np.bincount(flat, cols[value][scored].astype(np.float64), minlength=k * k)
        with np.errstate(invalid="ignore", divide="ignore"):
            grid = sums.reshape(k, k) / counts
        label = f"mean {value}"
    ax = _axes(ax, (5.5, 4.5))
    image = ax.imshow(grid, origin="lower", cmap="viridis", aspect="auto")
    ax.set_xticks(range(k), [str(i) for i in range(1, k + 1)])
    ax.set_yticks(range(k), [str(i) for i in range(1, k + 1)])
    ax.set_xlabel("F score")
    ax.set_ylabel("R score")
    ax.set_title(f"RFM grid: {label}")
    for i in range(k):
        for j in range(k):
            if counts[i, j]:
                ax.text(j, i, f"{grid[i, j]:.3g}", ha="center", va="center", color="w", fontsize=8)
    ax.figure.colorbar(image, ax=ax, label=label)
    return use_chart_fonts(ax)


def plot_segment_sizes(segmentation: Segmentation, *, ax: Any = None) -> Any:
    """Horizontal bars: customers per segment, in segment order, with their shares.

    Raises
    ------
    ValidationError
        When ``segmentation`` is not a Segmentation or ``ax`` not a matplotlib Axes.
    """
    counts = _check(segmentation, "plot_segment_sizes").counts()
    names = list(counts)
    sizes = np.array(list(counts.values()), dtype=np.float64)
    total = max(sizes.sum(), 1.0)
    ax = _axes(ax, (6.5, 0.4 * len(names) + 1.2))
    y = np.arange(len(names))[::-1]
    ax.barh(y, sizes, color="tab:blue")
    ax.set_yticks(y, names)
    for yi, size in zip(y.tolist(), sizes.tolist(), strict=True):
        ax.text(size, yi, f" {int(size):,} ({size / total:.1%})", va="center", fontsize=8)
    ax.set_xlabel("customers")
    ax.set_title(f"Segment sizes: {segmentation.strategy}")
    ax.set_xlim(0, sizes.max(initial=1.0) * 1.3 or 1.0)
    return use_chart_fonts(ax)
