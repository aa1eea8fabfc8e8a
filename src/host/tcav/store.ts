/**
 * The TCAV results Loupe knows for the workspace's models: read from the worker's disk cache
 * (`loupe/cachedTcav`, no computation) whenever the active model is (re)described — new weights,
 * new results — and added to when a run finishes. The CodeLens and the panel read it.
 */
import type * as vscode from 'vscode';
import type { TcavResult } from '../../protocol/tcav';
import type { HostWorkerClient } from '../hostClient';
import type { ModelStore } from '../models/modelStore';
import { ResultsByModel } from '../models/resultsByModel';
import { latestForLayer } from './labels';

/** TCAV results by model and cache key. */
export class TcavStore extends ResultsByModel<TcavResult> {
  constructor(models: ModelStore, client: () => HostWorkerClient, log: vscode.LogOutputChannel) {
    super(models, client, log, 'TCAV results');
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
  override async load(modelPath: string): Promise<TcavResult[]> {
    const list = await this.client().cachedTcav(modelPath);
    const results = this.byModel.get(modelPath) ?? new Map<string, TcavResult>();
    for (const r of list) if (!results.has(r.key)) results.set(r.key, r);
    this.byModel.set(modelPath, results);
    this.log.info(`${list.length} cached TCAV result(s) for ${modelPath}`);
    this.changed.fire();
    return list;
  }
}
