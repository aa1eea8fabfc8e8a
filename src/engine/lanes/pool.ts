import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { CancellationTokenSource, createMessageConnection, PortMessageReader, PortMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import type { BackendName } from '../../protocol/types';
import type { SampleQueue } from '../attribution/score';
import type { AttributionContext } from '../attribution/types';
import type { LoadedModel } from '../model/loader';
import { ResponseError } from 'vscode-jsonrpc/node';
import { LanePrepareRequest, LaneSumRequest, STALE_MODEL, type LaneModel } from './messages';
import type { GradientSums, LaneJob, LaneRun, Lanes } from './gradientSums';

/** Idle lanes are stopped after this long, giving their memory (a model and a TF.js heap each) back. */
const IDLE_MS = 600_000;
const MAX_THREADS = 3;

interface Lane {
  worker: Worker;
  connection: MessageConnection;
  /** Runs using the lane now: it keeps the process alive only while this is above 0. */
  users: number;
  /** Why the lane cannot be used, once it failed. */
  broken?: string;
}

/**
 * Threads beside the engine's own (node:worker_threads), one TF.js backend and model copy each, that
 * compute SmoothGrad's and IG's samples in parallel: on wasm one gradient runs on one core, so the
 * other cores would otherwise sit idle. tfjs-node is left alone: it already runs its ops on every core.
 */
export class LanePool implements Lanes {
  private lanes: Lane[] = [];
  private idle?: NodeJS.Timeout;
  private active = 0;

  constructor(readonly threads: number, private readonly backend: BackendName, private readonly log: (line: string) => void) {}

  /** Threads to add to the engine's own: LOUPE_LANES (total, including the engine's thread), else one per other core. */
  static threadsFor(backend: BackendName, wanted?: number): number {
    // ONNX Runtime runs every pass on every core already.
    if (backend === 'onnxruntime') return 0;
    const env = Number(process.env.LOUPE_LANES);
    const total = wanted ?? (Number.isInteger(env) && env >= 1 ? env : os.availableParallelism());
    return Math.max(0, Math.min(MAX_THREADS, total - 1));
  }

  share(ctx: AttributionContext, job: LaneJob, queue: SampleQueue, label: string): LaneRun {
    const modelPath = ctx.model.description.path;
    if (this.threads === 0 || !modelPath) return { settle: async () => ({ sums: [], failed: [] }) };
    this.start();
    const model: LaneModel = { modelPath, fingerprint: ctx.model.fingerprint, backend: this.backend };
    const params = {
      ...model, ...job, input: ctx.input.dataSync() as Float32Array, inputShape: ctx.input.shape, target: ctx.target,
      maxBatch: ctx.params.maxBatch, queue: queue.buffer, total: queue.total,
    };
    const signal = ctx.hooks.signal;
    this.active++;
    clearTimeout(this.idle);
    const sums: GradientSums[] = [];
    const failed: number[] = [];
    // Lanes report progress only when they finish: until then this thread's batches report for everyone.
    const progress = () => ctx.hooks.onProgress?.(queue.done / queue.total, `${label} ${queue.done}/${queue.total}`);
    const runs = this.lanes.map((lane, i) => {
      const run = { summing: false, done: Promise.resolve() };
      if (lane.broken) return run;
      const owner = i + 1;
      const cancel = new CancellationTokenSource();
      const onAbort = () => cancel.cancel();
      signal?.addEventListener('abort', onAbort);
      run.done = (async () => {
        try {
          // Loaded first, with nothing claimed: a lane still starting holds no samples the others could compute.
          await lane.connection.sendRequest(LanePrepareRequest, model, cancel.token);
          if (signal?.aborted || queue.remaining === 0) return;
          run.summing = true;
          // Referenced only while it computes for a caller: a lane never keeps a CLI run from exiting.
          if (lane.users++ === 0) lane.worker.ref();
          try {
            sums.push(await lane.connection.sendRequest(LaneSumRequest, { ...params, owner }, cancel.token));
          } finally {
            if (--lane.users === 0) lane.worker.unref();
          }
          progress();
        } catch (err) {
          if (signal?.aborted) return;
          // A model rewritten on disk mid-run is not the lane's fault: it sits this run out.
          if (!(err instanceof ResponseError && err.code === STALE_MODEL)) await this.fail(lane, err);
          failed.push(owner);
        } finally {
          signal?.removeEventListener('abort', onAbort);
          cancel.dispose();
        }
      })();
      return run;
    });
    void Promise.all(runs.map((r) => r.done)).then(() => {
      if (--this.active === 0) this.idle = setTimeout(() => this.stop(), IDLE_MS).unref();
    });
    return {
      // Called once this thread found no sample left to claim: a lane still loading then never claims any,
      // so only the lanes computing are waited for.
      settle: async () => {
        await Promise.all(runs.filter((r) => r.summing).map((r) => r.done));
        return { sums: [...sums], failed: [...failed] };
      },
    };
  }

  /**
   * Starts the lanes and loads the model in them, in the background, so the first SmoothGrad or IG on
   * it already runs on every core. Resolves once every lane answered; never rejects: failures are
   * logged, and such lanes are left out of later runs.
   */
  warm(model: LoadedModel): Promise<void> {
    if (this.threads === 0 || !model.description.path) return Promise.resolve();
    this.start();
    clearTimeout(this.idle);
    if (this.active === 0) this.idle = setTimeout(() => this.stop(), IDLE_MS).unref();
    const request: LaneModel = { modelPath: model.description.path, fingerprint: model.fingerprint, backend: this.backend };
    return Promise.all(this.lanes.filter((l) => !l.broken).map(async (lane) => {
      // Referenced while loading: whoever awaits this must not see the process exit under it.
      if (lane.users++ === 0) lane.worker.ref();
      try {
        await lane.connection.sendRequest(LanePrepareRequest, request);
      } catch (err) {
        if (!(err instanceof ResponseError && err.code === STALE_MODEL)) await this.fail(lane, err);
      } finally {
        if (--lane.users === 0) lane.worker.unref();
      }
    })).then(() => undefined);
  }

  /** Stops every lane (they restart on the next use). */
  stop(): void {
    for (const lane of this.lanes) {
      lane.connection.dispose();
      void lane.worker.terminate();
    }
    this.lanes = [];
  }

  private start(): void {
    if (this.lanes.length > 0) return;
    for (let i = 0; i < this.threads; i++) {
      try {
        this.lanes.push(this.spawn());
      } catch (err) {
        this.log(`lane ${i + 1} could not start: ${(err as Error).message}; computing on fewer threads`);
      }
    }
  }

  private spawn(): Lane {
    const worker = laneWorker();
    const connection = createMessageConnection(new PortMessageReader(worker), new PortMessageWriter(worker));
    connection.listen();
    const lane: Lane = { worker, connection, users: 0 };
    worker.on('error', (err) => void this.fail(lane, err));
    worker.on('exit', (code) => { if (!lane.broken && this.lanes.includes(lane)) void this.fail(lane, new Error(`exited with code ${code}`)); });
    // After the listeners: adding a 'message' listener references the worker again.
    worker.unref();
    return lane;
  }

  /** Marks the lane unusable and resolves once its thread has stopped (so it claims no more samples). */
  private async fail(lane: Lane, err: unknown): Promise<void> {
    if (!lane.broken) {
      lane.broken = (err as Error)?.message ?? String(err);
      this.log(`a lane failed (${lane.broken}); its samples are computed by the engine's thread`);
      lane.connection.dispose();
    }
    await lane.worker.terminate();
  }
}

/** The bundled lane (dist/lane.js beside dist/worker.js and dist/cli.js), or the source through tsx (tests, bench). */
function laneWorker(): Worker {
  const bundled = path.join(__dirname, 'lane.js');
  if (fs.existsSync(bundled)) return new Worker(bundled);
  const source = path.join(__dirname, 'laneMain.ts');
  if (fs.existsSync(source)) return new Worker(`require('tsx/cjs'); require(${JSON.stringify(source)});`, { eval: true });
  throw new Error(`neither ${bundled} nor ${source} exists`);
}
