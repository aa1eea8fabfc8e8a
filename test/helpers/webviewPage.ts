// A panel's page in a real browser (Debian's Chromium via playwright-core), under the exact HTML and
// CSP the host builds (src/host/panels/html.ts), with the stylesheets the host links. A nonce'd script
// (allowed by the same policy) stands in for VS Code's webview API and records what the page posts and
// persists, and every CSP violation. Needs /usr/bin/chromium (scripts/e2e/setup.sh installs it).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { chromium, type Locator, type Page } from 'playwright-core';
import { buildPanelHtml, makeNonce } from '../../src/host/panels/html';

const CHROMIUM = '/usr/bin/chromium';
const root = path.resolve(import.meta.dirname, '../..');

export type ServedFile = { type: string; body: string | Buffer };

/** The page's globals the harness uses (tests compile without DOM types; the callbacks run in the page). */
export interface PageGlobals {
  __posted: unknown[];
  __violations: string[];
  __state: unknown;
  __pwned?: number;
  dispatchEvent(event: unknown): boolean;
  MessageEvent: new (type: string, init: { data: unknown }) => unknown;
}

export interface WebviewPage {
  page: Page;
  /** The test server's origin: the page's `cspSource`; files it serves live under it. */
  origin: string;
  /** Everything the page posted to the host so far, in order. */
  posted(): Promise<Array<Record<string, unknown>>>;
  /** Delivers `data` to the page as a message from the host. */
  send(data: unknown): Promise<boolean>;
  /** What the page last persisted with `setState`. */
  savedState(): Promise<unknown>;
  /** Set when a hostile string became markup that ran. */
  pwned(): Promise<number | undefined>;
  /** No CSP violation and no page error so far; first a full-page screenshot when LOUPE_SCREENSHOT names a file. */
  assertClean(): Promise<void>;
  close(): Promise<void>;
}

export interface WebviewPageOptions {
  /** The panel's bundle entry and stylesheet, as esbuild.mjs and the host use them. */
  entry: string;
  style: string;
  title: string;
  /** More files to serve (images the page shows), by URL path. */
  files?: Record<string, ServedFile>;
}

/** A CSS property of the element `locator` finds, as the page computed it. */
export function computedStyle(locator: Locator, property: string): Promise<string> {
  type Styles = { getComputedStyle(e: unknown): { getPropertyValue(p: string): string } };
  return locator.evaluate((e, p) => (globalThis as unknown as Styles).getComputedStyle(e).getPropertyValue(p), property);
}

async function serve(files: Record<string, ServedFile>): Promise<{ origin: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const file = files[req.url ?? ''];
    if (req.url === '/favicon.ico') {
      res.writeHead(204).end(); // the browser asks on its own; not the page's doing
      return;
    }
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file.type }).end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Bundles and serves the page, opens it, and waits until it has posted its first message. */
export async function openWebviewPage(o: WebviewPageOptions): Promise<WebviewPage> {
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: run scripts/e2e/setup.sh`);
  const bundle = await esbuild.build({
    entryPoints: [path.join(root, o.entry)], bundle: true, write: false,
    platform: 'browser', format: 'iife', target: 'es2022', logLevel: 'silent',
  });
  const nonce = makeNonce();
  const files: Record<string, ServedFile> = {
    ...o.files,
    '/page.js': { type: 'text/javascript', body: Buffer.from(bundle.outputFiles[0]!.contents) },
    '/panel.css': { type: 'text/css', body: readFileSync(path.join(root, 'media/panel.css')) },
    [`/${path.basename(o.style)}`]: { type: 'text/css', body: readFileSync(path.join(root, o.style)) },
  };
  const server = await serve(files);
  const shim = `<script nonce="${nonce}">
    window.__posted = []; window.__violations = []; window.__state = undefined;
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
    window.acquireVsCodeApi = () => ({
      postMessage: (m) => window.__posted.push(JSON.parse(JSON.stringify(m))),
      getState: () => window.__state, setState: (s) => { window.__state = s; },
    });
  </script>`;
  files['/'] = {
    type: 'text/html',
    body: buildPanelHtml({
      cspSource: server.origin, nonce, title: o.title,
      scriptUri: `${server.origin}/page.js`,
      styleUris: [`${server.origin}/panel.css`, `${server.origin}/${path.basename(o.style)}`],
    }).replace('<script nonce', `${shim}<script nonce`),
  };

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const close = async (): Promise<void> => {
    await browser.close();
    await server.close();
  };
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(`${m.text()} ${m.location().url}`); });
    await page.goto(`${server.origin}/`);
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).__posted.length > 0);
    return {
      page,
      origin: server.origin,
      posted: () => page.evaluate(() => (globalThis as unknown as PageGlobals).__posted) as Promise<Array<Record<string, unknown>>>,
      send: (data) => page.evaluate((d) => {
        const w = globalThis as unknown as PageGlobals;
        return w.dispatchEvent(new w.MessageEvent('message', { data: d }));
      }, data),
      savedState: () => page.evaluate(() => (globalThis as unknown as PageGlobals).__state),
      pwned: () => page.evaluate(() => (globalThis as unknown as PageGlobals).__pwned),
      assertClean: async () => {
        if (process.env.LOUPE_SCREENSHOT) await page.screenshot({ path: process.env.LOUPE_SCREENSHOT, fullPage: true });
        assert.deepEqual(await page.evaluate(() => (globalThis as unknown as PageGlobals).__violations), [], 'CSP violations');
        assert.deepEqual(errors, [], 'page errors');
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
