// HostWorkerClient against a fake worker process: the status it reports while starting, working and
// after a crash, and the backend the worker says it picked.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { HostWorkerClient } from '../src/host/hostClient';
import { WorkerExitedError } from '../src/host/workerClient';

const fake = path.join(import.meta.dirname, 'fixtures', 'host-fake-worker.cjs');

function client(mode: string, env: Record<string, string> = {}) {
  const states: string[] = [];
  const backends: string[] = [];
  const crashes: string[] = [];
  const c = new HostWorkerClient(
    { workerPath: fake, env: { ...process.env, FAKE_MODE: mode, ...env }, cancelGraceMs: 200 },
    { onState: (s) => states.push(s), onBackend: (b) => backends.push(b), onCrash: (m) => crashes.push(m) },
  );
  return { c, states, backends, crashes };
}

test('a first call reports starting, a second busy, both end idle; the backend comes from the worker', async () => {
  const { c, states, backends, crashes } = client('ok', { LOUPE_BACKEND: 'cpu' });
  try {
    const d = await c.describe('/m/model.json');
    assert.equal(d.path, '/m/model.json');
    await Promise.all([c.describe('/m/a.json'), c.describe('/m/b.json')]);
    assert.deepEqual(states, ['starting', 'idle', 'busy', 'busy', 'idle']);
    assert.deepEqual(backends, ['cpu']); // reported once per worker, not per call
    assert.equal(c.busy, false);
    assert.deepEqual(crashes, []);
  } finally {
    await c.dispose();
  }
});

test('a worker that dies during a call rejects it, reports a crash once, and the next call starts a new worker', async () => {
  const { c, states, crashes } = client('crash-on-describe');
  try {
    const first = await c.start();
    await assert.rejects(c.describe('/m/model.json'), (err: unknown) => err instanceof WorkerExitedError && /exited \(code 5\)/.test(err.message));
    assert.equal(crashes.length, 1);
    assert.match(crashes[0]!, /exited \(code 5\) while describing model\.json/);
    assert.equal(states.at(-1), 'error');
    const second = await c.start();
    assert.notEqual(second.pid, first.pid);
    assert.equal(states.at(-1), 'idle');
  } finally {
    await c.dispose();
  }
});

test('a worker that exits at start is a crash; stopping a worker on purpose is not', async () => {
  const crashing = client('crash');
  await assert.rejects(crashing.c.start(), /exited \(code 3\)/);
  assert.equal(crashing.crashes.length, 1);
  await crashing.c.dispose();

  const stopped = client('ok');
  await stopped.c.start();
  await stopped.c.stop('the test stopped it');
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(stopped.crashes, []);
  assert.equal(stopped.states.at(-1), 'idle');
  await stopped.c.dispose();
});
