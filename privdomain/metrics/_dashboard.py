"""The one-page dashboard of a health report (needs ``privdomain[plot]``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from privdomain._optional import import_optional
from privdomain._plotting import use_chart_fonts
from privdomain.domain.channels import OWNED_CHANNELS
from privdomain.metrics._cohorts import FUNNEL_STAGES
from privdomain.metrics._decomposition import FACTORS

if TYPE_CHECKING:
    from privdomain.metrics._health import HealthReport

__all__ = ["dashboard"]

_BLUE, _GREEN, _RED, _GREY = "#4477aa", "#228833", "#ee6677", "#bbbbbb"


def dashboard(report: HealthReport, *, figsize: tuple[float, float]) -> Any:
    """Six panels on one figure, not registered with pyplot."""
    figure_module = import_optional("matplotlib.figure", extra="plot")
    fig = figure_module.Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(2, 3)
    fig.suptitle(
        f"私域健康 Pool health as of {report.local(report.as_of):%Y-%m-%d %H:%M} "
        f"(window from {report.local(report.start):%Y-%m-%d %H:%M})"
    )
    _arrivals(report, axes[0, 0])
    _reach(report, axes[0, 1])
    _bridge(report, axes[0, 2])
    _funnel(report, axes[1, 0])
    _retention(report, axes[1, 1])
    _kpis(report, axes[1, 2])
    return use_chart_fonts(fig)


def _arrivals(report: HealthReport, ax: Any) -> None:
    sources = report.sources
    names = [c.name.lower() for c in sources][:10]
    counts = list(sources.values())[:10]
    y = np.arange(len(names))[::-1]
    ax.barh(y, counts, color=_BLUE)
    ax.set_yticks(y, names)
    outflow = "n/a" if report.outflow is None else f"{report.outflow:,}"
    ax.set_title(f"流量池 Arrivals by source: in {report.inflow:,}, out {outflow}")
    ax.set_xlabel("customers who joined in the window")


def _reach(report: HealthReport, ax: Any) -> None:
    share = np.nan_to_num(np.array(report.reachable_share, dtype=np.float64))
    names = [c.name.lower() for c in OWNED_CHANNELS]
    y = np.arange(len(names))[::-1]
    ax.barh(y, share, color=_GREEN)
    ax.set_yticks(y, names)
    ax.set_xlim(0, 1)
    ax.set_title(f"多点留存 Reach: {report.multi_channel_share:.0%} on 2+ channels")
    ax.set_xlabel("share of customers reachable")


def _bridge(report: HealthReport, ax: Any) -> None:
    d = report.decomposition()
    steps = list(d.contributions)
    labels = ["previous", *[f.replace("_", " ") for f in FACTORS], "window"]
    bottoms, heights, colours = [0.0], [d.before.revenue], [_GREY]
    level = d.before.revenue
    for step in steps:
        bottoms.append(level if step >= 0 else level + step)
        heights.append(abs(step))
        colours.append(_GREEN if step >= 0 else _RED)
        level += step
    bottoms.append(0.0)
    heights.append(d.after.revenue)
    colours.append(_GREY)
    x = np.arange(len(labels))
    ax.bar(x, heights, bottom=bottoms, color=colours)
    ax.set_xticks(x, labels, rotation=30)
    ax.set_title(f"营收变化 Revenue bridge ({report.currency})")
    ax.axhline(0, color="black", linewidth=0.5)


def _funnel(report: HealthReport, ax: Any) -> None:
    totals = report.funnel.totals()
    x = np.arange(len(FUNNEL_STAGES))
    ax.bar(x, totals, color=_BLUE)
    for xi, v in zip(x.tolist(), totals.tolist(), strict=True):
        ax.text(xi, v, f"{v:,}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, [s.replace("_", " ") for s in FUNNEL_STAGES], rotation=30)
    ax.set_title("公域→私域 Funnel of the window's arrivals")


def _retention(report: HealthReport, ax: Any) -> None:
    grid = report.cohorts.retention()
    ax.imshow(np.ma.masked_invalid(grid), cmap="Blues", vmin=0, vmax=1, aspect="auto")
    months = [str(m) for m in report.cohorts.months]
    step = max(1, len(months) // 6)
    ticks = np.arange(0, len(months), step)
    ax.set_yticks(ticks, [months[t] for t in ticks])
    ax.set_xlabel("months since joining")
    ax.set_ylabel("join month")
    ax.set_title("留存 Cohort retention (share who bought)")


def _kpis(report: HealthReport, ax: Any) -> None:
    ax.axis("off")
    cur = report.currency
    lines = [
        f"客户 customers: {report.customers:,} (reachable {report.reachable:,})",
        f"转化 conversion: {_pct(report.conversion)}",
        f"复购 repurchase rate: {_pct(report.repurchase_rate)}",
        f"客单价 order value: {_num(report.order_value)} {cur}",
        f"CLV: {_num(report.expected_clv)} {cur}",
        f"老带新 referral rate: {_pct(report.referral_rate)}",
        f"KOC: {report.kocs:,}   creators: {report.creators:,}",
        f"超级用户 super users: {report.super_users:,} "
        f"({_pct(report.super_user_revenue_share)} of revenue)",
    ]
    ax.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", fontsize=10, linespacing=1.6)
    ax.set_title("关键指标 KPIs")


def _pct(value: float) -> str:
    return "n/a" if value != value else f"{value:.1%}"


def _num(value: float) -> str:
    return "n/a" if value != value else f"{value:,.2f}"
