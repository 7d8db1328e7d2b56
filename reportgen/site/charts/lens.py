"""The chart of the logit lens: the familiar layers x positions grid of one probe, each cell the layer's most
probable next token (its text), coloured by its probability, outlined where it is the probe's actual next token."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt

from .base import spec, when

CELL_CHARS = 8  # a cell's text is cut to this many characters (the tooltip has it whole)


def lens_chart(cells: Sequence[dict], positions: Sequence[str], layers: Sequence[str], description: str) -> dict:
    """cells: one per layer and position, with `pos` (its index), `layer` (its index in `layers`, the first drawn at
    the bottom), `top` (the most probable token), `p` (its probability), `hit` (whether it is the actual next
    token), `next` (the actual next token's probability and rank in words, '' at the last token), `kl` and `tops`
    (the most probable tokens with their probabilities, in words). positions: the x axis' labels; layers: the y
    axis' labels."""
    rows = [{**c, "x": positions[c["pos"]], "y": layers[c["layer"]]} for c in cells]
    x = alt.X("x:N", sort=list(positions), title="position (the token read; each cell predicts the one after it)",
              axis=alt.Axis(labelAngle=-45, labelLimit=120))
    y = alt.Y("y:N", sort=list(reversed(layers)), title="layer (emb: the embeddings; Ln: after block n)")
    base = alt.Chart(alt.Data(values=rows)).encode(x=x, y=y)
    tooltip = [alt.Tooltip("y:N", title="layer"), alt.Tooltip("x:N", title="position"),
               alt.Tooltip("tops:N", title="most probable"), alt.Tooltip("next:N", title="actual next token"),
               alt.Tooltip("kl:Q", title="KL(final || layer), nats", format=".3f")]
    cell = base.mark_rect().encode(
        color=alt.Color("p:Q", title="probability of the layer's top token", scale=alt.Scale(domain=[0, 1],
                        scheme="blues"), legend=alt.Legend(orient="top", direction="horizontal", titleLimit=400)),
        tooltip=tooltip)
    hit = base.mark_rect(filled=False, stroke="#b45309", strokeWidth=2).transform_filter("datum.hit").encode(
        tooltip=tooltip)
    text = base.mark_text(fontSize=10, limit=44).encode(
        text=alt.Text("short:N"),
        color=when(alt.ColorValue, "datum.p > 0.5", alt.value("white"), alt.value("black")),
        tooltip=tooltip).transform_calculate(
        short=f"length(datum.top) > {CELL_CHARS} ? substring(datum.top, 0, {CELL_CHARS - 1}) + '…' : datum.top")
    chart = alt.layer(cell, hit, text).properties(
        width=max(200, 52 * len(positions)), height=max(120, 18 * len(layers)), description=description)
    return spec(chart)
