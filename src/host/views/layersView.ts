/**
 * The Layers view: the active model's layers in execution order (as the worker describes them).
 * Each item says class, output shape and parameter count; its context menu offers Grad-CAM at the
 * layer (spatial outputs only) and the source definition (when the code index found one).
 */
import * as vscode from 'vscode';
import type { LayerInfo, ModelDescription } from '../../protocol/types';
import { isSpatial, layerMarkdown, layerSummary, modelSummary } from '../format';
import type { ModelStore } from '../models/modelStore';

export const LAYERS_VIEW_ID = 'loupe.layers';

export class LayerItem extends vscode.TreeItem {
  constructor(readonly layer: LayerInfo, model: ModelDescription, linked: boolean) {
    super(layer.name, vscode.TreeItemCollapsibleState.None);
    this.id = `${model.path}#${layer.name}`;
    this.description = layerSummary(layer);
    this.tooltip = new vscode.MarkdownString(layerMarkdown(layer, model));
    this.iconPath = new vscode.ThemeIcon(layer.isConv ? 'symbol-array' : 'symbol-field');
    // Space-separated flags, matched in package.json with `viewItem =~ /\bflag\b/`.
    this.contextValue = ['loupe.layer', isSpatial(layer) ? 'spatial' : '', linked ? 'linked' : ''].filter(Boolean).join(' ');
    if (linked) this.command = { command: 'loupe.goToLayerDefinition', title: 'Go to Definition', arguments: [layer.name] };
  }
}

export class LayersProvider implements vscode.TreeDataProvider<LayerItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [this.changed];
  private items = new Map<string, LayerItem>();
  private view: vscode.TreeView<LayerItem> | undefined;
  readonly onDidChangeTreeData = this.changed.event;

  constructor(
    private readonly models: ModelStore,
    private readonly hasDefinition: (layer: string) => boolean,
    onIndexChange: vscode.Event<void>,
  ) {
    this.disposables.push(models.onDidChange(() => this.changed.fire()), onIndexChange(() => this.changed.fire()));
  }

  attach(view: vscode.TreeView<LayerItem>): void {
    this.view = view;
  }

  refresh(): void {
    this.changed.fire();
  }

  getTreeItem(item: LayerItem): vscode.TreeItem {
    return item;
  }

  getParent(): undefined {
    return undefined;
  }

  async getChildren(item?: LayerItem): Promise<LayerItem[]> {
    if (item) return [];
    const active = this.models.active();
    if (!active) {
      this.setMessage('No active model: pick one in the Models view.');
      return [];
    }
    let model: ModelDescription;
    try {
      model = await this.models.describe(active.uri);
    } catch (err) {
      this.setMessage(`Could not read the model: ${(err as Error).message}`);
      return [];
    }
    this.setMessage(modelSummary(model));
    const items = model.layers.map((l) => new LayerItem(l, model, this.hasDefinition(l.name)));
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
