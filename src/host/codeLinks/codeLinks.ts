/**
 * Links between the active model's layers and the source lines that define them:
 * `definitions` / `open` for commands and panels, a CodeLens above each linked line and a hover on it.
 */
import * as vscode from 'vscode';
import { linkByCreationOrder, scanFile, type RankedDefinition } from '../codeIndex';
import type { ModelDescription } from '../../protocol/types';
import { dissectionMarkdown, lensTitle } from '../dissection/labels';
import type { DissectionStore } from '../dissection/store';
import { codeLensTitle, escapeMarkdown, layerMarkdown } from '../format';
import type { ModelStore } from '../models/modelStore';
import { tcavLensTitle } from '../tcav/labels';
import type { TcavStore } from '../tcav/store';
import type { WorkspaceIndexer } from './indexer';
import { linksFile } from './rank';

export const SOURCE_SELECTOR: vscode.DocumentSelector = [
  { scheme: 'file', pattern: '**/*.{py,pyw,js,mjs,cjs,ts,mts,cts,jsx,tsx}' },
];

export class CodeLinks implements vscode.CodeLensProvider, vscode.HoverProvider, vscode.Disposable {
  private readonly lensesChanged = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [this.lensesChanged];
  readonly onDidChangeCodeLenses = this.lensesChanged.event;

  constructor(
    private readonly indexer: WorkspaceIndexer,
    private readonly models: ModelStore,
    private readonly dissections?: DissectionStore,
    private readonly tcav?: TcavStore,
  ) {
    this.disposables.push(
      indexer.onDidChange(() => this.lensesChanged.fire()),
      models.onDidChange(() => this.lensesChanged.fire()),
    );
    if (dissections) this.disposables.push(dissections.onDidChange(() => this.lensesChanged.fire()));
    if (tcav) this.disposables.push(tcav.onDidChange(() => this.lensesChanged.fire()));
  }

  definitions(layer: string): RankedDefinition[] {
    const active = this.models.active();
    if (!active) return [];
    const modelLayers = this.models.known(active.uri)?.layers;
    return this.indexer.index.rank(layer, {
      modelPath: active.uri.fsPath,
      ...(rootOf(active.uri) ? { workspaceRoot: rootOf(active.uri)! } : {}),
      ...(modelLayers ? { modelLayers } : {}),
    });
  }

  async open(layer: string): Promise<void> {
    await this.indexer.whenReady();
    const ranked = this.definitions(layer);
    if (ranked.length === 0) {
      void vscode.window.showInformationMessage(
        `Loupe: no source file in the workspace defines a layer named "${layer}" (searched ${this.indexer.index.fileCount} Python/JS/TS files; layers are found by an explicit name=, a module attribute, or for unnamed Keras layers by creation order).`);
      return;
    }
    if (ranked.length === 1) {
      await showDefinition(ranked[0]!, false);
      return;
    }
    // Several candidates: preview the best at once, let the user move through the others with the reason for each.
    type Item = vscode.QuickPickItem & { ranked: RankedDefinition };
    const items: Item[] = ranked.map((r, i) => ({
      label: `${i === 0 ? '$(star-full) ' : ''}${vscode.workspace.asRelativePath(r.definition.file)}:${r.definition.line + 1}`,
      description: `${r.definition.className} (${r.definition.framework})`,
      detail: r.reason,
      ranked: r,
    }));
    const pick = vscode.window.createQuickPick<Item>();
    pick.title = `Definitions of layer "${layer}" — best match first`;
    pick.placeholder = 'The first file is the one that produced the active model, as far as Loupe can tell';
    pick.items = items;
    pick.activeItems = [items[0]!];
    pick.matchOnDetail = true;
    const chosen = await new Promise<Item | undefined>((resolve) => {
      pick.onDidChangeActive((active) => { if (active[0]) void showDefinition(active[0].ranked, true); });
      pick.onDidAccept(() => { resolve(pick.selectedItems[0] ?? pick.activeItems[0]); pick.hide(); });
      pick.onDidHide(() => { resolve(undefined); pick.dispose(); });
      pick.show();
    });
    if (chosen) await showDefinition(chosen.ranked, false);
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const modelPath = this.models.active()?.uri.fsPath;
    const linked = this.linked(document);
    // Unnamed Keras layers whose Keras number this file does not determine: said on their line, in files that build the model.
    const unlinked = linked.length ? this.orderLinks(document).unlinked.map(({ call, why }) => new vscode.CodeLens(
      document.lineAt(Math.min(call.line, document.lineCount - 1)).range,
      { title: `Loupe: no link by creation order: ${why}; name the layer (name="…") to link it`, command: '' })) : [];
    return [...unlinked, ...linked.flatMap(({ layer, range }) => {
      const lenses = [new vscode.CodeLens(range, {
        title: codeLensTitle(layer),
        tooltip: 'Show this layer in the Loupe Layers view',
        command: 'loupe.revealLayer',
        arguments: [layer.name],
      })];
      const dissection = modelPath ? this.dissections?.get(modelPath, layer.name) : undefined;
      if (modelPath && dissection) {
        lenses.push(new vscode.CodeLens(range, {
          title: lensTitle(dissection),
          tooltip: `Open the network dissection of ${layer.name}`,
          command: 'loupe.openDissection',
          arguments: [layer.name, modelPath],
        }));
      }
      // TCAV: the newest result that tested this layer.
      const tcav = modelPath ? this.tcav?.latest(modelPath, layer.name) : undefined;
      const tcavTitle = tcav ? tcavLensTitle(tcav, layer.name) : undefined;
      if (modelPath && tcav && tcavTitle) {
        lenses.push(new vscode.CodeLens(range, {
          title: tcavTitle,
          tooltip: `Open the TCAV result of class "${tcav.classLabel}" (* significant after Bonferroni, n.s. not significant)`,
          command: 'loupe.openTcav',
          arguments: [modelPath, tcav.key],
        }));
      }
      return lenses;
    })];
  }

  provideHover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const description = this.describedNow();
    if (!description) return undefined;
    const hit = this.linked(document).find((l) => l.hoverRanges.some((r) => r.contains(position)));
    if (!hit) return undefined;
    const md = new vscode.MarkdownString(layerMarkdown(hit.layer, description));
    md.appendMarkdown(`\n\n*Linked by ${hit.how ? escapeMarkdown(hit.how) : hit.framework === 'keras' ? 'its name= argument' : 'the name in the source'}.*`);
    const args = encodeURIComponent(JSON.stringify([hit.layer.name]));
    const modelPath = this.models.active()?.uri.fsPath;
    const dissection = modelPath ? this.dissections?.get(modelPath, hit.layer.name) : undefined;
    md.appendMarkdown(`\n\n[Show in Layers view](command:loupe.revealLayer?${args}) · [Grad-CAM at this layer](command:loupe.gradcamAtLayer?${args})`);
    if (dissection && modelPath) {
      const open = encodeURIComponent(JSON.stringify([hit.layer.name, modelPath]));
      md.appendMarkdown(`\n\n---\n\n${dissectionMarkdown(dissection)}\n\n[Open Dissection](command:loupe.openDissection?${open})`);
    } else if (hit.layer.outputShape.length === 3) {
      md.appendMarkdown(` · [Dissect this layer](command:loupe.dissectLayer?${args})`);
    }
    md.isTrusted = { enabledCommands: ['loupe.revealLayer', 'loupe.gradcamAtLayer', 'loupe.openDissection', 'loupe.dissectLayer'] };
    return new vscode.Hover(md, hit.hoverRanges[0]);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }

  /** The active model's description if known; otherwise asks for it (the store fires a change when it arrives). */
  private describedNow(): ModelDescription | undefined {
    const active = this.models.active();
    return active ? this.models.knownOrRequest(active.uri) : undefined;
  }

  /** The document's unnamed Keras layers linked (or not) to the active model's layers by creation order. */
  private orderLinks(document: vscode.TextDocument): ReturnType<typeof linkByCreationOrder> {
    const description = this.describedNow();
    const { kerasAuto } = scanFile(document.uri.fsPath, document.getText());
    return description && kerasAuto?.length ? linkByCreationOrder(kerasAuto, description.layers) : { links: [], unlinked: [] };
  }

  /** Definitions in the document (its current text) of layers that the active model has: by name, or by Keras creation order. */
  private linked(document: vscode.TextDocument): LinkedLine[] {
    const { definitions } = scanFile(document.uri.fsPath, document.getText());
    const description = this.describedNow();
    if (!description) return [];
    const byOrder = this.orderLinks(document).links;
    if (definitions.length === 0 && byOrder.length === 0) return [];
    const layers = new Map(description.layers.map((l) => [l.name, l]));
    const out: LinkedLine[] = [];
    for (const d of definitions) {
      const layer = layers.get(d.name);
      if (!layer || !linksFile(this.definitions(d.name), document.uri.fsPath)) continue;
      const callLine = document.lineAt(Math.min(d.line, document.lineCount - 1));
      const nameEnd = d.nameColumn + d.name.length + 2; // the name plus its quotes (or `self.` is before nameColumn)
      out.push({
        layer,
        range: callLine.range,
        hoverRanges: [
          new vscode.Range(d.nameLine, d.nameColumn, d.nameLine, nameEnd),
          new vscode.Range(d.line, d.column, d.line, callLine.text.length),
        ],
        framework: d.framework,
      });
    }
    for (const { layer: name, call, how } of byOrder) {
      const layer = layers.get(name);
      if (!layer || out.some((o) => o.layer.name === name) || !linksFile(this.definitions(name), document.uri.fsPath)) continue;
      const callLine = document.lineAt(Math.min(call.line, document.lineCount - 1));
      out.push({
        layer, range: callLine.range, framework: 'keras', how,
        hoverRanges: [new vscode.Range(call.line, call.column, call.line, callLine.text.length)],
      });
    }
    return out;
  }
}

interface LinkedLine {
  layer: ModelDescription['layers'][number];
  range: vscode.Range;
  hoverRanges: vscode.Range[];
  framework: string;
  /** How an unnamed Keras layer was linked (creation order). */
  how?: string;
}

async function showDefinition(r: RankedDefinition, preview: boolean): Promise<void> {
  const d = r.definition;
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(d.file));
  const at = new vscode.Position(d.nameLine, d.nameColumn);
  await vscode.window.showTextDocument(doc, {
    selection: new vscode.Range(at, at),
    preview: true,
    preserveFocus: preview,
  });
}

function rootOf(uri: vscode.Uri): string | undefined {
  return vscode.workspace.getWorkspaceFolder(uri)?.uri.fsPath ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}
