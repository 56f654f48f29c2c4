"""``mlkube plan --format html``: one self-contained page a person would rather look at
than read: a summary of each Platform side by side, queue wait CDFs per team, GPU
utilisation over time per pool and the cost of each. Plots are inline SVG drawn here
(no script, font or network; docs/decisions.md says why no plotting library). Every
what-if shares its axes with the others, so the plots compare at a glance. Every text
taken from the input (platform, team, queue and pool names) goes through ``escape``."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from html import escape

from mlkube.plan.types import GroupResult, JobResult, PlanResult

# Tableau 10: distinct in colour and in lightness (it survives a grey printer)
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip
W, H = 460, 250  # one plot
M_LEFT, M_RIGHT, M_TOP, M_BOTTOM = 52, 14, 14, 40
MAX_POINTS = 600  # a curve is drawn with at most this many steps
FRACTIONS = [0.0, 0.25, 0.5, 0.75, 1.0]
WAIT_TICKS = [1.0, 10.0, 60.0, 600.0, 3600.0, 6 * 3600.0, 86400.0, 7 * 86400.0, 30 * 86400.0]

CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#222;
margin:24px auto;max-width:1500px;padding:0 20px;background:#fafafa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 4px}
.sub{color:#666;margin:0 0 12px}
.grid{display:grid;gap:14px}
figure svg{width:100%;height:auto;display:block}
figure{margin:0;background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:10px 12px}
figcaption{font-weight:600;margin-bottom:4px}
table{border-collapse:collapse;background:#fff;border:1px solid #e3e3e3}
th,td{padding:5px 12px;text-align:right;border-bottom:1px solid #eee;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
thead th{background:#f2f2f2}
td.best{font-weight:700;color:#1a7f37}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12.5px;color:#444;margin-top:4px}
.key{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;
vertical-align:-1px}
svg text{font:11px system-ui,sans-serif;fill:#555}
svg text.label{font-size:12px;font-weight:600;fill:#111;paint-order:stroke;stroke:#fff;
stroke-width:3px;stroke-linejoin:round}
figure{overflow-x:auto}figure svg.wide{max-width:900px}
figure table{width:100%;border:0;font-size:12px}figure th,figure td{padding:3px 5px}
th.group{text-align:left;color:#666;font-weight:600;background:#fff}
"""


def render(results: list[PlanResult]) -> str:
    """The report of ``results`` (the Platform first, then each what-if) as one page."""
    names = ", ".join(escape(r.platform) for r in results) or "no platform"
    teams = _colours(t.name for r in results for t in r.teams)
    pools = _colours(p.name for r in results for p in r.pools)
    max_wait = max((j.wait or 0.0 for r in results for j in r.jobs), default=0.0)
    span = max((r.span for r in results), default=0.0)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>mlkube plan: {names}</title><style>{CSS}</style></head><body>",
        "<h1>mlkube plan</h1>",
        f'<p class="sub">{len(results)} platform(s) on the same trace: {names}</p>',
        '<section id="summary"><h2>Summary</h2>',
        _summary(results),
        "</section>",
        '<section id="wait"><h2>Queue wait per team</h2>',
        '<p class="sub">Share of each team\'s jobs admitted within a given wait '
        "(higher and further left is better; a curve below 100 % has jobs never admitted)</p>",
        _grid((_wait_figure(r, teams, max_wait) for r in results), len(results)),
        "</section>",
        '<section id="utilisation"><h2>GPU utilisation per pool</h2>',
        '<p class="sub">Share of each pool\'s GPUs held by admitted jobs over the trace</p>',
        _grid((_utilisation_figure(r, pools, span) for r in results), len(results)),
        "</section>",
        '<section id="cost"><h2>Cost</h2>',
        '<p class="sub">Capacity paid for, per pool; the hatched part paid for work lost to '
        "preemptions and spot reclaims</p>",
        _unpriced(results),
        _grid([_cost_figure(results, pools)]),
        "</section>",
        '<section id="queues"><h2>Queues and teams</h2>',
        _grid((_groups_figure(r) for r in results), len(results)),
        "</section>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


# --- summary -----------------------------------------------------------------------


def _summary(results: list[PlanResult]) -> str:
    rows: list[tuple[str, Callable[[PlanResult], float | None], Callable[[float], str], int]] = [
        # label, value, format, +1: higher is better, -1: lower is better, 0: neither
        ("jobs", lambda r: float(len(r.jobs)), _int, 0),
        ("finished", lambda r: float(sum(j.finished is not None for j in r.jobs)), _int, 1),
        ("wait p50", lambda r: _percentile(_waits(r.jobs), 50), _duration, -1),
        ("wait p95", lambda r: _percentile(_waits(r.jobs), 95), _duration, -1),
        ("GPU utilisation", _utilisation, _percent, 1),
        ("idle GPU-hours", lambda r: sum(p.idle_gpu_hours for p in r.pools), _hours, -1),
        ("preemptions", lambda r: float(sum(len(j.preemptions) for j in r.jobs)), _int, -1),
        ("lost GPU-hours", lambda r: sum(j.lost_gpu_hours for j in r.jobs), _hours, -1),
        ("cost", lambda r: r.cost.total, lambda v: _money(v, results), -1),
        ("of which lost work", lambda r: r.cost.lost_work, lambda v: _money(v, results), -1),
        ("simulated span", lambda r: r.span, _duration, 0),
    ]
    head = "".join(f"<th>{escape(r.platform)}</th>" for r in results)
    body = []
    for label, value, fmt, better in rows:
        values = [value(r) for r in results]
        known = [v for v in values if v is not None]
        best = (max if better > 0 else min)(known) if better and len(known) > 1 else None
        if best is not None and all(v == best for v in known):
            best = None  # a tie says nothing
        cells = "".join(
            f"<td{' class=best' if v is not None and v == best else ''}>"
            f"{'–' if v is None else fmt(v)}</td>"
            for v in values
        )
        body.append(f"<tr><th>{label}</th>{cells}</tr>")
    return f"<table><thead><tr><th></th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _utilisation(r: PlanResult) -> float | None:
    gpus = sum(p.gpus for p in r.pools)
    return sum(p.average_utilisation * p.gpus for p in r.pools) / gpus if gpus else None


def _unpriced(results: list[PlanResult]) -> str:
    """A note on the platforms costed without prices (``prices_given`` is newer than
    the report: read it where it exists)."""
    names = [escape(r.platform) for r in results if not getattr(r.cost, "prices_given", True)]
    if not names:
        return ""
    return (
        f'<p class="sub">No prices were given for {", ".join(names)}: costs are 0'
        " (give them in the Platform or with --prices)</p>"
    )


# --- plots -------------------------------------------------------------------------


def _wait_figure(r: PlanResult, colours: dict[str, str], max_wait: float) -> str:
    by_team: dict[str, list[JobResult]] = {}
    for j in r.jobs:
        by_team.setdefault(j.team, []).append(j)
    # waits are heavy-tailed (most jobs start at once, a few wait for hours): a log axis
    x_ticks = [t for t in WAIT_TICKS if t < max(max_wait, 60.0) * 1.5]
    x_max = max(x_ticks[-1], max_wait, 60.0)
    plot = _Plot(x_max, 1.0, log=True)
    lines = []
    for team in sorted(by_team):
        jobs = by_team[team]
        waits = sorted(_waits(jobs))
        points = [(0.0, 0.0)] + [(w, (i + 1) / len(jobs)) for i, w in enumerate(waits)]
        if len(points) > MAX_POINTS:
            step = len(points) / MAX_POINTS
            points = [points[int(i * step)] for i in range(MAX_POINTS)] + [points[-1]]
        points.append((x_max, points[-1][1]))
        tip = f"{team}: {len(waits)} of {len(jobs)} admitted, p50 {_fmt(_percentile(waits, 50))}"
        lines.append(plot.steps(points, colours[team], tip))
    body = plot.axes(x_ticks, _wait_tick, FRACTIONS, _percent, "wait (log scale)")
    legend = [(t, colours[t], f"{t} ({len(by_team[t])})") for t in sorted(by_team)]
    return _figure(r.platform, plot.svg(body + "".join(lines), "queue wait CDF"), legend)


def _utilisation_figure(r: PlanResult, colours: dict[str, str], span: float) -> str:
    """A band per pool (small multiples: overlapping lines of busy pools read as noise),
    the share of its GPUs in use filled, on one time axis shared by every what-if."""
    x_max, x_ticks = _axis(span if span > 0 else 1.0)
    band, gap, label = 50, 8, 18
    height = M_TOP + max(1, len(r.pools)) * (label + band + gap) + M_BOTTOM - gap
    plot = _Plot(x_max, 1.0, height=height)
    out = []
    for i, pool in enumerate(r.pools):
        top = M_TOP + i * (label + band + gap) + label
        bottom = top + band
        colour = colours[pool.name]
        points = _resample(pool.utilisation, x_max)

        def y(v: float, top: int = top) -> float:
            return top + band * (1 - min(max(v, 0.0), 1.0))

        d = [f"M{plot.x(0):.1f},{bottom}"]
        for k, (t, v) in enumerate(points):
            if k:
                d.append(f"H{plot.x(t):.1f}")
            d.append(f"V{y(v):.1f}")
        d.append(f"V{bottom}Z")
        tip = f"{pool.name}: {pool.gpus} GPUs, {_percent(pool.average_utilisation)} on average"
        out.append(
            f'<rect x="{M_LEFT}" y="{top}" width="{W - M_LEFT - M_RIGHT}" height="{band}" '
            'fill="#f6f6f6"/>'
            f'<g><title>{escape(tip)}</title><path d="{"".join(d)}" fill="{colour}" '
            f'fill-opacity="0.75" stroke="{colour}" stroke-width="1"/></g>'
            f'<line x1="{M_LEFT}" y1="{y(pool.average_utilisation):.1f}" x2="{W - M_RIGHT}" '
            f'y2="{y(pool.average_utilisation):.1f}" stroke="#222" stroke-dasharray="4 3"/>'
            f'<text x="{M_LEFT - 6}" y="{top + 9}" text-anchor="end">100 %</text>'
            f'<text x="{M_LEFT - 6}" y="{bottom}" text-anchor="end">0</text>'
            f'<text x="{M_LEFT}" y="{top - 5}" class="label">'
            f"{escape(pool.name)}{' (spot)' if pool.spot else ''} · "
            f"{pool.gpus} GPUs · {_percent(pool.average_utilisation)} on average</text>"
        )
    if not r.pools:
        out.append(f'<text x="{W / 2}" y="{M_TOP + 30}" text-anchor="middle">no pools</text>')
    body = plot.axes(x_ticks, _tick_format(x_max), [], _percent, "time")
    return _figure(r.platform, plot.svg("".join(out) + body, "GPU utilisation per pool"), [])


def _cost_figure(results: list[PlanResult], colours: dict[str, str]) -> str:
    """One horizontal bar per platform, a segment per pool, lost work hatched."""
    label_w, bar_h, gap = 170, 26, 14
    width = 900
    height = M_TOP + len(results) * (bar_h + gap) + M_BOTTOM
    total, ticks = _axis(max((r.cost.total for r in results), default=0.0) or 1.0, time=False)
    scale = (width - label_w - M_RIGHT - 70) / total
    out = [
        '<defs><pattern id="lost" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="3" height="6" fill="#fff" '
        'fill-opacity="0.55"/></pattern></defs>'
    ]
    base = M_TOP + len(results) * (bar_h + gap)
    for t in ticks:
        x = label_w + t * scale
        out.append(f'<line x1="{x:.1f}" y1="{M_TOP}" x2="{x:.1f}" y2="{base}" stroke="#eee"/>')
        out.append(
            f'<text x="{x:.1f}" y="{base + 16}" text-anchor="middle">'
            f"{_money(t, results, whole=True)}</text>"
        )
    for i, r in enumerate(results):
        y = M_TOP + i * (bar_h + gap)
        out.append(
            f'<text x="{label_w - 8}" y="{y + bar_h / 2 + 4:.1f}" text-anchor="end" '
            f'style="font-size:12.5px;fill:#222">{escape(_clip(r.platform, 26))}</text>'
        )
        x = float(label_w)
        for pc in r.cost.pools:
            w = pc.cost * scale
            tip = (
                f"{pc.pool}: {_money(pc.cost, results)} ({_hours(pc.gpu_hours)} GPU-hours at "
                f"{_money(pc.price, results)}), lost work {_money(pc.lost_work_cost, results)}"
            )
            colour = colours.get(pc.pool, "#999")
            out.append(
                f'<g><title>{escape(tip)}</title><rect x="{x:.1f}" y="{y}" width="{w:.1f}" '
                f'height="{bar_h}" fill="{colour}" stroke="#fff"/>'
            )
            lost = min(pc.lost_work_cost, pc.cost) * scale
            if lost > 0:
                out.append(
                    f'<rect x="{x + w - lost:.1f}" y="{y}" width="{lost:.1f}" '
                    f'height="{bar_h}" fill="url(#lost)"/>'
                )
            out.append("</g>")
            x += w
        out.append(
            f'<text x="{x + 6:.1f}" y="{y + bar_h / 2 + 4:.1f}" '
            f'style="font-size:12.5px;fill:#222;font-weight:600">'
            f"{_money(r.cost.total, results)}</text>"
        )
    pools = sorted({pc.pool for r in results for pc in r.cost.pools})
    legend = [(p, colours.get(p, "#999"), p) for p in pools]
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        'class="wide" role="img" aria-label="cost per platform">'
        f"{''.join(out)}</svg>"
    )
    return _figure("cost per platform", svg, legend)


def _groups_figure(r: PlanResult) -> str:
    def rows(groups: Sequence[GroupResult], kind: str) -> str:
        head = f'<tr><th colspan="8" class="group">{kind}</th></tr>' if groups else ""
        return head + "".join(
            f"<tr><td>{escape(g.name)}</td><td>{g.jobs}</td>"
            f"<td>{_fmt(g.wait.p50)}</td><td>{_fmt(g.wait.p95)}</td><td>{_fmt(g.wait.max)}</td>"
            f"<td>{_hours(g.admitted_gpu_hours)}</td><td>{_hours(g.borrowed_gpu_hours)}</td>"
            f"<td>{g.preemptions}</td></tr>"
            for g in groups
        )

    table = (
        "<table><thead><tr><th></th><th>jobs</th><th>wait p50</th><th>p95</th><th>max</th>"
        "<th>GPU-h</th><th>borrowed</th><th>preempt.</th></tr></thead><tbody>"
        f"{rows(r.queues, 'queues')}{rows(r.teams, 'teams')}</tbody></table>"
    )
    return _figure(r.platform, table, [])


class _Plot:
    """Data coordinates (0..x_max, 0..y_max) onto one W x H plot."""

    def __init__(self, x_max: float, y_max: float, height: int = H, *, log: bool = False) -> None:
        self.x_max, self.y_max, self.height = x_max or 1.0, y_max or 1.0, height
        self.log = log  # x from 1 to x_max on a log scale; below 1 at the left edge

    def x(self, v: float) -> float:
        if self.log:
            share = math.log10(max(1.0, min(v, self.x_max))) / math.log10(max(self.x_max, 10.0))
        else:
            share = min(v, self.x_max) / self.x_max
        return M_LEFT + (W - M_LEFT - M_RIGHT) * share

    def y(self, v: float) -> float:
        h = self.height
        return h - M_BOTTOM - (h - M_TOP - M_BOTTOM) * min(v, self.y_max) / self.y_max

    def axes(
        self,
        xs: list[float],
        x_fmt: Callable[[float], str],
        ys: list[float],
        y_fmt: Callable[[float], str],
        x_label: str,
    ) -> str:
        out = []
        for v in ys:
            y = self.y(v)
            out.append(f'<line x1="{M_LEFT}" y1="{y:.1f}" x2="{W - M_RIGHT}" y2="{y:.1f}" '
                       'stroke="#eee"/>')  # fmt: skip
            out.append(
                f'<text x="{M_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{y_fmt(v)}</text>'
            )
        for v in xs:
            x = self.x(v)
            out.append(f'<line x1="{x:.1f}" y1="{self.height - M_BOTTOM}" x2="{x:.1f}" '
                       f'y2="{self.height - M_BOTTOM + 4}" stroke="#999"/>')  # fmt: skip
            out.append(f'<text x="{x:.1f}" y="{self.height - M_BOTTOM + 16}" text-anchor="middle">'
                       f"{x_fmt(v)}</text>")  # fmt: skip
        out.append(f'<line x1="{M_LEFT}" y1="{self.height - M_BOTTOM}" x2="{W - M_RIGHT}" '
                   f'y2="{self.height - M_BOTTOM}" stroke="#999"/>')  # fmt: skip
        middle = (M_LEFT + W - M_RIGHT) / 2
        out.append(f'<text x="{middle}" y="{self.height - 6}" text-anchor="middle">'
                   f"{x_label}</text>")  # fmt: skip
        return "".join(out)

    def steps(self, points: list[tuple[float, float]], colour: str, tip: str) -> str:
        """A step function through ``points`` (each value holds until the next time)."""
        if not points:
            return ""
        d = [f"M{self.x(points[0][0]):.1f},{self.y(points[0][1]):.1f}"]
        for t, v in points[1:]:
            d.append(f"H{self.x(t):.1f}V{self.y(v):.1f}")
        return (
            f'<path d="{"".join(d)}" fill="none" stroke="{colour}" stroke-width="2" '
            f'stroke-linejoin="round"><title>{escape(tip)}</title></path>'
        )

    def svg(self, body: str, label: str) -> str:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {self.height}" '
            f'role="img" aria-label="{label}">{body}</svg>'
        )


def _figure(title: str, body: str, legend: list[tuple[str, str, str]]) -> str:
    keys = "".join(
        f'<span><span class="key" style="background:{colour}"></span>{escape(text)}</span>'
        for _name, colour, text in legend
    )
    return (
        f"<figure><figcaption>{escape(title)}</figcaption>{body}"
        f"{f'<div class=legend>{keys}</div>' if keys else ''}</figure>"
    )


def _grid(figures: Iterable[str], columns: int = 1) -> str:
    """Side by side: one column per platform, up to three a row."""
    style = f"grid-template-columns:repeat({min(max(columns, 1), 3)},minmax(0,1fr))"
    return f'<div class="grid" style="{style}">{"".join(figures)}</div>'


# --- numbers -----------------------------------------------------------------------


def _colours(names: Iterable[str]) -> dict[str, str]:
    """The same colour for a name in every plot and every what-if."""
    ordered = sorted(set(names))
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(ordered)}


def _waits(jobs: Sequence[JobResult]) -> list[float]:
    return [w for j in jobs if (w := j.wait) is not None]


def _percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest rank, like the report's tables."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _resample(points: list[tuple[float, float]], x_max: float) -> list[tuple[float, float]]:
    """A step function with at most MAX_POINTS steps: each the time-weighted mean of its
    bin, so a dense trace draws as its average, not as a solid block."""
    if len(points) <= MAX_POINTS:
        return [*points, (x_max, points[-1][1])] if points else []
    width = x_max / MAX_POINTS
    out = []
    i = 0
    for b in range(MAX_POINTS):
        lo, hi = b * width, (b + 1) * width
        area = 0.0
        while i + 1 < len(points) and points[i + 1][0] <= lo:
            i += 1
        k = i
        while k < len(points) and points[k][0] < hi:
            start = max(lo, points[k][0])
            end = min(hi, points[k + 1][0]) if k + 1 < len(points) else hi
            area += max(0.0, end - start) * points[k][1]
            k += 1
        out.append((lo, area / width))
    out.append((x_max, out[-1][1]))
    return out


def _axis(v: float, *, time: bool = True) -> tuple[float, list[float]]:
    """Where an axis over 0..``v`` ends, and its ticks: round numbers of the unit that
    reads best (seconds, minutes, hours or days for a time)."""
    base = 1.0
    for unit in (60.0, 3600.0, 86400.0) if time else ():
        if v >= 2 * unit:
            base = unit
    raw = max(v, 1e-9) / base / 5
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    n = max(1, math.ceil(v / base / step - 1e-9))
    return n * step * base, [i * step * base for i in range(n + 1)]


def _wait_tick(v: float) -> str:
    return "≤1 s" if v <= 1 else _duration(v)


def _tick_format(x_max: float) -> Callable[[float], str]:
    """Every tick of a time axis in the one unit the axis was made of."""
    unit, name = next(
        ((u, n) for u, n in ((86400.0, "d"), (3600.0, "h"), (60.0, "min")) if x_max >= 2 * u),
        (1.0, "s"),
    )

    def fmt(v: float) -> str:
        return f"{v / unit:g} {name}"

    return fmt


def _duration(s: float) -> str:
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{s / 60:.0f} min"
    if s < 86400:
        return f"{s / 3600:.1f} h".replace(".0 h", " h")
    return f"{s / 86400:.1f} d".replace(".0 d", " d")


def _fmt(s: float | None) -> str:
    return "–" if s is None else _duration(s)


def _percent(v: float) -> str:
    return f"{100 * v:.0f} %"


def _hours(v: float) -> str:
    return f"{v:,.1f}" if v < 100 else f"{v:,.0f}"


def _int(v: float) -> str:
    return f"{v:,.0f}"


def _money(v: float, results: Sequence[PlanResult], *, whole: bool = False) -> str:
    currency = results[0].cost.currency if results else "USD"
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency)
    text = f"{v:,.0f}" if whole or abs(v) >= 100 else f"{v:,.2f}"
    return f"{symbol}{text}" if symbol else f"{text} {escape(currency)}"


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
