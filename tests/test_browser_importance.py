"""What the importance heatmap draws in Chromium: each head's cell coloured on a logarithmic scale, so that a
tenfold range of small values spans the colours instead of sitting at the dark end (the colour of each cell is
the chart's colour ramp at the position log(v / min) / log(max / min), computed here), and a legend that says
so."""

from __future__ import annotations

import math

import pytest
from conftest import site_rows, tab_pages

pytestmark = pytest.mark.browser

FILLS_JS = """async (id) => {
  const view = await window.reportgenViews[id];
  const out = [];
  function walk(mark) {
    for (const item of mark.items || []) {
      if (mark.marktype === "group") { for (const child of item.items || []) { walk(child); } }
      else if (mark.marktype === "rect" && mark.role === "mark") { out.push({v: item.datum.v, fill: item.fill}); }
    }
  }
  walk(view.scenegraph().root);
  const scale = view.scale("color");
  const ramp = scale.interpolator();  // the colour scheme as a function of the position 0-1
  return {cells: out, type: scale.type, domain: scale.domain(), at: (%s).map(t => ramp(t))};
}"""


def _rgb(colour: str) -> tuple[int, int, int]:
    if colour.startswith("#"):
        return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return tuple(int(float(x)) for x in colour[colour.index("(") + 1:colour.index(")")].split(",")[:3])


def test_the_importance_heatmap_is_coloured_on_a_logarithmic_scale(tab, analysis_site):
    stored = {(l, h): v for l, h, v in site_rows(analysis_site, "SELECT layer, head, value FROM head_importance "
                                                                "WHERE scope = 'corpus' AND method = 'ablation' AND "
                                                                "head IS NOT NULL")}
    low, high = min(stored.values()), max(stored.values())
    ordered = sorted(stored.values())
    positions = [math.log(v / low) / math.log(high / low) for v in ordered]
    with tab_pages(tab) as open_page:
        page = open_page(analysis_site / "index.html")
        found = page.evaluate(FILLS_JS % repr(positions), "importance-chart")
        legend = page.evaluate("""async () => {
          const view = await window.reportgenViews["importance-chart"];
          const texts = [];
          (function walk(item) { if (item.text !== undefined) texts.push(String(item.text));
            for (const child of item.items || []) walk(child); })(view.scenegraph().root);
          return texts; }""")
    assert found["type"] == "sequential-log" and found["domain"] == pytest.approx([low, high], rel=1e-5)
    cells = sorted(found["cells"], key=lambda c: c["v"])
    assert len(cells) == len(stored)
    for cell, value, want in zip(cells, ordered, found["at"]):
        assert cell["v"] == pytest.approx(value, rel=1e-5)
        assert all(abs(a - b) <= 2 for a, b in zip(_rgb(cell["fill"]), _rgb(want))), (value, cell["fill"], want)
    assert any("(logarithmic scale)" in t for t in legend)
