// End-to-end TCAV in a real VS Code (code-server 4.139.1 = VS Code 1.139.1) driven through Debian's Chromium,
// on a temp copy of the demo workspace: right-click demo/tcav/circle → "Test Concepts (TCAV)…" with built-in
// concepts and the pickers' defaults, the TCAV panel, the CodeLens on the layer's line in shapes/train.ts,
// an export, and the panel restored after a window reload. The oracle is the `loupe` CLI (dist/cli.js, a
// separate Node 20 process with its own cache) run on the same inputs: the panel's rows must be its tcav.csv.
// Needs scripts/e2e/setup.sh and the trained demo model; without them the tests FAIL with the reason.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import type { FrameLocator, Page } from 'playwright-core';
import { repoRoot } from '../../scripts/e2e/codeServer';
import { contextMenu, explorerRow, openAtLine, runCommand, screenshot, statusBarItem, webviewFrame } from '../../scripts/e2e/driver';
import { e2eSession } from './session';

const DEMO = path.join(repoRoot, 'demo');
const MODEL = 'shapes/model/model.json';
const CLASS_FOLDER = 'tcav/circle';
const TRAIN_SCRIPT = 'shapes/train.ts';
/** Picked in the concepts quick pick (a built-in colour and shapes), in the pick's order: colours before shapes. */
const CONCEPTS = ['red', 'circle', 'square'];
const TIMEOUT = 180_000;
const STATUS_ID = 'loupe-dev.loupe.loupe.status';

interface CsvRow { layer: string; concept: string; mean: string; std: string; p: string; significant: string; accuracy: string }

function parseCsv(text: string): CsvRow[] {
  const [header, ...lines] = text.trimEnd().split('\n');
  assert.equal(header, 'layer,concept,tcav_mean,tcav_std,p_value,significant,cav_accuracy');
  return lines.map((l) => {
    const [layer, concept, mean, std, p, significant, accuracy] = l.split(',');
    return { layer: layer!, concept: concept!, mean: mean!, std: std!, p: p!, significant: significant!, accuracy: accuracy! };
  });
}

/** The CLI's tcav.csv for the same model, class images, concepts and layers (defaults otherwise, as the command). */
function cliCsv(workspace: string, layers: string[]): CsvRow[] {
  const out = mkdtempSync(path.join(os.tmpdir(), 'loupe-e2e-tcav-cli-'));
  const cache = mkdtempSync(path.join(os.tmpdir(), 'loupe-e2e-tcav-cache-'));
  try {
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'dist/cli.js'), 'tcav', '--model', path.join(workspace, MODEL),
      '--class', 'circle', '--images', path.join(workspace, CLASS_FOLDER), '--concepts', CONCEPTS.map((c) => `builtin:${c}`).join(','),
      '--layers', layers.join(','), '--out', out], { encoding: 'utf8', timeout: TIMEOUT, env: { ...process.env, LOUPE_CACHE_DIR: cache } });
    assert.equal(r.status, 0, `loupe tcav failed:\n${r.stdout}${r.stderr}`);
    return parseCsv(readFileSync(path.join(out, 'tcav.csv'), 'utf8'));
  } finally {
    rmSync(out, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  }
}

/** The panel's rows, as the webview holds them (data attributes carry the full numbers). */
async function panelRows(frame: FrameLocator): Promise<{ layer: string; concept: string; mean: string; p: string; significant: string; score: string }[]> {
  return frame.locator('[data-testid="concept-row"]').evaluateAll((els) => els.map((e) => ({
    layer: e.getAttribute('data-layer') ?? '', concept: e.getAttribute('data-concept') ?? '', mean: e.getAttribute('data-mean') ?? '',
    p: e.getAttribute('data-p') ?? '', significant: e.getAttribute('data-significant') ?? '',
    score: e.querySelector('[data-testid="score"]')?.textContent ?? '',
  })));
}

/** A quick pick row by its label. */
function pickRow(page: Page, label: string) {
  return page.locator('.quick-input-list .monaco-list-row', { has: page.locator('.label-name', { hasText: new RegExp(`^${label}$`) }) }).first();
}

describe('TCAV in a real VS Code', { timeout: 15 * 60_000 }, () => {
  let workspace: string;
  let page: Page;
  let layers: string[] = [];
  let csv: CsvRow[] = [];
  const { session, step } = e2eSession({
    label: 'tcav',
    settings: { 'loupe.activeModel': MODEL },
    check: () => {
      assert.ok(existsSync(path.join(DEMO, MODEL)), `demo/${MODEL} is missing: npx tsx demo/shapes/train.ts`);
      assert.ok(readdirSync(path.join(DEMO, CLASS_FOLDER)).length >= 2, `demo/${CLASS_FOLDER} is missing: npx tsx demo/tcav/make-images.ts`);
    },
    prepare: (dir) => mkdirSync(path.join(dir, '.vscode'), { recursive: true }),
  });
  before(() => ({ workspace, page } = session()));

  async function tcavFrame(): Promise<FrameLocator> {
    const tab = page.locator('.tab', { hasText: 'TCAV: circle' }).first();
    await tab.waitFor({ timeout: TIMEOUT });
    if (!(await tab.getAttribute('class'))?.includes('active')) await tab.click();
    const frame = await webviewFrame(page, { timeoutMs: 60_000 });
    await frame.locator('[data-testid="concept-row"]').first().waitFor({ timeout: TIMEOUT });
    return frame;
  }

  it('right-click a folder → Test Concepts (TCAV)…: the panel\'s rows are the CLI\'s tcav.csv for the same inputs', (t) => step(t, 'run', async () => {
    // A menu lists the extensions registered when it opens: wait for Loupe's status item (it is registered by then).
    await statusBarItem(page, STATUS_ID).waitFor({ timeout: 60_000 });
    await contextMenu(page, await explorerRow(page, CLASS_FOLDER), 'Test Concepts (TCAV)…');
    // Class: the folder's name preselects "circle".
    const input = page.locator('.quick-input-widget .quick-input-box input');
    await pickRow(page, 'circle').and(page.locator('.focused')).waitFor({ timeout: 60_000 });
    await input.press('Enter');
    // Concepts: toggle each built-in by clicking its row (a multi-select pick), then accept.
    await page.locator('.quick-input-widget .quick-input-title', { hasText: 'concepts to test' }).waitFor();
    for (const concept of CONCEPTS) {
      await input.fill(concept);
      const row = pickRow(page, concept);
      await row.waitFor();
      await row.click();
    }
    await input.fill('');
    await input.press('Enter');
    // Random: the built-in images (first item).
    await pickRow(page, 'Built-in random images').waitFor();
    await input.press('Enter');
    // Layers: the defaults picked, accepted as they are.
    await page.locator('.quick-input-widget .quick-input-title', { hasText: 'layers' }).waitFor();
    await input.press('Enter');
    // Runs: the default 20.
    await page.locator('.quick-input-widget .quick-input-title', { hasText: 'random runs' }).waitFor();
    assert.equal(await input.inputValue(), '20');
    await input.press('Enter');

    const frame = await tcavFrame();
    const concepts = await frame.locator('[data-testid="layer"]').first().locator('[data-testid="concept-row"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-concept')));
    assert.deepEqual(concepts, CONCEPTS);
    layers = await frame.locator('[data-testid="layer"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-layer') ?? ''));
    // The pickers' default: three ReLUs spread through the six of shapes/train.ts.
    assert.deepEqual(layers, ['relu2', 'relu4', 'relu6']);
    const rows = await panelRows(frame);
    csv = cliCsv(workspace, layers);
    assert.equal(rows.length, csv.length);
    // The top bar first, then every row: same layer, concept, mean, p-value and verdict.
    const [top] = rows;
    assert.deepEqual([top!.layer, top!.concept, top!.mean, top!.significant], [csv[0]!.layer, csv[0]!.concept, csv[0]!.mean, csv[0]!.significant]);
    rows.forEach((r, i) => {
      const c = csv[i]!;
      assert.deepEqual([r.layer, r.concept, r.mean, r.significant], [c.layer, c.concept, c.mean, c.significant], `row ${i}`);
      if (c.p === '') assert.equal(r.p, '');
      else assert.ok(Math.abs(Number(r.p) - Number(c.p)) <= 1e-9 * Math.max(1e-300, Number(c.p)), `row ${i}: p ${r.p} vs CLI ${c.p}`);
      assert.ok(r.score.startsWith(Number(c.mean).toFixed(2)), `row ${i}: "${r.score}" vs mean ${c.mean}`);
    });
    assert.match(await frame.locator('[data-testid="what"]').innerText(), /directional derivative of the class logit/);
    t.diagnostic(`top bar: ${top!.layer} ${top!.concept} ${top!.score} p=${top!.p}; ${rows.length} rows`);
    await screenshot(page, 'tcav-panel');
  }));

  it('the layer\'s line in shapes/train.ts shows the TCAV CodeLens, which opens the panel', (t) => step(t, 'codelens', async () => {
    const layer = layers[1]!;
    const script = readFileSync(path.join(workspace, TRAIN_SCRIPT), 'utf8');
    const line = script.split('\n').findIndex((l) => l.includes(`name: '${layer}'`)) + 1;
    assert.ok(line > 0, `no line names ${layer}`);
    const editor = await openAtLine(page, TRAIN_SCRIPT, line);
    const lens = editor.locator('.codelens-decoration a', { hasText: /^TCAV for "circle"/ });
    await lens.first().waitFor({ timeout: 60_000 });
    // The lens of this layer: its concepts with the CLI's means, * where significant.
    const expected = csv.filter((c) => c.layer === layer).map((c) => `${c.concept} ${Number(c.mean).toFixed(2)}${c.significant === 'true' ? '*' : ' n.s.'}`);
    const texts = await lens.allInnerTexts();
    const text = texts.find((x) => expected.every((e) => x.includes(e)));
    assert.ok(text, `no TCAV lens lists ${expected.join(', ')}; lenses: ${texts.join(' | ')}`);
    // It sits on the layer's line: the line numbers above and at it are rendered around it.
    const lineNumber = (n: number) => editor.locator('.margin-view-overlays .line-numbers', { hasText: new RegExp(`^${n}$`) });
    await lineNumber(line).waitFor();
    // The editor may still be scrolling to the line: read the three boxes until two reads 100 ms apart agree.
    const boxes = async () => Promise.all([lens.filter({ hasText: text }).first().boundingBox(), lineNumber(line).boundingBox(), lineNumber(line - 1).boundingBox()]);
    let read = await boxes();
    for (const deadline = Date.now() + 15_000; Date.now() < deadline;) {
      await page.waitForTimeout(100);
      const again = await boxes();
      const settled = again.every((b) => b !== null) && JSON.stringify(again) === JSON.stringify(read);
      read = again;
      if (settled) break;
    }
    const [lensBox, lineBox, prevBox] = read;
    assert.ok(lensBox && lineBox && prevBox, 'the lens and its lines are on screen');
    assert.ok(lensBox.y >= prevBox.y + prevBox.height - 1 && lensBox.y + lensBox.height <= lineBox.y + 1, 'the TCAV lens is not on the layer\'s line');
    await screenshot(page, 'tcav-codelens');
    await lens.filter({ hasText: text }).first().click();
    await page.locator('.tab.active', { hasText: 'TCAV: circle' }).waitFor({ timeout: 10_000 });
  }));

  it('Export CSV saves the CLI\'s tcav.csv', (t) => step(t, 'export', async () => {
    const frame = await tcavFrame();
    await frame.locator('[data-testid="export-csv"]').click();
    // code-server's save dialog is VS Code's simple dialog: a path in the quick input.
    const input = page.locator('.quick-input-widget .quick-input-box input');
    await input.waitFor({ timeout: 10_000 });
    const target = path.join(workspace, 'exported-tcav.csv');
    // The simple dialog writes its default path into the box once it has read the folder, over anything
    // typed before: wait for that, then type until the box holds the target.
    for (const deadline = Date.now() + 10_000; (await input.inputValue()) === '' && Date.now() < deadline;) await page.waitForTimeout(100);
    for (let attempt = 0; attempt < 5 && (await input.inputValue()) !== target; attempt++) {
      await input.fill(target);
      await page.waitForTimeout(300);
    }
    assert.equal(await input.inputValue(), target, 'the save dialog holds the target path');
    await input.press('Enter');
    const deadline = Date.now() + 15_000;
    while (!existsSync(target) && Date.now() < deadline) await page.waitForTimeout(200);
    assert.deepEqual(parseCsv(readFileSync(target, 'utf8')), csv);
  }));

  it('the panel comes back after a window reload', (t) => step(t, 'reload', async () => {
    await runCommand(page, 'Developer: Reload Window');
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    const frame = await tcavFrame();
    const rows = await panelRows(frame);
    assert.deepEqual(rows.map((r) => [r.layer, r.concept, r.mean]), csv.map((c) => [c.layer, c.concept, c.mean]));
  }));
});
