// The Explain panel's page in a real browser, under the exact HTML and CSP the host builds
// (test/helpers/webviewPage.ts): a stand-in for VS Code's webview API records what the page posts.
// Checks that nothing violates the CSP, that maps are drawn (non-uniform, different per method),
// that hostile labels stay text, and that clicks and keys post the right messages.
// Needs /usr/bin/chromium (scripts/e2e/setup.sh installs it); without it the test fails and says so.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pngFromDataUrl, toWebviewResult } from '../src/host/panels/explainData';
import type { ClientExplainResult } from '../src/host/workerClient';
import type { MapSummary, MethodId } from '../src/protocol/types';
import { DEFAULT_UI, isFromWebview, type ToWebview } from '../src/protocol/webview';
import { computedStyle, openWebviewPage } from './helpers/webviewPage';

/** Globals of the page these checks read (this file compiles without DOM types; the callbacks run in the page). */
interface ElementsGlobals {
  customElements: { get(name: string): unknown };
}
interface CanvasLike {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } };
}
const HOSTILE = '<img src=x onerror="window.__pwned=1">';

function result(): ClientExplainResult {
  const W = 28;
  const H = 28;
  const image = new Float32Array(W * H * 4);
  for (let i = 0; i < W * H; i++) {
    const x = i % W;
    image.set([x * 9, 128, 255 - x * 9, 255], i * 4);
  }
  const blob = Float32Array.from({ length: W * H }, (_, i) => Math.exp(-(((i % W) - 8) ** 2 + (Math.floor(i / W) - 8) ** 2) / 20));
  const ramp = Float32Array.from({ length: W * H }, (_, i) => (Math.floor(i / W) - 13.5) / 13.5);
  const summary = (method: MethodId, signed: boolean, extra: Partial<MapSummary> = {}): MapSummary => ({
    method, params: { samples: 25 }, targetClass: 3, label: HOSTILE, target: 'logit', logit: 4.2, probability: 0.8,
    ms: 35, backend: 'wasm', shape: [H, W], signed, figures: {}, notes: [], ...extra,
  });
  const maps = [
    { summary: summary('gradient', false), data: blob, display: blob },
    { summary: summary('ig', true, { figures: { completenessError: 0.021 } }), data: ramp, display: ramp },
    { summary: summary('gradcam', false, { layer: 'conv2' }), data: ramp.map(Math.abs), display: ramp.map(Math.abs) },
  ];
  return {
    summary: {
      model: '/w/model/model.json', image: '/w/seven.png', backend: 'wasm', inputShape: [H, W, 1],
      predictions: [
        { index: 3, label: HOSTILE, probability: 0.8, logit: 4.2 },
        { index: 7, label: 'seven', probability: 0.15, logit: 2.5 },
      ],
      maps: maps.map((m) => m.summary), skipped: [{ method: 'cam', reason: 'no GAP + dense head' }],
    },
    maps,
    image: { width: W, height: H, data: image },
  };
}

test('the Explain page under its CSP: draws maps, escapes labels, posts valid messages', { timeout: 60_000 }, async () => {
  const web = await openWebviewPage({ entry: 'webview/explain/main.ts', style: 'media/explain.css', title: HOSTILE });
  const { page, posted, send } = web;
  try {
    assert.deepEqual(await posted(), [{ type: 'ready' }]);

    const show: ToWebview = {
      type: 'show', result: toWebviewResult(result()), layers: ['conv1', 'conv2'], layer: 'conv2',
      state: { modelPath: '/w/model/model.json', imagePath: '/w/seven.png', methods: ['gradient', 'ig', 'gradcam'], ui: DEFAULT_UI },
    };
    await send(show);
    await page.locator('[data-testid="map-gradcam"]').waitFor();
    // Both sheets apply: the shared one (the status line) and the panel's own (its h1 margin).
    assert.equal(await computedStyle(page.locator('[data-testid="status"]'), 'display'), 'flex');
    assert.equal(await computedStyle(page.locator('h1'), 'margin-bottom'), '2px');

    // The hostile label is text everywhere, and no element came from it.
    assert.equal(await page.locator('[data-testid="top-label"]').textContent(), HOSTILE);
    assert.equal(await page.locator('img').count(), 0);
    assert.equal(await web.pwned(), undefined);

    // Canvas pixels: each map non-uniform, and the maps differ from each other.
    const pixels = async (method: string): Promise<number[]> => page.locator(`[data-testid="map-${method}-canvas"]`).evaluate((node) => {
      const c = node as unknown as CanvasLike;
      return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);
    });
    const grad = await pixels('gradient');
    const ig = await pixels('ig');
    const cam = await pixels('gradcam');
    assert.equal(grad.length, 28 * 28 * 4);
    for (const [name, px] of [['gradient', grad], ['ig', ig], ['gradcam', cam]] as const) {
      const distinct = new Set<string>();
      for (let i = 0; i < px.length; i += 4) distinct.add(`${px[i]},${px[i + 1]},${px[i + 2]}`);
      assert.ok(distinct.size > 20, `${name}: only ${distinct.size} colours`);
    }
    assert.notDeepEqual(grad, ig);
    assert.notDeepEqual(ig, cam);
    assert.equal(await page.locator('[data-testid="input-image"]').count(), 1);
    assert.match(await page.locator('[data-testid="map-ig"]').textContent() ?? '', /IG completeness error\s*2\.1 %/);
    assert.equal(await page.locator('[data-testid="skipped-cam"]').count(), 1);

    // vscode-elements controls are defined and rendered despite the strict style-src.
    assert.ok(await page.evaluate(() => Boolean((globalThis as unknown as ElementsGlobals).customElements.get('vscode-single-select') && (globalThis as unknown as ElementsGlobals).customElements.get('vscode-button'))));
    const posts0 = (await posted()).length;

    // Clicking a prediction row, Enter on a focused one, a layer link, the occlusion button.
    await page.locator('[data-testid="prediction-1"]').click();
    await page.locator('[data-testid="prediction-0"]').focus();
    await page.keyboard.press('Enter');
    await page.locator('[data-testid="map-gradcam"] [data-testid="layer-link"]').click();
    await page.locator('[data-testid="run-occlusion"]').click();
    // Opacity: the overlay repaints and the choice is posted and persisted.
    await page.locator('[data-testid="opacity"]').fill('100');
    const camOpaque = await pixels('gradcam');
    assert.notDeepEqual(camOpaque, cam);
    // Export: the page renders the canvas to a PNG data URL the host accepts.
    await page.locator('[data-testid="export-png-ig"]').click();
    await page.locator('[data-testid="export-json-ig"]').click();

    const after = (await posted()).slice(posts0);
    for (const m of after) assert.ok(isFromWebview(m), `the host would refuse ${JSON.stringify(m).slice(0, 100)}`);
    const types = after.map((m) => m.type);
    assert.deepEqual(after.filter((m) => m.type === 'explainClass').map((m) => m.classIndex), [7, 3]);
    assert.deepEqual(after.find((m) => m.type === 'openLayer'), { type: 'openLayer', layer: 'conv2' });
    assert.ok(types.includes('runOcclusion'));
    assert.deepEqual(after.find((m) => m.type === 'ui'), { type: 'ui', ui: { ...DEFAULT_UI, opacity: 1 } });
    const png = after.find((m) => m.type === 'exportPng');
    assert.equal(png?.method, 'ig');
    const bytes = pngFromDataUrl(png?.dataUrl);
    assert.ok(bytes, 'a valid PNG');
    assert.equal(bytes!.readUInt32BE(16), 28 * 10, 'upscaled ×10 to at least 256 px');
    assert.deepEqual(after.find((m) => m.type === 'exportJson'), { type: 'exportJson', method: 'ig' });
    const state = await web.savedState() as { ui: { opacity: number }; imagePath: string };
    assert.equal(state.imagePath, '/w/seven.png');
    assert.equal(state.ui.opacity, 1);

    // Busy and error messages show in the status and alert regions.
    await send({ type: 'error', message: 'a.png: not a PNG (re-export it)' });
    assert.equal(await page.locator('[data-testid="error"]').textContent(), 'a.png: not a PNG (re-export it)');

    await web.assertClean();
  } finally {
    await web.close();
  }
});

test('the Explain page while it fills in: waiting cards with progress and Cancel, "from cache" with Recompute, sanity buttons', { timeout: 60_000 }, async () => {
  const web = await openWebviewPage({ entry: 'webview/explain/main.ts', style: 'media/explain.css', title: 'progressive' });
  const { page, posted, send } = web;
  try {
    await posted();
    const full = toWebviewResult(result());
    // Only the gradient map so far: IG runs, Grad-CAM waits; the gradient map came from the cache.
    const partial = { ...full, maps: full.maps.filter((m) => m.summary.method === 'gradient') };
    await send({
      type: 'show', result: partial, layers: ['conv2'], layer: 'conv2',
      state: { modelPath: '/w/model/model.json', imagePath: '/w/seven.png', methods: ['gradient', 'ig', 'gradcam'], ui: DEFAULT_UI },
      progress: {
        pending: [{ method: 'ig', status: 'running', fraction: 0.2 }, { method: 'gradcam', status: 'queued' }],
        fromCache: ['gradient'], sanityMode: 'onDemand',
      },
    });
    await page.locator('[data-testid="pending-ig"]').waitFor();
    // Cards stay in the order asked for, computed or not; the panel is not complete yet.
    const order = await page.locator('[data-method]').evaluateAll((els) => els.map((e) => e.getAttribute('data-method')));
    assert.deepEqual(order, ['gradient', 'ig', 'gradcam']);
    assert.equal(await page.locator('[data-testid="maps"]').getAttribute('data-complete'), 'false');
    assert.equal(await page.locator('[data-testid="from-cache-gradient"]').textContent(), 'from cache');
    // A progress message changes that card's line only.
    await send({ type: 'mapProgress', method: 'ig', fraction: 0.5, message: 'IG 25/50' });
    await page.locator('[data-testid="progress-ig"]', { hasText: 'IG 25/50' }).waitFor();
    assert.equal(await page.locator('[data-testid="progress-bar-ig"]').getAttribute('value'), '0.5');
    assert.match(await page.locator('[data-testid="sanity-cost"]').textContent() ?? '', /about twice the map's own time/);

    const before = (await posted()).length;
    await page.locator('[data-testid="cancel-ig"]').click();
    await page.locator('[data-testid="sanity-gradient"]').click();
    await page.locator('[data-testid="sanity-all"]').click();
    await page.locator('[data-testid="recompute"]').click();
    const after = (await posted()).slice(before);
    for (const m of after) assert.ok(isFromWebview(m), `the host would refuse ${JSON.stringify(m).slice(0, 100)}`);
    assert.deepEqual(after, [
      { type: 'cancelMethod', method: 'ig' }, { type: 'sanityCheck', method: 'gradient' }, { type: 'sanityCheck' }, { type: 'recompute' },
    ]);

    // Cancelled: the card offers Compute; every other map shown: complete. With the sanity check off, no buttons.
    await send({
      type: 'show', result: { ...full, maps: full.maps.filter((m) => m.summary.method !== 'ig') }, layers: ['conv2'], layer: 'conv2',
      state: { modelPath: '/w/model/model.json', imagePath: '/w/seven.png', methods: ['gradient', 'ig', 'gradcam'], ui: DEFAULT_UI },
      progress: { pending: [{ method: 'ig', status: 'cancelled' }], fromCache: [], sanityMode: 'off', sanity: { running: false, text: 'Sanity check done: 1 map in 0.2 s' } },
    });
    await page.locator('[data-testid="compute-ig"]').waitFor();
    assert.equal(await page.locator('[data-testid="maps"]').getAttribute('data-complete'), 'true');
    assert.equal(await page.locator('[data-testid^="sanity-"][data-testid$="gradient"], [data-testid="sanity-all"]').count(), 0);
    assert.equal(await page.locator('[data-testid="recompute"]').count(), 0);
    assert.equal(await page.locator('[data-testid="sanity-status"]').textContent(), 'Sanity check done: 1 map in 0.2 s');
    await page.locator('[data-testid="compute-ig"]').click();
    assert.deepEqual((await posted()).at(-1), { type: 'computeMethod', method: 'ig' });
    await web.assertClean();
  } finally {
    await web.close();
  }
});

test('the Explain page holds what it was sent: a later message names the image and maps by id alone; an unknown id asks for everything again', { timeout: 60_000 }, async () => {
  const web = await openWebviewPage({ entry: 'webview/explain/main.ts', style: 'media/explain.css', title: 'held' });
  const { page, posted, send } = web;
  try {
    await posted();
    const full = toWebviewResult(result());
    const state = { modelPath: '/w/model/model.json', imagePath: '/w/seven.png', methods: ['gradient', 'ig', 'gradcam'] as MethodId[], ui: DEFAULT_UI };
    const canvas = async (testid: string): Promise<number[]> => page.locator(`[data-testid="${testid}"]`).evaluate((node) => {
      const c = node as unknown as CanvasLike;
      return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);
    });
    // First: the image and the gradient map with their values.
    await send({ type: 'show', result: { ...full, maps: full.maps.slice(0, 1) }, layers: ['conv2'], layer: 'conv2', state });
    await page.locator('[data-testid="map-gradient"]').waitFor();
    const input = await canvas('input-image');
    const gradient = await canvas('map-gradient-canvas');
    // Then: the image and the gradient by id only, IG with its values (as the host posts a panel filling in).
    const { rgba: _rgba, ...imageById } = full.image;
    const { display: _display, ...gradientById } = full.maps[0]!;
    assert.ok(!JSON.stringify({ imageById, gradientById }).includes('"rgba"') && !JSON.stringify(gradientById).includes('"display"'));
    await send({ type: 'show', result: { ...full, image: imageById, maps: [gradientById, full.maps[1]!] }, layers: ['conv2'], layer: 'conv2', state });
    await page.locator('[data-testid="map-ig"]').waitFor();
    assert.deepEqual(await canvas('input-image'), input, 'the image drawn from the values held');
    assert.deepEqual(await canvas('map-gradient-canvas'), gradient, 'the gradient map drawn from the values held');

    // A map named by an id the page never got: it asks for everything again (ready) and keeps what it shows.
    const before = (await posted()).length;
    await send({ type: 'show', result: { ...full, image: imageById, maps: [{ ...gradientById, id: 'never-sent' }] }, layers: ['conv2'], layer: 'conv2', state });
    const deadline = Date.now() + 5_000;
    while ((await posted()).length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual((await posted()).slice(before), [{ type: 'ready' }]);
    assert.equal(await page.locator('[data-testid="map-ig"]').count(), 1, 'the page still shows the last complete message');
    await web.assertClean();
  } finally {
    await web.close();
  }
});
