/**
 * Builds the window's LoupeContext and the services behind it (worker client, models, code index,
 * status bar). Everything returned is disposed with the extension.
 */
import * as vscode from 'vscode';
import type { BackendName } from '../protocol/types';
import { WorkspaceIndexer } from './codeLinks/indexer';
import { CodeLinks } from './codeLinks/codeLinks';
import { parseConfig, type LoupeConfig } from './config';
import { DissectionStore } from './dissection/store';
import { FeatureVisStore } from './featureVis/store';
import { visualizeUnit } from './panels/featureVisPanel';
import type { LoupeContext } from './context';
import { shortModelName } from './format';
import { HostWorkerClient } from './hostClient';
import { ModelStore } from './models/modelStore';
import { createSidecar } from './sidecar/createSidecar';
import { LoupeStatusBar } from './statusBar';
import { TcavStore } from './tcav/store';

const LAST_IMAGE_KEY = 'loupe.lastImage';
/** Settings baked into a WorkerClient at construction. */
const WORKER_SETTINGS = ['loupe.backend', 'loupe.maxImagePixels', 'loupe.worker.idleTimeoutSeconds', 'loupe.worker.keepModels'];

export interface LoupeServices {
  ctx: LoupeContext;
  models: ModelStore;
  indexer: WorkspaceIndexer;
  codeLinks: CodeLinks;
  dissections: DissectionStore;
  /** TCAV results of the workspace's models (the worker's cache plus this session's runs). */
  tcav: TcavStore;
  /** Units' feature visualisations (cached in the worker; icons in the views). */
  featureVis: FeatureVisStore;
  statusBar: LoupeStatusBar;
  /** Stops the worker and starts a fresh one with the current settings; resolves with its backend. */
  restartWorker(): Promise<BackendName>;
  /** Stops the worker for good (deactivate waits for it). */
  shutdown(): Promise<void>;
  disposables: vscode.Disposable[];
}

export function readConfig(): LoupeConfig {
  const section = vscode.workspace.getConfiguration('loupe');
  return parseConfig((key) => section.get(key));
}

export function createLoupeServices(ext: vscode.ExtensionContext, log: vscode.LogOutputChannel): LoupeServices {
  const disposables: vscode.Disposable[] = [];
  let config = readConfig();
  reportConfigProblems(config, log);
  const statusBar = new LoupeStatusBar(config.backend);
  disposables.push(statusBar);

  const workerPath = vscode.Uri.joinPath(ext.extensionUri, 'dist', 'worker.js').fsPath;
  // Per user, not per workspace: a result is keyed by the model's weights, wherever the model lives.
  const dissectionCache = vscode.Uri.joinPath(ext.globalStorageUri, 'dissections');
  const makeClient = (c: LoupeConfig): HostWorkerClient => {
    statusBar.setBackend(c.backend);
    return new HostWorkerClient({
      workerPath,
      log: (line) => log.info(line),
      idleTimeoutMs: c.worker.idleTimeoutSeconds * 1000,
      env: {
        ...process.env,
        // The extension host may be Electron: fork must run it as plain Node.
        ELECTRON_RUN_AS_NODE: '1',
        LOUPE_BACKEND: c.backend,
        // Not read by the worker yet (it uses the engine's default, 40e6); see the report on issue 3.
        LOUPE_MAX_IMAGE_PIXELS: String(c.maxImagePixels),
        LOUPE_CACHE_DIR: dissectionCache.fsPath,
        LOUPE_KEEP_MODELS: String(c.keepModels),
      },
    }, {
      onState: (state, detail) => statusBar.set(state, detail),
      onBackend: (backend) => statusBar.setBackend(backend),
      onCrash: (message) => {
        log.warn(message);
        void vscode.window.showWarningMessage(`${message} Loupe starts a new worker on the next request.`, 'Restart Now', 'Show Log')
          .then((choice) => {
            if (choice === 'Restart Now') void vscode.commands.executeCommand('loupe.restartWorker');
            if (choice === 'Show Log') log.show();
          });
      },
    });
  };

  let client = makeClient(config);
  let stale = false;
  /** Swaps in a client with the new settings once the current one has no call running. */
  const currentClient = (): HostWorkerClient => {
    if (stale && !client.busy) {
      const old = client;
      stale = false;
      client = makeClient(config);
      void old.dispose();
      log.info('worker settings changed: the next request starts a worker with the new settings');
    }
    return client;
  };

  const models = new ModelStore(ext.workspaceState, currentClient, log, () => readConfig().activeModel);
  const indexer = new WorkspaceIndexer(log);
  const dissections = new DissectionStore(models, currentClient, log);
  const tcav = new TcavStore(models, currentClient, log);
  const codeLinks = new CodeLinks(indexer, models, dissections, tcav);
  const featureVis = new FeatureVisStore(models, currentClient, log);
  disposables.push(models, indexer, dissections, tcav, codeLinks, featureVis);

  const updateModelName = (): void => {
    const active = models.active();
    statusBar.setModel(active ? models.known(active.uri)?.name ?? shortModelName(vscode.workspace.asRelativePath(active.uri, false)) : undefined);
  };
  disposables.push(models.onDidChange(updateModelName));

  disposables.push(vscode.workspace.onDidChangeConfiguration((e) => {
    if (!e.affectsConfiguration('loupe')) return;
    config = readConfig();
    reportConfigProblems(config, log);
    if (WORKER_SETTINGS.some((s) => e.affectsConfiguration(s))) {
      stale = true;
      currentClient();
    }
  }));

  disposables.push({ dispose: () => void client.dispose() });

  const ctx: LoupeContext = {
    extensionUri: ext.extensionUri,
    log,
    get client() {
      return currentClient();
    },
    config: () => config,
    activeModel: () => {
      const active = models.active();
      if (!active) return undefined;
      const description = models.known(active.uri);
      return description ? { uri: active.uri, description } : { uri: active.uri };
    },
    describeActive: () => models.describeActive(),
    codeLinks: {
      definitions: (layer) => codeLinks.definitions(layer),
      open: (layer) => codeLinks.open(layer),
    },
    status: { set: (state, detail) => statusBar.set(state, detail) },
    dissections: {
      cacheDir: dissectionCache,
      get: (modelPath, layer) => dissections.get(modelPath, layer),
      set: (modelPath, summary) => dissections.set(modelPath, summary),
      load: (modelPath) => dissections.load(modelPath),
    },
    createSidecar: (options) => createSidecar(models, log, options),
    featureVis: {
      icon: (modelPath, layer, unit) => featureVis.icon(modelPath, layer, unit),
      visualize: async (modelPath, layer, unit) => {
        await visualizeUnit(ctx, featureVis, modelPath, layer, unit);
      },
      onDidChange: featureVis.onDidChange,
    },
    images: {
      last: () => {
        const saved = ext.workspaceState.get<string>(LAST_IMAGE_KEY);
        return saved ? vscode.Uri.parse(saved) : undefined;
      },
      remember: (uri) => void ext.workspaceState.update(LAST_IMAGE_KEY, uri.toString()),
    },
  };

  const restartWorker = async (): Promise<BackendName> => {
    await client.stop('the user restarted it');
    stale = true;
    models.invalidate();
    return (await currentClient().start()).backend;
  };

  return { ctx, models, indexer, codeLinks, dissections, tcav, featureVis, statusBar, restartWorker, shutdown: () => client.dispose(), disposables };
}

function reportConfigProblems(config: LoupeConfig, log: vscode.LogOutputChannel): void {
  for (const problem of config.problems) log.warn(`settings: ${problem}`);
  // A refused preprocessing setting changes every map of that model: said where the user looks, naming the key.
  const refused = config.problems.filter((p) => p.startsWith('loupe.preprocessing'));
  if (refused.length) void vscode.window.showErrorMessage(`Loupe: ${refused.join(' · ')}`);
}
