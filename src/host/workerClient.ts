/**
 * Runs the Loupe worker (dist/worker.js) as a child process and calls it with typed promises.
 * No `vscode` import: the extension wraps this class; tests and the bench use it directly.
 *
 * Guarantees: the worker starts on first use; a crash or kill rejects every pending call with an
 * error saying what the worker was doing, and the next call starts a fresh worker; a cancelled call
 * settles when the worker confirms, or the worker is killed after a grace period.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import {
  CancellationTokenSource,
  createMessageConnection,
  ErrorCodes,
  IPCMessageReader,
  IPCMessageWriter,
  type MessageConnection,
  ResponseError,
  type RequestType,
} from 'vscode-jsonrpc/node';
import { CancelledError, LoupeError } from '../protocol/errors';
import type { BackendPreference, DissectionSummary, DissectOptions, ExplainOptions, ModelDescription, Prediction, Preprocessing } from '../protocol/types';
import type { TcavOptions, TcavResult } from '../protocol/tcav';
import {
  CachedDissectionsRequest,
  CachedTcavRequest,
  TcavRequest,
  DescribeRequest,
  DissectRequest,
  ExplainRequest,
  ForgetRequest,
  HelloRequest,
  PredictRequest,
  ProgressNotification,
  type HelloResult,
  type WorkerErrorData,
} from '../protocol/worker';
import { errorFromWire, explainResultFromWire, imageFromWire, type ClientExplainResult } from '../protocol/node/wire';
import { ForwardRequest, type ForwardSummary } from '../protocol/worker';
import type { RgbaImage } from '../protocol/results';
import type { ActivationGridOptions, ActivationGridResult, BlocksOptions, BlocksResult } from '../protocol/blocks';
import type { FeatureVisOptions, FeatureVisPreview, FeatureVisSummary } from '../protocol/featureVis';
import {
  ActivationGridRequest, BlocksRequest, CachedFeatureVisRequest, FeatureVisPreviewNotification, VisualizeRequest,
} from '../protocol/worker';

export type { ClientExplainResult } from '../protocol/node/wire';

/** One forward pass as the client returns it: the predictions, and the image with its values as numbers. */
export interface ClientForwardResult extends ForwardSummary {
  image: RgbaImage;
}

export interface WorkerClientOptions {
  /** Path of the bundled worker (dist/worker.js). */
  workerPath: string;
  /** Backend the worker should use (default: the worker's env LOUPE_BACKEND, else auto). */
  backend?: BackendPreference;
  /** Receives the worker's log lines (its stdout and stderr) and the client's own notes. */
  log?: (line: string) => void;
  /** Stop the worker after this many ms without a request (0 or absent: never). It restarts on next use. */
  idleTimeoutMs?: number;
  /** How long a cancelled request may keep running before the worker is killed. Default 2000 ms. */
  cancelGraceMs?: number;
  /** Environment of the worker (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Node binary for the worker (default: this process's). */
  execPath?: string;
  /**
   * Deadlines per kind of request, in ms: past it the worker is killed (a spinning worker answers
   * nothing, not even a cancel) and the call fails saying so. Defaults: DEFAULT_DEADLINES_MS.
   */
  deadlinesMs?: Partial<Record<RequestKind, number>>;
}

/** start: the handshake; quick: describe, predict, cached results, forget; analysis: explain, dissect, TCAV, feature vis, blocks. */
export type RequestKind = 'start' | 'quick' | 'analysis';
export const DEFAULT_DEADLINES_MS: Readonly<Record<RequestKind, number>> = { start: 60_000, quick: 5 * 60_000, analysis: 60 * 60_000 };
const ANALYSIS_METHODS = new Set<string>([ExplainRequest.method, DissectRequest.method, TcavRequest.method, VisualizeRequest.method,
  BlocksRequest.method, ActivationGridRequest.method]);

export interface CallOptions {
  signal?: AbortSignal;
  onProgress?: (fraction: number, message: string) => void;
}

export interface VisualizeCallOptions extends CallOptions {
  onPreview?: (preview: FeatureVisPreview) => void;
}

export interface ExplainCallOptions extends CallOptions {
  /** Also write the output files (writeExplainOutputs) into this folder, from the worker. */
  outDir?: string;
}

/** The worker died or was stopped while it was handling a request. */
export class WorkerExitedError extends LoupeError {
  constructor(message: string, readonly exitCode: number | null, readonly signal: NodeJS.Signals | null) {
    super('BACKEND', message, undefined, 'the next request starts a new worker');
    this.name = 'WorkerExitedError';
  }
}

interface Pending {
  /** What the worker was doing, for error messages: "explaining a.png with model.json". */
  what: string;
  cancelled: boolean;
  fail(err: Error): void;
}

interface Session {
  child: ChildProcess;
  connection: MessageConnection;
  ready: Promise<HelloResult>;
  pending: Set<Pending>;
  /** Why the client stopped this worker, when it did. */
  stopReason?: string;
  exited: Promise<void>;
}

const DEFAULT_CANCEL_GRACE_MS = 2000;
/** After asking a worker to stop (IPC disconnect), kill it if it is still there after this. */
const STOP_KILL_MS = 2000;

export class WorkerClient {
  private session: Session | undefined;
  private active = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private disposed = false;
  private nextRequestId = 1;
  private readonly progress = new Map<string, (fraction: number, message: string) => void>();
  private readonly previews = new Map<string, (preview: FeatureVisPreview) => void>();
  private readonly log: (line: string) => void;

  constructor(private readonly options: WorkerClientOptions) {
    this.log = options.log ?? (() => undefined);
  }

  /** pid of the running worker, if one runs. */
  get pid(): number | undefined {
    return this.session?.child.pid;
  }

  /** Starts the worker if needed and returns its hello (backend, pid, versions). */
  start(): Promise<HelloResult> {
    return this.track(async () => this.ensureSession().ready);
  }

  describe(modelPath: string, opts: CallOptions = {}): Promise<ModelDescription> {
    return this.call(DescribeRequest, { modelPath }, `describing ${path.basename(modelPath)}`, opts);
  }

  predict(modelPath: string, imagePath: string, topK?: number, opts: CallOptions = {}): Promise<Prediction[]> {
    return this.call(PredictRequest, { modelPath, imagePath, ...(topK !== undefined ? { topK } : {}) },
      `predicting ${path.basename(imagePath)} with ${path.basename(modelPath)}`, opts);
  }

  async explain(modelPath: string, imagePath: string, options: ExplainOptions, opts: ExplainCallOptions = {}): Promise<ClientExplainResult> {
    const requestId = String(this.nextRequestId++);
    if (opts.onProgress) this.progress.set(requestId, opts.onProgress);
    try {
      const wire = await this.call(ExplainRequest,
        { modelPath, imagePath, options, requestId, ...(opts.outDir !== undefined ? { outDir: opts.outDir } : {}) },
        `explaining ${path.basename(imagePath)} with ${path.basename(modelPath)} (${options.methods.join(', ')})`, opts);
      return explainResultFromWire(wire);
    } finally {
      this.progress.delete(requestId);
    }
  }

  /** Network dissection of one layer (cancellable, with progress); the worker caches the result on disk. */
  async dissect(modelPath: string, options: DissectOptions, opts: CallOptions = {}): Promise<DissectionSummary> {
    const requestId = String(this.nextRequestId++);
    if (opts.onProgress) this.progress.set(requestId, opts.onProgress);
    try {
      return await this.call(DissectRequest, { modelPath, options, requestId },
        `dissecting layer ${options.layer} of ${path.basename(modelPath)}`, opts);
    } finally {
      this.progress.delete(requestId);
    }
  }

  // ---- TCAV ----

  /** TCAV of a class at some layers (cancellable, with progress); the worker caches the result on disk. */
  async tcav(modelPath: string, options: TcavOptions, opts: CallOptions = {}): Promise<TcavResult> {
    const requestId = String(this.nextRequestId++);
    if (opts.onProgress) this.progress.set(requestId, opts.onProgress);
    try {
      return await this.call(TcavRequest, { modelPath, options, requestId },
        `testing concepts for class ${options.classIndex} of ${path.basename(modelPath)}`, opts);
    } finally {
      this.progress.delete(requestId);
    }
  }

  /** The TCAV results cached on disk for the model's current weights (no computation). */
  cachedTcav(modelPath: string, opts: CallOptions = {}): Promise<TcavResult[]> {
    return this.call(CachedTcavRequest, { modelPath }, `reading cached TCAV results of ${path.basename(modelPath)}`, opts);
  }

  // ---- end TCAV ----

  /** The dissections cached on disk for the model's current weights (no computation). */
  cachedDissections(modelPath: string, opts: CallOptions = {}): Promise<DissectionSummary[]> {
    return this.call(CachedDissectionsRequest, { modelPath }, `reading cached dissections of ${path.basename(modelPath)}`, opts);
  }

  // ── feature visualisation and Building Blocks ──
  /** Lucid's feature visualisation (cancellable, with progress and preview images); cached on disk by the worker. */
  async visualize(modelPath: string, options: FeatureVisOptions, opts: VisualizeCallOptions = {}): Promise<FeatureVisSummary> {
    return this.withRequestId(opts, async (requestId) => {
      if (opts.onPreview) this.previews.set(requestId, opts.onPreview);
      try {
        return await this.call(VisualizeRequest, { modelPath, options, requestId },
          `visualising ${options.objective.map((t) => t.layer).join(', ')} of ${path.basename(modelPath)}`, opts);
      } finally {
        this.previews.delete(requestId);
      }
    });
  }

  /** The feature visualisations cached on disk for the model's current weights (no computation). */
  cachedFeatureVis(modelPath: string, opts: CallOptions = {}): Promise<FeatureVisSummary[]> {
    return this.call(CachedFeatureVisRequest, { modelPath }, `reading cached feature visualisations of ${path.basename(modelPath)}`, opts);
  }

  /** The Building Blocks of one image at one layer (cancellable, with progress). */
  blocks(modelPath: string, imagePath: string, options: BlocksOptions, opts: CallOptions = {}): Promise<BlocksResult> {
    return this.withRequestId(opts, (requestId) => this.call(BlocksRequest, { modelPath, imagePath, options, requestId },
      `building blocks of ${path.basename(imagePath)} at ${options.layer}`, opts));
  }

  /** The activation grid of one image at one layer (cancellable, with progress). */
  activationGrid(modelPath: string, imagePath: string, options: ActivationGridOptions, opts: CallOptions = {}): Promise<ActivationGridResult> {
    return this.withRequestId(opts, (requestId) => this.call(ActivationGridRequest, { modelPath, imagePath, options, requestId },
      `activation grid of ${path.basename(imagePath)} at ${options.layer}`, opts));
  }

  private async withRequestId<T>(opts: CallOptions, fn: (requestId: string) => Promise<T>): Promise<T> {
    const requestId = String(this.nextRequestId++);
    if (opts.onProgress) this.progress.set(requestId, opts.onProgress);
    try {
      return await fn(requestId);
    } finally {
      this.progress.delete(requestId);
    }
  }
  // ── end feature visualisation and Building Blocks ──

  // ── progressive Explain panel (issue 12) ──
  /** The image as the model sees it and its predictions (one forward pass, which the worker keeps for the explain calls that follow). */
  async forward(modelPath: string, imagePath: string, options: { topK?: number; preprocessing?: Partial<Preprocessing> } = {},
    opts: CallOptions = {}): Promise<ClientForwardResult> {
    const wire = await this.call(ForwardRequest, { modelPath, imagePath, ...options },
      `predicting ${path.basename(imagePath)} with ${path.basename(modelPath)}`, opts);
    return { ...wire, image: imageFromWire(wire.image) };
  }
  // ── end progressive Explain panel ──

  forget(modelPath?: string): Promise<void> {
    return this.call(ForgetRequest, modelPath === undefined ? {} : { modelPath }, 'forgetting models', {});
  }

  /** Stops the worker (a later call starts a new one). Pending calls reject. */
  async stop(reason = 'the client stopped it'): Promise<void> {
    const session = this.session;
    if (!session) return;
    this.detach(session);
    session.stopReason = reason;
    setRef(session.child, true); // whoever awaits stop() must see the exit
    session.connection.dispose();
    // Disconnecting the IPC channel makes the worker exit on its own; kill it if it does not.
    try { session.child.disconnect(); } catch { /* already disconnected */ }
    const timer = setTimeout(() => session.child.kill('SIGKILL'), STOP_KILL_MS);
    timer.unref();
    // A busy worker finishes its current synchronous stretch before it sees the disconnect.
    if (session.pending.size > 0) session.child.kill('SIGKILL');
    await session.exited;
    clearTimeout(timer);
  }

  /** Stops the worker for good: later calls reject. */
  async dispose(): Promise<void> {
    this.disposed = true;
    this.clearIdle();
    await this.stop('the client was disposed');
  }

  private async call<P, R>(type: RequestType<P, R, WorkerErrorData>, params: P, what: string, opts: CallOptions): Promise<R> {
    return this.track(async () => {
      if (opts.signal?.aborted) throw new CancelledError();
      const session = this.ensureSession();
      await session.ready;
      if (opts.signal?.aborted) throw new CancelledError();
      return this.send(session, type, params, what, opts.signal);
    });
  }

  /** Counts running calls, for the idle timer and for letting this process exit while idle. */
  private async track<T>(fn: () => Promise<T>): Promise<T> {
    if (this.disposed) throw new LoupeError('BACKEND', 'the Loupe worker client was disposed');
    this.active++;
    this.clearIdle();
    if (this.session) setRef(this.session.child, true);
    try {
      return await fn();
    } finally {
      this.active--;
      if (this.active === 0) this.idle();
    }
  }

  private send<P, R>(session: Session, type: RequestType<P, R, WorkerErrorData>, params: P, what: string,
    signal: AbortSignal | undefined): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const cts = new CancellationTokenSource();
      let graceTimer: NodeJS.Timeout | undefined;
      let settled = false;
      const entry: Pending = {
        what,
        cancelled: false,
        fail: (err) => finish(() => reject(entry.cancelled ? new CancelledError() : err)),
      };
      const kind: RequestKind = type.method === HelloRequest.method ? 'start' : ANALYSIS_METHODS.has(type.method) ? 'analysis' : 'quick';
      const deadline = this.options.deadlinesMs?.[kind] ?? DEFAULT_DEADLINES_MS[kind];
      const deadlineTimer = setTimeout(() => {
        this.log(`request (${what}) passed its deadline of ${deadline} ms: killing the worker`);
        session.stopReason = `the request (${what}) passed its deadline of ${Math.round(deadline / 1000)} s`;
        session.child.kill('SIGKILL');
      }, deadline);
      deadlineTimer.unref();
      const onAbort = (): void => {
        if (settled) return;
        entry.cancelled = true;
        cts.cancel();
        const grace = this.options.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS;
        graceTimer = setTimeout(() => {
          this.log(`cancelled request (${what}) still running after ${grace} ms: killing the worker`);
          session.stopReason = `a cancelled request did not stop within ${grace} ms`;
          session.child.kill('SIGKILL');
        }, grace);
      };
      const finish = (settle: () => void): void => {
        if (settled) return;
        settled = true;
        session.pending.delete(entry);
        clearTimeout(graceTimer);
        clearTimeout(deadlineTimer);
        signal?.removeEventListener('abort', onAbort);
        cts.dispose();
        settle();
      };
      session.pending.add(entry);
      signal?.addEventListener('abort', onAbort, { once: true });
      let reply: Promise<R>;
      try {
        // `never`: jsonrpc's conditional parameter type does not resolve for a generic P.
        reply = session.connection.sendRequest(type, params as never, cts.token);
      } catch {
        // The connection closed under us: the worker is going away and its exit fails this entry.
        return;
      }
      reply.then(
        (result) => finish(() => resolve(result)),
        (err: unknown) => {
          const error = errorFromWire(err);
          if (isConnectionLoss(err)) {
            // The exit handler reports this with the real reason; this timer only guards against
            // a connection lost without the process exiting.
            setTimeout(() => finish(() => reject(error)), STOP_KILL_MS * 2).unref();
            return;
          }
          finish(() => reject(error));
        },
      );
    });
  }

  private ensureSession(): Session {
    if (this.session) return this.session;
    const { workerPath } = this.options;
    if (!fs.existsSync(workerPath)) {
      throw new LoupeError('BACKEND', 'the Loupe worker bundle is missing', workerPath, 'build it with `node esbuild.mjs`');
    }
    const child = fork(workerPath, [], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: this.options.env ?? process.env,
      execPath: this.options.execPath ?? process.execPath,
      execArgv: [],
    });
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => this.log(line));
    }
    const connection = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
    connection.onNotification(ProgressNotification, (p) => {
      try {
        this.progress.get(p.requestId)?.(p.fraction, p.message);
      } catch (err) {
        this.log(`a progress callback threw: ${(err as Error).message}`);
      }
    });
    connection.onNotification(FeatureVisPreviewNotification, (p) => {
      try {
        this.previews.get(p.requestId)?.(p.preview);
      } catch (err) {
        this.log(`a preview callback threw: ${(err as Error).message}`);
      }
    });
    connection.onError(([err]) => this.log(`worker connection error: ${err.message}`));
    const pending = new Set<Pending>();
    let markExited!: () => void;
    const exited = new Promise<void>((resolve) => { markExited = resolve; });
    const session: Session = { child, connection, pending, exited, ready: undefined as unknown as Promise<HelloResult> };
    connection.onClose(() => {
      // The channel is gone: new calls need a new worker. Make sure this one does not linger.
      this.detach(session);
      setTimeout(() => session.child.kill('SIGKILL'), STOP_KILL_MS).unref();
    });

    let gone = false;
    const onGone = (code: number | null, sig: NodeJS.Signals | null, startError?: Error): void => {
      if (gone) return;
      gone = true;
      this.detach(session);
      const how = startError ? `could not start (${startError.message})`
        : session.stopReason ? `was stopped because ${session.stopReason}`
        : `exited (${sig ? `signal ${sig}` : `code ${code}`})`;
      if (!session.stopReason || pending.size > 0) this.log(`the Loupe worker ${child.pid ?? ''} ${how}`);
      for (const entry of [...pending]) {
        entry.fail(new WorkerExitedError(`the Loupe worker ${how} while ${entry.what}`, code, sig));
      }
      connection.dispose();
      markExited();
    };
    child.on('exit', (code, sig) => onGone(code, sig));
    child.on('error', (err) => {
      this.log(`worker process error: ${err.message}`);
      if (child.pid === undefined || child.exitCode !== null) onGone(null, null, err);
    });
    connection.listen();
    this.session = session;
    session.ready = this.send(session, HelloRequest, this.options.backend ? { backend: this.options.backend } : {}, 'starting', undefined);
    session.ready.catch(() => undefined); // awaited by callers; never an unhandled rejection
    if (this.active === 0) setRef(child, false);
    return session;
  }

  private detach(session: Session): void {
    if (this.session === session) this.session = undefined;
  }

  private idle(): void {
    if (this.session) setRef(this.session.child, false);
    const ms = this.options.idleTimeoutMs;
    if (!ms || ms <= 0 || !this.session || this.disposed) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.active === 0) void this.stop(`it was idle for ${ms} ms`);
    }, ms);
    this.idleTimer.unref();
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}

function isConnectionLoss(err: unknown): boolean {
  return err instanceof ResponseError
    && (err.code === ErrorCodes.PendingResponseRejected || err.code === ErrorCodes.ConnectionInactive);
}

/**
 * An idle worker must not keep the host process alive (a script that forgot dispose() still exits;
 * the worker then sees the disconnect and exits too). While a call runs, it must.
 */
function setRef(child: ChildProcess, on: boolean): void {
  const handles: Array<{ ref?: () => void; unref?: () => void } | null | undefined> = [
    child,
    (child as unknown as { channel?: { ref?: () => void; unref?: () => void } }).channel,
    child.stdout as unknown as { ref?: () => void; unref?: () => void },
    child.stderr as unknown as { ref?: () => void; unref?: () => void },
  ];
  for (const h of handles) {
    if (on) h?.ref?.();
    else h?.unref?.();
  }
}
