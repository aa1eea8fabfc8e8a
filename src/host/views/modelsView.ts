/** The Models view: every TF.js model.json in the workspace; the active one is checked, a click activates another. */
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

export class ModelsProvider implements vscode.TreeDataProvider<ModelItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly subscription: vscode.Disposable;
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly models: ModelStore) {
    this.subscription = models.onDidChange(() => this.changed.fire());
  }

  getTreeItem(item: ModelItem): vscode.TreeItem {
    return item;
  }

  getChildren(item?: ModelItem): ModelItem[] {
    if (item) return [];
    return this.models.list().map((uri) => {
      const d = this.models.known(uri);
      return new ModelItem(uri, this.models.isActive(uri), d ? `${d.format} · ${d.layers.length} layers` : undefined);
    });
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
