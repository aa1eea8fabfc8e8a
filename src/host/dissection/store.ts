/**
 * The dissections Loupe knows for the workspace's models: read from the worker's on-disk cache
 * (`loupe/cachedDissections`, no computation) whenever the active model is (re)described — a new
 * description means new weights, whose cached results the worker returns — and added to when a
 * "Dissect this layer" run finishes. The Layers view, the CodeLens, the hover and the panel read it.
 */
import type * as vscode from 'vscode';
import type { DissectionSummary } from '../../protocol/types';
import type { HostWorkerClient } from '../hostClient';
import type { ModelStore } from '../models/modelStore';
import { ResultsByModel } from '../models/resultsByModel';

/** Dissections by model and layer name. */
export class DissectionStore extends ResultsByModel<DissectionSummary> {
  /** Bumped by each `set`, so a cache read that started earlier does not drop a newer result. */
  private version = 0;
  private readonly setAt = new WeakMap<DissectionSummary, number>();

  constructor(models: ModelStore, client: () => HostWorkerClient, log: vscode.LogOutputChannel) {
    super(models, client, log, 'dissections');
  }

  get(modelPath: string, layer: string): DissectionSummary | undefined {
    return this.byModel.get(modelPath)?.get(layer);
  }

  /** Every dissection known for the model, by layer name. */
  forModel(modelPath: string): ReadonlyMap<string, DissectionSummary> {
    return this.byModel.get(modelPath) ?? new Map();
  }

  /** Records a result just computed (or read) for `modelPath`. */
  set(modelPath: string, summary: DissectionSummary): void {
    let layers = this.byModel.get(modelPath);
    if (!layers) this.byModel.set(modelPath, (layers = new Map()));
    layers.set(summary.layer, summary);
    this.setAt.set(summary, ++this.version);
    this.changed.fire();
  }

  /** Reads the model's cached dissections from the worker (replacing what was known). */
  override async load(modelPath: string): Promise<DissectionSummary[]> {
    const started = this.version;
    const list = await this.client().cachedDissections(modelPath);
    const layers = new Map(list.map((s) => [s.layer, s]));
    for (const [layer, s] of this.byModel.get(modelPath) ?? []) {
      if ((this.setAt.get(s) ?? 0) > started) layers.set(layer, s);
    }
    this.byModel.set(modelPath, layers);
    this.log.info(`${list.length} cached dissection(s) for ${modelPath}${list.length ? `: ${list.map((s) => s.layer).join(', ')}` : ''}`);
    this.changed.fire();
    return list;
  }
}
