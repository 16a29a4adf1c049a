/**
 * The browser page served at `/`: upload or drop an image, see the heatmap overlay, the score and
 * label, and re-threshold the mask with a slider (client-side, from the quantised map). One
 * self-contained HTML document: no external scripts, styles or fonts.
 */

export interface PageModel {
  readonly name: string;
  readonly pixelThreshold: number | null;
  readonly imageThreshold: number | null;
  readonly height: number;
  readonly width: number;
}

const STYLE = `
:root { color-scheme: light dark; --accent: #2463eb; --bad: #c62828; --good: #2e7d32; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; padding: 1.5rem; max-width: 68rem; margin-inline: auto; }
h1 { font-size: 1.3rem; margin: 0 0 1rem; }
#drop { border: 2px dashed #8889; border-radius: 10px; padding: 1.5rem; text-align: center; cursor: pointer; }
#drop.over { border-color: var(--accent); background: #2463eb14; }
.row { display: flex; flex-wrap: wrap; gap: 1rem; margin-top: 1rem; align-items: flex-start; }
figure { margin: 0; flex: 1 1 18rem; }
figure img, figure canvas { width: 100%; image-rendering: pixelated; border-radius: 6px; background: #8882; }
figcaption { font-size: .85rem; opacity: .8; }
#summary { display: grid; grid-template-columns: auto 1fr; gap: .25rem 1rem; margin-top: 1rem; }
#label.anomalous { color: var(--bad); font-weight: 600; }
#label.normal { color: var(--good); font-weight: 600; }
#error { color: var(--bad); white-space: pre-wrap; }
.hidden { display: none; }
input[type=range] { width: 100%; }
select { font: inherit; }
`;

const SCRIPT = `
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('config').textContent);
  var $ = function (id) { return document.getElementById(id); };
  var state = { range: null, levels: null, width: 0, height: 0, photo: null };
  var SLIDER_STEPS = 1000;

  function setState(s) { document.body.dataset.state = s; }
  function showError(msg) { $('error').textContent = msg; $('error').classList.remove('hidden'); setState('error'); }
  function fmt(v) { return v === null || v === undefined ? '\\u2014' : Number(v).toPrecision(4); }
  function modelConfig() {
    var name = $('model').value;
    for (var i = 0; i < config.models.length; i++) if (config.models[i].name === name) return config.models[i];
    return config.models[0];
  }

  config.models.forEach(function (m) {
    var o = document.createElement('option'); o.value = m.name; o.textContent = m.name; $('model').appendChild(o);
  });
  if (config.models.length < 2) $('model-row').classList.add('hidden');

  function loadImage(src) {
    return new Promise(function (resolve, reject) {
      var img = new Image();
      img.onload = function () { resolve(img); };
      img.onerror = function () { reject(new Error('the browser could not load an image')); };
      img.src = src;
    });
  }

  function sliderValue() {
    var r = state.range; var k = Number($('threshold').value) / SLIDER_STEPS;
    return r.min + k * (r.max - r.min);
  }

  function drawMask() {
    if (!state.levels) return;
    var t = sliderValue();
    var r = state.range; var span = r.max - r.min;
    var canvas = $('mask'); var ctx = canvas.getContext('2d');
    canvas.width = state.width; canvas.height = state.height;
    ctx.drawImage(state.photo, 0, 0, state.width, state.height);
    var img = ctx.getImageData(0, 0, state.width, state.height); var px = img.data;
    var on = 0; var n = state.width * state.height;
    for (var p = 0; p < n; p++) {
      var v = r.min + (state.levels[p] / 255) * span;
      if (v >= t) {
        on++;
        px[p * 4] = Math.round(px[p * 4] * 0.35 + 255 * 0.65);
        px[p * 4 + 1] = Math.round(px[p * 4 + 1] * 0.35);
        px[p * 4 + 2] = Math.round(px[p * 4 + 2] * 0.35);
      }
    }
    ctx.putImageData(img, 0, 0);
    $('threshold-value').textContent = fmt(t);
    $('mask-fraction').textContent = (100 * on / n).toFixed(2) + '%';
    canvas.dataset.maskPixels = String(on);
  }

  function show(result, photo) {
    state.range = result.map; state.width = result.map.width; state.height = result.map.height; state.photo = photo;
    $('heatmap').src = 'data:image/png;base64,' + result.heatmap;
    $('score').textContent = fmt(result.score);
    var label = $('label');
    label.textContent = result.label === null ? 'no image threshold in the model' : result.label;
    label.className = result.label || '';
    $('image-threshold').textContent = fmt(result.thresholds.image);
    $('notes').textContent = (result.notes || []).join(' ');
    return loadImage('data:image/png;base64,' + result.map.png).then(function (mapImg) {
      var c = document.createElement('canvas'); c.width = state.width; c.height = state.height;
      var ctx = c.getContext('2d'); ctx.drawImage(mapImg, 0, 0);
      var px = ctx.getImageData(0, 0, state.width, state.height).data;
      var levels = new Uint8Array(state.width * state.height);
      for (var p = 0; p < levels.length; p++) levels[p] = px[p * 4];
      state.levels = levels;
      var r = state.range; var t0 = result.thresholds.pixel;
      var k = t0 === null || !(r.max > r.min) ? 0.5 : (t0 - r.min) / (r.max - r.min);
      $('threshold').value = String(Math.round(Math.min(1, Math.max(0, k)) * SLIDER_STEPS));
      $('result').classList.remove('hidden');
      drawMask();
      setState('done');
    });
  }

  function submit(file) {
    $('error').classList.add('hidden');
    setState('busy');
    $('status').textContent = 'Scoring ' + file.name + '\\u2026';
    var url = URL.createObjectURL(file);
    // The photo is only for drawing the mask over; if the browser cannot show it, use the heatmap.
    var photoPromise = loadImage(url).catch(function () { return null; });
    var query = '?model=' + encodeURIComponent(modelConfig().name);
    fetch('predict' + query, {
      method: 'POST',
      headers: { 'Content-Type': file.type && file.type.indexOf('image/') === 0 ? file.type : 'application/octet-stream' },
      body: file
    }).then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok) throw new Error(body.error || ('HTTP ' + res.status));
        return body;
      });
    }).then(function (result) {
      return photoPromise.then(function (photo) {
        $('status').textContent = file.name + ': ' + result.image.width + 'x' + result.image.height + ' ' + result.image.format;
        return photo ? show(result, photo) : loadImage('data:image/png;base64,' + result.heatmap).then(function (h) { return show(result, h); });
      });
    }).catch(function (e) {
      $('status').textContent = '';
      showError(e.message);
    }).then(function () { URL.revokeObjectURL(url); });
  }

  var drop = $('drop');
  drop.addEventListener('click', function () { $('file').click(); });
  drop.addEventListener('dragover', function (e) { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', function () { drop.classList.remove('over'); });
  drop.addEventListener('drop', function (e) {
    e.preventDefault(); drop.classList.remove('over');
    if (e.dataTransfer.files.length > 0) submit(e.dataTransfer.files[0]);
  });
  $('file').addEventListener('change', function () { if (this.files.length > 0) submit(this.files[0]); });
  $('threshold').addEventListener('input', drawMask);
  setState('ready');
})();
`;

function escapeJsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

export function renderPage(models: readonly PageModel[]): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>UniAS anomaly segmentation</title>
<style>${STYLE}</style>
</head>
<body data-state="loading">
<h1>UniAS anomaly segmentation</h1>
<p id="model-row">Model: <select id="model"></select></p>
<div id="drop" role="button" tabindex="0">Drop an image here, or click to choose one
  <input id="file" type="file" accept="image/*" class="hidden">
</div>
<p id="status" aria-live="polite"></p>
<p id="error" class="hidden" role="alert"></p>
<section id="result" class="hidden">
  <div id="summary">
    <span>Score</span><span id="score"></span>
    <span>Label</span><span id="label"></span>
    <span>Image threshold</span><span id="image-threshold"></span>
    <span>Pixel threshold</span><span><span id="threshold-value"></span> (<span id="mask-fraction"></span> of pixels)</span>
  </div>
  <p><input id="threshold" type="range" min="0" max="1000" step="1" aria-label="pixel threshold"></p>
  <p id="notes"></p>
  <div class="row">
    <figure><img id="heatmap" alt="heatmap overlay"><figcaption>Anomaly map (jet, scaled to this image's range) over the image</figcaption></figure>
    <figure><canvas id="mask"></canvas><figcaption>Pixels at or above the threshold (red)</figcaption></figure>
  </div>
</section>
<script id="config" type="application/json">${escapeJsonForScript({ models })}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
