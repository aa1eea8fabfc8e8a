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
    // Every step is retried: a webview that takes focus as it loads (an image preview just opened)
    // closes the palette between its opening and the typing.
    const step = { timeout: Math.max(1, Math.min(3_000, deadline - Date.now())) };
    try {
      await page.keyboard.press('F1');
      await input.waitFor(step);
      await input.fill(`>${title}`, step);
      await row.waitFor(step);
      await row.click(step);
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

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Shows an activity-bar container (Explorer, Loupe, …) by its icon. Clicking the icon of the
 * container already shown hides the side bar, so the click happens only when it is not shown.
 */
export async function showContainer(page: Page, label: string): Promise<void> {
  const icon = page.locator('.activitybar .action-item', { has: page.locator(`a.action-label[aria-label^="${label}"]`) });
  const sidebar = page.locator('.part.sidebar');
  if ((await icon.getAttribute('class'))?.split(/\s+/).includes('checked') && (await sidebar.isVisible())) return;
  await icon.locator('a.action-label').click();
  await icon.and(page.locator('.checked')).waitFor();
}

/** A row of the Explorer's tree, by its path relative to the opened folder; parent folders are expanded on the way. */
export async function explorerRow(page: Page, relativePath: string, timeoutMs = 10_000): Promise<Locator> {
  await showContainer(page, 'Explorer');
  const tree = page.locator('.explorer-folders-view .monaco-list');
  const parts = relativePath.split('/');
  let parentIndex = -1;
  let row: Locator | undefined;
  for (let i = 0; i < parts.length; i++) {
    const level = i + 1;
    const name = parts[i]!;
    // The child is the first row named `name` at this level inside the parent's subtree (rows below the
    // parent until one at the parent's level or above); `data-index` is the row's place in the list.
    const find = (): Promise<number> => tree.locator('.monaco-list-row').evaluateAll(
      (rows, [parent, lvl, label]) => {
        const items = rows.map((r) => ({
          index: Number(r.getAttribute('data-index')),
          level: Number(r.getAttribute('aria-level')),
          label: r.querySelector('.label-name')?.textContent?.trim() ?? '',
        })).sort((a, b) => a.index - b.index);
        for (const item of items) {
          if (item.index <= (parent as number)) continue;
          if (item.level < (lvl as number)) break;
          if (item.level === lvl && item.label === label) return item.index;
        }
        return -1;
      }, [parentIndex, level, name] as const);
    // Children render a moment after their folder says it is expanded: look again until they do.
    const deadline = Date.now() + timeoutMs;
    let index = await find();
    while (index < 0 && Date.now() < deadline) {
      await page.waitForTimeout(100);
      index = await find();
    }
    if (index < 0) throw new Error(`Explorer: no row "${parts.slice(0, i + 1).join('/')}" after ${timeoutMs} ms`);
    row = tree.locator(`.monaco-list-row[data-index="${index}"]`);
    if (i < parts.length - 1 && (await row.getAttribute('aria-expanded')) !== 'true') {
      await row.click();
      await tree.locator(`.monaco-list-row[data-index="${index}"][aria-expanded="true"]`).waitFor();
    }
    parentIndex = index;
  }
  return row!;
}

/** Right-clicks `target` and picks the context menu entry titled `entry`. */
export async function contextMenu(page: Page, target: Locator, entry: string): Promise<void> {
  const item = page.locator('.context-view .monaco-menu .action-item', {
    has: page.locator('.action-label', { hasText: new RegExp(`^${escapeRegExp(entry)}$`) }),
  });
  // A view that refreshes its tree just after the right-click closes the menu, or opens it for the
  // replaced row before its context keys are set: close what is open and right-click again.
  for (let attempt = 1; ; attempt++) {
    await target.click({ button: 'right' });
    try {
      await item.waitFor({ timeout: 10_000 });
      break;
    } catch (error) {
      const shown = await page.locator('.context-view .monaco-menu .action-label').allInnerTexts();
      if (attempt >= 3) {
        throw new Error(`context menu entry "${entry}" not shown after ${attempt} right-clicks (menu: ${JSON.stringify(shown.filter(Boolean))})`, { cause: error });
      }
      await page.keyboard.press('Escape');
      await page.waitForTimeout(500);
    }
  }
  // A click that lands while the menu is still opening is dropped by the menu (no error, nothing runs):
  // click again until the menu closes.
  const menu = page.locator('.context-view .monaco-menu');
  for (let attempt = 1; ; attempt++) {
    await item.click();
    try {
      await menu.waitFor({ state: 'detached', timeout: 1_500 });
      return;
    } catch (error) {
      if (attempt >= 4) throw new Error(`context menu entry "${entry}" did not run after ${attempt} clicks`, { cause: error });
    }
  }
}

/** A status bar entry by its id (an extension's item is `<publisher>.<name>.<item id>`). */
export function statusBarItem(page: Page, id: string): Locator {
  return page.locator(`.statusbar-item[id="${id}"]`);
}

/** The notification toast (whole item, with its buttons) whose message matches. */
export function toast(page: Page, pattern: RegExp): Locator {
  return page.locator('.notifications-toasts .notification-list-item', {
    has: page.locator('.notification-list-item-message', { hasText: pattern }),
  });
}

/** Opens `relativePath` from the Explorer, moves the cursor to `line` (1-based) and returns its editor. */
export async function openAtLine(page: Page, relativePath: string, line: number): Promise<Locator> {
  await (await explorerRow(page, relativePath)).click();
  await page.locator('.tab.active', { hasText: relativePath.split('/').pop()! }).waitFor();
  const editor = page.locator('.editor-group-container.active .monaco-editor').first();
  await editor.locator('.view-lines').click();
  await page.keyboard.press('Control+g');
  await page.keyboard.type(String(line));
  await page.keyboard.press('Enter');
  return editor;
}
