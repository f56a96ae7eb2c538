"""Charts (with the plot extra) and the demo section."""

from __future__ import annotations

import pytest

from privdomain.errors import ValidationError
from privdomain.layering import (
    AttributeLayers,
    RFMLayering,
    demo_step,
    plot_rfm_grid,
    plot_segment_sizes,
)

#: What these tests check does not depend on the warnings of learned bands (those have tests of
#: their own in test_rfm_real_data.py).
pytestmark = pytest.mark.filterwarnings("ignore::privdomain.layering.LayeringWarning")


matplotlib = pytest.importorskip("matplotlib")


def test_rfm_grid_heatmap(sim_snapshot) -> None:
    seg = RFMLayering().fit(sim_snapshot).apply(sim_snapshot)
    ax = plot_rfm_grid(seg)
    image = ax.images[0].get_array()
    assert image.shape == (5, 5)
    scored = seg.columns()["r"] > 0
    assert image.sum() == scored.sum()
    assert ax.get_xlabel() == "F score"
    mean_ax = plot_rfm_grid(seg, value="net_spend")
    assert "mean net_spend" in mean_ax.get_title()
    with pytest.raises(ValidationError, match="no column"):
        plot_rfm_grid(seg, value="nope")
    with pytest.raises(ValidationError, match="RFM segmentation"):
        plot_rfm_grid(AttributeLayers().apply(sim_snapshot))


def test_segment_sizes_chart(sim_snapshot) -> None:
    from matplotlib.figure import Figure

    seg = RFMLayering(table="chinese").fit(sim_snapshot).apply(sim_snapshot)
    ax = Figure().add_subplot()
    assert plot_segment_sizes(seg, ax=ax) is ax
    heights = sorted(p.get_width() for p in ax.patches)
    assert heights == sorted(float(c) for c in seg.counts().values())
    assert [t.get_text() for t in ax.get_yticklabels()] == list(seg.names)


def test_demo_step(sim_snapshot) -> None:
    text = demo_step(sim_snapshot)
    assert "RFM, classic 11 segments" in text
    assert "Champions" in text
    assert "重要价值客户" in text
    assert "super users:" in text
    assert "is in segment 'Champions'" in text
    assert text.count("is in segment") >= 3
