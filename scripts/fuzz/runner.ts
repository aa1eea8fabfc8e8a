/**
 * The fuzz runner: a child process the harness supervises (timeouts, memory). It builds each case from
 * its seed and runs it through Loupe's real code paths: the worker's request handlers in-process (the
 * same door and engine as the worker, over an in-memory JSON-RPC connection), the real worker child
 * process (dist/worker.js through WorkerClient), or the real CLI (dist/cli.js). It reports one outcome
 * per case; a hang or a memory blow-up is seen (and the runner killed) by the harness.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { createMessageConnection, RequestType, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import { LoupeError } from '../../src/protocol/errors';
import { WorkerClient, WorkerExitedError } from '../../src/host/workerClient';
import { errorFromWire, base64ToFloat32 } from '../../src/protocol/node/wire';
import { registerHandlers } from '../../src/worker/server';
import { isBlocksPanelState, isFromBlocksWebview } from '../../src/protocol/blocksWebview';
import { isDissectPanelState, isFromDissectWebview } from '../../src/protocol/dissectWebview';
import { isFeatureVisPanelState, isFromFeatureVisWebview } from '../../src/protocol/featureVisWebview';
import { isFromTcavWebview, isTcavPanelState } from '../../src/protocol/tcavWebview';
import { isFromWebview, isPanelState } from '../../src/protocol/webview';
import { makeCase, type Case, type Family } from './cases';
import { makeFixtures, type Fixtures } from './fixtures';
import { Rand } from './random';
import type { CaseResult, CaseTask, Outcome } from './protocol';

const REPO = path.resolve(__dirname, '..', '..');
/** A request that runs longer than this is cancelled: finishing the cancel cleanly counts as a clean outcome. */
const CASE_BUDGET_MS = Number(process.env.LOUPE_FUZZ_CASE_MS ?? 4000);

let fixtures: Fixtures;
let local: MessageConnection;
let worker: WorkerClient | undefined;
let workRoot: string;

async function start(): Promise<void> {
  workRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-fuzz-'));
  process.env.LOUPE_CACHE_DIR = path.join(workRoot, 'cache');
  process.env.LOUPE_LANES = '1';
  fixtures = await makeFixtures(path.join(workRoot, 'fixtures'));
  // The worker's handlers in this process, behind an in-memory JSON-RPC pipe: the worker's door, not a shortcut.
  const up = new PassThrough();
  const down = new PassThrough();
  const server = createMessageConnection(new StreamMessageReader(up), new StreamMessageWriter(down));
  registerHandlers(server, { backend: 'wasm', log: () => undefined });
  server.listen();
  local = createMessageConnection(new StreamMessageReader(down), new StreamMessageWriter(up));
  local.listen();
}

function realWorker(): WorkerClient {
  worker ??= new WorkerClient({
    workerPath: path.join(REPO, 'dist', 'worker.js'),
    env: { ...process.env, LOUPE_LANES: '1', LOUPE_BACKEND: 'wasm' },
    cancelGraceMs: 3000,
    deadlinesMs: { start: 20_000, quick: 20_000, analysis: 20_000 },
  });
  return worker;
}

/** Error messages must name the file at fault when a file was mutated. */
function namesFile(message: string, c: Case): boolean {
  const names = [c.model, c.image, path.dirname(c.model), path.dirname(c.image)];
  return names.some((n) => message.includes(n));
}

function classifyError(err: unknown, c: Case): { outcome: Outcome; detail: string } {
  if (err instanceof WorkerExitedError) {
    return { outcome: /deadline|did not stop/.test(err.message) ? 'hang' : 'crash', detail: err.message };
  }
  if (err instanceof LoupeError) {
    if (err.code === 'CANCELLED') return { outcome: 'cancelled', detail: 'cancelled at the case budget' };
    if (/internal error|WebAssembly kernel failed/.test(err.message)) return { outcome: 'crash', detail: err.message };
    // A refused request names its parameter (BAD_REQUEST); a refused file must name the file.
    const named = err.file !== undefined || (c.request !== undefined && err.code === 'BAD_REQUEST') || namesFile(err.message, c);
    return { outcome: named ? 'clean' : 'unnamed', detail: err.message };
  }
  return { outcome: 'crash', detail: (err as Error)?.stack ?? String(err) };
}

/** A successful explain must not hold NaN or infinity in any map (that is a silent wrong result). */
function checkResult(method: string, result: unknown): { outcome: Outcome; detail: string } {
  if (method === 'explain' && result && typeof result === 'object' && 'maps' in result) {
    for (const m of (result as { maps: Array<{ summary: { method: string }; data: string }> }).maps) {
      const data = base64ToFloat32(m.data);
      if (data.some((v) => !Number.isFinite(v))) return { outcome: 'nan', detail: `${m.summary.method} map holds non-finite values` };
    }
  }
  return { outcome: 'success', detail: '' };
}

async function request(conn: 'local' | 'worker', method: string, params: unknown, c: Case): Promise<{ outcome: Outcome; detail: string }> {
  const type = new RequestType<unknown, unknown, unknown>(`loupe/${method}`);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), CASE_BUDGET_MS);
  try {
    let result: unknown;
    if (conn === 'local') {
      const { CancellationTokenSource } = await import('vscode-jsonrpc/node');
      const cts = new CancellationTokenSource();
      abort.signal.addEventListener('abort', () => cts.cancel());
      try {
        result = await local.sendRequest(type, params, cts.token);
      } catch (err) {
        throw errorFromWire(err);
      }
    } else {
      const client = realWorker() as unknown as { call(t: unknown, p: unknown, what: string, o: { signal: AbortSignal }): Promise<unknown> };
      result = await client.call(type, params, `fuzz ${method}`, { signal: abort.signal });
    }
    return checkResult(method, result);
  } catch (err) {
    return classifyError(err, c);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the CLI on the case; exit 0 success, 1 or 2 with a message and no stack trace clean, anything else a crash. */
function cli(c: Case): Promise<{ outcome: Outcome; detail: string; pid?: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(REPO, 'dist', 'cli.js'), ...c.argv!], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LOUPE_LANES: '1' } });
    process.send?.({ kind: 'child', pid: child.pid });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += String(d); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const out = (c.argv![c.argv!.indexOf('--out') + 1])!;
      const escaped = fs.readFileSync(path.join(fixtures.outside, 'secret.txt'), 'utf8') !== 'cat\ndog\nbird\n';
      if (escaped) resolve({ outcome: 'crash', detail: `wrote through a symlink outside ${out}` });
      else if (signal) resolve({ outcome: signal === 'SIGKILL' ? 'hang' : 'crash', detail: `signal ${signal}: ${stderr.slice(-300)}` });
      else if (code === 0) resolve({ outcome: 'success', detail: '' });
      else if ((code === 1 || code === 2) && !/\n\s+at .+:\d+:\d+\)?/.test(stderr)) resolve({ outcome: 'clean', detail: stderr.trim().slice(0, 300) });
      else resolve({ outcome: 'crash', detail: `exit ${code}: ${stderr.slice(-600)}` });
    });
  });
}

/** Every guard the host runs on panel messages and restored panel state must answer yes or no, never throw. */
const GUARDS: Array<[string, (v: unknown) => boolean]> = [
  ['isFromWebview', isFromWebview], ['isPanelState', isPanelState], ['isFromDissectWebview', isFromDissectWebview],
  ['isDissectPanelState', isDissectPanelState], ['isFromTcavWebview', isFromTcavWebview], ['isTcavPanelState', isTcavPanelState],
  ['isFromFeatureVisWebview', isFromFeatureVisWebview], ['isFeatureVisPanelState', isFeatureVisPanelState],
  ['isFromBlocksWebview', isFromBlocksWebview], ['isBlocksPanelState', isBlocksPanelState],
];

function hasOddKey(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  return Object.keys(v).some((k) => k === '__proto__' || k === 'constructor' || hasOddKey((v as Record<string, unknown>)[k]));
}

function webview(message: unknown): { outcome: Outcome; detail: string } {
  const accepted: string[] = [];
  for (const [name, guard] of GUARDS) {
    try {
      if (guard(message)) accepted.push(name);
    } catch (err) {
      return { outcome: 'crash', detail: `${name} threw: ${(err as Error)?.stack ?? err}` };
    }
  }
  // An accepted message carries only own, plain keys: a __proto__ or constructor key never gets through.
  if (accepted.length && hasOddKey(message)) {
    return { outcome: 'crash', detail: `${accepted.join(', ')} accepted ${JSON.stringify(message).slice(0, 200)}` };
  }
  return accepted.length ? { outcome: 'success', detail: accepted.join(', ') } : { outcome: 'clean', detail: 'refused by every guard' };
}

async function runCase(task: CaseTask): Promise<CaseResult> {
  const r = new Rand(task.seed);
  const dir = path.join(workRoot, `case-${task.index}`);
  const started = Date.now();
  let c: Case | undefined;
  try {
    c = makeCase(fixtures, dir, r, task.family as Family);
    if (process.env.LOUPE_FUZZ_KEEP) process.stderr.write(`case ${task.index}: ${dir}\n`);
    process.send?.({ kind: 'case', index: task.index, what: c.what });
    let res: { outcome: Outcome; detail: string };
    if (c.message !== undefined) {
      res = webview(c.message);
    } else if (c.argv) {
      res = await cli(c);
    } else if (c.request) {
      res = await request(c.family === 'worker' ? 'worker' : 'local', c.request.method, c.request.params, c);
    } else {
      res = await request('local', 'describe', { modelPath: c.model }, c);
      if (res.outcome === 'success') {
        res = await request('local', 'explain', { modelPath: c.model, imagePath: c.image, options: { methods: ['gradient', r.pick(['gradcam', 'guided-backprop', 'ig'])], params: { steps: 4 } } }, c);
      }
    }
    if (c.request && !['clean', 'success', 'cancelled'].includes(res.outcome)) res.detail += ` | ${c.request.method} ${JSON.stringify(c.request.params).slice(0, 400)}`;
    return { index: task.index, family: c.family, what: c.what, ...res, ms: Date.now() - started };
  } catch (err) {
    return { index: task.index, family: task.family, what: c?.what ?? 'making the case', outcome: 'crash', detail: `harness: ${(err as Error)?.stack ?? err}`, ms: Date.now() - started };
  } finally {
    // The case's own model is dropped from the engine's cache; the shared base model stays loaded.
    if (c && !c.argv && c.model.startsWith(dir)) await local.sendRequest(new RequestType<unknown, unknown, unknown>('loupe/forget'), { modelPath: c.model }).catch(() => undefined);
    if (process.env.LOUPE_FUZZ_KEEP) fs.cpSync(dir, path.join(process.env.LOUPE_FUZZ_KEEP, `case-${task.index}`), { recursive: true, verbatimSymlinks: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

process.on('message', (task: CaseTask | { kind: 'stop' }) => {
  if ('kind' in task) {
    void (worker?.dispose() ?? Promise.resolve()).finally(() => {
      fs.rmSync(workRoot, { recursive: true, force: true });
      process.exit(0);
    });
    return;
  }
  void runCase(task).then((result) => process.send?.({ kind: 'result', result }));
});

void start().then(() => process.send?.({ kind: 'ready' }), (err) => {
  process.stderr.write(`fuzz runner could not start: ${(err as Error)?.stack ?? err}\n`);
  process.exit(70);
});
