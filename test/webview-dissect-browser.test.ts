// The Dissection panel's page in a real browser, under the exact HTML and CSP the host builds
// (test/helpers/webviewPage.ts): a stand-in for VS Code's webview API records what the page posts.
// Checks the grid against the hand-written fixture (order, filters, detail view), that strips load
// under the CSP, that a hostile concept name stays text, and that every posted message passes the host's guard.
// Needs /usr/bin/chromium (scripts/e2e/setup.sh installs it); without it the test fails and says so.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { toDissectView } from '../src/host/panels/dissectData';
import { DEFAULT_DISSECT_UI, isFromDissectWebview, type ToDissectWebview } from '../src/protocol/dissectWebview';
import { dissectionFixture } from './dissectFixture';
import { computedStyle, openWebviewPage, type ServedFile } from './helpers/webviewPage';

const HOSTILE = '<img src=x onerror="window.__pwned=1">';
const STRIP_W = 2 * 16;
const STRIP_H = 16;

/** A strip like the engine's: two 16×16 tiles side by side, coloured per unit. */
function strip(unit: number): Buffer {
  const png = new PNG({ width: STRIP_W, height: STRIP_H });
  for (let i = 0; i < STRIP_W * STRIP_H; i++) png.data.set([(unit * 37) % 256, (i % STRIP_W) * 8, 200, 255], i * 4);
  return PNG.sync.write(png);
}

async function cardOrder(page: Page): Promise<number[]> {
  return page.locator('[data-testid="unit-grid"] .unit-card').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-unit'))));
}

test('the Dissection page under its CSP: grid, chart, filters, detail, escaping, valid messages', { timeout: 60_000 }, async () => {
  const summary = dissectionFixture('/cache/dissections/abc/relu3');
  summary.units[3] = { ...summary.units[3]!, label: HOSTILE };
  const files: Record<string, ServedFile> = {};
  for (const u of summary.units) files[`/strips/${u.strip}`] = { type: 'image/png', body: strip(u.unit) };
  const web = await openWebviewPage({ entry: 'webview/dissect/main.ts', style: 'media/dissect.css', title: 'Dissection: relu3', files });
  const { page, posted, send } = web;
  try {
    assert.deepEqual(await posted(), [{ type: 'ready' }]);

    const view = toDissectView(summary, 'shapes', (file) => `${web.origin}/strips/${path.basename(file)}`);
    const show: ToDissectWebview = { type: 'show', view, state: { modelPath: summary.model, layer: 'relu3', ui: DEFAULT_DISSECT_UI } };
    await send(show);
    await page.locator('[data-testid="unit-grid"] .unit-card').first().waitFor();
    // Both sheets apply: the shared one (the status line) and the panel's own (its h1 margin).
    assert.equal(await computedStyle(page.locator('[data-testid="status"]'), 'display'), 'flex');
    assert.equal(await computedStyle(page.locator('h1'), 'margin-bottom'), '6px');

    // Header and chart, from the fixture's hand-written counts.
    assert.equal((await page.locator('[data-testid="interpretable"]').innerText()).trim(), '5/8 units interpretable');
    assert.equal((await page.locator('[data-testid="layer-link"]').innerText()).trim(), 'relu3');
    assert.match(await page.locator('[data-testid="probe"]').innerText(), /300 images, 25 concepts/);
    const chart = await page.locator('[data-testid="chart"] .chart-row').evaluateAll((els) => els.map((e) => [e.getAttribute('data-category'), e.getAttribute('data-units'), e.getAttribute('data-concepts')]));
    assert.deepEqual(chart, [['color', '2', '1'], ['texture', '2', '1'], ['shape', '1', '1']]);

    // Default order: IoU, highest first. Each card shows its concept and IoU.
    assert.deepEqual(await cardOrder(page), [5, 0, 1, 2, 3, 6, 4, 7]);
    const card0 = page.locator('[data-testid="unit-0"]');
    assert.equal(await card0.locator('[data-testid="unit-label"]').innerText(), 'red');
    assert.equal(await card0.locator('[data-testid="unit-iou"]').innerText(), '0.21');
    assert.match(await page.locator('[data-testid="unit-4"] [data-testid="unit-category"]').innerText(), /not interpretable/);

    // The hostile concept name is text; the only images are the 8 strips, and they loaded under the CSP.
    assert.equal(await page.locator('[data-testid="unit-3"] [data-testid="unit-label"]').innerText(), HOSTILE);
    await page.locator('img.strip').last().waitFor();
    await page.waitForFunction(() => (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ complete: boolean }> } })
      .document.querySelectorAll('img.strip').length === 8);
    await page.locator('img').evaluateAll(async (els) => {
      await Promise.all(els.map((e) => (e as unknown as { decode(): Promise<void> }).decode().catch(() => undefined)));
    });
    const imgs = await page.locator('img').evaluateAll((els) => els.map((e) => (e as unknown as { naturalWidth: number }).naturalWidth));
    assert.deepEqual(imgs, Array(8).fill(STRIP_W));
    assert.equal(await web.pwned(), undefined);

    // Sort by unit, then filter: category color, minimum IoU 0.05.
    await page.locator('[data-testid="sort"]').selectOption('unit');
    assert.deepEqual(await cardOrder(page), [0, 1, 2, 3, 4, 5, 6, 7]);
    await page.locator('[data-testid="category"]').selectOption('color');
    assert.deepEqual(await cardOrder(page), [0, 2, 4, 7]);
    await page.locator('[data-testid="min-iou"]').fill('0.05');
    assert.deepEqual(await cardOrder(page), [0, 2]);
    assert.equal(await page.locator('[data-testid="grid-count"]').innerText(), 'Showing 2 of 8 units');

    // A unit's detail: big strip, threshold, top activations, runners-up; Escape closes it.
    await page.locator('[data-testid="unit-2"]').click();
    const detail = page.locator('[data-testid="unit-detail"]');
    await detail.waitFor();
    assert.equal(await detail.getAttribute('data-unit'), '2');
    assert.equal(await detail.locator('[data-testid="detail-label"]').innerText(), 'red');
    assert.match(await detail.locator('[data-testid="detail-threshold"]').innerText(), /^1\.7$/); // 1.5 + 2/10
    assert.equal(await detail.locator('[data-testid="detail-top"] li').count(), 2);
    assert.match(await detail.locator('[data-testid="detail-runners"]').innerText(), /grey\s+color\s+0\.011/); // 0.09 / 8 = 0.01125
    assert.equal(await page.locator('[data-testid="unit-2"]').getAttribute('aria-pressed'), 'true');
    await page.keyboard.press('Escape');
    await detail.waitFor({ state: 'detached' });

    await page.locator('[data-testid="layer-link"]').click();
    await page.locator('[data-testid="recompute"]').click();

    const after = (await posted()).slice(1);
    for (const m of after) assert.ok(isFromDissectWebview(m), `the host would refuse ${JSON.stringify(m).slice(0, 100)}`);
    const uis = after.filter((m) => m.type === 'ui').map((m) => m.ui);
    assert.deepEqual(uis, [
      { sort: 'unit', category: '', minIou: 0 },
      { sort: 'unit', category: 'color', minIou: 0 },
      { sort: 'unit', category: 'color', minIou: 0.05 },
      { sort: 'unit', category: 'color', minIou: 0.05, unit: 2 },
      { sort: 'unit', category: 'color', minIou: 0.05 },
    ]);
    assert.deepEqual(after.find((m) => m.type === 'openLayer'), { type: 'openLayer', layer: 'relu3' });
    assert.ok(after.some((m) => m.type === 'recompute'));
    const state = await web.savedState() as { layer: string; ui: unknown };
    assert.equal(state.layer, 'relu3');
    assert.deepEqual(state.ui, { sort: 'unit', category: 'color', minIou: 0.05 });

    // A show that asks for a unit opens its detail (the tree and the lens do this).
    await send({ ...show, state: { ...show.state, ui: { ...DEFAULT_DISSECT_UI, unit: 5 } } });
    await page.locator('[data-testid="unit-detail"][data-unit="5"]').waitFor();
    assert.equal(await page.locator('[data-testid="detail-strip"]').evaluate((e) => (e as unknown as { naturalWidth: number }).naturalWidth), STRIP_W);

    await send({ type: 'error', message: 'relu3: the probe folder has no index.csv' });
    assert.equal(await page.locator('[data-testid="error"]').innerText(), 'relu3: the probe folder has no index.csv');

    await web.assertClean();
  } finally {
    await web.close();
  }
});
