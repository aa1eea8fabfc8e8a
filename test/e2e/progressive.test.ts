// End-to-end: the progressive, cached Explain panel (issue 12) in a real VS Code (code-server + Chromium), on
// the demo workspace plus a MobileNetV2-sized TF.js model (224 px, 3.5 M parameters) that this file builds
// with bench/mobilenetv2.ts into the temporary copy (too big to commit; no Python). Timings are read from the
// webview's DOM (a MutationObserver stamps when the predictions, the first map and the last map appear) and
// printed; "no worker call" is read from the Loupe log (the worker logs every request it answers).
// Needs scripts/e2e/setup.sh; without it every test FAILS with the reason (never skipped).
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { PNG } from 'pngjs';
import type { FrameLocator, Page } from 'playwright-core';
import { saveMobileNetV2 } from '../../bench/mobilenetv2';
import { missingPrerequisite, repoRoot, startCodeServer, type CodeServer } from '../../scripts/e2e/codeServer';
import { explorerRow, openWorkbench, runCommand, screenshot, statusBarItem, webviewFrame, type Workbench } from '../../scripts/e2e/driver';
import { packageExtension } from '../../scripts/package';
import { ANALYSIS_TIMEOUT, cliExplainSummary, loupeLog, panelFor, waitForLog } from './loupeSteps';

const DEMO = path.join(repoRoot, 'demo');
const MODEL = 'mobilenetv2/model/model.json';
const IMAGE_WARM = 'mobilenetv2/warm-up.png';
const IMAGE = 'mobilenetv2/photo.png';
const STATUS_ID = 'loupe-dev.loupe.loupe.status';
/** package.json `loupe.methods`: what the panel computes by default, in the panel's order. */
const DEFAULT_METHODS = ['gradient', 'smoothgrad', 'ig', 'guided-backprop', 'gradcam', 'guided-gradcam'];
const FIRST_MAP_BUDGET_MS = 1000;
const RESTORE_BUDGET_MS = 1000;

/** A measured time beside its budget, with the load it was measured under. */
function verdict(ms: number, budget: number): string {
  return `${ms} ms (budget ${budget} ms: ${ms <= budget ? 'within' : 'OVER'}; load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores)`;
}

/** A 224×224 picture with smooth colour fields and a few shapes (a stand-in for a photo: the weights are random anyway). */
function picture(seed: number): Buffer {
  const png = new PNG({ width: 224, height: 224 });
  for (let y = 0; y < 224; y++) {
    for (let x = 0; x < 224; x++) {
      const i = (y * 224 + x) * 4;
      const disc = (x - 80 - seed * 20) ** 2 + (y - 120) ** 2 < 45 ** 2;
      png.data[i] = disc ? 230 : 128 + 100 * Math.sin((x + seed * 37) / 23);
      png.data[i + 1] = disc ? 40 : 128 + 90 * Math.cos((y * (seed + 1)) / 31);
      png.data[i + 2] = x > 150 && y < 70 ? 250 : 60 + ((x * y * (seed + 3)) % 97);
      png.data[i + 3] = 255;
    }
  }
  return PNG.sync.write(png);
}

/** Worker requests answered so far (the worker logs "<request> done in N ms; worker RSS M MB"). */
function workerCalls(server: CodeServer, kinds = /(?:forward|explain) done in/g): number {
  return (loupeLog(server).match(kinds) ?? []).length;
}

/** Starts stamping, in the panel's page, when the predictions, the first map and every map of `image` are on screen. */
async function watchPanel(frame: FrameLocator, image: string): Promise<void> {
  await frame.locator('body').evaluate((body, name) => {
    // No DOM lib in this tsconfig: the page's globals are typed structurally.
    type Observer = { observe(target: unknown, options: object): void; disconnect(): void };
    const w = body.ownerDocument.defaultView as unknown as {
      __loupeMarks: Record<string, number>; __loupeObserver?: Observer; MutationObserver: new (callback: () => void) => Observer;
    };
    w.__loupeObserver?.disconnect();
    const marks: Record<string, number> = {};
    w.__loupeMarks = marks;
    // No named functions inside: tsx's keepNames would wrap them in a `__name` helper the page lacks.
    const observer = new w.MutationObserver(() => {
      const subtitle = body.querySelector('.subtitle')?.textContent ?? '';
      if (!subtitle.includes(name)) return;
      const maps = body.querySelectorAll('article.map-card').length;
      if (marks.predictions === undefined && body.querySelector('[data-testid="prediction-0"]')) {
        marks.predictions = Date.now();
        marks.mapsAtPredictions = maps;
      }
      if (marks.firstMap === undefined && maps > 0) marks.firstMap = Date.now();
      if (marks.allMaps === undefined && body.querySelector('[data-testid="maps"][data-complete="true"]')) {
        marks.allMaps = Date.now();
        marks.mapsAtAll = maps;
      }
    });
    observer.observe(body, { subtree: true, childList: true, attributes: true, characterData: true });
    w.__loupeObserver = observer;
    body.setAttribute('data-watching', String(Date.now())); // a first mutation: stamps what is already there
  }, path.basename(image));
}

async function marks(frame: FrameLocator): Promise<Record<string, number>> {
  return frame.locator('body').evaluate((body) => ({ ...(body.ownerDocument.defaultView as unknown as { __loupeMarks: Record<string, number> }).__loupeMarks }));
}

/** Right-clicks the Explorer row of `relative`, and returns the time the "Explain Image" entry was clicked. */
async function explainFromExplorer(page: Page, relative: string): Promise<number> {
  const row = await explorerRow(page, relative);
  await row.click({ button: 'right' });
  const item = page.locator('.context-view .monaco-menu .action-item', { has: page.locator('.action-label', { hasText: /^Explain Image$/ }) });
  await item.waitFor();
  const menu = page.locator('.context-view .monaco-menu');
  for (let attempt = 1; ; attempt++) {
    const clicked = Date.now();
    await item.click();
    try {
      await menu.waitFor({ state: 'detached', timeout: 1_500 });
      return clicked;
    } catch (error) {
      if (attempt >= 4) throw new Error('the Explain Image entry did not run', { cause: error });
    }
  }
}

async function shownMethods(frame: FrameLocator): Promise<string[]> {
  return frame.locator('article.map-card').evaluateAll((els) => els.map((e) => e.getAttribute('data-method') ?? ''));
}

/** The CLI's sanity-check correlation for one method (the engine in a separate process). */
function cliSanity(model: string, image: string, method: string): number {
  const summary = cliExplainSummary<{ maps: { method: string; figures: { sanitySpearman?: number } }[] }>(model, image, ['--method', method, '--sanity']);
  const value = summary.maps.find((m) => m.method === method)?.figures.sanitySpearman;
  assert.equal(typeof value, 'number', `the CLI gave no sanity correlation for ${method}`);
  return value!;
}

describe('The progressive, cached Explain panel in a real VS Code', { timeout: 20 * 60_000 }, () => {
  let temp: string;
  let workspace: string;
  let server: CodeServer;
  let workbench: Workbench;
  let page: Page;
  const metrics: Record<string, number> = {};
  const ws = (relative: string): string => path.join(workspace, relative);

  before(async () => {
    const missing = missingPrerequisite();
    assert.equal(missing, null, `end-to-end prerequisites missing: ${missing}`);
    temp = mkdtempSync(path.join(os.tmpdir(), 'loupe-e2e-progressive-'));
    const vsix = packageExtension({ out: path.join(temp, 'loupe.vsix') });
    workspace = path.join(temp, 'demo');
    cpSync(DEMO, workspace, { recursive: true });
    const t0 = performance.now();
    await saveMobileNetV2(path.dirname(ws(MODEL)), { seed: 1 });
    metrics.buildModelMs = Math.round(performance.now() - t0);
    writeFileSync(ws(IMAGE_WARM), picture(0));
    writeFileSync(ws(IMAGE), picture(1));
    server = await startCodeServer(workspace, {
      vsix: [vsix.vsix],
      settings: { 'typescript.validate.enable': false, 'editor.minimap.enabled': false, 'loupe.activeModel': MODEL, 'loupe.sanityCheck': 'onDemand' },
    });
    workbench = await openWorkbench(server.url, { width: 1400, height: 900, timeoutMs: 30_000 });
    page = workbench.page;
  });

  after(async () => {
    await workbench?.close().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    if (temp) rmSync(temp, { recursive: true, force: true });
    console.log(`[e2e progressive] metrics: ${JSON.stringify(metrics)}`);
  });

  async function step(t: TestContext, name: string, body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (error) {
      if (page) await screenshot(page, `progressive-failure-${name}`, 0).catch(() => undefined);
      if (server) console.error(`[e2e] ${t.name} failed. Loupe log (tail):\n${loupeLog(server).slice(-5000)}`);
      throw error;
    }
  }

  it('(a) with a warm worker on the MobileNetV2-sized model: predictions before any map, then every map (the first map\'s time printed against its 1 s budget)', (t) => step(t, 'first-map', async () => {
    // Warm: the worker has described the model (Layers view) and explained another image once (ONNX Runtime's sessions built).
    await statusBarItem(page, STATUS_ID).filter({ hasText: /· idle$/ }).waitFor({ timeout: 120_000 });
    await explainFromExplorer(page, IMAGE_WARM);
    let frame = await panelFor(page, IMAGE_WARM);
    assert.deepEqual(await shownMethods(frame), DEFAULT_METHODS);

    await watchPanel(frame, IMAGE);
    const clicked = await explainFromExplorer(page, IMAGE);
    frame = await panelFor(page, IMAGE);
    const m = await marks(frame);
    assert.ok(m.predictions && m.firstMap && m.allMaps, `the page did not stamp every stage: ${JSON.stringify(m)}`);
    metrics.predictionsMs = m.predictions - clicked;
    metrics.firstMapMs = m.firstMap - clicked;
    metrics.allMapsMs = m.allMaps - clicked;
    console.log(`[e2e progressive] MobileNetV2-sized model, warm worker: predictions ${metrics.predictionsMs} ms, first map ${metrics.firstMapMs} ms, `
      + `all ${DEFAULT_METHODS.length} maps ${metrics.allMapsMs} ms after the Explain command (load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores)`);
    assert.equal(m.mapsAtPredictions, 0, 'the predictions were shown together with a map, not before');
    assert.ok(m.predictions <= m.firstMap);
    // Times are measured and printed against the budget, not asserted: on 2 shared cores they move with
    // the load (the brief keeps speed targets out of timed tests).
    console.log(`[e2e progressive] first map ${verdict(metrics.firstMapMs, FIRST_MAP_BUDGET_MS)}`);
    assert.equal(m.mapsAtAll, DEFAULT_METHODS.length);
    assert.deepEqual(await shownMethods(frame), DEFAULT_METHODS);
    assert.equal(await frame.locator('[data-testid^="from-cache-"]').count(), 0, 'a first explanation cannot come from the cache');
    // The worker's memory after each request is in the log.
    const rss = [...loupeLog(server).matchAll(/worker RSS (\d+) MB/g)].map((x) => Number(x[1]));
    assert.ok(rss.length > 0, 'no worker RSS in the log');
    metrics.workerPeakRssMb = Math.max(...rss);
    await screenshot(page, 'progressive-a-panel');
  }));

  it('(b) the same explanation again is instant, says "from cache" and offers Recompute, which asks the worker again', (t) => step(t, 'rerun', async () => {
    const before = workerCalls(server);
    let frame = await webviewFrame(page);
    // The warm-up image again (explained in (a), the panel now shows the other one): same weights, image, class, parameters.
    await watchPanel(frame, IMAGE_WARM);
    const clicked = await explainFromExplorer(page, IMAGE_WARM);
    frame = await panelFor(page, IMAGE_WARM);
    await frame.locator('[data-testid="recompute"]').waitFor({ timeout: 10_000 });
    const fromCache = await frame.locator('[data-testid^="from-cache-"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-testid')));
    assert.deepEqual(fromCache.sort(), DEFAULT_METHODS.map((m) => `from-cache-${m}`).sort());
    assert.equal(workerCalls(server), before, 'a re-run with the same key called the worker');
    metrics.rerunAllMapsMs = (await marks(frame)).allMaps! - clicked;
    t.diagnostic(`re-run from cache: all maps ${metrics.rerunAllMapsMs} ms after the command`);
    await screenshot(page, 'progressive-b-from-cache');

    await frame.locator('[data-testid="recompute"]').click();
    await frame.locator('[data-testid="maps"][data-complete="false"]').waitFor({ timeout: 10_000 });
    await frame.locator('[data-testid="maps"][data-complete="true"]').waitFor({ timeout: ANALYSIS_TIMEOUT });
    assert.equal(await frame.locator('[data-testid^="from-cache-"]').count(), 0);
    const calls = workerCalls(server) - before;
    assert.ok(calls >= DEFAULT_METHODS.length + 1, `Recompute made ${calls} worker calls (a forward pass and ${DEFAULT_METHODS.length} maps expected)`);
  }));

  it('(c) another class reuses the forward pass; the sanity check runs on demand from a card', (t) => step(t, 'class-sanity', async () => {
    let frame = await webviewFrame(page);
    const forwards = workerCalls(server, /forward done in/g);
    const label = (await frame.locator('[data-testid="prediction-1"] .label').innerText()).trim();
    await frame.locator('[data-testid="prediction-1"]').click();
    frame = await webviewFrame(page);
    await frame.locator('[data-testid="target-label"]', { hasText: label }).waitFor({ timeout: ANALYSIS_TIMEOUT });
    await frame.locator('[data-testid="maps"][data-complete="true"]').waitFor({ timeout: ANALYSIS_TIMEOUT });
    await waitForLog(server, new RegExp(`forward pass of .*${path.basename(IMAGE_WARM).replace('.', '\\.')} from the cache \\(no worker call\\)`), 10_000);
    assert.equal(workerCalls(server, /forward done in/g), forwards, 'another class ran the forward pass again');

    // onDemand: no map has the check until asked; the card's button runs it for that map alone.
    assert.equal(await frame.locator('dt', { hasText: 'Sanity ρ' }).count(), 0);
    assert.match(await frame.locator('[data-testid="sanity-cost"]').innerText(), /about twice the map's own time/);
    await frame.locator('[data-testid="sanity-all"]').waitFor();
    await frame.locator('[data-testid="prediction-0"]').click(); // back to the top class: the CLI's default target
    await frame.locator('[data-testid="maps"][data-complete="true"]').waitFor({ timeout: ANALYSIS_TIMEOUT });
    await frame.locator('[data-testid="sanity-gradcam"]').click();
    const row = frame.locator('[data-testid="map-gradcam"] dt', { hasText: 'Sanity ρ' });
    await row.waitFor({ timeout: ANALYSIS_TIMEOUT });
    const shown = Number((await frame.locator('[data-testid="map-gradcam"] dt:has-text("Sanity ρ") + dd').innerText()).trim());
    const oracle = cliSanity(ws(MODEL), ws(IMAGE_WARM), 'gradcam');
    assert.ok(Math.abs(shown - oracle) < 5e-3, `panel ρ ${shown}, CLI ρ ${oracle}`);
    assert.equal(await frame.locator('[data-testid="map-gradient"] dt', { hasText: 'Sanity ρ' }).count(), 0, 'the check ran for a map not asked for');
    assert.match(await frame.locator('[data-testid="sanity-status"]').innerText(), /^Sanity check done: 1 map/);
    await screenshot(page, 'progressive-c-sanity');
  }));

  it('(d) a window reload restores every map from the cache with no worker call (its time printed against the 1 s budget)', (t) => step(t, 'reload', async () => {
    const before = workerCalls(server);
    const restoredLines = (loupeLog(server).match(/Explain panel restored for .* ms: /g) ?? []).length;
    await runCommand(page, 'Developer: Reload Window');
    const tab = page.locator('.tab', { hasText: `Loupe: ${path.basename(IMAGE_WARM)}` }).first();
    await tab.waitFor({ timeout: 120_000 });
    const tabShown = Date.now();
    const frame = await webviewFrame(page, { timeoutMs: 60_000 });
    await frame.locator('[data-testid="maps"][data-complete="true"]').waitFor({ timeout: 60_000 });
    metrics.reloadTabToAllMapsMs = Date.now() - tabShown;
    // The page stamps when it drew each state: from the restored page's opening to every map on screen.
    metrics.reloadPageToAllMapsMs = Number(await frame.locator('[data-testid="maps"][data-complete="true"]').getAttribute('data-rendered-ms'));
    const restored = /Explain panel restored for .* in (\d+) ms: (\d+)\/(\d+) maps from the cache, (no worker call|\d+ worker calls?)/g;
    const deadline = Date.now() + 30_000;
    while ((loupeLog(server).match(restored) ?? []).length <= restoredLines) {
      assert.ok(Date.now() < deadline, `no "Explain panel restored … maps from the cache" line after the reload:\n${loupeLog(server).slice(-3000)}`);
      await page.waitForTimeout(100);
    }
    const line = [...loupeLog(server).matchAll(restored)].at(-1)!;
    metrics.reloadRestoreMs = Number(line[1]);
    console.log(`[e2e progressive] reload: the extension restored the panel in ${metrics.reloadRestoreMs} ms; every map on screen `
      + `${metrics.reloadPageToAllMapsMs} ms after the restored page opened (${metrics.reloadTabToAllMapsMs} ms after its tab, which comes before the extension host starts)`);
    assert.equal(line[4], 'no worker call');
    assert.equal(line[2], line[3], 'not every map came from the cache');
    assert.equal(workerCalls(server), before, 'the worker answered a forward or explain request during the restore');
    console.log(`[e2e progressive] reload: restore ${verdict(metrics.reloadRestoreMs, RESTORE_BUDGET_MS)}; `
      + `every map on screen ${verdict(metrics.reloadPageToAllMapsMs, RESTORE_BUDGET_MS)}`);
    assert.deepEqual(await shownMethods(frame), DEFAULT_METHODS);
    assert.equal(await frame.locator('[data-testid^="from-cache-"]').count(), DEFAULT_METHODS.length);
    await screenshot(page, 'progressive-d-restored');
  }));
});
