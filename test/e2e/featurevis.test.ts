// End-to-end: feature visualisation and the Building Blocks in a real VS Code (code-server 1.139 + Chromium),
// on the packaged VSIX and a temp copy of the demo workspace. Oracles come from outside the extension: the
// result.json files the worker wrote (read from disk), the `loupe blocks` CLI (the engine in this Node process),
// the training script's text for the layer link's line. Without the e2e prerequisites every test FAILS.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import type { FrameLocator, Locator, Page } from 'playwright-core';
import { repoRoot, type CodeServer } from '../../scripts/e2e/codeServer';
import { contextMenu, explorerRow, runCommand, screenshot, showContainer, statusBarItem, toast, viewPane, webviewFrame } from '../../scripts/e2e/driver';
import { e2eSession } from './session';

const DEMO = path.join(repoRoot, 'demo');
const MODEL = 'shapes/model/model.json';
const TRAIN_SCRIPT = 'shapes/train.ts';
const IMAGE = 'images/shape-1-cross.png';
const LAYER = 'relu4';
const LATER = 'relu6';
/** Fewer steps than Lucid's 512 keep the run to seconds; the recipe is otherwise the default. */
const STEPS = 160;
const PROBE_IMAGES = 200;
const TIMEOUT = 240_000;

/** Every result.json under the extension's global storage whose folder path contains `part`. */
function storedResults<T>(server: CodeServer, part: string): Array<T & { dir: string }> {
  const found: Array<T & { dir: string }> = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name === 'result.json' && p.includes(part)) found.push({ ...(JSON.parse(readFileSync(p, 'utf8')) as T), dir });
    }
  };
  const root = path.join(server.userDataDir, 'User', 'globalStorage');
  if (existsSync(root)) walk(root);
  return found;
}

/** Waits until the Loupe log (a LogOutputChannel's file in the user-data folder) has a line matching `pattern`. */
async function waitForLog(server: CodeServer, pattern: RegExp, timeoutMs = 60_000): Promise<void> {
  const read = (): string => {
    const texts: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(p);
        else if (entry.name === 'Loupe.log') texts.push(readFileSync(p, 'utf8'));
      }
    };
    const logs = path.join(server.userDataDir, 'logs');
    if (existsSync(logs)) walk(logs);
    return texts.join('\n');
  };
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(read())) {
    if (Date.now() > deadline) throw new Error(`the Loupe log has no line matching ${pattern} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The picked row of an open quick pick, by its exact label. */
async function pickQuick(page: Page, label: string, typed = label): Promise<void> {
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.waitFor();
  await input.fill(typed);
  await page.locator('.quick-input-list .monaco-list-row', { has: page.locator('.label-name', { hasText: new RegExp(`^${label}$`) }) }).first().click();
}

async function panel(page: Page, title: string): Promise<FrameLocator> {
  const tab = page.locator('.tab', { hasText: title }).first();
  await tab.waitFor({ timeout: TIMEOUT });
  if (!(await tab.getAttribute('class'))?.includes('active')) await tab.click();
  return webviewFrame(page, { timeoutMs: 60_000 });
}

type Canvas2d = { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } };
async function pixels(canvas: Locator): Promise<number[]> {
  return canvas.evaluate((el) => {
    const c = el as unknown as Canvas2d;
    return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);
  });
}
function differing(a: number[], b: number[]): number {
  let n = 0;
  for (let i = 0; i < a.length; i += 4) if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2]) n++;
  return n / (a.length / 4);
}

describe('feature visualisation and Building Blocks in a real VS Code', { timeout: 20 * 60_000 }, () => {
  let workspace: string;
  let server: CodeServer;
  let page: Page;
  const ws = (relative: string): string => path.join(workspace, relative);
  const { session, step } = e2eSession({
    label: 'fv',
    size: { width: 1400, height: 900 },
    settings: { 'loupe.dissection.probeImages': PROBE_IMAGES, 'loupe.featureVis.steps': STEPS, 'loupe.activeModel': MODEL },
    check: () => {
      assert.ok(existsSync(path.join(DEMO, MODEL)), `demo model demo/${MODEL} is missing: npx tsx demo/shapes/train.ts`);
      assert.ok(existsSync(path.join(DEMO, IMAGE)), `demo image demo/${IMAGE} is missing: npx tsx demo/make-images.ts`);
    },
  });
  before(() => ({ workspace, server, page } = session()));

  it('(a) Visualize Unit on a dissected unit: progress with previews, the picture, and the picture becomes the unit\'s icon', (t) => step(t, 'visualize', async () => {
    await showContainer(page, 'Loupe');
    // Room for the Layers view: the Models view collapsed (as in the main suite).
    const modelsHeader = viewPane(page, 'Models').locator('.pane-header');
    if ((await modelsHeader.getAttribute('aria-expanded')) === 'true') await modelsHeader.click();
    const layerRow = viewPane(page, 'Layers').locator('.monaco-list-row', { has: page.locator('.label-name', { hasText: new RegExp(`^${LAYER}$`) }) });
    await layerRow.waitFor({ timeout: 60_000 });
    // The views settle once the caches of the active model were read (a tree rebuilt under an open context menu drops its item).
    await waitForLog(server, /cached dissection\(s\) for .*shapes/);
    await waitForLog(server, /cached feature visualisation\(s\) for .*shapes/);
    // Dissect first, so that the unit is listed in the tree and in the Dissection panel.
    await contextMenu(page, layerRow, 'Dissect This Layer');
    await panel(page, `Dissection: ${LAYER}`);
    await layerRow.locator('.monaco-tl-twistie').click();
    const firstUnit = viewPane(page, 'Layers').locator('.monaco-list-row[aria-level="2"][aria-posinset="1"]');
    await firstUnit.waitFor({ timeout: 30_000 });
    const unitLabel = (await firstUnit.locator('.label-name').innerText()).trim();
    const unit = Number(/^unit (\d+)/.exec(unitLabel)?.[1]);
    assert.ok(Number.isInteger(unit), `unit row "${unitLabel}"`);
    await runCommand(page, 'Notifications: Clear All Notifications');
    // One webview at a time: the page's frame is found by visibility.
    await runCommand(page, 'View: Close All Editors');

    await contextMenu(page, firstUnit, 'Visualize Unit');
    // Progress: the notification, then previews in the panel while it renders, then the picture.
    const progress = toast(page, new RegExp(`visualizing unit ${unit} of ${LAYER}`));
    await progress.waitFor({ timeout: 30_000 });
    const frame = await panel(page, `Feature Vis: ${LAYER} · ${unit}`);
    const previewStep = frame.locator('[data-testid="preview-step"]');
    const final = frame.locator('[data-testid="vis-image"]');
    let previewText = '';
    const deadline = Date.now() + TIMEOUT;
    while (Date.now() < deadline && !(await final.count())) {
      if (!previewText && (await previewStep.count())) previewText = (await previewStep.innerText().catch(() => '')).trim();
      await page.waitForTimeout(100);
    }
    assert.match(previewText, new RegExp(`^step \\d+ of ${STEPS} · objective `), 'no preview was shown while the picture rendered');
    await final.waitFor({ timeout: 10_000 });
    const natural = await final.evaluate((e) => (e as unknown as { naturalWidth: number }).naturalWidth);
    // The oracle: the result the worker wrote.
    const results = storedResults<{ objective: { layer: string; unit: number }[]; values: number[]; imageShape: number[]; params: { steps: number } }>(server, 'featurevis')
      .filter((r) => r.objective[0]?.layer === LAYER && r.objective[0]?.unit === unit);
    assert.equal(results.length, 1, 'one stored picture of the unit');
    const r = results[0]!;
    assert.equal(r.params.steps, STEPS);
    assert.equal(natural, r.imageShape[1], 'the panel shows the stored picture (64 px: the model\'s input is smaller than 128)');
    assert.match(await frame.locator('[data-testid="objective"]').innerText(), new RegExp(`^${r.values[0]!.toPrecision(3).replace('.', '\\.')} at the start`));
    // The dissection's top probe images sit beside the picture.
    await frame.locator('[data-testid="probe-strip"] img').waitFor();
    await screenshot(page, 'fv-a-panel');

    // The unit's row in the Layers view now shows the picture as its icon; so does its card in the Dissection panel.
    const icon = viewPane(page, 'Layers').locator('.monaco-list-row[aria-level="2"][aria-posinset="1"] .custom-view-tree-node-item-icon');
    await icon.waitFor({ timeout: 30_000 });
    assert.match(await icon.evaluate((e) => (globalThis as unknown as { getComputedStyle(x: unknown): { backgroundImage: string } }).getComputedStyle(e).backgroundImage), /image\.png/);
    await runCommand(page, 'View: Close All Editors');
    await firstUnit.click(); // opens the Dissection panel on the unit
    const dissection = await panel(page, `Dissection: ${LAYER}`);
    await dissection.locator(`.unit-card[data-unit="${unit}"] [data-testid="unit-picture"]`).waitFor({ timeout: 30_000 });
    await dissection.locator('[data-testid="detail-picture"] img').waitFor();
    await screenshot(page, 'fv-a-icons');
  }));

  it('(b) Building Blocks of a demo image: dictionary on hover, attribution overlays, groups that differ, layer links to the script', (t) => step(t, 'blocks', async () => {
    await runCommand(page, 'View: Close All Editors');
    // The oracle: the CLI on the same model, image and layer (the engine in this process, not the extension's worker).
    const out = mkdtempSync(path.join(os.tmpdir(), 'loupe-e2e-blocks-'));
    const cli = spawnSync(process.execPath, [path.join(repoRoot, 'dist/cli.js'), 'blocks', '--model', ws(MODEL), '--image', ws(IMAGE),
      '--layer', LAYER, '--out', out], { encoding: 'utf8', timeout: 180_000 });
    assert.equal(cli.status, 0, cli.stderr);
    const dictionary = JSON.parse(readFileSync(path.join(out, 'dictionary.json'), 'utf8')) as { shape: number[]; positions: { y: number; x: number; channels: number[] }[] };
    rmSync(out, { recursive: true, force: true });

    await contextMenu(page, await explorerRow(page, IMAGE), 'Building Blocks');
    await pickQuick(page, LAYER);
    const frame = await panel(page, `Blocks: ${path.basename(IMAGE)} · ${LAYER}`);
    const canvas = frame.locator('canvas[data-testid="picture"]');
    await canvas.waitFor({ timeout: TIMEOUT });

    // Hover two positions: the dictionary lists each position's top channels, as the CLI's dictionary.json does.
    const [h, w] = dictionary.shape as [number, number];
    const box = (await canvas.boundingBox())!;
    for (const [y, x] of [[3, 4], [12, 10]] as const) {
      await page.mouse.move(box.x + ((x + 0.5) / w) * box.width, box.y + ((y + 0.5) / h) * box.height);
      const host = frame.locator(`[data-testid="dictionary"][data-position="${y},${x}"]`);
      await host.waitFor({ timeout: 10_000 });
      const units = await host.locator('[data-testid="dictionary-entry"]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-unit'))));
      assert.deepEqual(units, dictionary.positions[y * w + x]!.channels, `dictionary at (${y}, ${x})`);
    }
    await screenshot(page, 'fv-b-dictionary');

    // Attribution overlays: the class attribution and the largest activation draw different pictures, neither the plain image.
    const cls = await pixels(canvas);
    await frame.locator('[data-testid="overlay-activation"]').check();
    const act = await pixels(canvas);
    assert.ok(differing(cls, act) > 0.2, `class-attribution and activation overlays differ on ${differing(cls, act)} of the pixels`);
    // Neuron groups: their maps differ from one another.
    const maps = await Promise.all([0, 1, 2].map((k) => pixels(frame.locator(`canvas[data-testid="group-map-${k}"]`))));
    assert.ok(differing(maps[0]!, maps[1]!) > 0.1 && differing(maps[1]!, maps[2]!) > 0.1, 'group maps are alike');
    // Layer → later layer: the overlay follows the later layer's position under the pointer.
    await frame.locator('[data-testid="later-select"]').selectOption(LATER);
    await frame.locator('[data-testid="overlay-layer"]').waitFor({ timeout: TIMEOUT });
    await frame.locator('[data-testid="overlay-layer"]').check();
    const box2 = (await canvas.boundingBox())!;
    await page.mouse.move(box2.x + box2.width * 0.2, box2.y + box2.height * 0.2);
    const first = await pixels(canvas);
    await page.mouse.move(box2.x + box2.width * 0.8, box2.y + box2.height * 0.7);
    const second = await pixels(canvas);
    assert.ok(differing(first, second) > 0.05, 'the layer → later layer overlay does not follow the pointer');
    await screenshot(page, 'fv-b-blocks');

    // The layer link opens the training script at the layer's line.
    const script = readFileSync(ws(TRAIN_SCRIPT), 'utf8');
    await frame.locator('h1 [data-testid="layer-link"]').click();
    await page.locator('.tab.active', { hasText: path.basename(TRAIN_SCRIPT) }).waitFor({ timeout: 30_000 });
    const line = script.split('\n').findIndex((l) => l.includes(`name: '${LAYER}'`)) + 1;
    assert.ok(line > 0, `${TRAIN_SCRIPT} does not name ${LAYER}`);
    await statusBarItem(page, 'status.editor.selection').filter({ hasText: new RegExp(`^\\s*Ln ${line},`) }).waitFor({ timeout: 10_000 });
  }));
});
