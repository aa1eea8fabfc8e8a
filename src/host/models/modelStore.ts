/**
 * The workspace's models (TF.js, ONNX, Keras) and PyTorch checkpoints, which model is active, and the
 * active model's description. Discovery reads only the beginning of each file (see discovery.ts). The active model is
 * the `loupe.activeModel` setting when it names a found model, else the one picked last in this
 * workspace (workspace state), else the first found.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ModelDescription } from '../../protocol/types';
import { modelLabel } from '../format';
import type { ModelEntry } from '../context';
import type { HostWorkerClient } from '../hostClient';
import {
  chooseActive, isModelJsonText, isSearchablePath, MODEL_EXCLUDE_GLOB, MODEL_GLOB, modelFileKind, SNIFF_BYTES, sniffModelFile,
} from './discovery';

const STATE_KEY = 'loupe.activeModel';
/** Files whose change means a model's description may have changed. */
const MODEL_FILES_GLOB = '**/{model.json,*.bin,*.onnx,*.onnx.data,*.data,*.keras,*.h5,*.hdf5,*.pt,*.pth,*.ckpt,loupe.json,labels.txt}';
/** model.json files larger than this that the sniff could not decide are not models worth reading whole. */
const MAX_FULL_READ = 50 * 1024 * 1024;

export class ModelStore implements vscode.Disposable {
  private models: vscode.Uri[] = [];
  private checkpointList: vscode.Uri[] = [];
  private activeKey: string | undefined;
  private readonly descriptions = new Map<string, Promise<ModelDescription>>();
  private readonly described = new Map<string, ModelDescription>();
  /** Models whose last describe failed; passive callers (lenses, hovers) do not retry until a file changes. */
  private readonly failed = new Set<string>();
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [this.changed];
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private refreshTimer: NodeJS.Timeout | undefined;
  /** Fires when the list, the active model or its description changes. */
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly state: vscode.Memento,
    private readonly client: () => HostWorkerClient,
    private readonly log: vscode.LogOutputChannel,
    private readonly configuredPath: () => string,
  ) {
    const watcher = vscode.workspace.createFileSystemWatcher(MODEL_FILES_GLOB);
    const onFile = (uri: vscode.Uri): void => {
      if (!isSearchablePath(uri.fsPath)) return;
      // A shard, sidecar or labels file concerns every model in its folder; a model file itself.
      const dir = path.dirname(uri.fsPath);
      const affected = this.models.filter((m) => m.fsPath === uri.fsPath || path.dirname(m.fsPath) === dir).map((m) => m.fsPath);
      if (modelFileKind(uri.fsPath) && !affected.includes(uri.fsPath)) affected.push(uri.fsPath);
      // The engine notices a changed model file by its mtime, not new shards: make it reload. A stopped
      // worker has nothing cached, and must not be started just for this.
      const client = this.client();
      for (const model of affected) {
        this.invalidate(model);
        if (client.pid !== undefined) client.forget(model).catch((err: Error) => this.log.debug(`forget failed: ${err.message}`));
      }
      this.scheduleRefresh();
    };
    this.disposables.push(
      watcher, watcher.onDidCreate(onFile), watcher.onDidChange(onFile), watcher.onDidDelete(onFile),
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.scheduleRefresh()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('loupe.activeModel')) this.pickActive();
      }),
    );
  }

  list(): readonly vscode.Uri[] {
    return this.models;
  }

  /** PyTorch checkpoints in the workspace: not loadable, listed so the user learns how to export them. */
  checkpoints(): readonly vscode.Uri[] {
    return this.checkpointList;
  }

  active(): ModelEntry | undefined {
    const uri = this.models.find((m) => m.toString() === this.activeKey);
    return uri ? { uri } : undefined;
  }

  isActive(uri: vscode.Uri): boolean {
    return uri.toString() === this.activeKey;
  }

  /** The description if the worker already gave it (no worker call). */
  known(uri: vscode.Uri): ModelDescription | undefined {
    return this.described.get(uri.fsPath);
  }

  /**
   * The description if known; otherwise starts describing (unless the last attempt failed and no file
   * changed since) and returns undefined: `onDidChange` fires when it arrives.
   */
  knownOrRequest(uri: vscode.Uri): ModelDescription | undefined {
    const d = this.described.get(uri.fsPath);
    if (!d && !this.failed.has(uri.fsPath) && !this.descriptions.has(uri.fsPath)) {
      this.describe(uri).catch((err: Error) => this.log.warn(`could not describe ${uri.fsPath}: ${err.message}`));
    }
    return d;
  }

  /** Describes a model through the worker; cached until one of its files changes. Rejects with the worker's LoupeError. */
  describe(uri: vscode.Uri): Promise<ModelDescription> {
    let pending = this.descriptions.get(uri.fsPath);
    if (!pending) {
      // Named for the user as the Models view names it (an ONNX file by its file, not "model.onnx" alone).
      pending = this.client().describe(uri.fsPath).then((d) => ({ ...d, name: modelLabel(vscode.workspace.asRelativePath(uri, false)) }));
      this.descriptions.set(uri.fsPath, pending);
      // A failure is not cached: fixing the file (or the worker) and asking again must retry.
      const key = uri.fsPath;
      pending.then(
        (d) => { this.described.set(key, d); this.failed.delete(key); this.changed.fire(); },
        () => { this.descriptions.delete(key); this.failed.add(key); this.changed.fire(); },
      );
    }
    return pending;
  }

  async describeActive(): Promise<ModelDescription | undefined> {
    const active = this.active();
    return active ? this.describe(active.uri) : undefined;
  }

  async setActive(uri: vscode.Uri): Promise<void> {
    if (!this.models.some((m) => m.toString() === uri.toString())) {
      // A model file picked outside the list (e.g. from the Explorer): accept it if it is a model.
      const kind = modelFileKind(uri.fsPath);
      if (kind === 'checkpoint') {
        throw new Error(`${uri.fsPath} is a PyTorch checkpoint: export it to ONNX (torch.onnx.export) to analyse it`);
      }
      if (!kind || !(await isModelFile(uri))) {
        throw new Error(`${uri.fsPath} is not a model Loupe reads (a TF.js model.json with "modelTopology", an .onnx, .keras or .h5 file)`);
      }
      this.models = sortUris([...this.models, uri]);
    }
    this.activeKey = uri.toString();
    await this.state.update(STATE_KEY, this.activeKey);
    // Keep an explicit workspace setting in step, so the setting and the view never disagree.
    const inspected = vscode.workspace.getConfiguration('loupe').inspect<string>('activeModel');
    if (inspected?.workspaceValue !== undefined || inspected?.workspaceFolderValue !== undefined) {
      await vscode.workspace.getConfiguration('loupe').update('activeModel', vscode.workspace.asRelativePath(uri, false),
        vscode.ConfigurationTarget.Workspace);
    }
    this.log.info(`active model: ${uri.fsPath}`);
    this.changed.fire();
  }

  /** Re-scans the workspace. Concurrent calls share one scan, with one more if files changed meanwhile. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        await this.scan();
      } while (this.refreshAgain);
    })().finally(() => { this.refreshing = undefined; });
    return this.refreshing;
  }

  /**
   * A file of the model changed (Loupe wrote its loupe.json): describe it afresh now rather than when
   * the file watcher reports it, and make the worker reload it.
   */
  filesChanged(modelPath: string): void {
    this.invalidate(modelPath);
    const client = this.client();
    if (client.pid !== undefined) client.forget(modelPath).catch((err: Error) => this.log.debug(`forget failed: ${err.message}`));
    this.changed.fire();
  }

  /** Forgets cached descriptions (all, or one model's) so the next describe asks the worker again. */
  invalidate(modelJsonPath?: string): void {
    for (const map of [this.descriptions, this.described, this.failed]) {
      if (modelJsonPath === undefined) map.clear();
      else map.delete(modelJsonPath);
    }
  }

  dispose(): void {
    clearTimeout(this.refreshTimer);
    for (const d of this.disposables) d.dispose();
  }

  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => void this.refresh().catch((err: Error) => this.log.error(`model scan failed: ${err.message}`)), 300);
  }

  private async scan(): Promise<void> {
    const started = Date.now();
    const candidates = await vscode.workspace.findFiles(MODEL_GLOB, MODEL_EXCLUDE_GLOB);
    const checks = await Promise.all(candidates.filter((u) => isSearchablePath(vscode.workspace.asRelativePath(u, false)))
      .map(async (u) => ((await isModelFile(u).catch(() => false)) ? u : undefined)));
    const found = checks.filter((u): u is vscode.Uri => u !== undefined);
    const models = sortUris(found.filter((u) => modelFileKind(u.fsPath) !== 'checkpoint'));
    this.checkpointList = sortUris(found.filter((u) => modelFileKind(u.fsPath) === 'checkpoint'));
    this.log.info(`found ${models.length} model(s) and ${this.checkpointList.length} checkpoint(s) among ${candidates.length} candidate file(s) in ${Date.now() - started} ms`);
    this.models = models;
    this.pickActive();
    this.changed.fire();
  }

  private pickActive(): void {
    const configured = this.configuredPath();
    const configuredKey = configured ? this.resolveSetting(configured)?.toString() : undefined;
    if (configured && !configuredKey) this.log.warn(`loupe.activeModel "${configured}" is not a model found in the workspace`);
    const previous = this.activeKey;
    this.activeKey = chooseActive(this.models.map((m) => m.toString()), configuredKey, this.state.get<string>(STATE_KEY));
    if (previous !== this.activeKey) this.changed.fire();
  }

  /** The found model that a `loupe.activeModel` value names (absolute, or relative to a workspace folder; a folder means its model.json). */
  private resolveSetting(value: string): vscode.Uri | undefined {
    const wanted = new Set<string>();
    const add = (p: string): void => {
      wanted.add(path.normalize(p));
      wanted.add(path.normalize(path.join(p, 'model.json')));
    };
    if (path.isAbsolute(value)) add(value);
    else for (const folder of vscode.workspace.workspaceFolders ?? []) add(path.join(folder.uri.fsPath, value));
    return this.models.find((m) => wanted.has(path.normalize(m.fsPath)));
  }
}

/** Reads the beginning of a model file (all of a model.json only when the beginning cannot decide). */
export async function isModelFile(uri: vscode.Uri): Promise<boolean> {
  let head: Buffer;
  let complete: boolean;
  if (uri.scheme === 'file') {
    const handle = await fs.open(uri.fsPath, 'r');
    try {
      const size = (await handle.stat()).size;
      const buffer = Buffer.alloc(Math.min(size, SNIFF_BYTES));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      head = buffer.subarray(0, bytesRead);
      complete = bytesRead >= size;
      if (!complete && sniffModelFile(uri.fsPath, head, false) === 'unsure' && size <= MAX_FULL_READ) {
        return isModelJsonText(await fs.readFile(uri.fsPath, 'utf8'));
      }
    } finally {
      await handle.close();
    }
  } else {
    // Remote file systems have no partial read; the size check keeps this bounded.
    const stat = await vscode.workspace.fs.stat(uri);
    if (stat.size > MAX_FULL_READ) return false;
    head = Buffer.from(await vscode.workspace.fs.readFile(uri));
    complete = true;
  }
  return sniffModelFile(uri.fsPath, head, complete) === 'model';
}

function sortUris(uris: vscode.Uri[]): vscode.Uri[] {
  return [...uris].sort((a, b) => a.toString().localeCompare(b.toString()));
}
