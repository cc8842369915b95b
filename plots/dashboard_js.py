"""The dashboard page template: HTML, CSS and the drawing / self-test script.

Placeholders: __TITLE__, __DATA__ (JSON payload from `plots.dashboard.build_payload`),
__PLOTLYJS__ (plotly.js, inlined so the page works offline).
"""

PAGE_TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>__TITLE__</title>
<script>
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push(String(e.message || e)); });
window.addEventListener('unhandledrejection', function (e) { window.__errors.push('unhandled rejection: ' + String(e.reason)); });
(function () { var ce = console.error; console.error = function () { window.__errors.push('console.error: ' + Array.prototype.join.call(arguments, ' ')); ce.apply(console, arguments); }; })();
</script>
<style>
body { font-family: system-ui, sans-serif; margin: 12px 18px; color: #222; }
h1 { font-size: 20px; margin: 4px 0 8px; }
#controls { display: flex; flex-wrap: wrap; gap: 14px; align-items: center; margin: 8px 0; }
#controls label { font-size: 13px; }
select { font-size: 13px; }
#notes { background: #fff8e1; border: 1px solid #f0d58c; padding: 6px 10px; font-size: 13px; }
#notes ul { margin: 2px 0; padding-left: 18px; }
#message { display: none; background: #fdecea; border: 1px solid #e5a29b; padding: 16px; margin: 10px 0; font-size: 15px; }
#viewdesc { font-size: 13px; color: #555; margin: 2px 0 4px; }
#levelnote { font-size: 13px; background: #eef5ff; border: 1px solid #b8d0f0; padding: 4px 10px; margin: 4px 0; }
#levelnote .warn { color: #a04000; font-weight: bold; }
#curves { width: 100%; height: 420px; display: none; }
#plot { width: 100%; height: 640px; }
table { border-collapse: collapse; font-size: 13px; margin-top: 8px; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
#selftest-result { display: none; }
</style>
</head>
<body>
<h1>__TITLE__</h1>
<div id="notes"></div>
<div id="controls">
  <label>Dataset <select id="sel-dataset"></select></label>
  <label id="lbl-split">Split <select id="sel-split"></select></label>
  <label>Metric <select id="sel-metric"></select></label>
  <label>Accuracy level <select id="sel-level"></select></label>
  <label>Cost axis <select id="sel-cost"></select></label>
  <label>Cost per <select id="sel-per"><option value="video">video (clip x views)</option><option value="clip">clip</option></select></label>
  <label>View <select id="sel-view"></select></label>
  <label><input type="checkbox" id="chk-log" checked> log-scale x</label>
  <label><input type="checkbox" id="chk-size"> bubble size = params</label>
</div>
<div id="viewdesc"></div>
<div id="levelnote"></div>
<div id="message"></div>
<div id="curves"></div>
<div id="plot"></div>
<div id="frontier-table"></div>
<pre id="selftest-result"></pre>
<script>__PLOTLYJS__</script>
<script type="application/json" id="stbench-data">__DATA__</script>
<script>
(function () {
'use strict';
window.__drawn = Promise.resolve();
var D = JSON.parse(document.getElementById('stbench-data').textContent);
var $ = function (id) { return document.getElementById(id); };
var esc = function (s) { var d = document.createElement('div'); d.textContent = String(s); return d.innerHTML; };
var dsLabel = {}; D.datasets.forEach(function (d) { dsLabel[d.key] = d.label; });
var axisByKey = {}; D.axes.forEach(function (a) { axisByKey[a.key] = a; });
var viewByKey = {}; D.views.forEach(function (v) { viewByKey[v.key] = v; });

function fill(sel, items, keep) {
  var old = keep ? sel.value : null;
  sel.innerHTML = '';
  items.forEach(function (it) {
    var o = document.createElement('option');
    o.value = it.key; o.textContent = it.label; if (it.disabled) o.disabled = true;
    sel.appendChild(o);
  });
  if (old && items.some(function (it) { return it.key === old && !it.disabled; })) sel.value = old;
}

function notes() {
  var n = D.notes.slice();
  n.push('Cost axes: ' + D.macs_note + '. Per clip: at the record\'s input (frames x size). Per video: per clip x the ' +
         'record\'s views (clips x crops of its test protocol); records whose views are not stated have no per-video cost ' +
         '(open markers per clip, left out per video). Accuracy is as published; a frontier never mixes datasets, splits, ' +
         'metrics or accuracy levels. Colours are fixed per family (grouped by design), symbols per backbone.');
  $('notes').innerHTML = '<b>About this data</b><ul>' + n.map(function (s) { return '<li>' + esc(s) + '</li>'; }).join('') + '</ul>';
}

function metricLabel(m) {
  var t = {top1: 'Top-1 accuracy (%)', top5: 'Top-5 accuracy (%)'}[m];
  return t || (m + ' (%)');
}

var LEVEL_ORDER = ['video', 'clip', 'unspecified'];
function levelCounts() {
  var ds = $('sel-dataset').value, sp = $('sel-split').value, m = $('sel-metric').value, c = {};
  D.points.forEach(function (p) { if (p.dataset === ds && p.split === sp && p.metric === m) c[p.level] = (c[p.level] || 0) + 1; });
  return c;
}

function refreshMetrics() {
  var ds = $('sel-dataset').value, splits = {};
  D.points.forEach(function (p) { if (p.dataset === ds) splits[p.split] = (splits[p.split] || 0) + 1; });
  var keys = Object.keys(splits).sort(function (a, b) { return splits[b] - splits[a] || (a < b ? -1 : 1); });
  fill($('sel-split'), keys.map(function (k) { return {key: k, label: (k || 'not stated') + ' (' + splits[k] + ')'}; }), true);
  $('lbl-split').style.display = keys.length > 1 ? '' : 'none';
  var ms = D.metrics[ds] || [];
  fill($('sel-metric'), ms.map(function (m) { return {key: m, label: m}; }), true);
  refreshLevels();
}

function refreshLevels() {
  var c = levelCounts();
  var lv = LEVEL_ORDER.filter(function (l) { return c[l]; }).concat(Object.keys(c).filter(function (l) { return LEVEL_ORDER.indexOf(l) < 0; }));
  fill($('sel-level'), lv.map(function (l) { return {key: l, label: l + ' (' + c[l] + ')'}; }), true);
}

function setup() {
  notes();
  fill($('sel-dataset'), D.datasets);
  refreshMetrics();
  if ((D.metrics[$('sel-dataset').value] || []).indexOf('top1') >= 0) { $('sel-metric').value = 'top1'; refreshLevels(); }
  var costs = D.axes.filter(function (a) { return a.per !== 'video'; }).map(function (a) { return {key: a.key, label: a.label.replace(/ per clip$/, '')}; });
  D.missing_kinds.forEach(function (k) {
    costs.push({key: 'missing-' + k, label: (k === 'latency' ? 'Latency' : 'Peak memory') + ': no measurements', disabled: true});
  });
  fill($('sel-cost'), costs);
  fill($('sel-view'), D.views);
  refreshPer();
  select(D.initial || {});
  fromHash();
  $('sel-dataset').addEventListener('change', function () { refreshMetrics(); draw(); });
  ['sel-split', 'sel-metric'].forEach(function (id) { $(id).addEventListener('change', function () { if (id === 'sel-split') { var keep = $('sel-metric').value; fill($('sel-metric'), (D.metrics[$('sel-dataset').value] || []).map(function (m) { return {key: m, label: m}; })); $('sel-metric').value = keep; } refreshLevels(); draw(); }); });
  $('sel-cost').addEventListener('change', function () { refreshPer(); draw(); });
  $('sel-per').addEventListener('change', function () { perWanted = $('sel-per').value; draw(); });
  ['sel-view', 'sel-level', 'chk-log', 'chk-size'].forEach(function (id) { $(id).addEventListener('change', draw); });
}

// "Cost per" shows what is drawn: video or clip where the cost axis has both forms (the choice
// is kept across axes), else the axis' only form (batch, model, clip) with the reason video is not offered.
var perWanted = 'video';
function refreshPer() {
  var axis = axisByKey[$('sel-cost').value], twin = axis.video && axisByKey[axis.video];
  if (twin) {
    fill($('sel-per'), [{key: 'video', label: 'video (clip x views)'}, {key: 'clip', label: 'clip'}]);
    $('sel-per').value = perWanted;
  } else {
    fill($('sel-per'), [{key: axis.per, label: axis.per + ' (the only form of this axis)'},
      {key: 'video', label: 'video: not for this axis (' + axis.label + ' is per ' + axis.per + ')', disabled: true}]);
    $('sel-per').value = axis.per;
  }
  $('sel-per').title = twin ? '' : axis.label + ' is per ' + axis.per + ': it has no per-video form';
}

// A selection {dataset, split, metric, level, cost, per, view, log}: the page opens on the one its
// command printed (D.initial), then on a link's, e.g. dashboard.html#dataset=ssv1&view=gst&cost=params&per=clip&log=0.
function select(pairs) {
  if ('log' in pairs) $('chk-log').checked = pairs.log !== '0';
  ['dataset', 'split', 'metric', 'level', 'cost', 'per', 'view'].forEach(function (k) {
    var sel = $('sel-' + k), v = pairs[k];
    if (v == null || !Array.prototype.some.call(sel.options, function (o) { return o.value === v && !o.disabled; })) return;
    sel.value = v;
    if (k === 'dataset') refreshMetrics();
    if (k === 'split' || k === 'metric') refreshLevels();
    if (k === 'cost') refreshPer();
    if (k === 'per') perWanted = v;
  });
}

function fromHash() {
  var pairs = {};
  location.hash.replace(/^#/, '').split('&').forEach(function (kv) {
    var parts = kv.split('=');
    pairs[decodeURIComponent(parts[0])] = decodeURIComponent(parts[1] || '');
  });
  select(pairs);
}

function message(text) {
  $('message').style.display = 'block';
  $('message').textContent = text;
  $('plot').style.display = 'none';
  $('frontier-table').innerHTML = '';
  Plotly.purge($('plot'));
  return Promise.resolve();
}

function explainEmpty(ds, metric, axis, view, inView) {
  var level = $('sel-level').value;
  var where = dsLabel[ds] + ' / ' + metric + ' / ' + level + '-level accuracy';
  if (!inView.length) {
    var other = {};
    D.points.forEach(function (p) { if (view.key in p.views && p.metric === metric) other[dsLabel[p.dataset]] = 1; });
    var names = Object.keys(other);
    return 'View "' + view.label + '" has no records on ' + where + '. ' +
      (names.length ? 'It has records on: ' + names.join(', ') + '.' : 'No dataset has records for it.');
  }
  var why = axis.per === 'video' ? 'no record here states its views (clips x crops), so no per-video cost is known; switch Cost per to clip' :
    axis.kind === 'static' ? 'no static profile joined these records' :
    'no ' + axis.kind + ' measurement at this device/batch/dtype matches these records (model, frames, size, classes)';
  return 'No ' + axis.label + ' for the ' + inView.length + ' record(s) of ' + where + ' in view "' + view.label + '": ' + why + '.';
}

function currentAxis() {
  var axis = axisByKey[$('sel-cost').value];
  return ($('sel-per').value === 'video' && axis.video && axisByKey[axis.video]) ? axisByKey[axis.video] : axis;
}

function mixNote(pts) {
  var out = [];
  ['pretraining', 'modality'].forEach(function (k) {
    var c = {};
    pts.forEach(function (p) { c[p[k]] = (c[p[k]] || 0) + 1; });
    var keys = Object.keys(c);
    if (keys.length > 1) out.push('<span class="warn">Mixed ' + k + ':</span> ' + keys.map(function (v) { return esc(v) + ' (' + c[v] + ')'; }).join(', ') +
      ' — points trained or tested differently share this frontier; compare them with care.');
  });
  return out;
}

function levelNote(level, axis, inView, pts) {
  var c = levelCounts(), others = Object.keys(c).filter(function (l) { return l !== level; });
  var lines = ['Accuracy level: <b>' + esc(level) + '</b> (' + (c[level] || 0) + ' records). ' +
    (others.length ? 'Also on this dataset and metric: ' + others.map(function (l) { return esc(l) + ' (' + c[l] + ')'; }).join(', ') +
     ' — choose them under Accuracy level; levels are never mixed on one frontier.' : 'No other level on this dataset and metric.')];
  lines.push('Cost is <b>per ' + esc(axis.per) + '</b>' + (axis.per === 'video' ? ' (per clip x views = clips x crops of each record\'s test protocol)' : '') + '.');
  var why = {};  // records with no per-video cost, by the reason the hover and the CLI give
  inView.forEach(function (p) { if (!p.views_known) (why[p.views_how] = why[p.views_how] || []).push(p.model); });
  Object.keys(why).sort().forEach(function (w) {
    var m = why[w];
    lines.push(m.length + ' record(s): ' + esc(w) + ' — ' + (axis.per === 'video' ? 'not drawn' : axis.kind === 'latency' ? 'drawn (a latency is per batch)' : 'drawn with open markers') +
      ' (' + m.slice(0, 6).map(esc).join(', ') + (m.length > 6 ? ', ...' : '') + ').');
  });
  return lines.concat(latencyNote(axis, pts), mixNote(pts)).join('<br>');
}

// Figure layout. Titles wrap left of the Plotly toolbar; legends sit under the plot in columns
// as wide as their longest entry and are never scrolled (the figure grows by their height);
// the plotting area fits the window below the controls, so the x-axis and its title show.
var FONT = '"Open Sans", verdana, arial, sans-serif', LEGEND_FONT = 10, LEGEND_ROW = 20, TOOLBAR = 300;
var MIN_Y_SPAN = 5;  // accuracy points: a smaller range is not stretched over the whole axis
function textWidth(s, size) {
  var ctx = textWidth.ctx || (textWidth.ctx = document.createElement('canvas').getContext('2d'));
  ctx.font = size + 'px ' + FONT;
  return ctx.measureText(String(s)).width;
}

function wrapTitle(text, width, size) {
  var lines = [''];
  String(text).split(' ').forEach(function (w) {
    var last = lines[lines.length - 1], next = last ? last + ' ' + w : w;
    if (last && textWidth(next, size) > width) lines.push(w); else lines[lines.length - 1] = next;
  });
  return lines;
}

function fitLayout(div, layout, traces, legend) {
  var width = div.clientWidth || Math.max(600, window.innerWidth - 40);
  var lines = wrapTitle(layout.title.text, width - TOOLBAR, 16);
  layout.title = {text: lines.join('<br>'), x: 0, xref: 'container', xanchor: 'left', pad: {l: 10, t: 8},
    y: 1, yref: 'container', yanchor: 'top', font: {size: 16}};
  var margin = {t: 24 + 22 * lines.length, b: 75, l: 80, r: 30}, legendH = 0;
  var top = div.getBoundingClientRect().top + window.scrollY;
  var area = Math.max(360, Math.min(560, window.innerHeight - top - margin.t - margin.b - 8));
  if (legend) {
    var names = traces.filter(function (t) { return t.showlegend !== false; }).map(function (t) { return t.name; });
    var entry = Math.ceil(Math.max.apply(null, names.map(function (n) { return textWidth(n, LEGEND_FONT); }).concat([40])) + 50);
    var perRow = Math.max(1, Math.floor((width - margin.l) / entry));
    legendH = Math.ceil(names.length / perRow) * LEGEND_ROW + 10;
    layout.legend = {orientation: 'h', font: {size: LEGEND_FONT}, entrywidth: entry, entrywidthmode: 'pixels', traceorder: 'normal',
      x: 0, xanchor: 'left', y: -margin.b / area, yanchor: 'top', maxheight: legendH + 100};
    margin.b += legendH;
  }
  layout.margin = margin;
  layout.height = margin.t + area + margin.b;
  div.style.height = layout.height + 'px';
  return layout;
}

// Labels next to their markers where they collide with no other label or marker (tried above,
// below, right, left and the corners); a label that fits nowhere is left to the hover.
function placeLabels(div) {
  var fl = div._fullLayout;
  if (!fl || !fl.xaxis || !div.data) return Promise.resolve();
  var xa = fl.xaxis, ya = fl.yaxis, marks = [], items = [];
  var box = function (cx, cy, w, h) { return {l: cx - w / 2 - 1, r: cx + w / 2 + 1, t: cy - h / 2 - 1, b: cy + h / 2 + 1}; };
  var hit = function (a, b) { return a.l < b.r && b.l < a.r && a.t < b.b && b.t < a.b; };
  div.data.forEach(function (t, i) {
    if (t.meta !== 'family' || !/text/.test(t.mode || '')) return;
    t.x.forEach(function (x, j) {
      var px = xa._offset + xa.c2p(x), py = ya._offset + ya.c2p(t.y[j]);
      var size = [].concat(t.marker.size)[Array.isArray(t.marker.size) ? j : 0] || 10;
      marks.push(box(px, py, size, size));
      items.push({trace: i, point: j, x: px, y: py, r: size / 2, w: textWidth(t.text[j], 9), h: 12});
    });
  });
  var area = {l: xa._offset, r: xa._offset + xa._length, t: ya._offset, b: ya._offset + ya._length};
  var placed = [], out = {};
  items.sort(function (a, b) { return a.x - b.x || a.y - b.y; }).forEach(function (it) {
    var r = it.r + 2, w = it.w, h = it.h, choices = [
      ['top center', 0, -(r + h / 2)], ['bottom center', 0, r + h / 2], ['middle right', r + w / 2, 0], ['middle left', -(r + w / 2), 0],
      ['top right', r + w / 2, -(r + h / 2)], ['top left', -(r + w / 2), -(r + h / 2)], ['bottom right', r + w / 2, r + h / 2], ['bottom left', -(r + w / 2), r + h / 2]];
    var got = null;
    choices.some(function (c) {
      var b = box(it.x + c[1], it.y + c[2], w, h);
      if (b.l < area.l || b.r > area.r || b.t < area.t || b.b > area.b) return false;
      if (placed.some(function (p) { return hit(p, b); }) || marks.some(function (m) { return hit(m, b); })) return false;
      placed.push(b); got = c[0]; return true;
    });
    var o = out[it.trace] = out[it.trace] || {pos: [], tpl: []};
    o.pos[it.point] = got || 'top center'; o.tpl[it.point] = got ? '%{text}' : '';
  });
  var idx = Object.keys(out).map(Number);
  if (!idx.length) return Promise.resolve();
  return Plotly.restyle(div, {textposition: idx.map(function (i) { return out[i].pos; }), texttemplate: idx.map(function (i) { return out[i].tpl; })}, idx);
}

function drawCurves(view, axis) {
  var div = $('curves');
  if (view.key !== 'xie' || !D.curves.length) { div.style.display = 'none'; Plotly.purge(div); return Promise.resolve(); }
  div.style.display = 'block';
  var col = D.curves.some(function (c) { return c.costs[axis.column] != null; }) && axis.per !== 'video' ? axis : axisByKey.macs || axis;
  var y = function (c) { return c.costs[col.column] * col.scale; };
  var ticks = D.curve_ticks;
  var byFam = {}, traces = [];
  D.curves.forEach(function (c) { if (c.transition != null && !c.mark && c.costs[col.column] != null) (byFam[c.family] = byFam[c.family] || []).push(c); });
  Object.keys(byFam).sort().forEach(function (f) {
    var g = byFam[f].sort(function (a, b) { return a.transition - b.transition; });
    traces.push({type: 'scatter', mode: 'lines+markers', name: f, x: g.map(function (c) { return ticks[c.transition]; }), y: g.map(y),
      text: g.map(function (c) { return c.model; }), hoverinfo: 'text+y', meta: 'curve',
      line: {color: D.colors[f], width: 2}, marker: {color: D.colors[f], symbol: D.symbols[g[0].backbone], size: 8}});
  });
  D.curves.filter(function (c) { return c.mark && c.costs[col.column] != null; }).forEach(function (c) {
    var flat = c.transition == null;
    traces.push({type: 'scatter', mode: flat ? 'lines' : 'markers+text', name: c.mark + (flat ? ' (no transition)' : ' (' + ticks[c.transition] + ')'),
      x: flat ? [ticks[0], ticks[ticks.length - 1]] : [ticks[c.transition]], y: flat ? [y(c), y(c)] : [y(c)],
      text: flat ? null : [c.mark], textposition: 'top center', hoverinfo: 'name+y', meta: 'mark',
      line: {color: D.colors[c.family], dash: 'dash', width: 1.5}, marker: {color: D.colors[c.family], symbol: 'star-diamond', size: 13, line: {width: 1, color: '#333'}}});
  });
  var layout = {title: {text: 'Xie et al. top-/bottom-heavy: ' + col.label + ' against the 2D/3D transition point (cost; accuracy only as a figure in the paper)'},
    xaxis: {title: {text: 'transition point (Inception block where 2D and 3D swap)'}, categoryorder: 'array', categoryarray: ticks},
    yaxis: {title: {text: col.label}}, legend: {font: {size: 10}}, hovermode: 'closest'};
  fitLayout(div, layout, traces, false);
  layout.margin.r = 220; layout.height = 420; div.style.height = '420px';
  return Plotly.react(div, traces, layout, {responsive: true, displaylogo: false});
}

var LIMITER_SYMBOL = {compute: 'circle', memory: 'square', launch: 'diamond'};
function drawCostView(view) {
  var lat = D.axes.filter(function (a) { return a.kind === 'predicted_latency'; })[0], macs = axisByKey.macs;
  $('viewdesc').textContent = view.description;
  $('levelnote').innerHTML = '';
  $('curves').style.display = 'none'; Plotly.purge($('curves'));
  var seen = {}, byFam = {}, n = 0;
  D.points.forEach(function (p) {
    var k = p.model + '|' + p.frames + '|' + p.size;
    if (seen[k] || p.costs[lat.column] == null || p.costs[macs.column] == null) return;
    seen[k] = 1; n += 1;
    (byFam[p.family] = byFam[p.family] || []).push(p);
  });
  if (!n) { window.__drawn = message('No model has both MACs and a predicted latency.'); return window.__drawn; }
  $('message').style.display = 'none';
  $('plot').style.display = 'block';
  var traces = Object.keys(byFam).sort(function (a, b) {
    var ga = D.groups[a] || '', gb = D.groups[b] || ''; return ga < gb ? -1 : ga > gb ? 1 : (a < b ? -1 : 1);
  }).map(function (f) {
    var g = byFam[f];
    return {type: 'scatter', mode: 'markers', name: f + ' [' + (D.groups[f] || '') + ']', legendgroup: f, meta: 'family',
      x: g.map(function (p) { return p.costs[macs.column] * macs.scale; }), y: g.map(function (p) { return p.costs[lat.column]; }),
      text: g.map(function (p) { return p.model; }), hoverinfo: 'text',
      hovertext: g.map(function (p) { return '<b>' + esc(p.model) + '</b><br>' + esc(p.frames) + ' frames x ' + esc(p.size) + '² px<br>' +
        (p.costs[macs.column] * macs.scale).toPrecision(4) + ' GMACs per clip<br>' + esc(lat.label) + ': ' + p.costs[lat.column].toPrecision(4) + ' ms<br>' +
        'bound by: ' + esc(p.limiter || '?') + (p.intensity != null ? ' · ' + p.intensity.toFixed(1) + ' MACs/byte' : ''); }),
      marker: {size: 10, color: D.colors[f], line: {width: 1, color: '#333'},
        symbol: g.map(function (p) { return LIMITER_SYMBOL[p.limiter] || 'circle-open'; })},
      error_y: errorBars(g, lat)};
  });
  var layout = {title: {text: 'GMACs per clip vs ' + lat.label + ' (' + n + ' model inputs)'},
    xaxis: {title: {text: macs.title}, type: 'log'}, yaxis: {title: {text: lat.label}, type: 'log'},
    hovermode: 'closest'};
  fitLayout($('plot'), layout, traces, true);
  $('frontier-table').innerHTML = '';
  window.__drawn = Plotly.react($('plot'), traces, layout, {responsive: true, displaylogo: false});
  return window.__drawn;
}

// Your records (--records FILE) get their own outline (D.outlines: thick, black).
function outlineWidth(p) { return D.outlines[p.user ? 'user' : 'published'].width; }
function outlineColor(p) { return D.outlines[p.user ? 'user' : 'published'].color; }

// Open markers: on a measured-latency axis a noisy measurement, elsewhere a record whose views are not stated.
function pointSymbol(p, axis) {
  var open = axis.kind === 'latency' ? p.noisy.indexOf(axis.column) >= 0 : !p.views_known;
  return D.symbols[p.backbone] + (open ? '-open' : '');
}

// Measured latency: the median with an error bar of +- IQR/2 (the spread of the timed calls).
function errorBars(g, axis) {
  if (axis.kind === 'predicted_latency' && g.some(function (p) { return p.spread[axis.column] != null; })) {
    var lo = function (p) { var s = p.spread[axis.column]; return s == null ? 0 : (p.costs[axis.column] - s[0]) * axis.scale; };
    var hi = function (p) { var s = p.spread[axis.column]; return s == null ? 0 : (s[1] - p.costs[axis.column]) * axis.scale; };
    return {type: 'data', symmetric: false, visible: true, thickness: 1.2, width: 3, array: g.map(hi), arrayminus: g.map(lo)};
  }
  if (axis.kind !== 'latency' || !g.some(function (p) { return p.spread[axis.column] != null; })) return {visible: false};
  return {type: 'data', symmetric: true, visible: true, thickness: 1.2, width: 3,
    array: g.map(function (p) { var s = p.spread[axis.column]; return s == null ? 0 : s / 2 * axis.scale; })};
}

function latencyNote(axis, pts) {
  if (axis.kind === 'predicted_latency') return ['Predicted latency: the device model\'s estimate; error bars: its interval (the worst leave-one-GPU-out error of its regime against published GPU measurements). Not a measurement.'];
  if (axis.kind !== 'latency') return [];
  var noisy = pts.filter(function (p) { return p.noisy.indexOf(axis.column) >= 0; });
  return ['Measured latency: median per batch, error bars &plusmn; IQR/2 of the timed calls; open markers: noisy measurements (' +
    noisy.length + ' of ' + pts.length + '; the hover says why). Each point was measured on the device the axis names.'];
}

function draw() {
  var ds = $('sel-dataset').value, metric = $('sel-metric').value, split = $('sel-split').value;
  var axis = currentAxis(), view = viewByKey[$('sel-view').value];
  if (view.key === 'flops_latency') return drawCostView(view);
  var logx = $('chk-log').checked, level = $('sel-level').value, bubble = $('chk-size').checked;
  $('viewdesc').textContent = view.description + (view.key === 'xie' ? ' ' + D.curves_note : '');
  var curvesDrawn = drawCurves(view, axis);
  var inView = D.points.filter(function (p) { return p.dataset === ds && p.split === split && p.metric === metric && (view.key in p.views) && p.level === level; });
  var pts = inView.filter(function (p) { return p.costs[axis.column] != null && p.costs[axis.column] > 0 || (!logx && p.costs[axis.column] != null); });
  $('levelnote').innerHTML = levelNote(level, axis, inView, pts);
  if (!pts.length) { window.__drawn = curvesDrawn.then(function () { return message(explainEmpty(ds, metric, axis, view, inView)); }); return window.__drawn; }
  $('message').style.display = 'none';
  $('plot').style.display = 'block';
  var x = function (p) { return p.costs[axis.column] * axis.scale; };
  var maxParams = Math.max.apply(null, pts.map(function (p) { return p.params || 0; }).concat([1]));
  var size = function (p) { return bubble && p.params ? 6 + 24 * Math.sqrt(p.params / maxParams) : 10; };
  var groups = {}, traces = [], nseries = 0;
  pts.forEach(function (p) { var k = p.family + ' · ' + p.backbone; (groups[k] = groups[k] || []).push(p); });
  Object.keys(groups).sort(function (a, b) {
    var ga = D.groups[groups[a][0].family] || '', gb = D.groups[groups[b][0].family] || '';
    return ga < gb ? -1 : ga > gb ? 1 : (a < b ? -1 : 1);
  }).forEach(function (k) {
    var g = groups[k], fam = g[0].family;
    traces.push({
      type: 'scatter', mode: view.key === 'all' || pts.length > 30 ? 'markers' : 'markers+text', name: k + ' [' + (D.groups[fam] || '') + ']',
      legendgroup: fam, x: g.map(x), y: g.map(function (p) { return p.value; }), meta: 'family',
      text: g.map(function (p) { return p.model; }), textposition: 'top center', textfont: {size: 9},
      hovertext: g.map(function (p) { return p.hover; }), hoverinfo: 'text',
      marker: {size: g.map(size), color: D.colors[fam], line: {width: g.map(outlineWidth), color: g.map(outlineColor)},
        symbol: g.map(function (p) { return pointSymbol(p, axis); })},
      error_x: errorBars(g, axis)
    });
  });
  if (view.key !== 'all') {
    var series = {};
    pts.forEach(function (p) { var s = p.views[view.key][0]; if (s) (series[s] = series[s] || []).push(p); });
    var names = Object.keys(series).sort();
    names.forEach(function (s) {
      var g = series[s].slice();
      if (g.length < 2) return;
      nseries += 1;
      g.sort(function (a, b) { var oa = a.views[view.key][1], ob = b.views[view.key][1];
        return (oa == null || ob == null || oa === ob) ? x(a) - x(b) : oa - ob; });
      traces.push({type: 'scatter', mode: 'lines', name: s, x: g.map(x), y: g.map(function (p) { return p.value; }),
        line: {width: 1.5, dash: 'dot', color: D.colors[g[0].family]}, hoverinfo: 'name', legendgroup: 'series', meta: 'series', family: g[0].family});
    });
  }
  if (view.key !== 'all' && view.key !== 'xie' && !nseries) {
    $('viewdesc').textContent = view.description + ' Here no series has two or more records, so no curve is drawn.';
  }
  var ids = D.frontiers[[ds, split, metric, axis.column, view.key, level].join('|')] || [];
  var byId = {}; D.points.forEach(function (p) { byId[p.id] = p; });
  var fr = ids.map(function (i) { return byId[i]; }).filter(function (p) { return pts.indexOf(p) >= 0; });
  fr.sort(function (a, b) { return x(a) - x(b) || b.value - a.value; });
  traces.push({type: 'scatter', mode: 'lines', name: 'Pareto frontier', x: fr.map(x), y: fr.map(function (p) { return p.value; }),
    line: {shape: 'hv', color: 'black', width: 2}, hoverinfo: 'skip', meta: 'frontier'});
  var layout = {
    title: {text: metricLabel(metric) + ' vs ' + axis.label + ' — ' + dsLabel[ds] + (split ? ' ' + split : '') + ', ' + level + ' level (' + pts.length + ' records, ' + fr.length + ' on the frontier)'},
    xaxis: {title: {text: axis.title}, type: logx ? 'log' : 'linear'},
    yaxis: {title: {text: metricLabel(metric) + ', ' + level + ' level, as published'}},
    hovermode: 'closest'
  };
  var ys = pts.map(function (p) { return p.value; }), lo = Math.min.apply(null, ys), hi = Math.max.apply(null, ys);
  if (hi - lo < MIN_Y_SPAN) {
    var mid = Math.min(100 - MIN_Y_SPAN / 2, Math.max(MIN_Y_SPAN / 2, (lo + hi) / 2));
    layout.yaxis.range = [mid - MIN_Y_SPAN / 2, mid + MIN_Y_SPAN / 2];
  }
  fitLayout($('plot'), layout, traces, true);
  $('frontier-table').innerHTML = '<b>On the frontier</b><table><tr><th>model</th><th>frames</th><th>' + esc(axis.label) +
    '</th><th>' + esc(metric) + ' (%, ' + esc(level) + ' level)</th></tr>' + fr.map(function (p) {
      return '<tr><td>' + esc(p.model) + (p.user ? ' (your record: ' + esc(p.user) + ')' : '') + '</td><td>' + esc(p.frames) + '</td><td>' + x(p).toLocaleString('en-US', {maximumFractionDigits: 2}) + '</td><td>' + p.value.toFixed(2) + '</td></tr>';
    }).join('') + '</table>';
  window.__drawn = curvesDrawn.then(function () { return Plotly.react($('plot'), traces, layout, {responsive: true, displaylogo: false}); })
    .then(function () { return placeLabels($('plot')); });
  return window.__drawn;
}

function rect(e) {
  if (!e) return null;
  var r = e.getBoundingClientRect();
  return [r.left, r.top + window.scrollY, r.right, r.bottom + window.scrollY];
}

function snapshot() {
  var plot = $('plot'), data = plot.data || [], xs = {};
  data.forEach(function (t) { if (t.meta === 'family') (t.text || []).forEach(function (m, i) { xs[m] = t.x[i]; }); });
  var curves = ($('curves').data || []);
  return {
    dataset: $('sel-dataset').value, metric: $('sel-metric').value, cost: $('sel-cost').value,
    per: $('sel-per').value, view: $('sel-view').value, level: $('sel-level').value,
    per_options: Array.prototype.map.call($('sel-per').options, function (o) { return (o.disabled ? '-' : '') + o.value; }),
    levels: Array.prototype.map.call($('sel-level').options, function (o) { return o.value; }),
    svg: !!plot.querySelector('.main-svg') && plot.style.display !== 'none',
    points: plot.querySelectorAll('.scatterlayer .point').length,
    errorbars: plot.querySelectorAll('.scatterlayer .errorbar').length,
    open_markers: data.filter(function (t) { return t.meta === 'family'; }).reduce(function (n, t) {
      return n + t.marker.symbol.filter(function (s) { return /-open$/.test(s); }).length; }, 0),
    traces: data.length,
    x: xs,
    pairs: data.filter(function (t) { return t.meta === 'family'; }).map(function (t) { return [t.legendgroup, t.marker.color, t.marker.symbol[0].replace('-open', '')]; }),
    legend_entries: plot.querySelectorAll('.legend .traces').length,
    user_outlined: data.filter(function (t) { return t.meta === 'family'; }).reduce(function (n, t) {
      return n + [].concat(t.marker.line.width).filter(function (w) { return w === D.outlines.user.width; }).length; }, 0),
    curve_traces: curves.filter(function (t) { return t.meta === 'curve'; }).map(function (t) { return t.name; }),
    curve_marks: curves.filter(function (t) { return t.meta === 'mark'; }).map(function (t) { return t.name; }),
    curves_visible: $('curves').style.display === 'block',
    xaxis_type: plot.layout && plot.layout.xaxis ? plot.layout.xaxis.type : null,
    xtitle: plot.layout && plot.layout.xaxis ? plot.layout.xaxis.title.text : null,
    title: plot.layout && plot.layout.title ? plot.layout.title.text.replace(/<br>/g, ' ') : null,
    levelnote: $('levelnote').textContent,
    series: data.filter(function (t) { return t.meta === 'series'; }).map(function (t) { return [t.name, t.line.color, D.colors[t.family]]; }),
    yrange: plot._fullLayout && plot._fullLayout.yaxis ? plot._fullLayout.yaxis.range.slice() : null,
    labels: Array.prototype.filter.call(plot.querySelectorAll('.scatterlayer .textpoint text'), function (e) { return e.textContent; })
      .map(function (e) { var r = e.getBoundingClientRect(); return [e.textContent, r.left, r.top, r.right, r.bottom]; }),
    title_box: rect(plot.querySelector('.gtitle')), toolbar_box: rect(plot.querySelector('.modebar')),
    legend_box: rect(plot.querySelector('.legend .bg')),
    legend_boxes: Array.prototype.map.call(plot.querySelectorAll('.legend .traces'), rect),
    xtitle_bottom: plot.querySelector('.xtitle') ? plot.querySelector('.xtitle').getBoundingClientRect().bottom + window.scrollY : null,
    window_height: window.innerHeight,
    message: $('message').style.display === 'block' ? $('message').textContent : null,
    frontier_rows: $('frontier-table').querySelectorAll('tr').length
  };
}

function selectOther(id) {
  var sel = $(id);
  for (var i = 0; i < sel.options.length; i++) {
    if (sel.options[i].value !== sel.value && !sel.options[i].disabled) {
      sel.value = sel.options[i].value;
      sel.dispatchEvent(new Event('change'));
      return true;
    }
  }
  return false;
}

function selectValue(id, v) { $(id).value = v; $(id).dispatchEvent(new Event('change')); }

function selftest() {
  var steps = [];
  var step = function (label) { return Promise.resolve(window.__drawn).then(function () { var s = snapshot(); s.step = label; steps.push(s); }); };
  var p = step('initial');
  var act = function (label, f) { p = p.then(function () { f(); return step(label); }); };
  act('per-clip', function () { selectValue('sel-per', 'clip'); });
  act('per-video', function () { selectValue('sel-per', 'video'); });
  act('sel-level', function () { selectOther('sel-level'); });
  act('sel-cost', function () { selectOther('sel-cost'); });
  act('chk-log', function () { $('chk-log').checked = !$('chk-log').checked; $('chk-log').dispatchEvent(new Event('change')); });
  act('chk-size', function () { $('chk-size').checked = true; $('chk-size').dispatchEvent(new Event('change')); });
  (window.__selftest_extra || []).forEach(function (s) { act(s.label, function () { Object.keys(s.set).forEach(function (k) { selectValue('sel-' + k, s.set[k]); }); }); });
  act('sel-dataset', function () { selectOther('sel-dataset'); });
  p.catch(function (e) { window.__errors.push('selftest: ' + e); }).then(function () {
    $('selftest-result').textContent = JSON.stringify({errors: window.__errors, steps: steps});
  });
}

try {
  setup();
  draw();
} catch (e) {
  window.__errors.push('setup: ' + e);
  message('The dashboard failed to draw: ' + e);
}
if (location.hash.indexOf('#selftest') === 0) { window.__selftest_extra = JSON.parse(decodeURIComponent(location.hash.slice(10) || '[]')); selftest(); }
})();
</script>
</body>
</html>
"""
