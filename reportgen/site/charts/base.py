"""What every chart module shares: Altair charts as Vega-Lite spec dicts (for `|tojson`), token axis labels, and
the layers x heads grid of one value per head."""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager

import altair as alt
from altair.utils.schemapi import debug_mode

from ...vocab import HEAD_LABEL_EXPR


def when(channel: type, test, if_true: dict, if_false: dict) -> alt.SchemaBase:
    """`alt.condition(test, if_true, if_false)` made directly as the channel's class (alt.ColorValue,
    alt.SizeValue, ...), as encodings are given here (alt.Text("t:N"), not the shorthand "t:N"): given a dict or a
    shorthand string, Altair finds the class by validating it against each candidate schema (a tenth of a small
    site's build); the spec is the same. (The sentence view's attention lines keep their shorthands: Altair names
    a view with parameters by a hash of its encodings' text, and the name is in the pages.)"""
    return channel(**alt.condition(test, if_true, if_false))


def spec(chart: alt.TopLevelMixin) -> dict:
    """A chart's Vega-Lite spec; validated in the tests against the Vega-Lite schema, skipped here to keep builds
    fast."""
    return chart.to_dict(validate=False)


def unchecked() -> AbstractContextManager:
    """While building charts: Altair's debug mode off, which otherwise validates every schema object against the
    Vega-Lite schema as it is made (a tenth of a page's time); the specs are the same, and the tests validate them
    (test_render.test_the_charts_of_a_page_of_each_kind_are_valid_vega_lite)."""
    return debug_mode(False)


def token_labels(tokens: Sequence[str]) -> list[str]:
    """Unique axis labels: position and token text."""
    return [f"{i} {t}" for i, t in enumerate(tokens)]


def head_grid(values: Sequence[tuple[int, int, float]], n_layers: int, n_heads: int, href: str, title: str,
              scale: alt.Scale, value_title: str, description: str) -> dict:
    """A layers x heads grid of one value per head (layer, head, value); `href` is the link of a cell with
    `{label}` for the head's name (L3H7); a tooltip names the head and its value."""
    rows = [{"l": layer, "h": head, "v": round(value, 4)} for layer, head, value in values]
    prefix, _, suffix = href.partition("{label}")
    chart = (
        alt.Chart(alt.Data(values=rows))
        .transform_calculate(label=HEAD_LABEL_EXPR)
        .transform_calculate(href=f"{json.dumps(prefix)} + datum.label + {json.dumps(suffix)}")
        .mark_rect(stroke="white")
        .encode(x=alt.X("h:O", title="head"), y=alt.Y("l:O", title="layer"), href=alt.Href("href:N"),
                color=alt.Color("v:Q", title=title, scale=scale,
                                legend=alt.Legend(orient="top", direction="horizontal", titleLimit=700,
                                                  gradientLength=max(200, 32 * n_heads))),
                tooltip=[alt.Tooltip("label:N", title="head"), alt.Tooltip("v:Q", title=value_title, format=".3f")])
        .properties(width=max(240, 36 * n_heads), height=max(120, 28 * n_layers), description=description)
    )
    return spec(chart)
