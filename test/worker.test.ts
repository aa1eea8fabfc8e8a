/**
 * The worker as a real child process (dist/worker.js, build first): its answers equal the engine's
 * in-process answers, bad inputs come back as LoupeErrors naming the file without hurting the
 * worker, a killed worker fails its pending call clearly and is replaced, and cancellation is prompt.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { saveMobileNetV2 } from '../bench/mobilenetv2';
import { Engine } from '../src/engine/engine';
import { LoupeError } from '../src/protocol/errors';
import { WorkerClient, WorkerExitedError } from '../src/host/workerClient';
import type { ExplainOptions } from '../src/protocol/types';
import { CAM_SHAPE, INPUT_SHAPE, makeBadInputs, makeFixtures, WORKER_JS, type Fixtures } from './workerFixtures';

const BACKEND = 'wasm' as const;

function newClient(logs: string[] = []): WorkerClient {
  return new WorkerClient({ workerPath: WORKER_JS, backend: BACKEND, log: (line) => logs.push(line) });
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol = 1e-5): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!));
  for (let i = 0; i < expected.length; i++) {
    if (Math.abs(actual[i]! - expected[i]!) > tol * Math.max(scale, 1e-12)) {
      assert.fail(`${what}[${i}]: worker ${actual[i]} vs in-process ${expected[i]}`);
    }
  }
}

describe('worker process', () => {
  let f: Fixtures;
  let engine: Engine;
  let client: WorkerClient;
  const logs: string[] = [];

  before(async () => {
    assert.ok(fs.existsSync(WORKER_JS), 'dist/worker.js is missing: run `node esbuild.mjs` first');
    f = await makeFixtures();
    engine = await Engine.create({ backend: BACKEND });
    client = newClient(logs);
  });
  after(async () => {
    await client?.dispose();
    fs.rmSync(f.dir, { recursive: true, force: true });
  });

  test('hello reports the backend asked for and a live pid', async () => {
    const hello = await client.start();
    assert.equal(hello.backend, BACKEND);
    assert.equal(hello.pid, client.pid);
    assert.notEqual(hello.pid, process.pid);
    assert.match(hello.versions.tfjs, /^\d+\.\d+\.\d+/);
    process.kill(hello.pid, 0); // throws if no such process
  });

  test('describe and predict equal the in-process engine', async () => {
    const d = await client.describe(f.model);
    assert.deepEqual(d, await engine.describe(f.model));
    assert.deepEqual(d.inputShape, [...INPUT_SHAPE]);
    assert.deepEqual(d.layers.map((l) => l.name).filter((n) => f.layerNames.includes(n)), f.layerNames);

    const p = await client.predict(f.model, f.image, 3);
    const q = await engine.predict(f.model, f.image, 3);
    assert.deepEqual(p.map((x) => x.index), q.map((x) => x.index));
    assertClose(p.map((x) => x.probability), q.map((x) => x.probability), 'probabilities');
    assertClose(p.map((x) => x.logit), q.map((x) => x.logit), 'logits');
    // An independent property: the probabilities of all classes sum to 1.
    const all = await client.predict(f.model, f.image, 3);
    assert.ok(Math.abs(all.reduce((s, x) => s + x.probability, 0) - 1) < 1e-5);
  });

  test('explain equals the in-process engine, map by map, and reports progress', async () => {
    const options: ExplainOptions = { methods: ['gradient', 'ig', 'smoothgrad', 'gradcam'], params: { samples: 8, steps: 16, seed: 3, maxBatch: 1 } };
    // maxBatch 1: the engine sizes batches by timing and draws noise per batch, so larger batches
    // make SmoothGrad depend on timing (reported to the lead); one sample per batch is reproducible.
    const fractions: number[] = [];
    const outDir = path.join(f.dir, 'worker-out');
    const got = await client.explain(f.model, f.image, options, { outDir, onProgress: (fr) => fractions.push(fr) });
    const want = await engine.explain(f.model, f.image, options);

    assert.deepEqual(got.summary.predictions.map((p) => p.index), want.summary.predictions.map((p) => p.index));
    assert.deepEqual(got.maps.map((m) => m.summary.method), ['gradient', 'ig', 'smoothgrad', 'gradcam']);
    for (const [i, m] of got.maps.entries()) {
      const w = want.maps[i]!;
      const what = m.summary.method;
      assert.deepEqual(m.summary.shape, w.summary.shape, `${what}: shape`);
      assert.equal(m.data.length, m.summary.shape.reduce((a, b) => a * b, 1), `${what}: data matches its shape`);
      assertClose(m.data, w.data, `${what} data`);
      assertClose(m.display, w.display, `${what} display`);
      if (w.lowres) assertClose(m.lowres!, w.lowres, `${what} lowres`);
      else assert.equal(m.lowres, undefined);
    }
    assert.deepEqual(got.maps[0]!.summary.shape, [...INPUT_SHAPE]);
    assert.deepEqual(got.maps[3]!.summary.lowresShape, [...CAM_SHAPE]);
    // The display image crosses as bytes: equal to the engine's after rounding.
    assert.equal(got.image.width, want.image.width);
    assert.ok(got.image.data.every((v, i) => v === Math.max(0, Math.min(255, Math.round(want.image.data[i]!)))));

    assert.ok(got.written && got.written.length > 0, 'outDir given: the worker reports the files it wrote');
    for (const file of got.written) assert.ok(fs.existsSync(file), `${file} exists`);
    assert.ok(got.written.some((w) => w.endsWith('summary.json')));
    assert.ok(fractions.length > 0, 'progress notifications arrived');
    assert.ok(fractions.every((x, i) => x >= 0 && x <= 1 && (i === 0 || x >= fractions[i - 1]!)), 'progress is monotone in [0, 1]');
  });

  test('bad inputs reject with the right code and file; the same worker then answers', async () => {
    const pid = (await client.start()).pid;
    const good = await engine.predict(f.model, f.image, 1);
    for (const bad of makeBadInputs(f)) {
      await assert.rejects(client.predict(bad.model, bad.image, 1), (err: unknown) => {
        assert.ok(err instanceof LoupeError, `${bad.name}: a LoupeError, got ${err}`);
        assert.equal(err.code, bad.code, `${bad.name}: ${err.message}`);
        assert.equal(err.file, bad.file, `${bad.name}: file`);
        assert.ok(err.message.includes(bad.file), `${bad.name}: the message names the file: ${err.message}`);
        return true;
      });
      // The rebuilt error equals the engine's own error for the same input.
      const local = await engine.predict(bad.model, bad.image, 1).then(() => undefined, (e: LoupeError) => e);
      const remote = await client.predict(bad.model, bad.image, 1).then(() => undefined, (e: LoupeError) => e);
      assert.equal(remote?.message, local?.message, `${bad.name}: same message as in-process`);
      assert.equal(remote?.hint, local?.hint);

      const next = await client.predict(f.model, f.image, 1);
      assert.equal(next[0]!.index, good[0]!.index, `after ${bad.name}: a good request still works`);
      assert.equal(client.pid, pid, `after ${bad.name}: same worker process`);
    }
    // A malformed request is refused, not fatal.
    await assert.rejects(client.explain(f.model, f.image, { methods: [] }), (e: unknown) => e instanceof LoupeError && e.code === 'BAD_REQUEST');
    await assert.rejects(client.predict('', f.image), (e: unknown) => e instanceof LoupeError && e.code === 'BAD_REQUEST');
    assert.equal(client.pid, pid);
  });

  test('SIGKILL mid-request rejects the pending call clearly; the next call gets a new worker', async () => {
    const oldPid = (await client.start()).pid;
    let killed = false;
    const pending = client.explain(f.model, f.image, { methods: ['smoothgrad'], params: { samples: 400, maxBatch: 2 } }, {
      onProgress: () => {
        if (!killed) {
          killed = true;
          process.kill(oldPid, 'SIGKILL');
        }
      },
    });
    await assert.rejects(pending, (err: unknown) => {
      assert.ok(err instanceof WorkerExitedError, `a WorkerExitedError, got ${err}`);
      assert.equal(err.signal, 'SIGKILL');
      assert.match(err.message, /the Loupe worker exited \(signal SIGKILL\) while explaining sample\.png with model\.json/);
      return true;
    });
    assert.ok(killed);
    const p = await client.predict(f.model, f.image, 1);
    assert.equal(p.length, 1);
    assert.ok(client.pid !== undefined && client.pid !== oldPid, 'a fresh worker');
    assert.throws(() => process.kill(oldPid, 0), 'the old worker is gone');
  });

  test('an aborted signal before the call rejects with CANCELLED and starts nothing', async () => {
    const idle = newClient();
    try {
      await assert.rejects(idle.describe(f.model, { signal: AbortSignal.abort() }),
        (e: unknown) => e instanceof LoupeError && e.code === 'CANCELLED');
      assert.equal(idle.pid, undefined);
    } finally {
      await idle.dispose();
    }
  });

  test('idle timeout stops the worker; the next call restarts it', async () => {
    const idle = new WorkerClient({ workerPath: WORKER_JS, backend: BACKEND, idleTimeoutMs: 300 });
    try {
      const first = (await idle.start()).pid;
      await new Promise((r) => setTimeout(r, 800));
      assert.equal(idle.pid, undefined, 'stopped after 300 ms idle');
      assert.throws(() => process.kill(first, 0), 'the process is gone');
      await idle.predict(f.model, f.image, 1);
      assert.notEqual(idle.pid, first);
    } finally {
      await idle.dispose();
    }
    await assert.rejects(idle.predict(f.model, f.image), /disposed/);
  });

  test('the worker exits when its parent dies', async () => {
    // A parent that forks the worker, reports the worker's pid, then waits to be killed.
    const parentCode = `const w = require('node:child_process').fork(${JSON.stringify(WORKER_JS)}, [], { stdio: 'ignore' });
      process.stdout.write(String(w.pid) + '\\n'); setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['-e', parentCode], { stdio: ['ignore', 'pipe', 'inherit'] });
    const workerPid = await new Promise<number>((resolve) => parent.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
    process.kill(workerPid, 0);
    parent.kill('SIGKILL');
    const deadline = Date.now() + 3000;
    let alive = true;
    while (alive && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      try { process.kill(workerPid, 0); } catch { alive = false; }
    }
    assert.equal(alive, false, 'the orphaned worker exited within 3 s');
  });

  test('once a model is described, its SmoothGrad samples spread over the lanes (dist/lane.js) and equal the in-process engine\'s', { timeout: 120_000 }, async (t) => {
    const model = path.resolve('demo/shapes/model/model.json');
    const image = path.resolve('demo/images', fs.readdirSync('demo/images').find((n) => n.startsWith('shape-'))!);
    const options: ExplainOptions = { methods: ['smoothgrad'], params: { samples: 64 } };
    const threads = Math.min(os.availableParallelism(), 4);
    await client.describe(model); // starts the lanes loading the model, in the background
    const want = await Engine.create({ backend: BACKEND, lanes: 1 }).then((e) => e.explain(model, image, options));
    let got = await client.explain(model, image, options);
    for (const deadline = Date.now() + 20_000; got.maps[0]!.summary.figures.threads !== threads && Date.now() < deadline;) {
      got = await client.explain(model, image, options);
    }
    t.diagnostic(`SmoothGrad-64 on ${got.maps[0]!.summary.figures.threads} threads (${os.availableParallelism()} cores)`);
    assert.equal(got.maps[0]!.summary.figures.threads, threads, 'the worker\'s lanes never took part');
    assertClose(got.maps[0]!.data, want.maps[0]!.data, 'SmoothGrad over the lanes');
    await client.forget(model);
  });

  test('SmoothGrad-50 on MobileNetV2, cancelled after 0.5 s, settles CANCELLED within 500 ms and stops computing; the worker goes on', { timeout: 120_000 }, async (t) => {
    const dir = path.join(f.dir, 'mobilenetv2');
    const model = await saveMobileNetV2(dir);
    const image = path.join(f.dir, 'sample.png');
    await client.describe(model); // load outside the timed part
    const pid = (await client.start()).pid;

    const controller = new AbortController();
    const started = Date.now();
    let abortedAt = 0;
    const timer = setTimeout(() => { abortedAt = Date.now(); controller.abort(); }, 500);
    const outcome = await client.explain(model, image, { methods: ['smoothgrad'], params: { samples: 50 } }, { signal: controller.signal })
      .then(() => 'finished', (e: unknown) => e);
    const settledAt = Date.now();
    clearTimeout(timer);
    assert.ok(abortedAt > 0, `the run finished before the cancel (${settledAt - started} ms): not a cancellation test`);
    assert.ok(outcome instanceof LoupeError && outcome.code === 'CANCELLED', `CANCELLED, got ${String(outcome)}`);
    const latency = settledAt - abortedAt;
    t.diagnostic(`cancel latency ${latency} ms`);
    assert.ok(latency <= 500, `settled ${latency} ms after the cancel (limit 500 ms)`);
    assert.equal(client.pid, pid, 'the worker stopped by itself (not killed)');
    // The lanes stop too, at their next batch: 300 ms on, the worker process is idle.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const cpuMs = () => {
      const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
    };
    const cpu0 = cpuMs();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const busy = cpuMs() - cpu0;
    t.diagnostic(`worker CPU in the 500 ms after: ${busy} ms`);
    assert.ok(busy <= 100, `the worker used ${busy} ms of CPU in the 500 ms after the cancel: still computing`);

    const p = await client.predict(f.model, f.image, 1);
    assert.equal(p.length, 1);
    assert.equal(client.pid, pid);
    await client.forget(model);
  });
});

describe('worker process on ONNX Runtime', () => {
  test('runs ONNX Runtime; a native crash mid-run (SIGSEGV) fails that call clearly and the next call works on a fresh worker', async () => {
    const f = await makeFixtures();
    const client = new WorkerClient({ workerPath: WORKER_JS, backend: 'onnxruntime', log: () => undefined });
    try {
      const hello = await client.start();
      assert.equal(hello.backend, 'onnxruntime');
      const oldPid = hello.pid;
      const options: ExplainOptions = { methods: ['smoothgrad'], params: { samples: 400, maxBatch: 2 } };
      let crashed = false;
      const pending = client.explain(f.model, f.image, options, {
        onProgress: () => {
          if (!crashed) {
            crashed = true;
            process.kill(oldPid, 'SIGSEGV');
          }
        },
      });
      await assert.rejects(pending, (err: unknown) => {
        assert.ok(err instanceof WorkerExitedError, `a WorkerExitedError, got ${err}`);
        assert.equal(err.signal, 'SIGSEGV');
        return true;
      });
      const result = await client.explain(f.model, f.image, { methods: ['gradient'] });
      assert.equal(result.summary.backend, 'onnxruntime');
      assert.ok(client.pid !== undefined && client.pid !== oldPid, 'a fresh worker');
      const engine = await Engine.create({ backend: 'onnxruntime' });
      const local = await engine.explain(f.model, f.image, { methods: ['gradient'] });
      assertClose(result.maps[0]!.data, local.maps[0]!.data, 'worker vs in-process gradient on ONNX Runtime');
    } finally {
      await client.dispose();
      fs.rmSync(f.dir, { recursive: true, force: true });
    }
  });
});
