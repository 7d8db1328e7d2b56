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
    """The heatmap spec for one token sequence; cells come from the named dataset 'attention', one row per
    attending token {i: from index, j: [to indexes], w: [weights]} that the chart flattens, and token
    labels are looked up by index."""
    size = max(120, 14 * len(labels))
    names = alt.Data(values=[{"k": k, "t": t} for k, t in enumerate(labels)])
    chart = (
        alt.Chart(alt.NamedData(name="attention"))
        .transform_flatten(["j", "w"])
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
    rows: dict[int, dict] = {}
    for i, j, w in weights:
        row = rows.setdefault(i, {"i": i, "j": [], "w": []})
        row["j"].append(j)
        row["w"].append(round(w, 3))
    values = list(rows.values())
    return {**_heatmap(tuple(token_labels(tokens))), "title": title, "datasets": {"attention": values}}


TOP_BARS = 12  # bars per histogram panel; the caption lists every category


def histograms(found: dict, order: Sequence[str] | None = None) -> dict:
    """Histograms side by side, one panel per facet, for the probe token chosen by the `token` param
    ("all" = summed over every probe token of the page; the page script sets it).

    `found` maps a token key to its histograms (views.Histogram, one per facet, same titles for every key).
    The data are compact, one row per token with parallel arrays [facet, category index, count] that
    the chart flattens; category names are looked up from a second dataset.
    """
    titles = [h.title for h in next(iter(found.values()))] if found else []
    names: dict[str, int] = {label: i for i, label in enumerate(order or ())}
    rows = []
    for key, hists in found.items():
        f, c, n = [], [], []
        for facet, h in enumerate(hists):
            for label, count in h.bars:
                f.append(facet)
                c.append(names.setdefault(label, len(names)))
                n.append(count)
        rows.append({"k": key, "f": f, "c": c, "n": n})
    token = alt.param(name="token", value="all")
    labels = alt.LookupData(data=alt.NamedData(name="names"), key="c", fields=["label"])
    base = (alt.Chart(alt.NamedData(name="counts"))
            .transform_filter(alt.datum.k == token)
            .transform_flatten(["f", "c", "n"])
            .transform_lookup(lookup="c", from_=labels))
    panels = []
    for facet, title in enumerate(titles):
        panel = (base.transform_filter(alt.datum.f == facet)
                 .transform_joinaggregate(total="sum(n)")
                 .transform_calculate(share="datum.n / datum.total"))
        if order:
            y = alt.Y("label:N", sort=list(order), title=None, scale=alt.Scale(domain=list(order)))
        else:
            # Bars in rank order through a sortable key ("101NOUN") whose first 3 characters the axis drops:
            # a domain sorted by count does not follow the data when the token changes.
            panel = (panel.transform_window(rank="row_number()", sort=[alt.SortField("n", order="descending"),
                                                                        alt.SortField("label")])
                     .transform_filter(alt.datum.rank <= TOP_BARS)
                     .transform_calculate(key="toString(100 + datum.rank) + datum.label"))
            y = alt.Y("key:N", sort="ascending", title=None, axis=alt.Axis(labelExpr="substring(datum.label, 3)"))
        panels.append(panel.mark_bar().encode(
            y=y, x=alt.X("n:Q", title="matches"),
            tooltip=[alt.Tooltip("label:N", title=title), alt.Tooltip("n:Q", title="matches"),
                     alt.Tooltip("share:Q", title="share", format=".0%")],
        ).properties(title=title, width=150))
    chart = alt.hconcat(*panels).add_params(token) if panels else alt.Chart(alt.Data(values=[])).mark_bar()
    spec = _spec(chart)
    spec["datasets"] = {"counts": rows, "names": [{"c": i, "label": label} for label, i in names.items()],
                        "titles": [{"f": i, "title": t} for i, t in enumerate(titles)]}
    return spec


POS_COLOURS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN",
               "PUNCT", "SCONJ", "SYM", "VERB", "X", "SPACE", "special")


@functools.lru_cache(maxsize=1)
def strip() -> dict:
    """exBERT's colour strip for one probe token: a column per match (best first), the POS of the tokens
    before, at and after the match. The page script fills the named dataset 'strip' as {r: rank,
    o: '-1' | '0' | '+1', p: POS}."""
    chart = (
        alt.Chart(alt.NamedData(name="strip"))
        .mark_rect(stroke="white", strokeWidth=0.5)
        .encode(
            x=alt.X("r:O", title="match (best first)", axis=alt.Axis(labels=False, ticks=False)),
            y=alt.Y("o:N", sort=["-1", "0", "+1"], title="offset"),
            color=alt.Color("p:N", title="POS", scale=alt.Scale(domain=list(POS_COLOURS), scheme="category20"),
                            legend=alt.Legend(orient="bottom", columns=10, symbolLimit=0)),
            tooltip=[alt.Tooltip("r:O", title="rank"), alt.Tooltip("o:N", title="offset"),
                     alt.Tooltip("p:N", title="POS")],
        )
        .properties(width={"step": 9}, height=45)
    )
    return _spec(chart)


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
