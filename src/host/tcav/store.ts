/**
 * The TCAV results Loupe knows for the workspace's models: read from the worker's disk cache
 * (`loupe/cachedTcav`, no computation) whenever the active model is (re)described — new weights,
 * new results — and added to when a run finishes. The CodeLens and the panel read it.
 */
import * as vscode from 'vscode';
import type { ModelDescription } from '../../protocol/types';
import type { TcavResult } from '../../protocol/tcav';
import type { HostWorkerClient } from '../hostClient';
import type { ModelStore } from '../models/modelStore';
import { latestForLayer } from './labels';

export class TcavStore implements vscode.Disposable {
  /** Per model, results by cache key. */
  private readonly byModel = new Map<string, Map<string, TcavResult>>();
  private readonly loadedFor = new Map<string, ModelDescription>();
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [this.changed];
  /** Fires when a model's results were read or one was added. */
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly models: ModelStore,
    private readonly client: () => HostWorkerClient,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(models.onDidChange(() => this.syncActive()));
  }

  get(modelPath: string, key: string): TcavResult | undefined {
    return this.byModel.get(modelPath)?.get(key);
  }

  /** The newest result that tested `layer` of the model. */
  latest(modelPath: string, layer: string): TcavResult | undefined {
    return latestForLayer(this.byModel.get(modelPath)?.values() ?? [], layer);
  }

  all(modelPath: string): TcavResult[] {
    return [...(this.byModel.get(modelPath)?.values() ?? [])].sort((a, b) => b.created - a.created);
  }

  set(modelPath: string, result: TcavResult): void {
    let results = this.byModel.get(modelPath);
    if (!results) this.byModel.set(modelPath, (results = new Map()));
    results.set(result.key, result);
    this.changed.fire();
  }

  /** Reads the model's cached results from the worker (merged with those of this session). */
  async load(modelPath: string): Promise<TcavResult[]> {
    const list = await this.client().cachedTcav(modelPath);
    const results = this.byModel.get(modelPath) ?? new Map<string, TcavResult>();
    for (const r of list) if (!results.has(r.key)) results.set(r.key, r);
    this.byModel.set(modelPath, results);
    this.log.info(`${list.length} cached TCAV result(s) for ${modelPath}`);
    this.changed.fire();
    return list;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }

  private syncActive(): void {
    const active = this.models.active();
    if (!active) return;
    const description = this.models.known(active.uri);
    const key = active.uri.fsPath;
    if (!description || this.loadedFor.get(key) === description) return;
    this.loadedFor.set(key, description);
    // Results for the previous weights must not linger while the new ones load.
    if (this.byModel.delete(key)) this.changed.fire();
    this.load(key).catch((err: Error) => this.log.warn(`could not read the cached TCAV results of ${key}: ${err.message}`));
  }
}
