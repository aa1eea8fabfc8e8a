/**
 * Issue 13, part 1: a worker never stays poisoned or orphaned. With the real worker bundle (dist/worker.js):
 * a spinning worker is killed at its request's deadline and replaced; a spinning worker whose parent dies
 * exits; a wasm trap is recognised (the worker then exits and the client starts a fresh one); absurd
 * requests get clear errors and leave the worker answering.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { LoupeError } from '../src/protocol/errors';
import { WorkerClient, WorkerExitedError } from '../src/host/workerClient';
import { isWasmTrap, trapError } from '../src/worker/wasmTrap';
import { makeFixtures, WORKER_JS, type Fixtures } from './workerFixtures';

const SPIN = path.resolve(__dirname, 'fixtures', 'trust', 'spin-on-describe.cjs');
let f: Fixtures;

before(async () => {
  assert.ok(fs.existsSync(WORKER_JS), 'dist/worker.js exists: run `node esbuild.mjs` first');
  f = await makeFixtures();
});

const gone = (pid: number) => { try { process.kill(pid, 0); return false; } catch { return true; } };

async function until(check: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

test('a worker spinning on a request is killed at the request\'s deadline, the call says so, and the next call gets a fresh worker', { timeout: 60_000 }, async () => {
  const client = new WorkerClient({
    workerPath: WORKER_JS, env: { ...process.env, NODE_OPTIONS: `--require ${SPIN}`, LOUPE_BACKEND: 'wasm', LOUPE_LANES: '1' },
    deadlinesMs: { quick: 3000 },
  });
  try {
    const hello = await client.start();
    const started = Date.now();
    await assert.rejects(client.describe(f.model), (e: unknown) => {
      assert.ok(e instanceof WorkerExitedError, String(e));
      assert.match(e.message, /passed its deadline of 3 s while describing model\.json/);
      return true;
    });
    assert.ok(Date.now() - started < 15_000);
    assert.ok(await until(() => gone(hello.pid), 3000), 'the spinning worker is gone');
    const again = await client.start();
    assert.notEqual(again.pid, hello.pid);
  } finally {
    await client.dispose();
  }
});

test('a worker spinning at 100% CPU exits when its parent dies (a watchdog thread, not the busy main thread)', { timeout: 60_000 }, async () => {
  const parentCode = `const w = require('node:child_process').fork(${JSON.stringify(WORKER_JS)}, [], { stdio: 'ignore', env: { ...process.env, NODE_OPTIONS: '--require ${SPIN}' } });
    setTimeout(() => { w.send({ jsonrpc: '2.0', id: 1, method: 'loupe/describe', params: { modelPath: 'x' } }); process.stdout.write(String(w.pid) + '\\n'); }, 1500);
    setInterval(() => {}, 1000);`;
  const parent = spawn(process.execPath, ['-e', parentCode], { stdio: ['ignore', 'pipe', 'inherit'] });
  const workerPid = await new Promise<number>((resolve) => parent.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
  await new Promise((r) => setTimeout(r, 1000)); // the worker is spinning now
  const cpu = fs.readFileSync(`/proc/${workerPid}/stat`, 'utf8').split(' ')[2];
  assert.equal(cpu, 'R', 'the worker is running (spinning)');
  parent.kill('SIGKILL');
  assert.ok(await until(() => gone(workerPid) || fs.readFileSync(`/proc/${workerPid}/stat`, 'utf8').split(' ')[2] === 'Z', 5000),
    'the orphaned spinning worker exited within 5 s');
});

test('a real WebAssembly trap is recognised, and the worker exits after replying (a fresh one serves the next request)', async () => {
  // (module (func (export "f") unreachable))
  const bytes = Uint8Array.from([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 5, 1, 1, 102, 0, 0, 10, 5, 1, 3, 0, 0, 11]);
  type Wasm = { instantiate(b: Uint8Array): Promise<{ instance: { exports: { f(): void } } }> };
  const { instance } = await (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly.instantiate(bytes);
  let trap: unknown;
  try { instance.exports.f(); } catch (e) { trap = e; }
  assert.ok(trap, 'the module trapped');
  assert.equal(isWasmTrap(trap), true);
  assert.equal(isWasmTrap(new Error('shapes do not match')), false);
  assert.equal(isWasmTrap(new LoupeError('BAD_REQUEST', 'unreachable code')), false);
  let exited = false;
  const err = trapError(trap, () => { exited = true; });
  assert.equal(err.code, 'BACKEND');
  assert.match(err.message, /a WebAssembly kernel failed \(unreachable\); this worker restarts with a fresh backend/);
  assert.equal(exited, false, 'the reply goes out first');
  assert.ok(await until(() => exited, 2000), 'then the worker exits');
});

test('absurd requests to the real worker get clear errors and the worker keeps answering', { timeout: 120_000 }, async () => {
  const client = new WorkerClient({ workerPath: WORKER_JS, env: { ...process.env, LOUPE_BACKEND: 'wasm', LOUPE_LANES: '1' } });
  after(() => client.dispose());
  const bad: Array<[object, RegExp]> = [
    [{ methods: ['smoothgrad'], params: { samples: 1e9 } }, /samples must be an integer/],
    [{ methods: ['ig'], params: { steps: 0 } }, /steps must be an integer/],
    [{ methods: ['occlusion'], params: { window: -8, stride: -1 } }, /window must be an integer/],
    [{ methods: ['no-such-method'] }, /unknown method 'no-such-method'/],
    [{ methods: ['gradcam'], layer: 'no_such_layer' }, /no_such_layer/],
    [{ methods: ['gradient'], params: JSON.parse('{"__proto__": {"seed": 1}}') }, /unknown parameter '__proto__'/],
  ];
  for (const [options, pattern] of bad) {
    await assert.rejects(client.explain(f.model, f.image, options as never), (e: unknown) => {
      assert.ok(e instanceof LoupeError && !(e instanceof WorkerExitedError), String(e));
      assert.equal(e.code, 'BAD_REQUEST', e.message);
      assert.match(e.message, pattern);
      return true;
    });
  }
  const pid = client.pid;
  const ok = await client.explain(f.model, f.image, { methods: ['gradient'] });
  assert.equal(ok.maps.length, 1);
  assert.ok(ok.maps[0]!.data.every(Number.isFinite));
  assert.equal(client.pid, pid, 'the same worker answered throughout');
});
