/**
 * A lane: a worker thread of the engine's process that computes ranges of SmoothGrad / IG samples
 * (see pool.ts). It loads the caller's model from its file, once, and checks that it got the same
 * weights (fingerprint) before it computes anything.
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { createMessageConnection, PortMessageReader, PortMessageWriter, ResponseError, type CancellationToken } from 'vscode-jsonrpc/node';
import { initBackend } from '../backend';
import { DEFAULT_PARAMS } from '../params';
import { loadModel, type LoadedModel } from '../model/loader';
import { SampleQueue } from '../attribution/score';
import type { SampleContext, WeightsVariant } from '../attribution/types';
import type { WeightStore } from '../model/weightStore';
import { randomizeTopLayers } from '../sanity';
import { sumLocally } from './gradientSums';
import { LanePrepareRequest, LaneSumRequest, STALE_MODEL, type LaneModel } from './messages';
import { SAMPLERS } from './samplers';

if (!parentPort) throw new Error('laneMain.ts runs as a worker thread of the Loupe engine');
// TF.js's banners must not reach a CLI's stdout.
console.log = console.info = (...args: unknown[]) => process.stderr.write(`[loupe-lane] ${args.map(String).join(' ')}\n`);

// Requests may overlap (a run ends while the lane still loads, the next one asks again; a cancelled
// sum finishes its batch while the next run starts): one backend start and one load per model, and a
// model replaced by another is disposed only once no request uses it.
interface Entry {
  key: string;
  model: Promise<LoadedModel>;
  users: number;
  replaced: boolean;
  /** Derived weights (the sanity check's), built once per variant from this model. */
  variants: Map<string, WeightStore>;
}
const MAX_VARIANTS = 4;
let backend: Promise<unknown> | undefined;
let current: Entry | undefined;

/** The model, loaded once per path + fingerprint; the caller must release() the entry. */
async function acquire(m: LaneModel): Promise<{ entry: Entry; model: LoadedModel }> {
  await (backend ??= initBackend(m.backend));
  const key = `${m.modelPath}\n${m.fingerprint}`;
  if (current?.key !== key) {
    if (current) {
      current.replaced = true;
      if (current.users === 0) dispose(current);
    }
    current = { key, model: load(m), users: 0, replaced: false, variants: new Map() };
  }
  const entry = current;
  entry.users++;
  try {
    return { entry, model: await entry.model };
  } catch (err) {
    release(entry);
    if (current === entry) current = undefined; // the next request tries again
    throw err;
  }
}

function release(entry: Entry): void {
  if (--entry.users === 0 && entry.replaced) dispose(entry);
}

function dispose(entry: Entry): void {
  for (const store of entry.variants.values()) store.dispose();
  entry.model.then((model) => model.dispose(), () => undefined);
}

/** The weights a request asks for: the model's own, or a variant rebuilt exactly as the engine built it. */
function weightsFor(entry: Entry, model: LoadedModel, variant: WeightsVariant | undefined): WeightStore {
  if (!variant) return model.graph.weights;
  const key = JSON.stringify(variant);
  let store = entry.variants.get(key);
  if (!store) {
    // A few seeds at most are in use; past that, start over while no other request holds one.
    if (entry.variants.size >= MAX_VARIANTS && entry.users === 1) {
      for (const old of entry.variants.values()) old.dispose();
      entry.variants.clear();
    }
    store = randomizeTopLayers(model.graph, variant.layers, variant.seed).store;
    entry.variants.set(key, store);
  }
  return store;
}

async function load(m: LaneModel): Promise<LoadedModel> {
  const model = await loadModel(m.modelPath);
  if (model.fingerprint !== m.fingerprint) {
    model.dispose();
    throw new ResponseError(STALE_MODEL, `${m.modelPath} changed on disk since the engine loaded it`);
  }
  return model;
}

function signalOf(token: CancellationToken): AbortSignal {
  const abort = new AbortController();
  if (token.isCancellationRequested) abort.abort();
  token.onCancellationRequested(() => abort.abort());
  return abort.signal;
}

const connection = createMessageConnection(new PortMessageReader(parentPort), new PortMessageWriter(parentPort));

connection.onRequest(LanePrepareRequest, async (m) => {
  const t0 = performance.now();
  release((await acquire(m)).entry);
  return { ms: performance.now() - t0 };
});

connection.onRequest(LaneSumRequest, async (p, token) => {
  const t0 = performance.now();
  const sampler = SAMPLERS.get(p.sampler);
  if (!sampler) throw new ResponseError(-32602, `no sampler '${p.sampler}'`);
  const { entry, model } = await acquire(p);
  const input = tf.tensor4d(p.input, p.inputShape as [number, number, number, number]);
  try {
    const ctx: SampleContext = {
      model, input, target: p.target, weights: weightsFor(entry, model, p.variant),
      params: { ...DEFAULT_PARAMS, maxBatch: p.maxBatch }, hooks: { signal: signalOf(token) },
    };
    const sums = await sumLocally(ctx, sampler, p.args as never, new SampleQueue(p.total, p.owner, p.queue), sampler.kind, p.squares);
    return { ...sums, ms: performance.now() - t0 };
  } finally {
    input.dispose();
    release(entry);
  }
});

connection.listen();
