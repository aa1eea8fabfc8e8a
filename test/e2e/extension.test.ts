// End-to-end: the packaged Loupe VSIX in a real VS Code (code-server 4.139.1 = VS Code 1.139.1),
// driven through Debian's Chromium. One code-server for the whole file, fresh user data, a temp copy
// of the demo workspace (so the corrupt image written for (d) never lands in the repository).
// Expected values come from outside the extension: model.json for layer names, shapes and parameter
// counts, the training script's text for lines, the `loupe` CLI (the engine in this Node process,
// not the extension's worker) for the top label.
// Needs scripts/e2e/setup.sh and the trained demo models; without them every test FAILS with the
// reason (never skipped). Screenshots: test-output/e2e/; with LOUPE_E2E_UPDATE_DOCS=1 the README's
// three are copied to docs/screenshots/.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { FrameLocator, Page } from 'playwright-core';
import { outputDir, repoRoot, type CodeServer } from '../../scripts/e2e/codeServer';
import {
  contextMenu, explorerRow, runCommand, screenshot, showContainer, statusBarItem, toast,
  viewPane, webviewFrame,
} from '../../scripts/e2e/driver';
import { type PackageResult } from '../../scripts/package';
import { e2eSession } from './session';
import { ANALYSIS_TIMEOUT, cliTopPrediction, lineOf, loupeLog, panelFor, waitForLog, waitForTree } from './loupeSteps';

const DEMO = path.join(repoRoot, 'demo');
const MODELS = { digits: 'digits/model/model.json', shapes: 'shapes/model/model.json', pytorch: 'pytorch/model.onnx' } as const;
const ACTIVE = 'shapes';
const TRAIN_SCRIPT = 'shapes/train.ts';
/** The demo's shape images (regenerated with the models, so listed rather than named here). */
const SHAPE_IMAGES = existsSync(path.join(DEMO, 'images'))
  ? readdirSync(path.join(DEMO, 'images')).filter((f) => /^shape-.*\.png$/.test(f)).sort().map((f) => `images/${f}`)
  : [];
const [IMAGE = '', IMAGE_AFTER_ERROR = '', IMAGE_AFTER_CANCEL = ''] = SHAPE_IMAGES;
const CORRUPT = 'images/e2e-corrupt.png';
/** Settings of the running window are changed here: code-server watches the workspace, not the user settings file. */
const WORKSPACE_SETTINGS = '.vscode/settings.json';
const STATUS_ID = 'loupe-dev.loupe.loupe.status';
/** What the panel computes by default (package.json `loupe.methods`). */
const DEFAULT_METHODS = ['gradient', 'smoothgrad', 'ig', 'guided-backprop', 'gradcam', 'guided-gradcam'];
/** Step (f): the layer dissected from the Layers view, and the probe size it uses. */
const DISSECT_LAYER = 'relu3';
const DISSECT_PROBE_IMAGES = 300;
/** README screenshots (docs/screenshots/<key>.png) ← test-output/e2e/<value>.png; LOUPE_E2E_UPDATE_DOCS=1 copies them. */
const README_SHOTS = { panel: 'b-panel-wide', layers: 'c-layers-code', codelens: 'c-codelens', dissection: 'f-dissect-panel' } as const;

// ---- oracles read from files ------------------------------------------------------------------

interface KerasLayer {
  name: string;
  class_name: string;
  config: { name: string; filters?: number; padding?: string; strides?: number[]; batch_input_shape?: (number | null)[] };
}
interface ModelJson {
  modelTopology: { config?: { layers: KerasLayer[] }; model_config?: { config: { layers: KerasLayer[] } } };
  weightsManifest: { weights: { name: string; shape: number[] }[] }[];
}

function readModel(file: string): ModelJson {
  return JSON.parse(readFileSync(file, 'utf8')) as ModelJson;
}

function topologyLayers(model: ModelJson): KerasLayer[] {
  const layers = (model.modelTopology.model_config?.config ?? model.modelTopology.config)?.layers;
  assert.ok(Array.isArray(layers), 'model.json has no modelTopology layers');
  return layers;
}

/** Weights of a layer counted from the weights manifest (`<layer>/kernel`, `<layer>/bias`, …). */
function paramsOf(model: ModelJson, layer: string): number {
  return model.weightsManifest.flatMap((g) => g.weights)
    .filter((w) => w.name.startsWith(`${layer}/`))
    .reduce((sum, w) => sum + w.shape.reduce((a, b) => a * b, 1), 0);
}

// ---- things read from the workbench -----------------------------------------------------------

interface CachedUnit { unit: number; label: string; category: string; iou: number; interpretable: boolean }
interface CachedDissection {
  layer: string; interpretable: number; probe: { images: number }; units: CachedUnit[]; categories: { name: string; units: number }[];
}

/** The dissections the worker wrote into the extension's global storage (result.json files), read straight from disk. */
function cachedDissections(server: CodeServer): CachedDissection[] {
  const found: CachedDissection[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name === 'result.json') found.push(JSON.parse(readFileSync(p, 'utf8')) as CachedDissection);
    }
  };
  const root = path.join(server.userDataDir, 'User', 'globalStorage');
  if (existsSync(root)) walk(root);
  return found;
}

interface Box { x: number; y: number; width: number; height: number }
interface LensBoxes { lensBox: Box; lineBox: Box; prevBox: Box }

/**
 * The boxes of the lens line whose text contains `lensText` and of lines `line` − 1 and `line`, read in one frame of the editor,
 * once two reads 100 ms apart agree (the editor has stopped scrolling); undefined if never all rendered.
 */
async function stableBoxes(editor: ReturnType<Page['locator']>, lensText: string, line: number, timeoutMs = 10_000): Promise<LensBoxes | undefined> {
  // No named functions inside: tsx's keepNames would wrap them in a `__name` helper the page lacks.
  const read = () => editor.evaluate((root, [text, n]) => {
    type El = { textContent: string | null; getBoundingClientRect(): Box };
    const query = (root as unknown as { querySelectorAll(s: string): ArrayLike<El> }).querySelectorAll.bind(root);
    const found: (El | undefined)[] = [
      Array.from(query('.codelens-decoration')).find((el) => el.textContent?.includes(text)),
      Array.from(query('.margin-view-overlays .line-numbers')).find((el) => el.textContent?.trim() === n),
      Array.from(query('.margin-view-overlays .line-numbers')).find((el) => el.textContent?.trim() === String(Number(n) - 1)),
    ];
    if (found.some((el) => !el)) return undefined;
    const [lensBox, lineBox, prevBox] = found.map((el) => {
      const r = el!.getBoundingClientRect();
      return { x: r.x, y: r.y, width: r.width, height: r.height };
    });
    return { lensBox: lensBox!, lineBox: lineBox!, prevBox: prevBox! };
  }, [lensText, String(line)] as const);
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  for (;;) {
    await editor.page().waitForTimeout(100);
    const next = await read();
    if ((next && JSON.stringify(next) === JSON.stringify(last)) || Date.now() > deadline) return next;
    last = next;
  }
}

interface CanvasPixels { method: string; width: number; height: number; rgba: number[] }

/** The RGBA pixels of every map canvas in the panel (getImageData in the webview). */
async function mapPixels(frame: FrameLocator): Promise<CanvasPixels[]> {
  // No DOM lib in this tsconfig: the canvas is typed structurally.
  type Canvas2d = { width: number; height: number; dataset: { testid?: string };
    getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } };
  return frame.locator('article.map-card canvas[data-testid^="map-"]').evaluateAll((elements) => elements.map((el) => {
    const canvas = el as unknown as Canvas2d;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    return {
      method: (canvas.dataset.testid ?? '').replace(/^map-/, '').replace(/-canvas$/, ''),
      width: canvas.width,
      height: canvas.height,
      rgba: Array.from(data),
    };
  }));
}

/** Standard deviation of the pixels' luminance (0..255). */
function luminanceSpread(p: CanvasPixels): number {
  const n = p.width * p.height;
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const y = 0.299 * p.rgba[4 * i]! + 0.587 * p.rgba[4 * i + 1]! + 0.114 * p.rgba[4 * i + 2]!;
    sum += y;
    sq += y * y;
  }
  return Math.sqrt(Math.max(0, sq / n - (sum / n) ** 2));
}

/** Fraction of pixels whose colour differs between two same-size canvases. */
function differingPixels(a: CanvasPixels, b: CanvasPixels): number {
  assert.equal(a.rgba.length, b.rgba.length, `${a.method} and ${b.method} canvases differ in size`);
  let n = 0;
  for (let i = 0; i < a.rgba.length; i += 4) {
    if (a.rgba[i] !== b.rgba[i] || a.rgba[i + 1] !== b.rgba[i + 1] || a.rgba[i + 2] !== b.rgba[i + 2]) n++;
  }
  return n / (a.rgba.length / 4);
}

// ---- the suite ------------------------------------------------------------------------------------

describe('Loupe in a real VS Code (code-server 1.139 + Chromium)', { timeout: 15 * 60_000 }, () => {
  let workspace: string;
  let server: CodeServer;
  let page: Page;
  let vsix: PackageResult;
  const metrics: Record<string, number> = {};

  const ws = (relative: string): string => path.join(workspace, relative);

  const e2e = e2eSession({
    label: 'suite',
    // .vscode holds the settings step (e) changes; hidden in the Explorer only, for the screenshots.
    // A small probe keeps step (f)'s dissection to seconds (user settings: step (e) rewrites the workspace's).
    settings: { 'files.exclude': { '**/.vscode': true }, 'loupe.dissection.probeImages': DISSECT_PROBE_IMAGES },
    check: () => {
      for (const model of Object.values(MODELS)) {
        assert.ok(existsSync(path.join(DEMO, model)),
          `demo model demo/${model} is missing: train it first (npx tsx demo/${model.split('/')[0]}/train.ts)`);
      }
      assert.ok(SHAPE_IMAGES.length >= 3, `demo/images needs three shape-*.png images (has ${SHAPE_IMAGES.join(', ') || 'none'}): npx tsx demo/make-images.ts`);
    },
    // Present from the start: the watcher then reports edits of this file promptly (a new .vscode folder it may not).
    prepare: (dir) => {
      mkdirSync(path.dirname(path.join(dir, WORKSPACE_SETTINGS)), { recursive: true });
      writeFileSync(path.join(dir, WORKSPACE_SETTINGS), '{}\n');
    },
    metric: (name, ms) => { metrics[name] = ms; },
  });
  before(() => {
    ({ workspace, server, page, vsix } = e2e.session());
    metrics.vsixBytes = vsix.bytes;
  });
  after(() => console.log(`[e2e] metrics: ${JSON.stringify(metrics)}`));

  /** On failure: a screenshot and the tail of both logs (e2eSession); the step's time goes to the metrics. */
  async function step(t: TestContext, name: string, body: () => Promise<void>): Promise<void> {
    const started = performance.now();
    try {
      await e2e.step(t, name, body);
    } finally {
      metrics[`${name}Ms`] = Math.round(performance.now() - started);
    }
  }

  it('packages a VSIX holding only bundles, media, the TF.js runtime and this platform\'s ONNX Runtime', (t) => step(t, 'vsix', async () => {
    const ortBinaries = `extension/node_modules/onnxruntime-node/bin/napi-v6/${process.platform}/${process.arch}/`;
    const allowed = [
      /^extension\/(package\.json|LICENSE(\.txt)?|README\.md|CHANGELOG\.md)$/,
      /^extension\/dist\/(extension|worker|lane|paramThread)\.js$/,
      /^extension\/dist\/webview\//,
      /^extension\/media\//,
      /^extension\/node_modules\/@tensorflow\/tfjs[\w-]*\/(package\.json|dist\/[\w.-]+\.node\.js|dist\/[\w.-]+\.wasm)$/,
      /^extension\/node_modules\/(long|seedrandom|node-fetch|whatwg-url|tr46|webidl-conversions)\//,
      /^extension\/node_modules\/onnxruntime-node\/(package\.json|dist\/[\w.-]+\.js)$/,
      /^extension\/node_modules\/onnxruntime-common\/(package\.json|dist\/cjs\/)/,
      new RegExp(`^${ortBinaries.replace(/\//g, '\\/')}[\\w.-]+$`),
    ];
    const stray = vsix.files.filter((f) => !allowed.some((re) => re.test(f)));
    assert.deepEqual(stray, [], 'files in the VSIX outside the allowlist');
    for (const needed of ['extension/dist/extension.js', 'extension/dist/worker.js', 'extension/dist/lane.js', 'extension/dist/paramThread.js', 'extension/dist/webview/explain.js',
      'extension/dist/webview/dissect.js', 'extension/media/dissect.css',
      'extension/node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm', `${ortBinaries}onnxruntime_binding.node`]) {
      assert.ok(vsix.files.includes(needed), `${needed} is not in the VSIX`);
    }
    t.diagnostic(`VSIX ${vsix.bytes} bytes, ${vsix.files.length} files`);
  }));

  it('(a) the Loupe container lists the demo models and the active model\'s layers; the status bar says onnxruntime', (t) => step(t, 'views', async () => {
    await showContainer(page, 'Loupe');
    // PyTorch checkpoints are listed too (with an export hint; test/e2e/pytorch.test.ts): count the models.
    const isModel = (row: { label: string }) => !/\.(pt|pth|ckpt)$/.test(row.label);
    const models = (await waitForTree(page, 'Models', (rows) => rows.filter(isModel).length >= Object.keys(MODELS).length, 60_000)).filter(isModel);
    assert.equal(models.length, Object.keys(MODELS).length, `Models view rows: ${JSON.stringify(models)}`);
    for (const name of Object.keys(MODELS)) {
      assert.ok(models.some((m) => m.label.split('/')[0] === name), `no model row for demo/${name}: ${JSON.stringify(models)}`);
    }

    // Make shapes the active model with a click, as a user would.
    const row = viewPane(page, 'Models').locator('.monaco-list-row', { has: page.locator('.label-name', { hasText: new RegExp(`^${ACTIVE}\\b`) }) });
    await row.click();
    await row.locator('.label-description', { hasText: /active/ }).waitFor({ timeout: 60_000 });

    const model = readModel(ws(MODELS[ACTIVE]));
    const expected = topologyLayers(model).map((l) => [l.config.name, l.class_name]);
    // The tree renders only the rows in view: collapse Models while reading Layers (reopened below).
    const modelsHeader = viewPane(page, 'Models').locator('.pane-header');
    await modelsHeader.click();
    await modelsHeader.and(page.locator('[aria-expanded="false"]')).waitFor();
    // The view swaps from the previous model's layers once the worker has described the new one.
    const layers = await waitForTree(page, 'Layers', (rows) => rows.map((r) => r.label).join() === expected.map(([n]) => n).join(), 60_000);
    assert.deepEqual(layers.map((l) => l.label), expected.map(([name]) => name));
    for (const [i, [, className]] of expected.entries()) {
      assert.ok(layers[i]!.description.startsWith(`${className} · `), `layer ${layers[i]!.label}: "${layers[i]!.description}" does not start with ${className}`);
    }

    await modelsHeader.click();
    await modelsHeader.and(page.locator('[aria-expanded="true"]')).waitFor();

    const status = statusBarItem(page, STATUS_ID);
    await status.filter({ hasText: /· (onnxruntime|wasm|cpu) ·/ }).waitFor({ timeout: 60_000 });
    const text = (await status.innerText()).trim();
    assert.match(text, /Loupe: .* · onnxruntime · (idle|busy)$/, `status bar: "${text}" (the packaged extension should run ONNX Runtime)`);
    await screenshot(page, 'a-layers');
  }));

  it('(b) Explorer context menu → Explain Image: the top label the engine gives, non-uniform and distinct maps', (t) => step(t, 'explain', async () => {
    const oracle = cliTopPrediction(ws(MODELS[ACTIVE]), ws(IMAGE));
    const started = performance.now();
    await contextMenu(page, await explorerRow(page, IMAGE), 'Explain Image');
    await toast(page, new RegExp(`explaining ${path.basename(IMAGE)}`)).waitFor({ timeout: 30_000 });
    const frame = await panelFor(page, IMAGE);
    metrics.explainUiMs = Math.round(performance.now() - started);

    assert.equal((await frame.locator('[data-testid="top-label"]').innerText()).trim(), oracle.label);
    const shownProbability = Number((await frame.locator('.top-prob').innerText()).replace('%', '').trim());
    assert.ok(Math.abs(shownProbability - oracle.probability * 100) <= 0.1 + 1e-9,
      `panel says ${shownProbability} %, the CLI ${(oracle.probability * 100).toFixed(3)} %`);
    const methods = await frame.locator('article.map-card').evaluateAll((els) => els.map((e) => e.getAttribute('data-method')));
    assert.deepEqual(methods, DEFAULT_METHODS);
    await screenshot(page, 'b-panel');
    // The README's shot: the panel alone, wide enough for more maps per row.
    await runCommand(page, 'View: Toggle Primary Side Bar Visibility');
    await page.locator('.part.sidebar').waitFor({ state: 'hidden' });
    await screenshot(page, 'b-panel-wide');
    await runCommand(page, 'View: Toggle Primary Side Bar Visibility');
    await page.locator('.part.sidebar').waitFor({ state: 'visible' });

    // At full opacity a canvas shows the colormapped map alone (no image underneath).
    await frame.locator('[data-testid="opacity"]').fill('100');
    const pixels = await mapPixels(frame);
    assert.deepEqual(pixels.map((p) => p.method), DEFAULT_METHODS);
    for (const p of pixels) {
      const spread = luminanceSpread(p);
      assert.ok(spread > 5, `${p.method} map is (nearly) uniform: luminance std ${spread.toFixed(2)}`);
    }
    const diffs: string[] = [];
    for (let i = 0; i < pixels.length; i++) {
      for (let j = i + 1; j < pixels.length; j++) {
        // Same map → same colours, pixel for pixel (drawing is deterministic). Guided Grad-CAM is guided
        // backprop weighted by Grad-CAM, so on a confident model the two may differ only in part.
        const d = differingPixels(pixels[i]!, pixels[j]!);
        diffs.push(`${pixels[i]!.method}/${pixels[j]!.method} ${(d * 100).toFixed(0)} %`);
        assert.ok(d > 0.05, `${pixels[i]!.method} and ${pixels[j]!.method} maps are the same on ${(100 - d * 100).toFixed(1)} % of the pixels`);
      }
    }
    t.diagnostic(`map spreads: ${pixels.map((p) => `${p.method} ${luminanceSpread(p).toFixed(1)}`).join(', ')}; pixels that differ: ${diffs.join(', ')}`);
    await frame.locator('[data-testid="opacity"]').fill('60');
  }));

  it('(c) CodeLenses sit on the training script\'s layer lines; a layer link in the panel opens that line', (t) => step(t, 'codelens', async () => {
    const script = readFileSync(ws(TRAIN_SCRIPT), 'utf8');
    const model = readModel(ws(MODELS[ACTIVE]));
    const layers = topologyLayers(model);
    // Layers the script names literally (`name: 'conv1'`): the ones a static index can link.
    const defined = layers.filter((l) => l.class_name !== 'InputLayer').map((l) => l.config.name)
      .filter((name) => script.includes(`name: '${name}'`));
    assert.ok(defined.length > 0, `${TRAIN_SCRIPT} names none of the model's layers literally`);
    // The exact lens text, from model.json: the Dense head (output = its units) or a stride-1 'same'
    // Conv2D applied to the input (output = input H×W × filters); parameters from the weights manifest.
    const input = layers.find((l) => l.class_name === 'InputLayer')!.config.batch_input_shape!;
    const checked = layers.find((l) => defined.includes(l.config.name) && (l.class_name === 'Dense'
      || (l.class_name === 'Conv2D' && l.config.padding === 'same' && l.config.strides?.every((x) => x === 1)
        && JSON.stringify(l).includes(`"${layers[0]!.config.name}"`))));
    assert.ok(checked, `no Dense or first Conv2D among the literally named layers (${defined.join(', ')})`);
    const cfg = checked.config as KerasLayer['config'] & { units?: number };
    const shape = checked.class_name === 'Dense' ? `${cfg.units}` : `${input[1]}×${input[2]}×${cfg.filters}`;
    const expectedLens = `Loupe: ${checked.config.name} · ${checked.class_name} · ${shape} · ${new Intl.NumberFormat('en-US').format(paramsOf(model, checked.config.name))} params`;

    await (await explorerRow(page, TRAIN_SCRIPT)).click();
    await page.locator('.tab.active', { hasText: path.basename(TRAIN_SCRIPT) }).waitFor();
    const editor = page.locator('.editor-group-container.active .monaco-editor').first();
    const lens = (name: string) => editor.locator('.codelens-decoration', { hasText: new RegExp(`^Loupe: ${name} · `) });
    await lens(checked.config.name).waitFor({ timeout: 60_000 });
    assert.equal((await lens(checked.config.name).innerText()).trim(), expectedLens);

    // Each layer defined in the script has its lens right above its line (Monaco draws lenses in a zone over the line).
    for (const name of defined) {
      const line = lineOf(script, `name: '${name}'`);
      // Bring the line into view (Go to Line): Monaco renders only the visible lines and their lenses.
      await editor.locator('.view-lines').click();
      await page.keyboard.press('Control+g');
      await page.keyboard.type(String(line));
      await page.keyboard.press('Enter');
      await editor.locator('.margin-view-overlays .line-numbers', { hasText: new RegExp(`^${line}$`) }).waitFor({ timeout: 10_000 });
      // Go to Line scrolls while the number is typed and lenses resolve lazily, so read the lens and both
      // lines in one frame, and until two reads 100 ms apart agree: boxes read one by one may straddle a scroll.
      const boxes = await stableBoxes(editor, `Loupe: ${name} · `, line);
      assert.ok(boxes, `lens or line ${line} of ${name} not rendered`);
      const { lensBox, lineBox, prevBox } = boxes;
      assert.ok(lensBox.y >= prevBox.y + prevBox.height - 1 && lensBox.y + lensBox.height <= lineBox.y + 1,
        `lens of ${name} (y ${lensBox.y}..${lensBox.y + lensBox.height}) is not between lines ${line - 1} and ${line} (y ${prevBox.y + prevBox.height}..${lineBox.y})`);
    }
    await screenshot(page, 'c-codelens');

    // A lens's command reveals its layer in the Layers view.
    const revealed = defined.at(-1)!;
    await lens(revealed).locator('a').click();
    const selected = viewPane(page, 'Layers').locator('.monaco-list-row.selected, .monaco-list-row[aria-selected="true"]');
    await selected.filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${revealed}$`) }) }).waitFor({ timeout: 10_000 });
    await screenshot(page, 'c-layers-code');

    // Close the script, then follow the Grad-CAM layer link from the panel.
    await page.locator('.tab', { hasText: path.basename(TRAIN_SCRIPT) }).locator('.tab-actions .action-label').click();
    await page.locator('.tab', { hasText: path.basename(TRAIN_SCRIPT) }).waitFor({ state: 'detached' });
    const frame = await panelFor(page, IMAGE);
    const link = frame.locator('[data-testid="map-gradcam"] [data-testid="layer-link"]');
    const layer = (await link.innerText()).trim();
    assert.ok(layers.some((l) => l.config.name === layer), `the panel links "${layer}", not a layer of the model`);
    assert.ok(script.includes(`name: '${layer}'`), `${TRAIN_SCRIPT} does not name layer ${layer} literally (name: '${layer}'), `
      + 'so no static index can link the panel\'s layer link to its line: spell the layer names out in the training script');
    await link.click();
    await page.locator('.tab.active', { hasText: path.basename(TRAIN_SCRIPT) }).waitFor({ timeout: 30_000 });
    const line = lineOf(script, `name: '${layer}'`);
    const quote = script.split('\n')[line - 1]!.indexOf(`'${layer}'`) + 1; // 1-based column of the quoted name
    const selection = statusBarItem(page, 'status.editor.selection');
    await selection.filter({ hasText: new RegExp(`^\\s*Ln ${line},`) }).waitFor({ timeout: 10_000 });
    const col = Number(/Col (\d+)/.exec(await selection.innerText())?.[1]);
    assert.ok(col >= quote && col <= quote + layer.length + 2, `cursor at column ${col}, the name '${layer}' spans ${quote}..${quote + layer.length + 1}`);
    await screenshot(page, 'c-layer-link');
  }));

  it('(d) a corrupt image gives an error notification naming it; the next image explains', (t) => step(t, 'corrupt', async () => {
    // PNG's first 4 signature bytes, then text: the decoder must refuse it with a message naming the file.
    // Written now, while the window runs: the Explorer picks it up like a file a user saves.
    writeFileSync(ws(CORRUPT), Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), Buffer.from('this is not image data\n'.repeat(8))]));
    await runCommand(page, 'Notifications: Clear All Notifications');
    await contextMenu(page, await explorerRow(page, CORRUPT), 'Explain Image');
    // The progress toast names the file too; the error toast is the one with the error icon.
    const error = toast(page, new RegExp(path.basename(CORRUPT).replace('.', '\\.'))).filter({ has: page.locator('.codicon-error') });
    await error.waitFor({ timeout: 60_000 });
    const message = (await error.locator('.notification-list-item-message').innerText()).trim();
    assert.match(message, /^Loupe: /);
    t.diagnostic(`error notification: ${message}`);
    await screenshot(page, 'd-corrupt');
    await runCommand(page, 'Notifications: Clear All Notifications');

    const oracle = cliTopPrediction(ws(MODELS[ACTIVE]), ws(IMAGE_AFTER_ERROR));
    await contextMenu(page, await explorerRow(page, IMAGE_AFTER_ERROR), 'Explain Image');
    const frame = await panelFor(page, IMAGE_AFTER_ERROR);
    assert.equal((await frame.locator('[data-testid="top-label"]').innerText()).trim(), oracle.label);
    assert.equal(await frame.locator('article.map-card').count(), DEFAULT_METHODS.length);
  }));

  it('(e) Cancel on the progress notification stops a slow run; the next explanation works', (t) => step(t, 'cancel', async () => {
    // 10,000 SmoothGrad samples and IG steps take tens of seconds even on this small model.
    const settings = ws(WORKSPACE_SETTINGS);
    writeFileSync(settings, JSON.stringify({ 'loupe.smoothgrad.samples': 10_000, 'loupe.ig.steps': 10_000 }));
    // (The CLI run also gives the settings watcher its moment.)
    const oracle = cliTopPrediction(ws(MODELS[ACTIVE]), ws(IMAGE_AFTER_CANCEL));
    const status = statusBarItem(page, STATUS_ID);
    await runCommand(page, 'Notifications: Clear All Notifications');

    const progress = toast(page, new RegExp(`explaining ${path.basename(IMAGE)}`));
    // The progress text says how many samples the run takes. When the settings watcher has not told the
    // extension yet, the run is a quick default one: let it finish and start again (a few times at most).
    for (let attempt = 1; ; attempt++) {
      await status.filter({ hasText: /· idle$/ }).waitFor({ timeout: 60_000 });
      await contextMenu(page, await explorerRow(page, IMAGE), 'Explain Image');
      await progress.waitFor({ timeout: 30_000 });
      const outcome = await Promise.race([
        progress.filter({ hasText: /SmoothGrad \d+\/10000/i }).waitFor({ timeout: 60_000 }).then(() => 'slow', () => 'timeout'),
        progress.waitFor({ state: 'detached', timeout: 60_000 }).then(() => 'finished', () => 'timeout'),
      ]);
      if (outcome === 'slow') break;
      assert.ok(attempt < 3, `the run never showed SmoothGrad n/10000 progress (${outcome}): the workspace settings were not applied`);
      t.diagnostic(`attempt ${attempt}: the slow settings were not applied yet (${outcome})`);
    }
    await status.filter({ hasText: /· busy$/ }).waitFor({ timeout: 5_000 });
    await screenshot(page, 'e-running', 0);
    const clicked = performance.now();
    await progress.locator('.monaco-button', { hasText: /^Cancel$/ }).click();
    await progress.waitFor({ state: 'detached', timeout: 5_000 });
    await status.filter({ hasText: /· idle$/ }).waitFor({ timeout: 5_000 });
    metrics.cancelToIdleMs = Math.round(performance.now() - clicked);
    await waitForLog(server, new RegExp(`explaining .*${path.basename(IMAGE).replace('.', '\\.')}: cancelled`), 5_000);
    assert.doesNotMatch(loupeLog(server), /still running after \d+ ms: killing the worker/, 'the worker ignored the cancel and was killed');
    t.diagnostic(`cancel → idle in ${metrics.cancelToIdleMs} ms`);

    // Back to the default samples, and the loupe.preprocessing setting over the model's loupe.json.
    // The model was trained on [-1, 1]: fed [0, 1], it sees a washed-out image.
    const override = { range: [0, 1] };
    writeFileSync(settings, JSON.stringify({ 'loupe.preprocessing': { [MODELS[ACTIVE]]: override } }));
    const shifted = cliTopPrediction(ws(MODELS[ACTIVE]), ws(IMAGE_AFTER_CANCEL), ['--preprocessing', JSON.stringify(override)]);
    // Not vacuous: the override moves the logit the panel shows (3 decimals).
    assert.ok(Math.abs(shifted.logit - oracle.logit) > 0.01, `the override leaves the logit at ${oracle.logit}`);
    // The workspace watcher reports the change within a second here; nothing in the window shows when
    // it has (the samples are checked on the result below).
    await page.waitForTimeout(1_500);
    await contextMenu(page, await explorerRow(page, IMAGE_AFTER_CANCEL), 'Explain Image');
    const frame = await panelFor(page, IMAGE_AFTER_CANCEL);
    assert.equal((await frame.locator('[data-testid="top-label"]').innerText()).trim(), shifted.label);
    const smoothgrad = await frame.locator('[data-testid="map-smoothgrad"] dl').innerText();
    assert.match(smoothgrad, /samples 25\b/, 'the run after the cancel should use the default of 25 samples again');
    // The panel says how the image was fed, and its numbers are the CLI's with the same override.
    assert.match(await frame.locator('[data-testid="preprocessing"]').innerText(), /^range \[0, 1\] · mean 0, 0, 0 · std 1, 1, 1 · rgb$/);
    const targetLine = await frame.locator('.target').innerText();
    assert.ok(targetLine.includes(`logit ${shifted.logit.toFixed(3)}`), `panel: "${targetLine}"; CLI with the override: logit ${shifted.logit.toFixed(3)}`);
    writeFileSync(settings, '{}\n');
  }));

  it('(f) Layers view → Dissect This Layer: the panel shows labelled units; the tree and the CodeLens show the concepts', (t) => step(t, 'dissect', async () => {
    const model = readModel(ws(MODELS[ACTIVE]));
    const layers = topologyLayers(model);
    assert.ok(layers.some((l) => l.config.name === DISSECT_LAYER), `the ${ACTIVE} model has no layer ${DISSECT_LAYER}`);
    // relu3's channels are those of the convolution before it (ReLU and batch norm keep them): the last Conv2D before it.
    const before = layers.slice(0, layers.findIndex((l) => l.config.name === DISSECT_LAYER));
    const channels = before.filter((l) => l.class_name === 'Conv2D').at(-1)?.config.filters;
    assert.ok(channels, `no Conv2D before ${DISSECT_LAYER}`);

    await runCommand(page, 'Notifications: Clear All Notifications');
    // The Explain panel would be a second visible webview: the panel's frame is found by visibility.
    await runCommand(page, 'View: Close All Editors');
    await showContainer(page, 'Loupe');
    const modelsHeader = viewPane(page, 'Models').locator('.pane-header');
    if ((await modelsHeader.getAttribute('aria-expanded')) === 'true') await modelsHeader.click();
    const layerRow = viewPane(page, 'Layers').locator('.monaco-list-row', { has: page.locator('.label-name', { hasText: new RegExp(`^${DISSECT_LAYER}$`) }) });
    await layerRow.waitFor({ timeout: 60_000 });
    const started = performance.now();
    await contextMenu(page, layerRow, 'Dissect This Layer');
    // The progress toast may come and go within a second on a small probe: its text is checked when seen
    // (the probe size is checked below on the result itself).
    const progress = toast(page, new RegExp(`dissecting ${DISSECT_LAYER}`));
    const progressText = await progress.innerText({ timeout: 10_000 }).catch(() => undefined);
    if (progressText !== undefined) assert.match(progressText, new RegExp(`${DISSECT_PROBE_IMAGES} probe images`));

    const tab = page.locator('.tab', { hasText: `Dissection: ${DISSECT_LAYER}` }).first();
    await tab.waitFor({ timeout: ANALYSIS_TIMEOUT });
    if (!(await tab.getAttribute('class'))?.includes('active')) await tab.click();
    const frame = await webviewFrame(page, { timeoutMs: 60_000 });
    await frame.locator('.unit-card').first().waitFor({ timeout: ANALYSIS_TIMEOUT });
    metrics.dissectUiMs = Math.round(performance.now() - started);

    // The oracle: the result.json the worker wrote, read from disk.
    const results = cachedDissections(server).filter((d) => d.layer === DISSECT_LAYER);
    assert.equal(results.length, 1, `expected one cached dissection of ${DISSECT_LAYER}, found ${results.length}`);
    const result = results[0]!;
    assert.equal(result.units.length, channels);
    assert.equal(result.probe.images, DISSECT_PROBE_IMAGES);
    const headline = (await frame.locator('[data-testid="interpretable"]').innerText()).trim();
    assert.equal(headline, `${result.interpretable}/${channels} units interpretable`);
    assert.equal(await frame.locator('.unit-card').count(), channels);
    assert.match(await frame.locator('[data-testid="probe"]').innerText(), new RegExp(`\\b${DISSECT_PROBE_IMAGES} images`));
    // Cards: a concept name and an IoU number each; the first (sorted by IoU) is the unit with the highest IoU on disk.
    const cards = await frame.locator('.unit-card').evaluateAll((els) => els.map((e) => ({
      unit: Number(e.getAttribute('data-unit')),
      label: e.querySelector('[data-testid="unit-label"]')?.textContent ?? '',
      iou: e.querySelector('[data-testid="unit-iou"]')?.textContent ?? '',
    })));
    for (const c of cards) {
      assert.ok(c.label.length > 0, `unit ${c.unit} card shows no concept`);
      assert.match(c.iou, /^\d\.\d{2,3}$/, `unit ${c.unit} card IoU "${c.iou}"`);
    }
    const best = [...result.units].sort((a, b) => b.iou - a.iou || a.unit - b.unit)[0]!;
    assert.deepEqual({ unit: cards[0]!.unit, label: cards[0]!.label }, { unit: best.unit, label: best.label });
    assert.ok(Math.abs(Number(cards[0]!.iou) - best.iou) <= 0.005 + 1e-9, `card IoU ${cards[0]!.iou}, result.json ${best.iou}`);
    const stripsLoaded = await frame.locator('img.strip').evaluateAll((els) => els.filter((e) => (e as unknown as { naturalWidth: number }).naturalWidth > 0).length);
    t.diagnostic(`${headline}; best unit ${best.unit}: ${best.label} (${best.category}) IoU ${best.iou.toFixed(3)}; ${stripsLoaded} strips loaded so far; ${metrics.dissectUiMs} ms`);
    await screenshot(page, 'f-dissect-panel');

    // The Layers view: relu3 expands into its units, interpretable first; a unit opens its detail without recomputing.
    await waitForLog(server, new RegExp(`dissected ${DISSECT_LAYER} of .*computed in \\d+ ms`), 10_000);
    await layerRow.locator('.monaco-tl-twistie').click();
    await layerRow.and(page.locator('[aria-expanded="true"]')).waitFor({ timeout: 10_000 });
    // The tree renders only the rows in view (an earlier step may have scrolled it): back to the top, where
    // relu3's first units sit right under it. Rows are then read by their place among the children (aria-posinset).
    await viewPane(page, 'Layers').locator('.monaco-list').hover();
    await page.mouse.wheel(0, -10_000);
    const firstUnit = viewPane(page, 'Layers').locator('.monaco-list-row[aria-level="2"][aria-posinset="1"]');
    await firstUnit.waitFor({ timeout: 10_000 });
    const unitCount = Number(await firstUnit.getAttribute('aria-setsize'));
    assert.equal(unitCount, channels, `${DISSECT_LAYER} expands into ${unitCount} units`);
    const firstLabel = (await firstUnit.locator('.label-name').innerText()).trim();
    const first = /^unit (\d+) · (.+) \((.+)\) · IoU (\d\.\d+)$/.exec(firstLabel);
    assert.ok(first, `unit row "${firstLabel}"`);
    assert.equal(Number(first[1]), best.unit);
    assert.equal(first[2], best.label);
    assert.equal(first[3], best.category);
    await screenshot(page, 'f-dissect-tree');
    await firstUnit.click();
    await frame.locator(`[data-testid="unit-detail"][data-unit="${best.unit}"]`).waitFor({ timeout: 30_000 });
    assert.equal((loupeLog(server).match(new RegExp(`dissected ${DISSECT_LAYER} of `, 'g')) ?? []).length, 1, 'opening a unit from the tree dissected again');
    await modelsHeader.click();

    // The training script: the CodeLens on relu3's line counts the interpretable units and opens the panel.
    const script = readFileSync(ws(TRAIN_SCRIPT), 'utf8');
    const line = lineOf(script, `name: '${DISSECT_LAYER}'`);
    await (await explorerRow(page, TRAIN_SCRIPT)).click();
    await page.locator('.tab.active', { hasText: path.basename(TRAIN_SCRIPT) }).waitFor();
    const editor = page.locator('.editor-group-container.active .monaco-editor').first();
    await editor.locator('.view-lines').click();
    await page.keyboard.press('Control+g');
    await page.keyboard.type(String(line));
    await page.keyboard.press('Enter');
    const lineNumber = (n: number) => editor.locator('.margin-view-overlays .line-numbers', { hasText: new RegExp(`^${n}$`) });
    await lineNumber(line).waitFor({ timeout: 10_000 });
    await lineNumber(line - 1).waitFor({ timeout: 10_000 });
    const lens = editor.locator('.codelens-decoration a', { hasText: /units interpretable/ });
    await lens.waitFor({ timeout: 60_000 });
    const lensText = (await lens.innerText()).trim();
    assert.ok(lensText.startsWith(`${result.interpretable}/${channels} units interpretable`), `lens "${lensText}"`);
    if (result.interpretable > 0) assert.match(lensText, /: .+/, 'the lens names no concept');
    // The lens sits on relu3's line (between the previous line and it), like the layer's own lens.
    const boxes = await stableBoxes(editor, lensText, line);
    assert.ok(boxes, `the dissection lens or line ${line} is not rendered`);
    const { lensBox, lineBox, prevBox } = boxes;
    assert.ok(lensBox.y >= prevBox.y + prevBox.height - 1 && lensBox.y + lensBox.height <= lineBox.y + 1, 'the dissection lens is not on the relu3 line');
    t.diagnostic(`lens: ${lensText}`);
    await screenshot(page, 'f-dissect-codelens');
    // The hover on the layer's name: the same count, and the interpretable units per category (from result.json).
    await editor.locator('.view-line span', { hasText: new RegExp(`^'${DISSECT_LAYER}'$`) }).first().hover();
    const hover = page.locator('.monaco-hover').filter({ hasText: `Dissection of ${DISSECT_LAYER}` });
    await hover.waitFor({ timeout: 10_000 });
    const hoverText = await hover.innerText();
    assert.ok(hoverText.includes(`${result.interpretable}/${channels} units interpretable`), `hover: ${hoverText}`);
    for (const c of result.categories.filter((k) => k.units > 0)) {
      assert.ok(hoverText.includes(`${c.name}: ${c.units} unit`), `the hover does not count ${c.units} ${c.name} unit(s): ${hoverText}`);
    }
    await screenshot(page, 'f-dissect-hover');
    await page.keyboard.press('Escape');
    await page.mouse.move(0, 0);
    await lens.click();
    await page.locator('.tab.active', { hasText: `Dissection: ${DISSECT_LAYER}` }).waitFor({ timeout: 10_000 });
  }));

  it('reports the activation time from the Loupe log', (t) => step(t, 'report', async () => {
    const match = await waitForLog(server, /activated in (\d+) ms/);
    metrics.activationMs = Number(match[1]);
    t.diagnostic(`activation: ${metrics.activationMs} ms`);
    // Activation must not load TF.js (~0.5 s to import): the host bundle has none.
    assert.ok(metrics.activationMs < 1_000, `activation took ${metrics.activationMs} ms`);
    const shots = readdirSync(outputDir).filter((f) => f.endsWith('.png'));
    for (const name of Object.values(README_SHOTS)) {
      assert.ok(shots.includes(`${name}.png`) && statSync(path.join(outputDir, `${name}.png`)).size > 10_000, `screenshot ${name}.png missing`);
    }
    if (process.env.LOUPE_E2E_UPDATE_DOCS === '1') {
      const docs = path.join(repoRoot, 'docs/screenshots');
      mkdirSync(docs, { recursive: true });
      for (const [doc, shot] of Object.entries(README_SHOTS)) copyFileSync(path.join(outputDir, `${shot}.png`), path.join(docs, `${doc}.png`));
      t.diagnostic(`copied ${Object.keys(README_SHOTS).join(', ')} to docs/screenshots/`);
    }
  }));
});
