// What an end-to-end test reads from a running Loupe: its log, its panels and views, the lens of a
// source line, and the CLI's answer to compare with. Shared by the e2e files (not a test itself).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FrameLocator, Locator, Page } from 'playwright-core';
import { repoRoot, type CodeServer } from '../../scripts/e2e/codeServer';
import { contextMenu, explorerRow, treeItems, webviewFrame, type TreeItem } from '../../scripts/e2e/driver';

export const ANALYSIS_TIMEOUT = 180_000;

/** The Loupe log channel's file(s) in the user-data folder (a LogOutputChannel writes one). */
export function loupeLog(server: CodeServer): string {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name === 'Loupe.log') found.push(p);
    }
  };
  const logs = path.join(server.userDataDir, 'logs');
  if (existsSync(logs)) walk(logs);
  return found.map((f) => readFileSync(f, 'utf8')).join('\n');
}

export async function waitForLog(server: CodeServer, pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = loupeLog(server).match(pattern);
    if (match) return match;
    if (Date.now() > deadline) throw new Error(`the Loupe log has no line matching ${pattern} after ${timeoutMs} ms:\n${loupeLog(server).slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** 1-based line of the first line containing `needle` in `text`. */
export function lineOf(text: string, needle: string): number {
  const index = text.split('\n').findIndex((l) => l.includes(needle));
  assert.ok(index >= 0, `"${needle}" not found`);
  return index + 1;
}

/** The summary.json of `loupe explain` (the engine in a separate process, not the extension's worker) with `args`. */
export function cliExplainSummary<T>(model: string, image: string, args: string[]): T {
  const out = mkdtempSync(path.join(os.tmpdir(), 'loupe-e2e-cli-'));
  try {
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'dist/cli.js'), 'explain', '--model', model, '--image', image,
      ...args, '--out', out], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `loupe explain failed:\n${r.stdout}${r.stderr}`);
    return JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as T;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** The top-1 prediction the engine gives through the CLI (a separate process, not the extension's worker). */
export function cliTopPrediction(model: string, image: string, extra: string[] = []): { label: string; probability: number; logit: number } {
  const summary = cliExplainSummary<{ predictions: { label: string; probability: number; logit: number }[] }>(model, image, ['--method', 'gradient', ...extra]);
  assert.ok(summary.predictions[0], 'the CLI gave no prediction');
  return summary.predictions[0];
}

/** Waits for the Explain panel to show `image`'s analysis and returns the panel's frame. */
export async function panelFor(page: Page, image: string): Promise<FrameLocator> {
  const tab = page.locator('.tab', { hasText: `Loupe: ${path.basename(image)}` }).first();
  await tab.waitFor({ timeout: ANALYSIS_TIMEOUT });
  if (!(await tab.getAttribute('class'))?.includes('active')) await tab.click();
  const frame = await webviewFrame(page, { timeoutMs: 60_000 });
  await frame.locator('.subtitle', { hasText: path.basename(image) }).waitFor({ timeout: ANALYSIS_TIMEOUT });
  // The panel fills in map by map: wait until every map asked for is on screen.
  await frame.locator('[data-testid="maps"][data-complete="true"]').waitFor({ timeout: ANALYSIS_TIMEOUT });
  await frame.locator('article.map-card').first().waitFor();
  return frame;
}

/** The rows of a tree view once `done` holds for them, or as they are when `timeoutMs` runs out (the caller asserts). */
export async function waitForTree(page: Page, view: string, done: (rows: TreeItem[]) => boolean, timeoutMs: number): Promise<TreeItem[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await treeItems(page, view);
    if (done(rows) || Date.now() > deadline) return rows;
    await page.waitForTimeout(200);
  }
}

interface Box { x: number; y: number; width: number; height: number }

/**
 * Whether the lens whose text contains `lensText` sits right above line `line` (between line − 1 and
 * it), read in one frame once two reads 100 ms apart agree (the editor has stopped scrolling).
 */
export async function lensAboveLine(editor: Locator, lensText: string, line: number, timeoutMs = 10_000): Promise<{ ok: boolean; detail: string }> {
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
    return found.map((el) => { const r = el!.getBoundingClientRect(); return { x: r.x, y: r.y, width: r.width, height: r.height }; });
  }, [lensText, String(line)] as const);
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  for (;;) {
    await editor.page().waitForTimeout(100);
    const next = await read();
    if ((next && JSON.stringify(next) === JSON.stringify(last)) || Date.now() > deadline) {
      if (!next) return { ok: false, detail: `lens "${lensText}" or line ${line} not rendered` };
      const [lens, lineBox, prev] = next as [Box, Box, Box];
      return {
        ok: lens.y >= prev.y + prev.height - 1 && lens.y + lens.height <= lineBox.y + 1,
        detail: `lens y ${lens.y}..${lens.y + lens.height}, lines ${line - 1}..${line} at y ${prev.y + prev.height}..${lineBox.y}`,
      };
    }
    last = next;
  }
}

/** Brings line `line` of the active editor into view with Go to Line (Monaco renders only visible lines and their lenses). */
export async function goToLine(page: Page, editor: Locator, line: number): Promise<void> {
  await editor.locator('.view-lines').click();
  await page.keyboard.press('Control+g');
  await page.keyboard.type(String(line));
  await page.keyboard.press('Enter');
  await editor.locator('.margin-view-overlays .line-numbers', { hasText: new RegExp(`^${line}$`) }).waitFor({ timeout: 10_000 });
}

/** The text of the visible lines of an editor (Monaco draws spaces as U+00A0). */
export async function visibleText(editor: Locator): Promise<string[]> {
  const lines = await editor.locator('.view-lines .view-line').evaluateAll((els) => els
    .map((el) => ({ top: parseFloat((el as unknown as { style: { top: string } }).style.top) || 0, text: el.textContent ?? '' }))
    .sort((a, b) => a.top - b.top).map((l) => l.text));
  return lines.map((l) => l.replace(/\u00a0/g, ' '));
}

/**
 * Picks the row labelled `label` in the open quick pick (after it shows): the row is focused with the
 * keyboard and accepted with Enter (a click may land while one quick pick replaces another).
 */
export async function pickQuickItem(page: Page, label: string | RegExp, timeoutMs = 30_000): Promise<void> {
  const pattern = typeof label === 'string' ? new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : label;
  const rows = page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
  const row = rows.filter({ has: page.locator('.label-name', { hasText: pattern }) }).first();
  await row.waitFor({ timeout: timeoutMs });
  const deadline = Date.now() + timeoutMs;
  while (!(await row.getAttribute('class'))?.split(/\s+/).includes('focused')) {
    if (Date.now() > deadline) throw new Error(`quick pick: could not focus the row ${pattern}`);
    await page.keyboard.press('ArrowDown');
    await page.waitForTimeout(50);
  }
  await page.keyboard.press('Enter');
  await row.waitFor({ state: 'hidden', timeout: timeoutMs });
}

/**
 * Right-clicks the Explorer row of `relative` and picks `entry`, making sure the row is that file when
 * clicked: a file created or deleted elsewhere in the tree moves the rows while the Explorer refreshes.
 */
export async function fileContextMenu(page: Page, relative: string, entry: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await explorerRow(page, relative);
    const label = (await row.locator('.label-name').innerText().catch(() => '')).trim();
    if (label === path.basename(relative)) {
      await contextMenu(page, row, entry);
      return;
    }
    if (Date.now() > deadline) throw new Error(`the Explorer row of ${relative} shows "${label}"`);
    await page.waitForTimeout(200);
  }
}
