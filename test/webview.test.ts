// The Explain panel without VS Code: message guards, the HTML builder (CSP, nonce, escaping),
// colour LUTs and their mapping, the data the host posts and exports.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { colorizeMap } from '../src/engine/output/colormap';
import { buildPanelHtml, contentSecurityPolicy, escapeHtml, makeNonce } from '../src/host/panels/html';
import { mapJson, mergeResults, nest, pngFromDataUrl, spatialLayers, toWebviewResult } from '../src/host/panels/explainData';
import type { ClientExplainResult } from '../src/host/workerClient';
import type { LayerInfo, MapSummary, MethodId } from '../src/protocol/types';
import { DEFAULT_UI, isFromWebview, isPanelState, type FromWebview, type PanelState } from '../src/protocol/webview';
import { blend, clipScale, colorize, divergingLut, lutIndices, sequentialLut } from '../webview/explain/colormap';
import { figureRows, formatParams, formatPreprocessing } from '../webview/explain/format';

function tinyPng(): Buffer {
  const png = new PNG({ width: 2, height: 1 });
  png.data.set([255, 0, 0, 255, 0, 0, 255, 255]);
  return PNG.sync.write(png);
}
const PNG_URL = `data:image/png;base64,${tinyPng().toString('base64')}`;

test('isFromWebview accepts each well-formed message', () => {
  const good: FromWebview[] = [
    { type: 'ready' },
    { type: 'explainClass', classIndex: 0 },
    { type: 'explainClass', classIndex: 7 },
    { type: 'setLayer', layer: 'conv2' },
    { type: 'runOcclusion' },
    { type: 'exportPng', method: 'gradcam', dataUrl: PNG_URL },
    { type: 'exportJson', method: 'smoothgrad-sq' },
    { type: 'openLayer', layer: 'features.0' },
    { type: 'ui', ui: { sequential: 'viridis', diverging: 'PuOr', opacity: 0 } },
    { type: 'ui', ui: { ...DEFAULT_UI, opacity: 1 } },
  ];
  for (const m of good) assert.ok(isFromWebview(m), JSON.stringify(m).slice(0, 80));
});

test('isFromWebview rejects malformed messages', () => {
  const bad: unknown[] = [
    null, undefined, 42, 'ready', [], [{ type: 'ready' }], {},
    { type: 'nope' },
    { type: 'READY' },
    { type: 'ready', extra: 1 },
    { type: 'explainClass' },
    { type: 'explainClass', classIndex: -1 },
    { type: 'explainClass', classIndex: 1.5 },
    { type: 'explainClass', classIndex: '3' },
    { type: 'explainClass', classIndex: Number.NaN },
    { type: 'setLayer', layer: '' },
    { type: 'setLayer', layer: 3 },
    { type: 'setLayer', layer: 'x'.repeat(513) },
    { type: 'openLayer' },
    { type: 'exportPng', method: 'gradcam' },
    { type: 'exportPng', method: 'not-a-method', dataUrl: PNG_URL },
    { type: 'exportPng', method: 'gradcam', dataUrl: 'data:image/jpeg;base64,/9j/4AAQ' },
    { type: 'exportPng', method: 'gradcam', dataUrl: 'data:image/svg+xml;base64,PHN2Zz4=' },
    { type: 'exportPng', method: 'gradcam', dataUrl: `${PNG_URL}"><script>` },
    { type: 'exportPng', method: 'gradcam', dataUrl: 'file:///etc/passwd' },
    { type: 'exportJson', method: '__proto__' },
    { type: 'ui', ui: { sequential: 'jet', diverging: 'RdBu', opacity: 0.5 } },
    { type: 'ui', ui: { sequential: 'inferno', diverging: 'RdBu', opacity: 1.5 } },
    { type: 'ui', ui: { sequential: 'inferno', diverging: 'RdBu' } },
    { type: 'ui', ui: { sequential: 'inferno', diverging: 'RdBu', opacity: 0.5, extra: true } },
  ];
  for (const m of bad) assert.equal(isFromWebview(m), false, JSON.stringify(m)?.slice(0, 80));
});

test('isPanelState accepts what a panel persists and rejects damaged states', () => {
  const good: PanelState = { modelPath: '/w/model.json', imagePath: '/w/a.png', methods: ['gradient', 'gradcam'], ui: DEFAULT_UI };
  assert.ok(isPanelState(good));
  assert.ok(isPanelState({ ...good, classIndex: 3, layer: 'conv1' }));
  for (const bad of [
    undefined, null, {},
    { ...good, methods: [] },
    { ...good, methods: ['gradient', 'bogus'] },
    { ...good, modelPath: '' },
    { ...good, imagePath: 7 },
    { ...good, classIndex: -2 },
    { ...good, ui: { ...DEFAULT_UI, opacity: -0.1 } },
    { ...good, maps: [[1, 2]] },
  ]) assert.equal(isPanelState(bad), false, JSON.stringify(bad));
});

test('the panel HTML: strict CSP, one script carrying the nonce, escaped title', () => {
  const nonce = makeNonce();
  const cspSource = 'https://file+.vscode-resource.vscode-cdn.net';
  const html = buildPanelHtml({
    cspSource, nonce,
    scriptUri: `${cspSource}/ext/dist/webview/explain.js`,
    styleUris: [`${cspSource}/ext/media/panel.css`, `${cspSource}/ext/media/explain.css`],
    title: 'Loupe: <img src=x onerror="alert(1)">.png',
  });
  // The shared sheet first, so the panel's own rules win the cascade.
  assert.deepEqual([...html.matchAll(/<link rel="stylesheet" href="([^"]*)">/g)].map((m) => m[1]),
    [`${cspSource}/ext/media/panel.css`, `${cspSource}/ext/media/explain.css`]);
  const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html);
  assert.ok(meta, 'a CSP meta tag');
  // The browser decodes character references in attribute values before reading the policy.
  const policy = meta![1]!.replace(/&#39;|&quot;|&lt;|&gt;|&amp;/g, (e) => ({ '&#39;': "'", '&quot;': '"', '&lt;': '<', '&gt;': '>', '&amp;': '&' })[e]!);
  const directives = new Map(policy.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k!, v]));
  assert.deepEqual(directives.get('default-src'), ["'none'"]);
  assert.deepEqual(directives.get('script-src'), [`'nonce-${nonce}'`]);
  assert.deepEqual(directives.get('style-src'), [cspSource]);
  assert.deepEqual(directives.get('img-src'), [cspSource, 'data:', 'blob:']);
  assert.deepEqual(directives.get('font-src'), [cspSource]);
  assert.ok(!html.includes('unsafe-inline') && !html.includes('unsafe-eval'));
  assert.equal(policy, contentSecurityPolicy(cspSource, nonce));

  const scripts = [...html.matchAll(/<script\b([^>]*)>/g)];
  assert.equal(scripts.length, 1);
  assert.match(scripts[0]![1]!, new RegExp(`nonce="${nonce.replace(/[+/=]/g, (c) => `\\${c}`)}"`));
  assert.match(scripts[0]![1]!, /src="https:\/\/file\+\.vscode-resource\.vscode-cdn\.net\/ext\/dist\/webview\/explain\.js"/);
  // The hostile file name is text, not markup.
  assert.ok(!html.includes('<img'), 'no raw <img> from the title');
  assert.ok(html.includes('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'));
  const tags = [...html.matchAll(/<[a-z][^>]*>/gi)].map((m) => m[0]);
  assert.ok(tags.every((t) => !/\son\w+\s*=/i.test(t)), 'no tag carries an event-handler attribute');
});

test('nonces are 128 random bits in CSP base64 and differ per call', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const n = makeNonce();
    assert.match(n, /^[A-Za-z0-9+/]+={0,2}$/);
    assert.equal(Buffer.from(n, 'base64').length, 16);
    seen.add(n);
  }
  assert.equal(seen.size, 50);
  assert.equal(escapeHtml('<>&"\''), '&lt;&gt;&amp;&quot;&#39;');
});

test('LUT endpoints match the published colour schemes', () => {
  const inferno = sequentialLut('inferno');
  assert.equal(inferno.size, 256);
  // d3's inferno runs from #000004 to #fcffa4.
  assert.deepEqual([...inferno.rgb.subarray(0, 3)], [0, 0, 4]);
  assert.deepEqual([...inferno.rgb.subarray(255 * 3, 256 * 3)], [0xfc, 0xff, 0xa4]);
  const rdbu = divergingLut('RdBu');
  assert.equal(rdbu.size, 257);
  // Reversed RdBu: the most negative entry is the scheme's blue end #053061, the most positive its red end #67001f.
  assert.deepEqual([...rdbu.rgb.subarray(0, 3)], [0x05, 0x30, 0x61]);
  assert.deepEqual([...rdbu.rgb.subarray(256 * 3)], [0x67, 0x00, 0x1f]);
  // The middle: RdBu is a uniform B-spline through its 11 colours; at t = 0.5 (knot 5) it is
  // (c4 + 4·c5 + c6) / 6 = (#fddbc7 + 4·#f7f7f7 + #d1e5f0) / 6 = (241.7, 239.3, 237.8).
  assert.deepEqual([...rdbu.rgb.subarray(128 * 3, 129 * 3)], [242, 239, 238]);
  // Greys is flipped so that 0 is dark like the other sequential maps.
  const greys = sequentialLut('greys');
  assert.ok(greys.rgb[0]! < 10 && greys.rgb[255 * 3]! > 245);
});

test('lutIndices: hand-computed entries, mirrored for signed maps, non-finite as zero', () => {
  const v = new Float32Array([0, 1, -1, 2, 3, Number.NaN, Number.POSITIVE_INFINITY, 0.5]);
  // Magnitude, scale 2: round(clamp(v/2, 0, 1) · 255).
  assert.deepEqual([...lutIndices(v, false, 2)], [0, 128, 0, 255, 255, 0, 0, 64]);
  // Signed, scale 2: 128 + sign · round(|v/2| · 128).
  assert.deepEqual([...lutIndices(v, true, 2)], [128, 192, 64, 256, 256, 128, 128, 160]);
  const random = Float32Array.from({ length: 500 }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 3);
  const neg = random.map((x) => -x);
  const a = lutIndices(random, true, 1.7);
  const b = lutIndices(neg, true, 1.7);
  for (let i = 0; i < a.length; i++) assert.equal(a[i]! + b[i]!, 256);
  // All-zero map: scale 0, everything on the zero entry.
  assert.deepEqual([...lutIndices(new Float32Array(4), true)], [128, 128, 128, 128]);
});

test('clipScale is the 99.5th percentile of |v| (linear interpolation)', () => {
  // |v| = 0..199: position 0.995 · 199 = 198.005 → 198 + 0.005 · (199 − 198).
  const v = Float32Array.from({ length: 200 }, (_, i) => (i % 2 ? -i : i));
  assert.ok(Math.abs(clipScale(v) - 198.005) < 1e-9);
  // Sparse map: the percentile is 0, the max is used.
  const sparse = new Float32Array(1000);
  sparse[3] = -4;
  assert.equal(clipScale(sparse), 4);
  assert.equal(clipScale(new Float32Array(10)), 0);
});

test('colorize agrees with the engine overlay colours (a second implementation) for inferno and RdBu', () => {
  const values = Float32Array.from({ length: 4096 }, (_, i) => Math.cos(i * 0.37) * (i % 17) - 3 + (i === 5 ? Number.NaN : 0));
  for (const signed of [false, true]) {
    const mine = colorize(values, signed, signed ? divergingLut('RdBu') : sequentialLut('inferno'));
    const engine = colorizeMap(values, signed);
    assert.deepEqual([...mine], [...engine], `signed=${signed}`);
  }
});

test('blend mixes per channel with the opacity and sets alpha', () => {
  const image = new Uint8Array([100, 0, 255, 17, 10, 20, 30, 0]);
  const colour = new Uint8ClampedArray([200, 255, 0, 255, 10, 20, 30, 255]);
  assert.deepEqual([...blend(image, colour, 0.25)], [125, 64, 191, 255, 10, 20, 30, 255]);
  assert.deepEqual([...blend(image, colour, 0)].slice(0, 3), [100, 0, 255]);
  assert.deepEqual([...blend(image, colour, 1)].slice(0, 3), [200, 255, 0]);
  assert.throws(() => blend(image, colour.subarray(0, 4), 0.5), RangeError);
});

function summary(method: MethodId, extra: Partial<MapSummary> = {}): MapSummary {
  return {
    method, params: {}, targetClass: 1, label: 'one', target: 'logit', logit: 2, probability: 0.7, ms: 12,
    backend: 'cpu', shape: [2, 3, 1], signed: false, figures: {}, notes: [], ...extra,
  };
}

function fakeResult(methods: MethodId[], skipped: { method: MethodId; reason: string }[] = []): ClientExplainResult {
  const maps = methods.map((m, k) => ({
    summary: summary(m),
    data: Float32Array.from({ length: 6 }, (_, i) => i + 10 * k),
    display: Float32Array.from({ length: 6 }, (_, i) => (i - 2.5) * (k + 1)),
  }));
  return {
    summary: {
      model: '/w/model.json', image: '/w/a.png', backend: 'cpu', inputShape: [2, 3, 1],
      predictions: [{ index: 1, label: 'one', probability: 0.7, logit: 2 }], maps: maps.map((m) => m.summary), skipped,
    },
    maps,
    image: { width: 3, height: 2, data: Float32Array.from({ length: 24 }, (_, i) => (i * 11.3) % 256) },
  };
}

test('toWebviewResult: what the webview draws equals the host data', () => {
  const r = fakeResult(['gradient', 'gradcam']);
  const w = toWebviewResult(r);
  assert.deepEqual(w.maps.map((m) => [m.width, m.height]), [[3, 2], [3, 2]]);
  for (let k = 0; k < 2; k++) {
    assert.deepEqual([...w.maps[k]!.display!], [...r.maps[k]!.display]);
    assert.notEqual(w.maps[k]!.display!.buffer, r.maps[k]!.display.buffer, 'a copy: the host keeps its own');
  }
  assert.deepEqual([...w.image.rgba!], [...r.image.data].map((v) => Math.max(0, Math.min(255, Math.round(v)))));
  assert.ok(!JSON.stringify(w).includes('"data"'), 'raw maps stay in the host');
});

test('mergeResults replaces a recomputed method in place and appends new ones', () => {
  const base = fakeResult(['gradient', 'gradcam'], [{ method: 'occlusion', reason: 'x' }, { method: 'cam', reason: 'no GAP head' }]);
  const extra = fakeResult(['occlusion', 'gradient']);
  extra.maps[1]!.summary = summary('gradient', { layer: 'new' });
  const merged = mergeResults(base, extra);
  assert.deepEqual(merged.maps.map((m) => m.summary.method), ['gradient', 'gradcam', 'occlusion']);
  assert.equal(merged.maps[0]!.summary.layer, 'new');
  assert.deepEqual(merged.summary.maps.map((m) => m.method), ['gradient', 'gradcam', 'occlusion']);
  assert.deepEqual(merged.summary.skipped.map((s) => s.method), ['cam']);
  assert.equal(merged.summary.predictions, base.summary.predictions);
});

test('nest and mapJson: nested arrays in the map shape that flatten back to the raw data', () => {
  assert.deepEqual(nest([1, 2, 3, 4, 5, 6], [2, 3]), [[1, 2, 3], [4, 5, 6]]);
  assert.deepEqual(nest([1, Number.NaN], [2]), [1, null]);
  assert.throws(() => nest([1, 2, 3], [2, 2]), RangeError);
  const r = fakeResult(['gradient', 'gradcam']);
  const json = JSON.parse(JSON.stringify(mapJson(r, 'gradcam'))) as { shape: number[]; data: unknown; map: MapSummary };
  assert.deepEqual(json.shape, [2, 3, 1]);
  assert.deepEqual((json.data as unknown[]).flat(3), [...r.maps[1]!.data]);
  assert.equal(json.map.method, 'gradcam');
  assert.equal(mapJson(r, 'ig'), undefined);
});

test('pngFromDataUrl returns the bytes of a real PNG only', () => {
  const bytes = pngFromDataUrl(PNG_URL);
  assert.ok(bytes);
  assert.deepEqual(bytes, tinyPng());
  const fakeHeader = `data:image/png;base64,${Buffer.from('GIF89a not a png at all, long enough to pass length').toString('base64')}`;
  assert.equal(pngFromDataUrl(fakeHeader), undefined);
  assert.equal(pngFromDataUrl('data:image/png;base64,iVBORw0KGgo='), undefined); // signature only
  assert.equal(pngFromDataUrl(42), undefined);
});

test('spatialLayers keeps H×W×C outputs; formatting of parameters and figures', () => {
  const layer = (name: string, outputShape: number[], className = 'X'): LayerInfo => ({ name, className, outputShape, params: 0, isConv: false, inputs: [] });
  assert.deepEqual(spatialLayers([layer('image', [28, 28, 1], 'InputLayer'), layer('pool', [28, 28, 1]), layer('flat', [784]),
    layer('conv', [14, 14, 8]), layer('dense', [10])]), ['pool', 'conv']);
  assert.equal(formatParams({ samples: 25, sigmaFraction: 0.15, layer: 'conv1', baseline: 'black' }), 'samples 25 · sigmaFraction 0.15 · baseline black');
  const rows = figureRows({ figures: { completenessError: 0.01234, sanitySpearman: 0.4567 } });
  assert.deepEqual(rows.map(([label, value]) => [label, value]), [['IG completeness error', '1.2 %'], ['Sanity ρ (Spearman)', '0.4567']]);
  assert.deepEqual(figureRows({ figures: { threads: 2 } }).map(([label, value]) => [label, value]), [['Threads', '2']]);
  assert.equal(formatPreprocessing({ range: [-1, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], channels: 'bgr' }),
    'range [-1, 1] · mean 0.485, 0.456, 0.406 · std 0.229, 0.224, 0.225 · bgr');
});
