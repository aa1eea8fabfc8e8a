// End-to-end (issue 12): names people recognise and honest notes, in a real VS Code (code-server + Chromium).
// The workspace is a temp copy of demo/ plus a real tfjs-converter graph model (test/fixtures/graph-model: nsfwjs's
// MobileNetV2Mid, converted from a Keras model by TensorFlow.js Converter v1.7.4, not by Loupe), its training
// script's shape, a 1×1 image, and a small Layers model whose convolution is constant (zero kernel), so that
// its maps are flat by construction. Oracles from outside the extension: the converter's model.json (op
// names), the `loupe` CLI (describe: layer names, the default Grad-CAM layer), the script's text (lines).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { FrameLocator, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { repoRoot } from '../../scripts/e2e/codeServer';
import { contextMenu, explorerRow, runCommand, screenshot, showContainer, statusBarItem, toast, viewPane, webviewFrame } from '../../scripts/e2e/driver';
import { saveLayersModel } from '../../src/engine/io/saveLayersModel';
import { ANALYSIS_TIMEOUT, waitForTree } from './loupeSteps';
import { e2eSession } from './session';

const FIXTURES = path.join(repoRoot, 'test/fixtures/graph-model');
const GRAPH = 'nsfwjs-mobilenet_v2_mid';
const FLAT = 'flat';
const SCRIPT = 'nsfw_train.py';
const TINY = 'images/e2e-tiny.png';
const SQUARE = 'images/e2e-square.png';
const STATUS_ID = 'loupe-dev.loupe.loupe.status';
const WRAPPERS = /^(StatefulPartitionedCall|PartitionedCall)$/;

/** The converter's op path without its tracer wrappers and the model's scope, written here apart from Loupe's code. */
function expectedDisplay(name: string): string {
  const parts = name.split('/');
  if (parts[0] !== 'StatefulPartitionedCall' || parts.length < 3) return name;
  return parts.slice(2).filter((p) => !WRAPPERS.test(p)).join('/');
}

function png(file: string, width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): void {
  const image = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      image.data.set([r, g, b, 255], (y * width + x) * 4);
    }
  }
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, PNG.sync.write(image));
}

/** GAP + dense over a convolution with a zero kernel: its output is the bias everywhere, so Grad-CAM is constant and the input gradient 0. */
async function writeFlatModel(dir: string): Promise<void> {
  const input = tf.input({ shape: [32, 32, 3] });
  const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv',
    kernelInitializer: 'zeros', biasInitializer: tf.initializers.constant({ value: 0.5 }) }).apply(input) as tf.SymbolicTensor;
  const gap = tf.layers.globalAveragePooling2d({}).apply(conv) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, name: 'logits', kernelInitializer: tf.initializers.constant({ value: 0.3 }), biasInitializer: 'zeros' })
    .apply(gap) as tf.SymbolicTensor;
  await saveLayersModel(tf.model({ inputs: input, outputs: out }), dir);
}

describe('names people recognise and honest notes in a real VS Code', { timeout: 10 * 60_000 }, () => {
  let workspace: string;
  let page: Page;
  let described: { layers: Array<{ name: string }>; defaultCamLayer: string };
  const flatModel = mkdtempSync(path.join(os.tmpdir(), 'loupe-e2e-names-flat-'));
  // Registered before the session's hooks, so the flat model exists when the workspace is prepared.
  before(async () => {
    await writeFlatModel(flatModel);
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'dist/cli.js'), 'describe', '--model', path.join(FIXTURES, GRAPH, 'model.json'), '--json'],
      { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    described = JSON.parse(r.stdout) as typeof described;
  });
  after(() => rmSync(flatModel, { recursive: true, force: true }));
  const { session, step } = e2eSession({
    label: 'names',
    prepare: (dir) => {
      cpSync(path.join(FIXTURES, GRAPH), path.join(dir, GRAPH), { recursive: true });
      cpSync(path.join(FIXTURES, 'train.py'), path.join(dir, SCRIPT));
      cpSync(flatModel, path.join(dir, FLAT), { recursive: true });
      png(path.join(dir, TINY), 1, 1, () => [200, 120, 40]);
      png(path.join(dir, SQUARE), 32, 32, (x, y) => [x * 8, y * 8, 128]);
      mkdirSync(path.join(dir, '.vscode'), { recursive: true });
      writeFileSync(path.join(dir, '.vscode/settings.json'), JSON.stringify({ 'loupe.methods': ['gradient', 'gradcam'] }));
    },
  });
  before(() => ({ workspace, page } = session()));

  async function selectModel(label: string): Promise<void> {
    await showContainer(page, 'Loupe');
    const row = viewPane(page, 'Models').locator('.monaco-list-row', { has: page.locator('.label-name', { hasText: new RegExp(`^${label}$`) }) });
    await row.waitFor({ timeout: 60_000 });
    await row.click();
    await row.locator('.label-description', { hasText: /active/ }).waitFor({ timeout: 60_000 });
  }

  async function explain(image: string): Promise<FrameLocator> {
    await contextMenu(page, await explorerRow(page, image), 'Explain Image');
    return panelOf(image);
  }

  async function panelOf(image: string): Promise<FrameLocator> {
    const tab = page.locator('.tab', { hasText: `Loupe: ${path.basename(image)}` }).first();
    await tab.waitFor({ timeout: ANALYSIS_TIMEOUT });
    if (!(await tab.getAttribute('class'))?.includes('active')) await tab.click();
    const frame = await webviewFrame(page, { timeoutMs: 60_000 });
    await frame.locator('.subtitle', { hasText: path.basename(image) }).waitFor({ timeout: ANALYSIS_TIMEOUT });
    await frame.locator('article.map-card').first().waitFor();
    return frame;
  }

  it('(a) the graph model is named by its folder (Models, status bar, Layers header); its layers without StatefulPartitionedCall/<model>/', (t) => step(t, 'layers', async () => {
    await selectModel(GRAPH);
    const status = statusBarItem(page, STATUS_ID);
    await status.filter({ hasText: new RegExp(`Loupe: ${GRAPH} · `) }).waitFor({ timeout: 60_000 });
    const expected = described.layers.map((l) => expectedDisplay(l.name));
    const rows = await waitForTree(page, 'Layers', (r) => r.length > 3 && r[3]!.label === expected[3], 60_000);
    assert.ok(rows.length > 3, 'the Layers view shows the model\'s layers');
    rows.forEach((row, i) => {
      assert.equal(row.label, expected[i], `row ${i}`);
      assert.ok(!row.label.includes('StatefulPartitionedCall'), row.label);
    });
    assert.equal(rows[3]!.label, 'keras_layer/predict/MobilenetV2/Conv/Relu6');
    // The view's message is set a moment after its rows.
    const message = viewPane(page, 'Layers').locator('.pane-body .message');
    await message.filter({ hasText: new RegExp(`^${GRAPH} · 224×224×3 → 5 classes`) }).waitFor({ timeout: 30_000 });
    assert.doesNotMatch(await message.innerText(), /\binput ·/);
    assert.match(rows[3]!.description, /^Conv2D · 112×112×48 · 1,344 params · Keras layer keras_layer$/);
    await screenshot(page, 'names-a-layers');
  }));

  it('(b) a 1×1 image: the panel names the model, says the image is much smaller, that loupe.json is missing; Grad-CAM\'s layer by its short name, a picker with a filter', (t) => step(t, 'panel', async () => {
    await contextMenu(page, await explorerRow(page, TINY), 'Explain Image');
    await toast(page, new RegExp(`explaining e2e-tiny\\.png with ${GRAPH}`)).waitFor({ timeout: 30_000 });
    const frame = await panelOf(TINY);
    const subtitle = (await frame.locator('[data-testid="subtitle"]').innerText()).trim();
    assert.match(subtitle, new RegExp(`^e2e-tiny\\.png · ${GRAPH} · `));
    assert.doesNotMatch(subtitle, /model\.json/);
    const note = frame.locator('[data-testid="input-note"]');
    await note.waitFor();
    assert.ok(await note.isVisible());
    assert.match(await note.innerText(), /1×1 px, much smaller than the model's 224×224 input: Loupe upscaled it 224×/);
    const sidecar = frame.locator('[data-testid="sidecar-note"]');
    assert.ok(await sidecar.isVisible(), 'the missing loupe.json is said');
    assert.match(await sidecar.innerText(), /No loupe\.json beside model\.json/);
    assert.ok(await frame.locator('[data-testid="create-sidecar"]').isVisible());

    const link = frame.locator('[data-testid="map-gradcam"] [data-testid="layer-link"]');
    assert.equal((await link.innerText()).trim(), expectedDisplay(described.defaultCamLayer));
    assert.equal(await link.getAttribute('data-layer'), described.defaultCamLayer);
    assert.match((await link.getAttribute('title'))!, /^StatefulPartitionedCall\/sequential\//);
    // Long names wrap inside their card instead of overflowing it.
    const card = (await frame.locator('[data-testid="map-gradcam"]').boundingBox())!;
    const linkBox = (await link.boundingBox())!;
    assert.ok(linkBox.x + linkBox.width <= card.x + card.width + 1, `the layer name (right edge ${linkBox.x + linkBox.width}) stays in its card (${card.x + card.width})`);

    const options = frame.locator('[data-testid="layer-select"] vscode-option');
    const all = described.layers.length;
    const count = frame.locator('[data-testid="layer-count"]');
    const [shown, total] = (await count.innerText()).match(/\d+/g)!.map(Number);
    assert.ok(shown! < total! && total! < all, `${shown} of ${total} spatial layers offered first (${all} layers)`);
    assert.equal(await options.count(), shown);
    await frame.locator('[data-testid="layer-filter"]').fill('expanded_conv_16');
    await count.filter({ hasText: /^\d+ of/ }).filter({ hasNotText: new RegExp(`^${shown} of`) }).waitFor();
    const filtered = await options.evaluateAll((els) => els.map((e) => e.textContent ?? ''));
    assert.ok(filtered.length >= 1 && filtered.length < shown!, filtered.join());
    for (const text of filtered) assert.ok(text.includes('expanded_conv_16') || text === expectedDisplay(described.defaultCamLayer), text);
    assert.ok(filtered.every((text) => !text.includes('StatefulPartitionedCall')));
    await screenshot(page, 'names-b-panel');
  }));

  it('(c) the Grad-CAM layer\'s link opens the Keras layer that holds the op in the training script', (t) => step(t, 'link', async () => {
    const frame = await webviewFrame(page, { timeoutMs: 60_000 });
    await frame.locator('[data-testid="map-gradcam"] [data-testid="layer-link"]').click();
    await page.locator('.tab.active', { hasText: SCRIPT }).waitFor({ timeout: 30_000 });
    const script = readFileSync(path.join(workspace, SCRIPT), 'utf8').split('\n');
    const line = script.findIndex((l) => l.includes('name="keras_layer"')) + 1;
    assert.ok(line > 0);
    await statusBarItem(page, 'status.editor.selection').filter({ hasText: new RegExp(`^\\s*Ln ${line},`) }).waitFor({ timeout: 10_000 });
    await screenshot(page, 'names-c-link');
  }));

  it('(d) a model whose maps are flat by construction: each card says "near-uniform" and draws no colour', (t) => step(t, 'uniform', async () => {
    await selectModel(FLAT);
    await statusBarItem(page, STATUS_ID).filter({ hasText: new RegExp(`Loupe: ${FLAT} · `) }).waitFor({ timeout: 60_000 });
    const frame = await explain(SQUARE);
    assert.match(await frame.locator('[data-testid="subtitle"]').innerText(), new RegExp(`e2e-square\\.png · ${FLAT} · `));
    assert.equal(await frame.locator('[data-testid="input-note"]').count(), 0, 'a 32×32 image for a 32×32 model gets no size note');
    // A TF.js Layers model without loupe.json gets the same note as the graph model (and ONNX, Keras: every format).
    assert.match(await frame.locator('[data-testid="sidecar-note"]').innerText(), /No loupe\.json beside model\.json/);
    for (const method of ['gradient', 'gradcam']) {
      const badge = frame.locator(`[data-testid="map-${method}"] [data-testid="near-uniform"]`);
      await badge.waitFor();
      assert.equal((await badge.innerText()).trim(), 'near-uniform');
      assert.match((await badge.getAttribute('title'))!, /^near-uniform: /);
    }
    await screenshot(page, 'names-d-uniform');
  }));

  it('(e) exports default to loupe-exports/, which neither the Explorer\'s Explain Image nor the image picker offers', (t) => step(t, 'exports', async () => {
    const frame = await webviewFrame(page, { timeoutMs: 60_000 });
    await frame.locator('[data-testid="export-png-gradient"]').click();
    // code-server's save dialog is VS Code's simple dialog: the default path appears in the quick input once it has read the folder.
    const input = page.locator('.quick-input-widget .quick-input-box input');
    await input.waitFor({ timeout: 10_000 });
    const target = path.join(workspace, 'loupe-exports', 'e2e-square_gradient.png');
    for (const deadline = Date.now() + 10_000; (await input.inputValue()) !== target && Date.now() < deadline;) await page.waitForTimeout(100);
    assert.equal(await input.inputValue(), target, 'the save dialog proposes the export folder');
    await input.press('Enter');
    for (const deadline = Date.now() + 15_000; !existsSync(target) && Date.now() < deadline;) await page.waitForTimeout(200);
    assert.ok(existsSync(target), `${target} was written`);

    const exported = await explorerRow(page, 'loupe-exports/e2e-square_gradient.png', 30_000);
    await exported.click({ button: 'right' });
    const menu = page.locator('.context-view .monaco-menu');
    await menu.locator('.action-label', { hasText: /^Copy Path$/ }).waitFor();
    assert.equal(await menu.locator('.action-label', { hasText: /^Explain Image$/ }).count(), 0, 'no Explain Image on an export');
    await page.keyboard.press('Escape');
    // The same menu on an image outside the export folder still has it.
    await (await explorerRow(page, SQUARE)).click({ button: 'right' });
    await menu.locator('.action-label', { hasText: /^Explain Image$/ }).waitFor();
    await page.keyboard.press('Escape');

    await runCommand(page, 'Loupe: Explain Image');
    // The list is virtual: filter it to the square image and its export.
    await page.locator('.quick-input-widget .quick-input-box input').fill('e2e-square');
    const rows = page.locator('.quick-input-list .monaco-list-row .label-name');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'e2e-square.png' }).first().waitFor({ timeout: 10_000 });
    const listed = await rows.allInnerTexts();
    assert.ok(listed.some((l) => l.includes(SQUARE)), listed.join());
    assert.ok(!listed.some((l) => l.includes('loupe-exports')), `the picker lists an export: ${listed.join()}`);
    await page.keyboard.press('Escape');
    await screenshot(page, 'names-e-exports');
  }));
});
