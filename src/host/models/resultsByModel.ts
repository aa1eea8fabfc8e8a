import * as vscode from 'vscode';
import type { ModelDescription } from '../../protocol/types';
import type { HostWorkerClient } from '../hostClient';
import type { ModelStore } from './modelStore';

/**
 * Results the worker caches per model weights (dissections, TCAV), as the host knows them: per model, by
 * a key. Whenever the active model gets a new description — another model, or new weights — its results
 * are dropped and read again from the worker's cache (`load`); runs of this session add theirs.
 */
export abstract class ResultsByModel<T> implements vscode.Disposable {
  protected readonly byModel = new Map<string, Map<string, T>>();
  protected readonly changed = new vscode.EventEmitter<void>();
  protected readonly disposables: vscode.Disposable[] = [this.changed];
  /** Fires when a model's results were read or one was added. */
  readonly onDidChange = this.changed.event;

  constructor(
    models: ModelStore,
    protected readonly client: () => HostWorkerClient,
    protected readonly log: vscode.LogOutputChannel,
    what: string,
  ) {
    const seen = new Map<string, ModelDescription>();
    this.disposables.push(models.onDidChange(() => {
      const active = models.active();
      const description = active ? models.known(active.uri) : undefined;
      if (!active || !description || seen.get(active.uri.fsPath) === description) return;
      const modelPath = active.uri.fsPath;
      seen.set(modelPath, description);
      // Results for the previous weights must not linger while the new ones load.
      if (this.byModel.delete(modelPath)) this.changed.fire();
      this.load(modelPath).catch((err: Error) => this.log.warn(`could not read the cached ${what} of ${modelPath}: ${err.message}`));
    }));
  }

  /** Reads the model's cached results from the worker. */
  abstract load(modelPath: string): Promise<T[]>;

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
