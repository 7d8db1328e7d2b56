"""The charts of the head analysis (Clark et al. 2019): the map of the heads, a head's statistics among all heads,
and a head's dependency accuracy against the positional baseline. Each chart's Vega-Lite is built once per kind
and filled with each page's data."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import altair as alt

from ...vocab import HEAD_LABEL_EXPR, ROLES
from .base import spec, when

# one distinct shape per role (vocab.ROLES order), and one distinct colour per layer where there are few layers
# (filled, and wide enough to point at: no wedge or stroke; the pentagon and the star are SVG paths in Vega's
# unit square)
PENTAGON = "M0,-1L0.95,-0.31L0.59,0.81L-0.59,0.81L-0.95,-0.31Z"
STAR = "M0,-1L0.29,-0.4L0.95,-0.31L0.47,0.15L0.59,0.81L0,0.5L-0.59,0.81L-0.47,0.15L-0.95,-0.31L-0.29,-0.4Z"
ROLE_SHAPES = ("diamond", "triangle-left", "triangle-right", "cross", "square", "triangle-down", "triangle-up",
               PENTAGON, STAR, "circle")
LAYER_COLOURS = ("#1f77b4", "#ea580c", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#db2777", "#4d7c0f",
                 "#0891b2", "#a16207", "#4f46e5", "#64748b")


def head_map(points: Sequence[dict], n_layers: int, description: str) -> dict:
    """The heads laid out in 2-D (MDS of their Jensen-Shannon distances): `points` {l, h, x, y, role, evidence,
    shown}; colour: layer (one distinct colour per layer up to 12 layers, a sequential scale past that), shape:
    role (one distinct shape each), a label beside the points with `shown`; a click opens the head's page."""
    colour = (alt.Scale(domain=list(range(n_layers)), range=list(LAYER_COLOURS[:n_layers]))
              if n_layers <= len(LAYER_COLOURS) else alt.Scale(scheme="viridis", domain=list(range(n_layers))))
    base = (alt.Chart(alt.Data(values=list(points)))
            .transform_calculate(label=HEAD_LABEL_EXPR)
            .transform_calculate(href="'heads/' + datum.label + '.html'")
            .encode(x=alt.X("x:Q", title="MDS 1", axis=alt.Axis(labels=False, ticks=False)),
                    y=alt.Y("y:Q", title="MDS 2", axis=alt.Axis(labels=False, ticks=False))))
    marks = base.mark_point(size=90, filled=True, opacity=0.85).encode(
        color=alt.Color("l:O", title="layer", scale=colour),
        shape=alt.Shape("role:N", title="role", scale=alt.Scale(domain=list(ROLES), range=list(ROLE_SHAPES))),
        href=alt.Href("href:N"),
        tooltip=[alt.Tooltip("label:N", title="head"), alt.Tooltip("role:N", title="role"),
                 alt.Tooltip("evidence:N", title="evidence")])
    labels = base.transform_filter("datum.shown").mark_text(align="left", dx=7, fontSize=9, color="#374151",
                                                            aria=False).encode(text=alt.Text("label:N"))
    return spec(alt.layer(marks, labels).properties(width=560, height=420, description=description))


def stat_strips(stats: Sequence[str], values: dict[str, list[float]], me: int, n_heads: int,
                description: str) -> dict:
    """One strip per statistic: a tick for every head's value, this head's (flat index `me`, layer * n_heads +
    head) larger and in orange. `values`: statistic -> every head's value in flat order."""
    out = {**_strips_chart(tuple(stats)), "description": description}
    out["params"] = [{**p, "value": {"me": me, "n_heads": n_heads}[p["name"]]} for p in out["params"]]
    out["datasets"] = {"values": [{"s": s, "v": v, "h": list(range(len(v)))} for s, v in values.items()]}
    return out


STRIP_TICKS = 5  # the ticks Vega aims at on each statistic's strip


@functools.lru_cache(maxsize=8)
def _strips_chart(stats: tuple[str, ...]) -> dict:
    me = alt.param(name="me", value=-1)
    n_heads = alt.param(name="n_heads", value=1)
    mine = "datum.h === me"
    chart = (
        alt.Chart(alt.NamedData(name="values"))
        .transform_flatten(["v", "h"])
        .transform_calculate(label="'L' + floor(datum.h / n_heads) + 'H' + (datum.h % n_heads)", mine=mine)
        .mark_tick(thickness=2)
        .encode(
            # few ticks, and labels that would overlap hidden: a strip is 420 px for any range of values
            x=alt.X("v:Q", title=None, axis=alt.Axis(tickCount=STRIP_TICKS, labelOverlap=True, labelFlush=True)),
            color=when(alt.ColorValue, mine, alt.value("#c2410c"), alt.value("#8a94a6")),
            size=when(alt.SizeValue, mine, alt.value(22), alt.value(12)),
            opacity=when(alt.OpacityValue, mine, alt.value(1), alt.value(0.6)),
            order=alt.Order("mine:O"),
            tooltip=[alt.Tooltip("label:N", title="head"), alt.Tooltip("v:Q", title="value", format=".3f")],
        )
        .properties(width=420, height=24)
        .facet(row=alt.Row("s:N", title=None, sort=list(stats), header=alt.Header(labelAngle=0, labelAlign="left")),
               spacing=2)
        .resolve_scale(x="independent")
        .add_params(me, n_heads)
    )
    return spec(chart)


def dep_accuracy(relations: Sequence[str], rows: Sequence[dict], description: str) -> dict:
    """A head's accuracy per relation (bars) against the best fixed offset's (black ticks), one panel per
    direction. `rows` {r: relation, d: direction, a: accuracy, b: baseline accuracy, o: offset, n: support}."""
    out = {**_dep_chart(tuple(relations)), "description": description}
    out["datasets"] = {"dep": list(rows)}
    return out


@functools.lru_cache(maxsize=8)
def _dep_chart(relations: tuple[str, ...]) -> dict:
    # The data belong to the facet, not to its layers: layers with data of their own would each draw every row
    # in every panel (both directions stacked in one bar).
    base = alt.Chart().encode(
        y=alt.Y("r:N", title="relation", sort=list(relations)),
        tooltip=[alt.Tooltip("r:N", title="relation"), alt.Tooltip("d:N", title="direction"),
                 alt.Tooltip("a:Q", title="accuracy", format=".2f"),
                 alt.Tooltip("b:Q", title="best offset's accuracy", format=".2f"),
                 alt.Tooltip("o:Q", title="best offset"), alt.Tooltip("n:Q", title="dependents")])
    bars = base.mark_bar(color="#4a7bd0").encode(
        x=alt.X("a:Q", title="accuracy (tick: best offset)", scale=alt.Scale(domain=[0, 1]), stack=None))
    ticks = base.mark_tick(color="black", thickness=2, size=14).encode(x=alt.X("b:Q", stack=None))
    chart = (alt.layer(bars, ticks)
             .properties(width=260, height=alt.Step(14))
             .facet(column=alt.Column("d:N", title=None, sort=["dependent to head", "head to dependent"]),
                    data=alt.NamedData(name="dep")))
    return spec(chart)
