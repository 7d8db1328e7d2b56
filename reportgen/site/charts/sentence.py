"""A probe sentence's attention at three levels: bertviz's head view, model view and neuron view."""

from __future__ import annotations

import copy
import functools
import json

import altair as alt

from .base import spec, token_labels

# ---- a probe sentence's attention at three levels (bertviz's head, model and neuron views) --------------

LEVELS = ("tokens", "words")


def _level_param() -> alt.Parameter:
    return alt.param(name="level", value="tokens",
                     bind=alt.binding_radio(options=list(LEVELS), name="Attention between: "))


def _layer_param(n_layers: int) -> alt.Parameter:
    return alt.param(name="layer", value=0, bind=alt.binding_range(min=0, max=n_layers - 1, step=1, name="Layer: "))


def attention_rows(level: str, weights, floor: float = 0.0) -> list[dict]:
    """Compact rows {lv, l, h, i, j: [...], w: [...]} of weights [L, H, n, n]; weights below `floor` are left
    out (a causal model's future tokens have weight 0 and so never appear)."""
    rows = []
    n_layers, n_heads, n, _ = weights.shape
    for layer in range(n_layers):
        for head in range(n_heads):
            for i in range(n):
                js = [j for j in range(n) if weights[layer, head, i, j] > floor]
                rows.append({"lv": level, "l": layer, "h": head, "i": i, "j": js,
                             "w": [round(float(weights[layer, head, i, j]), 3) for j in js]})
    return rows


# The head colours of the sentence views: saturated, as bertviz's, and each with a contrast of at least 3:1
# against the white page (WCAG 2.1, non-text contrast). A model with more heads reuses them in this order.
HEAD_COLOURS = ("#1f77b4", "#ea580c", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#db2777", "#4f46e5",
                "#4d7c0f", "#0891b2", "#c026d3", "#a16207")

# The width of a page's content: main's max-width (1200 px) less its 1.5rem padding on each side (style.css).
CONTENT_WIDTH = 1152
MODEL_VIEW_MARGIN = 96  # the model view's layer labels and title, and the chart's padding, beside the grid
MODEL_VIEW_SPACING = 4  # between the cells of the grid
MODEL_VIEW_CELL = (32, 140)  # the smallest and largest cell; past the smallest the grid scrolls in its box
UNIT_STEP = 22  # the head view's height per unit (token or word)


def head_colours(n_heads: int) -> list[str]:
    """One colour per head, HEAD_COLOURS over again past its end."""
    return [HEAD_COLOURS[h % len(HEAD_COLOURS)] for h in range(n_heads)]


ZERO_FILL = "#cfe1f2"  # the "blues" scheme's colour at 0 (what Vega draws for weight 0 on the domain [0, 1])


def model_view_cell(n_heads: int, n_units: int) -> int:
    """The side of one cell of the model view in px: the grid of `n_heads` columns fits CONTENT_WIDTH, and a
    short sentence does not get cells larger than 8 px per unit."""
    fits = (CONTENT_WIDTH - MODEL_VIEW_MARGIN - (n_heads - 1) * MODEL_VIEW_SPACING) // n_heads
    low, high = MODEL_VIEW_CELL
    return max(low, min(high, fits, max(low, 8 * n_units)))


def unit_rows(labels: dict[str, list[str]]) -> list[dict]:
    """The units of each level {lv, i, t, k: 'lv:i'}, the 'units' dataset the views look token text up in."""
    return [{"lv": lv, "i": i, "t": t, "k": f"{lv}:{i}"} for lv, ts in labels.items() for i, t in enumerate(ts)]


def _unit_text(chart, index: str, name: str):
    """`chart` with the text of the unit (at the row's level) whose index is field `index` as field `name`."""
    units = alt.LookupData(data=alt.NamedData(name="units"), key="k", fields=["t"])
    return (chart.transform_calculate(**{f"{name}_key": f"datum.lv + ':' + datum.{index}"})
            .transform_lookup(lookup=f"{name}_key", from_=units, as_=[name]))


def _units_domain(labels: dict[str, list[str]]) -> dict:
    """A scale domain of unit indexes that follows the level param: every unit, attended or not."""
    return {"expr": f"level === 'words' ? {json.dumps(list(range(len(labels['words']))))} : "
                    f"{json.dumps(list(range(len(labels['tokens']))))}"}


def _unit_select(name: str, level: str, labels: list[str]) -> alt.Parameter:
    """A menu of one level's units, 'all' (-1) first: the keyboard's way to keep one unit's lines."""
    return alt.param(name=name, value=-1, bind=alt.binding_select(
        options=[-1, *range(len(labels))], labels=["all", *labels], name=f"From {level}: "))


def head_view(labels: dict[str, list[str]], rows: list[dict], n_layers: int, n_heads: int, title: str,
              description: str) -> dict:
    """bertviz's head view: the units (tokens or words) in two columns and a line from each to every unit it
    attends to, opacity = weight, one colour per head. A slider picks the layer, a radio the level. Clicking a
    head in the legend keeps only that head (shift-click for more), and so does the 'Head' menu; hovering a unit
    on the left keeps only its lines, and so does the 'From token' menu ('From word' at word level; the page's
    style shows the menu of the current level only). `labels` maps each level to its unit labels; the height
    follows the number of units of the level shown."""
    layer = _layer_param(n_layers)
    level = _level_param()
    pick = alt.param(name="head", value=-1, bind=alt.binding_select(
        options=[-1, *range(n_heads)], labels=["all", *map(str, range(n_heads))], name="Head: "))
    from_token = _unit_select("from_token", "token", labels["tokens"])
    from_word = _unit_select("from_word", "word", labels["words"])
    heads = alt.selection_point(name="heads", fields=["h"], bind="legend")
    hover = alt.selection_point(name="hover", fields=["i"], on="pointerover", clear="pointerout")
    y_scale = alt.Scale(type="point", padding=0.5, domain=_units_domain(labels))
    x_scale = alt.Scale(domain=[0, 1])
    lines = (
        alt.Chart(alt.NamedData(name="attention"))
        .transform_filter((alt.datum.l == layer) & (alt.datum.lv == level))
        .transform_filter("(head < 0 || datum.h === head) && (level === 'words'"
                          " ? from_word < 0 || datum.i === from_word : from_token < 0 || datum.i === from_token)")
        .transform_flatten(["j", "w"])
        .transform_filter(hover)
        .transform_calculate(x0="0", x1="1")
    )
    lines = _unit_text(_unit_text(lines, "i", "from"), "j", "to")
    lines = (
        lines.mark_rule(strokeWidth=2)
        .encode(
            x=alt.X("x0:Q", scale=x_scale, axis=None), x2="x1:Q",
            y=alt.Y("i:O", scale=y_scale, axis=None), y2="j",
            color=alt.Color("h:N", title="head (click to keep one, shift-click for more)",
                            scale=alt.Scale(domain=list(range(n_heads)), range=head_colours(n_heads)),
                            legend=alt.Legend(orient="bottom", direction="horizontal", columns=12, titleLimit=400,
                                              symbolOpacity=1, symbolStrokeWidth=4, symbolSize=120)),
            opacity=alt.condition(heads, alt.Opacity("w:Q", scale=alt.Scale(domain=[0, 1], range=[0, 1]),
                                                      legend=None), alt.value(0)),
            tooltip=[alt.Tooltip("h:N", title="head"), alt.Tooltip("from:N", title="from"),
                     alt.Tooltip("to:N", title="to"), alt.Tooltip("w:Q", title="weight", format=".3f")],
        )
    )
    units = alt.Chart(alt.NamedData(name="units")).transform_filter(alt.datum.lv == level)
    left = (units.transform_calculate(x="0")
            .mark_text(align="right", dx=-6, fontSize=13)
            .encode(x=alt.X("x:Q", scale=x_scale, axis=None), y=alt.Y("i:O", scale=y_scale, axis=None),
                    text=alt.Text("t:N"), tooltip=[alt.Tooltip("t:N", title="from")])
            .add_params(hover))
    right = (units.transform_calculate(x="1")
             .mark_text(align="left", dx=6, fontSize=13)
             .encode(x=alt.X("x:Q", scale=x_scale, axis=None), y=alt.Y("i:O", scale=y_scale, axis=None),
                     text=alt.Text("t:N"), tooltip=[alt.Tooltip("t:N", title="to")]))
    chart = (alt.layer(lines.add_params(heads), left, right)
             .add_params(layer, level, pick, from_token, from_word)
             .properties(width=260, height=alt.Step(UNIT_STEP), title=title, description=description,
                         padding={"left": 120, "right": 120, "top": 5, "bottom": 5}))
    out = spec(chart)
    out["datasets"] = {"attention": rows, "units": unit_rows(labels)}
    return out


def model_view(labels: dict[str, list[str]], rows: list[dict], n_heads: int, links: str, title: str,
               description: str) -> dict:
    """bertviz's model view: a grid of every layer x head, each cell the head's attention on the sentence as a
    small heatmap; clicking a cell opens the head's page (`links` is the href pattern with {l} and {h}). The
    cells are sized so that the grid fits the page's content width (`model_view_cell`); the tooltip names the
    tokens (or words)."""
    cell = model_view_cell(n_heads, max(len(v) for v in labels.values()))
    level = _level_param()
    href = links.replace("{l}", "' + datum.l + '").replace("{h}", "' + datum.h + '")
    domain = _units_domain(labels)
    inner = (
        alt.Chart(alt.NamedData(name="attention"))
        .mark_rect()
        .encode(
            x=alt.X("j:O", axis=None, scale=alt.Scale(domain=domain)),
            y=alt.Y("i:O", axis=None, scale=alt.Scale(domain=domain)),
            color=alt.Color("w:Q", title="weight", scale=alt.Scale(domain=[0, 1], scheme="blues"),
                            legend=alt.Legend(orient="top", direction="horizontal")),
            href=alt.Href("href:N"),
            tooltip=[alt.Tooltip("l:O", title="layer"), alt.Tooltip("h:O", title="head"),
                     alt.Tooltip("from:N", title="from"), alt.Tooltip("to:N", title="to"),
                     alt.Tooltip("w:Q", title="weight", format=".3f")],
        )
        # each cell's background is the colour of weight 0, so that a weight under ATTENTION_FLOOR (left out of the
        # data) reads as the near-zero it is, not as a white hole
        .properties(width=cell, height=cell, view=alt.ViewBackground(fill=ZERO_FILL, stroke=None))
        .facet(row=alt.Row("l:O", title="layer"), column=alt.Column("h:O", title="head"),
               spacing=MODEL_VIEW_SPACING)
        # transforms of the whole grid: inside the facet, a filter on a param is not allowed
        .transform_filter(alt.datum.lv == level)
        .transform_flatten(["j", "w"])
    )
    chart = (_unit_text(_unit_text(inner, "i", "from"), "j", "to")
             .transform_calculate(href=f"'{href}'")
             .add_params(level)
             .properties(title=title, description=description))
    out = spec(chart)
    out["datasets"] = {"attention": rows, "units": unit_rows(labels)}
    return out


def neuron_view(tokens: list[str], vectors: list[dict], n_layers: int, n_heads: int, d_head: int, causal: bool,
                title: str, description: str) -> dict:
    """bertviz's neuron view for one layer, head and query token (three sliders): the query vector, the key
    vectors, their elementwise product q*k, the scores q.k/sqrt(d) and the softmax, computed in the chart from
    the stored vectors of one layer `vectors` = rows {l, h, t, v: 'q' | 'k', x: [d values]} (the layer slider's
    first value; the page script loads another layer's rows when the slider moves). A causal model's queries see
    only keys up to themselves. The chart is built once per model shape (Altair copies a chart at every step);
    each sentence's tokens, title and data are filled into a copy of it."""
    labels = token_labels(tokens)
    out = copy.deepcopy(_neuron_skeleton(n_layers, n_heads, d_head, causal))
    for param in out["params"]:
        if param["name"] == "query":
            param["bind"]["options"], param["bind"]["labels"] = list(range(len(tokens))), labels
    out["title"], out["description"] = title, description
    out["datasets"] = {"vectors": vectors, "names": [{"t": i, "token": s} for i, s in enumerate(labels)]}
    return out


@functools.lru_cache(maxsize=16)
def _neuron_skeleton(n_layers: int, n_heads: int, d_head: int, causal: bool) -> dict:
    layer = _layer_param(n_layers)
    head = alt.param(name="head", value=0, bind=alt.binding_range(min=0, max=n_heads - 1, step=1, name="Head: "))
    query = alt.param(name="query", value=0, bind=alt.binding_select(options=[0], labels=["0"],
                                                                      name="Query token: "))
    names = alt.LookupData(data=alt.NamedData(name="names"), key="t", fields=["token"])
    # "vectors" holds one layer's rows: the page script swaps in the picked layer's (a data file per layer), so the
    # chart never goes through an empty layer while a file loads
    base = (
        alt.Chart(alt.NamedData(name="vectors"))
        .transform_filter(alt.datum.h == head)
        .transform_flatten(["x"])
        .transform_window(d="row_number()", groupby=["t", "v"])  # the position in the vector, 1-based
        .transform_calculate(qx="datum.v === 'q' && datum.t === query ? datum.x : 0")
        .transform_joinaggregate(q="sum(qx)", groupby=["d"])
        .transform_lookup(lookup="t", from_=names)
    )
    keys = base.transform_filter(alt.datum.v == "k")
    if causal:
        keys = keys.transform_filter(alt.datum.t <= query)
    keys = keys.transform_calculate(qk="datum.x * datum.q")
    diverging = alt.Scale(scheme="redblue", domainMid=0, reverse=True)
    width = {"step": max(3, min(10, 320 // d_head))}
    y = alt.Y("token:N", sort=alt.EncodingSortField("t", op="min"), title=None)  # min: layers share the axis
    query_row = (base.transform_filter((alt.datum.v == "q") & (alt.datum.t == query))
                 .mark_rect().encode(x=alt.X("d:O", axis=None), y=alt.Y("token:N", title=None),
                                     color=alt.Color("x:Q", scale=diverging, title="value"),
                                     tooltip=[alt.Tooltip("d:O", title="dimension"), alt.Tooltip("x:Q", format=".3f")])
                 .properties(title="query q", width=width))
    key_rows = (keys.mark_rect().encode(x=alt.X("d:O", axis=None), y=y, color=alt.Color("x:Q", scale=diverging),
                                        tooltip=[alt.Tooltip("token:N"), alt.Tooltip("d:O", title="dimension"),
                                                 alt.Tooltip("x:Q", format=".3f")])
                .properties(title="keys k", width=width))
    products = (keys.mark_rect().encode(x=alt.X("d:O", axis=None), y=y, color=alt.Color("qk:Q", scale=diverging),
                                        tooltip=[alt.Tooltip("token:N"), alt.Tooltip("d:O", title="dimension"),
                                                 alt.Tooltip("qk:Q", title="q*k", format=".3f")])
                .properties(title="q * k", width=width))
    scores = (keys.transform_aggregate(dot="sum(qk)", groupby=["t", "token"])
              .transform_calculate(score=f"datum.dot / sqrt({d_head})")
              .transform_joinaggregate(top="max(score)")
              .transform_calculate(e="exp(datum.score - datum.top)")
              .transform_joinaggregate(z="sum(e)")
              .transform_calculate(p="datum.e / datum.z"))
    score_col = alt.layer(
        scores.mark_rect().encode(y=y, color=alt.Color("score:Q", scale=diverging)),
        scores.mark_text(fontSize=11).encode(y=y, text=alt.Text("score:Q", format=".2f")),
    ).properties(title="q.k/sqrt(d)", width=60)
    softmax_col = alt.layer(
        scores.mark_bar(color="#4a7bd0").encode(y=y, x=alt.X("p:Q", scale=alt.Scale(domain=[0, 1]), title=None)),
        scores.mark_text(align="left", dx=3, fontSize=11).encode(y=y, x="p:Q", text=alt.Text("p:Q", format=".3f")),
    ).properties(title="softmax", width=120)
    chart = (alt.vconcat(query_row, alt.hconcat(key_rows, products, score_col, softmax_col))
             .add_params(layer, head, query).properties(title="", description=""))  # filled per sentence
    return spec(chart)
