/**
 * The WorkerClient as the window uses it: every call, whoever makes it (commands, views, panels),
 * drives the status bar, and a worker that dies is reported once with a warning that offers a restart.
 * No `vscode` import: the UI reactions are callbacks.
 */
import type { BackendName } from '../protocol/types';
import type { HelloResult } from '../protocol/worker';
import { LoupeError } from '../protocol/errors';
import { WorkerClient, WorkerExitedError, type CallOptions, type ExplainCallOptions, type WorkerClientOptions } from './workerClient';
import type { DissectionSummary, DissectOptions, ExplainOptions, ModelDescription, Prediction } from '../protocol/types';
import type { ClientExplainResult } from './workerClient';
import type { TcavOptions, TcavResult } from '../protocol/tcav';
import type { WorkerStateName } from './format';
import type { ActivationGridOptions, ActivationGridResult, BlocksOptions, BlocksResult } from '../protocol/blocks';
import type { FeatureVisOptions, FeatureVisSummary } from '../protocol/featureVis';
import type { VisualizeCallOptions } from './workerClient';

export interface HostClientEvents {
  onState(state: WorkerStateName, detail?: string): void;
  onBackend(backend: BackendName): void;
  /** The worker died on its own (not stopped by Loupe). `during` says what it was doing, if anything. */
  onCrash(message: string): void;
}

/** The line WorkerClient logs when its worker goes away without being asked to. */
const EXIT_LINE = /^the Loupe worker \d* ?(exited \(.*\)|could not start \(.*\))/;
/** A WorkerExitedError for a worker that died, as opposed to one Loupe stopped (restart, cancel grace, idle). */
const CRASH_MESSAGE = /the Loupe worker \d* ?(exited|could not start) /;

export class HostWorkerClient extends WorkerClient {
  private running = 0;
  private lastHello: HelloResult | undefined;
  private reportedCrash = false;

  constructor(options: WorkerClientOptions, private readonly events: HostClientEvents) {
    // The log hook sees the client's own notes too: a worker that dies while idle is only visible there.
    const log = options.log ?? (() => undefined);
    const self: { client?: HostWorkerClient } = {};
    super({
      ...options,
      log: (line) => {
        log(line);
        const m = EXIT_LINE.exec(line);
        if (m && self.client && self.client.running === 0) self.client.crashed(`The Loupe worker ${m[1]}.`);
      },
    });
    self.client = this;
  }

  /** A call made through this client is running. */
  get busy(): boolean {
    return this.running > 0;
  }

  get hello(): HelloResult | undefined {
    return this.lastHello;
  }

  override start(): Promise<HelloResult> {
    return this.tracked(() => super.start());
  }

  override describe(modelPath: string, opts?: CallOptions): Promise<ModelDescription> {
    return this.tracked(() => super.describe(modelPath, opts), `describing ${basename(modelPath)}`);
  }

  override predict(modelPath: string, imagePath: string, topK?: number, opts?: CallOptions): Promise<Prediction[]> {
    return this.tracked(() => super.predict(modelPath, imagePath, topK, opts), `predicting ${basename(imagePath)}`);
  }

  override explain(modelPath: string, imagePath: string, options: ExplainOptions, opts?: ExplainCallOptions): Promise<ClientExplainResult> {
    return this.tracked(() => super.explain(modelPath, imagePath, options, opts), `explaining ${basename(imagePath)}`);
  }

  override dissect(modelPath: string, options: DissectOptions, opts?: CallOptions): Promise<DissectionSummary> {
    return this.tracked(() => super.dissect(modelPath, options, opts), `dissecting ${options.layer}`);
  }

  override cachedDissections(modelPath: string, opts?: CallOptions): Promise<DissectionSummary[]> {
    return this.tracked(() => super.cachedDissections(modelPath, opts), `reading cached dissections of ${basename(modelPath)}`);
  }

  override tcav(modelPath: string, options: TcavOptions, opts?: CallOptions): Promise<TcavResult> {
    return this.tracked(() => super.tcav(modelPath, options, opts), `testing concepts (TCAV) for class ${options.classIndex}`);
  }

  override cachedTcav(modelPath: string, opts?: CallOptions): Promise<TcavResult[]> {
    return this.tracked(() => super.cachedTcav(modelPath, opts), `reading cached TCAV results of ${basename(modelPath)}`);
  }

  // ── feature visualisation and Building Blocks ──
  override visualize(modelPath: string, options: FeatureVisOptions, opts?: VisualizeCallOptions): Promise<FeatureVisSummary> {
    return this.tracked(() => super.visualize(modelPath, options, opts), `visualizing ${options.objective.map((t) => t.layer).join(', ')}`);
  }

  override cachedFeatureVis(modelPath: string, opts?: CallOptions): Promise<FeatureVisSummary[]> {
    return this.tracked(() => super.cachedFeatureVis(modelPath, opts), `reading cached feature visualisations of ${basename(modelPath)}`);
  }

  override blocks(modelPath: string, imagePath: string, options: BlocksOptions, opts?: CallOptions): Promise<BlocksResult> {
    return this.tracked(() => super.blocks(modelPath, imagePath, options, opts), `building blocks of ${basename(imagePath)}`);
  }

  override activationGrid(modelPath: string, imagePath: string, options: ActivationGridOptions, opts?: CallOptions): Promise<ActivationGridResult> {
    return this.tracked(() => super.activationGrid(modelPath, imagePath, options, opts), `activation grid of ${basename(imagePath)}`);
  }
  // ── end feature visualisation and Building Blocks ──

  override async stop(reason?: string): Promise<void> {
    await super.stop(reason);
    if (this.running === 0) this.events.onState('idle', 'not running');
  }

  private async tracked<T>(fn: () => Promise<T>, what?: string): Promise<T> {
    const starting = this.pid === undefined;
    this.running++;
    this.events.onState(starting ? 'starting' : 'busy', starting ? 'starting the worker' : what);
    try {
      const result = await fn();
      this.reportedCrash = false;
      await this.noteHello();
      this.running--;
      if (this.running === 0) this.events.onState('idle');
      return result;
    } catch (err) {
      this.running--;
      if (err instanceof WorkerExitedError && CRASH_MESSAGE.test(err.message)) {
        this.crashed(err.message);
      } else if (this.running === 0) {
        this.events.onState(err instanceof LoupeError && err.code === 'BACKEND' ? 'error' : 'idle',
          err instanceof LoupeError && err.code === 'BACKEND' ? err.message : undefined);
      }
      throw err;
    }
  }

  private async noteHello(): Promise<void> {
    if (this.pid === undefined || (this.lastHello && this.lastHello.pid === this.pid)) return;
    try {
      // Resolves at once: the session's hello is already settled once a call went through.
      this.lastHello = await super.start();
      this.events.onBackend(this.lastHello.backend);
    } catch {
      /* the worker went away between the call and here; the next call reports it */
    }
  }

  private crashed(message: string): void {
    this.events.onState('error', message);
    if (this.reportedCrash) return;
    this.reportedCrash = true;
    this.events.onCrash(message);
  }
}

function basename(p: string): string {
  return p.split(/[\\/]/).pop() ?? p;
}
