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
  <label>Metric <select id="sel-metric"></select></label>
  <label>Cost axis <select id="sel-cost"></select></label>
  <label>View <select id="sel-view"></select></label>
  <label>Accuracy level <select id="sel-level"></select></label>
  <label><input type="checkbox" id="chk-log" checked> log-scale x</label>
</div>
<div id="viewdesc"></div>
<div id="message"></div>
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
  n.push('Cost axes: ' + D.macs_note + '; costs are per clip at the record\'s input (frames x size); ' +
         'accuracy is as published (see each point\'s level and views).');
  $('notes').innerHTML = '<b>About this data</b><ul>' + n.map(function (s) { return '<li>' + esc(s) + '</li>'; }).join('') + '</ul>';
}

function metricLabel(m) {
  var t = {top1: 'Top-1 accuracy (%)', top5: 'Top-5 accuracy (%)'}[m];
  return t || (m + ' (%)');
}

function refreshMetrics() {
  var ms = D.metrics[$('sel-dataset').value] || [];
  fill($('sel-metric'), ms.map(function (m) { return {key: m, label: m}; }), true);
}

function setup() {
  notes();
  fill($('sel-dataset'), D.datasets);
  refreshMetrics();
  if ((D.metrics[$('sel-dataset').value] || []).indexOf('top1') >= 0) $('sel-metric').value = 'top1';
  var costs = D.axes.map(function (a) { return {key: a.key, label: a.label}; });
  D.missing_kinds.forEach(function (k) {
    costs.push({key: 'missing-' + k, label: (k === 'latency' ? 'Latency' : 'Peak memory') + ': no measurements', disabled: true});
  });
  fill($('sel-cost'), costs);
  fill($('sel-view'), D.views);
  fill($('sel-level'), [{key: 'all', label: 'all (clip and video)'}].concat(D.levels.map(function (l) { return {key: l, label: l}; })));
  fromHash();
  $('sel-dataset').addEventListener('change', function () { refreshMetrics(); draw(); });
  ['sel-metric', 'sel-cost', 'sel-view', 'sel-level', 'chk-log'].forEach(function (id) { $(id).addEventListener('change', draw); });
}

// A link such as dashboard.html#dataset=ssv1&view=gst&cost=params&log=0 opens that selection.
function fromHash() {
  location.hash.replace(/^#/, '').split('&').forEach(function (kv) {
    var parts = kv.split('='), k = decodeURIComponent(parts[0]), v = decodeURIComponent(parts[1] || '');
    if (k === 'log') { $('chk-log').checked = v !== '0'; return; }
    var sel = $('sel-' + k);
    if (!sel || !Array.prototype.some.call(sel.options, function (o) { return o.value === v && !o.disabled; })) return;
    sel.value = v;
    if (k === 'dataset') refreshMetrics();
  });
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
  var where = dsLabel[ds] + ' / ' + metric + (level === 'all' ? '' : ' / ' + level + '-level accuracy');
  if (!inView.length) {
    var other = {};
    D.points.forEach(function (p) { if (view.key in p.views && p.metric === metric && (level === 'all' || p.level === level)) other[dsLabel[p.dataset]] = 1; });
    var names = Object.keys(other);
    return 'View "' + view.label + '" has no records on ' + where + '. ' +
      (names.length ? 'It has records on: ' + names.join(', ') + '.' : 'No dataset has records for it.');
  }
  var why = axis.kind === 'static' ? 'no static profile joined these records' :
    'no ' + axis.kind + ' measurement at this device/batch/dtype matches these records (model, frames, size, classes)';
  return 'No ' + axis.label + ' for the ' + inView.length + ' record(s) of ' + where + ' in view "' + view.label + '": ' + why + '. Pick another cost axis.';
}

function draw() {
  var ds = $('sel-dataset').value, metric = $('sel-metric').value;
  var axis = axisByKey[$('sel-cost').value], view = viewByKey[$('sel-view').value];
  var logx = $('chk-log').checked, level = $('sel-level').value;
  $('viewdesc').textContent = view.description;
  var inView = D.points.filter(function (p) { return p.dataset === ds && p.metric === metric && (view.key in p.views) && (level === 'all' || p.level === level); });
  var pts = inView.filter(function (p) { return p.costs[axis.column] != null && p.costs[axis.column] > 0 || (!logx && p.costs[axis.column] != null); });
  if (!pts.length) { window.__drawn = message(explainEmpty(ds, metric, axis, view, inView)); return window.__drawn; }
  $('message').style.display = 'none';
  $('plot').style.display = 'block';
  var x = function (p) { return p.costs[axis.column] * axis.scale; };
  var groups = {}, traces = [], nseries = 0;
  pts.forEach(function (p) { var k = p.family + ' · ' + p.backbone; (groups[k] = groups[k] || []).push(p); });
  Object.keys(groups).sort().forEach(function (k) {
    var g = groups[k];
    traces.push({
      type: 'scatter', mode: view.key === 'all' || pts.length > 30 ? 'markers' : 'markers+text', name: k,
      legendgroup: g[0].family, x: g.map(x), y: g.map(function (p) { return p.value; }),
      text: g.map(function (p) { return p.model; }), textposition: 'top center', textfont: {size: 9},
      hovertext: g.map(function (p) { return p.hover; }), hoverinfo: 'text',
      marker: {size: 10, color: D.colors[g[0].family], symbol: D.symbols[g[0].backbone], line: {width: 1, color: '#333'}}
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
        line: {width: 1.5, dash: 'dot'}, hoverinfo: 'name', legendgroup: 'series', showlegend: names.length <= 12});
    });
  }
  if (view.key !== 'all' && !nseries) {
    $('viewdesc').textContent = view.description + ' Here no series has two or more records, so no curve is drawn.';
  }
  var ids = D.frontiers[ds + '|' + metric + '|' + axis.column + '|' + view.key + '|' + level] || [];
  var byId = {}; D.points.forEach(function (p) { byId[p.id] = p; });
  var fr = ids.map(function (i) { return byId[i]; }).filter(function (p) { return pts.indexOf(p) >= 0; });
  fr.sort(function (a, b) { return x(a) - x(b) || b.value - a.value; });
  traces.push({type: 'scatter', mode: 'lines', name: 'Pareto frontier', x: fr.map(x), y: fr.map(function (p) { return p.value; }),
    line: {shape: 'hv', color: 'black', width: 2}, hoverinfo: 'skip'});
  var layout = {
    title: {text: metricLabel(metric) + ' vs ' + axis.label + ' — ' + dsLabel[ds] + (level === 'all' ? '' : ', ' + level + ' level') + ' (' + pts.length + ' records, ' + fr.length + ' on the frontier)'},
    xaxis: {title: {text: axis.title}, type: logx ? 'log' : 'linear'},
    yaxis: {title: {text: metricLabel(metric) + ', as published'}},
    hovermode: 'closest', legend: {font: {size: 10}}, margin: {t: 50}
  };
  $('frontier-table').innerHTML = '<b>On the frontier</b><table><tr><th>model</th><th>frames</th><th>' + esc(axis.label) +
    '</th><th>' + esc(metric) + ' (%)</th></tr>' + fr.map(function (p) {
      return '<tr><td>' + esc(p.model) + '</td><td>' + esc(p.frames) + '</td><td>' + x(p).toPrecision(4) + '</td><td>' + p.value.toFixed(2) + '</td></tr>';
    }).join('') + '</table>';
  window.__drawn = Plotly.react($('plot'), traces, layout, {responsive: true, displaylogo: false});
  return window.__drawn;
}

function snapshot() {
  var plot = $('plot');
  return {
    dataset: $('sel-dataset').value, metric: $('sel-metric').value, cost: $('sel-cost').value,
    view: $('sel-view').value, level: $('sel-level').value,
    svg: !!plot.querySelector('.main-svg'),
    points: plot.querySelectorAll('.scatterlayer .point').length,
    traces: (plot.data || []).length,
    xaxis_type: plot.layout && plot.layout.xaxis ? plot.layout.xaxis.type : null,
    title: plot.layout && plot.layout.title ? plot.layout.title.text : null,
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

function selftest() {
  var steps = [];
  var step = function (label) { return Promise.resolve(window.__drawn).then(function () { var s = snapshot(); s.step = label; steps.push(s); }); };
  var p = step('initial');
  ['sel-dataset', 'sel-cost', 'sel-level'].forEach(function (id) {
    p = p.then(function () { selectOther(id); return step(id); });
  });
  p = p.then(function () { $('chk-log').checked = !$('chk-log').checked; $('chk-log').dispatchEvent(new Event('change')); return step('chk-log'); });
  p = p.then(function () { selectOther('sel-view'); return step('sel-view'); });
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
if (location.hash === '#selftest') selftest();
})();
</script>
</body>
</html>
"""
