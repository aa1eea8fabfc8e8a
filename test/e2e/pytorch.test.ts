// End-to-end, PyTorch side (issue 8): the packaged VSIX in a real VS Code (code-server) on a temp copy
// of the demo workspace, plus a copy of the lead's ONNX fixture whose input size is symbolic.
// Oracles from outside the extension: demo/pytorch/train.py (module paths, shapes and parameter counts
// worked out by hand from its layer definitions, the lines its text holds), the `loupe` CLI (a separate
// process) for predictions, and the loupe.json files read back from disk.
// Needs scripts/e2e/setup.sh and the demo models; without them every test FAILS with the reason.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { repoRoot, type CodeServer } from '../../scripts/e2e/codeServer';
import {
  contextMenu, explorerRow, runCommand, screenshot, showContainer, statusBarItem, toast, viewPane, webviewFrame,
} from '../../scripts/e2e/driver';
import {
  ANALYSIS_TIMEOUT, cliTopPrediction, fileContextMenu, goToLine, lensAboveLine, lineOf, loupeLog, panelFor, pickQuickItem, visibleText, waitForTree,
} from './loupeSteps';
import { e2eSession } from './session';

const DEMO = path.join(repoRoot, 'demo');
const ONNX = 'pytorch/model.onnx';
const CHECKPOINT = 'pytorch/checkpoint.pt';
const TRAIN = 'pytorch/train.py';
const IMAGE = 'images/shape-2-triangle.png';
const SYMBOLIC_SOURCE = path.join(repoRoot, 'test/fixtures/onnx/dynamic_hw_nosize/model.onnx');
const SYMBOLIC = 'dynamic/model.onnx';
/** dynamic_hw's reference input is 40×40 (its loupe.json and input.npy in test/fixtures/onnx/dynamic_hw). */
const SYMBOLIC_SIZE = [40, 40];

/**
 * The demo's convolutions, from train.py: 64×64 input; stem conv stride 2 → 32×32; layer1 (16→24, stride 2)
 * → 16×16; layer2 (24→32) 16×16; layer3 (32→48, stride 2) → 8×8. Batch norm folds into the conv's bias
 * on export, so each has out·in·k·k + out parameters. Shapes as C×H×W.
 */
const CONVS: Record<string, [string, number]> = {
  'stem.0': ['16×32×32', 16 * 3 * 9 + 16],
  'layer1.conv1': ['24×16×16', 24 * 16 * 9 + 24],
  'layer1.conv2': ['24×16×16', 24 * 24 * 9 + 24],
  'layer1.downsample.0': ['24×16×16', 24 * 16 + 24],
  'layer2.conv1': ['32×16×16', 32 * 24 * 9 + 32],
  'layer3.conv2': ['48×8×8', 48 * 48 * 9 + 48],
};
const thousands = (n: number): string => new Intl.NumberFormat('en-US').format(n);

describe('Loupe with a PyTorch model (ONNX) in a real VS Code', { timeout: 15 * 60_000 }, () => {
  let workspace: string;
  let server: CodeServer;
  let page: Page;
  let train: string;
  const ws = (relative: string): string => path.join(workspace, relative);
  const { session, step } = e2eSession({
    label: 'pytorch',
    settings: { 'python.languageServer': 'None' },
    check: () => {
      for (const f of [ONNX, CHECKPOINT, TRAIN, 'pytorch/loupe.json', IMAGE]) {
        assert.ok(existsSync(path.join(DEMO, f)), `demo/${f} is missing (demo/pytorch/README.md says how to make it)`);
      }
      assert.ok(existsSync(SYMBOLIC_SOURCE), `${SYMBOLIC_SOURCE} is missing: scripts/fixtures/onnx_fixtures.py writes it`);
    },
    prepare: (dir) => {
      mkdirSync(path.dirname(path.join(dir, SYMBOLIC)), { recursive: true });
      copyFileSync(SYMBOLIC_SOURCE, path.join(dir, SYMBOLIC));
    },
  });
  before(() => {
    ({ workspace, server, page } = session());
    train = readFileSync(ws(TRAIN), 'utf8');
  });

  const modelsHeader = () => viewPane(page, 'Models').locator('.pane-header');
  async function modelsExpanded(open: boolean): Promise<void> {
    if (((await modelsHeader().getAttribute('aria-expanded')) === 'true') !== open) await modelsHeader().click();
    await modelsHeader().and(page.locator(`[aria-expanded="${open}"]`)).waitFor();
  }

  it('(a) Models lists the ONNX model by its file and the checkpoint with its export hint', (t) => step(t, 'models', async () => {
    await showContainer(page, 'Loupe');
    const rows = await waitForTree(page, 'Models', (r) => r.some((x) => x.label === 'pytorch/checkpoint.pt') && r.some((x) => x.label === 'pytorch/model.onnx'), 60_000);
    assert.ok(rows.some((r) => r.label === 'pytorch/model.onnx'), `Models rows: ${JSON.stringify(rows)}`);
    const checkpoint = rows.find((r) => r.label === 'pytorch/checkpoint.pt');
    assert.equal(checkpoint?.description, 'PyTorch checkpoint: export to ONNX to analyse');
    await screenshot(page, 'pytorch-a-models');
  }));

  it('(b) clicking the checkpoint opens a torch.onnx.export snippet built from train.py; it is not made active', (t) => step(t, 'snippet', async () => {
    const row = viewPane(page, 'Models').locator('.monaco-list-row', { has: page.locator('.label-name', { hasText: /^pytorch\/checkpoint\.pt$/ }) });
    await row.click();
    await page.locator('.tab.active', { hasText: /Untitled-\d/ }).waitFor({ timeout: 60_000 });
    const editor = page.locator('.editor-group-container.active .monaco-editor').first();
    await editor.locator('.view-line', { hasText: 'torch.onnx.export(model, dummy' }).waitFor({ timeout: 30_000 });
    const lines = await visibleText(editor);
    const expected = [
      'from train import ShapesNet',
      `model = ShapesNet()  # as on line ${lineOf(train, 'model = ShapesNet()')} of train.py`,
      `state = torch.load("${ws(CHECKPOINT)}", map_location="cpu")`,
      'model.load_state_dict(state)',
      // No script line gives the size: the ONNX model beside the checkpoint does (64×64 RGB, the demo's README).
      'dummy = torch.randn(1, 3, 64, 64)',
      `torch.onnx.export(model, dummy, "${ws('pytorch/checkpoint.onnx')}", opset_version=17,`,
    ];
    for (const line of expected) assert.ok(lines.includes(line), `the snippet has no line "${line}":\n${lines.join('\n')}`);
    assert.ok(lines[1]?.startsWith(`# Written from ${TRAIN}, which saves it on line ${lineOf(train, 'torch.save(model.state_dict(), "checkpoint.pt")')}`), lines[1]);
    await screenshot(page, 'pytorch-b-snippet');
    await runCommand(page, 'View: Revert and Close Editor');
    await page.locator('.tab', { hasText: /Untitled-\d/ }).waitFor({ state: 'detached' });
    const rows = await waitForTree(page, 'Models', () => true, 0);
    assert.doesNotMatch(rows.find((r) => r.label === 'pytorch/checkpoint.pt')!.description, /active/);
  }));

  it('(c) selecting the ONNX model fills Layers with module paths, shapes as C×H×W, op and parameters', (t) => step(t, 'layers', async () => {
    const row = viewPane(page, 'Models').locator('.monaco-list-row', { has: page.locator('.label-name', { hasText: /^pytorch\/model\.onnx$/ }) });
    await row.click();
    await row.locator('.label-description', { hasText: /active/ }).waitFor({ timeout: 60_000 });
    await modelsExpanded(false);
    const layers = await waitForTree(page, 'Layers', (r) => Object.keys(CONVS).every((n) => r.some((x) => x.label === n)), 60_000);
    for (const [name, [shape, params]] of Object.entries(CONVS)) {
      const layer = layers.find((l) => l.label === name);
      assert.equal(layer?.description, `Conv · ${shape} · ${thousands(params)} params`, `row ${name}: ${JSON.stringify(layer)}`);
    }
    // Block.relu is called twice per block: the second call is its own layer, named for the module.
    assert.equal(layers.find((l) => l.label === 'layer2.relu#2')?.description, 'Relu · 32×16×16 · 0 params · call 2 of module layer2.relu');
    assert.equal(layers.find((l) => l.label === 'head.2')?.description, `Gemm · 4 · ${thousands(4 * 48 + 4)} params`);
    // The view's message is set a moment after its rows: wait for the new model's.
    const header = viewPane(page, 'Layers').locator('.message', { hasText: /3×64×64 → 4 classes/ });
    await header.waitFor({ timeout: 30_000 });
    assert.match(await header.innerText(), /3×64×64 → 4 classes .*\(onnx model, shapes as C×H×W\)/);
    await screenshot(page, 'pytorch-c-layers');
    await modelsExpanded(true);
  }));

  it('(d) Explain Image on the ONNX model: the top label the CLI gives', (t) => step(t, 'explain', async () => {
    const oracle = cliTopPrediction(ws(ONNX), ws(IMAGE));
    await fileContextMenu(page, IMAGE, 'Explain Image');
    const frame = await panelFor(page, IMAGE);
    assert.equal((await frame.locator('[data-testid="top-label"]').innerText()).trim(), oracle.label);
    const shown = Number((await frame.locator('.top-prob').innerText()).replace('%', '').trim());
    assert.ok(Math.abs(shown - oracle.probability * 100) <= 0.1 + 1e-9, `panel ${shown} %, CLI ${(oracle.probability * 100).toFixed(3)} %`);
    // demo/pytorch has a loupe.json: no note about defaults.
    assert.equal(await frame.locator('[data-testid="sidecar-note"]').count(), 0);
    assert.match(await frame.locator('[data-testid="preprocessing"]').innerText(), /^range \[-1, 1\]/);
    await screenshot(page, 'pytorch-d-panel');
  }));

  it('(e) CodeLenses sit on train.py\'s nn.Conv2d lines: the block\'s for its three uses, the stem\'s for stem.0', (t) => step(t, 'codelens', async () => {
    await (await explorerRow(page, TRAIN)).click();
    await page.locator('.tab.active', { hasText: path.basename(TRAIN) }).waitFor();
    const editor = page.locator('.editor-group-container.active .monaco-editor').first();
    const checks: Array<[string, number]> = [
      ['Loupe: 3 modules: layer1.conv1, layer2.conv1, layer3.conv1 · Conv', lineOf(train, 'self.conv1 = nn.Conv2d(')],
      [`Loupe: stem.0 · Conv · ${CONVS['stem.0']![0]} · ${thousands(CONVS['stem.0']![1])} params`, lineOf(train, 'nn.Conv2d(3, 16, 3, stride=2')],
    ];
    for (const [lens, line] of checks) {
      await goToLine(page, editor, line);
      await editor.locator('.codelens-decoration', { hasText: lens }).waitFor({ timeout: 60_000 });
      const exact = await editor.locator('.codelens-decoration a', { hasText: lens }).first().innerText();
      assert.equal(exact.trim(), lens);
      const placed = await lensAboveLine(editor, lens, line);
      assert.ok(placed.ok, placed.detail);
    }
    // The hover on `conv1` of `self.conv1` lists the three layers and says why this file.
    const line = lineOf(train, 'self.conv1 = nn.Conv2d(');
    await goToLine(page, editor, line);
    // On the call's last characters, the second place the hover answers (how Monaco splits `self.conv1` into tokens is its own business).
    const content = await editor.locator('.view-line', { hasText: 'self.conv1 = nn.Conv2d(' }).locator(':scope > span').first().boundingBox();
    assert.ok(content, 'the self.conv1 line is not rendered');
    await page.mouse.move(content.x + content.width - 6, content.y + content.height / 2);
    const hover = page.locator('.monaco-hover').filter({ hasText: 'link to this line' });
    await hover.waitFor({ timeout: 10_000 });
    const text = await hover.innerText();
    assert.match(text, /3 layers of model .* link to this line \(shapes as C×H×W\)/);
    assert.match(text, /Linked because pytorch\/train\.py exports the model: torch\.onnx\.export\("model\.onnx"\) on line \d+ names pytorch\/model\.onnx/);
    await screenshot(page, 'pytorch-e-codelens');
    await page.keyboard.press('Escape');
  }));

  it('(f) the Explain panel\'s layer link opens the self.conv1 = nn.Conv2d line of the block', (t) => step(t, 'layer-link', async () => {
    await page.locator('.tab', { hasText: path.basename(TRAIN) }).locator('.tab-actions .action-label').click();
    await page.locator('.tab', { hasText: path.basename(TRAIN) }).waitFor({ state: 'detached' });
    await showContainer(page, 'Loupe');
    await modelsExpanded(false);
    const layerRow = viewPane(page, 'Layers').locator('.monaco-list-row', { has: page.locator('.label-name', { hasText: /^layer3\.conv1$/ }) });
    await layerRow.waitFor({ timeout: 30_000 });
    await contextMenu(page, layerRow, 'Grad-CAM at This Layer');
    await pickQuickItem(page, new RegExp(`(^|/)${IMAGE.replace(/[.]/g, '\\.')}$`));
    const frame = await panelFor(page, IMAGE);
    const link = frame.locator('[data-testid="map-gradcam"] [data-testid="layer-link"]');
    await link.filter({ hasText: /^layer3\.conv1$/ }).waitFor({ timeout: ANALYSIS_TIMEOUT });
    await link.click();
    await page.locator('.tab.active', { hasText: path.basename(TRAIN) }).waitFor({ timeout: 30_000 });
    const line = lineOf(train, 'self.conv1 = nn.Conv2d(');
    const column = train.split('\n')[line - 1]!.indexOf('self.conv1') + 'self.'.length + 1;
    const selection = statusBarItem(page, 'status.editor.selection');
    await selection.filter({ hasText: new RegExp(`^\\s*Ln ${line}, Col ${column}\\b`) }).waitFor({ timeout: 10_000 });
    await screenshot(page, 'pytorch-f-layer-link');
    await modelsExpanded(true);
  }));

  it('(g) without loupe.json the panel says which defaults it used; "Create loupe.json…" writes one and explains again', (t) => step(t, 'sidecar', async () => {
    const oracle = cliTopPrediction(ws(ONNX), ws(IMAGE)); // with demo/pytorch's loupe.json: [-1, 1]
    const scans = logCount(/found \d+ model\(s\)/g);
    rmSync(ws('pytorch/loupe.json'));
    await waitForLogCount(/found \d+ model\(s\)/g, scans + 1); // the watcher saw the change: the model is described afresh
    await runCommand(page, 'View: Close All Editors');
    // The image opened with Quick Open, then the command: the Explorer moves its rows while it refreshes
    // after the deletion, and a click there may land on the row above.
    await page.keyboard.press('Control+p');
    await page.locator('.quick-input-widget .quick-input-box input').fill(IMAGE);
    await pickQuickItem(page, path.basename(IMAGE));
    await page.locator('.tab.active', { hasText: path.basename(IMAGE) }).waitFor({ timeout: 30_000 });
    await runCommand(page, 'Loupe: Explain Image');
    // The image preview is a webview too: close it, so that the panel is the one webview in view.
    await page.locator('.tab', { hasText: `Loupe: ${path.basename(IMAGE)}` }).first().waitFor({ timeout: ANALYSIS_TIMEOUT });
    const preview = page.locator(`.tab[aria-label^="${path.basename(IMAGE)}"]`);
    await preview.locator('.tab-actions .action-label').click();
    await preview.waitFor({ state: 'detached' });
    let frame = await panelFor(page, IMAGE);
    const note = frame.locator('[data-testid="sidecar-note"]');
    await note.waitFor({ timeout: ANALYSIS_TIMEOUT });
    assert.match(await note.innerText(), /^No loupe\.json beside model\.onnx: Loupe used range \[0, 1\], no normalisation \(mean 0, std 1\) and labels from labels\.txt\./);
    await screenshot(page, 'pytorch-g-note');
    await frame.locator('[data-testid="create-sidecar"]').click();
    await pickQuickItem(page, '[-1, 1]');
    await pickQuickItem(page, 'labels.txt');
    await toast(page, /wrote pytorch\/loupe\.json/).waitFor({ timeout: 30_000 });
    assert.deepEqual(JSON.parse(readFileSync(ws('pytorch/loupe.json'), 'utf8')),
      { input: { range: [-1, 1], mean: [0], std: [1], channels: 'rgb' }, labels: 'labels.txt' });
    // The panel computes again with the new file: no note, the training range, the CLI's label.
    frame = await webviewFrame(page, { timeoutMs: 60_000 });
    await frame.locator('[data-testid="preprocessing"]', { hasText: /^range \[-1, 1\]/ }).waitFor({ timeout: ANALYSIS_TIMEOUT });
    assert.equal(await frame.locator('[data-testid="sidecar-note"]').count(), 0);
    assert.equal((await frame.locator('[data-testid="top-label"]').innerText()).trim(), oracle.label);
    await screenshot(page, 'pytorch-g-created');
  }));

  it('(h) a model whose input size is symbolic: the error offers "Create loupe.json…", which asks H and W', (t) => step(t, 'symbolic', async () => {
    await runCommand(page, 'Notifications: Clear All Notifications');
    await showContainer(page, 'Loupe');
    await modelsExpanded(true);
    const row = viewPane(page, 'Models').locator('.monaco-list-row', { has: page.locator('.label-name', { hasText: /^dynamic\/model\.onnx$/ }) });
    await row.click();
    const error = toast(page, /symbolic size/).filter({ has: page.locator('.codicon-error') });
    await error.waitFor({ timeout: 60_000 });
    assert.match(await error.innerText(), /"size"/);
    await error.locator('.monaco-button', { hasText: 'Create loupe.json…' }).click();
    const input = page.locator('.quick-input-widget .quick-input-box input[placeholder="224, 224"]');
    await input.waitFor();
    await input.fill(SYMBOLIC_SIZE.join(', '));
    await page.keyboard.press('Enter');
    await pickQuickItem(page, 'ImageNet mean/std (torchvision)');
    await toast(page, /wrote dynamic\/loupe\.json/).waitFor({ timeout: 30_000 });
    assert.deepEqual(JSON.parse(readFileSync(ws('dynamic/loupe.json'), 'utf8')), {
      input: { size: SYMBOLIC_SIZE, range: [0, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
    });
    // Described now: the Layers view shows the model at the size given.
    await modelsExpanded(false);
    await viewPane(page, 'Layers').locator('.message', { hasText: new RegExp(`3×${SYMBOLIC_SIZE.join('×')} → `) }).waitFor({ timeout: 60_000 });
    await screenshot(page, 'pytorch-h-symbolic');
    await modelsExpanded(true);
  }));

  function logCount(pattern: RegExp): number {
    return (loupeLog(server).match(pattern) ?? []).length;
  }

  /** Waits until the Loupe log has `count` lines matching `pattern` (a global RegExp). */
  async function waitForLogCount(pattern: RegExp, count: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (logCount(pattern) < count) {
      if (Date.now() > deadline) throw new Error(`the Loupe log has fewer than ${count} lines matching ${pattern}:\n${loupeLog(server).slice(-2000)}`);
      await page.waitForTimeout(250);
    }
  }
});
