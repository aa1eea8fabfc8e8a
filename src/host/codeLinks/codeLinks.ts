/**
 * Links between the active model's layers and the source lines that define them:
 * `definitions` / `open` for commands and panels, a CodeLens above each linked line and a hover on it.
 */
import * as vscode from 'vscode';
import { frameworksFor, linkByCreationOrder, scanFile, type RankContext, type RankedDefinition } from '../codeIndex';
import type { ModelDescription } from '../../protocol/types';
import { dissectionMarkdown, lensTitle as dissectionLensTitle } from '../dissection/labels';
import type { DissectionStore } from '../dissection/store';
import { codeLayerRefs, codeName } from '../format';
import type { ModelStore } from '../models/modelStore';
import { tcavLensTitle } from '../tcav/labels';
import type { TcavStore } from '../tcav/store';
import type { WorkspaceIndexer } from './indexer';
import { lensTitle, lineMarkdown, ownLayers, type LinkedLayer } from './lineText';
import { linksFile } from './rank';

export const SOURCE_SELECTOR: vscode.DocumentSelector = [
  { scheme: 'file', pattern: '**/*.{py,pyw,js,mjs,cjs,ts,mts,cts,jsx,tsx}' },
];

interface LinkedLine {
  group: LinkedLayer[];
  range: vscode.Range;
  hoverRanges: vscode.Range[];
}

export class CodeLinks implements vscode.CodeLensProvider, vscode.HoverProvider, vscode.Disposable {
  private readonly lensesChanged = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [this.lensesChanged];
  /** The last document's linked lines (lenses and hovers ask for the same version in turn). */
  private lastLinked: { key: string; description: ModelDescription; lines: LinkedLine[] } | undefined;
  private readonly codeNames = new WeakMap<ModelDescription, Map<string, string>>();
  private readonly codeLayerCache = new WeakMap<ModelDescription, ReturnType<typeof codeLayerRefs>>();
  readonly onDidChangeCodeLenses = this.lensesChanged.event;

  constructor(
    private readonly indexer: WorkspaceIndexer,
    private readonly models: ModelStore,
    private readonly dissections?: DissectionStore,
    private readonly tcav?: TcavStore,
  ) {
    const changed = (): void => {
      this.lastLinked = undefined;
      this.lensesChanged.fire();
    };
    this.disposables.push(indexer.onDidChange(changed), models.onDidChange(changed));
    if (dissections) this.disposables.push(dissections.onDidChange(changed));
    if (tcav) this.disposables.push(tcav.onDidChange(changed));
  }

  /** Source definitions of the active model's layer `layer`, best first; a PyTorch layer is looked up by its module path (sourceName). */
  definitions(layer: string): RankedDefinition[] {
    const context = this.rankContext();
    return context ? this.indexer.index.rank(this.codeNameOf(layer), context) : [];
  }

  async open(layer: string): Promise<void> {
    await this.indexer.whenReady();
    const ranked = this.definitions(layer);
    const looked = this.codeNameOf(layer);
    if (ranked.length === 0) {
      const as = looked === layer ? '' : ` (module ${looked})`;
      void vscode.window.showInformationMessage(
        `Loupe: no source file in the workspace defines layer "${layer}"${as} (searched ${this.indexer.index.fileCount} Python/JS/TS files; layers need an explicit name=, a module attribute, or a module path Loupe can follow from the model's class).`);
      return;
    }
    if (ranked.length === 1) {
      await showDefinition(ranked[0]!, false);
      explainStop(ranked[0]!);
      return;
    }
    // Several candidates: preview the best at once, let the user move through the others with the reason for each.
    type Item = vscode.QuickPickItem & { ranked: RankedDefinition };
    const items: Item[] = ranked.map((r, i) => ({
      label: `${i === 0 ? '$(star-full) ' : ''}${vscode.workspace.asRelativePath(r.definition.file)}:${r.definition.line + 1}`,
      description: `${r.definition.className} (${r.definition.framework})`,
      detail: r.definition.caveat ? `${r.reason} · ${r.definition.caveat}` : r.reason,
      ranked: r,
    }));
    const pick = vscode.window.createQuickPick<Item>();
    pick.title = `Definitions of layer "${looked}" — best match first`;
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
    if (chosen) {
      await showDefinition(chosen.ranked, false);
      explainStop(chosen.ranked);
    }
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const modelPath = this.models.active()?.uri.fsPath;
    const layout = this.describedNow()?.layout;
    const linked = this.linked(document);
    // Unnamed Keras layers whose Keras number this file does not determine: said on their line, in files that build the model.
    const unlinked = linked.length ? this.orderLinks(document).unlinked.map(({ call, why }) => new vscode.CodeLens(
      document.lineAt(Math.min(call.line, document.lineCount - 1)).range,
      { title: `Loupe: no link by creation order: ${why}; name the layer (name="…") to link it`, command: '' })) : [];
    return [...unlinked, ...linked.flatMap(({ group, range }) => {
      const names = group.map((g) => g.layer.name);
      const lenses = [new vscode.CodeLens(range, {
        title: lensTitle(group, layout),
        tooltip: names.length === 1 ? 'Show this layer in the Loupe Layers view' : `Show one of these ${names.length} layers in the Loupe Layers view`,
        command: 'loupe.revealLayer',
        arguments: [names.length === 1 ? names[0] : names],
      })];
      for (const { layer } of group) {
        const dissection = modelPath ? this.dissections?.get(modelPath, layer.name) : undefined;
        if (!modelPath || !dissection) continue;
        lenses.push(new vscode.CodeLens(range, {
          title: group.length === 1 ? dissectionLensTitle(dissection) : `${layer.name}: ${dissectionLensTitle(dissection)}`,
          tooltip: `Open the network dissection of ${layer.name}`,
          command: 'loupe.openDissection',
          arguments: [layer.name, modelPath],
        }));
      }
      for (const { layer } of group) {
        // TCAV: the newest result that tested this layer.
        const tcav = modelPath ? this.tcav?.latest(modelPath, layer.name) : undefined;
        const tcavTitle = tcav ? tcavLensTitle(tcav, layer.name) : undefined;
        if (!modelPath || !tcav || !tcavTitle) continue;
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

  /** The document's unnamed Keras layers linked (or not) to the active model's layers by creation order. */
  private orderLinks(document: vscode.TextDocument): ReturnType<typeof linkByCreationOrder> {
    const description = this.describedNow();
    const { kerasAuto } = scanFile(document.uri.fsPath, document.getText());
    return description && kerasAuto?.length ? linkByCreationOrder(kerasAuto, this.codeLayersOf(description)) : { links: [], unlinked: [] };
  }

  provideHover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const description = this.describedNow();
    if (!description) return undefined;
    const hit = this.linked(document).find((l) => l.hoverRanges.some((r) => r.contains(position)));
    if (!hit) return undefined;
    const md = new vscode.MarkdownString(lineMarkdown(hit.group, description));
    const modelPath = this.models.active()?.uri.fsPath;
    const own = ownLayers(hit.group);
    if (own.length === 1 && hit.group.length === 1) {
      const layer = own[0]!.layer;
      const args = encodeURIComponent(JSON.stringify([layer.name]));
      const dissection = modelPath ? this.dissections?.get(modelPath, layer.name) : undefined;
      md.appendMarkdown(`\n\n[Show in Layers view](command:loupe.revealLayer?${args}) · [Grad-CAM at this layer](command:loupe.gradcamAtLayer?${args})`);
      if (dissection && modelPath) {
        const open = encodeURIComponent(JSON.stringify([layer.name, modelPath]));
        md.appendMarkdown(`\n\n---\n\n${dissectionMarkdown(dissection)}\n\n[Open Dissection](command:loupe.openDissection?${open})`);
      } else if (layer.outputShape.length === 3) {
        md.appendMarkdown(` · [Dissect this layer](command:loupe.dissectLayer?${args})`);
      }
    } else {
      const args = encodeURIComponent(JSON.stringify([hit.group.map((g) => g.layer.name)]));
      md.appendMarkdown(`\n\n[Show one in the Layers view](command:loupe.revealLayer?${args})`);
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

  private rankContext(): RankContext | undefined {
    const active = this.models.active();
    if (!active) return undefined;
    const root = rootOf(active.uri);
    const known = this.models.known(active.uri);
    return {
      modelPath: active.uri.fsPath, ...(root ? { workspaceRoot: root } : {}),
      ...(known ? { modelLayers: this.codeLayersOf(known), frameworks: frameworksFor(known.format) } : {}),
    };
  }

  /** The model's layers as its code names them (one per Keras layer of a converted graph model); one array per description, as the index caches by identity. */
  private codeLayersOf(description: ModelDescription): ReturnType<typeof codeLayerRefs> {
    let refs = this.codeLayerCache.get(description);
    if (!refs) {
      refs = codeLayerRefs(description.layers);
      this.codeLayerCache.set(description, refs);
    }
    return refs;
  }

  /** The name a layer has in the code: its module path (sourceName); `#2` of a reused module's later call dropped when the model does not say. */
  private codeNameOf(layer: string): string {
    const description = this.describedNow();
    if (!description) return layer.replace(/#\d+$/, '');
    let names = this.codeNames.get(description);
    if (!names) {
      names = new Map(description.layers.map((l) => [l.name, codeName(l)]));
      this.codeNames.set(description, names);
    }
    return names.get(layer) ?? layer.replace(/#\d+$/, '');
  }

  /**
   * The document's lines that the active model's layers link to, each with the layers it stands for.
   * A line links when the document is as good a link for the layer as the best file (rank.ts). The
   * document's own text counts, saved or not.
   */
  private linked(document: vscode.TextDocument): LinkedLine[] {
    const description = this.describedNow();
    const context = this.rankContext();
    if (!description || !context || document.uri.scheme !== 'file') return [];
    const file = document.uri.fsPath;
    const key = `${document.uri.toString()}@${document.version}@${context.modelPath}`;
    if (this.lastLinked?.key === key && this.lastLinked.description === description) return this.lastLinked.lines;
    const index = document.isDirty || !this.indexer.index.scanOf(file)
      ? this.indexer.index.withFile(file, document.getText())
      : this.indexer.index;
    const groups = new Map<string, LinkedLayer[]>();
    for (const layer of description.layers) {
      const ranked = index.rank(codeName(layer), context);
      if (!linksFile(ranked, file)) continue;
      const own = ranked.find((r) => r.definition.file === file && r.tier === ranked[0]!.tier)!;
      const at = `${own.definition.line}:${own.definition.column}`;
      const group = groups.get(at);
      if (group) group.push({ layer, ranked: own });
      else groups.set(at, [{ layer, ranked: own }]);
    }
    const lines: LinkedLine[] = [];
    for (const group of groups.values()) {
      const d = group[0]!.ranked.definition;
      if (d.line >= document.lineCount) continue;
      const callLine = document.lineAt(d.line);
      // The name plus its quotes (Keras, TF.js), or the attribute after `self.` (PyTorch).
      const nameEnd = d.nameColumn + (d.nameLength ?? d.name.length + 2);
      lines.push({
        group,
        range: callLine.range,
        hoverRanges: [
          new vscode.Range(d.nameLine, d.nameColumn, d.nameLine, nameEnd),
          new vscode.Range(d.line, d.column, d.line, callLine.text.length),
        ],
      });
    }
    this.lastLinked = { key, description, lines };
    return lines;
  }
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

/** A link that stops short of the module says so where the user lands. */
function explainStop(r: RankedDefinition): void {
  if (r.definition.caveat) void vscode.window.showInformationMessage(`Loupe: ${r.definition.caveat}`);
}

function rootOf(uri: vscode.Uri): string | undefined {
  return vscode.workspace.getWorkspaceFolder(uri)?.uri.fsPath ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}
