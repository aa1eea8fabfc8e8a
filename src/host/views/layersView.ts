/**
 * The Layers view: the active model's layers in execution order (as the worker describes them).
 * Each item says class, output shape and parameter count; its context menu offers Grad-CAM at the
 * layer and "Dissect this layer" (spatial outputs only) and the source definition (when the code
 * index found one). A layer with a dissection expands into its units, interpretable ones first.
 */
import * as vscode from 'vscode';
import { displayLayerName } from '../../protocol/layerNames';
import type { DissectedUnit, DissectionSummary, LayerInfo, ModelDescription } from '../../protocol/types';
import { compareForTree, interpretableText, unitLabel } from '../dissection/labels';
import type { DissectionStore } from '../dissection/store';
import type { FeatureVisStore } from '../featureVis/store';
import { escapeMarkdown, isSpatial, layerMarkdown, layerSummary, modelSummary, moduleCall } from '../format';
import { needsSidecarSize } from '../sidecar/sidecarErrors';
import type { ModelStore } from '../models/modelStore';

export const LAYERS_VIEW_ID = 'loupe.layers';

export class LayerItem extends vscode.TreeItem {
  constructor(readonly layer: LayerInfo, model: ModelDescription, linked: boolean, readonly dissection?: DissectionSummary) {
    super(displayLayerName(layer.name), dissection ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
    // The id changes with the dissection: VS Code keeps an item's collapsible state per id.
    this.id = `${model.path}#${layer.name}${dissection ? '#dissected' : ''}`;
    // Op, output shape in the layout the model's users think in, parameters; a reused module's later call says so.
    const call = moduleCall(layer);
    const summary = `${layerSummary(layer, model.layout)}${call ? ` · ${call}` : ''}`;
    this.description = dissection ? `${summary} · ${interpretableText(dissection)}` : summary;
    this.tooltip = new vscode.MarkdownString(layerMarkdown(layer, model));
    this.iconPath = new vscode.ThemeIcon(layer.isConv ? 'symbol-array' : 'symbol-field');
    // Space-separated flags, matched in package.json with `viewItem =~ /\bflag\b/`.
    this.contextValue = ['loupe.layer', isSpatial(layer) ? 'spatial' : '', linked ? 'linked' : '', dissection ? 'dissected' : '']
      .filter(Boolean).join(' ');
    if (linked) this.command = { command: 'loupe.goToLayerDefinition', title: 'Go to Definition', arguments: [layer.name] };
  }
}

export class UnitItem extends vscode.TreeItem {
  /** `picture`: the unit's feature visualisation (PNG), shown as its icon once it exists. */
  constructor(readonly parent: LayerItem, readonly unit: DissectedUnit, modelPath: string, iouThreshold: number, picture?: string) {
    super(unitLabel(unit), vscode.TreeItemCollapsibleState.None);
    this.id = `${parent.id}/unit${unit.unit}`;
    if (!unit.interpretable) this.description = `not interpretable (IoU ≤ ${iouThreshold})`;
    this.iconPath = picture ? vscode.Uri.file(picture) : new vscode.ThemeIcon(unit.interpretable ? 'symbol-color' : 'circle-slash');
    this.contextValue = `loupe.unit${unit.interpretable ? ' interpretable' : ''}`;
    const md = new vscode.MarkdownString(`**unit ${unit.unit}** of ${escapeMarkdown(displayLayerName(parent.layer.name))}: best concept ${escapeMarkdown(unit.label)} (${escapeMarkdown(unit.category)}), IoU ${unit.iou.toFixed(3)}`);
    if (unit.runnersUp.length) md.appendMarkdown(`\n\nrunners-up: ${unit.runnersUp.map((r) => `${escapeMarkdown(r.label)} ${r.iou.toFixed(3)}`).join(', ')}`);
    this.tooltip = md;
    this.command = { command: 'loupe.openDissection', title: 'Open Dissection', arguments: [parent.layer.name, modelPath, unit.unit] };
  }
}

export type LayersTreeItem = LayerItem | UnitItem;

export class LayersProvider implements vscode.TreeDataProvider<LayersTreeItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [this.changed];
  private items = new Map<string, LayerItem>();
  private view: vscode.TreeView<LayersTreeItem> | undefined;
  readonly onDidChangeTreeData = this.changed.event;

  constructor(
    private readonly models: ModelStore,
    private readonly hasDefinition: (layer: string) => boolean,
    onIndexChange: vscode.Event<void>,
    private readonly dissections?: DissectionStore,
    private readonly pictures?: FeatureVisStore,
  ) {
    this.disposables.push(models.onDidChange(() => this.changed.fire()), onIndexChange(() => this.changed.fire()));
    if (dissections) this.disposables.push(dissections.onDidChange(() => this.changed.fire()));
    if (pictures) this.disposables.push(pictures.onDidChange(() => this.changed.fire()));
  }

  attach(view: vscode.TreeView<LayersTreeItem>): void {
    this.view = view;
  }

  refresh(): void {
    this.changed.fire();
  }

  getTreeItem(item: LayersTreeItem): vscode.TreeItem {
    return item;
  }

  getParent(item: LayersTreeItem): LayerItem | undefined {
    return item instanceof UnitItem ? item.parent : undefined;
  }

  async getChildren(item?: LayersTreeItem): Promise<LayersTreeItem[]> {
    if (item instanceof UnitItem) return [];
    if (item) {
      const d = item.dissection;
      const modelPath = this.models.active()?.uri.fsPath;
      if (!d || !modelPath) return [];
      return [...d.units].sort(compareForTree)
        .map((u) => new UnitItem(item, u, modelPath, d.params.iouThreshold, this.pictures?.icon(modelPath, item.layer.name, u.unit)));
    }
    const active = this.models.active();
    if (!active) {
      this.setMessage('No active model: pick one in the Models view.');
      return [];
    }
    let model: ModelDescription;
    try {
      model = await this.models.describe(active.uri);
    } catch (err) {
      const message = (err as Error).message;
      this.setMessage(`Could not read the model: ${message}${needsSidecarSize(message) ? ' — run "Loupe: Create loupe.json for the Active Model" to give the size' : ''}`);
      return [];
    }
    this.setMessage(modelSummary(model));
    const dissected = this.dissections?.forModel(active.uri.fsPath);
    const items = model.layers.map((l) => new LayerItem(l, model, this.hasDefinition(l.name), dissected?.get(l.name)));
    this.items = new Map(items.map((i) => [i.layer.name, i]));
    return items;
  }

  /** Shows the Layers view with `layer` selected. */
  async reveal(layer: string): Promise<boolean> {
    await vscode.commands.executeCommand(`${LAYERS_VIEW_ID}.focus`);
    if (!this.items.has(layer)) await this.getChildren();
    const item = this.items.get(layer);
    if (!item || !this.view) return false;
    await this.view.reveal(item, { select: true, focus: true });
    return true;
  }

  /** The layers of the model last shown (for quick picks). */
  layers(): LayerInfo[] {
    return [...this.items.values()].map((i) => i.layer);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }

  private setMessage(message: string): void {
    if (this.view) this.view.message = message;
  }
}
