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
import type { SampleContext } from '../attribution/types';
import { sumLocally } from './gradientSums';
import { LanePrepareRequest, LaneSumRequest, STALE_MODEL, type LaneModel } from './messages';
import { SAMPLERS } from './samplers';

if (!parentPort) throw new Error('laneMain.ts runs as a worker thread of the Loupe engine');
// TF.js's banners must not reach a CLI's stdout.
console.log = console.info = (...args: unknown[]) => process.stderr.write(`[loupe-lane] ${args.map(String).join(' ')}\n`);

let current: { key: string; model: LoadedModel } | undefined;

async function prepare(m: LaneModel): Promise<LoadedModel> {
  await initBackend(m.backend);
  const key = `${m.modelPath}\n${m.fingerprint}`;
  if (current?.key === key) return current.model;
  current?.model.dispose();
  current = undefined;
  const model = await loadModel(m.modelPath);
  if (model.fingerprint !== m.fingerprint) {
    model.dispose();
    throw new ResponseError(STALE_MODEL, `${m.modelPath} changed on disk since the engine loaded it`);
  }
  current = { key, model };
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
  await prepare(m);
  return { ms: performance.now() - t0 };
});

connection.onRequest(LaneSumRequest, async (p, token) => {
  const t0 = performance.now();
  const model = await prepare(p);
  const sampler = SAMPLERS.get(p.sampler);
  if (!sampler) throw new ResponseError(-32602, `no sampler '${p.sampler}'`);
  const input = tf.tensor4d(p.input, p.inputShape as [number, number, number, number]);
  try {
    const ctx: SampleContext = {
      model, input, target: p.target, weights: model.graph.weights,
      params: { ...DEFAULT_PARAMS, maxBatch: p.maxBatch }, hooks: { signal: signalOf(token) },
    };
    const sums = await sumLocally(ctx, sampler, p.args as never, new SampleQueue(p.total, p.owner, p.queue), sampler.kind, p.squares);
    return { ...sums, ms: performance.now() - t0 };
  } finally {
    input.dispose();
  }
});

connection.listen();
