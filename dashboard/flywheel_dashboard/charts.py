"""Server-rendered SVG charts: no JavaScript library, nothing fetched by the browser."""

from __future__ import annotations

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 200, 48, 40, 12
# More bars than this and every tick label would overlap: label every n-th.
MAX_TICKS = 12


def _nice_max(value):
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def bar_chart(title, labels, series, unit="", ticks=None):
    """Stacked bars: SERIES is [(name, css class, [value or None per label])].

    A None value (a run that did not report the figure) draws nothing: it is not zero.
    LABELS name each bar in its tooltip; TICKS (short) are written under the bars.
    """
    count = len(labels)
    title_text = escape(title)
    if count == 0:
        return Markup(f'<p class="empty">{title_text}: no runs recorded yet.</p>')
    totals = [
        sum(values[i] or 0 for _name, _cls, values in series) for i in range(count)
    ]
    top = _nice_max(max(totals))
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = plot_w / count
    bar_w = max(2.0, slot * 0.7)
    parts = [
        f'<svg class="chart" role="img" aria-label="{title_text}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{title_text}</title>",
    ]
    for fraction in (0, 0.5, 1):
        y = PAD_TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line class="grid" x1="{PAD_LEFT}" y1="{y:.1f}" x2="{WIDTH - 8}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{PAD_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_fmt(top * fraction))}{escape(unit)}</text>"
        )
    every = -(-count // MAX_TICKS)
    for i, label in enumerate(labels):
        x = PAD_LEFT + i * slot + (slot - bar_w) / 2
        base = PAD_TOP + plot_h
        if ticks and i % every == 0:
            parts.append(
                f'<text class="axis" x="{x + bar_w / 2:.1f}" y="{base + 12:.1f}" '
                f'text-anchor="middle">{escape(ticks[i])}</text>'
            )
        for name, css, values in series:
            value = values[i]
            if not value:
                continue
            h = plot_h * value / top
            base -= h
            parts.append(
                f'<rect class="{escape(css)}" x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}"><title>{escape(label)}: {escape(name)} '
                f"{escape(_fmt(value))}{escape(unit)}</title></rect>"
            )
    legend_x = PAD_LEFT
    for name, css, _values in series:
        parts.append(
            f'<rect class="{escape(css)}" x="{legend_x}" y="{HEIGHT - 14}" width="10" height="10"/>'
            f'<text class="axis" x="{legend_x + 14}" y="{HEIGHT - 5}">{escape(name)}</text>'
        )
        legend_x += 24 + 8 * len(name)
    parts.append("</svg>")
    return Markup("".join(parts))


def _fmt(value):
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
