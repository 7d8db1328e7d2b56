"""The study page's chart: every head's share of interpretable edited sentences."""

from __future__ import annotations

import altair as alt

from .base import head_grid


def heatmap(values: list[tuple[int, int, float]], n_layers: int, n_heads: int) -> dict:
    return head_grid(
        values, n_layers, n_heads, "../heads/{label}.html",
        "share of edited sentences whose gold words are in the head's top 3",
        alt.Scale(domain=[0, 1], scheme="viridis"), "interpretable",
        f"Heatmap of every head, {n_layers} layers (rows) by {n_heads} heads (columns), coloured by the share of "
        f"edited test sentences whose gold words are all among the 3 words that head's first-token attention "
        f"ranks highest, from 0 to 1. The list beside names the best heads.")
