// One end-to-end session: the packaged VSIX in a fresh code-server on a temp copy of the demo workspace,
// opened in Chromium, torn down after the suite. Shared by the e2e files (not a test itself).
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, type TestContext } from 'node:test';
import type { Page } from 'playwright-core';
import { missingPrerequisite, repoRoot, startCodeServer, type CodeServer } from '../../scripts/e2e/codeServer';
import { openWorkbench, screenshot, type Workbench } from '../../scripts/e2e/driver';
import { packageExtension, type PackageResult } from '../../scripts/package';
import { loupeLog } from './loupeSteps';

/** Settings every suite wants: the copied training scripts cannot resolve their imports, and squiggles clutter screenshots. */
const QUIET = { 'typescript.validate.enable': false, 'editor.minimap.enabled': false };

export interface SessionOptions {
  /** Names the temp folder, the failure screenshots and log lines. */
  label: string;
  /** User settings on top of QUIET. */
  settings?: Record<string, unknown>;
  size?: { width: number; height: number };
  /** Checks before anything starts (demo files present, …); throw to fail the suite with the reason. */
  check?: () => void;
  /** Changes to the workspace copy before code-server starts. */
  prepare?: (workspace: string) => void;
  /** Called with each timing (packageMs, codeServerStartMs, workbenchOpenMs) as it is measured. */
  metric?: (name: string, ms: number) => void;
}

export interface Session {
  temp: string;
  workspace: string;
  server: CodeServer;
  workbench: Workbench;
  page: Page;
  vsix: PackageResult;
  /** A path in the workspace copy. */
  ws(relative: string): string;
}

/**
 * Registers the suite's before/after hooks and returns the session they fill in (read it inside tests),
 * plus `step`: runs a test's body and, on failure, saves a screenshot and prints both logs' tails.
 */
export function e2eSession(options: SessionOptions): {
  session: () => Session;
  step: (t: TestContext | string, name: string, body: () => Promise<void>) => Promise<void>;
} {
  let current: Partial<Session> = {};
  const timed = async <T>(name: string, f: () => Promise<T> | T): Promise<T> => {
    const t0 = performance.now();
    const value = await f();
    options.metric?.(name, Math.round(performance.now() - t0));
    return value;
  };

  before(async () => {
    const missing = missingPrerequisite();
    assert.equal(missing, null, `end-to-end prerequisites missing: ${missing}`);
    options.check?.();
    const temp = mkdtempSync(path.join(os.tmpdir(), `loupe-e2e-${options.label}-`));
    current = { temp };
    const vsix = await timed('packageMs', () => packageExtension({ out: path.join(temp, 'loupe.vsix') }));
    const workspace = path.join(temp, 'demo');
    cpSync(path.join(repoRoot, 'demo'), workspace, { recursive: true });
    current = { ...current, vsix, workspace, ws: (relative) => path.join(workspace, relative) };
    options.prepare?.(workspace);
    const server = await timed('codeServerStartMs', () => startCodeServer(workspace, { vsix: [vsix.vsix], settings: { ...QUIET, ...options.settings } }));
    current.server = server;
    const workbench = await timed('workbenchOpenMs', () => openWorkbench(server.url, { ...(options.size ?? { width: 1280, height: 800 }), timeoutMs: 30_000 }));
    current = { ...current, workbench, page: workbench.page };
  });

  after(async () => {
    await current.workbench?.close().catch(() => undefined);
    await current.server?.stop().catch(() => undefined);
    if (current.temp) rmSync(current.temp, { recursive: true, force: true });
  });

  return {
    session: () => {
      assert.ok(current.page, `the ${options.label} e2e session did not start (see the before hook's error)`);
      return current as Session;
    },
    async step(t, name, body) {
      try {
        await body();
      } catch (error) {
        const title = typeof t === 'string' ? t : t.name;
        if (current.page) await screenshot(current.page, `failure-${options.label}-${name}`, 0).catch(() => undefined);
        if (current.server) {
          console.error(`[e2e ${options.label}] ${title} failed. Loupe log (tail):\n${loupeLog(current.server).slice(-4000)}\n` +
            `[e2e ${options.label}] code-server log (tail):\n${current.server.log().slice(-2000)}`);
        }
        throw error;
      }
    },
  };
}
