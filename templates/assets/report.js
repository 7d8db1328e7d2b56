// reportgen's page script: draws every chart with the vendored Vega bundle, lets the reader pick the probe
// token whose histograms are shown, lists each token's matches (filterable by POS and dependency) from the
// page data and assets/contexts.js, and fills the build timings. All text is inserted as text, never as HTML.
(function () {
  "use strict";
  var specs = {};   // chart id -> Vega-Lite spec, as embedded in the page
  var views = {};   // chart id -> promise of the Vega view
  var pageData = null;

  // The pages' Content-Security-Policy allows only the site's own scripts and styles: Vega evaluates its
  // expressions with its interpreter (ast) instead of eval, and vega-embed and its tooltip add no style
  // elements (their rules are in style.css).
  function embed(target, spec) {
    return vegaEmbed(target, spec, { actions: false, renderer: "svg", ast: true, defaultStyle: false,
                                     tooltip: { disableDefaultStyle: true } })
      .then(function (result) { return result.view; })
      .catch(function (err) { target.textContent = "This chart could not be drawn: " + err; });
  }

  function embedCharts() {
    var found = document.querySelectorAll('script[type="application/json"][data-chart]');
    Array.prototype.forEach.call(found, function (el) {
      var id = el.getAttribute("data-chart");
      specs[id] = JSON.parse(el.textContent);
      var shared = el.getAttribute("data-shared");  // datasets the page carries once for several charts
      if (shared) {
        var datasets = JSON.parse(document.getElementById(shared).textContent);
        Object.keys(datasets).forEach(function (name) { specs[id].datasets[name] = datasets[name]; });
      }
      views[id] = embed(document.getElementById(id), specs[id]);
    });
  }

  // ---- histograms of the chosen token -------------------------------------------------------------

  function percent(n, total) { return Math.floor(100 * n / total + 0.5) + "%"; }

  // The caption of one chart for one token key; the same wording as the captions written by reportgen.
  function captions(spec, key) {
    var names = {}, titles = [];
    spec.datasets.names.forEach(function (r) { names[r.c] = r.label; });
    spec.datasets.titles.forEach(function (r) { titles[r.f] = r.title; });
    var row = null;
    spec.datasets.counts.forEach(function (r) { if (r.k === key) { row = r; } });
    return titles.map(function (title, f) {
      var bars = [], total = 0;
      if (row) {
        row.f.forEach(function (facet, i) {
          if (facet === f) { bars.push([names[row.c[i]], row.n[i]]); total += row.n[i]; }
        });
      }
      if (!bars.length) { return title + ": no matches."; }
      return title + " (" + total.toLocaleString("en-US") + " matches): " + bars.map(function (b) {
        return b[0] + " " + b[1].toLocaleString("en-US") + " (" + percent(b[1], total) + ")";
      }).join(", ") + ".";
    });
  }

  // Draw a chart again for another token. (Changing the `token` signal of the drawn view would reuse its
  // category axis, whose order does not follow the new data.)
  function redraw(id, key) {
    views[id].then(function (view) { if (view) { view.finalize(); } });
    specs[id].params.forEach(function (p) { if (p.name === "token") { p.value = key; } });
    var target = document.getElementById(id);
    target.textContent = "";  // a drawing still under way goes to its own, now detached, element
    views[id] = embed(target.appendChild(document.createElement("div")), specs[id]);
  }

  function chooseToken(key) {
    var select = document.getElementById("token-select");
    if (!select) { return; }
    select.value = key;
    var option = select.options[select.selectedIndex];
    var label = key === "all" ? "all probe tokens" : "probe token " + option.textContent;
    Array.prototype.forEach.call(document.querySelectorAll("figure.histograms"), function (fig) {
      fig.querySelector(".chosen-token").textContent = label;
      var list = fig.querySelector("ul.caption");
      var id = list.getAttribute("data-caption-for");
      list.textContent = "";
      captions(specs[id], key).forEach(function (text) {
        list.appendChild(document.createElement("li")).textContent = text;
      });
      redraw(id, key);
    });
  }

  // ---- match lists --------------------------------------------------------------------------------

  function el(parent, tag, text, cls) {
    var node = parent.appendChild(document.createElement(tag));
    if (text !== undefined && text !== null) { node.textContent = text; }
    if (cls) { node.className = cls; }
    return node;
  }

  function tokenText(sentence, tok) {
    return typeof tok === "string" ? tok : sentence[0].slice(tok[0], tok[1]);
  }

  // The matched sentence with the matched token highlighted and the most attended token marked.
  function context(cell, sentence, matchIdx, attIdx) {
    var text = sentence[0], toks = sentence[1];
    var spans = [[toks[matchIdx], "mark", "matched token"]];
    if (attIdx !== matchIdx && typeof toks[attIdx] !== "string") {
      spans.push([toks[attIdx], "span", "the token it attends to most"]);
    }
    spans.sort(function (a, b) { return a[0][0] - b[0][0]; });
    var at = 0;
    spans.forEach(function (s) {
      if (s[0][0] < at) { return; }
      cell.appendChild(document.createTextNode(text.slice(at, s[0][0])));
      var node = el(cell, s[1], text.slice(s[0][0], s[0][1]), s[1] === "span" ? "attended" : null);
      node.title = s[2];
      at = s[0][1];
    });
    cell.appendChild(document.createTextNode(text.slice(at)));
  }

  function signed(n) { return n > 0 ? "+" + n : String(n); }

  // The page data hold each token's matches flat, 4 numbers per match: sentence, token, most attended token,
  // score x 1000.
  function unflatten(flat) {
    var out = [];
    for (var i = 0; i < flat.length; i += 4) { out.push(flat.slice(i, i + 4)); }
    return out;
  }

  function stripData(matches, contexts) {
    var rows = [];
    matches.forEach(function (m, rank) {
      var toks = contexts.sentences[m[0]][1];
      [-1, 0, 1].forEach(function (o) {
        var tok = toks[m[1] + o];
        if (tok === undefined) { return; }
        var pos = typeof tok === "string" ? "special" : contexts.pos[tok[2]];
        rows.push({ r: rank + 1, o: o === 0 ? "0" : signed(o), p: pos });
      });
    });
    return rows;
  }

  function select(parent, label, values) {
    var box = el(parent, "label", label + " ");
    var node = el(box, "select");
    el(node, "option", "any").value = "";
    values.forEach(function (v) { el(node, "option", v).value = v; });
    return node;
  }

  function matchList(parent, heading, matches, contexts) {
    var box = el(parent, "div", null, "match-list");
    if (heading) { el(box, "h4", heading); }
    if (!matches.length) { el(box, "p", "No matches."); return; }
    var strip = el(box, "div", null, "chart strip");
    var spec = JSON.parse(JSON.stringify(pageData.strip));
    spec.datasets = { strip: stripData(matches, contexts) };
    embed(strip, spec);
    var form = el(box, "form", null, "filters");
    var table = el(box, "table", null, "matches");
    var head = el(el(table, "thead"), "tr");
    ["#", "score", "match in context", "POS", "dep", "attends most to"].forEach(function (t) { el(head, "th", t); });
    var body = el(table, "tbody");
    var rows = [], posSeen = {}, depSeen = {};
    matches.forEach(function (m, rank) {
      var sentence = contexts.sentences[m[0]], tok = sentence[1][m[1]];
      var pos = contexts.pos[tok[2]], dep = contexts.dep[tok[3]];
      posSeen[pos] = true;
      depSeen[dep] = true;
      var tr = el(body, "tr");
      el(tr, "td", String(rank + 1));
      el(tr, "td", (m[3] / 1000).toFixed(3));
      context(el(tr, "td"), sentence, m[1], m[2]);
      el(tr, "td", pos);
      el(tr, "td", dep);
      var att = sentence[1][m[2]];
      el(tr, "td", typeof att === "string" ? att : tokenText(sentence, att) + " (" + signed(m[2] - m[1]) + ")");
      rows.push({ tr: tr, pos: pos, dep: dep });
    });
    var posSelect = select(form, "POS", Object.keys(posSeen).sort());
    var depSelect = select(form, "dependency", Object.keys(depSeen).sort());
    var status = el(form, "span", null, "status");
    var more = el(form, "button", "show all");
    more.type = "button";
    var all = false;
    function update() {
      var shown = 0, matching = 0;
      rows.forEach(function (r) {
        var ok = (!posSelect.value || r.pos === posSelect.value) && (!depSelect.value || r.dep === depSelect.value);
        if (ok) { matching += 1; }
        r.tr.hidden = !ok || (!all && matching > pageData.shown);
        if (!r.tr.hidden) { shown += 1; }
      });
      status.textContent = "showing " + shown + " of " + matching + " matching (" + rows.length + " in all)";
      more.hidden = all || shown === matching;
    }
    posSelect.addEventListener("change", update);
    depSelect.addEventListener("change", update);
    more.addEventListener("click", function () { all = true; update(); });
    update();
  }

  function openToken(details) {
    var key = details.getAttribute("data-key");
    chooseToken(key);
    var target = details.querySelector(".match-lists");
    if (target.childNodes.length) { return; }
    var sections = document.querySelectorAll("section.analysis");
    Array.prototype.forEach.call(sections, function (section) {
      var space = section.getAttribute("data-space");
      var heading = sections.length > 1 ? section.querySelector("h2").textContent : null;
      matchList(target, heading, unflatten(pageData.spaces[space][key] || []), window.reportgenContexts);
    });
  }

  function wireTokens() {
    var data = document.getElementById("page-data");
    if (!data) { return; }
    pageData = JSON.parse(data.textContent);
    document.getElementById("token-select").addEventListener("change", function (e) { chooseToken(e.target.value); });
    Array.prototype.forEach.call(document.querySelectorAll("details.token"), function (details) {
      details.addEventListener("toggle", function () { if (details.open) { openToken(details); } });
    });
  }

  function fillTimings() {
    var table = document.getElementById("timings");
    if (!table || !window.reportgenTimings) { return; }
    var body = table.tBodies[0];
    Object.keys(window.reportgenTimings).forEach(function (name) {
      var row = body.insertRow();
      row.insertCell().textContent = name;
      row.insertCell().textContent = window.reportgenTimings[name].toFixed(2) + " s";
    });
  }

  // The pickers and filters are forms only for their labels: they never submit.
  document.addEventListener("submit", function (e) { e.preventDefault(); });
  document.addEventListener("DOMContentLoaded", function () { embedCharts(); wireTokens(); fillTimings(); });
})();
