// End-to-end: a Keras-saved model in the demo workspace, in a real VS Code (code-server 1.139 +
// Chromium). The workspace is a temp copy of demo/ with demo/keras/mnist_cnn.keras taken from the
// shared fixtures (test/fixtures/keras/README.md: written by Keras 3.11.3, not by Loupe).
// Oracles from outside the extension: the layer names Keras wrote (the notebook's model.summary()),
// the `loupe` CLI in this Node process for the top label, the training script's text for the line.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { repoRoot } from '../../scripts/e2e/codeServer';
import { contextMenu, explorerRow, screenshot, showContainer, toast, treeItems, viewPane, webviewFrame } from '../../scripts/e2e/driver';
import { KERAS_FIXTURES_MISSING, kerasFixture } from '../helpers/kerasFixtures';
import { e2eSession } from './session';

const MODEL = 'keras/mnist_cnn.keras';
const SCRIPT = 'keras/train.py';
const IMAGE = 'images/digit-2.png';
/** The layers of mnist_cnn.keras as the notebook's model.summary() printed them. */
const KERAS_LAYERS = ['input_layer_1', 'conv2d_2', 'max_pooling2d_2', 'conv2d_3', 'max_pooling2d_3', 'flatten_1', 'dense_2', 'dropout_1', 'dense_3'];

describe('a Keras model in a real VS Code', { timeout: 10 * 60_000, skip: KERAS_FIXTURES_MISSING }, () => {
  let workspace: string;
  let page: Page;
  const { session, step } = e2eSession({
    label: 'keras',
    prepare: (dir) => copyFileSync(kerasFixture('mnist_cnn.keras'), path.join(dir, MODEL)),
  });
  before(() => ({ workspace, page } = session()));

  it('(a) Models lists the .keras file; selected, the Layers view shows the names Keras gave its layers', (t) => step(t, 'models', async () => {
    await showContainer(page, 'Loupe');
    const row = viewPane(page, 'Models').locator('.monaco-list-row', { has: page.locator('.label-name', { hasText: /^mnist_cnn\.keras$/ }) });
    await row.waitFor({ timeout: 60_000 });
    await row.click();
    await row.locator('.label-description', { hasText: /active · keras · 9 layers/ }).waitFor({ timeout: 60_000 });
    const deadline = Date.now() + 60_000;
    let layers = await treeItems(page, 'Layers');
    while (layers.map((l) => l.label).join() !== KERAS_LAYERS.join() && Date.now() < deadline) {
      await page.waitForTimeout(200);
      layers = await treeItems(page, 'Layers');
    }
    assert.deepEqual(layers.map((l) => l.label), KERAS_LAYERS);
    assert.match(layers[1]!.description, /^Conv2D · 26×26×32 · 320 params/);
    await screenshot(page, 'keras-a-layers');
  }));

  it('(b) Explain Image with the Keras model: the panel shows the label the CLI gives', (t) => step(t, 'explain', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'loupe-e2e-keras-cli-'));
    let oracle: string;
    try {
      const r = spawnSync(process.execPath, [path.join(repoRoot, 'dist/cli.js'), 'explain', '--model', path.join(workspace, MODEL),
        '--image', path.join(workspace, IMAGE), '--method', 'gradient', '--out', out], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 0, r.stderr);
      oracle = (JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as { predictions: Array<{ label: string }> }).predictions[0]!.label;
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
    assert.equal(oracle, '2', 'the CLI reads digit-2.png as a 2');
    await contextMenu(page, await explorerRow(page, IMAGE), 'Explain Image');
    await toast(page, /explaining digit-2\.png/).waitFor({ timeout: 30_000 });
    const tab = page.locator('.tab', { hasText: 'Loupe: digit-2.png' }).first();
    await tab.waitFor({ timeout: 180_000 });
    const frame = await webviewFrame(page, { timeoutMs: 60_000 });
    await frame.locator('article.map-card').first().waitFor({ timeout: 180_000 });
    assert.equal((await frame.locator('[data-testid="top-label"]').innerText()).trim(), oracle);
    assert.match(await frame.locator('body').innerText(), /mnist_cnn\.keras|sequential_1/);
    await screenshot(page, 'keras-b-panel');
  }));

  it('(c) a CodeLens sits on the unnamed Conv2D( line of the training script; its hover says it was linked by creation order', (t) => step(t, 'codelens', async () => {
    const script = readFileSync(path.join(workspace, SCRIPT), 'utf8').split('\n');
    const line = script.findIndex((l) => l.includes('layers.Conv2D(32')) + 1;
    assert.ok(line > 0 && !script[line - 1]!.includes('name='), 'the first Conv2D( of the script has no name=');
    await (await explorerRow(page, SCRIPT)).click();
    await page.locator('.tab.active', { hasText: 'train.py' }).waitFor();
    const editor = page.locator('.editor-group-container.active .monaco-editor').first();
    const lens = editor.locator('.codelens-decoration', { hasText: /^Loupe: conv2d_2 · / });
    await lens.waitFor({ timeout: 60_000 });
    assert.equal((await lens.innerText()).trim(), 'Loupe: conv2d_2 · Conv2D · 26×26×32 · 320 params');
    // The lens is drawn in the zone right above its line: below line − 1, above the line itself.
    const box = async (n: number) => (await editor.locator('.margin-view-overlays .line-numbers', { hasText: new RegExp(`^${n}$`) }).boundingBox())!;
    const [lensBox, above, at] = [(await lens.boundingBox())!, await box(line - 1), await box(line)];
    assert.ok(lensBox.y >= above.y + above.height - 1 && lensBox.y + lensBox.height <= at.y + 1,
      `lens (y ${lensBox.y}) is not between lines ${line - 1} and ${line}`);
    await screenshot(page, 'keras-c-codelens');

    await editor.locator('.view-line', { hasText: 'layers.Conv2D(32' }).locator('span', { hasText: 'Conv2D' }).first().hover();
    const hover = page.locator('.monaco-hover-content', { hasText: 'conv2d_2' });
    await hover.waitFor({ timeout: 30_000 });
    assert.match(await hover.innerText(), /Linked by creation order: the 1st of the 2 unnamed Conv2D\( calls run by build_model\(\)/);
    await screenshot(page, 'keras-c-hover');
  }));
});
