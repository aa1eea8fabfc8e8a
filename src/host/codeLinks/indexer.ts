/**
 * Keeps a LayerIndex of the workspace's sources: a full scan at start (in the background), then the
 * files that change on disk or are saved. Reads through `vscode.workspace.fs` so remote workspaces work.
 */
import * as vscode from 'vscode';
import { EXCLUDED_GLOB, INDEXED_GLOB, isIndexable, LayerIndex, MAX_INDEXED_BYTES } from '../codeIndex';
import { isIndexedPath } from './paths';

/** Upper bound on files read at start: a monorepo must not stall the extension host. */
const MAX_FILES = 20_000;
const CONCURRENCY = 8;

export class WorkspaceIndexer implements vscode.Disposable {
  readonly index = new LayerIndex();
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [this.changed];
  private fireTimer: NodeJS.Timeout | undefined;
  private ready: Promise<void> | undefined;
  /** Fires (debounced) when definitions may have changed. */
  readonly onDidChange = this.changed.event;

  constructor(private readonly log: vscode.LogOutputChannel) {
    const watcher = vscode.workspace.createFileSystemWatcher(INDEXED_GLOB);
    this.disposables.push(
      watcher,
      watcher.onDidCreate((u) => void this.indexUri(u)),
      watcher.onDidChange((u) => void this.indexUri(u)),
      watcher.onDidDelete((u) => { this.index.remove(u.fsPath); this.fire(); }),
      // Saves of files outside the watcher's reach (another folder, unsaved-then-saved) still count.
      vscode.workspace.onDidSaveTextDocument((doc) => {
        if (doc.uri.scheme === 'file' && isIndexable(doc.uri.fsPath) && isIndexedPath(vscode.workspace.asRelativePath(doc.uri, false))) {
          this.index.update(doc.uri.fsPath, doc.getText());
          this.fire();
        }
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => { this.ready = undefined; void this.whenReady(); }),
    );
  }

  /** Starts the full scan once; later calls wait for it. */
  whenReady(): Promise<void> {
    this.ready ??= this.scanAll().catch((err: Error) => this.log.error(`indexing the workspace failed: ${err.message}`));
    return this.ready;
  }

  dispose(): void {
    clearTimeout(this.fireTimer);
    for (const d of this.disposables) d.dispose();
  }

  private async scanAll(): Promise<void> {
    const started = Date.now();
    const files = await vscode.workspace.findFiles(INDEXED_GLOB, EXCLUDED_GLOB, MAX_FILES);
    if (files.length >= MAX_FILES) this.log.warn(`indexing only the first ${MAX_FILES} source files of the workspace`);
    this.index.clear();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < files.length) await this.indexUri(files[next++]!, false);
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    this.log.info(`indexed ${this.index.fileCount} source file(s) for layer definitions in ${Date.now() - started} ms`);
    this.fire();
  }

  private async indexUri(uri: vscode.Uri, notify = true): Promise<void> {
    if (!isIndexable(uri.fsPath) || !isIndexedPath(vscode.workspace.asRelativePath(uri, false))) return;
    try {
      const stat = await vscode.workspace.fs.stat(uri);
      if (stat.size > MAX_INDEXED_BYTES) {
        this.index.remove(uri.fsPath);
      } else {
        const text = new TextDecoder('utf-8').decode(await vscode.workspace.fs.readFile(uri));
        this.index.update(uri.fsPath, text);
      }
    } catch (err) {
      // Deleted between listing and reading, or unreadable: it has no definitions.
      this.index.remove(uri.fsPath);
      this.log.debug(`not indexing ${uri.fsPath}: ${(err as Error).message}`);
    }
    if (notify) this.fire();
  }

  private fire(): void {
    clearTimeout(this.fireTimer);
    this.fireTimer = setTimeout(() => this.changed.fire(), 200);
  }
}
