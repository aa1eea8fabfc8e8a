/**
 * Loupe's extension host entry. Thin on purpose: it wires the services together and nothing here
 * (or below it) imports TF.js or the engine — analyses run in the worker process (dist/worker.js).
 */
import * as vscode from 'vscode';
import { SOURCE_SELECTOR } from './codeLinks/codeLinks';
import { registerCommands } from './commands';
import { registerExportFolderContext } from './exports/exportFolder';
import { createLoupeServices, type LoupeServices } from './loupeContext';
import { registerDissectPanel } from './panels/dissectPanel';
import { registerExplainPanel } from './panels/explainPanel';
import { registerTcavPanel } from './panels/tcavPanel';
import { registerFeatureVisCommands } from './featureVis/commands';
import { registerBlocksPanel } from './panels/blocksPanel';
import { registerFeatureVisPanel } from './panels/featureVisPanel';
import { ModelsProvider } from './views/modelsView';
import { LAYERS_VIEW_ID, LayersProvider } from './views/layersView';

let services: LoupeServices | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const started = performance.now();
  const log = vscode.window.createOutputChannel('Loupe', { log: true });
  context.subscriptions.push(log);
  try {
    const created = createLoupeServices(context, log);
    services = created;
    context.subscriptions.push(...created.disposables);
    const { ctx, models, indexer, codeLinks, dissections } = created;

    const modelsProvider = new ModelsProvider(models);
    const layersProvider = new LayersProvider(models, (layer) => codeLinks.definitions(layer).length > 0, indexer.onDidChange, dissections,
      created.featureVis);
    const layersView = vscode.window.createTreeView(LAYERS_VIEW_ID, { treeDataProvider: layersProvider, showCollapseAll: false });
    layersProvider.attach(layersView);
    context.subscriptions.push(
      modelsProvider, layersProvider, layersView,
      vscode.window.createTreeView('loupe.models', { treeDataProvider: modelsProvider }),
      vscode.languages.registerCodeLensProvider(SOURCE_SELECTOR, codeLinks),
      vscode.languages.registerHoverProvider(SOURCE_SELECTOR, codeLinks),
      registerExplainPanel(ctx),
      registerDissectPanel(ctx),
      registerTcavPanel(ctx, created.tcav),
      ...registerCommands(created, layersProvider),
      // feature visualisation and Building Blocks
      registerFeatureVisPanel(ctx, created.featureVis),
      registerBlocksPanel(ctx, created.featureVis),
      ...registerFeatureVisCommands(created),
      // issue 12: exports go to loupe.exportFolder, which the Explorer's Explain Image skips
      registerExportFolderContext(),
    );

    // Discovery and indexing run in the background: activation must not wait for the file system.
    void models.refresh().catch((err: Error) => log.error(`model discovery failed: ${err.message}`));
    void indexer.whenReady();
    log.info(`activated in ${Math.round(performance.now() - started)} ms (VS Code ${vscode.version})`);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.error(`activation failed: ${err instanceof Error ? err.stack ?? message : message}`);
    void vscode.window.showErrorMessage(`Loupe could not start: ${message}`, 'Show Log').then((c) => { if (c) log.show(); });
  }
}

/** VS Code waits for this promise: the worker is asked to exit before the extension host goes. */
export function deactivate(): Promise<void> | undefined {
  const stopping = services?.shutdown();
  services = undefined;
  return stopping;
}
