// Network dissection in the extension host, without VS Code: tree labels and order, the CodeLens and
// hover text, settings → DissectOptions, the panel's message guards, strip paths, and the webview's
// sort / filter / chart data. Expected values are worked out by hand from the fixture (test/dissectFixture.ts).
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { dissectOptionsFrom, parseConfig, type SettingGetter } from '../src/host/config';
import { compareForTree, conceptsByFrequency, dissectionMarkdown, formatIou, lensTitle, unitLabel } from '../src/host/dissection/labels';
import { imageRoots, isInside, stripPath, toDissectView } from '../src/host/panels/dissectData';
import {
  DEFAULT_DISSECT_UI, isDissectPanelState, isDissectUiState, isFromDissectWebview, type FromDissectWebview,
} from '../src/protocol/dissectWebview';
import { chartRows, filterCategories, visibleUnits } from '../webview/dissect/units';
import { dissectionFixture } from './dissectFixture';

const settings = (values: Record<string, unknown>): SettingGetter => (key) => values[key];

test('unit labels read "unit N · concept (category) · IoU x.xx"', () => {
  const [u0, , , , , , , u7] = dissectionFixture().units;
  assert.equal(unitLabel(u0!), 'unit 0 · red (color) · IoU 0.21');
  // Below 0.1 a third decimal: 0.005 would print as 0.01, and 0.040 / 0.041 straddle the threshold.
  assert.equal(unitLabel(u7!), 'unit 7 · green (color) · IoU 0.005');
  assert.equal(formatIou(0), '0.000');
  assert.equal(formatIou(0.04), '0.040');
  assert.equal(formatIou(0.0412), '0.041');
  assert.equal(formatIou(0.3), '0.30');
});

test('the tree lists interpretable units first, each group by IoU', () => {
  const order = [...dissectionFixture().units].sort(compareForTree).map((u) => u.unit);
  // interpretable (IoU > 0.04): 5 (0.30), 0 (0.21), 1 (0.12), 2 (0.09), 3 (0.05); then 6 (0.04), 4 (0.03), 7 (0.005).
  assert.deepEqual(order, [5, 0, 1, 2, 3, 6, 4, 7]);
});

test('concepts are counted over interpretable units, most frequent first, ties by best IoU', () => {
  const concepts = conceptsByFrequency(dissectionFixture());
  assert.deepEqual(concepts.map((c) => [c.label, c.category, c.units, c.bestIou]), [
    ['stripes', 'texture', 2, 0.3],
    ['red', 'color', 2, 0.21],
    ['circle', 'shape', 1, 0.05],
  ]);
});

test('the CodeLens names the concepts, a few then …', () => {
  const s = dissectionFixture();
  assert.equal(lensTitle(s), '5/8 units interpretable: stripes, red, circle');
  assert.equal(lensTitle(s, 2), '5/8 units interpretable: stripes, red, …');
  const none = { ...s, units: s.units.map((u) => ({ ...u, interpretable: false })), interpretable: 0 };
  assert.equal(lensTitle(none), '0/8 units interpretable');
});

test('the hover gives per-category counts and escapes names from the model', () => {
  const s = dissectionFixture();
  const md = dissectionMarkdown({ ...s, layer: 'conv_[x]' });
  assert.match(md, /Dissection\*\* of conv\\_\\\[x\\\]: 5\/8 units interpretable: stripes, red, circle/);
  assert.match(md, /^- color: 2 units, 1 concept \(red ×2\)$/m);
  assert.match(md, /^- texture: 2 units, 1 concept \(stripes ×2\)$/m);
  assert.match(md, /^- shape: 1 unit, 1 concept \(circle\)$/m);
  assert.match(md, /300 images/);
});

test('dissection settings: defaults of NetDissect, bad values fall back and are reported', () => {
  const c = parseConfig(settings({}));
  assert.deepEqual(c.dissection, { probeImages: 1000, probe: 'builtin', quantile: 0.005, iouThreshold: 0.04 });
  assert.deepEqual(c.problems, []);
  const bad = parseConfig(settings({
    'dissection.probeImages': 0, 'dissection.probe': '  ', 'dissection.quantile': 0, 'dissection.iouThreshold': 1.5,
  }));
  assert.deepEqual(bad.dissection, { probeImages: 1000, probe: 'builtin', quantile: 0.005, iouThreshold: 0.04 });
  assert.equal(bad.problems.length, 4);
  for (const key of ['probeImages', 'probe', 'quantile', 'iouThreshold']) {
    assert.ok(bad.problems.some((p) => p.startsWith(`loupe.dissection.${key}:`)), `no problem reported for ${key}`);
  }
  const ok = parseConfig(settings({ 'dissection.probeImages': 300, 'dissection.probe': ' data/broden ', 'dissection.quantile': 0.01, 'dissection.iouThreshold': 0 }));
  assert.deepEqual(ok.dissection, { probeImages: 300, probe: 'data/broden', quantile: 0.01, iouThreshold: 0 });
});

test('settings become DissectOptions: built-in count, or a resolved dataset path limited to probeImages', () => {
  const resolve = (p: string): string => (path.isAbsolute(p) ? p : path.join('/ws', p));
  const builtin = parseConfig(settings({ 'dissection.probeImages': 300 }));
  assert.deepEqual(dissectOptionsFrom(builtin, 'relu3', resolve),
    { layer: 'relu3', probe: { kind: 'builtin', count: 300 }, quantile: 0.005, iouThreshold: 0.04 });
  const onDisk = parseConfig(settings({ 'dissection.probe': 'data/broden', 'dissection.iouThreshold': 0.05 }));
  assert.deepEqual(dissectOptionsFrom(onDisk, 'conv2', resolve, { refresh: true }),
    { layer: 'conv2', probe: { kind: 'path', path: path.join('/ws', 'data/broden'), limit: 1000 }, quantile: 0.005, iouThreshold: 0.05, refresh: true });
});

test('isFromDissectWebview accepts the page\'s messages and refuses anything else', () => {
  const good: FromDissectWebview[] = [
    { type: 'ready' },
    { type: 'recompute' },
    { type: 'openLayer', layer: 'relu3' },
    { type: 'ui', ui: DEFAULT_DISSECT_UI },
    { type: 'ui', ui: { sort: 'unit', category: 'texture', minIou: 0.04, unit: 12 } },
  ];
  for (const m of good) assert.ok(isFromDissectWebview(m), JSON.stringify(m));
  const bad: unknown[] = [
    null, 'ready', [], {}, { type: 'nope' }, { type: 'ready', x: 1 }, { type: 'recompute', refresh: true },
    { type: 'openLayer' }, { type: 'openLayer', layer: '' }, { type: 'openLayer', layer: 'x'.repeat(513) },
    { type: 'ui' },
    { type: 'ui', ui: { sort: 'label', category: '', minIou: 0 } },
    { type: 'ui', ui: { sort: 'iou', category: 3, minIou: 0 } },
    { type: 'ui', ui: { sort: 'iou', category: '', minIou: -0.1 } },
    { type: 'ui', ui: { sort: 'iou', category: '', minIou: 1.1 } },
    { type: 'ui', ui: { sort: 'iou', category: '', minIou: Number.NaN } },
    { type: 'ui', ui: { sort: 'iou', category: '', minIou: 0, unit: -1 } },
    { type: 'ui', ui: { sort: 'iou', category: '', minIou: 0, unit: 2.5 } },
    { type: 'ui', ui: { sort: 'iou', category: '', minIou: 0, evil: true } },
  ];
  for (const m of bad) assert.equal(isFromDissectWebview(m), false, JSON.stringify(m)?.slice(0, 80));
  assert.ok(isDissectUiState({ sort: 'iou', category: '', minIou: 1 }));
});

test('isDissectPanelState checks what a reload hands back', () => {
  const good = { modelPath: '/w/model.json', layer: 'relu3', ui: DEFAULT_DISSECT_UI };
  assert.ok(isDissectPanelState(good));
  for (const bad of [undefined, {}, { ...good, modelPath: '' }, { ...good, layer: '' }, { ...good, ui: {} }, { ...good, extra: 1 }]) {
    assert.equal(isDissectPanelState(bad), false, JSON.stringify(bad));
  }
});

test('strip paths stay inside the result folder', () => {
  const s = dissectionFixture('/cache/d/relu3');
  assert.equal(stripPath(s, 'unit-3.png'), path.join('/cache/d/relu3', 'unit-3.png'));
  assert.equal(stripPath(s, 'units/unit_0003.png'), path.join('/cache/d/relu3', 'units', 'unit_0003.png'));
  for (const evil of ['', '.', '..', 'units/..', '../x.png', 'units/../../x.png', '../../etc/passwd', '../relu3x/a.png', '/abs.png', '\\abs.png', 'C:x.png', 'x\0.png']) {
    assert.equal(stripPath(s, evil), undefined, JSON.stringify(evil));
  }
  const units = s.units.map((u, i) => (i === 1 ? { ...u, strip: '../../secret.png' } : u));
  const view = toDissectView({ ...s, units }, 'shapes', (f) => `uri:${f}`);
  assert.equal(view.strips.length, 8);
  assert.equal(view.strips[0], `uri:${path.join('/cache/d/relu3', 'unit-0.png')}`);
  assert.equal(view.strips[1], '');
  assert.equal(view.modelName, 'shapes');
});

test('image roots: the cache, plus a result folder outside it', () => {
  assert.ok(isInside('/c/d/x', '/c'));
  assert.ok(isInside('/c', '/c'));
  assert.equal(isInside('/c/../etc', '/c'), false);
  assert.equal(isInside('/cache2/x', '/cache'), false);
  assert.deepEqual(imageRoots('/cache', [{ dir: '/cache/a/relu3' }]), ['/cache']);
  assert.deepEqual(imageRoots('/cache', [{ dir: '/tmp/out/relu3' }, { dir: '/tmp/out/relu3/x' }]), ['/cache', '/tmp/out/relu3']);
});

test('the grid sorts by IoU or unit and filters by category and minimum IoU', () => {
  const { units } = dissectionFixture();
  const ids = (ui: { sort: 'iou' | 'unit'; category: string; minIou: number }): number[] => visibleUnits(units, ui).map((u) => u.unit);
  assert.deepEqual(ids({ sort: 'iou', category: '', minIou: 0 }), [5, 0, 1, 2, 3, 6, 4, 7]);
  assert.deepEqual(ids({ sort: 'unit', category: '', minIou: 0 }), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(ids({ sort: 'unit', category: 'color', minIou: 0 }), [0, 2, 4, 7]);
  assert.deepEqual(ids({ sort: 'unit', category: '', minIou: 0.05 }), [0, 1, 2, 3, 5]);
  assert.deepEqual(ids({ sort: 'iou', category: 'texture', minIou: 0.1 }), [5, 1]);
  assert.deepEqual(ids({ sort: 'iou', category: 'object', minIou: 0 }), []);
  // Sorting works on a copy: the summary keeps its order.
  assert.deepEqual(units.map((u) => u.unit), [0, 1, 2, 3, 4, 5, 6, 7]);
});

test('the chart has a row per probe category, zeros included', () => {
  const s = dissectionFixture();
  assert.deepEqual(chartRows(s), [
    { category: 'color', units: 2, concepts: 1 },
    { category: 'texture', units: 2, concepts: 1 },
    { category: 'shape', units: 1, concepts: 1 },
  ]);
  const withScene = { ...s, probe: { ...s.probe, categories: ['color', 'texture', 'shape', 'scene'] } };
  assert.deepEqual(chartRows(withScene).at(-1), { category: 'scene', units: 0, concepts: 0 });
  const extra = { ...s, units: [...s.units, { ...s.units[0]!, unit: 8, category: 'material' }] };
  assert.deepEqual(filterCategories(extra), ['color', 'texture', 'shape', 'material']);
});
