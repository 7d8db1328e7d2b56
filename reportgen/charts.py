"""Every Altair chart of the site, returned as Vega-Lite spec dicts for `|tojson`."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import altair as alt

from .headstats import DESCRIPTIONS, STATS


def _spec(chart: alt.TopLevelMixin) -> dict:
    # validated in the tests against the Vega-Lite schema; skipped here to keep builds fast
    return chart.to_dict(validate=False)


def token_labels(tokens: Sequence[str]) -> list[str]:
    """Unique axis labels: position and token text."""
    return [f"{i} {t}" for i, t in enumerate(tokens)]


@functools.lru_cache(maxsize=256)
def _heatmap(labels: tuple[str, ...]) -> dict:
    """The heatmap spec for one token sequence; cells come from the named dataset 'attention' as
    {i: from index, j: to index, w: weight}, and token labels are looked up by index."""
    size = max(120, 14 * len(labels))
    names = alt.Data(values=[{"k": k, "t": t} for k, t in enumerate(labels)])
    chart = (
        alt.Chart(alt.NamedData(name="attention"))
        .transform_lookup(lookup="i", from_=alt.LookupData(data=names, key="k", fields=["t"]), as_=["from"])
        .transform_lookup(lookup="j", from_=alt.LookupData(data=names, key="k", fields=["t"]), as_=["to"])
        .mark_rect()
        .encode(
            x=alt.X("to:N", sort=list(labels), title="attended to", axis=alt.Axis(labelAngle=-60)),
            y=alt.Y("from:N", sort=list(labels), title="from"),
            color=alt.Color("w:Q", title="weight", scale=alt.Scale(domain=[0, 1], scheme="blues")),
            tooltip=[alt.Tooltip("from:N"), alt.Tooltip("to:N"), alt.Tooltip("w:Q", format=".3f")],
        )
        .properties(width=size, height=size)
    )
    return _spec(chart)


def attention_heatmap(tokens: Sequence[str], weights: Sequence[tuple[int, int, float]], title: str) -> dict:
    """One head's attention on one sentence: rows attend (from), columns are attended to.

    The Altair chart is built once per sentence; each head's spec is that chart with its own values.
    """
    values = [{"i": i, "j": j, "w": round(w, 3)} for i, j, w in weights]
    return {**_heatmap(tuple(token_labels(tokens))), "title": title, "datasets": {"attention": values}}


def overview(stats: Sequence[tuple[int, int, str, float]], n_layers: int, n_heads: int) -> dict:
    """Layers x heads grid coloured by a statistic chosen from a menu; a click opens the head's page."""
    values = [{"layer": layer, "head": head, "stat": stat, "value": round(value, 4),
               "label": f"L{layer}H{head}", "href": f"heads/L{layer}H{head}.html"}
              for layer, head, stat, value in stats]
    present = [s for s in STATS if any(v["stat"] == s for v in values)]
    pick = alt.param(name="statistic", value=present[0] if present else "entropy",
                     bind=alt.binding_select(options=present, labels=[DESCRIPTIONS[s] for s in present],
                                             name="Statistic: "))
    chart = (
        alt.Chart(alt.Data(values=values))
        .mark_rect(stroke="white")
        .encode(
            x=alt.X("head:O", title="head"),
            y=alt.Y("layer:O", title="layer"),
            color=alt.Color("value:Q", title="value", scale=alt.Scale(scheme="viridis")),
            href="href:N",
            tooltip=[alt.Tooltip("label:N", title="head"), alt.Tooltip("stat:N"),
                     alt.Tooltip("value:Q", format=".3f")],
        )
        .transform_filter(alt.datum.stat == pick)
        .add_params(pick)
        .properties(width=max(240, 32 * n_heads), height=max(120, 28 * n_layers))
    )
    return _spec(chart)
