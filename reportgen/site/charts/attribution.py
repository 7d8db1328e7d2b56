"""The charts of the attributions: a probe's words by integrated gradients and by rollout, and the grid of every
head's agreement with the gradients."""

from __future__ import annotations

import altair as alt

from .base import head_grid, spec, when


def word_chart(words: tuple, title: str, description: str) -> dict:
    """Two bar charts side by side, one bar per word in sentence order: integrated gradients (green positive, red
    negative) and the rollout."""
    rows = [{"i": w.index, "w": f"{w.index + 1}. {w.text}", "ig": round(w.score, 6), "r": round(w.rollout, 6)}
            for w in words]
    base = alt.Chart(alt.Data(values=rows)).encode(
        y=alt.Y("w:N", sort=alt.EncodingSortField("i"), title=None))
    ig = base.mark_bar().encode(
        x=alt.X("ig:Q", title="integrated gradients"),
        color=when(alt.ColorValue, "datum.ig >= 0", alt.value("#15803d"), alt.value("#b91c1c")),
        tooltip=[alt.Tooltip("w:N", title="word"), alt.Tooltip("ig:Q", title="integrated gradients", format="+.4f")],
    ).properties(width=260, title="Integrated gradients")
    roll = base.mark_bar(color="#4f46e5").encode(
        x=alt.X("r:Q", title="rollout (share of the flow)"),
        tooltip=[alt.Tooltip("w:N", title="word"), alt.Tooltip("r:Q", title="rollout", format=".4f")],
    ).properties(width=200, title="Attention rollout")
    chart = alt.hconcat(ig, roll).properties(title=title, description=description)
    return spec(chart)


def agreement_chart(values: list[tuple[int, int, float | None]], n_layers: int, n_heads: int) -> dict:
    """The layers x heads grid coloured by each head's mean Spearman rho (-1 to 1, diverging); a click opens the
    head's page."""
    return head_grid(
        [(layer, head, v) for layer, head, v in values if v is not None], n_layers, n_heads,
        "heads/{label}.html#agreement", "mean Spearman rho between attention and |integrated gradients|",
        alt.Scale(domain=[-1, 1], scheme="purpleorange"), "mean rho",
        f"Heatmap of every head, {n_layers} layers (rows) by {n_heads} heads (columns), coloured by the mean over "
        f"the probe sentences of Spearman's rho between the attention each word receives from the target position "
        f"and the magnitude of its integrated-gradient attribution, from -1 to 1. The list beside names the heads "
        f"that agree most.")
