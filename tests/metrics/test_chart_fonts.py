"""Every chart the library draws has a glyph for every character of its labels.

Two independent checks: drawing on the Agg canvas must not warn (matplotlib warns "Glyph ...
missing from font(s)" for every character it draws as an empty box, and warnings are errors in
this suite), and every character of every text must be in the character map of one of the fonts
matplotlib resolves for that text. A control chart without the library's fonts must fail both,
so the checks can fail.
"""

from __future__ import annotations

import datetime as dt
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

matplotlib = pytest.importorskip("matplotlib")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.font_manager import fontManager  # noqa: E402
from matplotlib.ft2font import FT2Font  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from privdomain._plotting import cjk_font_family, use_chart_fonts  # noqa: E402
from privdomain.layering import RFMLayering, plot_rfm_grid, plot_segment_sizes  # noqa: E402
from privdomain.lifecycle import Lifecycle, stage_history  # noqa: E402
from privdomain.metrics import health  # noqa: E402
from privdomain.simulate import simulate_pool  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::privdomain.layering.LayeringWarning")


def _figure(chart: Any) -> Any:
    return chart if isinstance(chart, Figure) else chart.figure


def draw(chart: Any) -> Any:
    """Draw on Agg; a missing glyph warns, and warnings are errors here."""
    fig = _figure(chart)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FigureCanvasAgg(fig).draw()
    return fig


_CMAPS: dict[tuple[str, int], set[int]] = {}


def _cmap(path: str, index: int) -> set[int]:
    key = (path, index)
    if key not in _CMAPS:
        font = FT2Font(path, face_index=index) if index else FT2Font(path)
        _CMAPS[key] = set(font.get_charmap())
    return _CMAPS[key]


def missing_glyphs(chart: Any) -> list[tuple[str, str]]:
    """(text, character) for every drawn character no resolved font of its text covers."""
    out = []
    for text in _figure(chart).findobj(Text):
        content = text.get_text()
        if not content.strip() or not text.get_visible():
            continue
        fonts = fontManager._find_fonts_by_props(text.get_fontproperties())
        covered: set[int] = set()
        for font in fonts:
            entry = next(
                (e for e in fontManager.ttflist if e.fname == str(font)),
                None,
            )
            covered |= _cmap(str(font), getattr(entry, "index", 0) or 0)
        out += [(content, ch) for ch in content if ch.isprintable() and ord(ch) not in covered]
    return out


@pytest.fixture(scope="module")
def sim() -> Any:
    return simulate_pool(800, seed=4)


@pytest.fixture(scope="module")
def snapshot(sim: Any) -> Any:
    return sim.pool().snapshot(sim.as_of)


def test_a_cjk_font_is_found() -> None:
    assert cjk_font_family() is not None


def test_control_chart_without_the_fonts_fails_both_checks() -> None:
    ax = Figure().add_subplot()
    ax.set_title("重要价值客户")
    assert ("重要价值客户", "重") in missing_glyphs(ax)
    with pytest.raises(UserWarning, match="missing from font"):
        draw(ax)
    use_chart_fonts(ax)
    assert missing_glyphs(ax) == []
    draw(ax)


def test_the_chinese_chart_needs_the_font(snapshot: Any, monkeypatch: Any) -> None:
    import privdomain._plotting

    monkeypatch.setattr(privdomain._plotting, "cjk_font_family", lambda: None)
    seg = RFMLayering(table="chinese").fit(snapshot).apply(snapshot)
    chart = plot_segment_sizes(seg)
    assert missing_glyphs(chart)
    with pytest.raises(UserWarning, match="missing from font"):
        draw(chart)


@pytest.mark.parametrize("table", ["chinese", "classic"])
def test_layering_charts(snapshot: Any, table: str) -> None:
    seg = RFMLayering(table=table).fit(snapshot).apply(snapshot)
    for chart in (plot_segment_sizes(seg), plot_rfm_grid(seg), plot_rfm_grid(seg, value="m")):
        draw(chart)
        assert missing_glyphs(chart) == []


def test_chart_on_the_hosts_axes_keeps_its_fonts(snapshot: Any) -> None:
    seg = RFMLayering(table="chinese").fit(snapshot).apply(snapshot)
    ax = Figure().add_subplot()
    ax.set_xlabel("x", fontfamily="DejaVu Serif")
    plot_segment_sizes(seg, ax=ax)
    draw(ax)
    assert missing_glyphs(ax) == []
    assert ax.title.get_fontfamily()[-1] == cjk_font_family()


def test_lifecycle_charts(sim: Any, snapshot: Any) -> None:
    fitted = Lifecycle().fit(snapshot)
    last = np.datetime64(int(sim.as_of.timestamp() * 1_000_000), "us")
    dates = last - np.arange(5, -1, -1) * np.timedelta64(30, "D")
    history = stage_history(fitted, snapshot, dates)
    for chart in (
        history.plot_flow(),
        history.plot_flow("milestone"),
        history.plot_transitions(),
        history.plot_transitions("relationship"),
    ):
        draw(chart)
        assert missing_glyphs(chart) == []


def test_dashboard(sim: Any, snapshot: Any) -> None:
    report = health(snapshot, start=sim.as_of - dt.timedelta(days=90), spend={"douyin": 1e4})
    fig = report.plot()
    assert isinstance(fig, Figure)
    assert len(fig.axes) >= 6
    draw(fig)
    assert missing_glyphs(fig) == []


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    names=st.lists(
        st.text(
            alphabet=st.sampled_from("重要价值发展保持挽留一般客户新老流失睡眠沉默活跃期超级用户"),
            min_size=1,
            max_size=8,
        ),
        min_size=1,
        max_size=6,
        unique=True,
    )
)
def test_any_chinese_segment_names(names: list[str]) -> None:
    ax = Figure().add_subplot()
    y = np.arange(len(names))
    ax.barh(y, np.arange(1, len(names) + 1))
    ax.set_yticks(y, names)
    ax.set_title(" / ".join(names))
    use_chart_fonts(ax)
    ax.set_xticks([0, 1, 2])  # ticks made after the fonts were set get them too
    draw(ax)
    assert missing_glyphs(ax) == []


def test_every_module_that_draws_is_covered_here() -> None:
    """A new chart module must add the fonts and be drawn by a test of this file."""
    from pathlib import Path

    import privdomain

    root = Path(privdomain.__file__).parent
    drawing = {
        p.relative_to(root).as_posix()
        for p in root.rglob("*.py")
        if '"matplotlib' in p.read_text(encoding="utf-8")
    }
    covered = {"_plotting.py", "layering/plots.py", "lifecycle/plots.py", "metrics/_dashboard.py"}
    assert drawing <= covered | {"metrics/_health.py"}, drawing - covered
    for module in covered - {"_plotting.py"}:
        source = (root / module).read_text(encoding="utf-8")
        # a chart function ends with ``return use_chart_fonts(ax)``, never a bare return
        returns = source.count("\n    return ax\n") + source.count("\n    return fig\n")
        assert "use_chart_fonts" in source, module
        assert returns == 0, f"{module} returns a chart without its fonts"
