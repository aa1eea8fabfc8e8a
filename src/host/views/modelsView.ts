/**
 * The Models view: every model in the workspace (TF.js model.json, ONNX, Keras); the active one is
 * checked, a click activates another. PyTorch checkpoints follow, not selectable: a click opens a
 * snippet that exports one to ONNX.
 */
import * as vscode from 'vscode';
import { shortModelName } from '../format';
import type { ModelStore } from '../models/modelStore';

export class ModelItem extends vscode.TreeItem {
  constructor(readonly uri: vscode.Uri, active: boolean, detail: string | undefined) {
    const relative = vscode.workspace.asRelativePath(uri, true);
    super(shortModelName(relative), vscode.TreeItemCollapsibleState.None);
    this.id = uri.toString();
    this.description = [active ? 'active' : undefined, detail].filter(Boolean).join(' · ') || relative;
    this.tooltip = new vscode.MarkdownString().appendText(`${uri.fsPath}${active ? '\n(active model)' : '\nClick to make this the active model'}`);
    this.iconPath = new vscode.ThemeIcon(active ? 'pass-filled' : 'circle-large-outline');
    this.contextValue = active ? 'loupe.model.active' : 'loupe.model';
    this.command = { command: 'loupe.selectModel', title: 'Use this model', arguments: [uri] };
    this.resourceUri = uri;
  }
}

export const CHECKPOINT_HINT = 'PyTorch checkpoint: export to ONNX to analyse';

export class CheckpointItem extends vscode.TreeItem {
  constructor(readonly uri: vscode.Uri) {
    const relative = vscode.workspace.asRelativePath(uri, true);
    super(shortModelName(relative), vscode.TreeItemCollapsibleState.None);
    this.id = `checkpoint:${uri.toString()}`;
    this.description = CHECKPOINT_HINT;
    this.tooltip = new vscode.MarkdownString().appendText(`${uri.fsPath}\n\nLoupe does not read PyTorch checkpoints (loading one runs code from the file). `
      + 'Click to open a ready-to-run torch.onnx.export snippet for it, built from the script that saved it; run it, and the .onnx file appears above.');
    this.iconPath = new vscode.ThemeIcon('file-binary');
    this.contextValue = 'loupe.checkpoint';
    this.command = { command: 'loupe.exportCheckpoint', title: 'Export to ONNX', arguments: [uri] };
  }
}

export class ModelsProvider implements vscode.TreeDataProvider<ModelItem | CheckpointItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly subscription: vscode.Disposable;
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly models: ModelStore) {
    this.subscription = models.onDidChange(() => this.changed.fire());
  }

  getTreeItem(item: ModelItem | CheckpointItem): vscode.TreeItem {
    return item;
  }

  getChildren(item?: ModelItem | CheckpointItem): Array<ModelItem | CheckpointItem> {
    if (item) return [];
    const models = this.models.list().map((uri) => {
      const d = this.models.known(uri);
      return new ModelItem(uri, this.models.isActive(uri), d ? `${d.format} · ${d.layers.length} layers` : undefined);
    });
    return [...models, ...this.models.checkpoints().map((uri) => new CheckpointItem(uri))];
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
