"""Fonts for the charts the library draws (needs ``privdomain[plot]``).

Segment names, stage names and dashboard titles are often Chinese (重要价值客户, 流量池), and
matplotlib's bundled font (DejaVu Sans) has no CJK glyphs: left alone, every such label renders
as empty boxes. Every chart of the library therefore ends with :func:`use_chart_fonts`, which
adds a CJK-capable font *after* each text's own fonts: matplotlib (3.6 and later) takes each
glyph from the first font in the list that has it, so Latin text keeps its look and Chinese text
gets real glyphs.

The CJK font is the first of these that is found:

1. Noto Sans CJK SC from the ``noto-cjk-sans-otc`` package (installed with the ``plot`` extra;
   SIL Open Font License), registered with matplotlib's font manager on first use;
2. an installed system font, in the order of :data:`CJK_FONT_FAMILIES` (Noto Sans CJK SC,
   Source Han Sans SC, WenQuanYi, Microsoft YaHei, PingFang SC, ...).

When neither is there, charts still draw, and matplotlib warns about every missing glyph.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

from privdomain._optional import import_optional

__all__ = ["CJK_FONT_FAMILIES", "cjk_font_family", "new_axes", "use_chart_fonts"]

#: System fonts that cover simplified Chinese, in the order they are tried when the font of the
#: ``plot`` extra is not installed.
CJK_FONT_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Noto Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Heiti SC",
    "SimHei",
    "Noto Sans CJK JP",
    "Arial Unicode MS",
)


@functools.cache
def cjk_font_family() -> str | None:
    """The family name of the CJK font the charts use, or ``None`` when none is available.

    Looked up once per process: the packaged Noto Sans CJK first (registered with matplotlib's
    font manager, which is where matplotlib looks fonts up by name), then
    :data:`CJK_FONT_FAMILIES` among the fonts matplotlib knows.
    """
    font_manager = import_optional("matplotlib.font_manager", extra="plot")
    manager = font_manager.fontManager
    try:
        packaged = importlib.import_module("noto_cjk_sans_otc")
    except ImportError:
        pass
    else:
        path = str(packaged.FONT_PATH)
        if not any(entry.fname == path for entry in manager.ttflist):
            manager.addfont(path)
        # a collection holds one face per region; older matplotlib registers only the first
        names = [str(entry.name) for entry in manager.ttflist if entry.fname == path]
        for name in ("Noto Sans CJK SC", *names):
            if name in names:
                return name
    known = {str(entry.name) for entry in manager.ttflist}
    return next((name for name in CJK_FONT_FAMILIES if name in known), None)


def use_chart_fonts(target: Any) -> Any:
    """Add the CJK font after the fonts of every text of a figure (or of an Axes' figure).

    Tick labels created later (when the figure is drawn or the axes rescaled) get it too.
    Returns ``target``.
    """
    family = cjk_font_family()
    if family is None:
        return target
    figure = target if hasattr(target, "get_axes") else target.figure
    text = import_optional("matplotlib.text", extra="plot")
    for artist in figure.findobj(text.Text):
        fonts = list(artist.get_fontfamily())
        if family not in fonts:
            artist.set_fontfamily([*fonts, family])
    rc = import_optional("matplotlib", extra="plot").rcParams
    for ax in figure.get_axes():
        ax.tick_params(which="both", labelfontfamily=[*rc["font.family"], family])
    return target


def new_axes(figsize: tuple[float, float]) -> Any:
    """One Axes on a new figure that is *not* registered with pyplot (no global state)."""
    figure = import_optional("matplotlib.figure", extra="plot")
    return figure.Figure(figsize=figsize).add_subplot()
