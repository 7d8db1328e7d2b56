// reportgen's page script: draws every chart with the vendored Vega bundle, lets the reader pick the probe
// token whose histograms are shown, lists each token's matches (filterable by POS and dependency) from the
// page data and assets/contexts.js, and fills the build timings. All text is inserted as text, never as HTML.
(function () {
  "use strict";
  var specs = {};   // chart id -> Vega-Lite spec, as embedded in the page
  var views = {};   // chart id -> promise of the Vega view
  window.reportgenViews = views;  // for the browser tests, which read what each chart draws
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

  // ---- data per layer: a chart whose spec carries one layer's data loads the others from data files as the
  // reader picks them (data-layer-files: a path relative to the page with {l}; each file sets its rows in
  // window.reportgenLayers under its own name). Its Vega dataset "vectors" is replaced with the layer's rows.
  var layerData = {};  // file -> promise of its rows

  function loadLayer(src) {
    if (!layerData[src]) {
      layerData[src] = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = src;
        script.onload = function () {
          var name = src.slice(src.lastIndexOf("/") + 1);
          resolve((window.reportgenLayers || {})[name] || []);
        };
        script.onerror = function () { delete layerData[src]; reject(new Error("could not load " + src)); };
        document.head.appendChild(script);
      });
    }
    return layerData[src];
  }

  function wireLayerFiles() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-layer-files]"), function (el) {
      var pattern = el.getAttribute("data-layer-files");
      views[el.id].then(function (view) {
        if (!view) { return; }
        view.addSignalListener("layer", function (_name, layer) {
          el.setAttribute("aria-busy", "true");
          loadLayer(pattern.replace("{l}", layer)).then(function (rows) {
            if (view.signal("layer") !== layer) { return; }  // the reader has moved on
            var copies = rows.map(function (r) { return Object.assign({}, r); });  // Vega marks its tuples
            return view.data("vectors", copies).runAsync();  // replaces the dataset
          }).catch(function (err) {
            el.insertAdjacentText("afterend", "Layer " + layer + " could not be loaded: " + err.message);
          }).then(function () { el.removeAttribute("aria-busy"); });
        });
      });
    });
  }

  // ---- counting matches: the histograms of any set of matches, with the corpus base rates ------------

  function percent(n, total) { return Math.floor(100 * n / total + 0.5) + "%"; }
  function baseText(b) { return b > 0 && b < 0.005 ? "under 1%" : percent(b, 1); }
  function times(lift) { return "\u00d7" + (Math.floor(10 * lift + 0.5) / 10).toFixed(1); }
  function signed(n) { return n > 0 ? "+" + n : String(n); }
  var FACETS = ["pos", "tag", "dep", "ent"];

  // The four categories (POS, tag, dep, entity) of one token of a context sentence: 'special' for special
  // tokens and tokens outside any word, 'none' outside entities (as the database's aggregates count them).
  function categories(contexts, sentence, idx) {
    var tok = sentence[1][idx];
    if (typeof tok === "string" || tok[2] < 0) { return ["special", "special", "special", "special"]; }
    var word = sentence[2][tok[2]];
    return FACETS.map(function (facet, f) { return contexts[facet][word[2 + f]]; });
  }

  function offsetBucket(sentence, matchIdx, attIdx) {
    if (typeof sentence[1][attIdx] === "string") { return "special"; }
    var d = attIdx - matchIdx;
    return Math.abs(d) > 3 ? "further" : signed(d);
  }

  // What a chart counts ('matched', 'attended' or 'offsets', the end of its id) for each match:
  // one category per panel of the chart.
  function matchCategories(part, contexts, m) {
    var sentence = contexts.sentences[m[0]];
    if (part === "offsets") { return [offsetBucket(sentence, m[1], m[2])]; }
    return categories(contexts, sentence, part === "attended" ? m[2] : m[1]);
  }

  // A 'counts' row of a histogram chart {k, f, c, n} for a set of matches, categories largest first.
  function countRow(spec, part, key, matches, contexts) {
    var index = {}, order = null;
    spec.datasets.names.forEach(function (r) { index[r.label] = r.c; });
    var counts = spec.datasets.titles.map(function () { return {}; });
    matches.forEach(function (m) {
      matchCategories(part, contexts, m).forEach(function (category, f) {
        counts[f][category] = (counts[f][category] || 0) + 1;
      });
    });
    if (part === "offsets") { order = spec.datasets.names.map(function (r) { return r.label; }); }
    var row = { k: key, f: [], c: [], n: [] };
    counts.forEach(function (found, f) {
      var labels = Object.keys(found);
      labels.sort(order ? function (a, b) { return order.indexOf(a) - order.indexOf(b); }
                        : function (a, b) { return found[b] - found[a] || (a < b ? -1 : a > b ? 1 : 0); });
      labels.forEach(function (label) {
        if (!(label in index)) {  // a category none of the page's matches has: no base rate known
          index[label] = spec.datasets.names.length;
          spec.datasets.names.push({ c: index[label], label: label });
        }
        row.f.push(f);
        row.c.push(index[label]);
        row.n.push(found[label]);
      });
    });
    return row;
  }

  // The captions of a histogram chart for one of its rows; the same wording as reportgen's own captions.
  function captions(spec, row) {
    var names = {}, base = {}, own = null;
    spec.datasets.names.forEach(function (r) { names[r.c] = r.label; });
    spec.datasets.base.forEach(function (r) { base[r.fc] = r.b; });
    if (row && row.k === "all" && spec.datasets.own) {  // all probe tokens: the probe set's own mix too
      own = {};
      spec.datasets.own.forEach(function (r) { own[r.fc] = r.b; });
    }
    return spec.datasets.titles.map(function (t) {
      var bars = [], total = 0;
      if (row) {
        row.f.forEach(function (facet, i) {
          if (facet === t.f) {
            var fc = facet + ":" + row.c[i];
            bars.push([names[row.c[i]], row.n[i], base[fc] || 0, own ? own[fc] || 0 : null]);
            total += row.n[i];
          }
        });
      }
      if (!bars.length) { return t.title + ": no matches."; }
      return t.title + " (" + total.toLocaleString("en-US") + (total === 1 ? " match): " : " matches): ") +
        bars.map(function (b) {
        var lift = b[2] > 0 ? times(b[1] / total / b[2]) : "\u00d7\u221e";
        var mix = b[3] === null ? "" : "; probes' own " + baseText(b[3]) + ", " +
          (b[3] > 0 ? times(b[1] / total / b[3]) : "\u00d7\u221e");
        return b[0] + " " + b[1].toLocaleString("en-US") + " (" + percent(b[1], total) + "; corpus " +
          baseText(b[2]) + ", " + lift + mix + ")";
      }).join(", ") + ".";
    });
  }

  function setParam(spec, name, value) {
    spec.params.forEach(function (p) { if (p.name === name) { p.value = value; } });
  }

  // A copy of a histogram chart showing one row of counts (the all-tokens row stays for the page's own).
  function histogramSpec(spec, row, own, vertical) {
    var copy = JSON.parse(JSON.stringify(spec));
    copy.datasets.counts = [row];
    setParam(copy, "token", row.k);
    if (own) { setParam(copy, "own_pos", own.pos); setParam(copy, "own_dep", own.dep); }
    if (vertical && copy.hconcat) { copy.vconcat = copy.hconcat; delete copy.hconcat; }
    return copy;
  }

  // ---- the picker: the page's histograms for all probe tokens or one of them -------------------------

  function partOf(id) { return id.slice(id.lastIndexOf("-") + 1); }

  // Draw a chart again with another spec. (Changing a signal of the drawn view would reuse its category
  // axis, whose order does not follow the new data.)
  function redraw(id, spec) {
    views[id].then(function (view) { if (view) { view.finalize(); } });
    var target = document.getElementById(id);
    target.textContent = "";  // a drawing still under way goes to its own, now detached, element
    views[id] = embed(target.appendChild(document.createElement("div")), spec);
  }

  function fillCaptions(list, texts) {
    list.textContent = "";
    texts.forEach(function (text) { list.appendChild(document.createElement("li")).textContent = text; });
  }

  // The page's match lists, loaded from their data file beside the page the first time they are needed.
  var spacesLoaded = null;
  function withSpaces(use) {
    if (!spacesLoaded) {
      spacesLoaded = pageData.spaces ? Promise.resolve(pageData.spaces) : loadLayer(pageData.matches);
    }
    return spacesLoaded.then(use, function (err) {
      spacesLoaded = null;
      throw err;
    });
  }

  // The token last chosen: a choice whose data arrive after a later choice is not drawn over it.
  var chosenToken = "all";
  function chooseToken(key) {
    chosenToken = key;
    if (key !== "all") {
      return withSpaces(function (spaces) { if (chosenToken === key) { showToken(key, spaces); } });
    }
    showToken(key, null);
  }

  function showToken(key, spaces) {
    var select = document.getElementById("token-select");
    select.value = key;
    var option = select.options[select.selectedIndex];
    var label = key === "all" ? "all probe tokens" : "probe token " + option.textContent;
    var details = document.querySelector('details.token[data-key="' + key + '"]');
    var own = details ? { pos: details.getAttribute("data-pos"), dep: details.getAttribute("data-dep") } : null;
    Array.prototype.forEach.call(document.querySelectorAll("section.analysis"), function (section) {
      var space = section.getAttribute("data-space");
      Array.prototype.forEach.call(section.querySelectorAll("figure.histograms"), function (fig) {
        fig.querySelector(".chosen-token").textContent = label;
        var list = fig.querySelector("ul.caption");
        var id = list.getAttribute("data-caption-for"), spec = specs[id];
        var row = key === "all" ? spec.datasets.counts[0]
          : countRow(spec, partOf(id), key, unflatten(spaces[space][key] || []), window.reportgenContexts);
        fillCaptions(list, captions(spec, row));
        redraw(id, key === "all" ? spec : histogramSpec(spec, row, partOf(id) === "matched" ? own : null, false));
      });
    });
  }

  // ---- match lists: a concordance (keyword in context) per space ---------------------------------------

  var WINDOW = 48;  // characters of context shown on each side of the matched word

  function el(parent, tag, text, cls) {
    var node = parent.appendChild(document.createElement(tag));
    if (text !== undefined && text !== null) { node.textContent = text; }
    if (cls) { node.className = cls; }
    return node;
  }

  function tokenText(sentence, tok) {
    return typeof tok === "string" ? tok : sentence[0].slice(tok[0], tok[1]);
  }

  // The page data hold each token's matches flat, 4 numbers per match: sentence, token, most attended token,
  // score x 1000.
  function unflatten(flat) {
    var out = [];
    for (var i = 0; i < flat.length; i += 4) { out.push(flat.slice(i, i + 4)); }
    return out;
  }

  // The spans of a match in its sentence: the matched word, the matched token (a piece of it) and the token
  // it attends to most (null when that is a special token or the match itself).
  function spansOf(sentence, m) {
    var tok = sentence[1][m[1]], att = sentence[1][m[2]];
    var word = tok[2] >= 0 ? sentence[2][tok[2]] : tok;
    return { word: [word[0], word[1]], piece: [tok[0], tok[1]],
             att: m[2] !== m[1] && typeof att !== "string" ? [att[0], att[1]] : null };
  }

  // Text from `from` to `to`, cut at the boundaries of the spans: inside the matched piece a <b class=piece>,
  // inside the most attended token a <span class=attended> (a box, visible on punctuation too).
  function decorated(parent, text, from, to, spans) {
    var cuts = [from, to, spans.piece[0], spans.piece[1]];
    if (spans.att) { cuts.push(spans.att[0], spans.att[1]); }
    cuts = cuts.filter(function (c) { return c >= from && c <= to; }).sort(function (a, b) { return a - b; });
    for (var i = 0; i + 1 < cuts.length; i += 1) {
      var a = cuts[i], b = cuts[i + 1];
      if (a === b) { continue; }
      var piece = a >= spans.piece[0] && b <= spans.piece[1] && spans.piece[0] < spans.piece[1];
      var att = spans.att && a >= spans.att[0] && b <= spans.att[1];
      var node = parent;
      if (att) {
        node = el(node, "span", null, "attended");
        node.title = "the token it attends to most";
      }
      if (piece && spans.piece[1] - spans.piece[0] < spans.word[1] - spans.word[0]) {
        node = el(node, "b", null, "piece");
        node.title = "the matched model token";
      }
      node.appendChild(document.createTextNode(text.slice(a, b)));
    }
  }

  function concordanceRow(body, contexts, m, rank) {
    var sentence = contexts.sentences[m[0]], text = sentence[0], spans = spansOf(sentence, m);
    var cats = categories(contexts, sentence, m[1]);
    var tr = el(body, "tr");
    el(tr, "td", String(rank + 1), "rank");
    el(tr, "td", (m[3] / 1000).toFixed(3), "score");
    var left = el(tr, "td", null, "left"), from = Math.max(0, spans.word[0] - WINDOW);
    if (from > 0) { el(left, "span", "\u2026", "cut"); }
    decorated(left, text, from, spans.word[0], spans);
    var word = el(el(tr, "td", null, "word"), "mark");
    word.title = "the matched word";
    decorated(word, text, spans.word[0], spans.word[1], spans);
    var right = el(tr, "td", null, "right"), to = Math.min(text.length, spans.word[1] + WINDOW);
    decorated(right, text, spans.word[1], to, spans);
    if (to < text.length) { el(right, "span", "\u2026", "cut"); }
    el(tr, "td", cats[0], "pos");
    el(tr, "td", cats[2], "dep");
    var att = sentence[1][m[2]];
    el(tr, "td", typeof att === "string" ? att : tokenText(sentence, att) + " (" + signed(m[2] - m[1]) + ")",
       "attends");
    var button = el(el(tr, "td"), "button", "sentence", "full-toggle");
    button.type = "button";
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-label", "show the whole sentence of match " + (rank + 1));
    var full = el(body, "tr", null, "full");
    full.hidden = true;
    var cell = el(full, "td");
    cell.colSpan = 9;
    var mark = { word: spans.word, piece: spans.piece, att: spans.att };
    decorated(cell, text, 0, spans.word[0], mark);
    decorated(el(cell, "mark"), text, spans.word[0], spans.word[1], mark);
    decorated(cell, text, spans.word[1], text.length, mark);
    button.addEventListener("click", function () {
      full.hidden = !full.hidden;
      button.setAttribute("aria-expanded", String(!full.hidden));
      button.textContent = full.hidden ? "sentence" : "hide";
    });
    return { tr: tr, full: full, pos: cats[0], dep: cats[2], match: m };
  }

  function stripData(matches, contexts) {
    var rows = [];
    matches.forEach(function (m) {
      var sentence = contexts.sentences[m[0]];
      [-1, 0, 1].forEach(function (o) {
        var tok = sentence[1][m[1] + o];
        if (tok === undefined) { return; }
        rows.push({ r: m.rank + 1, o: o === 0 ? "0" : signed(o), t: tokenText(sentence, tok),
                    p: categories(contexts, sentence, m[1] + o)[0] });
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

  // A drawn chart that is replaced as the filters change.
  function replaceable(parent, cls) {
    var box = el(parent, "div", null, cls);
    var current = null;
    return function (spec) {
      if (current) { current.then(function (view) { if (view) { view.finalize(); } }); }
      box.textContent = "";
      var target = el(box, "div", null, "chart");
      target.setAttribute("role", "figure");
      target.setAttribute("aria-label", spec.description || "");
      current = embed(target, spec);
    };
  }

  // One space's matches of one probe token: the colour strip, the concordance with its filters, and beside
  // it the token's histograms; the filters redraw the strip and the histograms for the matches they keep.
  function matchList(parent, section, heading, key, matches, own, contexts) {
    var box = el(parent, "div", null, "match-list");
    if (heading) { el(box, "h4", heading); }  // under the probe section's h3
    if (!matches.length) { el(box, "p", "No matches."); return; }
    matches.forEach(function (m, rank) { m.rank = rank; });
    var drawStrip = replaceable(box, "strip");
    var form = el(box, "form", null, "filters");
    var layout = el(box, "div", null, "match-layout");
    var table = el(el(layout, "div", null, "concordance"), "table", null, "matches");
    var side = el(layout, "aside", null, "token-histograms");
    side.setAttribute("aria-label", "histograms of the matches of " + key + (heading ? " in the " + heading : ""));
    side.tabIndex = 0;  // it scrolls on its own: the keyboard must reach it
    var head = el(el(table, "thead"), "tr");
    ["#", "score", "before", "match", "after", "POS", "dep", "attends most to", "whole sentence"].forEach(function (t) {
      el(head, "th", t);
    });
    var body = el(table, "tbody");
    var rows = matches.map(function (m, rank) { return concordanceRow(body, contexts, m, rank); });
    var posSeen = {}, depSeen = {};
    rows.forEach(function (r) { posSeen[r.pos] = true; depSeen[r.dep] = true; });
    var charts = Array.prototype.map.call(section.querySelectorAll("figure.histograms ul.caption"), function (list) {
      var id = list.getAttribute("data-caption-for");
      var fig = el(side, "figure", null, "histograms");
      el(fig, "figcaption", list.parentNode.querySelector("figcaption strong").textContent);
      return { id: id, draw: replaceable(fig, "token-chart"), captions: el(fig, "ul", null, "caption") };
    });
    var posSelect = select(form, "POS", Object.keys(posSeen).sort());
    var depSelect = select(form, "dependency", Object.keys(depSeen).sort());
    var status = el(form, "span", null, "status");
    status.setAttribute("role", "status");
    var more = el(form, "button", "show all");
    more.type = "button";
    var all = false;
    function update() {
      var shown = 0, kept = [];
      rows.forEach(function (r) {
        var ok = (!posSelect.value || r.pos === posSelect.value) && (!depSelect.value || r.dep === depSelect.value);
        if (ok) { kept.push(r.match); }
        r.tr.hidden = !ok || (!all && kept.length > pageData.shown);
        if (r.tr.hidden) { r.full.hidden = true; }
        if (!r.tr.hidden) { shown += 1; }
      });
      status.textContent = "showing " + shown + " of " + kept.length + " matching (" + rows.length + " in all)";
      more.hidden = all || shown === kept.length;
      var strip = JSON.parse(JSON.stringify(pageData.strip));
      strip.datasets = { strip: stripData(kept, contexts) };
      drawStrip(strip);
      var filtered = posSelect.value || depSelect.value ? " (filtered)" : "";
      charts.forEach(function (c) {
        var spec = specs[c.id], row = countRow(spec, partOf(c.id), key + filtered, kept, contexts);
        c.draw(histogramSpec(spec, row, partOf(c.id) === "matched" ? own : null, true));
        fillCaptions(c.captions, captions(spec, row));
      });
    }
    posSelect.addEventListener("change", update);
    depSelect.addEventListener("change", update);
    more.addEventListener("click", function () { all = true; update(); });
    update();
  }

  function openToken(details) {
    var key = details.getAttribute("data-key");
    var target = details.querySelector(".match-lists");
    if (target.childNodes.length) { return; }
    var own = { pos: details.getAttribute("data-pos"), dep: details.getAttribute("data-dep") };
    var sections = document.querySelectorAll("section.analysis");
    withSpaces(function (spaces) {
      if (target.childNodes.length) { return; }  // opened again while the data loaded
      Array.prototype.forEach.call(sections, function (section) {
        var space = section.getAttribute("data-space");
        var heading = sections.length > 1 ? section.querySelector("h2").textContent : null;
        matchList(target, section, heading, key, unflatten(spaces[space][key] || []), own,
                  window.reportgenContexts);
      });
    }).catch(function (err) { target.textContent = "The matches could not be loaded: " + err.message; });
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

  // The index page's overview: one heatmap per statistic (a legend names one statistic only); the menu, a
  // native select, draws the chosen one in place and gives the figure its description.
  function wireOverview() {
    var menu = document.getElementById("overview-statistic");
    var source = document.getElementById("overview-specs");
    if (!menu || !source || !views.overview) { return; }
    var all = JSON.parse(source.textContent);
    function show() {
      var spec = all[menu.value];
      if (!spec) { return; }
      specs.overview = spec;
      document.getElementById("overview").setAttribute("aria-label", spec.description || "");
      redraw("overview", spec);
    }
    menu.addEventListener("change", show);
    if (menu.selectedIndex > 0) { show(); }  // a choice the browser kept from an earlier visit
  }

  // Sortable tables (class "sortable"): a header's button sorts the rows by that column, again to reverse
  // (numbers highest first on the first press, text from A); cells sort by their data-value (numbers; an empty
  // one last) or their text. aria-sort says the order.
  function wireSortable() {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
      var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
      headers.forEach(function (th, column) {
        var button = th.querySelector("button[data-sort]");
        if (!button) { return; }
        button.addEventListener("click", function () {
          var numeric = button.getAttribute("data-sort") === "number";
          var now = th.getAttribute("aria-sort");
          var ascending = now ? now !== "ascending" : !numeric;
          headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
          th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
          var body = table.tBodies[0];
          var rows = Array.prototype.slice.call(body.rows);
          function key(row) {
            var cell = row.cells[column];
            if (!numeric) { return cell.textContent.trim().toLowerCase(); }
            var raw = cell.getAttribute("data-value");
            return raw === null || raw === "" ? null : parseFloat(raw);
          }
          var keyed = rows.map(function (row, i) { return [key(row), i, row]; });
          keyed.sort(function (a, b) {
            if (a[0] === null || b[0] === null) {  // missing values last, whichever the order
              return a[0] === b[0] ? a[1] - b[1] : (a[0] === null ? 1 : -1);
            }
            var order = a[0] < b[0] ? -1 : (a[0] > b[0] ? 1 : a[1] - b[1]);
            return ascending ? order : -order;
          });
          keyed.forEach(function (k) { body.appendChild(k[2]); });
        });
      });
    });
    var filter = document.getElementById("heads-filter");
    var table = document.getElementById("head-grid");
    var status = document.getElementById("heads-shown");
    if (!filter || !table || !status) { return; }
    // Each word of the filter must match: L3 is layer 3, L1H1 that head, role:syntax a role (role: a prefix of
    // it, so role:s keeps syntax, self and special), anything else text anywhere in the row.
    function matches(row, text, word) {
      var layer = /^l(\d+)$/.exec(word), head = /^l(\d+)h(\d+)$/.exec(word), role = /^role:(.*)$/.exec(word);
      if (layer) { return row.getAttribute("data-layer") === layer[1]; }
      if (head) { return row.getAttribute("data-layer") === head[1] && row.getAttribute("data-head") === head[2]; }
      if (role) { return (row.getAttribute("data-role") || "").indexOf(role[1]) === 0; }
      return text.indexOf(word) >= 0;
    }
    filter.addEventListener("input", function () {
      var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      var rows = table.tBodies[0].rows;
      var shown = 0;
      Array.prototype.forEach.call(rows, function (row) {
        var text = row.textContent.toLowerCase();
        var keep = words.every(function (w) { return matches(row, text, w); });
        row.hidden = !keep;
        shown += keep ? 1 : 0;
      });
      status.textContent = shown + " of " + rows.length + " heads";
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
  document.addEventListener("DOMContentLoaded", function () { embedCharts(); wireLayerFiles(); wireTokens(); wireOverview(); wireSortable(); fillTimings(); });
})();
