"""The overview's heatmap of every head, coloured by one head statistic and labelled with each head's role."""

from __future__ import annotations

import json
from collections.abc import Sequence

import altair as alt

from ...vocab import HEAD_LABEL_EXPR, ROLE_CODES, STAT_DESCRIPTIONS
from .base import spec, when

# How each statistic of the overview is coloured. The attention shares are fractions of a token's attention, so
# they share one fixed 0-1 scale (the same colour is the same number in every statistic); a statistic with a
# unit of its own gets its own scale, from 0 to the largest value of any head. A statistic in neither set
# (one added later) also gets its own scale until it is classified here.
SHARE_STATS = frozenset({"self", "prev", "next", "first", "last", "special", "punct"})
STAT_UNITS = {"entropy": "nats", "entropy_norm": "0 one key, 1 uniform", "distance": "tokens"}
UNIT_INTERVAL = SHARE_STATS | {"entropy_norm"}  # drawn on the fixed scale 0-1


def stat_scale(stat: str) -> str:
    """What a statistic's numbers are: 'share of attention, 0-1' or its unit."""
    if stat in SHARE_STATS:
        return "share of attention, 0–1"
    return STAT_UNITS.get(stat, "own scale")


def stat_title(stat: str) -> str:
    """A statistic's legend title: what it measures and its scale."""
    description = STAT_DESCRIPTIONS.get(stat, stat)
    if stat in SHARE_STATS:
        return f"{description} (share of attention, 0–1)"
    unit = STAT_UNITS.get(stat)
    return description if unit is None or f"({unit})" in description else f"{description} ({unit})"


def overview(stat: str, values: Sequence[tuple[int, int, float]], n_layers: int, n_heads: int,
             roles: dict[tuple[int, int], tuple[str, str]] | None = None, title: str | None = None,
             digits: int = 4, value_format: str = ".3f", log: bool = False) -> dict:
    """The layers x heads grid coloured by one statistic (layer, head, value); the legend names the statistic.
    Share statistics (and the normalised entropy) use the fixed scale 0-1, others one from 0 to their largest
    value; with `log`, a logarithmic scale from the smallest value to the largest (values kept to `digits`
    significant digits; a symmetric-log scale where some value is not above 0), and the legend says so. Each cell
    is labelled with its head's role (`roles`: (layer, head) -> (role, evidence)), in short. A tooltip gives each
    cell's head, statistic, value and role; a click opens the head's page. The index page carries one such chart
    per statistic and its menu shows one."""
    roles = roles or {}
    rows = [{"l": layer, "h": head, "v": float(f"{value:.{digits}g}") if log else round(value, digits),
             **({"c": ROLE_CODES.get(roles[(layer, head)][0], ""), "r": roles[(layer, head)][1]}
                if (layer, head) in roles else {})}
            for layer, head, value in values]
    title = title or stat_title(stat)
    named = title if title.startswith(f"{stat}:") else f"{stat}: {title}"  # the tooltip's name of the statistic
    light_from = None  # where role codes turn from white to black
    legend = title
    if log and rows:
        scale, scale_text, legend, light_from = _log_scale([r["v"] for r in rows], title)
        top = 1.0
    elif stat in UNIT_INTERVAL:
        scale = alt.Scale(domain=[0, 1], scheme="viridis")
        scale_text = ("on one fixed scale from 0 (none of the attention) to 1 (all of it)" if stat in SHARE_STATS
                      else "on the fixed scale from 0 to 1")
        top = 1.0
    else:
        top = max((r["v"] for r in rows), default=1.0)
        scale = alt.Scale(domain=[0, top], scheme="magma")
        scale_text = f"on its own scale from 0 to {top:.2f}, the largest value of any head"
    base = (
        alt.Chart(alt.Data(values=rows))
        .transform_calculate(label=HEAD_LABEL_EXPR, statistic=json.dumps(named))
        .transform_calculate(href="'heads/' + datum.label + '.html'")
        .encode(x=alt.X("h:O", title="head"), y=alt.Y("l:O", title="layer"), href=alt.Href("href:N"),
                tooltip=[alt.Tooltip("label:N", title="head"), alt.Tooltip("statistic:N", title="statistic"),
                         alt.Tooltip("v:Q", title="value", format=value_format), alt.Tooltip("r:N", title="role")])
    )
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color("v:Q", title=legend, scale=scale,
                        legend=alt.Legend(orient="top", direction="horizontal", titleLimit=700,
                                          gradientLength=max(200, 32 * n_heads))))
    # role codes in black on the light half of the scale, in white on the dark half
    if light_from is None:
        light_from = top / 2 if stat in UNIT_INTERVAL else top * 0.6
    light = "datum.v > %r" % light_from
    codes = base.mark_text(fontSize=9, aria=False).encode(
        text=alt.Text("c:N"), color=when(alt.ColorValue, light, alt.value("black"), alt.value("white")))
    chart = alt.layer(cells, codes).properties(
        width=max(240, 36 * n_heads), height=max(120, 28 * n_layers),
        description=f"Heatmap of every head, {n_layers} layers (rows) by {n_heads} heads (columns), coloured by "
                    f"the {title}, {scale_text}, each cell labelled with its head's role. The table under the "
                    f"chart lists every value and role.")
    return spec(chart)


def _log_scale(values: list[float], title: str) -> tuple[alt.Scale, str, str, float]:
    """(scale, its description, the legend's title, the value above which a cell is light) of a logarithmic
    colour scale over `values`: from the smallest to the largest, each step of colour the same factor (a
    symmetric-log scale, linear near 0, where a value is not above 0)."""
    low, top = min(values), max(values)
    if low > 0:
        scale = alt.Scale(type="log", domain=[low, top], scheme="magma")
        text = f"on a logarithmic scale from {low:.3g} to {top:.3g} (the smallest and the largest value of any head)"
        return scale, text, f"{title} (logarithmic scale)", low * (top / low) ** 0.6
    constant = min((abs(v) for v in values if v != 0), default=1.0)
    scale = alt.Scale(type="symlog", constant=constant, domain=[low, top], scheme="magma")
    text = (f"on a symmetric logarithmic scale from {low:.3g} to {top:.3g} (the smallest and the largest value of "
            f"any head; linear within {constant:.3g} of 0)")
    return scale, text, f"{title} (symmetric logarithmic scale)", low + 0.6 * (top - low)
