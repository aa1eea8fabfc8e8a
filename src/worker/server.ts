/**
 * The worker's request handlers. Every handler replies, success or error; nothing a request
 * carries can take the process down.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { CancellationToken, MessageConnection } from 'vscode-jsonrpc';
import { version as loupeVersion } from '../../package.json';
import { Engine } from '../engine/engine';
import { LoupeError } from '../protocol/errors';
import { writeExplainOutputs } from '../engine/output/write';
import { BACKEND_PREFERENCES } from '../protocol/types';
import type { BackendPreference, MethodId } from '../protocol/types';
import {
  CachedDissectionsRequest,
  CachedTcavRequest,
  DescribeRequest,
  DissectRequest,
  ExplainRequest,
  ForgetRequest,
  HelloRequest,
  PredictRequest,
  ProgressNotification,
  TcavRequest,
} from '../protocol/worker';
import type { FeatureVisPreview } from '../protocol/featureVis';
import {
  ActivationGridRequest, BlocksRequest, CachedFeatureVisRequest, FeatureVisPreviewNotification, VisualizeRequest,
} from '../protocol/worker';
import { errorToWire, explainResultToWire, imageToWire } from '../protocol/node/wire';
import { ForwardRequest } from '../protocol/worker';

/** The worker's resident memory in MB, logged after each request. */
function rssMb(): number {
  return Math.round(process.memoryUsage().rss / 1e6);
}

/** LOUPE_KEEP_MODELS (the loupe.worker.keepModels setting): models kept loaded besides the active one. */
function keepModelsFromEnv(): { keepModels?: number } {
  const raw = process.env.LOUPE_KEEP_MODELS;
  const n = raw === undefined || raw === '' ? NaN : Number(raw);
  return Number.isInteger(n) && n >= 0 ? { keepModels: n } : {};
}
import { isWasmTrap, trapError } from './wasmTrap';

const BACKENDS = BACKEND_PREFERENCES;
/** Progress notifications closer together than this are dropped (the last one always goes). */
const PROGRESS_INTERVAL_MS = 50;

export interface ServerOptions {
  backend: BackendPreference;
  log: (line: string) => void;
  /** Resolves once the replies written so far have left the process (src/worker/ipcWriter.ts). */
  flushed?: () => Promise<void>;
}

export function parseBackend(value: string | undefined, source: string): BackendPreference {
  if (value === undefined || value === '') return 'auto';
  if ((BACKENDS as readonly string[]).includes(value)) return value as BackendPreference;
  throw new LoupeError('BAD_REQUEST', `${source} is '${value}'`, undefined, `use one of ${BACKENDS.join(', ')}`);
}

function badRequest(message: string): LoupeError {
  return new LoupeError('BAD_REQUEST', message);
}

function requirePath(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) throw badRequest(`${name} must be a non-empty string`);
  return path.resolve(value);
}

function optionalTopK(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw badRequest('topK must be a positive integer');
  return value;
}

export function registerHandlers(connection: MessageConnection, options: ServerOptions): void {
  let preference = options.backend;
  let engine: Promise<Engine> | undefined;
  const getEngine = (): Promise<Engine> => {
    if (engine) return engine;
    const started = Date.now();
    const maxPixels = Number(process.env.LOUPE_MAX_IMAGE_PIXELS);
    const created = Engine.create({
      backend: preference, ...(maxPixels > 0 ? { maxImagePixels: maxPixels } : {}), ...keepModelsFromEnv(), log: options.log,
    });
    engine = created;
    created.then(
      (e) => options.log(`engine ready on backend ${e.backend} in ${Date.now() - started} ms`),
      () => { if (engine === created) engine = undefined; }, // a failed start is retried by the next request
    );
    return created;
  };

  // One computation at a time: TF.js scopes and memory are per process, and interleaved runs
  // would only share the CPU anyway.
  // Each computation starts once the replies before it have left: a computation blocks the event loop, and a
  // reply still in the pipe would wait for it (the host shows the predictions while the first map is computed).
  let queue: Promise<unknown> = Promise.resolve();
  const afterReplies = async (): Promise<void> => {
    await new Promise<void>((resolve) => setImmediate(resolve)); // the previous reply is written first
    await options.flushed?.();
  };
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = (): Promise<T> => afterReplies().then(fn);
    const run = queue.then(next, next);
    queue = run.catch(() => undefined);
    return run;
  };

  const handle = async <T>(method: string, fn: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    try {
      const result = await fn();
      options.log(`${method} done in ${Date.now() - started} ms; worker RSS ${rssMb()} MB`);
      return result;
    } catch (err) {
      if (err instanceof LoupeError) options.log(`${method} failed (${err.code}): ${err.message}`);
      else options.log(`${method} failed with an internal error: ${(err as Error)?.stack ?? String(err)}`);
      // ── trust: a wasm trap poisons the process ──
      if (isWasmTrap(err)) throw errorToWire(trapError(err, () => { options.log('exiting after a WebAssembly trap'); process.exit(3); }));
      // ── end trust ──
      throw errorToWire(err);
    }
  };

  connection.onRequest(HelloRequest, (params) => handle('hello', async () => {
    if (params?.backend !== undefined) {
      const wanted = parseBackend(params.backend, 'hello.backend');
      if (engine && wanted !== preference) {
        const current = await engine;
        if (wanted !== 'auto' && wanted !== current.backend) {
          throw new LoupeError('BAD_REQUEST', `the worker already runs on backend ${current.backend}`, undefined,
            'start a new worker to change the backend');
        }
      } else {
        preference = wanted;
      }
    }
    const e = await getEngine();
    return {
      backend: e.backend,
      pid: process.pid,
      versions: { node: process.versions.node, tfjs: tf.version.tfjs, loupe: loupeVersion },
    };
  }));

  connection.onRequest(DescribeRequest, (params) => handle('describe', () => serial(async () => {
    const modelPath = requirePath(params?.modelPath, 'modelPath');
    const e = await getEngine();
    const description = await e.describe(modelPath);
    // The model the user is looking at: its SmoothGrad and IG spread over the cores from the first run.
    // In the background: the lanes load it on the other cores while this answers.
    void e.warmLanes(modelPath);
    return description;
  })));

  connection.onRequest(PredictRequest, (params) => handle('predict', () => serial(async () => {
    const modelPath = requirePath(params?.modelPath, 'modelPath');
    const imagePath = requirePath(params?.imagePath, 'imagePath');
    return (await getEngine()).predict(modelPath, imagePath, optionalTopK(params.topK), params.preprocessing);
  })));

  /** Runs `fn` in the queue with an AbortSignal that follows the request's cancellation. */
  const cancellable = <T>(token: CancellationToken, fn: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    const abort = new AbortController();
    // Registered before queueing, so a request cancelled while it waits never starts.
    const sub = token.onCancellationRequested(() => abort.abort());
    if (token.isCancellationRequested) abort.abort();
    return serial(() => fn(abort.signal)).finally(() => sub.dispose());
  };

  /** Progress notifications for the client's requestId, at most one per PROGRESS_INTERVAL_MS (the last always goes). */
  const progressTo = (requestId: unknown) => {
    let lastSent = 0;
    return (fraction: number, message: string): void => {
      if (typeof requestId !== 'string') return;
      const now = Date.now();
      if (fraction < 1 && now - lastSent < PROGRESS_INTERVAL_MS) return;
      lastSent = now;
      void connection.sendNotification(ProgressNotification, { requestId, fraction, message }).catch(() => undefined);
    };
  };

  // ── progressive Explain panel (issue 12) ──
  connection.onRequest(ForwardRequest, (params) => handle('forward', () => serial(async () => {
    const modelPath = requirePath(params?.modelPath, 'modelPath');
    const imagePath = requirePath(params?.imagePath, 'imagePath');
    const result = await (await getEngine()).forward(modelPath, imagePath, optionalTopK(params.topK), params.preprocessing);
    return { ...result, image: imageToWire(result.image) };
  })));
  // ── end progressive Explain panel ──

  connection.onRequest(ExplainRequest, (params, token: CancellationToken) => handle('explain', () =>
    cancellable(token, async (signal) => {
      const modelPath = requirePath(params?.modelPath, 'modelPath');
      const imagePath = requirePath(params?.imagePath, 'imagePath');
      const opts = params.options;
      if (typeof opts !== 'object' || opts === null || !Array.isArray(opts.methods) || opts.methods.length === 0
        || !opts.methods.every((m: MethodId) => typeof m === 'string')) {
        throw badRequest('options.methods must be a non-empty list of method names');
      }
      const outDir = params.outDir === undefined ? undefined : requirePath(params.outDir, 'outDir');
      const result = await (await getEngine()).explain(modelPath, imagePath, opts, { signal, onProgress: progressTo(params.requestId) });
      let written: string[] | undefined;
      if (outDir !== undefined) {
        try {
          written = await writeExplainOutputs(result, outDir);
        } catch (err) {
          if (err instanceof LoupeError) throw err;
          throw new LoupeError('BAD_REQUEST', `cannot write the outputs: ${(err as Error).message}`, outDir,
            'choose a folder Loupe can write to');
        }
      }
      return explainResultToWire(result, written);
    })));

  connection.onRequest(DissectRequest, (params, token: CancellationToken) => handle('dissect', () =>
    cancellable(token, async (signal) => {
      const modelPath = requirePath(params?.modelPath, 'modelPath');
      if (typeof params.options !== 'object' || params.options === null) throw badRequest('options must be an object with a layer');
      return (await getEngine()).dissect(modelPath, params.options, { signal, onProgress: progressTo(params.requestId) });
    })));

  connection.onRequest(CachedDissectionsRequest, (params) => handle('cachedDissections', () => serial(async () => {
    const modelPath = requirePath(params?.modelPath, 'modelPath');
    return (await getEngine()).cachedDissections(modelPath);
  })));

  // ---- TCAV ----
  connection.onRequest(TcavRequest, (params, token: CancellationToken) => handle('tcav', () =>
    cancellable(token, async (signal) => {
      const modelPath = requirePath(params?.modelPath, 'modelPath');
      const o = params.options;
      if (typeof o !== 'object' || o === null || typeof o.classImages !== 'string' || !Array.isArray(o.concepts) || !Array.isArray(o.layers)) {
        throw badRequest('options must be an object with classIndex, classImages, concepts and layers');
      }
      return (await getEngine()).tcav(modelPath, o, { signal, onProgress: progressTo(params.requestId) });
    })));

  connection.onRequest(CachedTcavRequest, (params) => handle('cachedTcav', () => serial(async () => {
    const modelPath = requirePath(params?.modelPath, 'modelPath');
    return (await getEngine()).cachedTcav(modelPath);
  })));
  // ---- end TCAV ----
  // ── feature visualisation and Building Blocks ──
  connection.onRequest(VisualizeRequest, (params, token: CancellationToken) => handle('visualize', () =>
    cancellable(token, async (signal) => {
      const modelPath = requirePath(params?.modelPath, 'modelPath');
      if (typeof params.options !== 'object' || params.options === null) throw badRequest('options must be an object with an objective');
      const requestId = params.requestId;
      const onPreview = typeof requestId === 'string'
        ? (preview: FeatureVisPreview) => { void connection.sendNotification(FeatureVisPreviewNotification, { requestId, preview }).catch(() => undefined); }
        : undefined;
      return (await getEngine()).visualize(modelPath, params.options, {
        signal, onProgress: progressTo(requestId), ...(onPreview ? { onPreview } : {}),
      });
    })));

  connection.onRequest(CachedFeatureVisRequest, (params) => handle('cachedFeatureVis', () => serial(async () => {
    const modelPath = requirePath(params?.modelPath, 'modelPath');
    return (await getEngine()).cachedFeatureVis(modelPath);
  })));

  connection.onRequest(BlocksRequest, (params, token: CancellationToken) => handle('blocks', () =>
    cancellable(token, async (signal) => {
      const modelPath = requirePath(params?.modelPath, 'modelPath');
      const imagePath = requirePath(params?.imagePath, 'imagePath');
      if (typeof params.options !== 'object' || params.options === null) throw badRequest('options must be an object with a layer');
      return (await getEngine()).blocks(modelPath, imagePath, params.options, { signal, onProgress: progressTo(params.requestId) });
    })));

  connection.onRequest(ActivationGridRequest, (params, token: CancellationToken) => handle('activationGrid', () =>
    cancellable(token, async (signal) => {
      const modelPath = requirePath(params?.modelPath, 'modelPath');
      const imagePath = requirePath(params?.imagePath, 'imagePath');
      if (typeof params.options !== 'object' || params.options === null) throw badRequest('options must be an object with a layer');
      return (await getEngine()).activationGrid(modelPath, imagePath, params.options, { signal, onProgress: progressTo(params.requestId) });
    })));
  // ── end feature visualisation and Building Blocks ──

  connection.onRequest(ForgetRequest, (params) => handle('forget', () => serial(async () => {
    const modelPath = params?.modelPath === undefined ? undefined : requirePath(params.modelPath, 'modelPath');
    if (engine) (await engine).forget(modelPath);
  })));
}
