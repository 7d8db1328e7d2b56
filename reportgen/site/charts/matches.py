"""The charts of the match analyses (head and layer pages): a head's attention on a probe as a heatmap, exBERT's
annotation histograms with their corpus base rates, and exBERT's colour strip of one probe token's matches."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import altair as alt

from .base import spec, token_labels, when


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
    return spec(chart)


def attention_heatmap(tokens: Sequence[str], weights: Sequence[tuple[int, int, float]], title: str,
                      description: str) -> dict:
    """One head's attention on one sentence: rows attend (from), columns are attended to.

    The Altair chart is built once per sentence; each head's spec is that chart with its own values.
    """
    rows: dict[int, dict] = {}
    for i, j, w in weights:
        row = rows.setdefault(i, {"i": i, "j": [], "w": []})
        row["j"].append(j)
        row["w"].append(round(w, 3))
    values = list(rows.values())
    return {**_heatmap(tuple(token_labels(tokens))), "title": title, "description": description,
            "datasets": {"attention": values}}


TOP_BARS = 12  # bars per histogram panel; the caption lists every category


def histograms(found: Sequence, order: Sequence[str] | None = None, description: str = "",
               own: bool = False) -> dict:
    """Histograms side by side, one panel per facet, as shares of the matches, each bar with a tick at its
    corpus base rate. `found` holds one findings.Histogram per facet for all probe tokens of the page.

    The page script can show another set of matches (one probe token, or the matches a filter keeps): it
    adds a row to the 'counts' dataset and sets the `token` param to its key. The data are compact, one row
    per key with parallel arrays [facet, category index, count] that the chart flattens; category names and
    base rates are looked up from two more datasets. With `own`, the bars of the probe token's own POS and
    dependency (params `own_pos`, `own_dep`, set by the page script) are drawn in another colour.
    """
    titles = [h.title for h in found]
    names: dict[str, int] = {label: i for i, label in enumerate(order or ())}
    f, c, n, base = [], [], [], []
    for facet, h in enumerate(found):
        for bar in h.bars:
            f.append(facet)
            c.append(names.setdefault(bar.label, len(names)))
            n.append(bar.n)
            base.append({"fc": f"{facet}:{names[bar.label]}", "b": round(bar.base, 5)})
    out = {**_histograms_chart(tuple(titles), tuple(order) if order else None, own), "description": description}
    out["datasets"] = {"counts": [{"k": "all", "f": f, "c": c, "n": n}] if f else [],
                       "names": [{"c": i, "label": label} for label, i in names.items()],
                       "base": base, "titles": [{"f": i, "title": t} for i, t in enumerate(titles)]}
    if any(h.own is not None for h in found):  # the probe set's own mix, which the captions of all tokens name
        out["datasets"]["own"] = [{"fc": f"{facet}:{names.setdefault(label, len(names))}", "b": share}
                                  for facet, h in enumerate(found) for label, share in sorted((h.own or {}).items())]
        out["datasets"]["names"] = [{"c": i, "label": label} for label, i in names.items()]
    return out


@functools.lru_cache(maxsize=32)
def _histograms_chart(titles: tuple[str, ...], order: tuple[str, ...] | None, own: bool) -> dict:
    """The chart of `histograms` without its data, built once per kind of chart: every page fills its own data
    (constructing the Altair chart costs far more than the page's data)."""
    token = alt.param(name="token", value="all")
    own_pos = alt.param(name="own_pos", value="")
    own_dep = alt.param(name="own_dep", value="")
    labels = alt.LookupData(data=alt.NamedData(name="names"), key="c", fields=["label"])
    rates = alt.LookupData(data=alt.NamedData(name="base"), key="fc", fields=["b"])
    base_chart = (alt.Chart(alt.NamedData(name="counts"))
                  .transform_filter(alt.datum.k == token)
                  .transform_flatten(["f", "c", "n"])
                  .transform_lookup(lookup="c", from_=labels)
                  .transform_calculate(fc="datum.f + ':' + datum.c")
                  .transform_lookup(lookup="fc", from_=rates, default=0))
    panels = []
    for facet, title in enumerate(titles):
        panel = (base_chart.transform_filter(alt.datum.f == facet)
                 .transform_joinaggregate(total="sum(n)")
                 .transform_calculate(share="datum.n / datum.total",
                                      lift="datum.b > 0 ? datum.n / datum.total / datum.b : null"))
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
        tooltip = [alt.Tooltip("label:N", title=title), alt.Tooltip("n:Q", title="matches"),
                   alt.Tooltip("share:Q", title="share", format=".0%"),
                   alt.Tooltip("b:Q", title="corpus", format=".1%"), alt.Tooltip("lift:Q", format=".1f")]
        colour = alt.ColorValue("#4a7bd0")
        if own and facet in (0, 2):  # the POS and dependency panels of the matched tokens
            mine = own_pos if facet == 0 else own_dep
            colour = when(alt.ColorValue, alt.datum.label == mine, alt.value("#c2410c"), alt.value("#4a7bd0"))
        x = alt.X("share:Q", title="share of matches (tick: corpus)", axis=alt.Axis(format="%"))
        bars = panel.mark_bar().encode(y=y, x=x, color=colour, tooltip=tooltip)
        ticks = panel.mark_tick(color="#1d2330", thickness=2).encode(y=y, x=alt.X("b:Q"), tooltip=tooltip)
        panels.append(alt.layer(bars, ticks).properties(title=title, width=150))
    chart = alt.hconcat(*panels) if panels else alt.Chart(alt.Data(values=[])).mark_bar()
    return spec(chart.add_params(token, own_pos, own_dep))


POS_COLOURS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN",
               "PUNCT", "SCONJ", "SYM", "VERB", "X", "SPACE", "special")


@functools.lru_cache(maxsize=1)
def strip() -> dict:
    """exBERT's colour strip for one probe token: a column per match (best first), the POS of the tokens
    before, at and after the match. The page script fills the named dataset 'strip' as {r: rank,
    o: '-1' | '0' | '+1', t: the token's text, p: POS}."""
    chart = (
        alt.Chart(alt.NamedData(name="strip"))
        .mark_rect(stroke="white", strokeWidth=0.5)
        .encode(
            x=alt.X("r:O", title="match (best first)", axis=alt.Axis(labels=False, ticks=False)),
            y=alt.Y("o:N", sort=["-1", "0", "+1"], title="offset"),
            color=alt.Color("p:N", title="POS", scale=alt.Scale(domain=list(POS_COLOURS), scheme="category20"),
                            legend=alt.Legend(orient="bottom", columns=10, symbolLimit=0)),
            tooltip=[alt.Tooltip("r:O", title="rank"), alt.Tooltip("o:N", title="offset"),
                     alt.Tooltip("t:N", title="token"), alt.Tooltip("p:N", title="POS")],
        )
        .properties(width={"step": 9}, height=45,
                    description="exBERT's colour strip: one column per match, best first, coloured by the POS of "
                                "the token before the match, the match itself and the token after it")
    )
    return spec(chart)
