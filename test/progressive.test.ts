// The progressive Explain panel's host logic (src/host/panels/progressive.ts) and its explanation cache
// (src/host/explainCache), against the real worker process on a small TF.js model. Oracles: the worker's
// own maps computed afresh (a cached map must equal them bit for bit, and differ when weights or
// preprocessing differ), file sizes on disk for the cap, the request log for "no worker call".
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExplainCache, forwardKey, mapKey } from '../src/host/explainCache/store';
import { fileHash, modelFingerprint } from '../src/host/explainCache/fingerprint';
import { ProgressiveExplanation, type Change, type ExplainBackend } from '../src/host/panels/progressive';
import { WorkerClient } from '../src/host/workerClient';
import type { AttributionOutput } from '../src/engine/types';
import type { ExplainOptions, MethodId } from '../src/protocol/types';
import { tempDir } from './helpers/models';
import { makeFixtures, WORKER_JS, type Fixtures } from './workerFixtures';

const METHODS: MethodId[] = ['smoothgrad', 'gradient', 'ig', 'guided-backprop', 'gradcam'];
const BASE: Omit<ExplainOptions, 'methods'> = { topK: 3, params: { samples: 6, steps: 8 } };

let fx: Fixtures;
let client: WorkerClient;
const calls: string[] = [];
const logs: string[] = [];

/** The worker as the panel uses it, with every call recorded. */
function backendFor(modelPath: string, imagePath: string, extra: Partial<ExplainOptions> = {}): ExplainBackend {
  return {
    forward: async (signal) => {
      calls.push('forward');
      return client.forward(modelPath, imagePath, { topK: 3, ...(extra.preprocessing ? { preprocessing: extra.preprocessing } : {}) }, { signal });
    },
    explain: async (options, signal, onProgress) => {
      calls.push(`explain ${options.methods.join(',')}${options.sanity ? ' sanity' : ''}`);
      const r = await client.explain(modelPath, imagePath, options, { signal, onProgress });
      return r.maps[0] ? { map: r.maps[0] } : { skipped: r.summary.skipped[0]?.reason ?? '' };
    },
  };
}

function explanation(cache: ExplainCache, opts: {
  classIndex?: number; preprocessing?: ExplainOptions['preprocessing']; model?: string; changes?: Change[]; params?: ExplainOptions['params'];
} = {}) {
  const model = opts.model ?? fx.model;
  const base = { ...BASE, ...(opts.params ? { params: opts.params } : {}), ...(opts.preprocessing ? { preprocessing: opts.preprocessing } : {}) };
  return new ProgressiveExplanation({ modelPath: model, imagePath: fx.image, ...(opts.classIndex !== undefined ? { classIndex: opts.classIndex } : {}) }, base, {
    backend: backendFor(model, fx.image, base),
    cache,
    fingerprints: async () => ({ model: await modelFingerprint(model), image: (await fileHash(fx.image))! }),
    log: (line) => logs.push(line),
    onChange: (c) => opts.changes?.push(c),
  });
}

function same(a: AttributionOutput, b: AttributionOutput): boolean {
  return a.data.length === b.data.length && a.data.every((v, i) => Object.is(v, b.data[i])) && a.display.every((v, i) => Object.is(v, b.display[i]));
}

before(async () => {
  fx = await makeFixtures();
  client = new WorkerClient({ workerPath: WORKER_JS, backend: 'wasm', log: (line) => logs.push(line), env: { ...process.env, LOUPE_LANES: '1' } });
});

after(async () => {
  await client?.dispose();
  fs.rmSync(fx.dir, { recursive: true, force: true });
});

describe('progressive explanation', { timeout: 240_000 }, () => {
  it('shows the predictions first, then the maps cheapest first; a second run is all from the cache with no worker call', async () => {
    const cache = new ExplainCache({ root: tempDir('loupe-cache-'), maxBytes: 64e6 });
    const changes: Change[] = [];
    const e = explanation(cache, { changes });
    const seen: string[] = [];
    const order: MethodId[] = [];
    const abort = new AbortController();
    calls.length = 0;
    await e.compute(METHODS, abort.signal, { sanity: 'off' });
    // Calls in the order made: the forward pass, then cheapest first (not the order asked for).
    assert.deepEqual(calls, ['forward', 'explain gradient', 'explain gradcam', 'explain guided-backprop', 'explain smoothgrad', 'explain ig']);
    for (const m of e.maps.keys()) order.push(m);
    assert.deepEqual(order, ['gradient', 'gradcam', 'guided-backprop', 'smoothgrad', 'ig']);
    assert.ok(changes.length > 0);
    seen.push(...order);
    assert.equal(e.forward?.predictions.length, 3);
    assert.equal(e.pending.size, 0);
    for (const m of e.maps.values()) assert.equal(m.output.summary.figures.sanitySpearman, undefined, 'sanity off: no check ran');
    // The worker reused its forward pass for every map (one per request would be five more).
    assert.ok(logs.filter((l) => /forward pass of sample\.png reused/.test(l)).length >= METHODS.length, logs.join('\n'));
    await cache.flush();

    // Same key again, with a new memory (a window reload): every map from disk, identical, and no call at all.
    cache.clearMemory();
    calls.length = 0;
    const again = explanation(cache);
    await again.compute(METHODS, new AbortController().signal, { sanity: 'off' });
    assert.deepEqual(calls, []);
    assert.equal(again.workerCalls, 0);
    assert.ok(again.forwardFromCache);
    for (const m of METHODS) {
      assert.ok(again.maps.get(m)?.fromCache, `${m} not from the cache`);
      assert.ok(same(again.maps.get(m)!.output, e.maps.get(m)!.output), `${m}: the cached map differs from the computed one`);
    }

    // Another class: the forward pass from the cache, only the maps computed.
    calls.length = 0;
    const other = explanation(cache, { classIndex: (e.forward!.predictions[1]!.index) });
    await other.compute(['gradient'], new AbortController().signal);
    assert.deepEqual(calls, ['explain gradient']);
    assert.equal(other.maps.get('gradient')!.output.summary.targetClass, e.forward!.predictions[1]!.index);
    assert.ok(logs.some((l) => /forward pass of .* from the cache/.test(l)));
  });

  it('sanity modes: afterMaps checks every map after all are shown; onDemand only the one asked for', async () => {
    const cache = new ExplainCache({ root: undefined, maxBytes: 0 });
    calls.length = 0;
    const after = explanation(cache);
    await after.compute(['gradient', 'gradcam'], new AbortController().signal, { sanity: 'afterMaps' });
    assert.deepEqual(calls, ['forward', 'explain gradient', 'explain gradcam', 'explain gradient sanity', 'explain gradcam sanity']);
    for (const m of after.maps.values()) assert.equal(typeof m.output.summary.figures.sanitySpearman, 'number');
    assert.match(after.sanity?.text ?? '', /^Sanity check done: 2 maps/);

    calls.length = 0;
    const onDemand = explanation(new ExplainCache({ root: undefined, maxBytes: 0 }));
    await onDemand.compute(['gradient', 'gradcam'], new AbortController().signal, { sanity: 'onDemand' });
    assert.ok([...onDemand.maps.values()].every((m) => m.output.summary.figures.sanitySpearman === undefined));
    await onDemand.sanityCheck(['gradcam'], new AbortController().signal);
    assert.equal(typeof onDemand.maps.get('gradcam')!.output.summary.figures.sanitySpearman, 'number');
    assert.equal(onDemand.maps.get('gradient')!.output.summary.figures.sanitySpearman, undefined);
    // The check's rank correlation is the worker's own (same request made directly).
    const direct = await client.explain(fx.model, fx.image, { ...BASE, methods: ['gradcam'], classIndex: onDemand.classIndex!, sanity: true });
    assert.equal(onDemand.maps.get('gradcam')!.output.summary.figures.sanitySpearman, direct.maps[0]!.summary.figures.sanitySpearman);
  });

  it('a damaged entry on disk is computed again by the worker and stored whole again', async () => {
    const root = tempDir('loupe-cache-');
    const cache = new ExplainCache({ root, maxBytes: 64e6 });
    const first = explanation(cache);
    await first.compute(['gradient'], new AbortController().signal);
    await cache.flush();
    const entries = fs.readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && e.name === 'data.bin');
    assert.equal(entries.length, 1, 'one map entry on disk');
    const data = path.join(entries[0]!.parentPath, 'data.bin');
    fs.writeFileSync(data, fs.readFileSync(data).subarray(0, 100)); // a write cut short
    cache.clearMemory();
    calls.length = 0;
    const again = explanation(cache);
    await again.compute(['gradient'], new AbortController().signal);
    assert.deepEqual(calls, ['explain gradient'], 'the forward pass from the cache, the damaged map from the worker');
    assert.ok(same(again.maps.get('gradient')!.output, first.maps.get('gradient')!.output));
    await cache.flush();
    cache.clearMemory();
    calls.length = 0;
    const third = explanation(cache);
    await third.compute(['gradient'], new AbortController().signal);
    assert.deepEqual(calls, [], 'the rewritten entry is read back');
    assert.ok(same(third.maps.get('gradient')!.output, first.maps.get('gradient')!.output));
  });

  it('a head start asks for the first map before the forward pass is back; the map is the one computed after it', async () => {
    const e = explanation(new ExplainCache({ root: undefined, maxBytes: 0 }));
    const backend = (e as unknown as { deps: { backend: ExplainBackend } }).deps.backend;
    const forward = backend.forward.bind(backend);
    const events: string[] = [];
    backend.forward = async (signal) => {
      const f = await forward(signal);
      events.push('forward back');
      return f;
    };
    const explain = backend.explain.bind(backend);
    backend.explain = (options, signal, onProgress) => {
      events.push(`explain ${options.methods.join(',')} asked${options.classIndex === undefined ? ' (top-1)' : ` (class ${options.classIndex})`}`);
      return explain(options, signal, onProgress);
    };
    await e.ensureForward(new AbortController().signal, false, 'gradient');
    await e.compute(['gradient', 'gradcam'], new AbortController().signal);
    assert.deepEqual(events, ['explain gradient asked (top-1)', 'forward back', `explain gradcam asked (class ${e.forward!.predictions[0]!.index})`]);
    assert.equal(e.workerCalls, 3);
    assert.equal(e.maps.get('gradient')!.output.summary.targetClass, e.forward!.predictions[0]!.index);

    // The same map asked the ordinary way (the class known from the forward pass) is identical.
    const plain = explanation(new ExplainCache({ root: undefined, maxBytes: 0 }));
    await plain.compute(['gradient'], new AbortController().signal);
    assert.ok(same(plain.maps.get('gradient')!.output, e.maps.get('gradient')!.output));

    // A head-started map cancelled before the run reaches it is computed afresh when asked again.
    const c = explanation(new ExplainCache({ root: undefined, maxBytes: 0 }));
    await c.ensureForward(new AbortController().signal, false, 'gradient');
    c.enqueue(['gradient']);
    c.cancelMethod('gradient');
    await c.compute(['gradient'], new AbortController().signal);
    assert.ok(same(c.maps.get('gradient')!.output, plain.maps.get('gradient')!.output), 'the map asked again after the cancel');
  });

  it('a map cancelled on its own stops; the maps after it are still computed', async () => {
    // 5,000 samples take many seconds on this model: the cancel lands while SmoothGrad runs.
    const e = explanation(new ExplainCache({ root: undefined, maxBytes: 0 }), { params: { samples: 5000, steps: 8 } });
    const abort = new AbortController();
    // Cancel SmoothGrad as soon as it reports progress.
    const base = (e as unknown as { deps: { onChange: (c: Change) => void } }).deps;
    base.onChange = (c) => { if (c.kind === 'progress' && c.method === 'smoothgrad') e.cancelMethod('smoothgrad'); };
    await e.compute(['gradient', 'smoothgrad', 'ig'], abort.signal);
    assert.equal(e.pending.get('smoothgrad')?.status, 'cancelled');
    assert.ok(e.maps.has('gradient') && e.maps.has('ig'));
    assert.ok(!e.maps.has('smoothgrad'));
    assert.ok(logs.some((l) => /smoothgrad of .*: cancelled/.test(l)));
  });
});

describe('explanation cache', () => {
  const output = (n: number, seed: number): AttributionOutput => ({
    summary: { method: 'gradient', params: {}, targetClass: 0, label: 'a', target: 'logit', logit: 1, probability: 0.5, ms: 1, backend: 'wasm',
      shape: [n], signed: false, figures: {}, notes: [] },
    data: Float32Array.from({ length: n }, (_, i) => Math.sin(i + seed)),
    display: Float32Array.from({ length: n }, (_, i) => Math.cos(i + seed)),
  });
  const key = (i: number) => mapKey({ image: 'img', preprocessing: undefined, classIndex: i, method: 'gradient', params: {}, layer: undefined, target: 'logit' });

  it('ignores a damaged or half-written entry and rewrites it', async () => {
    const root = tempDir('loupe-cache-');
    const cache = new ExplainCache({ root, maxBytes: 1e7 });
    await cache.putMap('fp', key(1), output(100, 1));
    const dir = fs.readdirSync(path.join(root, 'fp')).map((d) => path.join(root, 'fp', d))[0]!;
    // Truncated array file.
    fs.truncateSync(path.join(dir, 'data.bin'), 10);
    cache.clearMemory();
    assert.equal(await cache.getMap('fp', key(1)), undefined);
    // Same length, other bytes.
    await cache.putMap('fp', key(1), output(100, 1));
    cache.clearMemory();
    const bytes = fs.readFileSync(path.join(dir, 'display.bin'));
    bytes[7] = bytes[7]! ^ 0xff;
    fs.writeFileSync(path.join(dir, 'display.bin'), bytes);
    assert.equal(await cache.getMap('fp', key(1)), undefined);
    // Broken JSON.
    await cache.putMap('fp', key(1), output(100, 1));
    cache.clearMemory();
    fs.writeFileSync(path.join(dir, 'entry.json'), '{"kind": "map", "meta"');
    assert.equal(await cache.getMap('fp', key(1)), undefined);
    // Rewritten: read back whole.
    await cache.putMap('fp', key(1), output(100, 1));
    cache.clearMemory();
    const back = await cache.getMap('fp', key(1));
    assert.ok(back && back.data.every((v, i) => v === Math.fround(Math.sin(i + 1))));
    // A folder left half-written by a killed run (no entry.json) is never read.
    fs.mkdirSync(path.join(root, 'fp', 'x'.repeat(24)));
    fs.writeFileSync(path.join(root, 'fp', 'x'.repeat(24), 'data.bin'), 'partial');
    assert.equal(await cache.getMap('fp', 'x'.repeat(24)), undefined);
  });

  it('holds its size cap, least recently used out', async () => {
    const root = tempDir('loupe-cache-');
    const per = 2 * 4 * 1000; // data + display
    const cache = new ExplainCache({ root, maxBytes: per * 3 + 2000 });
    const du = (): number => {
      let n = 0;
      const walk = (d: string): void => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          if (e.isDirectory()) walk(path.join(d, e.name));
          else n += fs.statSync(path.join(d, e.name)).size;
        }
      };
      walk(root);
      return n;
    };
    for (let i = 0; i < 3; i++) {
      await cache.putMap('fp', key(i), output(1000, i));
      await new Promise((r) => setTimeout(r, 20)); // distinct mtimes
    }
    cache.clearMemory();
    assert.ok(await cache.getMap('fp', key(0)), 'entry 0 read: now the most recently used');
    await new Promise((r) => setTimeout(r, 20));
    await cache.putMap('fp', key(3), output(1000, 3));
    await cache.putMap('fp', key(4), output(1000, 4));
    assert.ok(du() <= per * 3 + 2000, `${du()} bytes on disk over the cap`);
    cache.clearMemory();
    assert.ok(await cache.getMap('fp', key(0)), 'the entry read last survived');
    assert.equal(await cache.getMap('fp', key(1)), undefined, 'the least recently used went first');
    assert.equal(await cache.getMap('fp', key(2)), undefined);
    assert.ok(await cache.getMap('fp', key(4)));
  });

  it('never returns a map for other weights or other preprocessing', async () => {
    const root = tempDir('loupe-cache-');
    const cache = new ExplainCache({ root, maxBytes: 64e6 });
    const first = explanation(cache);
    await first.compute(['gradient'], new AbortController().signal);
    await cache.flush();

    // Other preprocessing (the loupe.preprocessing override): a new key, and the worker's own map for it.
    const pre = { range: [-1, 1] as [number, number] };
    calls.length = 0;
    const shifted = explanation(cache, { preprocessing: pre });
    await shifted.compute(['gradient'], new AbortController().signal);
    assert.deepEqual(calls, ['forward', 'explain gradient']);
    assert.ok(!same(shifted.maps.get('gradient')!.output, first.maps.get('gradient')!.output), 'the preprocessing changes the map');

    // Other weights in the same file: a new fingerprint, and the map the worker computes for them.
    const shard = path.join(path.dirname(fx.model), JSON.parse(fs.readFileSync(fx.model, 'utf8')).weightsManifest[0].paths[0]);
    const original = fs.readFileSync(shard);
    const changed = Buffer.from(original);
    const floats = new Float32Array(changed.buffer, changed.byteOffset, changed.length / 4);
    for (let i = 0; i < floats.length; i++) floats[i] = floats[i]! * 1.5;
    fs.writeFileSync(shard, changed);
    fs.utimesSync(fx.model, new Date(), new Date(Date.now() + 5000)); // the worker reloads on model.json's mtime
    try {
      calls.length = 0;
      const retrained = explanation(cache);
      await retrained.compute(['gradient'], new AbortController().signal);
      assert.deepEqual(calls, ['forward', 'explain gradient']);
      assert.ok(!same(retrained.maps.get('gradient')!.output, first.maps.get('gradient')!.output), 'new weights, new map');
    } finally {
      fs.writeFileSync(shard, original);
      fs.utimesSync(fx.model, new Date(), new Date(Date.now() + 10000));
    }
    assert.notEqual(forwardKey({ image: 'a', preprocessing: pre, topK: 3 }), forwardKey({ image: 'a', preprocessing: undefined, topK: 3 }));
  });
});

describe('settings', () => {
  it('loupe.sanityCheck defaults to onDemand; an unknown mode falls back to it and says so', async () => {
    const { parseConfig } = await import('../src/host/config');
    assert.equal(parseConfig(() => undefined).sanityCheck, 'onDemand');
    assert.equal(parseConfig((k) => (k === 'sanityCheck' ? 'afterMaps' : undefined)).sanityCheck, 'afterMaps');
    const bad = parseConfig((k) => (k === 'sanityCheck' ? 'always' : undefined));
    assert.equal(bad.sanityCheck, 'onDemand');
    assert.match(bad.problems.join('\n'), /loupe\.sanityCheck: expected one of off, onDemand, afterMaps/);
  });
});

describe('worker memory', () => {
  it('keeps the model in use and keepModels more; the others are dropped (and reloaded when asked for again)', async () => {
    const { Engine } = await import('../src/engine/engine');
    const others = [await makeFixtures(), await makeFixtures()];
    const lines: string[] = [];
    const engine = await Engine.create({ backend: 'wasm', lanes: 1, keepModels: 1, log: (l) => lines.push(l) });
    try {
      const [a, b, c] = [fx.model, others[0]!.model, others[1]!.model].map((m) => path.resolve(m));
      await engine.describe(a!);
      await engine.describe(b!);
      assert.deepEqual(engine.loadedModels(), [a, b]);
      await engine.describe(a!); // a is now the most recently used
      await engine.describe(c!);
      assert.deepEqual(engine.loadedModels(), [a, c], 'the least recently used model (b) should have been dropped');
      assert.ok(lines.some((l) => l.startsWith(`dropping ${path.basename(b!)} from memory`)), lines.join('\n'));
      // A dropped model still answers: it is loaded again, and the predictions are the same as before.
      const first = await engine.predict(b!, fx.image, 3);
      assert.deepEqual(engine.loadedModels(), [c, b]);
      const zero = await Engine.create({ backend: 'wasm', lanes: 1, keepModels: 0 });
      try {
        await zero.describe(a!);
        await zero.describe(b!);
        assert.deepEqual(zero.loadedModels(), [b]);
        assert.deepEqual(await zero.predict(b!, fx.image, 3), first);
      } finally {
        zero.forget();
        zero.lanes.stop();
      }
    } finally {
      engine.forget();
      engine.lanes.stop();
      for (const o of others) fs.rmSync(o.dir, { recursive: true, force: true });
    }
  });
});
