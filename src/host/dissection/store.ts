/**
 * The dissections Loupe knows for the workspace's models: read from the worker's on-disk cache
 * (`loupe/cachedDissections`, no computation) whenever the active model is (re)described — a new
 * description means new weights, whose cached results the worker returns — and added to when a
 * "Dissect this layer" run finishes. The Layers view, the CodeLens, the hover and the panel read it.
 */
import * as vscode from 'vscode';
import type { ModelDescription, DissectionSummary } from '../../protocol/types';
import type { HostWorkerClient } from '../hostClient';
import type { ModelStore } from '../models/modelStore';

export class DissectionStore implements vscode.Disposable {
  private readonly byModel = new Map<string, Map<string, DissectionSummary>>();
  /** The description each model's cache was read for: a different one means the files changed. */
  private readonly loadedFor = new Map<string, ModelDescription>();
  /** Bumped by each `set`, so a cache read that started earlier does not drop a newer result. */
  private version = 0;
  private readonly setAt = new WeakMap<DissectionSummary, number>();
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [this.changed];
  /** Fires when a model's dissections were read or one was added. */
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly models: ModelStore,
    private readonly client: () => HostWorkerClient,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(models.onDidChange(() => this.syncActive()));
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
  async load(modelPath: string): Promise<DissectionSummary[]> {
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
    this.load(key).catch((err: Error) => this.log.warn(`could not read the cached dissections of ${key}: ${err.message}`));
  }
}
