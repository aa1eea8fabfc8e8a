/**
 * The feature visualisations Loupe knows for the workspace's models: read from the worker's disk cache
 * (`loupe/cachedFeatureVis`, no computation) whenever the active model is (re)described, and added to when a
 * "Visualize Unit" run finishes. A unit's default picture (Lucid's channel objective, one image) is its icon
 * in the Layers view, the Dissection panel and the Building Blocks panel.
 */
import * as vscode from 'vscode';
import type { FeatureVisSummary } from '../../protocol/featureVis';
import type { ModelDescription } from '../../protocol/types';
import type { HostWorkerClient } from '../hostClient';
import { imageFile, unitOf } from './pictures';
import type { ModelStore } from '../models/modelStore';

const key = (layer: string, unit: number) => `${layer}\u0000${unit}`;

export class FeatureVisStore implements vscode.Disposable {
  private readonly byModel = new Map<string, Map<string, FeatureVisSummary>>();
  private readonly loadedFor = new Map<string, ModelDescription>();
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [this.changed];
  readonly onDidChange = this.changed.event;

  constructor(private readonly models: ModelStore, private readonly client: () => HostWorkerClient, private readonly log: vscode.LogOutputChannel) {
    this.disposables.push(models.onDidChange(() => this.syncActive()));
  }

  /** The unit's default picture, if it was rendered for the model's current weights. */
  get(modelPath: string, layer: string, unit: number): FeatureVisSummary | undefined {
    return this.byModel.get(modelPath)?.get(key(layer, unit));
  }

  /** The PNG file of the unit's picture, if any. */
  icon(modelPath: string, layer: string, unit: number): string | undefined {
    const s = this.get(modelPath, layer, unit);
    return s ? imageFile(s) : undefined;
  }

  /** Records a result just computed (or read); only units' default pictures become icons. */
  set(modelPath: string, summary: FeatureVisSummary): void {
    const u = unitOf(summary);
    if (!u) return;
    let units = this.byModel.get(modelPath);
    if (!units) this.byModel.set(modelPath, (units = new Map()));
    units.set(key(u.layer, u.unit), summary);
    this.changed.fire();
  }

  async load(modelPath: string): Promise<void> {
    const list = await this.client().cachedFeatureVis(modelPath);
    const known = this.byModel.get(modelPath);
    const units = known ?? new Map<string, FeatureVisSummary>();
    const before = units.size;
    // Several cached renders of one unit (other steps or seeds): the default recipe's wins, else the latest.
    for (const s of list.sort((a, b) => Number(a.params.steps === 512) - Number(b.params.steps === 512))) {
      const u = unitOf(s);
      if (u) units.set(key(u.layer, u.unit), s);
    }
    this.byModel.set(modelPath, units);
    this.log.info(`${list.length} cached feature visualisation(s) for ${modelPath}`);
    // Views rebuild on a change: none when the cache had nothing new (a rebuilt tree drops an open context menu's item).
    if (!known || units.size !== before || list.length > 0) this.changed.fire();
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }

  private syncActive(): void {
    const active = this.models.active();
    if (!active) return;
    const description = this.models.known(active.uri);
    const modelPath = active.uri.fsPath;
    if (!description || this.loadedFor.get(modelPath) === description) return;
    this.loadedFor.set(modelPath, description);
    if (this.byModel.delete(modelPath)) this.changed.fire();
    this.load(modelPath).catch((err: Error) => this.log.warn(`could not read the cached feature visualisations of ${modelPath}: ${err.message}`));
  }
}
