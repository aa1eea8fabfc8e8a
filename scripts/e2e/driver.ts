// Drives the code-server workbench in Debian's Chromium through playwright-core (which never
// downloads a browser). Selectors are VS Code 1.139's workbench DOM.
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type FrameLocator, type Locator, type Page } from 'playwright-core';
import { outputDir } from './codeServer';

export const CHROMIUM = '/usr/bin/chromium';
// --headless is added by playwright itself; the rest keep Chromium from reaching the network.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Workbench {
  browser: Browser;
  page: Page;
  close(): Promise<void>;
}

/** Opens `url` (a code-server workbench) and waits until the workbench and its explorer are up. */
export async function openWorkbench(url: string, options: { width?: number; height?: number; timeoutMs?: number } = {}): Promise<Workbench> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const page = await browser.newPage({ viewport: { width: options.width ?? 1400, height: options.height ?? 900 } });
  page.setDefaultTimeout(options.timeoutMs ?? 30_000);
  await page.goto(url);
  await page.locator('.monaco-workbench').waitFor();
  // The explorer's tree shows once the folder is open: the extension host is starting by then.
  await page.locator('.explorer-folders-view .monaco-list, .explorer-viewlet .monaco-list').first().waitFor();
  return { browser, page, close: () => browser.close() };
}

/**
 * Runs a command from the palette by its title as shown there (`Loupe: Hello`). Right after the
 * window opens the palette may not list extension commands yet, and an open palette does not
 * refresh its list: so it is closed and reopened until the entry shows or `timeoutMs` passes.
 */
export async function runCommand(page: Page, title: string, timeoutMs = 30_000): Promise<void> {
  const input = page.locator('.quick-input-widget .quick-input-box input');
  const row = page.locator('.quick-input-list .monaco-list-row', {
    has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(title)}$`) }),
  }).first();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await page.keyboard.press('F1');
    await input.waitFor();
    await input.fill(`>${title}`);
    try {
      await row.waitFor({ timeout: Math.max(1, Math.min(3_000, deadline - Date.now())) });
      await row.click();
      return;
    } catch (error) {
      await page.keyboard.press('Escape');
      if (Date.now() >= deadline) throw new Error(`command "${title}" not in the palette after ${timeoutMs} ms`, { cause: error });
    }
  }
}

/** Texts of the notification toasts now on screen. */
export async function notifications(page: Page): Promise<string[]> {
  return page.locator('.notifications-toasts .notification-list-item-message').allInnerTexts();
}

/** Waits for a toast whose text matches, and returns that text. */
export async function waitForNotification(page: Page, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  const toast = page.locator('.notifications-toasts .notification-list-item-message', { hasText: pattern }).first();
  await toast.waitFor({ timeout: timeoutMs });
  return toast.innerText();
}

/**
 * Saves a PNG of the page into test-output/e2e/<name>.png and returns its path. Waits `settleMs`
 * first: toasts and panels fade in, and a shot taken at once catches them half transparent.
 */
export async function screenshot(page: Page, name: string, settleMs = 400): Promise<string> {
  mkdirSync(outputDir, { recursive: true });
  await page.waitForTimeout(settleMs);
  const file = path.join(outputDir, `${name.replace(/[^\w.-]+/g, '_')}.png`);
  await page.screenshot({ path: file });
  return file;
}

/**
 * The content frame of a webview panel. VS Code nests two iframes: the outer `iframe.webview` hosts
 * the service worker shim, the inner `#active-frame` holds the extension's HTML. The outer frame's
 * parent carries the panel's title on its editor tab, so the panel is picked by the visible one
 * (the active editor) unless `index` says otherwise.
 */
export async function webviewFrame(page: Page, options: { index?: number; timeoutMs?: number } = {}): Promise<FrameLocator> {
  const outer = page.locator('iframe.webview.ready');
  const chosen = options.index === undefined ? outer.locator('visible=true').first() : outer.nth(options.index);
  await chosen.waitFor({ timeout: options.timeoutMs ?? 30_000 });
  const inner = chosen.contentFrame().locator('iframe#active-frame');
  await inner.waitFor({ timeout: options.timeoutMs ?? 30_000 });
  return inner.contentFrame();
}

/** The pane of a view (Explorer section, or a view in a custom container) by its title. */
export function viewPane(page: Page, viewTitle: string): Locator {
  return page.locator('.pane', {
    has: page.locator('.pane-header h3.title', { hasText: new RegExp(`^${escapeRegExp(viewTitle)}$`, 'i') }),
  });
}

export interface TreeItem {
  label: string;
  description: string;
  /** 1-based nesting level, as the tree reports it (aria-level). */
  level: number;
  expanded: boolean | null;
}

/** Tree items currently rendered in a view (only expanded parents' children are rendered). */
export async function treeItems(page: Page, viewTitle: string): Promise<TreeItem[]> {
  const rows = viewPane(page, viewTitle).locator('.monaco-list-row');
  await rows.first().waitFor();
  return rows.evaluateAll((elements) => elements.map((el) => ({
    label: el.querySelector('.label-name')?.textContent?.trim() ?? el.getAttribute('aria-label') ?? '',
    description: el.querySelector('.label-description')?.textContent?.trim() ?? '',
    level: Number(el.getAttribute('aria-level') ?? 1),
    expanded: el.hasAttribute('aria-expanded') ? el.getAttribute('aria-expanded') === 'true' : null,
  })));
}

/** Makes a view visible through its command `<viewId>.focus`, which every view has. */
export async function focusView(page: Page, viewTitle: string): Promise<void> {
  await runCommand(page, `View: Focus on ${viewTitle} View`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
