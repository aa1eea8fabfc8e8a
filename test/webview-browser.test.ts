// The Explain panel's page in a real browser (Debian's Chromium via playwright-core), under the exact
// HTML and CSP the host builds: a stand-in for VS Code's webview API records what the page posts.
// Checks that nothing violates the CSP, that maps are drawn (non-uniform, different per method),
// that hostile labels stay text, and that clicks and keys post the right messages.
// Needs /usr/bin/chromium (scripts/e2e/setup.sh installs it); without it the test fails and says so.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { pngFromDataUrl, toWebviewResult } from '../src/host/panels/explainData';
import { buildPanelHtml, makeNonce } from '../src/host/panels/html';
import type { ClientExplainResult } from '../src/host/workerClient';
import type { MapSummary, MethodId } from '../src/protocol/types';
import { DEFAULT_UI, isFromWebview, type ToWebview } from '../src/protocol/webview';

const CHROMIUM = '/usr/bin/chromium';

/** The page's globals these checks use (this file compiles without DOM types; the callbacks run in the page). */
interface PageGlobals {
  __posted: unknown[];
  __violations: string[];
  __state: unknown;
  __pwned?: number;
  dispatchEvent(event: unknown): boolean;
  MessageEvent: new (type: string, init: { data: unknown }) => unknown;
  customElements: { get(name: string): unknown };
}
interface CanvasLike {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } };
}
const root = path.resolve(import.meta.dirname, '..');
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

async function serve(files: Record<string, { type: string; body: string | Buffer }>): Promise<{ origin: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const file = files[req.url ?? ''];
    if (req.url === '/favicon.ico') {
      res.writeHead(204).end(); // the browser asks on its own; not the page's doing
      return;
    }
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file.type }).end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

test('the Explain page under its CSP: draws maps, escapes labels, posts valid messages', { timeout: 60_000 }, async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: run scripts/e2e/setup.sh`);
  const bundle = await esbuild.build({
    entryPoints: [path.join(root, 'webview/explain/main.ts')], bundle: true, write: false,
    platform: 'browser', format: 'iife', target: 'es2022', logLevel: 'silent',
  });
  const nonce = makeNonce();
  const files: Record<string, { type: string; body: string | Buffer }> = {
    '/explain.js': { type: 'text/javascript', body: Buffer.from(bundle.outputFiles[0]!.contents) },
    '/explain.css': { type: 'text/css', body: readFileSync(path.join(root, 'media/explain.css')) },
  };
  const server = await serve(files);
  // VS Code injects acquireVsCodeApi; here a nonce'd script (allowed by the same policy) stands in.
  const shim = `<script nonce="${nonce}">
    window.__posted = []; window.__violations = []; window.__state = undefined;
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
    window.acquireVsCodeApi = () => ({
      postMessage: (m) => window.__posted.push(JSON.parse(JSON.stringify(m))),
      getState: () => window.__state, setState: (s) => { window.__state = s; },
    });
  </script>`;
  const html = buildPanelHtml({ cspSource: server.origin, nonce, scriptUri: `${server.origin}/explain.js`, styleUri: `${server.origin}/explain.css`, title: HOSTILE })
    .replace('<script nonce', `${shim}<script nonce`);
  files['/'] = { type: 'text/html', body: html };

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(`${m.text()} ${m.location().url}`); });
    await page.goto(`${server.origin}/`);
    const posted = async (): Promise<unknown[]> => page.evaluate(() => (globalThis as unknown as PageGlobals).__posted);
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).__posted.length > 0);
    assert.deepEqual(await posted(), [{ type: 'ready' }]);

    const show: ToWebview = {
      type: 'show', result: toWebviewResult(result()), layers: ['conv1', 'conv2'], layer: 'conv2',
      state: { modelPath: '/w/model/model.json', imagePath: '/w/seven.png', methods: ['gradient', 'ig', 'gradcam'], ui: DEFAULT_UI },
    };
    await page.evaluate((data) => (globalThis as unknown as PageGlobals).dispatchEvent(new (globalThis as unknown as PageGlobals).MessageEvent('message', { data })), show);
    await page.locator('[data-testid="map-gradcam"]').waitFor();

    // The hostile label is text everywhere, and no element came from it.
    assert.equal(await page.locator('[data-testid="top-label"]').textContent(), HOSTILE);
    assert.equal(await page.locator('img').count(), 0);
    assert.equal(await page.evaluate(() => (globalThis as unknown as PageGlobals).__pwned), undefined);

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
    assert.ok(await page.evaluate(() => Boolean((globalThis as unknown as PageGlobals).customElements.get('vscode-single-select') && (globalThis as unknown as PageGlobals).customElements.get('vscode-button'))));
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

    const after = (await posted()).slice(posts0) as Array<Record<string, unknown>>;
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
    const state = await page.evaluate(() => (globalThis as unknown as PageGlobals).__state) as { ui: { opacity: number }; imagePath: string };
    assert.equal(state.imagePath, '/w/seven.png');
    assert.equal(state.ui.opacity, 1);

    // Busy and error messages show in the status and alert regions.
    await page.evaluate((data) => (globalThis as unknown as PageGlobals).dispatchEvent(new (globalThis as unknown as PageGlobals).MessageEvent('message', { data })),
      { type: 'error', message: 'a.png: not a PNG (re-export it)' });
    assert.equal(await page.locator('[data-testid="error"]').textContent(), 'a.png: not a PNG (re-export it)');

    if (process.env.LOUPE_SCREENSHOT) await page.screenshot({ path: process.env.LOUPE_SCREENSHOT, fullPage: true });
    const violations = await page.evaluate(() => (globalThis as unknown as PageGlobals).__violations);
    assert.deepEqual(violations, [], 'CSP violations');
    assert.deepEqual(errors, [], 'page errors');
  } finally {
    await browser.close();
    await server.close();
  }
});
